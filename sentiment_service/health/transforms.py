"""Transforms: how one raw feature value becomes 0..100 health points.

Every transform returns *health points*: 100 is the best this component can say about an
account, 0 the worst. The component's `direction` says which raw values are better:

- `min_max` (`lo`, `hi`, optional `floor`/`cap`): the value is clipped to [lo, hi] and mapped
  linearly onto [floor, cap] (default 0..100); `higher_is_better` maps `hi` to `cap`,
  `lower_is_better` maps `lo` to `cap`.
- `bands` (`steps` of `[upper_bound, points]`, `above`): the first step whose upper bound is
  >= the value gives the points; values above the last bound get `above`. The points are
  written as health points, so they must not contradict the direction: non-increasing for
  `lower_is_better`, non-decreasing for `higher_is_better` (checked by `check_direction`).
- `percentile` (`min_peers`): the value's percentile rank among the account's segment peers
  (`percentile_rank`, ties averaged); `lower_is_better` uses 100 minus the rank. With fewer
  than `min_peers` peer values the transform cannot be computed (`InsufficientPeersError`).
- `decay` (`half_life_days`): the value is an age in days (for example days since the last
  message) and the points are `100 * 0.5 ** (age / half_life_days)`; negative ages count as 0.
  Older is worse, so a decay component must be `lower_is_better`.

All transforms are monotonic in the direction's sense: a better raw value never gives fewer
points. The scoring's monotonicity rests on this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Direction = Literal["higher_is_better", "lower_is_better"]
Points = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class InsufficientPeersError(ValueError):
    """A percentile transform was asked to score without enough peer values."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MinMaxTransform(_Frozen):
    """Linear between `lo` and `hi`, clipped, onto `floor`..`cap` health points."""

    type: Literal["min_max"] = "min_max"
    lo: FiniteFloat
    hi: FiniteFloat
    floor: Points = 0.0
    cap: Points = 100.0

    @model_validator(mode="after")
    def _ordered(self) -> MinMaxTransform:
        if not self.hi > self.lo:
            raise ValueError(f"hi ({self.hi}) must be greater than lo ({self.lo})")
        if not self.cap > self.floor:
            raise ValueError(f"cap ({self.cap}) must be greater than floor ({self.floor})")
        return self


class BandsTransform(_Frozen):
    """Step function: `[upper_bound, points]` steps in ascending bound order, then `above`."""

    type: Literal["bands"] = "bands"
    steps: tuple[tuple[FiniteFloat, Points], ...] = Field(min_length=1)
    above: Points

    @model_validator(mode="after")
    def _ascending(self) -> BandsTransform:
        bounds = [bound for bound, _ in self.steps]
        for earlier, later in pairwise(bounds):
            if not later > earlier:
                raise ValueError(f"steps: upper bounds must be strictly ascending, got {bounds}")
        return self

    def points(self) -> list[float]:
        """The step points followed by `above`, from the lowest values to the highest."""
        return [points for _, points in self.steps] + [self.above]


class PercentileTransform(_Frozen):
    """Percentile rank among segment peers (needs at least `min_peers` peer values)."""

    type: Literal["percentile"] = "percentile"
    min_peers: int = Field(default=5, ge=1)


class DecayTransform(_Frozen):
    """The value is an age in days; points halve every `half_life_days`."""

    type: Literal["decay"] = "decay"
    half_life_days: float = Field(gt=0, allow_inf_nan=False)


Transform = Annotated[
    MinMaxTransform | BandsTransform | PercentileTransform | DecayTransform,
    Field(discriminator="type"),
]


def check_direction(transform: Transform, direction: Direction) -> None:
    """Raise ValueError if the transform contradicts the direction (see the module docstring)."""
    if isinstance(transform, DecayTransform) and direction != "lower_is_better":
        raise ValueError("a decay transform scores ages (older is worse): use lower_is_better")
    if isinstance(transform, BandsTransform):
        points = transform.points()
        pairs = list(pairwise(points))
        if direction == "higher_is_better" and any(b < a for a, b in pairs):
            raise ValueError(f"bands points {points} must not decrease for higher_is_better")
        if direction == "lower_is_better" and any(b > a for a, b in pairs):
            raise ValueError(f"bands points {points} must not increase for lower_is_better")


def percentile_rank(value: float, peer_values: Sequence[float]) -> float:
    """Percentile rank of `value` among `peer_values`, 0..100, ties counted as half.

    rank = 100 * (number of peers below + 0.5 * number equal) / number of peers. Non-finite
    peer values are ignored; with no finite peer value this raises ValueError.
    """
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value}")
    peers = [float(peer) for peer in peer_values if math.isfinite(peer)]
    if not peers:
        raise ValueError("percentile_rank needs at least one finite peer value")
    below = sum(1 for peer in peers if peer < value)
    equal = sum(1 for peer in peers if peer == value)
    return 100.0 * (below + 0.5 * equal) / len(peers)


def transform_value(
    transform: Transform,
    value: float,
    direction: Direction,
    *,
    peer_values: Sequence[float] | None = None,
) -> float:
    """Health points (0..100) for a finite raw `value` (see the module docstring)."""
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value}")
    if isinstance(transform, MinMaxTransform):
        lo, hi = transform.lo, transform.hi
        clipped = min(max(value, lo), hi)
        span = hi - lo
        if math.isfinite(span):
            level = (clipped - lo) / span
        else:  # lo and hi near -+1.8e308: halve them so that the difference stays finite
            level = (clipped / 2 - lo / 2) / (hi / 2 - lo / 2)
        if direction == "lower_is_better":
            level = 1.0 - level
        return transform.floor + level * (transform.cap - transform.floor)
    if isinstance(transform, BandsTransform):
        for bound, points in transform.steps:
            if value <= bound:
                return points
        return transform.above
    if isinstance(transform, PercentileTransform):
        peers = [peer for peer in (peer_values or ()) if math.isfinite(peer)]
        if len(peers) < transform.min_peers:
            raise InsufficientPeersError(
                f"percentile needs {transform.min_peers} peer values, got {len(peers)}"
            )
        rank = percentile_rank(value, peers)
        return 100.0 - rank if direction == "lower_is_better" else rank
    age = max(value, 0.0)
    return 100.0 * 0.5 ** (age / transform.half_life_days)
