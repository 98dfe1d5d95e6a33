"""Access: API keys, dashboard sessions and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from sentiment_service.storage.tables.columns import json_column, utc_column


class ApiKey(SQLModel, table=True):
    """An API key: only a salted hash of its secret is stored."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    salt: str = Field(max_length=64)
    secret_hash: str = Field(max_length=128)
    scope: dict[str, Any] | None = json_column()
    created_at: datetime = utc_column()
    created_by: str = Field(max_length=128)
    last_used_at: datetime | None = utc_column(nullable=True)
    revoked_at: datetime | None = utc_column(nullable=True)


class DashboardSession(SQLModel, table=True):
    """A dashboard sign-in; its cookie is honoured only while this row says it is open."""

    __tablename__ = "dashboard_sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's nonce
    key_id: int = Field(foreign_key="api_keys.id", index=True, ondelete="CASCADE")
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()
    ended_at: datetime | None = utc_column(nullable=True)


class AuditLogEntry(SQLModel, table=True):
    """Who changed what and when, with the state before and after."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=64)
    entity_id: str = Field(max_length=256, index=True)
    before: dict[str, Any] | None = json_column()
    after: dict[str, Any] | None = json_column()
    at: datetime = utc_column(index=True)
