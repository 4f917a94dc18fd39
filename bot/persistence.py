"""PTB persistence backed by the database: conversations, per-person data and the bot's
own data (the update ids handled lately, see `bot.guards`) survive a restart, and another
replica started on the same database continues them.

Everything is read once at start-up (as PTB expects) and kept in memory; writes are
batched: PTB hands over what changed every `update_interval` seconds and on shutdown, and
each batch is one transaction. So a conversation step costs no database round trip.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from storage.conversation_store import (
    USER_SCOPE,
    ConversationStore,
    StateKey,
    conversation_scope,
)

log = logging.getLogger(__name__)

UserData = dict[str, Any]
BOT_SCOPE = "bot"
BOT_KEY: tuple[str] = ("data",)


class DatabasePersistence(BasePersistence[UserData, dict[str, Any], dict[str, Any]]):
    """Stores user data, bot data and conversation states (no chat or callback data)."""

    def __init__(self, store: ConversationStore, update_interval: float = 1.0) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=True, chat_data=False, user_data=True, callback_data=False),
            update_interval=update_interval,
        )
        self._store = store
        self._pending: dict[tuple[str, StateKey], Any] = {}
        self._writer: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None
        self._closing = False
        self._lock = asyncio.Lock()
        self._bot_data: dict[str, Any] = {}

    # ── what PTB reads ────────────────────────────────────────────────────────────
    async def get_user_data(self) -> dict[int, UserData]:
        stored = await self._store.load(USER_SCOPE)
        return {int(key[0]): value for key, value in stored.items()}

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        return await self._store.load(conversation_scope(name))  # type: ignore[return-value]

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        return {}

    async def get_bot_data(self) -> dict[str, Any]:
        stored = (await self._store.load(BOT_SCOPE)).get(BOT_KEY)
        self._bot_data = dict(stored) if isinstance(stored, dict) else {}
        return dict(self._bot_data)

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    # ── what PTB writes ───────────────────────────────────────────────────────────
    async def update_user_data(self, user_id: int, data: UserData) -> None:
        self._stage(USER_SCOPE, (user_id,), data or None)

    async def drop_user_data(self, user_id: int) -> None:
        self._stage(USER_SCOPE, (user_id,), None)

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        self._stage(conversation_scope(name), key, new_state)

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        if data != self._bot_data:  # PTB hands it over every interval, changed or not
            self._bot_data = data
            self._stage(BOT_SCOPE, BOT_KEY, data or None)

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def flush(self) -> None:
        """Write whatever is pending now (PTB calls this on shutdown)."""
        self._closing = True  # PTB flushes on shutdown: no retry left behind after it
        if self._retry is not None:
            self._retry.cancel()
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._write()

    # ── batching ──────────────────────────────────────────────────────────────────
    def _stage(self, scope: str, key: StateKey, value: Any) -> None:
        self._pending[(scope, key)] = value
        # PTB calls the update_* coroutines together; one writer task, started after them
        # in the event loop's order, takes the whole batch.
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        async with self._lock:
            # what is staged while a batch is being written goes next, in this task: no new
            # writer is started for it (this one is not done), and nothing else would take it
            while self._pending:
                batch, self._pending = self._pending, {}
                try:
                    await self._store.save(batch)
                except Exception:
                    log.warning("saving conversation state failed; will retry", exc_info=True)
                    for key, value in batch.items():
                        self._pending.setdefault(key, value)
                    # PTB hands over only what changes next: try again on our own (the database
                    # may be back before anyone moves), or an idle conversation's step stays unsaved
                    if not self._closing and (self._retry is None or self._retry.done()):
                        self._retry = asyncio.get_running_loop().create_task(self._write_later())
                    return

    async def _write_later(self) -> None:
        await asyncio.sleep(self.update_interval)
        self._retry = None
        await self._write()
