"""Runs every configured connector at its interval, in one loop that a worker can stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.base import SyncSummary
from connectors.config import ConnectorConfig, ConnectorsFile
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)


@dataclass
class Scheduler:
    """Calls `run_one` for each connector when due; a failure never stops the others."""

    config: ConnectorsFile
    run_one: Callable[[ConnectorConfig], SyncSummary]
    clock: Callable[[], float] = time.monotonic
    due: dict[str, float] = field(default_factory=dict)

    def run_due(self) -> list[SyncSummary]:
        """Run the connectors that are due now; returns their summaries."""
        done: list[SyncSummary] = []
        for connector in self.config.connectors:
            now = self.clock()
            if self.due.get(connector.name, now) > now:
                continue
            try:
                summary = self.run_one(connector)
            except ConnectorError as error:
                log.error("connector %s failed: %s", connector.name, error)
                summary = SyncSummary(connector=connector.name, error=str(error))
            except Exception:  # a worker must outlive one connector's bug
                log.exception("connector %s crashed", connector.name)
                summary = SyncSummary(connector=connector.name, error="crashed; see the log")
            self.due[connector.name] = self.clock() + connector.interval_seconds
            done.append(summary)
        return done

    def seconds_until_next(self) -> float:
        """How long until the next connector is due (0 if one is due now)."""
        now = self.clock()
        pending = [self.due.get(c.name, now) for c in self.config.connectors]
        return max(0.0, min(pending, default=60.0) - now)

    def run_forever(
        self, stop: threading.Event, on_summary: Callable[[SyncSummary], None] | None = None
    ) -> None:
        """Loop until `stop` is set, sleeping between due runs."""
        while not stop.is_set():
            for summary in self.run_due():
                if on_summary is not None:
                    on_summary(summary)
            stop.wait(min(self.seconds_until_next(), 60.0))
