"""The continuous scoring worker: claim queued messages, score them in batches, store scores
and refresh the affected daily rollups, all in one transaction per batch.

Several workers may share one PostgreSQL: claims use `FOR UPDATE SKIP LOCKED` and a lease, so
no message is scored twice at once and a killed worker's claims are retried after the lease.
While the database is unavailable (restarted, connection lost) `ScoringWorker.run` waits with
exponential backoff and carries on; a batch whose transaction failed is rolled back whole and
claimed again by the same worker, so nothing is lost or scored twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, func, or_, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from models.message_sentiment import MessageSentiment, MessageSentimentScorer
from models.multilingual.routing import reads_language, score_messages
from models.topics.assign import TopicAssigner
from pipelines import rollups
from pipelines.queue import ensure_active_version
from pipelines.topics import store_topics
from sentiment_service.storage.database import Database, DatabaseFault, database_fault
from sentiment_service.storage.tables import (
    Message,
    MessageScore,
    ScoringQueueItem,
)
from sentiment_service.storage.types import utcnow

log = structlog.get_logger(__name__)
# Gives the topic assigner in force (looked up per batch, so a taxonomy change applies to the
# next batch without a restart).
TopicSource = Callable[[Session], TopicAssigner]
# Waits between attempts while the database is unavailable: doubling from the first to the most.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
# How long a claim holds before another worker may take the batch over (its worker died).
DEFAULT_LEASE_SECONDS = 300.0


def retry_delay(
    attempt: int, first: float = RETRY_FIRST_SECONDS, most: float = RETRY_MAX_SECONDS
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): 0.5, 1, 2, 4 ... up to 30."""
    return min(most, first * 2 ** max(0, attempt - 1))


@dataclass
class WorkerStats:
    """What a worker has done so far."""

    batches: int = 0
    scored: int = 0
    skipped: int = 0
    rollup_rows: int = 0
    seconds: float = 0.0


def score_row(
    message_id: int, version: str, result: MessageSentiment | None, status: str
) -> MessageScore:
    """The stored form of one message's result."""
    if result is None:
        return MessageScore(message_id=message_id, model_version=version, status=status)
    p = result.probabilities
    return MessageScore(
        message_id=message_id,
        model_version=version,
        status=status,
        label=result.label,
        score=result.score,
        p_negative=p["negative"],
        p_neutral=p["neutral"],
        p_positive=p["positive"],
        aggregation=result.aggregation,
        sentences=[
            {
                "text": s.text,
                "start": s.start,
                "end": s.end,
                "label": s.label,
                "score": round(s.score, 4),
            }
            for s in result.sentences
        ],
    )


def skip_status(message: Message, result: MessageSentiment | None) -> str:
    """`scored`, or why the message was left out: a flagged canned repeat or a language no
    model reads."""
    if result is not None:
        return "scored"
    return "skipped_duplicate" if message.duplicate_of is not None else "skipped_language"


def store_scores(
    session: Session,
    messages: list[Message],
    scorer: MessageSentimentScorer,
    topics: TopicAssigner | None = None,
) -> tuple[int, int]:
    """Score messages and replace their rows for the scorer's version; (scored, skipped).

    Each message goes to the model of its language (models/multilingual/routing.py); one in a
    language no model reads is stored as `skipped_language` and counted as skipped. With a
    topic assigner, the messages' topics and competitor mentions are replaced too.
    """
    version = scorer.version
    readable = [
        m for m in messages if m.duplicate_of is None and reads_language(scorer, m.language)
    ]
    results = (
        score_messages(scorer, [m.text for m in readable], [m.language for m in readable])
        if readable
        else []
    )
    by_id = {m.id: r for m, r in zip(readable, results, strict=True)}
    ids = [m.id for m in messages if m.id is not None]
    session.execute(
        delete(MessageScore).where(
            col(MessageScore.message_id).in_(ids), col(MessageScore.model_version) == version
        )
    )
    for message in messages:
        if message.id is None:  # pragma: no cover - stored messages have ids
            raise ValueError("store_scores needs stored messages")
        result = by_id.get(message.id)
        session.add(score_row(message.id, version, result, skip_status(message, result)))
    if topics is not None:
        store_topics(session, messages, [by_id.get(m.id) for m in messages], topics)
    return len(readable), len(messages) - len(readable)


class ScoringWorker:
    """Claims queued messages and scores them with one model."""

    def __init__(
        self,
        database: Database,
        scorer: MessageSentimentScorer,
        *,
        topics: TopicSource | None = None,
        worker_id: str,
        batch_size: int = 64,
        lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.scorer = scorer
        self.topics = topics
        self.worker_id = worker_id
        self.batch_size = batch_size
        self.lease = lease
        self.clock = clock
        self.stats = WorkerStats()

    def claim(self) -> list[int]:
        """Claim up to batch_size unclaimed (or lease-expired) queued messages.

        Messages this worker claimed before but did not finish (its batch failed, e.g. the
        database went away mid-batch) are taken again at once: a worker claims only when it
        holds no batch, so such claims are orphans. Worker ids must be unique per process.
        """
        now = self.clock()
        with self.database.session(write=True) as session:
            candidates = (
                select(ScoringQueueItem.message_id)
                .where(
                    or_(
                        col(ScoringQueueItem.claimed_at).is_(None),
                        col(ScoringQueueItem.claimed_at) < now - self.lease,
                        col(ScoringQueueItem.claimed_by) == self.worker_id,
                    )
                )
                .order_by(col(ScoringQueueItem.message_id))
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            ids = list(session.exec(candidates).all())
            if ids:
                session.execute(
                    update(ScoringQueueItem)
                    .where(col(ScoringQueueItem.message_id).in_(ids))
                    .values(
                        claimed_by=self.worker_id,
                        claimed_at=now,
                        attempts=ScoringQueueItem.attempts + 1,
                    )
                )
        return ids

    def process(self, ids: list[int]) -> None:
        """Score claimed messages, store scores and rollups, and release the queue rows."""
        with self.database.session(write=True) as session:
            messages = list(session.exec(select(Message).where(col(Message.id).in_(ids))).all())
            scored, skipped = store_scores(
                session, messages, self.scorer, self.topics(session) if self.topics else None
            )
            version = ensure_active_version(session, self.scorer.version)
            if version != self.scorer.version:  # e.g. after a rescore switched versions
                log.warning(
                    "worker_model_not_active",
                    worker_version=self.scorer.version,
                    active_version=version,
                    hint="restart the worker",
                )
            keys = {(m.account_id, m.created_at.date()) for m in messages if m.account_id}
            rollup_rows = rollups.recompute(session, keys, version)
            session.execute(
                delete(ScoringQueueItem).where(
                    col(ScoringQueueItem.message_id).in_(ids),
                    col(ScoringQueueItem.claimed_by) == self.worker_id,
                )
            )
        self.stats.batches += 1  # counted once the batch is committed
        self.stats.rollup_rows += rollup_rows
        self.stats.scored += scored
        self.stats.skipped += skipped

    def run_once(self) -> int:
        """One claim-and-score round; returns how many messages it handled."""
        started = time.perf_counter()
        ids = self.claim()
        if ids:
            self.process(ids)
        self.stats.seconds += time.perf_counter() - started
        return len(ids)

    def drain(self, progress: Callable[[int], None] | None = None) -> WorkerStats:
        """Work until the queue is empty."""
        while handled := self.run_once():
            if progress is not None:
                progress(handled)
        return self.stats

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> WorkerStats:
        """Work until `stop` is set, sleeping `poll_seconds` when the queue is empty.

        While the database is unavailable the worker logs `database_unavailable` and retries
        with backoff (see `retry_delay`); other errors, a read-only or full database included,
        are raised to the caller.
        """
        failures = 0
        while not stop.is_set():
            try:
                handled = self.run_once()
            except DBAPIError as error:
                if database_fault(error) is not DatabaseFault.UNAVAILABLE:
                    raise
                failures += 1
                delay = retry_delay(failures)
                log.warning(
                    "database_unavailable",
                    worker=self.worker_id,
                    error=type(error).__name__,
                    attempt=failures,
                    retry_in_seconds=delay,
                )
                stop.wait(delay)
                continue
            if failures:
                log.info("database_recovered", worker=self.worker_id, attempts=failures)
                failures = 0
            if not handled:
                stop.wait(poll_seconds)
        return self.stats


def queue_length(database: Database) -> int:
    """How many messages wait to be scored."""
    with database.session() as session:
        return session.exec(select(func.count()).select_from(ScoringQueueItem)).one()
