"""One person floods the bot with 1,000 messages in a burst while 50 others report: the
flooder gets one polite notice (not 1,000 replies) and every report lands. How much the
flood slows the others (their p99 step latency against a round without it) is measured by
bench/flood.py, which reuses this scenario."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from telegram import Update

from sereno.bot.concurrency import PerChatUpdateProcessor
from sereno.bot.guards import SEEN_KEY
from tests.bot.offline_app import OfflineBot, buttons, message, offline_bot, press, private, user

REPORTERS = 50
FLOOD = 1_000
STEPS = 11  # /start, /report, what, pin, when, agents, vehicles, markings, details, photo, submit
FLOOD_NOTICE = "You are sending messages very fast"
#: Reporters start over a second (not in lockstep: 50 submits in the same millisecond would
#: only measure SQLite's single writer), and take a moment between taps.
SPREAD, THINK, FLOOD_AT = 1.0, 0.01, 0.4


async def report(bot: OfflineBot, reporter: int, latencies: list[float], start_after: float = 0.0) -> None:
    """A whole /report conversation, each step timed from delivery to its handling's end;
    the reporter starts after `start_after` seconds and reads each answer for THINK seconds."""
    sender, chat = user(reporter), private(reporter)
    await asyncio.sleep(start_after)

    async def step(payload: dict[str, object]) -> None:
        started = time.perf_counter()
        await bot.feed(payload)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(THINK)

    def tap(suffix: str) -> dict[str, object]:
        shown = bot.request.keyboards[reporter][-1]
        data = next(d for d in buttons(shown) if d.endswith(suffix))
        return press(bot.update_id(), sender, shown, data)

    await step(message(bot.update_id(), sender, chat, "/start"))
    await step(message(bot.update_id(), sender, chat, "/report"))
    await step(tap(":activity:checkpoint"))
    await step(message(bot.update_id(), sender, chat, location={"latitude": 34.0565, "longitude": -118.2577}))
    for suffix in (":when:now", ":agents:3-5", ":vehicles:2-3", ":uniform:ice"):
        await step(tap(suffix))
    await step(message(bot.update_id(), sender, chat, "Two unmarked SUVs near the bus stop"))
    await step(tap(":skip:photo"))
    await step(tap(":do:submit"))


def flood_updates(bot: OfflineBot, flooder: int) -> list[Update]:
    """The flooder's 1,000 messages, parsed before the round starts: PTB's `Update.de_json`
    (~0.07 ms an update, before any Sereno code runs) is not what this measures, and
    parsing all of them at once inside the round would stall the first reporters for
    ~70 ms of the test's own making."""
    sender, chat = user(flooder), private(flooder)
    return [Update.de_json(message(bot.update_id(), sender, chat, f"spam {n}"), bot.app.bot) for n in range(FLOOD)]


async def flood(bot: OfflineBot, updates: list[Update]) -> None:
    """The messages in a burst (while the reports are under way), handed out as the update
    fetcher does: batches of 100 (getUpdates' limit), one task per update."""
    app, tasks = bot.app, []
    await asyncio.sleep(FLOOD_AT)
    for first in range(0, len(updates), 100):
        tasks += [
            asyncio.create_task(app.update_processor.process_update(u, app.process_update(u)))
            for u in updates[first : first + 100]
        ]
        await asyncio.sleep(0)  # the next getUpdates round trip
    await asyncio.gather(*tasks)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def one_round(bot: OfflineBot, base: int, flooder: int | None) -> float:
    """The 50 reports (with or without the flood beside them); returns their p99 step latency."""
    latencies: list[float] = []
    # what the bot said in earlier rounds (checked by now): kept, every full garbage
    # collection would walk more of it, round after round (~1,100 records a round)
    bot.request.said.clear()
    bot.request.keyboards.clear()
    before = (await bot.rows("SELECT count(*) AS n FROM report"))[0]["n"]
    burst = flood_updates(bot, flooder) if flooder is not None else []
    work = [report(bot, base + n, latencies, SPREAD * n / REPORTERS) for n in range(REPORTERS)]
    if burst:
        work.append(flood(bot, burst))
    await asyncio.gather(*work)
    assert len(latencies) == REPORTERS * STEPS
    after = (await bot.rows("SELECT count(*) AS n FROM report"))[0]["n"]
    assert after - before == REPORTERS, "every report lands in the database"
    return p99(latencies)


def replies_to(bot: OfflineBot, chat_id: int) -> list[str]:
    """What the bot said to `chat_id` since the round began."""
    return [s.text or "" for s in bot.request.said if s.chat_id == chat_id]


async def test_a_flooder_gets_one_notice_while_every_other_report_lands(tmp_path: Path) -> None:
    async with offline_bot(tmp_path) as bot:  # the default flood guard: 20 updates in 10 s
        flooder = 900_000
        await one_round(bot, 300_000, flooder)  # asserts every step answered, every report stored
        to_flooder = replies_to(bot, flooder)
        assert sum(FLOOD_NOTICE in text for text in to_flooder) == 1
        assert len(to_flooder) <= bot.runtime.services.settings.flood_max_updates + 1


async def test_the_rest_of_a_flood_is_dropped_as_it_arrives(tmp_path: Path) -> None:
    """Past the limit and its notice, a flooder's updates are dropped before any handler:
    none is answered or remembered as handled (so the persisted update ids of everyone
    else are not pushed out), yet every one is counted in the metrics."""
    async with offline_bot(tmp_path) as bot:
        updates = flood_updates(bot, 900_000)
        await flood(bot, updates)
        limit = bot.runtime.services.settings.flood_max_updates
        said = [s for s in bot.request.said if s.chat_id == 900_000]
        assert len(said) == limit + 1 and FLOOD_NOTICE in (said[-1].text or "")
        handled = set(bot.app.bot_data[SEEN_KEY])
        assert handled & {u.update_id for u in updates} == {u.update_id for u in updates[: limit + 1]}
        counted = bot.runtime.services.metrics.registry.get_sample_value("sereno_updates_total", {"kind": "message"})
        assert counted == FLOOD


async def test_a_burst_from_one_chat_holds_one_slot_not_all() -> None:
    """Queued updates of one chat wait for their turn before taking a concurrency slot, so
    another chat is handled at once even when the burst exceeds the slots."""
    processor = PerChatUpdateProcessor(max_concurrent_updates=4)
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async def quick() -> str:
        return "done"

    burst = [asyncio.create_task(processor.process_update(update_from(1, n), slow())) for n in range(50)]
    await asyncio.sleep(0.01)
    other = asyncio.create_task(processor.process_update(update_from(2, 99), quick()))
    await asyncio.wait_for(other, 10)  # never, were it stuck behind the burst
    release.set()
    await asyncio.gather(*burst)


def update_from(chat_id: int, update_id: int) -> Update:
    return Update.de_json(message(update_id, user(chat_id), private(chat_id), "hi"), None)
