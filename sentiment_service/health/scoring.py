"""Score one account with a resolved scorecard (pure: every input is a parameter).

Rules, in order:

1. **Status of each component.** The component's feature is *missing* when it is absent from
   `features`, its value is None or not finite, or (percentile transforms) fewer than
   `min_peers` peer values were given. It is *stale* when `as_of - observed_at` is more than
   `freshness_days`. Otherwise it is *ok*. A value without `observed_at` is taken as computed
   at `as_of` (fresh). A value observed after `as_of` is an error (it would leak the future).
   All datetimes must be timezone-aware.
   A component whose `zero_is` is `no_evidence` and whose value is exactly 0 (no competitor
   named, no billing talk in the window) has status *no_evidence*: absence of events is not
   good news, so it is left out of the score like a missing one (neutral), shown with its
   reason ("no competitor mentions in 90 days"), and lowers confidence.
2. **Score.** The weighted mean of the transformed points (0..100, rounded to 2 decimals) of
   the *ok* components: missing and stale components are left out and the remaining weights
   renormalised (`effective_weight = weight / sum of ok weights`, summing to 1). A missing
   value is never treated as 0 points. The score is rounded to one decimal. Each component's
   `contribution` is its share of the score in points (`effective_weight x transformed`),
   rounded to tenths with the largest-remainder method so that the contributions add up
   exactly to the score. With `aggregation: power_mean` (exponent p, 0 < p < 1) the score is
   instead `(sum of effective_weight x points^p)^(1/p)`: it stays between the lowest and the
   highest points and rises with each of them, but one clearly bad component pulls it down
   further than the arithmetic mean does (at p = 0.25, points of 100, 100 and 10 at equal
   weights give 53.2 instead of 70). Contributions are then the score split in proportion to
   `effective_weight x points^p`. With `message_volume.shrink_weights`, a sentiment or topic
   component's weight in the score is multiplied by its reliability (rule 4) first, so that a
   mean over a handful of messages moves the score less than the same mean over many.
   Stale and no_evidence components still show their `transformed` points, for information.
3. **Band.** The first band (highest first) whose `min_score` the score reaches.
4. **Confidence** (0..1): the share of the scorecard's total weight that is backed by fresh
   data, with each ok component counted at its *reliability*:

       confidence = sum(weight_i x reliability_i over ok components) / sum(all weights)

   Metric components have reliability 1. Sentiment and topic components rest on messages: with
   `n` = the scorecard's message-volume feature (`message_count_30d`), their reliability is
   `n / (n + half_count)` (half_count = 5 by default: 5 messages give half credit, 45 give
   90 %). This is the weight a mean of `n` observations gets against a prior worth
   `half_count` observations. `n` counts as at least 1 when such a component has a value, and
   as 1 when the volume feature itself is missing. Without a `message_volume` rule every ok
   component has reliability 1, and confidence is the fresh, present share of the weight.
   Every ok component has reliability > 0, so losing one (missing or stale) always lowers
   confidence.
5. **Nothing present.** Score None, band `unknown`, confidence 0.

Scores are oriented so that higher is better for the objective; for `churn_risk` scorecards
the score is a health score: high means low churn risk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

# FeatureValue is defined below the service (the feature pipeline builds it) and keeps its
# public name here.
from pipelines.feature_value import FeatureValue
from sentiment_service.health.scorecard import (
    Aggregation,
    Band,
    Component,
    Kind,
    MessageVolume,
    ResolvedScorecard,
    band_for,
)
from sentiment_service.health.transforms import InsufficientPeersError, transform_value

Status = Literal["ok", "missing", "stale", "no_evidence"]
SECONDS_PER_DAY = 86_400.0


class ComponentScore(BaseModel):
    """How one component fared for one account (see the module docstring for the rules)."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    feature: str
    kind: Kind
    value: float | None
    observed_at: datetime | None
    transformed: float | None
    weight: float
    effective_weight: float
    contribution: float
    status: Status
    reliability: float
    reason: str | None = None
    evidence: bool = False


class HealthScore(BaseModel):
    """An account's score under one resolved scorecard at `as_of`."""

    model_config = ConfigDict(frozen=True)

    scorecard_id: str
    objective: str
    as_of: datetime
    score: float | None
    band: str
    confidence: float
    coverage: float
    bands: tuple[Band, ...]
    components: tuple[ComponentScore, ...]
    missing: tuple[str, ...]
    stale: tuple[str, ...]
    no_evidence: tuple[str, ...] = ()
    applied_overrides: tuple[str, ...] = ()

    def component(self, name: str) -> ComponentScore | None:
        """The component called `name`, if the scorecard had one."""
        return next((c for c in self.components if c.name == name), None)


@dataclass(frozen=True)
class _Assessed:
    component: Component
    value: float | None
    observed_at: datetime | None
    transformed: float | None
    status: Status
    reason: str | None


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")


def _assess(
    component: Component,
    feature: FeatureValue | None,
    *,
    as_of: datetime,
    peers: Mapping[str, Sequence[float]] | None,
) -> _Assessed:
    if feature is None or feature.value is None or not math.isfinite(feature.value):
        reason = "no value" if feature is None or feature.value is None else "value not finite"
        observed = feature.observed_at if feature is not None else None
        return _Assessed(component, None, observed, None, "missing", reason)
    value, observed_at = float(feature.value), feature.observed_at
    age_days = 0.0
    if observed_at is not None:
        _require_aware(observed_at, f"observed_at of {component.feature}")
        age_days = (as_of - observed_at).total_seconds() / SECONDS_PER_DAY
        if age_days < 0:
            raise ValueError(
                f"{component.feature} was observed at {observed_at.isoformat()}, "
                f"after as_of {as_of.isoformat()}"
            )
    peer_values = (peers or {}).get(component.feature)
    try:
        points = transform_value(
            component.transform, value, component.direction, peer_values=peer_values
        )
    except InsufficientPeersError as error:
        return _Assessed(component, value, observed_at, None, "missing", str(error))
    transformed = round(points, 2)
    if value == 0 and component.zero_is == "no_evidence" and age_days <= component.freshness_days:
        reason = component.no_evidence_text or "no events in the window"
        return _Assessed(
            component, value, observed_at, transformed, "no_evidence", f"{reason}: neutral"
        )
    if age_days > component.freshness_days:
        reason = (
            f"observed {age_days:.1f} days before as_of; "
            f"fresh for {component.freshness_days:g} days"
        )
        return _Assessed(component, value, observed_at, transformed, "stale", reason)
    return _Assessed(component, value, observed_at, transformed, "ok", None)


def _reliability(
    kind: Kind, rule: MessageVolume | None, features: Mapping[str, FeatureValue]
) -> float:
    if rule is None or kind == "metric":
        return 1.0
    volume = features.get(rule.feature)
    count = 1.0
    if volume is not None and volume.value is not None and math.isfinite(volume.value):
        count = max(float(volume.value), 1.0)
    return 1.0 / (1.0 + rule.half_count / count)  # = n / (n + half_count), without overflow


def _apportion_tenths(exact: list[float], total_tenths: int) -> list[int]:
    """Integers (tenths of a point) close to `exact * 10` that add up to `total_tenths`."""
    scaled = [value * 10.0 for value in exact]
    floors = [math.floor(value) for value in scaled]
    remaining = total_tenths - sum(floors)
    order = sorted(range(len(scaled)), key=lambda i: (floors[i] - scaled[i], i))
    for position in range(max(remaining, 0)):
        floors[order[position % len(order)]] += 1
    for position in range(max(-remaining, 0)):
        floors[order[-1 - position % len(order)]] -= 1
    return floors


def _aggregate(shares: list[float], points: list[float], aggregation: Aggregation) -> list[float]:
    """Each component's exact contribution in points; they add up to the score (rule 2)."""
    pairs = list(zip(shares, points, strict=True))
    if aggregation.type == "mean":
        return [share * value for share, value in pairs]
    powered = [share * max(value, 0.0) ** aggregation.p for share, value in pairs]
    total = sum(powered)
    if total <= 0.0:
        return [0.0 for _ in points]
    score = total ** (1.0 / aggregation.p)
    return [score * part / total for part in powered]


def score_account(
    resolved: ResolvedScorecard,
    features: Mapping[str, FeatureValue],
    *,
    as_of: datetime,
    peers: Mapping[str, Sequence[float]] | None = None,
) -> HealthScore:
    """Score one account (rules in the module docstring).

    `peers` maps a feature name to the values of that feature across the account's segment
    peers at `as_of`; only percentile components read it.
    """
    _require_aware(as_of, "as_of")
    assessed = [
        _assess(component, features.get(component.feature), as_of=as_of, peers=peers)
        for component in resolved.components
    ]
    # Only the ratios of weights matter. Each sum below divides the weights by the largest one
    # first, so that no sum or product of finite weights can overflow to infinity.
    top = max(item.component.weight for item in assessed)
    total_weight = sum(item.component.weight / top for item in assessed)
    volume = resolved.message_volume
    reliability = {
        item.component.name: _reliability(item.component.kind, volume, features)
        for item in assessed
    }
    shrink = volume is not None and volume.shrink_weights
    scoring_weight = {
        item.component.name: item.component.weight
        * (reliability[item.component.name] if shrink else 1.0)
        for item in assessed
    }
    ok = [
        (item.component, item.transformed)
        for item in assessed
        if item.status == "ok" and item.transformed is not None
    ]
    ok_top = max((scoring_weight[component.name] for component, _ in ok), default=1.0)
    ok_weight = sum(scoring_weight[component.name] / ok_top for component, _ in ok)  # >= 1

    score: float | None = None
    tenths: dict[str, int] = {}
    if ok:
        shares = [scoring_weight[component.name] / ok_top / ok_weight for component, _ in ok]
        exact = _aggregate(shares, [points for _, points in ok], resolved.aggregation)
        # round(x, 1) rounds the value itself; round(x * 10) could round up an x just below a
        # half-tenth, since x * 10 is rounded to the nearest float before round() sees it.
        total_tenths = round(round(min(max(sum(exact), 0.0), 100.0), 1) * 10.0)
        apportioned = _apportion_tenths(exact, total_tenths)
        tenths = {
            component.name: share for (component, _), share in zip(ok, apportioned, strict=True)
        }
        score = total_tenths / 10.0

    components: list[ComponentScore] = []
    backed_weight = 0.0
    for item in assessed:
        is_ok = item.status == "ok"
        backing = reliability[item.component.name] if is_ok else 0.0
        backed_weight += item.component.weight / top * backing
        components.append(
            ComponentScore(
                name=item.component.name,
                label=item.component.label,
                feature=item.component.feature,
                kind=item.component.kind,
                value=item.value,
                observed_at=item.observed_at,
                transformed=item.transformed,
                weight=item.component.weight,
                effective_weight=(
                    scoring_weight[item.component.name] / ok_top / ok_weight if is_ok else 0.0
                ),
                contribution=tenths.get(item.component.name, 0) / 10.0,
                status=item.status,
                reliability=backing,
                reason=item.reason,
                evidence=item.component.evidence,
            )
        )
    return HealthScore(
        scorecard_id=resolved.scorecard_id,
        objective=resolved.objective,
        as_of=as_of,
        score=score,
        band=band_for(score, resolved.bands),
        confidence=backed_weight / total_weight if ok else 0.0,
        coverage=sum(component.weight / top for component, _ in ok) / total_weight,
        bands=resolved.bands,
        components=tuple(components),
        missing=tuple(c.name for c in components if c.status == "missing"),
        stale=tuple(c.name for c in components if c.status == "stale"),
        no_evidence=tuple(c.name for c in components if c.status == "no_evidence"),
        applied_overrides=resolved.applied_overrides,
    )
