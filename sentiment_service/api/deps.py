"""FastAPI dependencies, declared once as `Annotated` aliases and used as route parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from sentiment_service.api.caching import ResponseCache
from sentiment_service.api.telemetry import ApiMetrics
from sentiment_service.auth.keys import Principal, authenticate_request
from sentiment_service.auth.permissions import Permission, allows
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database

if TYPE_CHECKING:
    from sentiment_service.model_jobs import ModelJobs

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_database(request: Request) -> Database:
    """The app's database."""
    return request.app.state.database


def get_metrics(request: Request) -> ApiMetrics:
    """The app's Prometheus metrics."""
    return request.app.state.metrics


def get_models(request: Request) -> ModelHub:
    """The app's NLP models."""
    return request.app.state.models


def get_response_cache(request: Request) -> ResponseCache:
    """The app's cache of rendered read answers."""
    return request.app.state.response_cache


def get_model_jobs(request: Request) -> ModelJobs:
    """The app's model job runner."""
    return request.app.state.model_jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
ModelsDep = Annotated[ModelHub, Depends(get_models)]
ResponseCacheDep = Annotated[ResponseCache, Depends(get_response_cache)]


def require(permission: Permission) -> Callable[..., Principal]:
    """A dependency that authenticates the caller's key and checks `permission`. The
    principal carries the key's account scope: endpoints that read account data pass
    `principal.scope` on, so that a key scoped to segments/owners sees only those accounts."""

    def dependency(
        request: Request,
        database: DatabaseDep,
        api_key: Annotated[str | None, Security(api_key_header)] = None,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> Principal:
        key = api_key or (credentials.credentials if credentials else None)
        challenge = {"WWW-Authenticate": 'Bearer realm="sentiment-service"'}
        if not key:
            raise HTTPException(401, "an API key is required (X-API-Key header)", challenge)
        principal = authenticate_request(database, key, request.app.state.verified_keys)
        if principal is None:
            raise HTTPException(401, "the API key is unknown or revoked", challenge)
        request.scope.setdefault("state", {})["key_id"] = principal.key_id
        if not allows(principal.role, permission):
            raise HTTPException(403, f"role '{principal.role}' lacks the '{permission}' permission")
        return principal

    return dependency


Ingester = Annotated[Principal, Depends(require(Permission.INGEST))]
Reader = Annotated[Principal, Depends(require(Permission.READ))]
QuarantineReader = Annotated[Principal, Depends(require(Permission.READ_QUARANTINE))]
Evaluator = Annotated[Principal, Depends(require(Permission.EVALUATE))]
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
MetricsScraper = Annotated[Principal, Depends(require(Permission.METRICS))]
