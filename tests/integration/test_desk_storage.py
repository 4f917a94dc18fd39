"""Claims, leases and verdicts in the database (SQLite and PostgreSQL), including real races."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.images import PillowImageSanitizer
from sereno.storage.migrate import alembic_config, upgrade
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import IncidentStatus, Verdict, VerdictRecord
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService

KEY = b"integration-key-0123456789abcdef"
ANA, BEN, REPORTER = 10, 11, 12


async def setup(engine: AsyncEngine) -> tuple[IntakeService, DeskService, ManualClock]:
    uow, clock, pseudonymize = SqlUnitOfWorkFactory(engine, KEY), ManualClock(), Pseudonymizer(KEY)
    roster = RosterService(uow, clock, pseudonymize)
    for user in (ANA, BEN):
        await roster.redeem((await roster.invite(None, Role.VERIFIER)).code, user, str(user))
    intake = IntakeService(uow, clock, pseudonymize, IntakePolicy(max_reports=10_000), images=PillowImageSanitizer())
    return intake, DeskService(uow, clock), clock


async def open_incident(intake: IntakeService, n: int) -> str:
    draft = ReportDraft(f"{n:032x}", activity=Activity.PRESENCE, point=GeoPoint(30 + n * 0.1, -100))
    submitted = await intake.submit(draft, REPORTER, REPORTER, "en")
    assert submitted.incident is not None
    return submitted.incident.id


async def test_two_claims_at_the_same_moment_have_exactly_one_winner_100_times(engine: AsyncEngine) -> None:
    intake, desk, _ = await setup(engine)
    for n in range(100):
        incident = await open_incident(intake, n)
        results = await asyncio.gather(desk.claim(ANA, incident), desk.claim(BEN, incident), return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1, results
        assert [type(r) for r in losers] == [Refusal] and losers[0].reason is RefusalReason.TAKEN  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        refused = (await conn.execute(text("SELECT count(*) FROM audit_event WHERE action = 'refused.claim'"))).scalar()
    assert refused == 100


async def test_expired_leases_return_to_the_queue_and_verdicts_reach_a_decision(engine: AsyncEngine) -> None:
    intake, desk, clock = await setup(engine)
    incident = await open_incident(intake, 1)
    await desk.claim(ANA, incident)
    clock.advance(timedelta(minutes=11))
    assert await desk.expire_leases() == [(incident, ANA)]
    await desk.claim(BEN, incident)
    first = await desk.decide(BEN, incident, Verdict.DEBUNKED, "utility crew, not agents")
    assert first.outcome is Outcome.RECORDED
    await desk.claim(ANA, incident)
    second = await desk.decide(ANA, incident, Verdict.DEBUNKED, "confirmed with the shop owner")
    assert second.outcome is Outcome.DECIDED
    assert second.incident.status is IncidentStatus.DECIDED and second.incident.verdict is Verdict.DEBUNKED
    assert [v.verifier_id for v in second.verdicts] == [BEN, ANA]
    async with engine.connect() as conn:
        actions = (
            (await conn.execute(text("SELECT action FROM audit_event WHERE subject = :s ORDER BY id"), {"s": incident}))
            .scalars()
            .all()
        )
    assert actions == ["claim", "lease.expired", "claim", "verdict.debunked", "claim", "verdict.debunked"]


async def test_merging_moves_the_reports_in_the_database(engine: AsyncEngine) -> None:
    intake, desk, _ = await setup(engine)
    first = await open_incident(intake, 1)
    near = await intake.submit(ReportDraft("f" * 32, point=GeoPoint(30.1135, -100)), REPORTER + 1, REPORTER + 1, "en")
    assert near.incident is not None and near.placement is not None and near.placement.value == "suggest"
    merged = await desk.merge(ANA, near.incident.id)
    assert merged.id == first and merged.report_count == 2
    async with engine.connect() as conn:
        owners = (await conn.execute(text("SELECT DISTINCT incident_id FROM report"))).scalars().all()
        status = (await conn.execute(text("SELECT status FROM incident WHERE id = :i"), {"i": near.incident.id})).scalar()
    assert owners == [first] and status == "merged"


async def test_the_same_verdict_sent_twice_at_once_is_stored_once_and_the_repeat_told_politely_30_times(
    engine: AsyncEngine,
) -> None:
    intake, desk, _ = await setup(engine)
    for n in range(30):
        incident = await open_incident(intake, n)
        await desk.claim(ANA, incident)
        results = await asyncio.gather(
            desk.decide(ANA, incident, Verdict.CONFIRMED, "seen"),
            desk.decide(ANA, incident, Verdict.CONFIRMED, "seen"),
            return_exceptions=True,
        )
        recorded = [r for r in results if not isinstance(r, BaseException)]
        repeats = [r for r in results if isinstance(r, BaseException)]
        assert [r.outcome for r in recorded] == [Outcome.RECORDED], results
        assert [type(r) for r in repeats] == [Refusal]
        assert repeats[0].reason is RefusalReason.ALREADY_VOTED  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        votes = (
            await conn.execute(text("SELECT count(*) FROM verdict GROUP BY incident_id, verifier_id HAVING count(*) > 1"))
        ).all()
    assert votes == []


async def test_the_database_holds_one_vote_per_person_per_incident(engine: AsyncEngine) -> None:
    intake, desk, clock = await setup(engine)
    incident = await open_incident(intake, 1)
    record = VerdictRecord(incident, ANA, Verdict.CONFIRMED, "seen", clock.now(), True)
    uow = SqlUnitOfWorkFactory(engine)
    async with uow() as tx:
        assert await tx.verdicts.add(record)
        assert not await tx.verdicts.add(replace(record, verdict=Verdict.DEBUNKED))
        assert await tx.verdicts.add(replace(record, verifier_id=BEN))
        await tx.commit()
    async with uow() as tx:
        assert [(v.verifier_id, v.verdict) for v in await tx.verdicts.for_incident(incident)] == [
            (ANA, Verdict.CONFIRMED),
            (BEN, Verdict.CONFIRMED),
        ]


async def test_the_migration_folds_a_persons_repeated_votes_into_their_latest(engine: AsyncEngine) -> None:
    intake, _, clock = await setup(engine)
    incident = await open_incident(intake, 1)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync, KEY), "0014"))
        for verifier, verdict in ((ANA, "confirmed"), (BEN, "debunked"), (ANA, "debunked")):
            await conn.execute(
                text(
                    "INSERT INTO verdict (incident_id, verifier_id, verdict, reason, at, counts) "
                    "VALUES (:i, :v, :d, 'r', :at, true)"
                ),
                {"i": incident, "v": verifier, "d": verdict, "at": clock.now()},
            )
    await upgrade(engine, hmac_key=KEY)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT verifier_id, verdict FROM verdict ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [(BEN, "debunked"), (ANA, "debunked")]
