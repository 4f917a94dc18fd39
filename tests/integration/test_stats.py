"""Desk statistics against a seeded dataset whose medians are known (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.bot.i18n import translator
from sereno.bot.stats_render import stats_text
from sereno.verify.errors import Refusal
from sereno.verify.incidents import Verdict
from sereno.verify.stats import StatsService, percentile
from tests.integration.test_outbox_storage import ANA, BEN, COORD, OLD_MILL, World, world  # noqa: F401

MINUTE = 60.0
# (minutes to the first claim, minutes to the verdict, verdict) for five incidents in Harbor View
SEEDED = [
    (1, 5, Verdict.CONFIRMED),
    (2, 10, Verdict.DEBUNKED),
    (3, 15, Verdict.CONFIRMED),
    (4, 20, Verdict.DEBUNKED),
    (10, 60, Verdict.CONFIRMED),
]


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 10.0], 90) == 10.0


async def test_stats_of_a_seeded_week(world: World, engine: AsyncEngine) -> None:  # noqa: F811
    start = world.clock.now()
    for claim_after, verdict_after, verdict in SEEDED:
        incident = await world.incident()
        world.clock.advance(timedelta(minutes=claim_after))
        await world.desk.claim(ANA, incident)
        world.clock.advance(timedelta(minutes=verdict_after - claim_after))
        await world.desk.claim(ANA, incident)  # the lease may have run out meanwhile: claim again
        await world.desk.decide(ANA, incident, verdict, "checked")
        await world.desk.claim(BEN, incident)
        await world.desk.decide(BEN, incident, verdict, "checked too")
        world.clock.advance(timedelta(hours=4))  # the next report is a new incident
    still_open = await world.incident(point=OLD_MILL)
    stats = StatsService(world.uow, world.clock)
    with pytest.raises(Refusal):
        await stats.stats(ANA, timedelta(days=7))
    figures = await stats.stats(COORD, since=start, until=world.clock.now())
    total = figures.total
    assert (total.reports, total.incidents, total.open) == (6, 6, 1)
    assert total.verdicts == {Verdict.CONFIRMED: 3, Verdict.DEBUNKED: 2}
    assert (total.time_to_first_claim.median, total.time_to_first_claim.p90) == (3 * MINUTE, 10 * MINUTE)
    assert (total.time_to_verdict.median, total.time_to_verdict.p90) == (15 * MINUTE, 60 * MINUTE)
    assert total.time_to_verdict.count == 5 and total.alerts == 3 and total.corrections == 0
    assert total.deliveries == {}  # nobody subscribed, no channel: nothing to send
    [harbor, old_mill] = figures.areas
    assert (harbor.neighborhood_id, harbor.incidents, harbor.alerts) == ("harbor-view", 5, 3)
    assert (old_mill.neighborhood_id, old_mill.incidents, old_mill.open) == ("old-mill", 1, 1)
    assert still_open
    text = stats_text(translator("en"), figures, world.gazetteer, world.clock.now().tzinfo)  # type: ignore[arg-type]
    assert "median 3 min, p90 10 min (5 incidents)" in text and "Harbor View: 5 reports" in text
