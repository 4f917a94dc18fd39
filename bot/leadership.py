"""Which replica runs the scheduled jobs and the broadcaster.

On PostgreSQL several replicas may serve webhooks, but Telegram's rate budget is per bot
token and jobs must run once: only the replica holding a session-level advisory lock leads.
The lock lives on a connection of its own; when the leading process dies, PostgreSQL ends
its session and frees the lock, and another replica takes it at its next try (every
`retry_seconds`). A leader that can no longer reach the database steps down. On SQLite —
one process by nature — this process always leads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

#: The advisory lock's key (any constant shared by every replica of one deployment).
LOCK_KEY = 0x5E_5E_40_01


def _asyncpg_dsn(database_url: str) -> str | None:
    """A plain PostgreSQL DSN for asyncpg, or None for SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    """Runs `on_gain` when this process becomes the leader and `on_loss` when it stops being one."""

    def __init__(self, database_url: str, on_gain: Callable[[], Awaitable[None]],
                 on_loss: Callable[[], Awaitable[None]], retry_seconds: float = 2.0, key: int = LOCK_KEY) -> None:
        self._dsn = _asyncpg_dsn(database_url)
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._retry = retry_seconds
        self._key = key
        self._conn: asyncpg.Connection | None = None
        self.is_leader = False
        #: Set once the first attempt to lead has been made (won or not).
        self.tried = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Try to lead until `stop` is set; step down (running `on_loss`) on the way out."""
        try:
            while not stop.is_set():
                await self._step()
                self.tried.set()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._retry)
                except TimeoutError:
                    pass
        finally:
            await self._step_down()

    async def _step(self) -> None:
        if self._dsn is None:
            if not self.is_leader:
                await self._become_leader()
            return
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._dsn, timeout=max(self._retry, 10.0))
            if self.is_leader:
                await self._conn.fetchval("SELECT 1", timeout=self._retry)
            elif await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key, timeout=self._retry):
                await self._become_leader()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.warning("the database is unreachable for leader election", exc_info=True)
            await self._step_down()

    async def _become_leader(self) -> None:
        self.is_leader = True
        log.info("this replica now runs the jobs and the broadcaster")
        await self._on_gain()

    async def _step_down(self) -> None:
        conn, self._conn = self._conn, None
        if self.is_leader:
            self.is_leader = False
            log.info("this replica no longer leads")
            await self._on_loss()
        if conn is not None and not conn.is_closed():
            conn.terminate()  # ends the session: the lock is free for the others
