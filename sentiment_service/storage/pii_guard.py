"""PII never reaches a table in clear: a `before_flush` hook on a database's sessions.

Ingestion redacts message text and payloads itself (pipelines/ingest.py); this hook covers
every other place a person or a vendor can put free text or an identifier, whichever code
path writes it: notes, reasons, error strings, audit entries and identifiers. Free text has
each email, phone and card number replaced by a placeholder; identifiers that must stay
joinable become a keyed hash when they carry any (see pipelines/redaction.py). Both are
idempotent, so values that ingestion already protected pass unchanged.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from pipelines.ingest import pii_hash_key
from pipelines.redaction import PiiRedactor
from sentiment_service.settings import Settings
from sentiment_service.storage.tables import (
    Account,
    AccountOutcome,
    AlertDelivery,
    AlertRule,
    AuditLogEntry,
    ConfigVersion,
    HealthOverride,
    LabelCorrection,
    Message,
    Metric,
    ModelJob,
    QuarantineRecord,
    SyncState,
    TopicCorrection,
)

if TYPE_CHECKING:
    from sentiment_service.storage.database import Database

# Columns of free text: each piece of PII in them is replaced by a placeholder.
FREE_TEXT: dict[type, tuple[str, ...]] = {
    Account: ("name", "owner"),
    AccountOutcome: ("notes",),
    AlertDelivery: ("error",),
    AlertRule: ("last_error",),
    ConfigVersion: ("reason",),
    HealthOverride: ("reason",),
    LabelCorrection: ("note",),
    Metric: ("source",),
    ModelJob: ("log", "error"),
    QuarantineRecord: ("reason", "source", "field_path"),
    SyncState: ("last_error",),
    TopicCorrection: ("note",),
}
# Identifiers: kept, or replaced whole by a keyed hash when they carry PII.
IDENTIFIERS: dict[type, tuple[str, ...]] = {
    AuditLogEntry: ("entity_id",),
    Message: ("external_id", "thread_id"),
}
# JSON columns: every string inside is redacted.
PAYLOADS: dict[type, tuple[str, ...]] = {
    AuditLogEntry: ("before", "after"),
}


def protect(row: object, redactor: PiiRedactor) -> None:
    """Redact and hash, in place, the PII-prone columns of one ORM row."""
    kind = type(row)
    for name in FREE_TEXT.get(kind, ()):
        _update(row, name, redactor.optional_text(getattr(row, name)))
    for name in IDENTIFIERS.get(kind, ()):
        _update(row, name, redactor.optional_identifier(getattr(row, name)))
    for name in PAYLOADS.get(kind, ()):
        value = getattr(row, name)
        if value is not None:
            _update(row, name, redactor.redact_payload(value))


def _update(row: object, name: str, value: Any) -> None:
    """Set only when the value changed (no needless UPDATE of a clean row)."""
    if getattr(row, name) != value:
        setattr(row, name, value)


def install(factory: sessionmaker[Any], redactor: PiiRedactor) -> None:
    """Protect every row that sessions from `factory` add or change, before each flush."""

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        for row in chain(session.new, session.dirty):
            if type(row) in FREE_TEXT or type(row) in IDENTIFIERS or type(row) in PAYLOADS:
                protect(row, redactor)

    event.listen(factory, "before_flush", before_flush)


def guard(database: Database, settings: Settings) -> Database:
    """`database` with the hook installed when `settings` ask for redaction."""
    if settings.redact_pii:
        database.guard_pii(PiiRedactor(settings.phone_region, pii_hash_key(settings)))
    return database
