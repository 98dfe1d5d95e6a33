"""Topic insights behind the `/v1/taxonomy`, `/v1/topics` and topic-correction endpoints.

What is counted: customer-authored messages. Summaries, drill-downs and account views cover
messages linked to an account (the population of the daily rollups they read); emerging topics
look at every customer-authored English message, linked or not, because unlinked social posts
are often where a new subject shows first.

Periods are whole UTC days, `start` and `end` both included. Without them a summary covers
the `DEFAULT_PERIOD_DAYS` days up to the day of the latest customer message, and is compared
with the period of equal length just before it. Periods longer than `MAX_PERIOD_DAYS` are
refused.

Work is bounded so that one request stays cheap on a small CPU machine:

- emerging topics embed at most `EMERGING_CAP_PER_WINDOW` messages per window (the newest),
  and say in the response when a window was cut;
- an account's keyphrases are ranked (c-TF-IDF) against the other accounts over the same
  period from at most `KEYPHRASE_MAX_PER_ACCOUNT` messages per account and
  `KEYPHRASE_MAX_MESSAGES` in all (the account's own first, then the newest of the others);
- an account view lists at most `ACCOUNT_COMPETITOR_LIMIT` competitor mentions (the newest)
  and gives their total.

A caller whose key is scoped to segments/owners (an `AccountScope`) gets every view computed
over the accounts in its scope only: summaries, drill-downs, emerging clusters (unlinked
messages belong to no scope) and the set of other accounts that an account's keyphrases are
ranked against. Default periods still end on the portfolio's latest message day, so that
every caller sees the same numbers for the same account.

Topic corrections are stored beside the model output (the newest per message and topic
counts); they do not change the summaries, which report what the model found.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, Select, and_, case, func, or_
from sqlmodel import Session, col, select

from models.text_cleaning import clean_message
from models.topics.emerging import EmergingCluster, UnassignedItem, find_emerging
from models.topics.keyphrases import count_by_group, rank_keyphrases
from models.topics.taxonomy import Taxonomy, TopicDefinition, parse_taxonomy
from pipelines.rollups import ALL_SOURCES
from pipelines.topics import TAXONOMY_KEY, TAXONOMY_KIND, active_taxonomy
from sentiment_service import config_store
from sentiment_service.accounts import visible_account
from sentiment_service.audit import record_change
from sentiment_service.auth.scope import AccountScope
from sentiment_service.errors import ConflictError, InvalidInputError, NotFoundError
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AccountDailyTopicRollup,
    CompetitorMention,
    Message,
    MessageScore,
    MessageTopic,
    TopicCorrection,
)

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 731
MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(9998, 12, 31)
MAX_WINDOW_DAYS = 90
EMERGING_CAP_PER_WINDOW = 5_000
KEYPHRASE_MAX_PER_ACCOUNT = 500
KEYPHRASE_MAX_MESSAGES = 5_000
KEYPHRASE_TOP_K = 10
ACCOUNT_COMPETITOR_LIMIT = 100
CUSTOMER = "customer"
RETOPIC_NOTE = (
    "New messages are assigned topics with this taxonomy from the next scoring batch; run "
    "`sentiment-service retopic` to re-assign the messages already stored."
)
_CURSOR = re.compile(r"^(\d{1,17})-(\d{1,10})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ID = 2**31 - 1


# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayRange:
    """Whole UTC days from `start` to `end`, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """How many days the range covers."""
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """The UTC instants [start 00:00, day after end 00:00)."""
        low = datetime.combine(self.start, time(0), tzinfo=UTC)
        return low, datetime.combine(self.end, time(0), tzinfo=UTC) + timedelta(days=1)

    def previous(self) -> DayRange:
        """The range of equal length just before this one."""
        return DayRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def check_day(value: date | None, field: str) -> date | None:
    """`value` when it lies in the supported calendar range, else a 422 naming `field`."""
    if value is not None and not MIN_DAY <= value <= MAX_DAY:
        raise InvalidInputError(
            f"{field} must be between {MIN_DAY.isoformat()} and {MAX_DAY.isoformat()}",
            field=field,
        )
    return value


def latest_message_day(session: Session, *, linked_only: bool = True) -> date | None:
    """The UTC day of the newest customer message (linked to an account, by default)."""
    query = select(func.max(Message.created_at)).where(Message.author_role == CUSTOMER)
    if linked_only:
        query = query.where(col(Message.account_id).is_not(None))
    newest = session.exec(query).one()
    if newest is None:
        return None
    if isinstance(newest, str):  # SQLite returns MAX() of a datetime column as text
        newest = datetime.fromisoformat(newest)
    return newest.date()


def resolve_period(session: Session, start: date | None, end: date | None) -> DayRange:
    """The requested period, or the default one: `DEFAULT_PERIOD_DAYS` up to the latest day."""
    check_day(start, "start")
    check_day(end, "end")
    if end is None:
        latest = latest_message_day(session) or datetime.now(UTC).date()
        end = max(latest, start) if start is not None else latest
    if start is None:
        start = end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise InvalidInputError("start must not be after end", field="start")
    period = DayRange(start, end)
    if period.days > MAX_PERIOD_DAYS:
        raise InvalidInputError(
            f"the period may cover at most {MAX_PERIOD_DAYS} days", field="start"
        )
    if period.previous().start < MIN_DAY:
        raise InvalidInputError(
            f"start and the period before it must not be before {MIN_DAY.isoformat()}",
            field="start",
        )
    return period


def _customer_messages(
    low: datetime | None,
    high: datetime | None,
    *,
    accounts: Select[Any] | None = None,
    source: str | None = None,
    account_id: str | None = None,
) -> list[ColumnElement[bool]]:
    """Filters on `Message`: customer-authored, linked to an account (one of `accounts`, a
    sub-query of ids, when given), in [low, high)."""
    conditions: list[ColumnElement[bool]] = [
        col(Message.author_role) == CUSTOMER,
        col(Message.account_id).is_not(None),
    ]
    if low is not None:
        conditions.append(col(Message.created_at) >= low)
    if high is not None:
        conditions.append(col(Message.created_at) < high)
    if source is not None:
        conditions.append(col(Message.source) == source)
    if account_id is not None:
        conditions.append(col(Message.account_id) == account_id)
    if accounts is not None:
        conditions.append(col(Message.account_id).in_(accounts))
    return conditions


def account_filter(segment: str | None, scope: AccountScope | None) -> Select[Any] | None:
    """A sub-query of the ids of the accounts of `segment` (if given) within `scope` (if
    given); None when every account counts."""
    if segment is None and scope is None:
        return None
    query = select(Account.id)
    if segment is not None:
        query = query.where(Account.segment == segment)
    if scope is not None:
        query = query.where(scope.account_condition())
    return query


def _scope_filter(scope: AccountScope | None) -> Select[Any] | None:
    """The in-scope account ids as a sub-query (None: unrestricted)."""
    return None if scope is None else scope.account_ids()


def _english() -> ColumnElement[bool]:
    """Messages in a language the models read (unknown counts as English)."""
    language = func.lower(col(Message.language))
    return or_(col(Message.language).is_(None), language == "en", language.like("en-%"))


# --- the taxonomy ----------------------------------------------------------------------------


class TaxonomyOut(BaseModel):
    """The taxonomy in force: its version (None for the shipped default) and content."""

    version: int | None
    taxonomy: dict[str, Any]
    sha256: str


class TaxonomyVersionOut(BaseModel):
    """One entry of the taxonomy change log."""

    version: int
    status: str
    author: str
    reason: str
    created_at: datetime
    sha256: str
    diff: list[dict[str, Any]]


class TaxonomyPublishedOut(TaxonomyOut):
    """The outcome of a taxonomy change."""

    changed: bool
    changes: list[dict[str, Any]]
    note: str


def taxonomy_view(session: Session) -> TaxonomyOut:
    """The taxonomy in force."""
    taxonomy, version = active_taxonomy(session)
    return TaxonomyOut(
        version=version, taxonomy=taxonomy.model_dump(mode="json"), sha256=taxonomy.sha256()
    )


def taxonomy_versions(session: Session) -> list[TaxonomyVersionOut]:
    """Every stored taxonomy version, newest first, with its author, reason and diff."""
    return [
        TaxonomyVersionOut(
            version=row.version,
            status=row.status,
            author=row.author,
            reason=row.reason,
            created_at=row.created_at,
            sha256=row.body_sha256,
            diff=list(row.diff or []),
        )
        for row in config_store.history(session, TAXONOMY_KIND, TAXONOMY_KEY)
    ]


def publish_taxonomy(
    session: Session, taxonomy: Taxonomy, *, actor: str, reason: str
) -> TaxonomyPublishedOut:
    """Store `taxonomy` as the new published version (nothing when it equals the one in force).

    The stored body is the normalised document (defaults filled in), so diffs between versions
    show only real changes. `config_store` writes the audit entry.
    """
    current, _ = active_taxonomy(session)
    body = taxonomy.model_dump(mode="json")
    changes = config_store.json_diff(current.model_dump(mode="json"), body)
    stored = config_store.save_version(
        session, kind=TAXONOMY_KIND, key=TAXONOMY_KEY, body=body, author=actor, reason=reason
    )
    return TaxonomyPublishedOut(
        version=stored.version,
        taxonomy=body,
        sha256=taxonomy.sha256(),
        changed=bool(changes),
        changes=changes,
        note=RETOPIC_NOTE,
    )


def promote_topic(
    session: Session, topic: TopicDefinition, *, actor: str, reason: str
) -> TaxonomyPublishedOut:
    """Append `topic` to the base topics of the taxonomy in force, as a new version.

    Raises ConflictError (409) when a base or segment topic already has its key.
    """
    current, version = active_taxonomy(session)
    if topic.key in {existing.key for existing in current.all_topics()}:
        raise ConflictError(f"the taxonomy already has a topic '{topic.key}'", field="key")
    document = current.model_dump(mode="json")
    document["topics"].append(topic.model_dump(mode="json"))
    try:
        taxonomy = parse_taxonomy(document)
    except ValidationError as error:
        raise InvalidInputError(
            f"the topic does not fit the taxonomy: {error.errors()[0]['msg']}", field="key"
        ) from error
    published = publish_taxonomy(session, taxonomy, actor=actor, reason=reason)
    record_change(
        session,
        actor=actor,
        action="topic.promote",
        entity_type="topic",
        entity_id=topic.key,
        before={"taxonomy_version": version},
        after={"taxonomy_version": published.version, "topic": topic.model_dump(mode="json")},
    )
    return published


def topic_names(taxonomy: Taxonomy) -> dict[str, str]:
    """Display name of every topic key of a taxonomy (segment topics included)."""
    return {topic.key: topic.name for topic in taxonomy.all_topics()}


# --- the topic summary -----------------------------------------------------------------------


@dataclass
class _Tally:
    mentions: int = 0
    scored: int = 0
    score_sum: float = 0.0
    negative: int = 0


class TopicStatOut(BaseModel):
    """One topic over the period, compared with the period before."""

    topic: str
    name: str | None
    in_taxonomy: bool
    mentions: int
    share: float | None
    mean_sentiment: float | None
    negative_share: float | None
    previous_mentions: int
    mentions_change: int
    mentions_change_ratio: float | None


class CompetitorStatOut(BaseModel):
    """Mentions of one competitor (one per sentence naming it), by intent."""

    competitor: str
    mentions: int
    by_intent: dict[str, int]
    previous_mentions: int


class TopicSummaryOut(BaseModel):
    """Topics and competitor mentions of customer messages over a period."""

    start: date
    end: date
    previous_start: date
    previous_end: date
    segment: str | None
    source: str | None
    taxonomy_version: int | None
    analysed_messages: int
    previous_analysed_messages: int
    topics: list[TopicStatOut]
    competitors: list[CompetitorStatOut]


def _rollup_tallies(
    session: Session, period: DayRange, accounts: Select[Any] | None
) -> dict[str, _Tally]:
    """Per-topic tallies from the daily topic rollups."""
    rollup = AccountDailyTopicRollup
    query = (
        select(
            rollup.topic,
            func.sum(rollup.mentions),
            func.sum(rollup.scored_count),
            func.sum(rollup.score_sum),
            func.sum(rollup.negative_count),
        )
        .where(col(rollup.day) >= period.start, col(rollup.day) <= period.end)
        .group_by(rollup.topic)
    )
    if accounts is not None:
        query = query.where(col(rollup.account_id).in_(accounts))
    return {
        topic: _Tally(int(m or 0), int(s or 0), float(total or 0.0), int(n or 0))
        for topic, m, s, total, n in session.exec(query).all()
    }


def _message_tallies(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str
) -> dict[str, _Tally]:
    """Per-topic tallies of one source, from the topic rows (rollups have no source)."""
    low, high = period.bounds()
    negative = case(
        (and_(col(MessageTopic.label) == "negative", col(MessageTopic.score).is_not(None)), 1),
        else_=0,
    )
    query = (
        select(
            MessageTopic.topic,
            func.count(),
            func.count(col(MessageTopic.score)),
            func.sum(MessageTopic.score),
            func.sum(negative),
        )
        .join(Message, col(Message.id) == col(MessageTopic.message_id))
        .where(*_customer_messages(low, high, accounts=accounts, source=source))
        .group_by(MessageTopic.topic)
    )
    return {
        topic: _Tally(int(m or 0), int(s or 0), float(total or 0.0), int(n or 0))
        for topic, m, s, total, n in session.exec(query).all()
    }


def _topic_tallies(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str | None
) -> dict[str, _Tally]:
    if source is None:
        return _rollup_tallies(session, period, accounts)
    return _message_tallies(session, period, accounts, source)


def _analysed_messages(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str | None
) -> int:
    """Customer messages with a sentiment score (the ones topics are assigned to)."""
    query = select(func.sum(AccountDailyRollup.scored_count)).where(
        AccountDailyRollup.source == (source or ALL_SOURCES),
        col(AccountDailyRollup.day) >= period.start,
        col(AccountDailyRollup.day) <= period.end,
    )
    if accounts is not None:
        query = query.where(col(AccountDailyRollup.account_id).in_(accounts))
    return int(session.exec(query).one() or 0)


def _competitor_counts(
    session: Session, period: DayRange, accounts: Select[Any] | None, source: str | None
) -> dict[str, Counter[str]]:
    """Competitor -> intent -> mentions."""
    low, high = period.bounds()
    query = (
        select(CompetitorMention.competitor, CompetitorMention.intent, func.count())
        .join(Message, col(Message.id) == col(CompetitorMention.message_id))
        .where(*_customer_messages(low, high, accounts=accounts, source=source))
        .group_by(CompetitorMention.competitor, CompetitorMention.intent)
    )
    counts: dict[str, Counter[str]] = {}
    for competitor, intent, count in session.exec(query).all():
        counts.setdefault(competitor, Counter())[intent] += int(count)
    return counts


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _topic_stat(
    topic: str, names: dict[str, str], now: _Tally, before: _Tally, analysed: int
) -> TopicStatOut:
    change = now.mentions - before.mentions
    return TopicStatOut(
        topic=topic,
        name=names.get(topic),
        in_taxonomy=topic in names,
        mentions=now.mentions,
        share=_ratio(now.mentions, analysed),
        mean_sentiment=_ratio(now.score_sum, now.scored),
        negative_share=_ratio(now.negative, now.scored),
        previous_mentions=before.mentions,
        mentions_change=change,
        mentions_change_ratio=_ratio(change, before.mentions),
    )


def topic_summary(
    session: Session,
    period: DayRange,
    *,
    segment: str | None,
    source: str | None,
    scope: AccountScope | None = None,
) -> TopicSummaryOut:
    """Per topic: mentions, share, aspect sentiment and change; competitor mention counts,
    over the accounts of `segment` (if given) in `scope` (None: every account).

    Every topic of the taxonomy in force is listed (zero when unseen), plus topics of stored
    rows that the taxonomy no longer has (`in_taxonomy` false) until a retopic removes them.
    """
    taxonomy, version = active_taxonomy(session)
    names = topic_names(taxonomy)
    previous = period.previous()
    accounts = account_filter(segment, scope)
    now = _topic_tallies(session, period, accounts, source)
    before = _topic_tallies(session, previous, accounts, source)
    analysed = _analysed_messages(session, period, accounts, source)
    stats = [
        _topic_stat(topic, names, now.get(topic, _Tally()), before.get(topic, _Tally()), analysed)
        for topic in {*names, *now, *before}
    ]
    stats.sort(key=lambda stat: (-stat.mentions, stat.topic))
    competitors_now = _competitor_counts(session, period, accounts, source)
    competitors_before = _competitor_counts(session, previous, accounts, source)
    competitors = [
        CompetitorStatOut(
            competitor=competitor,
            mentions=sum(competitors_now.get(competitor, Counter()).values()),
            by_intent=dict(sorted(competitors_now.get(competitor, Counter()).items())),
            previous_mentions=sum(competitors_before.get(competitor, Counter()).values()),
        )
        for competitor in {*competitors_now, *competitors_before}
    ]
    competitors.sort(key=lambda stat: (-stat.mentions, stat.competitor))
    return TopicSummaryOut(
        start=period.start,
        end=period.end,
        previous_start=previous.start,
        previous_end=previous.end,
        segment=segment,
        source=source,
        taxonomy_version=version,
        analysed_messages=analysed,
        previous_analysed_messages=_analysed_messages(session, previous, accounts, source),
        topics=stats,
        competitors=competitors,
    )


# --- drill-down ------------------------------------------------------------------------------


class TopicMessageOut(BaseModel):
    """A message carrying a topic, with the sentence behind it."""

    message_id: int
    account_id: str | None
    source: str
    created_at: datetime
    evidence: str
    confidence: float
    label: str | None
    score: float | None
    model_version: str


def encode_cursor(created_at: datetime, message_id: int) -> str:
    """An opaque position: microseconds since the epoch and the message id."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{message_id}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position of a cursor made by `encode_cursor` (a 422 naming `cursor` otherwise)."""
    match = _CURSOR.match(cursor)
    if match is None or not 1 <= int(match.group(2)) <= _MAX_ID:
        raise InvalidInputError("cursor is not a next_cursor of this endpoint", field="cursor")
    try:
        at = _EPOCH + timedelta(microseconds=int(match.group(1)))
    except OverflowError as error:
        raise InvalidInputError("cursor is out of range", field="cursor") from error
    return at, int(match.group(2))


def topic_exists(session: Session, key: str) -> bool:
    """Whether `key` is a topic of the taxonomy in force or of stored topic rows."""
    taxonomy, _ = active_taxonomy(session)
    if key in topic_names(taxonomy):
        return True
    stored = session.exec(select(MessageTopic.id).where(MessageTopic.topic == key).limit(1))
    return stored.first() is not None


def topic_messages(
    session: Session,
    key: str,
    *,
    start: date | None,
    end: date | None,
    account_id: str | None,
    cursor: str | None,
    limit: int,
    scope: AccountScope | None = None,
) -> tuple[list[TopicMessageOut], str | None]:
    """Messages with topic `key`, newest first, a page at a time: (items, next_cursor); only
    messages of accounts in `scope` (None: every account)."""
    check_day(start, "start")
    check_day(end, "end")
    if start is not None and end is not None and start > end:
        raise InvalidInputError("start must not be after end", field="start")
    if not topic_exists(session, key):
        raise NotFoundError(f"topic '{key}' is not known", field="key")
    low = DayRange(start, start).bounds()[0] if start is not None else None
    high = DayRange(end, end).bounds()[1] if end is not None else None
    query = (
        select(Message, MessageTopic)
        .join(MessageTopic, col(MessageTopic.message_id) == col(Message.id))
        .where(
            MessageTopic.topic == key,
            *_customer_messages(low, high, account_id=account_id, accounts=_scope_filter(scope)),
        )
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        at, message_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(Message.created_at) < at,
                and_(col(Message.created_at) == at, col(Message.id) < message_id),
            )
        )
    rows = list(session.exec(query).all())
    items = [
        TopicMessageOut(
            message_id=message.id or 0,
            account_id=message.account_id,
            source=message.source,
            created_at=message.created_at,
            evidence=topic.evidence,
            confidence=topic.confidence,
            label=topic.label,
            score=topic.score,
            model_version=topic.model_version,
        )
        for message, topic in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(last.created_at, last.id or 0)
    return items, next_cursor


# --- emerging topics -------------------------------------------------------------------------


class EmergingExampleOut(BaseModel):
    """A message of a cluster (its cleaned text)."""

    message_id: int
    text: str


class EmergingClusterOut(BaseModel):
    """A cluster of unassigned messages that grew against the previous window."""

    label: str
    keyphrases: list[str]
    size: int
    previous_size: int
    growth: float
    examples: list[EmergingExampleOut]
    topic_seed: dict[str, Any]


class WindowOut(BaseModel):
    """A window of whole UTC days and how many unassigned messages it contributed."""

    start: date
    end: date
    messages: int
    capped: bool


class EmergingOut(BaseModel):
    """Emerging topics: what grew among messages that fit no topic."""

    window_days: int
    min_cluster_size: int
    growth_ratio: float
    current: WindowOut
    previous: WindowOut
    cap_per_window: int
    clusters: list[EmergingClusterOut]
    note: str


@dataclass(frozen=True)
class _Unassigned:
    message_id: int
    text: str
    at: datetime


def _unassigned_messages(
    session: Session, window: DayRange, cap: int, scope: AccountScope | None
) -> list[_Unassigned]:
    """The newest `cap` scored, English, customer messages of a window without any topic
    (with a scope, only those of accounts in it: unlinked messages belong to no scope)."""
    low, high = window.bounds()
    has_topic = select(MessageTopic.id).where(col(MessageTopic.message_id) == col(Message.id))
    scored = select(MessageScore.id).where(
        col(MessageScore.message_id) == col(Message.id), MessageScore.status == "scored"
    )
    query = select(Message.id, Message.text, Message.created_at).where(
        col(Message.author_role) == CUSTOMER,
        col(Message.created_at) >= low,
        col(Message.created_at) < high,
        _english(),
        ~has_topic.exists(),
        scored.exists(),
    )
    if scope is not None:
        query = query.where(col(Message.account_id).in_(scope.account_ids()))
    rows = session.exec(
        query.order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(cap)
    ).all()
    found = [_Unassigned(int(i or 0), clean_message(text).text.strip(), at) for i, text, at in rows]
    return [item for item in found if item.text]


def _cluster_out(cluster: EmergingCluster) -> EmergingClusterOut:
    return EmergingClusterOut(
        label=cluster.label,
        keyphrases=cluster.keyphrases,
        size=cluster.size,
        previous_size=cluster.previous_size,
        growth=round(cluster.growth, 4),
        examples=[
            EmergingExampleOut(message_id=int(message_id), text=text)
            for message_id, text in zip(cluster.example_message_ids, cluster.examples, strict=True)
        ],
        topic_seed=cluster.to_topic_seed(),
    )


def _embed(models: ModelHub, taxonomy: Taxonomy, texts: Sequence[str]) -> np.ndarray:
    """Unit-length embeddings of `texts` with the topic encoder."""
    return models.topic_assigner(taxonomy).encoder.encode(list(texts))


def emerging_topics(
    database: Database,
    models: ModelHub,
    *,
    end: date | None,
    window_days: int,
    min_cluster_size: int,
    growth_ratio: float,
    scope: AccountScope | None = None,
) -> EmergingOut:
    """Clusters of unassigned messages in the window ending on `end` that grew against the
    window before (see `models.topics.emerging`); with a `scope`, only messages of accounts
    in it are clustered. Models load only when there is enough to cluster."""
    check_day(end, "end")
    with database.session() as session:
        taxonomy, _ = active_taxonomy(session)
        last = end or latest_message_day(session, linked_only=False) or datetime.now(UTC).date()
        current = DayRange(last - timedelta(days=window_days - 1), last)
        previous = current.previous()
        if previous.start < MIN_DAY:
            raise InvalidInputError("end is too early for this window", field="end")
        now_items = _unassigned_messages(session, current, EMERGING_CAP_PER_WINDOW, scope)
        before_items = _unassigned_messages(session, previous, EMERGING_CAP_PER_WINDOW, scope)
    clusters: list[EmergingCluster] = []
    if len(now_items) >= min_cluster_size:
        items = now_items + before_items
        embeddings = _embed(models, taxonomy, [item.text for item in items])
        clusters = find_emerging(
            [
                UnassignedItem(item.text, embeddings[row], item.at, item.message_id)
                for row, item in enumerate(items)
            ],
            window_end=current.bounds()[1],
            window=timedelta(days=window_days),
            min_cluster_size=min_cluster_size,
            growth_ratio=growth_ratio,
            label_fn=models.keyphrases().label,
        )
    return EmergingOut(
        window_days=window_days,
        min_cluster_size=min_cluster_size,
        growth_ratio=growth_ratio,
        current=WindowOut(
            start=current.start,
            end=current.end,
            messages=len(now_items),
            capped=len(now_items) >= EMERGING_CAP_PER_WINDOW,
        ),
        previous=WindowOut(
            start=previous.start,
            end=previous.end,
            messages=len(before_items),
            capped=len(before_items) >= EMERGING_CAP_PER_WINDOW,
        ),
        cap_per_window=EMERGING_CAP_PER_WINDOW,
        clusters=[_cluster_out(cluster) for cluster in clusters],
        note=(
            f"Only the newest {EMERGING_CAP_PER_WINDOW} scored customer messages without a "
            "topic are considered per window; promote a cluster's topic_seed with "
            "POST /v1/topics/emerging/promote."
        ),
    )


# --- one account -----------------------------------------------------------------------------


class EvidenceOut(BaseModel):
    """A quoted sentence and the message it comes from."""

    message_id: int
    created_at: datetime
    text: str
    label: str | None
    score: float | None
    language: str | None = None


class AccountTopicOut(BaseModel):
    """One topic of an account over the period."""

    topic: str
    name: str | None
    mentions: int
    mean_sentiment: float | None
    negative_share: float | None
    latest_evidence: EvidenceOut | None


class AccountCompetitorOut(BaseModel):
    """A competitor named by the account."""

    competitor: str
    alias: str
    intent: str
    message_id: int
    created_at: datetime
    evidence: str
    label: str | None
    score: float | None


class KeyphraseOut(BaseModel):
    """A phrase typical of the account: c-TF-IDF weight and how many messages hold it."""

    phrase: str
    weight: float
    messages: int


class KeyphraseBasisOut(BaseModel):
    """What the keyphrase ranking read."""

    account_messages: int
    other_messages: int
    other_accounts: int
    max_per_account: int
    max_messages: int


class AccountTopicsOut(BaseModel):
    """An account's topics, competitor mentions and typical keyphrases over a period."""

    account_id: str
    start: date
    end: date
    taxonomy_version: int | None
    topics: list[AccountTopicOut]
    competitors: list[AccountCompetitorOut]
    competitor_mentions_total: int
    keyphrases: list[KeyphraseOut]
    keyphrase_basis: KeyphraseBasisOut


def _latest_evidence(
    session: Session, account_id: str, topic: str, period: DayRange
) -> EvidenceOut | None:
    low, high = period.bounds()
    row = session.exec(
        select(Message, MessageTopic)
        .join(MessageTopic, col(MessageTopic.message_id) == col(Message.id))
        .where(MessageTopic.topic == topic, *_customer_messages(low, high, account_id=account_id))
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    message, finding = row
    return EvidenceOut(
        message_id=message.id or 0,
        created_at=message.created_at,
        text=finding.evidence,
        label=finding.label,
        score=finding.score,
        language=message.language,
    )


def account_topic_stats(
    session: Session, account_id: str, period: DayRange, names: dict[str, str]
) -> list[AccountTopicOut]:
    rollup = AccountDailyTopicRollup
    rows = session.exec(
        select(
            rollup.topic,
            func.sum(rollup.mentions),
            func.sum(rollup.scored_count),
            func.sum(rollup.score_sum),
            func.sum(rollup.negative_count),
        )
        .where(
            rollup.account_id == account_id,
            col(rollup.day) >= period.start,
            col(rollup.day) <= period.end,
        )
        .group_by(rollup.topic)
    ).all()
    stats = [
        AccountTopicOut(
            topic=topic,
            name=names.get(topic),
            mentions=int(mentions or 0),
            mean_sentiment=_ratio(float(total or 0.0), int(scored or 0)),
            negative_share=_ratio(int(negative or 0), int(scored or 0)),
            latest_evidence=_latest_evidence(session, account_id, topic, period),
        )
        for topic, mentions, scored, total, negative in rows
    ]
    return sorted(stats, key=lambda stat: (-stat.mentions, stat.topic))


def account_competitors(
    session: Session, account_id: str, period: DayRange
) -> tuple[list[AccountCompetitorOut], int]:
    low, high = period.bounds()
    conditions = _customer_messages(low, high, account_id=account_id)
    joined = select(Message, CompetitorMention).join(
        CompetitorMention, col(CompetitorMention.message_id) == col(Message.id)
    )
    total = session.exec(
        select(func.count())
        .select_from(CompetitorMention)
        .join(Message, col(Message.id) == col(CompetitorMention.message_id))
        .where(*conditions)
    ).one()
    rows = session.exec(
        joined.where(*conditions)
        .order_by(
            col(Message.created_at).desc(),
            col(Message.id).desc(),
            col(CompetitorMention.sentence_index),
        )
        .limit(ACCOUNT_COMPETITOR_LIMIT)
    ).all()
    mentions = [
        AccountCompetitorOut(
            competitor=mention.competitor,
            alias=mention.alias,
            intent=mention.intent,
            message_id=message.id or 0,
            created_at=message.created_at,
            evidence=mention.evidence,
            label=mention.label,
            score=mention.score,
        )
        for message, mention in rows
    ]
    return mentions, int(total or 0)


def _keyphrase_corpus(
    session: Session, account_id: str, period: DayRange, scope: AccountScope | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """The account's texts and (account, text) of the others (those in `scope`, when given),
    within the documented caps."""
    low, high = period.bounds()
    newest = (col(Message.created_at).desc(), col(Message.id).desc())
    own = list(
        session.exec(
            select(Message.text)
            .where(*_customer_messages(low, high, account_id=account_id), _english())
            .order_by(*newest)
            .limit(KEYPHRASE_MAX_PER_ACCOUNT)
        ).all()
    )
    room = KEYPHRASE_MAX_MESSAGES - len(own)
    if not own or room <= 0:
        return own, []
    rank = (
        func.row_number()
        .over(partition_by=col(Message.account_id), order_by=newest)
        .label("position")
    )
    ranked = (
        select(Message.account_id, Message.text, Message.created_at, Message.id, rank)
        .where(
            *_customer_messages(low, high, accounts=_scope_filter(scope)),
            col(Message.account_id) != account_id,
            _english(),
        )
        .subquery()
    )
    others = session.execute(
        select(ranked.c.account_id, ranked.c.text)
        .where(ranked.c.position <= KEYPHRASE_MAX_PER_ACCOUNT)
        .order_by(ranked.c.created_at.desc(), ranked.c.id.desc())
        .limit(room)
    ).all()
    return own, [(str(other), str(text)) for other, text in others]


def _account_keyphrases(
    models: ModelHub, account_id: str, own: list[str], others: list[tuple[str, str]]
) -> list[KeyphraseOut]:
    """The account's phrases ranked by c-TF-IDF against the other accounts."""
    if not own:
        return []
    texts = [clean_message(text).text for text in own] + [
        clean_message(text).text for _, text in others
    ]
    groups = [account_id] * len(own) + [other for other, _ in others]
    counts = count_by_group(groups, models.keyphrases().extract(texts))
    ranked = rank_keyphrases(counts, KEYPHRASE_TOP_K).get(account_id, [])
    return [
        KeyphraseOut(phrase=phrase, weight=round(weight, 4), messages=counts[account_id][phrase])
        for phrase, weight in ranked
    ]


def account_topics(
    database: Database,
    models: ModelHub,
    account_id: str,
    *,
    start: date | None,
    end: date | None,
    scope: AccountScope | None = None,
) -> AccountTopicsOut:
    """Topics, competitor mentions and keyphrases of one account (404 when unknown or outside
    `scope`); keyphrases are ranked against the other accounts in `scope`.

    The default period is the same as the portfolio summary's, so both views agree.
    """
    with database.session() as session:
        visible_account(session, account_id, scope)
        period = resolve_period(session, start, end)
        taxonomy, version = active_taxonomy(session)
        topics = account_topic_stats(session, account_id, period, topic_names(taxonomy))
        competitors, total = account_competitors(session, account_id, period)
        own, others = _keyphrase_corpus(session, account_id, period, scope)
    return AccountTopicsOut(
        account_id=account_id,
        start=period.start,
        end=period.end,
        taxonomy_version=version,
        topics=topics,
        competitors=competitors,
        competitor_mentions_total=total,
        keyphrases=_account_keyphrases(models, account_id, own, others),
        keyphrase_basis=KeyphraseBasisOut(
            account_messages=len(own),
            other_messages=len(others),
            other_accounts=len({other for other, _ in others}),
            max_per_account=KEYPHRASE_MAX_PER_ACCOUNT,
            max_messages=KEYPHRASE_MAX_MESSAGES,
        ),
    )


# --- one message: topics and corrections ----------------------------------------------------


class TopicCorrectionOut(BaseModel):
    """A person's statement that a message is (or is not) about a topic."""

    id: int
    message_id: int
    topic: str
    present: bool
    note: str | None
    corrected_by: str
    corrected_at: datetime


class MessageTopicOut(BaseModel):
    """A topic the model found in a message."""

    topic: str
    confidence: float
    evidence: str
    sentence_index: int
    sentence_count: int
    label: str | None
    score: float | None
    model_version: str


class MessageCompetitorOut(BaseModel):
    """A competitor named in a message."""

    competitor: str
    alias: str
    intent: str
    evidence: str
    label: str | None
    score: float | None


class MessageTopicsOut(BaseModel):
    """The model's topics of a message, the corrections in force and the result of both."""

    message_id: int
    topics: list[MessageTopicOut]
    competitors: list[MessageCompetitorOut]
    corrections: list[TopicCorrectionOut]
    effective_topics: list[str]


def _correction_out(row: TopicCorrection) -> TopicCorrectionOut:
    return TopicCorrectionOut(
        id=row.id or 0,
        message_id=row.message_id,
        topic=row.topic,
        present=row.present,
        note=row.note,
        corrected_by=row.corrected_by,
        corrected_at=row.corrected_at,
    )


def effective_corrections(session: Session, message_id: int) -> dict[str, TopicCorrection]:
    """The newest correction of each topic of a message."""
    rows = session.exec(
        select(TopicCorrection)
        .where(TopicCorrection.message_id == message_id)
        .order_by(col(TopicCorrection.corrected_at), col(TopicCorrection.id))
    ).all()
    return {row.topic: row for row in rows}


def _require_message(
    session: Session, message_id: int, scope: AccountScope | None = None
) -> Message:
    """The message; NotFoundError when it is unknown or, with a `scope`, when its account is
    not in scope (unlinked messages belong to no scope)."""
    message = session.get(Message, message_id)
    if message is not None and scope is not None:
        account = session.get(Account, message.account_id) if message.account_id else None
        if account is None or not scope.allows(account):
            message = None
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist", field="message_id")
    return message


def correct_topic(
    session: Session,
    message_id: int,
    topic: str,
    *,
    present: bool,
    note: str | None,
    actor: str,
) -> TopicCorrectionOut:
    """Store a correction (404 for an unknown message, 422 for a topic not in the taxonomy)."""
    _require_message(session, message_id)
    taxonomy, _ = active_taxonomy(session)
    if topic not in topic_names(taxonomy):
        raise InvalidInputError(f"topic '{topic}' is not in the taxonomy in force", field="topic")
    before = effective_corrections(session, message_id).get(topic)
    row = TopicCorrection(
        message_id=message_id, topic=topic, present=present, note=note, corrected_by=actor
    )
    session.add(row)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="topic.correct",
        entity_type="message",
        entity_id=str(message_id),
        before={"topic": topic, "present": before.present} if before is not None else None,
        after={"topic": topic, "present": present, "note": note},
    )
    return _correction_out(row)


def message_topics(
    session: Session, message_id: int, scope: AccountScope | None = None
) -> MessageTopicsOut:
    """The model's topics and competitor mentions of a message, with the corrections (404
    when the message's account is outside `scope`)."""
    _require_message(session, message_id, scope)
    findings = session.exec(
        select(MessageTopic)
        .where(MessageTopic.message_id == message_id)
        .order_by(col(MessageTopic.confidence).desc(), col(MessageTopic.topic))
    ).all()
    mentions = session.exec(
        select(CompetitorMention)
        .where(CompetitorMention.message_id == message_id)
        .order_by(col(CompetitorMention.sentence_index), col(CompetitorMention.competitor))
    ).all()
    corrections = effective_corrections(session, message_id)
    effective = {finding.topic for finding in findings}
    for topic, correction in corrections.items():
        if correction.present:
            effective.add(topic)
        else:
            effective.discard(topic)
    return MessageTopicsOut(
        message_id=message_id,
        topics=[
            MessageTopicOut(
                topic=f.topic,
                confidence=f.confidence,
                evidence=f.evidence,
                sentence_index=f.sentence_index,
                sentence_count=f.sentence_count,
                label=f.label,
                score=f.score,
                model_version=f.model_version,
            )
            for f in findings
        ],
        competitors=[
            MessageCompetitorOut(
                competitor=m.competitor,
                alias=m.alias,
                intent=m.intent,
                evidence=m.evidence,
                label=m.label,
                score=m.score,
            )
            for m in mentions
        ],
        corrections=[_correction_out(corrections[topic]) for topic in sorted(corrections)],
        effective_topics=sorted(effective),
    )
