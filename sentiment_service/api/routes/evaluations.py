"""Evaluations for analysts: score labelled sets, keep the runs, follow accuracy over versions."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from evaluation.datasets import DatasetError, EvalDataset, load_dataset
from evaluation.report import render_report
from evaluation.runner import run_evaluation
from models.backends import SentimentBackend, backend_names, load_backend
from models.minilm import MessageLevelBackend
from pipelines.redaction import PiiRedactor
from sentiment_service import evaluations
from sentiment_service.api.deps import DatabaseDep, Evaluator, ModelsDep, SettingsDep
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.errors import InvalidInputError, PayloadTooLargeError
from sentiment_service.storage.tables import EvaluationRun

router = APIRouter(prefix="/v1/evaluations", tags=["evaluation"])
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class RunOut(BaseModel):
    """An evaluation run without its per-item predictions."""

    id: int
    model_name: str
    model_version: str
    dataset_name: str
    dataset_sha256: str
    n: int
    mode: str
    accuracy: float
    macro_f1: float
    created_at: datetime
    created_by: str
    report_url: str


class RunDetail(RunOut):
    """A run with its full metric summary."""

    summary: dict[str, Any]


class EvaluationCreated(BaseModel):
    """The runs made by one request (one per model)."""

    labelled_set: str
    runs: list[RunDetail]


def _run_fields(run: EvaluationRun) -> dict[str, Any]:
    return {
        "id": run.id or 0,
        "model_name": run.model_name,
        "model_version": run.model_version,
        "dataset_name": run.dataset_name,
        "dataset_sha256": run.dataset_sha256,
        "n": run.n,
        "mode": run.mode,
        "accuracy": float(run.summary.get("accuracy", 0.0)),
        "macro_f1": float(run.summary.get("macro_f1", 0.0)),
        "created_at": run.created_at,
        "created_by": run.created_by,
        "report_url": f"/v1/evaluations/{run.id}/report",
    }


def _run_out(run: EvaluationRun) -> RunOut:
    return RunOut(**_run_fields(run))


def _run_detail(run: EvaluationRun) -> RunDetail:
    return RunDetail(**_run_fields(run), summary=run.summary)


def _backend(name: str, models: ModelsDep) -> SentimentBackend:
    if name == "minilm":
        return MessageLevelBackend(models.scorer())
    try:
        return load_backend(name)
    except KeyError:
        raise InvalidInputError(
            f"unknown model {name!r}; known: {', '.join(backend_names())}", field="models"
        ) from None


def _read_upload(file: UploadFile, options: dict[str, Any]) -> EvalDataset:
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLargeError(f"file is larger than {MAX_UPLOAD_BYTES} bytes", field="file")
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return load_dataset(path, **options)
        except DatasetError as error:
            message = str(error).replace(str(path), file.filename or "the file")
            raise InvalidInputError(message, field="file") from None


@router.post(
    "",
    response_model=EvaluationCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Evaluate models on an uploaded labelled file or a stored labelled set",
)
def post_evaluation(
    principal: Evaluator,
    settings: SettingsDep,
    database: DatabaseDep,
    models: ModelsDep,
    file: Annotated[UploadFile | None, File(description="CSV, JSONL or Parquet")] = None,
    labelled_set: Annotated[str | None, Form(description="A stored set, or 'corrections'")] = None,
    name: Annotated[
        str | None, Form(max_length=128, description="Name to store the file as")
    ] = None,
    model: Annotated[list[str] | None, Form(description="Backends to evaluate")] = None,
    text_col: Annotated[str, Form()] = "text",
    label_col: Annotated[str, Form()] = "label",
    source_col: Annotated[str | None, Form()] = None,
    label_map: Annotated[str | None, Form(description='JSON, e.g. {"bad": "negative"}')] = None,
) -> EvaluationCreated:
    """Upload a labelled file (it is stored, PII-redacted, as a labelled set) or name a stored
    set; each model is scored and the run is stored with its metrics, predictions and report."""
    if (file is None) == (labelled_set is None):
        raise InvalidInputError("give exactly one of file and labelled_set", field="file")
    try:
        mapping = json.loads(label_map) if label_map else None
    except json.JSONDecodeError:
        raise InvalidInputError("label_map is not valid JSON", field="label_map") from None
    if mapping is not None and not isinstance(mapping, dict):
        raise InvalidInputError("label_map must be a JSON object", field="label_map")
    redactor = PiiRedactor(settings.phone_region) if settings.redact_pii else None
    if file is not None:
        options = {
            "text_col": text_col,
            "label_col": label_col,
            "source_col": source_col,
            "label_map": mapping,
        }
        dataset = evaluations.redact_dataset(_read_upload(file, options), redactor)
        set_name = name or f"{Path(file.filename or 'upload').stem}-{dataset.sha256[:8]}"
        with database.session() as session:
            evaluations.store_labelled_set(session, set_name, dataset, actor=principal.actor)
    else:
        if labelled_set is None:  # ruled out above: exactly one of the two is given
            raise InvalidInputError("give exactly one of file and labelled_set", field="file")
        set_name = labelled_set
        with database.session() as session:
            dataset = evaluations.load_labelled_set(session, set_name)
    backends = [_backend(each, models) for each in model or ["minilm"]]
    results = [run_evaluation(backend, dataset) for backend in backends]
    runs: list[RunDetail] = []
    with database.session() as session:
        for result in results:
            html = render_report([result], dataset_name=set_name, dataset_sha256=dataset.sha256)
            run = evaluations.store_run(
                session, result, dataset_name=set_name, report_html=html, actor=principal.actor
            )
            runs.append(_run_detail(run))
    return EvaluationCreated(labelled_set=set_name, runs=runs)


@router.get("", response_model=list[RunOut], summary="Evaluation runs, newest first")
def list_evaluations(
    _: Evaluator,
    database: DatabaseDep,
    model_name: str | None = None,
    dataset_name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RunOut]:
    """Runs, to follow accuracy across model versions and datasets."""
    with database.session() as session:
        runs = evaluations.list_runs(
            session, model_name=model_name, dataset_name=dataset_name, limit=limit
        )
        return [_run_out(run) for run in runs]


def _get_run(database: DatabaseDep, run_id: int) -> EvaluationRun:
    with database.session() as session:
        return evaluations.get_run(session, run_id)


RunId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


@router.get("/{run_id}", response_model=RunDetail, summary="One evaluation run")
def get_evaluation(run_id: RunId, _: Evaluator, database: DatabaseDep) -> RunOut | RunDetail:
    """The run's full metric summary (confusion matrix, per class, per source, CIs, ECE)."""
    return _run_detail(_get_run(database, run_id))


@router.get("/{run_id}/report", response_class=HTMLResponse, summary="HTML report of a run")
def get_evaluation_report(run_id: RunId, _: Evaluator, database: DatabaseDep) -> HTMLResponse:
    """The self-contained HTML report (opens offline)."""
    run = _get_run(database, run_id)
    return HTMLResponse(run.report_html or "<p>No report was stored for this run.</p>")
