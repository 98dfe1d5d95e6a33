"""The /v1/alerts API: rule CRUD with validation and audit, an on-demand run, the logs."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from sentiment_service.alerts import delivery
from sentiment_service.alerts.delivery import DeliverySummary
from sentiment_service.api.app import create_app
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AlertEvent, AuditLogEntry
from sentiment_service.storage.types import utcnow
from sentiment_service.vocabulary import Role
from tests.alerts.conftest import FAST, Webhook, add_account, add_rollup, ago, today
from tests.conftest import auth

SECRET_URL = "https://hooks.example.com/services/T000/B000/very-secret-token"


@pytest.fixture
def fast_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's runs use quick backoff (the settings still set attempts and timeout)."""

    def policy(cls: type[delivery.DeliveryPolicy], settings: Settings) -> Any:
        return cls(
            timeout_seconds=settings.alert_webhook_timeout_seconds,
            max_attempts=settings.alert_max_attempts,
            backoff_initial=FAST.backoff_initial,
            backoff_max=FAST.backoff_max,
        )

    monkeypatch.setattr(delivery.DeliveryPolicy, "from_settings", classmethod(policy))


@pytest.fixture
def client2(
    settings: Settings, database: Database, model_hub: ModelHub, fast_delivery: None
) -> Iterator[TestClient]:
    """The app with two webhook attempts per run."""
    tuned = settings.model_copy(update={"alert_max_attempts": 2})
    with TestClient(create_app(tuned, database, model_hub)) as test_client:
        yield test_client


def _delivery_pass(client: TestClient) -> DeliverySummary:
    """Wait for the background delivery that POST /v1/alerts/evaluate started; its counts."""
    worker = client.app.state.alert_delivery  # type: ignore[attr-defined]
    assert worker.wait_idle(30), "the delivery pass did not finish"
    assert worker.last is not None
    return worker.last  # type: ignore[no-any-return]


def _rule(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Unhappy enterprise accounts",
        "kind": "negative_share",
        "params": {"threshold": 0.5, "days": 3},
        "scope": {"type": "segment", "value": "enterprise"},
        "webhook_url": SECRET_URL,
    }
    body.update(fields)
    return body


def test_rule_lifecycle_with_audit_and_masked_urls(
    client: TestClient, keys: dict[Role, str], database: Database
) -> None:
    admin, viewer = auth(keys[Role.ADMIN]), auth(keys[Role.VIEWER])
    created = client.post("/v1/alerts/rules", json=_rule(), headers=admin)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["params"] == {"threshold": 0.5, "days": 3, "min_messages": 1, "lookback_days": 7}
    assert rule["webhook_url"] == SECRET_URL and rule["enabled"] is True
    assert rule["created_by"].startswith("key:")
    listed = client.get("/v1/alerts/rules", headers=viewer).json()
    assert [r["id"] for r in listed] == [rule["id"]]
    assert listed[0]["webhook_url"] == "https://hooks.example.com/***"  # viewers: no token
    one = client.get(f"/v1/alerts/rules/{rule['id']}", headers=admin).json()
    assert one["webhook_url"] == SECRET_URL

    patched = client.patch(
        f"/v1/alerts/rules/{rule['id']}",
        json={"enabled": False, "params": {"days": 5}},
        headers=admin,
    )
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False and patched.json()["params"]["days"] == 5
    assert patched.json()["params"]["threshold"] == 0.5  # merged, not replaced
    switched = client.patch(
        f"/v1/alerts/rules/{rule['id']}", json={"kind": "data_dark"}, headers=admin
    ).json()
    assert switched["kind"] == "data_dark" and switched["params"]["history_days"] == 180

    deleted = client.delete(f"/v1/alerts/rules/{rule['id']}", headers=admin)
    assert deleted.status_code == 200
    assert client.get(f"/v1/alerts/rules/{rule['id']}", headers=admin).status_code == 404
    with database.session() as session:
        entries = session.exec(
            select(AuditLogEntry)
            .where(AuditLogEntry.entity_type == "alert_rule")
            .order_by(col(AuditLogEntry.id))
        ).all()
    assert [e.action for e in entries] == [
        "alert_rule.create",
        "alert_rule.update",
        "alert_rule.update",
        "alert_rule.delete",
    ]
    assert "very-secret-token" not in str([(e.before, e.after) for e in entries])
    assert entries[1].before is not None and entries[1].before["enabled"] is True
    assert entries[1].after is not None and entries[1].after["enabled"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"webhook_url": "ftp://hooks.example.com/x"}, "webhook_url"),
        ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
        ({"webhook_url": "not a url"}, "webhook_url"),
        ({"webhook_url": "https://"}, "webhook_url"),
        ({"webhook_url": "https://x.example/" + "a" * 2100}, "webhook_url"),
        ({"webhook_url": None}, "webhook_url"),
        ({"kind": "weather"}, "kind"),
        ({"params": {"threshold": 1.5}}, "params.threshold"),
        ({"params": {"days": "many"}}, "params.days"),
        ({"params": {"colour": "red"}}, "params.colour"),
        ({"scope": {"type": "segment"}}, "scope"),
        ({"scope": {"type": "all", "value": "x"}}, "scope"),
        ({"scope": {"type": "galaxy", "value": "x"}}, "scope.type"),
        ({"name": ""}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_rules_are_422_naming_the_field(
    client: TestClient, keys: dict[Role, str], changes: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/v1/alerts/rules", json=_rule(**changes), headers=auth(keys[Role.ADMIN])
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}


def test_patch_validates_and_names_the_field(client: TestClient, keys: dict[Role, str]) -> None:
    admin = auth(keys[Role.ADMIN])
    rule = client.post("/v1/alerts/rules", json=_rule(), headers=admin).json()
    bad_url = client.patch(
        f"/v1/alerts/rules/{rule['id']}", json={"webhook_url": "file:///etc/passwd"}, headers=admin
    )
    assert bad_url.status_code == 422 and bad_url.json()["errors"][0]["field"] == "webhook_url"
    bad_params = client.patch(
        f"/v1/alerts/rules/{rule['id']}", json={"params": {"days": 0}}, headers=admin
    )
    assert bad_params.json()["errors"][0]["field"] == "params.days"
    assert client.patch("/v1/alerts/rules/0", json={}, headers=admin).status_code == 422
    missing = client.patch("/v1/alerts/rules/4242", json={}, headers=admin)
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "rule_id"


def test_rule_names_are_unique(client: TestClient, keys: dict[Role, str]) -> None:
    admin = auth(keys[Role.ADMIN])
    first = client.post("/v1/alerts/rules", json=_rule(), headers=admin).json()
    again = client.post("/v1/alerts/rules", json=_rule(), headers=admin)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "name"
    other = client.post("/v1/alerts/rules", json=_rule(name="Other"), headers=admin).json()
    clash = client.patch(
        f"/v1/alerts/rules/{other['id']}", json={"name": first["name"]}, headers=admin
    )
    assert clash.status_code == 409


def test_evaluate_delivers_once_and_logs_are_paginated(
    client2: TestClient, keys: dict[Role, str], database: Database, webhook: Webhook
) -> None:
    admin, viewer = auth(keys[Role.ADMIN]), auth(keys[Role.VIEWER])
    with database.session() as session:
        for account in ("acme", "beta", "gamma"):
            add_account(session, account)
            for offset in range(3):
                add_rollup(session, account, today() - ago(offset), negative=9)
    rule = client2.post(
        "/v1/alerts/rules", json=_rule(webhook_url=webhook.url), headers=admin
    ).json()
    webhook.fail_first = 1
    first = client2.post("/v1/alerts/evaluate", headers=admin)
    assert first.status_code == 200, first.text
    counts = first.json()
    assert counts["rules_evaluated"] == 1 and counts["new_events"] == 3
    assert counts["delivery"] == "queued" and counts["pending"] == 3  # posted in the background
    delivered = _delivery_pass(client2)
    assert delivered.delivered == 3 and delivered.attempts == 4
    assert sorted(r.body["alert"]["account_id"] for r in webhook.requests[1:]) == [
        "acme",
        "beta",
        "gamma",
    ]
    second = client2.post("/v1/alerts/evaluate", headers=admin).json()
    assert second["new_events"] == 0 and second["pending"] == 0
    assert _delivery_pass(client2).attempts == 0 and len(webhook.requests) == 4

    page = client2.get("/v1/alerts/events", params={"limit": 2}, headers=viewer).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    rest = client2.get(
        "/v1/alerts/events", params={"limit": 2, "cursor": page["next_cursor"]}, headers=viewer
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    events = page["items"] + rest["items"]
    assert {e["status"] for e in events} == {"delivered"}
    assert all(e["rule_id"] == rule["id"] for e in events)
    only_acme = client2.get(
        "/v1/alerts/events", params={"account_id": "acme"}, headers=viewer
    ).json()
    assert [e["account_id"] for e in only_acme["items"]] == ["acme"]
    tries = client2.get("/v1/alerts/deliveries", headers=viewer).json()["items"]
    assert len(tries) == 4 and [t["status_code"] for t in tries].count(500) == 1
    failed = client2.get("/v1/alerts/deliveries", params={"ok": False}, headers=viewer).json()
    assert [t["status_code"] for t in failed["items"]] == [500]
    scrape = client2.get("/metrics", headers=admin).text
    assert 'alert_delivery_attempts_total{status="200"} 3.0' in scrape
    assert 'alert_delivery_attempts_total{status="500"} 1.0' in scrape


def test_a_failing_webhook_stays_pending_across_api_runs(
    client2: TestClient, keys: dict[Role, str], database: Database, webhook: Webhook
) -> None:
    admin = auth(keys[Role.ADMIN])
    with database.session() as session:
        add_account(session, "acme")
        for offset in range(3):
            add_rollup(session, "acme", today() - ago(offset), negative=9)
    client2.post("/v1/alerts/rules", json=_rule(webhook_url=webhook.url), headers=admin)
    webhook.fail_always = True
    client2.post("/v1/alerts/evaluate", headers=admin)
    first = _delivery_pass(client2)
    assert first.failed == 1 and first.attempts == 2
    pending = client2.get("/v1/alerts/events", params={"status": "pending"}, headers=admin).json()[
        "items"
    ]
    assert len(pending) == 1 and pending[0]["attempts"] == 2
    webhook.fail_always = False
    client2.post("/v1/alerts/evaluate", headers=admin)
    assert _delivery_pass(client2).delivered == 1
    pending = client2.get("/v1/alerts/events", params={"status": "pending"}, headers=admin)
    assert pending.json()["items"] == []
    log = client2.get("/v1/alerts/deliveries", headers=admin).json()["items"]
    assert [(d["attempt"], d["ok"]) for d in reversed(log)] == [(1, False), (2, False), (3, True)]


def test_deleting_a_rule_cancels_its_pending_alerts_and_keeps_history(
    client2: TestClient, keys: dict[Role, str], database: Database
) -> None:
    admin = auth(keys[Role.ADMIN])
    with database.session() as session:
        add_account(session, "acme")
        for offset in range(3):
            add_rollup(session, "acme", today() - ago(offset), negative=9)
    rule = client2.post("/v1/alerts/rules", json=_rule(), headers=admin).json()
    client2.post("/v1/alerts/evaluate", params={"deliver": False}, headers=admin)
    assert client2.delete(f"/v1/alerts/rules/{rule['id']}", headers=admin).status_code == 200
    with database.session() as session:
        [event] = session.exec(select(AlertEvent)).all()
    assert event.rule_id is None and event.status == "cancelled"


def test_evaluate_and_list_inputs_are_checked(client: TestClient, keys: dict[Role, str]) -> None:
    admin = auth(keys[Role.ADMIN])
    future = (utcnow() + timedelta(days=1)).isoformat()
    for value in (future, "2026-10-01T00:00:00", "yesterday"):
        response = client.post("/v1/alerts/evaluate", params={"as_of": value}, headers=admin)
        assert response.status_code == 422, value
        assert response.json()["errors"][0]["field"] == "as_of"
    for path, params, field in (
        ("/v1/alerts/events", {"status": "lost"}, "status"),
        ("/v1/alerts/events", {"cursor": -1}, "cursor"),
        ("/v1/alerts/events", {"limit": 0}, "limit"),
        ("/v1/alerts/deliveries", {"ok": "perhaps"}, "ok"),
        ("/v1/alerts/deliveries", {"event_id": 2**40}, "event_id"),
    ):
        response = client.get(path, params=params, headers=admin)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
    assert client.get("/v1/alerts/rules/abc", headers=admin).status_code == 422
    ok = client.post("/v1/alerts/evaluate", params={"as_of": "2026-10-01T00:00:00Z"}, headers=admin)
    assert ok.status_code == 200 and ok.json()["as_of"].startswith("2026-10-01T00:00:00")


def test_evaluate_answers_at_once_while_a_webhook_hangs(
    settings: Settings,
    database: Database,
    model_hub: ModelHub,
    keys: dict[Role, str],
    fast_delivery: None,
) -> None:
    admin = auth(keys[Role.ADMIN])
    tuned = settings.model_copy(
        update={"alert_max_attempts": 2, "alert_webhook_timeout_seconds": 1.0}
    )
    with database.session() as session:
        add_account(session, "acme")
        for offset in range(3):
            add_rollup(session, "acme", today() - ago(offset), negative=9)
    with (
        socket.socket() as silent,  # accepts connections (backlog) and never answers
        TestClient(create_app(tuned, database, model_hub)) as client,
    ):
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        client.post("/v1/alerts/rules", json=_rule(webhook_url=url), headers=admin)
        started = time.monotonic()
        answer = client.post("/v1/alerts/evaluate", headers=admin)
        took = time.monotonic() - started
        failed = _delivery_pass(client)
        log = client.get("/v1/alerts/deliveries", headers=admin).json()["items"]
    assert answer.status_code == 200 and answer.json()["new_events"] == 1
    # 2 attempts of at least 1 s each would hold a synchronous run for 2 s or more
    assert took < 1.0, took
    assert failed.failed == 1 and failed.attempts == 2
    assert [d["ok"] for d in log] == [False, False]
