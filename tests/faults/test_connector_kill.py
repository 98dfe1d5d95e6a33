"""A connector sync killed with SIGKILL mid-sync resumes from its committed cursor: after a
second run the store holds the vendor's data exactly once, and nothing committed is fetched
and stored again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import (
    Child,
    make_accounts,
    rows,
    scalar,
    service_env,
    wait_for,
    wait_until_disconnected,
)
from tools.fake_vendors.server import FakeApi
from tools.fake_vendors.zendesk_fake import FakeZendesk, generate

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TICKETS = 40


@pytest.fixture
def fake() -> FakeZendesk:
    """Forty tickets over organisations 100 and 101, about three comments each."""
    zendesk = FakeZendesk()
    generate(zendesk, tickets=TICKETS, comments=3 * TICKETS, orgs=2)
    return zendesk


@pytest.fixture
def api(fake: FakeZendesk) -> Iterator[FakeApi]:
    """The fake, slowed down so that a sync takes a few seconds."""
    with FakeApi(fake, delay_seconds=0.05) as server:
        yield server


def _upstream(fake: FakeZendesk) -> dict[str, str]:
    return {
        f"c-{comment['id']}": comment["plain_body"]
        for comments in fake.comments.values()
        for comment in comments
    }


def _config(tmp_path: Path, api: FakeApi) -> Path:
    """One Zendesk connector; every ticket is its own page (one transaction with its cursor)."""
    config = {
        "connectors": [
            {
                "name": "zendesk",
                "type": "zendesk",
                "base_url": api.url,
                "credentials": {"email": "ops@example.com", "api_token": "secret-token"},
                "per_page": 5,
                "chunk_tickets": 1,
                "read_timeout": 5,
            }
        ]
    }
    path = tmp_path / "connectors.json"
    path.write_text(json.dumps(config))
    return path


def _stored(database_url: str) -> int:
    return int(scalar(database_url, "SELECT count(*) FROM messages"))


def _summary(log: str) -> dict[str, Any]:
    lines = [line for line in log.splitlines() if line.startswith('{"connector"')]
    assert lines, log
    return dict(json.loads(lines[-1]))


def test_a_sync_killed_midway_resumes_and_stores_everything_once(
    pg_url: str,
    tmp_path: Path,
    fake: FakeZendesk,
    api: FakeApi,
    spawn: Callable[..., Child],
) -> None:
    make_accounts(pg_url, ("acme", {"zendesk": "100"}), ("globex", {"zendesk": "101"}))
    upstream = _upstream(fake)
    env = service_env(pg_url, tmp_path)
    command = ["sync", "zendesk", "--config", str(_config(tmp_path, api)), "--no-progress"]

    first = spawn("sync-1", command, env)
    wait_for(lambda: _stored(pg_url) >= 10 or not first.alive(), 120, "some pages stored")
    assert first.alive(), f"the sync ended before the kill: {first.log()}"
    first.kill()
    wait_until_disconnected(pg_url)
    stored_at_kill = _stored(pg_url)
    assert 0 < stored_at_kill < len(upstream)
    cursor = scalar(pg_url, "SELECT cursor FROM sync_state WHERE connector = 'zendesk'")
    assert cursor, "no cursor was committed with the stored pages"

    second = spawn("sync-2", command, env)
    assert second.process.wait(timeout=180) == 0, second.log()
    summary = _summary(second.log())
    assert summary["complete"] and summary["error"] is None, summary
    # It resumed where the killed run stopped: nothing it had committed came back.
    assert summary["stored"] == len(upstream) - stored_at_kill, summary
    assert summary["duplicates"] == 0 and summary["quarantined"] == 0, summary

    found = rows(pg_url, "SELECT external_id, text FROM messages WHERE source_system = 'zendesk'")
    assert dict(found) == upstream  # every comment, with its text
    assert len(found) == len(upstream)  # and each exactly once
    print(
        f"connector: {stored_at_kill} of {len(upstream)} stored at the kill; "
        f"the rerun stored {summary['stored']}, duplicates {summary['duplicates']}"
    )
