"""How model jobs and the label counts are shown: the typed views of adaptation jobs (with
their newest gate/promotion job, the gate's verdict and the adaptation report) and of the
stored corrections against what an adaptation needs. The API (`/v1/models/...`) answers with
them and the dashboard's Model page renders them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from sentiment_service.model_jobs import LabelStatus, log_tail
from sentiment_service.promotion import DEFAULT_TOLERANCE
from sentiment_service.storage.tables import ModelJob

JobStatus = Literal["queued", "running", "succeeded", "failed"]


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
    raw_report = result.get("report")
    report: dict[str, Any] = raw_report if isinstance(raw_report, dict) else {}
    raw_sizes = report.get("sizes")
    sizes: dict[str, Any] = raw_sizes if isinstance(raw_sizes, dict) else {}
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
