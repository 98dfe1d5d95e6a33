"""People's corrections of a message's sentiment label, stored beside the model output.

Each correction is audited and joins the built-in `corrections` labelled set (see
`evaluations`), which evaluations and model adaptation read; the API
(`PUT /v1/messages/{id}/sentiment-label`) and the dashboard's label forms both store
corrections through `correct_sentiment_label`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session

from sentiment_service.audit import record_change
from sentiment_service.errors import NotFoundError
from sentiment_service.storage.tables import LabelCorrection, Message
from sentiment_service.text_rules import StripNul


class CorrectionIn(BaseModel):
    """The sentiment a person says a message has."""

    label: Literal["negative", "neutral", "positive"]
    note: Annotated[str, StripNul] | None = Field(None, max_length=2000)


class CorrectionOut(CorrectionIn):
    """A stored correction."""

    id: int
    message_id: int
    corrected_by: str
    corrected_at: datetime


def correct_sentiment_label(
    session: Session, message_id: int, body: CorrectionIn, *, actor: str
) -> CorrectionOut:
    """Store `actor`'s correction of a message's label and audit it; NotFoundError when the
    message does not exist."""
    if session.get(Message, message_id) is None:
        raise NotFoundError(f"message {message_id} does not exist", field="message_id")
    correction = LabelCorrection(
        message_id=message_id,
        label=body.label,
        note=body.note,
        corrected_by=actor,
    )
    session.add(correction)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="label.correct",
        entity_type="message",
        entity_id=str(message_id),
        before=None,
        after=body.model_dump(),
    )
    return CorrectionOut(
        id=correction.id or 0,
        message_id=message_id,
        label=body.label,
        note=body.note,
        corrected_by=correction.corrected_by,
        corrected_at=correction.corrected_at,
    )
