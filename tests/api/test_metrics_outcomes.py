"""POST /v1/metrics and /v1/outcomes: idempotent upserts and quarantine."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AccountOutcome, Metric
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, metric


@pytest.fixture
def headers(client: TestClient, keys: dict[Role, str]) -> dict[str, str]:
    """Ingest-key headers, with account acme present."""
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    return auth(keys[Role.INGEST])


def test_metrics_are_idempotent_and_updatable(
    client: TestClient, headers: dict[str, str], database: Database
) -> None:
    batch = {"metrics": [metric("logins", 40), metric("seats_used", 12)]}
    assert client.post("/v1/metrics", json=batch, headers=headers).json()["counts"]["accepted"] == 2
    assert (
        client.post("/v1/metrics", json=batch, headers=headers).json()["counts"]["duplicate"] == 2
    )
    changed = client.post("/v1/metrics", json={"metrics": [metric("logins", 41)]}, headers=headers)
    assert changed.json()["counts"]["updated"] == 1
    with database.session() as session:
        values = session.exec(select(Metric.name, Metric.value).order_by(Metric.name)).all()
    assert [tuple(v) for v in values] == [("logins", 41.0), ("seats_used", 12.0)]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"name": "Logins Per Week"}, "invalid_value", "name"),
        ({"value": "lots"}, "invalid_value", "value"),
        ({"value": "NaN"}, "not_finite", "value"),
        ({"observed_at": "2999-01-01T00:00:00Z"}, "future_timestamp", "observed_at"),
        ({"account_id": "ghost"}, "unknown_account", "account_id"),
    ],
)
def test_bad_metrics_are_quarantined(
    client: TestClient, headers: dict[str, str], change: dict[str, object], code: str, field: str
) -> None:
    body = client.post("/v1/metrics", json={"metrics": [metric(**change)]}, headers=headers).json()
    assert (body["rejected"][0]["code"], body["rejected"][0]["field"]) == (code, field)
    listed = client.get("/v1/quarantine", params={"kind": "metric"}, headers=headers).json()
    assert listed["items"][0]["reason_code"] == code


def test_outcomes_round_trip(
    client: TestClient, headers: dict[str, str], database: Database
) -> None:
    record = {
        "account_id": "acme",
        "outcome": "churned",
        "occurred_on": "2026-09-30",
        "notes": "moved to a competitor",
    }
    first = client.post("/v1/outcomes", json={"outcomes": [record]}, headers=headers).json()
    again = client.post("/v1/outcomes", json={"outcomes": [record]}, headers=headers).json()
    bad = client.post(
        "/v1/outcomes", json={"outcomes": [{**record, "outcome": "exploded"}]}, headers=headers
    ).json()
    assert (first["counts"]["accepted"], again["counts"]["duplicate"]) == (1, 1)
    assert bad["rejected"][0]["field"] == "outcome"
    with database.session() as session:
        assert session.exec(select(AccountOutcome.outcome)).all() == ["churned"]


def test_quarantine_listing_pages_newest_first(client: TestClient, headers: dict[str, str]) -> None:
    for index in range(3):
        client.post("/v1/metrics", json={"metrics": [metric(value=f"bad{index}")]}, headers=headers)
    page = client.get("/v1/quarantine", params={"limit": 2}, headers=headers).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    rest = client.get(
        "/v1/quarantine", params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers
    ).json()
    values = [item["raw_payload"]["value"] for item in page["items"] + rest["items"]]
    assert values == ["bad2", "bad1", "bad0"] and rest["next_cursor"] is None
