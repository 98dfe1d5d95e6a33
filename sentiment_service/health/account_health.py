"""An account's stored health, read for the API: the newest stored score under each scorecard
in force, explained (an active override wins, the computed score stays beside it), and the
daily score history. Scores are computed and stored by `sentiment-service health score`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from pipelines.snapshots import end_of_day
from sentiment_service.accounts import visible_account
from sentiment_service.auth.scope import AccountScope
from sentiment_service.health import service
from sentiment_service.health.calibrate import outcome_probability
from sentiment_service.health.drift import DarkSource
from sentiment_service.health.manual_overrides import OverrideOut, override_out
from sentiment_service.health.scoring import HealthScore
from sentiment_service.storage.tables import HealthScoreRecord

MAX_HISTORY_POINTS = 5000
SCORE_HINT = "run `sentiment-service health score` to compute scores"


class HealthScoreOut(BaseModel):
    """An account's stored score under one scorecard version, explained."""

    scorecard: str
    scorecard_version: int
    as_of: date = Field(description="The day the score describes")
    score: float | None = Field(description="The score to act on (an active override wins)")
    band: str = Field(description="The band to act on (an active override wins)")
    source: Literal["computed", "override"]
    computed_score: float | None
    computed_band: str
    override: OverrideOut | None = Field(description="The override in force, if any")
    confidence: float
    coverage: float
    peer_percentile: float | None
    change_30d: float | None
    change_90d: float | None
    components: list[dict[str, Any]] = Field(
        description="Each component's contribution; sentiment/topic parts may quote their "
        "messages in `evidence_messages`"
    )
    missing: list[str]
    stale: list[str]
    no_evidence: list[str]
    outcome_probability: dict[str, Any] | None = Field(
        description="Calibrated probability of the scorecard's outcome, with its sample size"
    )
    drivers: list[dict[str, Any]] = Field(description="What moved the score since")
    drivers_since: str | None = Field(description="The day of the earlier score (ISO date)")
    applied_segment_overrides: list[str]


class AccountHealthOut(BaseModel):
    """The account's health per scorecard in force, and channels that went dark."""

    account_id: str
    scores: list[HealthScoreOut]
    not_scored_yet: list[str] = Field(description="Scorecards without a stored score")
    dark_sources: list[DarkSource]
    hint: str | None


class HealthPointOut(BaseModel):
    """One stored daily score."""

    as_of: date
    score: float | None
    band: str
    confidence: float
    scorecard_version: int


class HealthHistoryOut(BaseModel):
    """An account's stored scores under one scorecard, oldest first."""

    account_id: str
    scorecard: str
    points: list[HealthPointOut]


def latest_record(
    session: Session, account_id: str, card_id: str, day: date | None
) -> HealthScoreRecord | None:
    """The newest stored score of the account under the scorecard (on or before `day`)."""
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
) -> HealthScoreOut:
    """A stored score explained, with the override in force at `now`; with `evidence`, the
    sentiment and topic components quote the messages behind them."""
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
    return HealthScoreOut(
        scorecard=record.scorecard,
        scorecard_version=record.scorecard_version,
        as_of=record.as_of,
        score=shown.score,
        band=shown.band,
        source=shown.source,
        computed_score=record.score,
        computed_band=record.band,
        override=override_out(override, now) if override else None,
        confidence=record.confidence,
        coverage=computed.coverage,
        peer_percentile=record.peer_percentile,
        change_30d=record.explanation.get("change_30d"),
        change_90d=record.explanation.get("change_90d"),
        components=components,
        missing=list(computed.missing),
        stale=list(computed.stale),
        no_evidence=list(computed.no_evidence),
        outcome_probability=outcome_probability(
            session, record.scorecard, record.scorecard_version, record.score
        ),
        drivers=record.explanation.get("drivers", []),
        drivers_since=record.explanation.get("drivers_since"),
        applied_segment_overrides=list(computed.applied_overrides),
    )


def health_of(
    session: Session,
    account_id: str,
    now: datetime,
    *,
    day: date | None = None,
    evidence: bool = True,
) -> AccountHealthOut:
    """The latest stored score (on or before `day`) under each scorecard in force, and the
    channels dark on the day the scores describe. The caller checks the account is visible."""
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
    return AccountHealthOut(
        account_id=account_id,
        scores=scores,
        not_scored_yet=unscored,
        dark_sources=service.account_dark_sources(session, account_id, as_of),
        hint=SCORE_HINT if unscored else None,
    )


def account_health(
    session: Session,
    account_id: str,
    scope: AccountScope | None,
    now: datetime,
    *,
    day: date | None = None,
    evidence: bool = True,
) -> AccountHealthOut:
    """`health_of` an account that exists and `scope` covers (else NotFoundError)."""
    visible_account(session, account_id, scope)
    return health_of(session, account_id, now, day=day, evidence=evidence)


def health_history(
    session: Session,
    account_id: str,
    scope: AccountScope | None,
    *,
    scorecard: str,
    start: date | None = None,
    end: date | None = None,
) -> HealthHistoryOut:
    """Daily stored scores between `start` and `end` (oldest first, at most
    MAX_HISTORY_POINTS); NotFoundError when the account does not exist or `scope` does not
    cover it."""
    visible_account(session, account_id, scope)
    query = select(HealthScoreRecord).where(
        HealthScoreRecord.account_id == account_id, HealthScoreRecord.scorecard == scorecard
    )
    if start is not None:
        query = query.where(col(HealthScoreRecord.as_of) >= start)
    if end is not None:
        query = query.where(col(HealthScoreRecord.as_of) <= end)
    rows = session.exec(query.order_by(col(HealthScoreRecord.as_of)).limit(MAX_HISTORY_POINTS))
    points = [
        HealthPointOut(
            as_of=r.as_of,
            score=r.score,
            band=r.band,
            confidence=r.confidence,
            scorecard_version=r.scorecard_version,
        )
        for r in rows.all()
    ]
    return HealthHistoryOut(account_id=account_id, scorecard=scorecard, points=points)
