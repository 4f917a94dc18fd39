"""Load: 500 people reporting at once through the webhook.

Sereno runs `sereno run --webhook` (its aiohttp server) on a scratch database; the Bot API
double plays Telegram and POSTs every update to the webhook with the secret token, as
Telegram does. 500 simulated people each complete a whole report concurrently (/report,
the activity, a location, six skips, Submit). Afterwards every report must be stored once
(no loss, no duplicate). Printed: reports stored, duplicates, and the p50/p99 of a step
(from a person's action to the bot's answer appearing at the double) and the wall time.
The people, the double and the bot share this process and two cores: the latencies show
the whole machine under load.

    python bench/load.py [--people 500] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from sereno.bootstrap import running_bot  # noqa: E402
from sereno.config import Settings  # noqa: E402
from sereno.double import BotApiDouble, FakeUser  # noqa: E402
from sereno.storage.admin import replace_neighborhoods  # noqa: E402
from sereno.storage.scratch import scratch_database  # noqa: E402
from sereno.verify.places import parse_geojson  # noqa: E402

REGION = Path(__file__).resolve().parents[1] / "sereno" / "data" / "demo_region.geojson"
PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "888:BENCH-LOAD"
SECRET = "bench_load_secret"
STEP_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def step(user: FakeUser, action: object, expect: str, latencies: list[float]) -> None:
    started = time.perf_counter()
    await action  # type: ignore[misc]
    await user.wait_text(expect, timeout=STEP_TIMEOUT)
    latencies.append(time.perf_counter() - started)


async def one_report(user: FakeUser, n: int, latencies: list[float]) -> None:
    await step(user, user.send_command("/report"), "What is happening?", latencies)
    await step(user, user.press("Agents present or gathering"), "Where is it happening?", latencies)
    await step(user, user.share_location(34.02 + (n % 25) * 0.002, -118.30 + (n // 25) * 0.005), "When did you", latencies)
    for expect in (
        "How many agents",
        "How many vehicles",
        "What markings",
        "Anything else",
        "send a photo",
        "Please check your report",
    ):
        await step(user, user.press("Skip"), expect, latencies)
    await step(user, user.press("✅ Submit"), "Report received", latencies)


async def bench(people: int, database: str) -> bool:
    async with scratch_database(database, PG_ADMIN_URL) as url:
        if database == "postgres":
            from sereno.storage.admin import migrate

            await migrate(url)
        await replace_neighborhoods(url, parse_geojson(REGION.read_text()))
        async with BotApiDouble(TOKEN) as double:
            port = free_port()
            settings = Settings(
                _env_file=None,
                telegram_token=TOKEN,
                telegram_api_url=double.api_url,  # type: ignore[call-arg]
                database_url=url,
                hmac_key="bench-load-key-" + "x" * 32,
                webhook_secret=SECRET,
                web_host="127.0.0.1",
                web_port=port,
                send_per_second=1000,
                reports_per_window=10,
                flood_max_updates=200,
                hotline="555-0100",
            )
            async with running_bot(settings, webhook=True) as runtime:
                double.deliver_webhook_to(f"http://127.0.0.1:{port}/telegram", SECRET)
                users = [double.user(2_000_000 + n, f"P{n}", "en") for n in range(people)]
                latencies: list[float] = []
                started = time.perf_counter()
                await asyncio.gather(*(one_report(user, n, latencies) for n, user in enumerate(users)))
                wall = time.perf_counter() - started
                async with runtime.engine.connect() as conn:
                    stored = (await conn.execute(text("SELECT count(*) FROM report"))).scalar_one()
                    distinct = (await conn.execute(text("SELECT count(DISTINCT draft_id) FROM report"))).scalar_one()
                refused = sum(1 for status in double.webhook_answers if status != 200)
    p = statistics.quantiles(latencies, n=100)
    ok = stored == people and distinct == stored and refused == 0
    print(
        f"{database}: {people} people reporting at once through the webhook: {stored} reports stored, "
        f"{stored - distinct} duplicated, {people - stored} lost; {len(latencies):,} steps: "
        f"p50 {p[49] * 1000:.0f} ms, p99 {p[98] * 1000:.0f} ms; wall {wall:.1f} s; webhook answers other than "
        f"200: {refused} — " + ("all stored once" if ok else "FAILED")
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    if not asyncio.run(bench(args.people, args.database)):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
