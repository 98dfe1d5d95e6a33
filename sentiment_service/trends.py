"""Sentiment trends: daily rollups summed into day, week or month buckets (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Granularity = Literal["day", "week", "month"]


@dataclass(frozen=True)
class DailyCounts:
    """The part of a daily rollup that trends need."""

    day: date
    message_count: int
    scored_count: int
    score_sum: float
    negative_count: int
    positive_count: int


@dataclass(frozen=True)
class TrendPoint:
    """One bucket of a trend."""

    period_start: date
    message_count: int
    scored_count: int
    mean_score: float | None
    negative_share: float | None
    positive_share: float | None


def bucket_start(day: date, granularity: Granularity) -> date:
    """The first day of the bucket holding `day` (weeks start on Monday)."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def trend(rows: Iterable[DailyCounts], granularity: Granularity) -> list[TrendPoint]:
    """Sum daily counts per bucket; means and shares are over scored messages."""
    buckets: dict[date, list[float]] = {}
    for row in rows:
        acc = buckets.setdefault(bucket_start(row.day, granularity), [0, 0, 0.0, 0, 0])
        acc[0] += row.message_count
        acc[1] += row.scored_count
        acc[2] += row.score_sum
        acc[3] += row.negative_count
        acc[4] += row.positive_count
    points = []
    for start in sorted(buckets):
        messages, scored, total, negative, positive = buckets[start]
        points.append(
            TrendPoint(
                period_start=start,
                message_count=int(messages),
                scored_count=int(scored),
                mean_score=round(total / scored, 4) if scored else None,
                negative_share=round(negative / scored, 4) if scored else None,
                positive_share=round(positive / scored, 4) if scored else None,
            )
        )
    return points


def daily_counts(rows: Iterable[tuple[date, str | None, float | None]]) -> list[DailyCounts]:
    """Daily counts from (day, label, score) of single messages, the way rollups count them:
    every message counts, scored ones (label and score set) add to the sentiment."""
    days: dict[date, list[float]] = {}
    for day, label, score in rows:
        acc = days.setdefault(day, [0, 0, 0.0, 0, 0])
        acc[0] += 1
        if label is None or score is None:
            continue
        acc[1] += 1
        acc[2] += score
        acc[3] += label == "negative"
        acc[4] += label == "positive"
    return [
        DailyCounts(day, int(m), int(s), float(total), int(neg), int(pos))
        for day, (m, s, total, neg, pos) in sorted(days.items())
    ]
