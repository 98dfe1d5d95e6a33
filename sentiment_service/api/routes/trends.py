"""Sentiment trends per account and for the portfolio (or a segment), from daily rollups."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from pipelines.rollups import ALL_SOURCES
from sentiment_service.accounts import AccountId
from sentiment_service.api import caching
from sentiment_service.api.deps import DatabaseDep, Reader
from sentiment_service.errors import NotFoundError
from sentiment_service.storage.tables import Account, AccountDailyRollup
from sentiment_service.trends import DailyCounts, Granularity, TrendPoint, trend

router = APIRouter(prefix="/v1", tags=["sentiment"])
SourceFilter = Annotated[
    str, Query(pattern="^(all|ticket|chat|survey|social|csm_note)$", description="Channel")
]


class TrendPointOut(BaseModel):
    """One bucket: counts, mean score in [-1, 1] and class shares of scored messages."""

    period_start: date
    message_count: int
    scored_count: int
    mean_score: float | None
    negative_share: float | None
    positive_share: float | None


class TrendOut(BaseModel):
    """A trend of customer-written messages."""

    scope: str
    granularity: Granularity
    source: str
    points: list[TrendPointOut]


def _daily(
    session: Session,
    source: str,
    since: date | None,
    until: date | None,
    accounts: list[str] | None,
) -> list[DailyCounts]:
    query = select(AccountDailyRollup).where(AccountDailyRollup.source == source)
    if accounts is not None:
        query = query.where(col(AccountDailyRollup.account_id).in_(accounts))
    if since is not None:
        query = query.where(col(AccountDailyRollup.day) >= since)
    if until is not None:
        query = query.where(col(AccountDailyRollup.day) <= until)
    return [
        DailyCounts(
            r.day, r.message_count, r.scored_count, r.score_sum, r.negative_count, r.positive_count
        )
        for r in session.exec(query).all()
    ]


def _out(points: list[TrendPoint]) -> list[TrendPointOut]:
    return [TrendPointOut(**vars(point)) for point in points]


@router.get(
    "/accounts/{account_id}/sentiment/trend",
    response_model=TrendOut,
    summary="An account's sentiment over time",
)
def account_trend(
    account_id: AccountId,
    request: Request,
    response: Response,
    _: Reader,
    database: DatabaseDep,
    granularity: Granularity = "week",
    source: SourceFilter = ALL_SOURCES,
    since: date | None = None,
    until: date | None = None,
) -> TrendOut | Response:
    """Customer messages of the account bucketed by day, week or month (with an ETag and
    Last-Modified: If-None-Match / If-Modified-Since get a 304 while nothing changed)."""
    with database.session() as session:
        if session.get(Account, account_id) is None:
            raise NotFoundError(f"account {account_id!r} does not exist", field="account_id")
        current = caching.validators(session, request, caching.trend_facts(account_id))
        if (unchanged := caching.not_modified(request, current)) is not None:
            return unchanged
        rows = _daily(session, source, since, until, [account_id])
    caching.set_headers(response, current)
    return TrendOut(
        scope=f"account:{account_id}",
        granularity=granularity,
        source=source,
        points=_out(trend(rows, granularity)),
    )


@router.get(
    "/sentiment/trend", response_model=TrendOut, summary="Portfolio or segment sentiment over time"
)
def portfolio_trend(
    request: Request,
    response: Response,
    _: Reader,
    database: DatabaseDep,
    segment: str | None = None,
    granularity: Granularity = "week",
    source: SourceFilter = ALL_SOURCES,
    since: date | None = None,
    until: date | None = None,
) -> TrendOut | Response:
    """All accounts, or those of one segment, summed per bucket (conditional GETs as above)."""
    with database.session() as session:
        current = caching.validators(session, request, caching.trend_facts())
        if (unchanged := caching.not_modified(request, current)) is not None:
            return unchanged
        accounts = None
        if segment is not None:
            accounts = list(session.exec(select(Account.id).where(Account.segment == segment)))
        rows = _daily(session, source, since, until, accounts)
    scope = f"segment:{segment}" if segment else "portfolio"
    caching.set_headers(response, current)
    return TrendOut(
        scope=scope, granularity=granularity, source=source, points=_out(trend(rows, granularity))
    )
