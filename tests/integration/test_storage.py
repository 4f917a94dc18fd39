"""Storage on SQLite and on the running PostgreSQL (each test gets its own database)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from sereno.bot.persistence import USER_SCOPE, conversation_scope
from sereno.storage.conversation_store import ConversationStore
from sereno.storage.images import PillowImageSanitizer
from sereno.storage.migrate import current_revision, head_revision, upgrade
from sereno.storage.sealing import ContactSeal
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.audience import Subscriber
from sereno.verify.clock import ManualClock
from sereno.verify.clustering import (
    ClusterPolicy,
    candidate_cells,
    cell_of,
    compatible,
    distance_m,
)
from sereno.verify.errors import Refusal
from sereno.verify.incidents import Incident, IncidentStatus
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.model import (
    Activity,
    AgentCount,
    GeoPoint,
    ReportDraft,
    Tier,
    TimeSeen,
    Uniform,
    VehicleCount,
)
from sereno.verify.places import Neighborhood, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.retention import Purged, RetentionService
from tests.conftest import DEMO_REGION
from tests.photos import tiny_jpeg

KEY = b"integration-key-0123456789abcdef"
USER_ID = 7_123_456_789


def service(engine: AsyncEngine, clock: ManualClock, policy: IntakePolicy | None = None) -> IntakeService:
    return IntakeService(SqlUnitOfWorkFactory(engine, KEY), clock, Pseudonymizer(KEY), policy, images=PillowImageSanitizer())


def full_draft(n: int = 1) -> ReportDraft:
    return ReportDraft(
        draft_id=f"{n:032x}",
        activity=Activity.CHECKPOINT,
        time_seen=TimeSeen.RECENT,
        agents=AgentCount.FEW,
        vehicles=VehicleCount.FEW,
        uniform=Uniform.ICE,
        details="two unmarked SUVs",
        place_text="5th & Main",
        point=GeoPoint(34.0565, -118.2577, 15.0),
        neighborhood_id="las-palmas",
    )


async def test_migrations_create_exactly_the_models_schema(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata)
        )
    assert diff == []
    assert await current_revision(engine) == head_revision()
    await upgrade(engine)  # idempotent


async def test_report_round_trips_with_utc_times_and_no_raw_id(engine: AsyncEngine) -> None:
    clock = ManualClock(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    result = await service(engine, clock).submit(full_draft(), USER_ID, USER_ID, "es")
    async with SqlUnitOfWorkFactory(engine, KEY)() as uow:
        stored = await uow.reports.by_draft(full_draft().draft_id)
    assert stored == result.report
    assert stored.created_at == clock.now() and stored.created_at.tzinfo is not None
    assert stored.tier is Tier.HIGH
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM report"))).mappings().one()
        contact = (await conn.execute(text("SELECT * FROM report_contact"))).mappings().one()
    assert str(USER_ID) not in " ".join(str(v) for v in row.values())
    assert contact["report_id"] == row["id"] and str(USER_ID) not in " ".join(str(v) for v in contact.values())
    sealed = bytes(contact["sealed_chat"])
    assert ContactSeal(KEY).open(sealed, row["id"]) == USER_ID
    assert ContactSeal(KEY).open(sealed, "another report's id") is None  # bound to its report
    assert ContactSeal(KEY + b"rotated").open(sealed, row["id"]) is None


async def test_a_point_stored_before_coordinates_were_checked_reads_back_as_no_point(engine: AsyncEngine) -> None:
    result = await service(engine, ManualClock()).submit(full_draft(), USER_ID, USER_ID, "en")
    assert result.incident is not None
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE report SET lat = 999, lon = 200"))
        await conn.execute(text("UPDATE incident SET lat = 999, lon = 200"))
    async with SqlUnitOfWorkFactory(engine)() as uow:
        report = await uow.reports.by_draft(full_draft().draft_id)
        incident = await uow.incidents.get(result.incident.id)
    assert report is not None and report.point is None and report.neighborhood_id == "las-palmas"
    assert incident is not None and incident.point is None


async def test_same_draft_submitted_twice_is_one_row(engine: AsyncEngine) -> None:
    svc = service(engine, ManualClock())
    first = await svc.submit(full_draft(), USER_ID, USER_ID, "en")
    again = await svc.submit(full_draft(), USER_ID, USER_ID, "en")
    assert again.duplicate and again.report.ref_code == first.report.ref_code
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM report"))).scalar_one() == 1


async def test_rate_limit_counts_in_the_database(engine: AsyncEngine) -> None:
    clock = ManualClock()
    svc = service(engine, clock, IntakePolicy(max_reports=2, window=timedelta(minutes=10)))
    await svc.submit(full_draft(1), USER_ID, USER_ID, "en")
    clock.advance(timedelta(minutes=3))
    await svc.submit(full_draft(2), USER_ID, USER_ID, "en")
    with pytest.raises(Refusal) as refused:
        await svc.submit(full_draft(3), USER_ID, USER_ID, "en")
    assert refused.value.retry_after == timedelta(minutes=7)
    await svc.submit(full_draft(4), USER_ID + 1, USER_ID + 1, "en")


async def test_photos_attach_to_the_report_in_the_same_transaction(engine: AsyncEngine) -> None:
    svc = service(engine, ManualClock())
    draft = full_draft()
    one = await svc.keep_photo(draft.draft_id, tiny_jpeg())
    two = await svc.keep_photo(draft.draft_id, tiny_jpeg())
    draft.photos = 2
    report = (await svc.submit(draft, USER_ID, USER_ID, "en")).report
    assert set(report.media_ids) == {one.id, two.id}


async def test_neighborhoods_round_trip(engine: AsyncEngine) -> None:
    neighborhoods = parse_geojson(DEMO_REGION.read_text())
    factory = SqlUnitOfWorkFactory(engine, KEY)
    async with factory() as uow:
        await uow.neighborhoods.replace_all(neighborhoods)
        await uow.commit()
    async with factory() as uow:
        await uow.neighborhoods.replace_all(neighborhoods[:2])  # rolled back: no commit
    async with factory() as uow:
        loaded = await uow.neighborhoods.all()
    assert sorted(loaded, key=lambda n: n.id) == sorted(neighborhoods, key=lambda n: n.id)


async def test_importing_the_neighborhoods_again_keeps_the_subscriptions_of_those_kept(engine: AsyncEngine) -> None:
    neighborhoods = parse_geojson(DEMO_REGION.read_text())
    kept, dropped = neighborhoods[0], neighborhoods[1]
    factory = SqlUnitOfWorkFactory(engine, KEY)
    async with factory() as uow:
        await uow.neighborhoods.replace_all(neighborhoods)
        await uow.subscribers.save(Subscriber(chat_id=77, language="es", active=True, since=datetime.now(UTC)))
        await uow.subscribers.add_area(77, kept.id)
        await uow.subscribers.add_area(77, dropped.id)
        await uow.commit()
    renamed = Neighborhood(id=kept.id, name=kept.name + " Norte", aliases=kept.aliases, zips=kept.zips, polygons=kept.polygons)
    async with factory() as uow:
        await uow.neighborhoods.replace_all([renamed, *neighborhoods[2:]])
        await uow.commit()
    async with factory() as uow:
        assert await uow.subscribers.areas(77) == [kept.id]
        assert {nb.id: nb.name for nb in await uow.neighborhoods.all()}[kept.id] == kept.name + " Norte"
        assert dropped.id not in {nb.id for nb in await uow.neighborhoods.all()}


async def test_bot_state_is_sealed_batched_and_deletable(engine: AsyncEngine) -> None:
    store = ConversationStore(engine, KEY, ManualClock())
    intake = conversation_scope("intake")
    await store.save(
        {
            (intake, (USER_ID, USER_ID)): "where",
            (intake, (5, 5)): "when",
            (USER_SCOPE, (USER_ID,)): {"lang": "es", "draft": {"draft_id": "abc"}},
        }
    )
    assert await store.load(intake) == {(USER_ID, USER_ID): "where", (5, 5): "when"}
    assert await store.load(USER_SCOPE) == {(USER_ID,): {"lang": "es", "draft": {"draft_id": "abc"}}}
    async with engine.connect() as conn:
        dump = str((await conn.execute(text("SELECT * FROM bot_state"))).all())
    assert str(USER_ID) not in dump
    await store.save({(intake, (5, 5)): None, (intake, (USER_ID, USER_ID)): "summary", (USER_SCOPE, (USER_ID,)): None})
    assert await store.load(intake) == {(USER_ID, USER_ID): "summary"}
    assert await store.load(USER_SCOPE) == {}
    rotated = ConversationStore(engine, KEY + b"rotated", ManualClock())
    assert await rotated.load(intake) == {}


async def test_retention_purge_deletes_in_the_database(engine: AsyncEngine) -> None:
    clock = ManualClock()
    svc = service(engine, clock)
    draft = full_draft(1)
    await svc.keep_photo(draft.draft_id, tiny_jpeg())
    draft.photos = 1
    await svc.submit(draft, USER_ID, USER_ID, "en")
    await svc.keep_photo("never-submitted", tiny_jpeg())
    clock.advance(timedelta(days=31))
    await svc.submit(full_draft(2), USER_ID, USER_ID, "en")
    retention = RetentionService(SqlUnitOfWorkFactory(engine, KEY), clock, timedelta(days=30))
    assert await retention.purge(dry_run=True) == Purged(reports=1, contacts=1, photos=1, pins=1)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM report"))).scalar_one() == 2  # nothing went
    purged = await retention.purge()
    assert purged == Purged(reports=1, contacts=1, photos=1, pins=1)
    async with engine.connect() as conn:
        counts = [
            (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in ("report", "report_contact", "media")
        ]
    assert counts == [1, 1, 0]


async def test_clustering_joins_suggests_and_escalates_in_the_database(engine: AsyncEngine) -> None:
    clock = ManualClock()
    svc = service(engine, clock, IntakePolicy(max_reports=100))
    routine = ReportDraft("a" * 32, activity=Activity.SURVEILLANCE, point=GeoPoint(34.052, -118.254))
    first = await svc.submit(routine, 1, 1, "en")
    clock.advance(timedelta(minutes=30))
    joined = await svc.submit(full_draft(2), 2, 2, "en")  # a checkpoint 600 m away: joins and escalates
    fringe = await svc.submit(ReportDraft("b" * 32, point=GeoPoint(34.0635, -118.25)), 3, 3, "en")
    clock.advance(timedelta(hours=4))
    later = await svc.submit(ReportDraft("c" * 32, point=GeoPoint(34.05, -118.25)), 4, 4, "en")
    assert joined.report.incident_id == first.report.incident_id and joined.escalated
    assert joined.incident is not None and joined.incident.report_count == 2 and joined.incident.tier is Tier.HIGH
    assert joined.incident.activity is Activity.SURVEILLANCE
    assert fringe.report.incident_id != first.report.incident_id
    assert later.report.incident_id not in (first.report.incident_id, fringe.report.incident_id)
    async with engine.connect() as conn:
        merges = (await conn.execute(text("SELECT incident_id, other_incident_id FROM merge_suggestion"))).all()
    assert merges == [(fringe.report.incident_id, first.report.incident_id)]


async def test_nearest_open_incident_matches_an_exhaustive_search(engine: AsyncEngine) -> None:
    rng, policy, now = random.Random(7), ClusterPolicy(), datetime(2026, 5, 1, 12, tzinfo=UTC)
    activities = [None, *Activity]
    incidents = []
    for n in range(400):
        point = GeoPoint(34.0 + rng.uniform(0, 0.08), -118.3 + rng.uniform(0, 0.1))
        seen = now - timedelta(minutes=rng.uniform(0, 240))
        incidents.append(
            Incident(
                f"{n:036d}",
                IncidentStatus.OPEN if n % 7 else IncidentStatus.DECIDED,
                Tier.HIGH,
                rng.choice(activities),
                None,
                point,
                cell_of(point),
                seen,
                seen,
                1,
            )
        )
    factory = SqlUnitOfWorkFactory(engine, KEY)
    async with factory() as uow:
        for incident in incidents:
            await uow.incidents.add(incident)
        await uow.commit()
    since = now - policy.window
    async with factory() as uow:
        for _ in range(150):
            query = GeoPoint(34.0 + rng.uniform(0, 0.08), -118.3 + rng.uniform(0, 0.1))
            activity = rng.choice(activities)
            found = await uow.incidents.nearest_open(query, candidate_cells(query, policy), since, activity, policy.fringe_m)
            expected = min(
                (
                    (distance_m(query, i.point), i.id)
                    for i in incidents  # type: ignore[arg-type]
                    if i.status is IncidentStatus.OPEN
                    and i.last_seen_at >= since
                    and compatible(activity, i.activity)
                    and distance_m(query, i.point) <= policy.fringe_m
                ),  # type: ignore[arg-type]
                default=(None, None),
            )[1]
            assert (found.incident_id if found else None) == expected
