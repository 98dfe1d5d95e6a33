"""Health scoring: versioned configuration, feature snapshots, stored scores and overrides."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from sentiment_service.storage.tables.columns import json_column, utc_column


class ConfigVersion(SQLModel, table=True):
    """One immutable version of a piece of configuration (a scorecard, the topic taxonomy)."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("kind", "key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)  # scorecard | taxonomy | competitors
    key: str = Field(max_length=64, index=True)
    version: int
    status: str = Field(max_length=16)  # published | draft | archived
    body: dict[str, Any] = json_column(nullable=False)
    body_sha256: str = Field(max_length=64)
    diff: list[dict[str, Any]] | None = json_column()
    reason: str = Field(sa_column=Column(Text, nullable=False))
    author: str = Field(max_length=128)
    created_at: datetime = utc_column()


class FeatureSnapshot(SQLModel, table=True):
    """An account's features as known at the end of one day (point-in-time)."""

    __tablename__ = "feature_snapshots"
    __table_args__ = (UniqueConstraint("account_id", "as_of"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    as_of: date = Field(index=True)
    features: dict[str, Any] = json_column(nullable=False)
    model_versions: dict[str, Any] = json_column(nullable=False)
    computed_at: datetime = utc_column()


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
    explanation: dict[str, Any] = json_column(nullable=False)
    computed_at: datetime = utc_column()


class HealthOverride(SQLModel, table=True):
    """A person's override of an account's band or score, with reason and expiry."""

    __tablename__ = "health_overrides"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="accounts.id", index=True, ondelete="CASCADE")
    scorecard: str = Field(max_length=64, index=True)
    score: float | None = None
    band: str | None = Field(default=None, max_length=32)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: datetime = utc_column()
    created_by: str = Field(max_length=128)
    created_at: datetime = utc_column()
    removed_at: datetime | None = utc_column(nullable=True)
    removed_by: str | None = Field(default=None, max_length=128)
