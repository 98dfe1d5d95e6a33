"""Band thresholds and outcome probabilities fitted on backtests (pure).

Input rows are `(score, outcome_positive)` from a backtest (`backtest.py`): each account's score
some days before its outcome. What "flagged" means follows the scorecard: for a health score
(`lower_is_riskier`) the riskiest band is the lowest one and an account is flagged when its
score is *below* the threshold; for an expansion score the flagged band is the top one and an
account is flagged when its score is *at or above* the threshold.

- `propose_threshold`: the threshold that meets a precision target with the highest recall (or
  a recall target with the highest precision). Candidates are the midpoints between distinct
  observed scores, so the proposal never depends on where exactly a score fell between two
  neighbours. None when no threshold meets the target or there are too few outcomes.
- `fit_probability`: a one-variable logistic regression of the outcome on the score (Newton's
  method with a weak ridge penalty), so that a score reads as "x % of accounts scored like
  this churned within the horizon". Only with at least MIN_OUTCOMES rows and MIN_PER_CLASS of
  each outcome; the sample size travels with every probability shown.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_OUTCOMES = 20
MIN_PER_CLASS = 5


@dataclass(frozen=True)
class ThresholdProposal:
    """A threshold and how the flagged band fared with it on the backtest."""

    threshold: float
    flagged: int
    precision: float
    recall: float
    n: int
    positives: int


@dataclass(frozen=True)
class ProbabilityFit:
    """P(outcome) = 1 / (1 + exp(-(intercept + slope * score)))."""

    intercept: float
    slope: float
    n: int
    positives: int

    def probability(self, score: float) -> float:
        """The fitted probability of the positive outcome at `score`."""
        z = self.intercept + self.slope * score
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


def _enough(rows: Sequence[tuple[float, bool]]) -> bool:
    positives = sum(1 for _, positive in rows if positive)
    return len(rows) >= MIN_OUTCOMES and min(positives, len(rows) - positives) >= MIN_PER_CLASS


def flag_stats(
    rows: Sequence[tuple[float, bool]], threshold: float, *, lower_is_riskier: bool
) -> tuple[int, float, float]:
    """(flagged, precision, recall) of flagging at `threshold` (precision 0 when none)."""
    flagged = [
        positive
        for score, positive in rows
        if (score < threshold if lower_is_riskier else score >= threshold)
    ]
    positives = sum(1 for _, positive in rows if positive)
    hits = sum(flagged)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / positives if positives else 0.0
    return len(flagged), precision, recall


def propose_threshold(
    rows: Sequence[tuple[float, bool]],
    *,
    lower_is_riskier: bool,
    target_precision: float | None = None,
    target_recall: float | None = None,
) -> ThresholdProposal | None:
    """The threshold meeting the target (exactly one of precision or recall), best on the
    other measure; ties go to the threshold flagging fewer accounts."""
    if (target_precision is None) == (target_recall is None):
        raise ValueError("give exactly one of target_precision and target_recall")
    if not _enough(rows):
        return None
    scores = sorted({score for score, _ in rows})
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(scores)]
    best: tuple[float, int] | None = None  # (the other measure, -flagged)
    chosen: ThresholdProposal | None = None
    positives = sum(1 for _, positive in rows if positive)
    for threshold in candidates:
        flagged, precision, recall = flag_stats(rows, threshold, lower_is_riskier=lower_is_riskier)
        if flagged == 0:
            continue
        if target_precision is not None:
            meets, other = precision >= target_precision, recall
        else:
            meets, other = recall >= (target_recall or 0.0), precision
        if not meets:
            continue
        key = (other, -flagged)
        if best is None or key > best:
            best = key
            chosen = ThresholdProposal(
                round(threshold, 1), flagged, precision, recall, len(rows), positives
            )
    return chosen


def fit_probability(
    rows: Sequence[tuple[float, bool]], *, ridge: float = 1.0, iterations: int = 50
) -> ProbabilityFit | None:
    """Logistic regression of the outcome on the score (None with too few outcomes)."""
    if not _enough(rows):
        return None
    # Centre and scale the score so that Newton's method is well conditioned.
    xs = [score for score, _ in rows]
    mean = sum(xs) / len(xs)
    spread = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs)) or 1.0
    zs = [(x - mean) / spread for x in xs]
    ys = [1.0 if positive else 0.0 for _, positive in rows]
    a = b = 0.0
    for _ in range(iterations):
        ga = gb = haa = hab = hbb = 0.0
        for z, y in zip(zs, ys, strict=True):
            p = ProbabilityFit(a, b, 0, 0).probability(z)
            w = p * (1.0 - p)
            ga += p - y
            gb += (p - y) * z
            haa += w
            hab += w * z
            hbb += w * z * z
        gb += ridge * b
        hbb += ridge
        haa += 1e-9
        det = haa * hbb - hab * hab
        if det <= 0:
            break
        step_a = (hbb * ga - hab * gb) / det
        step_b = (haa * gb - hab * ga) / det
        a, b = a - step_a, b - step_b
        if abs(step_a) + abs(step_b) < 1e-10:
            break
    slope = b / spread
    return ProbabilityFit(a - slope * mean, slope, len(rows), int(sum(ys)))
