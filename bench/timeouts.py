"""How soon AiohttpRequest's timeouts fire, against servers that never answer in time.

A local server answers getMe only after 30 s; another accepts connections and never reads.
Timed, N times each: (a) a read timeout of 0.3 s set on the request, (b) the same given per
call over a 60 s default, (c) a 64 MiB upload to the server that never reads (connect 0.2 s,
write 0.3 s, read 0.3 s). Printed: the median and the slowest of each, and the median ÷ the
configured timeout. Targets: (a) and (b) under 2 s, (c) under 3 s (every round).

    python bench/timeouts.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.error import TimedOut  # noqa: E402

from sereno.bot.aiohttp_request import AiohttpRequest  # noqa: E402

TOKEN = "444:BENCH-TIMEOUTS"


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "S"}})


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    """Seconds until `call` raises TimedOut."""
    began = time.perf_counter()
    try:
        await asyncio.wait_for(call(), 10)
    except TimedOut:
        return time.perf_counter() - began
    raise RuntimeError("no timeout fired")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runner = web.AppRunner(web.Application())
    runner.app.router.add_post(f"/bot{TOKEN}/getMe", slow)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    slow_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    stalled: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)  # never read, never answer

    deaf = await asyncio.start_server(accept, "127.0.0.1", 0)
    deaf_url = f"http://127.0.0.1:{deaf.sockets[0].getsockname()[1]}"

    def bot(url: str, request: AiohttpRequest) -> Bot:
        return Bot(TOKEN, base_url=f"{url}/bot", request=request, get_updates_request=AiohttpRequest())

    cases: dict[str, tuple[float, float, Callable[[], Awaitable[object]]]] = {}
    results: dict[str, list[float]] = {}
    try:
        for _ in range(args.rounds):
            by_default = AiohttpRequest(read_timeout=0.3)
            per_call = AiohttpRequest(read_timeout=60)
            upload = AiohttpRequest(connect_timeout=0.2, read_timeout=0.3, media_write_timeout=0.3)
            cases = {
                "(a) read timeout on the request": (0.3, 2.0, bot(slow_url, by_default).get_me),
                "(b) read timeout per call": (
                    0.3,
                    2.0,
                    lambda per_call=per_call: bot(slow_url, per_call).get_me(read_timeout=0.3),
                ),
                "(c) stalled 64 MiB upload": (
                    0.3,
                    3.0,
                    lambda upload=upload: bot(deaf_url, upload).send_document(1, b"x" * (64 * 1024 * 1024), filename="big.bin"),
                ),
            }
            for name, (_, _, call) in cases.items():
                results.setdefault(name, []).append(await timed(call))
            for request in (by_default, per_call, upload):
                await request.shutdown()
    finally:
        for writer in stalled:
            writer.close()
        deaf.close()
        await runner.cleanup()
    for name, (configured, target, _) in cases.items():
        values = results[name]
        verdict = "meets" if max(values) < target else "MISSES"
        print(
            f"{name:34} median {statistics.median(values):.3f} s, slowest {max(values):.3f} s "
            f"({statistics.median(values) / configured:.2f}x the {configured} s timeout) — {verdict} "
            f"the {target:.0f} s target"
        )


if __name__ == "__main__":
    asyncio.run(main())
