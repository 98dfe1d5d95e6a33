"""Drift and dark data (pure).

- `population_stability_index`: how far a current sample of a feature (or score) has moved
  from a reference sample. Bins are the reference's quantiles (`n_bins` equal-count bins, with
  repeated edges merged); each bin's share is smoothed as `(share + epsilon) / (1 + k x
  epsilon)` so empty bins stay finite; PSI = sum over bins of
  `(current - reference) x ln(current / reference)`. It is >= 0 and 0 for identical samples.
- `drift_status`: ok below 0.1, watch below 0.25, drift from 0.25 (the usual PSI reading).
- `label_drift`: the same index over the three sentiment labels' shares.
- `dark_sources`: data sources that stopped sending: no data for more than
  `max(min_days, factor x usual gap)` days before `as_of`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

DriftStatus = Literal["ok", "watch", "drift"]
SENTIMENT_LABELS = ("negative", "neutral", "positive")
SECONDS_PER_DAY = 86_400.0


def _smoothed(counts: Sequence[float], epsilon: float) -> list[float]:
    total = float(sum(counts))
    if total <= 0:
        raise ValueError("a sample must not be empty")
    k = len(counts)
    return [(count / total + epsilon) / (1.0 + k * epsilon) for count in counts]


def psi_from_shares(reference: Sequence[float], current: Sequence[float]) -> float:
    """PSI between two lists of strictly positive shares over the same bins."""
    if len(reference) != len(current):
        raise ValueError("reference and current must have the same bins")
    return float(sum((c - r) * math.log(c / r) for r, c in zip(reference, current, strict=True)))


def population_stability_index(
    reference: Sequence[float],
    current: Sequence[float],
    *,
    n_bins: int = 10,
    epsilon: float = 1e-4,
) -> float:
    """PSI of `current` against `reference` (see the module docstring). Non-finite values drop."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    ref = np.asarray([v for v in reference if math.isfinite(v)], dtype=float)
    cur = np.asarray([v for v in current if math.isfinite(v)], dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("reference and current need at least one finite value each")
    inner = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
    bins = inner.size + 1
    ref_counts = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=bins)
    cur_counts = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=bins)
    return psi_from_shares(
        _smoothed(ref_counts.tolist(), epsilon), _smoothed(cur_counts.tolist(), epsilon)
    )


def drift_status(psi: float) -> DriftStatus:
    """ok (< 0.1), watch (< 0.25) or drift."""
    if psi < 0.1:
        return "ok"
    if psi < 0.25:
        return "watch"
    return "drift"


class LabelDrift(BaseModel):
    """Drift of the sentiment label mix between two periods."""

    model_config = ConfigDict(frozen=True)

    psi: float
    status: DriftStatus
    reference_shares: dict[str, float]
    current_shares: dict[str, float]


def label_drift(
    reference_counts: Mapping[str, int],
    current_counts: Mapping[str, int],
    *,
    labels: Sequence[str] = SENTIMENT_LABELS,
    epsilon: float = 1e-4,
) -> LabelDrift:
    """PSI of the label mix (counts per label; absent labels count 0; other labels refused)."""
    for counts in (reference_counts, current_counts):
        unknown = sorted(set(counts) - set(labels))
        if unknown:
            raise ValueError(f"unknown labels {unknown}; expected {list(labels)}")
        if any(count < 0 for count in counts.values()):
            raise ValueError("label counts must not be negative")
    ref = _smoothed([reference_counts.get(label, 0) for label in labels], epsilon)
    cur = _smoothed([current_counts.get(label, 0) for label in labels], epsilon)
    psi = psi_from_shares(ref, cur)
    return LabelDrift(
        psi=psi,
        status=drift_status(psi),
        reference_shares=dict(zip(labels, ref, strict=True)),
        current_shares=dict(zip(labels, cur, strict=True)),
    )


class DarkSource(BaseModel):
    """An expected data source that stopped sending."""

    model_config = ConfigDict(frozen=True)

    source: str
    last_seen: datetime | None
    days_silent: float | None
    threshold_days: float


def dark_sources(
    last_seen_by_source: Mapping[str, datetime | None],
    expected_sources: Collection[str],
    *,
    as_of: datetime,
    usual_gap_days: Mapping[str, float],
    factor: float = 3.0,
    min_days: float = 14.0,
) -> list[DarkSource]:
    """Expected sources silent for more than `max(min_days, factor x usual gap)` days.

    A source with no usual gap uses `min_days`. An expected source never seen (absent or None)
    is dark with `days_silent` None. Sorted by source name.
    """
    if as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    dark: list[DarkSource] = []
    for source in sorted(expected_sources):
        gap = usual_gap_days.get(source)
        threshold = max(min_days, factor * gap) if gap is not None else min_days
        last_seen = last_seen_by_source.get(source)
        if last_seen is None:
            dark.append(
                DarkSource(
                    source=source, last_seen=None, days_silent=None, threshold_days=threshold
                )
            )
            continue
        silent = max((as_of - last_seen).total_seconds() / SECONDS_PER_DAY, 0.0)
        if silent > threshold:
            dark.append(
                DarkSource(
                    source=source, last_seen=last_seen, days_silent=silent, threshold_days=threshold
                )
            )
    return dark
