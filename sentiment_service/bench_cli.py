"""`sentiment-service bench ...`: speed and load benchmarks, each printing one JSON object.

The benchmark code lives in `evaluation/bench.py` and `tools/loadtest.py`; it is imported
inside each command so that the runtime CLI never loads tooling it does not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Speed benchmarks (print one JSON object to stdout).")


@bench_app.command("sentiment")
def bench_sentiment(
    data: Annotated[Path | None, typer.Option(help="CSV with a text column")] = None,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads per path")] = 2,
    multilingual: Annotated[
        bool,
        typer.Option(
            "--multilingual",
            help="Benchmark the multilingual model on UMSAB tweets of 7 non-English languages",
        ),
    ] = False,
    data_dir: Annotated[
        Path, typer.Option(help="Shared data folder holding umsab-multilingual/")
    ] = Path("../shared/data"),
    per_language: Annotated[int, typer.Option(min=1, help="Texts per language")] = 100,
) -> None:
    """HF transformers pipeline (torch fp32) vs the fast path, on the same fine-tuned model;
    with --multilingual, the multilingual model (raw and message path) in texts/s."""
    from evaluation import bench

    if multilingual:
        bench.multilingual_main(data_dir, threads, per_language)
        return
    bench.main(data, threads)


@bench_app.command("load")
def bench_load(
    duration: Annotated[float, typer.Option(min=1, help="Seconds of offered load")] = 180.0,
    rate: Annotated[float, typer.Option(min=0.1, help="Requests per second (open loop)")] = 3.0,
    read_share: Annotated[float, typer.Option(min=0, max=1, help="Fraction of reads")] = 0.5,
    batch_size: Annotated[int, typer.Option(min=1, help="Messages per ingestion request")] = 20,
    database_url: Annotated[
        str | None, typer.Option(help="A throw-away database (default: a fresh SQLite file)")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Scoring worker processes; 0 measures the API's ingestion alone (messages "
            "must be stored and queued, none is scored)",
        ),
    ] = 1,
    profile: Annotated[
        str,
        typer.Option(
            help="mixed: ingestion and reads; reads: seed a portfolio, then only the four "
            "account/features reads (no worker)"
        ),
    ] = "mixed",
    accounts: Annotated[int, typer.Option(min=1, help="Seeded accounts (reads profile)")] = 1000,
    api_workers: Annotated[int, typer.Option(min=1, help="API processes (serve --workers)")] = 1,
    drain_timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for scoring")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the request mix")] = 7,
    warmup: Annotated[
        bool, typer.Option("--warmup/--no-warmup", help="One request of each kind first")
    ] = True,
) -> None:
    """Loopback load test of the real API and worker(s): mixed ingestion and reads at a
    constant arrival rate, then checks every accepted message was stored and scored once."""
    from tools.loadtest import LoadConfig, main

    if profile not in ("mixed", "reads"):
        raise typer.BadParameter("choose mixed or reads", param_hint="--profile")
    config = LoadConfig(
        profile="reads" if profile == "reads" else "mixed",
        accounts=accounts,
        api_workers=api_workers,
        duration=duration,
        rate=rate,
        read_share=read_share,
        batch_size=batch_size,
        database_url=database_url,
        workers=workers,
        drain_timeout=drain_timeout,
        seed=seed,
        warmup=warmup,
    )
    raise typer.Exit(main(config))
