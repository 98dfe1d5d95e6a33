"""Concurrent read-then-write transactions on SQLite: `session(write=True)` waits for the lock
instead of failing with "database is locked" when another writer committed in between."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from sentiment_service.auth.keys import authenticate_request, create_key
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.storage.tables import ApiKey, PipelineState
from sentiment_service.vocabulary import Role


def _database(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'writers.db'}"
    migrate.upgrade(url)
    return Database(url)


def _interleave(database: Database, *, write: bool) -> list[BaseException]:
    """A reads, B reads, A writes and commits, then B writes: B's snapshot is stale."""
    a_read, b_read, a_committed = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer_a() -> None:
        with database.session(write=write) as session:
            session.exec(select(func.count()).select_from(PipelineState)).one()
            a_read.set()
            b_read.wait(1)  # with write=True, B cannot begin before A commits: times out
            session.add(PipelineState(key="a", value="1"))
        a_committed.set()

    def writer_b() -> None:
        a_read.wait(5)
        try:
            with database.session(write=write) as session:
                session.exec(select(func.count()).select_from(PipelineState)).one()
                b_read.set()
                a_committed.wait(5)
                session.add(PipelineState(key="b", value="1"))
        except OperationalError as error:
            errors.append(error)

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_deferred_read_then_write_fails_when_another_writer_came_first(tmp_path: Path) -> None:
    database = _database(tmp_path)
    errors = _interleave(database, write=False)
    assert len(errors) == 1 and "locked" in str(errors[0])


def test_write_sessions_wait_for_each_other_and_both_commit(tmp_path: Path) -> None:
    database = _database(tmp_path)
    for _ in range(3):
        with database.session() as session:
            for row in session.exec(select(PipelineState)).all():
                session.delete(row)
        assert _interleave(database, write=True) == []
        with database.session() as session:
            keys = sorted(session.exec(select(PipelineState.key)).all())
        assert keys == ["a", "b"]


def test_key_check_succeeds_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    """The key is verified read-only and its last-used stamp written in a transaction of its
    own, so a request never fails because the worker committed while it was authenticated."""
    database = _database(tmp_path)
    with database.session() as session:
        row, key = create_key(session, name="reader", role=Role.VIEWER, created_by="tests")
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with database.session(write=True) as session:
            session.add(PipelineState(key="worker", value="1"))
            session.flush()
            locked.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    locked.wait(5)
    threading.Timer(0.5, release.set).start()
    principal = authenticate_request(database, key)
    holder.join(10)
    assert principal is not None and principal.key_id == row.id
    with database.session() as session:
        stored = session.get(ApiKey, row.id)
        assert stored is not None and stored.last_used_at is not None
    again = authenticate_request(database, key)  # within the minute: no new stamp needed
    assert again is not None and not again.last_used_due
