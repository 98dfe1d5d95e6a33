"""Adapting the sentiment model to people's labels, from the API: a labelling queue of the
messages the model is least sure about, background adaptation jobs on the stored corrections,
and the gate + promotion of an adapted candidate (see `sentiment_service.model_jobs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel, Field

from sentiment_service.api.deps import DatabaseDep, Evaluator, get_model_jobs
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.errors import InvalidInputError
from sentiment_service.labelling_queue import labelling_queue
from sentiment_service.model_job_views import (
    AdaptationDetail,
    AdaptationOut,
    LabelStatusOut,
    adaptation_out,
    labels_out,
)
from sentiment_service.model_jobs import ADAPTATION
from sentiment_service.promotion import DEFAULT_TOLERANCE

router = APIRouter(prefix="/v1/models", tags=["evaluation"])
MAX_QUEUE = 200


class AdaptationIn(BaseModel):
    """What to adapt on and how."""

    from_corrections: bool = Field(
        True, description="Train on the stored label corrections (the only source for now)."
    )
    epochs: int | None = Field(
        None, ge=1, le=20, description="Training epochs; empty: the adaptation's own choice."
    )
    seed: int = Field(13, ge=0, le=2**31 - 1, description="Random seed (same seed, same model).")


class PromoteIn(BaseModel):
    """How strict the gate is."""

    tolerance: float = Field(DEFAULT_TOLERANCE, ge=0, le=0.2, description="Allowed drop per check.")


class Probabilities(BaseModel):
    """Calibrated class probabilities."""

    negative: float
    neutral: float
    positive: float


class QueueItemOut(BaseModel):
    """A message the model is unsure about."""

    message_id: int
    account_id: str | None
    source: str
    text: str
    created_at: datetime
    label: str = Field(description="The model's label.")
    probabilities: Probabilities
    margin: float = Field(description="Top probability minus the second one (0: a toss-up).")


class LabellingQueueOut(BaseModel):
    """Least-sure messages first; label them with PUT /v1/messages/{id}/sentiment-label."""

    model_version: str | None
    labels: LabelStatusOut
    items: list[QueueItemOut]


JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="An adaptation job's id.")]


@router.get(
    "/labelling-queue",
    response_model=LabellingQueueOut,
    summary="Messages the model is least sure about, to label",
)
def get_labelling_queue(
    request: Request,
    _: Evaluator,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_QUEUE)] = 20,
) -> LabellingQueueOut:
    """Scored, unlabelled messages with the smallest margin between the two most likely labels
    first, without near-identical texts and spread over accounts and sources. Label them with
    `PUT /v1/messages/{id}/sentiment-label`; `labels` says when adaptation can start."""
    with database.session() as session:
        version, items = labelling_queue(session, limit)
    return LabellingQueueOut(
        model_version=version,
        labels=labels_out(get_model_jobs(request).labels()),
        items=[
            QueueItemOut(
                message_id=item.message_id,
                account_id=item.account_id,
                source=item.source,
                text=item.text,
                created_at=item.created_at,
                label=item.label,
                probabilities=Probabilities(**item.probabilities),
                margin=item.margin,
            )
            for item in items
        ],
    )


@router.post(
    "/adaptations",
    response_model=AdaptationOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start adapting the model to the stored label corrections (background job)",
)
def post_adaptation(request: Request, body: AdaptationIn, principal: Evaluator) -> AdaptationOut:
    """Fine-tunes the model served now on the corrected messages (with a replay sample of its
    training data) into a new artifact, in the background; poll `GET .../{id}`. 409 while a
    model job is queued or running; 422 when too few messages are labelled (the detail says
    how many there are and how many are needed)."""
    jobs = get_model_jobs(request)
    if not body.from_corrections:
        raise InvalidInputError(
            "the API adapts on the stored corrections only: set from_corrections to true "
            "(to adapt on files use `sentiment-service adapt --data FILE`)",
            field="from_corrections",
        )
    job = jobs.start_adaptation(principal.actor, epochs=body.epochs, seed=body.seed)
    return adaptation_out(job, None)


@router.get("/adaptations", response_model=list[AdaptationOut], summary="Adaptation jobs")
def list_adaptations(
    request: Request,
    _: Evaluator,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AdaptationOut]:
    """Newest first, each with its newest gate/promotion job and the gate's verdict."""
    jobs = get_model_jobs(request)
    rows = jobs.list(ADAPTATION, limit)
    promotions = jobs.promotions_of([row.id or 0 for row in rows])
    return [adaptation_out(row, promotions.get(row.id or 0)) for row in rows]


@router.get(
    "/adaptations/{job_id}",
    response_model=AdaptationDetail,
    summary="An adaptation job: status, log, report, gate verdict",
)
def get_adaptation(request: Request, job_id: JobId, _: Evaluator) -> AdaptationOut:
    """Readable while the job runs: status, newest log lines (`progress`), the whole capped
    log; once it succeeded, the report; after `POST .../promote`, that job and its verdict."""
    jobs = get_model_jobs(request)
    job = jobs.get(job_id, ADAPTATION)
    return adaptation_out(job, jobs.promotions_of([job_id]).get(job_id), detail=True)


@router.post(
    "/adaptations/{job_id}/promote",
    response_model=AdaptationOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Gate the adapted model and promote it if it passes (background job)",
)
def post_promotion(
    request: Request, job_id: JobId, principal: Evaluator, body: PromoteIn | None = None
) -> AdaptationOut:
    """Runs the promotion gate (as `promote-model`) on every stored labelled set except
    `corrections`, which trained the candidate; when it passes, the candidate is served and
    every message is re-scored under it, switching atomically at the end (as `rescore`).
    Poll `GET .../{id}`: `promotion.verdict` holds the checks. 409 while a model job is
    active or when the adaptation did not succeed; 422 without an independent labelled set."""
    jobs = get_model_jobs(request)
    tolerance = body.tolerance if body is not None else DEFAULT_TOLERANCE
    promotion = jobs.start_promotion(principal.actor, job_id, tolerance)
    return adaptation_out(jobs.get(job_id, ADAPTATION), promotion)
