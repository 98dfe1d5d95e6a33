"""Alert test helpers: a real HTTP webhook receiver and builders for stored data."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlmodel import Session

from sentiment_service.alerts.delivery import DeliveryPolicy
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import (
    Account,
    AccountDailyRollup,
    AlertRule,
    CompetitorMention,
    HealthScoreRecord,
    Message,
)
from sentiment_service.storage.types import utcnow

FAST = DeliveryPolicy(timeout_seconds=2.0, max_attempts=4, backoff_initial=0.01, backoff_max=0.05)
BANDS = [
    {"name": "healthy", "min_score": 70},
    {"name": "neutral", "min_score": 40},
    {"name": "at_risk", "min_score": 0},
]


@dataclass
class Received:
    """One request the webhook got."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Webhook:
    """A local HTTP server standing in for Slack: records POSTs; answers `fail_status` to
    the first `fail_first` of them (or to all while `fail_always`), then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0
    fail_always: bool = False
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, received: Received) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.requests.append(received)
            failing = self.fail_always or len(self.requests) <= self.fail_first
        return (self.fail_status, self.fail_headers) if failing else (200, {})


def _handler(hook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            received = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)
            )
            status, headers = hook.answer(received)
            body = b"ok" if status == 200 else b"nope"
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A running webhook receiver on a free local port."""
    hook = Webhook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()
    thread.join(5)


def today() -> date:
    """The current UTC day (data is built relative to it so `as_of` is never in the future)."""
    return utcnow().date()


def noon(day: date) -> datetime:
    """Midday UTC of `day`."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def add_account(session: Session, account_id: str, **fields: Any) -> None:
    """An account (segment enterprise unless told)."""
    fields.setdefault("segment", "enterprise")
    session.add(Account(id=account_id, name=account_id.title(), **fields))
    session.flush()


def add_rollup(
    session: Session,
    account_id: str,
    day: date,
    *,
    scored: int = 10,
    negative: int = 0,
    mean: float = 0.0,
) -> None:
    """A daily 'all sources' rollup."""
    session.add(
        AccountDailyRollup(
            account_id=account_id,
            day=day,
            source="all",
            model_version="test",
            message_count=scored,
            scored_count=scored,
            score_sum=mean * scored,
            mean_score=mean,
            negative_count=negative,
            neutral_count=scored - negative,
            positive_count=0,
        )
    )


_counter = iter(range(1, 10**9))


def add_message(
    session: Session,
    account_id: str,
    created_at: datetime,
    *,
    source: str = "ticket",
    text: str = "We are looking at other tools.",
    ingested_at: datetime | None = None,
) -> Message:
    """A stored customer message."""
    n = next(_counter)
    message = Message(
        source=source,
        source_system="test",
        external_id=f"m-{n}",
        account_id=account_id,
        author_role="customer",
        text=text,
        created_at=created_at,
        ingested_at=ingested_at or utcnow(),
        content_hash=f"{n:064d}",
    )
    session.add(message)
    session.flush()
    return message


def add_mention(
    session: Session, message: Message, competitor: str, intent: str, sentence: int = 0
) -> None:
    """A competitor mention found in `message`."""
    assert message.id is not None
    session.add(
        CompetitorMention(
            message_id=message.id,
            model_version="test-topics",
            competitor=competitor,
            alias=competitor.lower(),
            intent=intent,
            sentence_index=sentence,
            evidence=f"We are {intent} {competitor}.",
            score=-0.2,
            label="neutral",
        )
    )


def add_health(session: Session, account_id: str, day: date, band: str, score: float) -> None:
    """A stored churn_risk health score."""
    session.add(
        HealthScoreRecord(
            account_id=account_id,
            scorecard="churn_risk",
            scorecard_version=1,
            as_of=day,
            score=score,
            band=band,
            confidence=0.9,
            explanation={"bands": BANDS, "score": score, "band": band},
        )
    )


def add_rule(
    database: Database,
    kind: str,
    *,
    url: str = "http://127.0.0.1:9/unused",
    name: str | None = None,
    scope_type: str = "all",
    scope_value: str | None = None,
    **params: Any,
) -> AlertRule:
    """A stored, enabled rule (params as given, unvalidated)."""
    with database.session() as session:
        rule = AlertRule(
            name=name or f"{kind}-{next(_counter)}",
            kind=kind,
            params=params,
            scope_type=scope_type,
            scope_value=scope_value,
            webhook_url=url,
            created_by="test",
        )
        session.add(rule)
        session.flush()
        return rule


def ago(days: int) -> timedelta:
    """`days` days."""
    return timedelta(days=days)
