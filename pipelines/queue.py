"""The scoring queue and the active model version: plain storage operations, no models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sentiment_service.storage.tables import PipelineState, ScoringQueueItem
from sentiment_service.storage.types import utcnow

ACTIVE_VERSION_KEY = "sentiment_model_version"


def enqueue(session: Session, message_ids: list[int]) -> None:
    """Queue messages for (re-)scoring. A queued message that a worker holds is released, so
    an edit that arrives while it is being scored gets scored again."""
    if not message_ids:
        return
    queued = set(
        session.exec(
            select(ScoringQueueItem.message_id).where(
                col(ScoringQueueItem.message_id).in_(message_ids)
            )
        ).all()
    )
    if queued:
        session.execute(
            update(ScoringQueueItem)
            .where(col(ScoringQueueItem.message_id).in_(queued))
            .values(claimed_by=None, claimed_at=None)
        )
    session.add_all(ScoringQueueItem(message_id=i) for i in message_ids if i not in queued)


def active_version(session: Session) -> str | None:
    """The model version whose scores feed rollups and features."""
    row = session.get(PipelineState, ACTIVE_VERSION_KEY)
    return row.value if row is not None else None


def set_active_version(session: Session, version: str) -> None:
    """Switch the active version (one row: the switch is atomic with its transaction)."""
    row = session.get(PipelineState, ACTIVE_VERSION_KEY) or PipelineState(
        key=ACTIVE_VERSION_KEY, value=version
    )
    row.value, row.updated_at = version, utcnow()
    session.add(row)


def ensure_active_version(session: Session, version: str) -> str:
    """The active version, making `version` active if none is (safe under concurrent workers)."""
    current = active_version(session)
    if current is not None:
        return current
    try:
        with session.begin_nested():
            session.add(PipelineState(key=ACTIVE_VERSION_KEY, value=version))
    except IntegrityError:  # another worker set it first
        pass
    current = active_version(session)
    if current is None:
        raise RuntimeError(f"no active model version after setting {version!r}")
    return current


def queue_stats(session: Session, now: datetime) -> tuple[int, float]:
    """(messages waiting, age in seconds of the oldest one)."""
    count, oldest = session.exec(select(func.count(), func.min(ScoringQueueItem.enqueued_at))).one()
    if not count or oldest is None:
        return 0, 0.0
    if isinstance(oldest, str):  # SQLite returns aggregates as text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), max(0.0, (now - oldest).total_seconds())
