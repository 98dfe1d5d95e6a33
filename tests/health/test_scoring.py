"""Scoring rules: renormalised weights, contributions, confidence, monotonicity, statuses."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment_service.health.scorecard import Scorecard, resolve_scorecard
from sentiment_service.health.scoring import FeatureValue, HealthScore, score_account
from tests.health.builders import AS_OF, card, component, fresh, scorecards, values


def _score(
    scorecard: Scorecard,
    features: dict[str, FeatureValue],
    peers: dict[str, list[float]] | None = None,
) -> HealthScore:
    return score_account(resolve_scorecard(scorecard, {}), features, as_of=AS_OF, peers=peers)


def _features(
    scorecard: Scorecard, raw: list[float], messages: float = 20
) -> dict[str, FeatureValue]:
    features = {c.feature: fresh(v) for c, v in zip(scorecard.components, raw, strict=False)}
    features["message_count_30d"] = fresh(messages)
    return features


@st.composite
def scored_inputs(draw: st.DrawFn) -> tuple[Scorecard, dict[str, FeatureValue]]:
    scorecard = draw(scorecards())
    raw = draw(st.lists(values, min_size=len(scorecard.components), max_size=6))
    return scorecard, _features(scorecard, raw, draw(st.floats(0, 200)))


@settings(max_examples=150, deadline=None)
@given(scored_inputs(), st.data())
def test_improving_one_component_never_lowers_the_score(inputs, data) -> None:
    scorecard, features = inputs
    target = data.draw(st.sampled_from(scorecard.components))
    step = data.draw(st.floats(0, 50))
    better = step if target.direction == "higher_is_better" else -step
    before = _score(scorecard, features)
    improved = dict(features)
    improved[target.feature] = fresh(features[target.feature].value + better)
    after = _score(scorecard, improved)
    assert before.score is not None and after.score is not None
    assert after.score >= before.score
    changed = after.component(target.name)
    assert changed is not None and changed.transformed >= before.component(target.name).transformed


@settings(max_examples=150, deadline=None)
@given(scored_inputs(), st.data())
def test_weights_and_contributions_add_up(inputs, data) -> None:
    scorecard, features = inputs
    # knock out a random subset (but not all) of the components
    drop = data.draw(st.sets(st.sampled_from([c.feature for c in scorecard.components])))
    for feature in drop:
        features[feature] = FeatureValue(None, None)
    result = _score(scorecard, features)
    ok = [c for c in result.components if c.status == "ok"]
    if not ok:
        assert result.score is None and result.band == "unknown" and result.confidence == 0
        return
    assert sum(c.effective_weight for c in ok) == pytest.approx(1.0)
    assert all(
        c.effective_weight == 0 and c.contribution == 0
        for c in result.components
        if c.status != "ok"
    )
    assert sum(c.contribution for c in result.components) == pytest.approx(result.score, abs=1e-9)
    exact = sum(c.effective_weight * c.transformed for c in ok)
    assert result.score == pytest.approx(round(exact, 1), abs=0.051)
    assert 0 <= result.score <= 100
    assert 0 < result.confidence <= 1
    assert result.confidence <= result.coverage + 1e-12


@settings(max_examples=150, deadline=None)
@given(scored_inputs(), st.data(), st.sampled_from(["missing", "stale"]))
def test_confidence_strictly_drops_when_a_component_is_lost(inputs, data, how) -> None:
    scorecard, features = inputs
    target = data.draw(st.sampled_from(scorecard.components))
    before = _score(scorecard, features)
    degraded = dict(features)
    if how == "missing":
        del degraded[target.feature]
    else:
        old = target.freshness_days + 1
        degraded[target.feature] = fresh(features[target.feature].value, days_old=old)
    after = _score(scorecard, degraded)
    assert after.confidence < before.confidence
    assert target.name in (after.missing if how == "missing" else after.stale)


def test_missing_is_not_zero_and_weights_are_renormalised() -> None:
    scorecard = card([component("a", weight=1), component("b", weight=3)])
    both = _score(scorecard, {"f_a": fresh(0.8), "f_b": fresh(0.4)})
    assert both.score == pytest.approx(50.0)  # (80 + 3 x 40) / 4
    only_a = _score(scorecard, {"f_a": fresh(0.8)})
    assert only_a.score == 80.0  # not (80 + 3 x 0) / 4 = 20
    assert only_a.missing == ("b",)
    assert only_a.component("a").effective_weight == 1.0
    assert only_a.confidence == pytest.approx(0.25)
    zero_b = _score(scorecard, {"f_a": fresh(0.8), "f_b": fresh(0.0)})
    assert zero_b.score == 20.0
    assert zero_b.confidence == 1.0


def test_stale_components_are_left_out_but_keep_their_points() -> None:
    scorecard = card([component("a"), component("b", freshness_days=7)])
    result = _score(scorecard, {"f_a": fresh(0.5), "f_b": fresh(1.0, days_old=8)})
    b = result.component("b")
    assert result.stale == ("b",) and b.status == "stale" and b.transformed == 100.0
    assert b.contribution == 0 and "8.0 days" in (b.reason or "")
    assert result.score == 50.0
    on_the_edge = _score(scorecard, {"f_a": fresh(0.5), "f_b": fresh(1.0, days_old=7)})
    assert on_the_edge.stale == () and on_the_edge.score == 75.0


def test_no_component_present_gives_unknown() -> None:
    scorecard = card([component("a"), component("b")])
    result = _score(scorecard, {"f_a": FeatureValue(float("nan"), None)})
    assert (result.score, result.band, result.confidence) == (None, "unknown", 0.0)
    assert result.missing == ("a", "b")
    assert result.component("a").reason == "value not finite"


def test_bands_and_rounding() -> None:
    scorecard = card([component("a", transform={"type": "min_max", "lo": 0, "hi": 3})])
    assert _score(scorecard, {"f_a": fresh(2.1)}).band == "healthy"  # 70.0
    assert _score(scorecard, {"f_a": fresh(1.2)}).band == "neutral"  # 40.0
    low = _score(scorecard, {"f_a": fresh(1.0)})
    assert (low.score, low.band) == (33.3, "at_risk")


def test_contributions_are_tenths_that_sum_exactly() -> None:
    scorecard = card([component(name) for name in ("a", "b", "c")])
    result = _score(scorecard, {"f_a": fresh(1 / 3), "f_b": fresh(1 / 3), "f_c": fresh(1 / 3)})
    assert result.score == 33.3
    assert sorted(c.contribution for c in result.components) == [11.1, 11.1, 11.1]


def test_message_volume_sets_the_reliability_of_sentiment_components() -> None:
    scorecard = card(
        [component("m"), component("s", kind="sentiment", feature="sentiment_mean_30d")],
        message_volume={"feature": "message_count_30d", "half_count": 5},
    )
    features = {"f_m": fresh(0.5), "sentiment_mean_30d": fresh(0.5)}
    twenty = _score(scorecard, {**features, "message_count_30d": fresh(20)})
    assert twenty.component("s").reliability == pytest.approx(0.8)
    assert twenty.confidence == pytest.approx((1 + 0.8) / 2)
    unknown_volume = _score(scorecard, features)
    assert unknown_volume.component("s").reliability == pytest.approx(1 / 6)
    assert unknown_volume.component("m").reliability == 1.0


def test_percentile_component_needs_peers() -> None:
    scorecard = card([component("p", transform={"type": "percentile", "min_peers": 3})])
    no_peers = _score(scorecard, {"f_p": fresh(5)})
    assert no_peers.missing == ("p",) and "peer" in (no_peers.component("p").reason or "")
    ranked = _score(scorecard, {"f_p": fresh(5)}, peers={"f_p": [1, 5, 9, 10]})
    assert ranked.score == pytest.approx(37.5)


def test_time_rules() -> None:
    scorecard = card([component("a")])
    with pytest.raises(ValueError, match="after as_of"):
        _score(scorecard, {"f_a": FeatureValue(0.5, AS_OF + timedelta(hours=1))})
    with pytest.raises(ValueError, match="timezone-aware"):
        score_account(resolve_scorecard(scorecard, {}), {}, as_of=datetime(2026, 10, 31))
    timeless = _score(scorecard, {"f_a": FeatureValue(0.5, None)})
    assert timeless.component("a").status == "ok"


def test_health_score_round_trips_as_json() -> None:
    scorecard = card([component("a"), component("b")])
    result = _score(scorecard, {"f_a": fresh(0.5)})
    assert HealthScore.model_validate_json(result.model_dump_json()) == result
