"""Zendesk: the cursor-based Incremental Ticket Export plus each changed ticket's comments.

Comments are fetched by a bounded pool of threads (`workers`), so one slow response holds up
one ticket, not the sync; pages still come out in export order and a page is only yielded
once every comment of its tickets is in. Comment authors missing from the `users` sideloads
are looked up with `users/show_many` (100 ids a call, remembered for the sync). An author
Zendesk cannot identify (e.g. a deleted user) is logged and counted, and gets a role from
the ticket where that is certain (`_fallback_role`), else `unknown`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import structlog

from connectors.accounts import domain_of, external, refs
from connectors.base import Draft, Page
from connectors.http import HttpPolicy, VendorHttp, build_client
from connectors.pool import ordered_map
from connectors.text import text_or_redacted, to_unix

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
SHOW_MANY_PATH = "/api/v2/users/show_many.json"
SHOW_MANY_LIMIT = 100  # ids per show_many call (Zendesk's maximum)
REDACTION_MARK = "▇"
ROLES = {"end-user": "customer", "agent": "agent", "admin": "agent"}
SYSTEM_AUTHOR = -1

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ZendeskOptions:
    """Export paging and the start of the very first sync."""

    start_time: int = 0
    per_page: int = 1000
    comments_per_page: int = 100
    chunk_tickets: int = 50
    workers: int = 4  # comment requests in flight at once (1: one after the other)


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


@dataclass(frozen=True)
class _Fetched:
    """One ticket's comments and the users sideloaded with them."""

    comments: list[dict[str, Any]]
    users: list[dict[str, Any]]


class ZendeskConnector:
    """Yields ticket comments as `ticket` messages, threaded per ticket."""

    source_system = "zendesk"

    def __init__(self, http: VendorHttp, options: ZendeskOptions | None = None) -> None:
        self.http = http
        self.options = options or ZendeskOptions()
        self.stats = http.stats
        self._users: dict[int, _User] = {}
        self._unknown: set[int] = set()  # ids show_many did not return: not asked again
        self._agent_domains: set[str] = set()

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """Export pages in ticket chunks; a chunk's cursor also lists the tickets it finished."""
        if since is not None:
            position: dict[str, Any] = {"start_time": to_unix(since)}
        elif cursor:
            position = json.loads(cursor)
        else:
            position = {"start_time": self.options.start_time}
        workers = max(1, self.options.workers)
        size = max(1, self.options.chunk_tickets)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zendesk-comments")
        try:
            while True:
                done: list[str] = list(position.pop("done", []))
                params = {**position, "include": "users", "per_page": self.options.per_page}
                data = self.http.get_json(EXPORT_PATH, params)
                self._remember_users(data.get("users"))
                after = data.get("after_cursor")
                tickets = [t for t in data.get("tickets") or [] if _version(t) not in done]
                chunks = [tickets[i : i + size] for i in range(0, len(tickets), size)] or [[]]
                window = max(2 * size, 4 * workers)
                fetched = ordered_map(pool, self._fetch, tickets, window)
                for number, chunk in enumerate(chunks, start=1):
                    results = [next(fetched) for _ in chunk]
                    drafts, deleted, unresolved = self._chunk(chunk, results)
                    done += [_version(t) for t in chunk]
                    if number < len(chunks):
                        resume = json.dumps({**position, "done": done})
                    else:
                        resume = json.dumps({"cursor": after} if after else position)
                    yield Page(drafts, resume, tuple(deleted), unresolved_authors=unresolved)
                if data.get("end_of_stream") or not after:
                    return
                position = {"cursor": after}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _fetch(self, ticket: dict[str, Any]) -> _Fetched | None:
        """All comments of a live ticket (run on the pool); None for a deleted one."""
        if ticket.get("status") == "deleted":
            return None
        comments: list[dict[str, Any]] = []
        users: list[dict[str, Any]] = []
        url: str | None = f"/api/v2/tickets/{ticket['id']}/comments.json"
        params: dict[str, Any] | None = {
            "include": "users",
            "per_page": self.options.comments_per_page,
        }
        while url:
            data = self.http.get_json(url, params, missing_ok=True)
            if data is None:  # deleted between the export and now
                break
            users.extend(data.get("users") or [])
            comments.extend(data.get("comments") or [])
            url, params = data.get("next_page"), None
            if not url and (data.get("meta") or {}).get("has_more"):
                url = (data.get("links") or {}).get("next")
        return _Fetched(comments, users)

    def _chunk(
        self, tickets: list[dict[str, Any]], results: list[_Fetched | None]
    ) -> tuple[list[Draft], list[str], int]:
        for result in results:
            if result is not None:
                self._remember_users(result.users)
        wanted: set[Any] = {t.get("requester_id") for t in tickets}
        for result in results:
            wanted.update(c.get("author_id") for c in (result.comments if result else []))
        self._look_up(wanted)
        drafts: list[Draft] = []
        deleted: list[str] = []
        unresolved: dict[Any, int] = {}
        inferred = 0
        for ticket, result in zip(tickets, results, strict=True):
            if result is None:
                deleted.append(f"ticket-{ticket['id']}")
                continue
            requester = self._users.get(ticket.get("requester_id") or 0)
            account_refs = refs(
                external("zendesk", ticket["organization_id"])
                if ticket.get("organization_id") is not None
                else None,
                domain_of(requester.email if requester else None),
            )
            for comment in result.comments:
                role = self._role(comment.get("author_id"))
                if role is None:
                    author = comment.get("author_id")
                    unresolved[author] = unresolved.get(author, 0) + 1
                    role = self._fallback_role(ticket, comment)
                    inferred += role != "unknown"
                drafts.append(Draft(self._record(ticket, comment, role), account_refs))
        if unresolved:
            log.warning(
                "zendesk.unresolved_authors",
                authors=sorted(unresolved, key=str)[:20],
                messages=sum(unresolved.values()),
                role_from_ticket=inferred,
                role_unknown=sum(unresolved.values()) - inferred,
            )
        return drafts, deleted, sum(unresolved.values())

    def _look_up(self, ids: set[Any]) -> None:
        """Fetch users not yet known with show_many, at most SHOW_MANY_LIMIT ids a call."""
        wanted = sorted(
            i
            for i in ids
            if isinstance(i, int)
            and i != SYSTEM_AUTHOR
            and i not in self._users
            and i not in self._unknown
        )
        for start in range(0, len(wanted), SHOW_MANY_LIMIT):
            batch = wanted[start : start + SHOW_MANY_LIMIT]
            data = self.http.get_json(SHOW_MANY_PATH, {"ids": ",".join(map(str, batch))})
            self._remember_users((data or {}).get("users"))
            self._unknown.update(i for i in batch if i not in self._users)

    def _record(self, ticket: dict[str, Any], comment: dict[str, Any], role: str) -> dict[str, Any]:
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
            "author_role": role,
            "text": text_or_redacted(text),
            "created_at": comment.get("created_at"),
            "thread_id": f"ticket-{ticket['id']}",
            "metadata": metadata,
        }

    def _role(self, author_id: Any) -> str | None:
        """The author's role from their Zendesk user, or None when Zendesk did not say."""
        if author_id == SYSTEM_AUTHOR:
            return "bot"
        user = self._users.get(author_id) if isinstance(author_id, int) else None
        return ROLES.get(user.role) if user else None

    def _fallback_role(self, ticket: dict[str, Any], comment: dict[str, Any]) -> str:
        """The role of an author Zendesk could not identify, where the ticket makes it certain:
        the requester is the customer; an assignee or follower is an agent (Zendesk allows
        only agents there); an emailed comment from the requester's email domain is the
        customer's, one from a domain of our agents is an agent's. Otherwise `unknown`."""
        author = comment.get("author_id")
        if author is not None and author == ticket.get("requester_id"):
            return "customer"
        agents = {ticket.get("assignee_id"), *(ticket.get("follower_ids") or [])} - {None}
        if author is not None and author in agents:
            return "agent"
        source = ((comment.get("via") or {}).get("source") or {}).get("from") or {}
        sender = _domain(source.get("address"))
        if sender is None:
            return "unknown"
        if sender in self._agent_domains:
            return "agent"
        requester = self._users.get(ticket.get("requester_id") or 0)
        if requester and requester.role == "end-user" and _domain(requester.email) == sender:
            return "customer"
        return "unknown"

    def _remember_users(self, users: list[dict[str, Any]] | None) -> None:
        for user in users or []:
            if user.get("id") is not None:
                role, email = str(user.get("role") or ""), user.get("email")
                self._users[user["id"]] = _User(role, email)
                domain = _domain(email)
                if role in ("agent", "admin") and domain:
                    self._agent_domains.add(domain)


def _domain(email: Any) -> str | None:
    """The lower-cased domain of an email address, or None."""
    if not isinstance(email, str) or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


def _version(ticket: dict[str, Any]) -> str:
    """A ticket at one point in time: a changed ticket is never taken for a finished one."""
    return f"{ticket['id']}@{ticket.get('generated_timestamp') or ticket.get('updated_at')}"
