"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, an app, and keys per role.

PostgreSQL tests use the server at SENTIMENT_SERVICE_TEST_POSTGRES_URL (default: the local
127.0.0.1:5432 server) in a throw-away database; they are skipped when it cannot be reached,
unless SENTIMENT_SERVICE_TEST_REQUIRE_POSTGRES=1 (as in CI), where that is an error.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from sentiment_service.api.app import create_app
from sentiment_service.auth.keys import create_key
from sentiment_service.model_hub import ModelHub
from sentiment_service.settings import Settings
from sentiment_service.storage import migrate
from sentiment_service.storage.database import Database
from sentiment_service.vocabulary import Role

POSTGRES_URL = os.environ.get(
    "SENTIMENT_SERVICE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("SENTIMENT_SERVICE_TEST_REQUIRE_POSTGRES") == "1"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server (or skip)."""
    try:
        with psycopg.connect(_libpq(POSTGRES_URL), connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required but unreachable at {POSTGRES_URL}: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    return POSTGRES_URL


def make_postgres_database(server_url: str) -> str:
    """Create an empty throw-away database and return its URL."""
    name = f"sstest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, url: str) -> None:
    """Drop a database made by `make_postgres_database`."""
    name = make_url(url).database
    with psycopg.connect(_libpq(server_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database URL, once per backend per test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate.upgrade(url)
        yield url
        return
    server = request.getfixturevalue("postgres_server")
    url = make_postgres_database(server)
    migrate.upgrade(url)
    yield url
    drop_postgres_database(server, url)


def empty_all_tables(database: Database) -> None:
    """Delete every row (the schema stays)."""
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with database.engine.begin() as connection:
        if database.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The session's database, emptied after each test."""
    db = Database(database_url)
    yield db
    empty_all_tables(db)
    db.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database."""
    return Settings(
        database_url=database_url, data_dir=tmp_path, log_json=True, preload_models=False
    )


@pytest.fixture(scope="session")
def model_hub() -> ModelHub:
    """The real NLP models, loaded lazily once per test session."""
    return ModelHub()


@pytest.fixture
def client(settings: Settings, database: Database, model_hub: ModelHub) -> Iterator[TestClient]:
    """An HTTP client for the real app (in-process ASGI transport)."""
    with TestClient(create_app(settings, database, model_hub)) as test_client:
        yield test_client


@pytest.fixture
def keys(database: Database) -> dict[Role, str]:
    """One API key per role."""
    made: dict[Role, str] = {}
    with database.session() as session:
        for role in Role:
            _, made[role] = create_key(session, name=f"test-{role}", role=role, created_by="test")
    return made


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def auth(key: str) -> dict[str, str]:
    """Headers carrying `key`."""
    return {"X-API-Key": key}
