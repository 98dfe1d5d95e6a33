"""Stored overrides of an account's health: set, list and remove them, each change audited.

A person with the `admin` permission sets an account's score and/or band under one scorecard
with a reason and an expiry at most a year ahead; the computed score keeps being stored
beside it. How an override combines with the computed score is the pure rule in
`overrides.py`; the API (`/v1/accounts/{id}/overrides`) and the dashboard's override form both
go through the functions here, so validation, auditing and errors are identical.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from pipelines.dates import Moment
from sentiment_service.accounts import visible_account
from sentiment_service.audit import record_change
from sentiment_service.auth.scope import AccountScope
from sentiment_service.errors import InvalidInputError, NotFoundError
from sentiment_service.health import service
from sentiment_service.storage.tables import HealthOverride
from sentiment_service.storage.types import utcnow
from sentiment_service.text_rules import StripNul

MAX_OVERRIDE_DAYS = 366


class OverrideIn(BaseModel):
    """A person's score and/or band for an account under one scorecard, until `expires_at`."""

    scorecard: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    score: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    band: str | None = Field(None, max_length=32)
    reason: Annotated[str, StripNul] = Field(min_length=3, max_length=2000)
    expires_at: Moment

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("expires_at needs a time zone, e.g. 2026-12-31T00:00:00Z")
        return value.astimezone(UTC)


class OverrideOut(BaseModel):
    """A stored override and whether it is in force now."""

    id: int
    account_id: str
    scorecard: str
    score: float | None
    band: str | None
    reason: str
    expires_at: datetime
    created_by: str
    created_at: datetime
    removed_at: datetime | None
    removed_by: str | None
    active: bool


def override_out(row: HealthOverride, now: datetime) -> OverrideOut:
    """A stored override as the API shows it; `active`: in force at `now`."""
    active = row.removed_at is None and row.created_at <= now < row.expires_at
    return OverrideOut(
        id=row.id or 0,
        account_id=row.account_id,
        scorecard=row.scorecard,
        score=row.score,
        band=row.band,
        reason=row.reason,
        expires_at=row.expires_at,
        created_by=row.created_by,
        created_at=row.created_at,
        removed_at=row.removed_at,
        removed_by=row.removed_by,
        active=active,
    )


def list_overrides(
    session: Session, account_id: str, scope: AccountScope | None, now: datetime
) -> list[OverrideOut]:
    """Every override of the account, newest first, including removed and expired ones.

    NotFoundError when the account does not exist or `scope` does not cover it."""
    visible_account(session, account_id, scope)
    rows = session.exec(
        select(HealthOverride)
        .where(HealthOverride.account_id == account_id)
        .order_by(col(HealthOverride.created_at).desc())
    ).all()
    return [override_out(row, now) for row in rows]


def active_overrides(session: Session, account_id: str, now: datetime) -> list[OverrideOut]:
    """The account's overrides in force at `now` (not removed, started, not expired), newest
    first."""
    rows = session.exec(
        select(HealthOverride)
        .where(
            HealthOverride.account_id == account_id,
            col(HealthOverride.removed_at).is_(None),
            col(HealthOverride.created_at) <= now,
            col(HealthOverride.expires_at) > now,
        )
        .order_by(col(HealthOverride.created_at).desc(), col(HealthOverride.id).desc())
    ).all()
    return [override_out(row, now) for row in rows]


def create_override(
    session: Session,
    account_id: str,
    body: OverrideIn,
    *,
    actor: str,
    scope: AccountScope | None,
    now: datetime | None = None,
) -> OverrideOut:
    """Store an override set by `actor` at `now` (default: the current time) and audit it.

    InvalidInputError without a score and a band, with an expiry not in the coming year, an
    unknown scorecard or a band the scorecard lacks; NotFoundError when the account does not
    exist or `scope` does not cover it."""
    now = now or utcnow()
    if body.score is None and body.band is None:
        raise InvalidInputError("give a score, a band or both", field="score")
    if body.expires_at <= now:
        raise InvalidInputError("expires_at must be in the future", field="expires_at")
    if body.expires_at > now + timedelta(days=MAX_OVERRIDE_DAYS):
        raise InvalidInputError("expires_at must be within a year", field="expires_at")
    visible_account(session, account_id, scope)
    card = service.get_scorecard(session, body.scorecard)
    if card is None:
        raise InvalidInputError(f"no scorecard {body.scorecard!r}", field="scorecard")
    names = [b.name for b in card.card.bands]
    if body.band is not None and body.band not in names:
        raise InvalidInputError(f"band must be one of {names}", field="band")
    row = HealthOverride(
        account_id=account_id,
        scorecard=body.scorecard,
        score=body.score,
        band=body.band,
        reason=body.reason,
        expires_at=body.expires_at,
        created_by=actor,
        created_at=now,
        removed_at=None,
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="health.override",
        entity_type="account",
        entity_id=account_id,
        before=None,
        after=body.model_dump(mode="json") | {"override_id": row.id},
    )
    return override_out(row, now)


def remove_override(
    session: Session,
    account_id: str,
    override_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> OverrideOut:
    """End an override at `now` (it stays in the history and the audit log); removing it
    again changes nothing. NotFoundError when the account has no such override."""
    now = now or utcnow()
    row = session.get(HealthOverride, override_id)
    if row is None or row.account_id != account_id:
        raise NotFoundError(f"override {override_id} does not exist", field="override_id")
    if row.removed_at is None:
        row.removed_at, row.removed_by = now, actor
        session.add(row)
        record_change(
            session,
            actor=actor,
            action="health.override_remove",
            entity_type="account",
            entity_id=account_id,
            before={"override_id": override_id},
            after={"removed_at": now.isoformat()},
        )
    return override_out(row, now)
