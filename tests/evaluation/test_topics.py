"""Multi-label topic metrics against scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from evaluation.datasets import DatasetError
from evaluation.topics import parse_topics, read_topic_sets, topic_metrics
from tests.evaluation.conftest import write_csv

TOPICS = ["billing", "bugs", "outage", "onboarding", "security"]


def sklearn_reference(true: list[set[str]], predicted: list[set[str]]) -> dict:
    """The same numbers from sklearn on binarised label sets."""
    binarizer = MultiLabelBinarizer(classes=sorted(set().union(*true, *predicted)))
    y_true = binarizer.fit_transform(true)
    y_pred = binarizer.transform(predicted)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    return {
        "classes": list(binarizer.classes_),
        "per_class": (p, r, f, s),
        "micro": skm.precision_recall_fscore_support(
            y_true, y_pred, average="micro", zero_division=0
        )[:3],
        "macro": skm.precision_recall_fscore_support(
            y_true, y_pred, average="macro", zero_division=0
        )[:3],
    }


def random_sets(seed: int, n: int) -> tuple[list[set[str]], list[set[str]]]:
    """Random gold and predicted topic sets (some empty)."""
    rng = np.random.default_rng(seed)

    def draw() -> set[str]:
        return {topic for topic in TOPICS if rng.random() < 0.3}

    return [draw() for _ in range(n)], [draw() for _ in range(n)]


HAND_TRUE = [{"billing"}, {"bugs", "outage"}, set(), {"security"}]
HAND_PRED = [{"billing", "bugs"}, {"outage"}, {"onboarding"}, set()]


@pytest.mark.parametrize(
    ("true", "predicted"),
    [(HAND_TRUE, HAND_PRED), random_sets(0, 40), random_sets(1, 200)],
)
def test_topic_metrics_match_sklearn(true: list[set[str]], predicted: list[set[str]]) -> None:
    result = topic_metrics(true, predicted)
    reference = sklearn_reference(true, predicted)
    assert sorted(result["topics"]) == reference["classes"]
    p, r, f, s = reference["per_class"]
    for i, topic in enumerate(reference["classes"]):
        assert result["topics"][topic] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]}
        )
    for average in ("micro", "macro"):
        expected = dict(zip(("precision", "recall", "f1"), reference[average], strict=True))
        assert result[average] == pytest.approx(expected)
    assert result["micro_f1"] == pytest.approx(reference["micro"][2])
    assert result["macro_f1"] == pytest.approx(reference["macro"][2])


def test_hand_made_topic_values() -> None:
    result = topic_metrics(HAND_TRUE, HAND_PRED)
    assert result["n"] == 4
    assert result["topics"]["billing"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert result["topics"]["security"]["recall"] == 0.0
    # tp = billing, outage; fp = bugs, onboarding; fn = bugs, security
    assert result["micro"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    assert result["exact_match"] == 0.0


def test_fixed_topic_list_and_length_check() -> None:
    result = topic_metrics([{"a"}], [{"a"}], topics=["a", "b"])
    assert result["topics"]["b"]["f1"] == 0.0
    assert result["macro_f1"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        topic_metrics([{"a"}], [])


def test_parse_and_read_topics(tmp_path: Path) -> None:
    assert parse_topics("billing; outage;;") == {"billing", "outage"}
    assert parse_topics("") == set() and parse_topics(None) == set()
    rows = [{"text": "x", "topics": "billing;bugs"}, {"text": "y", "topics": ""}]
    path = write_csv(tmp_path / "t.csv", rows)
    assert read_topic_sets(path) == [{"billing", "bugs"}, set()]
    with pytest.raises(DatasetError, match="columns found"):
        read_topic_sets(path, "labels")
