"""Intercom connector against a local fake of the conversations API."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime

import pytest

from connectors.base import Page
from connectors.errors import AuthenticationError
from connectors.http import HttpPolicy, VendorHttp
from connectors.intercom import IntercomConnector, IntercomOptions, intercom_client
from sentiment_service.storage.database import Database
from tests.connectors.conftest import Sleeps, engine, make_accounts, stored, sync_state
from tools.fake_vendors.intercom_fake import FakeIntercom
from tools.fake_vendors.server import FakeApi, Fault

NOW = 1_790_000_000.0
POLICY = HttpPolicy(read_timeout=0.3, backoff_base=0.01)


@pytest.fixture
def fake() -> FakeIntercom:
    """Three conversations: two customers of acme (one by company, one by domain), one unknown."""
    intercom = FakeIntercom()
    intercom.add_company("u1", "ic-co-1", "acme-external")
    intercom.add_conversation("101", "u1", "kim@acme.example", "<p>Export <b>broken</b> again</p>")
    intercom.add_part("101", "p1", "admin", "<p>Sorry! Looking&nbsp;now.</p>")
    intercom.add_part("101", "p2", "bot", None, part_type="assignment")
    intercom.add_part("101", "p3", "user", "<p>Thanks, works now.<br>Great job</p>")
    intercom.add_conversation("102", "u2", "lee@acme.example", "Invoice question")
    intercom.add_part("102", "p4", "bot", "<p>A teammate will reply soon.</p>")
    intercom.add_conversation("103", "u3", "max@unknown.example", "Who am I?")
    return intercom


@pytest.fixture
def api(fake: FakeIntercom) -> Iterator[FakeApi]:
    """The fake served on a free local port."""
    with FakeApi(fake, stall_seconds=0.6) as server:
        yield server


@pytest.fixture(autouse=True)
def accounts(database: Database) -> None:
    """acme is Intercom company ic-co-1."""
    make_accounts(database, {"acme": {"intercom": "ic-co-1"}})


def connector(api: FakeApi, sleeps: Sleeps, token: str = "ic-token") -> IntercomConnector:
    """A connector on the fake, two conversations per listing page."""
    client = intercom_client(api.url, token, policy=POLICY)
    http = VendorHttp(client, policy=POLICY, sleep=sleeps, wallclock=lambda: NOW)
    return IntercomConnector(http, IntercomOptions(per_page=2))


def test_sync_maps_parts_roles_html_and_accounts(
    database: Database, api: FakeApi, sleeps: Sleeps
) -> None:
    run = engine(database, domains={"acme.example": "acme"})
    summary = run.run("intercom", connector(api, sleeps))
    messages = stored(database)
    assert {k: (m["text"], m["role"], m["account"], m["thread"]) for k, m in messages.items()} == {
        "conversation-101": ("Export broken again", "customer", "acme", "conversation-101"),
        "part-p1": ("Sorry! Looking\xa0now.", "agent", "acme", "conversation-101"),
        "part-p3": ("Thanks, works now.\nGreat job", "customer", "acme", "conversation-101"),
        "conversation-102": ("Invoice question", "customer", "acme", "conversation-102"),
        "part-p4": ("A teammate will reply soon.", "bot", "acme", "conversation-102"),
    }
    assert summary.quarantined == 1 and summary.complete
    assert all(m["source"] == "chat" and m["system"] == "intercom" for m in messages.values())
    assert api.requests[0].headers["intercom-version"] == "2.11"


def test_rate_limit_reset_faults_and_incremental_second_pass(
    database: Database, fake: FakeIntercom, api: FakeApi, sleeps: Sleeps
) -> None:
    api.inject(
        Fault("status", 429, {"X-RateLimit-Reset": str(int(NOW) + 5)}),
        Fault("status", 503, path_contains="/conversations/"),
        Fault("truncated", path_contains="/conversations"),
    )
    run = engine(database, domains={"acme.example": "acme"})
    first = run.run("intercom", connector(api, sleeps))
    assert 5.0 in sleeps and first.retries == 3
    fake.edit_part("101", "p3", body="", redacted=True)
    seen = len(api.requests)
    second = run.run("intercom", connector(api, sleeps))
    fetched = {r.path for r in api.requests[seen:] if r.path.startswith("/conversations/")}
    # 101 changed; 103 carries the high-water second, which is re-read on purpose (inclusive).
    assert fetched == {"/conversations/101", "/conversations/103"}
    messages = stored(database)
    assert messages["part-p3"]["text"] == "[redacted upstream]"
    assert messages["part-p3"]["extra"]["redacted"] is True
    assert (second.updated, second.stored, len(messages)) == (1, 0, 5)


def test_crash_resumes_from_starting_after(
    database: Database, fake: FakeIntercom, api: FakeApi, sleeps: Sleeps
) -> None:
    class Crashing(IntercomConnector):
        def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
            yield from itertools.islice(super().pages(cursor, since), 1)
            raise OSError("killed")

    base = connector(api, sleeps)
    run = engine(database, domains={"acme.example": "acme"})
    with pytest.raises(OSError):
        run.run("intercom", Crashing(base.http, base.options))
    assert set(stored(database)) == {"conversation-102", "part-p4"}  # newest first; 103 unknown
    seen = len(api.requests)
    run.run("intercom", connector(api, sleeps))
    assert api.requests[seen].query.get("starting_after")
    assert set(stored(database)) == {
        "conversation-101",
        "part-p1",
        "part-p3",
        "conversation-102",
        "part-p4",
    }
    state = sync_state(database, "intercom")
    assert state is not None and state.last_success_at is not None and state.last_error is None


def test_bad_token_stops_without_marking_synced(
    database: Database, api: FakeApi, sleeps: Sleeps
) -> None:
    with pytest.raises(AuthenticationError):
        engine(database).run("intercom", connector(api, sleeps, token="nope"))
    state = sync_state(database, "intercom")
    assert state is not None and state.cursor is None and state.last_success_at is None
    assert stored(database) == {}
