"""Sentiment trends per account and for the portfolio (or a segment), from daily rollups."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Select, func
from sqlmodel import Session, col, select

from pipelines.dates import Day
from pipelines.queue import active_version
from pipelines.rollups import ALL_SOURCES, day_bounds
from pipelines.topics import active_taxonomy
from sentiment_service.accounts import AccountId, visible_account
from sentiment_service.api import caching
from sentiment_service.api.deps import DatabaseDep, Reader
from sentiment_service.auth.scope import AccountScope, restrict_accounts, scope_token
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    Message,
    MessageScore,
)
from sentiment_service.trends import DailyCounts, Granularity, TrendPoint, daily_counts, trend
from sentiment_service.vocabulary import Source

router = APIRouter(prefix="/v1", tags=["sentiment"])
SourceFilter = Annotated[
    str,
    Query(
        pattern=f"^({'|'.join([ALL_SOURCES, *(s.value for s in Source)])})$",
        description="Channel",
    ),
]
TopicFilter = Annotated[
    str | None,
    Query(
        max_length=64,
        description="A topic key of the taxonomy in force: the series then counts the topic's "
        "mentions, with its aspect sentiment (all channels)",
    ),
]

LanguageFilter = Annotated[
    str | None,
    Query(
        pattern="^[a-z]{2}$",
        description="Only messages in this language (ISO 639-1, e.g. de; regional variants "
        "such as pt-BR count as pt; en includes messages of unknown language, which the English "
        "model scores)",
    ),
]


# The accounts a trend sums: a list of ids, a sub-query of ids, or None for every account.
AccountFilter = list[str] | Select[Any] | None


def _portfolio_accounts(segment: str | None, scope: AccountScope | None) -> AccountFilter:
    """The accounts of a portfolio trend: those of `segment` (if given) within `scope`."""
    if segment is None and scope is None:
        return None
    query = select(Account.id)
    if segment is not None:
        query = query.where(Account.segment == segment)
    return restrict_accounts(query, scope)


class TrendPointOut(BaseModel):
    """One bucket: counts, mean score in [-1, 1] and class shares of scored messages."""

    period_start: date
    message_count: int
    scored_count: int
    mean_score: float | None
    negative_share: float | None
    positive_share: float | None


class TrendOut(BaseModel):
    """A trend of customer-written messages (or, with `topic`, of that topic's mentions:
    message_count is then the mentions and the means and shares are of aspect sentiment)."""

    scope: str
    granularity: Granularity
    source: str
    topic: str | None
    language: str | None = None
    points: list[TrendPointOut]


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
    query = query.where(matches, Message.author_role == "customer")
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


def _topic_facts(account_id: str | None) -> Select[Any]:
    """What a topic trend reads beyond a plain trend's facts: the topic rollups (rewritten by
    delete + insert, so the highest id moves with every change)."""
    rollup = AccountDailyTopicRollup
    facts = select(func.count(), func.max(rollup.id), func.max(rollup.updated_at))
    if account_id is not None:
        facts = facts.where(rollup.account_id == account_id)
    return facts


def _out(points: list[TrendPoint]) -> list[TrendPointOut]:
    return [TrendPointOut(**vars(point)) for point in points]


def _check_topic(
    session: Session, topic: str | None, source: str, language: str | None = None
) -> None:
    """422 for a topic key outside the taxonomy in force, or a topic with one channel or
    one language."""
    if topic is None:
        return
    if language is not None:
        raise InvalidInputError(
            "topic trends cover all languages; leave language out or topic out",
            field="language",
        )
    taxonomy, _ = active_taxonomy(session)
    if topic not in {known.key for known in taxonomy.all_topics()}:
        raise InvalidInputError(f"topic '{topic}' is not in the taxonomy in force", field="topic")
    if source != ALL_SOURCES:
        raise InvalidInputError(
            "topic trends cover all channels; leave source out or set it to 'all'",
            field="source",
        )


def _facts(account_id: str | None, topic: str | None) -> list[Select[Any]]:
    facts = caching.trend_facts(account_id)
    return facts if topic is None else [*facts, _topic_facts(account_id)]


def _rows(
    session: Session,
    topic: str | None,
    source: str,
    since: date | None,
    until: date | None,
    accounts: AccountFilter,
    language: str | None = None,
) -> list[DailyCounts]:
    if topic is not None:
        return _topic_daily(session, topic, since, until, accounts)
    if language is not None:
        return _language_daily(session, language, source, since, until, accounts)
    return _daily(session, source, since, until, accounts)


@router.get(
    "/accounts/{account_id}/sentiment/trend",
    response_model=TrendOut,
    summary="An account's sentiment over time",
)
def account_trend(
    account_id: AccountId,
    request: Request,
    response: Response,
    principal: Reader,
    database: DatabaseDep,
    granularity: Granularity = "week",
    source: SourceFilter = ALL_SOURCES,
    since: Day | None = None,
    until: Day | None = None,
    topic: TopicFilter = None,
    language: LanguageFilter = None,
) -> TrendOut | Response:
    """Customer messages of the account bucketed by day, week or month (with an ETag and
    Last-Modified: If-None-Match / If-Modified-Since get a 304 while nothing changed); with
    `topic`, the mentions of that topic and their aspect sentiment; with `language`, only
    the messages in that language."""
    with database.session() as session:
        visible_account(session, account_id, principal.scope)
        _check_topic(session, topic, source, language)
        current = caching.validators(session, request, _facts(account_id, topic))
        if (unchanged := caching.not_modified(request, current)) is not None:
            return unchanged
        rows = _rows(session, topic, source, since, until, [account_id], language)
    caching.set_headers(response, current)
    return TrendOut(
        scope=f"account:{account_id}",
        granularity=granularity,
        source=source,
        topic=topic,
        language=language,
        points=_out(trend(rows, granularity)),
    )


@router.get(
    "/sentiment/trend", response_model=TrendOut, summary="Portfolio or segment sentiment over time"
)
def portfolio_trend(
    request: Request,
    response: Response,
    principal: Reader,
    database: DatabaseDep,
    segment: str | None = None,
    granularity: Granularity = "week",
    source: SourceFilter = ALL_SOURCES,
    since: Day | None = None,
    until: Day | None = None,
    topic: TopicFilter = None,
    language: LanguageFilter = None,
) -> TrendOut | Response:
    """All accounts, or those of one segment, summed per bucket (conditional GETs as above);
    with `topic`, the mentions of that topic and their aspect sentiment; with `language`,
    only the messages in that language. Keys scoped to segments/owners get the sum over the
    accounts in their scope."""
    scope = principal.scope
    with database.session() as session:
        _check_topic(session, topic, source, language)
        extra = [scope_token(scope)]
        current = caching.validators(session, request, _facts(None, topic), extra=extra)
        if (unchanged := caching.not_modified(request, current)) is not None:
            return unchanged
        accounts = _portfolio_accounts(segment, scope)
        rows = _rows(session, topic, source, since, until, accounts, language)
    caching.set_headers(response, current)
    return TrendOut(
        scope=f"segment:{segment}" if segment else "portfolio",
        granularity=granularity,
        source=source,
        topic=topic,
        language=language,
        points=_out(trend(rows, granularity)),
    )
