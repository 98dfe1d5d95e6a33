"""Accounts: create/replace and read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from sqlmodel import col, select

from sentiment_service.accounts import AccountId, AccountIn, AccountOut, account_out, upsert_account
from sentiment_service.api.deps import DatabaseDep, Ingester, Reader
from sentiment_service.api.schemas import Page
from sentiment_service.errors import NotFoundError
from sentiment_service.storage.tables import Account

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])
AccountPath = Annotated[AccountId, Path(description="Our id of the account")]


@router.put(
    "/{account_id}",
    response_model=AccountOut,
    responses={201: {"model": AccountOut, "description": "Created"}},
    summary="Create or replace an account",
)
def put_account(
    account_id: AccountPath,
    body: AccountIn,
    principal: Ingester,
    database: DatabaseDep,
    response: Response,
) -> AccountOut:
    """Create the account, or replace its fields and vendor ids; changes go to the audit log."""
    with database.session() as session:
        view, created = upsert_account(session, account_id, body, actor=principal.actor)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return view


@router.get("/{account_id}", response_model=AccountOut, summary="One account")
def get_account(account_id: AccountPath, _: Reader, database: DatabaseDep) -> AccountOut:
    """The account's stored fields and vendor ids."""
    with database.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFoundError(f"account {account_id!r} does not exist", field="account_id")
        return account_out(session, account)


@router.get("", response_model=Page[AccountOut], summary="List accounts")
def list_accounts(
    _: Reader,
    database: DatabaseDep,
    segment: str | None = None,
    owner: str | None = None,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[AccountOut]:
    """Accounts ordered by id, filtered by segment and owner, a page at a time."""
    with database.session() as session:
        query = select(Account).order_by(col(Account.id)).limit(limit + 1)
        if segment is not None:
            query = query.where(Account.segment == segment)
        if owner is not None:
            query = query.where(Account.owner == owner)
        if cursor is not None:
            query = query.where(col(Account.id) > cursor)
        rows = list(session.exec(query).all())
        items = [account_out(session, row) for row in rows[:limit]]
    next_cursor = items[-1].id if len(rows) > limit else None
    return Page[AccountOut](items=items, next_cursor=next_cursor)
