"""Scored messages (evidence) and sentiment trends over the API, after the worker ran."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from pipelines.scoring import ScoringWorker
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.trends import DailyCounts, bucket_start, trend
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message

BATCH = [
    message("t1", text="The export is broken again, awful.", created_at="2026-09-28T09:00:00Z"),
    message("t2", text="Great fix, thank you so much!", created_at="2026-09-29T09:00:00Z"),
    message(
        "c1",
        source="chat",
        source_system="intercom",
        text="love the new reports 😍",
        created_at="2026-10-06T09:00:00Z",
    ),
    message(
        "a1",
        author_role="agent",
        text="We are sorry, looking into it.",
        created_at="2026-10-06T10:00:00Z",
    ),
]


def _scored(
    client: TestClient, keys: dict[Role, str], database: Database, model_hub: ModelHub
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    client.post("/v1/messages", json={"messages": BATCH}, headers=auth(keys[Role.INGEST]))
    ScoringWorker(database, model_hub.scorer(), worker_id="t").drain()


def test_account_trend_by_week_and_source(
    client: TestClient, keys: dict[Role, str], database: Database, model_hub: ModelHub
) -> None:
    _scored(client, keys, database, model_hub)
    viewer = auth(keys[Role.VIEWER])
    body = client.get(
        "/v1/accounts/acme/sentiment/trend", params={"granularity": "week"}, headers=viewer
    ).json()
    points = {p["period_start"]: p for p in body["points"]}
    assert set(points) == {"2026-09-28", "2026-10-05"}
    assert points["2026-09-28"]["message_count"] == 2  # agent replies are not counted
    assert points["2026-09-28"]["negative_share"] == 0.5
    assert points["2026-10-05"]["positive_share"] == 1.0
    chats = client.get(
        "/v1/accounts/acme/sentiment/trend",
        params={"source": "chat", "granularity": "month"},
        headers=viewer,
    ).json()
    assert [p["period_start"] for p in chats["points"]] == ["2026-10-01"]
    portfolio = client.get(
        "/v1/sentiment/trend", params={"segment": "enterprise"}, headers=viewer
    ).json()
    assert sum(p["message_count"] for p in portfolio["points"]) == 3
    assert (
        client.get("/v1/sentiment/trend", params={"segment": "smb"}, headers=viewer).json()[
            "points"
        ]
        == []
    )
    bad = client.get(
        "/v1/accounts/acme/sentiment/trend", params={"granularity": "hour"}, headers=viewer
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "granularity"
    assert client.get("/v1/accounts/nope/sentiment/trend", headers=viewer).status_code == 404


def test_account_messages_carry_scores_and_filter_by_label(
    client: TestClient, keys: dict[Role, str], database: Database, model_hub: ModelHub
) -> None:
    _scored(client, keys, database, model_hub)
    viewer = auth(keys[Role.VIEWER])
    page = client.get("/v1/accounts/acme/messages", params={"limit": 2}, headers=viewer).json()
    assert [m["external_id"] for m in page["items"]] == ["c1", "t2"]
    assert page["items"][0]["label"] == "positive" and page["items"][0]["sentences"]
    rest = client.get(
        "/v1/accounts/acme/messages",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=viewer,
    ).json()
    assert [m["external_id"] for m in rest["items"]] == ["t1"]
    negative = client.get(
        "/v1/accounts/acme/messages", params={"label": "negative"}, headers=viewer
    ).json()
    assert [m["external_id"] for m in negative["items"]] == ["t1"]
    agents = client.get(
        "/v1/accounts/acme/messages", params={"author_role": "agent"}, headers=viewer
    ).json()
    assert [m["external_id"] for m in agents["items"]] == ["a1"]


days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
rows = st.lists(
    st.builds(
        DailyCounts,
        days,
        st.integers(0, 50),
        st.integers(0, 50),
        st.floats(-50, 50),
        st.integers(0, 25),
        st.integers(0, 25),
    ),
    max_size=40,
)


@given(rows, st.sampled_from(["day", "week", "month"]))
def test_trend_buckets_keep_every_count(data: list[DailyCounts], granularity: str) -> None:
    points = trend(data, granularity)  # type: ignore[arg-type]
    assert sum(p.message_count for p in points) == sum(r.message_count for r in data)
    assert sum(p.scored_count for p in points) == sum(r.scored_count for r in data)
    assert [p.period_start for p in points] == sorted({p.period_start for p in points})


@given(days)
def test_week_buckets_start_on_monday(day: date) -> None:
    start = bucket_start(day, "week")
    assert start.weekday() == 0 and timedelta(0) <= day - start < timedelta(days=7)
