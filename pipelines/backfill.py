"""Backfill / re-score on one machine: score every message under a (new) model version in
resumable batches, then switch the active version and rebuild rollups in one transaction.

Old scores stay active until the new version has scored everything, so readers never see a
half re-scored portfolio. Interrupting is safe: a rerun skips messages already scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists
from sqlmodel import Session, col, func, select

from models.message_sentiment import MessageSentimentScorer
from pipelines import rollups
from pipelines.queue import active_version, set_active_version
from pipelines.scoring import store_scores
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, MessageScore


@dataclass
class BackfillSummary:
    """What a backfill run did."""

    model_version: str
    previous_version: str | None
    scored: int = 0
    skipped: int = 0
    remaining_before: int = 0
    switched: bool = False
    rollup_rows: int = 0
    seconds: float = 0.0


def unscored(version: str) -> ColumnElement[bool]:
    """Messages without a score under `version` (flagged canned repeats are never scored)."""
    has_score = exists().where(
        col(MessageScore.message_id) == col(Message.id),
        col(MessageScore.model_version) == version,
    )
    return and_(~has_score, col(Message.duplicate_of).is_(None))


def remaining(session: Session, version: str) -> int:
    """Messages without a score under `version`."""
    return session.exec(select(func.count()).select_from(Message).where(unscored(version))).one()


def backfill(
    database: Database,
    scorer: MessageSentimentScorer,
    *,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    max_batches: int | None = None,
) -> BackfillSummary:
    """Score unscored messages under the scorer's version; switch when none is left."""
    started = time.perf_counter()
    version = scorer.version
    with database.session() as session:
        summary = BackfillSummary(
            version, active_version(session), remaining_before=remaining(session, version)
        )
    after_id, batches = 0, 0
    while max_batches is None or batches < max_batches:
        with database.session(write=True) as session:
            messages = list(
                session.exec(
                    select(Message)
                    .where(col(Message.id) > after_id, unscored(version))
                    .order_by(col(Message.id))
                    .limit(batch_size)
                ).all()
            )
            if not messages:
                break
            scored, skipped = store_scores(session, messages, scorer)
        summary.scored += scored
        summary.skipped += skipped
        after_id = messages[-1].id or after_id
        batches += 1
        if progress is not None:
            progress(len(messages))
    with database.session(write=True) as session:  # reads, then switches: wait for the lock
        if remaining(session, version) == 0:
            set_active_version(session, version)
            summary.rollup_rows = rollups.rebuild_all(session, version)
            summary.switched = True
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary
