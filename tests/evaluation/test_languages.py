"""Evaluation by language: a language column or detection, --language, and per-language results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaluation.command import app
from evaluation.datasets import DatasetError, load_dataset
from evaluation.runner import run_evaluation
from tests.evaluation.conftest import write_csv

ROWS = [
    {"text": "Das ist eine absolute Katastrophe, nichts funktioniert mehr.", "label": "negative"},
    {"text": "Vielen Dank, das neue Dashboard ist großartig!", "label": "positive"},
    {"text": "Péssimo atendimento, ninguém resolve o meu problema.", "label": "negative"},
    {"text": "Adorei a nova versão, ficou excelente!", "label": "positive"},
    {"text": "The export is broken again, this is awful.", "label": "negative"},
    {"text": "Thanks so much, the new reports are great!", "label": "positive"},
]
LANGUAGES = ["de", "de-DE", "pt-BR", "pt", "en", ""]


def _file(tmp_path: Path, with_languages: bool) -> Path:
    rows = [
        {**row, "lang": language} if with_languages else dict(row)
        for row, language in zip(ROWS, LANGUAGES, strict=True)
    ]
    return write_csv(tmp_path / "multi.csv", rows)


def _detect(text: str) -> str | None:
    return {"Das": "de", "Vie": "de", "Pés": "pt", "Ado": "pt"}.get(text[:3])


def test_languages_from_a_column_or_detection_and_the_language_filter(tmp_path: Path) -> None:
    given = load_dataset(_file(tmp_path, True), language_col="lang")
    assert given.languages == ["de", "de", "pt", "pt", "en", None]
    detected = load_dataset(_file(tmp_path, False), detect=_detect)
    assert detected.languages == ["de", "de", "pt", "pt", None, None]
    german = load_dataset(_file(tmp_path, True), language_col="lang", language="DE")
    assert len(german) == 2 and german.languages == ["de", "de"]
    assert german.texts == [ROWS[0]["text"], ROWS[1]["text"]]
    assert load_dataset(_file(tmp_path, False)).languages is None
    with pytest.raises(DatasetError, match="column 'idioma' not found"):
        load_dataset(_file(tmp_path, True), language_col="idioma")
    with pytest.raises(DatasetError, match="no rows in language 'fr'"):
        load_dataset(_file(tmp_path, True), language_col="lang", language="fr")
    with pytest.raises(DatasetError, match="ISO 639-1"):
        load_dataset(_file(tmp_path, True), language_col="lang", language="german")
    with pytest.raises(DatasetError, match="needs a language column"):
        load_dataset(_file(tmp_path, False), language="de")


def test_the_product_path_routes_by_language_and_reports_per_language(tmp_path: Path) -> None:
    from models.backends import load_backend

    backend = load_backend("minilm")
    result = run_evaluation(
        backend, load_dataset(_file(tmp_path, True), language_col="lang"), bootstrap=0
    )
    per_language = result.summary["per_language"]
    assert set(per_language) == {"de", "pt", "en", "unknown"}
    assert per_language["de"]["n"] == 2 and per_language["unknown"]["n"] == 1
    assert per_language["de"]["accuracy"] == 1.0 and per_language["pt"]["accuracy"] == 1.0
    assert result.summary["accuracy"] == 1.0


def test_evaluate_command_detects_languages_and_filters(tmp_path: Path) -> None:
    data = _file(tmp_path, False)
    runner = CliRunner()
    result = runner.invoke(app, ["--data", str(data), "--bootstrap", "0"])
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["n"] == 6 and output["accuracy"] == 1.0
    assert {"de", "pt"} <= set(output["per_language"])
    only = runner.invoke(app, ["--data", str(data), "--bootstrap", "0", "--language", "pt"])
    assert only.exit_code == 0, only.stderr
    assert json.loads(only.stdout)["n"] == 2
    bad = runner.invoke(app, ["--data", str(data), "--language-col", "idioma"])
    assert bad.exit_code == 2 and "--language-col" in bad.stderr
