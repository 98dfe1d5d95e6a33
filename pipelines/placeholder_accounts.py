"""Placeholder accounts: an account known only by its id, created on ingestion when
`auto_create_accounts` is on."""

from __future__ import annotations

from sqlmodel import Session

from sentiment_service.audit import record_change
from sentiment_service.storage.tables import Account


def create_placeholder_account(session: Session, account_id: str, *, actor: str) -> Account:
    """An account known only by its id (auto-created on ingestion when enabled)."""
    account = Account(id=account_id, name=account_id)
    session.add(account)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="account.auto_create",
        entity_type="account",
        entity_id=account_id,
        before=None,
        after={"id": account_id, "name": account_id},
    )
    return account
