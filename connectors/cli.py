"""Command-line entry points: `sync <connector>` and `schedule` (mounted by the service CLI)."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from connectors.base import SyncEngine, SyncSummary
from connectors.config import ConnectorConfig, load_config
from connectors.errors import AuthenticationError, ConfigError, ConnectorError
from connectors.registry import Runtime, build_connector, close_connector, sync_options
from connectors.schedule import Scheduler
from pipelines.ingest import IngestPolicy
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config",
        help="Connector configuration (YAML or JSON)",
        envvar="SENTIMENT_SERVICE_CONNECTORS_CONFIG",
    ),
]


def run_connector(
    database: Database,
    settings: Settings,
    config: ConnectorConfig,
    *,
    since: datetime | None = None,
    runtime: Runtime | None = None,
    progress: bool = True,
) -> SyncSummary:
    """Build one configured connector and sync it into `database`."""
    connector = build_connector(config, runtime)
    options = sync_options(
        config, auto_create_default=settings.auto_create_accounts, progress=progress
    )
    engine = SyncEngine(database, IngestPolicy.from_settings(settings), options)
    try:
        return engine.run(config.name, connector, since=since)
    finally:
        close_connector(connector)


def sync_command(
    connector: Annotated[str, typer.Argument(help="The connector's name in the configuration")],
    config: ConfigOption = Path("connectors.yaml"),
    since: Annotated[
        datetime | None,
        typer.Option(help="Start from this UTC time instead of the stored cursor"),
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="Override the vendor API URL")] = None,
    max_requests: Annotated[
        int | None, typer.Option(min=1, help="Request budget for this sync")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr")] = True,
) -> None:
    """Sync one connector now; prints a JSON summary (exit 1 failed, 2 config/auth, 3 partial)."""
    settings = Settings()
    try:
        entry = load_config(config).get(connector)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    runtime = Runtime(base_url=base_url, max_requests=max_requests)
    try:
        summary = run_connector(
            database, settings, entry, since=since, runtime=runtime, progress=progress
        )
    except AuthenticationError as error:
        typer.echo(f"error: authentication failed: {error}", err=True)
        raise typer.Exit(2) from None
    except ConnectorError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(json.dumps(summary.as_dict()))
    raise typer.Exit(0 if summary.complete else 3)


def schedule_command(
    config: ConfigOption = Path("connectors.yaml"),
    once: Annotated[bool, typer.Option(help="Run every connector once, then exit")] = False,
) -> None:
    """Run every configured connector at its interval until SIGINT/SIGTERM."""
    settings = Settings()
    try:
        loaded = load_config(config)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)

    def run_one(entry: ConnectorConfig) -> SyncSummary:
        return run_connector(database, settings, entry, progress=False)

    def report(summary: SyncSummary) -> None:
        typer.echo(json.dumps(summary.as_dict()))

    scheduler = Scheduler(loaded, run_one)
    try:
        if once:
            for summary in scheduler.run_due():
                report(summary)
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        scheduler.run_forever(stop, report)
    finally:
        database.dispose()
