"""The account listing (`GET /v1/accounts`): each account with its latest health and 30-day
sentiment, filtered, sorted and paged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Subquery, case, func
from sqlmodel import Session, col

from pipelines.account_records import AccountOut, accounts_out
from pipelines.rollups import ALL_SOURCES
from sentiment_service.accounts.windows import (
    SHORT_WINDOW_DAYS,
    as_date,
    mean_of,
    rounded,
    sentiment_anchor,
    window_start,
)
from sentiment_service.auth.scope import AccountScope, restrict_accounts
from sentiment_service.errors import InvalidInputError
from sentiment_service.pagination import decode_offset_cursor, encode_offset_cursor, paginate
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import Account, AccountDailyRollup, HealthScoreRecord

AccountSort = Literal["id", "health", "-health", "sentiment_change", "-sentiment_change"]


class HealthSummaryOut(BaseModel):
    """The latest stored (computed) score of an account under one scorecard."""

    scorecard: str
    score: float | None
    band: str
    confidence: float
    as_of: date


class AccountListItemOut(AccountOut):
    """An account in a listing, with its latest health and its recent sentiment."""

    health: HealthSummaryOut | None
    sentiment_30d: float | None = Field(
        description="Mean score of scored customer messages over the 30-day window."
    )
    sentiment_change_30d: float | None = Field(
        description="sentiment_30d minus the mean of the 30 days before (null without both)."
    )


def _latest_health(scorecard: str) -> Subquery:
    """Per account, the newest stored score under `scorecard` (same order as the health API)."""
    record = HealthScoreRecord
    position = (
        func.row_number()
        .over(
            partition_by=col(record.account_id),
            order_by=(col(record.as_of).desc(), col(record.id).desc()),
        )
        .label("position")
    )
    ranked = (
        select_columns(
            record.account_id,
            record.score,
            record.band,
            record.confidence,
            record.as_of,
            position,
        )
        .where(record.scorecard == scorecard)
        .subquery()
    )
    return (
        select_columns(
            ranked.c.account_id,
            ranked.c.score,
            ranked.c.band,
            ranked.c.confidence,
            ranked.c.as_of,
        )
        .where(ranked.c.position == 1)
        .subquery()
    )


def _short_windows(anchor: date) -> Subquery:
    """Per account, score sums and scored counts of the 30-day window and the 30 days before."""
    rollup = AccountDailyRollup
    current_start = window_start(anchor, SHORT_WINDOW_DAYS)
    previous_start = current_start - timedelta(days=SHORT_WINDOW_DAYS)
    current = col(rollup.day) >= current_start

    def total(column: Any, when: ColumnElement[bool]) -> Any:
        return func.sum(case((when, column), else_=None))

    return (
        select_columns(
            rollup.account_id,
            total(rollup.score_sum, current).label("current_sum"),
            total(rollup.scored_count, current).label("current_scored"),
            total(rollup.score_sum, ~current).label("previous_sum"),
            total(rollup.scored_count, ~current).label("previous_scored"),
        )
        .where(
            rollup.source == ALL_SOURCES,
            col(rollup.day) >= previous_start,
            col(rollup.day) <= anchor,
        )
        .group_by(rollup.account_id)
        .subquery()
    )


def _nulls_last(expression: Any, descending: bool) -> list[Any]:
    return [
        case((expression.is_(None), 1), else_=0),
        expression.desc() if descending else expression,
    ]


def list_accounts(
    session: Session,
    *,
    segment: str | None,
    owner: str | None,
    scorecard: str,
    band: str | None,
    min_change: float | None,
    max_change: float | None,
    sort: AccountSort,
    cursor: str | None,
    limit: int,
    scope: AccountScope | None = None,
) -> tuple[list[AccountListItemOut], str | None]:
    """A page of accounts with their latest health and 30-day sentiment, filtered and sorted;
    only accounts in `scope` (None: all) are listed.

    Three queries whatever the page size: accounts joined with their latest score and their
    window sums, then the vendor ids of the page. `sort=id` pages by id (the cursor is the
    last id); other sorts page by offset with an opaque cursor, ties broken by id. Filters on
    the sentiment change compare the unrounded value; accounts without one are left out.
    """
    if min_change is not None and max_change is not None and min_change > max_change:
        raise InvalidInputError(
            "min_sentiment_change must not exceed max_sentiment_change",
            field="min_sentiment_change",
        )
    offset = 0
    if sort != "id" and cursor is not None:
        offset = decode_offset_cursor(cursor, sort)
    anchor = sentiment_anchor(session) or datetime.now(UTC).date()
    health = _latest_health(scorecard)
    windows = _short_windows(anchor)
    current_mean = mean_of(windows.c.current_sum, windows.c.current_scored)
    change = current_mean - mean_of(windows.c.previous_sum, windows.c.previous_scored)
    query = (
        select_columns(
            Account,
            health.c.score,
            health.c.band,
            health.c.confidence,
            health.c.as_of,
            current_mean.label("sentiment"),
            change.label("change"),
        )
        .outerjoin(health, health.c.account_id == col(Account.id))
        .outerjoin(windows, windows.c.account_id == col(Account.id))
    )
    query = restrict_accounts(query, scope)
    if segment is not None:
        query = query.where(Account.segment == segment)
    if owner is not None:
        query = query.where(Account.owner == owner)
    if band is not None:
        query = query.where(health.c.band == band)
    if min_change is not None:
        query = query.where(change >= min_change)
    if max_change is not None:
        query = query.where(change <= max_change)
    if sort == "id":
        if cursor is not None:
            query = query.where(col(Account.id) > cursor)
        query = query.order_by(col(Account.id))
    else:
        key = health.c.score if sort.endswith("health") else change
        query = query.order_by(*_nulls_last(key, sort.startswith("-")), col(Account.id))
        query = query.offset(offset)
    rows = list(session.exec(query.limit(limit + 1)).all())

    def cursor_of(row: Any) -> str:
        return row[0].id if sort == "id" else encode_offset_cursor(sort, offset + limit)

    page, next_cursor = paginate(rows, limit, cursor_of)
    views = accounts_out(session, [row[0] for row in page])
    items = [
        AccountListItemOut(
            **view.model_dump(),
            health=None
            if row_band is None
            else HealthSummaryOut(
                scorecard=scorecard,
                score=score,
                band=row_band,
                confidence=confidence,
                as_of=as_date(as_of),
            ),
            sentiment_30d=rounded(sentiment),
            sentiment_change_30d=rounded(row_change),
        )
        for view, (_, score, row_band, confidence, as_of, sentiment, row_change) in zip(
            views, page, strict=True
        )
    ]
    return items, next_cursor
