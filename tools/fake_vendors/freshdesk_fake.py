"""A fake Freshdesk (API v2: tickets, conversations, contacts) with the documented JSON shapes.

Serve it with `FakeApi(FakeFreshdesk(...))` for faults (429 with Retry-After, 5xx, stalls,
slow answers). It also keeps Freshdesk's own rules that a connector has to live with: pages
of at most 100, no page beyond `max_page` (300) when `updated_since` is given, only the last
30 days without `updated_since`, deleted tickets only under `filter=deleted`, requesters
embedded only with `include=requester` (and left out for the tickets in `omit_requesters`),
and an optional per-window rate limit answered with 429 and `Retry-After`.
"""

from __future__ import annotations

import base64
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.fake_vendors.server import Reply, Request

BASE_EPOCH = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
TICKET_PATH = re.compile(r"^/api/v2/tickets/(\d+)$")
CONVERSATIONS_PATH = re.compile(r"^/api/v2/tickets/(\d+)/conversations$")
CONTACT_PATH = re.compile(r"^/api/v2/contacts/(\d+)$")
THIRTY_DAYS = 30 * 24 * 3600
REPLY, NOTE = 0, 2
WORDS = ["export", "failing", "slow", "invoice", "login", "great", "thanks", "renewal", "sync"]
# Texts that real helpdesks see on many tickets, from customers and agents alike.
REPEATED = [
    "Thanks!",
    "Any update on this?",
    "Still broken.",
    "Thank you, that fixed it.",
    "We are looking into it.",
    "Could you send us a screenshot?",
]


def iso(unix: int) -> str:
    """Freshdesk's timestamp format (ISO 8601, UTC, `Z`)."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def basic(api_key: str) -> str:
    """The Authorization header Freshdesk expects for an API key (password `X`)."""
    return "Basic " + base64.b64encode(f"{api_key}:X".encode()).decode()


def _invalid(field_name: str, message: str) -> Reply:
    error = {"field": field_name, "message": message, "code": "invalid_value"}
    return Reply(400, {"description": "Validation failed", "errors": [error]})


@dataclass
class FakeFreshdesk:
    """Tickets, conversations, contacts and agents; changes bump `updated_at` by `step` s."""

    api_key: str = "fd-api-key"
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    conversations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    agents: dict[int, dict[str, Any]] = field(default_factory=dict)
    omit_requesters: set[int] = field(default_factory=set)
    clock: int = BASE_EPOCH
    step: int = 1
    max_page: int = 300
    rate_limit: int = 0  # requests per window before a 429 (0: no limit)
    retry_after: int = 3
    throttled: int = 0  # 429s the rate limit answered
    lock: threading.RLock = field(default_factory=threading.RLock)
    _window_used: int = 0

    def add_agent(self, agent_id: int, email: str) -> None:
        """An agent (a user who is not a contact)."""
        self.agents[agent_id] = {
            "id": agent_id,
            "contact": {"email": email, "name": f"a{agent_id}"},
        }

    def add_contact(
        self, contact_id: int, email: str | None, company_id: int | None = None
    ) -> None:
        """A contact (a customer); `email` None for phone-only contacts."""
        self.contacts[contact_id] = {
            "id": contact_id,
            "name": f"Contact {contact_id}",
            "email": email,
            "phone": "+1 555 0100" if email is None else None,
            "mobile": None,
            "company_id": company_id,
            "active": True,
        }

    def add_ticket(
        self,
        ticket_id: int,
        requester_id: int,
        company_id: int | None,
        description: str,
        *,
        source: int = 1,
        priority: int = 2,
    ) -> None:
        """A new open ticket whose description is the first message."""
        self._tick()
        self.tickets[ticket_id] = {
            "id": ticket_id,
            "subject": f"Ticket {ticket_id}",
            "description": f"<div>{description}</div>",
            "description_text": description,
            "status": 2,
            "priority": priority,
            "source": source,
            "type": None,
            "requester_id": requester_id,
            "responder_id": None,
            "company_id": company_id,
            "group_id": None,
            "spam": False,
            "deleted": False,
            "tags": [],
            "cc_emails": [],
            "custom_fields": {},
            "created_at": iso(self.clock),
            "updated_at": iso(self.clock),
            "due_by": iso(self.clock + 86400),
            "fr_due_by": iso(self.clock + 3600),
        }
        self.conversations[ticket_id] = []

    def add_conversation(
        self,
        ticket_id: int,
        conversation_id: int,
        user_id: int,
        body: str,
        *,
        private: bool = False,
        incoming: bool | None = None,
    ) -> None:
        """A reply or (private) note; `incoming` defaults to whether a contact wrote it."""
        self._tick()
        self.conversations[ticket_id].append(
            {
                "id": conversation_id,
                "ticket_id": ticket_id,
                "user_id": user_id,
                "body": f"<div>{body}</div>" if body else "",
                "body_text": body,
                "incoming": (user_id in self.contacts) if incoming is None else incoming,
                "private": private,
                "source": NOTE if private else REPLY,
                "category": 2,
                "support_email": None,
                "from_email": None,
                "to_emails": [],
                "cc_emails": [],
                "bcc_emails": [],
                "attachments": [] if body else [{"id": conversation_id, "name": "log.txt"}],
                "created_at": iso(self.clock),
                "updated_at": iso(self.clock),
            }
        )
        self.touch(ticket_id)

    def edit_conversation(self, ticket_id: int, conversation_id: int, body: str) -> None:
        """Change a conversation's text (an edited note)."""
        self._tick()
        for conversation in self.conversations[ticket_id]:
            if conversation["id"] == conversation_id:
                conversation.update(body=f"<div>{body}</div>", body_text=body)
                conversation["updated_at"] = iso(self.clock)
        self.touch(ticket_id)

    def delete_ticket(self, ticket_id: int) -> None:
        """Move to trash: listed only under `filter=deleted`; its conversations give 404."""
        self.tickets[ticket_id]["deleted"] = True
        self.touch(ticket_id)

    def touch(self, ticket_id: int) -> None:
        """Bump a ticket's `updated_at` (any change to it or its conversations)."""
        self._tick()
        self.tickets[ticket_id]["updated_at"] = iso(self.clock)

    def _tick(self) -> None:
        self.clock += self.step

    def __call__(self, request: Request) -> Reply:
        """Route one request."""
        if request.headers.get("authorization") != basic(self.api_key):
            return Reply(
                401,
                {
                    "code": "invalid_credentials",
                    "message": "You have to be logged in to perform this action.",
                },
            )
        with self.lock:
            limited = self._rate_limited()
            if limited is not None:
                return limited
            reply = self._route(request)
            headers = {
                "X-RateLimit-Total": str(self.rate_limit or 5000),
                "X-RateLimit-Remaining": str(max(0, (self.rate_limit or 5000) - self._window_used)),
                "X-RateLimit-Used-CurrentRequest": "1",
                **reply.headers,
            }
            return Reply(reply.status, reply.body, headers)

    def _rate_limited(self) -> Reply | None:
        if not self.rate_limit:
            return None
        if self._window_used >= self.rate_limit:
            self._window_used = 0  # the window has passed once the client waited
            self.throttled += 1
            return Reply(
                429,
                {"code": "rate_limited", "message": "You have exceeded the limit of requests"},
                {"Retry-After": str(self.retry_after)},
            )
        self._window_used += 1
        return None

    def _route(self, request: Request) -> Reply:
        if request.path == "/api/v2/tickets":
            return self._list(request)
        match = CONVERSATIONS_PATH.match(request.path)
        if match:
            return self._conversations(request, int(match.group(1)))
        match = TICKET_PATH.match(request.path)
        if match:
            ticket = self.tickets.get(int(match.group(1)))
            return Reply(200, dict(ticket)) if ticket else Reply(404)
        match = CONTACT_PATH.match(request.path)
        if match:
            contact = self.contacts.get(int(match.group(1)))
            return Reply(200, dict(contact)) if contact else Reply(404)
        return Reply(404)

    def _paging(self, request: Request) -> tuple[int, int] | Reply:
        try:
            per_page = int(request.query.get("per_page", 30))
            page = int(request.query.get("page", 1))
        except ValueError:
            return _invalid("page", "It should be a/an Positive Integer")
        if not 1 <= per_page <= 100:
            return _invalid("per_page", "Has to be greater than 0 and less than 101")
        if page < 1:
            return _invalid("page", "It should be a/an Positive Integer")
        return per_page, page

    def _list(self, request: Request) -> Reply:
        paging = self._paging(request)
        if isinstance(paging, Reply):
            return paging
        per_page, page = paging
        query = request.query
        if query.get("order_by", "created_at") not in ("created_at", "due_by", "updated_at"):
            return _invalid(
                "order_by", "It should be one of these values: created_at,due_by,updated_at"
            )
        if query.get("order_type", "desc") not in ("asc", "desc"):
            return _invalid("order_type", "It should be one of these values: asc,desc")
        since_text = query.get("updated_since")
        if since_text is not None:
            try:
                since = int(datetime.fromisoformat(since_text.replace("Z", "+00:00")).timestamp())
            except ValueError:
                return _invalid("updated_since", "It should be in the 'valid date' format")
            if page > self.max_page:
                return _invalid("page", f"It should be less than or equal to {self.max_page}")
        deleted = query.get("filter") == "deleted"
        chosen = [t for t in self.tickets.values() if bool(t["deleted"]) == deleted]
        if since_text is not None:
            chosen = [t for t in chosen if _unix(t["updated_at"]) >= since]
        else:  # Freshdesk's default: tickets created in the last 30 days
            chosen = [t for t in chosen if _unix(t["created_at"]) >= self.clock - THIRTY_DAYS]
        key = query.get("order_by", "created_at")
        chosen.sort(key=lambda t: (t[key], t["id"]), reverse=query.get("order_type") != "asc")
        served = chosen[(page - 1) * per_page : page * per_page]
        includes = set(filter(None, query.get("include", "").split(",")))
        body = [self._listed(ticket, includes) for ticket in served]
        headers = {}
        if page * per_page < len(chosen):
            host = request.headers.get("host", "example.freshdesk.com")
            headers["Link"] = f'<http://{host}/api/v2/tickets?page={page + 1}>; rel="next"'
        return Reply(200, body, headers)

    def _listed(self, ticket: dict[str, Any], includes: set[str]) -> dict[str, Any]:
        shown = {k: v for k, v in ticket.items() if k not in ("description", "description_text")}
        if "description" in includes:
            shown["description"] = ticket["description"]
            shown["description_text"] = ticket["description_text"]
        if "requester" in includes and ticket["id"] not in self.omit_requesters:
            contact = self.contacts.get(ticket["requester_id"])
            if contact is not None:
                shown["requester"] = {
                    k: contact[k] for k in ("id", "name", "email", "mobile", "phone")
                }
        return shown

    def _conversations(self, request: Request, ticket_id: int) -> Reply:
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket["deleted"]:
            return Reply(404)
        paging = self._paging(request)
        if isinstance(paging, Reply):
            return paging
        per_page, page = paging
        everything = self.conversations[ticket_id]
        served = [dict(c) for c in everything[(page - 1) * per_page : page * per_page]]
        headers = {}
        if page * per_page < len(everything):
            host = request.headers.get("host", "example.freshdesk.com")
            url = f"http://{host}/api/v2/tickets/{ticket_id}/conversations?page={page + 1}"
            headers["Link"] = f'<{url}>; rel="next"'
        return Reply(200, served, headers)


def _unix(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def generate(
    fake: FakeFreshdesk,
    tickets: int,
    conversations: int,
    companies: int,
    *,
    seed: int = 7,
    repeated: float = 0.0,
    missing_requesters: float = 0.0,
) -> None:
    """Fill `fake` with `tickets` tickets and about `conversations` conversations.

    With `repeated` > 0, that share of the texts comes from a small pool used on many tickets
    by customers and agents alike (never twice in one ticket); `missing_requesters` is the
    share of tickets listed without their requester embedded.
    """
    rng = random.Random(seed)
    fake.add_agent(1, "agent@vendor.example")
    fake.add_agent(2, "lead@vendor.example")
    conversation_id = 5_000_000
    for number in range(1, tickets + 1):
        requester = 1000 + number
        company = 100 + (number % companies)
        fake.add_contact(requester, f"person{number}@org{company}.example", company)
        pool = list(REPEATED)
        rng.shuffle(pool)
        fake.add_ticket(number, requester, company, _text(rng, pool, repeated, f"Ticket {number}"))
        if rng.random() < missing_requesters:
            fake.omit_requesters.add(number)
        count = max(0, round(rng.gauss(conversations / tickets, 1.0)))
        for position in range(count):
            conversation_id += 1
            customer = position % 2 == 1
            author = requester if customer else rng.choice((1, 2))
            private = not customer and rng.random() < 0.25
            fake.add_conversation(
                number,
                conversation_id,
                author,
                _text(rng, pool, repeated, f"Reply {conversation_id}"),
                private=private,
            )


def _text(rng: random.Random, pool: list[str], repeated: float, label: str) -> str:
    """A text from the repeated pool (each at most once per ticket) or a unique one."""
    if pool and rng.random() < repeated:
        return pool.pop()
    words = " ".join(rng.choice(WORDS) for _ in range(6))
    return f"{label}: {words}."
