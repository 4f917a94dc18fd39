"""Conversation state survives a database outage: a batch that could not be saved is
written again on its own once the database answers, even if nobody moves meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.persistence import DatabasePersistence


class FlakyStore:
    """Fails the first `failures` saves, like a database that is down for a moment."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.saved: dict[Any, Any] = {}

    async def save(self, batch: dict[Any, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("the database went away")
        self.saved.update(batch)


async def test_a_batch_that_failed_is_retried_without_a_new_change() -> None:
    store = FlakyStore(failures=2)
    persistence = DatabasePersistence(store, update_interval=0.05)  # type: ignore[arg-type]
    await persistence.update_conversation("intake", (7, 7), "when")
    for _ in range(100):
        if store.saved:
            break
        await asyncio.sleep(0.01)
    assert store.saved == {("conversation:intake", (7, 7)): "when"}
    await persistence.flush()


async def test_flush_on_shutdown_leaves_no_retry_behind() -> None:
    store = FlakyStore(failures=1)
    persistence = DatabasePersistence(store, update_interval=0.05)  # type: ignore[arg-type]
    await persistence.update_user_data(7, {"lang": "es"})
    await persistence.flush()  # the writer failed once; flush writes what is pending
    assert list(store.saved.values()) == [{"lang": "es"}]
    assert persistence._retry is None


class SlowStore:
    """Saves after the test lets it (a write in flight), recording each batch."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.batches: list[dict[Any, Any]] = []

    async def save(self, batch: dict[Any, Any]) -> None:
        await self.go.wait()
        self.batches.append(dict(batch))


async def test_a_change_staged_while_a_batch_is_being_written_is_written_without_another_change() -> None:
    store = SlowStore()
    persistence = DatabasePersistence(store, update_interval=0.05)  # type: ignore[arg-type]
    await persistence.update_user_data(7, {"draft": {"details": "typed words"}})
    await asyncio.sleep(0)  # the writer takes that batch and waits on the database
    await persistence.update_user_data(7, {})  # submitted: the draft is forgotten
    store.go.set()
    for _ in range(100):
        if len(store.batches) == 2:
            break
        await asyncio.sleep(0.01)
    assert store.batches == [{("user", (7,)): {"draft": {"details": "typed words"}}}, {("user", (7,)): None}]
