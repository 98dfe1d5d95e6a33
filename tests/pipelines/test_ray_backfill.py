"""Re-scoring on Ray Data (local mode): same results as the single-process path, switch only when
complete, resumable after an interruption, and from a Parquet export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmodel import col, func, select

from pipelines.backfill import remaining
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.queue import active_version
from pipelines.ray_backfill import plan_ranges, ray_backfill, worker_database_url
from pipelines.scoring import ScoringWorker
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AccountDailyRollup, Message, MessageScore
from tests.factories import candidate_artifact, message

ray = pytest.importorskip("ray")

NEW = "minilm-sent-ray-test.2"
TEXTS = [
    "The sync works again, thank you so much!",
    "Export failed three times today. We are losing patience.",
    "How do I add a second admin?",
    "Billing was wrong last month. It is fixed now. The support person was kind and quick, "
    "which we appreciated a lot after a frustrating week.",
    "Honestly the new dashboard is the best thing you shipped this year.",
]


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """One small local Ray instance for the whole module (ray_backfill reuses it)."""
    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=256 * 1024**2,
        include_dashboard=False,
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def candidate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model under a new version name (a stand-in for a retrained model)."""
    return candidate_artifact(tmp_path_factory.mktemp("artifact"), NEW)


def _seed(database: Database, model_hub: ModelHub) -> str:
    """30 messages (2 German) scored single-process with the shipped model; the old version."""
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
    records = [
        message(
            f"m{i}",
            text=f"{TEXTS[i % len(TEXTS)]} (#{i})",
            created_at=f"2026-10-{1 + i % 9:02d}T08:00:00Z",
        )
        for i in range(28)
    ]
    records += [
        message(f"nl{i}", text=f"De export werkt niet ({i}).", language="nl") for i in range(2)
    ]
    with database.session() as session:
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(records)
    # Batches of 8 in id order, like the Ray run below: the int8 model's outputs depend a little
    # on which texts share a batch, so equal results need equal batches.
    ScoringWorker(database, model_hub.scorer(), worker_id="w", batch_size=8).drain()
    with database.session() as session:
        old = active_version(session)
    assert old is not None and old != NEW
    return old


def _rows(database: Database, version: str) -> dict[int, MessageScore]:
    with database.session() as session:
        rows = session.exec(select(MessageScore).where(MessageScore.model_version == version))
        return {row.message_id: row for row in rows.all()}


def _per_version(database: Database) -> dict[str, int]:
    with database.session() as session:
        counts = session.exec(
            select(MessageScore.model_version, func.count()).group_by(
                col(MessageScore.model_version)
            )
        ).all()
    return dict(counts)


def test_ray_rescore_equals_single_process_and_switches(
    database: Database, model_hub: ModelHub, candidate: Path, ray_local: None
) -> None:
    old = _seed(database, model_hub)
    summary = ray_backfill(database.url, candidate, batch_size=8, show_progress=False)
    assert (summary.scored, summary.skipped, summary.batches) == (28, 2, 4)
    assert (summary.switched, summary.remaining_after, summary.previous_version) == (True, 0, old)
    assert summary.rollup_rows > 0

    before, after = _rows(database, old), _rows(database, NEW)
    assert before.keys() == after.keys() and len(after) == 30
    for message_id, expected in before.items():  # `before` came from store_scores
        got = after[message_id]
        assert (got.status, got.label, got.aggregation) == (
            expected.status,
            expected.label,
            expected.aggregation,
        )
        for field in ("score", "p_negative", "p_neutral", "p_positive"):
            want, have = getattr(expected, field), getattr(got, field)
            assert (want is None and have is None) or abs(want - have) < 1e-6
        assert [s["label"] for s in got.sentences or []] == [
            s["label"] for s in expected.sentences or []
        ]
    with database.session() as session:
        assert active_version(session) == NEW
        assert set(session.exec(select(AccountDailyRollup.model_version)).all()) == {NEW}

    again = ray_backfill(database.url, candidate, batch_size=8, show_progress=False)
    assert (again.scored, again.skipped, again.switched) == (0, 0, True)
    assert _per_version(database) == {old: 30, NEW: 30}


def test_interrupted_ray_rescore_keeps_old_version_then_resumes_from_parquet(
    database: Database, model_hub: ModelHub, candidate: Path, ray_local: None, tmp_path: Path
) -> None:
    old = _seed(database, model_hub)
    first = ray_backfill(database.url, candidate, batch_size=8, max_batches=2, show_progress=False)
    assert (first.scored + first.skipped, first.switched, first.remaining_after) == (16, False, 14)

    def ctrl_c(_: int) -> None:
        raise KeyboardInterrupt

    second = ray_backfill(database.url, candidate, batch_size=4, progress=ctrl_c)
    assert second.interrupted and not second.switched
    assert 0 <= second.remaining_after < 14  # at least the first batch is stored
    with database.session() as session:
        assert active_version(session) == old  # readers still see the old, complete version
        assert remaining(session, NEW) == second.remaining_after
        exported = session.exec(select(Message.id, Message.text, Message.language)).all()

    export = tmp_path / "export"
    export.mkdir()
    table = pa.table(
        {
            name: list(values)
            for name, values in zip(
                ("id", "text", "language"), zip(*exported, strict=True), strict=True
            )
        }
    )
    pq.write_table(table.slice(0, 20), export / "part-0.parquet")
    pq.write_table(table.slice(19), export / "part-1.parquet")  # message 20 twice

    third = ray_backfill(
        database.url, candidate, batch_size=8, parquet_dir=export, show_progress=False
    )
    assert third.scored + third.skipped == second.remaining_after  # nothing scored twice
    assert (third.switched, third.remaining_after) == (True, 0)
    assert _per_version(database) == {old: 30, NEW: 30}
    with database.session() as session:
        assert active_version(session) == NEW


def test_plan_ranges_and_worker_urls(database: Database, model_hub: ModelHub) -> None:
    _seed(database, model_hub)
    ranges, total = plan_ranges(database, NEW, batch_size=8)
    assert total == 30 and len(ranges) == 4
    assert all(r["lo"] <= r["hi"] for r in ranges)
    assert plan_ranges(database, NEW, batch_size=8, max_batches=1)[1] == 8
    assert worker_database_url("sqlite:///rel/x.db") == f"sqlite:///{Path('rel/x.db').resolve()}"
    with pytest.raises(ValueError, match="PostgreSQL"):
        ray_backfill("sqlite:///x.db", address="ray://head:10001")
    with pytest.raises(ValueError, match="in-memory"):
        ray_backfill("sqlite://")
