"""Surveys: Delighted-style survey responses API, and CSV/JSONL survey file imports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from connectors.accounts import AccountRef, direct, domain_of, external, refs
from connectors.base import Draft, Page
from connectors.files import ColumnMapping, FileImportConnector
from connectors.http import HttpPolicy, VendorHttp, build_client
from connectors.text import from_unix, to_unix

API_URL = "https://api.delighted.com"
RESPONSES_PATH = "/v1/survey_responses.json"


@dataclass(frozen=True)
class DelightedOptions:
    """Paging and which person properties name the account."""

    per_page: int = 100
    account_id_property: str | None = None
    company_property: str | None = None


def delighted_client(
    base_url: str,
    api_key: str,
    *,
    policy: HttpPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client using the API key as the Basic-auth user name (empty password)."""
    return build_client(base_url, auth=(api_key, ""), policy=policy, transport=transport)


class DelightedConnector:
    """Yields survey responses that have a comment; score-only responses are skipped."""

    source_system = "delighted"

    def __init__(self, http: VendorHttp, options: DelightedOptions | None = None) -> None:
        self.http = http
        self.options = options or DelightedOptions()
        self.stats = http.stats

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """Pages ordered by `updated_at`; the next pass asks for `updated_since` the last seen."""
        if since is not None:
            state: dict[str, Any] = {"updated_since": to_unix(since)}
        else:
            state = json.loads(cursor) if cursor else {}
        page = int(state.get("page") or 1)
        while True:
            params: dict[str, Any] = {
                "per_page": self.options.per_page,
                "page": page,
                "expand[]": "person",
                "order": "asc:updated_at",
            }
            if state.get("updated_since"):
                params["updated_since"] = state["updated_since"]
            responses = self.http.get_json(RESPONSES_PATH, params) or []
            drafts = [d for d in map(self._draft, responses) if d is not None]
            for response in responses:
                updated = int(response.get("updated_at") or 0)
                state["pass_max"] = max(int(state.get("pass_max") or 0), updated)
            if len(responses) < self.options.per_page:
                mark = state.get("pass_max") or state.get("updated_since")
                final = json.dumps({"updated_since": mark} if mark else {})
                yield Page(drafts, final, skipped=len(responses) - len(drafts))
                return
            page += 1
            state["page"] = page
            yield Page(drafts, json.dumps(state), skipped=len(responses) - len(drafts))

    def _draft(self, response: dict[str, Any]) -> Draft | None:
        comment = (response.get("comment") or "").strip()
        if not comment:
            return None
        person = response.get("person")
        person = person if isinstance(person, dict) else {"id": person}
        properties = response.get("person_properties") or {}
        options = self.options
        candidates: list[AccountRef | None] = []
        if options.account_id_property and properties.get(options.account_id_property):
            candidates.append(direct(properties[options.account_id_property]))
        if options.company_property and properties.get(options.company_property):
            candidates.append(external(self.source_system, properties[options.company_property]))
        email = person.get("email")
        if email:
            candidates += [AccountRef("email", str(email).lower()), domain_of(email)]
        record = {
            "source": "survey",
            "source_system": self.source_system,
            "external_id": f"response-{response['id']}",
            "author_role": "customer",
            "text": comment,
            "created_at": from_unix(response.get("created_at")),
            "metadata": {
                "score": response.get("score"),
                "survey_type": response.get("survey_type"),
                "person_id": person.get("id"),
            },
        }
        return Draft(record, refs(*candidates))


def survey_file_connector(
    path: Path, mapping: ColumnMapping, *, source_system: str = "survey_file"
) -> FileImportConnector:
    """A CSV/JSONL survey import (score, comment, email or account id, date columns)."""
    return FileImportConnector(path, source="survey", source_system=source_system, mapping=mapping)
