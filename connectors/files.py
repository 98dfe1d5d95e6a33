"""File imports (CSV or JSONL) with a column mapping, for surveys and CSM notes."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.accounts import AccountRef, direct, domain_of, external, refs
from connectors.base import Draft, Page
from connectors.errors import ConfigError
from connectors.http import HttpStats


@dataclass(frozen=True)
class ColumnMapping:
    """Which column holds what; only `text` and `created_at` are required."""

    text: str = "comment"
    created_at: str = "date"
    id: str | None = None
    score: str | None = None
    email: str | None = None
    account_id: str | None = None
    vendor_account: str | None = None
    metadata: tuple[str, ...] = field(default_factory=tuple)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a `.csv` (header line) or `.jsonl` (one object per line) file."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    raise ConfigError(f"{path.name}: unsupported file type (use .csv or .jsonl)")


def normalise_time(value: Any) -> Any:
    """ISO-8601 for unix seconds and plain dates; anything else is left for validation."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    if isinstance(value, str) and len(value.strip()) == 10:
        return f"{value.strip()}T00:00:00+00:00"
    return value


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            return value or None
    return value


class FileImportConnector:
    """Imports one file; the cursor remembers the file's hash and the rows already stored."""

    def __init__(
        self,
        path: Path,
        *,
        source: str,
        source_system: str,
        mapping: ColumnMapping,
        author_role: str = "customer",
        page_size: int = 500,
        skip_empty_text: bool = True,
    ) -> None:
        self.path = path
        self.source = source
        self.source_system = source_system
        self.mapping = mapping
        self.author_role = author_role
        self.page_size = page_size
        self.skip_empty_text = skip_empty_text
        self.stats = HttpStats()

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """Pages of rows; a changed file is read from the start (upserts keep it idempotent)."""
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        rows = read_rows(self.path)
        start = 0
        if cursor and since is None:
            seen_digest, _, position = cursor.partition(":")
            start = int(position) if seen_digest == digest else 0
        if start >= len(rows):
            yield Page([], f"{digest}:{len(rows)}")
            return
        for offset in range(start, len(rows), self.page_size):
            chunk = rows[offset : offset + self.page_size]
            drafts = [self._draft(offset + i, row) for i, row in enumerate(chunk)]
            kept = [
                d
                for d in drafts
                if (str(d.record["text"]).strip() or not self.skip_empty_text)
                and (since is None or _at_or_after(d, since))
            ]
            end = offset + len(chunk)
            yield Page(kept, f"{digest}:{end}", skipped=len(drafts) - len(kept))

    def _draft(self, number: int, row: dict[str, Any]) -> Draft:
        mapping = self.mapping
        text = str(row.get(mapping.text) or "")
        created = normalise_time(row.get(mapping.created_at))
        email = str(row.get(mapping.email) or "") if mapping.email else ""
        metadata: dict[str, Any] = {"row": number + 1, "file": self.path.name}
        if mapping.score:
            metadata["score"] = _number(row.get(mapping.score))
        for column in mapping.metadata:
            metadata[column] = row.get(column)
        if mapping.id and row.get(mapping.id):
            external_id = str(row[mapping.id])
        else:
            key = json.dumps([text, str(created), email, row.get(mapping.account_id or "")])
            external_id = "row-" + hashlib.sha256(key.encode()).hexdigest()[:32]
        record = {
            "source": self.source,
            "source_system": self.source_system,
            "external_id": external_id,
            "author_role": self.author_role,
            "text": text,
            "created_at": created,
            "metadata": metadata,
        }
        candidates: list[AccountRef | None] = []
        if mapping.account_id and row.get(mapping.account_id):
            candidates.append(direct(row[mapping.account_id]))
        if mapping.vendor_account and row.get(mapping.vendor_account):
            candidates.append(external(self.source_system, row[mapping.vendor_account]))
        if email:
            candidates += [AccountRef("email", email.lower()), domain_of(email)]
        return Draft(record, refs(*candidates))


def _at_or_after(draft: Draft, since: datetime) -> bool:
    try:
        created = datetime.fromisoformat(str(draft.record["created_at"]).replace("Z", "+00:00"))
    except ValueError:
        return True  # let ingestion quarantine it with the reason
    aware = created.replace(tzinfo=UTC) if created.tzinfo is None else created
    return aware >= since.replace(tzinfo=since.tzinfo or UTC)
