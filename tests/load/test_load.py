"""The loopback load test in its short CI form (the full form: `sentiment-service bench load`).

Each test starts the real API and a scoring worker in subprocesses, offers mixed ingestion and
reads at a constant rate for a few seconds, waits for scoring and checks that nothing failed
and every accepted message was stored and scored exactly once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.conftest import drop_postgres_database, make_postgres_database
from tools.loadtest import READ_PROFILE_ENDPOINTS, LoadConfig, run_load_test, run_read_test

pytestmark = pytest.mark.slow

SHORT = LoadConfig(duration=12, rate=4, read_share=0.5, batch_size=10, drain_timeout=60)
KEYS = {
    "benchmark",
    "database",
    "duration_s",
    "load_seconds",
    "offered_rps",
    "achieved_rps",
    "requests",
    "latency",
    "endpoints",
    "errors",
    "errors_by_status",
    "messages",
    "ingest_messages_per_s",
    "queue_max",
    "drain_seconds",
    "scoring_messages_per_s",
    "machine",
    "ok",
}


def check(result: dict[str, Any], database: str) -> None:
    """No request failed; every accepted message was stored and scored exactly once."""
    assert result.keys() >= KEYS
    assert result["database"] == database
    assert result["errors"] == 0, result["errors_by_status"]
    requests = result["requests"]
    assert requests["total"] == int(SHORT.duration * SHORT.rate)
    assert requests["ingest"] > 0 and requests["read"] > 0
    assert result["latency"]["all"].keys() >= {"p50_ms", "p95_ms", "p99_ms", "max_ms"}
    messages = result["messages"]
    # Requests shed with 503 + Retry-After (an overloaded machine) are answered, not lost.
    assert messages["accepted"] == messages["sent"] - messages["shed"] > 0
    assert messages["stored"] == messages["accepted"]
    assert messages["lost"] == 0
    assert messages["unacknowledged"] == 0
    assert messages["duplicate_rows"] == 0
    assert messages["scored_once"] == messages["stored"]
    assert messages["unscored"] == 0
    assert messages["scored_more_than_once"] == 0
    assert messages["rescored"] == 0
    assert messages["queue_left"] == 0
    assert result["ok"] is True


def test_load_sqlite() -> None:
    check(run_load_test(SHORT), "sqlite")


@pytest.mark.postgres
def test_load_postgres(postgres_server: str) -> None:
    url = make_postgres_database(postgres_server)
    try:
        check(run_load_test(replace(SHORT, database_url=url)), "postgresql")
    finally:
        drop_postgres_database(postgres_server, url)


READS = LoadConfig(profile="reads", duration=6, rate=8, accounts=40)


def test_reads_profile_sqlite() -> None:
    """The reads profile: a seeded portfolio, only the four reads, no errors."""
    result = run_read_test(READS)
    assert result["benchmark"] == "load-reads" and result["database"] == "sqlite"
    assert result["errors"] == 0, result["errors_by_status"]
    assert result["seed"]["accounts"] == 40 and result["seed"]["messages"] > 0
    assert result["requests"]["total"] == int(READS.duration * READS.rate)
    assert set(result["endpoints"]) == set(READ_PROFILE_ENDPOINTS)
    for endpoint in result["endpoints"].values():
        assert endpoint.keys() >= {"count", "p50_ms", "p95_ms", "p99_ms", "achieved_rps", "shed"}
    assert sum(e["count"] for e in result["endpoints"].values()) == result["requests"]["total"]
    assert result["api_workers"] == 1 and result["ok"] is True


INGEST_ONLY = LoadConfig(duration=6, rate=4, read_share=0.0, batch_size=25, workers=0)


def test_ingestion_alone_stores_and_queues_without_scoring() -> None:
    """`--workers 0`: the API's ingestion alone; every accepted message is stored once and
    left queued for scoring, and nothing is scored."""
    result = run_load_test(INGEST_ONLY)
    assert result["errors"] == 0, result["errors_by_status"]
    assert result["workers"] == 0 and result["requests"]["read"] == 0
    messages = result["messages"]
    assert messages["accepted"] == messages["sent"] - messages["shed"] > 0
    assert messages["stored"] == messages["accepted"] and messages["lost"] == 0
    assert messages["duplicate_rows"] == 0
    assert messages["scored_once"] == 0 and messages["queue_left"] == messages["stored"]
    assert result["drain_seconds"] == 0 and result["ok"] is True
