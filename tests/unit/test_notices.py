"""Who is told what is decided by the domain: a submission's result names the verifiers to
send the card to (on duty, covering the area, reading the language, nearest first), a
verdict's result names the coordinators when verifiers disagree, and the unclaimed pings
name everyone on duty, then the coordinators."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.incidents import Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, ReportDraft, TimeSeen
from sereno.verify.notices import CardReason, Recipient
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService
from tests.conftest import DEMO_REGION
from tests.fakes import MemoryUnitOfWorkFactory

KEY = b"unit-test-key-0123456789abcdef"
ADMIN, COORD, NEAR, FAR, ANYWHERE, TRAINEE, OFF_DUTY, SPANISH = 1, 2, 3, 4, 5, 6, 7, 8
REPORTER = 99
GAZETTEER = Gazetteer(parse_geojson(DEMO_REGION.read_text()))
#: The report is filed in Mission Flats with its pin on Old Mill's middle (the verifiers'
#: homes are compared with the pin, not with the neighborhood it was filed in).
OLD_MILL = GAZETTEER.get("old-mill")


class World:
    def __init__(self) -> None:
        self.uow, self.clock = MemoryUnitOfWorkFactory(), ManualClock()
        pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, pseudonymize, IntakePolicy(max_reports=100), images=PillowImageSanitizer(), gazetteer=GAZETTEER
        )
        self.desk = DeskService(self.uow, self.clock)

    async def join(self, user: int, name: str, role: Role, **settings: object) -> None:
        await self.roster.redeem((await self.roster.invite(None, role)).code, user, name)
        await self.roster.update(user, **settings)  # type: ignore[arg-type]

    async def staff(self) -> None:
        """Names sort the roster against the expected order (the roster lists by name)."""
        await self.roster.add_admin(ADMIN, "a admin")
        await self.roster.update(ADMIN, on_duty=True, languages=("en",), neighborhoods=("harbor-view",))
        await self.join(COORD, "b coordinator", Role.COORDINATOR, on_duty=False, languages=("en",))
        await self.join(ANYWHERE, "c anywhere", Role.VERIFIER, on_duty=True, languages=("en",), neighborhoods=())
        await self.join(FAR, "d far", Role.VERIFIER, on_duty=True, languages=("es", "en"), neighborhoods=("mission-flats",))
        await self.join(
            NEAR, "e near", Role.VERIFIER, on_duty=True, languages=("en",), neighborhoods=("mission-flats", "old-mill")
        )
        await self.join(TRAINEE, "f trainee", Role.TRAINEE, on_duty=True, languages=("en",), neighborhoods=())
        await self.join(OFF_DUTY, "g off duty", Role.VERIFIER, on_duty=False, languages=("en",), neighborhoods=())
        await self.join(SPANISH, "h spanish", Role.VERIFIER, on_duty=True, languages=("es",), neighborhoods=())

    def draft(self, n: int, activity: Activity = Activity.PRESENCE) -> ReportDraft:
        assert OLD_MILL is not None
        return ReportDraft(
            f"draft-{n}", activity=activity, time_seen=TimeSeen.NOW, point=OLD_MILL.centroid, neighborhood_id="mission-flats"
        )


@pytest.fixture
async def world() -> World:
    w = World()
    await w.staff()
    return w


async def test_a_new_incident_goes_to_verifiers_on_duty_covering_it_nearest_first(world: World) -> None:
    submitted = await world.intake.submit(world.draft(1), REPORTER, REPORTER, "en")
    [card] = submitted.cards
    assert submitted.incident is not None and card.incident.id == submitted.incident.id
    assert card.reason is CardReason.NEW
    # NEAR has a home on the pin, FAR only the neighborhood it was filed in, ANYWHERE covers
    # everywhere (last); the admin covers another area, the coordinator is off duty, the
    # trainee only practises, OFF_DUTY is off duty and SPANISH does not read English
    assert card.to == (Recipient(NEAR, "en"), Recipient(FAR, "es"), Recipient(ANYWHERE, "en"))


async def test_a_new_incident_goes_to_those_reading_the_reports_language(world: World) -> None:
    [card] = (await world.intake.submit(world.draft(1), REPORTER, REPORTER, "es")).cards
    assert [r.user_id for r in card.to] == [FAR, SPANISH]  # FAR is nearer than someone covering everywhere


async def test_without_a_gazetteer_the_roster_order_is_kept(world: World) -> None:
    intake = IntakeService(world.uow, world.clock, Pseudonymizer(KEY), images=PillowImageSanitizer())
    [card] = (await intake.submit(world.draft(1), REPORTER, REPORTER, "en")).cards
    assert [r.user_id for r in card.to] == [ANYWHERE, FAR, NEAR]


async def test_a_report_joining_an_incident_tells_nobody_unless_it_makes_it_more_urgent(world: World) -> None:
    first = await world.intake.submit(world.draft(1, Activity.SURVEILLANCE), REPORTER, REPORTER, "en")
    joined = await world.intake.submit(world.draft(2, Activity.SURVEILLANCE), REPORTER + 1, REPORTER + 1, "en")
    assert joined.incident is not None and first.incident is not None and joined.incident.id == first.incident.id
    assert joined.cards == ()
    again = await world.intake.submit(world.draft(2, Activity.SURVEILLANCE), REPORTER + 1, REPORTER + 1, "en")
    assert again.duplicate and again.cards == ()
    urgent = await world.intake.submit(world.draft(3, Activity.ARREST), REPORTER + 2, REPORTER + 2, "en")
    assert urgent.escalated and [c.incident.id for c in urgent.cards] == [first.incident.id]
    assert [r.user_id for r in urgent.cards[0].to] == [NEAR, FAR, ANYWHERE]


async def test_disagreeing_verifiers_send_the_incident_to_every_coordinator(world: World) -> None:
    incident = (await world.intake.submit(world.draft(1), REPORTER, REPORTER, "en")).incident
    assert incident is not None
    await world.desk.claim(NEAR, incident.id)
    first = await world.desk.decide(NEAR, incident.id, Verdict.CONFIRMED, "seen")
    assert first.outcome is Outcome.RECORDED and first.cards == ()
    await world.desk.claim(FAR, incident.id)
    second = await world.desk.decide(FAR, incident.id, Verdict.DEBUNKED, "a film crew")
    assert second.outcome is Outcome.ESCALATED
    [card] = second.cards
    assert card.reason is CardReason.DISAGREEMENT and card.incident.escalated
    assert {r.user_id for r in card.to} == {ADMIN, COORD}  # on duty or not; no verifier, no trainee
    await world.desk.claim(COORD, incident.id)
    settled = await world.desk.decide(COORD, incident.id, Verdict.DEBUNKED, "checked with the city")
    assert settled.outcome is Outcome.DECIDED and settled.cards == ()


async def test_an_agreed_verdict_sends_no_card(world: World) -> None:
    incident = (await world.intake.submit(world.draft(1), REPORTER, REPORTER, "en")).incident
    assert incident is not None
    for verifier in (NEAR, FAR):
        await world.desk.claim(verifier, incident.id)
        result = await world.desk.decide(verifier, incident.id, Verdict.CONFIRMED, "seen")
    assert result.outcome is Outcome.DECIDED and result.cards == () and len(result.tell) == 1


async def test_an_unclaimed_incident_pings_everyone_on_duty_then_the_coordinators(world: World) -> None:
    incident = (await world.intake.submit(world.draft(1), REPORTER, REPORTER, "en")).incident
    assert incident is not None
    world.clock.advance(timedelta(minutes=5))  # a high tier: everyone on duty after 5 min
    [ping] = await world.desk.unclaimed_pings()
    assert ping.reason is CardReason.UNCLAIMED and ping.incident.id == incident.id
    assert {r.user_id for r in ping.to} == {ADMIN, ANYWHERE, FAR, NEAR, SPANISH}  # whatever their areas or languages
    assert await world.desk.unclaimed_pings() == []  # once
    world.clock.advance(timedelta(minutes=5))  # then coordinators, on duty or not
    [ping] = await world.desk.unclaimed_pings()
    assert {r.user_id for r in ping.to} == {ADMIN, COORD}
