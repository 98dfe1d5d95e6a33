"""Webhook delivery of alert events: Slack-compatible JSON, retries with backoff, an attempt log.

Each pending event is claimed with a short lease (so two runs never post it twice at once),
POSTed up to `max_attempts` times with exponential backoff and jitter (a 429's Retry-After is
honoured), and every attempt is written to `alert_deliveries` in its own transaction. Network
errors, timeouts, 408, 429 and 5xx are retried; other answers end the run's attempts. An
event that was not delivered stays pending for the next run; once a webhook fails an event,
the run skips that webhook's remaining events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import or_, update
from sqlmodel import Session, col, select
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from connectors.http import redact_url, retry_after_seconds, send_within
from pipelines.row_ids import stored_id
from sentiment_service.settings import Settings
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import AlertDelivery, AlertEvent, AlertRule
from sentiment_service.storage.types import utcnow

log = structlog.get_logger(__name__)

PENDING, DELIVERED, CANCELLED = "pending", "delivered", "cancelled"
USER_AGENT = "sentiment-service-alerts/0.1"
RETRYABLE_STATUS = frozenset({408, 425, 429})
MAX_ERROR_CHARS = 500
MAX_ANSWER_BYTES = 16 * 1024  # of a webhook's answer, read only for the error message
HEADER_CHARS = 150  # Slack's limit for header blocks


@dataclass(frozen=True)
class DeliveryPolicy:
    """Timeouts and retries of webhook posts."""

    timeout_seconds: float = 5.0
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 60.0
    batch_limit: int = 500

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        """The policy the settings ask for."""
        return cls(
            timeout_seconds=settings.alert_webhook_timeout_seconds,
            max_attempts=settings.alert_max_attempts,
        )

    @property
    def attempt_seconds(self) -> float:
        """The most one POST may take in all (connect, send, answer), whatever the server does;
        `timeout_seconds` bounds each wait within it."""
        return 3 * self.timeout_seconds

    @property
    def lease(self) -> timedelta:
        """How long a claimed event is reserved: longer than one event's attempts can take."""
        worst = self.max_attempts * (self.attempt_seconds + self.backoff_max) + 60
        return timedelta(seconds=worst)


@dataclass(frozen=True)
class Attempt:
    """The outcome of one POST."""

    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    retryable: bool
    retry_after: float | None = None


@dataclass
class DeliverySummary:
    """What one delivery run did."""

    delivered: int = 0
    failed: int = 0  # attempted this run and still pending
    skipped: int = 0  # not attempted: their webhook already failed in this run
    attempts: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def build_payload(event: AlertEvent, rule: AlertRule) -> dict[str, Any]:
    """The JSON body: Slack's `text` and `blocks`, plus the machine-readable `alert`."""
    title = f"{event.kind.replace('_', ' ').capitalize()}: {event.account_id}"
    if len(title) > HEADER_CHARS:
        title = title[: HEADER_CHARS - 1] + "\u2026"
    context = (
        f"Rule *{_escape(rule.name)}* (#{rule.id}) \u00b7 account `{_escape(event.account_id)}`"
        f" \u00b7 as of {event.as_of.isoformat(timespec='seconds')}"
    )
    return {
        "text": f"[{rule.name}] {event.summary}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _escape(event.summary)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
        "alert": {
            "event_id": event.id,
            "rule_id": rule.id,
            "rule_name": rule.name,
            "kind": event.kind,
            "account_id": event.account_id,
            "dedupe_key": event.dedupe_key,
            "summary": event.summary,
            "as_of": event.as_of.isoformat(),
            "created_at": event.created_at.isoformat(),
            "details": event.details,
        },
    }


def _escape(text: str) -> str:
    """Slack mrkdwn control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class WebhookSender:
    """POSTs JSON to webhooks with retries; reports each attempt to a callback."""

    def __init__(
        self,
        policy: DeliveryPolicy,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(policy.timeout_seconds),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self.sleep = sleep
        self._backoff = wait_exponential(
            multiplier=policy.backoff_initial, max=policy.backoff_max
        ) + wait_random(0, policy.backoff_initial)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def post(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        idempotency_key: str,
        on_attempt: Callable[[Attempt], None],
    ) -> bool:
        """Whether the webhook accepted `payload` (2xx) within the policy's attempts."""

        def attempt_once() -> Attempt:
            result = self._attempt(url, payload, idempotency_key)
            on_attempt(result)
            return result

        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=retry_if_result(lambda result: not result.ok and result.retryable),
            sleep=self.sleep,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        result = retrying(attempt_once)
        return isinstance(result, Attempt) and result.ok

    def _attempt(self, url: str, payload: dict[str, Any], idempotency_key: str) -> Attempt:
        started = time.perf_counter()
        try:
            response = send_within(
                self.client,
                "POST",
                url,
                deadline_seconds=self.policy.attempt_seconds,
                max_bytes=MAX_ANSWER_BYTES,
                truncate=True,
                json=payload,
                headers={"Idempotency-Key": idempotency_key},
            )
        except (httpx.HTTPError, httpx.InvalidURL) as error:  # timeouts, refused, protocol
            return Attempt(
                ok=False,
                status_code=None,
                error=_describe(error),
                duration_ms=_ms(started),
                retryable=isinstance(error, httpx.TransportError)
                and not isinstance(error, httpx.UnsupportedProtocol),
            )
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(True, status, None, _ms(started), retryable=False)
        retry_after = None
        if status == 429 or status == 503:
            retry_after = retry_after_seconds(response.headers, time.time())
        return Attempt(
            ok=False,
            status_code=status,
            error=f"HTTP {status}: {response.text[:200]}".strip()[:MAX_ERROR_CHARS],
            duration_ms=_ms(started),
            retryable=status >= 500 or status in RETRYABLE_STATUS,
            retry_after=retry_after,
        )

    def _wait(self, state: RetryCallState) -> float:
        result = state.outcome.result() if state.outcome and not state.outcome.failed else None
        if isinstance(result, Attempt) and result.retry_after is not None:
            return min(result.retry_after, self.policy.max_retry_after)
        return float(self._backoff(state))


def _describe(error: Exception) -> str:
    text = redact_url(str(error)) if "://" in str(error) else str(error)
    return f"{type(error).__name__}: {text}".strip()[:MAX_ERROR_CHARS]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


# --- the pending queue ------------------------------------------------------------------------


def _claim(database: Database, event_id: int, lease: timedelta) -> bool:
    now = utcnow()
    with database.session() as session:
        result = session.execute(
            update(AlertEvent)
            .where(
                col(AlertEvent.id) == event_id,
                col(AlertEvent.status) == PENDING,
                or_(
                    col(AlertEvent.claimed_until).is_(None),
                    col(AlertEvent.claimed_until) < now,
                ),
            )
            .values(claimed_until=now + lease)
            .returning(col(AlertEvent.id))
        )
        return result.first() is not None


def _event(session: Session, event_id: int) -> AlertEvent:
    """The event `event_id`; a LookupError when it is gone (deleted while being delivered)."""
    event = session.get(AlertEvent, event_id)
    if event is None:
        raise LookupError(f"alert event {event_id} no longer exists")
    return event


def _record_attempt(database: Database, event_id: int, rule_id: int, attempt: Attempt) -> int:
    """Log one attempt and count it on the event; returns the event's attempt number."""
    now = utcnow()
    with database.session() as session:
        event = _event(session, event_id)
        event.attempts += 1
        event.last_attempt_at = now
        session.add(event)
        session.add(
            AlertDelivery(
                event_id=event_id,
                rule_id=rule_id,
                attempt=event.attempts,
                ok=attempt.ok,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                at=now,
            )
        )
        return event.attempts


def _finish(database: Database, event_id: int, delivered: bool) -> None:
    with database.session() as session:
        event = _event(session, event_id)
        event.claimed_until = None
        if delivered:
            event.status = DELIVERED
            event.delivered_at = utcnow()
        session.add(event)


def pending_events(session: Session, limit: int) -> list[tuple[AlertEvent, AlertRule]]:
    """Pending events of enabled rules, oldest first."""
    rows = session.exec(
        select(AlertEvent, AlertRule)
        .join(AlertRule, col(AlertRule.id) == col(AlertEvent.rule_id))
        .where(AlertEvent.status == PENDING, col(AlertRule.enabled).is_(True))
        .order_by(col(AlertEvent.id))
        .limit(limit)
    ).all()
    return [(event, rule) for event, rule in rows]


def deliver_pending(
    database: Database,
    policy: DeliveryPolicy,
    *,
    sender: WebhookSender | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> DeliverySummary:
    """Post every pending event of an enabled rule to the rule's webhook."""
    summary = DeliverySummary()
    with database.session() as session:
        pending = pending_events(session, policy.batch_limit)
    if not pending:
        return summary
    owned = sender is None
    sender = sender or WebhookSender(policy)
    failed_urls: set[str] = set()
    try:
        for event, rule in pending:
            event_id = stored_id(event.id, "alert event")
            rule_id = stored_id(rule.id, "alert rule")
            if rule.webhook_url in failed_urls:
                summary.skipped += 1
                continue
            if not _claim(database, event_id, policy.lease):
                continue  # another run holds it

            def record(attempt: Attempt, event_id: int = event_id, rule_id: int = rule_id) -> None:
                number = _record_attempt(database, event_id, rule_id, attempt)
                summary.attempts += 1
                label = str(attempt.status_code) if attempt.status_code else "error"
                summary.by_status[label] = summary.by_status.get(label, 0) + 1
                if on_attempt is not None:
                    on_attempt(attempt)
                log.info(
                    "alert_delivery_attempt",
                    event_id=event_id,
                    rule_id=rule_id,
                    attempt=number,
                    ok=attempt.ok,
                    status_code=attempt.status_code,
                    error=attempt.error,
                )

            delivered = False
            try:
                delivered = sender.post(
                    rule.webhook_url,
                    build_payload(event, rule),
                    idempotency_key=event.dedupe_key,
                    on_attempt=record,
                )
            finally:
                _finish(database, event_id, delivered)
            if delivered:
                summary.delivered += 1
            else:
                summary.failed += 1
                failed_urls.add(rule.webhook_url)
    finally:
        if owned:
            sender.close()
    return summary


def cancel_pending(session: Session, rule_id: int) -> int:
    """Mark a rule's undelivered events cancelled (when the rule is deleted)."""
    result = session.execute(
        update(AlertEvent)
        .where(col(AlertEvent.rule_id) == rule_id, col(AlertEvent.status) == PENDING)
        .values(status=CANCELLED, claimed_until=None)
        .returning(col(AlertEvent.id))
    )
    return len(result.all())
