"""Updates of different people are handled at the same time; one person's updates are
handled one at a time, in the order Telegram sent them (a conversation must never see its
steps out of order). Each update is first shown to an admission check (the flood guard),
which may drop it before it costs anything more; an admitted one is handled between the
hooks of an :class:`AroundUpdate` (the person's stored state read before, written after)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

#: PTB's own semaphore (taken before `do_process_update`) is left wide open: a person's
#: queued updates must not hold slots while they wait for their turn, or one flooder's
#: burst would fill every slot and stall everyone else behind it.
UNBOUNDED = 2**31


def admit_all(_: object) -> bool:
    """Admits every update (no admission check)."""
    return True


class AroundUpdate(Protocol):
    """What runs right before and right after an update is handled, in its chat's turn."""

    async def before(self, update: object) -> Any: ...

    async def after(self, update: object, before: Any) -> None: ...


class Nothing:
    """Runs nothing around an update."""

    async def before(self, update: object) -> None:
        return None

    async def after(self, update: object, before: Any) -> None:
        return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Serialises updates per chat (or per user when there is no chat); at most
    `max_concurrent_updates` chats are handled at once. An update `admit` refuses as it
    arrives is dropped there (its handling never starts). An admitted one first waits for
    its chat's turn, and only then for a slot, so a burst from one chat holds one slot, not
    hundreds; `around` runs before and after it there."""

    def __init__(
        self, max_concurrent_updates: int = 64, admit: Callable[[object], bool] = admit_all, around: AroundUpdate | None = None
    ) -> None:
        super().__init__(UNBOUNDED)
        self._admit = admit
        self._around = around or Nothing()
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[object, asyncio.Lock] = {}
        self._waiting: dict[object, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not self._admit(update):
            if isinstance(coroutine, Coroutine):
                coroutine.close()  # never started: nothing to clean up, and no "never awaited" warning
            return
        key = _key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock, self._slots:
                before = await self._around.before(update)
                await coroutine
                await self._around.after(update, before)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def _key(update: object) -> object:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return ("chat", update.effective_chat.id)
        if update.effective_user is not None:
            return ("user", update.effective_user.id)
    return None
