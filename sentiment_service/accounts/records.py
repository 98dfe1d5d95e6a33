"""The visibility check every account read makes under a key's scope, and the ids of the
accounts a scope covers. The account fields, views and upsert live in
pipelines/account_records.py (re-exported by `sentiment_service.accounts`)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from sentiment_service.auth.scope import AccountScope, restrict_accounts
from sentiment_service.errors import NotFoundError
from sentiment_service.storage.tables import Account


def visible_account(session: Session, account_id: str, scope: AccountScope | None) -> Account:
    """The account when it exists and `scope` (None: unrestricted) covers it.

    An account outside the scope raises exactly the NotFoundError of an unknown account, so
    that a scoped caller cannot tell the two apart.
    """
    account = session.get(Account, account_id)
    if account is None or (scope is not None and not scope.allows(account)):
        raise NotFoundError(f"account {account_id!r} does not exist", field="account_id")
    return account


def account_ids(
    session: Session,
    scope: AccountScope | None,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[str]:
    """The ids of the accounts in `scope` (None: every account) in id order; with `after`,
    only the ids above it; with `limit`, at most that many."""
    query = restrict_accounts(select(Account.id), scope).order_by(col(Account.id))
    if limit is not None:
        query = query.limit(limit)
    if after:
        query = query.where(col(Account.id) > after)
    return list(session.exec(query).all())
