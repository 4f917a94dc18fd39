"""The webhook's inbox: every update Telegram posts is recorded here before it is answered
200, so a replica killed with updates still queued loses none of them, and an update id
seen before — by any replica — is recognised and not handled twice.

A row is inserted with a lease for the replica that accepted it; handling the update marks
it handled (in the transaction that stores the state it led to) and clears its body. A row
still unhandled when its lease runs out (its replica died) is claimed by whichever replica
sweeps next (`SKIP LOCKED` on PostgreSQL) and handled there. Handled rows are kept a day
(Telegram gives up redelivering long before) and then purged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography.fernet import InvalidToken
from sqlalchemy import Update, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.batching import GroupCommit
from sereno.storage.sealing import sealer
from sereno.storage.tables import UpdateInboxRow
from sereno.verify.ports import Clock

_TABLE = UpdateInboxRow.__table__  # type: ignore[attr-defined]
#: How long a handled update's id is remembered.
KEEP_HANDLED = timedelta(days=1)


def mark_handled(update_ids: Sequence[int], now: datetime) -> Update:
    """The statement that marks these updates handled and forgets their bodies."""
    return update(_TABLE).where(_TABLE.c.update_id.in_(update_ids)).values(handled_at=now, body=None)


class UpdateInbox:
    """Accepts webhook updates durably and hands back those a dead replica left behind."""

    def __init__(self, engine: AsyncEngine, hmac_key: bytes, clock: Clock, lease: timedelta) -> None:
        self._engine = engine
        self._clock = clock
        self._lease = lease
        self._fernet = sealer(hmac_key, b"inbox-seal")
        self._postgres = engine.dialect.name == "postgresql"
        insert = postgresql.insert if self._postgres else sqlite.insert
        self._insert = insert(_TABLE).on_conflict_do_nothing(index_elements=["update_id"]).returning(_TABLE.c.update_id)
        self._accepts: GroupCommit[tuple[int, str], set[int]] = GroupCommit(self._record)

    async def accept(self, update_id: int, body: bytes) -> bool:
        """Record update `update_id` (its raw JSON `body`, sealed), leased to this replica.
        False when that id was recorded before: a delivery again, to be answered and dropped.
        Updates arriving together are recorded in one statement."""
        inserted = await self._accepts.submit((update_id, self._fernet.encrypt(body).decode()))
        if update_id not in inserted:
            return False
        inserted.discard(update_id)  # the same id twice in one batch: only its first caller has it
        return True

    async def _record(self, updates: list[tuple[int, str]]) -> set[int]:
        now = self._clock.now()
        rows = [
            {"update_id": update_id, "body": sealed, "received_at": now, "lease_until": now + self._lease}
            for update_id, sealed in updates
        ]
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")  # one statement: no BEGIN, no COMMIT
            return set((await conn.execute(self._insert.values(rows))).scalars())

    async def claim_abandoned(self, limit: int = 100) -> list[bytes]:
        """The raw bodies, oldest first, of updates accepted and not handled whose lease ran
        out, now leased to this replica; and handled rows past KEEP_HANDLED are purged."""
        now = self._clock.now()
        query = (
            select(_TABLE.c.update_id, _TABLE.c.body)
            .where(_TABLE.c.handled_at.is_(None), _TABLE.c.lease_until < now)
            .order_by(_TABLE.c.update_id)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        async with self._engine.begin() as conn:
            rows = (await conn.execute(query)).all()
            if rows:
                await conn.execute(
                    update(_TABLE)
                    .where(_TABLE.c.update_id.in_([r.update_id for r in rows]))
                    .values(lease_until=now + self._lease)
                )
            await conn.execute(delete(_TABLE).where(_TABLE.c.handled_at < now - KEEP_HANDLED))
        bodies = []
        for row in rows:
            try:
                bodies.append(self._fernet.decrypt((row.body or "").encode()))
            except InvalidToken:  # sealed under a rotated key: nobody can handle it any more
                async with self._engine.begin() as conn:
                    await conn.execute(mark_handled([row.update_id], now))
        return bodies
