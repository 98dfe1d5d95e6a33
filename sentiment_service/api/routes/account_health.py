"""An account's health: scores per scorecard with explanation and evidence, history, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from pipelines.dates import Day, Moment
from pipelines.snapshots import end_of_day
from sentiment_service.accounts import AccountId, visible_account
from sentiment_service.api.deps import Admin, DatabaseDep, Reader
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.audit import record_change
from sentiment_service.errors import InvalidInputError, NotFoundError
from sentiment_service.health import service
from sentiment_service.health.calibrate import outcome_probability
from sentiment_service.health.scoring import HealthScore
from sentiment_service.storage.tables import HealthOverride, HealthScoreRecord
from sentiment_service.storage.types import utcnow
from sentiment_service.text_rules import StripNul

router = APIRouter(prefix="/v1/accounts", tags=["health"])
AccountPath = Annotated[AccountId, Path(description="Our id of the account")]
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


def _override_out(row: HealthOverride, now: datetime) -> OverrideOut:
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


def latest_record(
    session: Session, account_id: str, card_id: str, day: date | None
) -> HealthScoreRecord | None:
    query = select(HealthScoreRecord).where(
        HealthScoreRecord.account_id == account_id, HealthScoreRecord.scorecard == card_id
    )
    if day is not None:
        query = query.where(col(HealthScoreRecord.as_of) <= day)
    return session.exec(
        query.order_by(col(HealthScoreRecord.as_of).desc(), col(HealthScoreRecord.id).desc()).limit(
            1
        )
    ).first()


def score_view(
    session: Session, record: HealthScoreRecord, now: datetime, evidence: bool
) -> dict[str, Any]:
    shown, override = service.effective(session, record, now)
    computed = HealthScore.model_validate(record.explanation)
    as_of = end_of_day(record.as_of)
    components = []
    for component in computed.components:
        item = component.model_dump(mode="json")
        if evidence and component.evidence and component.status == "ok":
            item["evidence_messages"] = service.evidence_for(
                session, record.account_id, component, as_of
            )
        components.append(item)
    return {
        "scorecard": record.scorecard,
        "scorecard_version": record.scorecard_version,
        "as_of": record.as_of.isoformat(),
        "score": shown.score,
        "band": shown.band,
        "source": shown.source,
        "computed_score": record.score,
        "computed_band": record.band,
        "override": _override_out(override, now).model_dump(mode="json") if override else None,
        "confidence": record.confidence,
        "coverage": computed.coverage,
        "peer_percentile": record.peer_percentile,
        "change_30d": record.explanation.get("change_30d"),
        "change_90d": record.explanation.get("change_90d"),
        "components": components,
        "missing": list(computed.missing),
        "stale": list(computed.stale),
        "no_evidence": list(computed.no_evidence),
        "outcome_probability": outcome_probability(
            session, record.scorecard, record.scorecard_version, record.score
        ),
        "drivers": record.explanation.get("drivers", []),
        "drivers_since": record.explanation.get("drivers_since"),
        "applied_segment_overrides": list(computed.applied_overrides),
    }


@router.get("/{account_id}/health", summary="Health per scorecard, explained")
def account_health(
    account_id: AccountPath,
    principal: Reader,
    database: DatabaseDep,
    day: Day | None = Query(None, description="Latest stored score on or before this day"),
    evidence: bool = Query(True, description="Quote the messages behind sentiment/topic parts"),
) -> dict[str, Any]:
    """The latest stored score under each scorecard in force: score and band to act on (an
    active override wins; the computed score stays beside it), confidence, peer percentile,
    change over 30/90 days, each component's contribution, the drivers of change, evidence
    quotes, and channels that went dark."""
    now = utcnow()
    with database.session() as session:
        visible_account(session, account_id, principal.scope)
        scores, unscored, days = [], [], []
        for versioned in service.active_scorecards(session):
            record = latest_record(session, account_id, versioned.card.id, day)
            if record is None:
                unscored.append(versioned.card.id)
                continue
            scores.append(score_view(session, record, now, evidence))
            days.append(record.as_of)
        # Dark channels are judged on the day the scores describe, not on the wall clock.
        as_of = end_of_day(max(days)) if days else end_of_day(day) if day else now
        dark = [
            d.model_dump(mode="json")
            for d in service.account_dark_sources(session, account_id, as_of)
        ]
    return {
        "account_id": account_id,
        "scores": scores,
        "not_scored_yet": unscored,
        "dark_sources": dark,
        "hint": "run `sentiment-service health score` to compute scores" if unscored else None,
    }


@router.get("/{account_id}/health/history", summary="Stored health scores over time")
def health_history(
    account_id: AccountPath,
    principal: Reader,
    database: DatabaseDep,
    scorecard: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = "churn_risk",
    start: Day | None = None,
    end: Day | None = None,
) -> dict[str, Any]:
    """Daily stored scores (oldest first) with band, confidence and scorecard version."""
    with database.session() as session:
        visible_account(session, account_id, principal.scope)
        query = select(HealthScoreRecord).where(
            HealthScoreRecord.account_id == account_id, HealthScoreRecord.scorecard == scorecard
        )
        if start is not None:
            query = query.where(col(HealthScoreRecord.as_of) >= start)
        if end is not None:
            query = query.where(col(HealthScoreRecord.as_of) <= end)
        rows = session.exec(query.order_by(col(HealthScoreRecord.as_of)).limit(5000)).all()
        points = [
            {
                "as_of": r.as_of.isoformat(),
                "score": r.score,
                "band": r.band,
                "confidence": r.confidence,
                "scorecard_version": r.scorecard_version,
            }
            for r in rows
        ]
    return {"account_id": account_id, "scorecard": scorecard, "points": points}


@router.get("/{account_id}/overrides", response_model=list[OverrideOut], summary="Overrides")
def list_overrides(
    account_id: AccountPath, principal: Reader, database: DatabaseDep
) -> list[OverrideOut]:
    """Every override of the account, newest first, including removed and expired ones."""
    now = utcnow()
    with database.session() as session:
        visible_account(session, account_id, principal.scope)
        rows = session.exec(
            select(HealthOverride)
            .where(HealthOverride.account_id == account_id)
            .order_by(col(HealthOverride.created_at).desc())
        ).all()
        return [_override_out(row, now) for row in rows]


@router.post(
    "/{account_id}/overrides", response_model=OverrideOut, status_code=201, summary="Override"
)
def create_override(
    account_id: AccountPath, body: OverrideIn, principal: Admin, database: DatabaseDep
) -> OverrideOut:
    """Set an account's score and/or band with a reason and an expiry (at most a year ahead).
    The computed score keeps being stored beside it; the change is audited."""
    now = utcnow()
    if body.score is None and body.band is None:
        raise InvalidInputError("give a score, a band or both", field="score")
    if body.expires_at <= now:
        raise InvalidInputError("expires_at must be in the future", field="expires_at")
    if body.expires_at > now + timedelta(days=MAX_OVERRIDE_DAYS):
        raise InvalidInputError("expires_at must be within a year", field="expires_at")
    with database.session() as session:
        visible_account(session, account_id, principal.scope)
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
            created_by=principal.actor,
            created_at=now,
            removed_at=None,
        )
        session.add(row)
        session.flush()
        record_change(
            session,
            actor=principal.actor,
            action="health.override",
            entity_type="account",
            entity_id=account_id,
            before=None,
            after=body.model_dump(mode="json") | {"override_id": row.id},
        )
        return _override_out(row, now)


@router.delete(
    "/{account_id}/overrides/{override_id}",
    response_model=OverrideOut,
    summary="Remove an override",
)
def remove_override(
    account_id: AccountPath,
    override_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: Admin,
    database: DatabaseDep,
) -> OverrideOut:
    """End an override now (it stays in the history and the audit log)."""
    now = utcnow()
    with database.session() as session:
        row = session.get(HealthOverride, override_id)
        if row is None or row.account_id != account_id:
            raise NotFoundError(f"override {override_id} does not exist", field="override_id")
        if row.removed_at is None:
            row.removed_at, row.removed_by = now, principal.actor
            session.add(row)
            record_change(
                session,
                actor=principal.actor,
                action="health.override_remove",
                entity_type="account",
                entity_id=account_id,
                before={"override_id": override_id},
                after={"removed_at": now.isoformat()},
            )
        return _override_out(row, now)
