"""`sentiment-service adapt`: a small real adaptation, stored corrections, bad input, the gate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaluation.datasets import load_dataset
from models.message_sentiment import MessageSentimentScorer
from models.minilm import MiniLMBackend
from models.sentences import SentenceSplitter
from models.sentiment.adapt import AdaptError, AdaptRequest, adapt
from models.sentiment.inference import DEFAULT_VERSION, OnnxSentimentModel
from sentiment_service import evaluations
from sentiment_service.adaptation import load_corrections
from sentiment_service.cli import app
from sentiment_service.promotion import evaluate_candidate
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import LabelCorrection, Message

SAMPLE = Path(__file__).parents[2] / "sentiment_service" / "sample_data" / "labelled_messages.csv"
runner = CliRunner()


def _sample_rows(n: int, offset: int = 0) -> list[dict[str, str]]:
    """`n` rows of the bundled labelled sample, taking the classes in turn (all three)."""
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_label: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    labels = sorted(by_label)
    return [by_label[labels[i % 3]][offset + i // 3] for i in range(n)]


def _write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 60-row labelled file and a small B2B-format file (replay + base validation)."""
    folder = tmp_path_factory.mktemp("adapt-data")
    b2b = [
        {**row, "split": "train" if i % 2 else "validation"}
        for i, row in enumerate(_sample_rows(30, offset=40))
    ]
    return {
        "new": _write_csv(folder / "new.csv", _sample_rows(60), ["text", "label"]),
        "b2b": _write_csv(folder / "b2b.csv", b2b, ["text", "label", "source", "split"]),
    }


def _request(out: Path, files: dict[str, Path], **changes: object) -> AdaptRequest:
    options: dict[str, object] = {
        "out": out,
        "data_files": (files["new"],),
        "b2b_path": files["b2b"],
        "epochs": 1,
        "max_length": 32,
        "command": "pytest",
    }
    options.update(changes)
    return AdaptRequest(**options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def adapted(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adapted") / "minilm-sent-test.1"
    report = adapt(_request(out, files), progress=False, log=lambda _: None)
    assert report.out == out and report.version == "minilm-sent-test.1"
    assert report.sizes["new_train"] + report.sizes["new_heldout"] == 60
    assert report.sizes["replay"] > 0 and report.sizes["base_validation"] == 15
    return out


def test_adapting_a_small_file_writes_a_loadable_checksummed_artifact(adapted: Path) -> None:
    model = OnnxSentimentModel.load(adapted)  # verifies every sha256 in the manifest
    manifest = model.manifest
    assert set(manifest["files"]) == {
        "model.int8.onnx",
        "tokenizer.json",
        "classifier.fp16.safetensors",
    }
    assert manifest["version"] == "minilm-sent-test.1" and manifest["max_length"] == 32
    assert manifest["adapted_from"]["version"] == DEFAULT_VERSION
    for key in ("heldout_new", "base_validation"):
        assert {"before", "after", "after_int8_onnx"} <= set(manifest["metrics"][key])
    predictions = model.predict(["Thanks, that fixed it!", "The export failed again."])
    assert [p.label for p in predictions] == ["positive", "negative"]
    card = (adapted / "MODEL_CARD.md").read_text()
    assert "pytest" in card and "held-out new data" in card and "base validation" in card
    assert not [p for p in adapted.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_same_seed_same_model(adapted: Path, files: dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "minilm-sent-test.1"
    adapt(_request(again, files), progress=False, log=lambda _: None)
    first = json.loads((adapted / "manifest.json").read_text())
    second = json.loads((again / "manifest.json").read_text())
    name = "classifier.fp16.safetensors"
    assert first["files"][name] == second["files"][name]
    assert first["temperature"] == second["temperature"]
    assert first["metrics"] == second["metrics"]


def test_evaluate_scores_a_candidate_artifact(adapted: Path, files: dict[str, Path]) -> None:
    result = runner.invoke(
        app,
        ["evaluate", "--data", str(files["new"]), "--artifact", str(adapted), "--bootstrap", "0"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model_version"] == "minilm-sent-test.1" and summary["n"] == 60


def test_evaluate_refuses_a_tampered_artifact(
    adapted: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    copy = shutil.copytree(adapted, tmp_path / "tampered")
    (copy / "tokenizer.json").write_text("{}")
    result = runner.invoke(app, ["evaluate", "--data", str(files["new"]), "--artifact", str(copy)])
    assert result.exit_code == 2
    assert "tokenizer.json" in result.stderr and "sha256" in result.stderr


def _bad_cases(folder: Path) -> list[tuple[dict[str, object], str]]:
    rows = _sample_rows(60)
    missing_label = _write_csv(folder / "nolabel.csv", rows, ["text"])
    unknown = _write_csv(
        folder / "unknown.csv",
        [{**r, "label": "meh"} if i == 5 else r for i, r in enumerate(rows)],
        ["text", "label"],
    )
    few = _write_csv(folder / "few.csv", rows[:29], ["text", "label"])
    repeated = _write_csv(folder / "repeated.csv", rows[:20] * 3, ["text", "label"])
    single = _write_csv(
        folder / "single.csv",
        [r for r in _sample_rows(120) if r["label"] == "negative"],
        ["text", "label"],
    )
    blank = _write_csv(
        folder / "blank.csv",
        [{**r, "text": "  "} if i == 7 else r for i, r in enumerate(rows)],
        ["text", "label"],
    )
    latin1 = folder / "latin1.csv"
    latin1.write_bytes("text,label\ncaf\xe9 is great,positive\n".encode("latin-1"))
    return [
        ({"data_files": (missing_label,)}, "column 'label' not found"),
        ({"data_files": (unknown,)}, "unknown labels: 'meh' (1)"),
        ({"data_files": (few,)}, "only 29 distinct labelled row(s)"),
        ({"data_files": (repeated,)}, "only 20 distinct labelled row(s)"),
        ({"data_files": (single,)}, "labelled 'negative'; adaptation needs at least two classes"),
        ({"data_files": (blank,)}, "1 row(s) have an empty text (first: row 9)"),
        ({"data_files": (latin1,)}, "is not UTF-8"),
        ({"data_files": (folder / "nope.csv",)}, "file not found"),
        ({"data_files": (folder / "x.xlsx",)}, "unknown file type"),
        ({"data_files": ()}, "no labelled data"),
        ({"label_map": {"neg": "bad"}}, "targets must be one of"),
        ({"base": folder}, "no manifest.json"),
        ({"corrections": (("fine", "positive"),) * 3, "data_files": ()}, "only 1 distinct"),
    ]


def test_bad_input_fails_with_one_line_and_writes_nothing(
    files: dict[str, Path], tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for changes, expected in _bad_cases(inputs):
        with pytest.raises(AdaptError) as caught:
            adapt(_request(outputs / "model", files, **changes), progress=False)
        message = str(caught.value)
        assert expected in message, (changes, message)
        assert "\n" not in message
        assert list(outputs.iterdir()) == [], changes


def test_a_non_empty_out_folder_is_refused(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(AdaptError, match="exists and is not empty"):
        adapt(_request(out, files), progress=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_cli_bad_input_is_one_line_on_stderr(files: dict[str, Path], tmp_path: Path) -> None:
    few = _write_csv(tmp_path / "few.csv", _sample_rows(10), ["text", "label"])
    result = runner.invoke(app, ["adapt", "--data", str(few), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: only 10 distinct labelled row(s); adaptation needs at least 30"
    ]
    assert not (tmp_path / "m").exists()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", url)
    migrate.upgrade(url)
    return Database(url)


def _store_corrections(database: Database, rows: list[dict[str, str]]) -> None:
    """Messages with a wrong first correction and the right newest one."""
    flipped = {"negative": "positive", "positive": "neutral", "neutral": "negative"}
    with database.session() as session:
        for i, row in enumerate(rows):
            message = Message(
                source="ticket",
                source_system="test",
                external_id=f"m{i}",
                author_role="customer",
                text=row["text"],
                content_hash=f"h{i}",
            )
            session.add(message)
            session.flush()
            assert message.id is not None
            session.add(
                LabelCorrection(
                    message_id=message.id, label=flipped[row["label"]], corrected_by="a"
                )
            )
            session.add(
                LabelCorrection(message_id=message.id, label=row["label"], corrected_by="b")
            )


def test_cli_adapts_on_stored_corrections(
    cli_database: Database, files: dict[str, Path], tmp_path: Path
) -> None:
    rows = _sample_rows(45, offset=30)
    _store_corrections(cli_database, rows)
    with cli_database.session() as session:
        corrections = load_corrections(session)
    assert corrections == [(r["text"], r["label"]) for r in rows]  # the newest label wins
    out = tmp_path / "from-corrections"
    result = runner.invoke(
        app, ["adapt", "--from-corrections", "--out", str(out), "--epochs", "1", "--seed", "3"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sizes"]["new_train"] + report["sizes"]["new_heldout"] == 45
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["adaptation"]["data"] == [{"corrections": 45}]
    assert "--from-corrections" in manifest["created_with"]
    OnnxSentimentModel.load(out)


def test_cli_from_corrections_without_any_is_an_error(
    cli_database: Database, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["adapt", "--from-corrections", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "no label corrections are stored" in result.stderr
    assert not (tmp_path / "m").exists()


def test_the_gate_refuses_a_candidate_worse_on_a_stored_set(
    files: dict[str, Path], tmp_path: Path
) -> None:
    # A customer whose labels say the opposite of ours: the adapted model learns to flip
    # negative and positive, which the stored labelled set (our definition) catches.
    swapped = {"negative": "positive", "positive": "negative", "neutral": "neutral"}
    candidate = tmp_path / "minilm-sent-flipped.1"
    adapt(
        _request(candidate, files, label_map=swapped, epochs=3, b2b_path=None),
        progress=False,
        log=lambda _: None,
    )
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    migrate.upgrade(url)
    database = Database(url)
    with database.session() as session:
        evaluations.store_labelled_set(session, "ours", load_dataset(files["new"]), actor="t")
    current = MessageSentimentScorer(MiniLMBackend(), SentenceSplitter())
    promotion, _ = evaluate_candidate(database, current, candidate, actor="test")
    assert promotion.promoted is False
    failed = {(c["scope"], c["key"]) for c in promotion.comparison["checks"] if not c["ok"]}
    assert ("overall", "macro_f1") in failed
