"""Database tables. Alembic migrations (not `create_all`) create them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from sentiment_service.storage.types import UTCDateTime, utcnow


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


class Account(SQLModel, table=True):
    """A customer account (company) whose health we follow."""

    __tablename__ = "accounts"

    id: str = Field(primary_key=True, max_length=128)
    name: str = Field(max_length=256)
    segment: str | None = Field(default=None, max_length=64, index=True)
    industry: str | None = Field(default=None, max_length=64, index=True)
    tier: str | None = Field(default=None, max_length=64)
    arr: float | None = None
    renewal_date: date | None = None
    owner: str | None = Field(default=None, max_length=128, index=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class AccountExternalId(SQLModel, table=True):
    """How a vendor system (zendesk, intercom, ...) names one of our accounts."""

    __tablename__ = "account_external_ids"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    source_system: str = Field(max_length=64)
    external_id: str = Field(max_length=256)


class Contact(SQLModel, table=True):
    """An optional author record: a person at an account, known by a vendor id."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str | None = Field(default=None, foreign_key="accounts.id", index=True)
    source_system: str = Field(max_length=64)
    external_id: str = Field(max_length=256)
    role: str | None = Field(default=None, max_length=64)
    created_at: datetime = _utc()


class Message(SQLModel, table=True):
    """One piece of customer text: a ticket comment, chat part, survey verbatim, post or note."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id", name="uq_messages_source_external"),
        Index("ix_messages_account_hash", "account_id", "content_hash"),
        Index("ix_messages_account_created", "account_id", "created_at"),
        Index("ix_messages_account_template", "account_id", "template_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16, index=True)
    source_system: str = Field(max_length=64)
    external_id: str = Field(max_length=256)
    account_id: str | None = Field(default=None, foreign_key="accounts.id", ondelete="CASCADE")
    author_role: str = Field(max_length=16)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _utc(index=True)
    ingested_at: datetime = _utc()
    updated_at: datetime = _utc()
    language: str | None = Field(default=None, max_length=16)
    content_hash: str = Field(max_length=64)
    # hash of the text without quotes, signature, greeting, numbers and links (near-duplicates)
    template_hash: str | None = Field(default=None, max_length=64)
    thread_id: str | None = Field(default=None, max_length=256, index=True)
    redactions: int = 0
    extra: dict[str, Any] | None = _json()
    # Set when the canned-reply policy (pipelines/dedupe.py) flags this message as a repeat of
    # another: it is stored and listed, but neither scored nor counted in rollups.
    duplicate_of: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("messages.id", name="fk_messages_duplicate_of", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
    )
    duplicate_reason: str | None = Field(default=None, max_length=32)


class Metric(SQLModel, table=True):
    """One observation of a quantitative account metric (logins, seats, NPS, ...)."""

    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint("account_id", "name", "observed_at", "source", name="uq_metrics_obs"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=64, index=True)
    value: float
    observed_at: datetime = _utc()
    source: str = Field(max_length=64)
    ingested_at: datetime = _utc()


class AccountOutcome(SQLModel, table=True):
    """A churn, renewal or expansion event, for backtests."""

    __tablename__ = "account_outcomes"
    __table_args__ = (UniqueConstraint("account_id", "occurred_on", "outcome"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    outcome: str = Field(max_length=16)
    occurred_on: date
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ingested_at: datetime = _utc()


class SyncState(SQLModel, table=True):
    """Where a connector's incremental sync stands."""

    __tablename__ = "sync_state"

    connector: str = Field(primary_key=True, max_length=64)
    cursor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_success_at: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = _utc()
    details: dict[str, Any] | None = _json()


class QuarantineRecord(SQLModel, table=True):
    """An input record that was not stored, with the reason, for review."""

    __tablename__ = "quarantine"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    channel: str = Field(max_length=64, index=True)
    source: str | None = Field(default=None, max_length=64)
    reason_code: str = Field(max_length=64, index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    field_path: str | None = Field(default=None, max_length=256)
    raw_payload: Any = _json(nullable=False)
    payload_hash: str = Field(max_length=64, index=True)
    received_at: datetime = _utc(index=True)


class QuarantineKey(SQLModel, table=True):
    """An account a quarantined record could belong to, as a keyed hash (see
    pipelines/account_keys.py): creating that account replays the record."""

    __tablename__ = "quarantine_keys"

    quarantine_id: int = Field(foreign_key="quarantine.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(max_length=64, primary_key=True, index=True)


class AuditLogEntry(SQLModel, table=True):
    """Who changed what and when, with the state before and after."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=64)
    entity_id: str = Field(max_length=256, index=True)
    before: dict[str, Any] | None = _json()
    after: dict[str, Any] | None = _json()
    at: datetime = _utc(index=True)


class ApiKey(SQLModel, table=True):
    """An API key: only a salted hash of its secret is stored."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    salt: str = Field(max_length=64)
    secret_hash: str = Field(max_length=128)
    scope: dict[str, Any] | None = _json()
    created_at: datetime = _utc()
    created_by: str = Field(max_length=128)
    last_used_at: datetime | None = _utc(nullable=True)
    revoked_at: datetime | None = _utc(nullable=True)


class LabelledSet(SQLModel, table=True):
    """A named labelled sample uploaded by an analyst (texts are PII-redacted)."""

    __tablename__ = "labelled_sets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    sha256: str = Field(max_length=64)
    n: int
    mode: str = Field(max_length=16)
    created_at: datetime = _utc()
    created_by: str = Field(max_length=128)


class LabelledItem(SQLModel, table=True):
    """One labelled text of a labelled set."""

    __tablename__ = "labelled_items"

    id: int | None = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="labelled_sets.id", index=True, ondelete="CASCADE")
    position: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    label: str = Field(max_length=16)
    source: str | None = Field(default=None, max_length=64)


class LabelCorrection(SQLModel, table=True):
    """A person's correction of a message's sentiment label; the newest one counts."""

    __tablename__ = "label_corrections"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    label: str = Field(max_length=16)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    corrected_by: str = Field(max_length=128)
    corrected_at: datetime = _utc()


class EvaluationRun(SQLModel, table=True):
    """One model scored on one labelled dataset: the summary metrics and the HTML report."""

    __tablename__ = "evaluation_runs"

    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(max_length=64, index=True)
    model_version: str = Field(max_length=128, index=True)
    dataset_name: str = Field(max_length=128)
    dataset_sha256: str = Field(max_length=64)
    n: int
    mode: str = Field(max_length=16)
    summary: dict[str, Any] = _json(nullable=False)
    report_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _utc(index=True)
    created_by: str = Field(max_length=128)


class EvaluationItem(SQLModel, table=True):
    """One prediction of an evaluation run."""

    __tablename__ = "evaluation_items"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="evaluation_runs.id", index=True, ondelete="CASCADE")
    position: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str | None = Field(default=None, max_length=64)
    label: str = Field(max_length=16)
    predicted: str = Field(max_length=16)
    confidence: float
    probabilities: dict[str, float] = _json(nullable=False)


class ModelPromotion(SQLModel, table=True):
    """A side-by-side comparison of a candidate model with the default, and the decision."""

    __tablename__ = "model_promotions"

    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(max_length=64)
    current_version: str | None = Field(default=None, max_length=128)
    candidate_version: str = Field(max_length=128)
    artifact_dir: str = Field(sa_column=Column(Text, nullable=False))
    promoted: bool
    comparison: dict[str, Any] = _json(nullable=False)
    decided_at: datetime = _utc(index=True)
    decided_by: str = Field(max_length=128)


class ScoringQueueItem(SQLModel, table=True):
    """A message waiting to be scored; workers claim rows with a lease."""

    __tablename__ = "scoring_queue"

    message_id: int = Field(primary_key=True, foreign_key="messages.id", ondelete="CASCADE")
    enqueued_at: datetime = _utc()
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = _utc(nullable=True, index=True)
    attempts: int = 0


class MessageScore(SQLModel, table=True):
    """A message's sentiment under one model version (old versions stay until a switch)."""

    __tablename__ = "message_scores"
    __table_args__ = (UniqueConstraint("message_id", "model_version"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    model_version: str = Field(max_length=128, index=True)
    # scored | skipped_language | skipped_duplicate | skipped_empty
    status: str = Field(max_length=32)
    label: str | None = Field(default=None, max_length=16)
    score: float | None = None
    p_negative: float | None = None
    p_neutral: float | None = None
    p_positive: float | None = None
    aggregation: str | None = Field(default=None, max_length=32)
    sentences: list[dict[str, Any]] | None = _json()
    scored_at: datetime = _utc()


class PipelineState(SQLModel, table=True):
    """Small named values of the pipelines, e.g. the active sentiment model version."""

    __tablename__ = "pipeline_state"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _utc()


class AccountDailyRollup(SQLModel, table=True):
    """Per account, day and source ('all' included): counts and sentiment of scored messages."""

    __tablename__ = "account_daily_rollups"
    __table_args__ = (UniqueConstraint("account_id", "day", "source"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    day: date = Field(index=True)
    source: str = Field(max_length=16)
    model_version: str = Field(max_length=128)
    message_count: int
    scored_count: int
    score_sum: float
    mean_score: float | None
    negative_count: int
    neutral_count: int
    positive_count: int
    updated_at: datetime = _utc()


class MessageTopic(SQLModel, table=True):
    """A topic found in a message by one topic model version, with the sentence behind it."""

    __tablename__ = "message_topics"
    __table_args__ = (UniqueConstraint("message_id", "model_version", "topic"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    model_version: str = Field(max_length=160, index=True)
    topic: str = Field(max_length=64, index=True)
    confidence: float
    sentence_index: int
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    sentence_count: int = 1
    score: float | None = None  # mean sentiment of the topic's sentences (aspect sentiment)
    label: str | None = Field(default=None, max_length=16)


class CompetitorMention(SQLModel, table=True):
    """A configured competitor named in a message, with the sentence and its sentiment."""

    __tablename__ = "competitor_mentions"
    __table_args__ = (
        UniqueConstraint("message_id", "model_version", "competitor", "sentence_index"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    model_version: str = Field(max_length=160, index=True)
    competitor: str = Field(max_length=64, index=True)
    alias: str = Field(max_length=128)
    intent: str = Field(max_length=16)  # evaluating | mention
    sentence_index: int
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    score: float | None = None
    label: str | None = Field(default=None, max_length=16)


class TopicCorrection(SQLModel, table=True):
    """A person's statement that a message is (or is not) about a topic; the newest counts."""

    __tablename__ = "topic_corrections"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    topic: str = Field(max_length=64, index=True)
    present: bool
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    corrected_by: str = Field(max_length=128)
    corrected_at: datetime = _utc()


class ConfigVersion(SQLModel, table=True):
    """One immutable version of a piece of configuration (a scorecard, the topic taxonomy)."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("kind", "key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)  # scorecard | taxonomy | competitors
    key: str = Field(max_length=64, index=True)
    version: int
    status: str = Field(max_length=16)  # published | draft | archived
    body: dict[str, Any] = _json(nullable=False)
    body_sha256: str = Field(max_length=64)
    diff: list[dict[str, Any]] | None = _json()
    reason: str = Field(sa_column=Column(Text, nullable=False))
    author: str = Field(max_length=128)
    created_at: datetime = _utc()


class FeatureSnapshot(SQLModel, table=True):
    """An account's features as known at the end of one day (point-in-time)."""

    __tablename__ = "feature_snapshots"
    __table_args__ = (UniqueConstraint("account_id", "as_of"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    as_of: date = Field(index=True)
    features: dict[str, Any] = _json(nullable=False)
    model_versions: dict[str, Any] = _json(nullable=False)
    computed_at: datetime = _utc()


class HealthScoreRecord(SQLModel, table=True):
    """A computed health score of an account under one scorecard version on one day."""

    __tablename__ = "health_scores"
    __table_args__ = (
        UniqueConstraint("account_id", "scorecard", "scorecard_version", "as_of"),
        Index("ix_health_scores_card_day", "scorecard", "as_of"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    scorecard: str = Field(max_length=64)
    scorecard_version: int
    as_of: date
    score: float | None = None
    band: str = Field(max_length=32)
    confidence: float
    peer_percentile: float | None = None
    explanation: dict[str, Any] = _json(nullable=False)
    computed_at: datetime = _utc()


class HealthOverride(SQLModel, table=True):
    """A person's override of an account's band or score, with reason and expiry."""

    __tablename__ = "health_overrides"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    scorecard: str = Field(max_length=64, index=True)
    score: float | None = None
    band: str | None = Field(default=None, max_length=32)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = _utc()
    created_by: str = Field(max_length=128)
    created_at: datetime = _utc()
    removed_at: datetime | None = _utc(nullable=True)
    removed_by: str | None = Field(default=None, max_length=128)


class AccountDailyTopicRollup(SQLModel, table=True):
    """Per account, day and topic: mentions and the topic's sentiment (aspect level)."""

    __tablename__ = "account_daily_topic_rollups"
    __table_args__ = (UniqueConstraint("account_id", "day", "topic"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    day: date = Field(index=True)
    topic: str = Field(max_length=64, index=True)
    model_version: str = Field(max_length=160)
    mentions: int
    scored_count: int
    score_sum: float
    negative_count: int
    positive_count: int
    updated_at: datetime = _utc()


class AlertRule(SQLModel, table=True):
    """An alert rule: a condition kind with parameters, the accounts it watches, a webhook.

    SQLite's AUTOINCREMENT keeps ids of deleted rules from being reused, because alert dedupe
    keys start with the rule id (PostgreSQL sequences never reuse ids anyway).
    """

    __tablename__ = "alert_rules"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    kind: str = Field(max_length=32, index=True)
    params: dict[str, Any] = _json(nullable=False)
    scope_type: str = Field(max_length=16)  # all | segment | owner | account
    scope_value: str | None = Field(default=None, max_length=128)
    webhook_url: str = Field(sa_column=Column(Text, nullable=False))
    enabled: bool = True
    created_by: str = Field(max_length=128)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    last_evaluated_at: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AlertEvent(SQLModel, table=True):
    """A condition a rule found; the unique dedupe key makes each condition alert only once."""

    __tablename__ = "alert_events"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_alert_events_dedupe_key"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int | None = Field(
        default=None, foreign_key="alert_rules.id", index=True, ondelete="SET NULL"
    )
    kind: str = Field(max_length=32)
    account_id: str = Field(max_length=128, index=True)
    dedupe_key: str = Field(max_length=512)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    details: dict[str, Any] = _json(nullable=False)
    as_of: datetime = _utc()
    created_at: datetime = _utc(index=True)
    status: str = Field(max_length=16, index=True)  # pending | delivered | cancelled
    attempts: int = 0
    last_attempt_at: datetime | None = _utc(nullable=True)
    delivered_at: datetime | None = _utc(nullable=True)
    claimed_until: datetime | None = _utc(nullable=True)


class AlertDelivery(SQLModel, table=True):
    """One attempt to POST an alert event to its rule's webhook."""

    __tablename__ = "alert_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="alert_events.id", index=True, ondelete="CASCADE")
    rule_id: int | None = Field(default=None, index=True)
    attempt: int
    ok: bool
    status_code: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    duration_ms: float | None = None
    at: datetime = _utc(index=True)


class ModelJob(SQLModel, table=True):
    """A background model job: an adaptation (fine-tuning on people's labels) or the gate and
    promotion of an adapted candidate. `active_slot` is set while the job is queued or running
    and is unique, so the database itself refuses a second active job."""

    __tablename__ = "model_jobs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)  # adaptation | promotion
    status: str = Field(max_length=16, index=True)  # queued | running | succeeded | failed
    active_slot: str | None = Field(default=None, max_length=16, unique=True)
    requested_by: str = Field(max_length=128)
    params: dict[str, Any] = _json(nullable=False)
    created_at: datetime = _utc(index=True)
    started_at: datetime | None = _utc(nullable=True)
    finished_at: datetime | None = _utc(nullable=True)
    heartbeat_at: datetime | None = _utc(nullable=True)
    runner: str | None = Field(default=None, max_length=128)
    log: str = Field(default="", sa_column=Column(Text, nullable=False))
    result: dict[str, Any] | None = _json()
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DashboardSession(SQLModel, table=True):
    """A dashboard sign-in; its cookie is honoured only while this row says it is open."""

    __tablename__ = "dashboard_sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's nonce
    key_id: int = Field(foreign_key="api_keys.id", index=True, ondelete="CASCADE")
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    ended_at: datetime | None = _utc(nullable=True)
