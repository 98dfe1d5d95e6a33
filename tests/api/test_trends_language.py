"""A German complaint shows up in the account's trend, and trends filter by language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pipelines.scoring import ScoringWorker
from sentiment_service.model_hub import ModelHub
from sentiment_service.storage.database import Database
from sentiment_service.trends import daily_counts
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message

BATCH = [
    message(
        "de-1",
        text="Die Plattform ist schon wieder ausgefallen, das ist absolut inakzeptabel.",
        language="de",
        created_at="2026-09-29T09:00:00Z",
    ),
    message(
        "pt-1",
        text="Adoramos o novo painel, ficou excelente, parabéns à equipe!",
        language="pt-BR",
        created_at="2026-10-06T09:00:00Z",
    ),
    message("en-1", text="Great fix, thank you so much!", created_at="2026-09-30T09:00:00Z"),
    message("nl-1", text="De export werkt niet meer.", language="nl"),
]


def test_trends_include_non_english_messages_and_filter_by_language(
    client: TestClient, keys: dict[Role, str], database: Database, model_hub: ModelHub
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    client.post("/v1/messages", json={"messages": BATCH}, headers=auth(keys[Role.INGEST]))
    ScoringWorker(database, model_hub.scorer(), worker_id="t").drain()
    viewer = auth(keys[Role.VIEWER])
    url = "/v1/accounts/acme/sentiment/trend"
    everything = client.get(url, params={"granularity": "month"}, headers=viewer).json()
    september = {p["period_start"]: p for p in everything["points"]}["2026-09-01"]
    # the German complaint is counted and scored next to the English praise
    assert (september["message_count"], september["scored_count"]) == (2, 2)
    assert september["negative_share"] == 0.5 and september["positive_share"] == 0.5
    october = {p["period_start"]: p for p in everything["points"]}["2026-10-01"]
    # the Dutch message (no model reads Dutch) is counted but not scored
    assert (october["message_count"], october["scored_count"]) == (2, 1)

    german = client.get(url, params={"language": "de", "granularity": "week"}, headers=viewer)
    assert german.status_code == 200 and german.json()["language"] == "de"
    assert german.json()["points"] == [
        {
            "period_start": "2026-09-28",
            "message_count": 1,
            "scored_count": 1,
            "mean_score": german.json()["points"][0]["mean_score"],
            "negative_share": 1.0,
            "positive_share": 0.0,
        }
    ]
    assert german.json()["points"][0]["mean_score"] < -0.3
    portuguese = client.get(url, params={"language": "pt"}, headers=viewer).json()
    assert [p["positive_share"] for p in portuguese["points"]] == [1.0]
    dutch = client.get(url, params={"language": "nl"}, headers=viewer).json()["points"]
    assert [(p["message_count"], p["scored_count"]) for p in dutch] == [(1, 0)]
    english = client.get(url, params={"language": "en"}, headers=viewer).json()["points"]
    assert sum(p["message_count"] for p in english) == 1  # unknown language counts as English
    assert client.get(url, params={"language": "fr"}, headers=viewer).json()["points"] == []
    portfolio = client.get("/v1/sentiment/trend", params={"language": "de"}, headers=viewer)
    assert sum(p["message_count"] for p in portfolio.json()["points"]) == 1

    bad = client.get(url, params={"language": "German"}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "language"
    both = client.get(url, params={"language": "de", "topic": "billing"}, headers=viewer)
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "language"


def test_daily_counts_count_every_message_and_score_the_scored() -> None:
    from datetime import date

    day = date(2026, 10, 1)
    rows = daily_counts(
        [(day, "negative", -0.8), (day, None, None), (day, "positive", 0.5), (day, "neutral", 0.0)]
    )
    assert len(rows) == 1
    assert (rows[0].message_count, rows[0].scored_count) == (4, 3)
    assert (rows[0].negative_count, rows[0].positive_count) == (1, 1)
    assert abs(rows[0].score_sum - (-0.3)) < 1e-9
    assert daily_counts([]) == []
