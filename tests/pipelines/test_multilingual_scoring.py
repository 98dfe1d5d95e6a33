"""Non-English messages are scored by the multilingual model and counted everywhere after."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import col, select

from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.queue import active_version
from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    AccountDailyRollup,
    Message,
    MessageScore,
    MessageTopic,
)
from tests.factories import message

GERMAN_COMPLAINT = (
    "Die Rechnung wurde uns doppelt abgebucht. Das ist wirklich ärgerlich und inakzeptabel, "
    "wir sind sehr unzufrieden."
)
PORTUGUESE_PRAISE = "Adoramos o novo painel, ficou excelente e muito mais rápido, parabéns!"


def _ingest(database: Database, records: list[dict[str, Any]]) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="test")
    with database.session() as session:
        Ingestor(session, IngestPolicy(), channel="test", actor="test").messages(records)


def test_non_english_messages_are_scored_rolled_up_and_topiced(
    database: Database, model_hub: ModelHub
) -> None:
    day = "2026-10-05T09:00:00Z"
    _ingest(
        database,
        [
            message("de-1", text=GERMAN_COMPLAINT, language="de", created_at=day),
            # no language field: detected at ingestion (Portuguese), then routed
            message("pt-1", text=PORTUGUESE_PRAISE, created_at=day),
            message("nl-1", text="De nieuwe rapporten zijn erg traag geworden.", language="nl"),
            message("en-1", text="Thanks, the fix works great!", created_at=day),
            # the same German text on another ticket is stored and scored too
            message("de-2", text=GERMAN_COMPLAINT, language="de-DE", thread_id="ticket-2"),
        ],
    )
    worker = ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda session: topic_model(session, model_hub),
        worker_id="ml",
    )
    stats = worker.drain()
    assert (stats.scored, stats.skipped) == (4, 1)
    with database.session() as session:
        version = active_version(session)
        rows = session.exec(
            select(Message.external_id, Message.language, MessageScore)
            .join(MessageScore, col(MessageScore.message_id) == col(Message.id))
            .order_by(col(Message.external_id))
        ).all()
        by_id = {external_id: (language, score) for external_id, language, score in rows}
        assert by_id["pt-1"][0] == "pt"  # detected
        assert {s.model_version for _, s in by_id.values()} == {version}
        assert by_id["de-1"][1].status == "scored" and by_id["de-1"][1].label == "negative"
        assert by_id["de-2"][1].label == "negative"
        assert by_id["pt-1"][1].label == "positive"
        assert by_id["nl-1"][1].status == "skipped_language" and by_id["nl-1"][1].label is None
        assert by_id["de-1"][1].sentences and len(by_id["de-1"][1].sentences) == 2
        rollup = session.exec(
            select(AccountDailyRollup).where(
                AccountDailyRollup.source == "all",
                col(AccountDailyRollup.day) == date(2026, 10, 5),
            )
        ).one()
        # de-1, pt-1 and en-1 that day: all counted and scored
        assert (rollup.message_count, rollup.scored_count) == (3, 3)
        assert (rollup.negative_count, rollup.positive_count) == (1, 2)
        topics = session.exec(
            select(MessageTopic)
            .join(Message, col(Message.id) == col(MessageTopic.message_id))
            .where(Message.external_id == "de-1")
        ).all()
    assert "billing" in {t.topic for t in topics}
    assert all("-zs" in t.model_version for t in topics)


def test_the_multilingual_sample_messages_load_score_and_show_in_trends(
    database: Database, model_hub: ModelHub
) -> None:
    from pipelines.rollups import ALL_SOURCES
    from sentiment_service.sample_loader import MULTILINGUAL_FILE, SAMPLE_DIR, _extra_messages

    records = _extra_messages(SAMPLE_DIR)
    assert len(records) == 12 and (SAMPLE_DIR / MULTILINGUAL_FILE).is_file()
    assert all(r["metadata"] == {"sample": "multilingual-demo"} for r in records)
    with database.session() as session:
        for account in sorted({r["account_id"] for r in records}):
            upsert_account(session, account, AccountIn(name=account), actor="test")
    with database.session() as session:
        result = Ingestor(session, IngestPolicy(), channel="test", actor="test").messages(records)
        assert result.counts()["accepted"] == 12, result.counts()
    stats = ScoringWorker(database, model_hub.scorer(), worker_id="sample").drain()
    assert (stats.scored, stats.skipped) == (12, 0)
    with database.session() as session:
        languages = dict(session.exec(select(Message.external_id, Message.language)).all())
        assert languages["ml-demo-002"] == "de"  # no language in the file: detected
        assert languages["ml-demo-004"] == "pt-BR"
        rollups = session.exec(
            select(AccountDailyRollup).where(
                AccountDailyRollup.account_id == "acct-009",
                AccountDailyRollup.source == ALL_SOURCES,
            )
        ).all()
    assert sum(r.scored_count for r in rollups) == 3
    assert sum(r.negative_count for r in rollups) == 2
