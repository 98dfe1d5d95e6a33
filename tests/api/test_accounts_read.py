"""Account read views over the API: health-band and sentiment-change filters, sorts with
offset cursors, the `include` sections of one account, and topic trends.

The data is the small health dataset (two happy and two unhappy accounts, one silent) scored
with the real models, plus a few September messages so that two accounts have a 30-day
sentiment change: happy-1 used to complain, sad-1 used to be happy. The portfolio's latest
rollup day (where the windows end) is 2026-10-16, the day of the newest message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import col

from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.scoring import ScoringWorker
from pipelines.topics import topic_model
from sentiment_service.accounts.detail import QUOTE_CHARS
from sentiment_service.health.service import score_day
from sentiment_service.model_hub import ModelHub
from sentiment_service.pagination import encode_offset_cursor
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AccountDailyTopicRollup
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message
from tests.health.data import DAY, HAPPY, UNHAPPY, load_accounts

ANCHOR = date(2026, 10, 16)
ACCOUNT_FIELDS = {
    "id",
    "name",
    "segment",
    "industry",
    "tier",
    "arr",
    "renewal_date",
    "owner",
    "external_ids",
}
ALL_IDS = ["happy-1", "happy-2", "sad-1", "sad-2", "silent"]
LONG_COMPLAINT = "Another outage today and nobody answers, this is unacceptable. " * 6


@pytest.fixture
def portfolio(database: Database, model_hub: ModelHub) -> Database:
    load_accounts(database, model_hub)
    earlier = [
        message(
            f"{account}-early-{i}",
            account_id=account,
            text=text,
            created_at=f"2026-09-{10 + 3 * i:02d}T10:00:00Z",
        )
        for account, texts in (("happy-1", UNHAPPY), ("sad-1", HAPPY))
        for i, text in enumerate(texts)
    ]
    earlier.append(
        message(
            "sad-2-long", account_id="sad-2", text=LONG_COMPLAINT, created_at="2026-10-15T10:00:00Z"
        )
    )
    with database.session() as session:
        ingest = Ingestor(session, IngestPolicy(), channel="t", actor="t")
        assert ingest.messages(earlier).counts()["rejected"] == 0
    ScoringWorker(
        database, model_hub.scorer(), topics=lambda s: topic_model(s, model_hub), worker_id="t"
    ).drain()
    with database.session() as session:
        score_day(session, DAY - timedelta(days=20), basis="event")
        score_day(session, DAY, basis="event")
    return database


def _ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = client.get("/v1/accounts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def _all_pages(
    client: TestClient, headers: dict[str, str], **params: Any
) -> tuple[list[str], list[str]]:
    """Every id over pages of two, and the cursors handed out."""
    seen, cursors, cursor = [], [], None
    while True:
        page = client.get(
            "/v1/accounts",
            params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, cursors
        cursors.append(cursor)


def _field(response: Any) -> str:
    assert response.status_code == 422, response.text
    return str(response.json()["errors"][0]["field"])


def _window_mean(points: list[dict[str, Any]], start: date, end: date) -> float:
    inside = [p for p in points if start <= date.fromisoformat(p["period_start"]) <= end]
    scored = sum(p["scored_count"] for p in inside)
    return sum(p["mean_score"] * p["scored_count"] for p in inside if p["scored_count"]) / scored


def test_list_carries_latest_health_and_filters_by_band(
    client: TestClient, keys: dict[Role, str], portfolio: Database
) -> None:
    viewer = auth(keys[Role.VIEWER])
    items = client.get("/v1/accounts", headers=viewer).json()["items"]
    assert [item["id"] for item in items] == ALL_IDS
    assert all(set(item) >= ACCOUNT_FIELDS for item in items)
    for item in items:
        history = client.get(f"/v1/accounts/{item['id']}/health/history", headers=viewer).json()
        latest = history["points"][-1]
        assert item["health"] == {
            "scorecard": "churn_risk",
            "score": latest["score"],
            "band": latest["band"],
            "confidence": latest["confidence"],
            "as_of": DAY.isoformat(),
        }
    bands = {item["id"]: item["health"]["band"] for item in items}
    assert bands["sad-1"] == bands["sad-2"] == "at_risk" and bands["happy-1"] == "healthy"
    for band in set(bands.values()):
        expected = [account for account, b in bands.items() if b == band]
        assert _ids(client, viewer, band=band) == expected
    assert _ids(client, viewer, band="at_risk", segment="enterprise") == []
    expansion = client.get("/v1/accounts", params={"scorecard": "expansion"}, headers=viewer)
    assert {i["health"]["scorecard"] for i in expansion.json()["items"]} == {"expansion"}
    assert _field(client.get("/v1/accounts?band=great", headers=viewer)) == "band"
    assert _field(client.get("/v1/accounts?scorecard=nope", headers=viewer)) == "scorecard"
    assert _field(client.get("/v1/accounts?scorecard=Bad!", headers=viewer)) == "scorecard"


def test_sentiment_change_is_computed_from_rollups_and_filters(
    client: TestClient, keys: dict[Role, str], portfolio: Database
) -> None:
    viewer = auth(keys[Role.VIEWER])
    items = {i["id"]: i for i in client.get("/v1/accounts", headers=viewer).json()["items"]}
    assert items["silent"]["sentiment_30d"] is None
    assert items["silent"]["sentiment_change_30d"] is None
    assert items["happy-2"]["sentiment_change_30d"] is None  # nothing in the 30 days before
    current = (ANCHOR - timedelta(days=29), ANCHOR)
    previous = (ANCHOR - timedelta(days=59), ANCHOR - timedelta(days=30))
    for account in ("happy-1", "sad-1"):
        points = client.get(
            f"/v1/accounts/{account}/sentiment/trend",
            params={"granularity": "day"},
            headers=viewer,
        ).json()["points"]
        now, before = _window_mean(points, *current), _window_mean(points, *previous)
        assert items[account]["sentiment_30d"] == pytest.approx(now, abs=1e-3)
        assert items[account]["sentiment_change_30d"] == pytest.approx(now - before, abs=1e-3)
    assert items["happy-1"]["sentiment_change_30d"] > 0.5
    assert items["sad-1"]["sentiment_change_30d"] < -0.5
    assert _ids(client, viewer, min_sentiment_change=0.5) == ["happy-1"]
    assert _ids(client, viewer, max_sentiment_change=-0.5) == ["sad-1"]
    assert _ids(client, viewer, min_sentiment_change=-2) == ["happy-1", "sad-1"]
    assert _ids(client, viewer, min_sentiment_change=-0.5, max_sentiment_change=0.5) == []
    bad = client.get(
        "/v1/accounts",
        params={"min_sentiment_change": 1, "max_sentiment_change": 0},
        headers=viewer,
    )
    assert _field(bad) == "min_sentiment_change"
    assert _field(client.get("/v1/accounts?min_sentiment_change=nan", headers=viewer)) == (
        "min_sentiment_change"
    )
    assert _field(client.get("/v1/accounts?max_sentiment_change=3", headers=viewer)) == (
        "max_sentiment_change"
    )


def test_sorts_page_with_offset_cursors(
    client: TestClient, keys: dict[Role, str], portfolio: Database
) -> None:
    viewer = auth(keys[Role.VIEWER])
    items = client.get("/v1/accounts", headers=viewer).json()["items"]
    scored = [i for i in items if i["health"]["score"] is not None]
    by_score = [i["id"] for i in sorted(scored, key=lambda i: (i["health"]["score"], i["id"]))]
    by_score_desc = [
        i["id"] for i in sorted(scored, key=lambda i: (-i["health"]["score"], i["id"]))
    ]
    unscored = [i["id"] for i in items if i["health"]["score"] is None]
    assert unscored == ["silent"]
    expected = {
        "health": by_score + unscored,
        "-health": by_score_desc + unscored,
        "sentiment_change": ["sad-1", "happy-1", "happy-2", "sad-2", "silent"],
        "-sentiment_change": ["happy-1", "sad-1", "happy-2", "sad-2", "silent"],
        "id": ALL_IDS,
    }
    for sort, order in expected.items():
        assert _ids(client, viewer, sort=sort) == order, sort
        paged, cursors = _all_pages(client, viewer, sort=sort)
        assert paged == order, sort
        if sort != "id":
            assert cursors == [encode_offset_cursor(sort, 2), encode_offset_cursor(sort, 4)]
    at_risk, _ = _all_pages(client, viewer, sort="-health", band="at_risk")
    assert at_risk == [i for i in by_score_desc if i.startswith("sad-")]
    changed, _ = _all_pages(client, viewer, sort="sentiment_change", min_sentiment_change=-2)
    assert changed == ["sad-1", "happy-1"]
    assert _field(client.get("/v1/accounts?sort=name", headers=viewer)) == "sort"
    for cursor in ("garbage!", "", encode_offset_cursor("-health", 2), "eA", "x" * 129):
        response = client.get(
            "/v1/accounts", params={"sort": "health", "cursor": cursor}, headers=viewer
        )
        assert _field(response) == "cursor", cursor
    far = encode_offset_cursor("health", 10**9)
    assert _field(client.get(f"/v1/accounts?sort=health&cursor={far}", headers=viewer)) == "cursor"
    beyond = client.get(
        "/v1/accounts",
        params={"sort": "health", "cursor": encode_offset_cursor("health", 50)},
        headers=viewer,
    ).json()
    assert beyond == {"items": [], "next_cursor": None}


def test_include_sections_of_one_account(
    client: TestClient, keys: dict[Role, str], portfolio: Database
) -> None:
    viewer, admin = auth(keys[Role.VIEWER]), auth(keys[Role.ADMIN])
    plain = client.get("/v1/accounts/sad-1", headers=viewer).json()
    assert set(plain) == ACCOUNT_FIELDS
    assert client.get("/v1/accounts/sad-1?include=", headers=viewer).json() == plain
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    override = client.post(
        "/v1/accounts/sad-1/overrides",
        json={
            "scorecard": "churn_risk",
            "band": "healthy",
            "reason": "renewed",
            "expires_at": expires,
        },
        headers=admin,
    ).json()
    body = client.get(
        "/v1/accounts/sad-1",
        params={"include": "health, sentiment,topics,evidence,overrides"},
        headers=viewer,
    ).json()
    assert {key: body[key] for key in ACCOUNT_FIELDS} == plain
    assert set(body) == ACCOUNT_FIELDS | {"health", "sentiment", "topics", "evidence", "overrides"}

    health = client.get("/v1/accounts/sad-1/health?evidence=false", headers=viewer).json()
    assert body["health"]["scores"] == health["scores"]
    assert body["health"]["not_scored_yet"] == health["not_scored_yet"] == []
    assert [d["source"] for d in body["health"]["dark_sources"]] == [
        d["source"] for d in health["dark_sources"]
    ]
    churn = next(s for s in body["health"]["scores"] if s["scorecard"] == "churn_risk")
    assert churn["band"] == "healthy" and churn["computed_band"] == "at_risk"
    assert not any("evidence_messages" in c for c in churn["components"])

    listed = next(
        i for i in client.get("/v1/accounts", headers=viewer).json()["items"] if i["id"] == "sad-1"
    )
    assert listed["health"]["band"] == "at_risk"  # the list shows the stored (computed) band
    sentiment = body["sentiment"]
    assert sentiment["as_of"] == ANCHOR.isoformat()
    assert sentiment["mean_30d"] == listed["sentiment_30d"]
    assert sentiment["change_30d"] == listed["sentiment_change_30d"]
    assert sentiment["scored_30d"] == 3 and sentiment["scored_90d"] == 5  # 2 happy in September
    assert sentiment["mean_90d"] > sentiment["mean_30d"]

    negative = client.get(
        "/v1/accounts/sad-1/messages", params={"label": "negative"}, headers=viewer
    ).json()["items"]
    in_window = [
        m for m in negative if m["created_at"] >= (ANCHOR - timedelta(days=29)).isoformat()
    ]
    assert sentiment["negative_share_30d"] == round(len(in_window) / 3, 4)
    assert [e["id"] for e in body["evidence"]] == [m["id"] for m in negative][:5]
    assert body["evidence"] and all(e["score"] < 0 for e in body["evidence"])
    assert set(body["evidence"][0]) == {"id", "source", "created_at", "quote", "score"}

    topics = client.get("/v1/accounts/sad-1/topics", headers=viewer).json()
    assert (body["topics"]["start"], body["topics"]["end"]) == (topics["start"], topics["end"])
    assert body["topics"]["items"] == [
        {key: value for key, value in t.items() if key != "latest_evidence"}
        for t in topics["topics"][:5]
    ]
    assert "outage" in {t["topic"] for t in body["topics"]["items"]}

    assert [o["id"] for o in body["overrides"]] == [override["id"]]
    assert body["overrides"][0]["active"] and body["overrides"][0]["reason"] == "renewed"
    client.delete(f"/v1/accounts/sad-1/overrides/{override['id']}", headers=admin)
    after = client.get("/v1/accounts/sad-1?include=overrides", headers=viewer).json()
    assert after["overrides"] == [] and "health" not in after

    long = client.get("/v1/accounts/sad-2?include=evidence", headers=viewer).json()["evidence"]
    quoted = next(e for e in long if e["quote"].startswith("Another outage"))
    assert len(quoted["quote"]) == QUOTE_CHARS and quoted["quote"].endswith("…")

    assert _field(client.get("/v1/accounts/sad-1?include=health,bogus", headers=viewer)) == (
        "include"
    )
    assert client.get("/v1/accounts/nobody?include=health", headers=viewer).status_code == 404


def test_topic_trends_and_their_cache_keys(
    client: TestClient, keys: dict[Role, str], portfolio: Database
) -> None:
    viewer = auth(keys[Role.VIEWER])
    url = "/v1/accounts/sad-1/sentiment/trend"
    topics = {
        t["topic"]: t
        for t in client.get("/v1/accounts/sad-1/topics", headers=viewer).json()["topics"]
    }
    outage = client.get(url, params={"topic": "outage", "granularity": "day"}, headers=viewer)
    body = outage.json()
    assert body["topic"] == "outage" and body["scope"] == "account:sad-1"
    assert [p["period_start"] for p in body["points"]] == ["2026-10-10"]
    point = body["points"][0]
    assert point["message_count"] == topics["outage"]["mentions"] == 1
    assert point["mean_score"] == topics["outage"]["mean_sentiment"]
    assert point["negative_share"] == 1.0
    plain = client.get(url, params={"granularity": "day"}, headers=viewer)
    assert plain.json()["topic"] is None
    assert sum(p["message_count"] for p in plain.json()["points"]) == 5

    summary = client.get("/v1/topics", headers=viewer).json()
    mentions = {t["topic"]: t["mentions"] for t in summary["topics"]}
    portfolio_trend = client.get(
        "/v1/sentiment/trend",
        params={"topic": "outage", "since": summary["start"], "until": summary["end"]},
        headers=viewer,
    ).json()
    assert portfolio_trend["scope"] == "portfolio" and portfolio_trend["topic"] == "outage"
    assert sum(p["message_count"] for p in portfolio_trend["points"]) == mentions["outage"]
    everything = client.get("/v1/sentiment/trend?topic=outage", headers=viewer).json()
    assert sum(p["message_count"] for p in everything["points"]) == mentions["outage"] + 1
    empty = client.get("/v1/sentiment/trend?topic=outage&segment=enterprise", headers=viewer)
    assert empty.json()["points"] == []

    for path in (url, "/v1/sentiment/trend"):
        assert _field(client.get(path, params={"topic": "nope"}, headers=viewer)) == "topic"
        both = client.get(path, params={"topic": "outage", "source": "chat"}, headers=viewer)
        assert _field(both) == "source"

    etag = outage.headers["etag"]
    assert etag != plain.headers["etag"]
    day = {"topic": "outage", "granularity": "day"}
    same = client.get(url, params=day, headers={**viewer, "If-None-Match": etag})
    assert same.status_code == 304
    other = client.get(
        url, params={"granularity": "day"}, headers={**viewer, "If-None-Match": etag}
    )
    assert other.status_code == 200
    with portfolio.session() as session:
        session.execute(
            delete(AccountDailyTopicRollup).where(
                col(AccountDailyTopicRollup.account_id) == "sad-1",
                col(AccountDailyTopicRollup.topic) == "outage",
            )
        )
    changed = client.get(url, params=day, headers={**viewer, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["points"] == []
    unchanged = client.get(
        url,
        params={"granularity": "day"},
        headers={**viewer, "If-None-Match": plain.headers["etag"]},
    )
    assert unchanged.status_code == 304


def test_reads_without_any_data(client: TestClient, keys: dict[Role, str]) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    viewer = auth(keys[Role.VIEWER])
    listed = client.get("/v1/accounts?sort=-sentiment_change", headers=viewer).json()
    assert listed["items"][0]["health"] is None
    assert listed["items"][0]["sentiment_30d"] is None
    assert listed["items"][0]["external_ids"] == {"zendesk": "org-1"}
    body = client.get(
        "/v1/accounts/acme?include=health,sentiment,topics,evidence,overrides", headers=viewer
    ).json()
    assert body["health"]["scores"] == [] and body["health"]["not_scored_yet"]
    assert body["sentiment"]["as_of"] is None and body["sentiment"]["mean_30d"] is None
    assert body["topics"] == {"start": None, "end": None, "items": []}
    assert body["evidence"] == [] and body["overrides"] == []
