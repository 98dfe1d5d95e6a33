"""Quarantined records are replayed once their account exists (issue 17, defect 3): by the
`quarantine replay` command, and at once when the account is created or gains a vendor id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select
from typer.testing import CliRunner

from connectors.accounts import domain_of, external, refs
from connectors.base import Draft, Page, SyncEngine, SyncOptions
from connectors.http import HttpStats
from pipelines.ingest import IngestPolicy
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.cli import app
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, QuarantineKey, QuarantineRecord
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import message


class _OnePageConnector:
    """A vendor whose only page holds comments of organisations we do not know yet."""

    source_system = "zendesk"

    def __init__(self, drafts: list[Draft]) -> None:
        self.stats = HttpStats()
        self.drafts = drafts

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        if cursor is None:
            yield Page(self.drafts, cursor="page-1")


def _draft(external_id: str, org: int, email: str, text: str) -> Draft:
    record: dict[str, Any] = {
        "source": "ticket",
        "source_system": "zendesk",
        "external_id": external_id,
        "author_role": "customer",
        "text": text,
        "created_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC).isoformat(),
        "thread_id": f"zendesk:ticket:{org}",
    }
    return Draft(record, refs(external("zendesk", org), domain_of(email)))


def _sync(database: Database, drafts: list[Draft]) -> dict[str, Any]:
    engine = SyncEngine(database, IngestPolicy(), SyncOptions(progress=False))
    return engine.run("zendesk", _OnePageConnector(drafts)).as_dict()


def _count(database: Database, model: type) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_creating_the_account_replays_its_api_records(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    headers = auth(keys[Role.INGEST])
    body = client.post(
        "/v1/messages", json={"messages": [message("m-1", account_id="newco")]}, headers=headers
    ).json()
    assert body["counts"]["rejected"] == 1 and body["rejected"][0]["code"] == "unknown_account"
    other = client.post(
        "/v1/messages", json={"messages": [message("m-2", account_id="otherco")]}, headers=headers
    ).json()
    assert other["counts"]["rejected"] == 1

    created = client.put("/v1/accounts/newco", json={"name": "NewCo"}, headers=headers)
    assert created.status_code == 201
    assert created.headers["X-Quarantine-Replayed"] == "1"
    with database.session() as session:
        stored = session.exec(select(Message)).all()
        assert [(m.external_id, m.account_id) for m in stored] == [("m-1", "newco")]
        left = session.exec(select(QuarantineRecord)).all()
        assert [row.raw_payload["account_id"] for row in left] == ["otherco"]
    # Updating the account again finds nothing more to replay.
    again = client.put("/v1/accounts/newco", json={"name": "NewCo Inc"}, headers=headers)
    assert again.headers["X-Quarantine-Replayed"] == "0"
    assert _count(database, Message) == 1


def test_a_vendor_id_added_to_an_account_replays_unresolved_connector_records(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    drafts = [
        _draft("c-1", 42, "ana@globex.example", "Exports fail since Monday."),
        _draft("c-2", 42, "ana@globex.example", "Exports fail since Monday."),  # same text
        _draft("c-3", 77, "bo@initech.example", "Thanks, all good now."),
    ]
    summary = _sync(database, drafts)
    assert summary["quarantined"] == 3 and summary["stored"] == 0
    assert _count(database, QuarantineKey) == 6  # an org key and a domain key each
    headers = auth(keys[Role.INGEST])
    client.put("/v1/accounts/globex", json={"name": "Globex"}, headers=headers)
    assert _count(database, Message) == 0  # no vendor id yet: nothing matches

    linked = client.put(
        "/v1/accounts/globex",
        json={"name": "Globex", "external_ids": {"zendesk": "42"}},
        headers=headers,
    )
    assert linked.headers["X-Quarantine-Replayed"] == "2"
    with database.session() as session:
        stored = session.exec(select(Message).order_by(Message.external_id)).all()
        assert [(m.external_id, m.account_id) for m in stored] == [
            ("c-1", "globex"),
            ("c-2", "globex"),
        ]
        left = session.exec(select(QuarantineRecord)).all()
        assert [row.raw_payload["external_id"] for row in left] == ["c-3"]
    # A plain sync afterwards fetches nothing new (the cursor moved on) and stores nothing twice.
    assert _sync(database, drafts)["fetched"] == 0


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", url)
    monkeypatch.setenv("SENTIMENT_SERVICE_DATA_DIR", str(tmp_path))
    migrate.upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def test_replay_command_stores_what_resolves_and_leaves_the_rest(
    cli_database: Database,
) -> None:
    drafts = [
        _draft("c-1", 42, "ana@globex.example", "The SSO login loops forever."),
        _draft("c-2", 77, "bo@initech.example", "Invoices are wrong again."),
    ]
    _sync(cli_database, drafts)
    with cli_database.session() as session:
        # The account appears by domain, outside the API (e.g. a CRM import): no automatic
        # replay ran, so the records wait for the command.
        upsert_account(
            session,
            "globex",
            AccountIn(name="Globex", external_ids={"domain": "globex.example"}),
            actor="t",
        )
        first_id = session.exec(select(func.min(QuarantineRecord.id))).one()
    runner = CliRunner()
    result = runner.invoke(app, ["quarantine", "replay", "--reason", "unresolved_account"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["examined"] == 2
    assert (summary["stored"], summary["still_quarantined"]) == (1, 1)
    assert summary["still_by_reason"] == {"unresolved_account": 1}
    with cli_database.session() as session:
        stored = session.exec(select(Message)).all()
        assert [(m.external_id, m.account_id) for m in stored] == [("c-1", "globex")]
        left = session.exec(select(QuarantineRecord)).all()
        # the record still refused keeps its row (no copy), with its reason
        assert [(row.id > first_id, row.reason_code) for row in left] == [
            (True, "unresolved_account")
        ]
    # Other filters: nothing from another source, and a second run replays nothing more.
    other = json.loads(runner.invoke(app, ["quarantine", "replay", "--source", "api"]).output)
    assert other["examined"] == 0
    again = json.loads(runner.invoke(app, ["quarantine", "replay"]).output)
    assert (again["examined"], again["stored"]) == (1, 0)
