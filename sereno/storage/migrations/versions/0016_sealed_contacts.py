"""sealed contacts: a reporter's chat id is kept encrypted, bound to the report

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

`report_contact.chat_id` becomes `sealed_chat` (AES-GCM under a key derived from
SERENO_HMAC_KEY, the report id as associated data; see `sereno.storage.sealing`). Every contact
already kept is sealed here, so no owed outcome is lost: the key comes from the caller
(`sereno.storage.migrate.upgrade(..., hmac_key=...)`, which `sereno run`, `sereno migrate` and
the admin commands pass from SERENO_HMAC_KEY). Without the key, a database that holds
contacts is left unchanged and the migration stops, saying so; an empty one needs no key.
The downgrade opens them again (those sealed under another key cannot be and are dropped).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from sereno.storage.sealing import ContactSeal, SealingKeyMissing

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _seal(rows: list[sa.Row[tuple[str, object]]], what: str) -> ContactSeal:
    key = context.config.attributes.get("hmac_key")
    if not key and rows:
        raise SealingKeyMissing(f"{what} the {len(rows)} reporter contacts kept now")
    return ContactSeal(key or b"no contacts to seal")


def _rebuild(add: sa.Column[object], drop: str) -> None:
    """Swap one column of `report_contact` for another. SQLite rebuilds the table, and
    dropping the old one cascades to `owed_outcome` (foreign keys are on): what is owed is
    put back after."""
    owed = op.get_bind().execute(sa.text("SELECT id, report_id, follow_up_id, claimed_at FROM owed_outcome")).all()
    with op.batch_alter_table("report_contact", schema=None) as batch_op:
        batch_op.alter_column(add.name, existing_type=add.type, nullable=False)
        batch_op.drop_column(drop)
    if op.get_bind().dialect.name == "sqlite" and owed:
        op.get_bind().execute(sa.text("DELETE FROM owed_outcome"))
        op.get_bind().execute(
            sa.text(
                "INSERT INTO owed_outcome (id, report_id, follow_up_id, claimed_at) "
                "VALUES (:id, :report_id, :follow_up_id, :claimed_at)"
            ),
            [r._asdict() for r in owed],
        )


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT report_id, chat_id FROM report_contact")).all()
    seal = _seal(rows, "sealing")
    with op.batch_alter_table("report_contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_chat", sa.LargeBinary(), nullable=True))
    for report_id, chat_id in rows:
        bind.execute(
            sa.text("UPDATE report_contact SET sealed_chat = :sealed WHERE report_id = :id"),
            {"sealed": seal.seal(int(chat_id), report_id), "id": report_id},
        )
    _rebuild(sa.Column("sealed_chat", sa.LargeBinary()), "chat_id")


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT report_id, sealed_chat FROM report_contact")).all()
    seal = _seal(rows, "opening")
    with op.batch_alter_table("report_contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
    for report_id, sealed in rows:
        chat_id = seal.open(bytes(sealed), report_id)
        if chat_id is None:
            bind.execute(sa.text("DELETE FROM report_contact WHERE report_id = :id"), {"id": report_id})
        else:
            bind.execute(
                sa.text("UPDATE report_contact SET chat_id = :chat WHERE report_id = :id"), {"chat": chat_id, "id": report_id}
            )
    _rebuild(sa.Column("chat_id", sa.BigInteger()), "sealed_chat")
