"""Score a labelled dataset with a sentiment backend and summarise the results as a dict."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from evaluation import metrics
from evaluation.datasets import EvalDataset
from models.backends import LABELS, SentimentBackend

N_CALIBRATION_BINS = 15
UNKNOWN_LANGUAGE = "unknown"  # per_language key of rows whose language is not known
LENGTH_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("<=10", 0, 10),
    ("11-30", 11, 30),
    ("31-100", 31, 100),
    (">100", 101, float("inf")),
)


@dataclass(frozen=True)
class ItemPrediction:
    """One scored row, ready to store: gold and predicted label, confidence, probabilities."""

    index: int
    text: str
    source: str | None
    label: str
    predicted: str
    confidence: float
    correct: bool
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class EvaluationResult:
    """A summary dict plus the per-item predictions and the internal arrays behind it."""

    summary: dict[str, Any]
    items: list[ItemPrediction]
    y_true: np.ndarray
    y_pred: np.ndarray
    confidence: np.ndarray


def predict_probabilities(
    backend: SentimentBackend,
    texts: Sequence[str],
    *,
    batch_size: int = 256,
    progress: bool = False,
    languages: Sequence[str | None] | None = None,
) -> np.ndarray:
    """(n, 3) probabilities from the backend in batches, with an optional tqdm bar on stderr.

    A backend that routes by language (`routes_languages` true) gets each text's language.
    """
    routed = languages is not None and bool(getattr(backend, "routes_languages", False))
    batches = []
    with tqdm(
        total=len(texts),
        desc=f"scoring with {backend.name}",
        unit="text",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            if routed and languages is not None:  # routed implies languages
                part = list(languages[start : start + batch_size])
                raw = backend.predict_proba(batch, languages=part)  # type: ignore[call-arg]
            else:
                raw = backend.predict_proba(batch)
            probabilities = np.asarray(raw, dtype=np.float64)
            if probabilities.shape != (len(batch), len(LABELS)):
                raise ValueError(
                    f"backend {backend.name!r} returned shape {probabilities.shape}, "
                    f"expected ({len(batch)}, {len(LABELS)})"
                )
            batches.append(probabilities)
            bar.update(len(batch))
    return np.concatenate(batches) if batches else np.zeros((0, len(LABELS)))


def mode_probabilities(probabilities: np.ndarray, class_ids: Sequence[int]) -> np.ndarray:
    """Probabilities restricted to the scored classes and renormalised to sum to 1."""
    restricted = np.asarray(probabilities, dtype=np.float64)[:, list(class_ids)]
    totals = restricted.sum(axis=1, keepdims=True)
    uniform = np.full_like(restricted, 1.0 / restricted.shape[1])
    return np.divide(restricted, totals, out=uniform, where=totals > 0)


def _group_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, Any]:
    """n, accuracy and macro-F1 (over classes seen in the group) of a subset."""
    return {
        "n": int(y_true.size),
        "accuracy": metrics.accuracy(y_true, y_pred),
        "macro_f1": metrics.macro_f1(y_true, y_pred, n_classes),
    }


def word_count_bucket(text: str) -> str:
    """The LENGTH_BUCKETS name for a text's whitespace word count."""
    words = len(text.split())
    for name, low, high in LENGTH_BUCKETS:
        if low <= words <= high:
            return name
    return LENGTH_BUCKETS[-1][0]


def _per_group(
    groups: Sequence[str], y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, order: list[str]
) -> dict[str, dict[str, Any]]:
    """Scores per group value, in `order`, skipping empty groups."""
    keys = np.asarray(groups, dtype=object)
    result = {}
    for key in order:
        mask = keys == key
        if mask.any():
            result[key] = _group_scores(y_true[mask], y_pred[mask], n_classes)
    return result


def summarise(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    dataset: EvalDataset,
    *,
    bootstrap: int,
    seed: int,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Metric summary of mode-restricted probabilities; also returns predictions, confidence."""
    class_names = dataset.class_names
    n_classes = len(class_names)
    y_pred = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    correct = y_pred == y_true
    everything = list(range(n_classes))
    matrix = metrics.confusion_matrix(y_true, y_pred, n_classes)
    scores = metrics.scores_from_confusion(matrix)
    bins = metrics.calibration_bins(confidence, correct, N_CALIBRATION_BINS)
    summary: dict[str, Any] = {
        "n": int(y_true.size),
        "labels": class_names,
        "mode": dataset.mode,
        "accuracy": metrics.accuracy(y_true, y_pred),
        "macro_f1": metrics.macro_f1_from_confusion(matrix, everything),
        "macro_recall": metrics.macro_recall(y_true, y_pred, n_classes, everything),
        "per_class": {
            name: {
                "precision": float(scores.precision[i]),
                "recall": float(scores.recall[i]),
                "f1": float(scores.f1[i]),
                "support": int(scores.support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": {"labels": class_names, "matrix": matrix.tolist()},
        "ece": metrics.expected_calibration_error(confidence, correct, N_CALIBRATION_BINS),
        "reliability": [
            {
                "low": float(bins.edges[i]),
                "high": float(bins.edges[i + 1]),
                "n": int(bins.counts[i]),
                "confidence": float(bins.confidence[i]),
                "accuracy": float(bins.accuracy[i]),
            }
            for i in range(N_CALIBRATION_BINS)
        ],
        "ci95": None,
        "bootstrap": {"resamples": bootstrap, "seed": seed},
    }
    if bootstrap > 0:
        statistics = metrics.classification_statistics(y_true, y_pred, n_classes, everything)
        intervals = metrics.bootstrap_ci(
            int(y_true.size), statistics, n_resamples=bootstrap, seed=seed
        )
        summary["ci95"] = {name: list(interval) for name, interval in intervals.items()}
    if dataset.sources is not None:
        counts: dict[str, int] = {}
        for source in dataset.sources:
            counts[source] = counts.get(source, 0) + 1
        order = sorted(counts, key=lambda key: (-counts[key], key))
        summary["per_source"] = _per_group(dataset.sources, y_true, y_pred, n_classes, order)
    if dataset.languages is not None:
        codes = [code or UNKNOWN_LANGUAGE for code in dataset.languages]
        tally: dict[str, int] = {}
        for code in codes:
            tally[code] = tally.get(code, 0) + 1
        order = sorted(tally, key=lambda key: (-tally[key], key))
        summary["per_language"] = _per_group(codes, y_true, y_pred, n_classes, order)
    buckets = [word_count_bucket(text) for text in dataset.texts]
    order = [name for name, _, _ in LENGTH_BUCKETS]
    summary["per_length"] = _per_group(buckets, y_true, y_pred, n_classes, order)
    return summary, y_pred, confidence


def evaluate_probabilities(
    probabilities: np.ndarray,
    dataset: EvalDataset,
    *,
    model: str,
    model_version: str,
    bootstrap: int = 1000,
    seed: int = 0,
) -> EvaluationResult:
    """Evaluate precomputed (n, 3) probabilities (columns in LABELS order) on a dataset."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (len(dataset), len(LABELS)):
        raise ValueError(f"expected probabilities of shape ({len(dataset)}, {len(LABELS)})")
    class_ids = dataset.class_ids
    position = {label_id: i for i, label_id in enumerate(class_ids)}
    y_true = np.array([position[int(label)] for label in dataset.labels], dtype=np.int64)
    scored = mode_probabilities(probabilities, class_ids)
    summary, y_pred, confidence = summarise(y_true, scored, dataset, bootstrap=bootstrap, seed=seed)
    summary = {
        "model": model,
        "model_version": model_version,
        "dataset_sha256": dataset.sha256,
        **summary,
    }
    names = dataset.class_names
    items = [
        ItemPrediction(
            index=i,
            text=dataset.texts[i],
            source=dataset.sources[i] if dataset.sources is not None else None,
            label=names[y_true[i]],
            predicted=names[y_pred[i]],
            confidence=float(confidence[i]),
            correct=bool(y_true[i] == y_pred[i]),
            probabilities={
                name: float(p) for name, p in zip(LABELS, probabilities[i], strict=True)
            },
        )
        for i in range(len(dataset))
    ]
    return EvaluationResult(
        summary=summary, items=items, y_true=y_true, y_pred=y_pred, confidence=confidence
    )


def run_evaluation(
    backend: SentimentBackend,
    dataset: EvalDataset,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> EvaluationResult:
    """Score a dataset with a backend and evaluate it (summary plus per-item predictions)."""
    probabilities = predict_probabilities(
        backend, dataset.texts, progress=progress, languages=dataset.languages
    )
    return evaluate_probabilities(
        probabilities,
        dataset,
        model=backend.name,
        model_version=str(backend.version),
        bootstrap=bootstrap,
        seed=seed,
    )


def evaluate_backend(
    backend: SentimentBackend, dataset: EvalDataset, *, bootstrap: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """The JSON-ready metric summary of a backend on a dataset."""
    return run_evaluation(backend, dataset, bootstrap=bootstrap, seed=seed).summary


def most_confident_errors(items: Sequence[ItemPrediction], k: int = 20) -> list[ItemPrediction]:
    """The k wrong predictions with the highest confidence (ties by row order)."""
    wrong = [item for item in items if not item.correct]
    return sorted(wrong, key=lambda item: (-item.confidence, item.index))[:k]


def compare_models(
    results: Sequence[EvaluationResult], *, bootstrap: int = 1000, seed: int = 0
) -> list[dict[str, Any]]:
    """Paired-bootstrap differences in accuracy and macro-F1 of each model vs the first."""
    if len(results) < 2:
        return []
    baseline = results[0]
    n_classes = len(baseline.summary["labels"])
    everything = list(range(n_classes))
    y_true = baseline.y_true
    comparisons = []
    for other in results[1:]:
        row: dict[str, Any] = {
            "model": other.summary["model"],
            "baseline": baseline.summary["model"],
            "delta_accuracy": other.summary["accuracy"] - baseline.summary["accuracy"],
            "delta_macro_f1": other.summary["macro_f1"] - baseline.summary["macro_f1"],
            "ci95": None,
        }
        if bootstrap > 0 and y_true.size:
            a, b = baseline.y_pred, other.y_pred

            def delta_accuracy(idx: np.ndarray, a: np.ndarray = a, b: np.ndarray = b) -> float:
                return metrics.accuracy(y_true[idx], b[idx]) - metrics.accuracy(y_true[idx], a[idx])

            def delta_f1(idx: np.ndarray, a: np.ndarray = a, b: np.ndarray = b) -> float:
                after = metrics.macro_f1(y_true[idx], b[idx], n_classes, everything)
                return after - metrics.macro_f1(y_true[idx], a[idx], n_classes, everything)

            intervals = metrics.bootstrap_ci(
                int(y_true.size),
                {"delta_accuracy": delta_accuracy, "delta_macro_f1": delta_f1},
                n_resamples=bootstrap,
                seed=seed,
            )
            row["ci95"] = {name: list(interval) for name, interval in intervals.items()}
        comparisons.append(row)
    return comparisons
