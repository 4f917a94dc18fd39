"""Dispatch, trust and surge in the database (SQLite and PostgreSQL): round trips, timers
that come back after a restart, races with one winner, and the migration both ways."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.images import PillowImageSanitizer
from sereno.storage.migrate import alembic_config, upgrade
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService
from sereno.verify.dispatch import (
    CheckInStage,
    Direction,
    DispatchState,
    Equipment,
    FieldVerifier,
    Finding,
    NoticeKind,
    Salute,
)
from sereno.verify.dispatch_service import DispatchService
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import DrillKind, Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, AgentCount, GeoPoint, ReportDraft, TimeSeen, Uniform, VehicleCount
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.retention import RetentionService
from sereno.verify.roster import RosterService
from sereno.verify.surge import SurgeOverride
from sereno.verify.surge_service import SurgeService
from sereno.verify.trust import Trust
from tests.bot.conftest import jpeg_with_gps
from tests.conftest import DEMO_REGION

KEY = b"integration-key-0123456789abcdef"
COORD, DISP, ANA, BEN, VERA = 10, 11, 12, 13, 14
REPORTER = 99
GAZETTEER = Gazetteer(parse_geojson(DEMO_REGION.read_text()))
LAS_PALMAS = GAZETTEER.get("las-palmas")
assert LAS_PALMAS is not None
NEW_TABLES = {"field_verifier", "dispatch", "on_site_report", "dispatch_notice", "surge_override", "surge_summary"}


class Desk:
    def __init__(self, engine: AsyncEngine) -> None:
        self.uow, self.clock, self.pseudonymize = SqlUnitOfWorkFactory(engine, KEY), ManualClock(), Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, self.pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, self.pseudonymize, IntakePolicy(max_reports=10_000), images=PillowImageSanitizer()
        )
        self.desk = DeskService(self.uow, self.clock, pseudonymize=self.pseudonymize)
        self.dispatch = self.service()
        self.n = 0

    def service(self) -> DispatchService:
        return DispatchService(self.uow, self.clock, GAZETTEER, self.desk, pseudonymize=self.pseudonymize)

    async def staff(self) -> None:
        for user, role, name, area in (
            (COORD, Role.COORDINATOR, "Cora", None),
            (DISP, Role.VERIFIER, "Dee", None),
            (ANA, Role.VERIFIER, "Ana", "las-palmas"),
            (BEN, Role.VERIFIER, "Ben", "eastfield"),
            (VERA, Role.VERIFIER, "Vera", None),
        ):
            await self.roster.redeem((await self.roster.invite(None, role)).code, user, name)
            await self.roster.update(user, on_duty=True)
            if area is not None:
                await self.dispatch.opt_in(user, area)

    async def incident(self, by: int = REPORTER, lat: float | None = None) -> str:
        assert LAS_PALMAS is not None
        self.n += 1
        point = LAS_PALMAS.centroid if lat is None else GeoPoint(lat, -100.0)
        draft = ReportDraft(f"{self.n:032x}", activity=Activity.PRESENCE, point=point, neighborhood_id="las-palmas")
        submitted = await self.intake.submit(draft, by, by, "en")
        assert submitted.incident is not None
        return submitted.incident.id

    async def due(self) -> list[NoticeKind]:
        notices = await self.dispatch.run_due()
        await self.dispatch.notified([n.id for n in notices])
        return sorted(n.kind for n in notices)


async def desk(engine: AsyncEngine) -> Desk:
    world = Desk(engine)
    await world.staff()
    return world


async def test_a_dispatch_round_trips_and_its_timers_come_back_from_the_database(engine: AsyncEngine) -> None:
    d = await desk(engine)
    incident = await d.incident()
    sent = await d.dispatch.send(incident, by=DISP)
    await d.dispatch.notified([n.id for n in sent.notices])
    d.dispatch = d.service()  # a restart
    d.clock.advance(timedelta(minutes=2))
    assert await d.due() == [NoticeKind.OFFER, NoticeKind.OFFER_ENDED]  # ANA did not answer: BEN is asked
    accepted = await d.dispatch.accept(sent.dispatch.id, BEN, 10)
    await d.dispatch.notified([n.id for n in accepted.notices])
    for minutes, expected in ((30, [NoticeKind.CHECK_IN]), (5, [NoticeKind.REMINDER]), (5, [NoticeKind.ESCALATION])):
        d.dispatch = d.service()
        d.clock.advance(timedelta(minutes=minutes))
        assert await d.due() == expected
    d.clock.advance(timedelta(hours=3))
    assert await d.due() == []  # escalated once
    salute = Salute(
        agents=AgentCount.FEW,
        vehicles=VehicleCount.FEW,
        activity=Activity.CHECKPOINT,
        place_text="north side of the lot",
        uniform=Uniform.ICE,
        time_seen=TimeSeen.NOW,
        equipment=(Equipment.UNMARKED_SUV, Equipment.VAN),
        direction=Direction.NORTH,
    )
    result = await d.dispatch.on_site_report(sent.dispatch.id, BEN, Finding.CONFIRMED, salute, "two SUVs", "photo-1")
    assert result.report.counts and result.verdict is not None
    stored = result.dispatch
    assert stored.state is DispatchState.ON_SITE and stored.person == BEN and stored.asked == (ANA, BEN)
    assert stored.check_in is not None and stored.check_in.stage is CheckInStage.ESCALATED
    assert (stored.missed_check_ins, stored.escalations) == (1, 1)
    card = await d.dispatch.card(COORD, incident)
    [report] = card.reports
    assert (report.salute, report.text, report.photo_id, report.person) == (salute, "two SUVs", "photo-1", BEN)
    [view] = card.dispatches
    assert (view.person_name, view.neighborhood_id, view.eta_minutes) == ("Ben", "eastfield", 10)
    assert [v.person for v in (await d.dispatch.card(DISP, incident)).dispatches] == [None]
    stats = await d.dispatch.stats(COORD)
    assert (stats.dispatches, stats.accepted, stats.check_ins_missed, stats.escalations) == (1, 1, 1, 1)
    assert stats.to_accepted.median == 120.0
    async with engine.connect() as conn:
        actions = (
            (await conn.execute(text("SELECT action FROM audit_event WHERE subject = :s ORDER BY id"), {"s": sent.dispatch.id}))
            .scalars()
            .all()
        )
    assert actions == [
        "dispatch.send",
        "dispatch.offer",
        "dispatch.offer.expired",
        "dispatch.offer",
        "dispatch.accept",
        "dispatch.check_in.asked",
        "dispatch.check_in.missed",
        "dispatch.check_in.escalated",
        "dispatch.on_site",
    ]


async def test_two_sends_at_once_make_one_ask(engine: AsyncEngine) -> None:
    d = await desk(engine)
    for n in range(20):
        incident = await d.incident(by=REPORTER + n, lat=30 + n * 0.1)
        results = await asyncio.gather(
            d.dispatch.send(incident, by=DISP), d.dispatch.send(incident, by=VERA), return_exceptions=True
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1, results
        assert isinstance(losers[0], Refusal) and losers[0].reason is RefusalReason.DISPATCH_PENDING
        await d.dispatch.close(winners[0].dispatch.id, by=COORD)


async def test_an_answer_and_the_expiry_at_the_same_moment_have_one_outcome(engine: AsyncEngine) -> None:
    d = await desk(engine)
    for n in range(10):
        incident = await d.incident(by=REPORTER + n, lat=30 + n * 0.1)
        sent = await d.dispatch.send(incident, by=DISP)
        [asked] = sent.dispatch.asked
        d.clock.advance(timedelta(minutes=2))
        accepted, notices = await asyncio.gather(
            d.dispatch.accept(sent.dispatch.id, asked, 5), d.dispatch.run_due(), return_exceptions=True
        )
        async with d.uow() as uow:
            stored = await uow.dispatches.get(sent.dispatch.id)
        assert stored is not None
        if isinstance(accepted, BaseException):  # the expiry won
            assert isinstance(accepted, Refusal) and accepted.reason is RefusalReason.OFFER_GONE
            assert stored.person is None and stored.asked[0] == asked and len(stored.asked) == 2
        else:
            assert stored.state is DispatchState.ACCEPTED and stored.person == asked and stored.asked == (asked,)
            assert not isinstance(notices, BaseException)
            assert NoticeKind.OFFER_ENDED not in {n.kind for n in notices if n.dispatch_id == stored.id}
        await d.dispatch.close(sent.dispatch.id, by=COORD)


async def test_owed_notices_are_claimed_once_by_sweeps_at_once(engine: AsyncEngine) -> None:
    d = await desk(engine)
    sent = await d.dispatch.send(await d.incident(), by=DISP)
    d.clock.advance(timedelta(minutes=1, seconds=1))
    first, second = await asyncio.gather(d.dispatch.run_due(), d.service().run_due())
    assert sorted(n.id for n in [*first, *second]) == [n.id for n in sent.notices]
    await d.dispatch.notified([n.id for n in sent.notices])
    d.clock.advance(timedelta(seconds=30))
    assert await d.dispatch.run_due() == []


async def test_field_verifiers_round_trip_and_a_stale_location_keeps_only_the_neighborhood(engine: AsyncEngine) -> None:
    d = await desk(engine)
    assert LAS_PALMAS is not None
    shared = await d.dispatch.share_location(BEN, LAS_PALMAS.centroid)
    assert await d.dispatch.field_verifier(BEN) == shared and shared.point == LAS_PALMAS.centroid
    d.clock.advance(timedelta(hours=1))
    await d.dispatch.run_due()
    assert await d.dispatch.field_verifier(BEN) == FieldVerifier(BEN, shared.opted_in_at, "las-palmas")
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT lat, lon, point_until FROM field_verifier WHERE user_id = :u"), {"u": BEN})).one()
    assert tuple(row) == (None, None, None)
    assert await d.dispatch.opt_out(BEN) and await d.dispatch.field_verifier(BEN) is None


async def test_the_retention_purge_blanks_on_site_text(engine: AsyncEngine) -> None:
    d = await desk(engine)
    sent = await d.dispatch.send(await d.incident(), by=DISP)
    await d.dispatch.accept(sent.dispatch.id, ANA, 5)
    await d.dispatch.on_site_report(
        sent.dispatch.id, ANA, Finding.CONFIRMED, Salute(place_text="behind the bakery"), "agents at the bakery"
    )
    d.clock.advance(timedelta(days=31))
    purged = await RetentionService(d.uow, d.clock, timedelta(days=30)).purge()
    assert purged.on_site == 1
    async with d.uow() as uow:
        [report] = await uow.on_site_reports.for_incident(sent.dispatch.incident_id)
    assert (report.text, report.salute.place_text, report.finding) == (None, None, Finding.CONFIRMED)


async def test_an_on_site_photo_is_among_the_incidents_photos_outlives_the_draft_purge_and_goes_at_retention(
    engine: AsyncEngine,
) -> None:
    d = await desk(engine)
    incident = await d.incident()
    sent = await d.dispatch.send(incident, by=DISP)
    await d.dispatch.accept(sent.dispatch.id, ANA, 5)
    photo = await d.intake.keep_photo(sent.dispatch.id, jpeg_with_gps())
    await d.dispatch.on_site_report(sent.dispatch.id, ANA, Finding.CONFIRMED, photo_id=photo.id)
    assert [m.id for m in await d.desk.photos(DISP, incident)] == [photo.id]
    retention = RetentionService(d.uow, d.clock, timedelta(days=30))
    d.clock.advance(timedelta(days=2))  # past the purge of photos of drafts never submitted
    assert (await retention.purge()).photos == 0
    assert [m.id for m in await d.desk.photos(DISP, incident)] == [photo.id]
    d.clock.advance(timedelta(days=29))
    assert (await retention.purge()).on_site == 1
    assert await d.desk.photos(DISP, incident) == []
    async with d.uow() as uow:
        [report] = await uow.on_site_reports.for_incident(incident)
    assert report.photo_id is None


async def test_trust_counts_each_decided_incident_once_leaving_out_drills(engine: AsyncEngine) -> None:
    d = await desk(engine)
    reporter = d.pseudonymize(REPORTER)

    async def decided(lat: float, verdict: Verdict) -> str:
        incident = await d.incident(lat=lat)
        await d.incident(lat=lat)  # the same reporter again, the same event
        for user in (ANA, BEN):
            await d.desk.claim(user, incident)
            await d.desk.decide(user, incident, verdict, "checked")
        return incident

    confirmed = await decided(30.0, Verdict.CONFIRMED)
    await decided(31.0, Verdict.CONFIRMED)
    await decided(32.0, Verdict.DEBUNKED)
    drill = await d.incident(lat=33.0)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE incident SET drill = :k WHERE id = :i"), {"k": DrillKind.LIVE.value, "i": drill})
    for user in (ANA, BEN):
        await d.desk.claim(user, drill)
        await d.desk.decide(user, drill, Verdict.DEBUNKED, "drill")
    async with d.uow() as uow:
        assert await uow.trust.outcomes([reporter, "nobody"]) == {reporter: Trust(2, 1)}
        assert await uow.trust.outcomes([reporter], exclude_incident=confirmed) == {reporter: Trust(1, 1)}
        assert await uow.trust.outcomes([]) == {}


async def test_surge_overrides_counts_and_one_summary_at_a_time(engine: AsyncEngine) -> None:
    d = await desk(engine)
    for n in range(13):
        await d.incident(by=REPORTER + n)
    surge = SurgeService(d.uow, d.clock, GAZETTEER)
    status = await surge.status("las-palmas")
    assert status is not None and status.on and status.recent == 13
    override = await surge.set(COORD, False, "las-palmas")
    async with d.uow() as uow:
        assert await uow.surges.overrides() == [override]
        assert await uow.surges.report_counts(d.clock.now() - timedelta(hours=1), d.clock.now()) == {"las-palmas": 13}
    await surge.set(COORD, True)
    results = await asyncio.gather(surge.summary(), SurgeService(d.uow, d.clock, GAZETTEER).summary())
    assert sum(r is not None for r in results) == 1
    async with d.uow() as uow:
        assert await uow.surges.last_summary() == d.clock.now()
        assert not await uow.surges.claim_summary(None, d.clock.now())
        await uow.surges.set_override(replace(override, on=True, until=None))
        assert SurgeOverride("las-palmas", True, COORD, override.at) in await uow.surges.overrides()
        await uow.commit()


async def test_the_downgrade_drops_the_dispatch_tables_and_the_upgrade_brings_them_back(engine: AsyncEngine) -> None:
    d = await desk(engine)
    await d.dispatch.send(await d.incident(), by=DISP)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0018"))
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert not tables & NEW_TABLES and "incident" in tables
    await upgrade(engine)
    async with engine.connect() as conn:
        tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    assert NEW_TABLES <= tables
    d.dispatch = d.service()
    await d.dispatch.opt_in(ANA, "las-palmas")  # the opt-ins went with the tables
    assert (await d.dispatch.send(await d.incident(lat=40.0), by=DISP)).dispatch.state is DispatchState.OFFERED
