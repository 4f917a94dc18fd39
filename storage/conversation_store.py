"""Conversation states and per-person bot data, stored without naming anyone.

Each entry's Telegram key — a user id, or a (chat id, user id) conversation key — is sealed
with Fernet under a key derived from the deployment's HMAC key, and addressed by a keyed
digest, so reading the table tells nobody who is talking to the bot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.sealing import derive
from storage.tables import BotStateRow
from verify.ports import Clock

StateKey = tuple[int | str, ...]
USER_SCOPE = "user"
_TABLE = BotStateRow.__table__


def conversation_scope(name: str) -> str:
    """The scope under which conversation `name` keeps its states."""
    return f"conversation:{name}"


class ConversationStore:
    """Loads every entry of a scope, and saves batches of changes in one transaction."""

    def __init__(self, engine: AsyncEngine, hmac_key: bytes, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._fernet = Fernet(base64.urlsafe_b64encode(derive(hmac_key, b"state-seal")))
        self._digest_key = derive(hmac_key, b"state-digest")
        insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert
        stmt = insert(_TABLE)
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["scope", "key_digest"],
            set_={"sealed_key": stmt.excluded.sealed_key, "value": stmt.excluded.value,
                  "updated_at": stmt.excluded.updated_at},
        )

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

    async def save(self, changes: Mapping[tuple[str, StateKey], Any]) -> None:
        """Write a batch of `(scope, key) → value` in one transaction; None deletes."""
        now = self._clock.now()
        rows, gone = [], []
        for (scope, key), value in changes.items():
            digest = self._digest(scope, key)
            if value is None:
                gone.append(and_(_TABLE.c.scope == scope, _TABLE.c.key_digest == digest))
            else:
                sealed = self._fernet.encrypt(json.dumps(list(key)).encode()).decode()
                rows.append({"scope": scope, "key_digest": digest, "sealed_key": sealed,
                             "value": {"v": value}, "updated_at": now})
        async with self._engine.begin() as conn:
            if rows:
                await conn.execute(self._upsert, rows)
            if gone:
                await conn.execute(delete(_TABLE).where(or_(*gone)))
