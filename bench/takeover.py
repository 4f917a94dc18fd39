"""Leader takeover on PostgreSQL: how long until another replica leads, and how many 429s
Telegram answers after it, with two real `sereno run --webhook` replicas and the Bot API
double enforcing Telegram's limits (30 msg/s overall, 1 a second per person, 20 a minute
per channel). Three takeovers, each in the middle of a broadcast:

  kill       the leader is SIGKILLed (its lease runs out: the reference figure);
  partition  the leader's packets to PostgreSQL silently vanish (a TCP proxy in drop mode,
             no reset): it must step down, and the other lead, within 15 s;
  hand-over  the leader is stopped (SIGTERM, a rolling restart) right after filling a
             channel's minute: the new leader must not post to it before the minute frees.

Each prints the seconds to the new leader, the 429s after the takeover and the duplicate
deliveries. Targets: partition ≤ 15 s; 0 × 429 after every takeover.

    python bench/takeover.py [--runs kill,partition,hand-over]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sereno.double import BotApiDouble  # noqa: E402
from sereno.storage.admin import migrate, replace_neighborhoods  # noqa: E402
from sereno.storage.scratch import scratch_database  # noqa: E402
from sereno.verify.places import parse_geojson  # noqa: E402
from tests.bot.conftest import database_rows  # noqa: E402
from tests.bot.test_broadcast_crash import deliveries, queue_alert  # noqa: E402
from tests.bot.test_leadership import (  # noqa: E402
    queue_channel_alerts,
    replica_env,
    replicas,
    wait_flags,
)
from tests.bot.test_webhook import free_port  # noqa: E402
from tests.conftest import DEMO_REGION, TEST_TOKEN  # noqa: E402
from tests.tcp_proxy import TcpProxy  # noqa: E402

PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SUBSCRIBERS = 600
CHANNEL = -1_001_000_001
TARGET_SECONDS = 15.0


async def drained(url: str, total: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = await database_rows(url, "SELECT count(*) AS n FROM outbox WHERE state = 'sent'")
        if int(rows[0]["n"]) >= total or time.monotonic() > deadline:  # type: ignore[call-overload]
            return
        await asyncio.sleep(0.5)


async def broadcast_takeover(run: str, url: str, logs: Path) -> None:
    """The kill or partition run: a broadcast to SUBSCRIBERS people and a channel."""
    async with BotApiDouble(TEST_TOKEN) as double, TcpProxy() as proxy:
        for chat in range(1, SUBSCRIBERS + 1):
            double.add_chat(chat)
        double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
        double.enforce_limits()
        ports = [free_port(), free_port()]
        envs = [replica_env(double, proxy.url(url), ports[0]), replica_env(double, url, ports[1])]
        async with replicas(envs, logs) as processes:
            await queue_alert(url, SUBSCRIBERS, CHANNEL)
            await double.wait_until(
                lambda: sum(deliveries(double, SUBSCRIBERS, CHANNEL).values()) >= SUBSCRIBERS // 3,
                timeout=120,
                description="a third of the broadcast",
            )
            if run == "kill":
                processes[0].send_signal(signal.SIGKILL)
            else:
                proxy.drop()
            started, before = time.monotonic(), double.count_429
            await wait_flags(ports[1:], [True], timeout=60)
            took = time.monotonic() - started
            await drained(url, SUBSCRIBERS + 1)
            proxy.heal()
        counts = deliveries(double, SUBSCRIBERS, CHANNEL)
        duplicates = sum(n - 1 for n in counts.values())
        missing = SUBSCRIBERS + 1 - len(counts)
    target = f"target ≤ {TARGET_SECONDS:.0f} s" if run == "partition" else "reference"
    print(
        f"{run:>10}: new leader after {took:5.1f} s ({target}); 429s after it {double.count_429 - before} "
        f"(target 0); duplicates {duplicates}, missing {missing}"
    )


async def hand_over(url: str, logs: Path) -> None:
    """The hand-over run: the leader fills a channel's minute, then stops."""
    async with BotApiDouble(TEST_TOKEN) as double:
        double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
        double.enforce_limits()
        ports = [free_port(), free_port()]
        async with replicas([replica_env(double, url, port) for port in ports], logs) as processes:
            await queue_channel_alerts(url, CHANNEL, range(0, 3))
            await double.wait_until(
                lambda: deliveries(double, 0, CHANNEL)[CHANNEL] >= 20, timeout=60, description="the channel's minute filled"
            )
            processes[0].send_signal(signal.SIGTERM)
            started, before = time.monotonic(), double.count_429
            await wait_flags(ports[1:], [True], timeout=60)
            took = time.monotonic() - started
            await queue_channel_alerts(url, CHANNEL, range(3, 4))
            await asyncio.sleep(70)  # the minute frees: the held posts go out
            posts = deliveries(double, 0, CHANNEL)[CHANNEL]
    print(
        f"{'hand-over':>10}: new leader after {took:5.2f} s; 429s after it {double.count_429 - before} (target 0); "
        f"channel posts {posts} of 28"
    )


async def main(runs: list[str]) -> None:
    for run in runs:
        async with scratch_database("postgres", PG_ADMIN_URL) as url:
            await migrate(url)
            await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text()))
            with tempfile.TemporaryDirectory() as logs:
                if run == "hand-over":
                    await hand_over(url, Path(logs))
                else:
                    await broadcast_takeover(run, url, Path(logs))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="kill,partition,hand-over")
    asyncio.run(main(parser.parse_args().runs.split(",")))
