"""Administrative operations on a database given by URL (the CLI, the demo and the tests)."""

from __future__ import annotations

from sereno.storage.engine import make_engine
from sereno.storage.migrate import Migration, upgrade
from sereno.storage.migrate import migrate as migrate_engine
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.places import Neighborhood


async def migrate(url: str, to: str = "head", *, allow_downgrade: bool = False, hmac_key: bytes | None = None) -> Migration:
    """Create the schema or take it to revision `to` (see :func:`sereno.storage.migrate.migrate`;
    `hmac_key`: to seal or open the reporter contacts kept)."""
    engine = make_engine(url, command_timeout=None)  # building an index may take long
    try:
        return await migrate_engine(engine, to, allow_downgrade=allow_downgrade, hmac_key=hmac_key)
    finally:
        await engine.dispose()


async def replace_neighborhoods(url: str, neighborhoods: list[Neighborhood], hmac_key: bytes | None = None) -> None:
    """Migrate, then replace every neighborhood with `neighborhoods`, in one transaction."""
    engine = make_engine(url)
    try:
        await upgrade(engine, hmac_key=hmac_key)
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.neighborhoods.replace_all(neighborhoods)
            await uow.commit()
    finally:
        await engine.dispose()
