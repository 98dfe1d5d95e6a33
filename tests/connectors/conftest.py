"""Shared helpers: accounts, an engine without progress bars, a recording no-op sleep."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from connectors.base import SyncEngine, SyncOptions
from pipelines.ingest import IngestPolicy
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, QuarantineRecord, SyncState


class Sleeps(list[float]):
    """Records requested waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    """A no-op sleep that remembers what it was asked."""
    return Sleeps()


def make_accounts(database: Database, links: dict[str, dict[str, str]]) -> None:
    """Create accounts: account id -> {source_system: external id}."""
    with database.session() as session:
        for account_id, external_ids in links.items():
            upsert_account(
                session,
                account_id,
                AccountIn(name=account_id.title(), external_ids=external_ids),
                actor="test",
            )


def engine(database: Database, **options: Any) -> SyncEngine:
    """A sync engine with default ingestion policy and no progress bar."""
    return SyncEngine(database, IngestPolicy(), SyncOptions(progress=False, **options))


def stored(database: Database) -> dict[str, dict[str, Any]]:
    """Every stored message by external id."""
    with database.session() as session:
        rows = session.exec(select(Message)).all()
        return {
            row.external_id: {
                "source": row.source,
                "system": row.source_system,
                "account": row.account_id,
                "role": row.author_role,
                "text": row.text,
                "thread": row.thread_id,
                "created_at": row.created_at,
                "extra": row.extra or {},
            }
            for row in rows
        }


def quarantine_codes(database: Database) -> list[str]:
    """Reason codes of quarantined records."""
    with database.session() as session:
        return sorted(row.reason_code for row in session.exec(select(QuarantineRecord)).all())


def sync_state(database: Database, name: str) -> SyncState | None:
    """The stored sync state of a connector."""
    with database.session() as session:
        return session.get(SyncState, name)
