"""Pipeline benchmarks; each prints one JSON object to stdout (progress on stderr).

    python -m tools.bench_pipelines worker                      # pipeline overhead vs raw models
    python -m tools.bench_pipelines rollups --messages 1000000  # full rollup rebuild at scale
    python -m tools.bench_pipelines backfill --messages 1000000 --score 20000  # streaming re-score

`rollups` and `backfill` fill a throwaway SQLite database (or --database-url, which must be
EMPTY: it is migrated and filled) with synthetic messages, scores and topics.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select
from tqdm import tqdm

from evaluation.bench import _reset_peak_rss, _rss_mb
from sentiment_service.sample_loader import SAMPLE_DIR
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Account, Message, MessageScore, MessageTopic

SOURCES = ("ticket", "chat", "survey", "social", "csm_note")
TOPICS = ("billing", "outage", "performance", "bugs", "support_experience", "praise")
LABELS = ("negative", "neutral", "positive")
START = datetime(2026, 1, 1, tzinfo=UTC)


def _machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cpu(s), Python {platform.python_version()}"


def _database(url: str | None) -> tuple[Database, str]:
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    return Database(url), url


def fill(
    database: Database, messages: int, accounts: int, *, seed: int = 7, chunk: int = 20_000
) -> float:
    """Insert synthetic customer messages (a year; texts cycle through the bundled sample
    messages), a score for each and topics for half."""
    rng = random.Random(seed)
    samples = [
        json.loads(line)["text"]
        for line in (SAMPLE_DIR / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    started = time.perf_counter()
    with database.session() as session:
        session.execute(
            insert(Account),
            [
                {
                    "id": f"a{i:05d}",
                    "name": f"Account {i}",
                    "created_at": START,
                    "updated_at": START,
                }
                for i in range(accounts)
            ],
        )
    with tqdm(total=messages, desc="filling", unit="msg", file=sys.stderr) as bar:
        for offset in range(0, messages, chunk):
            count = min(chunk, messages - offset)
            rows, scores, topics = [], [], []
            for i in range(offset + 1, offset + count + 1):
                at = START + timedelta(seconds=rng.randrange(365 * 86400))
                rows.append(
                    {
                        "id": i,
                        "source": rng.choice(SOURCES),
                        "source_system": "bench",
                        "external_id": str(i),
                        "account_id": f"a{rng.randrange(accounts):05d}",
                        "author_role": "customer",
                        "text": f"{samples[i % len(samples)]} (#{i})",
                        "created_at": at,
                        "ingested_at": at,
                        "updated_at": at,
                        "content_hash": f"{i:064x}",
                        "redactions": 0,
                    }
                )
                label = rng.choice(LABELS)
                score = {"negative": -0.7, "neutral": 0.0, "positive": 0.7}[label] + rng.uniform(
                    -0.2, 0.2
                )
                scores.append(
                    {
                        "message_id": i,
                        "model_version": "bench-v1",
                        "status": "scored",
                        "label": label,
                        "score": score,
                        "scored_at": at,
                    }
                )
                if rng.random() < 0.5:
                    topics.append(
                        {
                            "message_id": i,
                            "model_version": "bench-topics",
                            "topic": rng.choice(TOPICS),
                            "confidence": 0.8,
                            "sentence_index": 0,
                            "evidence": "x",
                            "sentence_count": 1,
                            "score": score,
                            "label": label,
                        }
                    )
            with database.session() as session:
                session.execute(insert(Message), rows)
                session.execute(insert(MessageScore), scores)
                session.execute(insert(MessageTopic), topics)
            bar.update(count)
    return time.perf_counter() - started


def bench_rollups(messages: int, accounts: int, url: str | None) -> dict[str, Any]:
    """Time a full rollup rebuild over `messages` synthetic messages."""
    from pipelines import rollups

    database, url = _database(url)
    fill_s = fill(database, messages, accounts)
    _reset_peak_rss()
    before = _rss_mb("VmRSS")
    started = time.perf_counter()
    with database.session() as session:
        rows = rollups.rebuild_all(session, "bench-v1")
    elapsed = time.perf_counter() - started
    return {
        "benchmark": "rollup_rebuild",
        "database": url.split(":")[0],
        "messages": messages,
        "accounts": accounts,
        "rollup_rows": rows,
        "fill_s": round(fill_s, 1),
        "rebuild_s": round(elapsed, 1),
        "messages_per_s": round(messages / elapsed),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(_rss_mb("VmHWM"), 1),
        "machine": _machine(),
    }


def bench_backfill(messages: int, accounts: int, score: int, url: str | None) -> dict[str, Any]:
    """Re-score `score` of `messages` synthetic messages with the real model, sampling memory."""
    from models.minilm import MessageLevelBackend
    from pipelines.backfill import backfill

    database, url = _database(url)
    fill_s = fill(database, messages, accounts)
    scorer = MessageLevelBackend().scorer
    batch = 256
    rss: list[float] = []

    def progress(done: int) -> None:
        rss.append(round(_rss_mb("VmRSS"), 1))
        bar.update(done)

    with tqdm(total=score, desc="re-scoring", unit="msg", file=sys.stderr) as bar:
        summary = backfill(
            database,
            scorer,
            batch_size=batch,
            progress=progress,
            max_batches=max(1, score // batch),
        )
    return {
        "benchmark": "backfill",
        "database": url.split(":")[0],
        "messages_in_database": messages,
        "scored": summary.scored,
        "seconds": summary.seconds,
        "messages_per_s": round(summary.scored / summary.seconds, 1),
        "projected_hours_for_all": round(messages / (summary.scored / summary.seconds) / 3600, 2),
        "rss_mb_first_batches": rss[:3],
        "rss_mb_last_batches": rss[-3:],
        "fill_s": round(fill_s, 1),
        "machine": _machine(),
    }


def bench_worker(limit: int | None) -> dict[str, Any]:
    """The continuous worker (queue, DB writes, rollups) vs the bare models on the same texts."""
    from pipelines.ingest import IngestPolicy
    from pipelines.scoring import ScoringWorker
    from pipelines.topics import topic_model
    from sentiment_service.model_hub import ModelHub
    from sentiment_service.sample_loader import load_sample_data

    database, _ = _database(None)
    load_sample_data(database, IngestPolicy())
    with database.session() as session:
        texts = list(session.exec(select(Message.text).order_by(col(Message.id))).all())[:limit]
    hub = ModelHub()
    scorer = hub.scorer()
    with database.session() as session:
        assigner = topic_model(session, hub)
    scorer.score(texts[:64])  # warm-up
    started = time.perf_counter()
    for offset in range(0, len(texts), 64):
        assigner.assign(scorer.score(texts[offset : offset + 64]))
    models_s = time.perf_counter() - started
    started = time.perf_counter()
    for offset in range(0, len(texts), 64):
        scorer.score(texts[offset : offset + 64])
    sentiment_s = time.perf_counter() - started
    worker = ScoringWorker(
        database, scorer, topics=lambda s: topic_model(s, hub), worker_id="bench", batch_size=64
    )
    started = time.perf_counter()
    stats = worker.drain()
    worker_s = time.perf_counter() - started
    handled = stats.scored + stats.skipped
    return {
        "benchmark": "worker_overhead",
        "messages": handled,
        "models_only_per_s": round(len(texts) / models_s, 1),
        "sentiment_only_per_s": round(len(texts) / sentiment_s, 1),
        "worker_per_s": round(handled / worker_s, 1),
        "pipeline_overhead": round(1 - (handled / worker_s) / (len(texts) / models_s), 3),
        "rollup_rows": stats.rollup_rows,
        "machine": _machine(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benchmark", choices=["worker", "rollups", "backfill"])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--score", type=int, default=20_000, help="messages to re-score (backfill)")
    parser.add_argument("--limit", type=int, default=None, help="sample messages (worker)")
    parser.add_argument("--database-url", default=None, help="an EMPTY database to fill")
    args = parser.parse_args(argv)
    if args.benchmark == "worker":
        result = bench_worker(args.limit)
    elif args.benchmark == "rollups":
        result = bench_rollups(args.messages, args.accounts, args.database_url)
    else:
        result = bench_backfill(args.messages, args.accounts, args.score, args.database_url)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
