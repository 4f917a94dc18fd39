"""Broadcast throughput under Telegram's limits, against the Bot API double enforcing them.

The double runs in its own process (as Telegram's servers would be elsewhere) with 10,000
subscribers' chats and 50 channels, and answers 429 to any send beyond its limits (sliding
windows: overall per second, 1 per second per private chat, 20 per minute per channel).
The benchmark queues one alert through the real publisher (one outbox row per target,
written in one transaction) and runs the real broadcaster, configured with the same
limits, until the outbox is drained. Two runs:

  (a) Telegram's ordinary limit, 30 msg/s, for 600 messages (550 subscribers, 50 channels);
  (b) the paid-broadcast ceiling, 1,000 msg/s, for the whole fan-out (10,050 messages).

Each prints the rate the double saw (messages ÷ time from its first to its last accepted
send), that rate ÷ the configured limit, and the number of 429 answers. Target: ≥ 0.93
and 0 in both runs.

    python bench/broadcast.py [--database sqlite|postgres] [--runs a,b]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402
from telegram import Bot  # noqa: E402

from sereno.bot.aiohttp_request import AiohttpRequest  # noqa: E402
from sereno.bot.alert_render import AlertRenderer  # noqa: E402
from sereno.bot.broadcaster import Broadcaster  # noqa: E402
from sereno.double import BotApiDouble  # noqa: E402
from sereno.storage.admin import replace_neighborhoods  # noqa: E402
from sereno.storage.alert_repositories import CHANNEL, SUBSCRIBER, SUBSCRIPTION  # noqa: E402
from sereno.storage.engine import make_engine  # noqa: E402
from sereno.storage.migrate import upgrade  # noqa: E402
from sereno.storage.scratch import scratch_database  # noqa: E402
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory  # noqa: E402
from sereno.verify.alerts import AlertPolicy  # noqa: E402
from sereno.verify.clock import SystemClock  # noqa: E402
from sereno.verify.incidents import Incident, IncidentStatus, Verdict  # noqa: E402
from sereno.verify.limits import SendGate, SendLimits  # noqa: E402
from sereno.verify.model import Activity, GeoPoint, Tier  # noqa: E402
from sereno.verify.outbox import OutboxService  # noqa: E402
from sereno.verify.places import Gazetteer, parse_geojson  # noqa: E402
from sereno.verify.publishing import Publisher  # noqa: E402
from sereno.verify.resources import Hotline, Resources  # noqa: E402

TOKEN = "555:BENCH-BROADCAST"
REGION = Path(__file__).resolve().parents[1] / "sereno" / "data" / "demo_region.geojson"
PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SUBSCRIBERS = 10_000
CHANNELS = 50
FIRST_CHANNEL = -1_002_000_000
TARGET = 0.93


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    rate: float
    subscribers: int


RUNS = {"a": Run("(a) ordinary limit", 30, 550), "b": Run("(b) paid-broadcast ceiling", 1000, SUBSCRIBERS)}


# ── the double, in its own process ────────────────────────────────────────────────────
async def _serve(conn: Connection, rate: int) -> None:
    async with BotApiDouble(TOKEN) as api:
        for chat in range(1, SUBSCRIBERS + 1):
            api.add_chat(chat)
        for n in range(CHANNELS):
            api.add_chat(FIRST_CHANNEL - n, type="channel", title=f"Channel {n}")
        api.enforce_limits(global_per_second=rate, private_per_second=1, group_per_minute=20)
        conn.send(api.api_url)
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert command == "stats"
            sends = [c.at for c in api.calls_to("sendMessage") if c.status == 200]
            conn.send((sends, api.count_429))


def serve_double(conn: Connection, rate: int) -> None:
    """Child process: the double with every chat, enforcing `rate` overall."""
    asyncio.run(_serve(conn, rate))


# ── the broadcast, in this process ────────────────────────────────────────────────────
async def prepare(url: str, subscribers: int) -> int:
    """Migrate, load the region, subscribe and link, queue one alert; how many messages."""
    engine = make_engine(url)
    try:
        await upgrade(engine)
        await replace_neighborhoods(url, parse_geojson(REGION.read_text()))
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                insert(SUBSCRIBER),
                [
                    {"chat_id": c, "language": "es" if c % 3 == 0 else "en", "active": True, "since": now}
                    for c in range(1, subscribers + 1)
                ],
            )
            await conn.execute(
                insert(SUBSCRIPTION), [{"chat_id": c, "neighborhood_id": "harbor-view"} for c in range(1, subscribers + 1)]
            )
            await conn.execute(
                insert(CHANNEL),
                [
                    {
                        "neighborhood_id": "harbor-view",
                        "chat_id": FIRST_CHANNEL - n,
                        "title": f"Channel {n}",
                        "language": "en",
                        "linked_at": now,
                    }
                    for n in range(CHANNELS)
                ],
            )
        gazetteer = Gazetteer(parse_geojson(REGION.read_text()))
        async with SqlUnitOfWorkFactory(engine)() as uow:
            incident = Incident(
                "bench-incident",
                IncidentStatus.DECIDED,
                Tier.URGENT,
                Activity.PRESENCE,
                "harbor-view",
                GeoPoint(34.0387, -118.2799),
                None,
                now,
                now,
                3,
            )
            await uow.incidents.add(incident)
            started = time.perf_counter()
            published = await Publisher(AlertPolicy(), gazetteer.adjacent).on_decided(uow, incident, Verdict.CONFIRMED, 2, now)
            await uow.commit()
        assert published is not None
        print(
            f"  queued {published.queued:,} outbox messages with the verdict in {(time.perf_counter() - started) * 1000:.0f} ms"
        )
        return published.queued
    finally:
        await engine.dispose()


async def broadcast(url: str, api_url: str, rate: float, expected: int) -> float:
    """Run the broadcaster until the outbox is drained; seconds taken."""
    engine = make_engine(url)
    clock = SystemClock()
    outbox = OutboxService(SqlUnitOfWorkFactory(engine), clock)
    gazetteer = Gazetteer(parse_geojson(REGION.read_text()))
    limits = SendLimits(overall_per_second=rate)
    bot = Bot(
        TOKEN,
        base_url=f"{api_url}/bot",
        base_file_url=f"{api_url}/file/bot",
        request=AiohttpRequest(connection_pool_size=limits.max_in_flight),
    )
    broadcaster = Broadcaster(outbox, bot, AlertRenderer(gazetteer, Resources(Hotline("555-0100")), UTC), SendGate(limits), clock)
    started = time.perf_counter()
    await broadcaster.start()
    try:
        while broadcaster.counters.sent + broadcaster.counters.failed < expected or await outbox.backlog():
            await asyncio.sleep(0.05)
    finally:
        await broadcaster.stop()
        await engine.dispose()
    assert broadcaster.counters.failed == 0, broadcaster.counters
    return time.perf_counter() - started


async def one_run(run: Run, database: str) -> bool:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_double, args=(child, int(run.rate)), daemon=True)
    server.start()
    try:
        if not parent.poll(60):
            raise SystemExit("the Bot API double did not start")
        api_url = parent.recv()
        async with scratch_database(database, PG_ADMIN_URL) as url:
            expected = await prepare(url, run.subscribers)
            seconds = await broadcast(url, api_url, run.rate, expected)
        parent.send("stats")
        sends, throttled = parent.recv()
        parent.send("stop")
    finally:
        server.join(10)
        if server.is_alive():
            server.terminate()
    achieved = (len(sends) - 1) / (max(sends) - min(sends))
    ratio = achieved / run.rate
    ok = ratio >= TARGET and throttled == 0 and len(sends) == expected
    print(
        f"{run.name}: {len(sends):,} messages accepted by the double in {max(sends) - min(sends):.2f} s "
        f"({seconds:.2f} s with start-up and draining); {achieved:,.1f} msg/s against a limit of "
        f"{run.rate:,.0f} → ratio {ratio:.3f}; 429 answers: {throttled} — "
        + ("meets" if ok else "MISSES")
        + f" the ≥ {TARGET} and 0 target"
    )
    return ok


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--runs", default="a,b", help="which runs: a, b or a,b")
    args = parser.parse_args()
    print(
        f"Broadcast benchmark on {args.database}: {CHANNELS} channels, up to {SUBSCRIBERS:,} subscribers; "
        "the double enforces the limits in its own process"
    )
    results = [await one_run(RUNS[name.strip()], args.database) for name in args.runs.split(",")]
    if not all(results):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
