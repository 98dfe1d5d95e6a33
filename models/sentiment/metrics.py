"""Pure metric and calibration functions: macro-F1, bootstrap CIs, ECE, temperature fitting."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import accuracy_score, f1_score, recall_score


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, numerically stable."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and macro-recall (the SemEval-2017 4A metric)."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
        "macro_recall": float(recall_score(y_true, y_pred, average="macro")),
    }


def bootstrap_ci(
    y_true: np.ndarray, y_pred: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """Percentile 95% bootstrap intervals (resampling examples) for each classification score."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    samples: dict[str, list[float]] = {}
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        for key, value in classification_scores(y_true[idx], y_pred[idx]).items():
            samples.setdefault(key, []).append(value)
    return {
        key: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
        for key, v in samples.items()
    }


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with equal-width confidence bins."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def negative_log_likelihood(logits: np.ndarray, y_true: np.ndarray, temperature: float) -> float:
    """Mean NLL of the true labels under softmax(logits / temperature)."""
    probs = softmax(logits, temperature)
    return float(-np.log(np.clip(probs[np.arange(len(y_true)), y_true], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature minimising validation NLL (searched on log-scale in [0.05, 20])."""
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, y_true, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))


def evaluation_report(
    logits: np.ndarray, y_true: np.ndarray, temperature: float, *, with_ci: bool = True
) -> dict[str, object]:
    """Scores, optional bootstrap CIs and ECE before/after temperature scaling for one split."""
    y_pred = logits.argmax(axis=1)
    report: dict[str, object] = {"n": len(y_true), **classification_scores(y_true, y_pred)}
    if with_ci:
        report["ci95"] = bootstrap_ci(y_true, y_pred)
    report["ece_raw"] = expected_calibration_error(softmax(logits), y_true)
    report["ece_calibrated"] = expected_calibration_error(softmax(logits, temperature), y_true)
    report["nll_calibrated"] = negative_log_likelihood(logits, y_true, temperature)
    return report


def macro_f1_by_source(logits: np.ndarray, data: object) -> dict[str, float]:
    """Macro-F1 per source corpus of a labelled set and their mean (the selection score)."""
    labels: np.ndarray = data.labels  # type: ignore[attr-defined]
    sources = np.asarray(data.source)  # type: ignore[attr-defined]
    pred = logits.argmax(axis=1)
    scores = {
        f"f1_{name}": float(
            f1_score(labels[sources == name], pred[sources == name], average="macro")
        )
        for name in sorted(set(sources.tolist()))
    }
    scores["selection"] = float(np.mean(list(scores.values())))
    return scores
