"""The FastAPI application factory: wires settings, database, routes and middleware."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
import tenacity
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.exc import DBAPIError

from pipelines.language import shared_detector
from sentiment_service import __version__
from sentiment_service.api.caching import ResponseCache
from sentiment_service.api.docs import install_docs
from sentiment_service.api.middleware import RequestContextMiddleware
from sentiment_service.api.openapi import build_openapi
from sentiment_service.api.problems import install_problem_handlers
from sentiment_service.api.ratelimit import add_rate_limiting
from sentiment_service.api.routes import (
    account_health,
    accounts,
    adaptations,
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
from sentiment_service.api.shedding import LoadSheddingMiddleware
from sentiment_service.api.telemetry import ApiMetrics
from sentiment_service.auth.keys import VerifiedKeys, ensure_key
from sentiment_service.dashboard import install_dashboard
from sentiment_service.errors import NotReadyError
from sentiment_service.logs import configure_logging
from sentiment_service.model_hub import ModelHub
from sentiment_service.model_jobs import ModelJobs
from sentiment_service.promotion import promoted_artifact
from sentiment_service.settings import Settings
from sentiment_service.storage import pii_guard
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
    database = pii_guard.guard(database or Database(settings.database_url), settings)
    models = models or ModelHub(
        settings.sentiment_model_dir,
        settings.spacy_model,
        resolve_artifact=lambda: promoted_artifact(database),
        multilingual=settings.multilingual_model,
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
        if (delivery := getattr(app.state, "alert_delivery", None)) is not None:
            delivery.stop()  # the alert webhook worker, if a request started it
            app.state.alert_delivery = None
        if owned_database:
            database.dispose()

    app = FastAPI(
        title="Sentiment Service",
        version=__version__,
        description="Customer sentiment, topics and account health. Send an API key as "
        "`X-API-Key` (or `Authorization: Bearer`). Errors are RFC 9457 problem details.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI / ReDoc from a CDN: see install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.metrics = ApiMetrics()
    app.state.response_cache = ResponseCache(int(settings.response_cache_mb * 1024 * 1024))
    app.state.verified_keys = VerifiedKeys(settings.api_key_cache_seconds)
    app.state.models = models
    app.state.model_jobs = ModelJobs(database, models, settings)  # background model jobs
    install_problem_handlers(app)
    install_docs(app)  # /docs from vendored Swagger UI files
    for module in (
        health,
        ingest,
        accounts,
        trends,
        quarantine,
        keys,
        promotions,
        adaptations,
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
        LoadSheddingMiddleware,
        max_reads=settings.max_in_flight_reads,
        max_writes=settings.max_in_flight_writes,
        metrics=app.state.metrics,
    )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=app.state.metrics,
        max_body_bytes=settings.max_request_bytes,
        max_json_depth=settings.max_json_depth,
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


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

    def pause(seconds: float) -> None:
        stopping.wait(seconds)  # wakes early on shutdown; the stop condition then ends it

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_database_unavailable),
        wait=tenacity.wait_exponential(multiplier=0.5, max=30),
        stop=tenacity.stop_when_event_set(stopping),
        sleep=pause,
        reraise=True,
    )

    def keep_trying() -> None:
        try:
            retrying(store)
            log.info("bootstrap_key_stored")
        except Exception as error:  # logged, never raised into the server
            log.error("bootstrap_key_failed", error=type(error).__name__)

    threading.Thread(target=keep_trying, name="bootstrap-key", daemon=True).start()
