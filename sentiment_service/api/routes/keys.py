"""API key administration: create (the key is shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, StringConstraints
from sqlmodel import col, select

from sentiment_service.api.deps import Admin, DatabaseDep
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.audit import record_change
from sentiment_service.auth.keys import create_key, revoke_key
from sentiment_service.storage.tables import ApiKey
from sentiment_service.text_rules import NoNul
from sentiment_service.vocabulary import Role

router = APIRouter(prefix="/v1/keys", tags=["admin"])


class KeyIn(BaseModel):
    """A key to create."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul
    ]
    role: Role


class KeyOut(BaseModel):
    """A key's public fields (never its secret)."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    """A newly created key, with the secret key string: shown this once only."""

    key: str


def _out(row: ApiKey) -> KeyOut:
    return KeyOut(
        id=row.id or 0,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.post(
    "", response_model=NewKeyOut, status_code=status.HTTP_201_CREATED, summary="Create an API key"
)
def post_key(body: KeyIn, principal: Admin, database: DatabaseDep) -> NewKeyOut:
    """Create a key; the response holds the key string, which is not stored and not shown again."""
    with database.session() as session:
        row, key = create_key(session, name=body.name, role=body.role, created_by=principal.actor)
        view = _out(row)
        record_change(
            session,
            actor=principal.actor,
            action="key.create",
            entity_type="api_key",
            entity_id=str(row.id),
            before=None,
            after=view.model_dump(mode="json"),
        )
    return NewKeyOut(**view.model_dump(), key=key)


@router.get("", response_model=list[KeyOut], summary="List API keys")
def list_keys(_: Admin, database: DatabaseDep) -> list[KeyOut]:
    """All keys, revoked ones included."""
    with database.session() as session:
        return [_out(row) for row in session.exec(select(ApiKey).order_by(col(ApiKey.id))).all()]


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key")
def delete_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_ID)], principal: Admin, database: DatabaseDep
) -> KeyOut:
    """Revoke a key; it stops working at once. The row stays for the audit trail."""
    with database.session() as session:
        view = _out(revoke_key(session, key_id))
        record_change(
            session,
            actor=principal.actor,
            action="key.revoke",
            entity_type="api_key",
            entity_id=str(key_id),
            before=None,
            after=view.model_dump(mode="json"),
        )
    return view
