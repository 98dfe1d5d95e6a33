"""X (Twitter) API v2 recent search: brand mentions as social messages."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.accounts import AccountRef, direct, external, refs
from connectors.base import Draft, Page
from connectors.http import HttpPolicy, VendorHttp, build_client

API_URL = "https://api.x.com"
SEARCH_PATH = "/2/tweets/search/recent"
UNDETERMINED = frozenset({"und", "qam", "qct", "qht", "qme", "qst", "zxx"})


@dataclass(frozen=True)
class XOptions:
    """The search query and how authors map to accounts."""

    query: str
    max_results: int = 100
    handles: Mapping[str, str] = field(default_factory=dict)
    own_handles: frozenset[str] = frozenset()


def x_client(
    base_url: str,
    bearer_token: str,
    *,
    policy: HttpPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with an app-only bearer token."""
    headers = {"Authorization": f"Bearer {bearer_token}"}
    return build_client(base_url, headers=headers, policy=policy, transport=transport)


class XConnector:
    """Yields matching posts; unmatched authors are kept brand-level (no account)."""

    source_system = "x"

    def __init__(self, http: VendorHttp, options: XOptions) -> None:
        self.http = http
        self.options = options
        self.stats = http.stats
        self.handles = {k.lower().lstrip("@"): v for k, v in options.handles.items()}
        self.own = {h.lower().lstrip("@") for h in options.own_handles}

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """Newest first within a pass; the next pass asks for posts after the newest id seen."""
        state: dict[str, Any] = {} if since is not None else json.loads(cursor or "{}")
        while True:
            params: dict[str, Any] = {
                "query": self.options.query,
                "max_results": self.options.max_results,
                "tweet.fields": "created_at,author_id,lang,conversation_id",
                "expansions": "author_id",
                "user.fields": "username",
            }
            if state.get("since_id"):
                params["since_id"] = state["since_id"]
            elif since is not None:
                params["start_time"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if state.get("next_token"):
                params["next_token"] = state["next_token"]
            data = self.http.get_json(SEARCH_PATH, params) or {}
            meta = data.get("meta") or {}
            if not state.get("next_token") and meta.get("newest_id"):
                state["newest"] = meta["newest_id"]
            users = {
                u["id"]: str(u.get("username") or "")
                for u in (data.get("includes") or {}).get("users") or []
            }
            drafts = [self._draft(post, users) for post in data.get("data") or []]
            if meta.get("next_token"):
                state["next_token"] = meta["next_token"]
                yield Page(drafts, json.dumps(state))
                continue
            newest = state.get("newest") or state.get("since_id")
            yield Page(drafts, json.dumps({"since_id": newest} if newest else {}))
            return

    def _draft(self, post: dict[str, Any], users: dict[str, str]) -> Draft:
        username = users.get(str(post.get("author_id")), "").lower()
        mapped = self.handles.get(username)
        role = "agent" if username in self.own else ("customer" if mapped else "unknown")
        language = post.get("lang")
        candidates: list[AccountRef | None] = [
            direct(mapped) if mapped else None,
            external(self.source_system, username) if username else None,
        ]
        record = {
            "source": "social",
            "source_system": self.source_system,
            "external_id": str(post["id"]),
            "author_role": role,
            "text": post.get("text") or "",
            "created_at": post.get("created_at"),
            "thread_id": f"x-{post['conversation_id']}" if post.get("conversation_id") else None,
            "language": None if not language or language in UNDETERMINED else language,
            "metadata": {"author_username": username or None, "author_id": post.get("author_id")},
        }
        return Draft(record, refs(*candidates), brand_level_ok=True)
