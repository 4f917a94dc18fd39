"""Surge mode on the ports: coordinators' overrides (audited), the state per neighborhood,
and the decisions the intake, the desk and the jobs apply (see :mod:`sereno.verify.surge`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sereno.verify.audit import AuditEvent, refused_actor, verifier_actor
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import Incident, IncidentStatus
from sereno.verify.members import Role
from sereno.verify.places import Gazetteer
from sereno.verify.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sereno.verify.surge import (
    EVERYWHERE,
    CoordinatorNotice,
    ReportLimit,
    Review,
    SurgeOverride,
    SurgePolicy,
    SurgeStatus,
    Triage,
    coordinator_notice,
    report_limit,
    review,
    summary_due,
    surge_status,
)
from sereno.verify.trust import Trust, TrustHint

#: Pseudonyms whose trust is read in one query at most.
_TRUST_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SurgePlan:
    """What surge means for one incident: its neighborhood's state (None: no neighborhood),
    how it reaches verifiers, and how coordinators hear of it."""

    status: SurgeStatus | None
    review: Review
    coordinators: CoordinatorNotice
    #: one hint per distinct reporter of the incident
    hints: tuple[TrustHint, ...] = ()
    #: the report that just joined it brought it out of batch review into the queue (its
    #: card goes out now, as for a new incident)
    promoted: bool = False


@dataclass(frozen=True, slots=True)
class SurgeArea:
    """One surging neighborhood in a summary: reports since the last summary, incidents open."""

    status: SurgeStatus
    reports: int
    open_incidents: int


@dataclass(frozen=True, slots=True)
class SurgeSummary:
    """The one message coordinators get per `summary_every` while anything surges."""

    since: datetime
    until: datetime
    areas: tuple[SurgeArea, ...]
    recipients: tuple[int, ...]


class SurgeService:
    """Surge state per neighborhood, and what changes in surge. Each process reuses the
    counts it read for `policy.snapshot_ttl` (the decisions run on every report; the rates
    move slowly); a coordinator's override takes effect at once in the process that set it."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        gazetteer: Gazetteer,
        policy: SurgePolicy | None = None,
        pseudonymize: Callable[[int], str] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._gazetteer = gazetteer
        self.policy = policy or SurgePolicy()
        self._pseudonymize = pseudonymize
        self._snapshot: tuple[datetime, dict[str, SurgeStatus]] | None = None

    async def set(self, by: int, on: bool, neighborhood_id: str | None = None) -> SurgeOverride:
        """`/surge on` or `/surge off` for a neighborhood (None: everywhere), coordinators
        only. On holds until changed; off holds for `policy.off_hold`, then the automatic
        rule applies again."""
        now = self._clock.now()
        area = neighborhood_id or EVERYWHERE
        action = "surge.on" if on else "surge.off"
        async with self._uow() as uow:
            await self._coordinator(uow, by, action, area)
            if area != EVERYWHERE and self._gazetteer.get(area) is None:
                await self._refuse(uow, by, action, area[:64], RefusalReason.UNKNOWN_NEIGHBORHOOD)
            override = SurgeOverride(area, on, by, now, None if on else now + self.policy.off_hold)
            await uow.surges.set_override(override)
            await uow.audit.add(
                AuditEvent(
                    now,
                    verifier_actor(by),
                    action,
                    f"neighborhood:{area}",
                    {"until": override.until.isoformat() if override.until else None},
                )
            )
            await uow.commit()
        self._snapshot = None
        return override

    async def clear(self, by: int, neighborhood_id: str | None = None) -> bool:
        """Back to the automatic rule for a neighborhood (None: the override for everywhere)."""
        area = neighborhood_id or EVERYWHERE
        async with self._uow() as uow:
            await self._coordinator(uow, by, "surge.auto", area)
            cleared = await uow.surges.clear_override(area)
            await uow.audit.add(
                AuditEvent(self._clock.now(), verifier_actor(by), "surge.auto", f"neighborhood:{area}", {"cleared": cleared})
            )
            await uow.commit()
        self._snapshot = None
        return cleared

    async def statuses(self) -> dict[str, SurgeStatus]:
        """The state of every neighborhood (those of the gazetteer and any with reports)."""
        now = self._clock.now()
        if self._snapshot is not None and now - self._snapshot[0] < self.policy.snapshot_ttl:
            return self._snapshot[1]
        policy = self.policy
        async with self._uow() as uow:
            recent = await uow.surges.report_counts(now - policy.window, now)
            baseline = await uow.surges.report_counts(now - policy.window - policy.baseline, now - policy.window)
            overrides = await uow.surges.overrides()
        ids = {nb.id for nb in self._gazetteer.neighborhoods} | {k for k in recent if k is not None}
        found = {nb: surge_status(nb, overrides, recent.get(nb, 0), baseline.get(nb, 0), now, policy) for nb in sorted(ids)}
        self._snapshot = (now, found)
        return found

    async def status(self, neighborhood_id: str | None) -> SurgeStatus | None:
        """One neighborhood's state (None for a report with no neighborhood)."""
        if neighborhood_id is None:
            return None
        return (await self.statuses()).get(neighborhood_id)

    async def report_limit(self, neighborhood_id: str | None, usual: ReportLimit) -> ReportLimit:
        """The per-reporter limit for a report in this neighborhood (tighter in surge)."""
        return report_limit(await self.status(neighborhood_id), usual, self.policy)

    async def plan(self, incident_id: str, joined_by: str | None = None) -> SurgePlan:
        """What surge means for this incident now (after a report joined or opened it): in
        surge, an incident whose few reporters are all new goes to batch review, and
        coordinators hear of it in the next summary instead of a ping. `joined_by`: the
        pseudonym whose report just joined it, to tell whether that report brought it out of
        batch review (a third reporter, or one confirmed before: `promoted`)."""
        async with self._uow() as uow:
            incident = await uow.incidents.get(incident_id)
            reports = await uow.reports.for_incident(incident_id)
            reporters = sorted({r.reporter for r in reports})
            outcomes = await uow.trust.outcomes(reporters, incident_id)
        status = await self.status(incident.neighborhood_id) if incident is not None else None
        hints = tuple(outcomes.get(r, Trust()).hint for r in reporters)
        now = review(status, hints, self.policy)
        promoted = False
        if joined_by is not None and now is Review.QUEUE and sum(r.reporter == joined_by for r in reports) == 1:
            before = [outcomes.get(r, Trust()).hint for r in reporters if r != joined_by]
            promoted = review(status, before, self.policy) is Review.BATCH
        return SurgePlan(status, now, coordinator_notice(status), hints, promoted)

    async def triage(self, incidents: Sequence[Incident]) -> Triage:
        """The desk's :class:`~sereno.verify.desk.Triage` of these open incidents: in a
        surging neighborhood, those with fewer than `policy.corroboration` distinct
        reporters and none confirmed before wait for batch review, and the others weigh
        their distinct reporters. One read for them all (open incidents have no verdict:
        their reporters' trust needs no exclusion); nothing when nothing surges."""
        states = await self.statuses()
        surging = {i.id: s for i in incidents if (s := states.get(i.neighborhood_id or "")) is not None and s.on}
        if not surging:
            return Triage()
        async with self._uow() as uow:
            reporters = await uow.reports.reporters_of(list(surging))
            everyone = sorted({r for found in reporters.values() for r in found})
            outcomes: dict[str, Trust] = {}
            for start in range(0, len(everyone), _TRUST_CHUNK):
                outcomes.update(await uow.trust.outcomes(everyone[start : start + _TRUST_CHUNK]))
        batched = frozenset(
            incident_id
            for incident_id, status in surging.items()
            if review(status, [outcomes.get(r, Trust()).hint for r in reporters.get(incident_id, ())], self.policy)
            is Review.BATCH
        )
        floor = self.policy.corroboration
        weight = {i: max(floor, len(reporters.get(i, ()))) for i in surging if i not in batched}
        return Triage(batched, weight, floor)

    async def surging(self, by: int) -> list[SurgeStatus]:
        """The neighborhoods in surge now, for a coordinator's `/surge` (others are refused)."""
        async with self._uow() as uow:
            await self._coordinator(uow, by, "surge.status", EVERYWHERE)
        return [s for s in (await self.statuses()).values() if s.on]

    async def summary(self) -> SurgeSummary | None:
        """The coordinators' surge summary if one is due (something surges and the last
        went `policy.summary_every` ago or more); of several callers, one gets it. The job
        calls this every minute; the caller sends it to `recipients` (at most once)."""
        now = self._clock.now()
        surging = [s for s in (await self.statuses()).values() if s.on]
        if not surging:
            return None
        async with self._uow() as uow:
            last = await uow.surges.last_summary()
            if not summary_due(last, now, self.policy):
                return None
            since = last or now - self.policy.summary_every
            counts = await uow.surges.report_counts(since, now)
            open_ = Counter(
                i.neighborhood_id for i in await uow.incidents.open_queue() if i.status is IncidentStatus.OPEN and i.drill is None
            )
            if not await uow.surges.claim_summary(last, now):
                return None
            recipients = tuple(v.user_id for v in await uow.verifiers.all() if v.can(Role.COORDINATOR))
            areas = tuple(SurgeArea(s, counts.get(s.neighborhood_id, 0), open_[s.neighborhood_id]) for s in surging)
            await uow.audit.add(
                AuditEvent(now, "system", "surge.summary", "coordinators", {"areas": len(areas), "recipients": len(recipients)})
            )
            await uow.commit()
        return SurgeSummary(since, now, areas, recipients)

    async def _coordinator(self, uow: UnitOfWork, by: int, action: str, subject: str) -> None:
        person = await uow.verifiers.get(by)
        if person is None or not person.can(Role.COORDINATOR):
            await self._refuse(uow, by, action, subject[:64], RefusalReason.NOT_ALLOWED)

    async def _refuse(self, uow: UnitOfWork, by: int, action: str, subject: str, reason: RefusalReason) -> None:
        await uow.rollback()
        actor = await refused_actor(uow, by, self._pseudonymize)
        await uow.audit.add(
            AuditEvent(self._clock.now(), actor, f"refused.{action}", f"neighborhood:{subject}", {"reason": reason.value})
        )
        await uow.commit()
        raise Refusal(reason)
