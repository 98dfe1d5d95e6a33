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
from sqlalchemy import insert, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.text_cleaning import replace_lone_surrogates
from pipelines.account_keys import account_key
from pipelines.dedupe import CANNED_REPLY_WINDOW, content_hash, template_hash
from pipelines.language import shared_detector
from pipelines.placeholder_accounts import create_placeholder_account
from pipelines.queue import enqueue
from pipelines.records import (
    MessageRecord,
    MetricRecord,
    OutcomeRecord,
    Rejection,
    ValidationLimits,
    validate_record,
)
from pipelines.redaction import PiiRedactor, load_hash_key
from pipelines.row_ids import stored_id
from sentiment_service.settings import Settings
from sentiment_service.storage.queries import select_columns
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
    pii_hash_key: bytes | None = None

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
            pii_hash_key=pii_hash_key(settings) if settings.redact_pii else None,
        )


def pii_hash_key(settings: Settings) -> bytes:
    """The key of hashed identifiers configured in `settings` (see pipelines/redaction.py)."""
    secret = settings.pii_hash_key.get_secret_value() if settings.pii_hash_key else None
    return load_hash_key(secret, settings.data_dir)


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
        self.redactor = (
            PiiRedactor(policy.phone_region, policy.pii_hash_key) if policy.redact_pii else None
        )
        self._known_accounts: set[str] = set()

    def _limits(self) -> ValidationLimits:
        return ValidationLimits(self.policy.max_text_chars, self.clock(), self.policy.future_skew)

    def messages(self, raws: Sequence[Any]) -> BatchResult:
        """Ingest a batch of raw message objects.

        New records go in bulk: one look-up of the batch's keys, one multi-row insert and one
        enqueue. Records that may change what is stored (a known key, a key repeated in the
        batch, a possible canned repeat of another record of the batch) then go one by one,
        in batch order, exactly as `_store_message` does for a single record."""
        items: dict[int, ItemResult] = {}
        valid: list[tuple[int, Any, MessageRecord]] = []
        limits = self._limits()
        for index, raw in enumerate(raws):
            record = validate_record(MessageRecord, raw, limits)
            if isinstance(record, Rejection):
                items[index] = self.quarantine("message", index, raw, record)
                continue
            refused = self._refuse_unknown_account("message", index, raw, record)
            if refused is not None:
                items[index] = refused
            else:
                valid.append((index, raw, record))
        one_by_one = self._insert_new_messages(valid, items)
        for index, raw, record in valid:
            if index in one_by_one:
                items[index] = self._store_guarded(
                    "message", index, raw, record, self._store_message
                )
        return BatchResult([items[index] for index in sorted(items)])

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
            if isinstance(validated, Rejection):
                item = self.quarantine(kind, index, raw, validated)
            else:
                item = self._store_guarded(kind, index, raw, validated, store)
            result.items.append(item)
        return result

    def _refuse_unknown_account(
        self, kind: str, index: int, raw: Any, record: Any
    ) -> ItemResult | None:
        """The quarantine item of a record naming an account that does not exist, or None."""
        account_id = getattr(record, "account_id", None)
        if account_id is None or self._account_exists(account_id):
            return None
        rejection = Rejection(
            "unknown_account", f"account {account_id!r} does not exist", "account_id"
        )
        keys = [account_key("account", account_id)]
        return self.quarantine(kind, index, raw, rejection, account_keys=keys)

    def _store_guarded(
        self, kind: str, index: int, raw: Any, record: Any, store: Callable[[int, Any], ItemResult]
    ) -> ItemResult:
        refused = self._refuse_unknown_account(kind, index, raw, record)
        if refused is not None:
            return refused
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
        reason = _storable(self._text(rejection.reason))
        field_path = _storable(self._text(rejection.field)) if rejection.field else None
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
                source=_storable(self._text(str(source)))[:64] if source is not None else None,
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

    def _text(self, text: str) -> str:
        """Free text as stored: redacted when the policy says so."""
        return self.redactor.redact(text).text if self.redactor is not None else text

    def _store_message(self, index: int, record: MessageRecord) -> ItemResult:
        record, fields = self._prepared(record)
        existing = self.session.exec(
            select(Message).where(
                Message.source_system == record.source_system,
                Message.external_id == record.external_id,
            )
        ).first()
        if existing is not None:
            return self._update_message(index, existing, fields)
        original = self._canned_original(record, fields["template_hash"])
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
        return _new_message_item(index, message.id, message.duplicate_of)

    def _insert_new_messages(
        self, valid: list[tuple[int, Any, MessageRecord]], items: dict[int, ItemResult]
    ) -> set[int]:
        """Insert the batch's plainly new records in bulk, filling `items`; return the
        indexes left for the one-by-one path."""
        prepared = [(index, *self._prepared(record)) for index, _, record in valid]
        keys = {(record.source_system, record.external_id) for _, record, _ in prepared}
        known = set(
            self.session.exec(
                select(Message.source_system, Message.external_id).where(
                    tuple_(col(Message.source_system), col(Message.external_id)).in_(keys)
                )
            ).all()
        )
        originals = self._canned_candidates([(r, f) for _, r, f in prepared])
        one_by_one: set[int] = set()
        seen: set[tuple[str, str]] = set()
        in_batch: dict[tuple[Any, ...], list[datetime]] = {}
        rows: list[tuple[int, dict[str, Any]]] = []
        now = utcnow()
        for index, record, fields in prepared:
            key = (record.source_system, record.external_id)
            if key in known or key in seen:
                one_by_one.add(index)
                continue
            seen.add(key)
            window = CANNED_REPLY_WINDOW.get(record.author_role.value)
            original_id = None
            if window is not None and record.account_id and record.thread_id:
                canned = _canned_key(record, fields["template_hash"])
                earlier = in_batch.setdefault(canned, [])
                if any(abs(record.created_at - moment) <= window for moment in earlier):
                    one_by_one.add(index)  # its original may be a record of this batch
                    continue
                earlier.append(record.created_at)
                original_id = next(
                    (
                        id_
                        for id_, moment in originals.get(canned, [])
                        if abs(record.created_at - moment) <= window
                    ),
                    None,
                )
            rows.append(
                (
                    index,
                    {
                        "source_system": record.source_system,
                        "external_id": record.external_id,
                        "duplicate_of": original_id,
                        "duplicate_reason": "canned_reply" if original_id is not None else None,
                        "ingested_at": now,
                        "updated_at": now,
                        **fields,
                    },
                )
            )
        if not rows:
            return one_by_one
        statement = insert(Message).returning(col(Message.id), sort_by_parameter_order=True)
        try:
            with self.session.begin_nested():
                returned = self.session.scalars(statement, [row for _, row in rows])
                ids = [stored_id(id_, "message") for id_ in returned]
        except IntegrityError:
            # A concurrent writer stored one of these keys first: go one by one.
            return one_by_one | {index for index, _ in rows}
        enqueue(self.session, ids)
        for (index, row), id_ in zip(rows, ids, strict=True):
            items[index] = _new_message_item(index, id_, row["duplicate_of"])
        return one_by_one

    def _canned_candidates(
        self, prepared: list[tuple[MessageRecord, dict[str, Any]]]
    ) -> dict[tuple[Any, ...], list[tuple[int, datetime]]]:
        """Stored unflagged messages that records of the batch could repeat, by canned key
        (account, thread, template, author role, source), oldest id first."""
        wanted = [
            (record, fields)
            for record, fields in prepared
            if record.author_role.value in CANNED_REPLY_WINDOW
            and record.account_id
            and record.thread_id
        ]
        if not wanted:
            return {}
        threads = {record.thread_id for record, _ in wanted}
        templates = {fields["template_hash"] for _, fields in wanted}
        rows = self.session.exec(
            select_columns(
                col(Message.id),
                col(Message.account_id),
                col(Message.thread_id),
                col(Message.template_hash),
                col(Message.author_role),
                col(Message.source),
                col(Message.created_at),
            )
            .where(
                col(Message.thread_id).in_(threads),
                col(Message.template_hash).in_(templates),
                col(Message.duplicate_of).is_(None),
            )
            .order_by(col(Message.id))
        ).all()
        found: dict[tuple[Any, ...], list[tuple[int, datetime]]] = {}
        for id_, account, thread, template, role, source, created in rows:
            found.setdefault((account, thread, template, role, source), []).append((id_, created))
        return found

    def _update_message(self, index: int, existing: Message, fields: dict[str, Any]) -> ItemResult:
        """The record's key is stored: a duplicate when nothing changed, else an update."""
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

    def _prepared(self, record: MessageRecord) -> tuple[MessageRecord, dict[str, Any]]:
        """The record with its identifiers protected, and the columns to store."""
        text, redactions = record.text, 0
        metadata: dict[str, Any] = record.metadata
        if self.redactor is not None:
            # Identifiers carrying PII are stored (and so looked up) as keyed hashes.
            record = record.model_copy(
                update={
                    "external_id": self.redactor.identifier(record.external_id),
                    "thread_id": self.redactor.optional_identifier(record.thread_id),
                }
            )
            redacted = self.redactor.redact(text)
            text, redactions = redacted.text, redacted.count
            metadata = self.redactor.redact_payload(metadata)
        digest = content_hash(text)
        template = template_hash(text, record.author_role.value)
        language = record.language
        if language is None and self.policy.detect_language:
            language = shared_detector().detect(text)
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
        return record, fields

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
        record = record.model_copy(update={"source": self._text(record.source)})
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
        if record.notes is not None:
            record = record.model_copy(update={"notes": self._text(record.notes)})
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


def _canned_key(record: MessageRecord, template: str) -> tuple[Any, ...]:
    """What a canned repeat shares with its original (pipelines/dedupe.py)."""
    return (
        record.account_id,
        record.thread_id,
        template,
        record.author_role.value,
        record.source.value,
    )


def _new_message_item(index: int, message_id: int | None, original: int | None) -> ItemResult:
    """The result for a newly stored message: accepted, or flagged as a canned repeat."""
    if original is None:
        return ItemResult(index, "accepted", message_id)
    return ItemResult(
        index,
        "flagged",
        message_id,
        code="canned_reply",
        reason=(
            f"stored, flagged as a repeat of message {original}: the same reply "
            "by the same kind of author in the same thread, apart from names, numbers and "
            "links (not scored, not counted)"
        ),
    )


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
