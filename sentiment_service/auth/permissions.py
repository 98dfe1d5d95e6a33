"""The authorisation table: which roles hold which permission. Endpoints name a permission."""

from __future__ import annotations

from enum import StrEnum

from sentiment_service.vocabulary import Role


class Permission(StrEnum):
    """What an endpoint needs."""

    INGEST = "ingest"  # write messages, metrics, accounts, outcomes
    READ = "read"  # read accounts, scores, trends; score ad-hoc text
    READ_QUARANTINE = "read_quarantine"  # see rejected raw payloads
    EVALUATE = "evaluate"  # run and read model evaluations
    ADMIN = "admin"  # keys, configuration, overrides
    METRICS = "metrics"  # Prometheus scrape


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INGEST: frozenset({Permission.INGEST, Permission.READ_QUARANTINE}),
    Role.VIEWER: frozenset({Permission.READ, Permission.METRICS}),
    Role.ANALYST: frozenset({Permission.READ, Permission.EVALUATE, Permission.METRICS}),
    Role.ADMIN: frozenset(Permission),
}


def allows(role: Role, permission: Permission) -> bool:
    """Whether `role` holds `permission`."""
    return permission in ROLE_PERMISSIONS[role]
