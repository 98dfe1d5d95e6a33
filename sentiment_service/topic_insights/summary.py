"""Topic insights: the portfolio topic summary (mentions, share, aspect sentiment, change
against the period before) and competitor mention counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, and_, case, func
from sqlmodel import Session, col, select

from pipelines.rollups import ALL_SOURCES
from pipelines.topics import active_taxonomy
from sentiment_service.auth.scope import AccountScope
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import (
    AccountDailyRollup,
    AccountDailyTopicRollup,
    CompetitorMention,
    Message,
    MessageTopic,
)
from sentiment_service.topic_insights.periods import DayRange, _customer_messages, account_filter
from sentiment_service.topic_insights.taxonomy import topic_names


@dataclass
class _Tally:
    mentions: int = 0
    scored: int = 0
    score_sum: float = 0.0
    negative: int = 0


class TopicStatOut(BaseModel):
    """One topic over the period, compared with the period before."""

    topic: str
    name: str | None
    in_taxonomy: bool
    mentions: int
    share: float | None
    mean_sentiment: float | None
    negative_share: float | None
    previous_mentions: int
    mentions_change: int
    mentions_change_ratio: float | None


class CompetitorStatOut(BaseModel):
    """Mentions of one competitor (one per sentence naming it), by intent."""

    competitor: str
    mentions: int
    by_intent: dict[str, int]
    previous_mentions: int


class TopicSummaryOut(BaseModel):
    """Topics and competitor mentions of customer messages over a period."""

    start: date
    end: date
    previous_start: date
    previous_end: date
    segment: str | None
    source: str | None
    taxonomy_version: int | None
    analysed_messages: int
    previous_analysed_messages: int
    topics: list[TopicStatOut]
    competitors: list[CompetitorStatOut]


def _rollup_tallies(
    session: Session, period: DayRange, accounts: Select[Any] | None
) -> dict[str, _Tally]:
    """Per-topic tallies from the daily topic rollups."""
    rollup = AccountDailyTopicRollup
    query = (
        select_columns(
            rollup.topic,
            func.sum(rollup.mentions),
            func.sum(rollup.scored_count),
            func.sum(rollup.score_sum),
            func.sum(rollup.negative_count),
        )
        .where(col(rollup.day) >= period.start, col(rollup.day) <= period.end)
        .group_by(rollup.topic)
    )
    if accounts is not None:
        query = query.where(col(rollup.account_id).in_(accounts))
    return {
        topic: _Tally(int(m or 0), int(s or 0), float(total or 0.0), int(n or 0))
        for topic, m, s, total, n in session.exec(query).all()
    }


def _message_tallies(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str
) -> dict[str, _Tally]:
    """Per-topic tallies of one source, from the topic rows (rollups have no source)."""
    low, high = period.bounds()
    negative = case(
        (and_(col(MessageTopic.label) == "negative", col(MessageTopic.score).is_not(None)), 1),
        else_=0,
    )
    query = (
        select_columns(
            MessageTopic.topic,
            func.count(),
            func.count(col(MessageTopic.score)),
            func.sum(MessageTopic.score),
            func.sum(negative),
        )
        .join(Message, col(Message.id) == col(MessageTopic.message_id))
        .where(*_customer_messages(low, high, accounts=accounts, source=source))
        .group_by(MessageTopic.topic)
    )
    return {
        topic: _Tally(int(m or 0), int(s or 0), float(total or 0.0), int(n or 0))
        for topic, m, s, total, n in session.exec(query).all()
    }


def _topic_tallies(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str | None
) -> dict[str, _Tally]:
    if source is None:
        return _rollup_tallies(session, period, accounts)
    return _message_tallies(session, period, accounts, source)


def _analysed_messages(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str | None
) -> int:
    """Customer messages with a sentiment score (the ones topics are assigned to)."""
    query = select(func.sum(AccountDailyRollup.scored_count)).where(
        AccountDailyRollup.source == (source or ALL_SOURCES),
        col(AccountDailyRollup.day) >= period.start,
        col(AccountDailyRollup.day) <= period.end,
    )
    if accounts is not None:
        query = query.where(col(AccountDailyRollup.account_id).in_(accounts))
    return int(session.exec(query).one() or 0)


def _competitor_counts(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str | None
) -> dict[str, Counter[str]]:
    """Competitor -> intent -> mentions."""
    low, high = period.bounds()
    query = (
        select(CompetitorMention.competitor, CompetitorMention.intent, func.count())
        .join(Message, col(Message.id) == col(CompetitorMention.message_id))
        .where(*_customer_messages(low, high, accounts=accounts, source=source))
        .group_by(CompetitorMention.competitor, CompetitorMention.intent)
    )
    counts: dict[str, Counter[str]] = {}
    for competitor, intent, count in session.exec(query).all():
        counts.setdefault(competitor, Counter())[intent] += int(count)
    return counts


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _topic_stat(
    topic: str, names: dict[str, str], now: _Tally, before: _Tally, analysed: int
) -> TopicStatOut:
    change = now.mentions - before.mentions
    return TopicStatOut(
        topic=topic,
        name=names.get(topic),
        in_taxonomy=topic in names,
        mentions=now.mentions,
        share=_ratio(now.mentions, analysed),
        mean_sentiment=_ratio(now.score_sum, now.scored),
        negative_share=_ratio(now.negative, now.scored),
        previous_mentions=before.mentions,
        mentions_change=change,
        mentions_change_ratio=_ratio(change, before.mentions),
    )


def topic_summary(
    session: Session,
    period: DayRange,
    *,
    segment: str | None,
    source: str | None,
    scope: AccountScope | None = None,
) -> TopicSummaryOut:
    """Per topic: mentions, share, aspect sentiment and change; competitor mention counts,
    over the accounts of `segment` (if given) in `scope` (None: every account).

    Every topic of the taxonomy in force is listed (zero when unseen), plus topics of stored
    rows that the taxonomy no longer has (`in_taxonomy` false) until a retopic removes them.
    """
    taxonomy, version = active_taxonomy(session)
    names = topic_names(taxonomy)
    previous = period.previous()
    accounts = account_filter(segment, scope)
    now = _topic_tallies(session, period, accounts, source)
    before = _topic_tallies(session, previous, accounts, source)
    analysed = _analysed_messages(session, period, accounts, source)
    stats = [
        _topic_stat(topic, names, now.get(topic, _Tally()), before.get(topic, _Tally()), analysed)
        for topic in {*names, *now, *before}
    ]
    stats.sort(key=lambda stat: (-stat.mentions, stat.topic))
    competitors_now = _competitor_counts(session, period, accounts, source)
    competitors_before = _competitor_counts(session, previous, accounts, source)
    competitors = [
        CompetitorStatOut(
            competitor=competitor,
            mentions=sum(competitors_now.get(competitor, Counter()).values()),
            by_intent=dict(sorted(competitors_now.get(competitor, Counter()).items())),
            previous_mentions=sum(competitors_before.get(competitor, Counter()).values()),
        )
        for competitor in {*competitors_now, *competitors_before}
    ]
    competitors.sort(key=lambda stat: (-stat.mentions, stat.competitor))
    return TopicSummaryOut(
        start=period.start,
        end=period.end,
        previous_start=previous.start,
        previous_end=previous.end,
        segment=segment,
        source=source,
        taxonomy_version=version,
        analysed_messages=analysed,
        previous_analysed_messages=_analysed_messages(session, previous, accounts, source),
        topics=stats,
        competitors=competitors,
    )
