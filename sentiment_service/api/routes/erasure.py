"""Right to erasure: `DELETE /v1/accounts/{id}?confirm={id}` (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from sentiment_service.accounts import AccountId
from sentiment_service.api.deps import Admin, DatabaseDep
from sentiment_service.erasure import erase_account
from sentiment_service.errors import InvalidInputError, NotFoundError

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class ErasureOut(BaseModel):
    """What was removed, per table."""

    account_id: str
    removed: dict[str, int]


@router.delete("/{account_id}", response_model=ErasureOut, summary="Erase an account's data")
def erase(
    account_id: Annotated[AccountId, Path(description="Our id of the account")],
    principal: Admin,
    database: DatabaseDep,
    confirm: Annotated[
        str | None, Query(max_length=128, description="The account id again")
    ] = None,
) -> ErasureOut:
    """Delete the account with its messages, metrics, outcomes and everything derived from
    them (scores, topics, rollups, features, health scores, overrides, alerts). Irreversible:
    `confirm` must repeat the account id. The audit log records the row counts, not content."""
    if confirm != account_id:
        raise InvalidInputError("repeat the account id in `confirm` to erase it", field="confirm")
    with database.session(write=True) as session:
        removed = erase_account(session, account_id, actor=principal.actor)
    if removed is None:
        raise NotFoundError(f"account {account_id!r} does not exist", field="account_id")
    return ErasureOut(account_id=account_id, removed=removed)
