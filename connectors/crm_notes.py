"""HubSpot CRM notes (v3 objects API) and CSV note imports, as `csm_note` messages.

A note is written inside our CRM, so its author role is `csm`; its author is the note's
owner (`hubspot_owner_id`, kept in the metadata). A note without an owner (e.g. logged by an
integration) is counted and logged as an unresolved author, and keeps the role `csm`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import structlog

from connectors.accounts import external, refs
from connectors.base import Draft, Page
from connectors.files import ColumnMapping, FileImportConnector
from connectors.http import HttpPolicy, VendorHttp, build_client
from connectors.text import html_to_text, parse_time

API_URL = "https://api.hubapi.com"
NOTES_PATH = "/crm/v3/objects/notes"
PROPERTIES = "hs_note_body,hs_timestamp,hs_lastmodifieddate,hubspot_owner_id"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class HubSpotOptions:
    """Page size of the notes listing (HubSpot allows at most 100)."""

    limit: int = 100


def hubspot_client(
    base_url: str,
    token: str,
    *,
    policy: HttpPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with a private-app access token."""
    headers = {"Authorization": f"Bearer {token}"}
    return build_client(base_url, headers=headers, policy=policy, transport=transport)


class HubSpotNotesConnector:
    """Lists all notes with their companies; only notes changed since the last pass are sent."""

    source_system = "hubspot"

    def __init__(self, http: VendorHttp, options: HubSpotOptions | None = None) -> None:
        self.http = http
        self.options = options or HubSpotOptions()
        self.stats = http.stats

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """One page per listing page; the cursor holds `after` and the modified high-water."""
        if since is not None:
            state: dict[str, Any] = {"since": since.isoformat()}
        else:
            state = json.loads(cursor) if cursor else {}
        floor = parse_time(state.get("since"))
        while True:
            params: dict[str, Any] = {
                "limit": self.options.limit,
                "properties": PROPERTIES,
                "associations": "companies",
                "archived": "false",
            }
            if state.get("after"):
                params["after"] = state["after"]
            data = self.http.get_json(NOTES_PATH, params) or {}
            drafts: list[Draft] = []
            skipped = 0
            for note in data.get("results") or []:
                modified = parse_time(_modified(note))
                if modified is not None:
                    top = parse_time(state.get("pass_max"))
                    if top is None or modified > top:
                        state["pass_max"] = modified.isoformat()
                if floor is not None and modified is not None and modified < floor:
                    skipped += 1
                    continue
                draft = self._draft(note)
                if draft is None:
                    skipped += 1
                else:
                    drafts.append(draft)
            ownerless = [d.record["external_id"] for d in drafts if not _owner(d)]
            if ownerless:
                log.warning(
                    "hubspot.unresolved_authors", notes=ownerless[:20], messages=len(ownerless)
                )
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if after:
                state["after"] = after
                yield Page(
                    drafts, json.dumps(state), skipped=skipped, unresolved_authors=len(ownerless)
                )
                continue
            mark = state.get("pass_max") or state.get("since")
            final = json.dumps({"since": mark} if mark else {})
            yield Page(drafts, final, skipped=skipped, unresolved_authors=len(ownerless))
            return

    def _draft(self, note: dict[str, Any]) -> Draft | None:
        properties = note.get("properties") or {}
        text = html_to_text(properties.get("hs_note_body"))
        if not text:
            return None
        companies = ((note.get("associations") or {}).get("companies") or {}).get("results") or []
        record: dict[str, Any] = {
            "source": "csm_note",
            "source_system": self.source_system,
            "external_id": f"note-{note['id']}",
            "author_role": "csm",
            "text": text,
            "created_at": properties.get("hs_timestamp") or note.get("createdAt"),
            "metadata": {"note_id": str(note["id"])},
        }
        owner = properties.get("hubspot_owner_id")
        if owner not in (None, ""):
            record["metadata"]["owner_id"] = str(owner)
        account_refs = refs(*(external(self.source_system, c["id"]) for c in companies))
        return Draft(record, account_refs)


def _owner(draft: Draft) -> str | None:
    return draft.record["metadata"].get("owner_id")


def _modified(note: dict[str, Any]) -> str | None:
    properties = note.get("properties") or {}
    return properties.get("hs_lastmodifieddate") or note.get("updatedAt")


def notes_file_connector(
    path: Path, mapping: ColumnMapping, *, source_system: str = "notes_file"
) -> FileImportConnector:
    """A plain CSV/JSONL import of account-manager notes (author role `csm`)."""
    return FileImportConnector(
        path, source="csm_note", source_system=source_system, mapping=mapping, author_role="csm"
    )
