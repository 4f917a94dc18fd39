"""Leader failover: how soon a second `sereno run --webhook` replica takes the lead when the
leader is killed.

Two replicas run as their own processes on one scratch PostgreSQL database, against the
Bot API double; each one's /healthz says whether it leads (runs the jobs and the
broadcaster). Measured in the same run: (a) from starting the first replica to its leading
(start-up plus taking a free lead: the floor), (b) from SIGKILL of the leader to the other
one leading. Printed per round, then the medians and (b) ÷ (a). Target: (b) < 10 s.

    python bench/failover.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench.load import free_port  # noqa: E402
from sereno.double import BotApiDouble  # noqa: E402
from storage.admin import migrate  # noqa: E402
from storage.scratch import scratch_database  # noqa: E402

PG_ADMIN_URL = os.environ.get("SERENO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TOKEN = "999:BENCH-FAILOVER"
SECRET = "bench_failover_secret"
TARGET_S = 10.0
GIVE_UP_S = 60.0


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


async def seconds_until(ports: list[int], want: list[bool | None], since: float) -> float:
    """Seconds from `since` until the replicas report `want` (polled every 0.1 s)."""
    while (flags := await leader_flags(ports)) != want:
        if time.monotonic() - since > GIVE_UP_S:
            raise RuntimeError(f"the replicas report {flags}, not {want}, after {GIVE_UP_S:.0f} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - since


async def one_round(api_url: str, database_url: str, folder: str) -> tuple[float, float]:
    """(a) start to leading, (b) SIGKILL of the leader to the other one leading."""
    ports = [free_port(), free_port()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(SERENO_TELEGRAM_TOKEN=TOKEN, SERENO_TELEGRAM_API_URL=api_url, SERENO_HMAC_KEY="bench-" + "k" * 32,
               SERENO_DATABASE_URL=database_url, SERENO_WEBHOOK_SECRET=SECRET, SERENO_WEB_HOST="127.0.0.1")
    processes = []
    try:
        started = time.monotonic()
        for port in ports:
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sereno", "run", "--webhook", env={**env, "SERENO_WEB_PORT": str(port)},
                cwd=folder, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
            if port == ports[0]:
                first_leads = await seconds_until(ports[:1], [True], started)
        await seconds_until(ports, [True, False], time.monotonic())
        processes[0].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await processes[0].wait()
        takeover = await seconds_until(ports, [None, True], killed)
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
    return first_leads, takeover


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    starts, takeovers = [], []
    with tempfile.TemporaryDirectory() as folder:
        async with BotApiDouble(TOKEN) as double, scratch_database("postgres", PG_ADMIN_URL) as url:
            await migrate(url)
            for n in range(args.rounds):
                first, takeover = await one_round(double.api_url, url, folder)
                starts.append(first)
                takeovers.append(takeover)
                print(f"  round {n + 1}: (a) start to leading {first:5.1f} s   (b) kill to takeover {takeover:5.1f} s")
    start, takeover = statistics.median(starts), statistics.median(takeovers)
    verdict = "meets" if max(takeovers) < TARGET_S else "MISSES"
    print(f"failover (medians of {args.rounds}): (a) {start:.1f} s, (b) {takeover:.1f} s, (b) ÷ (a) "
          f"{takeover / start:.2f} — {verdict} the {TARGET_S:.0f} s target (every round)")


if __name__ == "__main__":
    asyncio.run(main())
