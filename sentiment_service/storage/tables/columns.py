"""Column helpers shared by the table modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from sentiment_service.storage.types import UTCDateTime, utcnow


def utc_column(nullable: bool = False, index: bool = False) -> Any:
    """A UTC timestamp column (now by default unless nullable)."""
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def json_column(nullable: bool = True) -> Any:
    """A JSON column, None by default."""
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))
