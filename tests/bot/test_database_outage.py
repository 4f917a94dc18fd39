"""PostgreSQL going away under a running bot (a TCP proxy between them is cut, then healed):
a reporter pressing Submit during the outage is told calmly to try again and nothing
half-written remains; once healed, Submit stores exactly one report. A broadcast cut in the
middle completes after the heal with no target lost and no duplicates beyond the sends in
flight at the cut."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from sereno.bootstrap import running_bot
from sereno.double import BotApiDouble, FakeUser
from sereno.storage.admin import replace_neighborhoods
from sereno.storage.engine import CONNECT_TIMEOUT_SECONDS, make_engine
from sereno.storage.migrate import upgrade
from sereno.storage.scratch import scratch_database
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.audience import Subscriber
from sereno.verify.clock import ManualClock
from sereno.verify.errors import Unavailable
from sereno.verify.places import parse_geojson
from tests.bot.conftest import database_rows as rows
from tests.bot.conftest import settings_for
from tests.bot.test_broadcast_crash import deliveries, queue_alert
from tests.conftest import DEMO_REGION, PG_ADMIN_URL
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPORTER = 5_660_001
SUBSCRIBERS = 200
CHANNEL = -1_001_000_077


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A migrated scratch PostgreSQL database with the demo region, reached directly."""
    async with scratch_database("postgres", PG_ADMIN_URL) as url:
        engine = make_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        await replace_neighborhoods(url, parse_geojson(DEMO_REGION.read_text()))
        yield url


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with TcpProxy("127.0.0.1", 5432) as p:
        yield p


async def to_summary(ana: FakeUser) -> None:
    await ana.send_command("/start")
    await ana.wait_text("Su privacidad")
    await ana.send_command("/report")
    await ana.wait_text("¿Qué está pasando?")
    await ana.press("Agentes presentes o reuniéndose")
    await ana.wait_text("¿Dónde está pasando?")
    await ana.send_text("Old Mill")
    await ana.wait_text("Old Mill")
    for question in ("¿Cuándo lo vio?", "¿Cuántos agentes", "¿Cuántos vehículos?", "¿Qué letreros", "algo más", "foto"):
        await ana.wait_text(question)
        await ana.press("Omitir")
    await ana.wait_text("revise su reporte")


@pytest.mark.parametrize("outage", ["refused", "unanswered"])
async def test_submit_during_an_outage_says_try_again_then_stores_one_report(
    double: BotApiDouble, pg_url: str, proxy: TcpProxy, caplog: pytest.LogCaptureFixture, outage: str
) -> None:
    settings = settings_for(double, proxy.url(pg_url))
    async with running_bot(settings, clock=ManualClock(), poll_timeout=1):
        ana = double.user(REPORTER, "Ana", "es")
        await to_summary(ana)
        proxy.cut(hold=outage == "unanswered")  # connections refused, or left hanging (a blackhole)
        started = asyncio.get_running_loop().time()
        await ana.press("✅ Enviar")
        sorry = await ana.wait_text("toque Enviar otra vez en un minuto", timeout=CONNECT_TIMEOUT_SECONDS + 5)
        print(f"{outage}: told to try again after {asyncio.get_running_loop().time() - started:.1f} s")
        assert sorry.text == (
            "Lo sentimos, su reporte no se pudo guardar en este momento: nuestro sistema no está "
            "disponible por un momento. Sigue guardado aquí: por favor, toque Enviar otra vez en "
            "un minuto."
        )
        await ana.wait_callback_answer()
        assert "Reporte recibido" not in " ".join(m.text or "" for m in ana.messages())
        # anything else needing the database gets the calm outage reply from the error handler
        luis = double.user(REPORTER + 1, "Luis", "es")
        await luis.send_command("/mysubscriptions")
        other = await luis.wait_text("nuestro sistema no está disponible", timeout=CONNECT_TIMEOUT_SECONDS + 5)
        assert "Traceback" not in other.text and "intente otra vez en un minuto" in other.text
        for table in ("report", "report_contact", "incident", "merge_suggestion"):
            assert await rows(pg_url, f"SELECT * FROM {table}") == [], table
        proxy.heal()
        await ana.press("✅ Enviar")
        done = await ana.wait_text("Reporte recibido", timeout=15)
        assert "SR-" in done.text
        [report] = await rows(pg_url, "SELECT ref_code, language FROM report")
        assert report["ref_code"] in done.text and report["language"] == "es"
        assert len(await rows(pg_url, "SELECT * FROM report_contact")) == 1
        assert len(await rows(pg_url, "SELECT * FROM incident")) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "an outage is not a bug"


async def test_broadcast_cut_mid_way_completes_after_the_heal_without_losses(
    double: BotApiDouble, pg_url: str, proxy: TcpProxy
) -> None:
    rate = 50  # messages a second: ~4 s for the whole broadcast
    await queue_alert(pg_url, SUBSCRIBERS, CHANNEL)
    for chat in range(1, SUBSCRIBERS + 1):
        double.add_chat(chat)
    double.add_chat(CHANNEL, type="channel", title="Harbor View alerts")
    double.enforce_limits(global_per_second=rate, private_per_second=1, group_per_minute=20)
    double.answer_delay = 0.15  # every send is delivered 150 ms before the bot hears of it
    settings = settings_for(double, proxy.url(pg_url), send_per_second=rate)
    async with running_bot(settings, poll_timeout=1) as runtime:
        await double.wait_until(
            lambda: sum(deliveries(double, SUBSCRIBERS, CHANNEL).values()) >= SUBSCRIBERS // 3,
            timeout=30,
            description="a third of the broadcast",
        )
        in_flight = len(runtime.broadcaster._tasks)  # sends started and not yet answered
        proxy.cut()
        delivered_at_cut = sum(deliveries(double, SUBSCRIBERS, CHANNEL).values())
        await asyncio.sleep(3)
        delivered_during_outage = sum(deliveries(double, SUBSCRIBERS, CHANNEL).values()) - delivered_at_cut
        proxy.heal()
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            states = {r["state"]: r["n"] for r in await rows(pg_url, "SELECT state, count(*) AS n FROM outbox GROUP BY state")}
            if states == {"sent": SUBSCRIBERS + 1}:
                break
            assert asyncio.get_running_loop().time() < deadline, states
            await asyncio.sleep(0.3)
        leader = runtime.leadership.is_leader
    counts = deliveries(double, SUBSCRIBERS, CHANNEL)
    missing = [chat for chat in [CHANNEL, *range(1, SUBSCRIBERS + 1)] if counts[chat] == 0]
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    print(
        f"delivered at the cut {delivered_at_cut}, in flight at the cut {in_flight}, "
        f"delivered during the outage {delivered_during_outage}, missing {len(missing)}, duplicates {duplicates}, "
        f"refused connections {proxy.refused}, 429s {double.count_429}"
    )
    assert leader
    assert missing == []
    assert duplicates <= in_flight
    assert double.count_429 == 0


async def test_a_unit_of_work_cut_mid_transaction_raises_unavailable_and_keeps_nothing(pg_url: str, proxy: TcpProxy) -> None:
    engine = make_engine(proxy.url(pg_url))
    try:
        uow = SqlUnitOfWorkFactory(engine)
        now = datetime.now(UTC)
        with pytest.raises(Unavailable):
            async with uow() as tx:
                await tx.subscribers.save(Subscriber(1, "en", True, now))
                proxy.cut()
                await tx.subscribers.save(Subscriber(2, "en", True, now))
                await tx.commit()
        with pytest.raises(Unavailable):  # refused while cut (the pool's pre-ping reconnects, and fails)
            async with uow() as tx:
                pass
        proxy.heal()
        async with uow() as tx:  # the pool recovers by itself
            await tx.subscribers.save(Subscriber(3, "en", True, now))
            await tx.commit()
    finally:
        await engine.dispose()
    assert [r["chat_id"] for r in await rows(pg_url, "SELECT chat_id FROM subscriber")] == [3]
