"""Alembic migrations, run programmatically on an async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None, hmac_key: bytes | None = None) -> Config:
    """An Alembic config pointing at our migrations, sharing `connection` if given.
    `hmac_key` (SERENO_HMAC_KEY) lets a migration seal or open reporter contacts; one
    that must and has none stops with :class:`storage.sealing.SealingKeyMissing`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["hmac_key"] = hmac_key
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head", hmac_key: bytes | None = None) -> None:
    """Bring the database up to `revision` (idempotent), in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync, hmac_key), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
