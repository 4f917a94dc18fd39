"""`sereno run` killed with SIGKILL and restarted (a real process against the double, on
SQLite and PostgreSQL): a half-finished report resumes where it was, a verdict is recorded
whole or not at all, a reporter whose outcome the dead process never told is told it once
after the restart, a claim held when the process died returns to the queue, and webhook
updates answered 200 but not yet handled when the process died are all handled after the
restart, each once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from sereno.double import BotApiDouble, FakeUser
from sereno.storage.admin import replace_neighborhoods
from sereno.storage.engine import make_engine
from sereno.storage.migrate import upgrade
from sereno.verify.places import parse_geojson
from tests.bot.conftest import database_rows as rows
from tests.bot.test_desk_flow import join_desk, report
from tests.bot.test_webhook import SECRET, free_port
from tests.conftest import DEMO_REGION, TEST_HMAC_KEY, TEST_TOKEN

pytestmark = pytest.mark.slow

ADMIN, ANA, ROSA, REPORTER = 8_100_001, 8_100_002, 8_100_003, 8_100_004
#: Conversation state is written at every step (a write the database refused is retried
#: every PERSISTENCE seconds); before a kill the test still waits PERSISTED, so that what
#: the person did is on disk whatever the machine's load.
PERSISTENCE = 0.3
PERSISTED = 1.5
START_TIMEOUT = 30.0  # the first answer after a (re)start: interpreter, migrations, first poll
#: Outcomes not told this many seconds after the verdict are told by the sweep (60 in production).
GRACE = 2
#: The sweep runs 2 s after a start, then every 15 s.
SWEPT = START_TIMEOUT + 20


async def prepare(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))


def environment(double: BotApiDouble, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERENO_")}
    env.update(
        SERENO_TELEGRAM_TOKEN=TEST_TOKEN,
        SERENO_TELEGRAM_API_URL=double.api_url,
        SERENO_HMAC_KEY=TEST_HMAC_KEY,
        SERENO_DATABASE_URL=database_url,
        SERENO_HOTLINE="555-0100",
        SERENO_PERSISTENCE_INTERVAL_SECONDS=str(PERSISTENCE),
        **extra,
    )
    return env


@asynccontextmanager
async def sereno_run(env: dict[str, str], cwd: Path, name: str, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`sereno run [args]`, SIGKILLed on leaving the block unless the block ended it already."""
    with (cwd / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sereno", "run", *args, env=env, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=log
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
            await process.wait()


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0


async def test_sigkill_mid_report_resumes_the_same_draft(double: BotApiDouble, database_url: str, tmp_path: Path) -> None:
    await prepare(database_url)
    env = environment(double, database_url)
    ana = double.user(REPORTER, "Ana", "es")
    async with sereno_run(env, tmp_path, "first"):
        await ana.send_command("/start")
        await ana.wait_text("Su privacidad", timeout=START_TIMEOUT)
        await ana.send_command("/report")
        await ana.wait_text("¿Qué está pasando?")
        await ana.press("Agentes presentes o reuniéndose")
        await ana.wait_text("¿Dónde está pasando?")
        await ana.send_text("Old Mill")
        await ana.wait_text("¿Cuándo lo vio?")
        await asyncio.sleep(PERSISTED)
    # killed half-way through: two answers given, the third question showing
    async with sereno_run(env, tmp_path, "second") as second:
        await ana.press("Omitir")  # answers the question asked before the kill
        await ana.wait_text("¿Cuántos agentes", timeout=START_TIMEOUT)
        await ana.press("3–5")
        for question in ("¿Cuántos vehículos?", "¿Qué letreros", "algo más", "foto"):
            await ana.wait_text(question)
            await ana.press("Omitir")
        summary = await ana.wait_text("revise su reporte")
        assert "Agentes presentes o reuniéndose" in summary.text and "Old Mill" in summary.text
        assert "3–5" in summary.text
        await ana.press("✅ Enviar")
        done = await ana.wait_text("Reporte recibido")
        await stop(second)
    [stored] = await rows(database_url, "SELECT ref_code, activity, neighborhood_id, agents, language FROM report")
    assert stored["ref_code"] in done.text
    assert (stored["activity"], stored["neighborhood_id"], stored["agents"], stored["language"]) == (
        "presence",
        "old-mill",
        "3-5",
        "es",
    )
    # nothing was asked twice: the restart picked up at the third question
    for once in ("¿Qué está pasando?", "¿Dónde está pasando?", "Entendido: Old Mill"):
        assert len([m for m in ana.messages() if m.text and once in m.text]) <= 1, once


async def to_the_reason(double: BotApiDouble, admin: FakeUser) -> tuple[FakeUser, FakeUser]:
    """Ana on the desk, Rosa's report on it, Ana holding it and asked the reason for
    Confirmed (the question on disk); returns (Ana, Rosa)."""
    await admin.send_command("/help")
    await admin.wait_text("", timeout=START_TIMEOUT)
    ana = await join_desk(double, admin, ANA, "Ana")
    rosa = double.user(ROSA, "Rosa", "en")
    await report(rosa)
    card = await ana.wait_text("Reports: 1", since_last_action=False)
    await ana.press("Claim", message=card)
    await ana.wait_text("Claimed until")
    await ana.press("✅ Confirmed")
    await ana.wait_text("Send a short reason")
    await asyncio.sleep(PERSISTED)  # the verdict waiting for its reason is on disk
    return ana, rosa


def outcomes(reporter: FakeUser) -> list[str]:
    """The outcome messages the reporter received."""
    return [m.text for m in reporter.messages() if m.text and "Update on your report" in m.text]


async def wait_for_no_rows(database_url: str, sql: str, timeout: float = 10.0) -> None:
    """Wait until the query returns nothing (the bot, another process, commits it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await rows(database_url, sql):
        assert asyncio.get_running_loop().time() < deadline, sql
        await asyncio.sleep(0.1)


async def verdict_state(database_url: str) -> str:
    """'recorded' or 'absent' — and fail on anything in between."""
    verdicts = await rows(database_url, "SELECT verifier_id, verdict FROM verdict")
    [incident] = await rows(database_url, "SELECT status, verdict, claimed_by FROM incident")
    audited = [r["action"] for r in await rows(database_url, "SELECT action FROM audit_event WHERE action LIKE 'verdict.%'")]
    alerts = await rows(database_url, "SELECT id FROM alert")
    if verdicts:
        assert verdicts == [{"verifier_id": ANA, "verdict": "confirmed"}]
        assert (incident["status"], incident["verdict"]) == ("decided", "confirmed")
        assert audited == ["verdict.confirmed"] and len(alerts) == 1
        return "recorded"
    assert incident["status"] == "open" and incident["verdict"] is None and incident["claimed_by"] == ANA
    assert audited == [] and alerts == []
    return "absent"


@pytest.mark.parametrize("kill_after", [0.0, 0.05, "reply"])
async def test_sigkill_around_a_verdict_records_it_whole_or_not_at_all(
    double: BotApiDouble, database_url: str, tmp_path: Path, kill_after: float | str
) -> None:
    await prepare(database_url)
    env = environment(
        double,
        database_url,
        SERENO_ADMIN_IDS=str(ADMIN),
        SERENO_QUORUM="1",
        SERENO_URGENT_QUORUM="1",
        SERENO_OUTCOME_GRACE_SECONDS=str(GRACE),
    )
    admin = double.user(ADMIN, "Admin", "en")
    async with sereno_run(env, tmp_path, "first"):
        ana, rosa = await to_the_reason(double, admin)
        await ana.send_text("Seen from the corner, two ICE vests")
        if kill_after == "reply":
            await ana.wait_text("Decided: Confirmed")
        else:
            await asyncio.sleep(float(kill_after))
    at_kill = await verdict_state(database_url)
    told_before = len(outcomes(rosa))
    async with sereno_run(env, tmp_path, "second") as second:
        # a reason the dead process never confirmed to Telegram comes again, and is handled
        await admin.send_command("/help")
        await admin.wait_text("", timeout=START_TIMEOUT)
        await asyncio.sleep(2)
        if at_kill == "recorded":  # told by the dying process, or else by the restarted one's sweep
            await rosa.wait_text("Update on your report", timeout=SWEPT, since_last_action=False)
            await wait_for_no_rows(database_url, "SELECT report_id FROM report_contact")
        await stop(second)
    after_restart = await verdict_state(database_url)
    contacts = len(await rows(database_url, "SELECT report_id FROM report_contact"))
    print(
        f"kill after {kill_after}: verdict {at_kill} at the kill, {after_restart} after the restart; "
        f"reporter told {told_before} time(s) before the kill, {len(outcomes(rosa))} in all; "
        f"contacts left: {contacts}"
    )
    if at_kill == "recorded":
        assert after_restart == "recorded"
        # once, or twice when the kill fell between the message and forgetting the contact
        assert 1 <= len(outcomes(rosa)) <= told_before + 1 and contacts == 0


async def test_sigkill_after_the_verdict_commits_but_before_the_reporter_is_told_tells_her_once_after_restart(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    await prepare(database_url)
    env = environment(
        double,
        database_url,
        SERENO_ADMIN_IDS=str(ADMIN),
        SERENO_QUORUM="1",
        SERENO_URGENT_QUORUM="1",
        SERENO_OUTCOME_GRACE_SECONDS=str(GRACE),
    )
    admin = double.user(ADMIN, "Admin", "en")
    async with sereno_run(env, tmp_path, "first"):
        ana, rosa = await to_the_reason(double, admin)
        # from now on every send is delivered but its answer held: the process that decides
        # waits on its reply to Ana, after the commit and before telling Rosa
        double.answer_delay = 60.0
        await ana.send_text("Seen from the corner, two ICE vests")
        await ana.wait_text("Decided: Confirmed")
    double.answer_delay = 0.0
    assert await verdict_state(database_url) == "recorded"
    assert outcomes(rosa) == []  # killed before she was told
    assert len(await rows(database_url, "SELECT id FROM owed_outcome")) == 1
    restarted = asyncio.get_running_loop().time()
    async with sereno_run(env, tmp_path, "second") as second:
        told = await rosa.wait_text("Update on your report", timeout=SWEPT, since_last_action=False)
        after = asyncio.get_running_loop().time() - restarted
        await wait_for_no_rows(database_url, "SELECT report_id FROM report_contact")
        # the reason the dead process never confirmed comes again: the verdict is not given twice
        await admin.send_command("/help")
        await admin.wait_text("", timeout=START_TIMEOUT)
        await asyncio.sleep(2 * GRACE)
        await stop(second)
    assert "trained verifiers confirmed it" in told.text
    assert outcomes(rosa) == [told.text]
    assert await rows(database_url, "SELECT id FROM owed_outcome") == []
    assert await verdict_state(database_url) == "recorded"
    print(f"told {after:.1f} s after the restart; outcome messages: {len(outcomes(rosa))}")


async def test_a_claim_held_when_the_process_died_returns_to_the_queue(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    await prepare(database_url)
    env = environment(
        double, database_url, SERENO_ADMIN_IDS=str(ADMIN), SERENO_LEASE_MINUTES="0.05", SERENO_URGENT_LEASE_MINUTES="0.05"
    )  # 3-second leases
    admin = double.user(ADMIN, "Admin", "en")
    async with sereno_run(env, tmp_path, "first"):
        await admin.send_command("/help")
        await admin.wait_text("", timeout=START_TIMEOUT)
        ana = await join_desk(double, admin, ANA, "Ana")
        await report(double.user(ROSA, "Rosa", "en"))
        card = await ana.wait_text("Reports: 1", since_last_action=False)
        await ana.press("Claim", message=card)
        await ana.wait_text("Claimed until")
    [held] = await rows(database_url, "SELECT claimed_by FROM incident")
    assert held["claimed_by"] == ANA  # the dead process's lease-expiry sweep (every 15 s) had not run
    async with sereno_run(env, tmp_path, "second") as second:
        # the restarted process's sweep (first run 2 s after start) returns it and tells the holder
        await ana.wait_text("Your claim on an incident ran out", timeout=START_TIMEOUT + 15)
        [returned] = await rows(database_url, "SELECT status, claimed_by, lease_until FROM incident")
        assert returned == {"status": "open", "claimed_by": None, "lease_until": None}
        expired = await rows(database_url, "SELECT actor FROM audit_event WHERE action = 'lease.expired'")
        assert len(expired) == 1
        await ana.send_command("/queue")
        card = await ana.wait_text("Reports: 1")
        await ana.press("Claim", message=card)
        await ana.wait_text("Claimed until")
        await stop(second)


async def healthy(port: int, timeout: float = START_TIMEOUT) -> None:
    """Wait until the webhook server at `port` answers /healthz."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            assert asyncio.get_running_loop().time() < deadline, "the webhook server did not start"
            await asyncio.sleep(0.2)


#: What each command answers (a line no other of the three answers has).
ANSWERS = {"/lawyer": "being detained right now", "/help": "What I can do", "/rights": "General information"}


def answers(person: FakeUser) -> dict[str, int]:
    """How many times the person got each command's answer."""
    return {command: len([m for m in person.messages() if m.text and line in m.text]) for command, line in ANSWERS.items()}


async def test_sigkill_with_webhook_updates_accepted_but_not_handled_loses_none_and_handles_each_once(
    double: BotApiDouble, database_url: str, tmp_path: Path
) -> None:
    await prepare(database_url)
    port = free_port()
    env = environment(
        double,
        database_url,
        SERENO_WEBHOOK_SECRET=SECRET,
        SERENO_WEB_HOST="127.0.0.1",
        SERENO_WEB_PORT=str(port),
        SERENO_WEBHOOK_REPLAY_SECONDS="1",
    )
    double.deliver_webhook_to(f"http://127.0.0.1:{port}/telegram", SECRET)
    people = [double.user(REPORTER + n, f"P{n}", "en") for n in range(3)]
    async with sereno_run(env, tmp_path, "first", "--webhook"):
        await healthy(port)
        # every reply is delivered but its answer held: one update of each person stays in
        # its handler, and the two others wait in the queue, accepted (200) and not handled
        double.answer_delay = 60.0
        for person in people:
            for command in ANSWERS:
                await person.send_command(command)
        await double.wait_until(lambda: double.webhook_answers.count(200) == 9, timeout=10, description="every update accepted")
        await double.wait_until(
            lambda: all(sum(answers(p).values()) == 1 for p in people),
            timeout=10,
            description="one update of each person in its handler",
        )
    double.answer_delay = 0.0
    in_handler = [next(c for c, n in answers(person).items() if n) for person in people]
    async with sereno_run(env, tmp_path, "second", "--webhook") as second:
        await healthy(port)
        await double.wait_until(
            lambda: all(min(answers(p).values()) >= 1 for p in people),
            timeout=START_TIMEOUT,
            description="every update answered after the restart",
        )
        await wait_for_no_rows(database_url, "SELECT update_id FROM update_inbox WHERE handled_at IS NULL", timeout=START_TIMEOUT)
        await asyncio.sleep(1)  # anything handled twice would have answered by now
        await stop(second)
    accepted = len(await rows(database_url, "SELECT update_id FROM update_inbox"))
    lost = sum(1 for person in people for n in answers(person).values() if n == 0)
    print(f"webhook updates accepted before the SIGKILL: {accepted}; lost: {lost}")
    assert accepted == 9 and lost == 0
    for person, started in zip(people, in_handler, strict=True):
        # queued when the process died: handled once; in its handler: answered then, and at
        # most once more after the restart (the reply was sent, its step not yet stored)
        assert {c: n for c, n in answers(person).items() if c != started} == {c: 1 for c in ANSWERS if c != started}
        assert 1 <= answers(person)[started] <= 2
