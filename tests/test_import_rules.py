"""One-way layers (issue 21): the import rules between the packages, read from the source.

- `connectors`, `pipelines` and `models` sit below the service: they never import
  `sentiment_service.accounts`, `sentiment_service.health` or `sentiment_service.api`.
- Tooling (`tools`: benchmarks, load tests, fake vendor servers, one-off command-line tools) is
  never imported by the runtime packages. The one exception is the command-line entry point,
  which may wire a tooling command in with an import inside the command's function, never at
  module level (so `import sentiment_service.cli` loads no tooling).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOWER_PACKAGES = ("connectors", "pipelines", "models")
RUNTIME_PACKAGES = (*LOWER_PACKAGES, "sentiment_service")
TOOLING = "tools"
ABOVE_THE_LOWER_PACKAGES = (
    "sentiment_service.accounts",
    "sentiment_service.health",
    "sentiment_service.api",
    TOOLING,
)
LAZY_TOOLING_ALLOWED = frozenset({"sentiment_service/cli.py", "sentiment_service/bench_cli.py"})


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The absolute module names one import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    if node.module is None:  # `from . import a, b`: each name may be a module
        return [f"{base}.{alias.name}" for alias in node.names]
    return [base]


def imports(
    source: str, module: str, *, is_package: bool = False, top_level_only: bool = False
) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in `source`, the text of `module` (or only those at
    module level)."""
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node, module, is_package):
                yield node.lineno, name


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _sources(packages: tuple[str, ...]) -> list[Path]:
    return [path for package in packages for path in sorted((ROOT / package).rglob("*.py"))]


def _breaches(path: Path, forbidden: tuple[str, ...], *, top_level_only: bool) -> list[str]:
    where = path.relative_to(ROOT)
    return [
        f"{where}:{line} imports {name}"
        for line, name in imports(
            path.read_text(encoding="utf-8"),
            _module_name(path),
            is_package=path.name == "__init__.py",
            top_level_only=top_level_only,
        )
        if any(_within(name, prefix) for prefix in forbidden)
    ]


def test_connectors_pipelines_and_models_do_not_import_the_service_layers_above_them() -> None:
    breaches = [
        breach
        for path in _sources(LOWER_PACKAGES)
        for breach in _breaches(path, ABOVE_THE_LOWER_PACKAGES, top_level_only=False)
    ]
    assert breaches == []


def test_runtime_packages_do_not_import_the_tooling_package() -> None:
    breaches = [
        breach
        for path in _sources(RUNTIME_PACKAGES)
        for breach in _breaches(
            path,
            (TOOLING,),
            top_level_only=str(path.relative_to(ROOT)) in LAZY_TOOLING_ALLOWED,
        )
    ]
    assert breaches == []


def test_the_import_reader_sees_absolute_relative_and_nested_imports() -> None:
    """The rules above are only as good as this reader: it must not miss an import form."""
    source = (
        "import sentiment_service.api.app\n"
        "from sentiment_service.health import scoring\n"
        "from . import dates\n"
        "from .queue import active_version\n"
        "def f():\n"
        "    from tools.fakes import server\n"
    )
    everywhere = [name for _, name in imports(source, "pipelines.probe")]
    top = [name for _, name in imports(source, "pipelines.probe", top_level_only=True)]
    in_package = [
        name for _, name in imports("from . import dates\n", "pipelines", is_package=True)
    ]
    assert everywhere == [
        "sentiment_service.api.app",
        "sentiment_service.health",
        "pipelines.dates",
        "pipelines.queue",
        "tools.fakes",
    ]
    assert top == everywhere[:-1]
    assert in_package == ["pipelines.dates"]
