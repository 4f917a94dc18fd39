"""Turning final verdicts into public messages, and the alert lifecycle.

:class:`Publisher` runs inside the desk's verdict transaction: a confirmed incident becomes
an alert with one outbox message per linked channel (or per channel and language, as
configured) and per subscriber of its areas, a debunked one that spread becomes a
correction for the channels — all committed with the verdict or not at all.
:class:`AlertService` lets coordinators update, clear and flag, and expires alerts; each
change writes its outbox messages in the same transaction too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sereno.verify.alerts import (
    Alert,
    AlertKind,
    AlertPolicy,
    AlertState,
    MessageKind,
    Priority,
    TargetKind,
    UpdateKind,
)
from sereno.verify.audit import AuditEvent, refused_actor, verifier_actor
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import Incident, IncidentStatus, Verdict, agreeing
from sereno.verify.members import Role
from sereno.verify.ports import Clock, UnitOfWork, UnitOfWorkFactory

Adjacency = Callable[[str], Sequence[str]]


class DrillNotPublished(Exception):
    """Something tried to publish a drill incident; nothing was written."""


@dataclass(frozen=True, slots=True)
class Published:
    """The alert a change produced and how many outbox messages it queued."""

    alert: Alert
    queued: int


class Publisher:
    """Writes alerts and their outbox messages in the caller's transaction."""

    def __init__(self, policy: AlertPolicy, adjacency: Adjacency) -> None:
        self.policy = policy
        self._adjacency = adjacency

    def areas(self, neighborhood_id: str | None) -> tuple[str, ...]:
        """The neighborhoods an alert about `neighborhood_id` goes to (its own first)."""
        if neighborhood_id is None:
            return ()
        if self.policy.reaches_adjacent(neighborhood_id):
            return (neighborhood_id, *[n for n in self._adjacency(neighborhood_id) if n != neighborhood_id])
        return (neighborhood_id,)

    async def on_decided(
        self, uow: UnitOfWork, incident: Incident, verdict: Verdict, verifiers: int, now: datetime
    ) -> Published | None:
        """An alert for a confirmed incident; a correction for a debunked one with enough
        reports; nothing otherwise."""
        if verdict is Verdict.CONFIRMED:
            return await self._publish(uow, incident, AlertKind.ALERT, verifiers, now)
        if verdict is Verdict.DEBUNKED and incident.report_count >= self.policy.correction_reports:
            return await self._publish(uow, incident, AlertKind.CORRECTION, verifiers, now)
        return None

    async def correction(self, uow: UnitOfWork, incident: Incident, verifiers: int, now: datetime) -> Published:
        """A correction for a debunked incident a coordinator flagged."""
        return await self._publish(uow, incident, AlertKind.CORRECTION, verifiers, now)

    async def _publish(self, uow: UnitOfWork, incident: Incident, kind: AlertKind, verifiers: int, now: datetime) -> Published:
        if incident.drill is not None:
            raise DrillNotPublished(incident.id)
        alert = Alert(
            id=str(uuid.uuid4()),
            incident_id=incident.id,
            kind=kind,
            neighborhood_id=incident.neighborhood_id,
            areas=self.areas(incident.neighborhood_id),
            activity=incident.activity,
            tier=incident.tier,
            verifiers=verifiers,
            reports=incident.report_count,
            verified_at=now,
            expires_at=now + self.policy.lifetime,
        )
        await uow.alerts.add(alert)
        priority = Priority.URGENT if alert.urgent else Priority.ROUTINE
        queued = await uow.outbox.fan_out(
            alert.id, alert.areas, TargetKind.CHANNEL, MessageKind.POST, 0, priority, now, self.policy.post_languages
        )
        if kind is AlertKind.ALERT:
            queued += await uow.outbox.fan_out(alert.id, alert.areas, TargetKind.SUBSCRIBER, MessageKind.POST, 0, priority, now)
        return Published(alert, queued)

    @staticmethod
    async def lifecycle(uow: UnitOfWork, alert: Alert, kind: MessageKind, now: datetime) -> int:
        """Queue a lifecycle message: channels see each of their posts edited, in its own
        language; subscribers get the update or the all-clear (not the expiry) as a reply to
        the alert they received."""
        queued = await uow.outbox.fan_out_edits(alert.id, kind, alert.revision, now)
        if kind in (MessageKind.UPDATE, MessageKind.CLEAR):
            queued += await uow.outbox.fan_out_replies(alert.id, kind, alert.revision, now)
        return queued


@dataclass(frozen=True, slots=True)
class AlertBoard:
    """What a coordinator sees in /alerts: active alerts, and debunked incidents of the
    last day that have no public correction."""

    active: list[Alert]
    uncorrected: list[Incident]


class AlertService:
    """Coordinators' actions on alerts, and their expiry; every change is audited."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, publisher: Publisher, pseudonymize: Callable[[int], str] | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.publisher = publisher
        self._pseudonymize = pseudonymize

    async def board(self, user_id: int) -> AlertBoard:
        """Active alerts (newest first) and recent debunked incidents without a correction."""
        now = self._clock.now()
        async with self._uow() as uow:
            await self._coordinator(uow, user_id, "alerts.view", "-")
            active = await uow.alerts.active()
            uncorrected = await uow.alerts.uncorrected_debunked(now - timedelta(days=1))
        return AlertBoard(active, uncorrected)

    async def update(self, user_id: int, alert_id: str, update: UpdateKind) -> Published:
        """Post an update or the all-clear on an active alert."""
        now = self._clock.now()
        async with self._uow() as uow:
            await self._coordinator(uow, user_id, f"alerts.{update.value}", alert_id)
            alert = await uow.alerts.get(alert_id)
            if alert is None or alert.kind is not AlertKind.ALERT:
                await self._refuse(uow, user_id, f"alerts.{update.value}", alert_id, RefusalReason.UNKNOWN_ALERT)
            assert alert is not None
            if alert.state is not AlertState.ACTIVE:
                await self._refuse(uow, user_id, f"alerts.{update.value}", alert_id, RefusalReason.NOT_ACTIVE)
            changed = alert.updated(update, now, self.publisher.policy.lifetime)
            await uow.alerts.save(changed)
            kind = MessageKind.CLEAR if update is UpdateKind.ALL_CLEAR else MessageKind.UPDATE
            queued = await self.publisher.lifecycle(uow, changed, kind, now)
            await self._audit(uow, user_id, f"alerts.{update.value}", alert_id, {"queued": queued})
            await uow.commit()
        return Published(changed, queued)

    async def correct(self, user_id: int, incident_id: str) -> Published:
        """Publish a correction for a debunked incident (a coordinator's flag)."""
        now = self._clock.now()
        async with self._uow() as uow:
            await self._coordinator(uow, user_id, "alerts.correct", incident_id)
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                await self._refuse(uow, user_id, "alerts.correct", incident_id[:36], RefusalReason.UNKNOWN_ALERT)
            assert incident is not None
            if incident.drill is not None:
                await self._refuse(uow, user_id, "alerts.correct", incident_id, RefusalReason.DRILL_NOT_PUBLISHED)
            if incident.status is not IncidentStatus.DECIDED or incident.verdict is not Verdict.DEBUNKED:
                await self._refuse(uow, user_id, "alerts.correct", incident_id, RefusalReason.NOT_DEBUNKED)
            if await uow.alerts.for_incident(incident_id, AlertKind.CORRECTION) is not None:
                await self._refuse(uow, user_id, "alerts.correct", incident_id, RefusalReason.ALREADY_CORRECTED)
            verifiers = agreeing(await uow.verdicts.for_incident(incident_id), Verdict.DEBUNKED)
            published = await self.publisher.correction(uow, incident, verifiers, now)
            await self._audit(uow, user_id, "alerts.correct", incident_id, {"queued": published.queued})
            await uow.commit()
        return published

    async def expire_due(self) -> list[Alert]:
        """Mark alerts past their lifetime expired and queue the edits of their channel posts."""
        now = self._clock.now()
        expired = []
        async with self._uow() as uow:
            for alert in await uow.alerts.due(now):
                changed = replace(alert, state=AlertState.EXPIRED, updated_at=now)
                await uow.alerts.save(changed)
                await self.publisher.lifecycle(uow, changed, MessageKind.EXPIRE, now)
                await uow.audit.add(AuditEvent(now, "system", "alerts.expired", alert.id, {}))
                expired.append(changed)
            await uow.commit()
        return expired

    async def _coordinator(self, uow: UnitOfWork, user_id: int, action: str, subject: str) -> None:
        person = await uow.verifiers.get(user_id)
        if person is None or not person.can(Role.COORDINATOR):
            await self._refuse(uow, user_id, action, subject[:36], RefusalReason.ALERTS_NOT_ALLOWED)

    async def _audit(self, uow: UnitOfWork, user_id: int, action: str, subject: str, detail: dict[str, object]) -> None:
        await uow.audit.add(AuditEvent(self._clock.now(), verifier_actor(user_id), action, subject, dict(detail)))

    async def _refuse(self, uow: UnitOfWork, user_id: int, action: str, subject: str, reason: RefusalReason) -> None:
        await uow.rollback()
        actor = await refused_actor(uow, user_id, self._pseudonymize)
        await uow.audit.add(AuditEvent(self._clock.now(), actor, f"refused.{action}", subject, {"reason": reason.value}))
        await uow.commit()
        raise Refusal(reason)
