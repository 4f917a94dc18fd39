"""Conversation state survives a database outage: a write that failed is written again on
its own once the database answers, even if nobody moves meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot.persistence import StateWriter


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
