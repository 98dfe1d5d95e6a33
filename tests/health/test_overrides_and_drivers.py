"""Human overrides win until they expire; drivers rank contribution changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sentiment_service.health.drivers import top_drivers
from sentiment_service.health.overrides import Override, effective_score
from sentiment_service.health.scorecard import resolve_scorecard
from sentiment_service.health.scoring import HealthScore, score_account
from tests.health.builders import AS_OF, card, component, fresh

SCORECARD = card([component("a", weight=2), component("b"), component("c")])


def _score(a: float | None, b: float | None, c: float | None) -> HealthScore:
    features = {
        name: fresh(value)
        for name, value in (("f_a", a), ("f_b", b), ("f_c", c))
        if value is not None
    }
    return score_account(resolve_scorecard(SCORECARD, {}), features, as_of=AS_OF)


COMPUTED = _score(0.2, 0.3, 0.4)  # 27.5, at_risk


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0, 100, allow_nan=False),
    st.integers(-1000, 1000),
    st.integers(1, 1000),
)
def test_override_wins_until_expiry_then_lapses(score: float, offset_h: int, life_h: int) -> None:
    created = AS_OF + timedelta(hours=offset_h)
    override = Override(
        score=score,
        reason="acquired by a customer of ours",
        expires_at=created + timedelta(hours=life_h),
        created_by="csm@example",
        created_at=created,
    )
    for moment in (created - timedelta(seconds=1), created, override.expires_at, AS_OF):
        result = effective_score(COMPUTED, override, as_of=moment)
        active = created <= moment < override.expires_at
        assert result.override_active is active
        assert result.source == ("override" if active else "computed")
        assert result.score == (score if active else COMPUTED.score)
        assert result.computed == COMPUTED  # always kept


def test_override_bands() -> None:
    until = AS_OF + timedelta(days=30)
    score_only = Override(score=85, reason="renewal signed", expires_at=until, created_by="u")
    assert effective_score(COMPUTED, score_only, as_of=AS_OF).band == "healthy"
    band_only = Override(
        band="neutral", reason="exec sponsor engaged", expires_at=until, created_by="u"
    )
    result = effective_score(COMPUTED, band_only, as_of=AS_OF)
    assert (result.score, result.band) == (COMPUTED.score, "neutral")
    wrong = Override(band="great", reason="x", expires_at=until, created_by="u")
    with pytest.raises(ValueError, match="not one of"):
        effective_score(COMPUTED, wrong, as_of=AS_OF)
    assert effective_score(COMPUTED, None, as_of=AS_OF).source == "computed"


def test_override_validation() -> None:
    until = AS_OF + timedelta(days=1)
    with pytest.raises(ValidationError, match="a score, a band or both"):
        Override(reason="x", expires_at=until, created_by="u")
    with pytest.raises(ValidationError, match="score"):
        Override(score=101, reason="x", expires_at=until, created_by="u")
    with pytest.raises(ValidationError, match="reason"):
        Override(score=50, reason=" ", expires_at=until, created_by="u")
    with pytest.raises(ValidationError, match="timezone-aware"):
        Override(score=50, reason="x", expires_at=until.replace(tzinfo=None), created_by="u")


def test_top_drivers_rank_by_absolute_change() -> None:
    previous = _score(0.9, 0.5, 0.5)  # a: 2/4*90=45, b: 12.5, c: 12.5
    current = _score(0.5, 0.8, 0.4)  # a: 25, b: 20, c: 10
    drivers = top_drivers(previous, current, k=3)
    assert [(d.name, d.direction, d.change) for d in drivers] == [
        ("a", "down", -20.0),
        ("b", "up", 7.5),
        ("c", "down", -2.5),
    ]
    assert sum(d.change for d in drivers) == pytest.approx(current.score - previous.score)
    assert [d.name for d in top_drivers(previous, current, k=1)] == ["a"]
    assert top_drivers(previous, previous) == []


def test_top_drivers_with_a_component_gone_missing() -> None:
    previous = _score(0.5, 0.5, 0.5)
    current = _score(0.5, 0.5, None)
    drivers = {d.name: d for d in top_drivers(previous, current, k=5)}
    assert drivers["c"].current_status == "missing" and drivers["c"].change == -12.5
    assert drivers["a"].change == pytest.approx(8.33, abs=0.01)  # renormalised
    other = COMPUTED.model_copy(update={"scorecard_id": "other"})
    with pytest.raises(ValueError, match="different scorecards"):
        top_drivers(COMPUTED, other)
