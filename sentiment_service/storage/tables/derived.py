"""What the pipelines derive from messages: the scoring queue and scores, topics and
competitor mentions (with corrections), the daily rollups and pipeline state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from sentiment_service.storage.tables.columns import json_column, utc_column


class ScoringQueueItem(SQLModel, table=True):
    """A message waiting to be scored; workers claim rows with a lease."""

    __tablename__ = "scoring_queue"

    message_id: int = Field(primary_key=True, foreign_key="messages.id", ondelete="CASCADE")
    enqueued_at: datetime = utc_column()
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_at: datetime | None = utc_column(nullable=True, index=True)
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
    sentences: list[dict[str, Any]] | None = json_column()
    scored_at: datetime = utc_column()


class PipelineState(SQLModel, table=True):
    """Small named values of the pipelines, e.g. the active sentiment model version."""

    __tablename__ = "pipeline_state"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = utc_column()


class DataVersion(SQLModel, table=True):
    """Write counters of the tables that account features read (accounts, messages, their
    scores, topics, competitor mentions and corrections, metrics). Database triggers (see
    migration 0010) add one to a slot in the same transaction as every insert, update or
    delete of those tables, so the sum over the slots changes with every committed change and
    only then. PostgreSQL writers use the slot of their connection (fewer lock waits between
    concurrent writers); SQLite has one writer and one slot."""

    __tablename__ = "data_versions"

    slot: int = Field(primary_key=True)
    version: int


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
    updated_at: datetime = utc_column()


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
    corrected_at: datetime = utc_column()


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
    updated_at: datetime = utc_column()
