"""The worker's behaviour on database errors, without subprocesses: it waits and retries while
the database is unavailable, gives up on a read-only or full one, and takes its own unfinished
claims back at once (a batch whose transaction failed)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from pipelines import scoring
from pipelines.ingest import Ingestor, IngestPolicy
from pipelines.scoring import ScoringWorker, retry_delay
from sentiment_service.storage.database import Database
from tests.faults.conftest import make_accounts, message_records


def _error(message: str) -> OperationalError:
    return OperationalError("UPDATE scoring_queue ...", {}, sqlite3.OperationalError(message))


class FlakyWorker(ScoringWorker):
    """run_once fails with the given errors first, then handles one message per call."""

    def __init__(self, errors: list[Exception], stop: threading.Event, rounds: int) -> None:
        super().__init__(Database("sqlite://"), scorer=None, worker_id="flaky")  # type: ignore[arg-type]
        self.errors = errors
        self.stop = stop
        self.rounds = rounds
        self.calls = 0

    def run_once(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.rounds -= 1
        if self.rounds <= 0:
            self.stop.set()
        return 1


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real waiting between retries."""
    monkeypatch.setattr(scoring, "retry_delay", lambda attempt: 0.001)


def test_the_delay_doubles_up_to_a_ceiling() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert retry_delay(50) == 30.0


def test_an_unavailable_database_is_waited_for_and_work_goes_on() -> None:
    stop = threading.Event()
    worker = FlakyWorker([_error("unable to open database file")] * 3, stop, rounds=2)
    worker.run(stop, poll_seconds=0.001)
    assert worker.calls == 5  # three failures, then two rounds of work


@pytest.mark.parametrize(
    "message", ["database or disk is full", "attempt to write a readonly database"]
)
def test_a_full_or_read_only_database_ends_the_run(message: str) -> None:
    stop = threading.Event()
    worker = FlakyWorker([_error(message)], stop, rounds=1)
    with pytest.raises(OperationalError):
        worker.run(stop, poll_seconds=0.001)


def test_a_worker_takes_back_its_own_unfinished_claims_at_once(database: Database) -> None:
    make_accounts(database.url, ("acme", {}))
    with database.session() as session:
        Ingestor(session, IngestPolicy(), channel="test", actor="test").messages(
            message_records("own", 3)
        )
    scorer: Any = None  # claiming needs no model
    mine = ScoringWorker(database, scorer, worker_id="mine")
    other = ScoringWorker(database, scorer, worker_id="other")
    claimed = mine.claim()
    assert len(claimed) == 3
    # Its batch failed (say the connection broke): the rows are still claimed by it.
    assert other.claim() == []  # others wait for the lease
    assert mine.claim() == claimed  # the owner retries right away
