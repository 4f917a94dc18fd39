"""The roster and the audit trail in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.clock import ManualClock
from sereno.verify.errors import Refusal
from sereno.verify.members import Role
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.roster import RosterService

KEY = b"integration-key-0123456789abcdef"


def roster(engine: AsyncEngine) -> RosterService:
    return RosterService(SqlUnitOfWorkFactory(engine), ManualClock(), Pseudonymizer(KEY))


async def test_join_promote_and_audit_round_trip(engine: AsyncEngine) -> None:
    service = roster(engine)
    await service.add_admin(1, "Admin")
    invite = await service.invite(None, Role.VERIFIER)
    ana = await service.redeem(invite.code, 5_000_000_001, "Ana")
    await service.update(ana.user_id, on_duty=True, languages=("es",), neighborhoods=("old-mill",))
    await service.set_role(1, ana.user_id, Role.TRAINEE)
    stored = await service.get(ana.user_id)
    assert stored is not None and stored.role is Role.TRAINEE and stored.on_duty and stored.languages == ("es",)
    with pytest.raises(Refusal):
        await service.set_role(ana.user_id, 1, Role.REVOKED)
    async with engine.connect() as conn:
        actions = (await conn.execute(text("SELECT action FROM audit_event ORDER BY id"))).scalars().all()
    assert actions == ["role.admin", "invite.create", "invite.redeem", "duty.on", "role.trainee", "refused.role.change"]


async def test_two_people_racing_for_one_invite_yield_one_member(engine: AsyncEngine) -> None:
    service = roster(engine)
    for attempt in range(10):
        code = (await service.invite(None, Role.VERIFIER)).code
        results = await asyncio.gather(
            service.redeem(code, 100 + 2 * attempt, "A"),
            service.redeem(code, 101 + 2 * attempt, "B"),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1, results
        assert all(isinstance(r, Refusal) for r in results if isinstance(r, BaseException))
