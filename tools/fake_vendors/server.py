"""A small threaded HTTP server on 127.0.0.1 that routes to a Python handler, with faults."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

FaultKind = Literal["status", "timeout", "truncated", "invalid_json"]


@dataclass(frozen=True)
class Request:
    """What the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Reply:
    """What a route answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """A failure served instead of the real answer."""

    kind: FaultKind
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    path_contains: str = ""


_HOST = "127.0.0.1"


class _QuietServer(ThreadingHTTPServer):
    """Stays quiet when a client hangs up (a killed sync); reports anything else."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


RANDOM_FAULTS = (
    Fault("status", 429, {"Retry-After": "1"}),
    Fault("status", 500),
    Fault("status", 502),
    Fault("status", 503),
    Fault("timeout"),
    Fault("truncated"),
    Fault("invalid_json"),
)


class FakeApi:
    """Serves `handler` on a free port; queued or random faults replace some answers, and
    `delay_seconds` slows every answer down."""

    def __init__(
        self,
        handler: Callable[[Request], Reply],
        *,
        fail_rate: float = 0.0,
        seed: int = 0,
        stall_seconds: float = 1.0,
        delay_seconds: float = 0.0,
    ) -> None:
        self.handler = handler
        self.fail_rate = fail_rate
        self.stall_seconds = stall_seconds
        self.delay_seconds = delay_seconds  # added before every answer (a slow vendor)
        self.random = random.Random(seed)
        self.faults: deque[Fault] = deque()
        self.requests: list[Request] = []
        self.faults_served = 0
        self.lock = threading.Lock()
        self._server = _QuietServer((_HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:54321."""
        return f"http://{_HOST}:{self._server.server_port}"

    def inject(self, *faults: Fault) -> None:
        """Serve these faults, in order, to the next matching requests."""
        with self.lock:
            self.faults.extend(faults)

    def start(self) -> FakeApi:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path_contains in path:
                    self.faults.remove(fault)
                    return fault
            if self.fail_rate and self.random.random() < self.fail_rate:
                return self.random.choice(RANDOM_FAULTS)
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet."""

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = Request(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {key.lower(): value for key, value in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                with fake.lock:
                    fake.requests.append(request)
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                fault = fake._next_fault(parts.path)
                if fault is not None:
                    with fake.lock:
                        fake.faults_served += 1
                    self._fault(fault)
                    return
                try:
                    self._reply(fake.handler(request))
                except (BrokenPipeError, ConnectionResetError):  # the client went away
                    self.close_connection = True

            def _reply(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                self._send(reply.status, data, reply.headers)

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _fault(self, fault: Fault) -> None:
                try:
                    if fault.kind == "status":
                        body = json.dumps({"error": f"injected {fault.status}"}).encode()
                        self._send(fault.status, body, fault.headers)
                    elif fault.kind == "invalid_json":
                        self._send(200, b'{"tickets": [ {"id": 1,, oops', {})
                    elif fault.kind == "truncated":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", "4096")
                        self.end_headers()
                        self.wfile.write(b'{"partial": [1, 2, 3')
                        self.close_connection = True
                    else:
                        time.sleep(fake.stall_seconds)
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler
