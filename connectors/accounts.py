"""Account resolution: vendor organisation/company/domain/email -> our account id."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, select

from pipelines.account_keys import account_key
from pipelines.account_records import AccountIn, upsert_account
from sentiment_service.storage.tables import Account, AccountExternalId

RefKind = Literal["external", "domain", "email", "account"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class AccountRef:
    """One way a vendor names the account a record belongs to."""

    kind: RefKind
    value: str
    system: str = ""

    def describe(self) -> str:
        """A short human-readable form, e.g. `zendesk:org 42`."""
        return f"{self.system or self.kind}:{self.value}"


def ref_key(ref: AccountRef) -> str:
    """The quarantine key (pipelines/account_keys.py) of a reference: an account that this
    reference would resolve to has the same key among its own."""
    system = ref.system if ref.kind == "external" else ref.kind
    return account_key(system, ref.value)


def external(system: str, value: object) -> AccountRef:
    """The vendor's own id for the organisation/company (looked up in account_external_ids)."""
    return AccountRef("external", str(value), system)


def domain_of(email: str | None) -> AccountRef | None:
    """The email's domain as a reference, or None when there is no usable email."""
    if not email or "@" not in email:
        return None
    return AccountRef("domain", email.rsplit("@", 1)[1].strip().lower())


def direct(account_id: object) -> AccountRef:
    """Our own account id, given by the vendor record (e.g. a survey property)."""
    return AccountRef("account", str(account_id))


def refs(*candidates: AccountRef | None) -> tuple[AccountRef, ...]:
    """The non-empty references, in priority order."""
    return tuple(ref for ref in candidates if ref is not None and ref.value.strip())


class AccountResolver:
    """Resolves references within one session; optionally creates unknown accounts."""

    def __init__(
        self,
        session: Session,
        *,
        domains: Mapping[str, str] | None = None,
        auto_create: bool = False,
        actor: str = "connector",
    ) -> None:
        self.session = session
        self.domains = {key.lower(): value for key, value in (domains or {}).items()}
        self.auto_create = auto_create
        self.actor = actor
        self._cache: dict[AccountRef, str | None] = {}

    def resolve(self, candidates: Sequence[AccountRef]) -> str | None:
        """Our account id for the first reference that resolves (None when none does)."""
        for ref in candidates:
            if ref not in self._cache:
                self._cache[ref] = self._lookup(ref)
            if self._cache[ref] is not None:
                return self._cache[ref]
        if self.auto_create and candidates:
            account_id = self._create(candidates[0])
            self._cache[candidates[0]] = account_id
            return account_id
        return None

    def _lookup(self, ref: AccountRef) -> str | None:
        if ref.kind == "account":
            return ref.value if self.session.get(Account, ref.value) is not None else None
        if ref.kind == "domain" and ref.value.lower() in self.domains:
            return self.domains[ref.value.lower()]
        system = ref.system if ref.kind == "external" else ref.kind
        value = ref.value.lower() if ref.kind in ("domain", "email") else ref.value
        link = self.session.exec(
            select(AccountExternalId).where(
                AccountExternalId.source_system == system, AccountExternalId.external_id == value
            )
        ).first()
        return link.account_id if link is not None else None

    def _create(self, ref: AccountRef) -> str:
        system = ref.system if ref.kind == "external" else ref.kind
        raw_id = ref.value if ref.kind == "account" else f"{system}-{ref.value}"
        account_id = _UNSAFE.sub("-", raw_id).strip("-_.:")[:128]
        if self.session.get(Account, account_id) is None:
            external_ids = {system: ref.value} if ref.kind != "account" else {}
            upsert_account(
                self.session,
                account_id,
                AccountIn(name=ref.value[:256], external_ids=external_ids),
                actor=self.actor,
            )
        return account_id
