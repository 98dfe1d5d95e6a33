"""The evaluate command through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from evaluation import command
from evaluation.command import app
from models.backends import SentimentBackend, load_backend
from tests.evaluation.conftest import ROWS, FakeBackend, write_csv, write_jsonl

REQUIRED_KEYS = {
    "n", "labels", "mode", "accuracy", "macro_f1", "macro_recall", "per_class",
    "confusion_matrix", "ece", "ci95", "model", "model_version", "dataset_sha256",
    "per_length",
}  # fmt: skip
NASTY = "<script>alert('x')</script> terrible & awful, I hate it"


def invoke(*args: str) -> Result:
    """Run the command (with the fast vader backend unless a model is named)."""
    arguments = list(args) if "--model" in args else [*args, "--model", "vader"]
    return CliRunner().invoke(app, arguments)


def only_json(stdout: str) -> dict:
    """The single JSON object that stdout must consist of."""
    assert stdout.lstrip().startswith("{")
    return json.loads(stdout)  # raises on anything after the object


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two extra backends, 'good' and 'bad', next to the real registry."""
    confident = {"negative": [0.9, 0.05, 0.05], "neutral": [0.05, 0.9, 0.05]}
    confident["positive"] = [0.05, 0.05, 0.9]
    perfect = {row["text"]: confident[row["label"]] for row in ROWS}
    extra = {"good": lambda: FakeBackend(perfect, "good"), "bad": lambda: FakeBackend({}, "bad")}
    names = command.backend_names

    def load(name: str) -> SentimentBackend:
        return extra[name]() if name in extra else load_backend(name)

    monkeypatch.setattr(command, "backend_names", lambda: sorted([*names(), *extra]))
    monkeypatch.setattr(command, "load_backend", load)


def test_json_output_is_one_object(csv_file: Path) -> None:
    result = invoke("--data", str(csv_file), "--bootstrap", "100")
    assert result.exit_code == 0, result.stderr
    output = only_json(result.stdout)
    assert set(output) >= REQUIRED_KEYS
    assert output["model"] == "vader" and output["n"] == 6 and output["mode"] == "ternary"
    assert set(output["per_source"]) == {"chat", "ticket", "survey"}
    assert output["ci95"]["macro_f1"][0] <= output["macro_f1"] <= output["ci95"]["macro_f1"][1]
    assert "loaded 6 rows" in result.stderr


def test_seed_makes_output_reproducible(csv_file: Path) -> None:
    first = only_json(invoke("--data", str(csv_file), "--bootstrap", "50", "--seed", "3").stdout)
    again = only_json(invoke("--data", str(csv_file), "--bootstrap", "50", "--seed", "3").stdout)
    assert first == again


def test_jsonl_label_map_and_limit(tmp_path: Path) -> None:
    mapped = {"positive": "good", "negative": "bad", "neutral": "meh"}
    rows = [{"message": r["text"], "rating": mapped[r["label"]]} for r in ROWS]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    label_map = '{"GOOD": "positive", "bad": "neg", "meh": "neutral"}'
    result = invoke(
        "--data", str(path), "--text-col", "message", "--label-col", "rating",
        "--label-map", label_map, "--limit", "4", "--bootstrap", "0",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    output = only_json(result.stdout)
    assert output["n"] == 4 and output["ci95"] is None and "per_source" not in output


def test_binary_file(tmp_path: Path) -> None:
    rows = [r for r in ROWS if r["label"] != "neutral"]
    result = invoke("--data", str(write_csv(tmp_path / "b.csv", rows)), "--bootstrap", "20")
    output = only_json(result.stdout)
    assert output["mode"] == "binary"
    assert output["labels"] == ["negative", "positive"]
    assert len(output["confusion_matrix"]["matrix"]) == 2


def test_html_report(tmp_path: Path) -> None:
    rows = [*ROWS, {"text": NASTY, "label": "positive", "source": "chat<b>"}]
    path = write_csv(tmp_path / "d.csv", rows)
    out = tmp_path / "report"
    result = invoke("--data", str(path), "--format", "html", "--out", str(out), "--bootstrap", "50")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert '<table class="metrics">' in html and "95% CI" in html and "macro F1" in html
    assert html.count("data:image/png;base64,") == 2  # confusion matrix + reliability diagram
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; terrible &amp; awful" in html
    assert "chat&lt;b&gt;" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "Most confident errors" in html and "By source" in html and "By length" in html
    assert not (out / "report.json").exists()


def test_both_writes_json_and_html_and_prints_json(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "out"
    result = invoke("--data", str(csv_file), "--format", "both", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    printed = only_json(result.stdout)
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == printed
    assert (out / "report.html").is_file()


def test_several_models(csv_file: Path, tmp_path: Path, fakes: None) -> None:
    out = tmp_path / "out"
    result = invoke(
        "--data", str(csv_file), "--model", "good", "--model", "bad", "--format", "both",
        "--out", str(out), "--bootstrap", "50",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    output = only_json(result.stdout)
    assert set(output["models"]) == {"good", "bad"}
    assert output["n"] == 6 and len(output["dataset_sha256"]) == 64
    assert set(output["models"]["good"]) >= REQUIRED_KEYS
    assert output["models"]["good"]["accuracy"] == 1.0
    assert output["comparison"][0]["model"] == "bad"
    assert output["comparison"][0]["baseline"] == "good"
    assert output["comparison"][0]["delta_accuracy"] < 0
    assert set(output["reference"]) == {"vader"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<table class="comparison">' in html
    assert '<tr class="reference"><td class="text">vader (reference)' in html
    assert html.count("data:image/png;base64,") == 4


def test_vader_requested_means_no_extra_reference(csv_file: Path, fakes: None) -> None:
    result = invoke("--data", str(csv_file), "--model", "good,vader", "--bootstrap", "0")
    output = only_json(result.stdout)
    assert list(output["models"]) == ["good", "vader"]
    assert "reference" not in output


def assert_clean_failure(result: Result, *fragments: str) -> None:
    """Exit code 2, no traceback, stderr naming every fragment, nothing on stdout."""
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "error: " in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_error_missing_column(csv_file: Path) -> None:
    result = invoke("--data", str(csv_file), "--text-col", "body")
    assert_clean_failure(result, "'body'", "'text', 'label', 'source'", "--text-col")


def test_error_unknown_labels(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv", [{"text": "a", "label": "great"}, {"text": "b", "label": "meh"}]
    )
    assert_clean_failure(invoke("--data", str(path)), "'great'", "'meh'", "--label-map")


def test_error_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    assert_clean_failure(invoke("--data", str(path)), "is empty")


def test_error_bad_encoding(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes("text,label\nsehr gut für uns,positive\n".encode("cp1252"))
    assert_clean_failure(invoke("--data", str(path)), "not UTF-8")


def test_error_unknown_model(csv_file: Path) -> None:
    result = invoke("--data", str(csv_file), "--model", "gpt-17")
    assert_clean_failure(result, "'gpt-17'", "known models:", "vader")


def test_error_model_that_fails_to_load(csv_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str) -> None:
        raise FileNotFoundError("no artifact")

    monkeypatch.setattr(command, "load_backend", broken)
    result = invoke("--data", str(csv_file))
    assert_clean_failure(result, "'vader' could not be loaded", "no artifact")


def test_error_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    path.write_bytes(b"PK")
    assert_clean_failure(invoke("--data", str(path)), "unknown file type", ".csv")
    assert_clean_failure(invoke("--data", str(tmp_path / "none.csv")), "file not found")


def test_error_bad_label_map(csv_file: Path) -> None:
    result = invoke("--data", str(csv_file), "--label-map", "{bad: negative}")
    assert_clean_failure(result, "--label-map is not valid JSON")


def test_is_mounted_in_the_service_cli(csv_file: Path) -> None:
    from sentiment_service.cli import app as service_cli

    arguments = ["evaluate", "--data", str(csv_file), "--bootstrap", "0", "--model", "vader"]
    result = CliRunner().invoke(service_cli, arguments)
    assert result.exit_code == 0, result.stderr
    assert only_json(result.stdout)["n"] == 6
