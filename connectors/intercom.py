"""Intercom: conversations (listed with `starting_after`) and their parts, as chat messages.

A part whose author carries no type is looked up (`GET /contacts/{id}`, then
`GET /admins/{id}`, remembered for the sync); an author that stays unknown is logged and
counted, and is the customer only when their email domain is the conversation starter's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog

from connectors.accounts import AccountRef, domain_of, external, refs
from connectors.base import Draft, Page
from connectors.http import HttpPolicy, VendorHttp, build_client
from connectors.text import REDACTED, from_unix, html_to_text, to_unix

API_URL = "https://api.intercom.io"
INTERCOM_VERSION = "2.11"
ROLES = {
    "user": "customer",
    "lead": "customer",
    "contact": "customer",
    "admin": "agent",
    "team": "agent",
    "bot": "bot",
}

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IntercomOptions:
    """Listing page size and whether to look up each contact's companies."""

    per_page: int = 150
    contact_companies: bool = True


def intercom_client(
    base_url: str,
    token: str,
    *,
    version: str = INTERCOM_VERSION,
    policy: HttpPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with the bearer token and a pinned `Intercom-Version`."""
    headers = {"Authorization": f"Bearer {token}", "Intercom-Version": version}
    return build_client(base_url, headers=headers, policy=policy, transport=transport)


class IntercomConnector:
    """Yields each new or changed conversation's source message and parts."""

    source_system = "intercom"

    def __init__(self, http: VendorHttp, options: IntercomOptions | None = None) -> None:
        self.http = http
        self.options = options or IntercomOptions()
        self.stats = http.stats
        self._companies: dict[str, list[AccountRef]] = {}
        self._authors: dict[str, str | None] = {}  # author id -> role (None: not found)

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """One page per listing page; the cursor holds the listing position and high-water."""
        if since is not None:
            state: dict[str, Any] = {"since": to_unix(since)}
        else:
            state = json.loads(cursor) if cursor else {}
        while True:
            params: dict[str, Any] = {"per_page": self.options.per_page}
            if state.get("after"):
                params["starting_after"] = state["after"]
            data = self.http.get_json("/conversations", params)
            if not state.get("after"):
                state["pass_start"] = _server_time(self.http.last_headers)
            drafts: list[Draft] = []
            skipped = unresolved = 0
            for summary in data.get("conversations") or []:
                updated = int(summary.get("updated_at") or 0)
                state["pass_max"] = max(int(state.get("pass_max") or 0), updated)
                if state.get("since") is not None and updated < int(state["since"]):
                    skipped += 1
                    continue
                found, unknown = self._conversation(summary["id"])
                drafts.extend(found)
                unresolved += unknown
            after = ((data.get("pages") or {}).get("next") or {}).get("starting_after")
            if after:
                state["after"] = after
                yield Page(
                    drafts, json.dumps(state), skipped=skipped, unresolved_authors=unresolved
                )
                continue
            final = json.dumps(_finished(state))
            yield Page(drafts, final, skipped=skipped, unresolved_authors=unresolved)
            return

    def _conversation(self, conversation_id: str) -> tuple[list[Draft], int]:
        """The conversation's drafts and how many of them have an unidentified author."""
        conversation = self.http.get_json(f"/conversations/{conversation_id}", missing_ok=True)
        if conversation is None:
            return [], 0
        account_refs = self._account_refs(conversation)
        thread = f"conversation-{conversation_id}"
        source = conversation.get("source") or {}
        items = [("conversation", conversation_id, source, conversation.get("created_at"))]
        parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
        items += [("part", part.get("id"), part, part.get("created_at")) for part in parts]
        drafts: list[Draft] = []
        unresolved: list[str] = []
        for kind, item_id, item, created in items:
            text = html_to_text(item.get("body"))
            if item.get("redacted"):
                text = text or REDACTED
            if not text:
                continue
            metadata = {"conversation_id": conversation_id, "part_type": item.get("part_type")}
            if kind == "conversation":
                metadata["part_type"] = "source"
                metadata["subject"] = html_to_text(source.get("subject")) or None
            if item.get("redacted"):
                metadata["redacted"] = True
            author = item.get("author") or {}
            role = self._role(author, conversation)
            if role is None:
                unresolved.append(str(author.get("id")))
                role = _fallback_role(author, source)
            record = {
                "source": "chat",
                "source_system": self.source_system,
                "external_id": f"{kind}-{item_id}",
                "author_role": role,
                "text": text,
                "created_at": from_unix(created),
                "thread_id": thread,
                "metadata": {k: v for k, v in metadata.items() if v is not None},
            }
            drafts.append(Draft(record, account_refs))
        if unresolved:
            log.warning(
                "intercom.unresolved_authors",
                conversation=conversation_id,
                authors=sorted(set(unresolved))[:20],
                messages=len(unresolved),
            )
        return drafts, len(unresolved)

    def _role(self, author: dict[str, Any], conversation: dict[str, Any]) -> str | None:
        """The author's role from its type, else from the conversation's contacts or a
        lookup of the id as a contact, then as an admin; None when nobody knows them."""
        role = ROLES.get(str(author.get("type")))
        if role is not None:
            return role
        author_id = author.get("id")
        if author_id is None or author_id == "":
            return None
        author_id = str(author_id)
        contacts = (conversation.get("contacts") or {}).get("contacts") or []
        if any(str(contact.get("id")) == author_id for contact in contacts):
            return "customer"
        if author_id not in self._authors:
            self._authors[author_id] = self._look_up(author_id)
        return self._authors[author_id]

    def _look_up(self, author_id: str) -> str | None:
        contact = self.http.get_json(f"/contacts/{author_id}", missing_ok=True)
        if contact:
            return ROLES.get(str(contact.get("role")), "customer")
        admin = self.http.get_json(f"/admins/{author_id}", missing_ok=True)
        return "agent" if admin else None

    def _account_refs(self, conversation: dict[str, Any]) -> tuple[AccountRef, ...]:
        found: list[AccountRef | None] = []
        company = conversation.get("company") or {}
        if company.get("id"):
            found.append(external("intercom", company["id"]))
        contacts = (conversation.get("contacts") or {}).get("contacts") or []
        if self.options.contact_companies:
            for contact in contacts:
                found.extend(self._contact_companies(str(contact["id"])))
        author = (conversation.get("source") or {}).get("author") or {}
        found.append(domain_of(author.get("email")))
        return refs(*found)

    def _contact_companies(self, contact_id: str) -> list[AccountRef]:
        if contact_id not in self._companies:
            data = self.http.get_json(f"/contacts/{contact_id}/companies", missing_ok=True)
            companies = (data or {}).get("data") or []
            found: list[AccountRef] = []
            for company in companies:
                found.append(external("intercom", company["id"]))
                if company.get("company_id"):
                    found.append(external("intercom", company["company_id"]))
            self._companies[contact_id] = found
        return self._companies[contact_id]


def _fallback_role(author: dict[str, Any], source: dict[str, Any]) -> str:
    """An unidentified author is the customer when their email domain is that of the
    customer who started the conversation; otherwise `unknown`."""
    mine = _domain(author.get("email"))
    starter = source.get("author") or {}
    customer = ROLES.get(str(starter.get("type"))) == "customer"
    if mine and customer and mine == _domain(starter.get("email")):
        return "customer"
    return "unknown"


def _domain(email: Any) -> str | None:
    if not isinstance(email, str) or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


def _server_time(headers: httpx.Headers) -> int | None:
    try:
        return int(parsedate_to_datetime(headers["date"]).timestamp())
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _finished(state: dict[str, Any]) -> dict[str, Any]:
    """The state for the next pass: only conversations updated since this pass began."""
    marks = [int(v) for v in (state.get("pass_max"), state.get("pass_start")) if v]
    previous = int(state.get("since") or 0)
    since = max(previous, min(marks)) if marks else previous
    return {"since": since} if since else {}
