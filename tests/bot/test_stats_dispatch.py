"""/stats through the Bot API double (SQLite and PostgreSQL): the field dispatch figures,
after someone was sent, accepted and reported on site."""

from __future__ import annotations

from datetime import timedelta

from sereno.double import BotApiDouble
from sereno.verify.dispatch import Finding
from sereno.verify.members import Role
from tests.bot.conftest import Harness
from tests.bot.test_broadcast_flow import incident

ANA, BEN, COORD = 8_200_001, 8_200_002, 8_200_003


async def staff(bot: Harness) -> None:
    """ANA and BEN verify, on duty; ANA is a field verifier in Harbor View; COORD coordinates."""
    services = bot.runtime.services
    for user, role in ((ANA, Role.VERIFIER), (BEN, Role.VERIFIER), (COORD, Role.COORDINATOR)):
        await services.roster.redeem((await services.roster.invite(None, role)).code, user, str(user))
        await services.roster.update(user, on_duty=True)
    await services.dispatch.opt_in(ANA, "harbor-view")


async def test_stats_show_no_dispatches_before_anyone_was_sent(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    await incident(bot)
    coordinator = double.user(COORD, "Coord", "en")
    await coordinator.send_command("/stats")
    figures = await coordinator.wait_text("Desk statistics from", timeout=15)
    assert "No dispatches." in figures.text.splitlines()


async def test_stats_show_a_dispatch_accepted_and_reported_on_site(bot: Harness, double: BotApiDouble) -> None:
    await staff(bot)
    reported = await incident(bot)
    dispatch = bot.runtime.services.dispatch
    bot.clock.advance(timedelta(minutes=2))
    sent = await dispatch.send(reported, by=BEN)
    bot.clock.advance(timedelta(minutes=2))
    await dispatch.accept(sent.dispatch.id, ANA, 10)  # 4 min after the report
    bot.clock.advance(timedelta(minutes=11))
    await dispatch.on_site_report(sent.dispatch.id, ANA, Finding.CONFIRMED, text="two vans, agents in vests")
    verifier = double.user(ANA, "Ana", "en")
    await verifier.send_command("/stats")
    await verifier.wait_text("Only coordinators", timeout=15)  # the one who went sees no figures
    coordinator = double.user(COORD, "Coord", "en")
    await coordinator.send_command("/stats")
    lines = (await coordinator.wait_text("Desk statistics from", timeout=15)).text.splitlines()
    assert "Dispatches: 1 (someone went: 1; nobody available: 0)." in lines
    assert "Time to a dispatch accepted: median 4 min, p90 4 min (1 dispatch)" in lines
    assert "Time to the on-site report: median 15 min, p90 15 min (1 dispatch)" in lines
    assert "Safety check-ins missed: 0. Escalations to coordinators: 0." in lines
    assert not any(str(ANA) in line for line in lines)  # figures, never who went
