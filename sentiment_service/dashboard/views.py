"""What the dashboard pages show, read from the database through the service layer.

These functions return plain dataclasses for the templates; they hold no HTTP concerns.
Scores are the ones stored by `sentiment-service health score` (the newest per account and
scorecard), with an active override winning exactly as in `GET /v1/accounts/{id}/health`.
Sentiment figures come from the daily rollups, the same numbers as the trend endpoints.
A user whose key is scoped to segments/owners (`scope`, None for everyone else) sees only the
accounts in that scope, in lists, totals, filters, account pages and topic summaries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from pipelines.rollups import ALL_SOURCES
from pipelines.snapshots import end_of_day
from pipelines.topics import active_taxonomy
from sentiment_service import topic_insights as insights
from sentiment_service.auth.scope import AccountScope, restrict_accounts
from sentiment_service.health import service
from sentiment_service.health.calibrate import outcome_probability
from sentiment_service.health.criteria import CriterionOut, criteria_items
from sentiment_service.health.overrides import effective_score
from sentiment_service.health.scoring import HealthScore
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    HealthOverride,
    HealthScoreRecord,
    LabelCorrection,
    Message,
)
from sentiment_service.trends import DailyCounts, bucket_start, trend
from sentiment_service.vocabulary import Source

PORTFOLIO_ROW_LIMIT = 500
SENTIMENT_WINDOW_DAYS = 30
TREND_DAYS = 90
COMPETITORS_SHOWN = 10


# --- shared ---------------------------------------------------------------------------------


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


def _latest_records(
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


def _active_overrides(
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


def _mean_by_account(
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


# --- portfolio ------------------------------------------------------------------------------


@dataclass
class PortfolioRow:
    """One account in the portfolio table."""

    account_id: str
    name: str
    segment: str | None
    owner: str | None
    score: float | None
    band: str | None
    overridden: bool
    confidence: float | None
    as_of: date | None
    sentiment_30d: float | None
    sentiment_change: float | None
    scored_30d: int


@dataclass
class BandCount:
    """How many accounts sit in one band of a scorecard."""

    band: str
    count: int


@dataclass
class Portfolio:
    """The overview page."""

    cards: list[CardInfo]
    card: CardInfo | None
    band_counts: dict[str, list[BandCount]]
    unscored: dict[str, int]
    rows: list[PortfolioRow]
    truncated: bool
    total_accounts: int
    matching_accounts: int
    segments: list[str]
    owners: list[str]
    window_end: date | None
    scored_accounts: int = 0


def portfolio(
    session: Session,
    *,
    scorecard: str | None,
    segment: str | None,
    owner: str | None,
    band: str | None,
    now: datetime,
    scope: AccountScope | None = None,
) -> Portfolio:
    """Accounts by band and the account table, biggest 30-day sentiment drops first (the
    accounts in `scope` only, when given)."""
    cards = scorecards(session)
    card = next((c for c in cards if c.id == scorecard), cards[0] if cards else None)
    total = session.exec(restrict_accounts(select(func.count()).select_from(Account), scope)).one()
    segments = _distinct_values(session, Account.segment, scope)
    owners = _distinct_values(session, Account.owner, scope)
    query = restrict_accounts(select(Account).order_by(col(Account.id)), scope)
    if segment:
        query = query.where(Account.segment == segment)
    if owner:
        query = query.where(Account.owner == owner)
    accounts = list(session.exec(query).all())
    ids = [a.id for a in accounts] if (segment or owner or scope) else None
    records = _latest_records(session, ids)
    overrides = _active_overrides(session, ids, now)
    shown: dict[tuple[str, str], tuple[float | None, str, bool, HealthScoreRecord]] = {}
    for record in records:
        row = overrides.get((record.account_id, record.scorecard))
        if row is None:
            shown[(record.account_id, record.scorecard)] = (
                record.score,
                record.band,
                False,
                record,
            )
            continue
        effective = effective_score(
            HealthScore.model_validate(record.explanation), service.to_override(row), as_of=now
        )
        shown[(record.account_id, record.scorecard)] = (
            effective.score,
            effective.band,
            effective.source == "override",
            record,
        )
    band_counts: dict[str, list[BandCount]] = {}
    unscored: dict[str, int] = {}
    for info in cards:
        counts = dict.fromkeys(info.bands, 0)
        missing = 0
        for account in accounts:
            item = shown.get((account.id, info.id))
            if item is None:
                missing += 1
            else:
                counts[item[1]] = counts.get(item[1], 0) + 1
        band_counts[info.id] = [BandCount(name, count) for name, count in counts.items()]
        unscored[info.id] = missing
    end = reference_day(session)
    now_means: dict[str, tuple[float | None, int]] = {}
    before_means: dict[str, tuple[float | None, int]] = {}
    if end is not None:
        start = end - timedelta(days=SENTIMENT_WINDOW_DAYS - 1)
        now_means = _mean_by_account(session, start, end, ids)
        before_means = _mean_by_account(
            session,
            start - timedelta(days=SENTIMENT_WINDOW_DAYS),
            start - timedelta(days=1),
            ids,
        )
    rows: list[PortfolioRow] = []
    for account in accounts:
        item = shown.get((account.id, card.id)) if card else None
        if band and (item is None or item[1] != band):
            continue
        current, scored = now_means.get(account.id, (None, 0))
        previous, _ = before_means.get(account.id, (None, 0))
        change = current - previous if current is not None and previous is not None else None
        rows.append(
            PortfolioRow(
                account_id=account.id,
                name=account.name,
                segment=account.segment,
                owner=account.owner,
                score=item[0] if item else None,
                band=item[1] if item else None,
                overridden=item[2] if item else False,
                confidence=item[3].confidence if item else None,
                as_of=item[3].as_of if item else None,
                sentiment_30d=current,
                sentiment_change=change,
                scored_30d=scored,
            )
        )
    rows.sort(
        key=lambda r: (
            r.sentiment_change is None,
            r.sentiment_change if r.sentiment_change is not None else 0.0,
            r.account_id,
        )
    )
    return Portfolio(
        cards=cards,
        card=card,
        band_counts=band_counts,
        unscored=unscored,
        rows=rows[:PORTFOLIO_ROW_LIMIT],
        truncated=len(rows) > PORTFOLIO_ROW_LIMIT,
        total_accounts=int(total or 0),
        matching_accounts=len(rows),
        segments=segments,
        owners=owners,
        window_end=end,
        scored_accounts=len({r.account_id for r in records}),
    )


def _distinct_values(session: Session, column: Any, scope: AccountScope | None) -> list[str]:
    """The distinct non-empty values of an `Account` column (of accounts in `scope`)."""
    query = restrict_accounts(select(column).distinct().order_by(col(column)), scope)
    return [value for value in session.exec(query).all() if value]


# --- one account ----------------------------------------------------------------------------


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
    records = {r.scorecard: r for r in _latest_records(session, [account_id])}
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


# --- sentiment trend by source --------------------------------------------------------------


@dataclass
class TrendSeries:
    """Weekly points of one source ('all' is every source together)."""

    source: str
    weeks: list[date]
    means: list[float | None]
    counts: list[int]


@dataclass
class TrendView:
    """The account's weekly sentiment by source over the last `TREND_DAYS` days of data."""

    start: date | None
    end: date | None
    weeks: list[date]
    series: list[TrendSeries]


def sentiment_trend(session: Session, account_id: str) -> TrendView:
    """Weekly mean sentiment per source, from the daily rollups."""
    end = reference_day(session)
    if end is None:
        return TrendView(None, None, [], [])
    start = end - timedelta(days=TREND_DAYS - 1)
    rows = session.exec(
        select(AccountDailyRollup).where(
            AccountDailyRollup.account_id == account_id,
            col(AccountDailyRollup.day) >= start,
            col(AccountDailyRollup.day) <= end,
        )
    ).all()
    daily: dict[str, list[DailyCounts]] = defaultdict(list)
    for r in rows:
        daily[r.source].append(
            DailyCounts(
                r.day,
                r.message_count,
                r.scored_count,
                r.score_sum,
                r.negative_count,
                r.positive_count,
            )
        )
    order = [ALL_SOURCES, *(s.value for s in Source)]
    sources = sorted(daily, key=lambda s: (order.index(s) if s in order else len(order), s))
    points = {
        source: {p.period_start: p for p in trend(daily[source], "week")} for source in sources
    }
    first = bucket_start(start, "week")
    weeks = [first + timedelta(days=7 * i) for i in range((end - first).days // 7 + 1)]
    series = []
    for source in sources:
        by_week = points[source]
        if not any(p.scored_count for p in by_week.values()):
            continue
        series.append(
            TrendSeries(
                source=source,
                weeks=weeks,
                means=[by_week[w].mean_score if w in by_week else None for w in weeks],
                counts=[by_week[w].scored_count if w in by_week else 0 for w in weeks],
            )
        )
    return TrendView(start, end, weeks, series)


# --- topics ---------------------------------------------------------------------------------


@dataclass
class AccountTopicsView:
    """The account's topics with their sentiment and its competitor mentions."""

    start: date
    end: date
    topics: list[insights.AccountTopicOut]
    competitors: list[insights.AccountCompetitorOut]
    competitor_total: int


def account_topics(session: Session, account_id: str) -> AccountTopicsView:
    """Topics and competitor mentions in the default topic period (as GET /v1/accounts/{id}/
    topics, without the keyphrases, which need the spaCy model)."""
    period = insights.resolve_period(session, None, None)
    taxonomy, _ = active_taxonomy(session)
    topics = insights.account_topic_stats(
        session, account_id, period, insights.topic_names(taxonomy)
    )
    competitors, total = insights.account_competitors(session, account_id, period)
    return AccountTopicsView(
        start=period.start,
        end=period.end,
        topics=topics,
        competitors=competitors[:COMPETITORS_SHOWN],
        competitor_total=total,
    )


def topic_summary(
    session: Session,
    *,
    segment: str | None,
    source: str | None,
    scope: AccountScope | None = None,
) -> insights.TopicSummaryOut:
    """The portfolio topic summary of the default period (over the accounts in `scope`)."""
    period = insights.resolve_period(session, None, None)
    return insights.topic_summary(session, period, segment=segment, source=source, scope=scope)


def segments(session: Session, scope: AccountScope | None = None) -> list[str]:
    """Every segment that accounts (in `scope`) use."""
    return _distinct_values(session, Account.segment, scope)


# --- scorecard criteria ---------------------------------------------------------------------


@dataclass
class CriteriaView:
    """A scorecard's components in plain words."""

    id: str
    name: str
    version: int
    description: str
    bands: list[dict[str, Any]]
    components: list[CriterionOut]
    segment_overrides: list[dict[str, Any]]


def criteria(session: Session, card_id: str) -> CriteriaView | None:
    """The criteria of a scorecard in force (None: unknown)."""
    found = service.get_scorecard(session, card_id)
    if found is None:
        return None
    card = found.card
    return CriteriaView(
        id=card.id,
        name=card.name,
        version=found.version,
        description=card.description,
        bands=[{"name": b.name, "min_score": b.min_score} for b in card.bands],
        components=criteria_items(card),
        segment_overrides=[
            {
                "name": o.name,
                "match": o.match,
                "weights": o.weights,
                "adds": [a.label for a in o.add_components],
            }
            for o in card.segment_overrides
        ],
    )
