"""Backtests: how well past scores separated the outcomes that followed (pure).

Input rows are `(account_id, score, band, outcome_positive)`. What "positive" means is the
caller's choice: churned for the churn-risk (health) scorecard, expanded for the expansion
scorecard. `lower_score_is_riskier` says which end of the score predicts a positive outcome:
True for a health score against churn (a low health score should mean churn), False for the
expansion score against expansion. Rows without a score are counted (`n_unscored`) and left
out of every metric.

- **AUC**: the Mann-Whitney probability that a random positive account ranks riskier than a
  random negative one (ties count half), computed on `-score` when lower scores are riskier.
  0.5 is chance, 1.0 perfect. None when one class is absent.
- **Flagged band(s)** (`flag_bands`, e.g. `at_risk`, or `likely` for expansion): precision
  (positive rate among flagged accounts), recall (share of positives flagged) and lift
  (precision / base rate).
- **Calibration**: equal-width score buckets (0-20, 20-40, ... by default) with the observed
  positive rate in each.
- **ROC points** for charts.

`backtest_overrides` runs the same metrics on computed and on override-effective scores, to see
whether people beat the model.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict

from sentiment_service.health.overrides import EffectiveScore


@dataclass(frozen=True)
class BacktestRow:
    """One account's score at a past date and whether the outcome then happened."""

    account_id: str
    score: float | None
    band: str
    outcome_positive: bool


@dataclass(frozen=True)
class OverrideBacktestRow:
    """One account's computed and override-effective score, and the outcome."""

    account_id: str
    computed_score: float | None
    computed_band: str
    effective_score: float | None
    effective_band: str
    outcome_positive: bool

    @property
    def overridden(self) -> bool:
        """Whether the effective score or band differs from the computed one."""
        return (self.computed_score, self.computed_band) != (
            self.effective_score,
            self.effective_band,
        )

    @classmethod
    def from_effective(
        cls, account_id: str, effective: EffectiveScore, outcome_positive: bool
    ) -> OverrideBacktestRow:
        """Build a row from `overrides.effective_score`'s result."""
        return cls(
            account_id=account_id,
            computed_score=effective.computed.score,
            computed_band=effective.computed.band,
            effective_score=effective.score,
            effective_band=effective.band,
            outcome_positive=outcome_positive,
        )


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CalibrationBucket(_Frozen):
    """Accounts whose score fell in [lo, hi) (the last bucket includes 100)."""

    lo: float
    hi: float
    n: int
    n_positive: int
    observed_rate: float | None
    mean_score: float | None


class BacktestResult(_Frozen):
    """Backtest metrics (see the module docstring)."""

    n: int
    n_unscored: int
    n_positive: int
    base_rate: float | None
    auc: float | None
    flag_bands: tuple[str, ...]
    lower_score_is_riskier: bool
    n_flagged: int
    precision: float | None
    recall: float | None
    lift: float | None
    calibration: tuple[CalibrationBucket, ...]
    roc: tuple[tuple[float, float], ...]


class MetricDelta(_Frozen):
    """One metric in two backtests and the change from `a` to `b` (`b - a`)."""

    metric: str
    a: float | None
    b: float | None
    delta: float | None


class OverrideBacktest(_Frozen):
    """Computed against override-effective scores on the same accounts."""

    computed: BacktestResult
    effective: BacktestResult
    comparison: tuple[MetricDelta, ...]
    n_overridden: int
    n_flag_changes_right: int
    n_flag_changes_wrong: int


def _ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def mann_whitney_auc(risk: list[float], positive: list[bool]) -> float | None:
    """P(risk of a random positive > risk of a random negative), ties half; None if one class."""
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _ranks(risk)
    rank_sum = sum(rank for rank, is_pos in zip(ranks, positive, strict=True) if is_pos)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def roc_points(risk: list[float], positive: list[bool]) -> list[tuple[float, float]]:
    """(false positive rate, true positive rate) at every distinct risk threshold."""
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    points = [(0.0, 0.0)]
    if n_pos == 0 or n_neg == 0:
        return [*points, (1.0, 1.0)]
    pairs = sorted(zip(risk, positive, strict=True), key=lambda pair: -pair[0])
    true_pos = false_pos = 0
    for index, (value, is_pos) in enumerate(pairs):
        true_pos += is_pos
        false_pos += not is_pos
        if index + 1 == len(pairs) or pairs[index + 1][0] != value:
            points.append((false_pos / n_neg, true_pos / n_pos))
    return points


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def backtest(
    rows: Iterable[BacktestRow | tuple[str, float | None, str, bool]],
    *,
    flag_bands: Collection[str] = ("at_risk",),
    lower_score_is_riskier: bool = True,
    n_buckets: int = 5,
) -> BacktestResult:
    """Backtest metrics for scored rows (see the module docstring)."""
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be at least 1, got {n_buckets}")
    all_rows = [row if isinstance(row, BacktestRow) else BacktestRow(*row) for row in rows]
    scored = [row for row in all_rows if row.score is not None]
    scores = [float(row.score) for row in scored if row.score is not None]
    positive = [row.outcome_positive for row in scored]
    risk = [-score if lower_score_is_riskier else score for score in scores]
    n, n_positive = len(scored), sum(positive)
    flagged = [row.band in flag_bands for row in scored]
    n_flagged = sum(flagged)
    flagged_positive = sum(1 for f, p in zip(flagged, positive, strict=True) if f and p)
    base_rate = _ratio(n_positive, n)
    precision = _ratio(flagged_positive, n_flagged)
    lift = precision / base_rate if precision is not None and base_rate else None

    buckets: list[CalibrationBucket] = []
    width = 100.0 / n_buckets
    for index in range(n_buckets):
        lo, hi = index * width, (index + 1) * width
        last = index == n_buckets - 1
        inside = [
            (score, is_pos)
            for score, is_pos in zip(scores, positive, strict=True)
            if lo <= score < hi or (last and score >= hi)
        ]
        count = len(inside)
        hits = sum(1 for _, is_pos in inside if is_pos)
        buckets.append(
            CalibrationBucket(
                lo=lo,
                hi=hi,
                n=count,
                n_positive=hits,
                observed_rate=_ratio(hits, count),
                mean_score=_ratio(sum(score for score, _ in inside), count),
            )
        )
    return BacktestResult(
        n=n,
        n_unscored=len(all_rows) - n,
        n_positive=n_positive,
        base_rate=base_rate,
        auc=mann_whitney_auc(risk, positive),
        flag_bands=tuple(sorted(flag_bands)),
        lower_score_is_riskier=lower_score_is_riskier,
        n_flagged=n_flagged,
        precision=precision,
        recall=_ratio(flagged_positive, n_positive),
        lift=lift,
        calibration=tuple(buckets),
        roc=tuple(roc_points(risk, positive)),
    )


COMPARED_METRICS = ("auc", "precision", "recall", "lift", "base_rate", "n", "n_flagged")


def compare_backtests(a: BacktestResult, b: BacktestResult) -> list[MetricDelta]:
    """Each headline metric in `a` and `b` and the change `b - a` (None if either is None)."""
    deltas = []
    for metric in COMPARED_METRICS:
        old, new = getattr(a, metric), getattr(b, metric)
        delta = new - old if old is not None and new is not None else None
        deltas.append(MetricDelta(metric=metric, a=old, b=new, delta=delta))
    return deltas


def backtest_overrides(
    rows: Iterable[OverrideBacktestRow],
    *,
    flag_bands: Collection[str] = ("at_risk",),
    lower_score_is_riskier: bool = True,
    n_buckets: int = 5,
) -> OverrideBacktest:
    """Did people beat the model? The same metrics on computed and on effective scores.

    Besides the two backtests: how many accounts were overridden, and among overrides that
    changed whether an account was flagged, how many moved towards the outcome (flagged a
    positive, or unflagged a negative) and how many away from it.
    """
    items = list(rows)
    options: dict[str, Any] = {
        "flag_bands": flag_bands,
        "lower_score_is_riskier": lower_score_is_riskier,
        "n_buckets": n_buckets,
    }
    computed = backtest(
        [
            BacktestRow(r.account_id, r.computed_score, r.computed_band, r.outcome_positive)
            for r in items
        ],
        **options,
    )
    effective = backtest(
        [
            BacktestRow(r.account_id, r.effective_score, r.effective_band, r.outcome_positive)
            for r in items
        ],
        **options,
    )
    right = wrong = 0
    for row in items:
        was, now = row.computed_band in flag_bands, row.effective_band in flag_bands
        if was == now:
            continue
        if now == row.outcome_positive:
            right += 1
        else:
            wrong += 1
    return OverrideBacktest(
        computed=computed,
        effective=effective,
        comparison=tuple(compare_backtests(computed, effective)),
        n_overridden=sum(1 for row in items if row.overridden),
        n_flag_changes_right=right,
        n_flag_changes_wrong=wrong,
    )


def backtest_chart_png(results: Mapping[str, BacktestResult], *, title: str = "Backtest") -> bytes:
    """A PNG with the ROC curves (left) and observed rates per score bucket (right).

    `results` maps a legend label to a backtest, e.g. `{"model": a, "with overrides": b}`.
    Uses matplotlib's Agg canvas directly (no pyplot, no global backend change).
    """
    if not results:
        raise ValueError("results must hold at least one backtest")
    figure = Figure(figsize=(10, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    roc_axes, calibration_axes = figure.subplots(1, 2)
    roc_axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    for label, result in results.items():
        xs = [point[0] for point in result.roc]
        ys = [point[1] for point in result.roc]
        auc = "n/a" if result.auc is None else f"{result.auc:.2f}"
        roc_axes.plot(xs, ys, drawstyle="steps-post", label=f"{label} (AUC {auc})")
    roc_axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    roc_axes.set_xlim(0, 1)
    roc_axes.set_ylim(0, 1.02)
    roc_axes.legend(loc="lower right", fontsize="small")

    count = len(results)
    bar_width = 0.8 / count
    for offset, (label, result) in enumerate(results.items()):
        positions = [
            i + (offset - (count - 1) / 2) * bar_width for i in range(len(result.calibration))
        ]
        rates = [bucket.observed_rate or 0.0 for bucket in result.calibration]
        bars = calibration_axes.bar(positions, rates, width=bar_width, label=label)
        for bar, bucket in zip(bars, result.calibration, strict=True):
            calibration_axes.annotate(
                f"n={bucket.n}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize="x-small",
            )
    first = next(iter(results.values()))
    calibration_axes.set_xticks(
        range(len(first.calibration)),
        [f"{b.lo:.0f}-{b.hi:.0f}" for b in first.calibration],
    )
    calibration_axes.set(
        xlabel="score bucket", ylabel="observed positive rate", title="Outcome rate by score"
    )
    calibration_axes.set_ylim(0, 1.05)
    calibration_axes.legend(loc="upper right", fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
