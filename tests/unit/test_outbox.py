"""The broadcaster's side of the outbox on the in-memory unit of work: claims (each message
leased once, urgent first), results, retries, recovery after a crash, unreachable chats."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from sereno.verify.alerts import Delivery, DeliveryResult, MessageKind, OutboxMessage, Priority, TargetKind
from sereno.verify.desk import Outcome
from sereno.verify.incidents import Verdict
from sereno.verify.model import Activity
from sereno.verify.outbox import Outcomes
from tests.unit.memory_world import COORD, OLD_MILL, MemoryWorld


@pytest.fixture
async def world() -> MemoryWorld:
    world = await MemoryWorld.create()
    await world.channels.link(None, "harbor-view", -1001, "Harbor View", "en")
    for chat in (1, 2, 3):
        await world.subscriptions.subscribe(chat, "en", ["harbor-view"])
    return world


async def publish(world: MemoryWorld, activity: Activity = Activity.PRESENCE) -> list[OutboxMessage]:
    """Confirm a new incident in harbor-view; its alert's messages."""
    incident = await world.incident(activity=activity)
    assert await world.decide(incident, Verdict.CONFIRMED) is Outcome.DECIDED
    alert = await world.alert_for(incident)
    assert alert is not None
    return await world.messages(alert.id)


def states(world: MemoryWorld) -> dict[int, tuple[Delivery, int]]:
    return {i: (m.state, m.attempts) for i, m in world.uow.store.outbox.items()}


async def test_an_outbox_item_is_leased_once(world: MemoryWorld) -> None:
    queued = await publish(world)
    first = await world.outbox.claim(2)
    second = await world.outbox.claim(10)
    assert len(first) == 2 and len(second) == 2
    assert {m.id for m in first}.isdisjoint(m.id for m in second)
    assert {m.id for m in first + second} == {m.id for m in queued}
    assert {(m.state, m.attempts) for m in first + second} == {(Delivery.SENDING, 1)}
    assert await world.outbox.claim(10) == []  # nothing is handed out twice
    assert await world.outbox.backlog() == 4  # sending still waits for its result


async def test_urgent_alerts_are_claimed_before_earlier_routine_ones(world: MemoryWorld) -> None:
    routine = await publish(world)
    urgent = await publish(world, Activity.ARREST)
    claimed = await world.outbox.claim(10)
    assert [m.priority for m in claimed] == [Priority.URGENT] * len(urgent) + [Priority.ROUTINE] * len(routine)
    assert [m.id for m in claimed] == sorted(m.id or 0 for m in urgent) + sorted(m.id or 0 for m in routine)


async def test_a_message_to_retry_waits_until_its_time_and_a_failed_one_never_comes_back(world: MemoryWorld) -> None:
    channel, retry, fail, sent = await publish(world)
    assert channel.target is TargetKind.CHANNEL
    await world.outbox.claim(10)
    later = world.clock.now() + timedelta(seconds=30)
    await world.outbox.record(
        Outcomes(
            [
                DeliveryResult(channel.id or 0, Delivery.SENT, sent_message_id=77),
                DeliveryResult(retry.id or 0, Delivery.PENDING, retry_at=later, error="429"),
                DeliveryResult(fail.id or 0, Delivery.FAILED, error="x" * 500),
                DeliveryResult(sent.id or 0, Delivery.SENT, sent_message_id=78),
            ]
        )
    )
    stored = world.uow.store.outbox
    assert stored[channel.id or 0].message_id == 77 and len(stored[fail.id or 0].error or "") == 300
    assert await world.outbox.claim(10) == []
    world.clock.advance(timedelta(seconds=30))
    [again] = await world.outbox.claim(10)
    assert (again.id, again.attempts) == (retry.id, 2)
    assert await world.outbox.post_of(channel.alert_id, -1001, "en") == stored[channel.id or 0]


async def test_messages_left_sending_by_a_dead_process_are_recovered_and_sent_again(world: MemoryWorld) -> None:
    queued = await publish(world)
    await world.outbox.claim(10)
    assert await world.outbox.recover() == len(queued)
    assert set(states(world).values()) == {(Delivery.PENDING, 1)}
    assert len(await world.outbox.claim(10)) == len(queued)
    assert set(states(world).values()) == {(Delivery.SENDING, 2)}
    assert await world.outbox.recover() == len(queued)


async def test_a_blocked_subscriber_is_deactivated_and_a_broken_channel_flagged_once(world: MemoryWorld) -> None:
    channel, blocked, *others = await publish(world)
    more = await publish(world)
    flagged = await world.outbox.record(Outcomes(blocked={blocked.chat_id}, broken={-1001: "not an admin"}))
    assert [(link.chat_id, link.problem) for link in flagged] == [(-1001, "not an admin")]
    assert await world.outbox.record(Outcomes(broken={-1001: "still not"})) == []  # already flagged
    subscriber = world.uow.store.subscribers[blocked.chat_id]
    assert not subscriber.active
    failed = {m.id for m in world.uow.store.outbox.values() if m.state is Delivery.FAILED}
    assert failed == {m.id for m in (channel, blocked, *more) if m.chat_id in (-1001, blocked.chat_id)}
    assert await world.outbox.backlog() == len(others) + len(more) - 2
    assert await world.subscriptions.areas(blocked.chat_id) == []  # a blocked chat follows nothing


async def test_recent_sends_count_what_went_out_in_the_window_and_channel_posts_still_sending(world: MemoryWorld) -> None:
    channel, first, *rest = await publish(world)
    await world.outbox.claim(10)
    await world.outbox.record(Outcomes([DeliveryResult(first.id or 0, Delivery.SENT, 5)]))
    world.clock.advance(timedelta(seconds=20))
    assert sorted(await world.outbox.recent_sends(timedelta(seconds=30))) == [(-1001, 0.0), (first.chat_id, 20.0)]
    world.clock.advance(timedelta(seconds=20))
    assert await world.outbox.recent_sends(timedelta(seconds=30)) == [(-1001, 0.0)]


async def test_the_oldest_wait_is_of_the_oldest_message_not_yet_delivered(world: MemoryWorld) -> None:
    assert await world.outbox.oldest_wait() is None and await world.outbox.backlog() == 0
    first = await publish(world)
    world.clock.advance(timedelta(minutes=5))
    await publish(world)
    world.clock.advance(timedelta(minutes=1))
    assert await world.outbox.oldest_wait() == timedelta(minutes=6)
    await world.outbox.claim(len(first))  # sending still waits
    assert await world.outbox.oldest_wait() == timedelta(minutes=6)
    await world.outbox.record(Outcomes([DeliveryResult(m.id or 0, Delivery.SENT, 1) for m in first]))
    assert await world.outbox.oldest_wait() == timedelta(minutes=1)


async def test_a_claim_under_a_lease_epoch_that_is_not_current_gets_nothing(world: MemoryWorld) -> None:
    queued = await publish(world)
    assert await world.outbox.claim(10, epoch=1) == []  # nobody leads
    world.uow.store.leader = (2, world.clock.now() + timedelta(seconds=15))
    assert await world.outbox.claim(10, epoch=1) == []  # deposed
    world.clock.advance(timedelta(seconds=15))
    assert await world.outbox.claim(10, epoch=2) == []  # the lease ran out
    world.uow.store.leader = (2, world.clock.now() + timedelta(seconds=15))
    assert len(await world.outbox.claim(10, epoch=2)) == len(queued)


async def test_the_broadcaster_is_never_given_the_alert_of_a_drill(world: MemoryWorld) -> None:
    queued = await publish(world)
    real = world.uow.store.outbox[queued[0].id or 0].alert_id
    text = {"en": "Agents by the mill", "es": "Agentes junto al molino"}
    await world.training.import_scenarios(
        COORD,
        {
            "scenarios": [
                {
                    "id": "mill",
                    "title": text,
                    "answer": "confirmed",
                    "explanation": text,
                    "reports": [{"activity": "presence", "text": text, "point": [OLD_MILL.lat, OLD_MILL.lon]}],
                }
            ]
        },
    )
    drill = (await world.training.inject_live(COORD, "mill", "en")).incident
    async with world.uow() as uow:  # as if something had written an alert about the drill
        await uow.alerts.add(replace(world.uow.store.alerts[real], id="forged", incident_id=drill.id))
        await uow.outbox.fan_out(
            "forged", ("harbor-view",), TargetKind.SUBSCRIBER, MessageKind.POST, 0, Priority.URGENT, world.clock.now()
        )
        await uow.commit()
    assert set(await world.outbox.alerts([real, "forged", "missing"])) == {real}
