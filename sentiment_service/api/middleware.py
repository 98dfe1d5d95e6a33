"""ASGI middleware: request ids, access logs, Prometheus timings and the request-body limits.

The body of every request is read here, before routing, up to `max_body_bytes` (a larger one
gets a 413, whether it announces its length or arrives in chunks), and a JSON body nested
deeper than `max_json_depth` gets a 422 and one with a lone surrogate escape (`"\\ud800"`, not
valid Unicode) a 400, so none of them reaches the JSON parser or pydantic.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment_service.api.telemetry import ApiMetrics

log = structlog.get_logger("sentiment_service.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A JSON string up to its closing quote, or to the end of the body when it is unterminated.
# It matches at every quote and its quantifiers are possessive, so the scan stays linear.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.|\\\Z)*+(?:"|\Z)', re.DOTALL)
# A \uXXXX escape of a UTF-16 surrogate that is not itself escaped (an even run of backslashes
# before it); group 1 is the code unit.
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u([dD][89a-fA-F][0-9a-fA-F]{2})")
# Maps `{` and `}` to `[` and `]`, and the bytes to delete: everything else.
_SQUARE_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether the JSON text `body` nests arrays and objects more than `limit` levels deep.

    Strings are cut out first (brackets inside them do not count), then only brackets are
    kept; every pass that deletes the adjacent `[]` pairs removes exactly one level. Each step
    is a C-speed pass over the bytes, at most `limit` of them. Malformed JSON that cannot be
    reduced is left for the parser to reject.
    """
    structure = _JSON_STRING.sub(b"", body).translate(_SQUARE_BRACKETS, _NOT_BRACKETS)
    too_deep = b"[" * (limit + 1)
    for _ in range(limit):
        if not structure:
            return False
        if too_deep in structure:
            return True
        reduced = structure.replace(b"[]", b"")
        if len(reduced) == len(structure):
            return False  # unbalanced brackets: not JSON, the parser answers for it
        structure = reduced
    return b"[]" in structure


def lone_surrogate_at(body: bytes) -> int | None:
    """Byte offset of the first `\\uXXXX` escape of a lone surrogate in a JSON text, if any.

    JSON may spell a character outside the BMP as an escaped surrogate pair (`\\ud83d\\ude00`);
    a high surrogate without its low half, or a low one on its own, is no character at all
    (RFC 7493, I-JSON, forbids it) and would fail later, wherever the text is encoded.
    """
    if b"\\ud" not in body and b"\\uD" not in body:
        return None
    low_expected_at = -1  # where the low half of the last high surrogate must start
    for match in _SURROGATE_ESCAPE.finditer(body):
        escape_at = match.end() - 6
        if int(match.group(1), 16) >= 0xDC00:  # a low surrogate
            if escape_at != low_expected_at:
                return low_expected_at - 6 if low_expected_at >= 0 else escape_at
            low_expected_at = -1
        elif low_expected_at >= 0:
            return low_expected_at - 6
        else:
            low_expected_at = match.end()
    return low_expected_at - 6 if low_expected_at >= 0 else None


def _is_json(content_type: bytes | None) -> bool:
    """Whether FastAPI would parse a body of this content type as JSON (absent: it does)."""
    if not content_type:
        return True
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


def _problem_bytes(
    status: int, title: str, detail: str, *, request_id: str, instance: str, field: str
) -> bytes:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
        "errors": [{"field": field, "message": detail}],
    }
    return json.dumps(body).encode()


class _TooLarge(Exception):
    """The body grew past the limit while it was being read."""


class _Disconnected(Exception):
    """The client went away before the whole body arrived."""


class RequestContextMiddleware:
    """Binds a request id, enforces the body limits, logs and times every request."""

    def __init__(
        self, app: ASGIApp, *, metrics: ApiMetrics, max_body_bytes: int, max_json_depth: int
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

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

        async def reject(code: int, title: str, detail: str, field: str) -> None:
            body = _problem_bytes(
                code,
                title,
                detail,
                request_id=request_id,
                instance=scope.get("path", ""),
                field=field,
            )
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})

        too_large = f"request body is larger than {self.max_body_bytes} bytes"
        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await reject(413, "Payload too large", too_large, "body")
                return
            try:
                body = await self._read_body(receive)
            except _TooLarge:
                await reject(413, "Payload too large", too_large, "body")
                return
            except _Disconnected:
                status["code"] = 499  # the client closed the connection; nobody to answer
                return
            refusal = self._refusal(body, headers.get(b"content-type"))
            if refusal is not None:
                await reject(*refusal, "body")
                return
            await self.app(scope, self._replay(body, receive), send_with_id)
        finally:
            self._observe(scope, status["code"], time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")

    def _refusal(self, body: bytes, content_type: bytes | None) -> tuple[int, str, str] | None:
        """(status, title, detail) when a JSON body breaks a limit, else None."""
        if not body or not _is_json(content_type):
            return None
        if json_depth_exceeds(body, self.max_json_depth):
            detail = (
                f"the JSON body is nested deeper than {self.max_json_depth} levels "
                "(limit: max_json_depth)"
            )
            return 422, "Invalid input", detail
        surrogate_at = lone_surrogate_at(body)
        if surrogate_at is not None:
            detail = (
                f"the JSON body has a lone UTF-16 surrogate escape at byte {surrogate_at}; "
                "strings must be valid Unicode"
            )
            return 400, "Bad request", detail
        return None

    async def _read_body(self, receive: Receive) -> bytes:
        """The whole request body, refused once it grows past `max_body_bytes`."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _replay(body: bytes, receive: Receive) -> Receive:
        """A `receive` that hands the app the body already read, then the client's messages
        (a disconnect)."""
        sent = False

        async def replayed() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replayed

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
