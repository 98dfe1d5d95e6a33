"""Hostile requests get a 4xx (or a per-record rejection), never a 5xx, on both databases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.api.app import create_app
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
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


def _nested_metadata(levels: int) -> dict[str, Any]:
    """A message whose metadata nests `levels` objects (the whole body is 3 levels deeper)."""
    metadata: dict[str, Any] = {}
    for _ in range(levels - 1):
        metadata = {"a": metadata}
    return message("deep", metadata=metadata)


def test_json_nested_deeper_than_the_limit_is_refused_before_parsing(
    client: TestClient, keys: dict[Role, str], settings: Settings
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    limit = settings.max_json_depth
    at_limit = {"messages": [_nested_metadata(limit - 3)]}  # body, list, record, metadata...
    response = client.post("/v1/messages", json=at_limit, headers=auth(keys[Role.INGEST]))
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["accepted"] == 1
    too_deep = {"messages": [_nested_metadata(limit - 2)]}
    response = client.post("/v1/messages", json=too_deep, headers=auth(keys[Role.INGEST]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert f"deeper than {limit} levels" in problem["detail"]
    assert "max_json_depth" in problem["detail"]
    assert problem["errors"] == [{"field": "body", "message": problem["detail"]}]


def test_pathologically_deep_json_gets_the_depth_problem_fast(
    client: TestClient, keys: dict[Role, str]
) -> None:
    body = b'{"messages": ' + b"[" * 500_000 + b"]" * 500_000 + b"}"
    started = time.perf_counter()
    response = client.post(
        "/v1/messages",
        content=body,
        headers={**auth(keys[Role.INGEST]), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "max_json_depth" in response.json()["detail"]
    assert time.perf_counter() - started < 5


def test_brackets_inside_strings_do_not_count_towards_the_depth(
    client: TestClient, keys: dict[Role, str]
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    text = 'Export fails: "[' + "[{" * 100 + '\\"' + "}]" * 100 + ']"'
    response = client.post(
        "/v1/messages",
        json={"messages": [message("b1", text=text)]},
        headers=auth(keys[Role.INGEST]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["accepted"] == 1


def test_a_chunked_body_over_the_size_limit_is_a_413_not_a_parse_error(
    settings: Settings, database: Database, model_hub: ModelHub, keys: dict[Role, str]
) -> None:
    small = settings.model_copy(update={"max_request_bytes": 4096})

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is only known while reading
        yield b'{"messages": ['
        for _ in range(20):
            yield b'"' + b"x" * 1000 + b'",'
        yield b"1]}"

    with TestClient(create_app(small, database, model_hub)) as small_client:
        response = small_client.post(
            "/v1/messages",
            content=chunks(),
            headers={**auth(keys[Role.INGEST]), "content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "larger than 4096 bytes" in response.json()["detail"]


def test_the_openapi_document_declares_every_problem_response(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "ProblemDetails" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = set()
            if operation.get("security"):
                expected |= {"401", "403", "503"} | ({"429"} if path != "/metrics" else set())
            if "requestBody" in operation:
                expected |= {"400", "413", "422"}
            assert expected <= set(responses), (method, path, sorted(responses))
            for status in expected:
                content = responses[status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
            for response in responses.values():
                assert response["headers"]["X-Request-ID"]["required"] is True
