"""Issue 17, defects 2 and 4: author roles never degrade silently (Zendesk, Intercom, HubSpot),
comments are fetched by a bounded pool, progress is logged, and every summary adds up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from connectors.base import SyncSummary
from connectors.crm_notes import HubSpotNotesConnector, HubSpotOptions, hubspot_client
from connectors.http import HttpPolicy, VendorHttp
from connectors.intercom import IntercomConnector, IntercomOptions, intercom_client
from connectors.zendesk import ROLES, ZendeskConnector, ZendeskOptions, zendesk_client
from sentiment_service.storage.database import Database
from tests.connectors.conftest import Sleeps, engine, make_accounts, stored
from tests.connectors.test_social_and_crm import FakeHubSpot
from tools.fake_vendors.intercom_fake import FakeIntercom
from tools.fake_vendors.server import FakeApi, Reply, Request
from tools.fake_vendors.zendesk_fake import (
    FakeZendesk,
    generate,
    generate_adversarial,
)

POLICY = HttpPolicy(read_timeout=0.3, connect_timeout=0.5, backoff_base=0.01)
SHOW_MANY = "/api/v2/users/show_many.json"


@pytest.fixture(autouse=True)
def accounts(database: Database) -> None:
    """Zendesk organisations 100 and 101, Intercom company ic-co-1, HubSpot company 501."""
    make_accounts(
        database,
        {
            "acme": {"zendesk": "100", "intercom": "ic-co-1", "hubspot": "501"},
            "globex": {"zendesk": "101"},
        },
    )


def zendesk(
    api: FakeApi, sleeps: Sleeps | None = None, *, patient: bool = False, **options: int
) -> ZendeskConnector:
    """A Zendesk connector on the fake (real sleeps unless `sleeps` is given; `patient`
    waits for slow answers instead of timing out)."""
    policy = HttpPolicy(read_timeout=5.0, backoff_base=0.01) if patient else POLICY
    client = zendesk_client(api.url, "ops@example.com", "secret-token", policy=policy)
    http = VendorHttp(client, policy=policy, sleep=sleeps if sleeps is not None else time.sleep)
    return ZendeskConnector(http, ZendeskOptions(**{"chunk_tickets": 5, **options}))


def true_roles(fake: FakeZendesk) -> dict[str, str]:
    """external id -> the role of the comment's author as Zendesk knows it."""
    return {
        f"c-{c['id']}": ROLES[fake.users[c["author_id"]]["role"]]
        for comments in fake.comments.values()
        for c in comments
    }


def adds_up(summary: SyncSummary) -> bool:
    """Every fetched record ended in exactly one outcome."""
    parts = (
        summary.stored,
        summary.updated,
        summary.flagged_duplicates,
        summary.duplicates,
        summary.quarantined,
        summary.skipped,
    )
    return summary.fetched == sum(parts)


def test_without_user_sideloads_authors_are_looked_up_in_batches_of_100(
    database: Database,
) -> None:
    fake = FakeZendesk(sideload_users=False)
    generate(fake, tickets=130, comments=260, orgs=2)
    with FakeApi(fake) as api:
        summary = engine(database).run("zendesk", zendesk(api, chunk_tickets=130))
        asked = [r.query["ids"].split(",") for r in api.requests if r.path == SHOW_MANY]
    messages = stored(database)
    assert {key: m["role"] for key, m in messages.items()} == true_roles(fake)
    assert {m["account"] for m in messages.values()} == {"acme", "globex"}
    ids = [i for batch in asked for i in batch]
    assert len(asked) == 2 and all(len(batch) <= 100 for batch in asked)
    assert len(ids) == len(set(ids)) == 132  # 130 requesters and 2 agents, each asked once
    assert summary.unresolved_authors == 0 and adds_up(summary)


def test_deleted_authors_are_logged_counted_and_take_a_role_only_from_the_ticket(
    database: Database,
) -> None:
    fake = FakeZendesk(sideload_users=False)
    fake.add_user(1, "agent", "agent@vendor.example")
    fake.add_user(7, "agent", "gone-agent@vendor.example")
    fake.add_user(1001, "end-user", "pat@org100.example")
    fake.add_user(1002, "end-user", "sam@org100.example")
    fake.add_user(4242, "end-user", "stranger@else.example")
    fake.gone.update({7, 1001, 4242, 5555})  # deleted: show_many no longer returns them
    fake.add_ticket(1, 100, 1001)
    fake.assign(1, 7)
    fake.add_comment(1, 11, 1001, "The requester, deleted since.")
    fake.add_comment(1, 12, 7, "The assignee, deleted since.")
    fake.add_comment(1, 13, 1, "An agent everyone knows.")
    fake.add_ticket(2, 100, 1002)
    fake.add_comment(2, 21, 4242, "Someone nobody knows.")
    fake.add_comment(2, 22, 5555, "Forwarded by mail from the requester's company.")
    fake.comments[2][-1]["via"] = {
        "channel": "email",
        "source": {"from": {"address": "boss@org100.example"}, "to": {}},
    }
    with FakeApi(fake) as api, capture_logs() as logs:
        summary = engine(database).run("zendesk", zendesk(api))
    roles = {key: m["role"] for key, m in stored(database).items()}
    assert roles == {
        "c-11": "customer",
        "c-12": "agent",
        "c-13": "agent",
        "c-21": "unknown",
        "c-22": "customer",
    }
    assert summary.unresolved_authors == 4 and adds_up(summary)
    [warning] = [line for line in logs if line["event"] == "zendesk.unresolved_authors"]
    assert warning["log_level"] == "warning" and warning["messages"] == 4
    assert set(warning["authors"]) == {7, 1001, 4242, 5555}
    assert (warning["role_from_ticket"], warning["role_unknown"]) == (3, 1)


def test_summary_adds_up_with_repeats_quarantines_flags_and_unresolved_authors(
    database: Database,
) -> None:
    fake = FakeZendesk()
    roles = generate_adversarial(fake, tickets=40, comments=200, orgs=2, gone_share=0.1)
    fake.add_user(9001, "end-user", "pat@initech.example")
    fake.add_ticket(900, 999, 9001)  # an organisation we do not know: quarantined
    fake.add_comment(900, 9901, 9001, "Thanks, that fixed it.")
    fake.add_ticket(901, 100, 9001)
    fake.add_comment(901, 9902, 1, "We are looking into it and will get back to you shortly.")
    fake.add_comment(901, 9903, 1, "We are looking into it and will get back to you shortly.")
    fake.add_comment(901, 9904, 9001, "x" * 20_001)  # too long: refused by validation
    roles.update({"c-9901": "customer", "c-9902": "agent", "c-9903": "agent"})
    with FakeApi(fake) as api:
        first = engine(database).run("zendesk", zendesk(api, Sleeps()))
        fake.edit_comment(1, fake.comments[1][0]["id"], "Edited upstream.")
        again = engine(database).run(
            "zendesk", zendesk(api, Sleeps()), since=datetime(2026, 1, 1, tzinfo=UTC)
        )
    messages = stored(database)
    upstream = {f"c-{c['id']}" for comments in fake.comments.values() for c in comments}
    assert set(messages) == upstream - {"c-9901", "c-9904"}  # no repeated text was dropped
    assert all(m["role"] == roles[key] for key, m in messages.items())
    for summary in (first, again):
        assert adds_up(summary), summary.as_dict()
        assert sum(summary.quarantine_reasons.values()) == summary.quarantined
    assert first.quarantine_reasons == {"unresolved_account": 1, "text_too_long": 1}
    assert first.flagged_duplicates >= 1 and first.unresolved_authors > 0
    assert first.fetched == len(upstream) and first.stored + first.flagged_duplicates == len(
        messages
    )
    assert again.updated == 1 and again.duplicates == len(messages) - 1


def test_one_slow_ticket_holds_up_one_worker_not_the_sync(database: Database) -> None:
    fake = FakeZendesk()
    generate(fake, tickets=16, comments=16, orgs=2)
    delay = 0.75
    fake.slow_tickets = {ticket: delay for ticket in range(1, 9)}  # 8 slow tickets
    serial = 8 * delay
    with FakeApi(fake) as api:
        started = time.monotonic()
        connector = zendesk(api, patient=True, workers=4, chunk_tickets=16)
        summary = engine(database).run("zendesk", connector)
        took = time.monotonic() - started
    assert summary.complete and summary.stored == len(true_roles(fake))
    assert took < serial / 2, f"{took:.2f} s against {serial:.2f} s one request at a time"


def test_a_rate_limit_holds_back_the_other_workers(database: Database) -> None:
    fake = FakeZendesk()
    generate(fake, tickets=200, comments=200, orgs=2)
    arrivals: list[tuple[float, str]] = []
    limited: list[float] = []
    lock = threading.Lock()

    def timed(request: Request) -> Reply:
        with lock:
            if "/tickets/3/" in request.path and not limited:
                limited.append(time.monotonic())
                return Reply(429, {"error": "slow down"}, {"Retry-After": "1"})
            arrivals.append((time.monotonic(), request.path))
        return fake(request)

    with FakeApi(timed) as api:
        connector = zendesk(api, patient=True, workers=4, chunk_tickets=50)
        summary = engine(database).run("zendesk", connector)
    assert summary.complete and summary.retries == 1 and connector.stats.rate_limited == 1
    [limited_at] = limited
    during = [path for t, path in arrivals if limited_at + 0.05 < t < limited_at + 0.9]
    assert len(arrivals) > 200 and any(t > limited_at + 0.9 for t, _ in arrivals)
    assert during == [], during  # nobody ran into the limit while it lasted


def test_progress_lines_are_logged_without_the_progress_bar(database: Database) -> None:
    fake = FakeZendesk()
    generate(fake, tickets=6, comments=6, orgs=2)
    fake.slow_tickets = {6: 0.8}
    with FakeApi(fake) as api, capture_logs() as logs:
        run = engine(database, log_every_seconds=0.2)
        summary = run.run("zendesk", zendesk(api, patient=True, chunk_tickets=3))
    events = [line["event"] for line in logs]
    assert events.count("sync.page") == summary.pages == 2
    assert "sync.progress" in events  # a heartbeat while the slow ticket was pending
    assert events[-1] == "sync.finished"
    last = logs[-1]
    assert last["complete"] is True and last["records"] == summary.fetched
    for key in ("pages", "requests", "retries", "rate_limited", "records_per_second"):
        assert key in last


@pytest.fixture
def intercom_api() -> Iterator[FakeApi]:
    """Authors without a type: a contact, an admin, a stranger of the customer's domain and
    one nobody knows."""
    fake = FakeIntercom()
    fake.add_company("u1", "ic-co-1", "acme-external")
    fake.add_contact("u9", "dana@acme.example", role="lead")
    fake.add_admin("a7", "ops@vendor.example")
    fake.add_conversation("101", "u1", "kim@acme.example", "Export broken again")
    for part, author in (
        ("p1", {"id": "u9"}),
        ("p2", {"id": "a7", "name": "Ops"}),
        ("p3", {"id": "u1"}),
        ("p4", {"id": "x1", "email": "new@acme.example"}),
        ("p5", {"id": "x2", "email": "who@else.example"}),
        ("p6", {"id": "x2"}),
    ):
        fake.add_part("101", part, "admin", f"<p>Part {part}</p>", author=author)
    with FakeApi(fake) as server:
        yield server


def test_intercom_authors_without_a_type_are_looked_up_once_then_counted(
    database: Database, intercom_api: FakeApi, sleeps: Sleeps
) -> None:
    client = intercom_client(intercom_api.url, "ic-token", policy=POLICY)
    http = VendorHttp(client, policy=POLICY, sleep=sleeps)
    with capture_logs() as logs:
        summary = engine(database).run("intercom", IntercomConnector(http, IntercomOptions()))
    roles = {key: m["role"] for key, m in stored(database).items()}
    assert roles == {
        "conversation-101": "customer",
        "part-p1": "customer",
        "part-p2": "agent",
        "part-p3": "customer",
        "part-p4": "customer",
        "part-p5": "unknown",
        "part-p6": "unknown",
    }
    assert summary.unresolved_authors == 3 and adds_up(summary)
    looked_up = [r.path for r in intercom_api.requests if r.path.startswith("/contacts/x2")]
    assert looked_up == ["/contacts/x2"]  # remembered for the rest of the sync
    [warning] = [line for line in logs if line["event"] == "intercom.unresolved_authors"]
    assert warning["authors"] == ["x1", "x2"] and warning["messages"] == 3


def test_hubspot_notes_without_an_owner_are_counted_and_keep_the_csm_role(
    database: Database, sleeps: Sleeps
) -> None:
    fake = FakeHubSpot()
    fake.notes[0]["properties"]["hubspot_owner_id"] = "77"
    with FakeApi(fake) as api:
        http = VendorHttp(hubspot_client(api.url, "hs-token", policy=POLICY), sleep=sleeps)
        summary = engine(database).run("hubspot", HubSpotNotesConnector(http, HubSpotOptions()))
    messages = stored(database)
    assert {m["role"] for m in messages.values()} == {"csm"}
    assert messages["note-1"]["extra"]["owner_id"] == "77"
    assert summary.unresolved_authors == 2 and adds_up(summary)  # notes 2 and 3
