"""`sereno run` as a real process: migrates its SQLite database, answers through the
configured Bot API URL, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sereno.double import BotApiDouble
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY, TEST_TOKEN


async def test_run_polls_the_configured_api_and_stops_on_sigterm(double: BotApiDouble, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(
        SERENO_TELEGRAM_TOKEN=TEST_TOKEN,
        SERENO_TELEGRAM_API_URL=double.api_url,
        SERENO_HMAC_KEY=TEST_HMAC_KEY,
        SERENO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        SERENO_HOTLINE="555-0100",
    )
    admin = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sereno", "admin", "import-neighborhoods", str(DEMO_REGION), env=env, cwd=tmp_path)
    assert await admin.wait() == 0
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sereno", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        user = double.user(7_000_001, "Ana", "en")
        await user.send_command("/start")
        await user.wait_text("Please choose your language", timeout=30)
        assert {c["command"] for c in double.commands()} >= {"report", "lawyer", "help", "language", "cancel"}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    logs = err.decode()
    assert "Sereno is running" in logs and "Traceback" not in logs
    assert TEST_TOKEN not in logs and TEST_HMAC_KEY not in logs
