"""The response cache of the four hot reads: a write changes the answer at once, a scoped key
never gets another scope's cached body, and a revoked key stops working at once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from sentiment_service.api.caching import ResponseCache
from sentiment_service.auth.keys import Principal, VerifiedKeys, create_key
from sentiment_service.auth.scope import AccountScope
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message


def _cache(client: TestClient) -> ResponseCache:
    cache = client.app.state.response_cache  # type: ignore[attr-defined]
    assert isinstance(cache, ResponseCache)
    return cache


def _two_accounts(client: TestClient, keys: dict[Role, str]) -> None:
    admin = auth(keys[Role.ADMIN])
    north = account_body("North Co", segment="enterprise", external_ids={})
    south = account_body("South Co", segment="smb", external_ids={})
    assert client.put("/v1/accounts/north", json=north, headers=admin).status_code in (200, 201)
    assert client.put("/v1/accounts/south", json=south, headers=admin).status_code in (200, 201)


def test_account_detail_is_served_from_the_cache_until_the_account_changes(
    client: TestClient, keys: dict[Role, str]
) -> None:
    _two_accounts(client, keys)
    viewer, cache = auth(keys[Role.VIEWER]), _cache(client)
    path = "/v1/accounts/north?include=sentiment,topics"
    first = client.get(path, headers=viewer)
    assert first.status_code == 200 and first.json()["name"] == "North Co"
    hits = cache.hits
    again = client.get(path, headers=viewer)
    assert again.content == first.content and cache.hits == hits + 1
    assert again.headers["etag"] == first.headers["etag"]

    renamed = account_body("North Renamed", segment="enterprise", external_ids={})
    client.put("/v1/accounts/north", json=renamed, headers=auth(keys[Role.ADMIN]))
    changed = client.get(path, headers=viewer)
    assert changed.json()["name"] == "North Renamed"
    assert changed.headers["etag"] != first.headers["etag"]


def test_health_answer_moves_with_a_new_message_and_with_an_override(
    client: TestClient, keys: dict[Role, str]
) -> None:
    _two_accounts(client, keys)
    viewer = auth(keys[Role.VIEWER])
    first = client.get("/v1/accounts/north/health", headers=viewer)
    assert first.status_code == 200
    assert client.get("/v1/accounts/north/health", headers=viewer).content == first.content
    posted = client.post(
        "/v1/messages",
        json={"messages": [message("n-1", account_id="north")]},
        headers=auth(keys[Role.INGEST]),
    )
    assert posted.status_code == 200, posted.text
    after = client.get("/v1/accounts/north/health", headers=viewer)
    assert after.headers["etag"] != first.headers["etag"]


def test_a_scoped_key_never_gets_another_scopes_cached_body(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    _two_accounts(client, keys)
    with database.session() as session:
        _, smb_key = create_key(
            session,
            name="smb-only",
            role=Role.VIEWER,
            created_by="test",
            scope=AccountScope.of(segments=["smb"]),
        )
    unscoped = client.get("/v1/features?limit=100", headers=auth(keys[Role.VIEWER]))
    assert set(unscoped.json()["accounts"]) == {"north", "south"}
    scoped = client.get("/v1/features?limit=100", headers=auth(smb_key))
    assert set(scoped.json()["accounts"]) == {"south"}
    trend = client.get("/v1/accounts/north/sentiment/trend", headers=auth(keys[Role.VIEWER]))
    assert trend.status_code == 200
    hidden = client.get("/v1/accounts/north/sentiment/trend", headers=auth(smb_key))
    assert hidden.status_code == 404
    assert client.get("/v1/accounts/north/health", headers=auth(smb_key)).status_code == 404
    assert client.get("/v1/accounts/north", headers=auth(smb_key)).status_code == 404


def test_the_cache_keeps_at_most_its_size_and_renders_once_per_key() -> None:
    cache = ResponseCache(max_bytes=10)
    calls: list[str] = []

    def render(body: bytes) -> Any:
        def inner() -> bytes:
            calls.append(body.decode())
            return body

        return inner

    assert cache.get_or_render(("a", "s"), render(b"12345")) == b"12345"
    assert cache.get_or_render(("a", "s"), render(b"other")) == b"12345"
    assert cache.get_or_render(("a", "t"), render(b"scope")) == b"scope"  # scope is in the key
    cache.get_or_render(("b", "s"), render(b"67890"))  # over 10 bytes: the oldest goes
    assert cache.get(("a", "s")) is None and len(cache) == 2
    assert cache.get_or_render(("c", "s"), render(b"x" * 11)) == b"x" * 11  # too big to keep
    assert cache.get(("c", "s")) is None
    assert calls == ["12345", "scope", "67890", "x" * 11]


def test_a_revoked_key_stops_working_at_once(client: TestClient, keys: dict[Role, str]) -> None:
    admin = auth(keys[Role.ADMIN])
    made = client.post("/v1/keys", json={"name": "short", "role": "viewer"}, headers=admin).json()
    assert client.get("/v1/accounts", headers=auth(made["key"])).status_code == 200
    assert client.get("/v1/accounts", headers=auth(made["key"])).status_code == 200  # cached
    assert client.delete(f"/v1/keys/{made['id']}", headers=admin).status_code == 200
    assert client.get("/v1/accounts", headers=auth(made["key"])).status_code == 401


def test_verified_keys_expire() -> None:
    now = [100.0]
    verified = VerifiedKeys(2.0, clock=lambda: now[0])
    principal = Principal(key_id=1, name="k", role=Role.VIEWER, last_used_due=True)
    verified.put("ssk_key", principal)
    known = verified.get("ssk_key")
    assert known is not None and known.key_id == 1 and not known.last_used_due
    now[0] += 2.0
    assert verified.get("ssk_key") is None
    assert VerifiedKeys(0).get("ssk_key") is None
