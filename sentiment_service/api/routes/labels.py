"""Human labels: corrections of message sentiment, and the stored labelled sets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlmodel import col, select

from sentiment_service import evaluations
from sentiment_service.api.deps import DatabaseDep, Evaluator
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.audit import record_change
from sentiment_service.errors import NotFoundError
from sentiment_service.storage.tables import LabelCorrection, LabelledSet, Message
from sentiment_service.text_rules import StripNul

router = APIRouter(prefix="/v1", tags=["evaluation"])


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


class LabelledSetOut(BaseModel):
    """A stored labelled set."""

    name: str
    n: int
    mode: str
    sha256: str
    created_at: datetime | None
    created_by: str | None


@router.put(
    "/messages/{message_id}/sentiment-label",
    response_model=CorrectionOut,
    summary="Correct a message's sentiment label",
)
def put_sentiment_label(
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: CorrectionIn,
    principal: Evaluator,
    database: DatabaseDep,
) -> CorrectionOut:
    """Store a correction beside the model output; it joins the `corrections` labelled set."""
    with database.session() as session:
        if session.get(Message, message_id) is None:
            raise NotFoundError(f"message {message_id} does not exist", field="message_id")
        correction = LabelCorrection(
            message_id=message_id,
            label=body.label,
            note=body.note,
            corrected_by=principal.actor,
        )
        session.add(correction)
        session.flush()
        record_change(
            session,
            actor=principal.actor,
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


@router.get("/labelled-sets", response_model=list[LabelledSetOut], summary="Labelled sets")
def list_labelled_sets(_: Evaluator, database: DatabaseDep) -> list[LabelledSetOut]:
    """Uploaded sets, plus `corrections` when people have corrected labels."""
    with database.session() as session:
        stored = session.exec(select(LabelledSet).order_by(col(LabelledSet.id))).all()
        out = [
            LabelledSetOut(
                name=s.name,
                n=s.n,
                mode=s.mode,
                sha256=s.sha256,
                created_at=s.created_at,
                created_by=s.created_by,
            )
            for s in stored
        ]
        if evaluations.CORRECTIONS_SET in evaluations.labelled_set_names(session):
            corrections = evaluations.corrections_dataset(session)
            out.append(
                LabelledSetOut(
                    name=evaluations.CORRECTIONS_SET,
                    n=len(corrections),
                    mode=corrections.mode,
                    sha256=corrections.sha256,
                    created_at=None,
                    created_by=None,
                )
            )
    return out
