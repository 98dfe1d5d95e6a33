"""Small builders for request bodies used across tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from models.sentiment.inference import default_artifact_dir


def account_body(name: str = "Acme Freight", **fields: Any) -> dict[str, Any]:
    """A valid PUT /v1/accounts body."""
    body: dict[str, Any] = {
        "name": name,
        "segment": "enterprise",
        "industry": "logistics",
        "tier": "gold",
        "arr": 120000.0,
        "renewal_date": "2027-03-31",
        "owner": "Priya Natarajan",
        "external_ids": {"zendesk": "org-1"},
    }
    body.update(fields)
    return body


def message(external_id: str = "t-1", **fields: Any) -> dict[str, Any]:
    """A valid message record."""
    record: dict[str, Any] = {
        "source": "ticket",
        "source_system": "zendesk",
        "external_id": external_id,
        "account_id": "acme",
        "author_role": "customer",
        "text": f"The export keeps failing for us ({external_id}).",
        "created_at": "2026-10-01T09:30:00Z",
        "thread_id": "ticket-1",
    }
    record.update(fields)
    return record


def metric(name: str = "logins", value: float = 42.0, **fields: Any) -> dict[str, Any]:
    """A valid metric record."""
    record: dict[str, Any] = {
        "account_id": "acme",
        "name": name,
        "value": value,
        "observed_at": "2026-10-05T00:00:00Z",
        "source": "product_analytics",
    }
    record.update(fields)
    return record


def candidate_artifact(folder: Path, version: str, labels: list[str] | None = None) -> Path:
    """The shipped model under another version name (a stand-in for a retrained model);
    `labels` reorders its classes, which makes a deliberately broken candidate."""
    target = folder / version
    shutil.copytree(default_artifact_dir(), target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = version
    if labels is not None:
        manifest["labels"] = labels
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target
