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
        await user.wait_text("Welcome to Sereno", timeout=30)
        assert {c["command"] for c in double.commands()} >= {"report", "lawyer", "help", "language", "cancel"}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    logs = err.decode()
    assert "Sereno is running" in logs and "Traceback" not in logs
    assert TEST_TOKEN not in logs and TEST_HMAC_KEY not in logs


async def test_link_channel_from_the_command_line_checks_the_bots_rights(double: BotApiDouble, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(SERENO_TELEGRAM_TOKEN=TEST_TOKEN, SERENO_TELEGRAM_API_URL=double.api_url, SERENO_HMAC_KEY=TEST_HMAC_KEY,
               SERENO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}")

    async def sereno(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sereno", *args, env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode()

    assert (await sereno("admin", "import-neighborhoods", str(DEMO_REGION)))[0] == 0
    channel = -1_001_555_000
    assert await sereno("admin", "link-channel", "harbor-view", str(channel)) == (
        2, f"sereno: chat {channel} cannot be reached: add the bot to it first.\n")
    double.add_chat(channel, type="channel", title="Harbor View alerts")
    code, out = await sereno("admin", "link-channel", "harbor-view", str(channel))
    assert code == 2 and "needs to: be an administrator, post messages, edit messages" in out
    double.set_chat_member(channel, double.bot_user["id"], "administrator")
    code, out = await sereno("admin", "link-channel", "no-such-place", str(channel))
    assert code == 2 and "unknown neighborhood 'no-such-place'" in out and "Traceback" not in out
    code, out = await sereno("admin", "link-channel", "harbor-view", str(channel), "--language", "es")
    assert code == 0 and "Linked Harbor View alerts to harbor-view" in out
