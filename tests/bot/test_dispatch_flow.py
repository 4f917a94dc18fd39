"""Sending a field verifier, end to end through the Bot API double, on SQLite and
PostgreSQL: the ask and its safety briefing, going or declining, the on-site report as a
verdict, the safety check-ins and their escalation, what only coordinators see, and the
timers coming back from the database after a restart."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from sereno.bootstrap import running_bot
from sereno.bot.jobs import sweep_now
from sereno.double import BotApiDouble, FakeUser
from sereno.verify.clock import ManualClock
from tests.bot.conftest import Harness, jpeg_with_gps, seed_region, settings_for
from tests.bot.test_desk_flow import report

ADMIN, ANA, BEN, CARL, DINA, EVE, TEO, ROSA = (8_000_010 + n for n in range(8))
ASK = "Can you go and look?"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_ids": str(ADMIN)}


async def join(double: BotApiDouble, admin: FakeUser, user_id: int, name: str, role: str, *, field: bool) -> FakeUser:
    """A desk member with `role`, on duty, reading English; opted in as a field verifier when `field`."""
    await admin.send_command(f"/invite {role}")
    invite = await admin.wait_text(f"Invite code for a {role}")
    code = re.search(r"[2-9A-Z]{4}-[2-9A-Z]{4}", invite.text)
    assert code is not None
    person = double.user(user_id, name, "en")
    await person.send_command(f"/join {code.group()}")
    await person.wait_text(f"Welcome to the desk as {role}")
    await person.send_command("/duty on")
    await person.wait_text("You are on duty")
    if field:
        await person.send_command("/field on")
        await person.wait_text("You are a field verifier")
    return person


async def send_someone(ana: FakeUser) -> None:
    card = await ana.wait_text("Reports: 1", since_last_action=False)
    await ana.press("🚶 Send someone", message=card)
    await ana.wait_text("🚶 Dispatch: asking someone to go")


async def go(person: FakeUser, minutes: int = 10) -> None:
    await person.wait_text(ASK, since_last_action=False)
    await person.press(f"{minutes} min")
    await person.wait_text("When you have looked, tap what you found.")


async def run_dispatch_job(bot: Harness) -> None:
    [job] = bot.runtime.application.job_queue.get_jobs_by_name("dispatch-steps")  # type: ignore[union-attr]
    await job.run(bot.runtime.application)


def texts(person: FakeUser, part: str) -> list[str]:
    return [m.text for m in person.messages() if m.text and part in m.text]


async def test_a_verifier_sends_someone_who_goes_confirms_and_leaves_safe(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join(double, admin, ANA, "Ana", "verifier", field=False)
    ben = await join(double, admin, BEN, "Ben", "verifier", field=True)
    await report(double.user(ROSA, "Rosa", "en"))
    await send_someone(ana)
    ask = await ben.wait_text(ASK)
    assert "Observe only, from a distance" in ask.text and "Do not film faces" in ask.text and "SALUTE" in ask.text
    assert "exit route" in ask.text and "direction of travel" in ask.text
    await go(ben)
    on_the_way = await ana.wait_text("is on the way to the incident")
    assert "Ben" not in on_the_way.text and "about 10 min" in on_the_way.text
    await ben.press("✅ Confirmed: I can see it")
    for question, answer in [
        ("Size: how many agents?", "3–5"),
        ("How many vehicles?", "Skip"),
        ("Activity: what are they doing?", "Agents present or gathering"),
        ("Uniform: what markings?", "ICE"),
        ("Equipment: what vehicles or gear?", "Unmarked SUV"),
        ("Direction of travel?", "North"),
    ]:
        await ben.wait_text(question)
        await ben.press(answer)
    await ben.wait_text("In a few words, what do you see?")
    await ben.send_text("Two SUVs parked at the corner, vests marked ICE")
    await ben.wait_text("If it is safe, send one photo")
    await ben.send_photo(jpeg_with_gps())
    await ben.wait_text("Your on-site report (confirmed) is on the incident's card")
    await ana.wait_text("The on-site report for the incident")
    await ana.send_command("/queue")
    card = await ana.wait_text("📍 On-site report")
    assert "confirmed · 3–5 agents" in card.text and "ICE" in card.text and "heading: North" in card.text
    assert "Ben" not in card.text and "does not count" not in card.text and "📷" in card.text
    await ana.press("📷 Photos (1)", message=card)
    photo = await double.wait_until(lambda: next((m for m in double.sent_messages(ANA) if m.photo), None))
    assert photo.file is not None and photo.file.data is not None
    assert not Image.open(io.BytesIO(photo.file.data)).getexif() and b"SecretPhone" not in photo.file.data
    await ana.press("Claim", message=card)
    await ana.wait_text("Claimed until")
    await ana.press("✅ Confirmed")
    await ana.wait_text("Send a short reason")
    await ana.send_text("Field verifier saw it; matches the reports")
    await ana.wait_text("Decided: Confirmed")
    await ben.press("🏠 I'm safe and gone")
    await ben.wait_text("Your visit is closed")
    [dispatch] = await bot.rows("SELECT state, end_reason FROM dispatch")
    assert dispatch == {"state": "closed", "end_reason": "safe"}
    [verdicts] = await bot.rows("SELECT count(*) AS n FROM verdict WHERE counts")
    assert verdicts["n"] == 2


async def test_a_decline_passes_to_the_next_and_nobody_off_duty_or_not_opted_in_is_asked(
    bot: Harness, double: BotApiDouble
) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join(double, admin, ANA, "Ana", "verifier", field=False)
    ben = await join(double, admin, BEN, "Ben", "verifier", field=True)
    carl = await join(double, admin, CARL, "Carl", "verifier", field=True)
    dina = await join(double, admin, DINA, "Dina", "verifier", field=False)  # on duty, not opted in
    eve = await join(double, admin, EVE, "Eve", "verifier", field=True)
    await eve.send_command("/duty off")  # opted in, off duty
    await eve.wait_text("You are off duty")
    await report(double.user(ROSA, "Rosa", "en"))
    await send_someone(ana)
    await ben.wait_text(ASK)
    await ben.press("I can't go")
    await ben.wait_text("Someone else will be asked")
    await carl.wait_text(ASK)
    await carl.press("I can't go")
    await ana.wait_text("Nobody could go and look")
    assert texts(dina, ASK) == [] and texts(eve, ASK) == [] and texts(admin, ASK) == []
    [dispatch] = await bot.rows("SELECT state FROM dispatch")
    assert dispatch == {"state": "declined"}


async def test_an_unanswered_ask_passes_on_after_two_minutes(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join(double, admin, ANA, "Ana", "verifier", field=False)
    ben = await join(double, admin, BEN, "Ben", "verifier", field=True)
    carl = await join(double, admin, CARL, "Carl", "verifier", field=True)
    await report(double.user(ROSA, "Rosa", "en"))
    await send_someone(ana)
    ask = await ben.wait_text(ASK)
    bot.clock.advance(timedelta(minutes=2, seconds=1))
    await run_dispatch_job(bot)
    await carl.wait_text(ASK)
    await ben.wait_text("has ended. Thank you; you do not need to go.")
    await ben.press("10 min", message=ask)  # too late: the ask is Carl's now
    assert "no longer open for you" in str((await ben.wait_callback_answer()).get("text"))


async def test_a_trainees_on_site_report_is_shown_but_does_not_count(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join(double, admin, ANA, "Ana", "verifier", field=False)
    teo = await join(double, admin, TEO, "Teo", "trainee", field=True)
    await report(double.user(ROSA, "Rosa", "en"))
    await send_someone(ana)
    await go(teo, 5)
    await teo.press("🔍 Nothing there: I checked the area")
    await teo.wait_text("In a few words, what did you check?")
    await teo.press("Skip")
    done = await teo.wait_text("Your on-site report (nothing there)")
    assert "does not count as a verdict" in done.text
    await ana.send_command("/queue")
    card = await ana.wait_text("📍 On-site report")
    assert "nothing there" in card.text and "(does not count)" in card.text
    [incident] = await bot.rows("SELECT status FROM incident")
    assert incident == {"status": "open"}
    assert await bot.rows("SELECT * FROM verdict WHERE counts") == []


async def test_only_coordinators_see_who_was_dispatched(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join(double, admin, ANA, "Ana", "verifier", field=False)
    ben = await join(double, admin, BEN, "Ben", "verifier", field=True)
    await report(double.user(ROSA, "Rosa", "en"))
    await send_someone(ana)
    await go(ben)
    await ana.send_command("/queue")
    desk_card = await ana.wait_text("🚶 Dispatch: on the way")
    assert "Ben" not in desk_card.text and "ETA" in desk_card.text
    await ana.send_command("/dispatches")
    assert "not allowed" in (await ana.wait_text("not allowed")).text
    await admin.send_command("/queue")
    coordinator_card = await admin.wait_text("🚶 Dispatch: Ben · on the way")
    assert "next check-in at" in coordinator_card.text
    await admin.send_command("/dispatches")
    listed = await admin.wait_text("Incident in")
    assert "Ben" in listed.text
    await admin.press("Close this dispatch", message=listed)
    await admin.wait_text("Dispatch closed.")
    await ben.wait_text("A coordinator ended your visit")


async def test_a_missed_check_in_escalates_to_coordinators_once_and_is_audited(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join(double, admin, ANA, "Ana", "verifier", field=False)
    ben = await join(double, admin, BEN, "Ben", "verifier", field=True)
    await report(double.user(ROSA, "Rosa", "en"))
    await send_someone(ana)
    await go(ben, 5)
    bot.clock.advance(timedelta(minutes=25, seconds=1))  # ETA 5 + 20
    await run_dispatch_job(bot)
    await ben.wait_text("Safety check-in: are you OK?")
    bot.clock.advance(timedelta(minutes=5, seconds=1))
    await run_dispatch_job(bot)
    await ben.wait_text("Reminder: are you OK?", since_last_action=False)
    bot.clock.advance(timedelta(minutes=5, seconds=1))
    await run_dispatch_job(bot)
    escalation = await admin.wait_text("did not answer the safety check-in", since_last_action=False)
    assert "Ben" in escalation.text and "Last shared neighborhood" in escalation.text
    for _ in range(3):
        bot.clock.advance(timedelta(minutes=10))
        await run_dispatch_job(bot)
    assert len(texts(admin, "did not answer the safety check-in")) == 1
    assert texts(ana, "did not answer") == []  # the desk is not told who
    audited = await bot.rows("SELECT action FROM audit_event WHERE action LIKE 'dispatch.check_in%' ORDER BY id")
    assert [r["action"] for r in audited] == [
        "dispatch.check_in.asked",
        "dispatch.check_in.missed",
        "dispatch.check_in.escalated",
    ]
    await ben.press("👍 I'm OK")
    await admin.wait_text("answered the check-in", since_last_action=False)
    await ben.press("🆘 I need help")
    await ben.wait_text("Coordinators have been told")
    help_notice = await admin.wait_text("asked for help", since_last_action=False)
    assert "Ben" in help_notice.text


async def test_check_in_timers_come_back_from_the_database_after_a_restart(double: BotApiDouble, database_url: str) -> None:
    await seed_region(database_url)
    settings = settings_for(double, database_url, admin_ids=str(ADMIN))
    clock = ManualClock()
    async with running_bot(settings, clock=clock, poll_timeout=1):
        admin = double.user(ADMIN, "Admin", "en")
        ana = await join(double, admin, ANA, "Ana", "verifier", field=False)
        ben = await join(double, admin, BEN, "Ben", "verifier", field=True)
        await report(double.user(ROSA, "Rosa", "en"))
        await send_someone(ana)
        await go(ben, 5)
    later = ManualClock(clock.now() + timedelta(minutes=26))
    async with running_bot(settings, clock=later, poll_timeout=1) as runtime:
        sweep_now(runtime.application)  # the job runs soon after a start anyway
        await ben.wait_text("Safety check-in: are you OK?", timeout=15)
