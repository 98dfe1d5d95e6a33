"""The audit log: every change made by a person or a key, with the state before and after."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from sentiment_service.storage.tables import AuditLogEntry


def record_change(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditLogEntry:
    """Append one audit entry in the caller's transaction."""
    entry = AuditLogEntry(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry
