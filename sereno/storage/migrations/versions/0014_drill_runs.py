"""drill runs: drill incidents, their runs and certification proposals

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sereno.storage.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drill", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    op.create_table(
        "drill_run",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("scenario_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("person", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_claimed_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("finished_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_index("ix_drill_run_person", "drill_run", ["kind", "person"], unique=False)
    op.create_table(
        "certification_proposal",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("proposed_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("certification_proposal")
    op.drop_index("ix_drill_run_person", table_name="drill_run")
    op.drop_table("drill_run")
    # not batch mode: rebuilding `incident` on SQLite would break the foreign keys pointing at it
    # (SQLite drops a column in place since 3.35)
    op.drop_column("incident", "drill")
