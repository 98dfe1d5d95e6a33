"""Small builders for health tests: components, scorecards, features and hypothesis strategies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from sentiment_service.health.scorecard import Scorecard
from sentiment_service.health.scoring import FeatureValue

AS_OF = datetime(2026, 10, 31, tzinfo=UTC)
BANDS = [
    {"name": "healthy", "min_score": 70},
    {"name": "neutral", "min_score": 40},
    {"name": "at_risk", "min_score": 0},
]


def component(name: str, **changes: Any) -> dict[str, Any]:
    """A valid min_max metric component as a dict; `changes` replace fields."""
    body: dict[str, Any] = {
        "name": name,
        "feature": f"f_{name}",
        "label": name.replace("_", " ").title(),
        "description": f"The {name} criterion.",
        "kind": "metric",
        "transform": {"type": "min_max", "lo": 0.0, "hi": 1.0},
        "direction": "higher_is_better",
        "weight": 1.0,
        "freshness_days": 30,
    }
    body.update(changes)
    return body


def card(components: list[dict[str, Any]], **changes: Any) -> Scorecard:
    """A valid scorecard built from component dicts."""
    body: dict[str, Any] = {
        "id": "test-card",
        "name": "Test card",
        "objective": "churn_risk",
        "description": "A scorecard for tests.",
        "bands": BANDS,
        "components": components,
        "message_volume": None,
    }
    body.update(changes)
    return Scorecard.model_validate(body)


def fresh(value: float | None, days_old: float = 1.0) -> FeatureValue:
    """A feature value observed `days_old` days before AS_OF."""
    return FeatureValue(value, AS_OF - timedelta(days=days_old))


@st.composite
def transform_and_direction(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid transform with a direction it agrees with."""
    direction = draw(st.sampled_from(["higher_is_better", "lower_is_better"]))
    kind = draw(st.sampled_from(["min_max", "bands", "decay"]))
    if kind == "min_max":
        lo = draw(st.floats(-10, 10))
        width = draw(st.floats(0.01, 10))
        return {"type": "min_max", "lo": lo, "hi": lo + width}, direction
    if kind == "decay":
        return {"type": "decay", "half_life_days": draw(st.floats(0.5, 60))}, "lower_is_better"
    bounds = sorted(draw(st.sets(st.integers(-20, 20), min_size=1, max_size=4)))
    points = sorted(draw(st.lists(st.integers(0, 100), min_size=len(bounds) + 1, max_size=5)))
    points = points[: len(bounds) + 1]
    if direction == "lower_is_better":
        points.reverse()
    steps = [[bound, point] for bound, point in zip(bounds, points, strict=False)]
    return {"type": "bands", "steps": steps, "above": points[-1]}, direction


@st.composite
def scorecards(draw: st.DrawFn, min_size: int = 1, max_size: int = 6) -> Scorecard:
    """Random valid scorecards of metric, sentiment and topic components."""
    size = draw(st.integers(min_size, max_size))
    components = []
    for index in range(size):
        transform, direction = draw(transform_and_direction())
        components.append(
            component(
                f"c{index}",
                transform=transform,
                direction=direction,
                kind=draw(st.sampled_from(["metric", "sentiment", "topic"])),
                weight=draw(st.floats(0.1, 10)),
                freshness_days=draw(st.floats(1, 90)),
            )
        )
    volume = draw(st.one_of(st.none(), st.floats(0.5, 50)))
    rule = None if volume is None else {"feature": "message_count_30d", "half_count": volume}
    return card(components, message_volume=rule)


values = st.floats(-30, 100, allow_nan=False)
