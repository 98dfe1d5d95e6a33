"""Liveness, readiness, Prometheus metrics, request ids and problem documents."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sentiment_service.api.app import create_app
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role
from tests.conftest import auth
from tests.factories import account_body, message


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_readyz_is_503_on_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    settings = Settings(database_url=url, data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"].startswith("at None")


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    settings = Settings(database_url=url, data_dir=tmp_path)
    with TestClient(create_app(settings, Database(url))) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["database"].startswith("unreachable")
        ingest = client.post(
            "/v1/messages", json={"messages": []}, headers=auth("ssk_000000000000_" + "A" * 43)
        )
        assert ingest.status_code == 503
        assert ingest.headers["retry-after"] == "5"


def test_service_starts_not_ready_when_the_database_is_down_at_startup(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    key = "ssk_0123456789ab_" + "B" * 43
    settings = Settings(database_url=url, data_dir=tmp_path, bootstrap_admin_key=key)
    with TestClient(create_app(settings, Database(url))) as client:  # startup does not fail
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503


def test_bootstrap_key_is_stored_at_startup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'boot.db'}"
    migrate.upgrade(url)
    key = "ssk_0123456789ab_" + "C" * 43
    settings = Settings(
        database_url=url, data_dir=tmp_path, bootstrap_admin_key=key, preload_models=False
    )
    with TestClient(create_app(settings, Database(url))) as client:
        assert client.get("/v1/keys", headers=auth(key)).status_code == 200


def test_prometheus_metrics_count_requests_and_ingestion(
    client: TestClient, keys: dict[Role, str]
) -> None:
    client.put("/v1/accounts/acme", json=account_body(), headers=auth(keys[Role.ADMIN]))
    client.post(
        "/v1/messages",
        json={"messages": [message(), message("x", text=" ")]},
        headers=auth(keys[Role.INGEST]),
    )
    text = client.get("/metrics", headers=auth(keys[Role.VIEWER])).text
    assert 'ingested_records_total{kind="message",status="accepted"} 1.0' in text
    assert 'ingested_records_total{kind="message",status="rejected"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/v1/messages",status="200"}' in text
    assert "scoring_queue_length 1.0" in text
    lag = next(line for line in text.splitlines() if line.startswith("scoring_lag_seconds "))
    assert 0 <= float(lag.split()[1]) < 60


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.delete("/healthz").status_code == 405


def test_oversized_body_is_413_before_parsing(
    settings: Settings, database: Database, keys: dict[Role, str]
) -> None:
    small = settings.model_copy(update={"max_request_bytes": 2048})
    with TestClient(create_app(small, database)) as client:
        response = client.post(
            "/v1/messages",
            content=b"{" + b" " * 5000 + b"}",
            headers={**auth(keys[Role.INGEST]), "content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["title"] == "Payload too large"


def test_openapi_documents_record_schemas(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert {"MessageRecord", "MetricRecord", "OutcomeRecord"} <= set(components)
    assert "text" in components["MessageRecord"]["properties"]
    assert client.get("/docs").status_code == 200
