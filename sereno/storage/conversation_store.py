"""Conversation states and per-person bot data, stored without naming anyone.

Each entry's Telegram key — a user id, or a (chat id, user id) conversation key — is sealed
with Fernet under a key derived from the deployment's HMAC key, and addressed by a keyed
digest, so reading the table tells nobody who is talking to the bot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import Executable, and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.sealing import derive, sealer
from sereno.storage.tables import BotStateRow
from sereno.storage.update_inbox import mark_handled
from sereno.verify.ports import Clock

#: An entry's key within its scope (a user id, a (chat id, user id) pair…).
StateKey = tuple[int | str, ...]
_TABLE = BotStateRow.__table__  # type: ignore[attr-defined]


class ConversationStore:
    """Loads every entry of a scope or a few given entries, and saves batches of changes in
    one transaction."""

    def __init__(self, engine: AsyncEngine, hmac_key: bytes, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._fernet = sealer(hmac_key, b"state-seal")
        self._digest_key = derive(hmac_key, b"state-digest")
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert

    def _digest(self, scope: str, key: StateKey) -> str:
        material = json.dumps([scope, list(key)]).encode()
        return hmac.new(self._digest_key, material, hashlib.sha256).hexdigest()[:40]

    async def load(self, scope: str) -> dict[StateKey, Any]:
        """Every entry of `scope`, keyed as PTB keys them. Entries sealed under another key
        (after a key rotation) cannot be read and are skipped."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(_TABLE.c.sealed_key, _TABLE.c.value).where(_TABLE.c.scope == scope))
            out: dict[StateKey, Any] = {}
            for sealed, value in rows:
                try:
                    key = json.loads(self._fernet.decrypt(sealed.encode()))
                except InvalidToken:
                    continue
                out[tuple(key)] = value["v"]
            return out

    async def load_entries(self, entries: Iterable[tuple[str, StateKey]]) -> dict[tuple[str, StateKey], Any]:
        """The stored values of `entries` (one SELECT); an entry not stored is left out."""
        wanted = {(scope, self._digest(scope, key)): (scope, key) for scope, key in entries}
        if not wanted:
            return {}
        match = or_(*(and_(_TABLE.c.scope == scope, _TABLE.c.key_digest == digest) for scope, digest in wanted))
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")  # one statement: no BEGIN, no ROLLBACK
            rows = await conn.execute(select(_TABLE.c.scope, _TABLE.c.key_digest, _TABLE.c.value).where(match))
            return {wanted[(scope, digest)]: value["v"] for scope, digest, value in rows}

    async def save(self, changes: Mapping[tuple[str, StateKey], Any], handled: Sequence[int] = ()) -> None:
        """Write a batch of `(scope, key) → value` in one transaction (one statement on
        PostgreSQL); None deletes. The webhook updates `handled` are marked handled with it
        (the state an update led to and its being handled are stored together, or neither)."""
        now = self._clock.now()
        rows, gone = [], []
        for (scope, key), value in changes.items():
            digest = self._digest(scope, key)
            if value is None:
                gone.append(and_(_TABLE.c.scope == scope, _TABLE.c.key_digest == digest))
            else:
                sealed = self._fernet.encrypt(json.dumps(list(key)).encode()).decode()
                rows.append(
                    {"scope": scope, "key_digest": digest, "sealed_key": sealed, "value": {"v": value}, "updated_at": now}
                )
        statements: list[Executable] = []
        if rows:
            upsert = self._insert(_TABLE).values(rows)
            statements.append(
                upsert.on_conflict_do_update(
                    index_elements=["scope", "key_digest"],
                    set_={
                        "sealed_key": upsert.excluded.sealed_key,
                        "value": upsert.excluded.value,
                        "updated_at": upsert.excluded.updated_at,
                    },
                )
            )
        if gone:
            statements.append(delete(_TABLE).where(or_(*gone)))
        if handled:
            statements.append(mark_handled(handled, now))
        if not statements:
            return
        if self._postgres:  # one statement, atomic on its own: the others ride along as CTEs
            main, *others = statements
            for n, other in enumerate(others):
                main = main.add_cte(other.cte(f"also_{n}"))  # type: ignore[attr-defined]
            async with self._engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(main)
            return
        async with self._engine.begin() as conn:
            for statement in statements:
                await conn.execute(statement)
