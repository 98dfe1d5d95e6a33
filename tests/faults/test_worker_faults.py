"""The scoring worker under faults: PostgreSQL restarted while it scores, and the worker itself
killed with SIGKILL in the middle of a batch. Either way every queued message must end up
scored exactly once (one message_scores row per message and model version, queue empty).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.ingest import Ingestor, IngestPolicy
from sentiment_service.storage.database import Database
from tests.faults.conftest import (
    Child,
    PostgresCluster,
    make_accounts,
    message_records,
    rows,
    scalar,
    service_env,
    wait_for,
    wait_until_disconnected,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MESSAGES = 100


def _queue_messages(database_url: str, count: int) -> None:
    """Ingest `count` messages straight into the database (each is queued for scoring)."""
    make_accounts(database_url, ("acme", {}))
    database = Database(database_url)
    try:
        with database.session() as session:
            result = Ingestor(session, IngestPolicy(), channel="test", actor="test").messages(
                message_records("w", count)
            )
        assert result.counts()["accepted"] == count
    finally:
        database.dispose()


def _scored(database_url: str) -> int:
    return int(scalar(database_url, "SELECT count(*) FROM message_scores"))


def _claimed(database_url: str) -> int:
    """Queued messages a worker has claimed and not finished."""
    sql = "SELECT count(*) FROM scoring_queue WHERE claimed_at IS NOT NULL"
    return int(scalar(database_url, sql))


def _assert_scored_exactly_once(database_url: str, count: int) -> None:
    assert scalar(database_url, "SELECT count(*) FROM scoring_queue") == 0
    per_message = rows(
        database_url,
        "SELECT m.id, count(s.id) FROM messages m "
        "LEFT JOIN message_scores s ON s.message_id = m.id GROUP BY m.id",
    )
    assert len(per_message) == count
    assert scalar(database_url, "SELECT count(DISTINCT model_version) FROM message_scores") == 1
    assert Counter(scores for _, scores in per_message) == {1: count}  # none lost, none twice
    rollup = rows(
        database_url,
        "SELECT sum(message_count), sum(scored_count) FROM account_daily_rollups "
        "WHERE source = 'all'",
    )
    assert rollup == [(count, count)]  # the daily aggregates count each message once too


def _worker(
    spawn: Callable[..., Child], name: str, database_url: str, tmp_path: Path, *options: str
) -> Child:
    env = service_env(database_url, tmp_path)
    return spawn(name, ["worker", "--poll-seconds", "0.2", *options], env)


def test_worker_survives_a_postgres_restart_and_scores_everything_once(
    pg_cluster: PostgresCluster,
    pg_url: str,
    tmp_path: Path,
    spawn: Callable[..., Child],
) -> None:
    _queue_messages(pg_url, MESSAGES)
    worker = _worker(spawn, "worker", pg_url, tmp_path, "--batch-size", "8")
    wait_for(lambda: _scored(pg_url) >= 12 or not worker.alive(), 120, "the worker to score")
    assert worker.alive(), worker.log()
    assert _scored(pg_url) < MESSAGES / 2, "the worker was too quick: raise MESSAGES"

    pg_cluster.stop()  # cuts the worker off, most likely inside a batch
    wait_for(lambda: "database_unavailable" in worker.log(), 30, "the worker to notice")
    assert worker.alive(), worker.log()
    pg_cluster.start()

    wait_for(lambda: _scored(pg_url) == MESSAGES or not worker.alive(), 120, "every message scored")
    assert worker.alive(), worker.log()
    assert "database_recovered" in worker.log()
    assert worker.terminate() == 0, worker.log()
    _assert_scored_exactly_once(pg_url, MESSAGES)
    retries = worker.log().count("database_unavailable")
    print(f"worker: {MESSAGES} scored once each after {retries} database_unavailable retries")


def test_a_worker_killed_mid_batch_loses_nothing_and_scores_nothing_twice(
    pg_url: str, tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    _queue_messages(pg_url, MESSAGES)
    # The batch seen claimed can be committed between that check and the kill (a short gap
    # between batches); then the kill came between batches, so a fresh worker is killed again.
    for attempt in range(3):
        first = _worker(spawn, f"worker-1-{attempt}", pg_url, tmp_path, "--batch-size", "8")

        def inside_a_later_batch(worker: Child = first) -> bool:
            return (_scored(pg_url) >= 16 and _claimed(pg_url) > 0) or not worker.alive()

        wait_for(
            inside_a_later_batch,
            120,
            "the first worker to be inside its third batch or later",
        )
        first.kill()  # SIGKILL, while it scores a claimed batch: no clean-up of any kind
        wait_until_disconnected(pg_url)
        if _claimed(pg_url) > 0:
            break

    scored_at_kill = _scored(pg_url)
    claimed = _claimed(pg_url)
    assert 0 < scored_at_kill < MESSAGES
    assert claimed > 0, "the worker was not inside a batch when it was killed"

    # A new worker takes the dead worker's batch over once its (short) lease has run out.
    second = _worker(
        spawn, "worker-2", pg_url, tmp_path, "--batch-size", "32", "--lease-seconds", "2"
    )
    wait_for(lambda: _scored(pg_url) == MESSAGES or not second.alive(), 120, "every message scored")
    assert second.terminate() == 0, second.log()
    _assert_scored_exactly_once(pg_url, MESSAGES)
    print(
        f"SIGKILL: {scored_at_kill} scored and {claimed} claimed at the kill; "
        f"{MESSAGES} scored once each in the end"
    )
