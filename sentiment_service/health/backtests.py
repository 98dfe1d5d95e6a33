"""Scorecards tried on stored data: backtests against account outcomes (the maths is in
backtest.py), weights fitted on a backtest's component points (weights.py), and a preview of
what a proposed scorecard would change against the version in force."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from pipelines.features import Basis
from pipelines.snapshots import end_of_day
from sentiment_service.health.backtest import (
    BacktestResult,
    BacktestRow,
    OverrideBacktest,
    OverrideBacktestRow,
    backtest,
    backtest_overrides,
)
from sentiment_service.health.overrides import effective_score
from sentiment_service.health.runs import (
    attributes_by_account,
    data_end,
    features_at,
    score_accounts,
)
from sentiment_service.health.scorecard import Scorecard
from sentiment_service.health.scorecard_versions import VersionedScorecard, get_scorecard
from sentiment_service.health.stored_overrides import active_override, to_override
from sentiment_service.health.weights import SuggestedWeights, component_points, suggest_weights
from sentiment_service.storage.tables import AccountOutcome


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
    result = backtest(
        [BacktestRow(i.account_id, i.score, i.band, i.outcome == positive) for i in items],
        flag_bands=versioned.flag_bands,
        lower_score_is_riskier=versioned.lower_is_riskier,
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
        flag_bands=versioned.flag_bands,
        lower_score_is_riskier=versioned.lower_is_riskier,
    )
    return ScorecardBacktest(
        versioned.card.id, versioned.version, horizon_days, result, override_result, items
    )


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
