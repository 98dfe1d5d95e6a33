"""The account page: health per scorecard explained with evidence, dark sources, overrides
and label corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from pipelines.snapshots import end_of_day
from sentiment_service.auth.scope import AccountScope
from sentiment_service.dashboard.views.scores import (
    CardInfo,
    latest_records,
    reference_day,
    scorecards,
)
from sentiment_service.health import service
from sentiment_service.health.calibrate import outcome_probability
from sentiment_service.health.scoring import HealthScore
from sentiment_service.storage.tables import (
    Account,
    HealthOverride,
    HealthScoreRecord,
    LabelCorrection,
    Message,
)


@dataclass
class Evidence:
    """A quoted message behind a component."""

    message_id: int
    source: str
    created_at: datetime
    quote: str
    sentiment_label: str | None
    sentiment_score: float | None
    extra: dict[str, Any]
    correction: LabelCorrection | None = None


@dataclass
class ComponentView:
    """One component of a score and what it contributed."""

    name: str
    label: str
    kind: str
    value: float | None
    transformed: float | None
    contribution: float
    max_points: float
    status: str
    reason: str | None
    evidence: list[Evidence]


@dataclass
class QuotedMessage:
    """An evidence message and the labels of the components it is quoted for."""

    evidence: Evidence
    components: list[str]


@dataclass
class ScoreView:
    """An account's newest score under one scorecard, explained."""

    card: CardInfo
    as_of: date
    score: float | None
    band: str
    source: str
    computed_score: float | None
    computed_band: str
    override: HealthOverride | None
    confidence: float
    coverage: float
    peer_percentile: float | None
    change_30d: float | None
    change_90d: float | None
    components: list[ComponentView]
    missing: list[str]
    stale: list[str]
    drivers: list[dict[str, Any]]
    drivers_since: str | None
    outcome_probability: dict[str, Any] | None = None

    @property
    def quoted(self) -> list[QuotedMessage]:
        """The evidence messages once each, with the components they stand behind."""
        found: dict[int, QuotedMessage] = {}
        for component in self.components:
            for item in component.evidence:
                entry = found.setdefault(item.message_id, QuotedMessage(item, []))
                entry.components.append(component.label)
        return list(found.values())

    @property
    def left_out(self) -> list[str]:
        """Labels of the components left out (no data, or too old)."""
        labels = {c.name: c.label for c in self.components}
        return [labels.get(name, name) for name in [*self.missing, *self.stale]]

    @property
    def max_points(self) -> float:
        """The largest track among the components (the bar chart's scale)."""
        return max((c.max_points for c in self.components), default=100.0)


@dataclass
class OverrideView:
    """An override with whether it is in force now."""

    row: HealthOverride
    active: bool
    status: str


@dataclass
class AccountView:
    """Everything the account page shows except trends and topics."""

    account: Account
    cards: list[CardInfo]
    scores: list[ScoreView]
    not_scored: list[CardInfo]
    dark_sources: list[Any]
    overrides: list[OverrideView]
    reference_day: date | None
    corrections: dict[int, LabelCorrection] = field(default_factory=dict)


def _evidence(items: list[dict[str, Any]]) -> list[Evidence]:
    known = {"message_id", "source", "created_at", "quote", "sentiment_label", "sentiment_score"}
    return [
        Evidence(
            message_id=int(item["message_id"]),
            source=str(item["source"]),
            created_at=datetime.fromisoformat(item["created_at"]),
            quote=str(item["quote"]),
            sentiment_label=item.get("sentiment_label"),
            sentiment_score=item.get("sentiment_score"),
            extra={k: v for k, v in item.items() if k not in known},
        )
        for item in items
    ]


def _override_status(row: HealthOverride, now: datetime) -> tuple[bool, str]:
    if row.removed_at is not None:
        return False, "removed"
    if now >= row.expires_at:
        return False, "expired"
    if row.created_at > now:
        return False, "scheduled"
    return True, "active"


def account(
    session: Session, account_id: str, now: datetime, scope: AccountScope | None = None
) -> AccountView | None:
    """The account's health per scorecard, dark sources and override history (None: unknown,
    or outside `scope`)."""
    found = session.get(Account, account_id)
    if found is None or (scope is not None and not scope.allows(found)):
        return None
    cards = scorecards(session)
    by_id = {c.id: c for c in cards}
    records = {r.scorecard: r for r in latest_records(session, [account_id])}
    scores: list[ScoreView] = []
    not_scored: list[CardInfo] = []
    for card in cards:
        record = records.get(card.id)
        if record is None:
            not_scored.append(card)
            continue
        scores.append(score_view(session, record, by_id[card.id], now))
    overrides = [
        OverrideView(row, *_override_status(row, now))
        for row in session.exec(
            select(HealthOverride)
            .where(HealthOverride.account_id == account_id)
            .order_by(col(HealthOverride.created_at).desc(), col(HealthOverride.id).desc())
        ).all()
    ]
    message_ids = {e.message_id for s in scores for c in s.components for e in c.evidence}
    corrections = latest_corrections(session, message_ids)
    for score in scores:
        for component in score.components:
            for item in component.evidence:
                item.correction = corrections.get(item.message_id)
    # Dark channels are judged on the day the scores describe, not on the wall clock.
    as_of = end_of_day(max(s.as_of for s in scores)) if scores else now
    dark = service.account_dark_sources(session, account_id, as_of)
    return AccountView(
        account=found,
        cards=cards,
        scores=scores,
        not_scored=not_scored,
        dark_sources=list(dark),
        overrides=overrides,
        reference_day=reference_day(session),
        corrections=corrections,
    )


def score_view(
    session: Session, record: HealthScoreRecord, card: CardInfo, now: datetime
) -> ScoreView:
    shown, override = service.effective(session, record, now)
    computed = HealthScore.model_validate(record.explanation)
    as_of = end_of_day(record.as_of)
    components = []
    for component in computed.components:
        evidence: list[Evidence] = []
        if component.evidence and component.status == "ok":
            evidence = _evidence(service.evidence_for(session, record.account_id, component, as_of))
        components.append(
            ComponentView(
                name=component.name,
                label=component.label,
                kind=component.kind,
                value=component.value,
                transformed=component.transformed,
                contribution=component.contribution,
                max_points=round(component.effective_weight * 100, 1),
                status=component.status,
                reason=component.reason,
                evidence=evidence,
            )
        )
    return ScoreView(
        card=card,
        as_of=record.as_of,
        score=shown.score,
        band=shown.band,
        source=shown.source,
        computed_score=record.score,
        computed_band=record.band,
        override=override,
        confidence=record.confidence,
        coverage=computed.coverage,
        peer_percentile=record.peer_percentile,
        change_30d=record.explanation.get("change_30d"),
        change_90d=record.explanation.get("change_90d"),
        components=components,
        missing=list(computed.missing),
        stale=list(computed.stale),
        drivers=list(record.explanation.get("drivers", [])),
        drivers_since=record.explanation.get("drivers_since"),
        outcome_probability=outcome_probability(
            session, record.scorecard, record.scorecard_version, record.score
        ),
    )


def latest_corrections(session: Session, message_ids: set[int]) -> dict[int, LabelCorrection]:
    """The newest sentiment-label correction of each message."""
    if not message_ids:
        return {}
    rows = session.exec(
        select(LabelCorrection)
        .where(col(LabelCorrection.message_id).in_(sorted(message_ids)))
        .order_by(col(LabelCorrection.corrected_at), col(LabelCorrection.id))
    ).all()
    return {row.message_id: row for row in rows}


def message_of_account(session: Session, account_id: str, message_id: int) -> Message | None:
    """The message when it belongs to the account."""
    message = session.get(Message, message_id)
    return message if message is not None and message.account_id == account_id else None
