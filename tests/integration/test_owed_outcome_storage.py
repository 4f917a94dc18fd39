"""Outcomes and questions owed to reporters, in the database (SQLite and PostgreSQL): written
with the verdict, claimed by one sweep at a time, gone with the contact, and owed by the
migration for every decided incident whose reporters were never told."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.images import PillowImageSanitizer
from sereno.storage.migrate import alembic_config, current_revision, upgrade
from sereno.storage.sealing import SealingKeyMissing
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskPolicy, DeskService
from sereno.verify.incidents import Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft, Tier
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.retention import RetentionService
from sereno.verify.roster import RosterService

KEY = b"integration-key-0123456789abcdef"
ANA, REPORTER = 10, 1_000
ALONE = DeskPolicy(quorum={Tier.URGENT: 1, Tier.HIGH: 1, Tier.ROUTINE: 1})


class World:
    """One verifier deciding alone, and reporters whose reports open one incident each."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.uow, self.clock, pseudonymize = SqlUnitOfWorkFactory(engine, KEY), ManualClock(), Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, pseudonymize, IntakePolicy(max_reports=10_000), images=PillowImageSanitizer()
        )
        self.desk = DeskService(self.uow, self.clock, ALONE)

    async def staff(self) -> None:
        await self.roster.redeem((await self.roster.invite(None, Role.VERIFIER)).code, ANA, "Ana")

    async def incident(self, n: int, reporters: int = 1) -> str:
        incident_id = ""
        for r in range(reporters):
            draft = ReportDraft(f"{n:016x}{r:016x}", activity=Activity.PRESENCE, point=GeoPoint(30 + n * 0.1, -100))
            submitted = await self.intake.submit(draft, REPORTER + r, REPORTER + r, "es" if r else "en")
            assert submitted.incident is not None
            self.clock.advance(timedelta(seconds=1))
            incident_id = submitted.incident.id
        return incident_id

    async def decide(self, incident_id: str, verdict: Verdict, reason: str = "seen from the corner") -> None:
        await self.desk.claim(ANA, incident_id)
        await self.desk.decide(ANA, incident_id, verdict, reason)


async def world(engine: AsyncEngine) -> World:
    w = World(engine)
    await w.staff()
    return w


async def owed_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM owed_outcome"))).scalar_one())


async def test_two_sweeps_at_once_take_each_owed_outcome_exactly_once(engine: AsyncEngine) -> None:
    w = await world(engine)
    for n in range(10):
        await w.decide(await w.incident(n, reporters=2), Verdict.CONFIRMED)  # nobody told: 20 owed
    other = DeskService(SqlUnitOfWorkFactory(engine, KEY), w.clock, ALONE)  # a second replica's sweep
    for _ in range(10):
        w.clock.advance(ALONE.tell_grace + timedelta(seconds=1))
        first, second = await asyncio.gather(w.desk.claim_owed(), other.claim_owed())
        keys = [o.key for o in (*first, *second)]
        assert len(keys) == len(set(keys)) == 20
        assert await w.desk.claim_owed() == [] and await other.claim_owed() == []
    await w.desk.told([*first, *second])
    assert await owed_rows(engine) == 0
    w.clock.advance(timedelta(hours=1))
    assert await w.desk.claim_owed() == []


async def test_what_is_owed_comes_back_with_its_verdict_or_its_question(engine: AsyncEngine) -> None:
    w = await world(engine)
    decided, asked = await w.incident(1, reporters=2), await w.incident(2)
    await w.decide(decided, Verdict.DEBUNKED)
    await w.decide(asked, Verdict.NEEDS_INFO, "Were the vests marked ICE or POLICE?")
    w.clock.advance(timedelta(minutes=2))
    outcome_en, outcome_es, question = await w.desk.claim_owed()
    assert [(o.chat_id, o.language, o.verdict, o.follow_up_id) for o in (outcome_en, outcome_es)] == [
        (REPORTER, "en", Verdict.DEBUNKED, None),
        (REPORTER + 1, "es", Verdict.DEBUNKED, None),
    ]
    assert outcome_en.ref_code.startswith("SR-") and outcome_en.key == outcome_en.report_id
    assert (question.chat_id, question.verdict, question.question) == (REPORTER, None, "Were the vests marked ICE or POLICE?")
    assert question.follow_up_id is not None and question.key == question.follow_up_id
    await w.desk.told([outcome_en, question])
    async with engine.connect() as conn:
        contacts = (await conn.execute(text("SELECT report_id FROM report_contact"))).scalars().all()
    assert sorted(contacts) == sorted([outcome_es.report_id, question.report_id])  # a question keeps the contact
    assert await owed_rows(engine) == 1


async def test_owed_outcomes_go_with_the_expired_contact(engine: AsyncEngine) -> None:
    w = await world(engine)
    await w.decide(await w.incident(1, reporters=2), Verdict.UNVERIFIABLE)
    await w.decide(await w.incident(2), Verdict.NEEDS_INFO, "How many vehicles?")
    assert await owed_rows(engine) == 3
    w.clock.advance(timedelta(hours=73))
    purged = await RetentionService(w.uow, w.clock, timedelta(days=30)).purge()
    assert purged.contacts == 3
    assert await owed_rows(engine) == 0  # deleted by the database with the contacts
    assert await w.desk.claim_owed() == []


async def test_the_migration_owes_the_outcome_of_decided_incidents_whose_reporters_were_never_told(engine: AsyncEngine) -> None:
    w = await world(engine)
    never_told = await w.incident(1, reporters=2)
    await w.decide(never_told, Verdict.CONFIRMED)
    await w.decide(await w.incident(2), Verdict.NEEDS_INFO, "How many vehicles?")  # open: no outcome yet
    await w.incident(3)  # open, no verdict
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync, KEY), "0011"))
    await upgrade(engine, hmac_key=KEY)
    w.clock.advance(timedelta(minutes=2))
    owed = await w.desk.claim_owed()
    assert [(o.chat_id, o.verdict) for o in owed] == [(REPORTER, Verdict.CONFIRMED), (REPORTER + 1, Verdict.CONFIRMED)]


async def test_the_contacts_kept_are_sealed_by_the_migration_with_the_key_and_nothing_owed_is_lost(engine: AsyncEngine) -> None:
    w = await world(engine)
    await w.decide(await w.incident(1, reporters=2), Verdict.CONFIRMED)  # nobody told yet
    await w.decide(await w.incident(2), Verdict.NEEDS_INFO, "How many vehicles?")
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync, KEY), "0016-1"))
    before = await current_revision(engine)
    async with engine.connect() as conn:
        clear = sorted((await conn.execute(text("SELECT chat_id FROM report_contact"))).scalars())
    assert clear == [REPORTER, REPORTER, REPORTER + 1] and await owed_rows(engine) == 3
    with pytest.raises(SealingKeyMissing, match="sealing the 3 reporter contacts kept now needs SERENO_HMAC_KEY"):
        await upgrade(engine)  # no key: nothing changes
    assert await current_revision(engine) == before and await owed_rows(engine) == 3
    await upgrade(engine, hmac_key=KEY)
    async with engine.connect() as conn:
        contacts = (await conn.execute(text("SELECT * FROM report_contact"))).mappings().all()
    assert len(contacts) == 3 and all(set(c) == {"report_id", "sealed_chat", "language", "expires_at"} for c in contacts)
    w.clock.advance(timedelta(minutes=2))
    owed = await w.desk.claim_owed()
    assert sorted((o.chat_id, o.question, o.verdict) for o in owed) == [
        (REPORTER, "", Verdict.CONFIRMED),
        (REPORTER, "How many vehicles?", None),
        (REPORTER + 1, "", Verdict.CONFIRMED),
    ]
