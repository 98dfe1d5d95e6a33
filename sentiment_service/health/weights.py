"""Suggested weights from past outcomes (a draft for a person to review; never applied here).

Method:

1. Each sample is one account's component points (the `transformed` 0..100 values) at a past
   date and whether the outcome then happened. Missing or stale components are imputed with
   50 points, the neutral middle of the scale (counted per component in the diagnostics).
2. Points are standardised (mean 0, standard deviation 1 per component) and an
   L2-regularised logistic regression (`C` = inverse regularisation strength) predicts the
   outcome from them.
3. Every component's points are oriented so that higher is better for the objective, so each
   coefficient has an expected sign: negative when a higher score means a *less* likely
   positive outcome (`higher_score_means_positive=False`, the churn-risk health score against
   churn), positive otherwise (the expansion score against expansion).
4. The weight of a component is proportional to its coefficient on the original 0..100 scale
   (standardised coefficient / standard deviation), times the expected sign, so that the
   weighted mean of points follows the fitted log-odds. A component whose fitted sign
   contradicts its direction, or that did not vary, gets only the floor weight
   (`floor_fraction` x the original total weight) and a warning; every other component gets the
   floor plus its share of the rest, in proportion to its coefficient. The weights add up to
   the original total weight (up to rounding to 4 decimals); if no component has the expected
   sign, all weights are equal.
5. The result is a new `Scorecard` with the same id, the new weights and a description noting
   that it is a suggestion; segment overrides are copied unchanged (their weights are
   absolute and are not refitted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.linear_model import LogisticRegression

from sentiment_service.health.scorecard import Scorecard
from sentiment_service.health.scoring import HealthScore

IMPUTED_POINTS = 50.0
MIN_SAMPLES = 10


class WeightDiagnostics(BaseModel):
    """What the fit saw and found."""

    model_config = ConfigDict(frozen=True)

    n: int
    n_positive: int
    regularisation_c: float
    higher_score_means_positive: bool
    coefficients: dict[str, float]
    raw_coefficients: dict[str, float]
    imputed: dict[str, int]
    old_weights: dict[str, float]
    new_weights: dict[str, float]
    warnings: tuple[str, ...]


class SuggestedWeights(BaseModel):
    """A draft scorecard with suggested weights, and how they were found."""

    model_config = ConfigDict(frozen=True)

    draft: Scorecard
    diagnostics: WeightDiagnostics


def component_points(score: HealthScore) -> dict[str, float | None]:
    """The points of the ok components of a score (None for missing or stale ones)."""
    return {
        component.name: component.transformed if component.status == "ok" else None
        for component in score.components
    }


def suggest_weights(
    card: Scorecard,
    samples: Sequence[tuple[Mapping[str, float | None], bool]],
    *,
    higher_score_means_positive: bool,
    regularisation_c: float = 1.0,
    floor_fraction: float = 0.02,
) -> SuggestedWeights:
    """Fit weights for the card's base components from `(points by component, outcome)` samples.

    See the module docstring for the method. Needs at least 10 samples with both outcomes.
    """
    if regularisation_c <= 0:
        raise ValueError(f"regularisation_c must be positive, got {regularisation_c}")
    if not 0 < floor_fraction * len(card.components) < 1:
        raise ValueError("floor_fraction x number of components must be between 0 and 1")
    names = [component.name for component in card.components]
    outcomes = np.asarray([bool(outcome) for _, outcome in samples], dtype=int)
    n_positive = int(outcomes.sum())
    if len(samples) < MIN_SAMPLES or n_positive == 0 or n_positive == len(samples):
        raise ValueError(
            f"need at least {MIN_SAMPLES} samples with both outcomes, got {len(samples)} "
            f"with {n_positive} positive"
        )
    imputed = dict.fromkeys(names, 0)
    matrix = np.empty((len(samples), len(names)), dtype=float)
    for row, (points, _) in enumerate(samples):
        for column, name in enumerate(names):
            value = points.get(name)
            if value is None or not math.isfinite(value):
                imputed[name] += 1
                value = IMPUTED_POINTS
            matrix[row, column] = value
    means = matrix.mean(axis=0)
    stds = matrix.std(axis=0)
    varies = stds > 1e-9
    standardised = np.where(varies, (matrix - means) / np.where(varies, stds, 1.0), 0.0)
    model = LogisticRegression(C=regularisation_c, max_iter=1000)
    model.fit(standardised, outcomes)
    coefficients = model.coef_[0]
    raw = np.where(varies, coefficients / np.where(varies, stds, 1.0), 0.0)

    expected_sign = 1.0 if higher_score_means_positive else -1.0
    aligned = expected_sign * raw
    total = sum(component.weight for component in card.components)
    floor = floor_fraction * total
    warnings: list[str] = []
    floored = []
    for index, name in enumerate(names):
        if not varies[index]:
            warnings.append(f"{name}: its points did not vary; floor weight")
            floored.append(True)
        elif aligned[index] <= 0:
            warnings.append(
                f"{name}: fitted effect (coefficient {coefficients[index]:+.3f}) contradicts "
                "its direction; floor weight"
            )
            floored.append(True)
        else:
            floored.append(False)
    positive_sum = float(sum(a for a, f in zip(aligned, floored, strict=True) if not f))
    free = total - floor * len(names)
    new_weights: dict[str, float] = {}
    for index, name in enumerate(names):
        share = 0.0 if floored[index] else float(aligned[index]) / positive_sum
        new_weights[name] = round(floor + free * share, 4)
    if all(floored):
        warnings.append("no component had the expected effect; all weights are equal")
        new_weights = {name: round(total / len(names), 4) for name in names}

    components = tuple(
        component.model_copy(update={"weight": new_weights[component.name]})
        for component in card.components
    )
    note = (
        f" [Suggested weights: fitted on {len(samples)} outcomes ({n_positive} positive); "
        "a draft to review, not applied.]"
    )
    draft = Scorecard.model_validate(
        {
            **card.model_dump(),
            "components": [component.model_dump() for component in components],
            "description": card.description + note,
        }
    )
    return SuggestedWeights(
        draft=draft,
        diagnostics=WeightDiagnostics(
            n=len(samples),
            n_positive=n_positive,
            regularisation_c=regularisation_c,
            higher_score_means_positive=higher_score_means_positive,
            coefficients={n: float(c) for n, c in zip(names, coefficients, strict=True)},
            raw_coefficients={n: float(c) for n, c in zip(names, raw, strict=True)},
            imputed=imputed,
            old_weights={component.name: component.weight for component in card.components},
            new_weights=new_weights,
            warnings=tuple(warnings),
        ),
    )
