"""Command-line entry points: `sync <connector>` and `schedule` (mounted by the service CLI)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO, cast

import structlog
import typer

from connectors.base import SyncEngine, SyncOptions, SyncSummary
from connectors.config import ConnectorConfig, load_config
from connectors.errors import AuthenticationError, ConfigError, ConnectorError
from connectors.registry import Runtime, build_connector, close_connector, sync_options
from connectors.schedule import Scheduler
from connectors.transcripts import TranscriptConnector, TranscriptOptions
from pipelines.ingest import IngestPolicy
from sentiment_service.logs import configure_logging
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


class _Stderr:
    """Writes to whatever sys.stderr is when a line is written (a test runner swaps it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _log_to_stderr(settings: Settings) -> None:
    """Structured log lines (sync progress) on stderr: stdout carries the JSON summary."""
    configure_logging(settings.log_level, json=settings.log_json)
    # PrintLoggerFactory only calls write() and flush(); its stub asks for a full TextIO.
    stderr = cast(TextIO, _Stderr())
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stderr))


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
    """Sync one connector now; prints a JSON summary (exit 1 failed, 2 config/auth, 3 partial).
    Progress is logged as structured lines on stderr, with or without the progress bar."""
    settings = Settings()
    _log_to_stderr(settings)
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
    _log_to_stderr(settings)
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


def _pairs(values: list[str], option: str) -> dict[str, str]:
    """`KEY=VALUE` options as a mapping; a malformed one is a usage error naming the option."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key.strip() or not item.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        pairs[key.strip()] = item.strip()
    return pairs


def _iso_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint=option) from None


def import_transcripts_command(
    paths: Annotated[
        list[Path],
        typer.Argument(exists=True, help="Transcript files (.vtt, .srt, .json) or folders"),
    ],
    account: Annotated[
        str | None, typer.Option(help="Our account id for every call (else: by email domain)")
    ] = None,
    agent_domain: Annotated[
        list[str] | None, typer.Option(help="Our email domain (its speakers are agents)")
    ] = None,
    speaker: Annotated[
        list[str] | None,
        typer.Option(help="NAME=ROLE or NAME=EMAIL (ROLE: customer, agent, csm, bot, unknown)"),
    ] = None,
    domain: Annotated[
        list[str] | None, typer.Option(help="DOMAIN=ACCOUNT: a customer email domain's account")
    ] = None,
    call_start: Annotated[
        str | None,
        typer.Option(help="ISO-8601 call start (UTC unless an offset is given) if a file has none"),
    ] = None,
    agent_role: Annotated[str, typer.Option(help="Role of our speakers: agent or csm")] = "agent",
    name: Annotated[str, typer.Option(help="Sync state name")] = "transcripts",
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr")] = True,
) -> None:
    """Import call transcripts as `call` messages; prints a JSON summary (exit 2 usage error,
    3 when some files could not be read: each is named on stderr, the others are imported)."""
    settings = Settings()
    _log_to_stderr(settings)
    try:
        options = TranscriptOptions(
            agent_domains=tuple(agent_domain or ()),
            speakers=_pairs(speaker or [], "--speaker"),
            account_id=account,
            call_start=_iso_time(call_start, "--call-start"),
            agent_role=agent_role,
        )
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    domains = {key.lower(): value for key, value in _pairs(domain or [], "--domain").items()}
    migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    connector = TranscriptConnector(paths, options)
    sync = SyncOptions(
        domains=domains, auto_create_accounts=settings.auto_create_accounts, progress=progress
    )
    engine = SyncEngine(database, IngestPolicy.from_settings(settings), sync)
    try:
        summary = engine.run(name, connector)
    finally:
        database.dispose()
    for line in connector.report.bad_files:
        typer.echo(f"error: {line}", err=True)
    typer.echo(json.dumps({**summary.as_dict(), "transcripts": connector.report.as_dict()}))
    raise typer.Exit(3 if connector.report.bad_files else 0)
