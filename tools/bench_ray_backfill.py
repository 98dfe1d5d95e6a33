"""Benchmark of the Ray Data backfill: re-score N synthetic messages in Ray local mode.

    python -m tools.bench_ray_backfill --bench 2000 [--actors 2] [--baseline]

prints one JSON object (messages per second, Ray start-up time, the driver's peak RSS; with
`--baseline`, the single-process `pipelines.backfill` time on the same data).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.ray_backfill import ray_backfill, ray_session
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database

SUBJECTS = ["the export", "SSO login", "the mobile app", "invoice sync", "the API", "search"]
OPINIONS = [
    "{s} works great since the last update, thanks!",
    "{s} keeps failing and we have lost a whole day of work.",
    "Can you tell me when {s} will support CSV?",
    "Honestly {s} is the reason we renewed.",
    "This is the third time {s} broke this month. Unacceptable.",
    "{s} is fine, but the docs are confusing.",
    "We moved 40 users over yesterday. {s} was slow in the morning. By noon it was quick "
    "again. Support answered within minutes, which we appreciated.",
]
FOREIGN = "Der Export funktioniert leider seit gestern nicht mehr."


def synthetic_messages(n: int) -> list[dict[str, Any]]:
    """N varied message records for account `bench` (every 25th is German)."""
    records = []
    for i in range(n):
        text = OPINIONS[i % len(OPINIONS)].format(s=SUBJECTS[(i // 7) % len(SUBJECTS)])
        text = text[0].upper() + text[1:]
        record: dict[str, Any] = {
            "source": "ticket",
            "source_system": "bench",
            "external_id": f"b{i}",
            "account_id": "bench",
            "author_role": "customer",
            "text": f"{FOREIGN if i % 25 == 24 else text} (ref {i})",
            "created_at": f"2026-10-{1 + i % 28:02d}T09:00:00Z",
        }
        if i % 25 == 24:
            record["language"] = "de"
        records.append(record)
    return records


def seed_bench_database(url: str, n: int) -> None:
    """A fresh migrated database holding N synthetic messages."""
    migrate.upgrade(url)
    database = Database(url)
    records = synthetic_messages(n)
    with database.session() as session:
        upsert_account(session, "bench", AccountIn(name="Bench"), actor="bench")
    for start in range(0, n, 500):
        with database.session() as session:
            ingestor = Ingestor(session, IngestPolicy(), channel="bench", actor="bench")
            ingestor.messages(records[start : start + 500])
    database.dispose()


def single_process_seconds(url: str, batch_size: int) -> float:
    """Wall time of the single-process `backfill` (model loading included), for comparison."""
    from models.message_sentiment import MessageSentimentScorer
    from models.minilm import MiniLMBackend
    from models.sentences import SentenceSplitter
    from pipelines.backfill import backfill

    started = time.perf_counter()
    database = Database(url)
    scorer = MessageSentimentScorer(MiniLMBackend(), SentenceSplitter())
    backfill(database, scorer, batch_size=batch_size)
    database.dispose()
    return round(time.perf_counter() - started, 2)


def bench(
    n: int, *, num_actors: int, cpus_per_actor: float, batch_size: int, baseline: bool
) -> dict[str, Any]:
    """Re-score N synthetic messages via Ray local mode; one JSON-able result."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        seed_bench_database(url, n)
        started = time.perf_counter()
        with ray_session(None):
            ray_started = time.perf_counter() - started
            summary = ray_backfill(
                url, batch_size=batch_size, num_actors=num_actors, cpus_per_actor=cpus_per_actor
            )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result: dict[str, Any] = {
            "messages": summary.scored + summary.skipped,
            "scored": summary.scored,
            "skipped": summary.skipped,
            "switched": summary.switched,
            "actors": num_actors,
            "cpus_per_actor": cpus_per_actor,
            "batch_size": batch_size,
            "ray_start_seconds": round(ray_started, 2),
            "seconds": summary.seconds,
            "messages_per_s": round((summary.scored + summary.skipped) / summary.seconds, 1),
            "driver_peak_rss_mb": round(peak_mb, 1),
        }
        if baseline:
            other = f"sqlite:///{Path(folder) / 'baseline.db'}"
            seed_bench_database(other, n)
            result["single_process_seconds"] = single_process_seconds(other, batch_size)
    return result


def main(argv: list[str] | None = None) -> None:
    """`python -m tools.bench_ray_backfill --bench N`: print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=int, required=True, metavar="N", help="messages")
    parser.add_argument("--actors", type=int, default=1)
    parser.add_argument("--cpus-per-actor", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--baseline", action="store_true", help="also time `backfill`")
    args = parser.parse_args(argv)
    result = bench(
        args.bench,
        num_actors=args.actors,
        cpus_per_actor=args.cpus_per_actor,
        batch_size=args.batch_size,
        baseline=args.baseline,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
