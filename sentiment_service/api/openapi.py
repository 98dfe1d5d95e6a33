"""The OpenAPI document: FastAPI's, plus the per-record schemas that batch bodies refer to and
the problem-details responses (with their headers) each operation can answer with."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from pipelines.records import MessageRecord, MetricRecord, OutcomeRecord
from sentiment_service.api.ratelimit import EXEMPT_PATHS
from sentiment_service.api.schemas import ProblemDetails

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The per-record schemas the batch bodies of /v1/messages, /v1/metrics and /v1/outcomes name.
RECORD_SCHEMAS: dict[str, type[BaseModel]] = {
    "MessageRecord": MessageRecord,
    "MetricRecord": MetricRecord,
    "OutcomeRecord": OutcomeRecord,
}
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


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the per-record schemas that batch bodies refer to and every
    problem-details response (401/403/404/409/413/422/429/503) each operation can give."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        models: dict[str, type[BaseModel]] = {**RECORD_SCHEMAS, "ProblemDetails": ProblemDetails}
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
