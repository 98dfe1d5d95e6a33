"""Per-account daily rollups (per source and per topic), recomputed for affected days only.

A rollup row is a pure function of the messages of one account and UTC day and their scores
under the active model version, so recomputing any subset equals a from-scratch rebuild.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, text
from sqlmodel import Session, SQLModel, col, select

from sentiment_service.storage.filters import from_customer
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import (
    AccountDailyRollup,
    AccountDailyTopicRollup,
    Message,
    MessageScore,
    MessageTopic,
)
from sentiment_service.storage.types import utcnow

ALL_SOURCES = "all"


@dataclass
class _Tally:
    messages: int = 0
    scored: int = 0
    score_sum: float = 0.0
    negative: int = 0
    neutral: int = 0
    positive: int = 0

    def add(self, label: str | None, score: float | None) -> None:
        self.messages += 1
        if label is None or score is None:
            return
        self.scored += 1
        self.score_sum += score
        setattr(self, label, getattr(self, label) + 1)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC start and end of a day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def recompute(session: Session, keys: Iterable[tuple[str, date]], model_version: str) -> int:
    """Replace the rollups of the given (account, day) pairs; returns rows written."""
    written = 0
    postgres = session.get_bind().dialect.name == "postgresql"
    for account_id, day in sorted(set(keys)):  # sorted: concurrent workers lock in one order
        if postgres:  # serialise concurrent recomputes of one account-day (SQLite: one writer)
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"rollup:{account_id}:{day.isoformat()}"},
            )
        start, end = day_bounds(day)
        rows = session.exec(
            select(Message.source, MessageScore.label, MessageScore.score)
            .join(
                MessageScore,
                (col(MessageScore.message_id) == col(Message.id))
                & (col(MessageScore.model_version) == model_version),
                isouter=True,
            )
            .where(
                Message.account_id == account_id,
                col(Message.created_at) >= start,
                col(Message.created_at) < end,
                from_customer(),
            )
        ).all()
        tallies: dict[str, _Tally] = defaultdict(_Tally)
        for source, label, score in rows:
            tallies[source].add(label, score)
            tallies[ALL_SOURCES].add(label, score)
        session.execute(
            delete(AccountDailyRollup).where(
                col(AccountDailyRollup.account_id) == account_id,
                col(AccountDailyRollup.day) == day,
            )
        )
        written += recompute_topics(session, account_id, day, start, end)
        for source, tally in tallies.items():
            session.add(
                AccountDailyRollup(
                    account_id=account_id,
                    day=day,
                    source=source,
                    model_version=model_version,
                    message_count=tally.messages,
                    scored_count=tally.scored,
                    score_sum=tally.score_sum,
                    mean_score=tally.score_sum / tally.scored if tally.scored else None,
                    negative_count=tally.negative,
                    neutral_count=tally.neutral,
                    positive_count=tally.positive,
                )
            )
            written += 1
    session.flush()
    return written


def recompute_topics(
    session: Session, account_id: str, day: date, start: datetime, end: datetime
) -> int:
    """Replace one account-day's per-topic rollups (mentions and aspect sentiment)."""
    rows = session.exec(
        select(
            MessageTopic.topic, MessageTopic.model_version, MessageTopic.label, MessageTopic.score
        )
        .join(Message, col(Message.id) == col(MessageTopic.message_id))
        .where(
            Message.account_id == account_id,
            col(Message.created_at) >= start,
            col(Message.created_at) < end,
            from_customer(),
        )
    ).all()
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    versions: dict[str, str] = {}
    for topic, version, label, score in rows:
        tallies[topic].add(label, score)
        versions[topic] = max(version, versions.get(topic, version))
    session.execute(
        delete(AccountDailyTopicRollup).where(
            col(AccountDailyTopicRollup.account_id) == account_id,
            col(AccountDailyTopicRollup.day) == day,
        )
    )
    for topic, tally in tallies.items():
        session.add(
            AccountDailyTopicRollup(
                account_id=account_id,
                day=day,
                topic=topic,
                model_version=versions[topic],
                mentions=tally.messages,
                scored_count=tally.scored,
                score_sum=tally.score_sum,
                negative_count=tally.negative,
                positive_count=tally.positive,
            )
        )
    return len(tallies)


def all_account_days(session: Session) -> set[tuple[str, date]]:
    """Every (account, UTC day) that has customer messages."""
    rows = session.exec(
        select(Message.account_id, Message.created_at).where(
            col(Message.account_id).is_not(None), from_customer()
        )
    ).all()
    return {(account_id, created.date()) for account_id, created in rows if account_id}


def rebuild_all(session: Session, model_version: str, *, chunk_rows: int = 10_000) -> int:
    """Drop every rollup and rebuild all of them from raw messages, scores and topics.

    One streaming pass per table, ordered by account and time: memory holds one account's
    tallies at a time, and rows are inserted in bulk. Gives the same rows as `recompute` over
    every account-day (a test checks it).
    """
    session.execute(delete(AccountDailyRollup))
    session.execute(delete(AccountDailyTopicRollup))
    customer = (col(Message.account_id).is_not(None), from_customer())
    order = (col(Message.account_id), col(Message.created_at))
    sentiment_rows = session.execute(
        select_columns(
            col(Message.account_id),
            col(Message.created_at),
            col(Message.source),
            col(MessageScore.label),
            col(MessageScore.score),
        )
        .join(
            MessageScore,
            (col(MessageScore.message_id) == col(Message.id))
            & (col(MessageScore.model_version) == model_version),
            isouter=True,
        )
        .where(*customer)
        .order_by(*order)
        .execution_options(yield_per=chunk_rows)
    )
    written = _stream_tallies(
        session,
        (
            (a, t.date(), (src, ALL_SOURCES), label, score)
            for a, t, src, label, score in sentiment_rows
        ),
        lambda account, day, key, tally, _: {
            "account_id": account,
            "day": day,
            "source": key,
            "model_version": model_version,
            "message_count": tally.messages,
            "scored_count": tally.scored,
            "score_sum": tally.score_sum,
            "mean_score": tally.score_sum / tally.scored if tally.scored else None,
            "negative_count": tally.negative,
            "neutral_count": tally.neutral,
            "positive_count": tally.positive,
            "updated_at": utcnow(),
        },
        AccountDailyRollup,
    )
    topic_rows = session.execute(
        select_columns(
            col(Message.account_id),
            col(Message.created_at),
            col(MessageTopic.topic),
            col(MessageTopic.label),
            col(MessageTopic.score),
            col(MessageTopic.model_version),
        )
        .join(Message, col(Message.id) == col(MessageTopic.message_id))
        .where(*customer)
        .order_by(*order)
        .execution_options(yield_per=chunk_rows)
    )
    versions: dict[tuple[str, date, str], str] = {}

    def topic_facts() -> Iterator[tuple[str, date, tuple[str, ...], str | None, float | None]]:
        for account, created, topic, label, score, version in topic_rows:
            key = (account, created.date(), topic)
            versions[key] = max(version, versions.get(key, version))
            yield account, created.date(), (topic,), label, score

    written += _stream_tallies(
        session,
        topic_facts(),
        lambda account, day, key, tally, _: {
            "account_id": account,
            "day": day,
            "topic": key,
            "model_version": versions.pop((account, day, key)),
            "mentions": tally.messages,
            "scored_count": tally.scored,
            "score_sum": tally.score_sum,
            "negative_count": tally.negative,
            "positive_count": tally.positive,
            "updated_at": utcnow(),
        },
        AccountDailyTopicRollup,
    )
    session.flush()
    return written


def _stream_tallies(
    session: Session,
    facts: Iterable[tuple[str, date, tuple[str, ...], str | None, float | None]],
    to_row: Callable[[str, date, str, _Tally, None], dict[str, Any]],
    table: type[SQLModel],
    batch: int = 5_000,
) -> int:
    """Tally (account, day, keys, label, score) facts that arrive grouped by account, and
    insert one row per (account, day, key) in bulk; returns rows written."""
    pending: list[dict[str, Any]] = []
    tallies: dict[tuple[date, str], _Tally] = defaultdict(_Tally)
    current: str | None = None
    written = 0

    def flush_account() -> None:
        nonlocal written
        for (day, key), tally in sorted(tallies.items()):
            pending.append(to_row(current or "", day, key, tally, None))
        written += len(tallies)
        tallies.clear()

    for account, day, keys, label, score in facts:
        if account != current:
            flush_account()
            current = account
            if len(pending) >= batch:
                session.execute(insert(table), pending)
                pending.clear()
        for key in keys:
            tallies[(day, key)].add(label, score)
    flush_account()
    if pending:
        session.execute(insert(table), pending)
    return written
