"""Conditional GETs of features and trends: ETag, Last-Modified, 304s, and fresh data."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from sentiment_service.api import caching
from sentiment_service.api.routes import features as features_route
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AccountDailyRollup
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message

AS_OF = "2026-10-31T00:00:00Z"
FEATURES = {"accounts": "acme", "as_of": AS_OF, "names": "message_count_30d", "basis": "event"}


def _setup(client: TestClient, keys: dict[Role, str]) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    client.post(
        "/v1/messages", json={"messages": [message("t-1")]}, headers=auth(keys[Role.INGEST])
    )


def test_features_revalidate_until_a_message_arrives(
    client: TestClient, keys: dict[Role, str]
) -> None:
    _setup(client, keys)
    viewer = auth(keys[Role.VIEWER])
    first = client.get("/v1/features", params=FEATURES, headers=viewer)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["last-modified"].endswith(" GMT")
    assert first.headers["cache-control"] == "private, max-age=0, must-revalidate"
    assert first.json()["accounts"]["acme"]["message_count_30d"]["value"] == 1.0

    again = client.get("/v1/features", params=FEATURES, headers={**viewer, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"].startswith("private")
    listed = client.get(
        "/v1/features", params=FEATURES, headers={**viewer, "If-None-Match": f'"x", {etag}'}
    )
    assert listed.status_code == 304
    since = client.get(
        "/v1/features",
        params=FEATURES,
        headers={**viewer, "If-Modified-Since": first.headers["last-modified"]},
    )
    assert since.status_code == 304
    other_query = client.get(
        "/v1/features", params={**FEATURES, "names": "sentiment_mean_30d"}, headers=viewer
    )
    assert other_query.status_code == 200 and other_query.headers["etag"] != etag

    time.sleep(1.1)  # Last-Modified has one-second resolution
    late = message("t-2", text="Exports still fail.", created_at="2026-10-02T09:30:00Z")
    client.post("/v1/messages", json={"messages": [late]}, headers=auth(keys[Role.INGEST]))
    changed = client.get("/v1/features", params=FEATURES, headers={**viewer, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["accounts"]["acme"]["message_count_30d"]["value"] == 2.0
    stale = client.get(
        "/v1/features",
        params=FEATURES,
        headers={**viewer, "If-Modified-Since": first.headers["last-modified"]},
    )
    assert stale.status_code == 200  # If-Modified-Since sees the change too


def test_features_as_of_now_change_with_the_clock(
    client: TestClient, keys: dict[Role, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(client, keys)
    viewer = auth(keys[Role.VIEWER])
    now = datetime(2026, 11, 2, 10, 15, 5, tzinfo=UTC)
    monkeypatch.setattr(features_route, "utcnow", lambda: now)
    params = {"accounts": "acme", "names": "days_since_last_message"}
    first = client.get("/v1/features", params=params, headers=viewer)
    etag = first.headers["etag"]
    now = now.replace(second=50)  # the same minute
    same = client.get("/v1/features", params=params, headers={**viewer, "If-None-Match": etag})
    assert same.status_code == 304
    now = now.replace(minute=16)  # a minute later the answer may differ
    later = client.get("/v1/features", params=params, headers={**viewer, "If-None-Match": etag})
    assert later.status_code == 200 and later.headers["etag"] != etag


def test_trends_revalidate_until_the_rollups_change(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    _setup(client, keys)
    viewer = auth(keys[Role.VIEWER])
    for path in ("/v1/accounts/acme/sentiment/trend", "/v1/sentiment/trend"):
        first = client.get(path, headers=viewer)
        assert first.status_code == 200 and first.json()["points"] == []
        etag = first.headers["etag"]
        assert client.get(path, headers={**viewer, "If-None-Match": etag}).status_code == 304
        assert client.get(path, headers={**viewer, "If-None-Match": "*"}).status_code == 304
        other = client.get(path, params={"granularity": "day"}, headers=viewer)
        assert other.headers["etag"] != etag
    before = {
        path: client.get(path, headers=viewer).headers["etag"]
        for path in ("/v1/accounts/acme/sentiment/trend", "/v1/sentiment/trend")
    }
    with database.session() as session:  # what the scoring worker writes
        session.add(
            AccountDailyRollup(
                account_id="acme",
                day=date(2026, 10, 1),
                source="all",
                model_version="test",
                message_count=1,
                scored_count=1,
                score_sum=-0.5,
                mean_score=-0.5,
                negative_count=1,
                neutral_count=0,
                positive_count=0,
            )
        )
    for path, etag in before.items():
        fresh = client.get(path, headers={**viewer, "If-None-Match": etag})
        assert fresh.status_code == 200 and fresh.headers["etag"] != etag
        assert fresh.json()["points"][0]["message_count"] == 1


def test_validation_and_unknown_accounts_still_win(
    client: TestClient, keys: dict[Role, str]
) -> None:
    _setup(client, keys)
    viewer = {**auth(keys[Role.VIEWER]), "If-None-Match": "*"}
    assert client.get("/v1/accounts/nope/sentiment/trend", headers=viewer).status_code == 404
    bad = client.get("/v1/features", params={"as_of": "2999-01-01T00:00:00Z"}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "as_of"
    assert client.get("/v1/sentiment/trend", headers=auth(keys[Role.INGEST])).status_code == 403


def test_garbage_conditional_headers_are_ignored(client: TestClient, keys: dict[Role, str]) -> None:
    _setup(client, keys)
    viewer = auth(keys[Role.VIEWER])
    for headers in (
        {"If-Modified-Since": "yesterday"},
        {"If-None-Match": ""},
        {"If-None-Match": 'W/"nope"'},
    ):
        response = client.get("/v1/features", params=FEATURES, headers={**viewer, **headers})
        assert response.status_code == 200, headers


def test_if_none_match_wins_over_if_modified_since(
    client: TestClient, keys: dict[Role, str]
) -> None:
    _setup(client, keys)
    viewer = auth(keys[Role.VIEWER])
    first = client.get("/v1/sentiment/trend", headers=viewer)
    response = client.get(
        "/v1/sentiment/trend",
        headers={
            **viewer,
            "If-None-Match": 'W/"old"',
            "If-Modified-Since": first.headers["last-modified"],
        },
    )
    assert response.status_code == 200


def test_http_dates_are_imf_fixdates() -> None:
    moment = datetime(2026, 10, 31, 8, 5, 3, 999_999, tzinfo=UTC)
    assert caching.http_date(moment) == "Sat, 31 Oct 2026 08:05:03 GMT"
