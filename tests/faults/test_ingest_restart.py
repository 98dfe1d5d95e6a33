"""PostgreSQL restarted while the API ingests.

During the outage the service must say so (/readyz 503, ingestion 503 problem + Retry-After,
never a 500 or a hang); the client re-sends what failed, and afterwards every record is stored
exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import (
    Child,
    PostgresCluster,
    make_accounts,
    message_records,
    rows,
    scalar,
    service_env,
    start_server,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BATCHES = 40
BATCH_SIZE = 10
CLIENT_TIMEOUT = 15.0  # a request slower than this counts as a hang


@dataclass
class IngestClient:
    """Posts batches in order, re-sending a batch until it is stored (as a real client would)."""

    base_url: str
    key: str
    batches: list[list[dict[str, Any]]]
    statuses: Counter[int] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # per record: accepted, duplicate
    unavailable: list[httpx.Response] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # anything but 200 or a proper 503
    done: int = 0

    def run(self) -> None:
        """Send every batch; stops at the first unexpected answer or error."""
        try:
            self._send_all()
        except Exception as error:  # reported by the test, not lost in the thread
            self.failures.append(f"client error: {error!r}")

    def _send_all(self) -> None:
        with httpx.Client(
            base_url=self.base_url, headers={"X-API-Key": self.key}, timeout=CLIENT_TIMEOUT
        ) as http:
            for batch in self.batches:
                if not self._send(http, batch):
                    return
                self.done += 1
                time.sleep(0.05)

    def _send(self, http: httpx.Client, batch: list[dict[str, Any]]) -> bool:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                response = http.post("/v1/messages", json={"messages": batch})
            except httpx.TimeoutException as error:
                self.failures.append(f"hang: {error!r}")
                return False
            self.statuses[response.status_code] += 1
            if response.status_code == 200:
                self.outcomes.update(response.json()["counts"])
                return True
            if response.status_code != 503:
                self.failures.append(f"{response.status_code}: {response.text}")
                return False
            self.unavailable.append(response)
            # Honour Retry-After, capped so the test stays short.
            time.sleep(min(float(response.headers.get("retry-after", "1")), 0.3))
        self.failures.append("batch never accepted")
        return False


def _assert_unavailable_problem(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503 and "database is unavailable" in body["detail"], body


def test_ingestion_survives_a_postgres_restart_with_nothing_lost_or_duplicated(
    pg_cluster: PostgresCluster,
    pg_url: str,
    tmp_path: Path,
    spawn: Callable[..., Child],
) -> None:
    make_accounts(pg_url, ("acme", {}))
    server = start_server(spawn, service_env(pg_url, tmp_path))
    batches = [
        message_records(f"b{number}", BATCH_SIZE, start=number * BATCH_SIZE)
        for number in range(BATCHES)
    ]
    client = IngestClient(server.base_url, server.admin_key, batches)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    wait_for(lambda: client.done >= 5 or bool(client.failures), 60, "the first batches")

    pg_cluster.stop()  # fast shutdown: open transactions are rolled back, clients cut off
    with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"].startswith("unreachable"), ready.text
        probe = http.post(
            "/v1/messages",
            json={"messages": batches[0]},
            headers={"X-API-Key": server.admin_key},
        )
        _assert_unavailable_problem(probe)
        wait_for(lambda: bool(client.unavailable), 20, "the client to meet the outage")
        time.sleep(1.0)  # the client keeps retrying meanwhile
        pg_cluster.start()
        wait_for(lambda: http.get("/readyz").status_code == 200, 30, "/readyz to recover")

    thread.join(timeout=120)
    assert not thread.is_alive(), "the client hung"
    assert client.failures == [], client.failures
    assert client.done == BATCHES
    assert server.child.alive(), server.child.log()
    for response in client.unavailable:
        _assert_unavailable_problem(response)
    assert set(client.statuses) == {200, 503}, client.statuses  # no 500s
    total = BATCHES * BATCH_SIZE
    # A batch whose commit went through just before its answer was lost comes back as
    # duplicates when re-sent; everything else is accepted exactly once.
    assert client.outcomes["accepted"] + client.outcomes["duplicate"] == total, client.outcomes

    stored = rows(pg_url, "SELECT external_id, count(*) FROM messages GROUP BY external_id")
    sent = {record["external_id"] for batch in batches for record in batch}
    assert {external_id for external_id, _ in stored} == sent  # nothing lost
    assert all(count == 1 for _, count in stored)  # nothing duplicated
    assert scalar(pg_url, "SELECT count(*) FROM messages") == total
    assert scalar(pg_url, "SELECT count(*) FROM scoring_queue") == total  # each queued once
    assert "database_unavailable" in server.child.log()
    print(f"ingestion: statuses {dict(client.statuses)}, records {dict(client.outcomes)}")
