"""Re-scoring with a new model version: resumable, and the switch happens only when complete."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import func, select

from models.message_sentiment import MessageSentimentScorer
from models.minilm import MiniLMBackend
from pipelines.backfill import backfill, remaining
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.queue import active_version
from pipelines.scoring import ScoringWorker
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AccountDailyRollup, MessageScore
from tests.factories import candidate_artifact, message


def test_interrupted_backfill_resumes_and_switches_only_when_complete(
    database: Database, model_hub: ModelHub, tmp_path: Path
) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
    records = [
        message(
            f"m{i}",
            text=f"Message number {i}: the sync {'works' if i % 2 else 'fails'}",
            created_at=f"2026-10-{1 + i % 9:02d}T08:00:00Z",
        )
        for i in range(30)
    ]
    with database.session() as session:
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(records)
    ScoringWorker(database, model_hub.scorer(), worker_id="w").drain()
    with database.session() as session:
        old = active_version(session)
    assert old is not None

    new = MessageSentimentScorer(
        MiniLMBackend(candidate_artifact(tmp_path, "minilm-sent-test.2")),
        model_hub.scorer().splitter,
    )
    first = backfill(database, new, batch_size=8, max_batches=2)  # "killed" after 2 batches
    assert (first.scored, first.switched) == (16, False)
    with database.session() as session:
        assert active_version(session) == old  # readers still see the old, complete version
        assert remaining(session, new.version) == 14
    second = backfill(database, new, batch_size=8)
    assert (second.scored, second.switched) == (14, True)
    with database.session() as session:
        assert active_version(session) == new.version
        per_version = dict(
            session.exec(
                select(MessageScore.model_version, func.count()).group_by(
                    MessageScore.model_version
                )
            ).all()
        )
        versions = set(session.exec(select(AccountDailyRollup.model_version)).all())
    assert per_version == {old: 30, new.version: 30}  # old results kept, nothing doubled
    assert versions == {new.version}
