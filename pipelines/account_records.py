"""Account records: the writable fields and the public view of an account, and creating or
replacing one with its vendor ids (audited). Below the service, so that ingestion and the
connectors' account resolution can create accounts; `sentiment_service.accounts` re-exports
every name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlmodel import Session, col, select

from pipelines.dates import Day
from sentiment_service.audit import record_change
from sentiment_service.errors import ConflictError
from sentiment_service.storage.tables import Account, AccountExternalId
from sentiment_service.storage.types import utcnow
from sentiment_service.text_rules import NoNul

AccountId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul
]


class AccountIn(BaseModel):
    """The writable fields of an account (PUT replaces them)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256), NoNul
    ]
    segment: ShortText | None = None
    industry: ShortText | None = None
    tier: ShortText | None = None
    arr: float | None = Field(None, ge=0, allow_inf_nan=False)
    renewal_date: Day | None = None
    owner: ShortText | None = None
    external_ids: dict[ShortText, ShortText] = Field(
        default_factory=dict, description="Vendor system -> that system's id for this account."
    )


class AccountOut(AccountIn):
    """An account as the API returns it."""

    id: str


def _view(account: Account, external_ids: dict[str, str]) -> AccountOut:
    return AccountOut(
        id=account.id,
        name=account.name,
        segment=account.segment,
        industry=account.industry,
        tier=account.tier,
        arr=account.arr,
        renewal_date=account.renewal_date,
        owner=account.owner,
        external_ids=external_ids,
    )


def account_out(session: Session, account: Account) -> AccountOut:
    """The public view of an account row."""
    links = session.exec(
        select(AccountExternalId).where(AccountExternalId.account_id == account.id)
    ).all()
    return _view(account, {link.source_system: link.external_id for link in links})


def accounts_out(session: Session, accounts: Sequence[Account]) -> list[AccountOut]:
    """The public views of several account rows, with one query for all their vendor ids."""
    ids = [account.id for account in accounts]
    links: dict[str, dict[str, str]] = defaultdict(dict)
    if ids:
        rows = session.exec(
            select(AccountExternalId)
            .where(col(AccountExternalId.account_id).in_(ids))
            .order_by(col(AccountExternalId.id))
        ).all()
        for link in rows:
            links[link.account_id][link.source_system] = link.external_id
    return [_view(account, dict(links.get(account.id, {}))) for account in accounts]


def _snapshot(view: AccountOut | None) -> dict[str, Any] | None:
    return None if view is None else view.model_dump(mode="json")


def upsert_account(
    session: Session, account_id: str, data: AccountIn, *, actor: str
) -> tuple[AccountOut, bool]:
    """Create or replace an account; returns the stored view and whether it was created."""
    account = session.get(Account, account_id)
    before = None if account is None else account_out(session, account)
    if account is None:
        account = Account(id=account_id, name=data.name)
    for field in ("name", "segment", "industry", "tier", "arr", "renewal_date", "owner"):
        setattr(account, field, getattr(data, field))
    account.updated_at = utcnow()
    session.add(account)
    _replace_external_ids(session, account_id, data.external_ids)
    session.flush()
    after = account_out(session, account)
    if before != after:
        record_change(
            session,
            actor=actor,
            action="account.create" if before is None else "account.update",
            entity_type="account",
            entity_id=account_id,
            before=_snapshot(before),
            after=_snapshot(after),
        )
    return after, before is None


def _replace_external_ids(session: Session, account_id: str, wanted: dict[str, str]) -> None:
    current = session.exec(
        select(AccountExternalId).where(AccountExternalId.account_id == account_id)
    ).all()
    for link in current:
        if wanted.get(link.source_system) != link.external_id:
            session.delete(link)
    session.flush()
    existing = {link.source_system: link.external_id for link in current}
    for system, external_id in wanted.items():
        if existing.get(system) != external_id:
            owner = session.exec(
                select(AccountExternalId).where(
                    AccountExternalId.source_system == system,
                    AccountExternalId.external_id == external_id,
                )
            ).first()
            if owner is not None:
                raise ConflictError(
                    f"{system} id {external_id!r} already belongs to account {owner.account_id}",
                    field=f"external_ids.{system}",
                )
            session.add(
                AccountExternalId(
                    account_id=account_id, source_system=system, external_id=external_id
                )
            )
