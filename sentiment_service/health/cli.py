"""`sentiment-service health ...`: feature snapshots, daily health scores, backtests."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from tqdm import tqdm

from pipelines.features import Basis
from pipelines.snapshots import days, snapshot_range
from sentiment_service.errors import ServiceError
from sentiment_service.health.backtest import backtest_chart_png, compare_backtests
from sentiment_service.health.calibrate import calibrate_bands
from sentiment_service.health.service import (
    ScorecardBacktest,
    VersionedScorecard,
    backtest_scorecard,
    data_end,
    get_scorecard,
    ingested_later_share,
    save_scorecard,
    score_range,
    suggest_scorecard_weights,
    without_kinds,
)
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate, pii_guard
from sentiment_service.storage.database import Database

health_app = typer.Typer(
    help="Feature snapshots, health scores and backtests.", no_args_is_help=True
)

BasisOption = Annotated[
    str, typer.Option(help="known: only data ingested by then; event: by event time (history)")
]


def _database() -> Database:
    settings = Settings()
    migrate.upgrade(settings.database_url)
    return pii_guard.guard(Database(settings.database_url), settings)


def _basis(value: str) -> Basis:
    if value not in ("known", "event"):
        raise typer.BadParameter("choose known or event", param_hint="--basis")
    return "known" if value == "known" else "event"


def _range(database: Database, start: date | None, end: date | None) -> tuple[date, date]:
    with database.session() as session:
        last = data_end(session)
    end_day = end or last or date.today()
    return start or end_day, end_day


@health_app.command("snapshot")
def snapshot_command(
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD)")] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (default: last data day)")
    ] = None,
    basis: BasisOption = "known",
    replace: Annotated[bool, typer.Option(help="Recompute days that have snapshots")] = False,
) -> None:
    """Store daily account feature snapshots (resumable: done days are skipped)."""
    database = _database()
    first, last = _range(database, _day(start), _day(end))
    with tqdm(total=sum(1 for _ in days(first, last)), desc="snapshots", unit="day") as bar:
        summary = snapshot_range(
            database, first, last, basis=_basis(basis), replace=replace, progress=bar.update
        )
    typer.echo(json.dumps(vars(summary)))


@health_app.command("score")
def score_command(
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD)")] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (default: last data day)")
    ] = None,
    step: Annotated[int, typer.Option(min=1, help="Score every N-th day (and the last)")] = 1,
    basis: BasisOption = "known",
    replace: Annotated[bool, typer.Option(help="Recompute days that have scores")] = False,
) -> None:
    """Compute and store health scores under every published scorecard (resumable)."""
    database = _database()
    first, last = _range(database, _day(start), _day(end))
    if basis == "known":
        with database.session() as session:
            later = ingested_later_share(session, first)
        if later >= 0.5:
            typer.echo(
                f"warning: {later:.0%} of the messages and metrics up to {first} were ingested "
                "after that day, so with --basis known those days see none of them and score "
                "as unknown. For history loaded after the fact use --basis event.",
                err=True,
            )
    with tqdm(total=sum(1 for _ in days(first, last, step)), desc="health", unit="day") as bar:
        summary = score_range(
            database,
            first,
            last,
            basis=_basis(basis),
            replace=replace,
            step_days=step,
            progress=bar.update,
        )
    typer.echo(json.dumps(vars(summary)))


def _summary(bt: ScorecardBacktest) -> dict[str, Any]:
    r = bt.result
    return {
        "scorecard": bt.scorecard,
        "version": bt.version,
        "horizon_days": bt.horizon_days,
        "n": r.n,
        "positives": r.n_positive,
        "auc": r.auc,
        "flag_bands": list(r.flag_bands),
        "flagged": r.n_flagged,
        "precision": r.precision,
        "recall": r.recall,
        "lift": r.lift,
        "calibration": [b.model_dump(mode="json") for b in r.calibration],
        "overrides": {
            "overridden": bt.overrides.n_overridden,
            "auc_computed": bt.overrides.computed.auc,
            "auc_effective": bt.overrides.effective.auc,
            "flag_changes_right": bt.overrides.n_flag_changes_right,
            "flag_changes_wrong": bt.overrides.n_flag_changes_wrong,
        },
    }


@health_app.command("backtest")
def backtest_command(
    scorecard: Annotated[str, typer.Option(help="Scorecard id")] = "churn_risk",
    version: Annotated[int | None, typer.Option(help="Version (default: in force)")] = None,
    compare: Annotated[int | None, typer.Option(help="Another version to compare")] = None,
    horizon: Annotated[int, typer.Option(min=0, help="Days before the outcome")] = 30,
    without_sentiment: Annotated[
        bool, typer.Option(help="Also backtest a variant without sentiment and topic components")
    ] = False,
    basis: BasisOption = "event",
    chart: Annotated[Path | None, typer.Option(help="Write a ROC/calibration PNG here")] = None,
) -> None:
    """Backtest a scorecard version against the stored outcomes; prints one JSON object."""
    database = _database()
    with database.session() as session:
        card = get_scorecard(session, scorecard, version)
        if card is None:
            typer.echo(f"error: no scorecard {scorecard!r} version {version}", err=True)
            raise typer.Exit(2)
        variants: dict[str, VersionedScorecard] = {f"{card.card.id}@{card.version}": card}
        if compare is not None:
            other = get_scorecard(session, scorecard, compare)
            if other is None:
                typer.echo(f"error: no version {compare} of {scorecard!r}", err=True)
                raise typer.Exit(2)
            variants[f"{other.card.id}@{other.version}"] = other
        if without_sentiment:
            stripped = without_kinds(card.card, {"sentiment", "topic"}, "without_sentiment")
            variants[stripped.id] = VersionedScorecard(stripped, card.version)
        results = {
            name: backtest_scorecard(session, item, horizon_days=horizon, basis=_basis(basis))
            for name, item in variants.items()
        }
    output: dict[str, Any] = {"backtests": {name: _summary(bt) for name, bt in results.items()}}
    names = list(results)
    if len(names) > 1:
        output["comparison"] = [
            d.model_dump(mode="json")
            for d in compare_backtests(results[names[0]].result, results[names[1]].result)
        ]
    if chart is not None:
        chart.write_bytes(backtest_chart_png({n: bt.result for n, bt in results.items()}))
        output["chart"] = str(chart)
    typer.echo(json.dumps(output, indent=2, default=str))


@health_app.command("suggest-weights")
def suggest_weights_command(
    scorecard: Annotated[str, typer.Option(help="Scorecard id")] = "churn_risk",
    horizon: Annotated[int, typer.Option(min=0, help="Days before the outcome")] = 30,
    basis: BasisOption = "event",
    save_draft: Annotated[
        bool, typer.Option(help="Store the suggestion as a draft version")
    ] = False,
) -> None:
    """Fit weights on the outcomes and print the draft with its backtest (never published)."""
    database = _database()
    with database.session() as session:
        card = get_scorecard(session, scorecard)
        if card is None:
            typer.echo(f"error: no scorecard {scorecard!r}", err=True)
            raise typer.Exit(2)
        current, suggestion = suggest_scorecard_weights(
            session, card, horizon_days=horizon, basis=_basis(basis)
        )
        draft = VersionedScorecard(suggestion.draft, 0)
        draft_backtest = backtest_scorecard(
            session, draft, horizon_days=horizon, basis=_basis(basis)
        )
        stored = None
        if save_draft:
            stored = save_scorecard(
                session, suggestion.draft, author="cli", reason="suggested weights", draft=True
            ).version
    typer.echo(
        json.dumps(
            {
                "current": _summary(current),
                "draft": _summary(draft_backtest),
                "weights": {c.name: c.weight for c in suggestion.draft.components},
                "diagnostics": suggestion.diagnostics.model_dump(mode="json"),
                "stored_draft_version": stored,
            },
            indent=2,
            default=str,
        )
    )


@health_app.command("calibrate-bands")
def calibrate_bands_command(
    scorecard: Annotated[str, typer.Option(help="Scorecard id")] = "churn_risk",
    horizon: Annotated[int, typer.Option(min=0, help="Days before the outcome")] = 30,
    target_precision: Annotated[
        float | None,
        typer.Option(min=0.01, max=1.0, help="Flagged band precision to reach [default: 0.6]"),
    ] = None,
    target_recall: Annotated[
        float | None, typer.Option(min=0.01, max=1.0, help="Or: flagged band recall to reach")
    ] = None,
) -> None:
    """Propose band thresholds from the backtest of the version in force, stored as a draft
    version with its evidence (never applied by itself), and fit the outcome probability shown
    next to scores; prints one JSON object."""
    database = _database()
    try:
        with database.session() as session:
            result = calibrate_bands(
                session,
                scorecard,
                author="cli",
                horizon_days=horizon,
                target_precision=target_precision,
                target_recall=target_recall,
            )
    except ServiceError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result.as_dict(), indent=2, default=str))


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None
