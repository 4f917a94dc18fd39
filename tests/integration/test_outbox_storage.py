"""Alerts and the transactional outbox in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.admin import replace_neighborhoods
from sereno.storage.images import PillowImageSanitizer
from sereno.storage.migrate import alembic_config, upgrade
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.alerts import (
    AlertKind,
    AlertPolicy,
    ChannelPosts,
    Delivery,
    DeliveryResult,
    MessageKind,
    Priority,
    TargetKind,
    UpdateKind,
)
from sereno.verify.channels import ChannelService
from sereno.verify.clock import ManualClock
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.errors import Conflict, Refusal, RefusalReason
from sereno.verify.incidents import Verdict
from sereno.verify.intake import IntakePolicy, IntakeService
from sereno.verify.members import Role
from sereno.verify.model import Activity, GeoPoint, ReportDraft, Tier
from sereno.verify.outbox import OutboxService, Outcomes
from sereno.verify.places import Gazetteer, parse_geojson
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.publishing import AlertService, Publisher
from sereno.verify.roster import RosterService
from sereno.verify.subscriptions import SubscriptionService
from tests.conftest import DEMO_REGION

KEY = b"integration-key-0123456789abcdef"
ANA, BEN, COORD = 10, 11, 12
HARBOR = GeoPoint(34.0387, -118.2799)  # the centre of "harbor-view" in the demo region
OLD_MILL = GeoPoint(34.0574, -118.2130)


class World:
    """Services over one migrated database with the demo region."""

    def __init__(self, engine: AsyncEngine, policy: AlertPolicy) -> None:
        self.uow = SqlUnitOfWorkFactory(engine, KEY)
        self.clock = ManualClock()
        self.gazetteer = Gazetteer(parse_geojson(DEMO_REGION.read_text()))
        self.publisher = Publisher(policy, self.gazetteer.adjacent)
        pseudonymize = Pseudonymizer(KEY)
        self.roster = RosterService(self.uow, self.clock, pseudonymize)
        self.intake = IntakeService(
            self.uow, self.clock, pseudonymize, IntakePolicy(max_reports=10_000), images=PillowImageSanitizer()
        )
        self.desk = DeskService(self.uow, self.clock, on_decided=self.publisher.on_decided)
        self.alerts = AlertService(self.uow, self.clock, self.publisher)
        self.subscriptions = SubscriptionService(self.uow, self.clock)
        self.channels = ChannelService(self.uow, self.clock)
        self.outbox = OutboxService(self.uow, self.clock)
        self.drafts = 0

    async def staff(self) -> None:
        for user in (ANA, BEN):
            await self.roster.redeem((await self.roster.invite(None, Role.VERIFIER)).code, user, str(user))
        await self.roster.redeem((await self.roster.invite(None, Role.COORDINATOR)).code, COORD, "coord")

    async def incident(self, reports: int = 1, point: GeoPoint = HARBOR) -> str:
        incident_id = ""
        for n in range(reports):
            self.drafts += 1
            where = self.gazetteer.locate(point.lat, point.lon)
            draft = ReportDraft(
                f"{self.drafts:032x}", activity=Activity.PRESENCE, point=point, neighborhood_id=where.id if where else None
            )
            submitted = await self.intake.submit(draft, 100 + n, 100 + n, "en")
            assert submitted.incident is not None
            incident_id = submitted.incident.id
        return incident_id

    async def decide(self, incident_id: str, verdict: Verdict) -> None:
        for person in (ANA, BEN):
            await self.desk.claim(person, incident_id)
            result = await self.desk.decide(person, incident_id, verdict, "checked")
        assert result.outcome is Outcome.DECIDED


@pytest.fixture
async def world(engine: AsyncEngine, database_url: str) -> World:
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    w = World(engine, AlertPolicy(alert_adjacent=frozenset({"harbor-view"})))
    await w.staff()
    return w


async def test_a_confirmed_incident_queues_one_post_per_channel_and_subscriber_with_the_verdict(world: World) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en")
    await world.channels.link(None, "northgate", -1001, "Harbor View alerts", "es")  # same chat, two areas
    await world.channels.link(None, "old-mill", -1002, "Old Mill", "en")  # not adjacent: gets nothing
    await world.subscriptions.subscribe(1, "es", ["harbor-view", "northgate"])
    await world.subscriptions.subscribe(2, "en", ["northgate"])  # adjacent to harbor-view
    await world.subscriptions.subscribe(3, "en", ["old-mill"])
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    async with world.uow() as uow:
        alert = await uow.alerts.for_incident(incident, AlertKind.ALERT)
        assert alert is not None
        messages = await uow.outbox.for_alert(alert.id)
    assert alert.verifiers == 2 and alert.areas[0] == "harbor-view" and "northgate" in alert.areas
    assert sorted((m.chat_id, m.target, m.language) for m in messages) == [
        (-1001, TargetKind.CHANNEL, "en"),
        (1, TargetKind.SUBSCRIBER, "es"),
        (2, TargetKind.SUBSCRIBER, "en"),
    ]
    assert {m.kind for m in messages} == {MessageKind.POST} and {m.priority for m in messages} == {Priority.ROUTINE}


async def test_the_same_message_cannot_be_queued_twice(world: World) -> None:
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    async with world.uow() as uow:
        [alert] = await uow.alerts.active()
        with pytest.raises((Conflict, IntegrityError)):  # unique (alert, chat, kind, revision, language)
            await uow.outbox.fan_out(
                alert.id, alert.areas, TargetKind.SUBSCRIBER, MessageKind.POST, 0, Priority.ROUTINE, world.clock.now()
            )
            await uow.commit()


async def test_a_failed_verdict_transaction_leaves_neither_verdict_nor_outbox(world: World, engine: AsyncEngine) -> None:
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    incident = await world.incident()
    await world.desk.claim(ANA, incident)
    await world.desk.decide(ANA, incident, Verdict.CONFIRMED, "seen")

    async def broken_fan_out(*_args: object, **_kw: object) -> int:
        raise RuntimeError("disk full")

    from sereno.storage import alert_repositories

    original = alert_repositories.SqlOutboxRepository.fan_out
    alert_repositories.SqlOutboxRepository.fan_out = broken_fan_out  # type: ignore[method-assign]
    try:
        await world.desk.claim(BEN, incident)
        with pytest.raises(RuntimeError):
            await world.desk.decide(BEN, incident, Verdict.CONFIRMED, "seen too")
    finally:
        alert_repositories.SqlOutboxRepository.fan_out = original  # type: ignore[method-assign]
    async with engine.connect() as conn:
        counts = [(await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar() for table in ("alert", "outbox")]
        status = (await conn.execute(text("SELECT status FROM incident"))).scalar()
        verdicts = (await conn.execute(text("SELECT count(*) FROM verdict"))).scalar()
    assert counts == [0, 0] and status == "open" and verdicts == 1


async def test_claims_are_urgent_first_never_shared_and_recovered_after_a_crash(world: World) -> None:
    for chat in range(1, 41):
        await world.subscriptions.subscribe(chat, "en", ["harbor-view"])
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    world.clock.advance(timedelta(hours=4))  # outside the clustering window: a new incident
    later = await world.incident()
    async with world.uow() as uow:
        incident = await uow.incidents.get(later)
        assert incident is not None
        urgent = await world.publisher.on_decided(
            uow, replace(incident, tier=Tier.URGENT), Verdict.CONFIRMED, 2, world.clock.now()
        )
        await uow.commit()
    assert urgent is not None and urgent.queued == 40
    claims = await asyncio.gather(*(world.outbox.claim(15) for _ in range(4)))
    ids = [m.id for batch in claims for m in batch]
    assert len(ids) == len(set(ids)) == 60
    assert await world.outbox.recover() == 60
    first = await world.outbox.claim(40)
    assert {m.priority for m in first} == {Priority.URGENT} and {m.alert_id for m in first} == {urgent.alert.id}


async def test_results_blocked_subscribers_and_broken_channels_are_recorded(world: World) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en")
    for chat in (1, 2):
        await world.subscriptions.subscribe(chat, "en", ["harbor-view"])
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    claimed = {m.chat_id: m for m in await world.outbox.claim(10)}
    later = world.clock.now() + timedelta(seconds=5)
    flagged = await world.outbox.record(
        Outcomes(
            results=[
                DeliveryResult(claimed[1].id or 0, Delivery.SENT, sent_message_id=77),
                DeliveryResult(claimed[2].id or 0, Delivery.FAILED, error="Forbidden: bot was blocked by the user"),
                DeliveryResult(claimed[-1001].id or 0, Delivery.PENDING, retry_at=later, error="429"),
            ],
            blocked={2},
            broken={-1001: "chat not found"},
        )
    )
    assert [(f.chat_id, f.problem) for f in flagged] == [(-1001, "chat not found")]
    assert await world.subscriptions.areas(2) == [] and await world.subscriptions.areas(1) == ["harbor-view"]
    assert await world.outbox.claim(10) == []  # the channel's message failed with the flag; nothing due
    async with world.uow() as uow:
        [alert] = await uow.alerts.active()
        states = {m.chat_id: (m.state, m.message_id) for m in await uow.outbox.for_alert(alert.id)}
    assert states == {1: (Delivery.SENT, 77), 2: (Delivery.FAILED, None), -1001: (Delivery.FAILED, None)}


async def test_updates_follow_the_post_and_expiry_edits_channels_only(world: World) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    [alert] = (await world.alerts.board(COORD)).active
    with pytest.raises(Refusal) as refused:
        await world.alerts.update(ANA, alert.id, UpdateKind.STILL_ACTIVE)
    assert refused.value.reason is RefusalReason.ALERTS_NOT_ALLOWED
    update = await world.alerts.update(COORD, alert.id, UpdateKind.STILL_ACTIVE)
    assert update.queued == 2 and update.alert.revision == 1
    world.clock.advance(timedelta(hours=3, minutes=59))
    assert await world.alerts.expire_due() == []  # "still active" extended the lifetime
    world.clock.advance(timedelta(hours=1))
    [expired] = await world.alerts.expire_due()
    async with world.uow() as uow:
        kinds = sorted((m.kind.value, m.target.value, m.revision) for m in await uow.outbox.for_alert(alert.id))
    assert kinds == [
        ("expire", "channel", 1),
        ("post", "channel", 0),
        ("post", "subscriber", 0),
        ("update", "channel", 1),
        ("update", "subscriber", 1),
    ]
    with pytest.raises(Refusal):
        await world.alerts.update(COORD, expired.id, UpdateKind.ALL_CLEAR)


async def test_a_debunked_rumor_with_enough_reports_gets_a_correction_others_only_when_flagged(world: World) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    spread = await world.incident(reports=3)
    await world.decide(spread, Verdict.DEBUNKED)
    async with world.uow() as uow:
        correction = await uow.alerts.for_incident(spread, AlertKind.CORRECTION)
        assert correction is not None
        assert [(m.chat_id, m.kind) for m in await uow.outbox.for_alert(correction.id)] == [(-1001, MessageKind.POST)]
    small = await world.incident(reports=1, point=OLD_MILL)
    await world.decide(small, Verdict.DEBUNKED)
    board = await world.alerts.board(COORD)
    assert [i.id for i in board.uncorrected] == [small]
    published = await world.alerts.correct(COORD, small)
    assert published.alert.verifiers == 2
    with pytest.raises(Refusal) as again:
        await world.alerts.correct(COORD, small)
    assert again.value.reason is RefusalReason.ALREADY_CORRECTED


@pytest.fixture
async def per_language(engine: AsyncEngine, database_url: str) -> World:
    """A world whose channels get one post per language."""
    await replace_neighborhoods(database_url, parse_geojson(DEMO_REGION.read_text()))
    w = World(engine, AlertPolicy(channel_posts=ChannelPosts.PER_LANGUAGE))
    await w.staff()
    return w


async def test_per_language_channels_get_one_post_per_language_and_each_is_edited_in_its_own(per_language: World) -> None:
    world = per_language
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en+es+ar")
    await world.subscriptions.subscribe(1, "es", ["harbor-view"])
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    [alert] = (await world.alerts.board(COORD)).active
    posts = await world.outbox.claim(10)
    assert [(m.chat_id, m.target, m.language) for m in posts] == [
        (-1001, TargetKind.CHANNEL, "en"),
        (-1001, TargetKind.CHANNEL, "es"),
        (-1001, TargetKind.CHANNEL, "ar"),
        (1, TargetKind.SUBSCRIBER, "es"),
    ]
    await world.outbox.record(
        Outcomes(results=[DeliveryResult(m.id or 0, Delivery.SENT, sent_message_id=100 + n) for n, m in enumerate(posts)])
    )
    found = {language: await world.outbox.post_of(alert.id, -1001, language) for language in ("en", "es", "ar", "vi")}
    assert {language: post.message_id if post else None for language, post in found.items()} == {
        "en": 100,
        "es": 101,
        "ar": 102,
        "vi": None,
    }
    cleared = await world.alerts.update(COORD, alert.id, UpdateKind.ALL_CLEAR)
    assert cleared.queued == 4
    async with world.uow() as uow:
        follow_ups = [m for m in await uow.outbox.for_alert(alert.id) if m.kind is MessageKind.CLEAR]
    assert [(m.chat_id, m.target, m.language) for m in follow_ups] == [
        (-1001, TargetKind.CHANNEL, "en"),
        (-1001, TargetKind.CHANNEL, "es"),
        (-1001, TargetKind.CHANNEL, "ar"),
        (1, TargetKind.SUBSCRIBER, "es"),
    ]


async def test_combined_channels_get_one_post_in_all_their_languages(world: World) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en+es+pt+ht+zh+vi+ar")
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    [post] = await world.outbox.claim(10)
    assert (post.chat_id, post.language) == (-1001, "en+es+pt+ht+zh+vi+ar")
    assert await world.outbox.post_of(post.alert_id, -1001, "en") is None  # a combined post is one message


async def test_the_downgrade_keeps_each_chats_first_post_and_the_upgrade_brings_the_languages_back(
    per_language: World, engine: AsyncEngine
) -> None:
    world = per_language
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en+es+pt+ht+zh+vi+ar")
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync, KEY), "0011"))
    async with engine.connect() as conn:
        kept = [tuple(r) for r in await conn.execute(text("SELECT chat_id, language FROM outbox"))]
        linked = (await conn.execute(text("SELECT language FROM channel_link"))).scalar()
    assert kept == [(-1001, "en")] and linked == "en+es+pt+ht+zh"
    await upgrade(engine, hmac_key=KEY)
    await world.channels.link(None, "old-mill", -1002, "Old Mill", "en+es+pt+ht+zh+vi+ar")
    await world.decide(await world.incident(point=OLD_MILL), Verdict.CONFIRMED)
    async with engine.connect() as conn:
        posts = [r.language for r in await conn.execute(text("SELECT language FROM outbox WHERE chat_id = -1002 ORDER BY id"))]
    assert posts == ["en", "es", "pt", "ht", "zh", "vi", "ar"]


async def test_recent_sends_are_what_went_out_in_the_window_and_channel_posts_still_sending(world: World) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View alerts", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    await world.subscriptions.subscribe(2, "en", ["harbor-view"])
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    claimed = {m.chat_id: m for m in await world.outbox.claim(10)}
    await world.outbox.record(Outcomes([DeliveryResult(claimed[1].id or 0, Delivery.SENT, sent_message_id=5)]))
    world.clock.advance(timedelta(seconds=90))
    await world.outbox.record(Outcomes([DeliveryResult(claimed[2].id or 0, Delivery.SENT, sent_message_id=6)]))
    world.clock.advance(timedelta(seconds=3))
    recent = await world.outbox.recent_sends(timedelta(seconds=60))
    # chat 1 went out 93 s ago (past the window); chat 2, 3 s ago; the channel's post is still
    # sending, so it may be going out now
    assert sorted(recent) == [(-1001, 0.0), (2, 3.0)]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_claim_under_a_lease_epoch_that_is_not_current_gets_nothing(world: World, engine: AsyncEngine) -> None:
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    await world.decide(await world.incident(), Verdict.CONFIRMED)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO leader_lease (name, holder, epoch, expires_at) "
                "VALUES ('sereno', 'sereno-a-1-lead-0000', 7, now() + interval '8 seconds')"
            )
        )
    assert await world.outbox.claim(10, epoch=6) == []  # a deposed leader's claim
    assert [m.chat_id for m in await world.outbox.claim(10, epoch=7)] == [1]
