"""Human labels: corrections of message sentiment, and the stored labelled sets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from sentiment_service import evaluations
from sentiment_service.api.deps import DatabaseDep, Evaluator
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.corrections import CorrectionIn, CorrectionOut, correct_sentiment_label

router = APIRouter(prefix="/v1", tags=["evaluation"])


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
        return correct_sentiment_label(session, message_id, body, actor=principal.actor)


@router.get("/labelled-sets", response_model=list[LabelledSetOut], summary="Labelled sets")
def list_labelled_sets(_: Evaluator, database: DatabaseDep) -> list[LabelledSetOut]:
    """Uploaded sets, plus `corrections` when people have corrected labels."""
    with database.session() as session:
        out = [
            LabelledSetOut(
                name=s.name,
                n=s.n,
                mode=s.mode,
                sha256=s.sha256,
                created_at=s.created_at,
                created_by=s.created_by,
            )
            for s in evaluations.stored_labelled_sets(session)
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
