"""Right to erasure removes an account's data and nothing else; logs carry no PII."""

from __future__ import annotations

import io

import structlog
from sqlmodel import SQLModel, func, select

from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.health.service import score_day
from sentiment_service.logs import configure_logging
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AuditLogEntry
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message, metric
from tests.health.data import DAY


def _rows(database: Database, account_id: str) -> dict[str, int]:
    """Rows that name the account, or one of its messages, in every table."""
    counts: dict[str, int] = {}
    with database.session() as session:
        message_ids = session.exec(
            select(SQLModel.metadata.tables["messages"].c.id).where(
                SQLModel.metadata.tables["messages"].c.account_id == account_id
            )
        ).all()
        for name, table in SQLModel.metadata.tables.items():
            if "account_id" in table.c and name != "audit_log":
                query = (
                    select(func.count()).select_from(table).where(table.c.account_id == account_id)
                )
                counts[name] = session.exec(query).one()
            elif "message_id" in table.c and message_ids:
                query = (
                    select(func.count())
                    .select_from(table)
                    .where(table.c.message_id.in_(message_ids))
                )
                counts[name] = session.exec(query).one()
    return counts


def test_erasure_removes_the_account_and_derived_data_only(
    client, keys, database: Database, model_hub: ModelHub
) -> None:
    admin, ingest = auth(keys[Role.ADMIN]), auth(keys[Role.INGEST])
    for account in ("acme", "globex"):
        body = account_body(account.title(), external_ids={"zendesk": f"org-{account}"})
        client.put(f"/v1/accounts/{account}", json=body, headers=admin)
        client.post(
            "/v1/messages",
            json={
                "messages": [
                    message(f"{account}-1", account_id=account, text="Billing charged us twice!"),
                    message(f"{account}-2", account_id=account, text="We are looking at Quorvo."),
                ]
            },
            headers=ingest,
        )
        client.post("/v1/metrics", json={"metrics": [metric(account_id=account)]}, headers=ingest)
    ScoringWorker(
        database, model_hub.scorer(), topics=lambda s: topic_model(s, model_hub), worker_id="t"
    ).drain()
    with database.session() as session:
        score_day(session, DAY, basis="event")
    before = _rows(database, "acme")
    assert before["messages"] == 2 and before["message_scores"] == 2 and before["health_scores"]
    refused = client.delete("/v1/accounts/acme?confirm=globex", headers=admin)
    assert refused.status_code == 422 and "confirm" in refused.text
    erased = client.delete("/v1/accounts/acme?confirm=acme", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["messages"] == 2
    assert all(count == 0 for count in _rows(database, "acme").values())
    assert _rows(database, "globex")["messages"] == 2
    assert client.get("/v1/accounts/acme", headers=admin).status_code == 404
    again = client.delete("/v1/accounts/acme?confirm=acme", headers=admin)
    assert again.status_code == 404
    with database.session() as session:
        [entry] = session.exec(
            select(AuditLogEntry).where(AuditLogEntry.action == "account.erase")
        ).all()
    assert entry.before["rows"]["messages"] == 2 and "Billing" not in str(entry.before)


def test_logs_carry_no_pii_or_secrets(client, keys) -> None:
    buffer = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    admin, ingest = auth(keys[Role.ADMIN]), auth(keys[Role.INGEST])
    client.put("/v1/accounts/acme", json=account_body(), headers=admin)
    secret_text = (
        "Call me on +1 415 555 0134 or mail jane.doe@example.com, card 4111 1111 1111 1111"
    )
    client.post(
        "/v1/messages", json={"messages": [message("p-1", text=secret_text)]}, headers=ingest
    )
    client.post(
        "/v1/messages",
        json={"messages": [message("p-2", text="", account_id="acme")]},
        headers=ingest,
    )  # quarantined
    client.get("/v1/accounts/acme/messages", headers=admin)
    configure_logging()  # back to stderr
    output = buffer.getvalue()
    assert '"route": "/v1/messages"' in output  # the access log was captured
    for leak in (
        "jane.doe@example.com",
        "555 0134",
        "4111 1111",
        keys[Role.ADMIN],
        keys[Role.INGEST],
    ):
        assert leak not in output
