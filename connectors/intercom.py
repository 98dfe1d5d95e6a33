"""Intercom: conversations (listed with `starting_after`) and their parts, as chat messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

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
            skipped = 0
            for summary in data.get("conversations") or []:
                updated = int(summary.get("updated_at") or 0)
                state["pass_max"] = max(int(state.get("pass_max") or 0), updated)
                if state.get("since") is not None and updated < int(state["since"]):
                    skipped += 1
                    continue
                drafts.extend(self._conversation(summary["id"]))
            after = ((data.get("pages") or {}).get("next") or {}).get("starting_after")
            if after:
                state["after"] = after
                yield Page(drafts, json.dumps(state), skipped=skipped)
                continue
            yield Page(drafts, json.dumps(_finished(state)), skipped=skipped)
            return

    def _conversation(self, conversation_id: str) -> list[Draft]:
        conversation = self.http.get_json(f"/conversations/{conversation_id}", missing_ok=True)
        if conversation is None:
            return []
        account_refs = self._account_refs(conversation)
        thread = f"conversation-{conversation_id}"
        source = conversation.get("source") or {}
        items = [("conversation", conversation_id, source, conversation.get("created_at"))]
        parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
        items += [("part", part.get("id"), part, part.get("created_at")) for part in parts]
        drafts: list[Draft] = []
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
            author_type = (item.get("author") or {}).get("type")
            record = {
                "source": "chat",
                "source_system": self.source_system,
                "external_id": f"{kind}-{item_id}",
                "author_role": ROLES.get(str(author_type), "unknown"),
                "text": text,
                "created_at": from_unix(created),
                "thread_id": thread,
                "metadata": {k: v for k, v in metadata.items() if v is not None},
            }
            drafts.append(Draft(record, account_refs))
        return drafts

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
