"""Partner exports read from the database (SQLite and PostgreSQL): window, neighborhood and
active filters, the audit entry, and no personal data in any format."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.admin import replace_neighborhoods
from sereno.storage.images import PillowImageSanitizer
from sereno.storage.repositories import AUDIT
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.alerts import Alert, AlertKind, AlertPolicy, AlertState
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.export_service import ExportError, ExportService
from sereno.verify.exports import ExportFormat, FeedSource
from sereno.verify.incidents import Incident, IncidentStatus, Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, AgentCount, GeoPoint, ReportDraft, Tier, Uniform, VehicleCount
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.publishing import Publisher
from sereno.verify.roster import RosterService
from tests.conftest import DEMO_REGION

KEY = b"export-test-key-0123456789abcdef"
ANA, BEN = 7_770_001, 7_770_002
SOURCE = FeedSource.for_region("Harbor City")


class World:
    """The export service over one migrated database with the demo region."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.uow = SqlUnitOfWorkFactory(engine, KEY)
        self.clock = ManualClock()
        self.gazetteer = Gazetteer(parse_geojson(DEMO_REGION.read_text()))
        self.exports = ExportService(self.uow, self.clock, self.gazetteer)
        self.seq = 0

    async def put(
        self,
        verified_at: datetime,
        neighborhood_id: str = "harbor-view",
        kind: AlertKind = AlertKind.ALERT,
        state: AlertState = AlertState.ACTIVE,
        expires_in: timedelta = timedelta(hours=4),
    ) -> str:
        """Store a decided incident and its alert as they would be after a verdict."""
        self.seq += 1
        incident_id, alert_id = f"inc-{self.seq:04d}", f"alert-{self.seq:04d}"
        verdict = Verdict.CONFIRMED if kind is AlertKind.ALERT else Verdict.DEBUNKED
        async with self.uow() as uow:
            await uow.incidents.add(
                Incident(
                    incident_id,
                    IncidentStatus.DECIDED,
                    Tier.HIGH,
                    Activity.PRESENCE,
                    neighborhood_id,
                    None,
                    None,
                    verified_at,
                    verified_at,
                    2,
                    verdict=verdict,
                    decided_at=verified_at,
                )
            )
            await uow.alerts.add(
                Alert(
                    alert_id,
                    incident_id,
                    kind,
                    neighborhood_id,
                    (neighborhood_id,),
                    Activity.PRESENCE,
                    Tier.HIGH,
                    2,
                    2,
                    verified_at,
                    verified_at + expires_in,
                    state=state,
                )
            )
            await uow.commit()
        return alert_id


@pytest.fixture
async def world(engine: AsyncEngine, database_url: str) -> World:
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    return World(engine)


def ids(records: list) -> list[str]:  # type: ignore[type-arg]
    return [r.alert_id for r in records]


async def test_the_window_includes_its_start_excludes_its_end_and_lists_newest_first(world: World) -> None:
    t = world.clock.now()
    before, start, inside, end = [await world.put(t + timedelta(hours=h)) for h in (-1, 0, 1, 2)]
    assert ids(await world.exports.records(t, t + timedelta(hours=2))) == [inside, start]
    assert ids(await world.exports.records(since=t)) == [end, inside, start]
    assert ids(await world.exports.records(until=t)) == [before]
    assert ids(await world.exports.records()) == [end, inside, start, before]
    assert ids(await world.exports.records(limit=2)) == [end, inside]


async def test_the_neighborhood_filter_keeps_that_neighborhoods_own_alerts_and_corrections(world: World) -> None:
    t = world.clock.now()
    harbor = await world.put(t)
    await world.put(t + timedelta(minutes=1), "old-mill")
    correction = await world.put(t + timedelta(minutes=2), kind=AlertKind.CORRECTION)
    assert ids(await world.exports.records(neighborhood_id="harbor-view")) == [correction, harbor]
    assert ids(await world.exports.records(t + timedelta(minutes=1), neighborhood_id="harbor-view")) == [correction]
    assert await world.exports.records(neighborhood_id="las-palmas") == []
    [record] = await world.exports.records(neighborhood_id="old-mill")
    assert record.neighborhood_name == "Old Mill" and record.polygons == world.gazetteer.get("old-mill").polygons  # type: ignore[union-attr]


async def test_active_records_are_the_current_alerts_and_corrections_only(world: World) -> None:
    t = world.clock.now()
    live = await world.put(t - timedelta(hours=1))
    correction = await world.put(t - timedelta(minutes=30), kind=AlertKind.CORRECTION)
    await world.put(t - timedelta(minutes=20), state=AlertState.CLEARED)
    await world.put(t - timedelta(hours=6), state=AlertState.EXPIRED)
    await world.put(t - timedelta(hours=5))  # past its expiry; the expiry job has not run yet
    await world.put(t - timedelta(minutes=10), "old-mill")
    assert ids(await world.exports.active_records(neighborhood_id="harbor-view")) == [correction, live]
    assert len(await world.exports.active_records()) == 3
    assert len(await world.exports.active_records(limit=1)) == 1


async def test_the_cap_index_lists_current_alerts_and_the_last_days_all_clears_newest_first(world: World) -> None:
    t = world.clock.now()
    long_lived = await world.put(t - timedelta(hours=30), expires_in=timedelta(hours=48))
    await world.put(t - timedelta(hours=30), state=AlertState.CLEARED)  # an all-clear of the day before
    cleared = await world.put(t - timedelta(hours=3), state=AlertState.CLEARED)
    await world.put(t - timedelta(hours=6), state=AlertState.EXPIRED)
    await world.put(t - timedelta(hours=5))  # past its expiry; the expiry job has not run yet
    correction = await world.put(t - timedelta(minutes=30), kind=AlertKind.CORRECTION)
    live = await world.put(t - timedelta(minutes=10), "old-mill")
    assert ids(await world.exports.cap_records(timedelta(hours=24))) == [live, correction, cleared, long_lived]
    assert ids(await world.exports.cap_records(timedelta(hours=24), limit=2)) == [live, correction]


async def test_one_alert_is_found_by_its_id_in_whatever_state_it_is(world: World) -> None:
    t = world.clock.now()
    expired = await world.put(t - timedelta(hours=6), "old-mill", state=AlertState.EXPIRED)
    found = await world.exports.record(expired)
    assert found is not None and found.state is AlertState.EXPIRED and found.neighborhood_name == "Old Mill"
    assert await world.exports.record("no-such-alert") is None


async def test_unknown_neighborhoods_and_empty_windows_are_refused(world: World) -> None:
    t = world.clock.now()
    with pytest.raises(ExportError, match="unknown neighborhood 'atlantis': use one of cedar-heights"):
        await world.exports.records(neighborhood_id="atlantis")
    with pytest.raises(ExportError, match="the window is empty"):
        await world.exports.records(t, t)
    with pytest.raises(ExportError, match="unknown neighborhood"):
        await world.exports.export(ExportFormat.CSV, SOURCE, neighborhood_id="atlantis")


async def test_an_export_is_audited_with_its_format_filters_and_count(world: World, engine: AsyncEngine) -> None:
    t = world.clock.now()
    await world.put(t)
    await world.put(t + timedelta(minutes=5), "old-mill")
    exported = await world.exports.export(ExportFormat.GEOJSON, SOURCE, since=t, neighborhood_id="old-mill", actor="cli")
    assert exported.count == 1 and '"Old Mill"' in exported.text
    async with engine.connect() as conn:
        row = (await conn.execute(select(AUDIT.c.actor, AUDIT.c.action, AUDIT.c.subject, AUDIT.c.detail))).one()
    assert (row.actor, row.action, row.subject) == ("cli", "export", "geojson")
    assert row.detail == {"records": 1, "since": t.isoformat(), "until": None, "neighborhood": "old-mill"}


# ---------------------------------------------------------------- no personal data

DETAILS = "Blue pickup plate 7QZX442 outside 1432 Wexford Lane, Maria Okonkwo-Delgado taken"
PLACE_TEXT = "behind Quillfeather Laundromat"
PIN = GeoPoint(34.03817, -118.27793, 7.5)  # in Harbor View, with decimals no polygon vertex has
REASON = "Seen myself from the Zephyrine bakery"


async def seed_reports(world: World) -> tuple[list[str], list[int]]:
    """Two verifiers confirm one incident of two reports and debunk another of three (which
    gets a correction); returns the reporters' pseudonyms and chat ids."""
    pseudonymize = Pseudonymizer(KEY)
    roster = RosterService(world.uow, world.clock, pseudonymize)
    for user, name in ((ANA, "Ana Verifica"), (BEN, "Ben Checkwell")):
        await roster.redeem((await roster.invite(None, Role.VERIFIER)).code, user, name)
    intake = IntakeService(world.uow, world.clock, pseudonymize, IntakePolicy(max_reports=100), images=PillowImageSanitizer())
    desk = DeskService(
        world.uow, world.clock, on_decided=Publisher(AlertPolicy(correction_reports=3), world.gazetteer.adjacent).on_decided
    )
    reporters, chats = [], []
    for batch, (count, verdict) in enumerate(((2, Verdict.CONFIRMED), (3, Verdict.DEBUNKED))):
        incident_id = ""
        for n in range(count):
            user, chat = 9_100_000 + 10 * batch + n, 5_550_000_000 + 10 * batch + n
            draft = ReportDraft(
                f"{batch:016x}{n:016x}",
                activity=Activity.PRESENCE,
                agents=AgentCount.FEW,
                vehicles=VehicleCount.ONE,
                uniform=Uniform.ICE,
                details=DETAILS,
                point=PIN,
                place_text=PLACE_TEXT,
                neighborhood_id="harbor-view",
            )
            submitted = await intake.submit(draft, user, chat, "en")
            assert submitted.incident is not None
            incident_id = submitted.incident.id
            reporters.append(pseudonymize(user))
            chats.append(chat)
        for person in (ANA, BEN):
            await desk.claim(person, incident_id)
            result = await desk.decide(person, incident_id, verdict, REASON)
        assert result.outcome is Outcome.DECIDED
        world.clock.advance(timedelta(hours=4))  # the next reports are a new incident
    return reporters, chats


async def test_no_export_format_carries_a_reporter_a_contact_a_verifier_or_a_reports_words(world: World) -> None:
    reporters, chats = await seed_reports(world)
    async with world.uow() as uow:
        refs = [
            r.ref_code
            for i in (a.incident_id for a in await uow.alerts.verified_between(None, None))
            for r in await uow.reports.for_incident(i)
        ]
    assert len(refs) == 5
    forbidden = [
        *reporters,
        *(str(c) for c in chats),
        *refs,
        str(ANA),
        str(BEN),
        "Ana Verifica",
        "Ben Checkwell",
        "7QZX442",
        "Wexford",
        "Okonkwo",
        "Quillfeather",
        "Zephyrine",
        "34.03817",
        "118.27793",
    ]
    for fmt in ExportFormat:
        exported = await world.exports.export(fmt, SOURCE)
        assert exported.count == 2  # the alert and the correction
        leaked = [f for f in forbidden if f in exported.text]
        assert leaked == [], (fmt, leaked)
        assert "Harbor View" in exported.text


async def test_an_alert_updated_through_the_lifecycle_exports_its_latest_state(world: World) -> None:
    t = world.clock.now()
    alert_id = await world.put(t)
    async with world.uow() as uow:
        stored = await uow.alerts.get(alert_id)
        assert stored is not None
        await uow.alerts.save(replace(stored, state=AlertState.CLEARED, revision=1, updated_at=t + timedelta(hours=1)))
        await uow.commit()
    [record] = await world.exports.records()
    assert (record.state, record.revision, record.changed_at) == (AlertState.CLEARED, 1, t + timedelta(hours=1))
    assert "<msgType>Cancel</msgType>" in (await world.exports.export(ExportFormat.CAP, SOURCE)).text
