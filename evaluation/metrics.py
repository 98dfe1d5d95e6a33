"""Classification metrics as pure numpy functions on integer class indices in [0, n_classes)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Labels = Sequence[int] | None


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts with rows = true class and columns = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred must have the same shape")
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio with 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


@dataclass(frozen=True)
class ClassScores:
    """Per-class precision, recall, F1 and support (arrays indexed by class)."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


def scores_from_confusion(matrix: np.ndarray) -> ClassScores:
    """Per-class scores from a confusion matrix; undefined ratios are 0."""
    matrix = np.asarray(matrix)
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = _safe_divide(true_positive, predicted)
    recall = _safe_divide(true_positive, support)
    f1 = _safe_divide(2 * true_positive, predicted + support)
    return ClassScores(precision=precision, recall=recall, f1=f1, support=support.astype(np.int64))


def per_class_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> ClassScores:
    """Per-class precision, recall, F1 and support."""
    return scores_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def _averaged_classes(matrix: np.ndarray, labels: Labels) -> np.ndarray:
    """Classes to average over: `labels`, or those present in truth or predictions."""
    if labels is not None:
        return np.asarray(list(labels), dtype=np.int64)
    return np.flatnonzero((matrix.sum(axis=0) + matrix.sum(axis=1)) > 0)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of exact matches (0 for empty input)."""
    y_true = np.asarray(y_true)
    return float(np.mean(y_true == np.asarray(y_pred))) if y_true.size else 0.0


def macro_f1_from_confusion(matrix: np.ndarray, labels: Labels = None) -> float:
    """Unweighted mean F1 over `labels` (default: classes seen in truth or predictions)."""
    classes = _averaged_classes(matrix, labels)
    if classes.size == 0:
        return 0.0
    return float(np.mean(scores_from_confusion(matrix).f1[classes]))


def macro_f1(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, labels: Labels = None
) -> float:
    """Unweighted mean F1 over `labels` (default: classes seen in truth or predictions)."""
    return macro_f1_from_confusion(confusion_matrix(y_true, y_pred, n_classes), labels)


def macro_recall(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, labels: Labels = None
) -> float:
    """Unweighted mean recall over `labels` (default: classes seen in truth or predictions)."""
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    classes = _averaged_classes(matrix, labels)
    if classes.size == 0:
        return 0.0
    return float(np.mean(scores_from_confusion(matrix).recall[classes]))


@dataclass(frozen=True)
class CalibrationBins:
    """Equal-width confidence bins: edges, counts, mean confidence and accuracy per bin."""

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def calibration_bins(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15
) -> CalibrationBins:
    """Bin confidences into (k/n, (k+1)/n] (first bin also holds 0); empty bins hold 0."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_ids = np.searchsorted(edges[1:-1], confidence, side="left")
    counts = np.bincount(bin_ids, minlength=n_bins)
    confidence_sum = np.bincount(bin_ids, weights=confidence, minlength=n_bins)
    correct_sum = np.bincount(bin_ids, weights=correct, minlength=n_bins)
    return CalibrationBins(
        edges=edges,
        counts=counts,
        confidence=_safe_divide(confidence_sum, counts),
        accuracy=_safe_divide(correct_sum, counts),
    )


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15
) -> float:
    """ECE: count-weighted mean |accuracy - confidence| over equal-width confidence bins."""
    bins = calibration_bins(confidence, correct, n_bins)
    total = bins.counts.sum()
    if total == 0:
        return 0.0
    gaps = np.abs(bins.accuracy - bins.confidence)
    return float(np.sum(bins.counts * gaps) / total)


Statistic = Callable[[np.ndarray], float]


def bootstrap_samples(
    n: int, statistics: Mapping[str, Statistic], n_resamples: int, seed: int
) -> dict[str, np.ndarray]:
    """Each statistic evaluated on `n_resamples` index resamples (with replacement) of 0..n-1."""
    rng = np.random.default_rng(seed)
    values = {name: np.empty(n_resamples, dtype=np.float64) for name in statistics}
    for resample in range(n_resamples):
        indices = rng.integers(0, n, size=n)
        for name, statistic in statistics.items():
            values[name][resample] = statistic(indices)
    return values


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Central percentile interval of bootstrap values."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    n: int,
    statistics: Mapping[str, Statistic],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Seeded percentile-bootstrap intervals for statistics of a resampled index array."""
    if n == 0 or n_resamples <= 0:
        raise ValueError("bootstrap needs at least one item and one resample")
    samples = bootstrap_samples(n, statistics, n_resamples, seed)
    return {name: percentile_interval(values, confidence) for name, values in samples.items()}


def classification_statistics(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, labels: Labels = None
) -> dict[str, Statistic]:
    """Accuracy and macro-F1 as functions of a resample index array (for `bootstrap_ci`)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    fixed = list(range(n_classes)) if labels is None else list(labels)

    def accuracy_of(indices: np.ndarray) -> float:
        return accuracy(y_true[indices], y_pred[indices])

    def macro_f1_of(indices: np.ndarray) -> float:
        return macro_f1(y_true[indices], y_pred[indices], n_classes, fixed)

    return {"accuracy": accuracy_of, "macro_f1": macro_f1_of}
