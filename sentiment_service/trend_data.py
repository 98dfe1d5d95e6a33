"""The daily counts that sentiment trends sum (see `trends`), read from the database: the
daily rollups per channel, the topic rollups, or (rollups have no language dimension) the
customer messages in one language with their scores under the active model version."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, col, select

from pipelines.queue import active_version
from pipelines.rollups import ALL_SOURCES, day_bounds
from sentiment_service.auth.scope import AccountScope, restrict_accounts
from sentiment_service.storage.filters import from_customer
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    Message,
    MessageScore,
)
from sentiment_service.trends import DailyCounts, daily_counts

# The accounts a trend sums: a list of ids, a sub-query of ids, or None for every account.
AccountFilter = list[str] | Select[Any] | None


def portfolio_accounts(segment: str | None, scope: AccountScope | None) -> AccountFilter:
    """The accounts of a portfolio trend: those of `segment` (if given) within `scope`."""
    if segment is None and scope is None:
        return None
    query = select(Account.id)
    if segment is not None:
        query = query.where(Account.segment == segment)
    return restrict_accounts(query, scope)


def _within(
    query: Any,
    rollup: type[AccountDailyRollup] | type[AccountDailyTopicRollup],
    since: date | None,
    until: date | None,
    accounts: AccountFilter,
) -> Any:
    """`query` limited to the given accounts (ids or a sub-query of ids) and days."""
    if accounts is not None:
        query = query.where(col(rollup.account_id).in_(accounts))
    if since is not None:
        query = query.where(col(rollup.day) >= since)
    if until is not None:
        query = query.where(col(rollup.day) <= until)
    return query


def _daily(
    session: Session,
    source: str,
    since: date | None,
    until: date | None,
    accounts: AccountFilter,
) -> list[DailyCounts]:
    query = select(AccountDailyRollup).where(AccountDailyRollup.source == source)
    return [
        DailyCounts(
            r.day, r.message_count, r.scored_count, r.score_sum, r.negative_count, r.positive_count
        )
        for r in session.exec(_within(query, AccountDailyRollup, since, until, accounts)).all()
    ]


def _topic_daily(
    session: Session,
    topic: str,
    since: date | None,
    until: date | None,
    accounts: AccountFilter,
) -> list[DailyCounts]:
    """A topic's daily rollups as trend rows: mentions stand for messages, and the topic's
    aspect sentiment for the messages' scores."""
    rollup = AccountDailyTopicRollup
    query = _within(select(rollup).where(rollup.topic == topic), rollup, since, until, accounts)
    return [
        DailyCounts(
            r.day, r.mentions, r.scored_count, r.score_sum, r.negative_count, r.positive_count
        )
        for r in session.exec(query).all()
    ]


def _language_daily(
    session: Session,
    language: str,
    source: str,
    since: date | None,
    until: date | None,
    accounts: AccountFilter,
) -> list[DailyCounts]:
    """Daily counts of the customer messages in one language, from the messages and their
    scores under the active model version (rollups have no language dimension)."""
    version = active_version(session)
    query = select(Message.created_at, MessageScore.label, MessageScore.score).join(
        MessageScore,
        (col(MessageScore.message_id) == col(Message.id))
        & (col(MessageScore.model_version) == (version or "")),
        isouter=True,
    )
    matches = (col(Message.language) == language) | col(Message.language).like(f"{language}-%")
    if language == "en":
        matches = matches | col(Message.language).is_(None)
    query = query.where(matches, from_customer())
    query = query.where(col(Message.account_id).is_not(None))
    if source != ALL_SOURCES:
        query = query.where(Message.source == source)
    if accounts is not None:
        query = query.where(col(Message.account_id).in_(accounts))
    if since is not None:
        query = query.where(col(Message.created_at) >= day_bounds(since)[0])
    if until is not None:
        query = query.where(col(Message.created_at) < day_bounds(until)[1])
    return daily_counts(
        (created.date(), label, score) for created, label, score in session.exec(query).all()
    )


def daily_rows(
    session: Session,
    topic: str | None,
    source: str,
    since: date | None,
    until: date | None,
    accounts: AccountFilter,
    language: str | None = None,
) -> list[DailyCounts]:
    """The daily counts a trend sums for the accounts in `accounts`: the mentions of `topic`
    (all channels), the customer messages in `language` on `source`, or the rollups of
    `source`; only days from `since` to `until` when given."""
    if topic is not None:
        return _topic_daily(session, topic, since, until, accounts)
    if language is not None:
        return _language_daily(session, language, source, since, until, accounts)
    return _daily(session, source, since, until, accounts)
