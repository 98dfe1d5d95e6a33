"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipelines.queue import queue_stats
from sentiment_service import __version__
from sentiment_service.api.deps import (
    DatabaseDep,
    MetricsDep,
    MetricsScraper,
    ModelsDep,
    SettingsDep,
)
from sentiment_service.storage import migrate
from sentiment_service.storage.types import utcnow

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    """Liveness: answers while the process runs."""
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Ready to serve: database reachable and migrated",
    responses={503: {"description": "Not ready; `checks` says why"}},
)
def readyz(database: DatabaseDep, models: ModelsDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: the database answers, its schema is current, and the models are loaded."""
    checks: dict[str, Any] = {}
    if models.error is not None:
        checks["models"] = f"failed: {models.error}"
    elif settings.preload_models:
        checks["models"] = "ok" if models.loaded else "loading"
    try:
        database.ping()
        checks["database"] = "ok"
        current, head = migrate.current_revision(database.engine), migrate.head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, code needs {head}"
    except Exception as error:  # any failure to reach the database means not ready
        checks["database"] = f"unreachable: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(_: MetricsScraper, api_metrics: MetricsDep, database: DatabaseDep) -> Response:
    """Prometheus text exposition of the API's metrics, with the scoring queue read now."""
    with database.session() as session:
        waiting, lag = queue_stats(session, utcnow())
    api_metrics.queue_length.set(waiting)
    api_metrics.scoring_lag.set(lag)
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)
