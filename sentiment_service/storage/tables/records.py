"""What is ingested: accounts with their vendor ids and contacts, messages, metrics,
outcomes, connector sync state and the quarantine."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from sentiment_service.storage.tables.columns import json_column, utc_column


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
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


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
    created_at: datetime = utc_column()


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
    created_at: datetime = utc_column(index=True)
    ingested_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    language: str | None = Field(default=None, max_length=16)
    content_hash: str = Field(max_length=64)
    # hash of the text without quotes, signature, greeting, numbers and links (near-duplicates)
    template_hash: str | None = Field(default=None, max_length=64)
    thread_id: str | None = Field(default=None, max_length=256, index=True)
    redactions: int = 0
    extra: dict[str, Any] | None = json_column()
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
    observed_at: datetime = utc_column()
    source: str = Field(max_length=64)
    ingested_at: datetime = utc_column()


class AccountOutcome(SQLModel, table=True):
    """A churn, renewal or expansion event, for backtests."""

    __tablename__ = "account_outcomes"
    __table_args__ = (UniqueConstraint("account_id", "occurred_on", "outcome"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    outcome: str = Field(max_length=16)
    occurred_on: date
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ingested_at: datetime = utc_column()


class SyncState(SQLModel, table=True):
    """Where a connector's incremental sync stands."""

    __tablename__ = "sync_state"

    connector: str = Field(primary_key=True, max_length=64)
    cursor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_success_at: datetime | None = utc_column(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = utc_column()
    details: dict[str, Any] | None = json_column()


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
    raw_payload: Any = json_column(nullable=False)
    payload_hash: str = Field(max_length=64, index=True)
    received_at: datetime = utc_column(index=True)


class QuarantineKey(SQLModel, table=True):
    """An account a quarantined record could belong to, as a keyed hash (see
    pipelines/account_keys.py): creating that account replays the record."""

    __tablename__ = "quarantine_keys"

    quarantine_id: int = Field(foreign_key="quarantine.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(max_length=64, primary_key=True, index=True)
