"""The sections of an account's detail read (`GET /v1/accounts/{id}?include=`): sentiment
levels and change, top topics and recent negative evidence."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from pipelines.queue import active_version
from pipelines.rollups import ALL_SOURCES
from sentiment_service.accounts.windows import (
    LONG_WINDOW_DAYS,
    SHORT_WINDOW_DAYS,
    rounded,
    window_start,
)
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.filters import from_customer
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import (
    AccountDailyRollup,
    AccountDailyTopicRollup,
    Message,
    MessageScore,
)

TOP_TOPICS = 5
EVIDENCE_MESSAGES = 5
QUOTE_CHARS = 280
INCLUDE_SECTIONS = ("health", "sentiment", "topics", "evidence", "overrides")


class AccountSentimentOut(BaseModel):
    """Means and negative shares of scored customer messages over windows ending on `as_of`."""

    as_of: date | None
    scored_30d: int
    mean_30d: float | None
    negative_share_30d: float | None
    scored_90d: int
    mean_90d: float | None
    negative_share_90d: float | None
    change_30d: float | None


class AccountTopicSummaryOut(BaseModel):
    """One topic of an account: mentions and mean aspect sentiment over the window."""

    topic: str
    name: str | None
    mentions: int
    mean_sentiment: float | None
    negative_share: float | None


class AccountTopicsWindowOut(BaseModel):
    """The account's most mentioned topics over the 30-day window [start, end]."""

    start: date | None
    end: date | None
    items: list[AccountTopicSummaryOut]


class NegativeMessageOut(BaseModel):
    """A recent negative customer message, quoted."""

    id: int
    source: str
    created_at: datetime
    quote: str = Field(description=f"The text, cut to {QUOTE_CHARS} characters.")
    score: float | None


def parse_include(raw: str | None) -> set[str]:
    """The sections named in a comma list (blanks ignored); 422 naming `include` otherwise."""
    if raw is None:
        return set()
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(wanted - set(INCLUDE_SECTIONS))
    if unknown:
        raise InvalidInputError(
            f"unknown include {', '.join(unknown)}; choose from {', '.join(INCLUDE_SECTIONS)}",
            field="include",
        )
    return wanted


def account_sentiment(
    session: Session, account_id: str, anchor: date | None
) -> AccountSentimentOut:
    """30- and 90-day means and negative shares, and the 30-day change, of one account."""
    if anchor is None:
        return AccountSentimentOut(
            as_of=None,
            scored_30d=0,
            mean_30d=None,
            negative_share_30d=None,
            scored_90d=0,
            mean_90d=None,
            negative_share_90d=None,
            change_30d=None,
        )
    rollup = AccountDailyRollup
    short_start = window_start(anchor, SHORT_WINDOW_DAYS)
    previous_start = short_start - timedelta(days=SHORT_WINDOW_DAYS)
    long_start = window_start(anchor, LONG_WINDOW_DAYS)
    windows = {
        "short": col(rollup.day) >= short_start,
        "previous": (col(rollup.day) >= previous_start) & (col(rollup.day) < short_start),
        "long": col(rollup.day) >= long_start,
    }
    columns = [
        func.sum(case((when, column), else_=None))
        for when in windows.values()
        for column in (rollup.score_sum, rollup.scored_count, rollup.negative_count)
    ]
    row = session.exec(
        select(*columns).where(
            rollup.account_id == account_id,
            rollup.source == ALL_SOURCES,
            col(rollup.day) >= min(previous_start, long_start),
            col(rollup.day) <= anchor,
        )
    ).one()
    (short_sum, short_n, short_neg, prev_sum, prev_n, _, long_sum, long_n, long_neg) = (
        value or 0 for value in row
    )
    short_mean = float(short_sum) / short_n if short_n else None
    previous_mean = float(prev_sum) / prev_n if prev_n else None
    change = None
    if short_mean is not None and previous_mean is not None:
        change = short_mean - previous_mean
    return AccountSentimentOut(
        as_of=anchor,
        scored_30d=int(short_n),
        mean_30d=rounded(short_mean),
        negative_share_30d=rounded(short_neg / short_n) if short_n else None,
        scored_90d=int(long_n),
        mean_90d=rounded(float(long_sum) / long_n) if long_n else None,
        negative_share_90d=rounded(long_neg / long_n) if long_n else None,
        change_30d=rounded(change),
    )


def account_top_topics(
    session: Session, account_id: str, anchor: date | None, names: dict[str, str]
) -> AccountTopicsWindowOut:
    """The account's `TOP_TOPICS` most mentioned topics over the 30-day window (topic rollups)."""
    if anchor is None:
        return AccountTopicsWindowOut(start=None, end=None, items=[])
    rollup = AccountDailyTopicRollup
    start = window_start(anchor, SHORT_WINDOW_DAYS)
    mentions = func.sum(rollup.mentions)
    rows = session.exec(
        select_columns(
            rollup.topic,
            mentions,
            func.sum(rollup.scored_count),
            func.sum(rollup.score_sum),
            func.sum(rollup.negative_count),
        )
        .where(
            rollup.account_id == account_id,
            col(rollup.day) >= start,
            col(rollup.day) <= anchor,
        )
        .group_by(rollup.topic)
        .order_by(mentions.desc(), col(rollup.topic))
        .limit(TOP_TOPICS)
    ).all()
    items = [
        AccountTopicSummaryOut(
            topic=topic,
            name=names.get(topic),
            mentions=int(count or 0),
            mean_sentiment=rounded(float(total) / scored) if scored else None,
            negative_share=rounded(int(negative or 0) / scored) if scored else None,
        )
        for topic, count, scored, total, negative in rows
    ]
    return AccountTopicsWindowOut(start=start, end=anchor, items=items)


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def negative_evidence(session: Session, account_id: str) -> list[NegativeMessageOut]:
    """The account's newest customer messages the active model labels negative."""
    version = active_version(session)
    if version is None:
        return []
    rows = session.exec(
        select(Message, MessageScore)
        .join(MessageScore, col(MessageScore.message_id) == col(Message.id))
        .where(
            Message.account_id == account_id,
            from_customer(),
            MessageScore.model_version == version,
            MessageScore.label == "negative",
        )
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(EVIDENCE_MESSAGES)
    ).all()
    return [
        NegativeMessageOut(
            id=message.id or 0,
            source=message.source,
            created_at=message.created_at,
            quote=_quote(message.text),
            score=None if score.score is None else round(score.score, 4),
        )
        for message, score in rows
    ]
