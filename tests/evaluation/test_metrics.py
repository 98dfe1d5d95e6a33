"""The numpy metrics against scikit-learn's own implementations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from evaluation import metrics

HAND_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 1])
HAND_PRED = np.array([0, 2, 0, 1, 0, 2, 2, 1, 2, 2])


def random_pairs(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Random true/predicted class indices."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, k, n), rng.integers(0, k, n)


CASES = [
    (HAND_TRUE, HAND_PRED, 3),
    (np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]), 2),  # a class never predicted
    (np.array([0, 0, 0, 0]), np.array([0, 1, 0, 2]), 3),  # classes absent from the truth
    *[(*random_pairs(seed, n, k), k) for seed, n, k in [(1, 50, 3), (2, 500, 3), (3, 37, 2)]],
]


@pytest.mark.parametrize(("y_true", "y_pred", "k"), CASES)
def test_confusion_matrix_matches_sklearn(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> None:
    expected = skm.confusion_matrix(y_true, y_pred, labels=list(range(k)))
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, k), expected)


@pytest.mark.parametrize(("y_true", "y_pred", "k"), CASES)
def test_per_class_scores_match_sklearn(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> None:
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(k)), zero_division=0
    )
    scores = metrics.per_class_scores(y_true, y_pred, k)
    np.testing.assert_allclose(scores.precision, p)
    np.testing.assert_allclose(scores.recall, r)
    np.testing.assert_allclose(scores.f1, f)
    np.testing.assert_array_equal(scores.support, s)


@pytest.mark.parametrize(("y_true", "y_pred", "k"), CASES)
def test_averages_match_sklearn(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> None:
    labels = list(range(k))
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert metrics.macro_f1(y_true, y_pred, k, labels) == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    assert metrics.macro_recall(y_true, y_pred, k, labels) == pytest.approx(
        skm.recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    # Without explicit labels both average over the classes seen in truth or predictions.
    assert metrics.macro_f1(y_true, y_pred, k) == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    assert metrics.macro_recall(y_true, y_pred, k) == pytest.approx(
        skm.recall_score(y_true, y_pred, average="macro", zero_division=0)
    )


def test_hand_made_values() -> None:
    matrix = metrics.confusion_matrix(HAND_TRUE, HAND_PRED, 3)
    assert matrix.tolist() == [[2, 0, 1], [1, 1, 1], [0, 1, 3]]
    scores = metrics.scores_from_confusion(matrix)
    assert scores.precision.tolist() == pytest.approx([2 / 3, 1 / 2, 3 / 5])
    assert scores.recall.tolist() == pytest.approx([2 / 3, 1 / 3, 3 / 4])
    assert metrics.accuracy(HAND_TRUE, HAND_PRED) == pytest.approx(0.6)


def test_ece_hand_made() -> None:
    confidence = np.array([0.9, 0.9, 0.6, 0.6])
    correct = np.array([True, False, True, True])
    # bin of 0.9: accuracy 0.5 vs 0.9; bin of 0.6: accuracy 1.0 vs 0.6; each holds half the items
    assert metrics.expected_calibration_error(confidence, correct) == pytest.approx(0.4)
    perfect = np.array([1.0, 1.0, 1.0])
    assert metrics.expected_calibration_error(perfect, np.ones(3, bool)) == pytest.approx(0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_bins_match_sklearn_calibration_curve(seed: int) -> None:
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(1 / 3, 1.0, 400)
    confidence[:4] = [0.4, 1.0, 2 / 3, 1 / 3]  # values on or next to bin edges
    correct = rng.random(400) < confidence
    prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=15, strategy="uniform")
    bins = metrics.calibration_bins(confidence, correct, 15)
    filled = bins.counts > 0
    np.testing.assert_allclose(bins.accuracy[filled], prob_true)
    np.testing.assert_allclose(bins.confidence[filled], prob_pred)
    assert bins.counts.sum() == 400
    # ECE from sklearn's per-bin values weighted by bin counts
    expected = np.sum(bins.counts[filled] * np.abs(prob_true - prob_pred)) / 400
    assert metrics.expected_calibration_error(confidence, correct) == pytest.approx(expected)


def test_ece_against_loop_definition() -> None:
    rng = np.random.default_rng(7)
    confidence = rng.uniform(0.34, 1.0, 300)
    correct = rng.random(300) < 0.7
    total = 0.0
    for low, high in zip(np.linspace(0, 1, 16)[:-1], np.linspace(0, 1, 16)[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            total += inside.sum() / 300 * gap
    assert metrics.expected_calibration_error(confidence, correct) == pytest.approx(total)


def test_bootstrap_matches_reference_loop_with_sklearn() -> None:
    y_true, y_pred = random_pairs(11, 120, 3)
    statistics = metrics.classification_statistics(y_true, y_pred, 3)
    intervals = metrics.bootstrap_ci(120, statistics, n_resamples=200, seed=5)
    rng = np.random.default_rng(5)
    accuracies, f1s = [], []
    for _ in range(200):
        idx = rng.integers(0, 120, size=120)
        accuracies.append(skm.accuracy_score(y_true[idx], y_pred[idx]))
        f1s.append(
            skm.f1_score(
                y_true[idx], y_pred[idx], labels=[0, 1, 2], average="macro", zero_division=0
            )
        )
    assert intervals["accuracy"] == pytest.approx(tuple(np.percentile(accuracies, [2.5, 97.5])))
    assert intervals["macro_f1"] == pytest.approx(tuple(np.percentile(f1s, [2.5, 97.5])))


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    y_true, y_pred = random_pairs(3, 300, 3)
    y_pred[:150] = y_true[:150]  # about 2/3 accuracy
    statistics = metrics.classification_statistics(y_true, y_pred, 3)
    first = metrics.bootstrap_ci(300, statistics, n_resamples=300, seed=1)
    assert first == metrics.bootstrap_ci(300, statistics, n_resamples=300, seed=1)
    assert first != metrics.bootstrap_ci(300, statistics, n_resamples=300, seed=2)
    low, high = first["accuracy"]
    assert low < metrics.accuracy(y_true, y_pred) < high
    assert 0.05 < high - low < 0.2


def test_bootstrap_rejects_empty_input() -> None:
    with pytest.raises(ValueError):
        metrics.bootstrap_ci(0, {}, n_resamples=10)


def test_confusion_matrix_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        metrics.confusion_matrix(np.array([0, 1]), np.array([0]), 2)
