"""Conversation states and per-person bot data, stored without naming anyone.

Conversation keys ((chat id, user id) tuples) are sealed with Fernet under a key derived
from the deployment's HMAC key and addressed by a keyed digest; per-person data is stored
under a pseudonym derived from the same key for this purpose only (so it does not match
the pseudonyms in reports).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import ConversationRow, UserStateRow
from verify.ports import Clock
from verify.pseudonyms import Pseudonymizer

ConversationKey = tuple[int | str, ...]


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, b"sereno:" + purpose, hashlib.sha256).digest()


class ConversationStore:
    """Loads and saves conversation states and user data in batches, one transaction each."""

    def __init__(self, engine: AsyncEngine, hmac_key: bytes, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(hmac_key, b"conversation-seal")))
        self._digest_key = _derive(hmac_key, b"conversation-key")
        self._user_pseudonym = Pseudonymizer(_derive(hmac_key, b"user-state"))
        insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert
        conv = insert(ConversationRow.__table__)  # type: ignore[arg-type]
        self._upsert_conversation = conv.on_conflict_do_update(
            index_elements=["name", "key_digest"],
            set_={"sealed_key": conv.excluded.sealed_key, "state": conv.excluded.state,
                  "updated_at": conv.excluded.updated_at},
        )
        user = insert(UserStateRow.__table__)  # type: ignore[arg-type]
        self._upsert_user = user.on_conflict_do_update(
            index_elements=["pseudonym"],
            set_={"data": user.excluded.data, "updated_at": user.excluded.updated_at},
        )

    def _digest(self, name: str, key: ConversationKey) -> str:
        material = json.dumps([name, list(key)]).encode()
        return hmac.new(self._digest_key, material, hashlib.sha256).hexdigest()[:40]

    async def load_conversations(self, name: str) -> dict[ConversationKey, object]:
        """Every stored state of conversation `name`, keyed as PTB keys them."""
        table = ConversationRow.__table__
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(table.c.sealed_key, table.c.state).where(table.c.name == name)
            )
            out: dict[ConversationKey, object] = {}
            for sealed, state in rows:
                try:
                    key = json.loads(self._fernet.decrypt(sealed.encode()))
                except InvalidToken:
                    continue  # sealed under another key: unreadable, so not resumable
                out[tuple(key)] = json.loads(state)
            return out

    async def load_user(self, user_id: int) -> dict[str, Any] | None:
        """The stored data of this person, or None."""
        table = UserStateRow.__table__
        async with self._engine.connect() as conn:
            row = await conn.execute(
                select(table.c.data).where(table.c.pseudonym == self._user_pseudonym(user_id))
            )
            data = row.scalar_one_or_none()
            return dict(data) if data is not None else None

    async def save(
        self,
        conversations: Mapping[tuple[str, ConversationKey], object | None],
        users: Mapping[int, Mapping[str, Any] | None],
    ) -> None:
        """Write a batch in one transaction; a None value deletes the entry."""
        now = self._clock.now()
        conv_rows, conv_gone, user_rows, user_gone = [], [], [], []
        for (name, key), state in conversations.items():
            digest = self._digest(name, key)
            if state is None:
                conv_gone.append((name, digest))
            else:
                sealed = self._fernet.encrypt(json.dumps(list(key)).encode()).decode()
                conv_rows.append(
                    {"name": name, "key_digest": digest, "sealed_key": sealed,
                     "state": json.dumps(state), "updated_at": now}
                )
        for user_id, data in users.items():
            pseudonym = self._user_pseudonym(user_id)
            if data is None:
                user_gone.append(pseudonym)
            else:
                user_rows.append({"pseudonym": pseudonym, "data": dict(data), "updated_at": now})
        conv_table, user_table = ConversationRow.__table__, UserStateRow.__table__
        async with self._engine.begin() as conn:
            if conv_rows:
                await conn.execute(self._upsert_conversation, conv_rows)
            if conv_gone:
                await conn.execute(
                    delete(conv_table).where(
                        tuple_(conv_table.c.name, conv_table.c.key_digest).in_(conv_gone)
                    )
                )
            if user_rows:
                await conn.execute(self._upsert_user, user_rows)
            if user_gone:
                await conn.execute(delete(user_table).where(user_table.c.pseudonym.in_(user_gone)))
