"""The scorecards in force (`/scorecards`) and each one's criteria in plain words."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sentiment_service.api.deps import DatabaseDep
from sentiment_service.dashboard.access import User, not_found
from sentiment_service.dashboard.rendering import render
from sentiment_service.dashboard.views.criteria import criteria as read_criteria
from sentiment_service.dashboard.views.scores import scorecards

CARD_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


router = APIRouter(include_in_schema=False)


@router.get("/scorecards")
def scorecards_page(request: Request, user: User, database: DatabaseDep) -> Response:
    """The scorecards in force."""
    with database.session() as session:
        cards = scorecards(session)
    return render(request, "scorecards.html", {"cards": cards, "nav": "scorecards"}, user=user)


@router.get("/scorecards/{card_id}")
def criteria_page(request: Request, card_id: str, user: User, database: DatabaseDep) -> Response:
    """A scorecard's components in plain words."""
    if not CARD_ID.match(card_id):
        raise not_found(user, f"Scorecard {card_id!r}")
    with database.session() as session:
        criteria = read_criteria(session, card_id)
    if criteria is None:
        raise not_found(user, f"Scorecard {card_id!r}")
    return render(request, "criteria.html", {"criteria": criteria, "nav": "scorecards"}, user=user)
