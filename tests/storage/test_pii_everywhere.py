"""PII sent through every field of every record type is stored nowhere in clear: after the
writes below, every column of every table is scanned (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Text, select
from sqlmodel import SQLModel

from pipelines.redaction import HASHED_ID_PREFIX, PiiRedactor
from sentiment_service.storage import pii_guard
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message, metric

EMAIL = "mary.major@example.org"
CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"
PII = f"{EMAIL}, card {CARD}, phone {PHONE}"
# What must never appear in any stored value (cards and phones also without separators).
NEEDLES = (EMAIL, CARD, CARD.replace(" ", ""), PHONE, "2079460958")

# Text columns that hold no free text from people or vendors, or hold text that ingestion
# redacts itself (message text and payloads); every other Text column must be guarded.
UNGUARDED_TEXT = {
    ("messages", "text"),  # redacted by pipelines/ingest.py before it is stored
    ("message_topics", "evidence"),  # a quote of the redacted text
    ("competitor_mentions", "evidence"),
    ("alert_events", "summary"),  # built from stored (redacted) messages
    ("alert_rules", "webhook_url"),  # an admin's endpoint, needed verbatim
    ("sync_state", "cursor"),  # a vendor's opaque cursor
    ("evaluation_runs", "report_html"),  # rendered from redacted labelled sets
    ("evaluation_items", "text"),  # uploaded sets are redacted before storage
    ("labelled_items", "text"),
    ("model_promotions", "artifact_dir"),
    ("pipeline_state", "value"),
    ("config_versions", "body"),
}


def _scan(database: Database) -> list[str]:
    """'table.column: value' for every stored value that still carries PII."""
    found = []
    with database.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    shown = value if isinstance(value, str) else json.dumps(value, default=str)
                    if any(needle in shown for needle in NEEDLES):
                        found.append(f"{table.name}.{column}: {shown[:120]}")
    return found


def test_pii_in_every_field_of_every_record_is_stored_nowhere_in_clear(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    admin, ingest = auth(keys[Role.ADMIN]), auth(keys[Role.INGEST])
    analyst = auth(keys[Role.ANALYST])
    owner = f"Priya Natarajan <{EMAIL}>"
    assert client.put("/v1/accounts/acme", json=account_body(owner=owner), headers=admin).is_success
    records = [
        message(f"mail-{EMAIL}", text=f"Please call me back: {PII}", thread_id=f"t-{CARD}"),
        message("t-2", metadata={"from": EMAIL, "nested": [{"phone": PHONE}]}),
        message("t-3", account_id=EMAIL),  # quarantined: the reason names the account
        message("t-4", created_at=f"yesterday, ask {EMAIL}"),  # quarantined: bad field
    ]
    body = client.post("/v1/messages", json={"messages": records}, headers=ingest).json()
    assert body["counts"]["accepted"] == 2 and body["counts"]["rejected"] == 2, body
    assert all(EMAIL not in item["reason"] for item in body["rejected"])
    metrics = [metric(source=f"export by {EMAIL}"), metric("seats", account_id=EMAIL)]
    assert client.post("/v1/metrics", json={"metrics": metrics}, headers=ingest).is_success
    outcome = {"account_id": "acme", "outcome": "churned", "occurred_on": "2026-10-20"}
    outcomes = [{**outcome, "notes": f"Refund to {CARD}; contact {EMAIL}"}]
    assert client.post("/v1/outcomes", json={"outcomes": outcomes}, headers=ingest).is_success

    message_id = body["accepted"][0]["id"]
    label = {"label": "negative", "note": f"customer {EMAIL} confirmed by phone {PHONE}"}
    answer = client.put(f"/v1/messages/{message_id}/sentiment-label", json=label, headers=analyst)
    assert answer.status_code == 200, answer.text
    topic = {"present": True, "note": f"see {EMAIL}"}
    answer = client.put(f"/v1/messages/{message_id}/topics/billing", json=topic, headers=analyst)
    assert answer.status_code == 200, answer.text
    override = {
        "scorecard": "churn_risk",
        "band": "at_risk",
        "reason": f"CFO {EMAIL} ({PHONE}) told us they will not renew",
        "expires_at": (datetime.now(UTC) + timedelta(days=14)).isoformat(),
    }
    answer = client.post("/v1/accounts/acme/overrides", json=override, headers=admin)
    assert answer.status_code == 201, answer.text

    assert _scan(database) == []
    with database.session() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        assert stored.external_id.startswith(HASHED_ID_PREFIX)
        assert stored.thread_id is not None and stored.thread_id.startswith(HASHED_ID_PREFIX)
    # The hashed identifier stays joinable: sending the record again is a duplicate.
    again = client.post("/v1/messages", json={"messages": records[:1]}, headers=ingest).json()
    assert again["counts"]["duplicate"] == 1, again


def test_identifiers_without_pii_are_kept_and_numeric_vendor_ids_are_never_hashed() -> None:
    redactor = PiiRedactor("US", b"k" * 32)
    assert redactor.identifier("ticket-1842") == "ticket-1842"
    assert redactor.identifier("4111111111111111") == "4111111111111111"  # a vendor's id
    hashed = redactor.identifier(f"thread-{EMAIL}")
    assert hashed.startswith(HASHED_ID_PREFIX) and EMAIL not in hashed
    assert redactor.identifier(hashed) == hashed
    assert PiiRedactor("US", b"k" * 32).identifier(f"thread-{EMAIL}") == hashed
    assert PiiRedactor("US", b"j" * 32).identifier(f"thread-{EMAIL}") != hashed


def test_every_free_text_column_is_guarded_or_known_to_be_clean() -> None:
    guarded = {
        (model.__tablename__, name)
        for columns in (pii_guard.FREE_TEXT, pii_guard.IDENTIFIERS, pii_guard.PAYLOADS)
        for model, names in columns.items()
        for name in names
    }
    text_columns = {
        (table.name, column.name)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Text)
    }
    assert text_columns - guarded - UNGUARDED_TEXT == set()
