"""Shared fixtures: databases (SQLite file and a throw-away PostgreSQL database), settings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.engine import make_engine
from sereno.storage.migrate import upgrade
from sereno.storage.scratch import scratch_database

# Property tests judge behaviour, never speed: a loaded 2-core machine must not fail them.
settings.register_profile("sereno", deadline=None)
settings.load_profile("sereno")

#: The server CI and every developer machine run; override to point elsewhere.
PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DEMO_REGION = Path(__file__).resolve().parents[1] / "sereno" / "data" / "demo_region.geojson"
TEST_HMAC_KEY = "test-hmac-key-0123456789abcdef0123456789"
TEST_TOKEN = "123456:TEST-TOKEN-not-real"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """An empty database on SQLite (a file) or PostgreSQL (a new database, dropped after)."""
    try:
        async with scratch_database(request.param, PG_ADMIN_URL) as url:
            yield url
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL} (set SERENO_TEST_PG_URL): {exc}")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database's engine."""
    eng = make_engine(database_url)
    await upgrade(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No SERENO_* variables from the developer's shell, and no stray .env file."""
    for key in list(os.environ):
        if key.startswith("SERENO_") and key != "SERENO_TEST_PG_URL":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield
