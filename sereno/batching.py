"""Group commit: what many callers want written at about the same time goes to the database
in one transaction instead of one each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Calls `flush` with every item submitted while the previous flush ran, as one batch
    (the first item of a quiet moment goes alone, at once). Each caller waits for the flush
    of its own batch and gets its result, or its exception."""

    def __init__(self, flush: Callable[[list[T]], Awaitable[R]]) -> None:
        self._flush = flush
        self._items: list[T] = []
        self._done: asyncio.Future[R] | None = None
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        self._items.append(item)
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
            # a caller that gave up waiting leaves the outcome unread: read it, so no
            # "exception was never retrieved" is logged
            self._done.add_done_callback(lambda done: done.cancelled() or done.exception())
        done = self._done
        if self._running is None:
            self._running = asyncio.get_running_loop().create_task(self._drain())
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        flushing: asyncio.Future[R] | None = None
        try:
            while self._done is not None:
                flushing, items, self._done, self._items = self._done, self._items, None, []
                try:
                    flushing.set_result(await self._flush(items))
                except Exception as exc:
                    flushing.set_exception(exc)
        finally:  # cancelled (shutdown): nobody is left waiting
            for waiting in (flushing, self._done):
                if waiting is not None and not waiting.done():
                    waiting.cancel()
            self._running = None
