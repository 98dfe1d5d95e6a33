"""X recent search and HubSpot notes connectors against local fakes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.crm_notes import HubSpotNotesConnector, HubSpotOptions, hubspot_client
from connectors.errors import AuthenticationError
from connectors.http import HttpPolicy, VendorHttp
from connectors.social import XConnector, XOptions, x_client
from sentiment_service.storage.database import Database
from tests.connectors.conftest import Sleeps, engine, make_accounts, stored, sync_state
from tools.fake_vendors.server import FakeApi, Fault, Reply, Request

POLICY = HttpPolicy(read_timeout=0.3, backoff_base=0.01)
NOW = 1_790_000_000.0


def tweet(tid: int, author: str, text: str, lang: str = "en") -> dict[str, Any]:
    """A post with the requested tweet.fields."""
    return {
        "id": str(tid),
        "text": text,
        "author_id": author,
        "created_at": f"2026-10-0{tid % 9 + 1}T12:00:00.000Z",
        "lang": lang,
        "conversation_id": str(tid - tid % 2),
        "edit_history_tweet_ids": [str(tid)],
    }


class FakeX:
    """Recent search, newest first, `since_id` and `next_token` paging (2 per page)."""

    def __init__(self) -> None:
        self.posts = [
            tweet(11, "u1", "@brand your export is broken again"),
            tweet(12, "u2", "@brand love the new release"),
            tweet(13, "u3", "@brand we answered you in DM", lang="und"),
        ]
        self.users = {"u1": "AcmeOps", "u2": "randomfan", "u3": "brand"}

    def __call__(self, request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer x-token":
            return Reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401})
        assert request.query["expansions"] == "author_id"
        since = int(request.query.get("since_id", 0))
        rows = sorted((p for p in self.posts if int(p["id"]) > since), key=lambda p: -int(p["id"]))
        start = int(request.query.get("next_token", "0"))
        page = rows[start : start + 2]
        headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449"}
        if not page:
            return Reply(200, {"meta": {"result_count": 0}}, headers)
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if start + 2 < len(rows):
            meta["next_token"] = str(start + 2)
        users = [
            {"id": p["author_id"], "name": "N", "username": self.users[p["author_id"]]}
            for p in page
        ]
        return Reply(200, {"data": page, "includes": {"users": users}, "meta": meta}, headers)


@pytest.fixture(autouse=True)
def accounts(database: Database) -> None:
    """acme (HubSpot company 501)."""
    make_accounts(database, {"acme": {"hubspot": "501"}})


@pytest.fixture
def x_api() -> Iterator[FakeApi]:
    """The fake X API."""
    with FakeApi(FakeX()) as server:
        yield server


def x_connector(api: FakeApi, sleeps: Sleeps, token: str = "x-token") -> XConnector:
    """An X connector mapping @AcmeOps to acme; @brand is us."""
    http = VendorHttp(
        x_client(api.url, token, policy=POLICY), policy=POLICY, sleep=sleeps, wallclock=lambda: NOW
    )
    options = XOptions(
        "@brand -is:retweet", handles={"@acmeops": "acme"}, own_handles=frozenset({"brand"})
    )
    return XConnector(http, options)


def test_x_mentions_brand_level_and_mapped_then_since_id(
    database: Database, x_api: FakeApi, sleeps: Sleeps
) -> None:
    x_api.inject(Fault("status", 429, {"x-rate-limit-reset": str(int(NOW) + 12)}))
    summary = engine(database).run("x", x_connector(x_api, sleeps))
    messages = stored(database)
    assert {k: (m["account"], m["role"], m["thread"]) for k, m in messages.items()} == {
        "11": ("acme", "customer", "x-10"),
        "12": (None, "unknown", "x-12"),
        "13": (None, "agent", "x-12"),
    }
    assert all(m["source"] == "social" and m["system"] == "x" for m in messages.values())
    assert 12.0 in sleeps and summary.pages == 2
    fake: FakeX = x_api.handler  # type: ignore[assignment]
    fake.posts.append(tweet(14, "u2", "@brand still waiting"))
    seen = len(x_api.requests)
    second = engine(database).run("x", x_connector(x_api, sleeps))
    assert x_api.requests[seen].query["since_id"] == "13"
    assert second.stored == 1 and set(stored(database)) == {"11", "12", "13", "14"}


def test_x_bad_token(database: Database, x_api: FakeApi, sleeps: Sleeps) -> None:
    with pytest.raises(AuthenticationError):
        engine(database).run("x", x_connector(x_api, sleeps, token="bad"))
    state = sync_state(database, "x")
    assert state is not None and state.last_success_at is None and stored(database) == {}


class FakeHubSpot:
    """The notes listing with `after` paging and company associations."""

    def __init__(self) -> None:
        self.notes = [
            self.note(1, "<p>Renewal call: <b>happy</b></p>", "501"),
            self.note(2, "<p>Budget cuts announced</p>", "501"),
            self.note(3, "<p>Intro call</p>", "999"),
        ]

    @staticmethod
    def note(nid: int, body: str, company: str, modified: str = "") -> dict[str, Any]:
        """A note with properties and associations as the v3 objects API returns them."""
        modified = modified or f"2026-10-0{nid}T10:00:00.000Z"
        return {
            "id": str(nid),
            "properties": {
                "hs_note_body": body,
                "hs_timestamp": f"2026-10-0{nid}T09:00:00.000Z",
                "hs_lastmodifieddate": modified,
                "hs_object_id": str(nid),
            },
            "createdAt": f"2026-10-0{nid}T09:00:00.000Z",
            "updatedAt": modified,
            "archived": False,
            "associations": {
                "companies": {"results": [{"id": company, "type": "note_to_company"}]}
            },
        }

    def __call__(self, request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer hs-token":
            return Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
        assert (
            request.path == "/crm/v3/objects/notes" and request.query["associations"] == "companies"
        )
        start = int(request.query.get("after", 0))
        limit = int(request.query["limit"])
        body: dict[str, Any] = {"results": self.notes[start : start + limit]}
        if start + limit < len(self.notes):
            body["paging"] = {"next": {"after": str(start + limit), "link": "..."}}
        return Reply(200, body)


def test_hubspot_notes_with_company_accounts_and_edits(database: Database, sleeps: Sleeps) -> None:
    fake = FakeHubSpot()
    with FakeApi(fake) as api:

        def connector() -> HubSpotNotesConnector:
            http = VendorHttp(hubspot_client(api.url, "hs-token", policy=POLICY), sleep=sleeps)
            return HubSpotNotesConnector(http, HubSpotOptions(limit=2))

        api.inject(Fault("timeout"), Fault("status", 500))
        first = engine(database).run("hubspot", connector())
        assert {k: (m["text"], m["account"], m["role"]) for k, m in stored(database).items()} == {
            "note-1": ("Renewal call: happy", "acme", "csm"),
            "note-2": ("Budget cuts announced", "acme", "csm"),
        }
        assert (first.quarantined, first.retries) == (1, 2)
        fake.notes[1] = fake.note(
            2, "<p>Budget cuts reversed</p>", "501", "2026-10-20T10:00:00.000Z"
        )
        second = engine(database).run("hubspot", connector())
        assert (second.updated, second.skipped, second.stored) == (1, 1, 0)
        assert stored(database)["note-2"]["text"] == "Budget cuts reversed"
