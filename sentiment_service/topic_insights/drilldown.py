"""Topic insights: drill-down into the messages carrying a topic, a page at a time."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from pipelines.topics import active_taxonomy
from sentiment_service.auth.scope import AccountScope
from sentiment_service.errors import InvalidInputError, NotFoundError
from sentiment_service.pagination import paginate
from sentiment_service.storage.tables import Message, MessageTopic
from sentiment_service.topic_insights.periods import (
    DayRange,
    _customer_messages,
    _scope_filter,
    check_day,
)
from sentiment_service.topic_insights.taxonomy import topic_names

_CURSOR = re.compile(r"^(\d{1,17})-(\d{1,10})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ID = 2**31 - 1


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
    page, next_cursor = paginate(
        list(session.exec(query).all()),
        limit,
        lambda row: encode_cursor(row[0].created_at, row[0].id or 0),
    )
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
        for message, topic in page
    ]
    return items, next_cursor
