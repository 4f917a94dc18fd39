"""Subscriptions on the in-memory unit of work: following neighborhoods, the limit, leaving,
languages — and what each does to the alerts a chat is sent."""

from __future__ import annotations

import pytest

from sereno.verify.alerts import TargetKind
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import Verdict
from sereno.verify.outbox import Outcomes
from sereno.verify.places import Neighborhood
from sereno.verify.subscriptions import MAX_AREAS
from tests.unit.memory_world import MemoryWorld

SUBSCRIBER = 7


@pytest.fixture
async def world() -> MemoryWorld:
    return await MemoryWorld.create()


async def sent_to(world: MemoryWorld) -> list[tuple[int, str]]:
    """Confirm a new incident in harbor-view: (chat, language) of each subscriber it queues."""
    incident = await world.incident()
    await world.decide(incident, Verdict.CONFIRMED)
    alert = await world.alert_for(incident)
    assert alert is not None
    return [(m.chat_id, m.language) for m in await world.messages(alert.id) if m.target is TargetKind.SUBSCRIBER]


async def test_subscribing_adds_neighborhoods_once_and_returns_all_followed(world: MemoryWorld) -> None:
    assert await world.subscriptions.areas(SUBSCRIBER) == []
    assert await world.subscriptions.subscribe(SUBSCRIBER, "es", ["riverside", "eastfield", "riverside"]) == [
        "riverside",
        "eastfield",
    ]
    assert await world.subscriptions.subscribe(SUBSCRIBER, "es", ["eastfield", "old-mill"]) == [
        "eastfield",
        "riverside",
        "old-mill",
    ]
    assert await world.subscriptions.areas(SUBSCRIBER) == ["eastfield", "old-mill", "riverside"]


async def test_a_subscriber_follows_at_most_the_limit_and_a_refused_subscription_changes_nothing() -> None:
    world = await MemoryWorld.create()
    many = [f"area-{n:02}" for n in range(MAX_AREAS + 1)]
    async with world.uow() as uow:  # a deployment with more neighborhoods than one may follow
        await uow.neighborhoods.replace_all([*world.gazetteer.neighborhoods, *(Neighborhood(n, n) for n in many)])
        await uow.commit()
    assert len(await world.subscriptions.subscribe(SUBSCRIBER, "en", many[:MAX_AREAS])) == MAX_AREAS
    with pytest.raises(Refusal) as refused:
        await world.subscriptions.subscribe(SUBSCRIBER, "es", many[MAX_AREAS:])
    assert (refused.value.reason, refused.value.limit) == (RefusalReason.TOO_MANY_AREAS, MAX_AREAS)
    assert await world.subscriptions.areas(SUBSCRIBER) == many[:MAX_AREAS]
    assert world.uow.store.subscribers[SUBSCRIBER].language == "en"  # the refused call's language was not kept


async def test_unsubscribe_stops_deliveries(world: MemoryWorld) -> None:
    await world.subscriptions.subscribe(SUBSCRIBER, "en", ["harbor-view", "old-mill"])
    await world.subscriptions.subscribe(8, "en", ["harbor-view"])
    assert await sent_to(world) == [(SUBSCRIBER, "en"), (8, "en")]
    assert await world.subscriptions.unsubscribe(SUBSCRIBER, "harbor-view") == ["old-mill"]
    assert await sent_to(world) == [(8, "en")]
    assert await world.subscriptions.unsubscribe(8) == []
    assert await sent_to(world) == []
    assert 8 not in world.uow.store.subscribers  # leaving everything forgets the chat


async def test_leaving_the_last_neighborhood_forgets_the_subscriber(world: MemoryWorld) -> None:
    await world.subscriptions.subscribe(SUBSCRIBER, "en", ["riverside"])
    assert await world.subscriptions.unsubscribe(SUBSCRIBER, "riverside") == []
    assert SUBSCRIBER not in world.uow.store.subscribers and world.uow.store.subscriptions == []
    assert await world.subscriptions.unsubscribe(SUBSCRIBER) == []  # nothing left to leave


async def test_alerts_come_in_the_language_chosen_last_and_a_non_subscriber_is_not_made_one(world: MemoryWorld) -> None:
    await world.subscriptions.subscribe(SUBSCRIBER, "en", ["harbor-view"])
    await world.subscriptions.set_language(SUBSCRIBER, "ht")
    assert await sent_to(world) == [(SUBSCRIBER, "ht")]
    await world.subscriptions.set_language(99, "es")
    assert 99 not in world.uow.store.subscribers


async def test_a_chat_that_blocked_the_bot_gets_nothing_until_it_subscribes_again(world: MemoryWorld) -> None:
    await world.subscriptions.subscribe(SUBSCRIBER, "en", ["harbor-view"])
    since = world.uow.store.subscribers[SUBSCRIBER].since
    await world.outbox.record(Outcomes(blocked={SUBSCRIBER}))
    assert await world.subscriptions.areas(SUBSCRIBER) == []
    assert await sent_to(world) == []
    assert await world.subscriptions.subscribe(SUBSCRIBER, "es", []) == ["harbor-view"]  # its areas were kept
    assert await sent_to(world) == [(SUBSCRIBER, "es")]
    assert world.uow.store.subscribers[SUBSCRIBER].since == since
