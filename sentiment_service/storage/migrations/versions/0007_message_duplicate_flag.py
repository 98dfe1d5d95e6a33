"""messages: distinct records are never merged; canned repeats are stored and flagged

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:00:00

The per-account unique content hash merged distinct records (different source system and
external id) whose text repeated. It becomes a plain index, and a message that the narrow
canned-reply policy catches is stored with `duplicate_of` (the message it repeats) and
`duplicate_reason` instead of being dropped.

`quarantine_keys` names, as keyed hashes, the accounts a quarantined record could belong to
(vendor ids, domains, our ids), so that creating such an account replays its records.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_account_hash", type_="unique")
        batch_op.create_index("ix_messages_account_hash", ["account_id", "content_hash"])
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "duplicate_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
            )
        )
        batch_op.create_foreign_key(
            "fk_messages_duplicate_of",
            "messages",
            ["duplicate_of"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_messages_duplicate_of", ["duplicate_of"])
    op.create_table(
        "quarantine_keys",
        sa.Column("quarantine_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["quarantine_id"], ["quarantine.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("quarantine_id", "key"),
    )
    op.create_index("ix_quarantine_keys_key", "quarantine_keys", ["key"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_keys_key", table_name="quarantine_keys")
    op.drop_table("quarantine_keys")
    # Flagged repeats were stored as rows of their own; the old unique hash cannot hold them.
    op.execute("DELETE FROM messages WHERE duplicate_of IS NOT NULL")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_duplicate_of")
        batch_op.drop_constraint("fk_messages_duplicate_of", type_="foreignkey")
        batch_op.drop_column("duplicate_reason")
        batch_op.drop_column("duplicate_of")
        batch_op.drop_index("ix_messages_account_hash")
        batch_op.create_unique_constraint(
            "uq_messages_account_hash", ["account_id", "content_hash"]
        )
