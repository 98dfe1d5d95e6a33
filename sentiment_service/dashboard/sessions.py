"""Dashboard sessions: a signed cookie naming an API key, and per-session CSRF tokens.

The cookie holds the key's row id and prefix, an expiry and a random nonce, signed with
HMAC-SHA256 under `settings.session_secret` (or a random per-process secret when that is not
set, so sessions end when the process restarts and do not work across several worker
processes). It never holds the key itself. Every request looks the key row up again: a
revoked or deleted key, or a role that lost the `read` permission, ends the session at once,
and a role change applies from the next request.

Sessions are also recorded on the server (`dashboard_sessions`, keyed by a hash of the
nonce): logging out ends the row, and a cookie whose row is missing, ended or expired is
refused, so a copied cookie stops working at logout, not only when it expires.

The CSRF token is an HMAC of the session nonce under the same secret (a different message
prefix), so it is fixed for the life of a session, differs between sessions and needs no
server-side storage. Forms carry it in a hidden `csrf_token` field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from sentiment_service.auth.keys import Principal, principal_of
from sentiment_service.auth.permissions import Permission, allows
from sentiment_service.auth.scope import AccountScope
from sentiment_service.settings import Settings
from sentiment_service.storage.tables import ApiKey, DashboardSession
from sentiment_service.storage.types import utcnow
from sentiment_service.vocabulary import Role

COOKIE_NAME = "ss_dashboard"
CSRF_FIELD = "csrf_token"
_MAX_COOKIE_CHARS = 1024


@dataclass(frozen=True)
class SessionData:
    """What the cookie says (after its signature was checked)."""

    key_id: int
    prefix: str
    expires_at: int  # Unix seconds
    nonce: str


@dataclass(frozen=True)
class DashboardUser:
    """The person behind a valid session."""

    principal: Principal
    session: SessionData
    csrf_token: str

    @property
    def role(self) -> Role:
        """The key's role, as stored now."""
        return self.principal.role

    @property
    def scope(self) -> AccountScope | None:
        """The accounts the key may read (None: all of them)."""
        return self.principal.scope

    def can(self, permission: Permission | str) -> bool:
        """Whether the key's role holds `permission` (the API's permission table)."""
        return allows(self.principal.role, Permission(permission))


class SessionSigner:
    """Signs and verifies session cookies and derives CSRF tokens."""

    def __init__(self, secret: bytes, lifetime_seconds: int) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._secret = secret
        self.lifetime_seconds = lifetime_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionSigner:
        """The signer for `settings` (a random secret when none is configured)."""
        configured = settings.session_secret
        secret = (
            configured.get_secret_value().encode()
            if configured is not None and configured.get_secret_value()
            else secrets.token_bytes(32)
        )
        return cls(secret, settings.session_minutes * 60)

    def _mac(self, purpose: bytes, payload: bytes) -> bytes:
        return hmac.new(self._secret, purpose + b"\x00" + payload, hashlib.sha256).digest()

    def issue(self, key_id: int, prefix: str, *, now: float | None = None) -> tuple[str, int]:
        """A fresh cookie value for the key and its lifetime in seconds."""
        now = time.time() if now is None else now
        body = {
            "k": key_id,
            "p": prefix,
            "e": int(now) + self.lifetime_seconds,
            "n": secrets.token_urlsafe(16),
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        signature = _b64(self._mac(b"session", payload.encode()))
        return f"{payload}.{signature}", self.lifetime_seconds

    def verify(self, value: str | None, *, now: float | None = None) -> SessionData | None:
        """The session in a cookie value, or None when it is missing, forged or expired."""
        if not value or len(value) > _MAX_COOKIE_CHARS or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        expected = _b64(self._mac(b"session", payload.encode()))
        if not hmac.compare_digest(signature, expected):
            return None
        try:
            body = json.loads(_unb64(payload))
            data = SessionData(
                key_id=int(body["k"]),
                prefix=str(body["p"]),
                expires_at=int(body["e"]),
                nonce=str(body["n"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        return data if now < data.expires_at else None

    def csrf_token(self, data: SessionData) -> str:
        """The session's CSRF token."""
        return _b64(self._mac(b"csrf", data.nonce.encode()))

    def check_csrf(self, data: SessionData, token: str | None) -> bool:
        """Whether `token` is the session's CSRF token (constant-time)."""
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(data))


def session_row_id(data: SessionData) -> str:
    """The `dashboard_sessions` id of a session: the SHA-256 of its nonce (hex)."""
    return hashlib.sha256(data.nonce.encode()).hexdigest()


def open_session(session: Session, data: SessionData) -> None:
    """Record a new sign-in on the server."""
    session.add(
        DashboardSession(
            id=session_row_id(data),
            key_id=data.key_id,
            expires_at=datetime.fromtimestamp(data.expires_at, UTC),
        )
    )


def end_session(session: Session, data: SessionData) -> None:
    """End a sign-in on the server (its cookie is refused from now on)."""
    row = session.get(DashboardSession, session_row_id(data))
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        session.add(row)


def load_user(session: Session, signer: SessionSigner, data: SessionData) -> DashboardUser | None:
    """The user of a verified session, re-checked against the server's session record and the
    stored key (role and account scope as stored now); None when the session was ended, or
    the key is gone, revoked, was replaced under the same id, or its role may not read."""
    opened = session.get(DashboardSession, session_row_id(data))
    if opened is None or opened.ended_at is not None or opened.key_id != data.key_id:
        return None
    if opened.expires_at <= utcnow():
        return None
    row = session.get(ApiKey, data.key_id)
    if row is None or row.revoked_at is not None or row.prefix != data.prefix:
        return None
    principal = principal_of(row)
    if principal is None or not allows(principal.role, Permission.READ):
        return None
    return DashboardUser(principal=principal, session=data, csrf_token=signer.csrf_token(data))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
