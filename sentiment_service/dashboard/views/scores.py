"""What several dashboard pages share: the scorecards in force, the newest stored score per
account and scorecard, the overrides in force and mean sentiment per account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from pipelines.rollups import ALL_SOURCES
from sentiment_service.auth.scope import AccountScope, restrict_accounts
from sentiment_service.health import service
from sentiment_service.storage.tables import AccountDailyRollup, HealthOverride, HealthScoreRecord


@dataclass(frozen=True)
class CardInfo:
    """A scorecard in force: id, name, version and its bands (best first)."""

    id: str
    name: str
    version: int
    objective: str
    bands: list[str]


def scorecards(session: Session) -> list[CardInfo]:
    """The scorecards in force, the renewal-risk (churn) one first."""
    cards = [
        CardInfo(
            id=v.card.id,
            name=v.card.name,
            version=v.version,
            objective=v.card.objective,
            bands=[b.name for b in v.card.bands],
        )
        for v in service.active_scorecards(session)
    ]
    return sorted(cards, key=lambda c: (c.objective != "churn_risk", c.id))


def reference_day(session: Session) -> date | None:
    """The newest day with data: the 'today' of the loaded history."""
    return service.data_end(session)


def latest_records(
    session: Session, account_ids: list[str] | None, card_id: str | None = None
) -> list[HealthScoreRecord]:
    """The newest stored score per account and scorecard."""
    newest = select(
        HealthScoreRecord.account_id,
        HealthScoreRecord.scorecard,
        func.max(HealthScoreRecord.as_of).label("as_of"),
    ).group_by(col(HealthScoreRecord.account_id), col(HealthScoreRecord.scorecard))
    if card_id is not None:
        newest = newest.where(HealthScoreRecord.scorecard == card_id)
    if account_ids is not None:
        newest = newest.where(col(HealthScoreRecord.account_id).in_(account_ids))
    latest = newest.subquery()
    rows = session.exec(
        select(HealthScoreRecord)
        .join(
            latest,
            and_(
                col(HealthScoreRecord.account_id) == latest.c.account_id,
                col(HealthScoreRecord.scorecard) == latest.c.scorecard,
                col(HealthScoreRecord.as_of) == latest.c.as_of,
            ),
        )
        .order_by(col(HealthScoreRecord.id))
    ).all()
    chosen: dict[tuple[str, str], HealthScoreRecord] = {}
    for row in rows:  # several scorecard versions on one day: the newest row wins
        chosen[(row.account_id, row.scorecard)] = row
    return list(chosen.values())


def active_overrides(
    session: Session, account_ids: list[str] | None, now: datetime
) -> dict[tuple[str, str], HealthOverride]:
    """The newest override in force now per account and scorecard."""
    query = select(HealthOverride).where(
        col(HealthOverride.removed_at).is_(None),
        col(HealthOverride.created_at) <= now,
        col(HealthOverride.expires_at) > now,
    )
    if account_ids is not None:
        query = query.where(col(HealthOverride.account_id).in_(account_ids))
    found: dict[tuple[str, str], HealthOverride] = {}
    for row in session.exec(query.order_by(col(HealthOverride.created_at))).all():
        found[(row.account_id, row.scorecard)] = row
    return found


def mean_by_account(
    session: Session, start: date, end: date, account_ids: list[str] | None
) -> dict[str, tuple[float | None, int]]:
    """Mean sentiment score and scored-message count per account over [start, end]."""
    query = (
        select(
            AccountDailyRollup.account_id,
            func.sum(AccountDailyRollup.scored_count),
            func.sum(AccountDailyRollup.score_sum),
        )
        .where(
            AccountDailyRollup.source == ALL_SOURCES,
            col(AccountDailyRollup.day) >= start,
            col(AccountDailyRollup.day) <= end,
        )
        .group_by(col(AccountDailyRollup.account_id))
    )
    if account_ids is not None:
        query = query.where(col(AccountDailyRollup.account_id).in_(account_ids))
    out: dict[str, tuple[float | None, int]] = {}
    for account_id, scored, total in session.exec(query).all():
        scored = int(scored or 0)
        out[account_id] = ((float(total or 0.0) / scored) if scored else None, scored)
    return out


def distinct_values(session: Session, column: Any, scope: AccountScope | None) -> list[str]:
    """The distinct non-empty values of an `Account` column (of accounts in `scope`)."""
    query = restrict_accounts(select(column).distinct().order_by(col(column)), scope)
    return [value for value in session.exec(query).all() if value]
