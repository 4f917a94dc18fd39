"""Which replica runs the scheduled jobs and the broadcaster.

On PostgreSQL several replicas may serve webhooks, but Telegram's rate budget is per bot
token and jobs must run once: only the holder of the lease row (`leader_lease`) leads. The
lease runs out `lease_seconds` after its last renewal, by the database's clock (`now()`,
so the replicas' clocks do not matter); the leader renews it every `beat_seconds`, and a
replica takes it only once it has run out — or at once when the leader gives it up on a
clean stop (it says so with NOTIFY, so a rolling restart hands over in milliseconds).
Each taking adds one to the lease's `epoch`, the fencing token the broadcaster's claims
carry: a deposed leader's claim finds nothing.

A leader stops leading as soon as a renewal fails or does not answer within
`renew_timeout` (a network that silently drops its packets), and in any case once its
lease may be about to run out: `lease_seconds - margin_seconds` after it sent its last
confirmed renewal, on its own monotonic clock. So it has stopped sending well before
anyone else may start. Taking over a lease that ran out also ends every PostgreSQL
session of the process that held it (found by `application_name`), so a replica cut off
in the middle of a transaction holds no row locks that would block the others.

On SQLite — one process by nature — this process always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import make_url

from sereno.storage.engine import CONNECT_TIMEOUT_SECONDS, SERVER_SETTINGS, application_name

log = logging.getLogger(__name__)

#: The lease row's name (one per deployment's database).
LEASE_NAME = "sereno"
#: The NOTIFY channel on which a leader that gives its lease up tells the others.
RELEASED = "sereno_leadership_released"
#: How long a lease lasts after its last renewal (database clock).
LEASE_SECONDS = 8.0
#: How often the leader renews and the others look at the lease.
BEAT_SECONDS = 1.0
#: A renewal not confirmed within this time counts as failed: the leader steps down.
RENEW_TIMEOUT_SECONDS = 2.0
#: The leader steps down this long before its lease could run out (its own clock).
MARGIN_SECONDS = 3.0
_LEADERSHIP_SESSIONS = "sereno-%-lead-%"
_REPLICAS = ("(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             f"AND application_name LIKE '{_LEADERSHIP_SESSIONS}') AS replicas")
_ACQUIRE = f"""
WITH previous AS (SELECT holder FROM leader_lease WHERE name = $1 FOR UPDATE)
INSERT INTO leader_lease AS lease (name, holder, epoch, expires_at)
VALUES ($1, $2, 1, now() + make_interval(secs => $3))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = lease.epoch + 1, expires_at = excluded.expires_at
WHERE lease.expires_at <= now() OR lease.holder = excluded.holder
RETURNING lease.epoch, (SELECT holder FROM previous) AS previous, {_REPLICAS}
"""
_RENEW = f"""
UPDATE leader_lease SET expires_at = now() + make_interval(secs => $4)
WHERE name = $1 AND holder = $2 AND epoch = $3
RETURNING {_REPLICAS}
"""
_RELEASE = """
WITH released AS (UPDATE leader_lease SET expires_at = now() WHERE name = $1 AND holder = $2 AND epoch = $3
                  RETURNING 1)
SELECT pg_notify($4, $2) FROM released
"""
_TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = ANY($1::text[]) AND pid <> pg_backend_pid()
"""
_UNREACHABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def _asyncpg_dsn(database_url: str) -> str | None:
    """A plain PostgreSQL DSN for asyncpg, or None for SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Leadership:
    """Runs `on_gain` when this process becomes the leader and `on_loss` when it stops being
    one; `on_beat` after every look at the lease (the replica count or the role may have
    changed)."""

    def __init__(self, database_url: str, on_gain: Callable[[], Awaitable[None]],
                 on_loss: Callable[[], Awaitable[None]], *, on_beat: Callable[[], None] = lambda: None,
                 lease_seconds: float = LEASE_SECONDS, beat_seconds: float = BEAT_SECONDS,
                 renew_timeout: float = RENEW_TIMEOUT_SECONDS, margin_seconds: float = MARGIN_SECONDS) -> None:
        self._dsn = _asyncpg_dsn(database_url)
        self._on_gain = on_gain
        self._on_loss = on_loss
        self.on_beat = on_beat
        self._lease = lease_seconds
        self._beat_seconds = beat_seconds
        self._renew_timeout = renew_timeout
        self._margin = margin_seconds
        #: This process's name in the lease and on its leadership session (`application_name`).
        self.holder = f"{application_name()}-lead-{secrets.token_hex(2)}"
        self._conn: asyncpg.Connection | None = None
        self._deadline = 0.0  # monotonic: when this leader stops at the latest
        self._wake = asyncio.Event()
        self.is_leader = False
        #: The lease's fencing token while this process leads (None on SQLite).
        self.epoch: int | None = None
        #: Replicas counted at the last renewal (leadership sessions on the database).
        self.replicas = 1
        #: Set once the first attempt to lead has been made (won or not).
        self.tried = asyncio.Event()

    def holds(self) -> bool:
        """Whether this process may act as the leader right now: it leads and, by its own
        monotonic clock, its lease cannot have run out yet."""
        return self.is_leader and (self._dsn is None or time.monotonic() < self._deadline)

    async def run(self, stop: asyncio.Event) -> None:
        """Try to lead until `stop` is set; step down (running `on_loss`) and give the
        lease up on the way out."""
        try:
            while not stop.is_set():
                await self._step()
                self.tried.set()
                wait = self._beat_seconds
                if self.is_leader and self._dsn is not None:
                    wait = max(0.0, min(wait, self._deadline - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop.wait(), self._wake.wait()), timeout=wait)
                self._wake.clear()  # (a lease given up while this replica looked wakes it at once)
        finally:
            await self._step_down(release=True)
            self._drop_connection()

    async def _step(self) -> None:
        if self._dsn is None:
            if not self.is_leader:
                await self._become_leader()
            return
        if self.is_leader and time.monotonic() >= self._deadline:
            log.warning("the lease could not be renewed in time; stepping down")
            await self._step_down()
            return
        try:
            conn = await self._connection()
            sent = time.monotonic()
            if self.is_leader:
                timeout = min(self._renew_timeout, self._deadline - sent)
                row = await asyncio.wait_for(conn.fetchrow(_RENEW, LEASE_NAME, self.holder, self.epoch, self._lease),
                                             timeout=timeout)
                if row is None:
                    log.warning("another replica holds the lease now; stepping down")
                    await self._step_down()
                    return
            else:
                row = await asyncio.wait_for(conn.fetchrow(_ACQUIRE, LEASE_NAME, self.holder, self._lease),
                                             timeout=self._renew_timeout)
            if row is not None:
                self._deadline = sent + self._lease - self._margin
                self.replicas = max(1, int(row["replicas"]))
                if not self.is_leader:
                    self.epoch = int(row["epoch"])
                    if row["previous"] not in (None, self.holder):
                        await self._end_sessions_of(conn, str(row["previous"]))
                    await self._become_leader()
        except _UNREACHABLE:
            log.warning("the database is unreachable for leader election", exc_info=True)
            self._drop_connection()
            await self._step_down()
        self.on_beat()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self._dsn, timeout=CONNECT_TIMEOUT_SECONDS, command_timeout=self._renew_timeout,
                server_settings={"application_name": self.holder, **SERVER_SETTINGS})
            await self._conn.add_listener(RELEASED, lambda *_: self._wake.set())
        return self._conn

    async def _end_sessions_of(self, conn: asyncpg.Connection, previous: str) -> None:
        """End the sessions of the process whose lease ran out (its leadership session and
        its pool's), so none of its transactions keeps rows locked."""
        process = previous.rsplit("-lead-", 1)[0]
        ended = await asyncio.wait_for(conn.fetchval(_TERMINATE, [previous, process]), timeout=self._renew_timeout)
        if ended:
            log.warning("ended %d database session(s) of %s, whose lease ran out", ended, process)

    async def _become_leader(self) -> None:
        self.is_leader = True
        log.info("this replica now leads: it runs the jobs and the broadcaster (epoch %s)", self.epoch)
        self.on_beat()
        await self._on_gain()

    async def _step_down(self, release: bool = False) -> None:
        if not self.is_leader:
            return
        self.is_leader = False
        await self._on_loss()
        log.info("this replica no longer leads (epoch %s)", self.epoch)
        if release and self._conn is not None and not self._conn.is_closed():
            try:
                await asyncio.wait_for(self._conn.fetchval(_RELEASE, LEASE_NAME, self.holder, self.epoch, RELEASED),
                                       timeout=self._renew_timeout)
            except _UNREACHABLE:
                log.warning("could not give the lease up; it runs out by itself", exc_info=True)
        self.epoch = None
        self.on_beat()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()


async def _first(*waits: Awaitable[object]) -> None:
    """Return when the first of `waits` finishes (the others are cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
