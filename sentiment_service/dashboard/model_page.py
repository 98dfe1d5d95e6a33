"""The dashboard's Model page: the model served now (version, data licence, evaluation
history) for everyone; for analysts and admins also the labelling queue with one-click labels,
the button that starts an adaptation once enough messages are labelled, and the model jobs
with the gate's verdict and a promote button.

Forms are plain POSTs with the session's CSRF token (no inline script: the CSP forbids it);
with htmx a label click swaps only the queue, and the jobs table polls while a job runs. The
handlers call the same functions as the API (`correct_sentiment_label`, `ModelJobs`), so
checks, auditing and errors are identical.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from sentiment_service.api.deps import DatabaseDep, ModelsDep, get_model_jobs
from sentiment_service.auth.permissions import Permission
from sentiment_service.corrections import CorrectionIn, correct_sentiment_label
from sentiment_service.dashboard.access import (
    FormText,
    PageError,
    User,
    check_csrf,
    not_found,
    require,
)
from sentiment_service.dashboard.pages.account import LABELS
from sentiment_service.dashboard.rendering import is_htmx, render
from sentiment_service.dashboard.sessions import DashboardUser
from sentiment_service.errors import NotReadyError, ServiceError
from sentiment_service.evaluations import evaluation_history
from sentiment_service.labelling_queue import labelling_queue
from sentiment_service.model_job_views import adaptation_out, labels_out
from sentiment_service.model_jobs import ACTIVE, ADAPTATION

router = APIRouter(include_in_schema=False)
QUEUE_SHOWN = 10
JOBS_SHOWN = 20
HISTORY_SHOWN = 20
NOTICES = {
    "label": "Label saved.",
    "adaptation": "Adaptation started: it runs in the background; this page shows its progress.",
    "promotion": "The gate is running: the verdict appears in the jobs table.",
}


def _ref(value: str) -> int:
    """A positive 32-bit id from a path segment, else 0."""
    number = int(value) if re.fullmatch(r"[0-9]{1,10}", value) else 0
    return number if 1 <= number <= 2**31 - 1 else 0


def _model_context(database: DatabaseDep, models: ModelsDep) -> dict[str, Any]:
    """The served model and its evaluation history (everyone may read these)."""
    model, model_error = None, None
    try:
        model = models.describe()[0]
    except NotReadyError as problem:
        model_error = problem.detail
    with database.session() as session:
        history = evaluation_history(session, "minilm", HISTORY_SHOWN)
    return {"model": model, "model_error": model_error, "history": history}


def _queue_context(request: Request, database: DatabaseDep) -> dict[str, Any]:
    with database.session() as session:
        version, items = labelling_queue(session, QUEUE_SHOWN)
    return {
        "queue_version": version,
        "queue": items,
        "label_status": labels_out(get_model_jobs(request).labels()),
        "labels": LABELS,
    }


def _jobs_context(request: Request) -> dict[str, Any]:
    jobs = get_model_jobs(request)
    rows = jobs.list(ADAPTATION, JOBS_SHOWN)
    promotions = jobs.promotions_of([row.id or 0 for row in rows])
    shown = [adaptation_out(row, promotions.get(row.id or 0)) for row in rows]
    busy = any(
        job.status in ACTIVE or (job.promotion is not None and job.promotion.status in ACTIVE)
        for job in shown
    )
    return {"jobs": shown, "jobs_busy": busy}


def _context(
    request: Request, user: DashboardUser, database: DatabaseDep, models: ModelsDep
) -> dict[str, Any]:
    context = {**_model_context(database, models), "nav": "model"}
    if user.can(Permission.EVALUATE):
        context |= _queue_context(request, database) | _jobs_context(request)
    return context


@router.get("/model")
def model_page(
    request: Request,
    user: User,
    database: DatabaseDep,
    models: ModelsDep,
    notice: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The model, its history, and (analysts, admins) labelling and adaptation."""
    context = _context(request, user, database, models)
    context["notice"] = NOTICES.get(notice or "")
    return render(request, "model.html", context, user=user)


@router.get("/model/jobs")
def model_jobs_fragment(request: Request, user: User) -> Response:
    """The jobs table (htmx polls it while a job runs); the page without htmx."""
    require(user, Permission.EVALUATE, "see model jobs")
    if not is_htmx(request):
        return RedirectResponse("/model#jobs", status_code=303)
    return render(request, "_model_jobs.html", _jobs_context(request), user=user)


@router.post("/model/labels/{message_ref}")
def post_queue_label(
    request: Request,
    message_ref: str,
    user: User,
    database: DatabaseDep,
    csrf_token: FormText = None,
    label: FormText = None,
) -> Response:
    """One-click label of a queued message, as PUT /v1/messages/{id}/sentiment-label."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.EVALUATE, "label messages")
    message_id = _ref(message_ref)
    if not message_id:
        raise not_found(user, "The message")
    if label not in LABELS:
        raise PageError(422, "Invalid label", "Choose negative, neutral or positive.", user)
    try:
        body = CorrectionIn(label=label)
        with database.session() as session:
            correct_sentiment_label(session, message_id, body, actor=user.principal.actor)
    except ServiceError as problem:
        if problem.status_code == 404:
            raise not_found(user, f"Message {message_id}") from None
        raise PageError(problem.status_code, "Label not saved", problem.detail, user) from None
    if not is_htmx(request):
        return RedirectResponse("/model?notice=label#queue", status_code=303)
    context = _queue_context(request, database) | {"saved": label, "saved_id": message_id}
    return render(request, "_labelling_queue.html", context, user=user)


@router.post("/model/adaptations")
def post_start_adaptation(request: Request, user: User, csrf_token: FormText = None) -> Response:
    """Start an adaptation on the stored corrections (analyst, admin)."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.EVALUATE, "start an adaptation")
    try:
        get_model_jobs(request).start_adaptation(user.principal.actor, epochs=None, seed=13)
    except ServiceError as problem:
        raise PageError(
            problem.status_code, "Adaptation not started", _sentence(problem.detail), user
        ) from None
    return RedirectResponse("/model?notice=adaptation#jobs", status_code=303)


@router.post("/model/adaptations/{job_ref}/promote")
def post_promote(
    request: Request, job_ref: str, user: User, csrf_token: FormText = None
) -> Response:
    """Gate an adapted model and promote it if it passes (analyst, admin)."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.EVALUATE, "promote a model")
    job_id = _ref(job_ref)
    if not job_id:
        raise not_found(user, "The adaptation job")
    try:
        get_model_jobs(request).start_promotion(user.principal.actor, job_id)
    except ServiceError as problem:
        if problem.status_code == 404:
            raise not_found(user, f"Adaptation job {job_id}") from None
        raise PageError(
            problem.status_code, "Gate not started", _sentence(problem.detail), user
        ) from None
    return RedirectResponse("/model?notice=promotion#jobs", status_code=303)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
