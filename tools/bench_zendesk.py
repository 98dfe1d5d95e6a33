"""Scale check: sync a faulty fake Zendesk, SIGKILL the sync mid-way, resume, verify the result.

Run `python -m tools.bench_zendesk [--database-url URL]` (default: a fresh SQLite file).
Waits asked for by the fake (Retry-After, backoff) are scaled by --time-scale to keep it short.
`--adversarial` makes the data look like a real account (tools/fake_vendors/zendesk_fake.py,
generate_adversarial): texts repeat across tickets, authors and roles, half of the users are
missing from the sideloads and some are deleted. Either way the result must be exact: every
upstream comment stored once with its text (0 missing, 0 extra, 0 duplicated) and, in the
adversarial mode, with its true author role.
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
from connectors.zendesk import ROLES, ZendeskConnector, ZendeskOptions, zendesk_client
from pipelines.ingest import IngestPolicy
from sentiment_service.accounts import AccountIn, upsert_account
from sentiment_service.logs import configure_logging
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import Account, Message
from tools.fake_vendors.server import FakeApi
from tools.fake_vendors.zendesk_fake import FakeZendesk, generate, generate_adversarial

EMAIL, TOKEN = "ops@example.com", "secret-token"


def worker(database_url: str, base_url: str, time_scale: float, workers: int) -> None:
    """One sync run (the process the benchmark kills and restarts)."""
    configure_logging("WARNING")  # progress lines on stderr when asked; stdout: the summary
    policy = HttpPolicy(read_timeout=0.25, connect_timeout=1.0, max_attempts=10)
    client = zendesk_client(base_url, EMAIL, TOKEN, policy=policy)
    http = VendorHttp(client, policy=policy, sleep=lambda seconds: time.sleep(seconds * time_scale))
    options = ZendeskOptions(per_page=1000, chunk_tickets=50, workers=workers)
    connector = ZendeskConnector(http, options)
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
    command = [sys.executable, "-m", "tools.bench_zendesk", "--worker"]
    command += ["--database-url", database_url, "--base-url", base_url]
    command += ["--time-scale", str(args.time_scale), "--workers", str(args.workers)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole scale check and return its numbers."""
    started = time.monotonic()
    fake = FakeZendesk()
    sizes = {"tickets": args.tickets, "comments": args.comments, "orgs": args.orgs}
    if args.adversarial:
        roles = generate_adversarial(fake, **sizes)
    else:
        generate(fake, **sizes)
        roles = {
            f"c-{c['id']}": ROLES[fake.users[c["author_id"]]["role"]]
            for cs in fake.comments.values()
            for c in cs
        }
    upstream = {f"c-{c['id']}": c["plain_body"] for cs in fake.comments.values() for c in cs}
    texts = Counter(upstream.values())
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
        wrong_role = sum(1 for row in rows if roles.get(row.external_id) != row.author_role)
        flagged = sum(1 for row in rows if row.duplicate_of is not None)
    database.dispose()
    shutil.rmtree(scratch, ignore_errors=True)
    missing = len(set(upstream) - set(counts))
    duplicated = sum(n - 1 for n in counts.values())
    unexpected = len(set(counts) - set(upstream))
    resumed_keys = (
        "fetched",
        "stored",
        "updated",
        "flagged_duplicates",
        "duplicates",
        "quarantined",
        "skipped",
        "unresolved_authors",
        "pages",
        "retries",
    )
    return {
        "mode": "adversarial" if args.adversarial else "normal",
        "database": database_url.split(":", 1)[0],
        "tickets": args.tickets,
        "workers": args.workers,
        "messages_upstream": len(upstream),
        "texts_repeated": sum(n for n in texts.values() if n > 1),
        "users_unlisted": len(fake.unlisted),
        "users_gone": len(fake.gone),
        "stored": len(counts),
        "flagged_canned": flagged,
        "duplicates": duplicated,
        "missing": missing,
        "unexpected": unexpected,
        "wrong_text": wrong_text,
        "wrong_role": wrong_role,
        "roles_right_pct": round(100.0 * (len(rows) - wrong_role) / max(1, len(rows)), 2),
        "exact": missing == duplicated == unexpected == wrong_text == wrong_role == 0,
        "stored_before_kill": killed_at,
        "first_run_exit": first.returncode,
        "resumed_run": {k: resumed.get(k) for k in resumed_keys},
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
    parser.add_argument("--workers", type=int, default=4, help="comment requests in flight")
    parser.add_argument(
        "--adversarial",
        action="store_true",
        help="repeated texts across tickets and roles, users missing from sideloads",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", default=None, help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if arguments.worker:
        worker(arguments.database_url, arguments.base_url, arguments.time_scale, arguments.workers)
    else:
        print(json.dumps(main(arguments)))
