"""Shared fixtures: databases (SQLite file and a throw-away PostgreSQL database), settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import make_engine
from storage.migrate import upgrade

#: The server CI and every developer machine run; override to point elsewhere.
PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DEMO_REGION = Path(__file__).resolve().parents[1] / "sereno" / "data" / "demo_region.geojson"
TEST_HMAC_KEY = "test-hmac-key-0123456789abcdef0123456789"
TEST_TOKEN = "123456:TEST-TOKEN-not-real"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on SQLite (a file) or PostgreSQL (a new database, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'sereno.db'}"
        return
    name = f"sereno_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL} (set SERENO_TEST_PG_URL): {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


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
