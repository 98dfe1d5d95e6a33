"""Account scopes of API keys: which accounts a viewer key may read.

A scope lists segments and/or owners. An account is in scope when (no segments are listed or
its segment is one of them) and (no owners are listed or its owner is one of them). A key
without a scope (`None` wherever a scope is passed) reads every account. Only viewer keys may
carry a scope: the other roles touch portfolio-wide data (quarantined payloads, labelled
sets, evaluations, configuration) that cannot be cut by account.

The scope is stored on the key row as `{"segments": [...], "owners": [...]}`. Queries filter
in the database with `account_condition` (over `Account`) or `account_ids` (a sub-query of
the in-scope account ids, for tables that only hold an account id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, true
from sqlmodel import col, select

from sentiment_service.storage.tables import Account
from sentiment_service.vocabulary import Role

SCOPED_ROLES = frozenset({Role.VIEWER})
MAX_SCOPE_VALUES = 100
MAX_SEGMENT_CHARS = 64
MAX_OWNER_CHARS = 128

# A select that scope restrictions narrow (`where` keeps its type).
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


class ScopeError(ValueError):
    """A scope that cannot be stored or used (empty, blank values, or on the wrong role)."""


def _clean(values: Iterable[str], what: str, max_chars: int) -> frozenset[str]:
    cleaned = set()
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ScopeError(f"{what} must be non-empty strings")
        if len(value.strip()) > max_chars or "\x00" in value:
            raise ScopeError(f"{what} must be at most {max_chars} characters, without NUL")
        cleaned.add(value.strip())
    if len(cleaned) > MAX_SCOPE_VALUES:
        raise ScopeError(f"at most {MAX_SCOPE_VALUES} {what} per key")
    return frozenset(cleaned)


@dataclass(frozen=True)
class AccountScope:
    """The segments and owners a key may read (an empty set means "any")."""

    segments: frozenset[str] = frozenset()
    owners: frozenset[str] = frozenset()

    @classmethod
    def of(cls, segments: Iterable[str] = (), owners: Iterable[str] = ()) -> AccountScope:
        """A validated scope: values trimmed, at least one segment or owner."""
        scope = cls(
            segments=_clean(segments, "segments", MAX_SEGMENT_CHARS),
            owners=_clean(owners, "owners", MAX_OWNER_CHARS),
        )
        if not scope.segments and not scope.owners:
            raise ScopeError("a scope needs at least one segment or owner")
        return scope

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> AccountScope:
        """The scope stored on a key row (ScopeError when it is malformed)."""
        segments = stored.get("segments") or []
        owners = stored.get("owners") or []
        if not isinstance(segments, list) or not isinstance(owners, list):
            raise ScopeError("a stored scope holds lists of segments and owners")
        return cls.of(segments, owners)

    def to_json(self) -> dict[str, list[str]]:
        """The stored (and shown) form, values sorted."""
        return {"segments": sorted(self.segments), "owners": sorted(self.owners)}

    def allows(self, account: Account) -> bool:
        """Whether `account` is in scope."""
        segment_ok = not self.segments or account.segment in self.segments
        owner_ok = not self.owners or account.owner in self.owners
        return segment_ok and owner_ok

    def account_condition(self) -> ColumnElement[bool]:
        """The scope as a SQL condition over `Account` (NULL segments/owners never match)."""
        conditions: list[ColumnElement[bool]] = []
        if self.segments:
            conditions.append(col(Account.segment).in_(sorted(self.segments)))
        if self.owners:
            conditions.append(col(Account.owner).in_(sorted(self.owners)))
        return and_(true(), *conditions)

    def account_ids(self) -> Select[Any]:
        """A sub-query of the ids of the in-scope accounts."""
        return select(Account.id).where(self.account_condition())

    def token(self) -> str:
        """A stable text form, e.g. to tell cached representations of scopes apart."""
        return f"segments={sorted(self.segments)};owners={sorted(self.owners)}"


def check_scope_for_role(role: Role, scope: AccountScope | None) -> None:
    """ScopeError when a key of `role` may not carry `scope`."""
    if scope is not None and role not in SCOPED_ROLES:
        raise ScopeError(
            f"only viewer keys can be scoped to segments/owners, not {role.value} keys: "
            "they reach portfolio-wide data"
        )


def allows(scope: AccountScope | None, account: Account) -> bool:
    """Whether a caller with `scope` (None: unrestricted) may read `account`."""
    return scope is None or scope.allows(account)


def restrict_accounts(query: Q, scope: AccountScope | None) -> Q:
    """`query` (a select over `Account`) limited to the accounts in scope."""
    return query if scope is None else query.where(scope.account_condition())


def restrict_account_ids(query: Q, column: Any, scope: AccountScope | None) -> Q:
    """`query` limited to rows whose account id `column` is in scope."""
    return query if scope is None else query.where(column.in_(scope.account_ids()))


def scope_token(scope: AccountScope | None) -> str:
    """The scope's text form, `unscoped` for None (for cache validators)."""
    return "unscoped" if scope is None else scope.token()
