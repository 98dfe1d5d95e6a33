"""Freshdesk connector against a local fake of the v2 tickets, conversations and contacts API."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from connectors.base import Page, SyncSummary
from connectors.cli import sync_command
from connectors.config import FreshdeskConfig, load_config
from connectors.errors import AuthenticationError, ConfigError, ConnectorError
from connectors.freshdesk import FreshdeskConnector, FreshdeskOptions, freshdesk_client
from connectors.http import HttpPolicy, VendorHttp
from connectors.registry import Runtime, build_connector, close_connector
from sentiment_service.storage.database import Database
from tests.connectors.conftest import (
    Sleeps,
    engine,
    make_accounts,
    quarantine_codes,
    stored,
    sync_state,
)
from tools.fake_vendors.freshdesk_fake import FakeFreshdesk, basic, generate
from tools.fake_vendors.server import FakeApi, Fault, Reply, Request

KEY = "fd-api-key"
POLICY = HttpPolicy(read_timeout=0.3, connect_timeout=0.5, backoff_base=0.01)


@pytest.fixture
def fake() -> FakeFreshdesk:
    """Six tickets over two companies: a description and about two conversations each."""
    freshdesk = FakeFreshdesk(api_key=KEY)
    generate(freshdesk, tickets=6, conversations=14, companies=2)
    return freshdesk


@pytest.fixture
def api(fake: FakeFreshdesk) -> Iterator[FakeApi]:
    """The fake served on a free local port."""
    with FakeApi(fake, stall_seconds=0.6) as server:
        yield server


@pytest.fixture(autouse=True)
def accounts(database: Database) -> None:
    """Our two accounts, linked to Freshdesk companies 100 and 101."""
    make_accounts(database, {"acme": {"freshdesk": "100"}, "globex": {"freshdesk": "101"}})


def connector(
    api: FakeApi, sleeps: Sleeps, key: str = KEY, **options: int | bool
) -> FreshdeskConnector:
    """A connector talking to the fake with small pages (so paging is exercised)."""
    client = freshdesk_client(api.url, key, policy=POLICY)
    http = VendorHttp(client, policy=POLICY, sleep=sleeps)
    settings: dict[str, int | bool] = {
        "per_page": 2,
        "chunk_tickets": 1,
        "conversations_per_page": 2,
        **options,
    }
    return FreshdeskConnector(http, FreshdeskOptions(**settings))  # type: ignore[arg-type]


def upstream(fake: FakeFreshdesk) -> dict[str, str]:
    """external id -> text of every description and conversation of every live ticket."""
    texts: dict[str, str] = {}
    for ticket_id, ticket in fake.tickets.items():
        if ticket["deleted"]:
            continue
        texts[f"d-{ticket_id}"] = ticket["description_text"]
        for conversation in fake.conversations[ticket_id]:
            if conversation["body_text"]:
                texts[f"c-{conversation['id']}"] = conversation["body_text"]
    return texts


def texts(database: Database) -> dict[str, str]:
    """external id -> stored text."""
    return {key: row["text"] for key, row in stored(database).items()}


def assert_adds_up(summary: SyncSummary) -> None:
    """Every fetched record ended in exactly one of the summary's outcomes."""
    outcomes = (
        summary.stored,
        summary.updated,
        summary.flagged_duplicates,
        summary.duplicates,
        summary.quarantined,
        summary.skipped,
    )
    assert summary.fetched == sum(outcomes), summary.as_dict()
    assert summary.quarantined == sum(summary.quarantine_reasons.values())


def list_requests(api: FakeApi) -> list[dict[str, str]]:
    """The query of every ticket listing the fake answered."""
    return [r.query for r in api.requests if r.path == "/api/v2/tickets"]


def test_full_sync_stores_descriptions_and_conversations_once_with_roles_and_threads(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    summary = engine(database).run("freshdesk", connector(api, sleeps))
    messages = stored(database)
    assert texts(database) == upstream(fake)
    ticket = fake.tickets[1]
    description = messages["d-1"]
    assert description["account"] == "globex"  # ticket 1 -> company 101
    assert (description["role"], description["thread"], description["source"]) == (
        "customer",
        "ticket-1",
        "ticket",
    )
    assert description["created_at"] == datetime.fromisoformat(ticket["created_at"]).astimezone(UTC)
    assert description["extra"]["kind"] == "description"
    for ticket_id, conversations in fake.conversations.items():
        requester = fake.tickets[ticket_id]["requester_id"]
        for conversation in conversations:
            row = messages[f"c-{conversation['id']}"]
            expected = "customer" if conversation["user_id"] == requester else "agent"
            assert row["role"] == expected and row["thread"] == f"ticket-{ticket_id}"
            assert row["extra"]["private"] is conversation["private"]
            assert row["extra"]["kind"] == ("note" if conversation["private"] else "reply")
    roles = {(m["role"], m["extra"]["kind"]) for m in messages.values()}
    assert {("customer", "reply"), ("agent", "reply"), ("agent", "note")} <= roles
    assert (summary.stored, summary.updated, summary.quarantined) == (len(upstream(fake)), 0, 0)
    assert summary.unresolved_authors == 0 and summary.complete and summary.error is None
    assert_adds_up(summary)
    first = list_requests(api)[0]
    assert first["updated_since"] == "2000-01-01T00:00:00Z"
    assert (first["order_by"], first["order_type"], first["per_page"]) == ("updated_at", "asc", "2")
    assert set(first["include"].split(",")) == {"requester", "description"}
    assert api.requests[0].headers["authorization"] == basic(KEY)
    state = sync_state(database, "freshdesk")
    assert state is not None and state.cursor and state.last_success_at is not None


def test_incremental_sync_fetches_only_what_changed_since_the_stored_cursor(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    engine(database).run("freshdesk", connector(api, sleeps))
    seen = len(api.requests)
    again = engine(database).run("freshdesk", connector(api, sleeps))
    assert (again.fetched, again.stored) == (0, 0)
    resumed = list_requests(api)[-1]
    last_update = max(t["updated_at"] for t in fake.tickets.values())
    assert resumed["updated_since"] < last_update <= _plus_one(resumed["updated_since"])
    assert not any("conversations" in r.path for r in api.requests[seen:])  # nothing re-read
    note = fake.conversations[2][0]
    fake.edit_conversation(2, note["id"], "Edited: escalated to engineering.")
    fake.add_conversation(4, 9001, fake.tickets[4]["requester_id"], "Works again, thank you!")
    fake.add_contact(7001, "new@org100.example", 100)
    fake.add_ticket(70, 7001, 100, "A brand new ticket.")
    seen = len(api.requests)
    third = engine(database).run("freshdesk", connector(api, sleeps))
    conversation_reads = {r.path for r in api.requests[seen:] if "conversations" in r.path}
    assert conversation_reads == {f"/api/v2/tickets/{t}/conversations" for t in (2, 4, 70)}
    assert (third.stored, third.updated) == (2, 1)  # new reply + new description; one edit
    assert texts(database) == upstream(fake)
    assert stored(database)[f"c-{note['id']}"]["extra"]["edited_at"]
    assert_adds_up(third)


def _plus_one(stamp: str) -> str:
    moved = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() + 1
    return datetime.fromtimestamp(moved, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_rate_limits_wait_as_long_as_retry_after_says(
    database: Database, fake: FakeFreshdesk, sleeps: Sleeps
) -> None:
    fake.rate_limit, fake.retry_after = 5, 4
    with FakeApi(fake) as api:
        api.inject(Fault("status", 429, {"Retry-After": "7"}, path_contains="conversations"))
        summary = engine(database).run("freshdesk", connector(api, sleeps))
    assert texts(database) == upstream(fake)
    assert fake.throttled > 1 and summary.retries == fake.throttled + 1
    assert sleeps.count(7.0) == 1 and sleeps.count(4.0) == fake.throttled
    assert all(s <= 7.0 for s in sleeps)  # the other workers hold back, never longer
    assert summary.complete
    assert_adds_up(summary)


def test_server_errors_timeouts_and_broken_bodies_are_retried(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    api.inject(
        Fault("status", 500, path_contains="conversations"),
        Fault("status", 502, path_contains="/api/v2/tickets"),
        Fault("status", 503),
        Fault("timeout", path_contains="conversations"),
        Fault("truncated", path_contains="/api/v2/tickets"),
        Fault("invalid_json", path_contains="conversations"),
    )
    summary = engine(database).run("freshdesk", connector(api, sleeps))
    assert texts(database) == upstream(fake)
    assert summary.retries == 6 and api.faults_served == 6
    assert_adds_up(summary)


def test_slow_answers_and_random_faults_with_a_crash_still_store_exactly_upstream(
    database: Database, sleeps: Sleeps
) -> None:
    freshdesk = FakeFreshdesk(api_key=KEY)
    generate(freshdesk, tickets=20, conversations=50, companies=2, repeated=0.3)

    class Crashing(FreshdeskConnector):
        def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
            yield from itertools.islice(super().pages(cursor, since), 9)
            raise OSError("killed")

    with FakeApi(freshdesk, fail_rate=0.1, seed=3, stall_seconds=0.4, delay_seconds=0.002) as api:
        first = connector(api, sleeps, chunk_tickets=2)
        with pytest.raises(OSError):
            engine(database).run("freshdesk", Crashing(first.http, first.options))
        partial = len(stored(database))
        summary = engine(database).run("freshdesk", connector(api, sleeps, chunk_tickets=2))
        assert api.faults_served > 0
    assert 0 < partial < len(upstream(freshdesk))
    assert texts(database) == upstream(freshdesk)  # nothing missing, nothing extra
    assert summary.stored == len(upstream(freshdesk)) - partial and summary.complete
    assert_adds_up(summary)


def test_conversations_are_fetched_by_a_bounded_pool_so_a_stall_delays_one_ticket(
    database: Database, fake: FakeFreshdesk, sleeps: Sleeps
) -> None:
    gate = threading.Lock()
    flight = {"now": 0, "most": 0}

    def handler(request: Request) -> Reply:
        if "conversations" not in request.path:
            return fake(request)
        with gate:
            flight["now"] += 1
            flight["most"] = max(flight["most"], flight["now"])
        time.sleep(0.15)  # a slow vendor
        with gate:
            flight["now"] -= 1
        return fake(request)

    with FakeApi(handler, stall_seconds=0.6) as api:
        api.inject(Fault("timeout", path_contains="/tickets/1/conversations"))
        summary = engine(database).run(
            "freshdesk", connector(api, sleeps, per_page=10, chunk_tickets=2, workers=3)
        )
    assert texts(database) == upstream(fake) and summary.retries == 1
    assert flight["most"] == 3  # concurrent, and never more than the configured workers


def test_bad_api_key_stops_the_sync_with_a_clear_error_and_marks_nothing_synced(
    database: Database, api: FakeApi, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as raised:
        engine(database).run("freshdesk", connector(api, sleeps, key="wrong-key"))
    assert "401" in str(raised.value) and "credentials" in str(raised.value)
    assert "wrong-key" not in str(raised.value) and "wrong-key" not in caplog.text
    state = sync_state(database, "freshdesk")
    assert state is not None and state.cursor is None and state.last_success_at is None
    assert state.last_error and state.last_error.startswith("authentication failed")
    assert stored(database) == {} and len(api.requests) == 1


def test_restart_after_a_crash_resumes_from_the_committed_cursor(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    class Crashing(FreshdeskConnector):
        def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
            yield from itertools.islice(super().pages(cursor, since), 4)
            raise OSError("killed")

    first = connector(api, sleeps)
    with pytest.raises(OSError):
        engine(database).run("freshdesk", Crashing(first.http, first.options))
    partial = stored(database)
    assert 0 < len(partial) < len(upstream(fake))
    state = sync_state(database, "freshdesk")
    assert state is not None and state.cursor and state.last_success_at is None
    position = json.loads(state.cursor)
    seen = len(api.requests)
    summary = engine(database).run("freshdesk", connector(api, sleeps))
    resumed_with = api.requests[seen].query
    assert resumed_with["updated_since"] == position["since"] != "2000-01-01T00:00:00Z"
    reread = {r.path for r in api.requests[seen:] if "conversations" in r.path}
    finished = {int(v.split("@")[0]) for v in position["done"]}
    assert not any(f"/tickets/{t}/" in path for t in finished for path in reread)
    assert texts(database) == upstream(fake)
    assert summary.stored == len(upstream(fake)) - len(partial)
    assert summary.duplicates == 0
    assert_adds_up(summary)


def test_texts_repeated_across_tickets_and_roles_are_all_stored(
    database: Database, sleeps: Sleeps
) -> None:
    freshdesk = FakeFreshdesk(api_key=KEY)
    generate(freshdesk, tickets=12, conversations=40, companies=1, repeated=0.6)
    by_text: dict[str, set[tuple[int, bool]]] = defaultdict(set)
    for ticket_id, conversations in freshdesk.conversations.items():
        for conversation in conversations:
            by_text[conversation["body_text"]].add((ticket_id, conversation["incoming"]))
    across_roles = [t for t, where in by_text.items() if {w[1] for w in where} == {True, False}]
    assert across_roles  # the same words from a customer on one ticket, an agent on another
    with FakeApi(freshdesk) as api:
        summary = engine(database).run("freshdesk", connector(api, sleeps))
    assert texts(database) == upstream(freshdesk)
    assert summary.stored == len(upstream(freshdesk)) and summary.duplicates == 0
    assert_adds_up(summary)


def test_an_agents_canned_repeat_in_one_ticket_is_stored_flagged_and_counted(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    fake.add_conversation(1, 9101, 1, "We are looking into it and will update you shortly.")
    fake.add_conversation(1, 9102, 1, "We are looking into it and will update you shortly.")
    summary = engine(database).run("freshdesk", connector(api, sleeps))
    assert texts(database) == upstream(fake)
    assert (summary.stored, summary.flagged_duplicates) == (len(upstream(fake)) - 1, 1)
    assert stored(database)["c-9102"]["role"] == "agent"
    assert_adds_up(summary)


def test_page_limit_is_never_hit_because_updated_since_moves_after_each_page(
    database: Database, sleeps: Sleeps
) -> None:
    freshdesk = FakeFreshdesk(api_key=KEY, max_page=2)
    generate(freshdesk, tickets=12, conversations=20, companies=2)
    with FakeApi(freshdesk) as api:
        summary = engine(database).run("freshdesk", connector(api, sleeps, chunk_tickets=5))
        pages = [int(q["page"]) for q in list_requests(api)]
        since = [q["updated_since"] for q in list_requests(api)]
    assert summary.complete and texts(database) == upstream(freshdesk)
    assert max(pages) <= 2 and since == sorted(since) and len(set(since)) > 5


def test_a_ticket_updated_mid_sync_does_not_push_another_out_of_the_listing(
    database: Database, fake: FakeFreshdesk, sleeps: Sleeps
) -> None:
    listings = {"n": 0}

    def handler(request: Request) -> Reply:
        reply = fake(request)
        if request.path == "/api/v2/tickets" and "filter" not in request.query:
            listings["n"] += 1
            if listings["n"] == 1:  # ticket 1, already served, is updated: it moves to the end
                fake.add_conversation(1, 9201, fake.tickets[1]["requester_id"], "One more thing.")
        return reply

    with FakeApi(handler) as api:
        summary = engine(database).run("freshdesk", connector(api, sleeps, chunk_tickets=2))
    assert texts(database) == upstream(fake)  # ticket 3 (first of "page 2") is not lost
    assert summary.complete


def test_more_tickets_in_one_second_than_a_page_are_paged_within_that_second(
    database: Database, sleeps: Sleeps
) -> None:
    freshdesk = FakeFreshdesk(api_key=KEY, max_page=4, step=0)
    generate(freshdesk, tickets=6, conversations=6, companies=2)
    assert len({t["updated_at"] for t in freshdesk.tickets.values()}) == 1
    with FakeApi(freshdesk) as api:
        summary = engine(database).run("freshdesk", connector(api, sleeps))
    assert summary.complete and texts(database) == upstream(freshdesk)
    assert summary.duplicates == 0


@pytest.mark.parametrize("configured_limit", [3, 300])
def test_more_tickets_in_one_second_than_the_page_limit_allows_is_a_clear_error(
    database: Database, sleeps: Sleeps, configured_limit: int
) -> None:
    freshdesk = FakeFreshdesk(api_key=KEY, max_page=3, step=0)
    generate(freshdesk, tickets=8, conversations=0, companies=2)
    with FakeApi(freshdesk) as api, pytest.raises(ConnectorError) as raised:
        engine(database).run("freshdesk", connector(api, sleeps, max_page=configured_limit))
    moment = next(iter(freshdesk.tickets.values()))["updated_at"]
    message = str(raised.value)
    assert "share updated_at" in message and "stops at page 3" in message
    assert _plus_one(message.split("updated_at ")[1].split(" ")[0]) == moment
    asked = max(int(q["page"]) for q in list_requests(api))
    assert asked == (3 if configured_limit == 3 else 4)  # 4: refused by Freshdesk (400)
    reachable = {k: v for k, v in upstream(freshdesk).items() if _ticket_of(freshdesk, k) <= 6}
    assert texts(database) == reachable  # what the pages reached is committed
    state = sync_state(database, "freshdesk")
    assert state is not None and state.cursor and state.last_error


def _ticket_of(fake: FakeFreshdesk, external_id: str) -> int:
    if external_id.startswith("d-"):
        return int(external_id[2:])
    number = int(external_id[2:])
    return next(t for t, cs in fake.conversations.items() if any(c["id"] == number for c in cs))


def test_missing_requesters_are_looked_up_once_and_unmatched_ones_quarantined(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    fake.add_contact(8001, "sam@acme.example")  # no company, listing leaves the requester out
    fake.add_ticket(80, 8001, None, "Our domain is all you know about us.")
    fake.add_conversation(80, 9301, 1, "Which plan are you on?")
    fake.add_ticket(81, 8001, None, "A second ticket from the same person.")
    fake.add_contact(8002, None)  # phone-only, no company
    fake.add_ticket(82, 8002, None, "Called in about the invoice.", source=3)
    fake.omit_requesters.update({80, 81, 82})
    summary = engine(database, domains={"acme.example": "acme"}).run(
        "freshdesk", connector(api, sleeps)
    )
    messages = stored(database)
    assert messages["d-80"]["account"] == messages["c-9301"]["account"] == "acme"
    assert messages["d-81"]["account"] == "acme" and "d-82" not in messages
    assert quarantine_codes(database) == ["unresolved_account"]
    contact_reads = [r.path for r in api.requests if r.path.startswith("/api/v2/contacts/")]
    assert sorted(contact_reads) == ["/api/v2/contacts/8001", "/api/v2/contacts/8002"]
    assert summary.quarantine_reasons == {"unresolved_account": 1}
    assert_adds_up(summary)


def test_roles_for_outbound_tickets_third_parties_and_unknown_authors(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    fake.add_ticket(90, 1001, 101, "Your renewal is coming up.", source=10)  # outbound email
    fake.add_contact(8003, "cc@org101.example", 101)
    fake.add_conversation(90, 9401, 8003, "Looping in our finance team.")  # incoming, not requester
    fake.add_conversation(90, 9402, 77, "Status changed.")
    for key in ("incoming", "private"):
        del fake.conversations[90][-1][key]  # neither says who wrote it
    fake.add_conversation(90, 9403, 1, "")  # attachments only
    summary = engine(database).run("freshdesk", connector(api, sleeps))
    messages = stored(database)
    assert messages["d-90"]["role"] == "agent" and messages["d-90"]["extra"]["channel"] == (
        "outbound_email"
    )
    assert messages["c-9401"]["role"] == "customer"
    assert messages["c-9402"]["role"] == "unknown" and summary.unresolved_authors == 1
    assert "c-9403" not in messages and summary.skipped == 1
    assert quarantine_codes(database) == []
    assert_adds_up(summary)


def test_deleted_tickets_keep_their_messages_flagged_deleted(
    database: Database, fake: FakeFreshdesk, api: FakeApi, sleeps: Sleeps
) -> None:
    engine(database).run("freshdesk", connector(api, sleeps))
    kept = {k for k, m in stored(database).items() if m["thread"] == "ticket-3"}
    fake.delete_ticket(3)
    second = engine(database).run("freshdesk", connector(api, sleeps))
    messages = stored(database)
    assert all(messages[key]["extra"]["deleted"] is True for key in kept)
    others = {k for k in messages if k not in kept}
    assert not any(messages[k]["extra"].get("deleted") for k in others)
    sweep = [q for q in list_requests(api) if q.get("filter") == "deleted"]
    assert len(sweep) == 1 and sweep[0]["updated_since"] == "2000-01-01T00:00:00Z"
    assert second.complete and second.stored == 0
    third = engine(database).run("freshdesk", connector(api, sleeps))
    sweep = [q for q in list_requests(api) if q.get("filter") == "deleted"]
    assert len(sweep) == 2 and sweep[1]["updated_since"] > "2000-01-01T00:00:00Z"
    assert third.complete and third.fetched == 0


def _noop() -> None:
    """A second command, so that `sync` is a subcommand as in the service CLI."""


CONFIG = """
connectors:
  - name: helpdesk
    type: freshdesk
    domain: acme
    credentials: {api_key: "${FD_KEY}"}
    start_time: 2026-09-01T00:00:00Z
    per_page: 2
"""


def test_config_builds_a_freshdesk_connector_and_explains_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(CONFIG)
    entry = load_config(path, env={"FD_KEY": "k"}).get("helpdesk")
    assert isinstance(entry, FreshdeskConfig)
    built = build_connector(entry, Runtime(max_requests=9))
    assert isinstance(built, FreshdeskConnector)
    assert built.http.client.base_url.host == "acme.freshdesk.com"
    assert built.options.start_time == datetime(2026, 9, 1, tzinfo=UTC)
    assert built.options.per_page == 2 and built.http.policy.max_requests == 9
    assert built.options.workers == 4
    close_connector(built)
    path.write_text(CONFIG.replace("    domain: acme\n", ""))
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={"FD_KEY": "k"})
    assert "give either domain or base_url" in str(raised.value)
    path.write_text(CONFIG.replace("per_page: 2", "per_page: 500"))
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={"FD_KEY": "k"})
    assert "per_page" in str(raised.value)


def test_sync_command_prints_a_summary_and_exits_2_on_a_bad_key(
    database: Database,
    database_url: str,
    tmp_path: Path,
    fake: FakeFreshdesk,
    api: FakeApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTIMENT_SERVICE_DATABASE_URL", database_url)
    monkeypatch.setenv("FD_KEY", KEY)
    path = tmp_path / "connectors.yaml"
    path.write_text(CONFIG.replace("2026-09-01", "2026-01-01"))
    app = typer.Typer()
    app.command("sync")(sync_command)
    app.command("noop")(_noop)
    args = ["sync", "helpdesk", "--config", str(path), "--base-url", api.url, "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["stored"] == len(upstream(fake)) == len(stored(database))
    assert summary["complete"] is True
    monkeypatch.setenv("FD_KEY", "bad-key")
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 2 and "authentication failed" in bad.output
    assert "bad-key" not in bad.output
