"""Backfill / re-score at scale on Ray Data (optional `distributed` extra).

The same contract as `pipelines.backfill`, spread over processes or machines:

1. The driver plans id ranges of the messages that lack a score under the candidate version
   (a keyset scan of ids only; at most `batch_size` messages per range), or reads a Parquet
   export (columns id, text, language) instead of the messages table.
2. Ray Data streams the ranges through three stages: readers load the unscored messages of a
   range, a pool of `num_actors` model actors (each loads and checksum-verifies the model once)
   scores them, and a writer replaces each batch's rows for the version (delete + insert, one
   transaction per batch), so a batch is written completely or not at all.
3. The driver only receives per-batch counts (progress bar on stderr). When nothing is left,
   it switches the active version and rebuilds the rollups in one transaction.

Old scores stay active until every message has a new one. A rerun after an interruption (Ctrl-C,
a killed node, `max_batches`) resumes with what is left; nothing is scored twice.

Local mode: `address=None` starts a private Ray instance on this machine (and stops it at the
end). Cluster: `address="ray://head:10001"` connects to a running cluster whose nodes have the
same installation (`pip install sentiment-service[distributed]`) and the model artifact at
the same path, and can reach the database; that means PostgreSQL, not a SQLite file.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import delete
from sqlalchemy.engine import make_url
from sqlmodel import col, select
from tqdm import tqdm

from models.sentiment.inference import default_artifact_dir
from pipelines import rollups
from pipelines.backfill import BackfillSummary, remaining, unscored
from pipelines.queue import active_version, set_active_version
from pipelines.row_ids import stored_id
from pipelines.scoring import score_row
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, MessageScore

LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2
PLAN_PAGE = 10_000
HELPER_CPUS = 0  # DB stages wait on I/O; they must not take CPUs from the model actors
HELPER_TASKS = 2

RANGE_SCHEMA = pa.schema([("lo", pa.int64()), ("hi", pa.int64())])
MESSAGE_SCHEMA = pa.schema([("id", pa.int64()), ("text", pa.string()), ("language", pa.string())])
SCORE_SCHEMA = pa.schema(
    [
        ("message_id", pa.int64()),
        ("status", pa.string()),
        ("label", pa.string()),
        ("score", pa.float64()),
        ("p_negative", pa.float64()),
        ("p_neutral", pa.float64()),
        ("p_positive", pa.float64()),
        ("aggregation", pa.string()),
        ("sentences", pa.string()),
    ]
)
COUNT_SCHEMA = pa.schema([("messages", pa.int64()), ("scored", pa.int64())])


@dataclass
class RayBackfillSummary(BackfillSummary):
    """What a Ray backfill run did (BackfillSummary plus run details)."""

    remaining_after: int = 0
    batches: int = 0
    interrupted: bool = False
    engine: str = "ray"
    address: str = "local"
    actors: int = 1


def artifact_version(artifact_dir: Path | None) -> str:
    """The model version named in an artifact's manifest.json."""
    manifest = (artifact_dir or default_artifact_dir()) / "manifest.json"
    return str(json.loads(manifest.read_text())["version"])


def worker_database_url(url: str) -> str:
    """The URL as worker processes must see it (a SQLite file path made absolute)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    absolute = str(Path(parsed.database or "").resolve())
    return parsed.set(database=absolute).render_as_string(hide_password=False)


def plan_ranges(
    database: Database, version: str, batch_size: int, max_batches: int | None = None
) -> tuple[list[dict[str, int]], int]:
    """Inclusive id ranges holding at most batch_size unscored messages each; (ranges, total)."""
    ranges: list[dict[str, int]] = []
    chunk: list[int] = []
    total, after_id = 0, 0
    while max_batches is None or len(ranges) < max_batches:
        with database.session() as session:
            page = list(
                session.exec(
                    select(Message.id)
                    .where(col(Message.id) > after_id, unscored(version))
                    .order_by(col(Message.id))
                    .limit(PLAN_PAGE)
                ).all()
            )
        for message_id in page:
            chunk.append(stored_id(message_id, "message"))
            if len(chunk) == batch_size:
                ranges.append({"lo": chunk[0], "hi": chunk[-1]})
                total, chunk = total + len(chunk), []
                if max_batches is not None and len(ranges) >= max_batches:
                    return ranges, total
        if len(page) < PLAN_PAGE:
            break
        after_id = page[-1] or after_id
    if chunk:
        ranges.append({"lo": chunk[0], "hi": chunk[-1]})
        total += len(chunk)
    return ranges, total


def _message_table(rows: list[tuple[int | None, str, str | None]]) -> pa.Table:
    names = MESSAGE_SCHEMA.names
    return pa.Table.from_pylist(
        [dict(zip(names, row, strict=True)) for row in rows], MESSAGE_SCHEMA
    )


@functools.cache
def _database(url: str) -> Database:
    """One engine per worker process and URL, reused by every task that process runs."""
    return Database(url)


def read_ranges(batch: pa.Table, database_url: str, version: str) -> pa.Table:
    """Ray stage: the unscored messages (id, text, language) of each id range."""
    rows: list[tuple[int | None, str, str | None]] = []
    with _database(database_url).session() as session:
        for lo, hi in zip(batch["lo"].to_pylist(), batch["hi"].to_pylist(), strict=True):
            rows.extend(
                session.exec(
                    select(Message.id, Message.text, Message.language)
                    .where(col(Message.id) >= lo, col(Message.id) <= hi, unscored(version))
                    .order_by(col(Message.id))
                ).all()
            )
    return _message_table(rows)


def drop_scored(batch: pa.Table, database_url: str, version: str) -> pa.Table:
    """Ray stage for Parquet input: keep rows of stored messages not yet scored."""
    batch = batch.select(MESSAGE_SCHEMA.names).cast(MESSAGE_SCHEMA)
    ids = batch["id"].to_pylist()
    with _database(database_url).session() as session:
        todo = set(
            session.exec(
                select(Message.id).where(col(Message.id).in_(ids), unscored(version))
            ).all()
        )
    keep = []
    for message_id in ids:  # an id twice in one export keeps its first row
        keep.append(message_id in todo)
        todo.discard(message_id)
    return batch.filter(pa.array(keep, pa.bool_()))


class ScorerActor:
    """Ray stage: one model actor; loads the checksum-verified model once and scores batches."""

    def __init__(
        self, artifact_dir: str | None, version: str, threads: int, spacy_package: str | None
    ) -> None:
        from models.message_sentiment import MessageSentimentScorer
        from models.minilm import MiniLMBackend
        from models.sentences import SentenceSplitter

        backend = MiniLMBackend(Path(artifact_dir) if artifact_dir else None, threads=threads)
        if backend.version != version:
            raise RuntimeError(f"model on this node is {backend.version}, expected {version}")
        splitter = SentenceSplitter(spacy_package) if spacy_package else SentenceSplitter()
        from models.multilingual.routing import with_multilingual

        self.scorer = with_multilingual(MessageSentimentScorer(backend, splitter), threads=threads)

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Score a batch of messages into stored-row columns (SCORE_SCHEMA)."""
        ids = batch["id"].to_pylist()
        from models.multilingual.routing import reads_language, score_messages

        languages = batch["language"].to_pylist()
        supported = [reads_language(self.scorer, language) for language in languages]
        chosen = [i for i, ok in enumerate(supported) if ok]
        texts = [batch["text"].to_pylist()[i] for i in chosen]
        results = iter(
            score_messages(self.scorer, texts, [languages[i] for i in chosen]) if texts else []
        )
        rows: list[dict[str, Any]] = []
        for message_id, ok in zip(ids, supported, strict=True):
            result = next(results) if ok else None
            score = score_row(message_id, self.scorer.version, result, _status(result))
            rows.append(score.model_dump(include=set(SCORE_SCHEMA.names)))
        for row in rows:
            row["sentences"] = json.dumps(row["sentences"]) if row["sentences"] else None
        return pa.Table.from_pylist(rows, schema=SCORE_SCHEMA)


def _status(result: object | None) -> str:
    return "scored" if result is not None else "skipped_language"


def replace_scores(database: Database, version: str, batch: pa.Table) -> int:
    """Replace the version's rows of the batch's messages in one transaction; returns scored."""
    rows = batch.to_pylist()
    with database.session() as session:
        session.execute(
            delete(MessageScore).where(
                col(MessageScore.message_id).in_([r["message_id"] for r in rows]),
                col(MessageScore.model_version) == version,
            )
        )
        for row in rows:
            raw = row.pop("sentences")
            sentences = json.loads(raw) if raw else None
            session.add(MessageScore(**row, model_version=version, sentences=sentences))
    return sum(row["status"] == "scored" for row in rows)


def write_scores(batch: pa.Table, database_url: str, version: str) -> pa.Table:
    """Ray stage: store one scored batch idempotently; one row of counts."""
    database = _database(database_url)
    scored = replace_scores(database, version, batch) if batch.num_rows else 0
    return pa.table({"messages": [batch.num_rows], "scored": [scored]}, schema=COUNT_SCHEMA)


RAY_CONNECT_TIMEOUT_SECONDS = 60.0


def call_with_deadline(function: Callable[[], object], seconds: float, what: str) -> None:
    """Run `function` in a daemon thread and wait at most `seconds` for it: a `TimeoutError`
    naming `what` then, or the function's own exception. (ray.init has no connect timeout of
    its own: with an unreachable address it keeps retrying for minutes.)"""
    done = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            function()
        except BaseException as error:  # handed to the caller below
            failures.append(error)
        finally:
            done.set()

    threading.Thread(target=run, name="deadline", daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"{what}: no answer within {seconds:g} s")
    if failures:
        raise failures[0]


@contextmanager
def ray_session(
    address: str | None,
    num_cpus: int | None = None,
    connect_timeout: float = RAY_CONNECT_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Use the running Ray, connect to `address` (giving up after `connect_timeout` seconds),
    or start a local one; stop only our own."""
    import ray

    if ray.is_initialized():
        yield "existing"
        return
    if address:
        call_with_deadline(
            lambda: ray.init(address=address, log_to_driver=False),
            connect_timeout,
            f"connecting to the Ray cluster at {address}",
        )
    else:
        ray.init(
            address="local",
            num_cpus=num_cpus,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        yield address or "local"
    finally:
        ray.shutdown()


def build_dataset(
    url: str,
    version: str,
    ranges: list[dict[str, int]],
    *,
    artifact_dir: Path | None,
    parquet_dir: Path | None,
    batch_size: int,
    num_actors: int,
    cpus_per_actor: float,
    spacy_package: str | None,
    max_messages: int | None = None,
) -> Any:
    """The streaming read -> score -> write pipeline (a lazy Ray dataset of batch counts)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    db_args = {"database_url": url, "version": version}
    if parquet_dir is not None:
        source = ray.data.read_parquet(str(parquet_dir), columns=MESSAGE_SCHEMA.names)
        if max_messages is not None:
            source = source.limit(max_messages)
        messages = source.map_batches(
            drop_scored,  # type: ignore[arg-type]  # Ray's stub leaves out fn_kwargs
            fn_kwargs=db_args,
            batch_format="pyarrow",
            batch_size=batch_size,
            compute=ray.data.TaskPoolStrategy(size=HELPER_TASKS),
            num_cpus=HELPER_CPUS,
        )
    else:
        source = ray.data.from_arrow(pa.Table.from_pylist(ranges, schema=RANGE_SCHEMA))
        messages = source.map_batches(
            read_ranges,  # type: ignore[arg-type]  # Ray's stub leaves out fn_kwargs
            fn_kwargs=db_args,
            batch_format="pyarrow",
            batch_size=1,
            compute=ray.data.TaskPoolStrategy(size=HELPER_TASKS),
            num_cpus=HELPER_CPUS,
        )
    scored = messages.map_batches(
        ScorerActor,
        fn_constructor_kwargs={
            "artifact_dir": str(artifact_dir) if artifact_dir else None,
            "version": version,
            "threads": max(1, round(cpus_per_actor)),
            "spacy_package": spacy_package,
        },
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        num_cpus=cpus_per_actor,
    )
    writers = 1 if make_url(url).get_backend_name() == "sqlite" else num_actors
    return scored.map_batches(
        write_scores,  # type: ignore[arg-type]  # Ray's stub leaves out fn_kwargs
        fn_kwargs=db_args,
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.TaskPoolStrategy(size=writers),
        num_cpus=HELPER_CPUS,
    )


def _switch_if_complete(database: Database, summary: RayBackfillSummary) -> None:
    """Switch the active version and rebuild rollups in one transaction when none is left."""
    with database.session() as session:
        summary.remaining_after = remaining(session, summary.model_version)
        if summary.remaining_after == 0 and not summary.interrupted:
            set_active_version(session, summary.model_version)
            summary.rollup_rows = rollups.rebuild_all(session, summary.model_version)
            summary.switched = True


def ray_backfill(
    database_url: str,
    artifact_dir: Path | None = None,
    *,
    address: str | None = None,
    batch_size: int = 256,
    num_actors: int = 1,
    cpus_per_actor: float = 1.0,
    num_cpus: int | None = None,
    parquet_dir: Path | None = None,
    spacy_package: str | None = None,
    max_batches: int | None = None,
    progress: Callable[[int], None] | None = None,
    show_progress: bool = True,
) -> RayBackfillSummary:
    """Score unscored messages under the artifact's version on Ray; switch when none is left.

    Ctrl-C stops the run cleanly: finished batches stay stored, nothing switches, and the
    summary says `interrupted`; run it again to resume.
    """
    started = time.perf_counter()
    url = worker_database_url(database_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError("Ray workers cannot share an in-memory SQLite database")
    if address and address.startswith("ray://") and parsed.get_backend_name() == "sqlite":
        raise ValueError("a Ray cluster needs a database all nodes can reach (PostgreSQL)")
    artifact_dir = artifact_dir.resolve() if artifact_dir else None
    version = artifact_version(artifact_dir)
    database = Database(url)
    try:
        with database.session() as session:
            summary = RayBackfillSummary(
                version,
                active_version(session),
                remaining_before=remaining(session, version),
                address=address or "local",
                actors=num_actors,
            )
        ranges: list[dict[str, int]] = []
        planned = summary.remaining_before
        if parquet_dir is None:
            ranges, planned = plan_ranges(database, version, batch_size, max_batches)
        if planned:
            with ray_session(address, num_cpus):
                _run_pipeline(
                    database_url=url,
                    ranges=ranges,
                    planned=planned,
                    summary=summary,
                    artifact_dir=artifact_dir,
                    parquet_dir=parquet_dir,
                    batch_size=batch_size,
                    num_actors=num_actors,
                    cpus_per_actor=cpus_per_actor,
                    spacy_package=spacy_package,
                    max_messages=None if max_batches is None else max_batches * batch_size,
                    progress=progress,
                    show_progress=show_progress,
                )
        _switch_if_complete(database, summary)
    finally:
        database.dispose()
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def _run_pipeline(
    *,
    database_url: str,
    ranges: list[dict[str, int]],
    planned: int,
    summary: RayBackfillSummary,
    progress: Callable[[int], None] | None,
    show_progress: bool,
    **pipeline: Any,
) -> None:
    """Build the pipeline and drive it, counting written batches; Ctrl-C marks it interrupted."""
    version = summary.model_version
    dataset = build_dataset(database_url, version, ranges, **pipeline)
    bar = tqdm(
        total=planned,
        desc=f"re-scoring with {version} on Ray",
        unit="msg",
        file=sys.stderr,
        disable=not show_progress,
    )
    try:
        for counts in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            for messages, scored in zip(
                counts["messages"].to_pylist(), counts["scored"].to_pylist(), strict=True
            ):
                summary.batches += 1
                summary.scored += scored
                summary.skipped += messages - scored
                bar.update(messages)
                if progress is not None:
                    progress(messages)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
