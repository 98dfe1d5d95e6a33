"""Topic insights: reporting periods (whole UTC days) and the message filters shared by
every view.

Periods are whole UTC days, `start` and `end` both included. Without them a summary covers
the `DEFAULT_PERIOD_DAYS` days up to the day of the latest customer message, and is compared
with the period of equal length just before it. Periods longer than `MAX_PERIOD_DAYS` are
refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_
from sqlmodel import Session, col, select

from sentiment_service.auth.scope import AccountScope
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.filters import from_customer
from sentiment_service.storage.tables import Account, Message

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 731
MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(9998, 12, 31)


@dataclass(frozen=True)
class DayRange:
    """Whole UTC days from `start` to `end`, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """How many days the range covers."""
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """The UTC instants [start 00:00, day after end 00:00)."""
        low = datetime.combine(self.start, time(0), tzinfo=UTC)
        return low, datetime.combine(self.end, time(0), tzinfo=UTC) + timedelta(days=1)

    def previous(self) -> DayRange:
        """The range of equal length just before this one."""
        return DayRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def check_day(value: date | None, field: str) -> date | None:
    """`value` when it lies in the supported calendar range, else a 422 naming `field`."""
    if value is not None and not MIN_DAY <= value <= MAX_DAY:
        raise InvalidInputError(
            f"{field} must be between {MIN_DAY.isoformat()} and {MAX_DAY.isoformat()}",
            field=field,
        )
    return value


def latest_message_day(session: Session, *, linked_only: bool = True) -> date | None:
    """The UTC day of the newest customer message (linked to an account, by default)."""
    query = select(func.max(Message.created_at)).where(from_customer())
    if linked_only:
        query = query.where(col(Message.account_id).is_not(None))
    newest = session.exec(query).one()
    if newest is None:
        return None
    if isinstance(newest, str):  # SQLite returns MAX() of a datetime column as text
        newest = datetime.fromisoformat(newest)
    return newest.date()


def resolve_period(session: Session, start: date | None, end: date | None) -> DayRange:
    """The requested period, or the default one: `DEFAULT_PERIOD_DAYS` up to the latest day."""
    check_day(start, "start")
    check_day(end, "end")
    if end is None:
        latest = latest_message_day(session) or datetime.now(UTC).date()
        end = max(latest, start) if start is not None else latest
    if start is None:
        start = end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise InvalidInputError("start must not be after end", field="start")
    period = DayRange(start, end)
    if period.days > MAX_PERIOD_DAYS:
        raise InvalidInputError(
            f"the period may cover at most {MAX_PERIOD_DAYS} days", field="start"
        )
    if period.previous().start < MIN_DAY:
        raise InvalidInputError(
            f"start and the period before it must not be before {MIN_DAY.isoformat()}",
            field="start",
        )
    return period


def _customer_messages(
    low: datetime | None,
    high: datetime | None,
    *,
    accounts: Select[Any] | None = None,
    source: str | None = None,
    account_id: str | None = None,
) -> list[ColumnElement[bool]]:
    """Filters on `Message`: customer-authored, linked to an account (one of `accounts`, a
    sub-query of ids, when given), in [low, high)."""
    conditions: list[ColumnElement[bool]] = [
        from_customer(),
        col(Message.account_id).is_not(None),
    ]
    if low is not None:
        conditions.append(col(Message.created_at) >= low)
    if high is not None:
        conditions.append(col(Message.created_at) < high)
    if source is not None:
        conditions.append(col(Message.source) == source)
    if account_id is not None:
        conditions.append(col(Message.account_id) == account_id)
    if accounts is not None:
        conditions.append(col(Message.account_id).in_(accounts))
    return conditions


def account_filter(segment: str | None, scope: AccountScope | None) -> Select[Any] | None:
    """A sub-query of the ids of the accounts of `segment` (if given) within `scope` (if
    given); None when every account counts."""
    if segment is None and scope is None:
        return None
    query = select(Account.id)
    if segment is not None:
        query = query.where(Account.segment == segment)
    if scope is not None:
        query = query.where(scope.account_condition())
    return query


def _scope_filter(scope: AccountScope | None) -> Select[Any] | None:
    """The in-scope account ids as a sub-query (None: unrestricted)."""
    return None if scope is None else scope.account_ids()


def _english() -> ColumnElement[bool]:
    """Messages in a language the models read (unknown counts as English)."""
    language = func.lower(col(Message.language))
    return or_(col(Message.language).is_(None), language == "en", language.like("en-%"))
