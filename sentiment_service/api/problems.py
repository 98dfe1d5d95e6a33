"""Errors as RFC 9457 problem details (`application/problem+json`), mapped in one place."""

from __future__ import annotations

import json
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.types import Scope, Send

from sentiment_service.errors import ServiceError, handled_as
from sentiment_service.storage.database import database_error, database_fault

log = structlog.get_logger(__name__)
PROBLEM_TYPE = "about:blank"


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    title: str,
    detail: str,
    headers: list[tuple[bytes, bytes]],
) -> None:
    """Answer with a problem document straight from ASGI middleware (before any route)."""
    body = json.dumps(
        {
            "type": PROBLEM_TYPE,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
            "request_id": scope.get("state", {}).get("request_id"),
        }
    ).encode()
    start_headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or (str(loc[0]) if loc else "")


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    errors = [
        {"field": _field_path(tuple(error["loc"])), "message": error["msg"], "type": error["type"]}
        for error in handled_as(exc, RequestValidationError).errors()
    ]
    fields = ", ".join(sorted({error["field"] for error in errors}))
    return problem(request, 422, "Invalid request", f"invalid input in: {fields}", errors=errors)


def _service_problem(request: Request, exc: ServiceError) -> JSONResponse:
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    headers = (
        {"Retry-After": str(exc.retry_after_seconds)}
        if exc.retry_after_seconds is not None
        else None
    )
    return problem(request, exc.status_code, exc.title, exc.detail, errors=errors, headers=headers)


async def _service(request: Request, exc: Exception) -> JSONResponse:
    return _service_problem(request, handled_as(exc, ServiceError))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    error = handled_as(exc, HTTPException)
    title = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
    }
    return problem(
        request,
        error.status_code,
        title.get(error.status_code, "HTTP error"),
        str(error.detail),
        headers=dict(error.headers or {}),
    )


async def _database(request: Request, exc: Exception) -> JSONResponse:
    """Database failures the caller can act on (unreachable: 503 and retry; read-only: 503;
    full: 507); any other database error is a bug, left to the 500 handler."""
    mapped = database_error(exc)
    if mapped is None:
        raise exc
    fault = database_fault(exc)
    log.error(f"database_{fault}", error=type(exc).__name__, status=mapped.status_code)
    return _service_problem(request, mapped)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error=type(exc).__name__)
    return problem(request, 500, "Internal error", "an unexpected error occurred")


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ServiceError, _service)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(Exception, _unexpected)
