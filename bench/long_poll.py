"""The Bot API double's long polling: how soon a waiting getUpdates answers a new update.

In one run, N times each: (a) a getUpdates round trip when the update is already queued
(the floor: HTTP and JSON only), (b) a long poll (timeout 60 s) already waiting when the
update is pushed, timed from the push to the answer. Also one empty long poll with a
0.3 s timeout, timed to its answer. Printed: median and p99 of (a) and (b), and (b) ÷ (a).
Targets: a waiting poll answers within 1.5 s (p99); the empty poll answers within 0.25–1.5 s.

    python bench/long_poll.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from sereno.double import BotApiDouble  # noqa: E402

TOKEN = "666:BENCH-POLL"
TARGET_WAKE_S = 1.5
EMPTY_TIMEOUT_S, EMPTY_RANGE_S = 0.3, (0.25, 1.5)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def update(n: int) -> dict[str, Any]:
    return {"message": {"message_id": n, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "x"}}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    async with BotApiDouble(TOKEN) as double, aiohttp.ClientSession() as http:
        url = f"{double.api_url}/bot{TOKEN}/getUpdates"
        offset = 0

        async def poll(timeout: float) -> list[dict[str, Any]]:
            async with http.post(url, json={"timeout": timeout, "offset": offset}) as resp:
                return (await resp.json())["result"]

        queued, woken = [], []
        for n in range(args.rounds):
            update_id = double.push_update(update(2 * n))
            began = time.perf_counter()
            assert [u["update_id"] for u in await poll(60)] == [update_id]
            queued.append(time.perf_counter() - began)
            offset = update_id + 1

            waiting = asyncio.create_task(poll(60))
            await double.wait_until(lambda: double.active_polls > 0)
            began = time.perf_counter()
            update_id = double.push_update(update(2 * n + 1))
            assert [u["update_id"] for u in await waiting] == [update_id]
            woken.append(time.perf_counter() - began)
            offset = update_id + 1

        began = time.perf_counter()
        assert await poll(EMPTY_TIMEOUT_S) == []
        empty = time.perf_counter() - began

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:6.2f} ms, p99 {p99(values) * 1000:6.2f} ms"

    print(f"{args.rounds} rounds")
    print(f"  (a) getUpdates, update already queued:       {ms(queued)}")
    print(f"  (b) waiting long poll, from push to answer:  {ms(woken)}")
    ratio = statistics.median(woken) / statistics.median(queued)
    verdict = "meets" if p99(woken) < TARGET_WAKE_S else "MISSES"
    print(
        f"a waiting poll answers in {ratio:.2f}x the time of a whole round trip (medians) — {verdict} the "
        f"{TARGET_WAKE_S} s target (p99)"
    )
    low, high = EMPTY_RANGE_S
    verdict = "meets" if low <= empty < high else "MISSES"
    print(f"an empty poll with a {EMPTY_TIMEOUT_S} s timeout answered after {empty:.3f} s — {verdict} the {low}–{high} s target")


if __name__ == "__main__":
    asyncio.run(main())
