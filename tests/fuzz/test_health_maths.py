"""Property tests of the health-score maths over the whole float range.

tests/health/ checks the documented rules with realistic values; these push every input to
its extremes (values and weights up to 1.8e308, subnormals, NaN, infinities, None) and check
that nothing overflows into NaN or out of range: transforms give 0..100 points and stay
monotonic in their direction, the score is None or 0..100, weights renormalise to 1,
contributions add up to the score, and confidence and coverage stay in 0..1.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from sentiment_service.health.scorecard import Scorecard, resolve_scorecard
from sentiment_service.health.scoring import FeatureValue, HealthScore, score_account
from sentiment_service.health.transforms import (
    Direction,
    Transform,
    percentile_rank,
    transform_value,
)
from tests.health.builders import AS_OF, card, component

finite = st.floats(allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.0, exclude_min=True, allow_infinity=False)
points = st.floats(0, 100)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
directions = st.sampled_from(["higher_is_better", "lower_is_better"])
TRANSFORM = TypeAdapter(Transform)


@st.composite
def transforms(draw: st.DrawFn) -> tuple[Transform, Direction]:
    """A valid transform with extreme parameters, and a direction it agrees with."""
    direction: Direction = draw(directions)
    kind = draw(st.sampled_from(["min_max", "bands", "decay"]))
    spec: dict[str, Any]
    if kind == "min_max":
        lo, hi = draw(finite), draw(finite)
        floor, cap = draw(points), draw(points)
        assume(hi > lo and cap > floor)
        spec = {"type": "min_max", "lo": lo, "hi": hi, "floor": floor, "cap": cap}
    elif kind == "decay":
        spec = {"type": "decay", "half_life_days": draw(positive)}
        direction = "lower_is_better"
    else:
        bounds = sorted(draw(st.sets(finite, min_size=1, max_size=5)))
        marks = sorted(draw(st.lists(points, min_size=len(bounds) + 1, max_size=len(bounds) + 1)))
        if direction == "lower_is_better":
            marks.reverse()
        steps = [[bound, mark] for bound, mark in zip(bounds, marks, strict=False)]
        spec = {"type": "bands", "steps": steps, "above": marks[-1]}
    try:
        return TRANSFORM.validate_python(spec), direction
    except ValidationError:
        assume(False)
        raise


@settings(max_examples=300, deadline=None)
@given(transforms(), finite, finite)
def test_transforms_give_bounded_monotonic_points_for_any_finite_value(
    spec: tuple[Transform, Direction], a: float, b: float
) -> None:
    transform, direction = spec
    low, high = sorted((a, b))
    worse, better = (low, high) if direction == "higher_is_better" else (high, low)
    worse_points = transform_value(transform, worse, direction)
    better_points = transform_value(transform, better, direction)
    assert math.isfinite(worse_points) and math.isfinite(better_points)
    assert 0 <= worse_points <= better_points <= 100


@pytest.mark.parametrize(
    ("lo", "hi", "value", "expected"),
    [
        (-1.7976931348623157e308, 1.7976931348623157e308, 0.0, 50.0),  # hi - lo overflows
        (-1e308, 1e308, 1e308, 100.0),
        (0.0, 5e-324, 5e-324, 100.0),  # the smallest span there is
        (0.0, 1e-323, 5e-324, 50.0),
    ],
)
def test_min_max_spanning_extreme_ranges(
    lo: float, hi: float, value: float, expected: float
) -> None:
    transform = TRANSFORM.validate_python({"type": "min_max", "lo": lo, "hi": hi})
    assert transform_value(transform, value, "higher_is_better") == expected
    assert transform_value(transform, value, "lower_is_better") == 100.0 - expected


@given(transforms(), non_finite)
def test_transforms_refuse_non_finite_values(
    spec: tuple[Transform, Direction], value: float
) -> None:
    transform, direction = spec
    with pytest.raises(ValueError, match="finite"):
        transform_value(transform, value, direction, peer_values=[1.0] * 10)


@given(finite, st.lists(st.one_of(finite, non_finite), min_size=1, max_size=30))
def test_percentile_rank_ignores_non_finite_peers(value: float, peers: list[float]) -> None:
    usable = [peer for peer in peers if math.isfinite(peer)]
    if not usable:
        with pytest.raises(ValueError):
            percentile_rank(value, peers)
        return
    rank = percentile_rank(value, peers)
    assert rank == percentile_rank(value, usable)
    assert 0 <= rank <= 100


feature_values = st.one_of(finite, non_finite, st.none())


@st.composite
def scored(draw: st.DrawFn) -> tuple[Scorecard, dict[str, FeatureValue]]:
    """A scorecard with extreme weights, and features with any values (or none at all)."""
    components = []
    for index in range(draw(st.integers(1, 6))):
        transform, direction = draw(transforms())
        components.append(
            component(
                f"c{index}",
                transform=transform.model_dump(),
                direction=direction,
                kind=draw(st.sampled_from(["metric", "sentiment", "topic"])),
                weight=draw(positive),
                freshness_days=draw(positive),
            )
        )
    half_count = draw(st.one_of(st.none(), positive))
    rule = None
    if half_count is not None:
        rule = {"feature": "message_count_30d", "half_count": half_count}
    scorecard = card(components, message_volume=rule)
    features: dict[str, FeatureValue] = {}
    for name in [c.feature for c in scorecard.components] + ["message_count_30d"]:
        if draw(st.booleans()) or name == "message_count_30d":
            age = draw(st.one_of(st.none(), st.floats(0, 400)))
            observed = None if age is None else AS_OF - timedelta(days=age)
            features[name] = FeatureValue(draw(feature_values), observed)
    return scorecard, features


def _score(scorecard: Scorecard, features: dict[str, FeatureValue]) -> HealthScore:
    return score_account(resolve_scorecard(scorecard, {}), features, as_of=AS_OF)


def _numbers(value: Any) -> list[float]:
    """Every number inside a dumped model."""
    if isinstance(value, dict):
        return [number for item in value.values() for number in _numbers(item)]
    if isinstance(value, list | tuple):
        return [number for item in value for number in _numbers(item)]
    if isinstance(value, float | int) and not isinstance(value, bool):
        return [float(value)]
    return []


@settings(max_examples=300, deadline=None)
@given(scored())
def test_any_inputs_give_a_bounded_score_without_nan(
    inputs: tuple[Scorecard, dict[str, FeatureValue]],
) -> None:
    scorecard, features = inputs
    result = _score(scorecard, features)
    dumped = result.model_dump()
    for component_dump in dumped["components"]:  # raw values are echoed, not computed
        component_dump.pop("value")
    assert all(math.isfinite(number) for number in _numbers(dumped)), dumped
    for item in result.components:
        value = features.get(item.feature)
        if value is None or value.value is None or not math.isfinite(value.value):
            assert item.status == "missing"
    assert 0 <= result.confidence <= 1 and 0 <= result.coverage <= 1
    ok = [c for c in result.components if c.status == "ok"]
    if not ok:
        assert (result.score, result.band, result.confidence) == (None, "unknown", 0)
        return
    assert result.score is not None and 0 <= result.score <= 100
    assert sum(c.effective_weight for c in ok) == pytest.approx(1.0)
    assert round(sum(c.contribution for c in result.components) * 10) == round(result.score * 10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(scored(), st.floats(1e-300, 1.0))
def test_scaling_every_weight_leaves_the_score_alone(
    inputs: tuple[Scorecard, dict[str, FeatureValue]], factor: float
) -> None:
    scorecard, features = inputs
    weights = [c.weight * factor for c in scorecard.components]
    assume(all(weight > 0 for weight in weights))  # (subnormal weights can underflow)
    scaled = scorecard.model_copy(
        update={
            "components": tuple(
                c.model_copy(update={"weight": weight})
                for c, weight in zip(scorecard.components, weights, strict=True)
            )
        }
    )
    before, after = _score(scorecard, features), _score(scaled, features)
    if before.score is None:
        assert after.score is None
        return
    assert after.score is not None
    assert after.score == pytest.approx(before.score, abs=0.1)
    assert after.confidence == pytest.approx(before.confidence, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(scored(), st.data())
def test_a_better_value_never_lowers_the_score(
    inputs: tuple[Scorecard, dict[str, FeatureValue]], data: st.DataObject
) -> None:
    scorecard, features = inputs
    target = data.draw(st.sampled_from(scorecard.components))
    low, high = sorted((data.draw(finite), data.draw(finite)))
    worse, better = (low, high) if target.direction == "higher_is_better" else (high, low)
    observed = features[target.feature].observed_at if target.feature in features else None
    before = _score(scorecard, {**features, target.feature: FeatureValue(worse, observed)})
    after = _score(scorecard, {**features, target.feature: FeatureValue(better, observed)})
    assert (before.score is None) == (after.score is None)
    if before.score is not None and after.score is not None:
        assert after.score >= before.score
