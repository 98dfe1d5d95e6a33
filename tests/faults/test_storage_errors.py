"""A read-only or full database is reported as such: ingestion answers a problem document that
names the cause (503 read-only, 507 full; never a 500), and the worker command ends with a
one-line error. The classification of driver errors is checked on its own first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, InternalError, OperationalError
from sqlalchemy.pool import Pool
from typer.testing import CliRunner

from pipelines.ingest import Ingestor, IngestPolicy
from sentiment_service.api.app import create_app
from sentiment_service.auth.keys import create_key
from sentiment_service.cli import app as cli_app
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from sentiment_service.storage.database import (
    Database,
    DatabaseFault,
    database_error,
    database_fault,
)
from sentiment_service.vocabulary import Role
from tests.faults.conftest import make_accounts, message_records

# -- classification of driver errors -------------------------------------------------------


def _wrapped(kind: type[Any], driver_error: Exception) -> Any:
    return kind("INSERT INTO messages ...", {}, driver_error)


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (_wrapped(InternalError, psycopg.errors.ReadOnlySqlTransaction("read-only")), "read_only"),
        (_wrapped(OperationalError, psycopg.errors.DiskFull("could not extend")), "full"),
        (_wrapped(OperationalError, psycopg.errors.AdminShutdown("terminating")), "unavailable"),
        (_wrapped(OperationalError, psycopg.OperationalError("refused")), "unavailable"),
        (
            _wrapped(OperationalError, sqlite3.OperationalError("database or disk is full")),
            "full",
        ),
        (
            _wrapped(
                OperationalError, sqlite3.OperationalError("attempt to write a readonly database")
            ),
            "read_only",
        ),
        (_wrapped(OperationalError, sqlite3.OperationalError("database is locked")), "unavailable"),
        (_wrapped(IntegrityError, psycopg.errors.UniqueViolation("duplicate key")), None),
        (ValueError("not a database error"), None),
    ],
)
def test_driver_errors_are_classified(error: Exception, fault: str | None) -> None:
    assert database_fault(error) == (DatabaseFault(fault) if fault else None)
    mapped = database_error(error)
    expected = {"read_only": 503, "full": 507, "unavailable": 503, None: None}[fault]
    assert (mapped.status_code if mapped else None) == expected


# -- the service against a read-only or full database ---------------------------------------


def _prepare(database_url: str) -> str:
    """An account `acme` and an ingest key; returns the key."""
    make_accounts(database_url, ("acme", {}))
    database = Database(database_url)
    try:
        with database.session() as session:
            _, key = create_key(session, name="faults", role=Role.INGEST, created_by="test")
    finally:
        database.dispose()
    return key


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, preload_models=False)


def _post(client: TestClient, key: str, records: list[dict[str, Any]]) -> httpx.Response:
    return client.post("/v1/messages", json={"messages": records}, headers={"X-API-Key": key})


def _assert_problem(response: httpx.Response, status: int, title: str, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] == title, body
    assert words in body["detail"], body


def _long_records(count: int) -> list[dict[str, Any]]:
    """Messages big enough that storing them needs new database pages."""
    records = message_records("big", count)
    for record in records:
        record["text"] = " ".join([record["text"]] * 30)
    return records


@contextmanager
def _sqlite_size_capped() -> Iterator[None]:
    """Every SQLite connection opened meanwhile may not grow its file (PRAGMA max_page_count
    below the current size caps it there), so writes that need a new page fail with
    SQLITE_FULL, "database or disk is full", as on a full disk."""

    def cap(connection: Any, _record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA max_page_count = 1")

    event.listen(Pool, "connect", cap)
    try:
        yield
    finally:
        event.remove(Pool, "connect", cap)


def _run_worker_once(database_url: str, tmp_path: Path) -> Any:
    env = {
        "SENTIMENT_SERVICE_DATABASE_URL": database_url,
        "SENTIMENT_SERVICE_DATA_DIR": str(tmp_path),
    }
    return CliRunner().invoke(cli_app, ["worker", "--once", "--batch-size", "64"], env=env)


def _assert_one_line_error(result: Any, words: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert "Traceback" not in result.output
    print(f"worker: {errors[0]}")


@pytest.mark.slow
@pytest.mark.postgres
def test_a_read_only_postgres_database_is_a_clear_503_and_a_one_line_worker_error(
    pg_url: str, tmp_path: Path
) -> None:
    key = _prepare(pg_url)
    database = Database(pg_url)
    try:
        with database.session() as session:  # queued for the worker below
            Ingestor(session, IngestPolicy(), channel="test", actor="test").messages(
                message_records("queued", 3)
            )
        name = pg_url.rsplit("/", 1)[1]
        with database.engine.connect() as connection:  # applies to new connections
            connection.exec_driver_sql(
                f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'
            )
            connection.commit()
    finally:
        database.dispose()

    with TestClient(create_app(_settings(pg_url, tmp_path))) as client:
        response = _post(client, key, message_records("ro", 3, start=100))
        _assert_problem(response, 503, "Database is read-only", "read-only")
        assert int(response.headers["retry-after"]) > 0
        assert client.get("/readyz").status_code == 200  # reads still work

    _assert_one_line_error(_run_worker_once(pg_url, tmp_path), "read-only")


@pytest.mark.slow
def test_a_read_only_sqlite_file_is_a_clear_503(tmp_path: Path) -> None:
    path = tmp_path / "sentiment.db"
    migrate.upgrade(f"sqlite:///{path}")
    key = _prepare(f"sqlite:///{path}")
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"

    with TestClient(create_app(_settings(read_only, tmp_path))) as client:
        response = _post(client, key, message_records("ro", 3))
        _assert_problem(response, 503, "Database is read-only", "read-only")
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text  # reads still work


@pytest.mark.slow
def test_a_full_sqlite_database_is_a_clear_507_and_a_one_line_worker_error(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'sentiment.db'}"
    migrate.upgrade(url)
    key = _prepare(url)
    database = Database(url)
    try:
        with database.session() as session:  # queued for the worker below
            Ingestor(session, IngestPolicy(), channel="test", actor="test").messages(
                _long_records(40)
            )
    finally:
        database.dispose()

    with _sqlite_size_capped():
        with TestClient(create_app(_settings(url, tmp_path))) as client:
            response = _post(client, key, _long_records(60)[40:])
            _assert_problem(response, 507, "Insufficient storage", "database or disk is full")
        result = _run_worker_once(url, tmp_path)
    _assert_one_line_error(result, "database or disk is full")
