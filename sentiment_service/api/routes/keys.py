"""API key administration: create (the key is shown once), list, revoke.

A viewer key may be scoped to segments and/or owners (see `sentiment_service.auth.scope`):
it then reads only the accounts in its scope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sentiment_service.api.deps import Admin, DatabaseDep
from sentiment_service.api.schemas import MAX_ID
from sentiment_service.audit import record_change
from sentiment_service.auth.keys import create_key, key_scope, revoke_key
from sentiment_service.auth.keys import list_keys as stored_keys
from sentiment_service.auth.scope import (
    MAX_OWNER_CHARS,
    MAX_SCOPE_VALUES,
    MAX_SEGMENT_CHARS,
    AccountScope,
    ScopeError,
)
from sentiment_service.errors import InvalidInputError
from sentiment_service.storage.tables import ApiKey
from sentiment_service.text_rules import NoNul
from sentiment_service.vocabulary import Role

router = APIRouter(prefix="/v1/keys", tags=["admin"])
Segment = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SEGMENT_CHARS),
    NoNul,
]
Owner = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_OWNER_CHARS), NoNul
]


class ScopeIn(BaseModel):
    """The accounts a viewer key may read: those of one of `segments` (when given) and of
    one of `owners` (when given). At least one value is needed."""

    model_config = ConfigDict(extra="forbid")

    segments: list[Segment] = Field(default_factory=list, max_length=MAX_SCOPE_VALUES)
    owners: list[Owner] = Field(default_factory=list, max_length=MAX_SCOPE_VALUES)

    @model_validator(mode="after")
    def _not_empty(self) -> ScopeIn:
        if not self.segments and not self.owners:
            raise ValueError("a scope needs at least one segment or owner")
        return self


class ScopeOut(BaseModel):
    """A key's account scope."""

    segments: list[str]
    owners: list[str]


class KeyIn(BaseModel):
    """A key to create; `scope` (viewer keys only) limits the accounts it reads."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul
    ]
    role: Role
    scope: ScopeIn | None = None


class KeyOut(BaseModel):
    """A key's public fields (never its secret); `scope` is null for unrestricted keys."""

    id: int
    name: str
    role: Role
    scope: ScopeOut | None
    prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    """A newly created key, with the secret key string: shown this once only."""

    key: str


def _scope_out(row: ApiKey) -> ScopeOut | None:
    try:
        scope = key_scope(row)
    except ScopeError:  # malformed: the key is refused, show what is stored
        return ScopeOut(segments=[], owners=[])
    return None if scope is None else ScopeOut(**scope.to_json())


def _out(row: ApiKey) -> KeyOut:
    return KeyOut(
        id=row.id or 0,
        name=row.name,
        role=Role(row.role),
        scope=_scope_out(row),
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _scope(body: ScopeIn | None) -> AccountScope | None:
    """The validated scope of a request body (422 naming `scope` when it is refused)."""
    if body is None:
        return None
    try:
        return AccountScope.of(body.segments, body.owners)
    except ScopeError as error:
        raise InvalidInputError(str(error), field="scope") from None


@router.post(
    "", response_model=NewKeyOut, status_code=status.HTTP_201_CREATED, summary="Create an API key"
)
def post_key(body: KeyIn, principal: Admin, database: DatabaseDep) -> NewKeyOut:
    """Create a key; the response holds the key string, which is not stored and not shown again.
    A `scope` is accepted on viewer keys only (422 naming `scope` otherwise)."""
    scope = _scope(body.scope)
    with database.session() as session:
        try:
            row, key = create_key(
                session,
                name=body.name,
                role=body.role,
                created_by=principal.actor,
                scope=scope,
            )
        except ScopeError as error:
            raise InvalidInputError(str(error), field="scope") from None
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
        return [_out(row) for row in stored_keys(session)]


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key")
def delete_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    request: Request,
    principal: Admin,
    database: DatabaseDep,
) -> KeyOut:
    """Revoke a key; it stops working at once in the server process that answers, and within
    `api_key_cache_seconds` (default 2 s) in the others. The row stays for the audit trail."""
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
    request.app.state.verified_keys.forget(key_id)
    return view
