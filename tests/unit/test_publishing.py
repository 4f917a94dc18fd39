"""Publishing on the in-memory unit of work: what a final verdict puts in the outbox, and
coordinators' updates, all-clears, corrections and expiry (with their refusals)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sereno.verify.alerts import (
    AlertKind,
    AlertPolicy,
    AlertState,
    ChannelPosts,
    Delivery,
    DeliveryResult,
    MessageKind,
    Priority,
    TargetKind,
    UpdateKind,
)
from sereno.verify.desk import DeskService, Outcome
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import Incident, Verdict
from sereno.verify.model import Activity
from sereno.verify.outbox import Outcomes
from sereno.verify.ports import UnitOfWork
from sereno.verify.publishing import DrillNotPublished
from tests.unit.memory_world import ANA, BEN, COORD, OLD_MILL, MemoryWorld


@pytest.fixture
async def world() -> MemoryWorld:
    return await MemoryWorld.create()


async def test_a_confirmed_incident_publishes_one_post_per_neighborhood_channel_and_subscriber_in_their_language(
    world: MemoryWorld,
) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en")
    await world.channels.link(None, "northgate", -1001, "Harbor View", "es")  # the same chat for an adjacent area
    await world.channels.link(None, "las-palmas", -1003, "Las Palmas", "es")
    await world.channels.link(None, "old-mill", -1002, "Old Mill", "en")  # not adjacent
    await world.subscriptions.subscribe(1, "es", ["harbor-view", "northgate"])
    await world.subscriptions.subscribe(2, "vi", ["mission-flats"])  # adjacent
    await world.subscriptions.subscribe(3, "en", ["old-mill"])
    incident = await world.incident()
    assert await world.decide(incident, Verdict.CONFIRMED) is Outcome.DECIDED
    alert = await world.alert_for(incident)
    assert alert is not None
    assert alert.verifiers == 2 and alert.areas[0] == "harbor-view"
    assert set(alert.areas) == {"harbor-view", "las-palmas", "mission-flats", "northgate"}
    messages = await world.messages(alert.id)
    assert sorted((m.target, m.chat_id, m.language) for m in messages) == [
        (TargetKind.CHANNEL, -1003, "es"),
        (TargetKind.CHANNEL, -1001, "en"),
        (TargetKind.SUBSCRIBER, 1, "es"),
        (TargetKind.SUBSCRIBER, 2, "vi"),
    ]
    assert {(m.kind, m.priority, m.state, m.revision) for m in messages} == {
        (MessageKind.POST, Priority.ROUTINE, Delivery.PENDING, 0)
    }


async def test_an_urgent_alert_goes_out_first_and_a_neighborhood_alone_when_adjacent_areas_are_off() -> None:
    world = await MemoryWorld.create(AlertPolicy())  # no neighborhood reaches its neighbours
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    await world.subscriptions.subscribe(2, "en", ["northgate"])
    incident = await world.incident(activity=Activity.ARREST)
    await world.decide(incident, Verdict.CONFIRMED)
    alert = await world.alert_for(incident)
    assert alert is not None and alert.urgent and alert.areas == ("harbor-view",)
    assert [(m.chat_id, m.priority) for m in await world.messages(alert.id)] == [(1, Priority.URGENT)]


async def test_channels_get_one_combined_post_or_one_post_per_language_as_configured() -> None:
    for posts, languages in ((ChannelPosts.COMBINED, ["en+es"]), (ChannelPosts.PER_LANGUAGE, ["en", "es"])):
        world = await MemoryWorld.create(AlertPolicy(channel_posts=posts))
        await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en+es")
        incident = await world.incident()
        await world.decide(incident, Verdict.CONFIRMED)
        alert = await world.alert_for(incident)
        assert alert is not None
        assert [m.language for m in await world.messages(alert.id)] == languages


async def test_flagged_channels_and_subscribers_who_blocked_the_bot_are_not_sent_an_alert(world: MemoryWorld) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    await world.subscriptions.subscribe(2, "en", ["harbor-view"])
    await world.outbox.record(Outcomes(blocked={2}, broken={-1001: "bot removed"}))
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    alert = await world.alert_for(incident)
    assert alert is not None
    assert [m.chat_id for m in await world.messages(alert.id)] == [1]


async def test_a_debunked_rumor_that_spread_gets_a_correction_for_channels_only(world: MemoryWorld) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    spread = await world.incident(reports=3)
    await world.decide(spread, Verdict.DEBUNKED)
    correction = await world.alert_for(spread, AlertKind.CORRECTION)
    assert correction is not None and await world.alert_for(spread) is None
    assert [(m.target, m.chat_id) for m in await world.messages(correction.id)] == [(TargetKind.CHANNEL, -1001)]
    lone = await world.incident(point=OLD_MILL)
    await world.decide(lone, Verdict.DEBUNKED)
    assert await world.alert_for(lone, AlertKind.CORRECTION) is None  # one report: nothing to correct publicly
    unclear = await world.incident(point=OLD_MILL, activity=Activity.SURVEILLANCE)
    assert await world.decide(unclear, Verdict.UNVERIFIABLE, (ANA,)) is Outcome.DECIDED
    async with world.uow() as uow:
        assert [a.incident_id for a in await uow.alerts.verified_between(None, None)] == [spread]


async def test_a_coordinator_flags_a_debunked_rumor_for_a_correction_once(world: MemoryWorld) -> None:
    await world.channels.link(None, "old-mill", -1002, "Old Mill", "en")
    rumor = await world.incident(point=OLD_MILL)
    await world.decide(rumor, Verdict.DEBUNKED)
    assert [i.id for i in (await world.alerts.board(COORD)).uncorrected] == [rumor]
    with pytest.raises(Refusal) as not_allowed:
        await world.alerts.correct(ANA, rumor)
    assert not_allowed.value.reason is RefusalReason.ALERTS_NOT_ALLOWED
    assert world.uow.store.audit[-1].action == "refused.alerts.correct"
    published = await world.alerts.correct(COORD, rumor)
    assert published.alert.kind is AlertKind.CORRECTION and published.alert.verifiers == 2 and published.queued == 1
    assert (await world.alerts.board(COORD)).uncorrected == []
    for incident, reason in ((rumor, RefusalReason.ALREADY_CORRECTED), ("no-such-incident", RefusalReason.UNKNOWN_ALERT)):
        with pytest.raises(Refusal) as refused:
            await world.alerts.correct(COORD, incident)
        assert refused.value.reason is reason
    confirmed = await world.incident()
    await world.decide(confirmed, Verdict.CONFIRMED)
    with pytest.raises(Refusal) as not_debunked:
        await world.alerts.correct(COORD, confirmed)
    assert not_debunked.value.reason is RefusalReason.NOT_DEBUNKED


async def test_a_drill_is_never_published(world: MemoryWorld) -> None:
    drill = (await world.training.inject_live(COORD, await scenario(world), "en")).incident
    async with world.uow() as uow:
        incident = await uow.incidents.get(drill.id)
        assert incident is not None
        with pytest.raises(DrillNotPublished):
            await world.publisher.on_decided(uow, incident, Verdict.CONFIRMED, 2, world.clock.now())
    with pytest.raises(Refusal) as refused:
        await world.alerts.correct(COORD, drill.id)
    assert refused.value.reason is RefusalReason.DRILL_NOT_PUBLISHED
    assert world.uow.store.alerts == {} and world.uow.store.outbox == {}


async def test_the_desk_hands_live_final_verdicts_to_its_hook_with_the_agreeing_verifiers_and_drills_never(
    world: MemoryWorld,
) -> None:
    decided: list[tuple[str, Verdict, int]] = []

    async def on_decided(uow: UnitOfWork, incident: Incident, verdict: Verdict, verifiers: int, now: datetime) -> None:
        decided.append((incident.id, verdict, verifiers))

    world.desk = DeskService(world.uow, world.clock, on_decided=on_decided)
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    drill = (await world.training.inject_live(COORD, await scenario(world), "en")).incident
    await world.decide(drill.id, Verdict.CONFIRMED)
    assert decided == [(incident, Verdict.CONFIRMED, 2)]


async def test_an_update_edits_each_channel_post_and_replies_to_each_subscriber_who_got_the_alert(world: MemoryWorld) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en")
    await world.channels.link(None, "northgate", -1004, "Northgate", "es")
    await world.subscriptions.subscribe(1, "es", ["harbor-view"])
    await world.subscriptions.subscribe(2, "en", ["harbor-view"])
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    alert = await world.alert_for(incident)
    assert alert is not None
    posts = {m.chat_id: m for m in await world.messages(alert.id)}
    claimed = await world.outbox.claim(10)
    assert {m.chat_id for m in claimed} == set(posts)
    await world.outbox.record(
        Outcomes(
            [
                DeliveryResult(posts[-1001].id or 0, Delivery.SENT, 501),
                DeliveryResult(posts[1].id or 0, Delivery.SENT, 502),
                DeliveryResult(posts[-1004].id or 0, Delivery.FAILED, error="bad request"),
            ],
            blocked={2},
        )
    )
    world.clock.advance(timedelta(hours=3))
    published = await world.alerts.update(COORD, alert.id, UpdateKind.STILL_ACTIVE)
    assert published.alert.revision == 1 and published.alert.expires_at == world.clock.now() + timedelta(hours=4)
    update = [m for m in await world.messages(alert.id) if m.kind is MessageKind.UPDATE]
    assert [(m.target, m.chat_id, m.language, m.revision, m.priority) for m in update] == [
        (TargetKind.CHANNEL, -1001, "en", 1, Priority.LIFECYCLE),
        (TargetKind.SUBSCRIBER, 1, "es", 1, Priority.LIFECYCLE),
    ]
    assert published.queued == 2  # the failed post and the blocked subscriber get nothing


async def test_the_all_clear_ends_an_alert_and_only_coordinators_update_active_alerts(world: MemoryWorld) -> None:
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    alert = await world.alert_for(incident)
    assert alert is not None
    with pytest.raises(Refusal) as not_allowed:
        await world.alerts.update(BEN, alert.id, UpdateKind.ALL_CLEAR)
    assert not_allowed.value.reason is RefusalReason.ALERTS_NOT_ALLOWED
    cleared = await world.alerts.update(COORD, alert.id, UpdateKind.ALL_CLEAR)
    assert cleared.alert.state is AlertState.CLEARED and cleared.queued == 1
    assert (await world.alerts.board(COORD)).active == []
    for alert_id, reason in ((alert.id, RefusalReason.NOT_ACTIVE), ("no-such-alert", RefusalReason.UNKNOWN_ALERT)):
        with pytest.raises(Refusal) as refused:
            await world.alerts.update(COORD, alert_id, UpdateKind.STILL_ACTIVE)
        assert refused.value.reason is reason
    [clear] = [m for m in await world.messages(alert.id) if m.kind is MessageKind.CLEAR]
    assert (clear.chat_id, clear.target) == (1, TargetKind.SUBSCRIBER)


async def test_an_alert_expires_after_its_lifetime_and_only_channels_see_it_edited(world: MemoryWorld) -> None:
    await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en")
    await world.subscriptions.subscribe(1, "en", ["harbor-view"])
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    world.clock.advance(timedelta(hours=4) - timedelta(seconds=1))
    assert await world.alerts.expire_due() == []
    world.clock.advance(timedelta(seconds=1))
    [expired] = await world.alerts.expire_due()
    assert expired.state is AlertState.EXPIRED and world.uow.store.audit[-1].action == "alerts.expired"
    assert [(m.kind, m.chat_id) for m in await world.messages(expired.id) if m.kind is not MessageKind.POST] == [
        (MessageKind.EXPIRE, -1001)
    ]
    assert await world.alerts.expire_due() == []  # expired once


async def scenario(world: MemoryWorld) -> str:
    """Import one scenario (as the coordinator) and return its id."""
    text = {"en": "Agents by the market", "es": "Agentes junto al mercado"}
    await world.training.import_scenarios(
        COORD,
        {
            "scenarios": [
                {
                    "id": "market-agents",
                    "title": text,
                    "answer": "confirmed",
                    "explanation": text,
                    "reports": [{"activity": "presence", "text": text, "neighborhood": "harbor-view", "minutes_ago": 5}],
                }
            ]
        },
    )
    return "market-agents"
