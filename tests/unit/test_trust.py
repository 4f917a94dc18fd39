"""Reporter trust: a hint from a pseudonym's past outcomes only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService
from sereno.verify.incidents import DrillKind, Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, Report, ReportDraft
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService
from sereno.verify.trust import Trust, TrustHint
from sereno.verify.trust_service import TrustService
from tests.fakes import MemoryUnitOfWorkFactory

KEY = b"unit-test-key-0123456789abcdef"
ANA, BEN = 1, 2
GOOD, BAD, FRESH = 101, 102, 103


@pytest.mark.parametrize(
    ("confirmed", "debunked", "hint"),
    [
        (0, 0, TrustHint.NEW),
        (1, 0, TrustHint.CONFIRMED_BEFORE),
        (3, 1, TrustHint.CONFIRMED_BEFORE),
        (0, 1, TrustHint.DEBUNKED_BEFORE),
        (1, 1, TrustHint.DEBUNKED_BEFORE),  # a debunk is worth a second look
    ],
)
def test_the_hint_follows_confirmed_and_debunked_outcomes(confirmed: int, debunked: int, hint: TrustHint) -> None:
    trust = Trust(confirmed, debunked)
    assert trust.hint is hint and trust.score == confirmed - debunked


class Desk:
    def __init__(self) -> None:
        self.uow, self.clock = MemoryUnitOfWorkFactory(), ManualClock()
        self.pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, self.pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, self.pseudonymize, IntakePolicy(max_reports=100), images=PillowImageSanitizer()
        )
        self.desk = DeskService(self.uow, self.clock)
        self.trust = TrustService(self.uow)
        self.n = 0

    async def staff(self) -> None:
        for user in (ANA, BEN):
            await self.roster.redeem((await self.roster.invite(None, Role.VERIFIER)).code, user, str(user))

    async def report(self, by: int, lat: float) -> str:
        self.n += 1
        submitted = await self.intake.submit(
            ReportDraft(f"d{self.n}", activity=Activity.PRESENCE, point=GeoPoint(lat, -118.25)), by, by, "en"
        )
        assert submitted.incident is not None
        return submitted.incident.id

    def reports_of(self, incident: str) -> list[Report]:
        return [r for r in self.uow.store.reports.values() if r.incident_id == incident]

    async def decide(self, incident: str, verdict: Verdict) -> None:
        for user in (ANA, BEN):
            await self.desk.claim(user, incident)
            await self.desk.decide(user, incident, verdict, "checked")


@pytest.fixture
async def d() -> Desk:
    desk = Desk()
    await desk.staff()
    return desk


async def test_past_confirmed_raise_and_debunked_lower_each_incident_once(d: Desk) -> None:
    confirmed = await d.report(GOOD, 34.0)
    assert await d.report(GOOD, 34.0) == confirmed  # a second report to the same event
    await d.decide(confirmed, Verdict.CONFIRMED)
    debunked = await d.report(BAD, 35.0)
    await d.decide(debunked, Verdict.DEBUNKED)
    unclear = await d.report(BAD, 36.0)
    await d.desk.claim(ANA, unclear)
    await d.desk.decide(ANA, unclear, Verdict.UNVERIFIABLE, "gone")  # counts for nothing
    assert await d.trust.of(d.pseudonymize(GOOD)) == Trust(1, 0)
    assert await d.trust.of(d.pseudonymize(BAD)) == Trust(0, 1)
    now = await d.report(GOOD, 37.0)
    for user in (BAD, FRESH):
        assert await d.report(user, 37.0) == now
    hints = await d.trust.hints(d.reports_of(now))
    assert sorted(hints.values()) == sorted([TrustHint.CONFIRMED_BEFORE, TrustHint.DEBUNKED_BEFORE, TrustHint.NEW])


async def test_the_incidents_own_outcome_and_drills_do_not_count(d: Desk) -> None:
    incident = await d.report(GOOD, 34.0)
    await d.decide(incident, Verdict.CONFIRMED)
    assert set((await d.trust.hints(d.reports_of(incident))).values()) == {TrustHint.NEW}
    drill = await d.report(BAD, 35.0)
    d.uow.store.incidents[drill] = replace(d.uow.store.incidents[drill], drill=DrillKind.LIVE)
    await d.decide(drill, Verdict.DEBUNKED)
    assert await d.trust.of(d.pseudonymize(BAD)) == Trust()
