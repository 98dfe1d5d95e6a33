"""model_jobs: background adaptation and promotion jobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00

One row per job started from the API or the dashboard. `active_slot` holds 'model' while a job
is queued or running and is unique, so at most one model job is active at a time even with
several API processes; it is cleared when the job ends.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sentiment_service.storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, nullable: bool) -> sa.Column:
    return sa.Column(
        name, sentiment_service.storage.types.UTCDateTime(timezone=True), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "model_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("active_slot", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        _utc("created_at", False),
        _utc("started_at", True),
        _utc("finished_at", True),
        _utc("heartbeat_at", True),
        sa.Column("runner", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_slot"),
    )
    with op.batch_alter_table("model_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_jobs_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_jobs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_jobs_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("model_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_jobs_created_at"))
        batch_op.drop_index(batch_op.f("ix_model_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_model_jobs_kind"))
    op.drop_table("model_jobs")
