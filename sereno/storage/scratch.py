"""Throw-away databases for tests, benchmarks and the demo: a SQLite file in a temporary
folder, or a fresh PostgreSQL database created beside `admin_url` and dropped afterwards."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


@asynccontextmanager
async def scratch_database(kind: str, admin_url: str = "") -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of an empty database of `kind` ("sqlite" or "postgres");
    `admin_url` is a plain `postgresql://` URL of a database to connect to for CREATE/DROP."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sereno-") as folder:
            yield f"sqlite+aiosqlite:///{folder}/sereno.db"
        return
    name = f"sereno_scratch_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
