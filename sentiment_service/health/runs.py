"""Score runs: features at the end of a day (stored snapshots, else computed by
pipelines.features), every account scored under each scorecard, and the results stored in
`health_scores` with their explanation (one day, or a range of days); and how far the loaded
history reaches (`data_end`, `ingested_later_share`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from pipelines.features import Basis, account_features
from pipelines.snapshots import days, end_of_day
from sentiment_service.health.drift import DarkSource
from sentiment_service.health.drivers import top_drivers
from sentiment_service.health.evidence import account_dark_sources
from sentiment_service.health.scorecard import Scorecard, resolve_scorecard
from sentiment_service.health.scorecard_versions import VersionedScorecard, active_scorecards
from sentiment_service.health.scoring import FeatureValue, HealthScore, score_account
from sentiment_service.health.transforms import PercentileTransform, percentile_rank
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    FeatureSnapshot,
    HealthScoreRecord,
    Message,
    Metric,
)

DARK_CONFIDENCE_FACTOR = 0.85


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
                col(HealthScoreRecord.scorecard) == card.id,
                col(HealthScoreRecord.scorecard_version) == versioned.version,
                col(HealthScoreRecord.as_of) == day,
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
            select(func.count()).select_from(table).where(happened, col(table.ingested_at) > cutoff)
        ).one()
    return later / total if total else 0.0
