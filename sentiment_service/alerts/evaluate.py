"""Rule evaluation: stored data + a rule + `as_of` -> the conditions that hold (reads only).

Every condition carries a dedupe key, `rule:<id>:<kind>:<account>:<identity>`, where the
identity names the episode rather than the moment of evaluation, so evaluating again (an hour
or a week later) finds the same key and the event table's unique constraint drops it:

- negative_share: the first day of the streak of over-threshold days;
- sentiment_drop: the first day of the current run of days on which the drop held;
- competitor_mentioned: the message id and the competitor;
- band_fell: the scorecard, the day of the latest score and the two bands;
- data_dark: the channel and the moment it was last seen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pipelines.features import SIGNAL_ROLES
from pipelines.rollups import ALL_SOURCES
from pipelines.row_ids import stored_id
from sentiment_service.alerts.rules import (
    BandFellParams,
    CompetitorMentionedParams,
    DataDarkParams,
    NegativeShareParams,
    RuleKind,
    ScopeType,
    SentimentDropParams,
    parse_params,
)
from sentiment_service.health.service import account_dark_sources, get_scorecard
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AlertRule,
    CompetitorMention,
    HealthScoreRecord,
    Message,
)

DROP_RUN_SCAN_DAYS = 180  # how far back the start of a sentiment_drop run is searched


@dataclass(frozen=True)
class Condition:
    """One thing a rule found about one account."""

    account_id: str
    dedupe_key: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def dedupe_key(rule: AlertRule, account_id: str, *identity: object) -> str:
    """The stable key of one condition of one rule."""
    parts = [f"rule:{rule.id}", rule.kind, account_id, *(str(p) for p in identity)]
    return ":".join(parts)


def scoped_accounts(session: Session, rule: AlertRule) -> list[str]:
    """Ids of the accounts the rule watches."""
    query = select(Account.id).order_by(col(Account.id))
    if rule.scope_type == ScopeType.SEGMENT:
        query = query.where(Account.segment == rule.scope_value)
    elif rule.scope_type == ScopeType.OWNER:
        query = query.where(Account.owner == rule.scope_value)
    elif rule.scope_type == ScopeType.ACCOUNT:
        query = query.where(Account.id == rule.scope_value)
    return list(session.exec(query).all())


def evaluate_rule(session: Session, rule: AlertRule, as_of: datetime) -> list[Condition]:
    """The conditions `rule` finds at `as_of` (timezone-aware), sorted by dedupe key."""
    if as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    accounts = scoped_accounts(session, rule)
    if not accounts:
        return []
    params = parse_params(rule.kind, rule.params)
    evaluator = EVALUATORS[RuleKind(rule.kind)]
    found = evaluator(session, rule, params, accounts, as_of)
    return sorted(found, key=lambda c: c.dedupe_key)


# --- negative_share ---------------------------------------------------------------------------


def _negative_share(
    session: Session,
    rule: AlertRule,
    params: NegativeShareParams,
    accounts: list[str],
    as_of: datetime,
) -> list[Condition]:
    today = as_of.date()
    rows = session.exec(
        select(
            AccountDailyRollup.account_id,
            col(AccountDailyRollup.day),
            AccountDailyRollup.negative_count,
            AccountDailyRollup.scored_count,
        )
        .where(
            AccountDailyRollup.source == ALL_SOURCES,
            col(AccountDailyRollup.account_id).in_(accounts),
            col(AccountDailyRollup.day) <= today,
            col(AccountDailyRollup.scored_count) >= params.min_messages,
            col(AccountDailyRollup.negative_count)
            > col(AccountDailyRollup.scored_count) * params.threshold,
        )
        .order_by(col(AccountDailyRollup.account_id), col(AccountDailyRollup.day))
    ).all()
    by_account: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for account_id, day, negative, scored in rows:
        by_account[account_id].append((day, negative / scored))
    recent = today - timedelta(days=params.lookback_days - 1)
    conditions = []
    for account_id, days in by_account.items():
        for streak in _streaks(days):
            start, end = streak[0][0], streak[-1][0]
            if len(streak) < params.days or end < recent:
                continue
            shares = [round(share, 4) for _, share in streak]
            conditions.append(
                Condition(
                    account_id,
                    dedupe_key(rule, account_id, start.isoformat()),
                    f"{account_id}: negative share above {params.threshold:.0%} for "
                    f"{len(streak)} consecutive days ({start.isoformat()} to {end.isoformat()})",
                    {
                        "streak_start": start.isoformat(),
                        "streak_end": end.isoformat(),
                        "days": len(streak),
                        "threshold": params.threshold,
                        "daily_negative_share": shares,
                    },
                )
            )
    return conditions


def _streaks(days: Sequence[tuple[date, float]]) -> list[list[tuple[date, float]]]:
    """Runs of consecutive calendar days (input sorted by day)."""
    runs: list[list[tuple[date, float]]] = []
    for item in days:
        if runs and item[0] - runs[-1][-1][0] == timedelta(days=1):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


# --- sentiment_drop ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    mean: float | None
    scored: int


def _sentiment_drop(
    session: Session,
    rule: AlertRule,
    params: SentimentDropParams,
    accounts: list[str],
    as_of: datetime,
) -> list[Condition]:
    today = as_of.date()
    width = params.window_days
    first = today - timedelta(days=DROP_RUN_SCAN_DAYS + 2 * width)
    rows = session.exec(
        select(
            AccountDailyRollup.account_id,
            col(AccountDailyRollup.day),
            AccountDailyRollup.score_sum,
            AccountDailyRollup.scored_count,
        ).where(
            AccountDailyRollup.source == ALL_SOURCES,
            col(AccountDailyRollup.account_id).in_(accounts),
            col(AccountDailyRollup.day) > first,
            col(AccountDailyRollup.day) <= today,
        )
    ).all()
    daily: dict[str, dict[date, tuple[float, int]]] = defaultdict(dict)
    for account_id, day, score_sum, scored in rows:
        daily[account_id][day] = (score_sum, scored)
    conditions = []
    for account_id, by_day in daily.items():
        windows = _Windows(by_day, first, width)

        def holds(day: date, windows: _Windows = windows) -> bool:
            recent, before = windows.pair(day)
            return _dropped(recent, before, params)

        if not holds(today):
            continue
        start = today
        earliest = first + timedelta(days=2 * width)  # both windows inside the fetched days
        while start > earliest and holds(start - timedelta(days=1)):
            start -= timedelta(days=1)
        recent, before = windows.pair(today)
        if recent.mean is None or before.mean is None:  # holds(today) needs both means
            raise RuntimeError(f"{account_id}: a sentiment drop without both window means")
        conditions.append(
            Condition(
                account_id,
                dedupe_key(rule, account_id, start.isoformat()),
                f"{account_id}: {width}-day mean sentiment fell by "
                f"{before.mean - recent.mean:.2f} (from {before.mean:+.2f} to {recent.mean:+.2f})",
                {
                    "run_start": start.isoformat(),
                    "window_days": width,
                    "mean_recent": round(recent.mean, 4),
                    "mean_before": round(before.mean, 4),
                    "drop": round(before.mean - recent.mean, 4),
                    "scored_recent": recent.scored,
                    "scored_before": before.scored,
                    "threshold": params.drop,
                },
            )
        )
    return conditions


class _Windows:
    """Sums of score and scored count over day windows, from prefix sums."""

    def __init__(self, by_day: dict[date, tuple[float, int]], first: date, width: int) -> None:
        self.first = first
        self.width = width
        self.sums: list[float] = [0.0]
        self.counts: list[int] = [0]
        last = max(by_day)
        for offset in range((last - first).days + 1):
            score_sum, scored = by_day.get(first + timedelta(days=offset), (0.0, 0))
            self.sums.append(self.sums[-1] + score_sum)
            self.counts.append(self.counts[-1] + scored)

    def _index(self, day: date) -> int:
        return max(0, min((day - self.first).days + 1, len(self.sums) - 1))

    def total(self, after: date, through: date) -> _Window:
        """Days in (after, through]."""
        hi, lo = self._index(through), self._index(after)
        scored = self.counts[hi] - self.counts[lo]
        mean = (self.sums[hi] - self.sums[lo]) / scored if scored else None
        return _Window(mean, scored)

    def pair(self, day: date) -> tuple[_Window, _Window]:
        """The window ending on `day` and the one before it."""
        middle = day - timedelta(days=self.width)
        return (
            self.total(middle, day),
            self.total(middle - timedelta(days=self.width), middle),
        )


def _dropped(recent: _Window, before: _Window, params: SentimentDropParams) -> bool:
    if recent.mean is None or before.mean is None:
        return False
    if recent.scored < params.min_messages or before.scored < params.min_messages:
        return False
    return before.mean - recent.mean >= params.drop - 1e-12


# --- competitor_mentioned ---------------------------------------------------------------------


def _competitor_mentioned(
    session: Session,
    rule: AlertRule,
    params: CompetitorMentionedParams,
    accounts: list[str],
    as_of: datetime,
) -> list[Condition]:
    query = (
        select(Message, CompetitorMention)
        .join(CompetitorMention, col(CompetitorMention.message_id) == col(Message.id))
        .where(
            col(Message.account_id).in_(accounts),
            col(Message.author_role).in_(SIGNAL_ROLES),
            col(Message.ingested_at) > rule.created_at,
            col(Message.ingested_at) <= as_of,
            col(Message.created_at) > as_of - timedelta(days=params.max_age_days),
            col(Message.created_at) <= as_of,
        )
        .order_by(col(Message.id), col(CompetitorMention.sentence_index))
    )
    if params.evaluating_only:
        query = query.where(CompetitorMention.intent == "evaluating")
    wanted = {c.casefold() for c in params.competitors} if params.competitors else None
    found: dict[tuple[int, str], tuple[Message, list[CompetitorMention]]] = {}
    for message, mention in session.exec(query).all():
        if wanted is not None and mention.competitor.casefold() not in wanted:
            continue
        message_id = stored_id(message.id, "message")
        found.setdefault((message_id, mention.competitor), (message, []))[1].append(mention)
    conditions = []
    for (message_id, competitor), (message, mentions) in found.items():
        if message.account_id is None:
            raise RuntimeError(f"message {message_id} has no account; its mentions cannot alert")
        evaluating = any(m.intent == "evaluating" for m in mentions)
        first = mentions[0]
        verb = "is evaluating" if evaluating else "mentioned"
        conditions.append(
            Condition(
                message.account_id,
                dedupe_key(rule, message.account_id, message_id, competitor),
                f"{message.account_id} {verb} {competitor} ({message.source}, "
                f"{message.created_at.date().isoformat()}): \u201c{_quote(first.evidence)}\u201d",
                {
                    "message_id": message_id,
                    "competitor": competitor,
                    "intent": "evaluating" if evaluating else "mention",
                    "source": message.source,
                    "created_at": message.created_at.isoformat(),
                    "evidence": _quote(first.evidence),
                    "sentiment_score": first.score,
                    "sentiment_label": first.label,
                },
            )
        )
    return conditions


def _quote(text: str, limit: int = 280) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# --- band_fell --------------------------------------------------------------------------------


def _band_fell(
    session: Session,
    rule: AlertRule,
    params: BandFellParams,
    accounts: list[str],
    as_of: datetime,
) -> list[Condition]:
    today = as_of.date()
    ranked = (
        select(
            HealthScoreRecord.id,
            func.row_number()
            .over(
                partition_by=col(HealthScoreRecord.account_id),
                order_by=(
                    col(HealthScoreRecord.as_of).desc(),
                    col(HealthScoreRecord.scorecard_version).desc(),
                    col(HealthScoreRecord.id).desc(),
                ),
            )
            .label("rank"),
        )
        .where(
            HealthScoreRecord.scorecard == params.scorecard,
            col(HealthScoreRecord.account_id).in_(accounts),
            col(HealthScoreRecord.as_of) <= today,
        )
        .subquery()
    )
    records = session.exec(
        select(HealthScoreRecord)
        .join(ranked, col(HealthScoreRecord.id) == ranked.c.id)
        .where(ranked.c.rank <= 8)  # a day can hold several scorecard versions
        .order_by(col(HealthScoreRecord.account_id), ranked.c.rank)
    ).all()
    latest_two: dict[str, list[HealthScoreRecord]] = defaultdict(list)
    for record in records:
        kept = latest_two[record.account_id]
        if len(kept) < 2 and all(r.as_of != record.as_of for r in kept):
            kept.append(record)  # the newest version of each of the two latest days
    bands = _BandFloors(session, params.scorecard)
    wanted = set(params.to_bands) if params.to_bands else None
    recent = today - timedelta(days=params.max_age_days)
    conditions = []
    for account_id, pair in latest_two.items():
        if len(pair) < 2:
            continue
        latest, previous = pair
        if latest.as_of < recent or (wanted is not None and latest.band not in wanted):
            continue
        now_floor, before_floor = bands.floor(latest), bands.floor(previous)
        if now_floor is None or before_floor is None or now_floor >= before_floor:
            continue
        conditions.append(
            Condition(
                account_id,
                dedupe_key(
                    rule,
                    account_id,
                    params.scorecard,
                    latest.as_of.isoformat(),
                    f"{previous.band}>{latest.band}",
                ),
                f"{account_id}: {params.scorecard} band fell from {previous.band} to "
                f"{latest.band} ({previous.as_of.isoformat()} to {latest.as_of.isoformat()})",
                {
                    "scorecard": params.scorecard,
                    "from_band": previous.band,
                    "to_band": latest.band,
                    "from_day": previous.as_of.isoformat(),
                    "to_day": latest.as_of.isoformat(),
                    "from_score": previous.score,
                    "to_score": latest.score,
                },
            )
        )
    return conditions


class _BandFloors:
    """The `min_score` of a stored score's band, from the bands it was scored with."""

    def __init__(self, session: Session, card_id: str) -> None:
        self.session = session
        self.card_id = card_id
        self._by_version: dict[int, dict[str, float]] = {}

    def floor(self, record: HealthScoreRecord) -> float | None:
        stored = record.explanation.get("bands") if record.explanation else None
        if stored:
            floors = {b["name"]: float(b["min_score"]) for b in stored}
        else:
            floors = self._version_floors(record.scorecard_version)
        return floors.get(record.band)  # None for 'unknown' or a band the card lacks

    def _version_floors(self, version: int) -> dict[str, float]:
        if version not in self._by_version:
            card = get_scorecard(self.session, self.card_id, version)
            self._by_version[version] = (
                {b.name: float(b.min_score) for b in card.card.bands} if card else {}
            )
        return self._by_version[version]


# --- data_dark --------------------------------------------------------------------------------


def _data_dark(
    session: Session,
    rule: AlertRule,
    params: DataDarkParams,
    accounts: list[str],
    as_of: datetime,
) -> list[Condition]:
    wanted = {str(s) for s in params.sources} if params.sources else None
    conditions = []
    for account_id in accounts:
        for dark in account_dark_sources(
            session, account_id, as_of, history_days=params.history_days
        ):
            if dark.last_seen is None or (wanted is not None and dark.source not in wanted):
                continue
            silent = dark.days_silent or 0.0
            conditions.append(
                Condition(
                    account_id,
                    dedupe_key(rule, account_id, dark.source, dark.last_seen.isoformat()),
                    f"{account_id}: no {dark.source} data for {silent:.0f} days (usually "
                    f"within {dark.threshold_days:.0f}; last seen "
                    f"{dark.last_seen.date().isoformat()})",
                    {
                        "source": dark.source,
                        "last_seen": dark.last_seen.isoformat(),
                        "days_silent": round(silent, 2),
                        "threshold_days": round(dark.threshold_days, 2),
                    },
                )
            )
    return conditions


Evaluator = Callable[[Session, AlertRule, Any, list[str], datetime], list[Condition]]
EVALUATORS: dict[RuleKind, Evaluator] = {
    RuleKind.NEGATIVE_SHARE: _negative_share,
    RuleKind.SENTIMENT_DROP: _sentiment_drop,
    RuleKind.COMPETITOR_MENTIONED: _competitor_mentioned,
    RuleKind.BAND_FELL: _band_fell,
    RuleKind.DATA_DARK: _data_dark,
}
