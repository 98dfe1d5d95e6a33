"""Alembic environment: runs migrations against the URL set in the config."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from sentiment_service.storage import tables  # noqa: F401  (registers the tables)
from sentiment_service.storage.database import create_db_engine

config = context.config
target_metadata = SQLModel.metadata


def run_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through a live connection."""
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database URL: set sqlalchemy.url in the alembic configuration")
    engine = create_db_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
