"""Overrides in storage: the override in force for a stored score, and the score to act on
(the pure rules are in overrides.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

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


def _in_force_query(account_id: str, as_of: datetime) -> SelectOfScalar[HealthOverride]:
    return (
        select(HealthOverride)
        .where(
            HealthOverride.account_id == account_id,
            col(HealthOverride.created_at) <= as_of,
            col(HealthOverride.expires_at) > as_of,
        )
        .order_by(col(HealthOverride.created_at).desc())
    )


def _first_in_force(rows: Iterable[HealthOverride], as_of: datetime) -> HealthOverride | None:
    """The first of `rows` (newest first) not removed by `as_of`."""
    for row in rows:
        if row.removed_at is None or row.removed_at > as_of:
            return row
    return None


def active_override(
    session: Session, account_id: str, card_id: str, as_of: datetime
) -> HealthOverride | None:
    """The newest override in force at `as_of` (not removed by then, not expired)."""
    query = _in_force_query(account_id, as_of).where(HealthOverride.scorecard == card_id)
    return _first_in_force(session.exec(query).all(), as_of)


def active_overrides_by_card(
    session: Session, account_id: str, card_ids: Sequence[str], as_of: datetime
) -> dict[str, HealthOverride]:
    """`active_override` for each of the scorecards, in one statement (cards without an
    override in force are absent)."""
    if not card_ids:
        return {}
    query = _in_force_query(account_id, as_of).where(
        col(HealthOverride.scorecard).in_(list(card_ids))
    )
    by_card: dict[str, list[HealthOverride]] = defaultdict(list)
    for row in session.exec(query).all():
        by_card[row.scorecard].append(row)
    found = {card: _first_in_force(rows, as_of) for card, rows in by_card.items()}
    return {card: row for card, row in found.items() if row is not None}


def effective_with(
    computed: HealthScore, row: HealthOverride | None, as_of: datetime
) -> EffectiveScore:
    """The score to act on for a computed score, given the override in force."""
    return effective_score(computed, to_override(row) if row else None, as_of=as_of)


def effective(
    session: Session, record: HealthScoreRecord, as_of: datetime
) -> tuple[EffectiveScore, HealthOverride | None]:
    """The score to act on for a stored computed score, with the override behind it."""
    row = active_override(session, record.account_id, record.scorecard, as_of)
    computed = HealthScore.model_validate(record.explanation)
    return effective_with(computed, row, as_of), row
