"""Alembic owns the schema: upgrade, downgrade and current-revision checks on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from sentiment_service.storage import migrate, tables  # noqa: F401  (registers the tables)
from sentiment_service.storage.database import Database
from tests.conftest import drop_postgres_database, make_postgres_database

TABLES = set(SQLModel.metadata.tables)


def _round_trip(url: str) -> None:
    database = Database(url)
    try:
        assert migrate.current_revision(database.engine) is None
        migrate.upgrade(url)
        assert set(inspect(database.engine).get_table_names()) >= TABLES
        assert migrate.is_current(database.engine)
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"render_as_batch": True})
            assert compare_metadata(context, SQLModel.metadata) == []  # models == migrations
        migrate.upgrade(url)  # a second run is a no-op
        migrate.downgrade(url, "base")
        assert not TABLES & set(inspect(database.engine).get_table_names())
        migrate.upgrade(url)
        assert migrate.is_current(database.engine)
    finally:
        database.dispose()


def test_sqlite_upgrade_downgrade(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_downgrade(postgres_server: str) -> None:
    url = make_postgres_database(postgres_server)
    try:
        _round_trip(url)
    finally:
        drop_postgres_database(postgres_server, url)
