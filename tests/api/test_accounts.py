"""PUT/GET /v1/accounts: create, replace, audit, conflicts, pagination."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AuditLogEntry
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body


def test_create_then_replace_with_audit_trail(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    headers = auth(keys[Role.INGEST])
    created = client.put("/v1/accounts/acme", json=account_body(), headers=headers)
    assert created.status_code == 201
    assert created.json()["external_ids"] == {"zendesk": "org-1"}
    same = client.put("/v1/accounts/acme", json=account_body(), headers=headers)
    assert same.status_code == 200
    changed = client.put(
        "/v1/accounts/acme",
        json=account_body(tier="silver", external_ids={"zendesk": "org-2", "intercom": "c-9"}),
        headers=headers,
    )
    assert changed.json()["tier"] == "silver"
    fetched = client.get("/v1/accounts/acme", headers=auth(keys[Role.VIEWER])).json()
    assert fetched["external_ids"] == {"zendesk": "org-2", "intercom": "c-9"}
    with database.session() as session:
        entries = session.exec(select(AuditLogEntry).order_by(AuditLogEntry.id)).all()
    assert [entry.action for entry in entries] == ["account.create", "account.update"]
    assert entries[1].before is not None and entries[1].before["tier"] == "gold"
    assert entries[1].after is not None and entries[1].after["tier"] == "silver"
    assert entries[1].actor.startswith("key:")


def test_external_id_of_another_account_is_a_409(client: TestClient, keys: dict[Role, str]) -> None:
    headers = auth(keys[Role.INGEST])
    client.put("/v1/accounts/acme", json=account_body(), headers=headers)
    response = client.put("/v1/accounts/globex", json=account_body("Globex"), headers=headers)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "external_ids.zendesk"


def test_invalid_fields_are_named(client: TestClient, keys: dict[Role, str]) -> None:
    response = client.put(
        "/v1/accounts/acme",
        json=account_body(arr=-5, renewal_date="soon"),
        headers=auth(keys[Role.INGEST]),
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"arr", "renewal_date"}


def test_invalid_account_id_in_path_is_422(client: TestClient, keys: dict[Role, str]) -> None:
    response = client.put(
        "/v1/accounts/has space", json=account_body(), headers=auth(keys[Role.INGEST])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "account_id"


def test_unknown_account_is_404(client: TestClient, keys: dict[Role, str]) -> None:
    response = client.get("/v1/accounts/nope", headers=auth(keys[Role.VIEWER]))
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"


def test_list_filters_and_cursor_pagination(client: TestClient, keys: dict[Role, str]) -> None:
    headers = auth(keys[Role.INGEST])
    for index in range(5):
        segment = "smb" if index % 2 else "enterprise"
        client.put(
            f"/v1/accounts/a{index}",
            json=account_body(f"A{index}", segment=segment, external_ids={}),
            headers=headers,
        )
    viewer = auth(keys[Role.VIEWER])
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/accounts", params=params, headers=viewer).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a0", "a1", "a2", "a3", "a4"]
    smb = client.get("/v1/accounts", params={"segment": "smb"}, headers=viewer).json()
    assert [item["id"] for item in smb["items"]] == ["a1", "a3"]
