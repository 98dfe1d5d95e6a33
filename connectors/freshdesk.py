"""Freshdesk: tickets listed by `updated_since` (keyset paging) and each ticket's conversations.

Each ticket becomes a thread `ticket-{id}`: its description (`d-{ticket id}`) is the first
message and every conversation (`c-{conversation id}`) follows. Roles: a conversation is the
customer's when Freshdesk marks it `incoming` or its author is the ticket's requester;
otherwise it is staff (`agent`), private notes included (Freshdesk does not tell CSMs from
support agents, and a note is internal staff commentary, flagged `private` in the metadata).
The description is the requester's, except on outbound-email tickets, which an agent writes.

Paging: Freshdesk pages with `page=N` and stops at page 300 when `updated_since` is given.
Offset pages also shift when a ticket is updated mid-sync (it moves to the end, and the
ticket at the next page's start is never served). So after every full page the listing
restarts at page 1 with `updated_since` moved up to the page's last `updated_at` (less one
second, in case the filter is exclusive). The tickets seen at that boundary are remembered
in the cursor, with their `updated_at`, and not taken twice; only when more than a page of
tickets share that second does the page number grow, and beyond `max_page` the sync stops
with an error naming the second.

Conversations are fetched by a bounded pool of threads (`workers`, sharing the thread-safe
VendorHttp and its rate-limit holds), so one slow answer holds up one ticket, not the sync;
pages still come out in listing order, each once all its tickets' conversations are in.

Deleted tickets do not appear in the listing. Each pass after the first begins with a sweep
of `filter=deleted` from where the previous pass began; their stored messages are kept and
flagged `deleted`, as with Zendesk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from connectors.accounts import AccountRef, domain_of, external, refs
from connectors.base import Draft, Page
from connectors.errors import ConnectorError, VendorHttpError
from connectors.http import HttpPolicy, VendorHttp, build_client
from connectors.pool import ordered_map
from connectors.text import html_to_text, parse_time

log = structlog.get_logger(__name__)

TICKETS_PATH = "/api/v2/tickets"
DEFAULT_START = datetime(2000, 1, 1, tzinfo=UTC)
OVERLAP = timedelta(seconds=1)
OUTBOUND_EMAIL = 10
TICKET_SOURCES = {
    1: "email",
    2: "portal",
    3: "phone",
    7: "chat",
    9: "feedback_widget",
    10: "outbound_email",
}
CONVERSATION_SOURCES = {
    0: "reply",
    2: "note",
    5: "tweet",
    6: "survey_feedback",
    7: "facebook",
    8: "forwarded_email",
    9: "phone",
    10: "mobihelp",
    11: "ecommerce",
}
STATUSES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITIES = {1: "low", 2: "medium", 3: "high", 4: "urgent"}


@dataclass(frozen=True)
class FreshdeskOptions:
    """Listing and paging, and the start of the very first sync."""

    start_time: datetime = DEFAULT_START
    per_page: int = 100
    conversations_per_page: int = 100
    chunk_tickets: int = 50
    max_page: int = 300
    track_deleted: bool = True
    workers: int = 4  # conversation requests in flight at once (1: one after the other)


@dataclass(frozen=True)
class _Contact:
    email: str | None
    company_id: int | None


@dataclass(frozen=True)
class _Fetched:
    """One live ticket (with its description) and all its conversations."""

    ticket: dict[str, Any]
    conversations: list[dict[str, Any]]


def freshdesk_client(
    base_url: str,
    api_key: str,
    *,
    policy: HttpPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client authenticated with a Freshdesk API key (HTTP basic, password `X`)."""
    return build_client(base_url, auth=(api_key, "X"), policy=policy, transport=transport)


def base_url_for(domain: str) -> str:
    """The API root of a Freshdesk helpdesk (`acme` or `acme.freshdesk.com`)."""
    host = domain if "." in domain else f"{domain}.freshdesk.com"
    return f"https://{host}"


def stamp(value: datetime) -> str:
    """Freshdesk's timestamp format (ISO 8601, UTC, whole seconds, `Z`; naive means UTC)."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


class FreshdeskConnector:
    """Yields each new or changed ticket's description and conversations as `ticket` messages."""

    source_system = "freshdesk"

    def __init__(self, http: VendorHttp, options: FreshdeskOptions | None = None) -> None:
        self.http = http
        self.options = options or FreshdeskOptions()
        self.stats = http.stats
        self._contacts: dict[int, _Contact | None] = {}

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """A sweep of deleted tickets (after the first pass), then the changed tickets in chunks;
        each chunk's cursor also names the tickets at the current boundary it finished."""
        state = self._initial(cursor, since)
        if state.get("sweep_from") and self.options.track_deleted:
            yield from self._sweep_deleted(state)
        state.pop("sweep_from", None)
        state.pop("sweep_page", None)
        workers = max(1, self.options.workers)
        size = max(1, self.options.chunk_tickets)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="freshdesk-fetch")
        try:
            while True:
                tickets = self._list(state)
                full = len(tickets) >= self.options.per_page
                after = self._advance(state, tickets) if full else self._finish(state, tickets)
                done = set(state["done"])
                fresh = [t for t in tickets if _version(t) not in done]
                chunks = [fresh[i : i + size] for i in range(0, len(fresh), size)] or [[]]
                fetched = ordered_map(pool, self._fetch, fresh, max(2 * size, 4 * workers))
                for number, chunk in enumerate(chunks, start=1):
                    page = self._chunk(chunk, [next(fetched) for _ in chunk])
                    state = {**state, "done": state["done"] + [_version(t) for t in chunk]}
                    resume = after if number == len(chunks) else state
                    yield Page(
                        page.drafts,
                        json.dumps(resume),
                        page.deleted_threads,
                        page.skipped,
                        unresolved_authors=page.unresolved_authors,
                    )
                if not full:
                    return
                state = after
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- paging --------------------------------------------------------------------------

    def _initial(self, cursor: str | None, since: datetime | None) -> dict[str, Any]:
        if since is not None:
            start = stamp(since)
            return {"since": start, "page": 1, "done": [], "pass_start": start, "sweep_from": start}
        if cursor:
            state: dict[str, Any] = json.loads(cursor)
            return state
        start = stamp(self.options.start_time)
        return {"since": start, "page": 1, "done": [], "pass_start": start}

    def _list(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        page = int(state["page"])
        if page > self.options.max_page:
            raise self._stuck(state["since"], self.options.max_page)
        params = {
            "updated_since": state["since"],
            "order_by": "updated_at",
            "order_type": "asc",
            "per_page": self.options.per_page,
            "page": page,
            "include": "requester,description",
        }
        try:
            return list(self.http.get_json(TICKETS_PATH, params) or [])
        except VendorHttpError as error:  # Freshdesk's page limit is lower than configured
            if error.status == 400 and page > 1 and '"page"' in str(error):
                raise self._stuck(state["since"], page - 1) from error
            raise

    def _stuck(self, since: str, last_page: int) -> ConnectorError:
        return ConnectorError(
            f"more than {last_page * self.options.per_page} Freshdesk tickets share "
            f"updated_at {since} (within {OVERLAP.seconds} s); the listing stops at page "
            f"{last_page}, so the sync cannot move past them"
        )

    def _advance(self, state: dict[str, Any], tickets: list[dict[str, Any]]) -> dict[str, Any]:
        """The position after a full page: a later `updated_since`, or the next page when the
        whole page sits within the overlap of the current one."""
        seen = state["done"] + [_version(t) for t in tickets]
        boundary = max(_updated(t) for t in tickets) - OVERLAP
        if boundary > _parse(state["since"]):
            since = stamp(boundary)
            kept = [v for v in seen if _version_time(v) >= boundary]
            return {**state, "since": since, "page": 1, "done": _unique(kept)}
        return {**state, "page": int(state["page"]) + 1, "done": _unique(seen)}

    def _finish(self, state: dict[str, Any], tickets: list[dict[str, Any]]) -> dict[str, Any]:
        """The state of the next pass: from the last `updated_at` seen, sweeping deletions
        from where this pass began."""
        seen = state["done"] + [_version(t) for t in tickets]
        boundary = _parse(state["since"])
        if tickets:
            boundary = max(boundary, max(_updated(t) for t in tickets) - OVERLAP)
        kept = [v for v in seen if _version_time(v) >= boundary]
        since = stamp(boundary)
        return {
            "since": since,
            "page": 1,
            "done": _unique(kept),
            "pass_start": since,
            "sweep_from": state["pass_start"],
        }

    def _sweep_deleted(self, state: dict[str, Any]) -> Iterator[Page]:
        """Pages that name the tickets deleted since `sweep_from` (no messages)."""
        page = int(state.get("sweep_page") or 1)
        while True:
            params = {
                "filter": "deleted",
                "updated_since": state["sweep_from"],
                "order_by": "updated_at",
                "order_type": "asc",
                "per_page": self.options.per_page,
                "page": page,
            }
            try:
                tickets = list(self.http.get_json(TICKETS_PATH, params) or [])
            except VendorHttpError as error:
                log.warning("freshdesk.deleted_sweep_refused", error=str(error))
                return
            threads = tuple(f"ticket-{t['id']}" for t in tickets)
            last = len(tickets) < self.options.per_page or page >= self.options.max_page
            if last:
                resume = {k: v for k, v in state.items() if k not in ("sweep_from", "sweep_page")}
            else:
                resume = {**state, "sweep_page": page + 1}
            yield Page([], json.dumps(resume), threads)
            if last:
                return
            page += 1

    # -- tickets -------------------------------------------------------------------------

    def _fetch(self, ticket: dict[str, Any]) -> _Fetched | None:
        """A listed ticket's conversations, and its description when the listing left it out
        (run on the pool); None for a ticket deleted (404) since it was listed."""
        if ticket.get("deleted"):
            return None
        conversations = self._conversations(ticket["id"])
        if conversations is None:
            return None
        if "description_text" not in ticket and "description" not in ticket:
            full = self.http.get_json(f"{TICKETS_PATH}/{ticket['id']}", missing_ok=True) or {}
            ticket = {**ticket, **{k: full.get(k) for k in ("description", "description_text")}}
        return _Fetched(ticket, conversations)

    def _chunk(self, tickets: list[dict[str, Any]], results: list[_Fetched | None]) -> Page:
        drafts: list[Draft] = []
        deleted: list[str] = []
        skipped = 0
        for listed, result in zip(tickets, results, strict=True):
            if result is None:
                deleted.append(f"ticket-{listed['id']}")
                continue
            ticket = result.ticket
            account_refs = self._account_refs(ticket)
            records = [self._description(ticket)]
            records += [self._reply(ticket, c) for c in result.conversations]
            for record in records:
                if record is None:
                    skipped += 1  # no text at all (attachments only)
                    continue
                drafts.append(Draft(record, account_refs))
        unknown = [d.record["external_id"] for d in drafts if d.record["author_role"] == "unknown"]
        if unknown:
            log.warning("freshdesk.unresolved_authors", messages=len(unknown), first=unknown[:20])
        return Page(drafts, None, tuple(deleted), skipped, unresolved_authors=len(unknown))

    def _conversations(self, ticket_id: int) -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = []
        page = 1
        per_page = self.options.conversations_per_page
        while True:
            params = {"per_page": per_page, "page": page}
            data = self.http.get_json(
                f"{TICKETS_PATH}/{ticket_id}/conversations", params, missing_ok=True
            )
            if data is None:
                return None
            found.extend(data)
            if len(data) < per_page:
                return found
            page += 1

    def _description(self, ticket: dict[str, Any]) -> dict[str, Any] | None:
        text = (ticket.get("description_text") or "").strip() or html_to_text(
            ticket.get("description")
        )
        if not text:
            return None
        source = ticket.get("source")
        role = "agent" if source == OUTBOUND_EMAIL else "customer"
        metadata = {
            **self._ticket_metadata(ticket),
            "kind": "description",
            "channel": TICKET_SOURCES.get(source or 0),
        }
        return self._record(
            ticket, f"d-{ticket['id']}", role, text, ticket.get("created_at"), metadata
        )

    def _reply(self, ticket: dict[str, Any], conversation: dict[str, Any]) -> dict[str, Any] | None:
        text = (conversation.get("body_text") or "").strip() or html_to_text(
            conversation.get("body")
        )
        if not text:
            return None
        private = bool(conversation.get("private"))
        metadata = {
            **self._ticket_metadata(ticket),
            "kind": "note" if private or conversation.get("source") == 2 else "reply",
            "private": private,
            "incoming": conversation.get("incoming"),
            "channel": CONVERSATION_SOURCES.get(conversation.get("source") or 0),
        }
        if conversation.get("updated_at") and conversation.get("updated_at") != conversation.get(
            "created_at"
        ):
            metadata["edited_at"] = conversation["updated_at"]
        role = author_role(conversation, ticket.get("requester_id"))
        return self._record(
            ticket,
            f"c-{conversation['id']}",
            role,
            text,
            conversation.get("created_at"),
            metadata,
        )

    def _record(
        self,
        ticket: dict[str, Any],
        external_id: str,
        role: str,
        text: str,
        created_at: str | None,
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "source": "ticket",
            "source_system": self.source_system,
            "external_id": external_id,
            "author_role": role,
            "text": text,
            "created_at": created_at,
            "thread_id": f"ticket-{ticket['id']}",
            "metadata": {k: v for k, v in metadata.items() if v is not None},
        }

    @staticmethod
    def _ticket_metadata(ticket: dict[str, Any]) -> dict[str, Any]:
        return {
            "ticket_id": ticket["id"],
            "subject": ticket.get("subject") or None,
            "status": STATUSES.get(ticket.get("status") or 0),
            "priority": PRIORITIES.get(ticket.get("priority") or 0),
        }

    # -- accounts ------------------------------------------------------------------------

    def _account_refs(self, ticket: dict[str, Any]) -> tuple[AccountRef, ...]:
        """The ticket's company, then the requester's company and email domain; a requester
        the listing did not embed (or embedded without an email) is looked up once per sync."""
        requester = ticket.get("requester") or {}
        email = requester.get("email")
        company = ticket.get("company_id")
        contact_company = None
        requester_id = ticket.get("requester_id")
        if not email and requester_id is not None:
            contact = self._contact(int(requester_id))
            if contact is not None:
                email, contact_company = contact.email, contact.company_id
        return refs(
            external("freshdesk", company) if company is not None else None,
            external("freshdesk", contact_company)
            if contact_company is not None and contact_company != company
            else None,
            domain_of(email),
        )

    def _contact(self, contact_id: int) -> _Contact | None:
        if contact_id not in self._contacts:
            data = self.http.get_json(f"/api/v2/contacts/{contact_id}", missing_ok=True)
            self._contacts[contact_id] = (
                _Contact(data.get("email"), data.get("company_id")) if data else None
            )
            if not data or not data.get("email"):
                log.info("freshdesk.contact_without_email", contact=contact_id)
        return self._contacts[contact_id]


def author_role(conversation: dict[str, Any], requester_id: int | None) -> str:
    """`customer` for incoming conversations or the requester's own; `agent` for the rest
    (replies and private notes by staff); `unknown` only when Freshdesk says neither."""
    if conversation.get("incoming") is True:
        return "customer"
    user_id = conversation.get("user_id")
    if user_id is not None and user_id == requester_id:
        return "customer"
    if conversation.get("incoming") is False or conversation.get("private") is True:
        return "agent"
    return "unknown"


def _updated(ticket: dict[str, Any]) -> datetime:
    value = parse_time(ticket.get("updated_at"))
    if value is None:
        raise ConnectorError(f"Freshdesk ticket {ticket.get('id')} has no updated_at")
    return value


def _version(ticket: dict[str, Any]) -> str:
    """A ticket at one point in time: a changed ticket is never taken for a finished one."""
    return f"{ticket['id']}@{stamp(_updated(ticket))}"


def _version_time(version: str) -> datetime:
    return _parse(version.rsplit("@", 1)[1])


def _parse(value: str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:  # pragma: no cover - cursors always hold a time
        raise ConnectorError(f"bad time in the Freshdesk cursor: {value!r}")
    return parsed


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))
