"""Webhook throughput: Sereno against PTB's own webhook echo bot, measured in the same run.

The Bot API double runs in its own process (it stands for Telegram: it receives every reply).
Each bot runs in this process behind its webhook: (a) PTB's `Updater.start_webhook` with an
echo handler (one sendMessage per message — the floor of what any bot costs), (b) Sereno's
`sereno run --webhook` server doing real work: /start, /help (reads the person's
subscriptions), /rights and /lawyer per person, with its database-backed persistence, send
gate and metrics. Clients post the updates over HTTP at increasing concurrency (each client
plays whole people, in order); a run ends when the double has received every reply.

Printed per concurrency: updates/s (updates ÷ seconds until the last reply arrived), p99 of
the webhook's HTTP answer, and Sereno's throughput ÷ the echo bot's. Target: ≥ 0.7.

    python bench/webhook.py [--people 200] [--concurrency 4,16,64] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from sereno.bootstrap import running_bot  # noqa: E402
from sereno.config import Settings  # noqa: E402
from sereno.double import BotApiDouble  # noqa: E402
from sereno.storage.admin import replace_neighborhoods  # noqa: E402
from sereno.storage.scratch import scratch_database  # noqa: E402
from sereno.verify.places import parse_geojson  # noqa: E402

TOKEN = "777:BENCH-WEBHOOK"
SECRET = "bench_secret"
REGION = Path(__file__).resolve().parents[1] / "sereno" / "data" / "demo_region.geojson"
PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
COMMANDS = ("/start", "/help", "/rights", "/lawyer")
FIRST_USER = 5_000_000
TARGET = 0.7


# ── the double, in its own process ────────────────────────────────────────────────────
async def _serve(conn: Connection, people: int) -> None:
    async with BotApiDouble(TOKEN) as api:
        for n in range(people):
            api.add_chat(FIRST_USER + n)
        conn.send(api.api_url)
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            if command == "count":
                conn.send(sum(1 for c in api.calls if c.method == "sendMessage" and c.status == 200))
            elif command == "reset":
                api.calls.clear()
                conn.send(True)


def serve_double(conn: Connection, people: int) -> None:
    asyncio.run(_serve(conn, people))


# ── load ──────────────────────────────────────────────────────────────────────────────
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message_update(update_id: int, user: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": user, "type": "private", "first_name": "P"},
            "from": {"id": user, "is_bot": False, "first_name": "P", "language_code": "en"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


async def load(url: str, people: list[int], concurrency: int, first_id: int, conn: Connection) -> tuple[float, float]:
    """Post every person's updates (`concurrency` clients); (updates/s, p99 ms of the answer)."""
    expected = len(people) * len(COMMANDS)
    await asyncio.to_thread(conn.send, "reset")
    await asyncio.to_thread(conn.recv)
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for person in people:
        queue.put_nowait(person)
    ids = iter(range(first_id, first_id + expected))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def client() -> None:
            while not queue.empty():
                person = queue.get_nowait()
                for command in COMMANDS:
                    started = time.perf_counter()
                    async with session.post(url, json=message_update(next(ids), person, command), headers=headers) as response:
                        assert response.status == 200, response.status
                    latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        while True:
            await asyncio.to_thread(conn.send, "count")
            if await asyncio.to_thread(conn.recv) >= expected:
                break
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
    return expected / seconds, statistics.quantiles(latencies, n=100)[98] * 1000


# ── the two bots ──────────────────────────────────────────────────────────────────────
@asynccontextmanager
async def echo_bot(api_url: str, port: int) -> AsyncIterator[str]:
    """PTB's webhook server with an echo handler."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        await context.bot.do_api_request(
            "sendmessage", api_kwargs={"chat_id": update.effective_chat.id, "text": update.effective_message.text}
        )

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .concurrent_updates(True)
        .build()
    )
    app.add_handler(MessageHandler(filters.ALL, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            secret_token=SECRET,
            webhook_url="https://bench.example.org/telegram",
        )
        try:
            yield f"http://127.0.0.1:{port}/telegram"
        finally:
            await app.updater.stop()
            await app.stop()


@asynccontextmanager
async def sereno_bot(api_url: str, port: int, database: str) -> AsyncIterator[str]:
    async with scratch_database(database, PG_ADMIN_URL) as url:
        if database == "postgres":
            from sereno.storage.admin import migrate

            await migrate(url)
        await replace_neighborhoods(url, parse_geojson(REGION.read_text()))
        settings = Settings(
            _env_file=None,
            telegram_token=TOKEN,
            telegram_api_url=api_url,
            database_url=url,  # type: ignore[call-arg]
            hmac_key="bench-webhook-key-" + "x" * 32,
            webhook_secret=SECRET,
            web_host="127.0.0.1",
            web_port=port,
            send_per_second=1000,
            flood_max_updates=10_000,
            hotline="555-0100",
        )
        async with running_bot(settings, webhook=True):
            yield f"http://127.0.0.1:{port}/telegram"


async def bench(api_url: str, conn: Connection, people: int, levels: list[int], database: str) -> bool:
    users = [FIRST_USER + n for n in range(people)]
    results: dict[str, dict[int, tuple[float, float]]] = {}
    bots: dict[str, Callable[[], Any]] = {
        "PTB echo (run_webhook)": lambda: echo_bot(api_url, free_port()),
        f"Sereno ({database})": lambda: sereno_bot(api_url, free_port(), database),
    }
    next_id = 1
    for name, make in bots.items():
        results[name] = {}
        async with make() as url:
            await load(url, users[:20], 4, next_id, conn)  # warm-up
            next_id += 20 * len(COMMANDS)
            for level in levels:
                results[name][level] = await load(url, users, level, next_id, conn)
                next_id += people * len(COMMANDS)
                rate, p99 = results[name][level]
                print(f"  {name:28} concurrency {level:3}: {rate:7.0f} updates/s, p99 answer {p99:6.1f} ms")
    echo, ours = results.values()
    ok = True
    for level in levels:
        ratio = ours[level][0] / echo[level][0]
        ok = ok and ratio >= TARGET
        print(
            f"concurrency {level:3}: Sereno {ours[level][0]:.0f} vs echo {echo[level][0]:.0f} updates/s → "
            f"{ratio:.2f}x ({'meets' if ratio >= TARGET else 'MISSES'} ≥ {TARGET}); p99 {ours[level][1]:.1f} ms "
            f"vs {echo[level][1]:.1f} ms"
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--concurrency", default="4,16,64")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",")]
    print(
        f"Webhook benchmark: {args.people} people × {len(COMMANDS)} updates per concurrency level; "
        "the Bot API double in its own process"
    )
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_double, args=(child, args.people), daemon=True)
    server.start()
    try:
        if not parent.poll(60):
            raise SystemExit("the Bot API double did not start")
        ok = asyncio.run(bench(parent.recv(), parent, args.people, levels, args.database))
        parent.send("stop")
    finally:
        server.join(10)
        if server.is_alive():
            server.terminate()
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
