"""The account page's weekly customer sentiment by source, from the daily rollups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from pipelines.rollups import ALL_SOURCES
from sentiment_service.dashboard.views.scores import reference_day
from sentiment_service.storage.tables import AccountDailyRollup
from sentiment_service.trends import DailyCounts, bucket_start, trend
from sentiment_service.vocabulary import Source

TREND_DAYS = 90


@dataclass
class TrendSeries:
    """Weekly points of one source ('all' is every source together)."""

    source: str
    weeks: list[date]
    means: list[float | None]
    counts: list[int]


@dataclass
class TrendView:
    """The account's weekly sentiment by source over the last `TREND_DAYS` days of data."""

    start: date | None
    end: date | None
    weeks: list[date]
    series: list[TrendSeries]


def sentiment_trend(session: Session, account_id: str) -> TrendView:
    """Weekly mean sentiment per source, from the daily rollups."""
    end = reference_day(session)
    if end is None:
        return TrendView(None, None, [], [])
    start = end - timedelta(days=TREND_DAYS - 1)
    rows = session.exec(
        select(AccountDailyRollup).where(
            AccountDailyRollup.account_id == account_id,
            col(AccountDailyRollup.day) >= start,
            col(AccountDailyRollup.day) <= end,
        )
    ).all()
    daily: dict[str, list[DailyCounts]] = defaultdict(list)
    for r in rows:
        daily[r.source].append(
            DailyCounts(
                r.day,
                r.message_count,
                r.scored_count,
                r.score_sum,
                r.negative_count,
                r.positive_count,
            )
        )
    order = [ALL_SOURCES, *(s.value for s in Source)]
    sources = sorted(daily, key=lambda s: (order.index(s) if s in order else len(order), s))
    points = {
        source: {p.period_start: p for p in trend(daily[source], "week")} for source in sources
    }
    first = bucket_start(start, "week")
    weeks = [first + timedelta(days=7 * i) for i in range((end - first).days // 7 + 1)]
    series = []
    for source in sources:
        by_week = points[source]
        if not any(p.scored_count for p in by_week.values()):
            continue
        series.append(
            TrendSeries(
                source=source,
                weeks=weeks,
                means=[by_week[w].mean_score if w in by_week else None for w in weeks],
                counts=[by_week[w].scored_count if w in by_week else 0 for w in weeks],
            )
        )
    return TrendView(start, end, weeks, series)
