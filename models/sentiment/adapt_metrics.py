"""The numbers an adaptation is judged and selected by: scores per source, held-out macro-F1,
forgetting on the base validation set, the selection score and a balanced temperature."""

from __future__ import annotations

from typing import Any

import numpy as np

from models.sentiment import adapt_recipe as R
from models.sentiment import data as D


def scores(logits: np.ndarray, data: D.LabelledTexts, temperature: float) -> dict[str, Any]:
    """Macro-F1, accuracy, calibrated ECE overall and per source."""
    from models.sentiment.metrics import classification_scores, expected_calibration_error, softmax

    def one(idx: np.ndarray) -> dict[str, Any]:
        y, z = data.labels[idx], logits[idx]
        return {
            "n": len(idx),
            **classification_scores(y, z.argmax(axis=1)),
            "ece": expected_calibration_error(softmax(z, temperature), y),
        }

    everything = one(np.arange(len(data)))
    names = sorted(set(data.source))
    if len(names) > 1:
        sources = np.asarray(data.source)
        everything["per_source"] = {s: one(np.flatnonzero(sources == s)) for s in names}
    return everything


def base_macro_f1(logits: np.ndarray, data: D.LabelledTexts | None) -> dict[str, float]:
    """Macro-F1 per source of the base validation set (empty without one)."""
    from models.sentiment.metrics import macro_f1_by_source

    if data is None or not len(data):
        return {}
    scores = macro_f1_by_source(logits, data)
    return {k.removeprefix("f1_"): v for k, v in scores.items() if k != "selection"}


def new_macro_f1(logits: np.ndarray, data: D.LabelledTexts) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(data.labels, logits.argmax(axis=1), average="macro"))


def forgetting(before: dict[str, float], after: dict[str, float]) -> float:
    """The largest macro-F1 drop of any source of the base validation set (0 without one):
    a gain on one source does not excuse a loss on another."""
    return max([before[s] - after[s] for s in before if s in after], default=0.0)


def selection_score(
    new_f1: float, base_after: dict[str, float], base_before: dict[str, float]
) -> float:
    """Held-out new macro-F1 minus FORGET_PENALTY x the worst base-validation drop beyond
    FORGET_SLACK."""
    return new_f1 - R.FORGET_PENALTY * max(
        0.0, forgetting(base_before, base_after) - R.FORGET_SLACK
    )


def fit_balanced_temperature(parts: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Temperature minimising the mean of the parts' NLLs (each part counts equally)."""
    from scipy.optimize import minimize_scalar

    from models.sentiment.metrics import negative_log_likelihood

    parts = [(z, y) for z, y in parts if len(y)]
    result = minimize_scalar(
        lambda log_t: float(
            np.mean([negative_log_likelihood(z, y, float(np.exp(log_t))) for z, y in parts])
        ),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))
