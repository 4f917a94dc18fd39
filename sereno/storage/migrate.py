"""Alembic migrations, run programmatically on an async engine.

The revisions form one line, 0001 → … → head. :func:`plan` says where a database is and
which way a target lies; :func:`migrate` goes there, up or down (a downgrade drops what
the newer revisions added, so it must be allowed explicitly).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


class MigrationRefused(Exception):
    """A migration that cannot or should not run as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Migration:
    """From `start` (None: a database never migrated) to `target`."""

    start: str | None
    target: str

    @property
    def needed(self) -> bool:
        return self.start != self.target

    @property
    def downgrade(self) -> bool:
        order = revisions()
        return self.start is not None and order.index(self.target) < order.index(self.start)


def alembic_config(connection: Connection | None = None, hmac_key: bytes | None = None) -> Config:
    """An Alembic config pointing at our migrations, sharing `connection` if given.
    `hmac_key` (SERENO_HMAC_KEY) lets a migration seal or open reporter contacts; one
    that must and has none stops with :class:`sereno.storage.sealing.SealingKeyMissing`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["hmac_key"] = hmac_key
    return cfg


def revisions() -> list[str]:
    """Every revision the code knows, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head", hmac_key: bytes | None = None) -> None:
    """Bring the database up to `revision` (idempotent), in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync, hmac_key), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def plan(engine: AsyncEngine, to: str = "head") -> Migration:
    """Where the database is and where `to` ("head" or a revision id) is; refused when
    either is a revision this code does not know."""
    known = revisions()
    target = known[-1] if to == "head" else to
    if target not in known:
        raise MigrationRefused(
            f"unknown revision {to!r}: this version of Sereno knows {known[0]} to {known[-1]} (or `head`, the newest)"
        )
    start = await current_revision(engine)
    if start is not None and start not in known:
        raise MigrationRefused(
            f"the database is at revision {start}, which this version of Sereno does not know "
            "(a newer version migrated it): downgrade it with that version "
            f"(`sereno migrate --to {known[-1]} --yes`), or restore a backup taken before the "
            "upgrade into a fresh database (deploy/README.md, Backups)"
        )
    return Migration(start, target)


async def migrate(
    engine: AsyncEngine, to: str = "head", *, allow_downgrade: bool = False, hmac_key: bytes | None = None
) -> Migration:
    """Take the database to revision `to`, up or down; a downgrade deletes the tables and
    columns of the newer revisions, so it is refused unless `allow_downgrade` (`hmac_key`:
    see :func:`alembic_config`)."""
    step = await plan(engine, to)
    if step.downgrade and not allow_downgrade:
        raise MigrationRefused(
            f"going down from {step.start} to {step.target} deletes what the newer revisions "
            "store. Back the database up first, then run "
            f"`sereno migrate --to {step.target} --yes`"
        )
    if step.needed:
        try:
            async with engine.begin() as conn:
                run = command.downgrade if step.downgrade else command.upgrade
                await conn.run_sync(lambda sync: run(alembic_config(sync, hmac_key), step.target))
        except DBAPIError as exc:  # the schema is not what its revision says (rolled back)
            first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            raise MigrationRefused(
                f"migrating from {step.start} to {step.target} failed ({first}), so nothing was changed. The schema "
                f"does not match revision {step.start}: was a backup restored over a database that a newer version "
                "had migrated? Restore it into a fresh database instead (deploy/README.md, Backups)"
            ) from None
    return step
