"""Adapting the sentiment model to people's labels, from the API: a labelling queue of the
messages the model is least sure about, background adaptation jobs on the stored corrections,
and the gate + promotion of an adapted candidate (see `sentiment_service.model_jobs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status
from pydantic import BaseModel, Field

from sentiment_service.api.deps import DatabaseDep, Evaluator
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.errors import InvalidInputError
from sentiment_service.labelling_queue import labelling_queue
from sentiment_service.model_jobs import (
    ADAPTATION,
    LabelStatus,
    ModelJobs,
    log_tail,
)
from sentiment_service.promotion import DEFAULT_TOLERANCE
from sentiment_service.storage.tables import ModelJob

router = APIRouter(prefix="/v1/models", tags=["evaluation"])
JobStatus = Literal["queued", "running", "succeeded", "failed"]
MAX_QUEUE = 200


def get_model_jobs(request: Request) -> ModelJobs:
    """The app's model job runner."""
    return request.app.state.model_jobs


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


class LabelCounts(BaseModel):
    """Messages per label."""

    negative: int
    neutral: int
    positive: int


class LabelStatusOut(BaseModel):
    """The stored corrections against what an adaptation needs."""

    labelled: int = Field(description="Corrected messages (the newest label of each counts).")
    per_label: LabelCounts = Field(description="Corrected messages per label.")
    needed: int = Field(description="Corrected messages needed before adaptation can start.")
    ready: bool
    reason: str | None = Field(None, description="Why adaptation cannot start yet.")


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


class MetricOut(BaseModel):
    """One metric of the adapted model before and after adaptation on one dataset."""

    dataset: str
    metric: str
    before: float | None
    after: float | None


class AdaptationReportOut(BaseModel):
    """What the adaptation reported (the whole report is in the artifact's model card)."""

    model_version: str | None = None
    base_version: str | None = None
    artifact_dir: str | None = None
    train_examples: int | None = Field(None, description="New labelled rows trained on.")
    validation_examples: int | None = Field(None, description="New rows held out.")
    replay_examples: int | None = Field(None, description="Base training rows replayed.")
    base_validation_examples: int | None = None
    epochs: float | None = Field(None, description="Epochs of the chosen snapshot.")
    interpolation: float | None = Field(
        None, description="Weight of the adapted model when averaged with the base one."
    )
    seconds: float | None = None
    metrics: list[MetricOut] = Field(
        default_factory=list,
        description="Before/after on the held-out new rows and the base validation set.",
    )


class GateCheckOut(BaseModel):
    """One comparison of the candidate against the model served at the time."""

    dataset: str
    scope: str = Field(description="overall, class or source")
    key: str
    current: float
    candidate: float
    ok: bool


class RescoreOut(BaseModel):
    """The re-scoring after a promotion."""

    model_version: str
    previous_version: str | None
    scored: int
    skipped: int
    switched: bool
    seconds: float


class VerdictOut(BaseModel):
    """The gate's decision."""

    promotion_id: int | None
    promoted: bool
    current_version: str | None
    candidate_version: str
    tolerance: float
    excluded_sets: list[str]
    checks: list[GateCheckOut]
    rescore: RescoreOut | None


class JobOut(BaseModel):
    """A background job: when it ran, how it is going, how it ended."""

    id: int
    kind: str
    status: JobStatus
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    progress: str | None = Field(None, description="The newest log line.")
    log_tail: list[str] = Field(description="The newest log lines.")
    error: str | None


class PromotionJobOut(JobOut):
    """The gate, promotion and re-scoring of an adapted model."""

    verdict: VerdictOut | None


class AdaptationOut(JobOut):
    """An adaptation job, with its newest gate/promotion job."""

    epochs: int | None
    seed: int
    labelled: int = Field(description="Corrected messages when the job was started.")
    report: AdaptationReportOut | None
    promotion: PromotionJobOut | None


class AdaptationDetail(AdaptationOut):
    """An adaptation job with its whole (capped) log."""

    log: str


def _job_fields(job: ModelJob) -> dict[str, Any]:
    tail = log_tail(job.log)
    return {
        "id": job.id or 0,
        "kind": job.kind,
        "status": job.status,
        "requested_by": job.requested_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "heartbeat_at": job.heartbeat_at,
        "progress": tail[-1] if tail else None,
        "log_tail": tail,
        "error": job.error,
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _metrics(report: dict[str, Any]) -> list[MetricOut]:
    """Before/after pairs from the report: `{dataset: {"before": {...}, "after": {...}}}`
    under `metrics` (or the report itself), one row per shared numeric metric."""
    source = report.get("metrics") if isinstance(report.get("metrics"), dict) else report
    out: list[MetricOut] = []
    for dataset, value in (source or {}).items():
        if not isinstance(value, dict) or not {"before", "after"} <= value.keys():
            continue
        before, after = value["before"], value["after"]
        if not isinstance(before, dict) or not isinstance(after, dict):
            continue
        for metric in sorted(set(before) | set(after)):
            pair = (_number(before.get(metric)), _number(after.get(metric)))
            if pair != (None, None):
                out.append(
                    MetricOut(dataset=str(dataset), metric=metric, before=pair[0], after=pair[1])
                )
    return out


def report_out(result: dict[str, Any] | None) -> AdaptationReportOut | None:
    """The typed summary of an adaptation job's result (its raw report stays stored)."""
    if not result:
        return None
    report = result.get("report") if isinstance(result.get("report"), dict) else {}
    assert isinstance(report, dict)
    sizes = report.get("sizes") if isinstance(report.get("sizes"), dict) else {}
    assert isinstance(sizes, dict)
    base_version = report.get("base_version")
    return AdaptationReportOut(
        model_version=result.get("model_version"),
        base_version=str(base_version) if base_version is not None else None,
        artifact_dir=result.get("artifact_dir"),
        train_examples=_integer(sizes.get("new_train")),
        validation_examples=_integer(sizes.get("new_heldout")),
        replay_examples=_integer(sizes.get("replay")),
        base_validation_examples=_integer(sizes.get("base_validation")),
        epochs=_number(report.get("epochs")),
        interpolation=_number(report.get("interpolation")),
        seconds=_number(report.get("seconds")),
        metrics=_metrics(report),
    )


def verdict_out(result: dict[str, Any] | None) -> VerdictOut | None:
    """The gate's verdict stored by a promotion job."""
    if not result or "promoted" not in result:
        return None
    rescore = result.get("rescore")
    return VerdictOut(
        promotion_id=result.get("promotion_id"),
        promoted=bool(result["promoted"]),
        current_version=result.get("current_version"),
        candidate_version=str(result.get("candidate_version", "")),
        tolerance=float(result.get("tolerance", DEFAULT_TOLERANCE)),
        excluded_sets=list(result.get("excluded_sets", [])),
        checks=[GateCheckOut(**check) for check in result.get("checks", [])],
        rescore=RescoreOut(**{k: rescore[k] for k in RescoreOut.model_fields if k in rescore})
        if isinstance(rescore, dict)
        else None,
    )


def promotion_out(job: ModelJob) -> PromotionJobOut:
    """A promotion job as the API shows it."""
    return PromotionJobOut(**_job_fields(job), verdict=verdict_out(job.result))


def adaptation_out(
    job: ModelJob, promotion: ModelJob | None, *, detail: bool = False
) -> AdaptationOut:
    """An adaptation job (with its newest promotion job) as the API shows it."""
    fields = {
        **_job_fields(job),
        "epochs": job.params.get("epochs"),
        "seed": int(job.params.get("seed", 0)),
        "labelled": int(job.params.get("labelled", 0)),
        "report": report_out(job.result),
        "promotion": promotion_out(promotion) if promotion is not None else None,
    }
    return AdaptationDetail(**fields, log=job.log) if detail else AdaptationOut(**fields)


def labels_out(status_: LabelStatus) -> LabelStatusOut:
    """The label counts as the API shows them."""
    return LabelStatusOut(
        labelled=status_.labelled,
        per_label=LabelCounts(**status_.per_label),
        needed=status_.needed,
        ready=status_.ready,
        reason=status_.reason,
    )


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
