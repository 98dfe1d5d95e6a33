"""Versioned configuration (scorecards, the topic taxonomy): immutable versions with a log.

Every change stores a new version with its author, reason and a diff against the previous
version; nothing is edited in place, so scores can name the version that produced them and old
versions can be re-run. Drafts are stored too (previews, suggested weights) but only the latest
`published` version is in force.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from sentiment_service.audit import record_change
from sentiment_service.storage.tables import ConfigVersion

PUBLISHED = "published"
DRAFT = "draft"


def body_sha256(body: dict[str, Any]) -> str:
    """Digest of a configuration body, independent of key order."""
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def json_diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Paths whose values differ between two JSON documents (lists compared by position)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            changes.extend(json_diff(old.get(key), new.get(key), f"{path}.{key}" if path else key))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            changes.extend(json_diff(a, b, f"{path}[{index}]"))
        return changes
    return [] if old == new else [{"path": path or "$", "old": old, "new": new}]


def latest(
    session: Session, kind: str, key: str, status: str | None = PUBLISHED
) -> ConfigVersion | None:
    """The newest version (of a given status, or of any status when None)."""
    query = select(ConfigVersion).where(ConfigVersion.kind == kind, ConfigVersion.key == key)
    if status is not None:
        query = query.where(ConfigVersion.status == status)
    return session.exec(query.order_by(col(ConfigVersion.version).desc()).limit(1)).first()


def latest_of_keys(
    session: Session, kind: str, keys: Sequence[str] | None = None
) -> dict[str, ConfigVersion]:
    """The newest published version of each key of `kind` (of `keys`, or of every key), in
    one statement; keys without a published version are absent."""
    if keys is not None and not keys:
        return {}
    params: dict[str, Any] = {"kind": kind, "published": PUBLISHED}
    if keys is not None:
        params["keys"] = list(keys)
    rows = session.exec(_latest_statement(keys is not None), params=params).all()
    return {row.key: row for row in rows}


@functools.cache
def _latest_statement(of_keys: bool) -> SelectOfScalar[ConfigVersion]:
    """`latest_of_keys`'s statement, built once (health reads run it on every request); kind,
    status and keys are bound parameters."""
    published = (col(ConfigVersion.kind) == bindparam("kind")) & (
        col(ConfigVersion.status) == bindparam("published")
    )
    if of_keys:
        published = published & col(ConfigVersion.key).in_(bindparam("keys", expanding=True))
    newest = (
        select(ConfigVersion.key, func.max(ConfigVersion.version).label("version"))
        .where(published)
        .group_by(ConfigVersion.key)
        .subquery()
    )
    return (
        select(ConfigVersion)
        .join(
            newest,
            (col(ConfigVersion.key) == newest.c.key)
            & (col(ConfigVersion.version) == newest.c.version),
        )
        .where(col(ConfigVersion.kind) == bindparam("kind"))
    )


def get_version(session: Session, kind: str, key: str, version: int) -> ConfigVersion | None:
    """One stored version."""
    return session.exec(
        select(ConfigVersion).where(
            ConfigVersion.kind == kind, ConfigVersion.key == key, ConfigVersion.version == version
        )
    ).first()


def history(session: Session, kind: str, key: str) -> list[ConfigVersion]:
    """Every version, newest first (the change log)."""
    return list(
        session.exec(
            select(ConfigVersion)
            .where(ConfigVersion.kind == kind, ConfigVersion.key == key)
            .order_by(col(ConfigVersion.version).desc())
        ).all()
    )


def keys(session: Session, kind: str) -> list[str]:
    """Keys that have at least one version."""
    return sorted(
        session.exec(select(ConfigVersion.key).where(ConfigVersion.kind == kind).distinct()).all()
    )


def save_version(
    session: Session,
    *,
    kind: str,
    key: str,
    body: dict[str, Any],
    author: str,
    reason: str,
    status: str = PUBLISHED,
) -> ConfigVersion:
    """Store a new version (diffed against the latest published one) and audit it.

    Publishing a body identical to the one in force stores nothing and returns that version.
    """
    current = latest(session, kind, key)
    digest = body_sha256(body)
    if status == PUBLISHED and current is not None and current.body_sha256 == digest:
        return current
    newest = session.exec(
        select(func.max(ConfigVersion.version)).where(
            ConfigVersion.kind == kind, ConfigVersion.key == key
        )
    ).one()
    version = ConfigVersion(
        kind=kind,
        key=key,
        version=(newest or 0) + 1,
        status=status,
        body=body,
        body_sha256=digest,
        diff=json_diff(current.body if current else {}, body),
        reason=reason,
        author=author,
    )
    session.add(version)
    session.flush()
    record_change(
        session,
        actor=author,
        action=f"{kind}.{'publish' if status == PUBLISHED else 'draft'}",
        entity_type=kind,
        entity_id=f"{key}@{version.version}",
        before={"version": current.version} if current else None,
        after={"version": version.version, "reason": reason, "changes": len(version.diff or [])},
    )
    return version
