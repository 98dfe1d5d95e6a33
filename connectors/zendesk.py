"""Zendesk: the cursor-based Incremental Ticket Export plus each changed ticket's comments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from connectors.accounts import domain_of, external, refs
from connectors.base import Draft, Page
from connectors.http import HttpPolicy, VendorHttp, build_client
from connectors.text import text_or_redacted, to_unix

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
REDACTION_MARK = "▇"
ROLES = {"end-user": "customer", "agent": "agent", "admin": "agent"}
SYSTEM_AUTHOR = -1


@dataclass(frozen=True)
class ZendeskOptions:
    """Export paging and the start of the very first sync."""

    start_time: int = 0
    per_page: int = 1000
    comments_per_page: int = 100
    chunk_tickets: int = 50


@dataclass(frozen=True)
class _User:
    role: str
    email: str | None


def zendesk_client(
    base_url: str,
    email: str,
    api_token: str,
    *,
    policy: HttpPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client authenticated with a Zendesk API token (`{email}/token:{token}`)."""
    return build_client(
        base_url, auth=(f"{email}/token", api_token), policy=policy, transport=transport
    )


def base_url_for(subdomain: str) -> str:
    """The API root of a Zendesk subdomain."""
    return f"https://{subdomain}.zendesk.com"


class ZendeskConnector:
    """Yields ticket comments as `ticket` messages, threaded per ticket."""

    source_system = "zendesk"

    def __init__(self, http: VendorHttp, options: ZendeskOptions | None = None) -> None:
        self.http = http
        self.options = options or ZendeskOptions()
        self.stats = http.stats
        self._users: dict[int, _User] = {}

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """Export pages in ticket chunks; a chunk's cursor also lists the tickets it finished."""
        if since is not None:
            position: dict[str, Any] = {"start_time": to_unix(since)}
        elif cursor:
            position = json.loads(cursor)
        else:
            position = {"start_time": self.options.start_time}
        while True:
            done: list[str] = list(position.pop("done", []))
            params = {**position, "include": "users", "per_page": self.options.per_page}
            data = self.http.get_json(EXPORT_PATH, params)
            self._remember_users(data.get("users"))
            after = data.get("after_cursor")
            tickets = [t for t in data.get("tickets") or [] if _version(t) not in done]
            size = max(1, self.options.chunk_tickets)
            chunks = [tickets[i : i + size] for i in range(0, len(tickets), size)] or [[]]
            for number, chunk in enumerate(chunks, start=1):
                drafts, deleted = self._chunk(chunk)
                done += [_version(t) for t in chunk]
                if number < len(chunks):
                    resume = json.dumps({**position, "done": done})
                else:
                    resume = json.dumps({"cursor": after} if after else position)
                yield Page(drafts, resume, tuple(deleted))
            if data.get("end_of_stream") or not after:
                return
            position = {"cursor": after}

    def _chunk(self, tickets: list[dict[str, Any]]) -> tuple[list[Draft], list[str]]:
        drafts: list[Draft] = []
        deleted: list[str] = []
        for ticket in tickets:
            if ticket.get("status") == "deleted":
                deleted.append(f"ticket-{ticket['id']}")
                continue
            drafts.extend(self._ticket_drafts(ticket))
        return drafts, deleted

    def _ticket_drafts(self, ticket: dict[str, Any]) -> list[Draft]:
        requester = self._users.get(ticket.get("requester_id") or 0)
        account_refs = refs(
            external("zendesk", ticket["organization_id"])
            if ticket.get("organization_id") is not None
            else None,
            domain_of(requester.email if requester else None),
        )
        drafts: list[Draft] = []
        for comment in self._comments(ticket["id"]):
            drafts.append(Draft(self._record(ticket, comment), account_refs))
        return drafts

    def _comments(self, ticket_id: int) -> Iterator[dict[str, Any]]:
        url: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
        params: dict[str, Any] | None = {
            "include": "users",
            "per_page": self.options.comments_per_page,
        }
        while url:
            data = self.http.get_json(url, params, missing_ok=True)
            if data is None:  # deleted between the export and now
                return
            self._remember_users(data.get("users"))
            yield from data.get("comments") or []
            url, params = data.get("next_page"), None
            if not url and (data.get("meta") or {}).get("has_more"):
                url = (data.get("links") or {}).get("next")

    def _record(self, ticket: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
        text = comment.get("plain_body") or comment.get("body") or ""
        redacted = REDACTION_MARK in text or REDACTION_MARK in (comment.get("body") or "")
        metadata: dict[str, Any] = {
            "ticket_id": ticket["id"],
            "public": comment.get("public"),
            "comment_type": comment.get("type"),
            "channel": ((comment.get("via") or {}).get("channel")),
        }
        if ticket.get("priority"):
            metadata["priority"] = ticket["priority"]
        if redacted:
            metadata["redacted"] = True
        return {
            "source": "ticket",
            "source_system": self.source_system,
            "external_id": f"c-{comment['id']}",
            "author_role": self._role(comment.get("author_id")),
            "text": text_or_redacted(text),
            "created_at": comment.get("created_at"),
            "thread_id": f"ticket-{ticket['id']}",
            "metadata": metadata,
        }

    def _role(self, author_id: int | None) -> str:
        if author_id == SYSTEM_AUTHOR:
            return "bot"
        user = self._users.get(author_id or 0)
        return ROLES.get(user.role, "unknown") if user else "unknown"

    def _remember_users(self, users: list[dict[str, Any]] | None) -> None:
        for user in users or []:
            if user.get("id") is not None:
                self._users[user["id"]] = _User(str(user.get("role") or ""), user.get("email"))


def _version(ticket: dict[str, Any]) -> str:
    """A ticket at one point in time: a changed ticket is never taken for a finished one."""
    return f"{ticket['id']}@{ticket.get('generated_timestamp') or ticket.get('updated_at')}"
