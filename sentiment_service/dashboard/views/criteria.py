"""The criteria page: a scorecard's components in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from sentiment_service.health import service
from sentiment_service.health.criteria import CriterionOut, criteria_items


@dataclass
class CriteriaView:
    """A scorecard's components in plain words."""

    id: str
    name: str
    version: int
    description: str
    bands: list[dict[str, Any]]
    components: list[CriterionOut]
    segment_overrides: list[dict[str, Any]]


def criteria(session: Session, card_id: str) -> CriteriaView | None:
    """The criteria of a scorecard in force (None: unknown)."""
    found = service.get_scorecard(session, card_id)
    if found is None:
        return None
    card = found.card
    return CriteriaView(
        id=card.id,
        name=card.name,
        version=found.version,
        description=card.description,
        bands=[{"name": b.name, "min_score": b.min_score} for b in card.bands],
        components=criteria_items(card),
        segment_overrides=[
            {
                "name": o.name,
                "match": o.match,
                "weights": o.weights,
                "adds": [a.label for a in o.add_components],
            }
            for o in card.segment_overrides
        ],
    )
