"""The scoring worker: claims, concurrency, leases, re-scoring edits, rollups = rebuild."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from pipelines import rollups
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.queue import active_version
from pipelines.scoring import ScoringWorker, queue_length
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AccountDailyRollup, MessageScore, ScoringQueueItem
from sentiment_service.storage.types import utcnow
from tests.factories import message

TEXTS = [
    "The export failed again, this is unacceptable.",
    "Love the new dashboards, great job!",
    "Please send the October invoice to finance.",
    "Support fixed it within an hour, thank you.",
    "Billing charged us twice this month.",
    "Can we move the call to Thursday?",
]


def _ingest(database: Database, records: list[dict[str, Any]]) -> list[int]:
    with database.session() as session:
        for account in ("acme", "globex"):
            upsert_account(session, account, AccountIn(name=account.title()), actor="test")
    with database.session() as session:
        result = Ingestor(session, IngestPolicy(), channel="test", actor="test").messages(records)
    return [item.id for item in result.items if item.id is not None]


def _records(count: int, account: str = "acme") -> list[dict[str, Any]]:
    return [
        message(
            f"{account}-{i}",
            account_id=account,
            text=f"{TEXTS[i % len(TEXTS)]} (#{i})",
            created_at=f"2026-10-{1 + i % 5:02d}T10:00:00Z",
        )
        for i in range(count)
    ]


@pytest.fixture
def worker_factory(database: Database, model_hub: ModelHub) -> Any:
    """Workers sharing the real model."""
    scorer = model_hub.scorer()

    def make(name: str, batch_size: int = 8, **kwargs: Any) -> ScoringWorker:
        return ScoringWorker(database, scorer, worker_id=name, batch_size=batch_size, **kwargs)

    return make


def test_ingested_messages_are_queued_scored_and_rolled_up(
    database: Database, worker_factory: Any
) -> None:
    ids = _ingest(database, _records(10))
    assert queue_length(database) == 10
    stats = worker_factory("w1").drain()
    assert stats.scored == 10 and queue_length(database) == 0
    with database.session() as session:
        scores = session.exec(select(MessageScore).order_by(MessageScore.message_id)).all()
        assert [s.message_id for s in scores] == ids
        assert scores[0].label == "negative" and scores[1].label == "positive"
        assert all(s.sentences for s in scores)
        assert active_version(session) == scores[0].model_version
        total = session.exec(
            select(func.sum(AccountDailyRollup.message_count)).where(
                AccountDailyRollup.source == "all"
            )
        ).one()
    assert total == 10


def test_messages_in_a_language_no_model_reads_are_marked_not_scored(
    database: Database, worker_factory: Any
) -> None:
    _ingest(database, [message("nl-1", text="De update is helaas kapot.", language="nl")])
    stats = worker_factory("w1").drain()
    assert (stats.scored, stats.skipped) == (0, 1)
    with database.session() as session:
        row = session.exec(select(MessageScore)).one()
    assert row.status == "skipped_language" and row.label is None


@pytest.mark.postgres
def test_two_concurrent_workers_score_each_message_exactly_once(
    database: Database, worker_factory: Any
) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("row locking is a PostgreSQL feature; SQLite serialises writers")
    ids = _ingest(database, _records(60) + _records(40, "globex"))
    workers = [worker_factory("a", batch_size=7), worker_factory("b", batch_size=5)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(w.stats.scored > 0 for w in workers), [w.stats.scored for w in workers]
    assert sum(w.stats.scored for w in workers) == len(ids) == 100
    with database.session() as session:
        scored = session.exec(select(MessageScore.message_id)).all()
    assert sorted(scored) == sorted(ids)


def test_a_dead_workers_claims_are_retried_after_the_lease(
    database: Database, worker_factory: Any
) -> None:
    _ingest(database, _records(4))
    dead = worker_factory("dead", lease=timedelta(minutes=5))
    assert len(dead.claim()) == 4  # claims, then "dies" without processing
    alive = worker_factory("alive")
    assert alive.run_once() == 0  # leases still valid
    later = worker_factory("later", clock=lambda: utcnow() + timedelta(minutes=6))
    assert later.drain().scored == 4
    with database.session() as session:
        attempts = session.exec(select(func.count()).select_from(ScoringQueueItem)).one()
    assert attempts == 0


def test_an_edit_during_scoring_is_scored_again(database: Database, worker_factory: Any) -> None:
    _ingest(database, [message("e-1", text="Everything works great, thanks!")])
    worker = worker_factory("w")
    claimed = worker.claim()
    _ingest(database, [message("e-1", text="Update: it broke again, awful experience.")])
    worker.process(claimed)
    assert queue_length(database) == 1  # released by the edit, not deleted by the worker
    worker.drain()
    with database.session() as session:
        assert session.exec(select(MessageScore.label)).one() == "negative"


def test_incremental_rollups_equal_a_full_rebuild(database: Database, worker_factory: Any) -> None:
    _ingest(database, _records(25) + _records(12, "globex"))
    worker_factory("w", batch_size=6).drain()
    _ingest(
        database,
        [
            message(
                "acme-3",
                account_id="acme",
                text="Now it is all broken!",
                created_at="2026-10-04T10:00:00Z",
            )
        ],
    )
    worker_factory("w2").drain()

    def snapshot() -> list[tuple[Any, ...]]:
        with database.session() as session:
            rows = session.exec(
                select(AccountDailyRollup).order_by(
                    col(AccountDailyRollup.account_id),
                    col(AccountDailyRollup.day),
                    col(AccountDailyRollup.source),
                )
            ).all()
            return [
                (
                    r.account_id,
                    r.day,
                    r.source,
                    r.message_count,
                    r.scored_count,
                    round(r.score_sum, 6),
                    r.negative_count,
                    r.neutral_count,
                    r.positive_count,
                )
                for r in rows
            ]

    incremental = snapshot()
    with database.session() as session:
        version = active_version(session)
        assert version is not None
        rollups.rebuild_all(session, version)
    assert snapshot() == incremental
    assert len(incremental) > 5
