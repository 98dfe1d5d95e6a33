"""Structured progress lines for a running sync, written with or without the progress bar.

One `sync.page` line per committed page, and a `sync.progress` heartbeat from a background
thread whenever no page has landed for `every` seconds (a slow vendor, long retries), so a
sync is never silent for long. Each line carries pages, records, requests, retries and rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import structlog

log = structlog.get_logger("connectors.sync")


class _Counts(Protocol):
    pages: int
    fetched: int
    stored: int
    updated: int
    quarantined: int


class _Stats(Protocol):
    requests: int
    retries: int
    rate_limited: int


class ProgressLog:
    """Logs the progress of the sync `name` (its summary and its HTTP stats, read live)."""

    def __init__(
        self,
        name: str,
        summary: _Counts,
        stats: _Stats | None,
        *,
        every: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.summary = summary
        self.stats = stats
        self.every = every
        self.monotonic = monotonic
        self.started = monotonic()
        self._last = self.started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ProgressLog:
        """Start the heartbeat (none when `every` is not positive)."""
        if self.every > 0:
            self._thread = threading.Thread(
                target=self._beat, name=f"sync-progress-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def page(self) -> None:
        """A page was committed."""
        self._write("sync.page")

    def stop(self, **outcome: Any) -> None:
        """Stop the heartbeat and write the final line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._write("sync.finished", **outcome)

    def fields(self) -> dict[str, Any]:
        """The numbers one line carries."""
        elapsed = max(self.monotonic() - self.started, 1e-9)
        summary = self.summary
        found: dict[str, Any] = {
            "connector": self.name,
            "pages": summary.pages,
            "records": summary.fetched,
            "stored": summary.stored,
            "updated": summary.updated,
            "quarantined": summary.quarantined,
            "records_per_second": round(summary.fetched / elapsed, 1),
            "elapsed_s": round(elapsed, 1),
        }
        if self.stats is not None:
            found.update(
                requests=self.stats.requests,
                retries=self.stats.retries,
                rate_limited=self.stats.rate_limited,
            )
        return found

    def _write(self, event: str, **extra: Any) -> None:
        self._last = self.monotonic()
        log.info(event, **self.fields(), **extra)

    def _beat(self) -> None:
        while not self._stop.wait(self.every / 4):
            if self.monotonic() - self._last >= self.every:
                self._write("sync.progress")
