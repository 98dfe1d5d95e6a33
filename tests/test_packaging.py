"""Packaging metadata: pyproject.toml is read by setuptools without deprecation warnings."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

from setuptools import find_packages
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_licence_is_an_spdx_string_and_setuptools_reads_it_without_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), PYPROJECT)
    messages = [str(warning.message) for warning in caught]
    assert not [m for m in messages if "deprecated" in m.lower()], messages
    assert distribution.metadata.license_expression == "Apache-2.0"


def test_the_build_backend_is_new_enough_for_spdx_licences() -> None:
    requires = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    (setuptools,) = [r for r in requires if r.startswith("setuptools")]
    minimum = tuple(int(part) for part in setuptools.split(">=")[1].split("."))
    assert minimum >= (77,), setuptools  # PEP 639 `license = "<SPDX>"` needs setuptools 77


def test_every_top_level_package_but_the_tests_is_in_the_distribution() -> None:
    """The CLI imports tooling (`sentiment-service bench load` seeds through tools/), so a
    package left out of `packages.find` would break the installed command."""
    root = PYPROJECT.parent
    include = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]["find"][
        "include"
    ]
    shipped = set(find_packages(where=str(root), include=include))
    top_level = {init.parent.name for init in root.glob("*/__init__.py")} - {"tests"}
    assert "tools" in top_level
    assert sorted(top_level - shipped) == []
