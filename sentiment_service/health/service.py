"""Health scores in storage: scorecard versions, daily scoring, overrides, evidence, backtests.

This module joins the pure scoring maths (scoring.py, backtest.py, ...) with the database:
features come from pipelines.features (or stored feature snapshots), scorecards from the
versioned config store, and results go to `health_scores`.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from pipelines.features import SIGNAL_ROLES, Basis, account_features
from pipelines.queue import active_version
from pipelines.snapshots import days, end_of_day
from sentiment_service import config_store
from sentiment_service.health.backtest import (
    BacktestResult,
    BacktestRow,
    OverrideBacktest,
    OverrideBacktestRow,
    backtest,
    backtest_overrides,
)
from sentiment_service.health.drift import (
    DarkSource,
    LabelDrift,
    dark_sources,
    drift_status,
    label_drift,
    population_stability_index,
)
from sentiment_service.health.drivers import top_drivers
from sentiment_service.health.overrides import EffectiveScore, Override, effective_score
from sentiment_service.health.scorecard import (
    Scorecard,
    load_default_scorecards,
    resolve_scorecard,
    scorecard_diff,
    scorecard_to_dict,
)
from sentiment_service.health.scoring import (
    ComponentScore,
    FeatureValue,
    HealthScore,
    score_account,
)
from sentiment_service.health.transforms import PercentileTransform, percentile_rank
from sentiment_service.health.weights import SuggestedWeights, component_points, suggest_weights
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    AccountOutcome,
    CompetitorMention,
    FeatureSnapshot,
    HealthOverride,
    HealthScoreRecord,
    Message,
    MessageScore,
    MessageTopic,
    Metric,
)

SCORECARD_KIND = "scorecard"
DARK_CONFIDENCE_FACTOR = 0.85
SYSTEM_AUTHOR = "system"


@dataclass(frozen=True)
class VersionedScorecard:
    """A scorecard and the version number it is stored under."""

    card: Scorecard
    version: int

    @property
    def positive_outcome(self) -> str:
        """The outcome a backtest predicts: churn for churn_risk, expansion otherwise."""
        return "churned" if self.card.objective == "churn_risk" else "expanded"

    @property
    def flag_bands(self) -> tuple[str, ...]:
        """Bands that flag an account for action (the lowest band for churn, highest else)."""
        bands = self.card.bands
        return (bands[-1].name,) if self.card.objective == "churn_risk" else (bands[0].name,)

    @property
    def lower_is_riskier(self) -> bool:
        """For churn_risk a low health score predicts the outcome; for expansion a high one."""
        return self.card.objective == "churn_risk"


# --- scorecard versions -------------------------------------------------------------------


def ensure_default_scorecards(session: Session) -> None:
    """Store the shipped scorecards as version 1 when no version of them exists yet."""
    known = set(config_store.keys(session, SCORECARD_KIND))
    for card in load_default_scorecards():
        if card.id not in known:
            config_store.save_version(
                session,
                kind=SCORECARD_KIND,
                key=card.id,
                body=scorecard_to_dict(card),
                author=SYSTEM_AUTHOR,
                reason="shipped default",
            )


def active_scorecards(session: Session) -> list[VersionedScorecard]:
    """Every scorecard's published version in force."""
    ensure_default_scorecards(session)
    result = []
    for key in config_store.keys(session, SCORECARD_KIND):
        stored = config_store.latest(session, SCORECARD_KIND, key)
        if stored is not None:
            result.append(VersionedScorecard(Scorecard.model_validate(stored.body), stored.version))
    return result


def get_scorecard(
    session: Session, card_id: str, version: int | None = None
) -> VersionedScorecard | None:
    """A scorecard version (default: the published one in force)."""
    ensure_default_scorecards(session)
    stored = (
        config_store.get_version(session, SCORECARD_KIND, card_id, version)
        if version is not None
        else config_store.latest(session, SCORECARD_KIND, card_id)
    )
    if stored is None:
        return None
    return VersionedScorecard(Scorecard.model_validate(stored.body), stored.version)


def save_scorecard(
    session: Session, card: Scorecard, *, author: str, reason: str, draft: bool = False
) -> VersionedScorecard:
    """Store a new version of a scorecard (published, or a draft that is not in force)."""
    ensure_default_scorecards(session)
    current = get_scorecard(session, card.id)
    stored = config_store.save_version(
        session,
        kind=SCORECARD_KIND,
        key=card.id,
        body=scorecard_to_dict(card),
        author=author,
        reason=reason,
        status=config_store.DRAFT if draft else config_store.PUBLISHED,
    )
    if current is not None:
        stored.diff = scorecard_diff(current.card, card)
        session.add(stored)
    return VersionedScorecard(card, stored.version)


def without_kinds(card: Scorecard, kinds: set[str], suffix: str) -> Scorecard:
    """A variant of a scorecard without components of the given kinds (e.g. sentiment-free)."""
    body = scorecard_to_dict(card)
    body["id"] = f"{card.id}_{suffix}"
    body["name"] = f"{card.name} ({suffix.replace('_', ' ')})"
    body["components"] = [c for c in body["components"] if c["kind"] not in kinds]
    for override in body.get("segment_overrides", []):
        names = {c["name"] for c in body["components"]}
        override["weights"] = {k: v for k, v in override.get("weights", {}).items() if k in names}
        override["transforms"] = {
            k: v for k, v in override.get("transforms", {}).items() if k in names
        }
        override["add_components"] = [
            c for c in override.get("add_components", []) if c["kind"] not in kinds
        ]
    return Scorecard.model_validate(body)


# --- features and scoring -------------------------------------------------------------------


def attributes_by_account(session: Session) -> dict[str, dict[str, str | None]]:
    """Account attributes that segment overrides and peer groups use."""
    return {
        a.id: {"segment": a.segment, "industry": a.industry, "tier": a.tier, "owner": a.owner}
        for a in session.exec(select(Account).order_by(col(Account.id))).all()
    }


def features_at(
    session: Session, account_ids: Sequence[str], day: date, basis: Basis
) -> dict[str, dict[str, FeatureValue]]:
    """Features at the end of `day`: the stored snapshot when there is one, else computed."""
    stored = session.exec(
        select(FeatureSnapshot).where(
            FeatureSnapshot.as_of == day, col(FeatureSnapshot.account_id).in_(account_ids)
        )
    ).all()
    result: dict[str, dict[str, FeatureValue]] = {}
    for row in stored:
        if row.model_versions.get("basis") == basis:
            result[row.account_id] = {
                name: FeatureValue(
                    item["value"],
                    datetime.fromisoformat(item["observed_at"]) if item["observed_at"] else None,
                )
                for name, item in row.features.items()
            }
    missing = [a for a in account_ids if a not in result]
    if missing:
        result.update(account_features(session, missing, end_of_day(day), basis=basis))
    return result


def score_accounts(
    card: Scorecard,
    features: dict[str, dict[str, FeatureValue]],
    attributes: dict[str, dict[str, str | None]],
    as_of: datetime,
) -> dict[str, HealthScore]:
    """Score every account with one scorecard; peers are the accounts of the same segment."""
    segments: dict[str | None, list[str]] = defaultdict(list)
    for account_id in features:
        segments[attributes.get(account_id, {}).get("segment")].append(account_id)
    percentile_features = {
        c.feature
        for c in [*card.components, *(a for o in card.segment_overrides for a in o.add_components)]
        if isinstance(c.transform, PercentileTransform)
    }
    scores: dict[str, HealthScore] = {}
    for account_id, values in features.items():
        segment = attributes.get(account_id, {}).get("segment")
        peers = {
            name: [
                v
                for peer in segments[segment]
                if (v := features[peer].get(name, FeatureValue(None)).value) is not None
            ]
            for name in percentile_features
        }
        resolved = resolve_scorecard(card, attributes.get(account_id, {}))
        scores[account_id] = score_account(resolved, values, as_of=as_of, peers=peers)
    return scores


def peer_percentiles(
    scores: dict[str, HealthScore], attributes: dict[str, dict[str, str | None]]
) -> dict[str, float | None]:
    """Each account's score as a percentile among scored accounts of its segment."""
    by_segment: dict[str | None, list[float]] = defaultdict(list)
    for account_id, health in scores.items():
        if health.score is not None:
            by_segment[attributes.get(account_id, {}).get("segment")].append(health.score)
    return {
        account_id: (
            round(
                percentile_rank(
                    health.score, by_segment[attributes.get(account_id, {}).get("segment")]
                ),
                1,
            )
            if health.score is not None
            else None
        )
        for account_id, health in scores.items()
    }


def _previous(
    session: Session, account_id: str, card_id: str, before: date
) -> HealthScoreRecord | None:
    return session.exec(
        select(HealthScoreRecord)
        .where(
            HealthScoreRecord.account_id == account_id,
            HealthScoreRecord.scorecard == card_id,
            col(HealthScoreRecord.as_of) < before,
        )
        .order_by(col(HealthScoreRecord.as_of).desc())
        .limit(1)
    ).first()


def _score_on(session: Session, account_id: str, card_id: str, day: date) -> float | None:
    row = session.exec(
        select(HealthScoreRecord.score)
        .where(
            HealthScoreRecord.account_id == account_id,
            HealthScoreRecord.scorecard == card_id,
            col(HealthScoreRecord.as_of) <= day,
        )
        .order_by(col(HealthScoreRecord.as_of).desc())
        .limit(1)
    ).first()
    return row


def score_day(
    session: Session,
    day: date,
    *,
    basis: Basis = "known",
    scorecards: Sequence[VersionedScorecard] | None = None,
) -> list[HealthScoreRecord]:
    """Score every account under each scorecard at the end of `day` and store the results.

    Re-running a day replaces its rows for the same scorecard version. The explanation holds
    the component breakdown, the top drivers of change since the previous stored score, the
    change against the scores 30 and 90 days earlier, and the channels that went dark. Data
    going dark is its own signal: each dark channel multiplies the stored confidence by
    DARK_CONFIDENCE_FACTOR (the score itself is unchanged; alerts report the channel).
    """
    cards = list(scorecards) if scorecards is not None else active_scorecards(session)
    attributes = attributes_by_account(session)
    features = features_at(session, list(attributes), day, basis)
    as_of = end_of_day(day)
    records: list[HealthScoreRecord] = []
    dark_by_account: dict[str, list[DarkSource]] = {}
    for versioned in cards:
        card = versioned.card
        scores = score_accounts(card, features, attributes, as_of)
        percentiles = peer_percentiles(scores, attributes)
        session.execute(
            delete(HealthScoreRecord).where(
                HealthScoreRecord.scorecard == card.id,
                HealthScoreRecord.scorecard_version == versioned.version,
                HealthScoreRecord.as_of == day,
            )
        )
        for account_id, health in scores.items():
            explanation: dict[str, Any] = health.model_dump(mode="json")
            previous = _previous(session, account_id, card.id, day)
            if previous is not None:
                earlier = HealthScore.model_validate(previous.explanation)
                explanation["drivers"] = [
                    d.model_dump(mode="json") for d in top_drivers(earlier, health)
                ]
                explanation["drivers_since"] = previous.as_of.isoformat()
            for span in (30, 90):
                past = _score_on(session, account_id, card.id, day - timedelta(days=span))
                explanation[f"change_{span}d"] = (
                    round(health.score - past, 1)
                    if health.score is not None and past is not None
                    else None
                )
            explanation["basis"] = basis
            dark = dark_by_account.setdefault(
                account_id, account_dark_sources(session, account_id, as_of)
            )
            explanation["dark_sources"] = [d.model_dump(mode="json") for d in dark]
            confidence = round(health.confidence * DARK_CONFIDENCE_FACTOR ** len(dark), 4)
            record = HealthScoreRecord(
                account_id=account_id,
                scorecard=card.id,
                scorecard_version=versioned.version,
                as_of=day,
                score=health.score,
                band=health.band,
                confidence=confidence,
                peer_percentile=percentiles[account_id],
                explanation=explanation,
            )
            session.add(record)
            records.append(record)
    session.flush()
    return records


@dataclass
class ScoringSummary:
    """What a range of daily scoring did."""

    days: int = 0
    skipped_days: int = 0
    rows: int = 0
    scorecards: list[str] = field(default_factory=list)


def score_range(
    database: Database,
    start: date,
    end: date,
    *,
    basis: Basis = "known",
    replace: bool = False,
    step_days: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ScoringSummary:
    """Score every `step_days`-th day of a range and its last day (one transaction per day;
    resumes by skipping days already scored)."""
    summary = ScoringSummary()
    with database.session() as session:
        cards = active_scorecards(session)
    summary.scorecards = [f"{c.card.id}@{c.version}" for c in cards]
    for day in days(start, end, step_days):
        with database.session() as session:
            done = session.exec(
                select(func.count(col(HealthScoreRecord.id))).where(
                    HealthScoreRecord.as_of == day,
                    col(HealthScoreRecord.scorecard).in_([c.card.id for c in cards]),
                )
            ).one()
            if done and not replace:
                summary.skipped_days += 1
            else:
                summary.rows += len(score_day(session, day, basis=basis, scorecards=cards))
                summary.days += 1
        if progress is not None:
            progress(1)
    return summary


def data_end(session: Session) -> date | None:
    """The last day with any message or metric (the natural 'today' of loaded history)."""
    latest = [
        session.exec(select(func.max(Message.created_at))).one(),
        session.exec(select(func.max(Metric.observed_at))).one(),
    ]
    known = [moment for moment in latest if moment is not None]
    return max(known).date() if known else None


def ingested_later_share(session: Session, day: date) -> float:
    """The share of the messages and metrics that happened by the end of `day` but were
    ingested after it (history loaded after the fact). Scores with basis `known` see none of
    those rows on that day."""
    cutoff = end_of_day(day)
    total = later = 0
    for table, event in ((Message, Message.created_at), (Metric, Metric.observed_at)):
        happened = col(event) <= cutoff
        total += session.exec(select(func.count()).select_from(table).where(happened)).one()
        later += session.exec(
            select(func.count()).select_from(table).where(happened, col(table.ingested_at) > cutoff)  # type: ignore[attr-defined]
        ).one()
    return later / total if total else 0.0


# --- overrides ------------------------------------------------------------------------------


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


# --- backtests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestItem:
    """One account of a backtest: when it was scored and what happened."""

    account_id: str
    as_of: date
    outcome: str
    occurred_on: date
    score: float | None
    band: str
    effective_score: float | None
    effective_band: str
    points: dict[str, float | None] = field(default_factory=dict)  # per component, for weights


@dataclass
class ScorecardBacktest:
    """A scorecard version's backtest with its items and the override comparison."""

    scorecard: str
    version: int | None
    horizon_days: int
    result: BacktestResult
    overrides: OverrideBacktest
    items: list[BacktestItem]


def backtest_scorecard(
    session: Session,
    versioned: VersionedScorecard,
    *,
    horizon_days: int = 30,
    basis: Basis = "event",
) -> ScorecardBacktest:
    """Score each account with an outcome `horizon_days` before it (or on the last day with
    data, when the outcome lies beyond it) and measure how well the scores predicted it.

    The positive outcome is churn for churn_risk scorecards and expansion otherwise.
    """
    end = data_end(session)
    outcomes = session.exec(select(AccountOutcome).order_by(col(AccountOutcome.occurred_on))).all()
    latest: dict[str, AccountOutcome] = {}
    for outcome in outcomes:
        latest[outcome.account_id] = outcome
    attributes = attributes_by_account(session)
    by_day: dict[date, list[str]] = defaultdict(list)
    for account_id, outcome in latest.items():
        day = outcome.occurred_on - timedelta(days=horizon_days)
        by_day[min(day, end) if end else day].append(account_id)
    items: list[BacktestItem] = []
    for day, account_ids in sorted(by_day.items()):
        # Peers and percentiles need every account of the day, not only those with outcomes.
        features = features_at(session, list(attributes), day, basis)
        as_of = end_of_day(day)
        scores = score_accounts(versioned.card, features, attributes, as_of)
        for account_id in account_ids:
            health = scores[account_id]
            row = active_override(session, account_id, versioned.card.id, as_of)
            eff = effective_score(health, to_override(row) if row else None, as_of=as_of)
            outcome = latest[account_id]
            items.append(
                BacktestItem(
                    account_id,
                    day,
                    outcome.outcome,
                    outcome.occurred_on,
                    health.score,
                    health.band,
                    eff.score,
                    eff.band,
                    component_points(health),
                )
            )
    positive = versioned.positive_outcome
    options = {
        "flag_bands": versioned.flag_bands,
        "lower_score_is_riskier": versioned.lower_is_riskier,
    }
    result = backtest(
        [BacktestRow(i.account_id, i.score, i.band, i.outcome == positive) for i in items],
        **options,
    )
    override_result = backtest_overrides(
        [
            OverrideBacktestRow(
                i.account_id,
                i.score,
                i.band,
                i.effective_score,
                i.effective_band,
                i.outcome == positive,
            )
            for i in items
        ],
        **options,
    )
    return ScorecardBacktest(
        versioned.card.id, versioned.version, horizon_days, result, override_result, items
    )


# --- evidence, dark sources, drift, preview ---------------------------------------------------

EVIDENCE_PER_COMPONENT = 3
QUOTE_CHARS = 280


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def evidence_for(
    session: Session, account_id: str, component: ComponentScore, as_of: datetime
) -> list[dict[str, Any]]:
    """Messages behind a sentiment, topic or competitor component, worst first when the
    component pulls the score down and best first otherwise."""
    window = timedelta(days=90 if "90d" in component.feature else 30)
    hurting = component.transformed is not None and component.transformed < 50
    base = (
        col(Message.account_id) == account_id,
        col(Message.created_at) > as_of - window,
        col(Message.created_at) <= as_of,
        col(Message.author_role).in_(SIGNAL_ROLES),
    )
    if component.feature.startswith("competitor_"):
        rows = session.exec(
            select(Message, CompetitorMention)
            .join(CompetitorMention, col(CompetitorMention.message_id) == col(Message.id))
            .where(*base)
            .order_by(col(Message.created_at).desc())
            .limit(EVIDENCE_PER_COMPONENT)
        ).all()
        return [
            _evidence(m, c.evidence, c.score, c.label, competitor=c.competitor, intent=c.intent)
            for m, c in rows
        ]
    if component.feature.startswith("topic_"):
        topic = component.feature.removeprefix("topic_").rsplit("_", 2)[0]
        topic_rows = session.exec(
            select(Message, MessageTopic)
            .join(MessageTopic, col(MessageTopic.message_id) == col(Message.id))
            .where(*base, MessageTopic.topic == topic)
            .order_by(col(MessageTopic.score).asc() if hurting else col(Message.created_at).desc())
            .limit(EVIDENCE_PER_COMPONENT)
        ).all()
        return [_evidence(m, t.evidence, t.score, t.label, topic=topic) for m, t in topic_rows]
    version = active_version(session) or ""
    scored = session.exec(
        select(Message, MessageScore)
        .join(MessageScore, col(MessageScore.message_id) == col(Message.id))
        .where(*base, MessageScore.model_version == version, col(MessageScore.score).is_not(None))
        .order_by(col(MessageScore.score).asc() if hurting else col(MessageScore.score).desc())
        .limit(EVIDENCE_PER_COMPONENT)
    ).all()
    return [_evidence(m, m.text, s.score, s.label) for m, s in scored]


def _evidence(
    message: Message, quote: str, score: float | None, label: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "message_id": message.id,
        "source": message.source,
        "created_at": message.created_at.isoformat(),
        "quote": _quote(quote),
        "sentiment_score": round(score, 3) if score is not None else None,
        "sentiment_label": label,
        "language": message.language,
        **extra,
    }


def account_dark_sources(
    session: Session, account_id: str, as_of: datetime, *, history_days: int = 180
) -> list[DarkSource]:
    """Channels that used to send data for the account and went quiet (see drift.py)."""
    rows = session.exec(
        select(Message.source, Message.created_at).where(
            Message.account_id == account_id,
            col(Message.author_role).in_(SIGNAL_ROLES),
            col(Message.created_at) <= as_of,
            col(Message.created_at) > as_of - timedelta(days=history_days),
        )
    ).all()
    times: dict[str, list[datetime]] = defaultdict(list)
    for source, created in rows:
        times[source].append(created)
    last_seen: dict[str, datetime | None] = {}
    usual: dict[str, float] = {}
    for source, moments in times.items():
        moments.sort()
        last_seen[source] = moments[-1]
        # The usual gap is measured between days with messages: a call's utterances seconds
        # apart, or a busy ticket thread, must not make a one-day silence look unusual.
        active = sorted({moment.date() for moment in moments})
        gaps = sorted(float((b - a).days) for a, b in itertools.pairwise(active))
        usual[source] = gaps[len(gaps) // 2] if gaps else float(history_days) / 2
    return dark_sources(last_seen, sorted(times), as_of=as_of, usual_gap_days=usual)


def component_drift(
    session: Session, card_id: str, day: date, reference_day: date
) -> list[dict[str, Any]]:
    """PSI of each component's points (and of the score) between two stored scoring days
    (the latest stored day on or before each of `day` and `reference_day`)."""

    def points(on: date) -> dict[str, list[float]]:
        values: dict[str, list[float]] = defaultdict(list)
        for record in session.exec(
            select(HealthScoreRecord).where(
                HealthScoreRecord.scorecard == card_id, HealthScoreRecord.as_of == on
            )
        ).all():
            if record.score is not None:
                values["score"].append(record.score)
            for component in record.explanation.get("components", []):
                if component.get("transformed") is not None and component["status"] == "ok":
                    values[component["name"]].append(component["transformed"])
        return values

    def stored_day(on: date) -> date:
        found = session.exec(
            select(func.max(HealthScoreRecord.as_of)).where(
                HealthScoreRecord.scorecard == card_id, col(HealthScoreRecord.as_of) <= on
            )
        ).one()
        return found or on

    current, reference = points(stored_day(day)), points(stored_day(reference_day))
    report = []
    for name in sorted(
        name for name in set(current) & set(reference) if current[name] and reference[name]
    ):
        psi = population_stability_index(reference[name], current[name])
        report.append(
            {
                "name": name,
                "psi": round(psi, 4),
                "status": drift_status(psi),
                "n_reference": len(reference[name]),
                "n_current": len(current[name]),
            }
        )
    return report


def sentiment_label_drift(session: Session, as_of: datetime) -> LabelDrift | None:
    """The sentiment model's label mix in the last 30 days against the 90 days before (None
    when either period has no scored message)."""
    version = active_version(session) or ""

    def counts(start: datetime, end: datetime) -> dict[str, int]:
        rows = session.exec(
            select(MessageScore.label, func.count())
            .join(Message, col(Message.id) == col(MessageScore.message_id))
            .where(
                MessageScore.model_version == version,
                col(MessageScore.label).is_not(None),
                col(Message.created_at) > start,
                col(Message.created_at) <= end,
            )
            .group_by(MessageScore.label)
        ).all()
        return {label: count for label, count in rows if label}

    split = as_of - timedelta(days=30)
    reference, current = counts(split - timedelta(days=90), split), counts(split, as_of)
    if not reference or not current:
        return None
    return label_drift(reference, current)


def preview_scorecard(
    session: Session, proposed: Scorecard, day: date, basis: Basis = "known"
) -> list[dict[str, Any]]:
    """What a proposed scorecard would change, per account, against the version in force."""
    current = get_scorecard(session, proposed.id)
    attributes = attributes_by_account(session)
    features = features_at(session, list(attributes), day, basis)
    as_of = end_of_day(day)
    new = score_accounts(proposed, features, attributes, as_of)
    old = score_accounts(current.card, features, attributes, as_of) if current else {}
    changes = []
    for account_id, health in new.items():
        before = old.get(account_id)
        changes.append(
            {
                "account_id": account_id,
                "old_score": before.score if before else None,
                "old_band": before.band if before else None,
                "new_score": health.score,
                "new_band": health.band,
                "change": (
                    round(health.score - before.score, 1)
                    if before and before.score is not None and health.score is not None
                    else None
                ),
                "band_changed": before is None or before.band != health.band,
            }
        )
    return sorted(changes, key=lambda c: -abs(c["change"] or 0))


def suggest_scorecard_weights(
    session: Session, versioned: VersionedScorecard, *, horizon_days: int, basis: Basis
) -> tuple[ScorecardBacktest, SuggestedWeights]:
    """The scorecard's backtest and weights fitted on the component points it scored
    (weights.py; raises ValueError when the outcomes cannot support a fit)."""
    current = backtest_scorecard(session, versioned, horizon_days=horizon_days, basis=basis)
    samples = [(i.points, i.outcome == versioned.positive_outcome) for i in current.items]
    suggestion = suggest_weights(
        versioned.card, samples, higher_score_means_positive=not versioned.lower_is_riskier
    )
    return current, suggestion
