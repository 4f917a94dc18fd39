"""A running Sereno (real Application, long polling) against the Bot API double."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from PIL import Image
from sqlalchemy import text

from sereno.bootstrap import Runtime, running_bot
from sereno.config import Settings
from sereno.double import BotApiDouble
from sereno.storage.admin import replace_neighborhoods
from sereno.storage.engine import make_engine
from sereno.verify.clock import ManualClock
from sereno.verify.places import parse_geojson
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY, TEST_TOKEN

HOTLINE = "555-0100"  # fictional


@dataclass
class Harness:
    """The double, the settings the bot runs with, and a way to restart it."""

    double: BotApiDouble
    settings: Settings
    clock: ManualClock
    runtime: Runtime

    async def rows(self, sql: str) -> list[dict[str, object]]:
        """Rows of a query on the bot's database."""
        async with self.runtime.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(sql))).mappings()]


async def database_rows(database_url: str, sql: str) -> list[dict[str, object]]:
    """Rows of a query, read on a connection of their own (the bot may be another process)."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(sql))).mappings()]
    finally:
        await engine.dispose()


def settings_for(double: BotApiDouble, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        telegram_token=TEST_TOKEN,
        telegram_api_url=double.api_url,
        database_url=database_url,
        hmac_key=TEST_HMAC_KEY,
        hotline=HOTLINE,
        hotline_name="Demo Legal Aid",
        region_name="Puerto Sereno",
        send_per_second=1000,
        persistence_interval_seconds=0.2,
        flood_max_updates=40,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


async def seed_region(database_url: str) -> None:
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))


@pytest.fixture
async def double() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble(TEST_TOKEN) as api:
        yield api


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings."""
    return {}


@pytest.fixture
async def bot(double: BotApiDouble, database_url: str, settings_overrides: dict[str, object]) -> AsyncIterator[Harness]:
    await seed_region(database_url)
    settings = settings_for(double, database_url, **settings_overrides)
    clock = ManualClock()
    async with running_bot(settings, clock=clock, poll_timeout=1) as runtime:
        yield Harness(double, settings, clock, runtime)


def jpeg_with_gps() -> bytes:
    """A JPEG carrying EXIF with a GPS position and a camera model."""
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0110] = "SecretPhone 12"  # Model
    exif[0x8825] = {1: "N", 2: (34.0, 3.0, 23.4), 3: "W", 4: (118.0, 15.0, 27.7)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()
