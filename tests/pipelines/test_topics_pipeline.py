"""The topic stage: worker stores topics and competitor mentions, rollups, re-assignment."""

from __future__ import annotations

from sqlmodel import func, select

from pipelines import rollups
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.scoring import ScoringWorker
from pipelines.topics import active_taxonomy, retopic, topic_model
from sentiment_service import config_store
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    AccountDailyTopicRollup,
    CompetitorMention,
    MessageTopic,
)
from tests.factories import message

TEXTS = {
    "bill": "We were charged twice on the last invoice, please refund it.",
    "down": "Your platform has been down all morning and nobody can log in.",
    "rival": "Honestly we are looking at Quorvo because they are cheaper.",
    "mixed": "The reporting dashboards are fantastic, but billing is a total mess.",
    "agent": "I have refunded the duplicate charge on your invoice.",
}


def _ingest(database: Database) -> None:
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme", industry="fintech"), actor="t")
    records = [
        message(
            key,
            account_id="acme",
            text=text,
            author_role="agent" if key == "agent" else "customer",
            created_at=f"2026-10-0{1 + i % 2}T09:00:00Z",
        )
        for i, (key, text) in enumerate(TEXTS.items())
    ]
    with database.session() as session:
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(records)


def _worker(database: Database, model_hub: ModelHub) -> ScoringWorker:
    return ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda session: topic_model(session, model_hub),
        worker_id="w",
    )


def _topics(database: Database) -> dict[str, dict[str, MessageTopic]]:
    with database.session() as session:
        rows = session.exec(select(MessageTopic)).all()
        from sentiment_service.storage.tables import Message

        names = {m.id: m.external_id for m in session.exec(select(Message)).all()}
        found: dict[str, dict[str, MessageTopic]] = {}
        for row in rows:
            found.setdefault(names[row.message_id], {})[row.topic] = row
        return found


def test_worker_stores_topics_mentions_and_topic_rollups(
    database: Database, model_hub: ModelHub
) -> None:
    _ingest(database)
    _worker(database, model_hub).drain()
    topics = _topics(database)
    assert "billing" in topics["bill"] and "outage" in topics["down"]
    assert topics["mixed"]["billing"].label == "negative"
    assert topics["rival"]["competitor"].confidence == 1.0
    with database.session() as session:
        [mention] = session.exec(select(CompetitorMention)).all()
        assert (mention.competitor, mention.intent) == ("quorvo", "evaluating")
        assert "Quorvo" in mention.evidence and mention.label is not None
        stored = {
            (r.account_id, r.day, r.topic, r.mentions, r.negative_count)
            for r in session.exec(select(AccountDailyTopicRollup)).all()
        }
        billing = [r for r in stored if r[2] == "billing"]
        assert sum(r[3] for r in billing) == 2  # the agent's reply is not counted
        rollups.rebuild_all(session, model_hub.scorer().version)
    with database.session() as session:
        rebuilt = {
            (r.account_id, r.day, r.topic, r.mentions, r.negative_count)
            for r in session.exec(select(AccountDailyTopicRollup)).all()
        }
    assert rebuilt == stored


def test_published_taxonomy_applies_and_retopic_resumes(
    database: Database, model_hub: ModelHub
) -> None:
    _ingest(database)
    _worker(database, model_hub).drain()
    with database.session() as session:
        taxonomy, version = active_taxonomy(session)
        assert version is None
        body = taxonomy.model_dump(mode="json")
        body["topics"] = [t for t in body["topics"] if t["key"] != "billing"]
        config_store.save_version(
            session, kind="taxonomy", key="default", body=body, author="ana", reason="merge"
        )
    with database.session() as session:
        taxonomy, version = active_taxonomy(session)
    assert version == 1 and "billing" not in {t.key for t in taxonomy.topics}
    assigner = model_hub.topic_assigner(taxonomy)
    first = retopic(database, model_hub.scorer(), assigner, batch_size=2, max_batches=1)
    assert first.messages == 2
    rest = retopic(database, model_hub.scorer(), assigner, batch_size=2)
    assert rest.resumed_after_id > 0 and first.messages + rest.messages == len(TEXTS)
    topics = _topics(database)
    assert all("billing" not in found for found in topics.values())
    with database.session() as session:
        versions = session.exec(select(func.count(MessageTopic.model_version.distinct()))).one()
    assert versions == 1


def test_corrections_train_heads_that_the_worker_uses(
    database: Database, model_hub: ModelHub
) -> None:
    from sentiment_service.storage.tables import Message, TopicCorrection

    seats = [
        "How many user licences do we have left?",
        "Can you add five more seats for the new hires?",
        "We need to move seats from marketing to sales.",
        "Please remove the seats of people who left.",
        "Who can approve extra licences for our team?",
    ]
    other = [
        "The export button crashes the page.",
        "Our invoice shows the wrong VAT number.",
        "The API returns a timeout on large requests.",
        "Loving the new dashboards!",
    ]
    with database.session() as session:
        upsert_account(session, "acme", AccountIn(name="Acme"), actor="t")
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(
            [message(f"c{i}", text=text) for i, text in enumerate(seats + other)]
        )
    _worker(database, model_hub).drain()
    with database.session() as session:
        for stored in session.exec(select(Message)).all():
            session.add(
                TopicCorrection(
                    message_id=stored.id,
                    topic="account_management",
                    present=stored.text in seats,
                    corrected_by="ana",
                )
            )
    with database.session() as session:
        assigner = topic_model(session, model_hub)
    assert assigner.heads is not None and assigner.heads.keys == ["account_management"]
    with database.session() as session:
        Ingestor(session, IngestPolicy(), channel="t", actor="t").messages(
            [message("new", text="Could we get three additional licences for support?")]
        )
    _worker(database, model_hub).drain()
    assert "account_management" in _topics(database)["new"]
