"""Absent evidence, the power mean, weight shrinkage, and thresholds and probabilities fitted on
backtests (issue 18)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment_service.health.calibrate import _with_threshold
from sentiment_service.health.calibration import (
    fit_probability,
    flag_stats,
    propose_threshold,
)
from sentiment_service.health.scorecard import load_default_scorecards, resolve_scorecard
from sentiment_service.health.scoring import score_account
from tests.health.builders import AS_OF, card, component, fresh

COMPETITORS = component(
    "competitors",
    feature="competitor_mentions_90d",
    kind="topic",
    transform={"type": "bands", "steps": [[0, 100], [1, 60], [3, 30]], "above": 0},
    direction="lower_is_better",
    zero_is="no_evidence",
    no_evidence_text="no competitor mentions in 90 days",
)
SENTIMENT = component(
    "sentiment",
    feature="sentiment_mean_30d",
    kind="sentiment",
    transform={"type": "min_max", "lo": -0.5, "hi": 0.5},
)


def test_no_competitor_mentions_is_neutral_not_full_points() -> None:
    scorecard = card([SENTIMENT, COMPETITORS])
    unhappy = {"sentiment_mean_30d": fresh(-0.3), "competitor_mentions_90d": fresh(0)}
    health = score_account(resolve_scorecard(scorecard, {}), unhappy, as_of=AS_OF)
    competitors = health.component("competitors")
    assert competitors is not None and competitors.status == "no_evidence"
    assert competitors.reason == "no competitor mentions in 90 days: neutral"
    assert competitors.contribution == 0 and competitors.transformed == 100
    assert health.score == 20.0  # the sentiment alone; before, (20 + 100) / 2 = 60
    assert health.no_evidence == ("competitors",)
    assert health.confidence == pytest.approx(0.5)  # absent evidence backs nothing
    named = score_account(
        resolve_scorecard(scorecard, {}),
        {**unhappy, "competitor_mentions_90d": fresh(2)},
        as_of=AS_OF,
    )
    assert named.component("competitors").status == "ok"  # type: ignore[union-attr]
    assert named.score == pytest.approx((20 + 30) / 2)


def test_power_mean_lets_one_bad_family_pull_the_score_down() -> None:
    parts = [component(name) for name in ("a", "b", "c")]
    mean_card = card(parts)
    power_card = card(parts, aggregation={"type": "power_mean", "p": 0.25})
    features = {"f_a": fresh(1.0), "f_b": fresh(1.0), "f_c": fresh(0.1)}
    mean = score_account(resolve_scorecard(mean_card, {}), features, as_of=AS_OF)
    power = score_account(resolve_scorecard(power_card, {}), features, as_of=AS_OF)
    assert mean.score == 70.0
    assert power.score == pytest.approx(53.2, abs=0.05)
    assert sum(c.contribution for c in power.components) == pytest.approx(power.score)
    # the bad component's share of the score is below its weight share
    assert power.component("c").contribution < power.score / 3  # type: ignore[union-attr]


@given(
    st.lists(st.floats(0, 1), min_size=2, max_size=5),
    st.integers(0, 4),
    st.floats(0, 0.5),
)
def test_power_mean_stays_between_min_and_max_and_rises_with_each_part(
    values: list[float], which: int, bump: float
) -> None:
    parts = [component(f"c{i}", weight=1 + i) for i in range(len(values))]
    scorecard = resolve_scorecard(card(parts, aggregation={"type": "power_mean", "p": 0.25}), {})
    features = {f"f_c{i}": fresh(v) for i, v in enumerate(values)}
    health = score_account(scorecard, features, as_of=AS_OF)
    assert health.score is not None
    assert min(values) * 100 - 0.1 <= health.score <= max(values) * 100 + 0.1
    index = which % len(values)
    better = dict(features)
    better[f"f_c{index}"] = fresh(min(values[index] + bump, 1.0))
    assert score_account(scorecard, better, as_of=AS_OF).score >= health.score  # type: ignore[operator]


def test_few_messages_move_the_score_less_with_shrink_weights() -> None:
    parts = [SENTIMENT, component("usage")]
    rule = {"feature": "message_count_30d", "half_count": 10, "shrink_weights": True}
    scorecard = resolve_scorecard(card(parts, message_volume=rule), {})
    base = {"sentiment_mean_30d": fresh(-0.5), "f_usage": fresh(1.0)}
    few = score_account(scorecard, {**base, "message_count_30d": fresh(2)}, as_of=AS_OF)
    many = score_account(scorecard, {**base, "message_count_30d": fresh(40)}, as_of=AS_OF)
    assert few.score is not None and many.score is not None
    assert few.score > many.score  # 2 messages count 1/6 of the weight, 40 count 4/5
    assert few.score == pytest.approx(100 / (1 + 1 / 6), abs=0.1)


def test_shipped_churn_card_treats_absence_as_neutral_and_uses_the_power_mean() -> None:
    churn = load_default_scorecards()[0]
    assert churn.aggregation.type == "power_mean"
    assert churn.message_volume is not None and churn.message_volume.shrink_weights
    absent = {c.name for c in churn.components if c.zero_is == "no_evidence"}
    assert {"competitor_mentions", "billing_complaints", "outage_reports"} <= absent
    assert [band.min_score for band in churn.bands] == [70, 50, 0]


def _rows(seed: int, n: int = 60) -> list[tuple[float, bool]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        churned = rng.random() < 0.4
        rows.append((rng.gauss(45 if churned else 65, 10), churned))
    return rows


def test_proposed_threshold_meets_the_precision_target_with_the_best_recall() -> None:
    rows = _rows(1)
    proposal = propose_threshold(rows, lower_is_riskier=True, target_precision=0.7)
    assert proposal is not None
    flagged, precision, recall = flag_stats(rows, proposal.threshold, lower_is_riskier=True)
    assert precision >= 0.7 and (flagged, recall) == (proposal.flagged, proposal.recall)
    # no other candidate threshold meeting the target has a better recall
    for candidate in range(0, 101):
        _, p, r = flag_stats(rows, candidate, lower_is_riskier=True)
        if p >= 0.7:
            assert r <= proposal.recall + 1e-9
    by_recall = propose_threshold(rows, lower_is_riskier=True, target_recall=0.9)
    assert by_recall is not None and by_recall.recall >= 0.9


def test_no_proposal_or_probability_without_enough_outcomes() -> None:
    rows = _rows(2, n=12)
    assert propose_threshold(rows, lower_is_riskier=True, target_precision=0.6) is None
    assert fit_probability(rows) is None
    with pytest.raises(ValueError, match="exactly one"):
        propose_threshold(_rows(3), lower_is_riskier=True)


def test_probability_falls_with_the_health_score_and_matches_the_rates() -> None:
    rows = _rows(4, n=400)
    fit = fit_probability(rows)
    assert fit is not None and fit.slope < 0 and fit.n == 400
    assert fit.probability(30) > 0.8 > 0.2 > fit.probability(80)
    low = [positive for score, positive in rows if score < 50]
    assert fit.probability(45) == pytest.approx(sum(low) / len(low), abs=0.2)
    separable = [(float(s), s < 50) for s in range(0, 100, 4)]  # perfectly separable
    steep = fit_probability(separable)
    assert steep is not None and 0.0 < steep.probability(99) < steep.probability(1) < 1.0


def test_moving_the_threshold_keeps_bands_descending() -> None:
    churn = load_default_scorecards()[0]
    moved = _with_threshold(churn, 75.0, lower_is_riskier=True)
    assert [band.min_score for band in moved.bands] == [76.0, 75.0, 0]
    expansion = load_default_scorecards()[1]
    lowered = _with_threshold(expansion, 30.0, lower_is_riskier=False)
    starts = [band.min_score for band in lowered.bands]
    assert starts[0] == 30.0 and starts[1] < 30.0 and starts[-1] == 0
