"""How Sereno's state outlives a process and is shared by replicas on one database.

- :class:`PersonState`: a person's data (language, the report draft, what they were asked)
  and their conversation states are read from the database right before each of their
  updates is handled (one SELECT of their few entries; on SQLite, one process by nature,
  only before their first update since the start) and written back right after it (one
  transaction with only what changed, and the webhook update marked handled). Another
  replica therefore serves the next step as well as this one, and a process killed after
  answering a step has already stored it; on SQLite, where no other process reads it, the
  write waits up to STAGE_SECONDS to share a transaction with the next steps. Reads, and
  writes, that many people ask for at the same moment go to the database together
  (`sereno.batching.GroupCommit`).
- :class:`DatabasePersistence`: PTB persistence for the bot's own data (the update ids
  handled lately, see `sereno.bot.guards`), read at start and written every `update_interval`.

A write the database refuses (an outage) is kept and written again on its own, merged
under anything newer, once the database answers (see :class:`StateWriter`).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from telegram import Update
from telegram.ext import Application, BasePersistence, ConversationHandler, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from sereno.batching import GroupCommit

log = logging.getLogger(__name__)

UserData = dict[str, Any]
#: An entry's key as PTB keys it: a user id, or a (chat id, user id) conversation key.
StateKey = tuple[int | str, ...]
Entry = tuple[str, StateKey]
#: The scope of people's own data; a conversation's states are under `conversation_scope`.
USER_SCOPE = "user"
BOT_SCOPE = "bot"
BOT_KEY: tuple[str] = ("data",)
#: Longest wait for a person's state to be read or written before handling goes on with the
#: copy in memory (the database is away; the write is kept and retried).
STEP_TIMEOUT = 2.0
#: How long a step's write may wait for the next ones to share its transaction, on a store
#: only this process uses (SQLite): a crash loses at most that much of a conversation.
STAGE_SECONDS = 0.2


def conversation_scope(name: str) -> str:
    """The scope under which conversation `name` keeps its states."""
    return f"conversation:{name}"


class StateStore(Protocol):
    """Where the entries are kept (`sereno.storage.conversation_store.ConversationStore`)."""

    async def load(self, scope: str) -> dict[StateKey, Any]:
        """Every entry of `scope`."""
        ...

    async def load_entries(self, entries: Iterable[Entry]) -> dict[Entry, Any]:
        """The given entries that are stored."""
        ...

    async def save(self, changes: Mapping[Entry, Any], handled: Sequence[int] = ()) -> None:
        """Write `changes` (None deletes) and mark the webhook updates `handled`, in one transaction."""
        ...


class StateWriter:
    """Writes changes to the store. Writes asked for while one runs go together in the next
    transaction (group commit); each caller waits for its own. What could not be written is
    kept and written again every `retry_seconds` (or with the next write, newer values
    first) until it is."""

    def __init__(self, store: StateStore, retry_seconds: float) -> None:
        self._store = store
        self._retry_seconds = retry_seconds
        self._pending: dict[Entry, Any] = {}
        self._handled: list[int] = []
        self._writing: dict[Entry, Any] = {}
        self._commit: GroupCommit[tuple[Mapping[Entry, Any], Sequence[int]], None] = GroupCommit(self._save)
        self._retry: asyncio.Task[None] | None = None
        self._staged: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def unwritten(self) -> Mapping[Entry, Any]:
        """What is being written or waits to be (newer than what is stored)."""
        return {**self._writing, **self._pending} if self._writing else self._pending

    async def write(self, changes: Mapping[Entry, Any], handled: Sequence[int] = ()) -> None:
        """Write `changes` (None deletes) and mark the webhook updates `handled`, with
        whatever earlier writes left unwritten."""
        await self._commit.submit((changes, handled))

    def stage(self, changes: Mapping[Entry, Any], handled: Sequence[int] = ()) -> None:
        """Write `changes` and the `handled` marks within STAGE_SECONDS, without waiting (for a
        store no other process reads: nobody needs the write before the next step). What is
        staged meanwhile goes in the same transaction; :meth:`flush` writes it at once."""
        self._pending.update(changes)
        self._handled.extend(handled)
        if self._staged is None:
            self._staged = asyncio.get_running_loop().create_task(self._write_staged())

    async def _write_staged(self) -> None:
        await asyncio.sleep(STAGE_SECONDS)
        self._staged = None  # what is staged from now on is taken by the next one
        await self.write({})

    async def _save(self, asked: list[tuple[Mapping[Entry, Any], Sequence[int]]]) -> None:
        batch, self._pending = self._pending, {}
        marks, self._handled = self._handled, []
        for changes, handled in asked:
            batch.update(changes)
            marks.extend(handled)
        if not batch and not marks:
            return
        self._writing = batch
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await self._store.save(batch, marks)
        except Exception:
            log.warning("saving conversation state failed; will retry", exc_info=True)
            for entry, value in batch.items():
                self._pending.setdefault(entry, value)
            self._handled.extend(marks)
            if not self._closing and (self._retry is None or self._retry.done()):
                self._retry = asyncio.get_running_loop().create_task(self._write_later())
        finally:
            self._writing = {}

    async def _write_later(self) -> None:
        await asyncio.sleep(self._retry_seconds)
        self._retry = None
        await self.write({})

    async def flush(self) -> None:
        """Write whatever is pending now, leaving no retry behind (on shutdown)."""
        self._closing = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._staged is not None:
            self._staged.cancel()
            self._staged = None
        await self.write({})


class PersonState:
    """Reads a person's stored state before each of their updates (on a store no other
    process writes: before their first) and writes what changed after it. The update
    processor calls :meth:`before` and :meth:`after` around each update, inside the
    person's turn, so their steps are read and written in order.

    PTB keeps conversation states in each ConversationHandler's own dictionary and offers
    no public way to set one, so the handlers named at :meth:`bind` are read and set there
    (their `_conversations`); they are built with `persistent=False`, this class being
    their persistence."""

    def __init__(self, store: StateStore, writer: StateWriter, shared: bool = True, from_inbox: bool = False) -> None:
        self._store = store
        self._writer = writer
        #: False when no other process writes the store (SQLite): a person's state is then
        #: read once, at their first update since the start, and kept current in memory.
        self._shared = shared
        self._read: set[Entry] = set()
        #: People's reads asked for while one runs go together in the next SELECT.
        self._reads: GroupCommit[list[Entry], dict[Entry, Any]] = GroupCommit(self._read_together)
        self._application: Application | None = None
        self._handlers: dict[str, ConversationHandler] = {}
        #: Whether updates come through the webhook's inbox (and are marked handled there).
        self.from_inbox = from_inbox

    def bind(self, application: Application, conversations: Iterable[ConversationHandler]) -> None:
        """Keep the state of these (per chat and/or per user, named) conversations."""
        self._application = application
        for handler in conversations:
            assert handler.name and not handler.per_message and not handler.persistent, handler
            self._handlers[conversation_scope(handler.name)] = handler

    async def before(self, update: object) -> dict[Entry, Any]:
        """Load the stored state of the update's person into memory; returns what it is, to
        tell afterwards what changed. What this replica has not written yet (the database
        was away) is newer than the stored copy and not read, nor, on an unshared store,
        what it read before. With the database away, the copy in memory is used."""
        entries = self._entries(update)
        unwritten = self._writer.unwritten
        wanted = [e for e in entries if e not in unwritten and (self._shared or e not in self._read)]
        if wanted:
            try:
                async with asyncio.timeout(STEP_TIMEOUT):
                    stored = await self._reads.submit(wanted)
            except Exception:
                log.warning("reading conversation state failed; going on with the copy in memory", exc_info=True)
            else:
                for entry in wanted:
                    self._set(entry, stored.get(entry))
                if not self._shared:
                    self._read.update(wanted)
        return {entry: copy.deepcopy(self._current(entry)) for entry in entries}

    async def _read_together(self, asked: list[list[Entry]]) -> dict[Entry, Any]:
        return await self._store.load_entries({entry for entries in asked for entry in entries})

    async def after(self, update: object, before: Mapping[Entry, Any]) -> None:
        """Write what handling the update changed, marking it handled (from the inbox)."""
        changes = {entry: copy.deepcopy(now) for entry, was in before.items() if (now := self._current(entry)) != was}
        handled = [update.update_id] if self.from_inbox and isinstance(update, Update) else []
        if self._shared:  # another replica may take this person's next step: written first
            await self._writer.write(changes, handled)
        else:  # the next step is read from memory here: the write need not hold this turn
            self._writer.stage(changes, handled)

    async def everyone(self) -> dict[int, UserData]:
        """Every person's data, by user id: as stored, or newer where this process has not
        written it yet."""
        people = {int(key[0]): value for key, value in (await self._store.load(USER_SCOPE)).items()}
        for (scope, key), value in self._writer.unwritten.items():
            if scope == USER_SCOPE and value is None:
                people.pop(int(key[0]), None)
            elif scope == USER_SCOPE:
                people[int(key[0])] = value
        return people

    async def save_person(self, user_id: int, data: UserData) -> None:
        """Store a person's data (changed outside an update of theirs, e.g. by a job)."""
        entry = (USER_SCOPE, (user_id,))
        self._set(entry, data or None)
        await self._writer.write({entry: copy.deepcopy(data) or None})

    # ── the entries in memory ─────────────────────────────────────────────────────
    def _entries(self, update: object) -> list[Entry]:
        if not isinstance(update, Update):
            return []
        user, chat = update.effective_user, update.effective_chat
        entries: list[Entry] = [(USER_SCOPE, (user.id,))] if user is not None else []
        if update.channel_post or update.edited_channel_post:
            return entries
        for scope, handler in self._handlers.items():
            if (handler.per_chat and chat is None) or (handler.per_user and user is None):
                continue
            key = (*((chat.id,) if handler.per_chat and chat else ()), *((user.id,) if handler.per_user and user else ()))
            entries.append((scope, key))
        return entries

    def _current(self, entry: Entry) -> Any:
        scope, key = entry
        if scope == USER_SCOPE:
            assert self._application is not None
            return self._application.user_data.get(int(key[0])) or None
        return self._handlers[scope]._conversations.get(key)  # noqa: SLF001 (see the class docstring)

    def _set(self, entry: Entry, value: Any) -> None:
        scope, key = entry
        if scope == USER_SCOPE:
            assert self._application is not None
            user_id = int(key[0])
            if value is None and user_id not in self._application.user_data:
                return
            data = self._application.user_data[user_id]  # PTB's dict for this person (made if new)
            data.clear()
            data.update(copy.deepcopy(value) or {})  # apart from what `before` returns, to tell changes
            return
        conversations = self._handlers[scope]._conversations  # noqa: SLF001 (see the class docstring)
        if value is None:
            conversations.pop(key, None)
        else:
            conversations[key] = value


class DatabasePersistence(BasePersistence[UserData, dict[str, Any], dict[str, Any]]):
    """Stores the bot's own data (people's data and conversations: :class:`PersonState`)."""

    def __init__(self, store: StateStore, writer: StateWriter, update_interval: float = 1.0) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=True, chat_data=False, user_data=False, callback_data=False),
            update_interval=update_interval,
        )
        self._store = store
        self._writer = writer
        self._bot_data: dict[str, Any] = {}

    async def get_bot_data(self) -> dict[str, Any]:
        stored = (await self._store.load(BOT_SCOPE)).get(BOT_KEY)
        self._bot_data = dict(stored) if isinstance(stored, dict) else {}
        return dict(self._bot_data)

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        if data != self._bot_data:  # PTB hands it over every interval, changed or not
            self._bot_data = data
            await self._writer.write({(BOT_SCOPE, BOT_KEY): data or None})

    async def flush(self) -> None:
        """Write whatever is pending now (PTB calls this on shutdown)."""
        await self._writer.flush()

    # ── what Sereno does not keep through PTB ─────────────────────────────────────
    async def get_user_data(self) -> dict[int, UserData]:
        return {}

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        return {}

    async def get_conversations(self, name: str) -> ConversationDict:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        return None

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None
