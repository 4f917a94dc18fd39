"""one vote per person per incident; one-use /linkchannel tokens kept server-side

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Before the unique index, a person's repeated verdicts on one incident (a press sent twice at
once, a trainee voting again, a coordinator re-voting to settle a disagreement they were
part of) are folded into their latest one; each verdict stays in the audit trail. The
downgrade drops the index and the tokens (a pending /linkchannel command must be asked
for again) and does not bring folded rows back.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sereno.storage.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM verdict WHERE id NOT IN (SELECT max(id) FROM verdict GROUP BY incident_id, verifier_id)"))
    op.create_index("uq_verdict_incident_verifier", "verdict", ["incident_id", "verifier_id"], unique=True)
    op.create_table(
        "channel_link_token",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("neighborhood_id", sa.String(length=64), nullable=False),
        sa.Column("admin_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["neighborhood_id"], ["neighborhood.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_channel_link_token_expires_at", "channel_link_token", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_channel_link_token_expires_at", table_name="channel_link_token")
    op.drop_table("channel_link_token")
    op.drop_index("uq_verdict_incident_verifier", table_name="verdict")
