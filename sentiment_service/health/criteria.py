"""A scorecard in plain words: what each component measures, how it becomes points, its
share of the weight and its freshness window; the bands and the segment adjustments.

The API (`GET /v1/scorecards/{id}/criteria`) and the dashboard's criteria page show these.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sentiment_service.health.scorecard import Scorecard


class CriterionOut(BaseModel):
    """One component of a scorecard in plain words."""

    name: str
    label: str
    feature: str
    kind: str
    description: str
    transform: str = Field(description="How the feature's value becomes 0..100 points")
    direction: str
    weight: float
    weight_share: float = Field(description="The component's share of the total weight")
    freshness_days: float = Field(description="Older data is left out of the score")


class CriteriaBandOut(BaseModel):
    """A band and the score it starts at."""

    name: str
    min_score: float


class CriteriaSegmentOverrideOut(BaseModel):
    """Changes for accounts whose attributes all match `match`."""

    match: dict[str, str | list[str]]
    weights: dict[str, float]
    adds: list[str] = Field(description="Names of the components added for these accounts")


class CriteriaOut(BaseModel):
    """A scorecard version in plain words."""

    id: str
    version: int
    name: str
    objective: str
    description: str
    bands: list[CriteriaBandOut]
    components: list[CriterionOut]
    segment_overrides: list[CriteriaSegmentOverrideOut]


def _transform_words(transform: Any, direction: str) -> str:
    better = "higher" if direction == "higher_is_better" else "lower"
    kind = transform.type
    if kind == "min_max":
        return f"linear between {transform.lo:g} and {transform.hi:g} ({better} is better)"
    if kind == "bands":
        steps = ", ".join(f"up to {upper:g}: {points:g} pts" for upper, points in transform.steps)
        return f"bands: {steps}; above: {transform.above:g} pts"
    if kind == "percentile":
        return f"percentile among segment peers ({better} is better)"
    return f"halves every {transform.half_life_days:g} days of age"


def criteria_items(card: Scorecard) -> list[CriterionOut]:
    """Each component of the scorecard in plain words, in scorecard order."""
    total = sum(c.weight for c in card.components)
    return [
        CriterionOut(
            name=c.name,
            label=c.label,
            feature=c.feature,
            kind=c.kind,
            description=c.description,
            transform=_transform_words(c.transform, c.direction),
            direction=c.direction,
            weight=c.weight,
            weight_share=round(c.weight / total, 3),
            freshness_days=c.freshness_days,
        )
        for c in card.components
    ]


def scorecard_criteria(card: Scorecard, version: int) -> CriteriaOut:
    """The whole scorecard version in plain words."""
    return CriteriaOut(
        id=card.id,
        version=version,
        name=card.name,
        objective=card.objective,
        description=card.description,
        bands=[CriteriaBandOut(name=b.name, min_score=b.min_score) for b in card.bands],
        components=criteria_items(card),
        segment_overrides=[
            CriteriaSegmentOverrideOut(
                match={k: v if isinstance(v, str) else list(v) for k, v in o.match.items()},
                weights=dict(o.weights),
                adds=[a.name for a in o.add_components],
            )
            for o in card.segment_overrides
        ],
    )
