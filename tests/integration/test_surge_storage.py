"""Surge mode in the database (SQLite and PostgreSQL): the distinct reporters of many
incidents in one read, and the desk's batch from them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.images import PillowImageSanitizer
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService
from sereno.verify.surge import SurgePolicy
from sereno.verify.surge_service import SurgeService
from tests.conftest import DEMO_REGION

KEY = b"integration-key-0123456789abcdef"
COORD, ANA = 10, 12
GAZETTEER = Gazetteer(parse_geojson(DEMO_REGION.read_text()))


class Region:
    def __init__(self, engine: AsyncEngine) -> None:
        self.uow, self.clock, self.pseudonymize = SqlUnitOfWorkFactory(engine, KEY), ManualClock(), Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, self.pseudonymize)
        self.surge = SurgeService(self.uow, self.clock, GAZETTEER, SurgePolicy(snapshot_ttl=timedelta(0)), self.pseudonymize)
        self.intake = IntakeService(
            self.uow,
            self.clock,
            self.pseudonymize,
            IntakePolicy(max_reports=10_000),
            images=PillowImageSanitizer(),
            gazetteer=GAZETTEER,
            surge=self.surge,
        )
        self.desk = DeskService(self.uow, self.clock, pseudonymize=self.pseudonymize, batch=self.surge)
        self.n = 0

    async def staff(self) -> None:
        for user, role in ((COORD, Role.COORDINATOR), (ANA, Role.VERIFIER)):
            await self.roster.redeem((await self.roster.invite(None, role)).code, user, str(user))
            await self.roster.update(user, on_duty=True)

    async def report(self, by: int, lat: float) -> str:
        self.n += 1
        draft = ReportDraft(
            f"{self.n:032x}", activity=Activity.PRESENCE, point=GeoPoint(lat, -118.256), neighborhood_id="las-palmas"
        )
        submitted = await self.intake.submit(draft, by, by, "en")
        assert submitted.incident is not None
        return submitted.incident.id


async def test_the_reporters_of_many_incidents_come_in_one_read_distinct_and_sorted(engine: AsyncEngine) -> None:
    r = Region(engine)
    one = await r.report(100, 34.052)
    assert await r.report(101, 34.052) == one
    assert await r.report(100, 34.052) == one  # the same reporter again counts once
    other = await r.report(102, 30.0)
    async with r.uow() as uow:
        found = await uow.reports.reporters_of([one, other, "no-such-incident", one])
        assert await uow.reports.reporters_of([]) == {}
    assert found == {one: tuple(sorted([r.pseudonymize(100), r.pseudonymize(101)])), other: (r.pseudonymize(102),)}


async def test_in_surge_the_desk_groups_few_new_reporters_incidents_for_batch_review(engine: AsyncEngine) -> None:
    r = Region(engine)
    await r.staff()
    await r.surge.set(COORD, True, "las-palmas")
    lone = [await r.report(200 + n, 30.0 + n) for n in range(3)]
    seen = await r.report(300, 34.052)
    for by in (301, 302):
        assert await r.report(by, 34.052) == seen
    queue = await r.desk.queues(ANA)
    assert [i.id for i in queue.usual] == [seen]
    assert sorted(i.id for i in queue.batch) == sorted(lone)
