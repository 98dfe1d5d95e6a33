"""Keys that name an account the way a record refers to it, for replaying quarantined records.

A record refused because its account is unknown (`unknown_account`) or because none of its
vendor references matched (`unresolved_account`) is stored with one key per reference. When an
account is created or gains a vendor id, its own keys are computed the same way and the
matching records are replayed. Keys are SHA-256 digests, so that emails and vendor ids are not
kept in clear in the key table.
"""

from __future__ import annotations

import hashlib

_CASELESS = frozenset({"domain", "email"})


def account_key(system: str, value: str) -> str:
    """The key of reference `value` in `system` (a vendor name, or `account`, `domain` or
    `email`); domains and emails are compared without case."""
    system = system.strip().lower()
    value = value.strip()
    if system in _CASELESS:
        value = value.lower()
    return hashlib.sha256(f"{system}\x1f{value}".encode()).hexdigest()


def keys_of_account(account_id: str, external_ids: dict[str, str]) -> list[str]:
    """Every key under which a quarantined record may refer to this account."""
    keys = [account_key("account", account_id)]
    keys.extend(account_key(system, value) for system, value in external_ids.items())
    return keys
