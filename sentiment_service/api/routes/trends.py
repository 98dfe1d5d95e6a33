"""Sentiment trends per account and for the portfolio (or a segment), from daily rollups."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Select
from sqlmodel import Session

from pipelines.dates import Day
from pipelines.rollups import ALL_SOURCES
from pipelines.topics import active_taxonomy
from sentiment_service.accounts import AccountId, visible_account
from sentiment_service.api import caching
from sentiment_service.api.deps import DatabaseDep, Reader, ResponseCacheDep
from sentiment_service.auth.scope import scope_token
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.types import utcnow
from sentiment_service.trend_data import daily_rows, portfolio_accounts
from sentiment_service.trends import Granularity, TrendPoint, trend
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


def _facts(
    account_id: str | None, topic: str | None, language: str | None = None
) -> list[Select[*tuple[Any, ...]]]:
    facts = caching.trend_facts(account_id)
    if topic is not None:
        facts.append(caching.topic_trend_facts(account_id))
    if language is not None and account_id is not None:  # read from messages and scores
        facts.extend(caching.account_facts(account_id, utcnow())[2:4])
    return facts


@router.get(
    "/accounts/{account_id}/sentiment/trend",
    response_model=TrendOut,
    summary="An account's sentiment over time",
)
def account_trend(
    account_id: AccountId,
    request: Request,
    principal: Reader,
    database: DatabaseDep,
    cache: ResponseCacheDep,
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
        facts = _facts(account_id, topic, language)
        current = caching.validators(session, request, facts)

        def render() -> bytes:
            rows = daily_rows(session, topic, source, since, until, [account_id], language)
            out = TrendOut(
                scope=f"account:{account_id}",
                granularity=granularity,
                source=source,
                topic=topic,
                language=language,
                points=_out(trend(rows, granularity)),
            )
            return out.model_dump_json(by_alias=True).encode()

        return caching.cached_json(request, cache, current, principal.scope, render)


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
        accounts = portfolio_accounts(segment, scope)
        rows = daily_rows(session, topic, source, since, until, accounts, language)
    caching.set_headers(response, current)
    return TrendOut(
        scope=f"segment:{segment}" if segment else "portfolio",
        granularity=granularity,
        source=source,
        topic=topic,
        language=language,
        points=_out(trend(rows, granularity)),
    )
