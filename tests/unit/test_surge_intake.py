"""Surge mode applied: the intake's limit and cards, the desk's queue and batch, the
unclaimed pings (in-memory ports)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import IncidentStatus, Verdict
from sereno.verify.intake import IntakePolicy, IntakeService, Submitted
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService
from sereno.verify.surge import SurgePolicy
from sereno.verify.surge_service import SurgeService
from tests.conftest import DEMO_REGION
from tests.fakes import MemoryUnitOfWorkFactory

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
KEY = b"unit-test-key-0123456789abcdef"
COORD, ANA = 1, 2
GAZETTEER = Gazetteer(parse_geojson(DEMO_REGION.read_text()))
LAS_PALMAS = 34.052  # lat of a pin in las-palmas (lon -118.256)


class Region:
    def __init__(self) -> None:
        self.uow, self.clock = MemoryUnitOfWorkFactory(), ManualClock(NOW)
        self.pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, self.pseudonymize)
        self.surge = SurgeService(self.uow, self.clock, GAZETTEER, SurgePolicy(snapshot_ttl=timedelta(0)), self.pseudonymize)
        self.intake = IntakeService(
            self.uow,
            self.clock,
            self.pseudonymize,
            IntakePolicy(max_reports=5, window=timedelta(minutes=10)),
            images=PillowImageSanitizer(),
            gazetteer=GAZETTEER,
            surge=self.surge,
        )
        self.desk = DeskService(self.uow, self.clock, batch=self.surge)
        self.n = 0

    async def staff(self) -> None:
        for user, role in ((COORD, Role.COORDINATOR), (ANA, Role.VERIFIER)):
            await self.roster.redeem((await self.roster.invite(None, role)).code, user, str(user))
            await self.roster.update(user, on_duty=True)

    async def report(self, by: int, lat: float = LAS_PALMAS, area: str = "las-palmas") -> Submitted:
        self.n += 1
        draft = ReportDraft(f"d{self.n}", activity=Activity.PRESENCE, point=GeoPoint(lat, -118.256), neighborhood_id=area)
        return await self.intake.submit(draft, by, by, "en")

    def told(self, submitted: Submitted) -> list[int]:
        return [person.user_id for card in submitted.cards for person in card.to]

    def decide(self, incident_id: str, verdict: Verdict) -> None:
        incidents = self.uow.store.incidents
        incidents[incident_id] = replace(
            incidents[incident_id], status=IncidentStatus.DECIDED, verdict=verdict, decided_at=self.clock.now()
        )


@pytest.fixture
async def r() -> Region:
    region = Region()
    await region.staff()
    return region


async def test_outside_surge_verifiers_and_coordinators_get_the_card_and_the_usual_limit_holds(r: Region) -> None:
    first = await r.report(100)
    assert sorted(r.told(first)) == [COORD, ANA]
    for n in range(4):
        await r.report(100, lat=LAS_PALMAS + 0.01 * (n + 1))
    with pytest.raises(Refusal) as refused:
        await r.report(100, lat=34.1)
    assert refused.value.reason is RefusalReason.RATE_LIMITED and refused.value.limit == 5


async def test_in_surge_the_limit_per_reporter_tightens_and_the_refusal_says_so(r: Region) -> None:
    await r.surge.set(COORD, True, "las-palmas")
    await r.report(100)
    await r.report(100, lat=LAS_PALMAS + 0.01)
    with pytest.raises(Refusal) as refused:
        await r.report(100, lat=LAS_PALMAS + 0.02)
    refusal = refused.value
    assert refusal.reason is RefusalReason.RATE_LIMITED
    assert (refusal.limit, refusal.window) == (2, timedelta(minutes=10))
    assert refusal.retry_after is not None and timedelta(0) < refusal.retry_after <= timedelta(minutes=10)
    assert r.intake.limit_applied(100).max_reports == 2
    await r.report(100, area="eastfield", lat=34.0)  # not surging there: the usual limit


async def test_in_surge_a_new_reporters_incident_gets_no_card_and_waits_for_batch_review(r: Region) -> None:
    await r.surge.set(COORD, True, "las-palmas")
    submitted = await r.report(100)
    assert submitted.cards == ()
    assert submitted.incident is not None
    assert [i.id for i in await r.desk.batch(ANA)] == [submitted.incident.id]
    assert (await r.desk.queues(ANA)).usual == []


async def test_in_surge_a_reporter_confirmed_before_reaches_the_verifiers_but_not_the_coordinators(r: Region) -> None:
    past = await r.report(100, lat=34.0, area="eastfield")
    assert past.incident is not None
    r.decide(past.incident.id, Verdict.CONFIRMED)
    await r.surge.set(COORD, True, "las-palmas")
    submitted = await r.report(100)
    assert r.told(submitted) == [ANA]  # coordinators get the summary instead
    assert submitted.incident is not None
    assert [i.id for i in (await r.desk.queues(ANA)).usual] == [submitted.incident.id]


async def test_in_surge_the_third_reporter_brings_an_incident_to_the_queue_with_its_card(r: Region) -> None:
    await r.surge.set(COORD, True, "las-palmas")
    first = await r.report(100)
    second = await r.report(101)
    assert first.cards == second.cards == ()
    assert first.incident is not None and second.incident is not None and second.incident.id == first.incident.id
    third = await r.report(102)
    assert r.told(third) == [ANA]
    assert [i.id for i in (await r.desk.queues(ANA)).usual] == [first.incident.id]
    assert await r.desk.batch(ANA) == []
    fourth = await r.report(103)
    assert fourth.cards == ()  # already in the queue: a joining report changes nothing


async def test_a_reporter_sending_twice_does_not_corroborate_their_own_incident(r: Region) -> None:
    await r.surge.set(COORD, True, "las-palmas")
    await r.report(100)
    await r.report(101)
    again = await r.report(101)
    assert again.cards == ()
    assert len(await r.desk.batch(ANA)) == 1


async def test_the_queue_keeps_the_usual_incidents_on_top_by_tier_and_age_and_the_batch_below(r: Region) -> None:
    elsewhere = await r.report(200, lat=34.0, area="eastfield")  # not surging
    await r.surge.set(COORD, True, "las-palmas")
    r.clock.advance(timedelta(minutes=1))
    lone = await r.report(300)
    r.clock.advance(timedelta(minutes=1))
    urgent_draft = ReportDraft("urgent", activity=Activity.ARREST, point=GeoPoint(34.03, -118.20), neighborhood_id="eastfield")
    urgent = await r.intake.submit(urgent_draft, 201, 201, "en")
    assert elsewhere.incident and lone.incident and urgent.incident
    queue = await r.desk.queues(ANA)
    assert [i.id for i in queue.usual] == [urgent.incident.id, elsewhere.incident.id]
    assert [i.id for i in queue.batch] == [lone.incident.id]
    assert [i.id for i in await r.desk.queue(ANA)] == [urgent.incident.id, elsewhere.incident.id, lone.incident.id]


async def test_batched_incidents_are_not_pinged_while_they_wait_but_are_after_the_surge(r: Region) -> None:
    await r.surge.set(COORD, True, "las-palmas")
    lone = await r.report(100)
    assert lone.incident is not None
    r.clock.advance(timedelta(minutes=40))  # past both ping levels of a routine incident
    assert await r.desk.unclaimed_pings() == []
    await r.surge.set(COORD, False, "las-palmas")
    [ping] = await r.desk.unclaimed_pings()
    assert ping.incident.id == lone.incident.id


async def test_outside_surge_nothing_is_batched(r: Region) -> None:
    submitted = await r.report(100)
    assert submitted.incident is not None
    queue = await r.desk.queues(ANA)
    assert ([i.id for i in queue.usual], queue.batch) == ([submitted.incident.id], [])


async def test_in_surge_the_incident_most_people_report_tops_the_queue_above_fewer_reporters_claiming_urgent(
    r: Region,
) -> None:
    await r.surge.set(COORD, True, "las-palmas")
    claims = []
    for n in range(3):  # three pseudonyms claim an arrest together, far from the real event
        draft = ReportDraft(f"claim{n}", activity=Activity.ARREST, point=GeoPoint(34.06, -118.25), neighborhood_id="las-palmas")
        claims.append(await r.intake.submit(draft, 400 + n, 400 + n, "en"))
    r.clock.advance(timedelta(minutes=1))
    many = [await r.report(500 + n, lat=LAS_PALMAS - 0.004) for n in range(6)]  # agents present, six people
    real, claimed = many[0].incident, claims[0].incident
    assert real is not None and claimed is not None and real.id != claimed.id
    assert [i.id for i in (await r.desk.queues(ANA)).usual] == [real.id, claimed.id]
    await r.surge.set(COORD, False, "las-palmas")  # outside surge: the tier and age order again
    assert [i.id for i in (await r.desk.queues(ANA)).usual] == [claimed.id, real.id]


async def test_in_surge_coordinators_are_not_pinged_about_an_unclaimed_incident_their_summary_counts(r: Region) -> None:
    await r.surge.set(COORD, True, "las-palmas")
    for n in range(3):  # corroborated: in the usual queue
        await r.report(600 + n)
    r.clock.advance(timedelta(minutes=40))  # past both ping levels
    [ping] = await r.desk.unclaimed_pings()  # the first level: everyone on duty (the coordinator is)
    assert sorted(p.user_id for p in ping.to) == [COORD, ANA]
    assert await r.desk.unclaimed_pings() == []  # not the coordinators' level while it surges
    await r.surge.set(COORD, False, "las-palmas")
    [later] = await r.desk.unclaimed_pings()
    assert [p.user_id for p in later.to] == [COORD]
