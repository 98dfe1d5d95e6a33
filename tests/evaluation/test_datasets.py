"""Reading, validating and label-mapping analysts' files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from evaluation.datasets import DatasetError, load_dataset, map_labels
from tests.evaluation.conftest import write_csv, write_jsonl


def test_csv_is_read_with_sources_and_hash(csv_file: Path) -> None:
    dataset = load_dataset(csv_file)
    assert len(dataset) == 6
    assert dataset.texts[0] == "I love this product, it is great"
    assert dataset.labels.tolist() == [2, 0, 1, 2, 0, 1]
    assert dataset.sources == ["chat", "ticket", "ticket", "survey", "chat", "survey"]
    assert dataset.sha256 == hashlib.sha256(csv_file.read_bytes()).hexdigest()
    assert dataset.mode == "ternary"
    assert dataset.class_names == ["negative", "neutral", "positive"]


def test_jsonl_with_integer_labels_and_custom_columns(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "data.jsonl",
        [
            {"body": "good", "stars": 1, "channel": "a"},
            {"body": "meh", "stars": 0, "channel": "b"},
            {"body": "bad", "stars": -1},
        ],
    )
    path.write_text(path.read_text() + "\n\n", encoding="utf-8")  # trailing blank lines are fine
    dataset = load_dataset(path, text_col="body", label_col="stars", source_col="channel")
    assert dataset.texts == ["good", "meh", "bad"]
    assert dataset.labels.tolist() == [2, 1, 0]
    assert dataset.sources == ["a", "b", "(missing)"]


def test_parquet_is_read(tmp_path: Path, rows: list[dict]) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(rows)
    frame["label"] = frame["label"].map({"negative": -1, "neutral": 0, "positive": 1})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    dataset = load_dataset(path)
    assert dataset.labels.tolist() == [2, 0, 1, 2, 0, 1]
    assert dataset.sources is not None and dataset.sources[0] == "chat"
    assert dataset.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_source_column_means_no_sources(tmp_path: Path, rows: list[dict]) -> None:
    path = write_csv(tmp_path / "d.csv", rows, columns=["text", "label"])
    assert load_dataset(path).sources is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["negative", "neutral", "positive"], [0, 1, 2]),
        (["NEG", " Neu ", "Pos"], [0, 1, 2]),
        (["-1", "0", "1"], [0, 1, 2]),
        ([-1, 0, 1], [0, 1, 2]),
        ([-1.0, 0.0, 1.0], [0, 1, 2]),
        ([np.int64(-1), np.int64(1), "+1"], [0, 2, 2]),
        (["Positive", "NEGATIVE"], [2, 0]),
    ],
)
def test_label_variants(values: list, expected: list[int]) -> None:
    assert map_labels(values).tolist() == expected


def test_label_map_takes_precedence_and_is_case_insensitive() -> None:
    mapping = {"Bad": "negative", "ok": "neu", "GOOD": "positive", "1": "negative"}
    assert map_labels(["bad", "OK", "good", "1", "neutral"], mapping).tolist() == [0, 1, 2, 0, 1]


def test_label_map_with_invalid_target_is_rejected() -> None:
    with pytest.raises(DatasetError, match="targets must be one of"):
        map_labels(["bad"], {"bad": "terrible"})


def test_unknown_labels_are_listed_with_a_hint() -> None:
    with pytest.raises(DatasetError) as caught:
        map_labels(["positive", "great", "awful", "great", ""])
    message = str(caught.value)
    assert "'great' (2)" in message and "'awful' (1)" in message and "(empty)" in message
    assert "--label-map" in message and '"great"' in message


def test_binary_detection(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": "pos"}, {"text": "b", "label": "neg"}]
    dataset = load_dataset(write_csv(tmp_path / "b.csv", rows))
    assert dataset.mode == "binary"
    assert dataset.class_ids == [0, 2]
    assert dataset.class_names == ["negative", "positive"]


def test_limit_keeps_first_rows_and_mode_follows(csv_file: Path) -> None:
    dataset = load_dataset(csv_file, limit=2)
    assert len(dataset) == 2
    assert dataset.mode == "binary"  # the first two rows hold no neutral label


def test_missing_column_names_the_columns_found(csv_file: Path) -> None:
    with pytest.raises(DatasetError) as caught:
        load_dataset(csv_file, label_col="sentiment")
    message = str(caught.value)
    assert "'sentiment'" in message
    assert "'text', 'label', 'source'" in message
    assert "--label-col" in message


def test_missing_explicit_source_column(csv_file: Path) -> None:
    with pytest.raises(DatasetError, match="'channel' not found"):
        load_dataset(csv_file, source_col="channel")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="is empty"):
        load_dataset(path)


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no data rows"):
        load_dataset(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncafé très bon,positive\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_dataset(path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("text,label\nok,neutral\n".encode("utf-8-sig"))
    assert load_dataset(path).texts == ["ok"]


@pytest.mark.parametrize("name", ["data.xlsx", "data"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x", encoding="utf-8")
    with pytest.raises(DatasetError, match="unknown file type"):
        load_dataset(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(tmp_path / "nope.csv")


def test_bad_jsonl_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "pos"}\n{not json\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 2"):
        load_dataset(path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DatasetError, match="Parquet"):
        load_dataset(path)
