"""Zendesk connector against a local fake of the incremental export and comments API."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.base import Page
from connectors.errors import AuthenticationError
from connectors.http import HttpPolicy, VendorHttp
from connectors.zendesk import ZendeskConnector, ZendeskOptions, zendesk_client
from sentiment_service.storage.database import Database
from tests.connectors.conftest import (
    Sleeps,
    engine,
    make_accounts,
    quarantine_codes,
    stored,
    sync_state,
)
from tools.fake_vendors.server import FakeApi, Fault
from tools.fake_vendors.zendesk_fake import FakeZendesk, generate

TOKEN = "secret-token"
POLICY = HttpPolicy(read_timeout=0.3, connect_timeout=0.5, backoff_base=0.01)


@pytest.fixture
def fake() -> FakeZendesk:
    """Six tickets over two organisations, two comments each (one customer, one agent)."""
    zendesk = FakeZendesk()
    generate(zendesk, tickets=6, comments=12, orgs=2)
    return zendesk


@pytest.fixture
def api(fake: FakeZendesk) -> Iterator[FakeApi]:
    """The fake served on a free local port."""
    with FakeApi(fake, stall_seconds=0.6) as server:
        yield server


def connector(api: FakeApi, sleeps: Sleeps, token: str = TOKEN, **options: int) -> ZendeskConnector:
    """A connector talking to the fake with small pages (so paging is exercised)."""
    client = zendesk_client(api.url, "ops@example.com", token, policy=POLICY)
    http = VendorHttp(client, policy=POLICY, sleep=sleeps)
    settings = {"per_page": 2, "chunk_tickets": 1, "comments_per_page": 1, **options}
    return ZendeskConnector(http, ZendeskOptions(**settings))


def upstream(fake: FakeZendesk) -> dict[str, str]:
    """external id -> text of every comment of every live ticket."""
    return {
        f"c-{c['id']}": c["plain_body"]
        for ticket_id, comments in fake.comments.items()
        if fake.tickets[ticket_id]["status"] != "deleted"
        for c in comments
    }


@pytest.fixture(autouse=True)
def accounts(database: Database) -> None:
    """Our two accounts, linked to Zendesk organisations 100 and 101."""
    make_accounts(database, {"acme": {"zendesk": "100"}, "globex": {"zendesk": "101"}})


def test_full_sync_stores_every_comment_once_with_roles_threads_and_utc(
    database: Database, fake: FakeZendesk, api: FakeApi, sleeps: Sleeps
) -> None:
    summary = engine(database).run("zendesk", connector(api, sleeps))
    messages = stored(database)
    assert {key: m["text"] for key, m in messages.items()} == upstream(fake)
    first = fake.comments[1][0]
    row = messages[f"c-{first['id']}"]
    assert row["account"] == "globex"  # ticket 1 -> organisation 101
    assert row["role"] == "customer" and row["thread"] == "ticket-1" and row["source"] == "ticket"
    assert row["created_at"] == datetime.fromisoformat(first["created_at"]).astimezone(UTC)
    agent_roles = {m["role"] for k, m in messages.items() if k != f"c-{first['id']}"}
    assert agent_roles == {"customer", "agent"}
    assert (summary.stored, summary.updated, summary.quarantined) == (len(upstream(fake)), 0, 0)
    assert summary.complete and summary.error is None
    state = sync_state(database, "zendesk")
    assert state is not None and state.cursor and state.last_success_at is not None


def test_faults_are_retried_and_rate_limits_honoured(
    database: Database, fake: FakeZendesk, api: FakeApi, sleeps: Sleeps
) -> None:
    api.inject(
        Fault("status", 429, {"Retry-After": "7"}, path_contains="incremental"),
        Fault("status", 500, path_contains="comments"),
        Fault("status", 502),
        Fault("status", 503),
        Fault("timeout", path_contains="comments"),
        Fault("truncated", path_contains="incremental"),
        Fault("invalid_json", path_contains="comments"),
        Fault("status", 429, {"ratelimit-reset": "3"}),
    )
    summary = engine(database).run("zendesk", connector(api, sleeps))
    assert {k: m["text"] for k, m in stored(database).items()} == upstream(fake)
    assert summary.retries == 8 and api.faults_served == 8
    assert 7.0 in sleeps and 3.0 in sleeps
    assert all(s < 7.5 for s in sleeps)


def test_crash_mid_sync_resumes_from_the_committed_cursor(
    database: Database, fake: FakeZendesk, api: FakeApi, sleeps: Sleeps
) -> None:
    class Crashing(ZendeskConnector):
        def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
            yield from itertools.islice(super().pages(cursor, since), 3)
            raise OSError("killed")

    crashing = Crashing(connector(api, sleeps).http, connector(api, sleeps).options)
    with pytest.raises(OSError):
        engine(database).run("zendesk", crashing)
    partial = stored(database)
    assert 0 < len(partial) < len(upstream(fake))
    state = sync_state(database, "zendesk")
    assert state is not None and state.cursor and state.last_success_at is None
    seen = len(api.requests)
    summary = engine(database).run("zendesk", connector(api, sleeps))
    resumed_with = api.requests[seen].query
    assert "cursor" in resumed_with and "start_time" not in resumed_with
    assert {k: m["text"] for k, m in stored(database).items()} == upstream(fake)
    assert summary.stored == len(upstream(fake)) - len(partial)


def test_upstream_edits_redactions_and_deletions_update_without_duplicates(
    database: Database, fake: FakeZendesk, api: FakeApi, sleeps: Sleeps
) -> None:
    engine(database).run("zendesk", connector(api, sleeps))
    edited, redacted = fake.comments[2][0], fake.comments[3][1]
    fake.edit_comment(2, edited["id"], "Edited: the export works now, thanks!")
    fake.edit_comment(3, redacted["id"], "My card is ▇▇▇▇▇▇▇▇")
    fake.delete_ticket(4)
    kept = [f"c-{c['id']}" for c in fake.comments[4]]
    second = engine(database).run("zendesk", connector(api, sleeps))
    messages = stored(database)
    assert second.updated == 2 and second.stored == 0
    assert messages[f"c-{edited['id']}"]["text"] == "Edited: the export works now, thanks!"
    assert messages[f"c-{redacted['id']}"]["text"] == "My card is ▇▇▇▇▇▇▇▇"
    assert messages[f"c-{redacted['id']}"]["extra"]["redacted"] is True
    assert all(messages[key]["extra"]["deleted"] is True for key in kept)
    assert set(messages) == set(upstream(fake)) | set(kept)


def test_bad_credentials_stop_the_sync_and_mark_nothing_synced(
    database: Database, api: FakeApi, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as raised:
        engine(database).run("zendesk", connector(api, sleeps, token="wrong-token"))
    assert "401" in str(raised.value) and "wrong-token" not in str(raised.value)
    assert "wrong-token" not in caplog.text
    state = sync_state(database, "zendesk")
    assert state is not None
    assert state.cursor is None and state.last_success_at is None
    assert state.last_error and state.last_error.startswith("authentication failed")
    assert stored(database) == {} and len(api.requests) == 1


def test_unknown_organisations_are_quarantined_or_resolved_by_domain(
    database: Database, fake: FakeZendesk, api: FakeApi, sleeps: Sleeps
) -> None:
    fake.add_user(9001, "end-user", "pat@initech.example")
    fake.add_ticket(50, 999, 9001)
    fake.add_comment(50, 5001, 9001, "Nobody maps our organisation.")
    fake.add_user(9002, "end-user", "sam@acme.example")
    fake.add_ticket(51, None, 9002)
    fake.add_comment(51, 5002, 9002, "We have no organisation but our domain is known.")
    run = engine(database, domains={"acme.example": "acme"})
    summary = run.run("zendesk", connector(api, sleeps))
    messages = stored(database)
    assert "c-5001" not in messages and messages["c-5002"]["account"] == "acme"
    assert quarantine_codes(database) == ["unresolved_account"]
    assert summary.quarantined == 1


def test_auto_create_accounts_links_the_vendor_organisation(
    database: Database, fake: FakeZendesk, api: FakeApi, sleeps: Sleeps
) -> None:
    fake.add_user(9001, "end-user", "pat@initech.example")
    fake.add_ticket(50, 999, 9001)
    fake.add_comment(50, 5001, 9001, "Nobody maps our organisation.")
    engine(database, auto_create_accounts=True).run("zendesk", connector(api, sleeps))
    assert stored(database)["c-5001"]["account"] == "zendesk-999"
    assert quarantine_codes(database) == []


def test_a_page_is_atomic_messages_and_cursor_together(
    database: Database,
    fake: FakeZendesk,
    api: FakeApi,
    sleeps: Sleeps,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipelines.ingest import Ingestor

    original = Ingestor._prepared
    calls = {"n": 0}

    def failing(self: Ingestor, record: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return original(self, record)  # type: ignore[arg-type]

    monkeypatch.setattr(Ingestor, "_prepared", failing)
    with pytest.raises(OSError):
        engine(database).run("zendesk", connector(api, sleeps, chunk_tickets=3))
    assert stored(database) == {}  # the first message of the page was rolled back with it
    state = sync_state(database, "zendesk")
    assert state is not None and state.cursor is None


def test_request_budget_stops_cleanly_and_the_next_sync_finishes(
    database: Database, fake: FakeZendesk, api: FakeApi, sleeps: Sleeps
) -> None:
    limited = connector(api, sleeps)
    limited.http.policy = HttpPolicy(max_requests=4, backoff_base=0.01)
    partial = engine(database).run("zendesk", limited)
    assert not partial.complete and partial.error and "budget" in partial.error
    state = sync_state(database, "zendesk")
    assert state is not None and state.last_success_at is None and state.cursor
    assert 0 < len(stored(database)) < len(upstream(fake))
    final = engine(database).run("zendesk", connector(api, sleeps))
    assert final.complete and {k: m["text"] for k, m in stored(database).items()} == upstream(fake)
