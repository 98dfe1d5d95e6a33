"""Alerts: rules, the alerts they raised and every delivery attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from sentiment_service.storage.tables.columns import json_column, utc_column


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
    params: dict[str, Any] = json_column(nullable=False)
    scope_type: str = Field(max_length=16)  # all | segment | owner | account
    scope_value: str | None = Field(default=None, max_length=128)
    webhook_url: str = Field(sa_column=Column(Text, nullable=False))
    enabled: bool = True
    created_by: str = Field(max_length=128)
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    last_evaluated_at: datetime | None = utc_column(nullable=True)
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
    details: dict[str, Any] = json_column(nullable=False)
    as_of: datetime = utc_column()
    created_at: datetime = utc_column(index=True)
    status: str = Field(max_length=16, index=True)  # pending | delivered | cancelled
    attempts: int = 0
    last_attempt_at: datetime | None = utc_column(nullable=True)
    delivered_at: datetime | None = utc_column(nullable=True)
    claimed_until: datetime | None = utc_column(nullable=True)


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
    at: datetime = utc_column(index=True)
