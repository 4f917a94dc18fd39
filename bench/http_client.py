"""Messages per second through PTB's Bot: HTTPXRequest against AiohttpRequest.

Starts the Bot API double (in its own process by default, as a local Bot API server would
be), then sends N sendMessage calls at a fixed concurrency through `telegram.Bot` with
(a) PTB's HTTPXRequest, its connection pool and keep-alive pool raised to the concurrency, and
(b) Sereno's AiohttpRequest; prints msg/s for each and the ratio (b)/(a). A third line, a plain
aiohttp client posting the same form without PTB, shows the ceiling of the machine and the
double (informational). The paid-broadcast target is 1,000 msg/s.

    python bench/http_client.py [--messages 5000] [--concurrency 64] [--rounds 1] [--same-process]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.request import BaseRequest, HTTPXRequest  # noqa: E402

from sereno.bot.aiohttp_request import AiohttpRequest  # noqa: E402
from sereno.double import BotApiDouble  # noqa: E402

TOKEN = "555:BENCH"
CHAT = 4242
TEXT = "⚠️ Alert — agents reported near Main St & 5th. Stay safe; know your rights: /rights"
WARMUP = 200
TARGET = 1000.0


async def _serve(conn: Connection, stop: Event) -> None:
    async with BotApiDouble(TOKEN) as api:
        api.user(CHAT, "Ana")
        conn.send(api.api_url)
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)


def serve_double(conn: Connection, stop: Event) -> None:
    """Child process: run the double until ``stop`` is set; send its URL first."""
    asyncio.run(_serve(conn, stop))


async def run_concurrently(send: Callable[[int], Awaitable[None]], messages: int, concurrency: int) -> float:
    """Call ``send(n)`` for n in range(messages), ``concurrency`` at a time; return msg/s."""
    next_n = 0

    async def worker() -> None:
        nonlocal next_n
        while next_n < messages:
            n, next_n = next_n, next_n + 1
            await send(n)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return messages / (time.perf_counter() - started)


async def through_bot(api_url: str, request: BaseRequest, messages: int, concurrency: int) -> float:
    """msg/s of ``Bot.send_message`` with ``request`` (after a warm-up that opens connections)."""
    bot = Bot(TOKEN, base_url=f"{api_url}/bot", base_file_url=f"{api_url}/file/bot", request=request)
    async with bot:

        async def send(n: int) -> None:
            message = await bot.send_message(CHAT, f"{TEXT} #{n}")
            assert message.chat.id == CHAT

        await run_concurrently(send, WARMUP, concurrency)
        return await run_concurrently(send, messages, concurrency)


async def plain_aiohttp(api_url: str, messages: int, concurrency: int) -> float:
    """msg/s of bare aiohttp POSTs of the same form, without PTB (the ceiling)."""
    url = f"{api_url}/bot{TOKEN}/sendMessage"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def send(n: int) -> None:
            async with session.post(url, data={"chat_id": str(CHAT), "text": f"{TEXT} #{n}"}) as resp:
                assert resp.status == 200
                await resp.read()

        await run_concurrently(send, WARMUP, concurrency)
        return await run_concurrently(send, messages, concurrency)


def httpx_request(concurrency: int) -> HTTPXRequest:
    pool = max(256, concurrency)
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    return HTTPXRequest(connection_pool_size=pool, httpx_kwargs={"limits": limits})


async def bench(api_url: str, messages: int, concurrency: int, rounds: int) -> None:
    rates: dict[str, list[float]] = {"httpx": [], "aiohttp": [], "plain": []}
    for n in range(1, rounds + 1):
        rates["httpx"].append(await through_bot(api_url, httpx_request(concurrency), messages, concurrency))
        rates["aiohttp"].append(await through_bot(api_url, AiohttpRequest(), messages, concurrency))
        rates["plain"].append(await plain_aiohttp(api_url, messages, concurrency))
        if rounds > 1:
            print(
                f"  round {n}: httpx {rates['httpx'][-1]:6.0f}  aiohttp {rates['aiohttp'][-1]:6.0f}  "
                f"plain aiohttp {rates['plain'][-1]:6.0f} msg/s"
            )
    httpx_rate, aiohttp_rate, plain_rate = (statistics.median(rates[k]) for k in ("httpx", "aiohttp", "plain"))
    label = f"median of {rounds}" if rounds > 1 else "1 round"
    print(f"(a) Bot + HTTPXRequest   {httpx_rate:7.0f} msg/s")
    verdict = "meets" if aiohttp_rate >= TARGET else "MISSES"
    print(f"(b) Bot + AiohttpRequest {aiohttp_rate:7.0f} msg/s — {verdict} the {TARGET:,.0f} msg/s target")
    print(f"(c) plain aiohttp, no PTB {plain_rate:6.0f} msg/s (ceiling; informational)")
    print(f"ratio (b)/(a) {aiohttp_rate / httpx_rate:4.1f}x  ({messages} sendMessage at concurrency {concurrency}, {label})")


async def in_process(messages: int, concurrency: int, rounds: int) -> None:
    async with BotApiDouble(TOKEN) as api:
        api.user(CHAT, "Ana")
        await bench(api.api_url, messages, concurrency, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1, help="runs of (a), (b), (c); the median is reported")
    parser.add_argument(
        "--same-process", action="store_true", help="run the double in the benchmark's own event loop (they then share one core)"
    )
    args = parser.parse_args()
    where = "in this process" if args.same_process else "in its own process"
    print(f"Bot API double {where}; {args.messages} sendMessage at concurrency {args.concurrency}")
    if args.same_process:
        asyncio.run(in_process(args.messages, args.concurrency, args.rounds))
        return
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    stop = context.Event()
    server = context.Process(target=serve_double, args=(child, stop), daemon=True)
    server.start()
    try:
        if not parent.poll(30):
            raise SystemExit("the Bot API double did not start")
        asyncio.run(bench(parent.recv(), args.messages, args.concurrency, args.rounds))
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.terminate()


if __name__ == "__main__":
    main()
