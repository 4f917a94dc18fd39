"""Conversation state survives a database outage: a write that failed is written again on
its own once the database answers, even if nobody moves meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sereno.bot.persistence import StateWriter


class FlakyStore:
    """Fails the first `failures` saves, like a database that is down for a moment."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.saved: dict[Any, Any] = {}
        self.handled: list[int] = []

    async def save(self, batch: dict[Any, Any], handled: Sequence[int] = ()) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("the database went away")
        self.saved.update(batch)
        self.handled.extend(handled)


async def test_a_write_that_failed_is_retried_without_a_new_change() -> None:
    store = FlakyStore(failures=2)
    writer = StateWriter(store, retry_seconds=0.05)  # type: ignore[arg-type]
    await writer.write({("conversation:intake", (7, 7)): "when"}, handled=[41])
    for _ in range(100):
        if store.saved:
            break
        await asyncio.sleep(0.01)
    assert store.saved == {("conversation:intake", (7, 7)): "when"} and store.handled == [41]
    await writer.flush()


async def test_a_newer_value_wins_over_the_one_that_failed() -> None:
    store = FlakyStore(failures=1)
    writer = StateWriter(store, retry_seconds=60)  # type: ignore[arg-type]
    await writer.write({("user", (7,)): {"step": "when"}})
    await writer.write({("user", (7,)): {"step": "agents"}})
    assert store.saved == {("user", (7,)): {"step": "agents"}}
    await writer.flush()


async def test_flush_on_shutdown_leaves_no_retry_behind() -> None:
    store = FlakyStore(failures=1)
    writer = StateWriter(store, retry_seconds=0.05)  # type: ignore[arg-type]
    await writer.write({("user", (7,)): {"lang": "es"}})
    await writer.flush()  # the write failed once; flush writes what is pending
    assert list(store.saved.values()) == [{"lang": "es"}]
    assert writer._retry is None


class CountingStore(FlakyStore):
    """Counts the transactions (saves) it is asked for."""

    def __init__(self) -> None:
        super().__init__(failures=0)
        self.saves = 0

    async def save(self, batch: dict[Any, Any], handled: Sequence[int] = ()) -> None:
        self.saves += 1
        await super().save(batch, handled)


async def test_steps_staged_together_are_written_soon_in_one_transaction() -> None:
    store = CountingStore()
    writer = StateWriter(store, retry_seconds=60)  # type: ignore[arg-type]
    for step in ("what", "where", "when"):
        writer.stage({("conversation:intake", (7, 7)): step}, handled=[len(step)])
    assert store.saves == 0  # nobody waits for it
    for _ in range(200):
        if store.saves:
            break
        await asyncio.sleep(0.01)
    assert store.saves == 1 and store.saved == {("conversation:intake", (7, 7)): "when"} and store.handled == [4, 5, 4]
    writer.stage({("user", (7,)): {"draft": None}})  # staged after that write: taken by the next
    await writer.flush()  # at once, on shutdown
    assert store.saves == 2 and store.saved[("user", (7,))] == {"draft": None}
