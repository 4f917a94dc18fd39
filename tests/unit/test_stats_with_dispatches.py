"""Desk statistics with field dispatches: the service's figures (same window, same role rule
as the rest of /stats) and their text for /stats and `sereno admin stats`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sereno.bot.i18n import translator
from sereno.bot.stats_render import dispatch_lines, stats_text
from sereno.verify.dispatch import Finding
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.stats import AreaStats, DeskStats, DispatchStats, Durations, StatsService
from tests.unit.test_dispatch import ANA, COORD, DISP, GAZETTEER, World

SINCE, UNTIL = datetime(2026, 1, 8, 12, tzinfo=UTC), datetime(2026, 1, 15, 12, tzinfo=UTC)
NONE = DispatchStats(SINCE, UNTIL, 0, 0, 0, Durations.of([]), Durations.of([]), 0, 0)
SOME = DispatchStats(
    SINCE,
    UNTIL,
    dispatches=3,
    accepted=2,
    nobody=1,
    to_accepted=Durations.of([300.0, 540.0]),
    to_on_site=Durations.of([720.0]),
    check_ins_missed=1,
    escalations=2,
)


def desk_stats(dispatch: DispatchStats) -> DeskStats:
    return DeskStats(SINCE, UNTIL, AreaStats("*", reports=4, incidents=2), [], dispatch)


@pytest.fixture
async def w() -> World:
    world = World()
    await world.staff()
    return world


def test_the_text_gives_dispatch_counts_times_missed_check_ins_and_escalations() -> None:
    text = stats_text(translator("en"), desk_stats(SOME), GAZETTEER, ZoneInfo("UTC"))
    lines = text.splitlines()
    start = lines.index("Dispatches: 3 (someone went: 2; nobody available: 1).")
    assert lines[start + 1 : start + 4] == [
        "Time to a dispatch accepted: median 5 min, p90 9 min (2 dispatches)",
        "Time to the on-site report: median 12 min, p90 12 min (1 dispatch)",
        "Safety check-ins missed: 1. Escalations to coordinators: 2.",
    ]
    assert lines[start - 1].startswith("Alerts: ")  # after the desk's totals


def test_the_text_says_no_dispatches_when_there_were_none() -> None:
    text = stats_text(translator("en"), desk_stats(NONE), GAZETTEER, ZoneInfo("UTC"))
    assert "No dispatches." in text.splitlines()
    assert "Time to a dispatch accepted" not in text and "Escalations" not in text


def test_dispatches_nobody_accepted_show_a_dash_for_the_times() -> None:
    nobody_went = DispatchStats(SINCE, UNTIL, 1, 0, 1, Durations.of([]), Durations.of([]), 0, 0)
    assert dispatch_lines(translator("en"), nobody_went)[1] == "Time to a dispatch accepted: median –, p90 – (0 dispatches)"


def test_the_dispatch_lines_are_translated_text_with_values_in_place() -> None:
    lines = dispatch_lines(translator("es"), SOME)
    assert len(lines) == 4 and all("{" not in line for line in lines)


async def test_desk_stats_carry_the_dispatch_figures_for_coordinators_and_the_command_line(w: World) -> None:
    incident = await w.incident()
    w.clock.advance(timedelta(minutes=4))
    sent = await w.dispatch.send(incident, by=DISP)
    w.clock.advance(timedelta(minutes=1))
    await w.dispatch.accept(sent.dispatch.id, ANA, 5)
    w.clock.advance(timedelta(minutes=7))
    await w.dispatch.on_site_report(sent.dispatch.id, ANA, Finding.CONFIRMED)
    stats = StatsService(w.uow, w.clock)
    figures = await stats.stats(COORD)
    assert figures.dispatch == await w.dispatch.stats(COORD)
    assert (figures.dispatch.dispatches, figures.dispatch.accepted) == (1, 1)
    assert (figures.dispatch.to_accepted.median, figures.dispatch.to_on_site.median) == (300.0, 720.0)
    assert (figures.dispatch.since, figures.dispatch.until) == (figures.since, figures.until)  # one window
    assert (await stats.stats(None)).dispatch == figures.dispatch
    with pytest.raises(Refusal) as refused:
        await stats.stats(ANA)  # a verifier, even the one who went
    assert refused.value.reason is RefusalReason.STATS_NOT_ALLOWED


async def test_dispatches_outside_the_window_are_not_counted(w: World) -> None:
    incident = await w.incident()
    await w.dispatch.send(incident, by=DISP)
    w.clock.advance(timedelta(days=8))
    assert (await StatsService(w.uow, w.clock).stats(COORD)).dispatch.dispatches == 0
    assert (await StatsService(w.uow, w.clock).stats(COORD, timedelta(days=9))).dispatch.dispatches == 1
