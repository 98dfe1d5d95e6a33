"""Prometheus metrics of the API, in a registry owned by the app (not the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ApiMetrics:
    """The counters and histograms the API updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route", "method"],
            registry=self.registry,
        )
        self.ingested = Counter(
            "ingested_records_total",
            "Ingested records by kind and outcome (accepted, updated, duplicate, rejected).",
            ["kind", "status"],
            registry=self.registry,
        )
        self.shed = Counter(
            "http_requests_shed_total",
            "Requests answered 503 at once because the process was at capacity, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "scoring_queue_length", "Messages waiting to be scored.", registry=self.registry
        )
        self.scoring_lag = Gauge(
            "scoring_lag_seconds",
            "Age of the oldest message waiting to be scored (0 when none waits).",
            registry=self.registry,
        )
