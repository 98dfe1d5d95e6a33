"""Webhook delivery off the request path: one background thread per app posts pending alerts.

`POST /v1/alerts/evaluate` stores the new alerts and wakes this worker, then answers at
once, so no request waits on a slow or failing webhook. The worker runs `deliver_pending`
(each event is claimed with a lease, so a CLI run or a second process never posts it twice;
each post is retried with backoff by `WebhookSender`). Events still pending after a pass are
tried again every `retry_seconds` until they are delivered (or their rule is disabled or
deleted), and on the next wake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from sentiment_service.alerts.delivery import (
    Attempt,
    DeliveryPolicy,
    DeliverySummary,
    deliver_pending,
)
from sentiment_service.storage.database import Database

log = structlog.get_logger(__name__)


class BackgroundDelivery:
    """A lazily started daemon thread that delivers pending alerts when woken."""

    def __init__(
        self,
        database: Database,
        policy: DeliveryPolicy,
        *,
        on_attempt: Callable[[Attempt], None] | None = None,
        retry_seconds: float = 60.0,
    ) -> None:
        self._database = database
        self._policy = policy
        self._on_attempt = on_attempt
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: DeliverySummary | None = None  # the latest pass, for tests and logs

    def wake(self) -> None:
        """Ask for a delivery pass soon (starts the thread on first use); returns at once."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._idle.clear()
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="alert-delivery", daemon=True
                )
                self._thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no pass is running or asked for; False if `timeout` passed first."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (a post in flight finishes within its own timeouts)."""
        with self._lock:
            self._stopping.set()
            self._wake.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        retry_after: float | None = None
        while True:
            self._wake.wait(retry_after)
            if self._stopping.is_set():
                break
            self._wake.clear()
            try:
                self.last = deliver_pending(
                    self._database, self._policy, on_attempt=self._on_attempt
                )
                retry_after = self._retry_seconds if self.last.failed else None
            except Exception:  # logged; the next wake or retry tries again
                log.exception("alert_delivery_pass_failed")
                retry_after = self._retry_seconds
            with self._lock:
                if not self._wake.is_set():
                    self._idle.set()
        self._idle.set()
