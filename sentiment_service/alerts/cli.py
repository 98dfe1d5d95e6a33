"""`sentiment-service alerts`: evaluate every enabled rule once and deliver (JSON summary)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from sentiment_service.alerts.delivery import DeliveryPolicy
from sentiment_service.alerts.service import run_once
from sentiment_service.logs import configure_logging
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate, pii_guard
from sentiment_service.storage.database import Database
from sentiment_service.storage.types import utcnow


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            "use ISO 8601, e.g. 2026-10-31T00:00:00Z", param_hint="--as-of"
        ) from None
    if moment.utcoffset() is None:
        raise typer.BadParameter(
            "needs a time zone, e.g. 2026-10-31T00:00:00Z", param_hint="--as-of"
        )
    if moment > utcnow():
        raise typer.BadParameter("must not be in the future", param_hint="--as-of")
    return moment


def alerts_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate as of this time (default: now)")
    ] = None,
    deliver: Annotated[
        bool, typer.Option("--deliver/--no-deliver", help="Post pending events to webhooks")
    ] = True,
) -> None:
    """Evaluate enabled alert rules, store new alerts, deliver pending ones; print a summary.
    Exits 1 when a rule failed to evaluate or a delivery failed in this run."""
    moment = _as_of(as_of)
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)  # logs to stderr
    migrate.upgrade(settings.database_url)
    database = pii_guard.guard(Database(settings.database_url), settings)
    try:
        summary = run_once(
            database, DeliveryPolicy.from_settings(settings), as_of=moment, deliver=deliver
        )
    finally:
        database.dispose()
    body = summary.as_json()
    typer.echo(json.dumps(body, indent=2, default=str))
    if body["rules_failed"] or (deliver and body["failed"]):
        raise typer.Exit(1)
