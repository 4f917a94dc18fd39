"""The broadcaster's side of the outbox: claim due messages, record what became of them.

Claiming marks messages *sending* in its own transaction; results are recorded in batches.
A process that dies leaves its claimed messages *sending*; :meth:`OutboxService.recover`
returns them to *pending* when a broadcaster starts, so a message is never lost — it may
be sent twice only if its send was in flight at the crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sereno.verify.alerts import Alert, DeliveryResult, OutboxMessage
from sereno.verify.audience import ChannelLink
from sereno.verify.ports import Clock, UnitOfWorkFactory


@dataclass(slots=True)
class Outcomes:
    """A batch of results, with the chats found unreachable while sending it."""

    results: list[DeliveryResult] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)  # subscribers who blocked the bot or are gone
    broken: dict[int, str] = field(default_factory=dict)  # channel chat id → what is wrong

    def __bool__(self) -> bool:
        return bool(self.results or self.blocked or self.broken)


class OutboxService:
    """Claims and records outbox messages for the one broadcaster."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def recover(self) -> int:
        """Return messages left *sending* by a dead process to *pending*; how many."""
        async with self._uow() as uow:
            count = await uow.outbox.recover()
            await uow.commit()
        return count

    async def claim(self, limit: int, epoch: int | None = None) -> list[OutboxMessage]:
        """Up to `limit` due messages, most urgent first, now marked *sending* — none if
        `epoch` is given and the leader lease no longer has it (a deposed leader's claim)."""
        async with self._uow() as uow:
            claimed = await uow.outbox.claim(limit, self._clock.now(), epoch)
            await uow.commit()
        return claimed

    async def recent_sends(self, window: timedelta) -> list[tuple[int, float]]:
        """(chat id, seconds ago) of each message sent within `window` — by any process:
        a new leader counts them against Telegram's limits. A message to a group or
        channel left *sending* (its sender died or was cut off) counts as sent just now."""
        now = self._clock.now()
        async with self._uow() as uow:
            sends = await uow.outbox.recent_sends(now - window)
        return [(chat_id, 0.0 if at is None else max(0.0, (now - at).total_seconds())) for chat_id, at in sends]

    async def record(self, outcomes: Outcomes) -> list[ChannelLink]:
        """Store the results; deactivate subscribers that blocked the bot and flag broken
        channels (their pending messages fail too). Returns the links newly flagged."""
        now = self._clock.now()
        flagged: list[ChannelLink] = []
        async with self._uow() as uow:
            await uow.outbox.finish(outcomes.results, now)
            for chat_id in outcomes.blocked:
                await uow.subscribers.deactivate(chat_id)
                await uow.outbox.drop_pending(chat_id, "chat unreachable", now)
            for chat_id, problem in outcomes.broken.items():
                flagged += await uow.channels.flag(chat_id, problem)
                await uow.outbox.drop_pending(chat_id, problem, now)
            await uow.commit()
        return flagged

    async def post_of(self, alert_id: str, chat_id: int, language: str) -> OutboxMessage | None:
        """The alert's post to this chat in this language (the message a lifecycle message
        in that language edits or replies to)."""
        async with self._uow() as uow:
            return await uow.outbox.post_of(alert_id, chat_id, language)

    async def alerts(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        """The alerts these messages are about — never one about a drill incident, so the
        broadcaster fails any message about a drill instead of sending it."""
        found = {}
        async with self._uow() as uow:
            for alert_id in alert_ids:
                alert = await uow.alerts.get(alert_id)
                incident = await uow.incidents.get(alert.incident_id) if alert is not None else None
                if alert is not None and (incident is None or incident.drill is None):
                    found[alert_id] = alert
        return found

    async def backlog(self) -> int:
        async with self._uow() as uow:
            return await uow.outbox.backlog()

    async def oldest_wait(self) -> timedelta | None:
        """How long the oldest message not yet delivered (pending or sending) has waited since
        it was written; None when nothing waits. The same figure on every replica."""
        async with self._uow() as uow:
            oldest = await uow.outbox.oldest_waiting()
        return None if oldest is None else max(self._clock.now() - oldest, timedelta(0))
