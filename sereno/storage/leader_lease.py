"""The leader lease on PostgreSQL: the one `leader_lease` row whose holder leads.

Each replica asks for the lease on a connection of its own, named after it (its
`application_name`, see :attr:`LeaderLease.holder`), so that the replicas can count each
other and a new leader can end the sessions of one whose lease ran out. Every time is the
database's (`now()`), so the replicas' clocks do not matter. Each taking adds one to the
lease's `epoch`, the fencing token the broadcaster's claims carry. A holder that gives the
lease up says so with NOTIFY; every replica's :attr:`LeaderLease.given_up` is then set.

How often to look, and when to step down, is the leadership's policy
(`sereno.bot.leadership`); this module only runs the queries. A query the database does
not answer raises :class:`LeaseUnreachable` (an `OSError`, like a refused connection).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

from sereno.storage.engine import CONNECT_TIMEOUT_SECONDS, SERVER_SETTINGS, application_name

#: The lease row's name (one per deployment's database).
LEASE_NAME = "sereno"
#: The NOTIFY channel on which a leader that gives its lease up tells the others.
RELEASED = "sereno_leadership_released"
_HOLDER_INFIX = "-lead-"
_LEADERSHIP_SESSIONS = f"sereno-%{_HOLDER_INFIX}%"
_REPLICAS = (
    "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    f"AND application_name LIKE '{_LEADERSHIP_SESSIONS}') AS replicas"
)
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
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)


class LeaseUnreachable(ConnectionError):
    """The database refused or dropped a lease query (the driver's error is the cause)."""


@dataclass(frozen=True, slots=True)
class Taken:
    """The lease, just taken (or taken again): its new `epoch`, the holder it had before
    (None: nobody, or this replica), and how many replicas look at it."""

    epoch: int
    previous: str | None
    replicas: int


def lease_dsn(database_url: str) -> str | None:
    """A plain PostgreSQL DSN for the lease's own connection, or None for SQLite (one
    process by nature: no lease)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def leader_lease(database_url: str, command_timeout: float) -> LeaderLease | None:
    """The lease of the deployment's database, or None on SQLite."""
    dsn = lease_dsn(database_url)
    return None if dsn is None else LeaderLease(dsn, command_timeout)


class LeaderLease:
    """This replica's side of the lease, on one connection (opened when first needed, and
    again after :meth:`close`); a statement fails after `command_timeout` seconds."""

    def __init__(self, dsn: str, command_timeout: float, name: str = LEASE_NAME) -> None:
        self._dsn = dsn
        self._command_timeout = command_timeout
        self._name = name
        #: This replica's name in the lease and on its lease session (`application_name`).
        self.holder = f"{application_name()}{_HOLDER_INFIX}{secrets.token_hex(2)}"
        #: Set when a holder gives the lease up (cleared by whoever waits on it).
        self.given_up = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    async def acquire(self, lease_seconds: float) -> Taken | None:
        """Take the lease for `lease_seconds` if it ran out (or is already this replica's);
        None while another replica holds it."""
        row = await self._fetchrow(_ACQUIRE, self._name, self.holder, lease_seconds)
        if row is None:
            return None
        previous = row["previous"]
        return Taken(int(row["epoch"]), None if previous in (None, self.holder) else str(previous), max(1, int(row["replicas"])))

    async def renew(self, epoch: int | None, lease_seconds: float) -> int | None:
        """Extend the lease taken at `epoch` by `lease_seconds` from now; how many replicas
        look at it, or None when it is no longer this replica's."""
        row = await self._fetchrow(_RENEW, self._name, self.holder, epoch, lease_seconds)
        return None if row is None else max(1, int(row["replicas"]))

    async def release(self, epoch: int | None) -> None:
        """Give the lease taken at `epoch` up at once, telling the others (nothing when it is
        no longer this replica's, or no connection is open)."""
        if self._conn is None or self._conn.is_closed():
            return
        try:
            await self._conn.fetchval(_RELEASE, self._name, self.holder, epoch, RELEASED)
        except _DRIVER_ERRORS as exc:
            raise LeaseUnreachable(str(exc)) from exc

    async def end_sessions_of(self, previous: str) -> tuple[str, int]:
        """End every database session of the process that held the lease as `previous` (its
        lease session and its pool's), so none of its transactions keeps rows locked;
        returns that process's name and how many sessions were ended."""
        process = previous.rsplit(_HOLDER_INFIX, 1)[0]
        conn = await self._connection()
        try:
            ended = await conn.fetchval(_TERMINATE, [previous, process])
        except _DRIVER_ERRORS as exc:
            raise LeaseUnreachable(str(exc)) from exc
        return process, int(ended or 0)

    def close(self) -> None:
        """Drop the connection (the next query opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        conn = await self._connection()
        try:
            return await conn.fetchrow(query, *args)
        except _DRIVER_ERRORS as exc:
            raise LeaseUnreachable(str(exc)) from exc

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            try:
                self._conn = await asyncpg.connect(
                    self._dsn,
                    timeout=CONNECT_TIMEOUT_SECONDS,
                    command_timeout=self._command_timeout,
                    server_settings={"application_name": self.holder, **SERVER_SETTINGS},
                )
                await self._conn.add_listener(RELEASED, lambda *_: self.given_up.set())
            except _DRIVER_ERRORS as exc:
                raise LeaseUnreachable(str(exc)) from exc
        return self._conn
