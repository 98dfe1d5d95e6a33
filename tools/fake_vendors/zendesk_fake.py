"""A fake Zendesk (incremental cursor export, ticket comments, users/show_many) with the
documented JSON shapes, and switches for what real accounts do: no `users` sideload, users
left out of sideloads, deleted users that show_many no longer returns, slow tickets."""

from __future__ import annotations

import base64
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.fake_vendors.server import Reply, Request

BASE_EPOCH = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
COMMENTS_PATH = re.compile(r"^/api/v2/tickets/(\d+)/comments\.json$")
SHOW_MANY_PATH = "/api/v2/users/show_many.json"
SHOW_MANY_LIMIT = 100
WORDS = [
    "export",
    "failing",
    "slow",
    "invoice",
    "login",
    "great",
    "thanks",
    "broken",
    "renewal",
    "dashboard",
    "sync",
]


def iso(unix: int) -> str:
    """Zendesk's timestamp format (ISO 8601, UTC, `Z`)."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def basic(email: str, token: str) -> str:
    """The Authorization header Zendesk expects for an API token."""
    raw = f"{email}/token:{token}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@dataclass
class FakeZendesk:
    """Tickets, comments and users; editing helpers bump `updated_at` like Zendesk does."""

    auth: str = basic("ops@example.com", "secret-token")
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: int = BASE_EPOCH
    sideload_users: bool = True  # False: answers carry no `users` at all
    unlisted: set[int] = field(default_factory=set)  # users left out of every sideload
    gone: set[int] = field(default_factory=set)  # deleted: show_many does not return them
    slow_tickets: dict[int, float] = field(default_factory=dict)  # comments delay, seconds

    def add_user(self, user_id: int, role: str, email: str) -> None:
        """Add a user (role end-user, agent or admin)."""
        self.users[user_id] = {"id": user_id, "role": role, "email": email, "name": f"u{user_id}"}

    def add_ticket(self, ticket_id: int, org_id: int | None, requester_id: int) -> None:
        """Add an open ticket with no comments yet."""
        self.clock += 1
        self.tickets[ticket_id] = {
            "id": ticket_id,
            "url": f"https://example.zendesk.com/api/v2/tickets/{ticket_id}.json",
            "subject": f"Ticket {ticket_id}",
            "status": "open",
            "priority": "normal",
            "organization_id": org_id,
            "requester_id": requester_id,
            "submitter_id": requester_id,
            "assignee_id": None,
            "follower_ids": [],
            "created_at": iso(self.clock),
            "updated_at": iso(self.clock),
            "generated_timestamp": self.clock,
        }
        self.comments[ticket_id] = []

    def assign(self, ticket_id: int, agent_id: int) -> None:
        """Make an agent the ticket's assignee (Zendesk allows only agents there)."""
        self.tickets[ticket_id]["assignee_id"] = agent_id
        self._touch(ticket_id)

    def add_comment(self, ticket_id: int, comment_id: int, author_id: int, body: str) -> None:
        """Append a comment and bump the ticket."""
        self.clock += 1
        self.comments[ticket_id].append(
            {
                "id": comment_id,
                "type": "Comment",
                "author_id": author_id,
                "body": body,
                "html_body": f"<div class='zd-comment'><p>{body}</p></div>",
                "plain_body": body,
                "public": True,
                "attachments": [],
                "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": iso(self.clock),
                "metadata": {"system": {}, "custom": {}},
            }
        )
        self._touch(ticket_id)

    def edit_comment(self, ticket_id: int, comment_id: int, body: str) -> None:
        """Change a comment's text (as an agent edit or a redaction would)."""
        for comment in self.comments[ticket_id]:
            if comment["id"] == comment_id:
                comment.update(body=body, plain_body=body, html_body=f"<p>{body}</p>")
        self._touch(ticket_id)

    def delete_ticket(self, ticket_id: int) -> None:
        """Soft-delete: the export reports status `deleted`; comments then give 404."""
        self.tickets[ticket_id]["status"] = "deleted"
        self._touch(ticket_id)

    def _touch(self, ticket_id: int) -> None:
        self.clock += 1
        self.tickets[ticket_id]["updated_at"] = iso(self.clock)
        self.tickets[ticket_id]["generated_timestamp"] = self.clock

    def __call__(self, request: Request) -> Reply:
        """Route one request."""
        if request.headers.get("authorization") != self.auth:
            return Reply(401, {"error": "Couldn't authenticate you"})
        match = COMMENTS_PATH.match(request.path)
        if match and self.slow_tickets.get(int(match.group(1))):
            time.sleep(self.slow_tickets[int(match.group(1))])  # outside the lock
        with self.lock:
            if request.path == "/api/v2/incremental/tickets/cursor.json":
                return self._export(request)
            if request.path == SHOW_MANY_PATH:
                return self._show_many(request)
            if match:
                return self._comments(request, int(match.group(1)))
        return Reply(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _export(self, request: Request) -> Reply:
        per_page = min(int(request.query.get("per_page", 1000)), 1000)
        if "cursor" in request.query:
            stamp, last_id = _decode(request.query["cursor"])
        else:
            stamp, last_id = int(request.query["start_time"]) - 1, 10**12
        ordered = sorted(self.tickets.values(), key=lambda t: (t["generated_timestamp"], t["id"]))
        after = [t for t in ordered if (t["generated_timestamp"], t["id"]) > (stamp, last_id)]
        page = [dict(t) for t in after[:per_page]]
        position = (page[-1]["generated_timestamp"], page[-1]["id"]) if page else (stamp, last_id)
        cursor = _encode(*position)
        host = request.headers.get("host", "example.zendesk.com")
        user_ids = {t["requester_id"] for t in page} | {t["submitter_id"] for t in page}
        return Reply(
            200,
            {
                "tickets": page,
                **self._sideload(user_ids),
                "after_cursor": cursor,
                "after_url": f"http://{host}/api/v2/incremental/tickets/cursor.json?cursor={cursor}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": len(after) <= per_page,
            },
        )

    def _sideload(self, user_ids: Any) -> dict[str, Any]:
        """The `users` key of an answer (absent when sideloads are switched off)."""
        if not self.sideload_users:
            return {}
        listed = sorted(u for u in user_ids if u in self.users and u not in self.unlisted)
        return {"users": [self.users[u] for u in listed]}

    def _show_many(self, request: Request) -> Reply:
        """GET /api/v2/users/show_many.json?ids=1,2: known users only, 100 ids at most."""
        ids = _ids(request.query.get("ids", ""))
        if ids is None or len(ids) > SHOW_MANY_LIMIT:
            detail = f"ids: 1 to {SHOW_MANY_LIMIT} comma-separated user ids"
            return Reply(400, {"error": "InvalidValue", "description": detail})
        found = [self.users[i] for i in ids if i in self.users and i not in self.gone]
        return Reply(200, {"users": found, "next_page": None, "previous_page": None})

    def _comments(self, request: Request, ticket_id: int) -> Reply:
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket["status"] == "deleted":
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        per_page = min(int(request.query.get("per_page", 100)), 100)
        number = int(request.query.get("page", 1))
        everything = self.comments[ticket_id]
        chunk = everything[(number - 1) * per_page : number * per_page]
        more = number * per_page < len(everything)
        host = request.headers.get("host", "example.zendesk.com")
        next_page = (
            f"http://{host}/api/v2/tickets/{ticket_id}/comments.json"
            f"?include=users&page={number + 1}&per_page={per_page}"
            if more
            else None
        )
        authors = sorted({c["author_id"] for c in chunk})
        return Reply(
            200,
            {
                "comments": chunk,
                **self._sideload(authors),
                "next_page": next_page,
                "previous_page": None,
                "count": len(everything),
            },
        )


def _ids(raw: str) -> list[int] | None:
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        return None


def _encode(stamp: int, ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"{stamp}:{ticket_id}".encode()).decode()


def _decode(cursor: str) -> tuple[int, int]:
    stamp, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
    return int(stamp), int(ticket_id)


def generate(fake: FakeZendesk, tickets: int, comments: int, orgs: int, seed: int = 7) -> None:
    """Fill `fake` with `tickets` tickets and about `comments` comments, each text unique."""
    rng = random.Random(seed)
    fake.add_user(1, "agent", "agent@vendor.example")
    fake.add_user(2, "admin", "lead@vendor.example")
    comment_id = 1_000_000
    for number in range(1, tickets + 1):
        requester = 1000 + number
        org = 100 + (number % orgs)
        fake.add_user(requester, "end-user", f"person{number}@org{org}.example")
        fake.add_ticket(number, org, requester)
        count = max(1, round(rng.gauss(comments / tickets, 1.0)))
        for position in range(count):
            comment_id += 1
            author = requester if position % 2 == 0 else rng.choice((1, 2))
            words = " ".join(rng.choice(WORDS) for _ in range(8))
            fake.add_comment(number, comment_id, author, f"Comment {comment_id}: {words}.")


SHARED_TEXTS = [  # posted by customers and agents alike, on many tickets
    "Thanks, that fixed it.",
    "Any update on this?",
    "Please see the attached screenshot.",
    "The export is failing again.",
    "Thank you!",
]
CUSTOMER_TEXTS = [  # the same customer text on several tickets
    "Our dashboard has been down since this morning.",
    "We cannot log in anymore, this is blocking the whole team.",
    "The invoice amount is wrong.",
    "Great support as always, much appreciated.",
]
CANNED_REPLY = "We are looking into it and will get back to you shortly."
GONE_AGENT = 3


def generate_adversarial(
    fake: FakeZendesk,
    tickets: int,
    comments: int,
    orgs: int,
    seed: int = 7,
    unlisted_share: float = 0.5,
    gone_share: float = 0.03,
) -> dict[str, str]:
    """Fill `fake` like a real account: texts repeat across tickets, authors and roles (an
    end-user and an agent post the same words; one customer text on several tickets; an
    agent's canned reply twice in one ticket), `unlisted_share` of the users are left out of
    every sideload, and a deleted agent (the assignee of its tickets) and `gone_share` of the
    requesters are unknown even to show_many. Returns external id -> the true author role."""
    rng = random.Random(seed)
    fake.add_user(1, "agent", "agent@vendor.example")
    fake.add_user(2, "admin", "lead@vendor.example")
    fake.add_user(GONE_AGENT, "agent", "former@vendor.example")
    fake.gone.add(GONE_AGENT)
    roles: dict[str, str] = {}
    true_role = {"end-user": "customer", "agent": "agent", "admin": "agent"}
    comment_id = 1_000_000
    for number in range(1, tickets + 1):
        requester = 1000 + number
        org = 100 + (number % orgs)
        fake.add_user(requester, "end-user", f"person{number}@org{org}.example")
        if rng.random() < gone_share:
            fake.gone.add(requester)
        fake.add_ticket(number, org, requester)
        assignee = rng.choice((1, 2, GONE_AGENT))
        fake.assign(number, assignee)
        count = max(1, round(rng.gauss(comments / tickets, 1.0)))
        canned_at = rng.randrange(count) if count >= 4 and rng.random() < 0.3 else -1
        for position in range(count):
            comment_id += 1
            customer = position % 2 == 0
            author = requester if customer else (assignee if rng.random() < 0.8 else 1)
            draw = rng.random()
            if not customer and position in (canned_at, canned_at + 2):
                body = CANNED_REPLY
            elif draw < 0.3:
                body = rng.choice(SHARED_TEXTS)
            elif customer and draw < 0.5:
                body = rng.choice(CUSTOMER_TEXTS)
            else:
                words = " ".join(rng.choice(WORDS) for _ in range(8))
                body = f"Comment {comment_id}: {words}."
            fake.add_comment(number, comment_id, author, body)
            roles[f"c-{comment_id}"] = true_role[fake.users[author]["role"]]
    everyone = sorted(fake.users)
    fake.unlisted.update(rng.sample(everyone, int(len(everyone) * unlisted_share)))
    fake.unlisted.update(fake.gone)  # a deleted user is sideloaded nowhere
    return roles
