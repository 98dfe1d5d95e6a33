"""The shipped churn scorecard flags the accounts that leave, on scenarios with known truth run
through the real path: HTTP ingestion -> scoring worker (real models) -> daily health scores
-> backtest (evaluation/health_scenarios.py). 40 accounts, 20 of which churn."""

from __future__ import annotations

from functools import cache

import pytest

from evaluation.health_scenarios import ScenarioResult, run_scenario

pytestmark = pytest.mark.slow


@cache
def _churn(scenario: str) -> ScenarioResult:
    results = run_scenario(scenario, accounts=40, seed=7)  # type: ignore[arg-type]
    (churn,) = [r for r in results if r.scorecard.startswith("churn_risk@")]
    assert (churn.accounts, churn.churners) == (40, 20)
    return churn


@pytest.mark.parametrize("scenario", ["sentiment", "usage"])
def test_a_strong_signal_is_ranked_and_flagged(scenario: str) -> None:
    churn = _churn(scenario)
    assert churn.auc is not None and churn.auc >= 0.9, churn
    assert churn.precision is not None and churn.precision >= 0.6, churn
    assert churn.recall is not None and churn.recall >= 0.6, churn


def test_sentiment_carries_the_signal_when_sentiment_drives_churn() -> None:
    churn = _churn("sentiment")
    assert churn.auc_without_sentiment is not None and churn.auc is not None
    assert churn.auc - churn.auc_without_sentiment >= 0.2, churn


def test_two_half_strength_signals_still_flag() -> None:
    churn = _churn("mixed")
    assert churn.auc is not None and churn.auc >= 0.85, churn
    assert churn.precision is not None and churn.precision >= 0.6, churn
    assert churn.recall is not None and churn.recall >= 0.5, churn


def test_no_signal_ranks_at_chance_and_flags_sparingly() -> None:
    churn = _churn("none")
    assert churn.auc is not None and 0.3 <= churn.auc <= 0.7, churn
    assert churn.flagged / churn.accounts <= churn.base_rate / 2, churn
