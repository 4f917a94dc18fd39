"""Many people reporting at once through the webhook (the double POSTs every update, as
Telegram does): every report is stored exactly once (bench/load.py runs the same with 500)."""

from __future__ import annotations

import pytest

from bench.load import bench

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_hundred_concurrent_reporters_through_the_webhook_are_all_stored_once(database: str) -> None:
    assert await bench(100, database)
