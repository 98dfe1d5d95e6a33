"""Overrides in storage: the override in force for a stored score, and the score to act on
(the pure rules are in overrides.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from sentiment_service.health.overrides import EffectiveScore, Override, effective_score
from sentiment_service.health.scoring import HealthScore
from sentiment_service.storage.tables import HealthOverride, HealthScoreRecord


def to_override(row: HealthOverride) -> Override:
    """The pure form of a stored override."""
    return Override(
        score=row.score,
        band=row.band,
        reason=row.reason,
        expires_at=row.expires_at,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def active_override(
    session: Session, account_id: str, card_id: str, as_of: datetime
) -> HealthOverride | None:
    """The newest override in force at `as_of` (not removed by then, not expired)."""
    rows = session.exec(
        select(HealthOverride)
        .where(
            HealthOverride.account_id == account_id,
            HealthOverride.scorecard == card_id,
            col(HealthOverride.created_at) <= as_of,
            col(HealthOverride.expires_at) > as_of,
        )
        .order_by(col(HealthOverride.created_at).desc())
    ).all()
    for row in rows:
        if row.removed_at is None or row.removed_at > as_of:
            return row
    return None


def effective(
    session: Session, record: HealthScoreRecord, as_of: datetime
) -> tuple[EffectiveScore, HealthOverride | None]:
    """The score to act on for a stored computed score, with the override behind it."""
    computed = HealthScore.model_validate(record.explanation)
    row = active_override(session, record.account_id, record.scorecard, as_of)
    return effective_score(computed, to_override(row) if row else None, as_of=as_of), row
