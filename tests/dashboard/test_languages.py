"""The account page shows the language of non-English evidence messages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.dashboard.conftest import login
from tests.factories import account_body, message

GERMAN = "Die Rechnung für diesen Monat wurde uns doppelt abgebucht, bitte sofort korrigieren."


def test_topic_evidence_in_german_is_marked_with_its_language(
    client: TestClient, keys: dict[Role, str], database: Database, model_hub: ModelHub
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    batch = [
        message("de-1", text=GERMAN, language="de", created_at="2026-10-05T09:00:00Z"),
        message("en-1", text="Support was quick and friendly, thanks!", thread_id="t-2"),
    ]
    client.post("/v1/messages", json={"messages": batch}, headers=auth(keys[Role.INGEST]))
    ScoringWorker(
        database,
        model_hub.scorer(),
        topics=lambda session: topic_model(session, model_hub),
        worker_id="dash",
    ).drain()
    login(client, keys[Role.VIEWER])
    page = client.get("/accounts/acme")
    assert page.status_code == 200
    assert 'lang="de"' in page.text and "doppelt abgebucht" in page.text
    assert 'title="Language of the message">de</span>' in page.text
    # only non-English quotes are marked (English is the norm)
    assert page.text.count('title="Language of the message">') == page.text.count('lang="de"')
