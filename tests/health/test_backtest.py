"""Backtest metrics on constructed data, comparisons, the chart and the override backtest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from sentiment_service.health.backtest import (
    BacktestRow,
    OverrideBacktestRow,
    backtest,
    backtest_chart_png,
    backtest_overrides,
    compare_backtests,
    mann_whitney_auc,
)
from sentiment_service.health.overrides import Override, effective_score
from sentiment_service.health.scorecard import band_for
from sentiment_service.health.scoring import HealthScore
from tests.health.builders import AS_OF, card, component

BANDS = card([component("a")]).bands


def _rows(pairs: list[tuple[float, bool]]) -> list[BacktestRow]:
    return [
        BacktestRow(f"acct-{i}", score, band_for(score, BANDS), positive)
        for i, (score, positive) in enumerate(pairs)
    ]


def test_perfect_and_chance_auc() -> None:
    perfect = _rows([(10, True), (20, True), (30, True), (60, False), (80, False), (90, False)])
    assert backtest(perfect).auc == 1.0
    inverted = backtest(perfect, lower_score_is_riskier=False)
    assert inverted.auc == 0.0
    chance = _rows([(50, True), (50, False), (20, True), (20, False), (80, True), (80, False)])
    assert backtest(chance).auc == 0.5
    assert backtest(_rows([(10, True), (20, True)])).auc is None


@given(st.lists(st.tuples(st.integers(0, 100), st.booleans()), min_size=2, max_size=60))
def test_auc_matches_sklearn(pairs: list[tuple[int, bool]]) -> None:
    labels = [positive for _, positive in pairs]
    ours = mann_whitney_auc([-float(s) for s, _ in pairs], labels)
    if all(labels) or not any(labels):
        assert ours is None
    else:
        assert ours == pytest.approx(roc_auc_score(labels, [-s for s, _ in pairs]))


def test_band_metrics_and_calibration() -> None:
    # 10 accounts, 4 churned; at_risk (< 40) holds 3 accounts of which 2 churned.
    rows = _rows(
        [
            (10, True),
            (25, True),
            (35, False),
            (45, True),
            (55, False),
            (65, False),
            (75, True),
            (85, False),
            (95, False),
            (100, False),
        ]
    )
    rows.append(BacktestRow("acct-x", None, "unknown", True))
    result = backtest(rows, flag_bands={"at_risk"})
    assert (result.n, result.n_unscored, result.n_positive) == (10, 1, 4)
    assert result.base_rate == pytest.approx(0.4)
    assert (result.n_flagged, result.precision, result.recall) == (3, pytest.approx(2 / 3), 0.5)
    assert result.lift == pytest.approx((2 / 3) / 0.4)
    assert [(b.lo, b.hi, b.n, b.n_positive) for b in result.calibration] == [
        (0, 20, 1, 1),
        (20, 40, 2, 1),
        (40, 60, 2, 1),
        (60, 80, 2, 1),
        (80, 100, 3, 0),
    ]
    assert result.calibration[-1].observed_rate == 0.0
    assert result.roc[0] == (0.0, 0.0) and result.roc[-1] == (1.0, 1.0)
    tuples = backtest([(r.account_id, r.score, r.band, r.outcome_positive) for r in rows])
    assert tuples == result
    nobody_flagged = backtest(rows, flag_bands={"nothing"})
    assert (nobody_flagged.precision, nobody_flagged.lift, nobody_flagged.recall) == (
        None,
        None,
        0.0,
    )


def test_compare_and_chart() -> None:
    a = backtest(_rows([(10, True), (60, True), (30, False), (90, False)]))
    b = backtest(_rows([(10, True), (30, True), (60, False), (90, False)]))
    deltas = {d.metric: d for d in compare_backtests(a, b)}
    assert (deltas["auc"].a, deltas["auc"].b, deltas["auc"].delta) == (0.75, 1.0, 0.25)
    assert deltas["n"].delta == 0
    png = backtest_chart_png({"model": a, "with overrides": b}, title="Churn backtest")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    with pytest.raises(ValueError):
        backtest_chart_png({})


def _health(score: float) -> HealthScore:
    return HealthScore(
        scorecard_id="c",
        objective="churn_risk",
        as_of=AS_OF,
        score=score,
        band=band_for(score, BANDS),
        confidence=1.0,
        coverage=1.0,
        bands=BANDS,
        components=(),
        missing=(),
        stale=(),
    )


def test_did_humans_beat_the_model() -> None:
    until = AS_OF + timedelta(days=30)
    cases = [  # (computed score, human override score or None, churned)
        (80, 20, True),  # human saw the churn coming: right
        (30, None, True),
        (20, 75, False),  # human knew it was fine: right
        (70, None, False),
        (60, 30, False),  # human flagged a healthy one: wrong
        (90, None, False),
    ]
    rows = []
    for index, (computed, human, churned) in enumerate(cases):
        override = (
            None
            if human is None
            else Override(score=human, reason="r", expires_at=until, created_by="csm")
        )
        effective = effective_score(_health(computed), override, as_of=AS_OF)
        rows.append(OverrideBacktestRow.from_effective(f"a{index}", effective, churned))
    result = backtest_overrides(rows)
    assert result.n_overridden == 3
    assert (result.n_flag_changes_right, result.n_flag_changes_wrong) == (2, 1)
    assert result.computed.auc == pytest.approx(0.5)
    assert result.effective.auc == pytest.approx(0.9375)  # one tie at 30
    auc = next(d for d in result.comparison if d.metric == "auc")
    assert auc.delta == pytest.approx(0.4375)
    assert result.effective.recall == 1.0 and result.computed.recall == 0.5
