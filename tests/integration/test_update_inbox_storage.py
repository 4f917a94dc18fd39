"""The webhook's inbox on SQLite and PostgreSQL: an update id is accepted once, its body is
sealed, an update is handed to another replica only once its lease ran out, and handled ids
are remembered a day."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.bot.persistence import USER_SCOPE
from sereno.storage.conversation_store import ConversationStore
from sereno.storage.migrate import alembic_config, upgrade
from sereno.storage.update_inbox import UpdateInbox
from sereno.verify.clock import ManualClock

KEY = b"integration-key-0123456789abcdef"
USER_ID = 7_123_456_789
LEASE = timedelta(seconds=30)


def body(update_id: int) -> bytes:
    return json.dumps({"update_id": update_id, "message": {"text": "/lawyer", "from": {"id": USER_ID}}}).encode()


async def test_an_update_id_is_accepted_once_and_its_body_is_sealed(engine: AsyncEngine) -> None:
    inbox = UpdateInbox(engine, KEY, ManualClock(), LEASE)
    assert await inbox.accept(1, body(1))
    assert not await inbox.accept(1, body(1))  # delivered again
    async with engine.connect() as conn:
        dump = str((await conn.execute(text("SELECT * FROM update_inbox"))).all())
    assert str(USER_ID) not in dump and "/lawyer" not in dump


async def test_the_same_update_posted_twice_at_once_is_accepted_once(engine: AsyncEngine) -> None:
    inbox = UpdateInbox(engine, KEY, ManualClock(), LEASE)
    first = asyncio.create_task(inbox.accept(1, body(1)))
    await asyncio.sleep(0)  # in flight: the next two go together in one statement
    together = await asyncio.gather(inbox.accept(2, body(2)), inbox.accept(2, body(2)))
    assert await first and sorted(together) == [False, True]


async def test_an_unhandled_update_goes_to_another_replica_only_when_its_lease_ran_out(engine: AsyncEngine) -> None:
    clock = ManualClock()
    inbox = UpdateInbox(engine, KEY, clock, LEASE)
    store = ConversationStore(engine, KEY, clock)
    for update_id in (1, 2, 3):
        await inbox.accept(update_id, body(update_id))
    await store.save({(USER_SCOPE, (USER_ID,)): {"lang": "es"}}, handled=[2])
    assert await inbox.claim_abandoned() == []  # the accepting replica is on it
    clock.advance(LEASE + timedelta(seconds=1))
    assert await inbox.claim_abandoned() == [body(1), body(3)]
    assert await inbox.claim_abandoned() == []  # leased to the replica that claimed them
    await store.save({}, handled=[1, 3])
    clock.advance(LEASE + timedelta(seconds=1))
    assert await inbox.claim_abandoned() == []
    assert not await inbox.accept(2, body(2))  # handled, and still remembered
    clock.advance(timedelta(days=1))
    assert await inbox.claim_abandoned() == []  # purges the handled past a day
    assert await inbox.accept(2, body(2))


async def test_the_downgrade_drops_the_inbox_and_the_upgrade_brings_it_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0014"))
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    assert "update_inbox" not in tables
    await upgrade(engine)
    assert await UpdateInbox(engine, KEY, ManualClock(), LEASE).accept(1, body(1))
