"""Administrative operations on a database given by URL (the CLI, the demo and the tests)."""

from __future__ import annotations

from storage.engine import make_engine
from storage.migrate import upgrade
from storage.unit_of_work import SqlUnitOfWorkFactory
from verify.places import Neighborhood


async def migrate(url: str, hmac_key: bytes | None = None) -> None:
    """Create or upgrade the schema (`hmac_key`: to seal the reporter contacts kept)."""
    engine = make_engine(url)
    try:
        await upgrade(engine, hmac_key=hmac_key)
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
