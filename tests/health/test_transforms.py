"""Transforms and peer percentiles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from sentiment_service.health.transforms import (
    BandsTransform,
    DecayTransform,
    InsufficientPeersError,
    MinMaxTransform,
    PercentileTransform,
    Transform,
    percentile_rank,
    transform_value,
)
from tests.health.builders import transform_and_direction, values

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(finite, st.lists(finite, min_size=1, max_size=40))
def test_percentile_rank_is_bounded(value: float, peers: list[float]) -> None:
    rank = percentile_rank(value, peers)
    assert 0 <= rank <= 100
    if all(peer < value for peer in peers):
        assert rank == 100
    if all(peer > value for peer in peers):
        assert rank == 0


@given(finite, finite, st.lists(finite, min_size=1, max_size=40))
def test_percentile_rank_is_monotonic(a: float, b: float, peers: list[float]) -> None:
    low, high = sorted((a, b))
    assert percentile_rank(low, peers) <= percentile_rank(high, peers)


def test_percentile_rank_averages_ties() -> None:
    assert percentile_rank(5, [1, 5, 5, 9]) == 50.0
    assert percentile_rank(5, [5, 5, 5]) == 50.0
    assert percentile_rank(3, [1, 2, float("nan")]) == 100.0
    with pytest.raises(ValueError, match="at least one"):
        percentile_rank(1, [])


@given(transform_and_direction(), values, values)
def test_transforms_stay_in_range_and_follow_direction(spec, a: float, b: float) -> None:
    transform, direction = spec
    parsed = TypeAdapter(Transform).validate_python(transform)
    worse, better = sorted((a, b)) if direction == "higher_is_better" else sorted((a, b))[::-1]
    low = transform_value(parsed, worse, direction)
    high = transform_value(parsed, better, direction)
    assert 0 <= low <= high <= 100


def test_each_transform() -> None:
    min_max = MinMaxTransform(lo=-0.5, hi=0.5, floor=20, cap=80)
    assert transform_value(min_max, 0.0, "higher_is_better") == 50
    assert transform_value(min_max, 9.0, "higher_is_better") == 80
    assert transform_value(min_max, 9.0, "lower_is_better") == 20
    bands = BandsTransform(steps=((0, 100), (1, 50), (2, 20)), above=0)
    assert [transform_value(bands, v, "lower_is_better") for v in (-1, 0, 0.5, 2, 7)] == [
        100,
        100,
        50,
        20,
        0,
    ]
    decay = DecayTransform(half_life_days=7)
    assert transform_value(decay, 14, "lower_is_better") == pytest.approx(25)
    assert transform_value(decay, -3, "lower_is_better") == 100
    percentile = PercentileTransform(min_peers=2)
    assert transform_value(percentile, 2, "lower_is_better", peer_values=[1, 3]) == 50
    assert transform_value(percentile, 4, "lower_is_better", peer_values=[1, 3]) == 0
    with pytest.raises(InsufficientPeersError):
        transform_value(percentile, 2, "higher_is_better", peer_values=[1])
    with pytest.raises(ValueError, match="finite"):
        transform_value(min_max, float("inf"), "higher_is_better")
