"""Offline build steps keep their files in a configurable cache folder, not a fixed path."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.cache import CACHE_DIR_VARIABLE, cache_dir
from models.sentiment import bases, train

ROOT = Path(__file__).resolve().parents[2]


def test_the_variable_wins_then_xdg_then_the_home_cache(tmp_path: Path) -> None:
    assert cache_dir({CACHE_DIR_VARIABLE: str(tmp_path)}) == tmp_path
    assert cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "sentiment-service"
    assert cache_dir({}) == Path.home() / ".cache" / "sentiment-service"
    assert cache_dir({CACHE_DIR_VARIABLE: "", "XDG_CACHE_HOME": ""}) == cache_dir({})


def test_training_and_the_teacher_encoder_default_to_the_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path))
    args = train.parse_args(["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert args.scratch == tmp_path / "sentiment"
    unpacked = tmp_path / "all-mpnet-base-v2" / "model"
    unpacked.mkdir(parents=True)
    (unpacked / "config.json").write_text("{}")
    (tmp_path / "all-mpnet-base-v2" / ".complete").touch()
    assert bases.mpnet_path() == unpacked


def test_no_product_code_names_a_machine_specific_scratch_path() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("models", "pipelines", "sentiment_service", "connectors", "evaluation")
        for path in (ROOT / folder).rglob("*.py")
        if "/work/scratch" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
