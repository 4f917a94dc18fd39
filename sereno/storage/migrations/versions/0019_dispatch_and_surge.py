"""dispatch and surge: field verifiers, dispatches, on-site reports, dispatch notices, surge overrides

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import sereno.storage.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

ONE_ASK = sa.text("state = 'offered'")


def upgrade() -> None:
    op.create_table(
        "field_verifier",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("opted_in_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("neighborhood_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("point_until", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_field_verifier_point_until", "field_verifier", ["point_until"], unique=False)
    op.create_table(
        "dispatch",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("dispatcher", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("offers", sa.JSON(), nullable=False),
        sa.Column("offered_to", sa.BigInteger(), nullable=True),
        sa.Column("person", sa.BigInteger(), nullable=True),
        sa.Column("eta_minutes", sa.Integer(), nullable=True),
        sa.Column("accepted_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("on_site_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_in_due", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_in_stage", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("check_in_stage_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("help_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("missed_check_ins", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("ended_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.BigInteger(), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("next_due", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispatch_created_at", "dispatch", ["created_at"], unique=False)
    op.create_index("ix_dispatch_incident_id", "dispatch", ["incident_id"], unique=False)
    op.create_index("ix_dispatch_next_due", "dispatch", ["next_due"], unique=False)
    op.create_index("ix_dispatch_state", "dispatch", ["state"], unique=False)
    # at most one open ask per incident, held by the database (two "Send someone" at once)
    op.create_index(
        "uq_dispatch_one_ask", "dispatch", ["incident_id"], unique=True, sqlite_where=ONE_ASK, postgresql_where=ONE_ASK
    )
    op.create_table(
        "dispatch_notice",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("dispatch_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recipient", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dispatch_id"], ["dispatch.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispatch_notice_claimed_at", "dispatch_notice", ["claimed_at"], unique=False)
    op.create_index("ix_dispatch_notice_dispatch_id", "dispatch_notice", ["dispatch_id"], unique=False)
    op.create_table(
        "on_site_report",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("dispatch_id", sa.String(length=36), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("person", sa.BigInteger(), nullable=False),
        sa.Column("finding", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agents", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("vehicles", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("activity", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("place_text", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("uniform", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("time_seen", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("equipment", sa.JSON(), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("photo_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("refusal", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.ForeignKeyConstraint(["dispatch_id"], ["dispatch.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dispatch_id"),
    )
    op.create_index("ix_on_site_report_incident_id", "on_site_report", ["incident_id"], unique=False)
    op.create_table(
        "surge_override",
        sa.Column("neighborhood_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("on", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=True),
        sa.Column("set_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", sereno.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("neighborhood_id"),
    )
    op.create_table(
        "surge_summary",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("sent_at", sereno.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("surge_summary")
    op.drop_table("surge_override")
    op.drop_index("ix_on_site_report_incident_id", table_name="on_site_report")
    op.drop_table("on_site_report")
    op.drop_index("ix_dispatch_notice_dispatch_id", table_name="dispatch_notice")
    op.drop_index("ix_dispatch_notice_claimed_at", table_name="dispatch_notice")
    op.drop_table("dispatch_notice")
    op.drop_index("uq_dispatch_one_ask", table_name="dispatch")
    op.drop_index("ix_dispatch_state", table_name="dispatch")
    op.drop_index("ix_dispatch_next_due", table_name="dispatch")
    op.drop_index("ix_dispatch_incident_id", table_name="dispatch")
    op.drop_index("ix_dispatch_created_at", table_name="dispatch")
    op.drop_table("dispatch")
    op.drop_index("ix_field_verifier_point_until", table_name="field_verifier")
    op.drop_table("field_verifier")
