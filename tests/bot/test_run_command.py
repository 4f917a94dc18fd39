"""`sereno run` as a real process: migrates its SQLite database, answers through the
configured Bot API URL, tells systemd it is ready and pings its watchdog, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from sereno.double import BotApiDouble
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY, TEST_TOKEN


async def next_notification(sock: socket.socket) -> bytes:
    return await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, 4096), timeout=30)


async def test_run_polls_the_configured_api_tells_systemd_and_stops_on_sigterm(double: BotApiDouble, tmp_path: Path) -> None:
    notifications = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd's NOTIFY_SOCKET
    notifications.bind(str(tmp_path / "notify"))
    notifications.setblocking(False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERENO_", "NOTIFY_", "WATCHDOG_"))}
    env.update(
        SERENO_TELEGRAM_TOKEN=TEST_TOKEN,
        SERENO_TELEGRAM_API_URL=double.api_url,
        SERENO_HMAC_KEY=TEST_HMAC_KEY,
        SERENO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        SERENO_HOTLINE="555-0100",
        NOTIFY_SOCKET=str(tmp_path / "notify"),
        WATCHDOG_USEC="200000",  # a ping every 0.1 s
    )
    admin = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sereno", "admin", "import-neighborhoods", str(DEMO_REGION), env=env, cwd=tmp_path
    )
    assert await admin.wait() == 0
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sereno",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        user = double.user(7_000_001, "Ana", "en")
        await user.send_command("/start")
        await user.wait_text("Welcome to Sereno", timeout=30)
        assert {c["command"] for c in double.commands()} >= {"report", "lawyer", "help", "language", "cancel"}
        assert await next_notification(notifications) == b"READY=1"
        assert await next_notification(notifications) == b"WATCHDOG=1"
        assert await next_notification(notifications) == b"WATCHDOG=1"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    told = []
    while True:
        try:
            told.append(notifications.recv(4096))
        except BlockingIOError:
            break
    notifications.close()
    assert process.returncode == 0, err.decode()
    assert told[-1] == b"STOPPING=1" and set(told[:-1]) <= {b"WATCHDOG=1"}
    logs = err.decode()
    assert "Sereno is running" in logs and "Traceback" not in logs
    assert TEST_TOKEN not in logs and TEST_HMAC_KEY not in logs


async def test_link_channel_from_the_command_line_checks_the_bots_rights(double: BotApiDouble, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(
        SERENO_TELEGRAM_TOKEN=TEST_TOKEN,
        SERENO_TELEGRAM_API_URL=double.api_url,
        SERENO_HMAC_KEY=TEST_HMAC_KEY,
        SERENO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
    )

    async def sereno(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sereno",
            *args,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode()

    assert (await sereno("admin", "import-neighborhoods", str(DEMO_REGION)))[0] == 0
    channel = -1_001_555_000
    assert await sereno("admin", "link-channel", "harbor-view", str(channel)) == (
        2,
        f"sereno: chat {channel} cannot be reached: add the bot to it first.\n",
    )
    double.add_chat(channel, type="channel", title="Harbor View alerts")
    code, out = await sereno("admin", "link-channel", "harbor-view", str(channel))
    assert code == 2 and "needs to: be an administrator, post messages, edit messages" in out
    double.set_chat_member(channel, double.bot_user["id"], "administrator")
    code, out = await sereno("admin", "link-channel", "no-such-place", str(channel))
    assert code == 2 and "unknown neighborhood 'no-such-place'" in out and "Traceback" not in out
    code, out = await sereno("admin", "link-channel", "harbor-view", str(channel), "--language", "es")
    assert code == 0 and "Linked Harbor View alerts to harbor-view" in out


async def _failing_bot_api(answer: bytes) -> asyncio.Server:
    """A Bot API that answers every request with `answer` (raw bytes) and hangs up."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(answer)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(reply, "127.0.0.1", 0)


NOT_HTTP = b"NOT HTTP AT ALL\r\n\r\n"  # aiohttp's parse error quotes the request URL, token and all
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"  # PTB's InvalidToken quotes the token


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize(
    ("answer", "explained"),
    [
        (NOT_HTTP, "run failed: NetworkError: aiohttp.ClientResponseError: 400"),
        (NOT_FOUND, "run failed: InvalidToken: The token `[redacted]` was rejected by the server"),
    ],
    ids=["not-http", "not-found"],
)
async def test_a_failing_bot_api_is_explained_without_the_token_or_the_key(
    tmp_path: Path, log_format: str, answer: bytes, explained: str
) -> None:
    api = await _failing_bot_api(answer)
    port = api.sockets[0].getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(
        SERENO_TELEGRAM_TOKEN=TEST_TOKEN,
        SERENO_TELEGRAM_API_URL=f"http://127.0.0.1:{port}",
        SERENO_HMAC_KEY=TEST_HMAC_KEY,
        SERENO_LOG_FORMAT=log_format,
        SERENO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
    )
    try:
        for verbose in ((), ("-v",)):  # -v: the traceback is logged too
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sereno",
                *verbose,
                "run",
                env=env,
                cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), timeout=60)
            printed = out.decode() + err.decode()
            assert process.returncode == 1, printed
            assert explained in printed
            assert "Traceback" in printed if verbose else "Traceback" not in printed
            for secret in (TEST_TOKEN, TEST_HMAC_KEY, quote(TEST_TOKEN, safe="")):
                assert secret not in printed
    finally:
        api.close()
        await api.wait_closed()
