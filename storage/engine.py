"""The async engine for `sqlite+aiosqlite://` (default) or `postgresql+asyncpg://` URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: How long opening a PostgreSQL connection may take (asyncpg's own default is 60 s): a
#: server that does not answer fails the request in this time instead of holding the person.
CONNECT_TIMEOUT_SECONDS = 10.0


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`. A SQLite file's folder is created, and every SQLite connection
    runs in WAL mode with foreign keys enforced. SQLite transactions begin IMMEDIATE: they
    take the write lock up front and wait for it (busy timeout) instead of failing with
    "database is locked" when a transaction that read first tries to write after another
    writer committed — what a surge of simultaneous reports would otherwise hit. A
    connection set to AUTOCOMMIT (one statement on its own) begins none.
    PostgreSQL connections are checked before use (a pool that lost the server reconnects)
    and give up connecting after CONNECT_TIMEOUT_SECONDS."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("connect_args", {}).setdefault("timeout", CONNECT_TIMEOUT_SECONDS)
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


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
