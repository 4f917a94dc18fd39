"""Two `sereno run --webhook` replicas on one PostgreSQL database: exactly one leads (runs
the jobs and the broadcaster); when it is killed, the other takes over within seconds."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from sereno.double import BotApiDouble
from storage.admin import migrate
from tests.bot.test_webhook import SECRET, free_port
from tests.conftest import TEST_HMAC_KEY, TEST_TOKEN

pytestmark = pytest.mark.slow


async def leader_flags(ports: list[int]) -> list[bool | None]:
    """Each replica's `leader` from /healthz (None when it does not answer)."""
    flags: list[bool | None] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        for port in ports:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    flags.append(bool(json.loads(await response.text())["leader"]))
            except (aiohttp.ClientError, TimeoutError):
                flags.append(None)
    return flags


async def wait_flags(ports: list[int], want: list[bool | None], timeout: float) -> float:
    """Seconds until the replicas report `want`."""
    started = time.monotonic()
    while (flags := await leader_flags(ports)) != want:
        assert time.monotonic() - started < timeout, flags
        await asyncio.sleep(0.2)
    return time.monotonic() - started


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_one_replica_leads_and_another_takes_over_when_it_dies(double: BotApiDouble, database_url: str,
                                                                      tmp_path: Path) -> None:
    await migrate(database_url)
    ports = [free_port(), free_port()]
    processes = []
    for port in ports:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
        env.update(SERENO_TELEGRAM_TOKEN=TEST_TOKEN, SERENO_TELEGRAM_API_URL=double.api_url,
                   SERENO_HMAC_KEY=TEST_HMAC_KEY, SERENO_DATABASE_URL=database_url, SERENO_WEBHOOK_SECRET=SECRET,
                   SERENO_WEB_HOST="127.0.0.1", SERENO_WEB_PORT=str(port))
        processes.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sereno", "run", "--webhook", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
        if port == ports[0]:
            await wait_flags(ports[:1], [True], timeout=30)  # the first one up takes the lead
    try:
        await wait_flags(ports, [True, False], timeout=30)
        processes[0].send_signal(signal.SIGKILL)
        await processes[0].wait()
        await wait_flags(ports, [None, True], timeout=15)  # how soon: bench/failover.py
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
