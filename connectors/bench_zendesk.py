"""Scale check: sync a faulty fake Zendesk, SIGKILL the sync mid-way, resume, verify the result.

Run `python -m connectors.bench_zendesk [--database-url URL]` (default: a fresh SQLite file).
Waits asked for by the fake (Retry-After, backoff) are scaled by --time-scale to keep it short.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import select

from connectors.base import SyncEngine, SyncOptions
from connectors.http import HttpPolicy, VendorHttp
from connectors.testing.server import FakeApi
from connectors.testing.zendesk_fake import FakeZendesk, generate
from connectors.zendesk import ZendeskConnector, ZendeskOptions, zendesk_client
from pipelines.ingest import IngestPolicy
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Account, Message

EMAIL, TOKEN = "ops@example.com", "secret-token"


def worker(database_url: str, base_url: str, time_scale: float) -> None:
    """One sync run (the process the benchmark kills and restarts)."""
    policy = HttpPolicy(read_timeout=0.25, connect_timeout=1.0, max_attempts=10)
    client = zendesk_client(base_url, EMAIL, TOKEN, policy=policy)
    http = VendorHttp(client, policy=policy, sleep=lambda seconds: time.sleep(seconds * time_scale))
    connector = ZendeskConnector(http, ZendeskOptions(per_page=1000, chunk_tickets=50))
    database = Database(database_url)
    engine = SyncEngine(database, IngestPolicy(), SyncOptions(progress=False))
    summary = engine.run("zendesk-bench", connector)
    print(json.dumps(summary.as_dict()), flush=True)


def _accounts(database: Database, orgs: int) -> None:
    with database.session() as session:
        for number in range(orgs):
            account_id = f"bench-{100 + number}"
            if session.get(Account, account_id) is None:
                external = {"zendesk": str(100 + number)}
                upsert_account(
                    session,
                    account_id,
                    AccountIn(name=account_id, external_ids=external),
                    actor="b",
                )


def _count(database: Database) -> int:
    with database.session() as session:
        return len(session.exec(select(Message.id).where(Message.source_system == "zendesk")).all())


def _spawn(args: argparse.Namespace, database_url: str, base_url: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "connectors.bench_zendesk", "--worker"]
    command += ["--database-url", database_url, "--base-url", base_url]
    command += ["--time-scale", str(args.time_scale)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole scale check and return its numbers."""
    started = time.monotonic()
    fake = FakeZendesk()
    generate(fake, tickets=args.tickets, comments=args.comments, orgs=args.orgs)
    upstream = {f"c-{c['id']}": c["plain_body"] for cs in fake.comments.values() for c in cs}
    scratch = tempfile.mkdtemp(prefix="bench-zendesk-")
    database_url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
    migrate.upgrade(database_url)
    database = Database(database_url)
    _accounts(database, args.orgs)
    with FakeApi(fake, fail_rate=args.fail_rate, seed=11, stall_seconds=0.5) as api:
        first = _spawn(args, database_url, api.url)
        while first.poll() is None and _count(database) < len(upstream) * args.kill_at:
            time.sleep(0.05)
        killed_at = _count(database)
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = _spawn(args, database_url, api.url)
        output, _ = second.communicate()
        resumed = json.loads(output.strip().splitlines()[-1]) if output.strip() else {}
        requests, faults = len(api.requests), api.faults_served
    with database.session() as session:
        rows = session.exec(select(Message).where(Message.source_system == "zendesk")).all()
        counts = Counter(row.external_id for row in rows)
        wrong_text = sum(1 for row in rows if upstream.get(row.external_id) != row.text)
    database.dispose()
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "database": database_url.split(":", 1)[0],
        "tickets": args.tickets,
        "messages_upstream": len(upstream),
        "stored": len(counts),
        "duplicates": sum(n - 1 for n in counts.values()),
        "missing": len(set(upstream) - set(counts)),
        "unexpected": len(set(counts) - set(upstream)),
        "wrong_text": wrong_text,
        "stored_before_kill": killed_at,
        "first_run_exit": first.returncode,
        "resumed_run": {k: resumed.get(k) for k in ("stored", "duplicates", "pages", "retries")},
        "resumed_run_exit": second.returncode,
        "requests": requests,
        "faults_injected": faults,
        "retries": faults,  # every injected fault costs the client exactly one retry
        "time_scale": args.time_scale,
        "seconds": round(time.monotonic() - started, 1),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--comments", type=int, default=20000)
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--fail-rate", type=float, default=0.10)
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction stored before kill")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if arguments.worker:
        worker(arguments.database_url, arguments.base_url, arguments.time_scale)
    else:
        print(json.dumps(main(arguments)))
