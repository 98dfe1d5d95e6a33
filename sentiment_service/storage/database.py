"""Engine and session creation for SQLite (embedded default) and PostgreSQL, and what a
database error means for callers (unreachable, read-only or full)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, create_engine

from sentiment_service.errors import (
    DatabaseFullError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    ServiceError,
)

if TYPE_CHECKING:
    from pipelines.redaction import PiiRedactor

# Seconds a PostgreSQL connection attempt may take before it fails (no hang while it is down).
CONNECT_TIMEOUT_SECONDS = 10
# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
PG_READ_ONLY_SQL_TRANSACTION = "25006"
PG_DISK_FULL = "53100"
# SQLite primary result codes (https://www.sqlite.org/rescode.html).
SQLITE_READONLY = 8
SQLITE_FULL = 13


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created and WAL mode switched on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A plain file path gets its folder; URI forms (file:...?mode=ro&uri=true) are opened
        # as they are.
        path = parsed.database
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, open transactions: pysqlite otherwise starts one only at
    # the first write, so savepoints before it would commit on their own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Execution option that makes a SQLite transaction take the write lock at BEGIN.
SQLITE_IMMEDIATE = "sqlite_immediate"


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    # another connection wrote in between (SQLite does not wait there), so writers ask for
    # the lock up front and wait for it (busy_timeout) instead.
    immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engine; hands out sessions. One per process, injected where needed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self._write_engine = self.engine.execution_options(**{SQLITE_IMMEDIATE: True})
        self._sessions = sessionmaker(class_=Session, expire_on_commit=False)
        self.pii_guarded = False

    def guard_pii(self, redactor: PiiRedactor) -> None:
        """Redact PII from every free-text column (and hash identifiers that carry it) before
        sessions of this database write them (storage/pii_guard.py)."""
        from sentiment_service.storage import pii_guard

        if not self.pii_guarded:
            pii_guard.install(self._sessions, redactor)
            self.pii_guarded = True

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        `write=True` is for transactions that read and then write while other processes may
        write too (ingestion, the scoring worker): on SQLite they take the write lock when they
        begin and wait for it, instead of failing when another writer got there first. On
        PostgreSQL it changes nothing.
        """
        engine = self._write_engine if write else self.engine
        with self._sessions(bind=engine) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()


class DatabaseFault(StrEnum):
    """Why a database operation failed, as far as callers need to know."""

    UNAVAILABLE = "unavailable"  # unreachable, restarting, connection lost: retry later
    READ_ONLY = "read_only"  # the database refuses writes
    FULL = "full"  # the disk (or SQLite's page limit) is full


def database_fault(error: BaseException) -> DatabaseFault | None:
    """Classify a SQLAlchemy error by its driver error; None for other errors (bugs, conflicts).

    PostgreSQL errors are told apart by SQLSTATE (25006 read-only transaction, 53100 disk
    full), SQLite errors by result code (SQLITE_READONLY, SQLITE_FULL) or message; any other
    operational or connection error means the database is unavailable for now. The errors the
    error was raised while handling count too: SQLite rolls a whole transaction back when the
    disk is full, so the savepoint rollback that follows fails with an error of its own.
    """
    if not isinstance(error, DBAPIError):
        return None
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, DBAPIError):
            specific = _storage_fault(cause.orig)
            if specific is not None:
                return specific
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
        return DatabaseFault.UNAVAILABLE
    return None


def _storage_fault(driver: BaseException | None) -> DatabaseFault | None:
    """READ_ONLY or FULL when the driver error says so."""
    sqlstate = getattr(driver, "sqlstate", None)
    sqlite_code = getattr(driver, "sqlite_errorcode", None)
    primary = sqlite_code & 0xFF if isinstance(sqlite_code, int) else None
    message = str(driver).lower()
    if (
        sqlstate == PG_READ_ONLY_SQL_TRANSACTION
        or primary == SQLITE_READONLY
        or "readonly database" in message
    ):
        return DatabaseFault.READ_ONLY
    if (
        sqlstate == PG_DISK_FULL
        or primary == SQLITE_FULL
        or "database or disk is full" in message
        or "no space left on device" in message
    ):
        return DatabaseFault.FULL
    return None


def database_error(error: BaseException) -> ServiceError | None:
    """The service error that explains a database failure, or None when it is not one.

    The detail names the cause and the remedy and never carries SQL or row values.
    """
    fault = database_fault(error)
    if fault is DatabaseFault.READ_ONLY:
        return DatabaseReadOnlyError(
            "the database is read-only and refuses writes (a read-only replica, "
            "default_transaction_read_only, or a read-only file)"
        )
    if fault is DatabaseFault.FULL:
        return DatabaseFullError(
            "the database is out of storage (database or disk is full); "
            "free disk space or raise the size limit, then retry"
        )
    if fault is DatabaseFault.UNAVAILABLE:
        return DatabaseUnavailableError("the database is unavailable; retry later")
    return None
