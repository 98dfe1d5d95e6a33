"""The portfolio page (`/`): accounts by band and the account table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sentiment_service.api.deps import DatabaseDep
from sentiment_service.dashboard.access import User, blank
from sentiment_service.dashboard.rendering import render
from sentiment_service.dashboard.views import portfolio as portfolio_views
from sentiment_service.storage.types import utcnow

router = APIRouter(include_in_schema=False)


@router.get("/")
def portfolio_page(
    request: Request,
    user: User,
    database: DatabaseDep,
    scorecard: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[str | None, Query(max_length=64)] = None,
    owner: Annotated[str | None, Query(max_length=128)] = None,
    band: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Accounts by band and the account table, biggest sentiment drops first."""
    filters = {
        "scorecard": blank(scorecard),
        "segment": blank(segment),
        "owner": blank(owner),
        "band": blank(band),
    }
    with database.session() as session:
        data = portfolio_views.portfolio(session, **filters, now=utcnow(), scope=user.scope)
    return render(
        request,
        "portfolio.html",
        {"data": data, "filters": filters, "nav": "portfolio"},
        user=user,
    )
