"""update inbox: webhook updates recorded before they are answered, deduplicated by id

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sereno.storage.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "update_inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("body", sa.String(), nullable=True),
        sa.Column("received_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("update_id"),
    )
    op.create_index("ix_update_inbox_pending", "update_inbox", ["handled_at", "lease_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_update_inbox_pending", table_name="update_inbox")
    op.drop_table("update_inbox")
