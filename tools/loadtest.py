"""Loopback load test: the real API (uvicorn) and scoring worker(s) in subprocesses, driven by an
open-loop asyncio HTTP client with mixed ingestion and reads; then an exactly-once audit.

    sentiment-service bench load --duration 180 --rate 3
    sentiment-service bench load --duration 180 --rate 3 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/loadtest
    sentiment-service bench load --profile reads --rate 100 --duration 60 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/readbench --api-workers 2

Without --database-url it runs on a fresh SQLite file in a temp folder. A given database must
be a throw-away one: it is migrated and gets the sample accounts and two API keys.

Open loop: request i is due at start + i / rate whatever happened to earlier requests, and its
latency is measured from that due time, so a stalled server shows up as latency instead of
silently lowering the offered rate (no coordinated omission).

Exactly once: every message carries a run-unique external id. The set of ids the API reported
`accepted` must equal the set stored; each stored message must have exactly one score row for
the active model version; the scoring queue must be empty; and the workers' own count of
messages they processed (printed when they stop) must equal the number stored, so no message
was scored twice. With `--workers 0` nothing is scored: the run measures the API's ingestion
alone (validate, redact, de-duplicate, store, queue), and every accepted message must be
stored once and waiting in the scoring queue.

The `reads` profile measures the read path alone: it seeds the database with a portfolio
(`tools.read_seed`: 1,000 accounts with messages, scores, topics, metrics, rollups and
health scores by default; a database seeded by an earlier run is reused), starts only the API
(no scoring worker) and offers GETs of READ_PROFILE_ENDPOINTS for random seeded accounts at
the given rate. Clients never send If-None-Match, so every answer is computed (or served from
the server's own data-versioned cache), not a 304.

Prints one JSON object on stdout (progress on stderr); `main` returns a non-zero exit code when
any request failed or any message was lost, duplicated or left unscored.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.auth.keys import create_key
from sentiment_service.sample_loader import SAMPLE_DIR
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Message, MessageScore, PipelineState, ScoringQueueItem
from sentiment_service.vocabulary import Role
from tools import read_seed

ACTIVE_VERSION_KEY = "sentiment_model_version"  # as in pipelines.queue (not imported: no models)
STARTUP_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0
HISTORY_DAYS = 30  # messages are dated up to this many days back
WORKER_READY = "scoring with"  # the line `sentiment-service worker` prints once its model loaded
WORKER_STOPPED = re.compile(r"stopped: (\d+) scored, (\d+) skipped")
# (kind: ingest | read, endpoint label, path with query, JSON body or None for a GET)
Request = tuple[str, str, str, dict[str, Any] | None]
READ_ENDPOINTS = (
    "GET /v1/accounts",
    "GET /v1/accounts/{id}",
    "GET /v1/accounts/{id}/messages",
    "GET /v1/accounts/{id}/sentiment/trend",
    "GET /v1/features",
)
# The reads profile: the four reads of issue 19, for random seeded accounts.
READ_PROFILE_ENDPOINTS = (
    "GET /v1/accounts/{id}/health",
    "GET /v1/accounts/{id}",
    "GET /v1/accounts/{id}/sentiment/trend",
    "GET /v1/features?limit=100",
)
Profile = Literal["mixed", "reads"]


@dataclass(frozen=True)
class LoadConfig:
    """What to run: the offered load, the database and the service's processes."""

    duration: float = 180.0  # seconds of offered load
    rate: float = 3.0  # requests per second (ingestion and reads together)
    read_share: float = 0.5  # fraction of requests that are reads
    batch_size: int = 20  # messages per ingestion request
    database_url: str | None = None  # None: a fresh SQLite file in a temp folder
    workers: int = 1  # scoring worker processes (0: ingestion alone, nothing scored)
    drain_timeout: float = 300.0  # seconds to wait for the queue to empty after the load
    request_timeout: float = 30.0  # client timeout per request (a timeout counts as an error)
    warmup: bool = True  # one request of each kind before the clock starts
    seed: int = 7
    profile: Profile = "mixed"  # reads: seeded portfolio, only READ_PROFILE_ENDPOINTS
    accounts: int = 1000  # seeded accounts (reads profile)
    api_workers: int = 1  # `serve --workers`


SHED = "shed"  # the outcome of a request answered 429/503 with Retry-After (load shedding)


@dataclass(frozen=True)
class Sample:
    """One finished request."""

    kind: str  # ingest | read
    endpoint: str
    latency_ms: float  # from the request's due time to the end of its response
    outcome: str  # HTTP status, or the exception's class name
    ok: bool


@dataclass
class Process:
    """A service subprocess and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        """The whole log so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 30) -> str:
        """The last lines of the log."""
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass
class DriveResult:
    """What the load phase saw from the client side."""

    samples: list[Sample] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    record_counts: Counter[str] = field(default_factory=Counter)  # per-record API status
    sent_messages: int = 0
    shed_messages: int = 0  # in requests answered 429/503 with Retry-After
    load_seconds: float = 0.0
    max_send_lag_ms: float = 0.0
    queue_samples: list[int] = field(default_factory=list)


def progress(message: str) -> None:
    """A progress line on stderr."""
    print(f"[load] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Test data


def sample_messages() -> list[dict[str, Any]]:
    """The bundled sample messages (tickets, chats, surveys, notes, posts), as templates."""
    lines = (SAMPLE_DIR / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def sample_accounts() -> list[dict[str, Any]]:
    """The bundled sample accounts."""
    return json.loads((SAMPLE_DIR / "accounts.json").read_text(encoding="utf-8"))


def letters(number: int) -> str:
    """`number` in base 26 written with a-z: a tag that survives the de-duplication's number
    masking (agents' and bots' templates mask digits)."""
    out = ""
    while True:
        number, digit = divmod(number, 26)
        out = chr(ord("a") + digit) + out
        if number == 0:
            return out


class MessageFactory:
    """Unique messages built from the sample texts: each gets a run-unique external id and a
    reference tag at the start of its text (so that no two are exact or near duplicates) and
    a creation time within the last HISTORY_DAYS days."""

    def __init__(self, run_id: str, rng: random.Random) -> None:
        self.run_id = run_id
        self.rng = rng
        self.templates = sample_messages()
        self.count = 0

    def next(self) -> dict[str, Any]:
        """A fresh message record (the body item of POST /v1/messages)."""
        template = self.rng.choice(self.templates)
        self.count += 1
        created = datetime.now(UTC) - timedelta(seconds=self.rng.uniform(60, HISTORY_DAYS * 86400))
        return {
            "source": template["source"],
            "source_system": template["source_system"],
            "external_id": f"{self.run_id}-{self.count}",
            "account_id": template["account_id"],
            "author_role": template["author_role"],
            "text": f"[{self.run_id}-{letters(self.count)}] {template['text']}",
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "thread_id": template["thread_id"],
            "language": template["language"],
            "metadata": template["metadata"],
        }


# ---------------------------------------------------------------------------------------------
# Set-up and the service's processes


def prepare_database(url: str) -> tuple[str, str]:
    """Migrate the database, store the sample accounts and create an ingest and a viewer key;
    returns (ingest key, viewer key)."""
    migrate.upgrade(url)
    database = Database(url)
    try:
        with database.session() as session:
            for raw in sample_accounts():
                fields = {k: v for k, v in raw.items() if k != "id"}
                upsert_account(session, raw["id"], AccountIn.model_validate(fields), actor="load")
            _, ingest_key = create_key(
                session, name="loadtest-ingest", role=Role.INGEST, created_by="loadtest"
            )
            _, viewer_key = create_key(
                session, name="loadtest-viewer", role=Role.VIEWER, created_by="loadtest"
            )
    finally:
        database.dispose()
    return ingest_key, viewer_key


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(url: str, data_dir: Path, port: int) -> dict[str, str]:
    """Environment of the service's processes: this database, no rate limit."""
    env = dict(os.environ)
    env.update(
        {
            "SENTIMENT_SERVICE_DATABASE_URL": url,
            "SENTIMENT_SERVICE_DATA_DIR": str(data_dir),
            "SENTIMENT_SERVICE_HOST": "127.0.0.1",
            "SENTIMENT_SERVICE_PORT": str(port),
            "SENTIMENT_SERVICE_RATE_LIMIT_PER_MINUTE": "0",
        }
    )
    return env


def start(name: str, args: Sequence[str], env: dict[str, str], folder: Path) -> Process:
    """Run `python -m sentiment_service.cli ARGS` with stdout and stderr in a log file."""
    log = folder / f"{name}.log"
    with log.open("wb") as handle:
        popen = subprocess.Popen(
            [sys.executable, "-m", "sentiment_service.cli", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,  # keeps a stray .env in the caller's folder out of the service
        )
    return Process(name, popen, log)


def wait_ready(service: Process, workers: list[Process], base_url: str) -> None:
    """Wait until the API answers /readyz with 200 and every worker has loaded its model."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    pending = [service, *workers]
    while pending:
        for process in [p for p in pending if p.popen.poll() is not None]:
            raise RuntimeError(f"{process.name} exited during start-up:\n{process.tail()}")
        if time.monotonic() > deadline:
            names = ", ".join(p.name for p in pending)
            raise RuntimeError(f"not ready after {STARTUP_TIMEOUT_S:.0f}s: {names}")
        if service in pending:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                    pending.remove(service)
            except httpx.TransportError:
                pass
        pending = [p for p in pending if p is service or WORKER_READY not in p.log_text()]
        time.sleep(0.25)


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux /proc; none elsewhere)."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of a live process and its live children (uvicorn's worker processes)."""
    own = cpu_seconds(pid)
    if own is None:
        return None
    return own + sum(cpu_seconds(child) or 0.0 for child in children(pid))


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds a live process has used (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: Process) -> int | None:
    """SIGTERM, wait, then SIGKILL if needed; returns the exit code."""
    if process.popen.poll() is None:
        process.popen.send_signal(signal.SIGTERM)
        try:
            process.popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
    return process.popen.returncode


def worker_handled(worker: Process) -> int | None:
    """How many messages a stopped worker processed (scored + skipped), from its last line."""
    found = WORKER_STOPPED.findall(worker.log_text())
    if not found:
        return None
    scored, skipped = found[-1]
    return int(scored) + int(skipped)


# ---------------------------------------------------------------------------------------------
# The open-loop driver


class LoadDriver:
    """Sends requests at a constant arrival rate and records what came back."""

    def __init__(
        self,
        config: LoadConfig,
        base_url: str,
        ingest_key: str,
        viewer_key: str,
        run_id: str,
        database: Database,
        account_ids: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.ingest_headers = {"X-API-Key": ingest_key}
        self.viewer_headers = {"X-API-Key": viewer_key}
        self.run_id = run_id
        self.database = database
        self.rng = random.Random(config.seed)
        self.messages = MessageFactory(run_id, self.rng)
        self.account_ids = list(account_ids or [raw["id"] for raw in sample_accounts()])
        self.reads_only = config.profile == "reads"
        self.endpoints = READ_PROFILE_ENDPOINTS if self.reads_only else READ_ENDPOINTS
        self.result = DriveResult()
        self.in_flight = 0

    async def run(self) -> DriveResult:
        """Offer the load for `duration` seconds and wait for the last responses."""
        # Idle connections expire before uvicorn's 5 s keep-alive timeout closes them, so a
        # request never races the server closing its connection.
        limits = httpx.Limits(
            max_connections=256, max_keepalive_connections=256, keepalive_expiry=2.0
        )
        timeout = httpx.Timeout(self.config.request_timeout)
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(
            base_url=self.base_url, limits=limits, timeout=timeout
        ) as client:
            if self.config.warmup:
                await self._warm_up(client)
            started = loop.time()
            monitor = asyncio.create_task(self._monitor(started))
            tasks: list[asyncio.Task[None]] = []
            total = int(self.config.duration * self.config.rate)
            for index in range(total):
                due = started + index / self.config.rate
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                request = self._next_request()
                tasks.append(asyncio.create_task(self._send(client, request, due)))
            await asyncio.gather(*tasks)
            self.result.load_seconds = loop.time() - started
            monitor.cancel()
        return self.result

    async def _warm_up(self, client: httpx.AsyncClient) -> None:
        """One request of each kind, one after the other, before the clock starts: first-use
        costs (the language model, caches, pooled connections) are not the steady state.
        Their messages count like all others in the exactly-once checks."""
        first = [] if self.reads_only else [self._ingest_request()]
        for request in [*first, *map(self._read_request, self.endpoints)]:
            _, endpoint, path, body = request
            response = await self._call(client, path, body)
            if response.status_code != 200:
                raise RuntimeError(
                    f"warm-up {endpoint}: HTTP {response.status_code}: {response.text[:300]}"
                )
            if body is not None:
                self._record_batch(body["messages"], response.json())

    def _next_request(self) -> Request:
        """The next request of the mix, drawn from the seeded generator."""
        if not self.reads_only and self.rng.random() >= self.config.read_share:
            return self._ingest_request()
        return self._read_request(self.rng.choice(self.endpoints))

    async def _call(
        self, client: httpx.AsyncClient, path: str, body: dict[str, Any] | None
    ) -> httpx.Response:
        """GET with the viewer key, or POST `body` with the ingest key."""
        if body is None:
            return await client.get(path, headers=self.viewer_headers)
        return await client.post(path, json=body, headers=self.ingest_headers)

    def _ingest_request(self) -> Request:
        """An ingestion batch of fresh messages."""
        batch = [self.messages.next() for _ in range(self.config.batch_size)]
        self.result.sent_messages += len(batch)
        return "ingest", "POST /v1/messages", "/v1/messages", {"messages": batch}

    def _read_request(self, endpoint: str) -> Request:
        """A read of `endpoint` for a random account (or five, for features)."""
        account = self.rng.choice(self.account_ids)
        paths = {
            "GET /v1/accounts": "/v1/accounts?limit=50",
            "GET /v1/accounts/{id}": f"/v1/accounts/{account}?include=sentiment,topics",
            "GET /v1/accounts/{id}/messages": f"/v1/accounts/{account}/messages?limit=50",
            "GET /v1/accounts/{id}/sentiment/trend": (
                f"/v1/accounts/{account}/sentiment/trend?granularity=day"
            ),
            "GET /v1/features": "/v1/features?accounts="
            + ",".join(self.rng.sample(self.account_ids, 5)),
            "GET /v1/accounts/{id}/health": f"/v1/accounts/{account}/health",
            "GET /v1/features?limit=100": "/v1/features?limit=100",
        }
        return "read", endpoint, paths[endpoint], None

    async def _send(self, client: httpx.AsyncClient, request: Request, due: float) -> None:
        kind, endpoint, path, body = request
        loop = asyncio.get_running_loop()
        self.result.max_send_lag_ms = max(self.result.max_send_lag_ms, (loop.time() - due) * 1000)
        self.in_flight += 1
        try:
            response = await self._call(client, path, body)
            outcome, ok = str(response.status_code), response.status_code == 200
            if response.status_code in (429, 503) and "retry-after" in response.headers:
                outcome = SHED  # load shedding: answered at once, the client may retry
                self.result.shed_messages += len(body["messages"]) if body else 0
            if ok and body is not None:
                self._record_batch(body["messages"], response.json())
        except httpx.HTTPError as error:
            outcome, ok = type(error).__name__, False
        finally:
            self.in_flight -= 1
        latency_ms = (loop.time() - due) * 1000
        self.result.samples.append(Sample(kind, endpoint, latency_ms, outcome, ok))

    def _record_batch(self, sent: list[dict[str, Any]], answer: dict[str, Any]) -> None:
        """Remember which messages the API accepted (by external id) and count the others."""
        for status in ("accepted", "flagged", "updated", "duplicates", "rejected"):
            items = answer.get(status, [])
            self.result.record_counts[status] += len(items)
            if status == "accepted":
                self.result.accepted.update(sent[item["index"]]["external_id"] for item in items)

    async def _monitor(self, started: float) -> None:
        """Sample the queue length every second; a progress line every 10 seconds."""
        loop = asyncio.get_running_loop()
        tick = 0
        while True:
            await asyncio.sleep(1.0)
            tick += 1
            depth = await asyncio.to_thread(queue_depth, self.database, self.run_id)
            if depth is not None:
                self.result.queue_samples.append(depth)
            if tick % 10 == 0:
                errors = sum(1 for s in self.result.samples if not s.ok and s.outcome != SHED)
                progress(
                    f"t={loop.time() - started:.0f}s done={len(self.result.samples)} "
                    f"in_flight={self.in_flight} errors={errors} "
                    f"accepted={len(self.result.accepted)} queue={depth}"
                )


# ---------------------------------------------------------------------------------------------
# Verification


def _ours(run_id: str) -> Any:
    return col(Message.external_id).startswith(f"{run_id}-")


def queue_depth(database: Database, run_id: str) -> int | None:
    """How many of this run's messages wait in the scoring queue (None: the database did not
    answer, e.g. a locked SQLite file; the caller asks again later)."""
    query = (
        select(func.count())
        .select_from(ScoringQueueItem)
        .join(Message, col(Message.id) == col(ScoringQueueItem.message_id))
        .where(_ours(run_id))
    )
    try:
        with database.session() as session:
            return int(session.exec(query).one())
    except OperationalError as error:
        progress(f"queue length unknown for now: {type(error.orig).__name__}: {error.orig}")
        return None


def wait_drained(database: Database, run_id: str, timeout: float, started: float) -> float:
    """Wait (up to `timeout` seconds after `started`) until no message of this run is queued;
    the seconds since `started`."""
    last_note = time.monotonic()
    while (left := queue_depth(database, run_id)) != 0:
        now = time.monotonic()
        if now - started > timeout:
            progress(f"drain timeout: {left} messages still queued")
            break
        if now - last_note >= 10:
            progress(f"draining: {left} messages queued")
            last_note = now
        time.sleep(0.5)
    return time.monotonic() - started


def audit(database: Database, run_id: str, accepted: set[str]) -> dict[str, Any]:
    """Compare what the API accepted with what is stored and scored."""
    with database.session() as session:
        return _audit(session, run_id, accepted)


def _audit(session: Session, run_id: str, accepted: set[str]) -> dict[str, Any]:
    state = session.get(PipelineState, ACTIVE_VERSION_KEY)
    version = state.value if state is not None else None
    stored_rows = list(session.exec(select(Message.external_id).where(_ours(run_id))).all())
    stored = set(stored_rows)
    score_counts = session.exec(
        select(Message.id, func.count(col(MessageScore.id)))
        .select_from(Message)
        .outerjoin(
            MessageScore,
            (col(MessageScore.message_id) == col(Message.id))
            & (col(MessageScore.model_version) == version),
        )
        .where(_ours(run_id))
        .group_by(col(Message.id))
    ).all()
    per_message = Counter(count for _, count in score_counts)
    statuses = session.exec(
        select(MessageScore.status, func.count())
        .join(Message, col(Message.id) == col(MessageScore.message_id))
        .where(_ours(run_id), MessageScore.model_version == version)
        .group_by(col(MessageScore.status))
    ).all()
    queued = session.exec(
        select(func.count())
        .select_from(ScoringQueueItem)
        .join(Message, col(Message.id) == col(ScoringQueueItem.message_id))
        .where(_ours(run_id))
    ).one()
    return {
        "model_version": version,
        "accepted": len(accepted),
        "stored": len(stored),
        "lost": len(accepted - stored),
        "unacknowledged": len(stored - accepted),
        "duplicate_rows": len(stored_rows) - len(stored),
        "scored_once": per_message.get(1, 0),
        "unscored": per_message.get(0, 0),
        "scored_more_than_once": sum(n for count, n in per_message.items() if count > 1),
        "score_status": dict(statuses),
        "queue_left": int(queued),
    }


# ---------------------------------------------------------------------------------------------
# Figures


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of sorted `values` (0.0 for none)."""
    if not values:
        return 0.0
    rank = min(max(1, math.ceil(share * len(values))), len(values))
    return values[rank - 1]


def latency_summary(samples: Sequence[Sample]) -> dict[str, Any]:
    """Count and latency percentiles (ms) of some requests."""
    values = sorted(s.latency_ms for s in samples)
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(values[-1], 1) if values else 0.0,
        "mean_ms": round(sum(values) / len(values), 1) if values else 0.0,
    }


def machine() -> dict[str, Any]:
    """What ran the test (the load average shows other jobs on a shared box)."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }


def summarise(
    config: LoadConfig,
    database_kind: str,
    drive: DriveResult,
    checks: dict[str, Any],
    drain_s: float,
    handled: list[int | None],
    cpu: dict[str, float | None],
    load_before: list[float] | None,
) -> dict[str, Any]:
    """The JSON result."""
    samples = drive.samples
    errors = Counter(s.outcome for s in samples if not s.ok and s.outcome != SHED)
    shed = [s for s in samples if s.outcome == SHED]
    ingests = [s for s in samples if s.kind == "ingest"]
    reads = [s for s in samples if s.kind == "read"]
    load_s = drive.load_seconds or 1e-9
    handled_total = None if None in handled else sum(h for h in handled if h is not None)
    rescored = None if handled_total is None else max(0, handled_total - checks["stored"])
    busy_s = load_s + drain_s
    result: dict[str, Any] = {
        "benchmark": "load",
        "database": database_kind,
        "workers": config.workers,
        "duration_s": config.duration,
        "load_seconds": round(load_s, 1),
        "offered_rps": config.rate,
        "achieved_rps": round(sum(1 for s in samples if s.ok) / load_s, 2),
        "read_share": config.read_share,
        "batch_size": config.batch_size,
        "warmup": config.warmup,
        "requests": {"total": len(samples), "ingest": len(ingests), "read": len(reads)},
        "latency": {
            "all": latency_summary(samples),
            "ingest": latency_summary(ingests),
            "read": latency_summary(reads),
        },
        "endpoints": {
            name: latency_summary([s for s in samples if s.endpoint == name])
            for name in ("POST /v1/messages", *READ_ENDPOINTS)
        },
        "max_send_lag_ms": round(drive.max_send_lag_ms, 1),
        "errors": sum(errors.values()),
        "errors_by_status": dict(errors),
        "shed": {
            "ingest": sum(s.kind == "ingest" for s in shed),
            "read": sum(s.kind == "read" for s in shed),
        },
        "messages": {
            "sent": drive.sent_messages,
            "shed": drive.shed_messages,
            "api_statuses": dict(drive.record_counts),
            **checks,
            "rescored": rescored,
            "worker_handled": handled,
        },
        "ingest_messages_per_s": round(len(drive.accepted) / load_s, 1),
        "queue_max": max(drive.queue_samples, default=0),
        "queue_at_load_end": drive.queue_samples[-1] if drive.queue_samples else 0,
        "drain_seconds": round(drain_s, 1),
        "scoring_messages_per_s": round(checks["scored_once"] / busy_s, 1),
        "cpu_seconds": {k: round(v, 1) if v is not None else None for k, v in cpu.items()},
        "machine": {**machine(), "load_average_before": load_before},
    }
    result["ok"] = (
        result["errors"] == 0
        and checks["lost"] == 0
        and checks["unacknowledged"] == 0
        and checks["duplicate_rows"] == 0
        and scoring_complete(config.workers, checks, rescored)
    )
    return result


def scoring_complete(workers: int, checks: dict[str, Any], rescored: int | None) -> bool:
    """With workers: every stored message scored exactly once and the queue empty. Without
    (ingestion alone): none scored and every stored message waiting in the queue."""
    if workers == 0:
        return checks["scored_once"] == 0 and checks["queue_left"] == checks["stored"]
    return (
        checks["unscored"] == 0
        and checks["scored_more_than_once"] == 0
        and not rescored
        and checks["queue_left"] == 0
    )


# ---------------------------------------------------------------------------------------------
# The whole run


def serve_args(config: LoadConfig) -> list[str]:
    """The `sentiment-service` arguments that start the API."""
    return ["serve", "--workers", str(config.api_workers)]


def endpoint_summary(samples: Sequence[Sample], seconds: float) -> dict[str, Any]:
    """Latency percentiles of one endpoint's requests, its achieved rate, errors and shed."""
    return {
        **latency_summary(samples),
        "achieved_rps": round(sum(1 for s in samples if s.ok) / seconds, 2),
        "errors": sum(1 for s in samples if not s.ok and s.outcome != SHED),
        "shed": sum(1 for s in samples if s.outcome == SHED),
    }


def summarise_reads(
    config: LoadConfig,
    database_kind: str,
    drive: DriveResult,
    seeded: dict[str, Any],
    cpu_s: float | None,
    load_before: list[float] | None,
) -> dict[str, Any]:
    """The JSON result of a reads-profile run."""
    samples = drive.samples
    errors = Counter(s.outcome for s in samples if not s.ok and s.outcome != SHED)
    load_s = drive.load_seconds or 1e-9
    result: dict[str, Any] = {
        "benchmark": "load-reads",
        "database": database_kind,
        "api_workers": config.api_workers,
        "seed": seeded,
        "duration_s": config.duration,
        "load_seconds": round(load_s, 1),
        "offered_rps": config.rate,
        "achieved_rps": round(sum(1 for s in samples if s.ok) / load_s, 2),
        "warmup": config.warmup,
        "requests": {"total": len(samples), "read": len(samples)},
        "latency": {"all": latency_summary(samples)},
        "endpoints": {
            name: endpoint_summary([s for s in samples if s.endpoint == name], load_s)
            for name in READ_PROFILE_ENDPOINTS
        },
        "max_send_lag_ms": round(drive.max_send_lag_ms, 1),
        "errors": sum(errors.values()),
        "errors_by_status": dict(errors),
        "shed": sum(1 for s in samples if s.outcome == SHED),
        "cpu_seconds": {"service": round(cpu_s, 1) if cpu_s is not None else None},
        "machine": {**machine(), "load_average_before": load_before},
    }
    result["ok"] = result["errors"] == 0
    return result


def prepare_reads(url: str, accounts: int) -> tuple[str, dict[str, Any]]:
    """Seed the database (or reuse its seed) and create a viewer key; (key, seed summary)."""
    summary = read_seed.seed(url, accounts=accounts)
    database = Database(url)
    try:
        with database.session() as session:
            _, viewer_key = create_key(
                session, name="loadtest-reader", role=Role.VIEWER, created_by="loadtest"
            )
    finally:
        database.dispose()
    return viewer_key, {
        "accounts": summary.accounts,
        "messages": summary.messages,
        "reused": summary.reused,
        "seconds": summary.seconds,
    }


def run_read_test(config: LoadConfig) -> dict[str, Any]:
    """Seed (or reuse) a portfolio, start only the API, offer the four reads; the JSON result."""
    folder = Path(tempfile.mkdtemp(prefix="loadtest-reads-"))
    url = config.database_url or f"sqlite:///{folder / 'loadtest.db'}"
    database_kind = make_url(url).get_backend_name()
    run_id = "lr" + secrets.token_hex(3)
    progress(f"run {run_id} (reads) on {database_kind}; logs in {folder}; seeding")
    viewer_key, seeded = prepare_reads(url, config.accounts)
    progress(f"seed: {seeded}")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = service_env(url, folder, port)
    env["SENTIMENT_SERVICE_PRELOAD_MODELS"] = "false"  # these reads need no model
    database = Database(url)
    service: Process | None = None
    try:
        account_ids = read_seed.seeded_account_ids(database)
        service = start("service", serve_args(config), env, folder)
        wait_ready(service, [], base_url)
        progress(f"service on {base_url} ({config.api_workers} process(es)); offering reads")
        load_before = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
        driver = LoadDriver(config, base_url, "", viewer_key, run_id, database, account_ids)
        cpu_before = tree_cpu_seconds(service.popen.pid)
        drive = asyncio.run(driver.run())
        cpu_after = tree_cpu_seconds(service.popen.pid)
        cpu_s = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    except BaseException:
        progress(f"failed; logs kept in {folder}")
        raise
    finally:
        if service is not None:
            stop(service)
        database.dispose()
    result = summarise_reads(config, database_kind, drive, seeded, cpu_s, load_before)
    if result["ok"]:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        result["logs"] = str(folder)
        progress(f"errors; logs kept in {folder}")
    return result


def run_load_test(config: LoadConfig) -> dict[str, Any]:
    """Start the service and worker(s), offer the load, drain, audit; the JSON result."""
    folder = Path(tempfile.mkdtemp(prefix="loadtest-"))
    url = config.database_url or f"sqlite:///{folder / 'loadtest.db'}"
    database_kind = make_url(url).get_backend_name()
    run_id = "lt" + secrets.token_hex(3)
    load_before = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    progress(f"run {run_id} on {database_kind}; logs in {folder}")
    ingest_key, viewer_key = prepare_database(url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = service_env(url, folder, port)
    processes: list[Process] = []
    database = Database(url)
    try:
        service = start("service", serve_args(config), env, folder)
        processes.append(service)
        workers = [
            start(
                f"worker-{i}",
                ["worker", "--worker-id", f"{run_id}-w{i}", "--poll-seconds", "0.2"],
                env,
                folder,
            )
            for i in range(config.workers)
        ]
        processes.extend(workers)
        wait_ready(service, workers, base_url)
        progress(f"service on {base_url} and {len(workers)} worker(s) ready; offering load")
        driver = LoadDriver(config, base_url, ingest_key, viewer_key, run_id, database)
        drive = asyncio.run(driver.run())
        progress(f"load done in {drive.load_seconds:.1f}s; stopping the API, draining the queue")
        # The API stops first: its graceful shutdown finishes requests still in progress (their
        # client may have timed out), so nothing is written after the drain below.
        drain_started = time.monotonic()
        cpu = {service.name: tree_cpu_seconds(service.popen.pid)}
        stop(service)
        drain_s = (
            wait_drained(database, run_id, config.drain_timeout, drain_started) if workers else 0.0
        )
        cpu.update({w.name: cpu_seconds(w.popen.pid) for w in workers})
        for worker in workers:
            stop(worker)
        handled = [worker_handled(w) for w in workers]
        checks = audit(database, run_id, drive.accepted)
    except BaseException:
        progress(f"failed; logs kept in {folder}")
        raise
    finally:
        for process in processes:
            stop(process)
        database.dispose()
    result = summarise(config, database_kind, drive, checks, drain_s, handled, cpu, load_before)
    if result["ok"]:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        result["logs"] = str(folder)
        progress(f"problems found; logs kept in {folder}")
    return result


def main(config: LoadConfig) -> int:
    """Run the load test, print its JSON result; the exit code (0: no errors, nothing lost)."""
    result = run_read_test(config) if config.profile == "reads" else run_load_test(config)
    print(json.dumps(result))
    return 0 if result["ok"] else 1
