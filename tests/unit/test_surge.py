"""Surge mode: when a neighborhood is in surge, and what changes then (pure decisions and
the service over in-memory ports)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sereno.storage.images import PillowImageSanitizer
from sereno.verify.clock import ManualClock
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService
from sereno.verify.surge import (
    EVERYWHERE,
    CoordinatorNotice,
    ReportLimit,
    Review,
    SurgeOverride,
    SurgePolicy,
    SurgeSource,
    coordinator_notice,
    normal_per_hour,
    report_limit,
    review,
    summary_due,
    surge_status,
)
from sereno.verify.surge_service import SurgeService
from sereno.verify.trust import TrustHint
from tests.conftest import DEMO_REGION
from tests.fakes import MemoryUnitOfWorkFactory

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
POLICY = SurgePolicy(multiple=4.0, floor_per_hour=3.0)
KEY = b"unit-test-key-0123456789abcdef"
COORD, ANA = 1, 2
GAZETTEER = Gazetteer(parse_geojson(DEMO_REGION.read_text()))


def test_the_normal_rate_is_the_trailing_weeks_hourly_mean_never_below_the_floor() -> None:
    assert normal_per_hour(0, POLICY) == 3.0
    assert normal_per_hour(168 * 5, POLICY) == 5.0


def test_automatic_surge_needs_more_than_the_multiple_of_normal() -> None:
    assert not surge_status("a", [], recent=12, baseline_count=0, now=NOW, policy=POLICY).on  # 4 × the floor of 3
    status = surge_status("a", [], recent=13, baseline_count=0, now=NOW, policy=POLICY)
    assert status.on and status.source is SurgeSource.AUTOMATIC and status.threshold_per_hour == 12.0
    busy = 168 * 10  # a busy neighborhood's normal is higher
    assert not surge_status("a", [], recent=39, baseline_count=busy, now=NOW, policy=POLICY).on
    assert surge_status("a", [], recent=41, baseline_count=busy, now=NOW, policy=POLICY).on


def test_a_coordinators_override_wins_its_own_over_everywhere_and_off_lapses() -> None:
    on_everywhere = SurgeOverride(EVERYWHERE, True, 1, NOW)
    off_here = SurgeOverride("a", False, 1, NOW, until=NOW + timedelta(hours=2))
    assert surge_status("b", [on_everywhere], 0, 0, NOW, POLICY).on
    here = surge_status("a", [on_everywhere, off_here], 50, 0, NOW, POLICY)
    assert not here.on and here.source is SurgeSource.MANUAL  # held off despite the flood
    later = surge_status("a", [off_here], 50, 0, NOW + timedelta(hours=2), POLICY)
    assert later.on and later.source is SurgeSource.AUTOMATIC


def test_in_surge_the_rate_limit_tightens_and_never_loosens() -> None:
    usual = ReportLimit(5, timedelta(minutes=10))
    on = surge_status("a", [], 100, 0, NOW, POLICY)
    off = surge_status("a", [], 0, 0, NOW, POLICY)
    assert report_limit(off, usual, POLICY) == usual and report_limit(None, usual, POLICY) == usual
    assert report_limit(on, usual, POLICY) == ReportLimit(2, timedelta(minutes=10))
    strict = ReportLimit(1, timedelta(minutes=30))
    assert report_limit(on, strict, POLICY) == strict


def test_in_surge_new_reporters_go_to_batch_review_unless_corroborated_or_trusted() -> None:
    on = surge_status("a", [], 100, 0, NOW, POLICY)
    off = surge_status("a", [], 0, 0, NOW, POLICY)
    assert review(off, [TrustHint.NEW], POLICY) is Review.QUEUE
    assert review(on, [TrustHint.NEW], POLICY) is Review.BATCH
    assert review(on, [TrustHint.NEW, TrustHint.DEBUNKED_BEFORE], POLICY) is Review.BATCH
    assert review(on, [TrustHint.NEW] * 3, POLICY) is Review.QUEUE  # several people saw it
    assert review(on, [TrustHint.CONFIRMED_BEFORE], POLICY) is Review.QUEUE


def test_in_surge_coordinators_get_a_summary_every_five_minutes_instead_of_pings() -> None:
    assert coordinator_notice(surge_status("a", [], 0, 0, NOW, POLICY)) is CoordinatorNotice.PING
    assert coordinator_notice(surge_status("a", [], 100, 0, NOW, POLICY)) is CoordinatorNotice.SUMMARY
    assert summary_due(None, NOW, POLICY)
    assert not summary_due(NOW, NOW + timedelta(minutes=4, seconds=59), POLICY)
    assert summary_due(NOW, NOW + timedelta(minutes=5), POLICY)


class Region:
    def __init__(self) -> None:
        self.uow, self.clock = MemoryUnitOfWorkFactory(), ManualClock(NOW)
        self.pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, self.pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, self.pseudonymize, IntakePolicy(max_reports=1000), images=PillowImageSanitizer()
        )
        self.surge = SurgeService(self.uow, self.clock, GAZETTEER, SurgePolicy(snapshot_ttl=timedelta(0)), self.pseudonymize)
        self.n = 0

    async def staff(self) -> None:
        await self.roster.redeem((await self.roster.invite(None, Role.COORDINATOR)).code, COORD, "Cora")
        await self.roster.redeem((await self.roster.invite(None, Role.VERIFIER)).code, ANA, "Ana")

    async def report(self, by: int, area: str = "las-palmas", lat: float = 34.052) -> str:
        self.n += 1
        draft = ReportDraft(f"d{self.n}", activity=Activity.PRESENCE, point=GeoPoint(lat, -118.256), neighborhood_id=area)
        submitted = await self.intake.submit(draft, by, by, "en")
        assert submitted.incident is not None
        return submitted.incident.id


@pytest.fixture
async def r() -> Region:
    region = Region()
    await region.staff()
    return region


async def test_a_flood_puts_its_neighborhood_in_surge_and_only_that_one(r: Region) -> None:
    for n in range(12):
        await r.report(1000 + n)
    assert not (await r.surge.status("las-palmas")).on  # type: ignore[union-attr]
    await r.report(2000)
    statuses = await r.surge.statuses()
    assert statuses["las-palmas"].on and statuses["las-palmas"].source is SurgeSource.AUTOMATIC
    assert not statuses["eastfield"].on
    r.clock.advance(timedelta(hours=1))  # the trailing hour has passed; this week's normal rose, no matter
    assert not (await r.surge.status("las-palmas")).on  # type: ignore[union-attr]


async def test_surge_on_and_off_are_for_coordinators_and_audited(r: Region) -> None:
    with pytest.raises(Refusal) as refused:
        await r.surge.set(ANA, True, "las-palmas")
    assert refused.value.reason is RefusalReason.NOT_ALLOWED
    with pytest.raises(Refusal) as nowhere:
        await r.surge.set(COORD, True, "atlantis")
    assert nowhere.value.reason is RefusalReason.UNKNOWN_NEIGHBORHOOD
    await r.surge.set(COORD, True)
    assert all(s.on and s.source is SurgeSource.MANUAL for s in (await r.surge.statuses()).values())
    await r.surge.set(COORD, False, "eastfield")
    assert not (await r.surge.status("eastfield")).on  # type: ignore[union-attr]
    assert await r.surge.clear(COORD)
    assert not (await r.surge.status("las-palmas")).on  # type: ignore[union-attr]
    actions = [(e.actor, e.action, e.subject) for e in r.uow.store.audit if "surge" in e.action]
    assert actions == [
        ("verifier:2", "refused.surge.on", "neighborhood:las-palmas"),
        ("verifier:1", "refused.surge.on", "neighborhood:atlantis"),
        ("verifier:1", "surge.on", "neighborhood:*"),
        ("verifier:1", "surge.off", "neighborhood:eastfield"),
        ("verifier:1", "surge.auto", "neighborhood:*"),
    ]


async def test_in_surge_a_lone_new_reporters_incident_is_batched_and_a_corroborated_one_is_not(r: Region) -> None:
    lone = await r.report(1, lat=34.0505)
    plan = await r.surge.plan(lone)
    assert (plan.review, plan.coordinators) == (Review.QUEUE, CoordinatorNotice.PING)
    await r.surge.set(COORD, True, "las-palmas")
    plan = await r.surge.plan(lone)
    assert (plan.review, plan.coordinators, plan.hints) == (Review.BATCH, CoordinatorNotice.SUMMARY, (TrustHint.NEW,))
    seen = await r.report(2, lat=34.0535)
    for by in (3, 4):
        assert await r.report(by, lat=34.0535) == seen
    assert (await r.surge.plan(seen)).review is Review.QUEUE


async def test_the_surge_summary_goes_once_per_five_minutes_to_coordinators(r: Region) -> None:
    assert await r.surge.summary() is None  # nothing surges
    await r.surge.set(COORD, True, "las-palmas")
    await r.report(1)
    first = await r.surge.summary()
    assert first is not None and first.recipients == (COORD,)
    [area] = first.areas
    assert (area.status.neighborhood_id, area.reports, area.open_incidents) == ("las-palmas", 1, 1)
    r.clock.advance(timedelta(minutes=4))
    assert await r.surge.summary() is None
    r.clock.advance(timedelta(minutes=1))
    second = await r.surge.summary()
    assert second is not None and second.since == first.until
    assert [e.action for e in r.uow.store.audit].count("surge.summary") == 2


async def test_one_process_reuses_its_counts_briefly_but_sees_its_own_override_at_once(r: Region) -> None:
    cached = SurgeService(r.uow, r.clock, GAZETTEER, SurgePolicy(), r.pseudonymize)
    assert not (await cached.status("las-palmas")).on  # type: ignore[union-attr]
    for n in range(13):
        await r.report(1000 + n)
    assert not (await cached.status("las-palmas")).on  # type: ignore[union-attr]
    r.clock.advance(timedelta(seconds=30))
    assert (await cached.status("las-palmas")).on  # type: ignore[union-attr]
    await cached.set(COORD, False, "las-palmas")
    assert not (await cached.status("las-palmas")).on  # type: ignore[union-attr]
