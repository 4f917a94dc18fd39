"""The async engine for `sqlite+aiosqlite://` (default) or `postgresql+asyncpg://` URLs."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

#: How long opening a PostgreSQL connection may take (asyncpg's own default is 60 s): a
#: server that does not answer fails the request in this time instead of holding the person.
CONNECT_TIMEOUT_SECONDS = 10.0
#: How long one PostgreSQL statement may take before it fails (and its connection is
#: dropped): a connection whose packets silently vanish fails in this time, not after the
#: kernel's two-hour keepalive.
COMMAND_TIMEOUT_SECONDS = 15.0
#: What the server does about this process's sessions: a session idle in a transaction this
#: long is ended (its row locks freed: a client cut off mid-transaction blocks nobody), and
#: the server probes an idle client's socket after 10 s, every 5 s, giving up after 3 misses.
SERVER_SETTINGS = {
    "idle_in_transaction_session_timeout": "30000",
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "15000",
}


def application_name() -> str:
    """The name this process's PostgreSQL sessions carry (`pg_stat_activity.application_name`):
    `sereno-<host>-<pid>`, so an operator, and the leadership, can tell whose they are."""
    return f"sereno-{socket.gethostname()[:30]}-{os.getpid()}"


def make_engine(url: str, *, command_timeout: float | None = COMMAND_TIMEOUT_SECONDS, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`. A SQLite file's folder is created, and every SQLite connection
    runs in WAL mode with foreign keys enforced. SQLite transactions begin IMMEDIATE: they
    take the write lock up front and wait for it (busy timeout) instead of failing with
    "database is locked" when a transaction that read first tries to write after another
    writer committed — what a surge of simultaneous reports would otherwise hit. A
    connection set to AUTOCOMMIT (one statement on its own) begins none.
    PostgreSQL connections are checked before use (a pool that lost the server reconnects),
    give up connecting after CONNECT_TIMEOUT_SECONDS, carry :func:`application_name` and
    :data:`SERVER_SETTINGS`, and fail a statement after `command_timeout` seconds (None: no
    limit) — the connection is then dropped from the pool, since its state is unknown."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    connect_args = kwargs.setdefault("connect_args", {})
    connect_args.setdefault("timeout", CONNECT_TIMEOUT_SECONDS)
    connect_args.setdefault("command_timeout", command_timeout)
    connect_args.setdefault("server_settings", {"application_name": application_name(), **SERVER_SETTINGS})
    engine = create_async_engine(url, pool_pre_ping=True, **kwargs)
    event.listen(engine.sync_engine, "handle_error", _timeout_is_a_disconnect)
    return engine


def _timeout_is_a_disconnect(context: Any) -> None:
    """A statement that timed out leaves its connection mid-protocol: invalidate it."""
    if isinstance(context.original_exception, TimeoutError):
        context.is_disconnect = True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    dbapi_connection.isolation_level = None  # the driver starts no transaction itself: _begin_immediate does


def _begin_immediate(conn: Any) -> None:
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # a single statement needs none
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(url: str) -> bool:
    """Whether `url` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


async def answers(engine: AsyncEngine, timeout: float) -> bool:
    """Whether the database answers `SELECT 1` within `timeout` seconds (any failure: no;
    its kind is logged as a warning)."""
    try:
        async with asyncio.timeout(timeout):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.warning("the database does not answer (%s)", type(exc).__name__)
        return False
