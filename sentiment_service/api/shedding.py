"""Load shedding: a bounded number of requests in flight, and a fast 503 beyond it.

Without a bound, an overloaded process queues every request in its thread pool: latency
grows without limit and clients time out with no answer. Here each process admits at most
`max_in_flight_writes` writes (POST, PUT, PATCH, DELETE) and `max_in_flight_reads` reads at
once; one more is answered at once with 503 and `Retry-After`, so that the requests that are
admitted keep a bounded latency and every client gets an answer. The probes and /metrics are
never shed. The counters live in the event loop's thread, so no lock is needed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from sentiment_service.api.problems import send_problem
from sentiment_service.api.telemetry import ApiMetrics

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoadSheddingMiddleware:
    """Admit at most a fixed number of reads and of writes at once; shed the rest with 503."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_reads: int,
        max_writes: int,
        retry_after_seconds: int = 1,
        metrics: ApiMetrics | None = None,
    ) -> None:
        self.app = app
        self.limits = {"read": max_reads, "write": max_writes}
        self.in_flight = {"read": 0, "write": 0}
        self.retry_after = retry_after_seconds
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT:
            await self.app(scope, receive, send)
            return
        kind = "write" if scope.get("method") in WRITE_METHODS else "read"
        limit = self.limits[kind]
        if limit > 0 and self.in_flight[kind] >= limit:
            if self.metrics is not None:
                self.metrics.shed.labels(kind=kind).inc()
            await self._reject(scope, send, kind, limit)
            return
        self.in_flight[kind] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[kind] -= 1

    async def _reject(self, scope: Scope, send: Send, kind: str, limit: int) -> None:
        detail = (
            f"the service is at capacity ({limit} {kind} requests in progress); "
            f"retry in {self.retry_after} s"
        )
        headers = [(b"retry-after", str(self.retry_after).encode())]
        await send_problem(scope, send, 503, "Service overloaded", detail, headers)
