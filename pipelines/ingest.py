"""Ingestion: validate -> quarantine -> redact PII -> de-duplicate -> store, per record.

Used by the HTTP API, the connectors and the sample-data loader alike. Every raw record ends
as accepted, flagged (stored, but a canned repeat of another message: see pipelines/dedupe.py),
updated (same external id, changed content), duplicate (the same record again) or rejected
(quarantined). Records with different `(source_system, external_id)` are never merged.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.text_cleaning import replace_lone_surrogates
from pipelines.account_keys import account_key
from pipelines.dedupe import CANNED_REPLY_WINDOW, content_hash, template_hash
from pipelines.language import shared_detector
from pipelines.queue import enqueue
from pipelines.records import (
    MessageRecord,
    MetricRecord,
    OutcomeRecord,
    Rejection,
    ValidationLimits,
    validate_record,
)
from pipelines.redaction import PiiRedactor
from sentiment_service.accounts import create_placeholder_account
from sentiment_service.settings import Settings
from sentiment_service.storage.tables import (
    Account,
    AccountOutcome,
    Message,
    Metric,
    QuarantineKey,
    QuarantineRecord,
)
from sentiment_service.storage.types import utcnow

Status = Literal["accepted", "flagged", "updated", "duplicate", "rejected"]


@dataclass(frozen=True)
class ItemResult:
    """What happened to the record at `index` of a batch."""

    index: int
    status: Status
    id: int | None = None
    code: str | None = None
    reason: str | None = None
    field: str | None = None
    quarantine_id: int | None = None


@dataclass
class BatchResult:
    """The outcome of one batch, item by item."""

    items: list[ItemResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many items ended in each status."""
        tally = Counter(item.status for item in self.items)
        return {status: tally.get(status, 0) for status in Status.__args__}  # type: ignore[attr-defined]


@dataclass(frozen=True)
class IngestPolicy:
    """The settings ingestion obeys."""

    max_text_chars: int = 20_000
    future_skew: timedelta = timedelta(minutes=5)
    auto_create_accounts: bool = False
    redact_pii: bool = True
    phone_region: str = "US"
    detect_language: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestPolicy:
        """The policy configured in `settings`."""
        return cls(
            max_text_chars=settings.max_text_chars,
            future_skew=timedelta(seconds=settings.future_skew_seconds),
            auto_create_accounts=settings.auto_create_accounts,
            redact_pii=settings.redact_pii,
            phone_region=settings.phone_region,
            detect_language=settings.detect_language,
        )


class Ingestor:
    """Stores batches of raw records into one session (the caller commits)."""

    def __init__(
        self,
        session: Session,
        policy: IngestPolicy,
        *,
        channel: str,
        actor: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self.policy = policy
        self.channel = channel
        self.actor = actor
        self.clock = clock
        self.redactor = PiiRedactor(policy.phone_region) if policy.redact_pii else None
        self._known_accounts: set[str] = set()

    def _limits(self) -> ValidationLimits:
        return ValidationLimits(self.policy.max_text_chars, self.clock(), self.policy.future_skew)

    def messages(self, raws: Sequence[Any]) -> BatchResult:
        """Ingest a batch of raw message objects."""
        return self._run("message", MessageRecord, self._store_message, raws)

    def metrics(self, raws: Sequence[Any]) -> BatchResult:
        """Ingest a batch of raw metric observations."""
        return self._run("metric", MetricRecord, self._store_metric, raws)

    def outcomes(self, raws: Sequence[Any]) -> BatchResult:
        """Ingest a batch of raw account outcomes."""
        return self._run("outcome", OutcomeRecord, self._store_outcome, raws)

    def _run(
        self,
        kind: str,
        model: type[BaseModel],
        store: Callable[[int, Any], ItemResult],
        raws: Sequence[Any],
    ) -> BatchResult:
        result = BatchResult()
        limits = self._limits()
        for index, raw in enumerate(raws):
            validated = validate_record(model, raw, limits)
            if validated.rejection is not None:
                item = self.quarantine(kind, index, raw, validated.rejection)
            else:
                item = self._store_guarded(kind, index, raw, validated.record, store)
            result.items.append(item)
        return result

    def _store_guarded(
        self, kind: str, index: int, raw: Any, record: Any, store: Callable[[int, Any], ItemResult]
    ) -> ItemResult:
        account_id = getattr(record, "account_id", None)
        if account_id is not None and not self._account_exists(account_id):
            rejection = Rejection(
                "unknown_account", f"account {account_id!r} does not exist", "account_id"
            )
            keys = [account_key("account", account_id)]
            return self.quarantine(kind, index, raw, rejection, account_keys=keys)
        try:
            with self.session.begin_nested():
                return store(index, record)
        except IntegrityError:
            # A concurrent writer stored the same key between our lookup and insert.
            with self.session.begin_nested():
                return store(index, record)

    def _account_exists(self, account_id: str) -> bool:
        if account_id in self._known_accounts:
            return True
        if self.session.get(Account, account_id) is None:
            if not self.policy.auto_create_accounts:
                return False
            create_placeholder_account(self.session, account_id, actor=self.actor)
        self._known_accounts.add(account_id)
        return True

    def quarantine(
        self,
        kind: str,
        index: int,
        raw: Any,
        rejection: Rejection,
        *,
        account_keys: Sequence[str] = (),
    ) -> ItemResult:
        """Keep a refused record; the same payload refused again reuses the earlier row.

        `account_keys` (pipelines/account_keys.py) name the accounts the record may belong
        to, so that creating one of them replays it (sentiment_service/quarantine.py)."""
        payload = _jsonable(self.redactor.redact_payload(raw) if self.redactor else raw)
        reason = _storable(rejection.reason)
        field_path = _storable(rejection.field) if rejection.field else None
        canonical = json.dumps([kind, self.channel, rejection.code, payload], sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        row = self.session.exec(
            select(QuarantineRecord).where(QuarantineRecord.payload_hash == digest)
        ).first()
        if row is None:
            source = raw.get("source") if isinstance(raw, dict) else None
            row = QuarantineRecord(
                kind=kind,
                channel=self.channel,
                source=_storable(str(source))[:64] if source is not None else None,
                reason_code=rejection.code,
                reason=reason,
                field_path=field_path,
                raw_payload=payload,
                payload_hash=digest,
            )
            self.session.add(row)
            self.session.flush()
            if row.id is None:  # pragma: no cover - flush assigns ids
                raise RuntimeError("quarantine id missing after flush")
            for key in sorted(set(account_keys)):
                self.session.add(QuarantineKey(quarantine_id=row.id, key=key))
            self.session.flush()
        return ItemResult(
            index,
            "rejected",
            code=rejection.code,
            reason=reason,
            field=field_path,
            quarantine_id=row.id,
        )

    def _store_message(self, index: int, record: MessageRecord) -> ItemResult:
        text, redactions = record.text, 0
        metadata: dict[str, Any] = record.metadata
        if self.redactor is not None:
            redacted = self.redactor.redact(text)
            text, redactions = redacted.text, redacted.count
            metadata = self.redactor.redact_payload(metadata)
        digest = content_hash(text)
        template = template_hash(text, record.author_role.value)
        language = record.language
        if language is None and self.policy.detect_language:
            language = shared_detector().detect(text)
        existing = self.session.exec(
            select(Message).where(
                Message.source_system == record.source_system,
                Message.external_id == record.external_id,
            )
        ).first()
        fields: dict[str, Any] = {
            "source": record.source.value,
            "account_id": record.account_id,
            "author_role": record.author_role.value,
            "text": text,
            "created_at": record.created_at,
            "language": language,
            "content_hash": digest,
            "template_hash": template,
            "thread_id": record.thread_id,
            "redactions": redactions,
            "extra": _jsonable(metadata) or None,
        }
        if existing is not None:
            if all(getattr(existing, name) == value for name, value in fields.items()):
                return ItemResult(
                    index,
                    "duplicate",
                    existing.id,
                    code="same_external_id",
                    reason="already stored with the same content",
                )
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.updated_at = self.clock()
            self.session.add(existing)
            self.session.flush()
            if existing.id is None:  # pragma: no cover - flush assigns ids
                raise RuntimeError("message id missing after flush")
            enqueue(self.session, [existing.id])
            return ItemResult(index, "updated", existing.id)
        original = self._canned_original(record, template)
        message = Message(
            source_system=record.source_system,
            external_id=record.external_id,
            duplicate_of=original.id if original is not None else None,
            duplicate_reason="canned_reply" if original is not None else None,
            **fields,
        )
        self.session.add(message)
        self.session.flush()
        if message.id is None:  # pragma: no cover - flush assigns ids
            raise RuntimeError("message id missing after flush")
        enqueue(self.session, [message.id])  # flagged ones are marked skipped, not scored
        if original is not None:
            return ItemResult(
                index,
                "flagged",
                message.id,
                code="canned_reply",
                reason=(
                    f"stored, flagged as a repeat of message {original.id}: the same reply by "
                    "the same kind of author in the same thread, apart from names, numbers "
                    "and links (not scored, not counted)"
                ),
            )
        return ItemResult(index, "accepted", message.id)

    def _canned_original(self, record: MessageRecord, template: str) -> Message | None:
        """The unflagged message of the same account, thread, author kind and source that
        this agent or bot message repeats within CANNED_REPLY_WINDOW (see pipelines/dedupe.py),
        or None. Customer and CSM messages are never flagged."""
        window = CANNED_REPLY_WINDOW.get(record.author_role.value)
        if window is None or record.account_id is None or record.thread_id is None:
            return None
        return self.session.exec(
            select(Message)
            .where(
                Message.account_id == record.account_id,
                Message.thread_id == record.thread_id,
                Message.template_hash == template,
                Message.author_role == record.author_role.value,
                Message.source == record.source.value,
                col(Message.duplicate_of).is_(None),
                col(Message.created_at) >= record.created_at - window,
                col(Message.created_at) <= record.created_at + window,
            )
            .order_by(col(Message.id))
            .limit(1)
        ).first()

    def _store_metric(self, index: int, record: MetricRecord) -> ItemResult:
        existing = self.session.exec(
            select(Metric).where(
                Metric.account_id == record.account_id,
                Metric.name == record.name,
                Metric.observed_at == record.observed_at,
                Metric.source == record.source,
            )
        ).first()
        if existing is not None:
            if existing.value == record.value:
                return ItemResult(
                    index,
                    "duplicate",
                    existing.id,
                    code="same_observation",
                    reason="already stored with the same value",
                )
            existing.value = record.value
            self.session.add(existing)
            self.session.flush()
            return ItemResult(index, "updated", existing.id)
        metric = Metric(**record.model_dump())
        self.session.add(metric)
        self.session.flush()
        return ItemResult(index, "accepted", metric.id)

    def _store_outcome(self, index: int, record: OutcomeRecord) -> ItemResult:
        existing = self.session.exec(
            select(AccountOutcome).where(
                AccountOutcome.account_id == record.account_id,
                AccountOutcome.occurred_on == record.occurred_on,
                AccountOutcome.outcome == record.outcome.value,
            )
        ).first()
        if existing is not None:
            if existing.notes == record.notes:
                return ItemResult(
                    index, "duplicate", existing.id, code="same_outcome", reason="already stored"
                )
            existing.notes = record.notes
            self.session.add(existing)
            self.session.flush()
            return ItemResult(index, "updated", existing.id)
        outcome = AccountOutcome(
            account_id=record.account_id,
            outcome=record.outcome.value,
            occurred_on=record.occurred_on,
            notes=record.notes,
        )
        self.session.add(outcome)
        self.session.flush()
        return ItemResult(index, "accepted", outcome.id)


def _storable(text: str) -> str:
    """`text` (a field name, reason or source of a refused record) as a text column of either
    database stores it: NUL (PostgreSQL refuses it) and lone surrogates (no encoder accepts
    them) become U+FFFD, so that the quarantine still shows where they were."""
    return replace_lone_surrogates(text).replace("\x00", "\ufffd")


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy of `value` that any database can store: unknown objects become strings,
    non-finite floats strings, and lone surrogates in strings and keys U+FFFD."""
    if isinstance(value, dict):
        return {replace_lone_surrogates(str(key)): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if isinstance(value, int | bool) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return replace_lone_surrogates(str(value))
