"""data_versions: write counters of the tables behind account features, kept by triggers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 13:00:00

The ETag of `GET /v1/features` used to be derived from counts and sums over whole tables
(messages, metrics, ...), a scan per request. Instead, triggers add one to a counter row in
the same transaction as every INSERT, UPDATE or DELETE (and, on PostgreSQL, TRUNCATE) of
those tables, so the sum of `data_versions.version` moves with every committed change of a
feature input, whichever code path wrote it, and a read is one tiny aggregate.

PostgreSQL: one statement-level trigger per table; the row is the writer connection's slot
(`pg_backend_pid() % 64`), so concurrent writers rarely wait on the same row. SQLite (one
writer at a time, no statement-level triggers): row-level triggers on slot 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "accounts",
    "messages",
    "message_scores",
    "message_topics",
    "competitor_mentions",
    "label_corrections",
    "topic_corrections",
    "metrics",
)
SLOTS = 64

POSTGRES_FUNCTION = f"""
CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_versions (slot, version) VALUES (pg_backend_pid() % {SLOTS}, 1)
    ON CONFLICT (slot) DO UPDATE SET version = data_versions.version + 1;
    RETURN NULL;
END
$$
"""
SQLITE_BUMP = (
    "INSERT INTO data_versions (slot, version) VALUES (0, 1) "
    "ON CONFLICT (slot) DO UPDATE SET version = version + 1;"
)


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slot"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
            )
        return
    for table in TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER data_version_{table}_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {SQLITE_BUMP} END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS data_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bump_data_version()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS data_version_{table}_{event}")
    op.drop_table("data_versions")
