"""A fake Intercom API: conversations list/retrieve, contacts, admins and contact companies
(documented shapes)."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.fake_vendors.server import Reply, Request

BASE_EPOCH = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())


@dataclass
class FakeIntercom:
    """Conversations with parts; contacts belong to companies."""

    token: str = "ic-token"
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    companies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    admins: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: int = BASE_EPOCH
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_company(self, contact_id: str, company_id: str, our_id: str) -> None:
        """Make `contact_id` a member of an Intercom company."""
        self.companies.setdefault(contact_id, []).append(
            {"type": "company", "id": company_id, "company_id": our_id, "name": our_id}
        )

    def add_contact(self, contact_id: str, email: str, role: str = "user") -> None:
        """A contact (role user or lead) that GET /contacts/{id} returns."""
        self.contacts[contact_id] = {
            "type": "contact",
            "id": contact_id,
            "role": role,
            "email": email,
        }

    def add_admin(self, admin_id: str, email: str) -> None:
        """A teammate that GET /admins/{id} returns."""
        self.admins[admin_id] = {"type": "admin", "id": admin_id, "email": email, "name": "A"}

    def add_conversation(self, conv_id: str, contact_id: str, email: str, body: str) -> None:
        """A customer-initiated conversation."""
        self.clock += 1
        self.conversations[conv_id] = {
            "type": "conversation",
            "id": conv_id,
            "created_at": self.clock,
            "updated_at": self.clock,
            "state": "open",
            "source": {
                "type": "conversation",
                "id": f"src{conv_id}",
                "delivered_as": "customer_initiated",
                "subject": "",
                "body": body,
                "author": {"type": "user", "id": contact_id, "name": "C", "email": email},
                "attachments": [],
                "redacted": False,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": [{"type": "contact", "id": contact_id}],
            },
            "conversation_parts": {
                "type": "conversation_part.list",
                "conversation_parts": [],
                "total_count": 0,
            },
        }

    def add_part(
        self, conv_id: str, part_id: str, author_type: str, body: str | None, **extra: Any
    ) -> None:
        """Append a part (comment, note, assignment...) and bump `updated_at`."""
        self.clock += 1
        conversation = self.conversations[conv_id]
        parts = conversation["conversation_parts"]
        parts["conversation_parts"].append(
            {
                "type": "conversation_part",
                "id": part_id,
                "part_type": extra.pop("part_type", "comment"),
                "body": body,
                "created_at": self.clock,
                "updated_at": self.clock,
                "author": {
                    "type": author_type,
                    "id": "a1",
                    "name": "A",
                    "email": "a@vendor.example",
                },
                "attachments": [],
                "redacted": False,
                **extra,
            }
        )
        parts["total_count"] = len(parts["conversation_parts"])
        conversation["updated_at"] = self.clock

    def edit_part(self, conv_id: str, part_id: str, **changes: Any) -> None:
        """Change a part (e.g. redact it) and bump the conversation."""
        self.clock += 1
        for part in self.conversations[conv_id]["conversation_parts"]["conversation_parts"]:
            if part["id"] == part_id:
                part.update(changes)
        self.conversations[conv_id]["updated_at"] = self.clock

    def __call__(self, request: Request) -> Reply:
        """Route one request."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"type": "error.list", "errors": [{"code": "unauthorized"}]})
        with self.lock:
            if request.path == "/conversations":
                return self._list(request)
            if request.path.startswith("/conversations/"):
                found = self.conversations.get(request.path.rsplit("/", 1)[1])
                return Reply(200, found) if found else Reply(404, {"type": "error.list"})
            if request.path.startswith("/contacts/") and request.path.endswith("/companies"):
                contact = request.path.split("/")[2]
                data = self.companies.get(contact, [])
                return Reply(200, {"type": "list", "data": data, "total_count": len(data)})
            parts = request.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] in ("contacts", "admins"):
                known = self.contacts if parts[0] == "contacts" else self.admins
                found = known.get(parts[1])
                return Reply(200, found) if found else Reply(404, {"type": "error.list"})
        return Reply(404, {"type": "error.list"})

    def _list(self, request: Request) -> Reply:
        per_page = min(int(request.query.get("per_page", 20)), 150)
        ordered = sorted(self.conversations.values(), key=lambda c: (-c["updated_at"], c["id"]))
        start = 0
        if request.query.get("starting_after"):
            start = int(base64.b64decode(request.query["starting_after"]).decode())
        page = ordered[start : start + per_page]
        summaries = [{k: v for k, v in c.items() if k != "conversation_parts"} for c in page]
        body: dict[str, Any] = {
            "type": "conversation.list",
            "conversations": summaries,
            "total_count": len(ordered),
            "pages": {
                "type": "pages",
                "page": start // per_page + 1,
                "per_page": per_page,
                "total_pages": max(1, -(-len(ordered) // per_page)),
            },
        }
        if start + per_page < len(ordered):
            token = base64.b64encode(str(start + per_page).encode()).decode()
            body["pages"]["next"] = {"page": start // per_page + 2, "starting_after": token}
        return Reply(200, body, {"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "9999"})
