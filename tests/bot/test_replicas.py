"""Several webhook replicas behind a load balancer on one database: any replica serves any
step of a person's report, and an update delivered again to another replica is not handled
twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import pytest

from sereno.bootstrap import running_bot
from sereno.double import BotApiDouble
from sereno.verify.clock import ManualClock
from tests.bot.conftest import database_rows, seed_region, settings_for
from tests.bot.test_webhook import SECRET, free_port

REPORTER = 5_770_001


@asynccontextmanager
async def replicas(double: BotApiDouble, database_url: str, count: int) -> AsyncIterator[list[str]]:
    """`count` webhook replicas on one database; their webhook URLs."""
    await seed_region(database_url)
    clock = ManualClock()
    urls = []
    async with AsyncExitStack() as stack:
        for _ in range(count):
            port = free_port()
            settings = settings_for(double, database_url, webhook_secret=SECRET, web_host="127.0.0.1", web_port=port)
            await stack.enter_async_context(running_bot(settings, clock=clock, webhook=True))
            urls.append(f"http://127.0.0.1:{port}/telegram")
        yield urls


async def handled(database_url: str, update_id: int) -> None:
    """Wait until the replica that got `update_id` stored what it led to (a person reads the
    answer before moving on, slower than this commit)."""
    for _ in range(200):
        if await database_rows(
            database_url, f"SELECT 1 FROM update_inbox WHERE update_id = {update_id} AND handled_at IS NOT NULL"
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"update {update_id} was not handled")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite is one process by nature
async def test_a_report_whose_steps_go_to_different_replicas_completes_and_is_stored_once(
    double: BotApiDouble, database_url: str
) -> None:
    async with replicas(double, database_url, 3) as urls:
        ana = double.user(REPORTER, "Ana", "en")
        steps: list[tuple[int, Callable[[], Awaitable[int]], str]] = [
            (0, lambda: ana.send_command("/start"), "Your privacy"),  # greeted in her app's language
            (1, lambda: ana.send_command("/language"), "Choose your language"),
            (2, lambda: ana.press("English"), "Your privacy"),
            (0, lambda: ana.press("📝 Report activity"), "What is happening?"),
            (1, lambda: ana.press("Checkpoint or vehicle stop"), "Where is it happening?"),
            (2, lambda: ana.send_text("Old Mill"), "When did you see it?"),
            (0, lambda: ana.press("Happening now"), "How many agents"),
            (1, lambda: ana.press("3–5"), "How many vehicles?"),
            (0, lambda: ana.press("2–3"), "What markings"),
            (1, lambda: ana.press("ICE"), "Anything else"),
            (2, lambda: ana.send_text("Two unmarked SUVs by the bus stop"), "send a photo"),
            (0, lambda: ana.press("Skip"), "Please check your report"),
            (1, lambda: ana.press("✅ Submit"), "Report received"),
        ]
        for replica, act, answer in steps:
            double.deliver_webhook_to(urls[replica], SECRET)
            update_id = await act()
            reply = await ana.wait_text(answer)
            await handled(database_url, update_id)
        for expected in ("SR-", "555-0100"):
            assert expected in reply.text
        # Telegram delivers the Submit again, to another replica: nothing is stored or said twice
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                urls[2], json=double.get_update(ana.update_ids[-1]), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            ) as response,
        ):
            assert response.status == 200
        await ana.send_command("/lawyer")  # handled after anything queued before it
        await ana.wait_text("555-0100")
    [report] = await database_rows(
        database_url, "SELECT ref_code, activity, neighborhood_id, agents, vehicles, uniform, details FROM report"
    )
    assert report["ref_code"] in reply.text
    assert (report["activity"], report["neighborhood_id"], report["agents"], report["vehicles"], report["uniform"]) == (
        "checkpoint",
        "old-mill",
        "3-5",
        "2-3",
        "ice",
    )
    assert "Two unmarked SUVs" in str(report["details"])
    assert len([m for m in ana.messages() if m.text and "Report received" in m.text]) == 1
    assert "I don't know that command" not in " ".join(m.text or "" for m in ana.messages())
