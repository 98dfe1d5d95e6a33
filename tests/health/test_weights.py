"""Suggested weights recover the informative component on synthetic outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment_service.health.scorecard import resolve_scorecard
from sentiment_service.health.scoring import score_account
from sentiment_service.health.weights import component_points, suggest_weights
from tests.health.builders import AS_OF, card, component, fresh

CARD = card(
    [
        component("signal", weight=1),
        component("noise", weight=1),
        component("backwards", weight=1),
        component("flat", weight=1),
    ],
    segment_overrides=[{"match": {"segment": "smb"}, "weights": {"noise": 3}}],
)


def _samples(n: int, seed: int) -> list[tuple[dict[str, float | None], bool]]:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        signal, noise, backwards = rng.uniform(0, 100, size=3)
        # churn is likely when the signal's health points are low...
        # ...and (against its stated direction) when "backwards" is high.
        logit = -0.08 * (signal - 50) + 0.03 * (backwards - 50)
        churned = bool(rng.random() < 1 / (1 + np.exp(-logit)))
        points = {"signal": signal, "noise": noise, "backwards": backwards, "flat": 50.0}
        if rng.random() < 0.1:
            points["noise"] = None
        samples.append((points, churned))
    return samples


def test_suggested_weights_favour_the_informative_component() -> None:
    suggestion = suggest_weights(CARD, _samples(600, 3), higher_score_means_positive=False)
    weights = suggestion.diagnostics.new_weights
    assert max(weights, key=weights.__getitem__) == "signal"
    assert weights["signal"] > 2.5
    assert weights["backwards"] == weights["flat"] == pytest.approx(0.08)  # floor: 2 % of 4
    assert sum(weights.values()) == pytest.approx(4.0, abs=1e-3)
    warnings = " ".join(suggestion.diagnostics.warnings)
    assert "backwards: fitted effect" in warnings and "flat: its points did not vary" in warnings
    assert suggestion.diagnostics.coefficients["signal"] < 0
    assert suggestion.diagnostics.imputed["noise"] > 0
    draft = suggestion.draft
    assert draft.id == CARD.id and "Suggested weights" in draft.description
    assert draft.segment_overrides == CARD.segment_overrides
    assert {c.name: c.weight for c in draft.components} == weights
    assert CARD.components[0].weight == 1  # nothing applied to the original


def test_expansion_orientation_and_guards() -> None:
    flipped = [(points, not churned) for points, churned in _samples(400, 5)]
    suggestion = suggest_weights(CARD, flipped, higher_score_means_positive=True)
    weights = suggestion.diagnostics.new_weights
    assert max(weights, key=weights.__getitem__) == "signal"
    with pytest.raises(ValueError, match="both outcomes"):
        suggest_weights(
            CARD, [(p, True) for p, _ in _samples(50, 1)], higher_score_means_positive=False
        )
    with pytest.raises(ValueError, match="both outcomes"):
        suggest_weights(CARD, _samples(5, 1), higher_score_means_positive=False)


def test_component_points_from_scores() -> None:
    score = score_account(
        resolve_scorecard(CARD, {}),
        {"f_signal": fresh(0.3), "f_noise": fresh(0.5, days_old=40)},
        as_of=AS_OF,
    )
    assert component_points(score) == {
        "signal": pytest.approx(30.0),
        "noise": None,
        "backwards": None,
        "flat": None,
    }
