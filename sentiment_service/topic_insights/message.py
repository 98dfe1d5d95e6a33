"""Topic insights: one message's topics and competitor mentions, and people's topic
corrections (stored beside the model output; the newest per message and topic counts)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from pipelines.topics import active_taxonomy
from sentiment_service.audit import record_change
from sentiment_service.auth.scope import AccountScope
from sentiment_service.errors import InvalidInputError, NotFoundError
from sentiment_service.storage.tables import (
    Account,
    CompetitorMention,
    Message,
    MessageTopic,
    TopicCorrection,
)
from sentiment_service.topic_insights.taxonomy import topic_names


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
