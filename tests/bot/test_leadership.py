"""Two `sereno run --webhook` replicas on one PostgreSQL database: exactly one leads (runs
the jobs and the broadcaster); when it is killed, or cut off from the database by a
network that silently drops its packets, the other takes over — never while the first
still leads — and a hand-over in the middle of a broadcast draws no 429 from Telegram."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from sereno.double import BotApiDouble
from sereno.storage.admin import migrate, replace_neighborhoods
from sereno.storage.engine import make_engine
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.alerts import AlertPolicy, ChannelPosts
from sereno.verify.audience import ChannelLink
from sereno.verify.incidents import Incident, IncidentStatus, Verdict
from sereno.verify.model import Activity, GeoPoint, Tier
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.publishing import Publisher
from tests.bot.conftest import database_rows
from tests.bot.test_broadcast_crash import deliveries, queue_alert
from tests.bot.test_webhook import SECRET, free_port
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY, TEST_TOKEN
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow


async def leader_flags(ports: list[int]) -> list[bool | None]:
    """Each replica's `leader` from /healthz (None when it does not answer)."""
    flags: list[bool | None] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for port in ports:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    flags.append(bool(json.loads(await response.text())["leader"]))
            except (aiohttp.ClientError, TimeoutError):
                flags.append(None)
    return flags


async def wait_flags(ports: list[int], want: list[bool | None], timeout: float) -> float:
    """Seconds until the replicas report `want`."""
    started = time.monotonic()
    while (flags := await leader_flags(ports)) != want:
        assert time.monotonic() - started < timeout, flags
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def replica_env(double: BotApiDouble, database_url: str, port: int, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(
        SERENO_TELEGRAM_TOKEN=TEST_TOKEN,
        SERENO_TELEGRAM_API_URL=double.api_url,
        SERENO_HMAC_KEY=TEST_HMAC_KEY,
        SERENO_DATABASE_URL=database_url,
        SERENO_WEBHOOK_SECRET=SECRET,
        SERENO_WEB_HOST="127.0.0.1",
        SERENO_WEB_PORT=str(port),
        SERENO_LOG_FORMAT="json",
        **settings,
    )
    return env


@asynccontextmanager
async def replicas(envs: list[dict[str, str]], logs: Path) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """`sereno run --webhook` with each environment, in order, each started once the one
    before leads or follows; each one's log (JSON lines) in `logs`/<index>.log. Stopped
    (SIGTERM, then SIGKILL) on the way out."""
    processes: list[asyncio.subprocess.Process] = []
    try:
        for index, env in enumerate(envs):
            with (logs / f"{index}.log").open("wb") as log:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "sereno",
                        "run",
                        "--webhook",
                        env=env,
                        cwd=logs,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=log,
                    )
                )
            await wait_flags([int(env["SERENO_WEB_PORT"])], [index == 0], timeout=30)
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()


def leadership_intervals(log: Path) -> list[tuple[datetime, datetime | None]]:
    """When the replica that wrote `log` led: (began, ended or None), from its log lines."""
    intervals: list[tuple[datetime, datetime | None]] = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        at, message = datetime.strptime(record["asctime"], "%Y-%m-%d %H:%M:%S,%f"), str(record["message"])
        if "now leads" in message:
            intervals.append((at, None))
        elif "no longer leads" in message and intervals and intervals[-1][1] is None:
            intervals[-1] = (intervals[-1][0], at)
    return intervals


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_one_replica_leads_and_another_takes_over_when_it_dies(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    await migrate(database_url)
    ports = [free_port(), free_port()]
    processes = []
    for port in ports:
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sereno",
                "run",
                "--webhook",
                env=replica_env(double, database_url, port),
                cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )
        if port == ports[0]:
            await wait_flags(ports[:1], [True], timeout=30)  # the first one up takes the lead
    try:
        await wait_flags(ports, [True, False], timeout=30)
        processes[0].send_signal(signal.SIGKILL)
        await processes[0].wait()
        await wait_flags(ports, [None, True], timeout=30)  # how soon: bench/takeover.py
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_leader_cut_off_by_a_silent_network_steps_down_and_the_other_leads_after_it(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    await migrate(database_url)
    ports = [free_port(), free_port()]
    async with TcpProxy() as proxy:
        envs = [replica_env(double, proxy.url(database_url), ports[0]), replica_env(double, database_url, ports[1])]
        async with replicas(envs, tmp_path):
            await wait_flags(ports, [True, False], timeout=30)
            proxy.drop()  # the first replica's packets to PostgreSQL vanish; nothing is reset
            took = await wait_flags(ports, [False, True], timeout=30)
            print(f"the second replica led {took:.1f} s after the first one was cut off (target: 15 s)")
            proxy.heal()
    [(first_began, first_ended), *_] = leadership_intervals(tmp_path / "0.log")
    [(second_began, _)] = leadership_intervals(tmp_path / "1.log")
    print(
        f"the first stepped down {(second_began - first_ended).total_seconds():.1f} s before the second led"
        if first_ended
        else "the first never stepped down"
    )
    assert first_ended is not None and first_began < first_ended < second_began


LANGUAGES = "en+es+pt+ht+zh+vi+ar"  # a channel posted in seven languages, one post each


async def queue_channel_alerts(database_url: str, channel: int, numbers: range) -> None:
    """A confirmed alert for Harbor View per number in `numbers`, each queued as one post per
    language to `channel` (linked with the first)."""
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        publisher = Publisher(
            AlertPolicy(channel_posts=ChannelPosts.PER_LANGUAGE), Gazetteer(parse_geojson(DEMO_REGION.read_text())).adjacent
        )
        async with SqlUnitOfWorkFactory(engine)() as tx:
            if numbers.start == 0:
                await tx.channels.save(ChannelLink("harbor-view", channel, "Harbor View alerts", LANGUAGES, now))
            for number in numbers:
                incident = Incident(
                    f"incident-{number}",
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
                assert await publisher.on_decided(tx, incident, Verdict.CONFIRMED, 2, now) is not None
            await tx.commit()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_new_leader_keeps_the_channel_limit_its_predecessor_filled(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    channel = -1_001_000_001
    await migrate(database_url)
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    double.add_chat(channel, type="channel", title="Harbor View alerts")
    double.enforce_limits(global_per_second=30, private_per_second=1, group_per_minute=20)
    ports = [free_port(), free_port()]
    async with replicas([replica_env(double, database_url, port) for port in ports], tmp_path) as processes:
        await queue_channel_alerts(database_url, channel, range(0, 3))  # 21 posts: a minute holds 20
        await double.wait_until(
            lambda: deliveries(double, 0, channel)[channel] >= 20, timeout=30, description="the channel's minute filled"
        )
        processes[0].send_signal(signal.SIGTERM)  # a rolling restart: the leader hands over
        started = time.monotonic()
        await wait_flags(ports[1:], [True], timeout=30)
        print(f"handed over in {time.monotonic() - started:.2f} s")
        await queue_channel_alerts(database_url, channel, range(3, 4))  # seven more, for the new leader
        await asyncio.sleep(5)  # it claims them within a second or two, and must hold them
        held = await database_rows(
            database_url, "SELECT state FROM outbox WHERE alert_id IN (SELECT id FROM alert WHERE incident_id = 'incident-3')"
        )
    print(f"429s {double.count_429}, channel posts {deliveries(double, 0, channel)[channel]}")
    assert double.count_429 == 0
    assert deliveries(double, 0, channel)[channel] == 20
    assert [r["state"] for r in held] == ["pending"] * 7


def command_from(person: int, update_id: int, text: str = "/start") -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "text": text,
            "chat": {"id": person, "type": "private", "first_name": "P"},
            "from": {"id": person, "is_bot": False, "first_name": "P", "language_code": "en"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_followers_replies_and_the_leaders_broadcast_together_keep_the_tokens_limit(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    subscribers, channel, people = 300, -1_001_000_001, range(8_000_001, 8_000_061)
    await migrate(database_url)
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    for chat in range(1, subscribers + 1):
        double.add_chat(chat)
    double.add_chat(channel, type="channel", title="Harbor View alerts")
    for person in people:
        double.user(person, "P", "en")
    double.enforce_limits()  # Telegram's: 30 a second for the token
    ports = [free_port(), free_port()]
    async with replicas([replica_env(double, database_url, port) for port in ports], tmp_path):
        await queue_alert(database_url, subscribers, channel)
        await double.wait_until(
            lambda: sum(deliveries(double, subscribers, channel).values()) >= 30,
            timeout=30,
            description="the broadcast under way",
        )
        async with aiohttp.ClientSession() as session:
            for update_id, person in enumerate(people, start=1):  # 15 people a second write to the follower
                async with session.post(
                    f"http://127.0.0.1:{ports[1]}/telegram",
                    json=command_from(person, update_id),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                ) as response:
                    assert response.status == 200
                await asyncio.sleep(1 / 15)
        await double.wait_until(
            lambda: all(double.sent_messages(person) for person in people), timeout=60, description="every person answered"
        )
        broadcast = sum(deliveries(double, subscribers, channel).values())
    print(f"429s {double.count_429}; {broadcast} broadcast messages and {len(people)} replies")
    assert double.count_429 == 0
