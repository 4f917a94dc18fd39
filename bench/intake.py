"""Intake cost per conversation step, against a bare echo bot on the same path.

Plays N complete report conversations (11 updates each: /start, /report, what,
pin, when, agents, vehicles, markings, details, skip photo, submit) through the
application's update processor and `Application.process_update` with an offline request,
and the same number of text updates through an echo bot. Sereno runs with its real
persistence (each person's state read before and written after every step; on SQLite read
once) on SQLite and on PostgreSQL. One conversation at a time: no step shares a database
round trip with another (the worst case for the per-step cost).

    python bench/intake.py [--conversations N] [--databases sqlite,postgres] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters  # noqa: E402

from bench.offline import OfflineRequest  # noqa: E402
from sereno.bootstrap import build_runtime, close_runtime  # noqa: E402
from sereno.config import Settings  # noqa: E402
from sereno.storage.admin import replace_neighborhoods  # noqa: E402
from sereno.storage.scratch import scratch_database  # noqa: E402
from sereno.verify.places import parse_geojson  # noqa: E402

DEMO_REGION = Path(__file__).resolve().parents[1] / "sereno" / "data" / "demo_region.geojson"
PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
STEPS_PER_CONVERSATION = 11


def message(update_id: int, user: int, text: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "text": text,
        "chat": {"id": user, "type": "private", "first_name": "U"},
        "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": "en"},
    }
    if text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    body.update(extra)
    return {"update_id": update_id, "message": body}


def press(update_id: int, user: int, request: OfflineRequest, suffix: str) -> dict[str, Any]:
    """A press on the button whose callback data ends with `suffix`, on the last message
    with buttons the bot sent to `user`."""
    shown = request.last_keyboard[user]
    data = next(
        b["callback_data"]
        for row in shown["reply_markup"]["inline_keyboard"]
        for b in row
        if b.get("callback_data", "").endswith(suffix)
    )
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "chat_instance": str(user),
            "data": data,
            "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": "en"},
            "message": shown,
        },
    }


async def sereno_conversation(app: Application, request: OfflineRequest, user: int, ids: Callable[[], int]) -> None:  # type: ignore[type-arg]
    async def send(update: dict[str, Any]) -> None:
        # the path of a real update: the update processor (per-chat order, the person's
        # stored state read before and written after), then the handlers
        parsed = Update.de_json(update, app.bot)
        await app.update_processor.process_update(parsed, app.process_update(parsed))

    await send(message(ids(), user, "/start"))  # greeted in the app's language (en)
    await send(message(ids(), user, "/report"))
    await send(press(ids(), user, request, ":activity:checkpoint"))
    await send(message(ids(), user, "", location={"latitude": 34.0565, "longitude": -118.2577}))
    for suffix in (":when:now", ":agents:3-5", ":vehicles:2-3", ":uniform:ice"):
        await send(press(ids(), user, request, suffix))
    await send(message(ids(), user, "Two unmarked SUVs near the bus stop"))
    await send(press(ids(), user, request, ":skip:photo"))
    await send(press(ids(), user, request, ":do:submit"))


async def bench_sereno(kind: str, conversations: int) -> float:
    """Updates per second of Sereno on database `kind`."""
    async with scratch_database(kind, PG_ADMIN_URL) as url:
        settings = Settings(
            _env_file=None,
            telegram_token="1:bench",
            hmac_key="bench-key-" + "x" * 32,
            database_url=url,
            reports_per_window=1000,
            flood_max_updates=10_000,
        )
        await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text()))
        request = OfflineRequest()
        runtime = await build_runtime(settings, request=request, updates_request=OfflineRequest(), limit_sends=False)
        app = runtime.application
        await app.initialize()
        await app.start()
        counter = iter(range(1, 10**9))
        try:
            started = time.perf_counter()
            for n in range(conversations):
                await sereno_conversation(app, request, 10_000 + n, lambda: next(counter))
                await asyncio.sleep(0)
            await app.update_persistence()
            await app.persistence.flush()  # type: ignore[union-attr]
            elapsed = time.perf_counter() - started
            async with runtime.engine.connect() as conn:
                stored = (await conn.execute(text("SELECT count(*) FROM report"))).scalar_one()
            assert stored == conversations, f"{stored} reports stored, expected {conversations}"
        finally:
            await app.stop()
            await app.shutdown()
            await close_runtime(runtime)
        return conversations * STEPS_PER_CONVERSATION / elapsed


async def bench_echo(updates: int) -> float:
    """Updates per second of a bare echo bot on the same path."""
    app = ApplicationBuilder().token("1:bench").request(OfflineRequest()).get_updates_request(OfflineRequest()).build()

    async def echo(update: Update, _context: Any) -> None:
        await update.effective_chat.send_message(update.effective_message.text)  # type: ignore[union-attr]

    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.start()
    try:
        started = time.perf_counter()
        for n in range(updates):
            await app.process_update(Update.de_json(message(n + 1, 10_000 + n % 500, f"hello {n}"), app.bot))
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - started
    finally:
        await app.stop()
        await app.shutdown()
    return updates / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5, help="paired runs (echo then Sereno) per database")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--profile", action="store_true", help="print where Sereno's time goes (cProfile)")
    args = parser.parse_args()
    targets = {"sqlite": 3.0, "postgres": 5.0}
    updates = args.conversations * STEPS_PER_CONVERSATION
    print(
        f"{args.conversations} conversations × {STEPS_PER_CONVERSATION} updates; each round runs the echo bot "
        "then Sereno, so both see the same machine load"
    )
    for kind in args.databases.split(","):
        await bench_sereno(kind, 20)  # warm-up: imports, caches, first connections
        ratios = []
        for n in range(1, args.rounds + 1):
            echo_rate = await bench_echo(updates)
            sereno_rate = await bench_sereno(kind, args.conversations)
            ratios.append(echo_rate / sereno_rate)
            print(
                f"  {kind:8} round {n}: echo {echo_rate:6.0f} updates/s   sereno {sereno_rate:6.0f} updates/s   "
                f"ratio {ratios[-1]:4.2f}x"
            )
        ratio = statistics.median(ratios)
        verdict = "meets" if ratio <= targets[kind] else "MISSES"
        print(
            f"{kind:8} cost ratio (median of {args.rounds}) {ratio:4.2f}x echo — {verdict} the "
            f"{targets[kind]:.0f}x target (range {min(ratios):.2f}–{max(ratios):.2f})"
        )
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await bench_sereno(kind, args.conversations)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    asyncio.run(main())
