"""Running a backend over a dataset and summarising the results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from evaluation.datasets import load_dataset
from evaluation.metrics import expected_calibration_error
from evaluation.runner import (
    compare_models,
    evaluate_backend,
    most_confident_errors,
    run_evaluation,
    word_count_bucket,
)
from models.backends import load_backend
from tests.evaluation.conftest import ROWS, FakeBackend, write_csv

PROBABILITIES = {
    ROWS[0]["text"]: [0.1, 0.1, 0.8],  # positive, right
    ROWS[1]["text"]: [0.7, 0.2, 0.1],  # negative, right
    ROWS[2]["text"]: [0.05, 0.05, 0.9],  # neutral, predicted positive with 0.9
    ROWS[3]["text"]: [0.2, 0.5, 0.3],  # positive, predicted neutral with 0.5
    ROWS[4]["text"]: [0.6, 0.3, 0.1],  # negative, right
    ROWS[5]["text"]: [0.2, 0.6, 0.2],  # neutral, right
}
Y_TRUE = [2, 0, 1, 2, 0, 1]
Y_PRED = [2, 0, 2, 1, 0, 1]


@pytest.fixture
def fake() -> FakeBackend:
    """A backend with the fixed probabilities above."""
    return FakeBackend(PROBABILITIES)


def test_summary_matches_sklearn(csv_file: Path, fake: FakeBackend) -> None:
    summary = evaluate_backend(fake, load_dataset(csv_file), bootstrap=200, seed=0)
    labels = [0, 1, 2]
    assert summary["model"] == "fake" and summary["model_version"] == "fake-1.0"
    assert summary["n"] == 6 and summary["mode"] == "ternary"
    assert summary["labels"] == ["negative", "neutral", "positive"]
    assert summary["accuracy"] == pytest.approx(skm.accuracy_score(Y_TRUE, Y_PRED))
    assert summary["macro_f1"] == pytest.approx(
        skm.f1_score(Y_TRUE, Y_PRED, labels=labels, average="macro")
    )
    assert summary["macro_recall"] == pytest.approx(
        skm.recall_score(Y_TRUE, Y_PRED, labels=labels, average="macro")
    )
    assert summary["confusion_matrix"] == {
        "labels": ["negative", "neutral", "positive"],
        "matrix": skm.confusion_matrix(Y_TRUE, Y_PRED, labels=labels).tolist(),
    }
    p, r, f, s = skm.precision_recall_fscore_support(Y_TRUE, Y_PRED, labels=labels)
    for i, name in enumerate(summary["labels"]):
        assert summary["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]}
        )
    confidence = np.array([0.8, 0.7, 0.9, 0.5, 0.6, 0.6])
    correct = np.array(Y_TRUE) == np.array(Y_PRED)
    assert summary["ece"] == pytest.approx(expected_calibration_error(confidence, correct))
    assert sum(b["n"] for b in summary["reliability"]) == 6
    assert len(summary["reliability"]) == 15
    low, high = summary["ci95"]["accuracy"]
    assert 0 <= low <= summary["accuracy"] <= high <= 1
    assert set(summary["ci95"]) == {"accuracy", "macro_f1"}
    json.dumps(summary)  # plain JSON types only


def test_per_source_and_per_length(csv_file: Path, fake: FakeBackend) -> None:
    summary = evaluate_backend(fake, load_dataset(csv_file), bootstrap=0, seed=0)
    assert summary["ci95"] is None
    assert summary["per_source"]["chat"] == {"n": 2, "accuracy": 1.0, "macro_f1": 1.0}
    assert summary["per_source"]["ticket"]["n"] == 2
    assert summary["per_source"]["ticket"]["accuracy"] == pytest.approx(0.5)
    # the ticket group's macro-F1 averages over the classes seen in it, as sklearn does
    assert summary["per_source"]["ticket"]["macro_f1"] == pytest.approx(
        skm.f1_score([0, 1], [0, 2], average="macro", zero_division=0)
    )
    assert list(summary["per_length"]) == ["<=10"]
    assert summary["per_length"]["<=10"]["n"] == 6


def test_no_per_source_without_source_column(tmp_path: Path, fake: FakeBackend) -> None:
    path = write_csv(tmp_path / "d.csv", ROWS, columns=["text", "label"])
    assert "per_source" not in evaluate_backend(fake, load_dataset(path), bootstrap=0, seed=0)


@pytest.mark.parametrize(
    ("words", "bucket"),
    [
        (0, "<=10"),
        (10, "<=10"),
        (11, "11-30"),
        (30, "11-30"),
        (31, "31-100"),
        (100, "31-100"),
        (101, ">100"),
    ],
)
def test_length_buckets(words: int, bucket: str) -> None:
    assert word_count_bucket(" ".join(["word"] * words)) == bucket


def test_binary_scoring_ignores_neutral_and_renormalises(tmp_path: Path) -> None:
    rows = [
        {"text": "a", "label": "positive"},
        {"text": "b", "label": "negative"},
        {"text": "c", "label": "negative"},
    ]
    backend = FakeBackend(
        {
            "a": [0.1, 0.6, 0.3],  # neutral is the argmax, but positive beats negative: 0.75
            "b": [0.3, 0.6, 0.1],  # negative: 0.75
            "c": [0.1, 0.1, 0.8],  # positive (wrong): 0.8 / 0.9
        }
    )
    dataset = load_dataset(write_csv(tmp_path / "b.csv", rows))
    result = run_evaluation(backend, dataset, bootstrap=50, seed=0)
    summary = result.summary
    assert summary["mode"] == "binary"
    assert summary["labels"] == ["negative", "positive"]
    assert summary["confusion_matrix"]["matrix"] == [[1, 1], [0, 1]]
    assert set(summary["per_class"]) == {"negative", "positive"}
    assert summary["accuracy"] == pytest.approx(2 / 3)
    # in binary mode the class indices are 0 = negative and 1 = positive
    assert summary["macro_f1"] == pytest.approx(skm.f1_score([1, 0, 0], [1, 0, 1], average="macro"))
    confidence = np.array([0.75, 0.75, 0.8 / 0.9])
    assert result.confidence == pytest.approx(confidence)
    assert summary["ece"] == pytest.approx(
        expected_calibration_error(confidence, np.array([True, True, False]))
    )
    assert [item.predicted for item in result.items] == ["positive", "negative", "positive"]


def test_items_and_most_confident_errors(csv_file: Path, fake: FakeBackend) -> None:
    result = run_evaluation(fake, load_dataset(csv_file), bootstrap=0, seed=0)
    assert len(result.items) == 6
    item = result.items[2].to_dict()
    assert item["label"] == "neutral" and item["predicted"] == "positive"
    assert item["source"] == "ticket" and item["correct"] is False
    assert item["probabilities"] == pytest.approx(
        {"negative": 0.05, "neutral": 0.05, "positive": 0.9}
    )
    json.dumps(item)
    errors = most_confident_errors(result.items, k=20)
    assert [e.index for e in errors] == [2, 3]
    assert most_confident_errors(result.items, k=1)[0].confidence == pytest.approx(0.9)


def test_compare_models_paired_differences(csv_file: Path, fake: FakeBackend) -> None:
    dataset = load_dataset(csv_file)
    perfect = FakeBackend(
        {row["text"]: np.eye(3)[Y_TRUE[i]] * 0.9 + 0.1 / 3 for i, row in enumerate(ROWS)},
        name="perfect",
    )
    first = run_evaluation(fake, dataset, bootstrap=100, seed=0)
    second = run_evaluation(perfect, dataset, bootstrap=100, seed=0)
    (row,) = compare_models([first, second], bootstrap=100, seed=0)
    assert row["model"] == "perfect" and row["baseline"] == "fake"
    assert row["delta_accuracy"] == pytest.approx(1 - 4 / 6)
    assert row["delta_macro_f1"] == pytest.approx(1 - first.summary["macro_f1"])
    low, high = row["ci95"]["delta_accuracy"]
    assert 0 <= low <= row["delta_accuracy"] <= high
    (same,) = compare_models([first, first], bootstrap=50, seed=0)
    assert same["ci95"]["delta_macro_f1"] == [0.0, 0.0]
    assert compare_models([first]) == []


def test_vader_end_to_end(csv_file: Path) -> None:
    summary = evaluate_backend(load_backend("vader"), load_dataset(csv_file), bootstrap=100, seed=0)
    assert summary["model"] == "vader"
    assert summary["n"] == 6
    assert summary["accuracy"] >= 0.5  # these texts are easy for a lexicon
    assert sum(sum(row) for row in summary["confusion_matrix"]["matrix"]) == 6
