"""The FastAPI application factory: wires settings, database, routes and middleware."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
import tenacity
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from pipelines.language import shared_detector
from sentiment_service import __version__
from sentiment_service.api.middleware import RequestContextMiddleware
from sentiment_service.api.problems import install_problem_handlers
from sentiment_service.api.ratelimit import EXEMPT_PATHS, add_rate_limiting
from sentiment_service.api.routes import (
    account_health,
    accounts,
    alerts,
    erasure,
    evaluations,
    features,
    health,
    ingest,
    keys,
    labels,
    promotions,
    quarantine,
    scorecards,
    sentiment,
    topics,
    trends,
)
from sentiment_service.api.schemas import ProblemDetails
from sentiment_service.api.telemetry import ApiMetrics
from sentiment_service.auth.keys import ensure_key
from sentiment_service.dashboard import install_dashboard
from sentiment_service.errors import NotReadyError
from sentiment_service.logs import configure_logging
from sentiment_service.model_hub import ModelHub
from sentiment_service.promotion import promoted_artifact
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database, DatabaseFault, database_fault
from sentiment_service.vocabulary import Role

log = structlog.get_logger(__name__)


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    models: ModelHub | None = None,
) -> FastAPI:
    """Build the app; tests pass their own settings, database and models."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    owned_database = database is None
    database = database or Database(settings.database_url)
    models = models or ModelHub(
        settings.sentiment_model_dir,
        settings.spacy_model,
        resolve_artifact=lambda: promoted_artifact(database),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stopping = threading.Event()
        if settings.bootstrap_admin_key is not None:
            key = settings.bootstrap_admin_key.get_secret_value()
            _store_bootstrap_key(database, key, stopping)
        if settings.preload_models:
            shared_detector()  # once here, not in the first ingestion requests
            try:
                models.scorer()
            except NotReadyError:  # the service still ingests; readyz and /v1/sentiment say why
                log.error("model_load_failed", error=models.error)
        log.info("service_started", version=__version__, database=database.engine.url.drivername)
        yield
        stopping.set()
        if owned_database:
            database.dispose()

    app = FastAPI(
        title="Sentiment Service",
        version=__version__,
        description="Customer sentiment, topics and account health. Send an API key as "
        "`X-API-Key` (or `Authorization: Bearer`). Errors are RFC 9457 problem details.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.metrics = ApiMetrics()
    app.state.models = models
    install_problem_handlers(app)
    for module in (
        health,
        ingest,
        accounts,
        trends,
        quarantine,
        keys,
        promotions,
        sentiment,
        evaluations,
        labels,
        topics,
        scorecards,
        account_health,
        features,
        alerts,
        erasure,
    ):
        app.include_router(module.router)
    add_rate_limiting(app, settings)  # innermost: sees the request id and the key id
    install_dashboard(app, settings)  # web pages at /, /accounts, /topics, /scorecards
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_request_bytes,
        max_json_depth=settings.max_json_depth,
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


PROBLEM_MEDIA_TYPE = "application/problem+json"
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
# Write operations that can never conflict: batches report per-record outcomes instead, and
# ad-hoc scoring stores nothing.
NEVER_CONFLICT = frozenset(
    {
        ("post", "/v1/messages"),
        ("post", "/v1/metrics"),
        ("post", "/v1/outcomes"),
        ("post", "/v1/sentiment"),
    }
)
# Problem statuses of operations that name another resource outside their path.
EXTRA_PROBLEMS: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/evaluations"): (404,),  # the `labelled_set` form field
}
PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read: not UTF-8, a lone surrogate escape in a JSON string, "
    "or a malformed form.",
    401: "No API key, or an unknown or revoked one.",
    403: "The key's role lacks the permission this operation needs.",
    404: "A referenced resource does not exist.",
    409: "The request conflicts with the current state.",
    413: "The body exceeds a size limit: request bytes, records per batch, texts per request.",
    422: "Invalid input (also: JSON nested deeper than `max_json_depth`); `errors` names each "
    "culprit field.",
    429: "Too many requests for this key; retry after `Retry-After` seconds.",
    503: "A dependency (the database or a model) is unavailable; retry later.",
}
REQUEST_ID_HEADER = {
    "description": "The request's id (a valid `X-Request-ID` sent by the client is echoed).",
    "required": True,
    "schema": {"type": "string"},
}
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {
        "description": "Requests allowed per key per minute (absent when not limited).",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window (absent when not limited).",
        "schema": {"type": "integer"},
    },
}
STATUS_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication challenge.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait.",
            "required": True,
            "schema": {"type": "integer"},
        }
    },
    503: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}


def _database_unavailable(error: BaseException) -> bool:
    return database_fault(error) is DatabaseFault.UNAVAILABLE


def _store_bootstrap_key(database: Database, key: str, stopping: threading.Event) -> None:
    """Store the bootstrap admin key. While the database is unavailable the service starts
    anyway (not ready) and a background thread keeps trying until it succeeds or shuts down."""

    def store() -> None:
        with database.session(write=True) as session:
            ensure_key(session, key=key, name="bootstrap-admin", role=Role.ADMIN)

    try:
        store()
        return
    except DBAPIError as error:
        if not _database_unavailable(error):
            raise
        log.error("bootstrap_key_pending", hint="database unavailable; retrying in the background")
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_database_unavailable),
        wait=tenacity.wait_exponential(multiplier=0.5, max=30),
        stop=tenacity.stop_when_event_set(stopping),
        sleep=stopping.wait,
        reraise=True,
    )

    def keep_trying() -> None:
        try:
            retrying(store)
            log.info("bootstrap_key_stored")
        except Exception as error:  # logged, never raised into the server
            log.error("bootstrap_key_failed", error=type(error).__name__)

    threading.Thread(target=keep_trying, name="bootstrap-key", daemon=True).start()


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the per-record schemas that batch bodies refer to and every
    problem-details response (401/403/404/409/413/422/429/503) each operation can give."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        models: dict[str, type[BaseModel]] = {**ingest.SCHEMAS, "ProblemDetails": ProblemDetails}
        for name, model in models.items():
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[name] = model_schema
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                _document_problems(method, path, operation)
        if "HTTPValidationError" not in json.dumps(schema["paths"]):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        app.openapi_schema = schema
    return app.openapi_schema


def problem_statuses(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    """The problem statuses an operation can answer with, derived from what it declares."""
    secured = bool(operation.get("security"))
    has_body = "requestBody" in operation
    statuses: list[int] = []
    if secured:
        statuses += [401, 403, 503]  # key checks; every keyed operation reads the database
        if path not in EXEMPT_PATHS:
            statuses.append(429)
    if "{" in path:
        statuses.append(404)
    if method in WRITE_METHODS and (method, path) not in NEVER_CONFLICT:
        statuses.append(409)
    if has_body:
        statuses += [400, 413]
    if has_body or operation.get("parameters"):
        statuses.append(422)
    statuses += EXTRA_PROBLEMS.get((method, path), ())
    return sorted(set(statuses))


def _document_problems(method: str, path: str, operation: dict[str, Any]) -> None:
    """Add the problem responses and the response headers to one operation (in place)."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    default_validation = responses.get("422", {}).get("content", {}).get("application/json", {})
    if default_validation.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]  # FastAPI's default; the problem handlers answer problem+json
    for status in problem_statuses(method, path, operation):
        responses.setdefault(
            str(status),
            {
                "description": PROBLEM_DESCRIPTIONS[status],
                "content": {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
                },
            },
        )
    limited = bool(operation.get("security")) and path not in EXEMPT_PATHS
    for code, response in responses.items():
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-ID", dict(REQUEST_ID_HEADER))
        if limited:
            for name, header in RATE_LIMIT_HEADERS.items():
                headers.setdefault(name, dict(header))
        for name, header in STATUS_HEADERS.get(int(code) if code.isdigit() else 0, {}).items():
            headers.setdefault(name, dict(header))
