"""Hostile requests get a 4xx (or a per-record rejection), never a 5xx, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, QuarantineRecord
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message

HUGE = "99999999999999999999"
PROBES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/messages", {"content": b"\xff\xfe\x00garbage"}),
    ("POST", "/v1/messages", {"content": b"[1,2,3]"}),
    ("PUT", "/v1/accounts/acme", {"content": b'{"name":"A","arr":NaN}'}),
    ("PUT", "/v1/accounts/acme", {"json": {"name": "A\x00B"}}),
    ("PUT", "/v1/accounts/" + "a" * 300, {"json": {"name": "A"}}),
    ("GET", f"/v1/quarantine?cursor={HUGE}", {}),
    ("GET", f"/v1/accounts/acme/messages?cursor={HUGE}", {}),
    ("DELETE", f"/v1/keys/{HUGE}", {}),
    ("PUT", f"/v1/messages/{HUGE}/sentiment-label", {"json": {"label": "neutral"}}),
    ("GET", f"/v1/evaluations/{HUGE}", {}),
    ("GET", "/v1/accounts/acme/sentiment/trend?since=2026-13-01", {}),
    ("POST", "/v1/keys", {"json": {"name": "a\x00b", "role": "viewer"}}),
]


@pytest.mark.parametrize(("method", "path", "body"), PROBES)
def test_hostile_requests_are_4xx(
    client: TestClient, keys: dict[Role, str], method: str, path: str, body: dict[str, Any]
) -> None:
    headers = {**auth(keys[Role.ADMIN]), "content-type": "application/json"}
    client.put("/v1/accounts/acme", json=account_body(), headers=headers)
    response = client.request(method, path, headers=headers, **body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"


def test_nul_characters_are_dropped_from_text_and_refused_in_ids(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    body = client.post(
        "/v1/messages",
        json={
            "messages": [
                message("n1", text="broken\x00export"),
                message("n\x002", text="fine"),
                message("n3", metadata={"raw": "a\x00b"}, text="meta"),
            ]
        },
        headers=auth(keys[Role.INGEST]),
    ).json()
    assert body["counts"]["accepted"] == 2
    assert (body["rejected"][0]["code"], body["rejected"][0]["field"]) == (
        "nul_character",
        "external_id",
    )
    with database.session() as session:
        texts = session.exec(select(Message.text).order_by(Message.id)).all()
        assert session.exec(select(QuarantineRecord)).one().reason_code == "nul_character"
    assert texts == ["brokenexport", "meta"]
