"""ASGI middleware: request ids, access logs, Prometheus timings and the request-size limit."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment_service.api.telemetry import ApiMetrics
from sentiment_service.errors import PayloadTooLargeError

log = structlog.get_logger("sentiment_service.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _problem_bytes(status: int, title: str, detail: str, request_id: str) -> bytes:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": request_id,
    }
    return json.dumps(body).encode()


class RequestContextMiddleware:
    """Binds a request id, enforces the body limit, logs and times every request."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await self._reject_too_large(send_with_id, request_id)
                return
            await self.app(scope, self._limited(receive), send_with_id)
        finally:
            self._observe(scope, status["code"], time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise PayloadTooLargeError(
                        f"request body is larger than {self.max_body_bytes} bytes"
                    )
            return message

        return receive_limited

    async def _reject_too_large(self, send: Send, request_id: str) -> None:
        detail = f"request body is larger than {self.max_body_bytes} bytes"
        body = _problem_bytes(413, "Payload too large", detail, request_id)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        self.metrics.requests.labels(template, method, str(status)).inc()
        self.metrics.latency.labels(template, method).observe(seconds)
        state = scope.get("state", {})
        log.info(
            "request",
            method=method,
            route=template,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            key_id=state.get("key_id"),
        )
