"""Replaying quarantined records through ingestion once what refused them is fixed.

A record refused because its account did not exist yet (`unknown_account`, `unresolved_account`)
or because of a validation rule that has since been relaxed is kept in the quarantine table.
`replay` runs such records through ingestion again: a record that is now accepted leaves the
quarantine (its row is deleted, the message is stored and queued for scoring); one that is still
refused stays where it is, unchanged, and is counted with its current reason.

Connector records carry the vendor references they were refused with (`account_refs`); they are
resolved again against the accounts and vendor ids stored now. Creating or updating an account
replays the records whose keys (pipelines/account_keys.py) match the account's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from pipelines.account_keys import keys_of_account
from pipelines.ingest import Ingestor, IngestPolicy
from sentiment_service.storage.tables import (
    Account,
    AccountExternalId,
    QuarantineKey,
    QuarantineRecord,
)

ACCOUNT_REASONS = ("unknown_account", "unresolved_account")
_KINDS = {"message": "messages", "metric": "metrics", "outcome": "outcomes"}


@dataclass
class ReplaySummary:
    """What one replay did; `examined` == the other counts added up."""

    examined: int = 0
    stored: int = 0
    flagged: int = 0
    updated: int = 0
    duplicates: int = 0
    still_quarantined: int = 0
    still_by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


def list_quarantined(
    session: Session,
    *,
    kind: str | None = None,
    reason_code: str | None = None,
    channel: str | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> tuple[list[QuarantineRecord], bool]:
    """Up to `limit` quarantined records with ids below `cursor`, newest first, filtered by
    kind, reason code and channel; and whether more follow."""
    query = select(QuarantineRecord).order_by(col(QuarantineRecord.id).desc()).limit(limit + 1)
    if kind is not None:
        query = query.where(QuarantineRecord.kind == kind)
    if reason_code is not None:
        query = query.where(QuarantineRecord.reason_code == reason_code)
    if channel is not None:
        query = query.where(QuarantineRecord.channel == channel)
    if cursor is not None:
        query = query.where(col(QuarantineRecord.id) < cursor)
    rows = list(session.exec(query).all())
    return rows[:limit], len(rows) > limit


def replay(
    session: Session,
    policy: IngestPolicy,
    *,
    actor: str,
    reasons: Sequence[str] = (),
    source: str | None = None,
    ids: Sequence[int] | None = None,
    batch_size: int = 200,
) -> ReplaySummary:
    """Re-run quarantined records (filtered by reason codes, source channel or ids) through
    ingestion inside `session` (the caller commits)."""
    summary = ReplaySummary()
    still: Counter[str] = Counter()
    after_id = 0
    while True:
        query = (
            select(QuarantineRecord)
            .where(col(QuarantineRecord.id) > after_id, col(QuarantineRecord.kind).in_(_KINDS))
            .order_by(col(QuarantineRecord.id))
            .limit(batch_size)
        )
        if reasons:
            query = query.where(col(QuarantineRecord.reason_code).in_(reasons))
        if source is not None:
            query = query.where(col(QuarantineRecord.channel).in_([source, f"connector:{source}"]))
        if ids is not None:
            query = query.where(col(QuarantineRecord.id).in_(ids))
        rows = list(session.exec(query).all())
        if not rows:
            break
        for row in rows:
            summary.examined += 1
            status, reason_code = _replay_one(session, policy, row, actor)
            if status == "rejected":
                summary.still_quarantined += 1
                still[reason_code or row.reason_code] += 1
            elif status == "accepted":
                summary.stored += 1
            elif status == "flagged":
                summary.flagged += 1
            elif status == "updated":
                summary.updated += 1
            else:
                summary.duplicates += 1
        after_id = rows[-1].id or after_id
    summary.still_by_reason = dict(sorted(still.items()))
    return summary


def replay_for_account(
    session: Session, policy: IngestPolicy, account_id: str, *, actor: str
) -> ReplaySummary:
    """Replay the account-refused records that name this account by our id or one of its
    vendor ids (called after an account is created or updated)."""
    links = session.exec(
        select(AccountExternalId).where(AccountExternalId.account_id == account_id)
    ).all()
    keys = keys_of_account(account_id, {link.source_system: link.external_id for link in links})
    matched = list(
        session.exec(
            select(QuarantineKey.quarantine_id).where(col(QuarantineKey.key).in_(keys)).distinct()
        ).all()
    )
    if not matched:
        return ReplaySummary()
    return replay(session, policy, actor=actor, reasons=ACCOUNT_REASONS, ids=matched)


def _replay_one(
    session: Session, policy: IngestPolicy, row: QuarantineRecord, actor: str
) -> tuple[str, str | None]:
    """Ingest one quarantined record again; (status, reason code when refused again)."""
    record = row.raw_payload
    if isinstance(record, dict) and "account_refs" in record:
        account_id = _resolve(session, record.get("account_refs"))
        if account_id is None:
            return "rejected", "unresolved_account"
        record = {k: v for k, v in record.items() if k != "account_refs"}
        record["account_id"] = account_id
    savepoint = session.begin_nested()
    ingestor = Ingestor(session, policy, channel=row.channel, actor=actor)
    item = getattr(ingestor, _KINDS[row.kind])([record]).items[0]
    if item.status == "rejected":
        savepoint.rollback()  # no second quarantine row; the original stays as it was
        return "rejected", item.code
    session.delete(row)
    savepoint.commit()
    return item.status, None


def _resolve(session: Session, refs: Any) -> str | None:
    """Our account for the first stored reference that matches one now (our id, a vendor id,
    a domain or an email registered as an account's external id)."""
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        kind, value = str(ref.get("kind", "")), str(ref.get("value", "")).strip()
        if not value:
            continue
        if kind == "account":
            if session.get(Account, value) is not None:
                return value
            continue
        system = str(ref.get("system") or "") if kind == "external" else kind
        if kind in ("domain", "email"):
            value = value.lower()
        link = session.exec(
            select(AccountExternalId).where(
                AccountExternalId.source_system == system,
                AccountExternalId.external_id == value,
            )
        ).first()
        if link is not None:
            return link.account_id
    return None
