"""Accounts: create/replace and read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel
from sqlmodel import col, select

from pipelines.queue import active_version
from sentiment_service.accounts import AccountId, AccountIn, AccountOut, account_out, upsert_account
from sentiment_service.api.deps import DatabaseDep, Ingester, Reader
from sentiment_service.api.schemas import MAX_ID, Page
from sentiment_service.errors import NotFoundError
from sentiment_service.storage.tables import Account, Message, MessageScore

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


class ScoredMessageOut(BaseModel):
    """A stored message with its sentiment under the active model version."""

    id: int
    source: str
    source_system: str
    external_id: str
    author_role: str
    thread_id: str | None
    created_at: datetime
    text: str
    label: str | None
    score: float | None
    model_version: str | None
    sentences: list[dict[str, Any]] | None


@router.get(
    "/{account_id}/messages",
    response_model=Page[ScoredMessageOut],
    summary="An account's messages with their sentiment (evidence)",
)
def list_account_messages(
    account_id: AccountPath,
    _: Reader,
    database: DatabaseDep,
    source: str | None = None,
    label: Annotated[str | None, Query(pattern="^(negative|neutral|positive)$")] = None,
    author_role: str | None = "customer",
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ScoredMessageOut]:
    """Newest first; `label` filters on the model's (active version) label."""
    with database.session() as session:
        if session.get(Account, account_id) is None:
            raise NotFoundError(f"account {account_id!r} does not exist", field="account_id")
        version = active_version(session)
        query = (
            select(Message, MessageScore)
            .join(
                MessageScore,
                (col(MessageScore.message_id) == col(Message.id))
                & (col(MessageScore.model_version) == version),
                isouter=label is None,
            )
            .where(Message.account_id == account_id)
            .order_by(col(Message.id).desc())
            .limit(limit + 1)
        )
        if source is not None:
            query = query.where(Message.source == source)
        if author_role is not None:
            query = query.where(Message.author_role == author_role)
        if label is not None:
            query = query.where(MessageScore.label == label)
        if cursor is not None:
            query = query.where(col(Message.id) < cursor)
        rows = list(session.exec(query).all())
    items = [
        ScoredMessageOut(
            id=m.id or 0,
            source=m.source,
            source_system=m.source_system,
            external_id=m.external_id,
            author_role=m.author_role,
            thread_id=m.thread_id,
            created_at=m.created_at,
            text=m.text,
            label=s.label if s else None,
            score=s.score if s else None,
            model_version=s.model_version if s else None,
            sentences=s.sentences if s else None,
        )
        for m, s in rows[:limit]
    ]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return Page[ScoredMessageOut](items=items, next_cursor=next_cursor)
