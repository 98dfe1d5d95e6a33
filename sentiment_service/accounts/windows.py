"""Sentiment windows of the account reads.

Sentiment windows end on the portfolio's latest rollup day (the newest day with any customer
message of any account), not on today's date, so that a historical sample reads the same
whenever it is loaded and every account is compared over the same days. The "30-day" window
is that day and the 29 before it; the 30-day change is its mean score minus the mean of the
30 days just before. Means are over scored customer messages (rollups of source 'all')."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Float, cast, func
from sqlmodel import Session, select

from pipelines.rollups import ALL_SOURCES
from sentiment_service.storage.tables import AccountDailyRollup

SHORT_WINDOW_DAYS = 30
LONG_WINDOW_DAYS = 90


def as_date(value: date | str | None) -> date | None:
    """A date read back from the database as a date."""
    if isinstance(value, str):  # SQLite may hand back MAX() of a date column as text
        return date.fromisoformat(value[:10])
    return value


def sentiment_anchor(session: Session) -> date | None:
    """The portfolio's latest rollup day: where every sentiment window ends."""
    newest = session.exec(
        select(func.max(AccountDailyRollup.day)).where(AccountDailyRollup.source == ALL_SOURCES)
    ).one()
    return as_date(newest)


def window_start(anchor: date, days: int) -> date:
    """The first day of the `days`-day window that ends on `anchor`."""
    return anchor - timedelta(days=days - 1)


def mean_of(total: Any, count: Any) -> Any:
    """SQL: `total / count` as a float, NULL when `count` is 0."""
    return cast(total, Float) / func.nullif(count, 0)


def rounded(value: float | None) -> float | None:
    """`value` to 4 decimals (None stays None)."""
    return None if value is None else round(value, 4)
