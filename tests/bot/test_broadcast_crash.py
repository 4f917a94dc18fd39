"""The broadcaster killed with SIGKILL mid-broadcast and restarted (a real `sereno run`
process against the double, on SQLite and PostgreSQL): no target is missed, and the only
duplicates are sends that were in flight at the kill."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sereno.double import BotApiDouble
from sereno.storage.admin import migrate, replace_neighborhoods
from sereno.storage.engine import make_engine
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.alerts import AlertPolicy
from sereno.verify.audience import ChannelLink, Subscriber
from sereno.verify.incidents import Incident, IncidentStatus, Verdict
from sereno.verify.model import Activity, GeoPoint, Tier
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.publishing import Publisher
from tests.bot.conftest import database_rows
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY, TEST_TOKEN

SUBSCRIBERS = 300
CHANNEL = -1_001_000_001
RATE = 100  # messages per second, kept by the broadcaster and enforced by the double

pytestmark = pytest.mark.slow


async def queue_alert(database_url: str, subscribers: int = SUBSCRIBERS, channel: int = CHANNEL) -> None:
    """A confirmed alert for Harbor View (in a migrated database holding the demo region)
    queued for its channel and `subscribers` subscribers (chats 1…subscribers)."""
    engine = make_engine(database_url)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        now = datetime.now(UTC)
        async with uow() as tx:
            for chat in range(1, subscribers + 1):
                await tx.subscribers.save(Subscriber(chat, "en", True, now))
                await tx.subscribers.add_area(chat, "harbor-view")
            await tx.channels.save(ChannelLink("harbor-view", channel, "Harbor View alerts", "en", now))
            incident = Incident(
                "incident-1",
                IncidentStatus.DECIDED,
                Tier.HIGH,
                Activity.PRESENCE,
                "harbor-view",
                GeoPoint(34.0387, -118.2799),
                None,
                now,
                now,
                1,
            )
            await tx.incidents.add(incident)
            publisher = Publisher(AlertPolicy(), Gazetteer(parse_geojson(DEMO_REGION.read_text())).adjacent)
            published = await publisher.on_decided(tx, incident, Verdict.CONFIRMED, 2, now)
            await tx.commit()
        assert published is not None and published.queued == subscribers + 1
    finally:
        await engine.dispose()


async def outbox_states(database_url: str) -> dict[str, int]:
    rows = await database_rows(database_url, "SELECT state, count(*) AS n FROM outbox GROUP BY state")
    return {str(r["state"]): int(r["n"]) for r in rows}  # type: ignore[call-overload]


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sereno",
        "run",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def deliveries(double: BotApiDouble, subscribers: int = SUBSCRIBERS, channel: int = CHANNEL) -> Counter[int]:
    """Messages the bot sent, per target of :func:`queue_alert`."""
    return Counter(m.chat_id for m in double.sent_messages() if m.chat_id == channel or 0 < m.chat_id <= subscribers)


async def test_sigkill_mid_broadcast_loses_nothing_and_duplicates_only_in_flight_sends(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    await migrate(database_url)
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    await queue_alert(database_url)
    for chat in range(1, SUBSCRIBERS + 1):
        double.add_chat(chat)
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    double.enforce_limits(global_per_second=RATE, private_per_second=1, group_per_minute=20)
    double.answer_delay = 0.15  # every send is delivered 150 ms before the bot hears of it
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(
        SERENO_TELEGRAM_TOKEN=TEST_TOKEN,
        SERENO_TELEGRAM_API_URL=double.api_url,
        SERENO_HMAC_KEY=TEST_HMAC_KEY,
        SERENO_DATABASE_URL=database_url,
        SERENO_SEND_PER_SECOND=str(RATE),
    )
    first = await start(env, tmp_path)
    try:
        await double.wait_until(
            lambda: sum(deliveries(double).values()) >= SUBSCRIBERS // 2, timeout=60, description="half of the broadcast"
        )
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    delivered_before = sum(deliveries(double).values())
    in_flight = (await outbox_states(database_url)).get("sending", 0)
    assert 0 < delivered_before < SUBSCRIBERS + 1 and in_flight > 0

    second = await start(env, tmp_path)
    try:
        deadline = time.monotonic() + 90
        while (states := await outbox_states(database_url)) != {"sent": SUBSCRIBERS + 1}:
            assert time.monotonic() < deadline, states
            await asyncio.sleep(0.3)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    counts = deliveries(double)
    missing = [chat for chat in [CHANNEL, *range(1, SUBSCRIBERS + 1)] if counts[chat] == 0]
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(
        f"delivered before the kill {delivered_before}, in flight at the kill {in_flight}, "
        f"missing {len(missing)}, duplicates {duplicates}, 429s {double.count_429}"
    )
    assert missing == []
    assert duplicates <= in_flight
    assert double.count_429 == 0
