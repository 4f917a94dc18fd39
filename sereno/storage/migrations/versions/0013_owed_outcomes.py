"""owed outcomes: what reporters are still to be told survives a crash

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sereno.storage.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owed_outcome",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("follow_up_id", sa.String(length=36), nullable=True),
        sa.Column("claimed_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["follow_up_id"], ["follow_up.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["report_id"], ["report_contact.report_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("owed_outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_owed_outcome_claimed_at"), ["claimed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_owed_outcome_report_id"), ["report_id"], unique=False)
    # a contact of a decided incident is one whose outcome was never told (a crash, or a
    # failed send, before this table existed): it is owed, and the sweep tells it
    op.execute(
        sa.text(
            "INSERT INTO owed_outcome (id, report_id, follow_up_id, claimed_at) "
            "SELECT c.report_id, c.report_id, NULL, i.decided_at FROM report_contact c "
            "JOIN report r ON r.id = c.report_id JOIN incident i ON i.id = r.incident_id "
            "WHERE i.status = 'decided' AND i.decided_at IS NOT NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("owed_outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_owed_outcome_report_id"))
        batch_op.drop_index(batch_op.f("ix_owed_outcome_claimed_at"))

    op.drop_table("owed_outcome")
