"""outbox language posts

A channel may get one post per language: an outbox message is unique per (alert, chat,
kind, revision, language), and channel and outbox languages are wide enough for every
language joined by "+".

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "language",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=16),
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=False,
        )
        batch_op.drop_constraint("uq_outbox_alert_chat_kind", type_="unique")
        batch_op.create_unique_constraint("uq_outbox_message", ["alert_id", "chat_id", "kind", "revision", "language"])

    with op.batch_alter_table("channel_link", schema=None) as batch_op:
        batch_op.alter_column(
            "language",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=16),
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Back to one message per (alert, chat, kind, revision): a channel's posts in other
    languages than its first are deleted, and languages longer than 16 characters keep the
    two-letter codes that fit."""
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer()),
        sa.column("alert_id", sa.String()),
        sa.column("chat_id", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("revision", sa.Integer()),
        sa.column("language", sa.String()),
    )
    first = sa.select(sa.func.min(outbox.c.id)).group_by(outbox.c.alert_id, outbox.c.chat_id, outbox.c.kind, outbox.c.revision)
    op.execute(outbox.delete().where(outbox.c.id.not_in(first)))
    channel = sa.table("channel_link", sa.column("language", sa.String()))
    for table in (outbox, channel):
        op.execute(
            table.update().where(sa.func.length(table.c.language) > 16).values(language=sa.func.substr(table.c.language, 1, 14))
        )

    with op.batch_alter_table("channel_link", schema=None) as batch_op:
        batch_op.alter_column(
            "language",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            type_=sqlmodel.sql.sqltypes.AutoString(length=16),
            existing_nullable=False,
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("uq_outbox_message", type_="unique")
        batch_op.create_unique_constraint("uq_outbox_alert_chat_kind", ["alert_id", "chat_id", "kind", "revision"])
        batch_op.alter_column(
            "language",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            type_=sqlmodel.sql.sqltypes.AutoString(length=16),
            existing_nullable=False,
        )
