"""Surge mode through the Bot API double, on SQLite and PostgreSQL: /surge for coordinators
only, batch review under /batch, and one summary per period for coordinators."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sereno.double import BotApiDouble, FakeUser
from tests.bot.conftest import Harness
from tests.bot.test_desk_flow import join_desk
from tests.bot.test_intake_bad_input import finish
from tests.bot.test_intake_conversation import start_in

ADMIN, ANA, ROSA = 8_000_101, 8_000_102, 8_000_103
LAS_PALMAS = (34.0500, -118.2577)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"admin_ids": str(ADMIN)}


async def report_at(reporter: FakeUser, lat: float, lon: float) -> None:
    """A report with only a shared pin (every other question skipped)."""
    await start_in(reporter, "en")
    await reporter.press("📝 Report activity")
    await reporter.wait_text("What is happening?")
    await reporter.press("Skip")
    await reporter.wait_text("Where is it happening?")
    await reporter.share_location(lat, lon)
    for question in ("When did you", "How many agents", "How many vehicles", "What markings", "Anything else"):
        await reporter.wait_text(question)
        await reporter.press("Skip")
    await finish(reporter)


def texts(person: FakeUser, part: str) -> list[str]:
    return [m.text for m in person.messages() if part in m.text]


async def run_summary_job(bot: Harness) -> None:
    [job] = bot.runtime.application.job_queue.get_jobs_by_name("surge-summary")  # type: ignore[union-attr]
    await job.run(bot.runtime.application)


async def test_surge_is_for_coordinators_and_others_are_refused_politely(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join_desk(double, admin, ANA, "Ana")
    await ana.send_command("/surge on las-palmas")
    await ana.wait_text("You are not allowed to do that")
    await ana.send_command("/surge")
    await ana.wait_text("You are not allowed to do that")
    stranger = double.user(ROSA, "Rosa", "en")
    await stranger.send_command("/surge off")
    await stranger.wait_text("You are not allowed to do that")
    await admin.send_command("/surge on atlantis")
    await admin.wait_text("not one of this network's")
    await admin.send_command("/surge sideways")
    await admin.wait_text("Send /surge to see which neighborhoods are in surge")
    await admin.send_command("/surge")
    await admin.wait_text("No neighborhood is in surge")
    assert await bot.rows("SELECT * FROM surge_override") == []
    refused = await bot.rows("SELECT action FROM audit_event WHERE action LIKE 'refused.surge.%' ORDER BY id")
    assert [r["action"] for r in refused] == ["refused.surge.on", "refused.surge.status", "refused.surge.off", "refused.surge.on"]


async def test_in_surge_a_new_reporters_incident_skips_the_verifiers_and_waits_under_batch(
    bot: Harness, double: BotApiDouble
) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join_desk(double, admin, ANA, "Ana")
    await admin.send_command("/surge on las-palmas")
    await admin.wait_text("Surge mode is on for Las Palmas")
    await admin.send_command("/surge")
    await admin.wait_text("Las Palmas: set by a coordinator")
    await report_at(double.user(ROSA, "Rosa", "en"), *LAS_PALMAS)
    await ana.send_command("/queue")
    line = await ana.wait_text("grouped for batch review")
    assert line.text == "1 incident from new reporters is grouped for batch review: /batch"
    await ana.send_command("/batch")
    digest = await ana.wait_text("waits for batch review")
    assert "Las Palmas" in digest.text and "1 report" in digest.text
    assert texts(ana, "Reports: 1") == []  # nobody was pinged with its card
    await ana.press("1", message=digest)
    card = await ana.wait_text("Reports: 1")
    assert "SURGE" in card.text
    await admin.send_command("/surge auto las-palmas")
    await admin.wait_text("Las Palmas follows the automatic rule again")
    await ana.send_command("/batch")
    await ana.wait_text("No incidents are waiting for batch review")


async def test_coordinators_get_one_surge_summary_per_period_not_one_per_incident(bot: Harness, double: BotApiDouble) -> None:
    admin = double.user(ADMIN, "Admin", "en")
    ana = await join_desk(double, admin, ANA, "Ana")
    await admin.send_command("/duty on")
    await admin.wait_text("You are on duty")
    await admin.send_command("/surge on")
    await admin.wait_text("Surge mode is on for all neighborhoods")
    for n in range(3):  # three people report the same event: it reaches the queue
        await report_at(double.user(ROSA + n, f"R{n}", "en"), *LAS_PALMAS)
    card = await ana.wait_text("Reports: 3", since_last_action=False)
    assert "SURGE" in card.text
    await run_summary_job(bot)
    summary = await admin.wait_text("Surge summary", since_last_action=False)
    assert "Las Palmas" in summary.text and "3 new reports since the last summary; 1 incident open." in summary.text
    await run_summary_job(bot)
    bot.clock.advance(timedelta(minutes=4))
    await run_summary_job(bot)
    assert len(texts(admin, "Surge summary")) == 1
    bot.clock.advance(timedelta(minutes=1))
    await run_summary_job(bot)
    assert len(texts(admin, "Surge summary")) == 2
    assert texts(admin, "Reports:") == []  # no card per incident for coordinators in surge
    assert texts(ana, "Surge summary") == []
