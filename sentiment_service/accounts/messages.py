"""An account's messages, newest first, with their sentiment under the active model version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from pipelines.queue import active_version
from sentiment_service.accounts.records import visible_account
from sentiment_service.auth.scope import AccountScope
from sentiment_service.pagination import paginate
from sentiment_service.storage.tables import Message, MessageScore


class ScoredMessageOut(BaseModel):
    """A stored message with its sentiment under the active model version."""

    id: int
    source: str
    source_system: str
    external_id: str
    author_role: str
    thread_id: str | None
    created_at: datetime
    text: str
    duplicate_of: int | None = Field(
        None, description="Set when flagged as a canned repeat of that message (not scored)"
    )
    duplicate_reason: str | None = None
    label: str | None
    score: float | None
    model_version: str | None
    sentences: list[dict[str, Any]] | None


def account_messages(
    session: Session,
    account_id: str,
    scope: AccountScope | None,
    *,
    source: str | None = None,
    label: str | None = None,
    author_role: str | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> tuple[list[ScoredMessageOut], str | None]:
    """A page of the account's messages, newest first, each with its sentiment under the
    active model version (`label` filters on it; messages without a score are kept unless
    `label` is given), and the cursor of the next page (ids below `cursor`). NotFoundError
    when the account does not exist or `scope` does not cover it."""
    visible_account(session, account_id, scope)
    version = active_version(session)
    query = (
        select(Message, MessageScore)
        .join(
            MessageScore,
            (col(MessageScore.message_id) == col(Message.id))
            & (col(MessageScore.model_version) == version),
            isouter=label is None,
        )
        .where(Message.account_id == account_id)
        .order_by(col(Message.id).desc())
        .limit(limit + 1)
    )
    if source is not None:
        query = query.where(Message.source == source)
    if author_role is not None:
        query = query.where(Message.author_role == author_role)
    if label is not None:
        query = query.where(MessageScore.label == label)
    if cursor is not None:
        query = query.where(col(Message.id) < cursor)
    page, next_cursor = paginate(
        list(session.exec(query).all()), limit, lambda row: str(row[0].id or 0)
    )
    items = [
        ScoredMessageOut(
            id=m.id or 0,
            source=m.source,
            source_system=m.source_system,
            external_id=m.external_id,
            author_role=m.author_role,
            thread_id=m.thread_id,
            created_at=m.created_at,
            text=m.text,
            duplicate_of=m.duplicate_of,
            duplicate_reason=m.duplicate_reason,
            label=s.label if s else None,
            score=s.score if s else None,
            model_version=s.model_version if s else None,
            sentences=s.sentences if s else None,
        )
        for m, s in page
    ]
    return items, next_cursor
