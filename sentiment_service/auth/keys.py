"""API key creation and verification. Only a salted SHA-256 of the secret is stored.

A key reads `ssk_<prefix>_<secret>`: the prefix finds the row, the secret is compared in
constant time. Secrets carry 256 bits of entropy, so a fast hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from pipelines.row_ids import stored_id
from sentiment_service.auth.scope import AccountScope, ScopeError, check_scope_for_role
from sentiment_service.errors import NotFoundError
from sentiment_service.storage.database import Database, DatabaseFault, database_fault
from sentiment_service.storage.tables import ApiKey
from sentiment_service.storage.types import utcnow
from sentiment_service.vocabulary import Role

KEY_PATTERN = re.compile(r"^ssk_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})$")
LAST_USED_RESOLUTION = timedelta(minutes=1)
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Principal:
    """The caller behind a verified key; `scope` limits the accounts it reads (None: all)."""

    key_id: int
    name: str
    role: Role
    scope: AccountScope | None = None
    last_used_due: bool = False  # the key's last-used stamp is older than the resolution

    @property
    def actor(self) -> str:
        """How the caller appears in the audit log."""
        return f"key:{self.key_id}:{self.name}"


def new_key_string() -> str:
    """A fresh random key string."""
    return f"ssk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    created_by: str,
    key: str | None = None,
    scope: AccountScope | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key (random unless `key` is given) and return the row and the key string.

    Raises ScopeError when `scope` is given for a role that cannot be scoped.
    """
    check_scope_for_role(role, scope)
    key = key or new_key_string()
    match = KEY_PATTERN.match(key)
    if match is None:
        raise ValueError("API key must look like ssk_<12 hex chars>_<32+ url-safe chars>")
    prefix, secret = match.groups()
    salt = secrets.token_hex(16)
    row = ApiKey(
        prefix=prefix,
        name=name,
        role=role.value,
        salt=salt,
        secret_hash=_hash(salt, secret),
        scope=None if scope is None else scope.to_json(),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, key


def ensure_key(session: Session, *, key: str, name: str, role: Role) -> ApiKey:
    """Create `key` unless a key with its prefix exists (for bootstrap keys from settings)."""
    match = KEY_PATTERN.match(key)
    if match is None:
        raise ValueError("bootstrap key must look like ssk_<12 hex chars>_<32+ url-safe chars>")
    existing = session.exec(select(ApiKey).where(ApiKey.prefix == match.group(1))).first()
    if existing is not None:
        return existing
    row, _ = create_key(session, name=name, role=role, created_by="settings", key=key)
    return row


def key_scope(row: ApiKey) -> AccountScope | None:
    """The account scope stored on a key row (None: unrestricted)."""
    return None if row.scope is None else AccountScope.from_json(row.scope)


def principal_of(row: ApiKey) -> Principal | None:
    """The principal of a stored key; None when its stored scope is malformed (a key that
    should be limited but cannot say how is refused rather than read everything)."""
    key_id = stored_id(row.id, "API key")
    try:
        scope = key_scope(row)
    except ScopeError:
        return None
    return Principal(key_id=key_id, name=row.name, role=Role(row.role), scope=scope)


def authenticate(session: Session, key: str, *, now: datetime | None = None) -> Principal | None:
    """The principal for `key`, or None when it is unknown, wrong or revoked."""
    match = KEY_PATTERN.match(key)
    if match is None:
        return None
    prefix, secret = match.groups()
    row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(row.salt, secret)):
        return None
    principal = principal_of(row)
    now = now or utcnow()
    if principal is not None and (
        row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
    ):
        return replace(principal, last_used_due=True)
    return principal


def record_use(session: Session, key_id: int, *, now: datetime | None = None) -> None:
    """Stamp the key's last-used time."""
    session.execute(
        update(ApiKey).where(col(ApiKey.id) == key_id).values(last_used_at=now or utcnow())
    )


class VerifiedKeys:
    """Principals of keys verified in the last `ttl` seconds, keyed by the SHA-256 of the key
    string (the secret itself is not kept), at most `size` of them. A key revoked through
    this process is forgotten at once (`forget`); one revoked elsewhere (another server
    process, the CLI) stops working when its entry expires. Thread-safe."""

    def __init__(
        self, ttl: float, *, size: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def get(self, key: str) -> Principal | None:
        """The principal of `key` if it was verified less than `ttl` seconds ago."""
        digest = self._digest(key)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if self.clock() - entry[0] >= self.ttl:
                del self._entries[digest]
                return None
            return entry[1]

    def put(self, key: str, principal: Principal) -> None:
        """Remember that `key` was verified now (no-op with a ttl of 0)."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[self._digest(key)] = (
                self.clock(),
                replace(principal, last_used_due=False),
            )
            self._entries.move_to_end(self._digest(key))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, key_id: int) -> None:
        """Drop every entry of the key with this id (it was revoked)."""
        with self._lock:
            for digest in [d for d, (_, p) in self._entries.items() if p.key_id == key_id]:
                del self._entries[digest]


def authenticate_request(
    database: Database, key: str, verified: VerifiedKeys | None = None
) -> Principal | None:
    """Verify `key` in a read-only transaction, then, at most once a minute per key, stamp its
    last-used time in a short write transaction of its own. With `verified`, a key verified
    there recently is trusted without reading the database.

    Keeping the check read-only matters on SQLite: a request that read and then wrote would
    fail whenever the scoring worker committed in between. The stamp is best effort: while the
    database is busy or unavailable the request goes on without it.
    """
    if verified is not None and (known := verified.get(key)) is not None:
        return known
    with database.session() as session:
        principal = authenticate(session, key)
    if principal is not None and verified is not None:
        verified.put(key, principal)
    if principal is not None and principal.last_used_due:
        try:
            with database.session(write=True) as session:
                record_use(session, principal.key_id)
        except DBAPIError as error:
            if database_fault(error) is not DatabaseFault.UNAVAILABLE:
                raise
            log.warning("key_last_used_not_recorded", key_id=principal.key_id)
    return principal


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())


def revoke_key(session: Session, key_id: int) -> ApiKey:
    """Mark a key revoked; it stops working at once."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError(f"API key {key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row
