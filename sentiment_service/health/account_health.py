"""An account's stored health, read for the API: the newest stored score under each scorecard
in force, explained (an active override wins, the computed score stays beside it), and the
daily score history. Scores are computed and stored by `sentiment-service health score`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from pipelines.snapshots import end_of_day
from sentiment_service.accounts import visible_account
from sentiment_service.auth.scope import AccountScope
from sentiment_service.health import service, stored_overrides
from sentiment_service.health.calibrate import calibrations, probability_of
from sentiment_service.health.drift import DarkSource
from sentiment_service.health.manual_overrides import OverrideOut, override_out
from sentiment_service.health.scoring import ComponentScore, HealthScore
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import ConfigVersion, HealthOverride, HealthScoreRecord

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
    return latest_records(session, account_id, [card_id], day).get(card_id)


def latest_records(
    session: Session, account_id: str, card_ids: Sequence[str], day: date | None
) -> dict[str, HealthScoreRecord]:
    """`latest_record` under each of the scorecards, in one statement (cards without a
    stored score are absent)."""
    if not card_ids:
        return {}
    record = HealthScoreRecord
    ranked = select_columns(
        col(record.id).label("id"),
        func.row_number()
        .over(
            partition_by=col(record.scorecard),
            order_by=(col(record.as_of).desc(), col(record.id).desc()),
        )
        .label("rank"),
    ).where(record.account_id == account_id, col(record.scorecard).in_(list(card_ids)))
    if day is not None:
        ranked = ranked.where(col(record.as_of) <= day)
    newest = ranked.subquery()
    rows = session.exec(
        select(record).join(newest, col(record.id) == newest.c.id).where(newest.c.rank == 1)
    ).all()
    return {row.scorecard: row for row in rows}


@dataclass(frozen=True)
class _ScoreContext:
    """What explaining a stored score needs beyond the record, read once for all of them."""

    override: HealthOverride | None
    calibration: ConfigVersion | None
    evidence: dict[int, list[dict[str, Any]]]  # by the component's position


def score_view(
    session: Session, record: HealthScoreRecord, now: datetime, evidence: bool
) -> HealthScoreOut:
    """A stored score explained, with the override in force at `now`; with `evidence`, the
    sentiment and topic components quote the messages behind them."""
    return score_views(session, [record], now, evidence)[0]


def score_views(
    session: Session, records: Sequence[HealthScoreRecord], now: datetime, evidence: bool
) -> list[HealthScoreOut]:
    """`score_view` of stored scores of one account, with their overrides, calibrations and
    evidence quotes each read in one statement for all of them."""
    if not records:
        return []
    account_id = records[0].account_id
    cards = [record.scorecard for record in records]
    overrides = stored_overrides.active_overrides_by_card(session, account_id, cards, now)
    fits = calibrations(session, cards)
    computed = [HealthScore.model_validate(record.explanation) for record in records]
    quoted = _evidence_by_component(session, records, computed, evidence)
    return [
        _score_out(
            record,
            computed[index],
            now,
            _ScoreContext(
                overrides.get(record.scorecard), fits.get(record.scorecard), quoted[index]
            ),
        )
        for index, record in enumerate(records)
    ]


def _evidence_by_component(
    session: Session,
    records: Sequence[HealthScoreRecord],
    computed: Sequence[HealthScore],
    evidence: bool,
) -> list[dict[int, list[dict[str, Any]]]]:
    """Per record, the evidence quotes of each component that has them (by position): those
    that quote evidence and are `ok`. Every component that quotes evidence is asked about,
    whatever its status, so that the statement has the same shape for every account of the
    same scorecards."""
    wanted: list[tuple[int, int, ComponentScore, datetime]] = []
    for index, (record, score) in enumerate(zip(records, computed, strict=True)):
        as_of = end_of_day(record.as_of)
        for position, component in enumerate(score.components):
            if evidence and component.evidence:
                wanted.append((index, position, component, as_of))
    if not wanted:
        return [{} for _ in records]
    account_id = records[0].account_id
    quotes = service.evidence_of_components(
        session, account_id, [(component, as_of) for _, _, component, as_of in wanted]
    )
    found: list[dict[int, list[dict[str, Any]]]] = [{} for _ in records]
    for (index, position, component, _), quoted in zip(wanted, quotes, strict=True):
        if component.status == "ok":
            found[index][position] = quoted
    return found


def _score_out(
    record: HealthScoreRecord, computed: HealthScore, now: datetime, context: _ScoreContext
) -> HealthScoreOut:
    override = context.override
    shown = stored_overrides.effective_with(computed, override, now)
    components = []
    for position, component in enumerate(computed.components):
        item = component.model_dump(mode="json")
        if position in context.evidence:
            item["evidence_messages"] = context.evidence[position]
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
        outcome_probability=probability_of(
            context.calibration, record.scorecard_version, record.score
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
    channels dark on the day the scores describe. The caller checks the account is visible.
    A fixed number of statements, whatever the number of scorecards and components."""
    cards = [versioned.card.id for versioned in service.active_scorecards(session)]
    latest = latest_records(session, account_id, cards, day)
    records = [latest[card] for card in cards if card in latest]
    unscored = [card for card in cards if card not in latest]
    scores = score_views(session, records, now, evidence)
    days = [record.as_of for record in records]
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
