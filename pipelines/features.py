"""Account features for health scores and the scoring system, point-in-time correct.

`account_features(session, account_ids, as_of)` uses only data that existed at `as_of`:
messages created (and, with basis "known", also ingested) by then, metric observations
observed (and ingested) by then. Basis "event" ignores ingestion time; it is for history that
was loaded after the fact (e.g. the bundled sample data), and snapshots record which basis
they used. Scores are those of the sentiment model in force when the features are computed.

Sentiment features use customer- and CSM-authored messages (agents and bots are excluded).
People's corrections count at once: a corrected sentiment label replaces the model's (score
-1, 0 or +1), and a topic correction adds or removes the topic for that message.
Every feature is listed with its definition in FEATURE_CATALOG (served by the API).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models.topics.taxonomy import load_taxonomy
from pipelines.feature_value import FeatureValue
from pipelines.queue import active_version
from sentiment_service.auth.scope import AccountScope
from sentiment_service.storage.queries import select_columns
from sentiment_service.storage.tables import (
    Account,
    CompetitorMention,
    LabelCorrection,
    Message,
    MessageScore,
    MessageTopic,
    Metric,
    TopicCorrection,
)

Basis = Literal["known", "event"]
SIGNAL_ROLES = ("customer", "csm")
EXPECTED_SOURCES = ("ticket", "chat", "survey", "csm_note")
METRICS = ("logins", "seats_used", "seats_purchased", "tickets_opened", "nps", "invoices_overdue")
LOOKBACK = timedelta(days=120)
# The score a person's sentiment label stands for when it replaces the model's.
CORRECTED_SCORE = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


@dataclass(frozen=True)
class FeatureDefinition:
    """A feature's name, kind and plain-words definition."""

    name: str
    kind: str  # sentiment | topic | competitor | metric | coverage
    description: str


@dataclass(frozen=True)
class MessageFact:
    """What features need of one message."""

    account_id: str
    created_at: datetime
    source: str
    score: float | None
    label: str | None


def _catalog() -> list[FeatureDefinition]:
    items = [
        FeatureDefinition(
            "sentiment_mean_30d", "sentiment", "Mean sentiment score (-1..1) of the last 30 days"
        ),
        FeatureDefinition(
            "sentiment_mean_90d", "sentiment", "Mean sentiment score (-1..1) of the last 90 days"
        ),
        FeatureDefinition(
            "sentiment_trend_30d",
            "sentiment",
            "Mean score of the last 30 days minus the mean of the 90 days before them",
        ),
        FeatureDefinition(
            "negative_share_30d", "sentiment", "Share of last-30-day messages labelled negative"
        ),
        FeatureDefinition(
            "positive_share_30d", "sentiment", "Share of last-30-day messages labelled positive"
        ),
        FeatureDefinition(
            "sentiment_last_10", "sentiment", "Mean score of the 10 latest messages (120 days)"
        ),
        FeatureDefinition("message_count_30d", "coverage", "Messages in the last 30 days"),
        FeatureDefinition(
            "days_since_last_message", "coverage", "Days since the latest message (120 days)"
        ),
        FeatureDefinition(
            "source_coverage_90d",
            "coverage",
            "Share of the channels ticket, chat, survey and csm_note with data in 90 days",
        ),
        FeatureDefinition(
            "competitor_mentions_90d", "competitor", "Competitor mentions in the last 90 days"
        ),
        FeatureDefinition(
            "competitor_evaluating_90d",
            "competitor",
            "Mentions in the last 90 days where the customer is evaluating a competitor",
        ),
    ]
    for topic in load_taxonomy().all_topics():
        items.append(
            FeatureDefinition(
                f"topic_{topic.key}_share_30d",
                "topic",
                f"Share of last-30-day messages about {topic.name}",
            )
        )
        items.append(
            FeatureDefinition(
                f"topic_{topic.key}_sentiment_30d",
                "topic",
                f"Mean sentiment (-1..1) of last-30-day sentences about {topic.name}",
            )
        )
    for name in METRICS:
        items.append(FeatureDefinition(f"metric_{name}", "metric", f"Latest {name} observation"))
        items.append(
            FeatureDefinition(
                f"metric_{name}_change_30d",
                "metric",
                f"Relative change of {name} against the observation 30 days earlier",
            )
        )
    items.append(
        FeatureDefinition("seat_utilisation", "metric", "Latest seats_used / seats_purchased")
    )
    return items


FEATURE_CATALOG: list[FeatureDefinition] = _catalog()


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None


def sentiment_features(facts: Sequence[MessageFact], as_of: datetime) -> dict[str, FeatureValue]:
    """Sentiment and coverage features of one account's messages (pure)."""
    facts = sorted((f for f in facts if f.created_at <= as_of), key=lambda f: f.created_at)
    scored = [f for f in facts if f.score is not None]
    last30 = [f for f in scored if f.created_at > as_of - timedelta(days=30)]
    last90 = [f for f in scored if f.created_at > as_of - timedelta(days=90)]
    before = [
        f
        for f in scored
        if as_of - timedelta(days=120) < f.created_at <= as_of - timedelta(days=30)
    ]
    latest = facts[-1].created_at if facts else None
    latest30 = last30[-1].created_at if last30 else None
    latest90 = last90[-1].created_at if last90 else None
    mean30 = _mean(f.score for f in last30 if f.score is not None)
    mean_before = _mean(f.score for f in before if f.score is not None)
    recent_sources = {f.source for f in facts if f.created_at > as_of - timedelta(days=90)}

    def share(label: str) -> float | None:
        return sum(f.label == label for f in last30) / len(last30) if last30 else None

    return {
        "sentiment_mean_30d": FeatureValue(mean30, latest30),
        "sentiment_mean_90d": FeatureValue(
            _mean(f.score for f in last90 if f.score is not None), latest90
        ),
        "sentiment_trend_30d": FeatureValue(
            mean30 - mean_before if mean30 is not None and mean_before is not None else None,
            latest30,
        ),
        "negative_share_30d": FeatureValue(share("negative"), latest30),
        "positive_share_30d": FeatureValue(share("positive"), latest30),
        "sentiment_last_10": FeatureValue(
            _mean(f.score for f in scored[-10:] if f.score is not None),
            scored[-1].created_at if scored else None,
        ),
        "message_count_30d": FeatureValue(
            float(sum(f.created_at > as_of - timedelta(days=30) for f in facts)), as_of
        ),
        "days_since_last_message": FeatureValue(
            (as_of - latest).total_seconds() / 86400 if latest else None, as_of
        ),
        "source_coverage_90d": FeatureValue(
            len(recent_sources & set(EXPECTED_SOURCES)) / len(EXPECTED_SOURCES), as_of
        ),
    }


def metric_features(
    observations: Sequence[tuple[str, float, datetime]], as_of: datetime
) -> dict[str, FeatureValue]:
    """Latest value, 30-day relative change and seat utilisation from (name, value, at) rows."""
    by_name: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for name, value, at in observations:
        if at <= as_of:
            by_name[name].append((at, value))
    features: dict[str, FeatureValue] = {}
    for name, rows in by_name.items():
        rows.sort()
        at, value = rows[-1]
        features[f"metric_{name}"] = FeatureValue(value, at)
        earlier = [v for t, v in rows if t <= as_of - timedelta(days=30)]
        change = None
        if earlier and earlier[-1] != 0:
            change = (value - earlier[-1]) / abs(earlier[-1])
        features[f"metric_{name}_change_30d"] = FeatureValue(
            change, at if change is not None else None
        )
    used, bought = features.get("metric_seats_used"), features.get("metric_seats_purchased")
    if used and bought and used.value is not None and bought.value:
        observed = min(t for t in (used.observed_at, bought.observed_at) if t is not None)
        features["seat_utilisation"] = FeatureValue(used.value / bought.value, observed)
    return features


def _in_scope(
    session: Session, account_ids: Sequence[str], scope: AccountScope | None
) -> list[str]:
    """The ids among `account_ids` whose accounts are in `scope` (all of them without one)."""
    if scope is None:
        return list(account_ids)
    query = select(Account.id).where(col(Account.id).in_(account_ids), scope.account_condition())
    return list(session.exec(query).all())


def account_features(
    session: Session,
    account_ids: Sequence[str],
    as_of: datetime,
    *,
    basis: Basis = "known",
    scope: AccountScope | None = None,
) -> dict[str, dict[str, FeatureValue]]:
    """Every catalog feature of each account at `as_of` (missing ones have value None).

    With a `scope`, the data of accounts outside it is not read: they get the values of an
    unknown account, so a scoped caller cannot tell them apart.
    """
    readable = _in_scope(session, account_ids, scope)
    version = active_version(session)
    known = basis == "known"
    start = as_of - LOOKBACK
    facts: dict[str, list[MessageFact]] = defaultdict(list)
    window = MessageWindow(readable, as_of, known)
    message_query = (
        select_columns(
            col(Message.id),
            col(Message.account_id),
            col(Message.created_at),
            col(Message.source),
            col(MessageScore.score),
            col(MessageScore.label),
        )
        .join(
            MessageScore,
            (col(MessageScore.message_id) == col(Message.id))
            & (col(MessageScore.model_version) == (version or "")),
            isouter=True,
        )
        .where(*window.conditions(start))
    )
    message_days: dict[int, tuple[str, datetime]] = {}
    rows = list(session.exec(message_query))
    corrected = _sentiment_corrections(session, window, start)
    for message_id, account_id, created_at, source, score, label in rows:
        if message_id in corrected:  # a person's label wins over the model's
            label = corrected[message_id]
            score = CORRECTED_SCORE[label]
        facts[account_id].append(MessageFact(account_id, created_at, source, score, label))
        message_days[message_id] = (account_id, created_at)

    result: dict[str, dict[str, FeatureValue]] = {}
    for account_id in account_ids:
        values = {d.name: FeatureValue(None, None) for d in FEATURE_CATALOG}
        values.update(sentiment_features(facts.get(account_id, []), as_of))
        result[account_id] = values

    _topic_features(session, result, facts, message_days, window)
    _competitor_features(session, result, message_days, window)
    metric_query = select(Metric.account_id, Metric.name, Metric.value, Metric.observed_at).where(
        col(Metric.account_id).in_(readable), col(Metric.observed_at) <= as_of
    )
    if known:
        metric_query = metric_query.where(col(Metric.ingested_at) <= as_of)
    observations: dict[str, list[tuple[str, float, datetime]]] = defaultdict(list)
    for account_id, name, value, observed_at in session.exec(metric_query):
        observations[account_id].append((name, value, observed_at))
    for account_id, account_metrics in observations.items():
        result[account_id].update(metric_features(account_metrics, as_of))
    return result


@dataclass(frozen=True)
class MessageWindow:
    """The messages the features of `account_ids` read: signal authors' messages created in
    a window ending at `as_of` (and, on the known basis, ingested by then). The derived rows
    (corrections, topics, competitor mentions) are selected with `ids` as a sub-query, so
    the database joins them instead of the service sending thousands of ids back."""

    account_ids: Sequence[str]
    as_of: datetime
    known: bool

    def conditions(self, start: datetime) -> list[ColumnElement[bool]]:
        """WHERE conditions on Message for the window (start, as_of]."""
        conditions = [
            col(Message.account_id).in_(self.account_ids),
            col(Message.author_role).in_(SIGNAL_ROLES),
            col(Message.created_at) > start,
            col(Message.created_at) <= self.as_of,
        ]
        if self.known:
            conditions.append(col(Message.ingested_at) <= self.as_of)
        return conditions

    def ids(self, start: datetime) -> SelectOfScalar[int | None]:
        """The ids of the window's messages created after `start`, as a sub-query."""
        return select(col(Message.id)).where(*self.conditions(start))


def _topic_features(
    session: Session,
    result: dict[str, dict[str, FeatureValue]],
    facts: dict[str, list[MessageFact]],
    message_days: dict[int, tuple[str, datetime]],
    window: MessageWindow,
) -> None:
    """topic_<key>_share_30d and topic_<key>_sentiment_30d from stored message topics."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    latest: dict[tuple[str, str], datetime] = {}
    recent = window.ids(window.as_of - timedelta(days=30))
    rows = session.exec(
        select(MessageTopic.message_id, MessageTopic.topic, MessageTopic.score).where(
            col(MessageTopic.message_id).in_(recent)
        )
    ).all()
    found = {(message_id, topic): score for message_id, topic, score in rows}
    for (message_id, topic), present in _topic_corrections(session, recent).items():
        if not present:
            found.pop((message_id, topic), None)
        else:
            found.setdefault((message_id, topic), None)
    for (message_id, topic), score in found.items():
        if message_id not in message_days:  # stored after the messages were read
            continue
        account_id, at = message_days[message_id]
        key = (account_id, topic)
        counts[key] += 1
        if score is not None:
            scores[key].append(score)
        latest[key] = max(at, latest.get(key, at))
    for account_id, values in result.items():
        total = values["message_count_30d"].value or 0.0
        last = max((f.created_at for f in facts.get(account_id, [])), default=None)
        for name in list(values):
            if not (name.startswith("topic_") and name.endswith("_share_30d")):
                continue
            topic = name[len("topic_") : -len("_share_30d")]
            key = (account_id, topic)
            if total:
                values[name] = FeatureValue(counts.get(key, 0) / total, latest.get(key, last))
            values[f"topic_{topic}_sentiment_30d"] = FeatureValue(
                _mean(scores.get(key, [])), latest.get(key)
            )


def _competitor_features(
    session: Session,
    result: dict[str, dict[str, FeatureValue]],
    message_days: dict[int, tuple[str, datetime]],
    window: MessageWindow,
) -> None:
    """competitor_mentions_90d and competitor_evaluating_90d."""
    as_of = window.as_of
    since = as_of - timedelta(days=90)
    mentions: dict[str, int] = defaultdict(int)
    evaluating: dict[str, int] = defaultdict(int)
    rows = session.exec(
        select(CompetitorMention.message_id, CompetitorMention.intent).where(
            col(CompetitorMention.message_id).in_(window.ids(since))
        )
    ).all()
    for message_id, intent in rows:
        if message_id not in message_days:  # stored after the messages were read
            continue
        account_id = message_days[message_id][0]
        mentions[account_id] += 1
        evaluating[account_id] += intent == "evaluating"
    with_messages = {account_id for account_id, at in message_days.values() if at > since}
    for account_id, values in result.items():
        if account_id not in with_messages:  # no messages: unknown, not "no competitor talk"
            continue
        values["competitor_mentions_90d"] = FeatureValue(float(mentions[account_id]), as_of)
        values["competitor_evaluating_90d"] = FeatureValue(float(evaluating[account_id]), as_of)


def _sentiment_corrections(
    session: Session, window: MessageWindow, start: datetime
) -> dict[int, str]:
    """The newest sentiment correction of each message of the window created after `start`
    (made by its `as_of` on the known basis)."""
    query = select(LabelCorrection.message_id, LabelCorrection.label).where(
        col(LabelCorrection.message_id).in_(window.ids(start))
    )
    if window.known:
        query = query.where(col(LabelCorrection.corrected_at) <= window.as_of)
    return dict(session.exec(query.order_by(col(LabelCorrection.id))).all())


def _topic_corrections(
    session: Session, message_ids: SelectOfScalar[int | None]
) -> dict[tuple[int, str], bool]:
    """The newest topic correction per (message, topic): whether the topic is present."""
    rows = session.exec(
        select(TopicCorrection.message_id, TopicCorrection.topic, TopicCorrection.present)
        .where(col(TopicCorrection.message_id).in_(message_ids))
        .order_by(col(TopicCorrection.id))
    )
    return {(message_id, topic): present for message_id, topic, present in rows}


def as_json(values: dict[str, FeatureValue]) -> dict[str, dict[str, object]]:
    """Features as JSON-ready {name: {value, observed_at}} (NaN never appears)."""
    return {
        name: {
            "value": None if v.value is None or math.isnan(v.value) else round(v.value, 6),
            "observed_at": v.observed_at.isoformat() if v.observed_at else None,
        }
        for name, v in sorted(values.items())
    }
