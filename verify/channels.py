"""Neighborhood channels: Telegram channels or groups where a neighborhood's alerts are posted.

Only admins link them; the bot layer checks first that the bot may post there. A link the
broadcaster finds broken (chat gone, rights removed) is flagged for admins, not dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from verify.audit import AuditEvent, refused_actor, verifier_actor
from verify.ports import Clock, UnitOfWorkFactory
from verify.roster import Refusal, Refused, Role


@dataclass(frozen=True, slots=True)
class ChannelLink:
    """A neighborhood's channel. `problem` is set when the broadcaster could not post."""

    neighborhood_id: str
    chat_id: int
    title: str
    language: str
    linked_at: datetime
    problem: str | None = None


class ChannelService:
    """Links neighborhood channels (audited; admins only)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, pseudonymize: Callable[[int], str] | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._pseudonymize = pseudonymize

    async def link(self, by: int | None, neighborhood_id: str, chat_id: int, title: str,
                   language: str) -> ChannelLink:
        """Link a channel to a neighborhood (`by` None: the command line). Relinking clears
        a flagged problem. Raises Refused unless `by` is an admin."""
        now = self._clock.now()
        async with self._uow() as uow:
            if by is not None:
                person = await uow.verifiers.get(by)
                if person is None or not person.can(Role.ADMIN):
                    await uow.audit.add(AuditEvent(now, await refused_actor(uow, by, self._pseudonymize), "refused.channel.link",
                                                   Refusal.NOT_ALLOWED.value, {"chat": chat_id}))
                    await uow.commit()
                    raise Refused(Refusal.NOT_ALLOWED)
            link = ChannelLink(neighborhood_id, chat_id, title[:200], language, now)
            await uow.channels.save(link)
            await uow.audit.add(AuditEvent(now, verifier_actor(by), "channel.link", neighborhood_id,
                                           {"chat": chat_id}))
            await uow.commit()
        return link
