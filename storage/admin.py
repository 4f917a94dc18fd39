"""Administrative operations on a database given by URL (the CLI, the demo and the tests)."""

from __future__ import annotations

from storage.engine import make_engine
from storage.migrate import upgrade
from storage.unit_of_work import SqlUnitOfWorkFactory
from verify.places import Neighborhood


async def migrate(url: str) -> None:
    """Create or upgrade the schema (no statement timeout: building an index may take long)."""
    engine = make_engine(url, command_timeout=None)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def replace_neighborhoods(url: str, neighborhoods: list[Neighborhood]) -> None:
    """Migrate, then replace every neighborhood with `neighborhoods`, in one transaction."""
    engine = make_engine(url)
    try:
        await upgrade(engine)
        async with SqlUnitOfWorkFactory(engine)() as uow:
            await uow.neighborhoods.replace_all(neighborhoods)
            await uow.commit()
    finally:
        await engine.dispose()
