"""Webhook delivery against a real local HTTP server: payload, retries, the attempt log."""

from __future__ import annotations

import dataclasses

from sqlmodel import col, select

from sentiment_service.alerts.delivery import DELIVERED, PENDING, deliver_pending
from sentiment_service.alerts.service import run_once
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AlertDelivery, AlertEvent
from sentiment_service.storage.types import utcnow
from tests.alerts.conftest import FAST, Webhook, add_account, add_rollup, add_rule, ago, today
from tests.conftest import free_port


def _streak(database: Database, *accounts: str) -> None:
    with database.session() as session:
        for account in accounts:
            add_account(session, account)
            for offset in range(3):
                add_rollup(session, account, today() - ago(offset), negative=8)


def _log(database: Database) -> list[AlertDelivery]:
    with database.session() as session:
        return list(session.exec(select(AlertDelivery).order_by(col(AlertDelivery.id))).all())


def _events(database: Database) -> list[AlertEvent]:
    with database.session() as session:
        return list(session.exec(select(AlertEvent).order_by(col(AlertEvent.id))).all())


def test_a_new_alert_is_posted_as_slack_json_once(database: Database, webhook: Webhook) -> None:
    _streak(database, "acme")
    rule = add_rule(database, "negative_share", url=webhook.url, name="Unhappy <customers>")
    summary = run_once(database, FAST).as_json()
    assert summary["new_events"] == 1 and summary["delivered"] == 1 and summary["pending"] == 0
    [received] = webhook.requests
    assert received.path == "/hooks/alerts"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["idempotency-key"].startswith(f"rule:{rule.id}:negative_share:acme:")
    body = received.body
    assert body["text"].startswith("[Unhappy <customers>] acme: negative share above 50%")
    assert [block["type"] for block in body["blocks"]] == ["header", "section", "context"]
    assert "&lt;customers&gt;" in body["blocks"][2]["elements"][0]["text"]  # mrkdwn escaped
    alert = body["alert"]
    assert alert["kind"] == "negative_share" and alert["account_id"] == "acme"
    assert alert["rule_id"] == rule.id and alert["details"]["days"] == 3
    [event] = _events(database)
    assert event.status == DELIVERED and event.attempts == 1 and event.delivered_at is not None
    [attempt] = _log(database)
    assert attempt.ok and attempt.status_code == 200 and attempt.attempt == 1
    again = run_once(database, FAST).as_json()  # same condition: no new alert, nothing sent
    assert again["new_events"] == 0 and again["attempts"] == 0
    assert len(webhook.requests) == 1


def test_retries_with_backoff_until_the_webhook_accepts(
    database: Database, webhook: Webhook
) -> None:
    _streak(database, "acme")
    add_rule(database, "negative_share", url=webhook.url)
    webhook.fail_first = 2
    summary = run_once(database, FAST).as_json()
    assert summary["delivered"] == 1 and summary["attempts"] == 3
    assert summary["attempts_by_status"] == {"200": 1, "500": 2}
    log = _log(database)
    assert [(a.attempt, a.ok, a.status_code) for a in log] == [
        (1, False, 500),
        (2, False, 500),
        (3, True, 200),
    ]
    assert log[0].error is not None and "HTTP 500" in log[0].error
    assert all(a.duration_ms is not None and a.at is not None for a in log)
    assert len({r.headers["idempotency-key"] for r in webhook.requests}) == 1
    assert _events(database)[0].status == DELIVERED


def test_a_webhook_that_keeps_failing_leaves_the_alert_pending_for_the_next_run(
    database: Database, webhook: Webhook
) -> None:
    _streak(database, "acme", "beta")
    add_rule(database, "negative_share", url=webhook.url)
    webhook.fail_always = True
    summary = run_once(database, FAST).as_json()
    # The first alert uses every attempt; the webhook is then skipped for the rest of the run.
    assert summary["new_events"] == 2 and summary["delivered"] == 0
    assert summary["failed"] == 1 and summary["skipped"] == 1 and summary["pending"] == 2
    assert summary["attempts"] == FAST.max_attempts
    assert [a.attempt for a in _log(database)] == list(range(1, FAST.max_attempts + 1))
    events = _events(database)
    assert [e.status for e in events] == [PENDING, PENDING]
    assert events[0].attempts == FAST.max_attempts and events[0].claimed_until is None
    webhook.fail_always = False
    later = run_once(database, FAST).as_json()  # the next run retries and delivers both
    assert later["new_events"] == 0 and later["delivered"] == 2 and later["pending"] == 0
    numbers = [(a.event_id, a.attempt, a.ok) for a in _log(database) if a.ok]
    assert numbers == [
        (events[0].id, FAST.max_attempts + 1, True),
        (events[1].id, 1, True),
    ]


def test_client_errors_are_not_retried_within_a_run(database: Database, webhook: Webhook) -> None:
    _streak(database, "acme")
    add_rule(database, "negative_share", url=webhook.url)
    webhook.fail_always, webhook.fail_status = True, 404
    summary = deliver_after_evaluation(database)
    assert summary["attempts"] == 1 and summary["failed"] == 1
    [attempt] = _log(database)
    assert attempt.status_code == 404 and not attempt.ok


def test_429_retry_after_is_honoured(database: Database, webhook: Webhook) -> None:
    _streak(database, "acme")
    add_rule(database, "negative_share", url=webhook.url)
    webhook.fail_first, webhook.fail_status = 1, 429
    webhook.fail_headers = {"Retry-After": "0"}
    summary = deliver_after_evaluation(database)
    assert summary["delivered"] == 1
    assert [a.status_code for a in _log(database)] == [429, 200]


def test_an_unreachable_webhook_logs_the_network_error(database: Database) -> None:
    port = free_port()  # nothing listens there
    _streak(database, "acme")
    add_rule(database, "negative_share", url=f"http://127.0.0.1:{port}/hook")
    policy = dataclasses.replace(FAST, max_attempts=2)
    summary = run_once(database, policy).as_json()
    assert summary["failed"] == 1 and summary["attempts_by_status"] == {"error": 2}
    log = _log(database)
    assert [a.status_code for a in log] == [None, None]
    assert log[0].error is not None and log[0].error.startswith("ConnectError")
    assert _events(database)[0].status == PENDING


def test_disabled_rules_keep_their_alerts_pending(database: Database, webhook: Webhook) -> None:
    _streak(database, "acme")
    rule = add_rule(database, "negative_share", url=webhook.url)
    run_once(database, FAST, deliver=False)
    with database.session() as session:
        stored = session.get(type(rule), rule.id)
        assert stored is not None
        stored.enabled = False
        session.add(stored)
    assert deliver_pending(database, FAST).attempts == 0
    assert webhook.requests == [] and _events(database)[0].status == PENDING


def test_a_claimed_alert_is_not_posted_by_a_second_run(
    database: Database, webhook: Webhook
) -> None:
    _streak(database, "acme")
    add_rule(database, "negative_share", url=webhook.url)
    run_once(database, FAST, deliver=False)
    with database.session() as session:
        event = session.exec(select(AlertEvent)).one()
        event.claimed_until = utcnow() + FAST.lease  # another run is delivering it
        session.add(event)
    assert deliver_pending(database, FAST).attempts == 0
    assert webhook.requests == []


def deliver_after_evaluation(database: Database) -> dict[str, object]:
    """Evaluate and deliver with the fast test policy; the JSON summary."""
    return run_once(database, FAST).as_json()
