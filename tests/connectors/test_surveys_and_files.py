"""Delighted survey responses API and the CSV/JSONL file imports (surveys, notes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.crm_notes import notes_file_connector
from connectors.files import ColumnMapping
from connectors.http import HttpPolicy, VendorHttp
from connectors.surveys import (
    DelightedConnector,
    DelightedOptions,
    delighted_client,
    survey_file_connector,
)
from sentiment_service.storage.database import Database
from tests.connectors.conftest import Sleeps, engine, make_accounts, quarantine_codes, stored
from tools.fake_vendors.server import FakeApi, Fault, Reply, Request

BASIC = "Basic ZGwta2V5Og=="  # base64("dl-key:")
POLICY = HttpPolicy(read_timeout=0.3, backoff_base=0.01)


def response(rid: int, email: str, score: int, comment: str, updated: int) -> dict[str, object]:
    """A survey response as Delighted returns it with `expand[]=person`."""
    return {
        "id": str(rid),
        "person": {"id": f"p{rid}", "email": email, "name": "N", "created_at": 1790000000},
        "survey_type": "nps",
        "score": score,
        "comment": comment,
        "permalink": f"https://delighted.com/r/{rid}",
        "created_at": 1790000000 + rid,
        "updated_at": updated,
        "person_properties": {"Account": "acme"} if rid % 2 else {},
        "notes": [],
        "tags": [],
        "additional_answers": [],
    }


class FakeDelighted:
    """Page-numbered responses ordered by updated_at, filtered by updated_since."""

    def __init__(self) -> None:
        self.responses = [
            response(1, "a@acme.example", 9, "Love the new dashboard", 1790000100),
            response(2, "b@acme.example", 3, "Exports keep failing", 1790000200),
            response(3, "c@acme.example", 10, "", 1790000300),
            response(4, "d@unknown.example", 6, "Fine I guess", 1790000400),
        ]

    def __call__(self, request: Request) -> Reply:
        if request.headers.get("authorization") != BASIC:
            return Reply(401, {"status": 401, "message": "Unauthorized"})
        assert request.path == "/v1/survey_responses.json"
        since = int(request.query.get("updated_since", 0))
        rows = sorted(
            (r for r in self.responses if int(r["updated_at"]) >= since),  # type: ignore[call-overload]
            key=lambda r: r["updated_at"],  # type: ignore[arg-type,return-value]
        )
        per_page, page = int(request.query["per_page"]), int(request.query["page"])
        return Reply(200, rows[(page - 1) * per_page : page * per_page])


@pytest.fixture
def fake() -> FakeDelighted:
    """Four responses, one without a comment, one from an unknown company."""
    return FakeDelighted()


@pytest.fixture
def api(fake: FakeDelighted) -> Iterator[FakeApi]:
    """The fake on a free port."""
    with FakeApi(fake) as server:
        yield server


@pytest.fixture(autouse=True)
def accounts(database: Database) -> None:
    """One account, acme."""
    make_accounts(database, {"acme": {"delighted": "acme-co"}})


def test_delighted_sync_then_edit_is_an_update(
    database: Database, fake: FakeDelighted, api: FakeApi, sleeps: Sleeps
) -> None:
    http = VendorHttp(delighted_client(api.url, "dl-key", policy=POLICY), sleep=sleeps)
    connector = DelightedConnector(
        http, DelightedOptions(per_page=2, account_id_property="Account")
    )
    api.inject(Fault("status", 502), Fault("invalid_json"))
    run = engine(database, domains={"acme.example": "acme"})
    first = run.run("delighted", connector)
    assert {
        k: (m["text"], m["account"], m["extra"]["score"]) for k, m in stored(database).items()
    } == {
        "response-1": ("Love the new dashboard", "acme", 9),
        "response-2": ("Exports keep failing", "acme", 3),
    }
    assert (first.skipped, first.quarantined, first.retries) == (1, 1, 2)
    assert quarantine_codes(database) == ["unresolved_account"]
    fake.responses[1]["comment"] = "Exports work again, thanks"
    fake.responses[1]["updated_at"] = 1790000500
    seen = len(api.requests)
    second = run.run("delighted", DelightedConnector(http, connector.options))
    assert api.requests[seen].query["updated_since"] == "1790000400"
    assert second.updated == 1 and second.stored == 0
    assert stored(database)["response-2"]["text"] == "Exports work again, thanks"


def test_survey_csv_import_with_column_mapping_is_idempotent(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "nps.csv"
    path.write_text(
        "Response ID,NPS,Verbatim,Email,Submitted\n"
        "r1,9,Great support team,kim@acme.example,2026-10-02\n"
        "r2,2,Too expensive for what it does,lee@acme.example,1790000000\n"
        "r3,8,,max@acme.example,2026-10-03T10:00:00Z\n"
        "r4,5,Meh,zed@nowhere.example,2026-10-04T10:00:00Z\n"
    )
    mapping = ColumnMapping(
        text="Verbatim", created_at="Submitted", id="Response ID", score="NPS", email="Email"
    )
    run = engine(database, domains={"acme.example": "acme"})
    first = run.run("nps-file", survey_file_connector(path, mapping))
    messages = stored(database)
    assert {
        k: (m["text"], m["account"], m["source"], m["extra"]["score"]) for k, m in messages.items()
    } == {
        "r1": ("Great support team", "acme", "survey", 9),
        "r2": ("Too expensive for what it does", "acme", "survey", 2),
    }
    assert (first.skipped, first.quarantined) == (1, 1)
    again = run.run("nps-file", survey_file_connector(path, mapping))
    assert (again.fetched, again.stored) == (0, 0)  # same file: nothing left after the cursor


def test_notes_jsonl_import_uses_account_column_and_csm_role(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "notes.jsonl"
    rows = [
        {"account": "acme", "note": "QBR went well; expansion likely.", "when": "2026-10-05"},
        {"account": "acme", "note": "Champion left the company.", "when": "2026-10-09T08:00:00Z"},
        {"account": "ghost", "note": "Unknown account note.", "when": "2026-10-09"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mapping = ColumnMapping(text="note", created_at="when", account_id="account")
    summary = engine(database).run("notes", notes_file_connector(path, mapping))
    messages = stored(database)
    assert sorted((m["text"], m["role"], m["source"]) for m in messages.values()) == [
        ("Champion left the company.", "csm", "csm_note"),
        ("QBR went well; expansion likely.", "csm", "csm_note"),
    ]
    assert summary.quarantined == 1
    rows[1]["note"] = "Champion left; new sponsor is the CFO."
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    second = engine(database).run("notes", notes_file_connector(path, mapping))
    assert second.stored == 1 and len(stored(database)) == 3  # an edited row is a new note
