"""POST /v1/messages: validation, quarantine, redaction, idempotency, limits, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Account, AuditLogEntry, Message, QuarantineRecord
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message


@pytest.fixture
def ingest(client: TestClient, keys: dict[Role, str]) -> Any:
    """Post a batch of messages with an ingest key, after creating account `acme`."""
    assert client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    assert (
        client.put(
            "/v1/accounts/globex",
            json=account_body("Globex", external_ids={}),
            headers=auth(keys[Role.ADMIN]),
        ).status_code
        == 201
    )

    def post(records: list[dict[str, Any]], expect: int = 200) -> dict[str, Any]:
        response = client.post(
            "/v1/messages", json={"messages": records}, headers=auth(keys[Role.INGEST])
        )
        assert response.status_code == expect, response.text
        return response.json()

    return post


def _count(database: Database, model: type) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_valid_batch_is_stored_with_ids_by_index(ingest: Any, database: Database) -> None:
    body = ingest([message("t-1"), message("t-2", source="chat", source_system="intercom")])
    assert body["counts"] == {
        "accepted": 2,
        "flagged": 0,
        "updated": 0,
        "duplicate": 0,
        "rejected": 0,
    }
    assert [item["index"] for item in body["accepted"]] == [0, 1]
    with database.session() as session:
        stored = session.exec(select(Message).order_by(Message.id)).all()
        assert [(m.source, m.external_id, m.account_id) for m in stored] == [
            ("ticket", "t-1", "acme"),
            ("chat", "t-2", "acme"),
        ]
        assert stored[0].created_at.isoformat() == "2026-10-01T09:30:00+00:00"
        assert len(stored[0].content_hash) == 64


def test_resending_the_same_batch_changes_nothing(ingest: Any, database: Database) -> None:
    batch = [message("t-1"), message("t-2")]
    first = ingest(batch)
    second = ingest(batch)
    assert second["counts"] == {
        "accepted": 0,
        "flagged": 0,
        "updated": 0,
        "duplicate": 2,
        "rejected": 0,
    }
    assert [d["id"] for d in second["duplicates"]] == [a["id"] for a in first["accepted"]]
    assert _count(database, Message) == 2


def test_distinct_records_with_the_same_text_are_stored_and_canned_repeats_flagged(
    ingest: Any, database: Database, keys: dict[Role, str], client: Any
) -> None:
    text = "Thanks for contacting support, we received your request."
    body = ingest(
        [
            message("a-1", text=text),
            message("a-2", text="  THANKS for contacting support,   we received your request. "),
            message("b-1", text=text, account_id="globex"),
            message("g-1", text=text, author_role="agent", thread_id="ticket-7"),
            message("g-2", text=text, author_role="agent", thread_id="ticket-7"),
        ]
    )
    assert body["counts"] == {
        "accepted": 4,
        "flagged": 1,
        "updated": 0,
        "duplicate": 0,
        "rejected": 0,
    }
    flagged = body["flagged"][0]
    assert (flagged["index"], flagged["code"]) == (4, "canned_reply")
    assert _count(database, Message) == 5
    listed = client.get(
        "/v1/accounts/acme/messages",
        params={"author_role": "agent"},
        headers=auth(keys[Role.VIEWER]),
    ).json()["items"]
    by_id = {item["external_id"]: item for item in listed}
    assert by_id["g-2"]["duplicate_of"] == by_id["g-1"]["id"]
    assert by_id["g-2"]["duplicate_reason"] == "canned_reply"
    assert by_id["g-1"]["duplicate_of"] is None


def test_changed_upstream_text_updates_in_place(ingest: Any, database: Database) -> None:
    first = ingest([message("t-1", text="Export is broken.")])
    second = ingest([message("t-1", text="Export is broken again, third time this week.")])
    assert second["updated"][0]["id"] == first["accepted"][0]["id"]
    with database.session() as session:
        stored = session.exec(select(Message)).all()
        assert [m.text for m in stored] == ["Export is broken again, third time this week."]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"text": "   "}, "empty_text", "text"),
        ({"source": "fax"}, "unknown_source", "source"),
        ({"created_at": "2999-01-01T00:00:00Z"}, "future_timestamp", "created_at"),
        ({"created_at": "last tuesday"}, "invalid_timestamp", "created_at"),
        ({"text": "x" * 20_001}, "text_too_long", "text"),
        ({"account_id": "nobody"}, "unknown_account", "account_id"),
        ({"account_id": None}, "account_required", "account_id"),
        ({"colour": "red"}, "unexpected_field", "colour"),
        ({"author_role": "martian"}, "invalid_value", "author_role"),
    ],
)
def test_invalid_records_are_quarantined_with_reason(
    ingest: Any, database: Database, change: dict[str, Any], code: str, field: str
) -> None:
    body = ingest([message("ok-1"), message("bad-1", **change)])
    assert body["counts"] == {
        "accepted": 1,
        "flagged": 0,
        "updated": 0,
        "duplicate": 0,
        "rejected": 1,
    }
    rejected = body["rejected"][0]
    assert (rejected["index"], rejected["code"], rejected["field"]) == (1, code, field)
    with database.session() as session:
        row = session.get(QuarantineRecord, rejected["quarantine_id"])
        assert row is not None
        assert (row.kind, row.channel, row.reason_code) == ("message", "api", code)
        assert row.raw_payload["external_id"] == "bad-1"


def test_a_missing_field_is_quarantined_as_missing_field(ingest: Any) -> None:
    record = message("t-9")
    del record["created_at"]
    body = ingest([record])
    assert (body["rejected"][0]["code"], body["rejected"][0]["field"]) == (
        "missing_field",
        "created_at",
    )


def test_pii_is_redacted_before_storage_and_in_quarantine(ingest: Any, database: Database) -> None:
    text = (
        "Call me at +1 (415) 555-0134 or mail jordan.lee@acme-freight.com; "
        "card 4111 1111 1111 1111 was charged twice. Order 123456 is fine."
    )
    ingest([message("p-1", text=text), message("p-2", text=text, source="fax")])
    with database.session() as session:
        stored = session.exec(select(Message)).one()
        quarantined = session.exec(select(QuarantineRecord)).one()
    assert stored.text == (
        "Call me at [PHONE] or mail [EMAIL]; card [CARD] was charged twice. Order 123456 is fine."
    )
    assert stored.redactions == 3
    assert "jordan.lee" not in str(quarantined.raw_payload)
    assert "4111" not in str(quarantined.raw_payload)


def test_redaction_can_be_switched_off(
    client: TestClient, keys: dict[Role, str], database: Database, settings: Settings
) -> None:
    client.app.state.settings = settings.model_copy(update={"redact_pii": False})  # type: ignore[attr-defined]
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    client.post(
        "/v1/messages",
        json={"messages": [message(text="mail a@b.co")]},
        headers=auth(keys[Role.INGEST]),
    )
    with database.session() as session:
        assert session.exec(select(Message.text)).one() == "mail a@b.co"


def test_unknown_accounts_are_created_when_auto_create_is_on(
    client: TestClient, keys: dict[Role, str], database: Database, settings: Settings
) -> None:
    client.app.state.settings = settings.model_copy(update={"auto_create_accounts": True})  # type: ignore[attr-defined]
    response = client.post(
        "/v1/messages",
        json={"messages": [message(account_id="newco")]},
        headers=auth(keys[Role.INGEST]),
    )
    assert response.json()["counts"]["accepted"] == 1
    with database.session() as session:
        assert session.get(Account, "newco") is not None
        audit = session.exec(select(AuditLogEntry)).one()
        assert (audit.action, audit.entity_id) == ("account.auto_create", "newco")


def test_brand_level_social_mentions_need_no_account(ingest: Any, database: Database) -> None:
    body = ingest(
        [
            message(
                "tw-1",
                source="social",
                source_system="x",
                account_id=None,
                text="@Lumenly your status page says green but nothing loads",
            )
        ]
    )
    assert body["counts"]["accepted"] == 1
    with database.session() as session:
        assert session.exec(select(Message.account_id)).one() is None


def test_naive_and_offset_timestamps_are_stored_in_utc(ingest: Any, database: Database) -> None:
    ingest(
        [
            message("z-1", created_at="2026-10-01T12:00:00+02:00"),
            message("z-2", created_at="2026-10-01T12:00:00", text="other text"),
        ]
    )
    with database.session() as session:
        times = session.exec(select(Message.created_at).order_by(Message.external_id)).all()
    assert [t.isoformat() for t in times] == [
        "2026-10-01T10:00:00+00:00",
        "2026-10-01T12:00:00+00:00",
    ]


def test_batch_over_the_limit_is_refused_whole(
    client: TestClient, keys: dict[Role, str], settings: Settings, database: Database
) -> None:
    client.app.state.settings = settings.model_copy(update={"max_batch_size": 2})  # type: ignore[attr-defined]
    response = client.post(
        "/v1/messages",
        json={"messages": [message(str(i)) for i in range(3)]},
        headers=auth(keys[Role.INGEST]),
    )
    assert response.status_code == 413
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["field"] == "messages"
    assert _count(database, Message) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "messages"), ({"messages": "nope"}, "messages"), ({"messages": [1]}, "messages[0]")],
)
def test_malformed_envelopes_are_422_problems_naming_the_field(
    client: TestClient, keys: dict[Role, str], body: Any, field: str
) -> None:
    response = client.post("/v1/messages", json=body, headers=auth(keys[Role.INGEST]))
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Invalid request"
    assert field in [error["field"] for error in problem["errors"]]


def test_invalid_json_is_a_422_problem(client: TestClient, keys: dict[Role, str]) -> None:
    response = client.post(
        "/v1/messages",
        content=b"{not json",
        headers={**auth(keys[Role.INGEST]), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


def test_resending_a_bad_record_reuses_its_quarantine_entry(
    ingest: Any, database: Database
) -> None:
    first = ingest([message("bad", text="")])
    second = ingest([message("bad", text="")])
    assert first["rejected"][0]["quarantine_id"] == second["rejected"][0]["quarantine_id"]
    assert _count(database, QuarantineRecord) == 1
