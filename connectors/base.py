"""The connector interface and the sync engine that stores pages and cursors atomically."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlmodel import Session, select
from tqdm import tqdm

from connectors.accounts import AccountRef, AccountResolver, ref_key
from connectors.errors import AuthenticationError, BudgetExhausted, ConnectorError
from connectors.http import HttpStats
from connectors.progress import ProgressLog
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.records import Rejection
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, SyncState
from sentiment_service.storage.types import utcnow


@dataclass(frozen=True)
class Draft:
    """One message in our MessageRecord shape (without account_id) and its account refs."""

    record: dict[str, Any]
    account_refs: tuple[AccountRef, ...] = ()
    brand_level_ok: bool = False


@dataclass(frozen=True)
class Refusal:
    """Input a connector could not turn into messages (e.g. an unreadable transcript file):
    quarantined as `kind` with the rejection's reason, counted as fetched and quarantined."""

    kind: str
    payload: dict[str, Any]
    rejection: Rejection


@dataclass(frozen=True)
class Page:
    """A unit of work: messages plus the cursor to store once they are committed."""

    drafts: list[Draft]
    cursor: str | None
    deleted_threads: tuple[str, ...] = ()
    skipped: int = 0
    refused: tuple[Refusal, ...] = ()
    unresolved_authors: int = 0  # drafts whose author the vendor could not identify


class Connector(Protocol):
    """A vendor source: yields pages starting after `cursor` (or at `since`)."""

    source_system: str
    stats: HttpStats

    def pages(self, cursor: str | None, since: datetime | None) -> Iterator[Page]:
        """Pages in order; `since` (a fresh start time) wins over `cursor` when given."""
        ...


@dataclass
class SyncSummary:
    """What one sync did. Every fetched record ends in exactly one outcome:
    fetched == stored + updated + flagged_duplicates + duplicates + quarantined + skipped
    (`flagged_duplicates`: stored, but flagged as a canned repeat of another message;
    `duplicates`: the same record again). `unresolved_authors` counts records among them
    whose author the vendor could not identify (their role is inferred or `unknown`)."""

    connector: str
    fetched: int = 0
    stored: int = 0
    updated: int = 0
    flagged_duplicates: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    unresolved_authors: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    complete: bool = False
    cursor: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class SyncOptions:
    """How the engine stores what a connector fetched."""

    domains: Mapping[str, str] = field(default_factory=dict)
    auto_create_accounts: bool = False
    progress: bool = True
    log_every_seconds: float = 5.0  # progress log heartbeat while no page lands (0: off)


class SyncEngine:
    """Runs a connector: each page and its cursor are committed in one transaction."""

    def __init__(
        self,
        database: Database,
        policy: IngestPolicy,
        options: SyncOptions | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.policy = policy
        self.options = options or SyncOptions()
        self.monotonic = monotonic

    def run(self, name: str, connector: Connector, *, since: datetime | None = None) -> SyncSummary:
        """Sync `connector` under state key `name`; raises ConnectorError after recording it."""
        summary = SyncSummary(connector=name)
        started = self.monotonic()
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        cursor = None if since is not None else self._stored_cursor(name)
        summary.cursor = cursor
        bar = tqdm(
            desc=f"sync {name}",
            unit="msg",
            file=sys.stderr,
            disable=not self.options.progress,
            dynamic_ncols=True,
        )
        progress = ProgressLog(
            name,
            summary,
            getattr(connector, "stats", None),
            every=self.options.log_every_seconds,
            monotonic=self.monotonic,
        ).start()
        try:
            for page in connector.pages(cursor, since):
                self._store_page(name, connector.source_system, page, summary)
                bar.update(len(page.drafts))
                bar.set_postfix(
                    stored=summary.stored, updated=summary.updated, quarantined=summary.quarantined
                )
                self._measure(summary, connector, started)
                progress.page()
        except BudgetExhausted as error:
            summary.error = str(error)
            self._finish(name, summary, connector, started, success=False)
            progress.stop(complete=False, error=summary.error)
            return summary
        except Exception as error:  # recorded in sync_state, then re-raised
            summary.error = _describe(error)
            self._finish(name, summary, connector, started, success=False)
            progress.stop(complete=False, error=summary.error)
            raise
        finally:
            bar.close()
        summary.complete = True
        self._finish(name, summary, connector, started, success=True)
        progress.stop(complete=True)
        return summary

    def _stored_cursor(self, name: str) -> str | None:
        with self.database.session() as session:
            state = session.get(SyncState, name)
            return state.cursor if state is not None else None

    def _store_page(self, name: str, system: str, page: Page, summary: SyncSummary) -> None:
        actor = f"connector:{name}"
        with self.database.session() as session:
            # The page's messages and the new cursor are committed by this one transaction.
            state = session.get(SyncState, name) or SyncState(connector=name)
            state.updated_at = utcnow()
            session.add(state)
            session.flush()
            ingestor = Ingestor(session, self.policy, channel=actor, actor=actor)
            resolver = AccountResolver(
                session,
                domains=self.options.domains,
                auto_create=self.options.auto_create_accounts,
                actor=actor,
            )
            records: list[dict[str, Any]] = []
            unresolved = 0
            for index, draft in enumerate(page.drafts):
                account_id = resolver.resolve(draft.account_refs)
                if account_id is None and not draft.brand_level_ok:
                    _quarantine_unresolved(ingestor, index, draft)
                    unresolved += 1
                    continue
                records.append({**draft.record, "account_id": account_id})
            result = ingestor.messages(records)
            counts = result.counts()
            for number, refusal in enumerate(page.refused, start=len(page.drafts)):
                ingestor.quarantine(refusal.kind, number, refusal.payload, refusal.rejection)
            _mark_deleted(session, system, page.deleted_threads)
            state.cursor = page.cursor
            state.details = {"in_progress": True, "pages": summary.pages + 1}
            session.add(state)
        summary.pages += 1
        summary.fetched += len(page.drafts) + len(page.refused) + page.skipped
        summary.skipped += page.skipped
        summary.unresolved_authors += page.unresolved_authors
        summary.stored += counts["accepted"]
        summary.updated += counts["updated"]
        summary.flagged_duplicates += counts.get("flagged", 0)
        summary.duplicates += counts["duplicate"]
        summary.quarantined += counts["rejected"] + unresolved + len(page.refused)
        reasons = [item.code or "invalid" for item in result.items if item.status == "rejected"]
        reasons += ["unresolved_account"] * unresolved
        reasons += [refusal.rejection.code for refusal in page.refused]
        for reason in reasons:
            summary.quarantine_reasons[reason] = summary.quarantine_reasons.get(reason, 0) + 1
        summary.cursor = page.cursor

    def _measure(self, summary: SyncSummary, connector: Connector, started: float) -> None:
        summary.requests = connector.stats.requests
        summary.retries = connector.stats.retries
        summary.seconds = round(self.monotonic() - started, 3)

    def _finish(
        self,
        name: str,
        summary: SyncSummary,
        connector: Connector,
        started: float,
        *,
        success: bool,
    ) -> None:
        self._measure(summary, connector, started)
        with self.database.session() as session:
            state = session.get(SyncState, name) or SyncState(connector=name, cursor=None)
            state.updated_at = utcnow()
            state.details = summary.as_dict()
            if success:
                state.last_success_at = utcnow()
                state.last_error = None
            else:
                state.last_error = summary.error
            session.add(state)


def _describe(error: Exception) -> str:
    if isinstance(error, AuthenticationError):
        return f"authentication failed: {error}"
    if isinstance(error, ConnectorError):
        return f"sync failed: {error}"
    return f"sync failed: {type(error).__name__}: {error}"


def _quarantine_unresolved(ingestor: Ingestor, index: int, draft: Draft) -> None:
    """Quarantine a record whose vendor account matches none of ours (reason
    unresolved_account), keeping its references so that `quarantine replay` (or creating the
    account) can resolve it later."""
    tried = ", ".join(ref.describe() for ref in draft.account_refs) or "no account reference"
    payload = {
        **draft.record,
        "account_refs": [
            {"kind": ref.kind, "value": ref.value, "system": ref.system}
            for ref in draft.account_refs
        ],
    }
    rejection = Rejection("unresolved_account", f"no account matches {tried}", "account_id")
    keys = [ref_key(ref) for ref in draft.account_refs]
    ingestor.quarantine("message", index, payload, rejection, account_keys=keys)


def _mark_deleted(session: Session, system: str, threads: tuple[str, ...]) -> None:
    """Keep the messages of threads deleted upstream, flagged `deleted` in their metadata."""
    if not threads:
        return
    rows = session.exec(
        select(Message).where(Message.source_system == system, Message.thread_id.in_(threads))  # type: ignore[union-attr]
    ).all()
    for row in rows:
        extra = dict(row.extra or {})
        if extra.get("deleted") is not True:
            extra["deleted"] = True
            row.extra = extra
            row.updated_at = utcnow()
            session.add(row)
