"""`sentiment-service evaluate-topics` on small labelled files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sentiment_service.cli import app

runner = CliRunner()


def test_reports_topic_metrics_as_json(tmp_path: Path) -> None:
    data = tmp_path / "topics.csv"
    data.write_text(
        "text,topics\n"
        '"We were charged twice on the last invoice, please refund it.",billing\n'
        '"Your platform has been down all morning and nobody can log in.",outage\n'
        '"We are looking at Quorvo, they are cheaper.",competitor\n'
        "ok thanks,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["evaluate-topics", "--data", str(data)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 4 and report["micro_f1"] >= 0.75
    assert report["topics"]["competitor"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 1,
    }
    assert "regulatory" not in report["topics"] and report["model_version"].startswith("topics-")


def test_unknown_topics_and_columns_are_named(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("text,topics\nhello there,weather\n", encoding="utf-8")
    unknown = runner.invoke(app, ["evaluate-topics", "--data", str(data)])
    assert unknown.exit_code == 2 and "weather" in unknown.output
    missing = runner.invoke(app, ["evaluate-topics", "--data", str(data), "--topic-col", "tags"])
    assert missing.exit_code == 2 and "tags" in missing.output


def test_shared_pass_names_its_encoder(tmp_path: Path) -> None:
    data = tmp_path / "topics.csv"
    data.write_text(
        "text,topics\n"
        '"We were charged twice on the last invoice, please refund it.",billing\n'
        '"We are looking at Quorvo, they are cheaper.",competitor\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["evaluate-topics", "--data", str(data), "--shared-pass"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "topic-projection" in report["model_version"]
    assert report["topics"]["competitor"]["f1"] == 1.0
