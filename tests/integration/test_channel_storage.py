"""Link commands in the database (SQLite and PostgreSQL): one use, one chat, 30 minutes,
their admin's standing, and only a digest stored."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.admin import replace_neighborhoods
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.audience import ChannelLink
from sereno.verify.channels import ChannelService, hash_token
from sereno.verify.clock import ManualClock
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.members import Role
from sereno.verify.places import parse_geojson
from sereno.verify.roster import RosterService
from tests.conftest import DEMO_REGION

ADMIN, OTHER_ADMIN = 20, 21
CHAT, ELSEWHERE = -1_001, -1_002


@pytest.fixture
async def channels(engine: AsyncEngine, database_url: str) -> tuple[ChannelService, RosterService, ManualClock]:
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    uow, clock = SqlUnitOfWorkFactory(engine), ManualClock()
    roster = RosterService(uow, clock, lambda user_id: f"p{user_id}")
    await roster.add_admin(ADMIN)
    await roster.add_admin(OTHER_ADMIN)
    return ChannelService(uow, clock, lambda user_id: f"p{user_id}"), roster, clock


async def refused(attempt: object) -> RefusalReason:
    with pytest.raises(Refusal) as refusal:
        await attempt  # type: ignore[misc]
    return refusal.value.reason


async def test_a_link_token_is_stored_as_a_digest_and_links_once_in_its_first_chat(
    engine: AsyncEngine, channels: tuple[ChannelService, RosterService, ManualClock]
) -> None:
    service, _, _ = channels
    token = await service.request_link(ADMIN, "harbor-view")
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token_hash, neighborhood_id, admin_id FROM channel_link_token"))).all()
    assert [tuple(r) for r in stored] == [(hash_token(token), "harbor-view", ADMIN)] and token not in stored[0][0]
    pending = await service.check_link(token, CHAT, None)
    assert (pending.neighborhood_id, pending.admin_id, pending.chat_id) == ("harbor-view", ADMIN, CHAT)
    assert await refused(service.check_link(token, ELSEWHERE, None)) is RefusalReason.OTHER_CHAT
    assert await refused(service.link_with(token, ELSEWHERE, None, "Copycat", "en")) is RefusalReason.USED_TOKEN
    results = await asyncio.gather(
        *(service.link_with(token, CHAT, None, "Harbor", "en") for _ in range(2)), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["ChannelLink", "Refusal"]
    assert [r.neighborhood_id for r in results if isinstance(r, ChannelLink)] == ["harbor-view"]
    assert await refused(service.check_link(token, CHAT, None)) is RefusalReason.USED_TOKEN
    assert await refused(service.check_link("made-up", CHAT, 99)) is RefusalReason.UNKNOWN_TOKEN
    async with engine.connect() as conn:
        trail = (
            await conn.execute(text("SELECT actor, action, subject FROM audit_event WHERE action LIKE '%channel%' ORDER BY id"))
        ).all()
    assert [tuple(r) for r in trail] == [
        (f"verifier:{ADMIN}", "channel.token", "harbor-view"),
        ("outsider", "refused.channel.link_token", "other_chat"),
        ("outsider", "refused.channel.link_token", "used_token"),
        (f"verifier:{ADMIN}", "channel.link", "harbor-view"),
        ("outsider", "refused.channel.link_token", "used_token"),
        ("outsider", "refused.channel.link_token", "used_token"),
        ("person:p99", "refused.channel.link_token", "unknown_token"),
    ]


async def test_a_link_token_expires_after_30_minutes_and_is_forgotten_at_the_next_request(
    engine: AsyncEngine, channels: tuple[ChannelService, RosterService, ManualClock]
) -> None:
    service, _, clock = channels
    token = await service.request_link(ADMIN, "harbor-view")
    clock.advance(timedelta(minutes=30))
    assert await refused(service.check_link(token, CHAT, None)) is RefusalReason.EXPIRED_TOKEN
    clock.advance(timedelta(seconds=1))
    await service.request_link(ADMIN, "las-palmas")
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT neighborhood_id FROM channel_link_token"))).scalars().all()
    assert kept == ["las-palmas"]


async def test_a_link_token_is_void_once_its_admin_is_no_longer_one(
    engine: AsyncEngine, channels: tuple[ChannelService, RosterService, ManualClock]
) -> None:
    service, roster, _ = channels
    token = await service.request_link(ADMIN, "harbor-view")
    await service.check_link(token, CHAT, None)
    await roster.set_role(OTHER_ADMIN, ADMIN, Role.REVOKED)
    assert await refused(service.check_link(token, CHAT, None)) is RefusalReason.TOKEN_ADMIN_GONE
    assert await refused(service.link_with(token, CHAT, None, "Harbor", "en")) is RefusalReason.TOKEN_ADMIN_GONE
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM channel_link"))).scalar() == 0
