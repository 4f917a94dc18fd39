"""Subscribers: people who asked for verified alerts about some neighborhoods.

Subscription data has no link to reports: a subscriber is a chat, a language and a set of
neighborhoods, nothing else.
"""

from __future__ import annotations

from sereno.verify.audience import Subscriber
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.ports import Clock, UnitOfWorkFactory

#: At most this many neighborhoods per subscriber (keeps fan-out and menus sane).
MAX_AREAS = 12


class SubscriptionService:
    """Subscribe, unsubscribe and list, per chat."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def areas(self, chat_id: int) -> list[str]:
        """The neighborhoods this chat follows (none when it is not a subscriber)."""
        async with self._uow() as uow:
            subscriber = await uow.subscribers.get(chat_id)
            if subscriber is None or not subscriber.active:
                return []
            return await uow.subscribers.areas(chat_id)

    async def subscribe(self, chat_id: int, language: str, neighborhood_ids: list[str]) -> list[str]:
        """Follow these neighborhoods too (reactivating a subscriber who had blocked the bot);
        returns all the neighborhoods followed now. Raises :class:`Refusal` (TOO_MANY_AREAS)
        past MAX_AREAS, and follows none of them then."""
        async with self._uow() as uow:
            await uow.subscribers.save(Subscriber(chat_id, language, True, self._clock.now()))
            current = await uow.subscribers.areas(chat_id)
            new = [n for n in dict.fromkeys(neighborhood_ids) if n not in current]
            if len(current) + len(new) > MAX_AREAS:
                raise Refusal(RefusalReason.TOO_MANY_AREAS, limit=MAX_AREAS)
            for neighborhood_id in new:
                await uow.subscribers.add_area(chat_id, neighborhood_id)
            await uow.commit()
            return [*current, *new]

    async def unsubscribe(self, chat_id: int, neighborhood_id: str | None = None) -> list[str]:
        """Stop following one neighborhood, or all of them (the subscriber is forgotten);
        returns the neighborhoods still followed."""
        async with self._uow() as uow:
            if neighborhood_id is None:
                await uow.subscribers.forget(chat_id)
                remaining: list[str] = []
            else:
                await uow.subscribers.remove_area(chat_id, neighborhood_id)
                remaining = await uow.subscribers.areas(chat_id)
                if not remaining:
                    await uow.subscribers.forget(chat_id)
            await uow.commit()
            return remaining

    async def set_language(self, chat_id: int, language: str) -> None:
        """Alerts to this chat come in `language` from now on (no-op for non-subscribers)."""
        async with self._uow() as uow:
            await uow.subscribers.set_language(chat_id, language)
            await uow.commit()
