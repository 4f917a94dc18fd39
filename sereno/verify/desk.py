"""The verification desk: a shared queue, claims with leases, and verdicts under a
two-person rule.

A claim is a lease held by one person, taken by a conditional update in the database, so
two people pressing Claim at the same moment cannot both hold it. Confirmed and debunked
need two distinct verifiers by default (configurable per tier), one vote per person per
incident; disagreement is settled by a coordinator who has not voted on it; nobody decides
an incident that holds a report of their own. Trainees practise on their own training
drills: they may look at the live queue but never claim or decide a live incident (live
drills included, which must look real), so they never block a verifier and never ask a
reporter anything — only a vote that counts asks reporters a question. Drills (see
`sereno.verify.training`) go through the same queue, claims and verdicts, but are never
published: a training drill is its owner's alone and their verdict decides it; a live
drill looks real to everyone but coordinators.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sereno.verify.audit import AuditEvent, refused_actor, verifier_actor
from sereno.verify.drills import DrillDebrief
from sereno.verify.errors import Refusal, RefusalReason
from sereno.verify.incidents import (
    TIER_ORDER,
    DrillKind,
    FollowUp,
    Incident,
    IncidentStatus,
    MergeSuggestion,
    ReporterToTell,
    Verdict,
    VerdictRecord,
    agreeing,
)
from sereno.verify.members import Role, Verifier
from sereno.verify.model import Media, Report, Tier
from sereno.verify.notices import CardNotice, CardReason, Recipient, holding, recipients
from sereno.verify.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sereno.verify.surge import Triage

FINAL = frozenset({Verdict.CONFIRMED, Verdict.DEBUNKED})


@dataclass(frozen=True, slots=True)
class DeskPolicy:
    """Leases and quorum, configurable per deployment."""

    lease: timedelta = timedelta(minutes=10)
    urgent_lease: timedelta = timedelta(minutes=5)
    quorum: Mapping[Tier, int] = field(default_factory=lambda: {Tier.URGENT: 2, Tier.HIGH: 2, Tier.ROUTINE: 2})
    coordinator_alone: frozenset[Tier] = frozenset({Tier.URGENT})
    #: An outcome still owed to a reporter this long after it was claimed (its teller died
    #: or failed) is taken over by the sweep; shorter than this, the teller may be at work.
    tell_grace: timedelta = timedelta(seconds=60)
    #: Unclaimed this long: everyone on duty is pinged; twice as long: coordinators too.
    ping_after: Mapping[Tier, timedelta] = field(
        default_factory=lambda: {
            Tier.URGENT: timedelta(minutes=2),
            Tier.HIGH: timedelta(minutes=5),
            Tier.ROUTINE: timedelta(minutes=15),
        }
    )

    def lease_for(self, tier: Tier) -> timedelta:
        return self.urgent_lease if tier is Tier.URGENT else self.lease


class OnDecided(Protocol):
    """The desk's hook for a live incident (not a drill) that just got its final verdict,
    called in the verdict's transaction with how many verifiers agreed on it: whatever it
    writes is committed with the verdict or not at all. The composition root wires
    `sereno.verify.publishing.Publisher.on_decided` (the alert or correction, and its
    outbox messages)."""

    async def __call__(
        self, uow: UnitOfWork, incident: Incident, verdict: Verdict, verifiers: int, now: datetime, /
    ) -> object: ...


class OnDrillDecided(Protocol):
    """The desk's hook for a drill that just got its final verdict, called in the verdict's
    transaction with every verdict given on it; the debrief it returns goes back in the
    :class:`VerdictResult`. The composition root wires
    `sereno.verify.training.TrainingService.on_decided` (grading, certification proposals)."""

    async def __call__(
        self, uow: UnitOfWork, incident: Incident, verdict: Verdict, verdicts: tuple[VerdictRecord, ...], now: datetime, /
    ) -> DrillDebrief | None: ...


class BatchReview(Protocol):
    """Which open incidents wait for batch review now (surge mode; the composition root
    wires `sereno.verify.surge_service.SurgeService`, which reads them all at once). The
    desk lists them apart, below the usual queue, and pings nobody about them."""

    async def triage(self, incidents: Sequence[Incident], /) -> Triage: ...


@dataclass(frozen=True, slots=True)
class Queue:
    """The open incidents of the live queue: those reviewed as usual, and those grouped for
    batch review (surge, few new reporters); each most urgent tier first, then oldest."""

    usual: list[Incident]
    batch: list[Incident]


class Outcome(StrEnum):
    """What a verdict did to the incident."""

    RECORDED = "recorded"  # waits for a second verifier
    DECIDED = "decided"  # final: confirmed, debunked or unverifiable
    ESCALATED = "escalated"  # verifiers disagree: coordinators decide
    NEEDS_INFO = "needs_info"  # the reporters are asked a follow-up question


@dataclass(frozen=True, slots=True)
class IncidentView:
    """Everything a verifier sees on a card, with the merge suggestion if one is open."""

    incident: Incident
    reports: list[Report]
    verdicts: tuple[VerdictRecord, ...]
    follow_ups: list[FollowUp]
    suggestion: MergeSuggestion | None = None
    #: Whether the viewer may claim it (a trainee only claims their own training drills).
    claimable: bool = True


@dataclass(frozen=True, slots=True)
class VerdictResult:
    """The incident after a verdict, what happened, and whom to tell: every reporter of a
    decided incident, or the reporters a follow-up question is for (then `DeskService.told`;
    whatever is not told in time is claimed again by `DeskService.claim_owed`); when the
    verdicts disagree, every coordinator, with the card (`cards`); for a decided drill, its
    debrief (which says whom it is for)."""

    incident: Incident
    outcome: Outcome
    verdicts: tuple[VerdictRecord, ...]
    tell: tuple[ReporterToTell, ...] = ()
    drill: DrillDebrief | None = None
    cards: tuple[CardNotice, ...] = ()


class DeskGuard:
    """Role checks, audit records and audited refusals shared by the desk's services (they
    set `_clock` and `_pseudonymize`)."""

    _clock: Clock
    _pseudonymize: Callable[[int], str] | None

    async def _member(self, uow: UnitOfWork, user_id: int, minimum: Role, action: str, subject: str) -> Verifier:
        person = await uow.verifiers.get(user_id)
        if person is None or not person.can(minimum):
            await self._refuse(uow, user_id, action, subject, RefusalReason.NOT_ALLOWED)
        assert person is not None
        return person

    async def _audit(self, uow: UnitOfWork, user_id: int | None, action: str, subject: str, detail: dict[str, object]) -> None:
        await uow.audit.add(AuditEvent(self._clock.now(), verifier_actor(user_id), action, subject, dict(detail)))

    async def _refuse(self, uow: UnitOfWork, user_id: int, action: str, subject: str, reason: RefusalReason) -> None:
        """Record the refusal in its own transaction (nothing else of this one is kept)."""
        await uow.rollback()
        actor = await refused_actor(uow, user_id, self._pseudonymize)
        await uow.audit.add(AuditEvent(self._clock.now(), actor, f"refused.{action}", subject, {"reason": reason.value}))
        await uow.commit()
        raise Refusal(reason)


class DeskService(DeskGuard):
    """Queue, claims and verdicts; every action and refusal is audited. What a final verdict
    sets off beyond the desk (publishing, grading a drill) is its decision hooks' work:
    without `on_decided` nothing is published, without `on_drill_decided` no drill is graded."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        policy: DeskPolicy | None = None,
        pseudonymize: Callable[[int], str] | None = None,
        *,
        on_decided: OnDecided | None = None,
        on_drill_decided: OnDrillDecided | None = None,
        batch: BatchReview | None = None,
    ) -> None:
        """`batch`: which incidents wait for batch review (without it, none do)."""
        self._uow = uow
        self._batch = batch
        self._on_drill_decided = on_drill_decided
        self._pseudonymize = pseudonymize
        self._clock = clock
        self.policy = policy or DeskPolicy()
        self._on_decided = on_decided

    async def queue(self, user_id: int) -> list[Incident]:
        """Open incidents of the live queue (live drills included, training drills not), most
        urgent tier first, then oldest first; those waiting for batch review after all the
        others."""
        queue = await self.queues(user_id)
        return queue.usual + queue.batch

    async def queues(self, user_id: int) -> Queue:
        """The live queue, the incidents reviewed as usual apart from those grouped for
        batch review (see :meth:`queue`)."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.TRAINEE, "queue", "queue")
            open_ = [i for i in await uow.incidents.open_queue() if i.drill is not DrillKind.TRAINING]
        open_.sort(key=lambda i: (TIER_ORDER.index(i.tier), i.first_seen_at))
        triage = await self._batch.triage(open_) if self._batch is not None and open_ else Triage()
        usual = [i for i in open_ if i.id not in triage.batched]
        if triage.weight:  # in surge, corroboration outranks what a report claims
            usual.sort(key=lambda i: -triage.weight.get(i.id, triage.floor))  # stable: then tier, then oldest
        return Queue(usual, [i for i in open_ if i.id in triage.batched])

    async def batch(self, user_id: int) -> list[Incident]:
        """The incidents grouped for batch review (surge, few new reporters), most urgent
        tier first, then oldest first."""
        return (await self.queues(user_id)).batch

    async def claim(self, user_id: int, incident_id: str) -> Incident:
        """Take the incident's lease (5 min when urgent, else 10). Exactly one of several
        simultaneous claims wins; the others are refused with TAKEN. Trainees claim only
        their own training drills. Someone who already voted on the incident cannot claim it
        again (the second look, and the settling of a disagreement, are another person's)."""
        now = self._clock.now()
        async with self._uow() as uow:
            person = await self._member(uow, user_id, Role.TRAINEE, "claim", incident_id)
            incident = await self._open_incident(uow, user_id, incident_id, "claim")
            await self._own_training(uow, user_id, incident, "claim")
            await self._trainees_on_drills(uow, person, incident, "claim")
            if await uow.reports.incident_has_reporter(incident_id, person.pseudonym):
                await self._refuse(uow, user_id, "claim", incident_id, RefusalReason.OWN_REPORT)
            if any(v.verifier_id == user_id for v in await uow.verdicts.for_incident(incident_id)):
                await self._refuse(uow, user_id, "claim", incident_id, RefusalReason.ALREADY_VOTED)
            until = now + self.policy.lease_for(incident.tier)
            if not await uow.incidents.take_lease(incident_id, user_id, now, until):
                await self._refuse(uow, user_id, "claim", incident_id, RefusalReason.TAKEN)
            await self._audit(uow, user_id, "claim", incident_id, {"until": until.isoformat()})
            claimed = await uow.incidents.get(incident_id)
            await uow.commit()
        assert claimed is not None
        return claimed

    async def require_holder(self, user_id: int, incident_id: str) -> Incident:
        """The incident, if `user_id` holds its lease now (before asking them for a reason);
        otherwise the refusal is audited."""
        now = self._clock.now()
        async with self._uow() as uow:
            person = await self._member(uow, user_id, Role.TRAINEE, "verdict", incident_id)
            incident = await self._open_incident(uow, user_id, incident_id, "verdict")
            await self._trainees_on_drills(uow, person, incident, "verdict")
            if incident.claimed_by != user_id:
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.NOT_HOLDER)
            if incident.lease_until is None or incident.lease_until <= now:
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.LEASE_EXPIRED)
            return incident

    async def merge(self, user_id: int, incident_id: str) -> Incident:
        """Fold the incident into the one it was suggested to duplicate (verifiers and up);
        returns the incident that now holds every report."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.VERIFIER, "merge", incident_id)
            await self._open_incident(uow, user_id, incident_id, "merge")
            suggestion = await uow.merges.open_for(incident_id)
            if suggestion is None:
                await self._refuse(uow, user_id, "merge", incident_id, RefusalReason.UNKNOWN_INCIDENT)
            assert suggestion is not None
            await self._open_incident(uow, user_id, suggestion.other_incident_id, "merge")
            await uow.incidents.merge_into(incident_id, suggestion.other_incident_id)
            await uow.merges.resolve(incident_id, "merged")
            await self._audit(uow, user_id, "merge", incident_id, {"into": suggestion.other_incident_id})
            target = await uow.incidents.get(suggestion.other_incident_id)
            await uow.commit()
        assert target is not None
        return target

    async def keep_separate(self, user_id: int, incident_id: str) -> None:
        """Dismiss the incident's merge suggestion (verifiers and up)."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.VERIFIER, "keep_separate", incident_id)
            if await uow.merges.open_for(incident_id) is None:
                await self._refuse(uow, user_id, "keep_separate", incident_id, RefusalReason.UNKNOWN_INCIDENT)
            await uow.merges.resolve(incident_id, "separate")
            await self._audit(uow, user_id, "keep_separate", incident_id, {})
            await uow.commit()

    async def release(self, user_id: int, incident_id: str) -> None:
        """Give the lease back (only its holder can)."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.TRAINEE, "release", incident_id)
            if not await uow.incidents.drop_lease(incident_id, holder=user_id):
                await self._refuse(uow, user_id, "release", incident_id, RefusalReason.NOT_HOLDER)
            await self._audit(uow, user_id, "release", incident_id, {})
            await uow.commit()

    async def expire_leases(self) -> list[tuple[str, int]]:
        """Return expired leases to the queue; `(incident id, former holder)` for each."""
        now = self._clock.now()
        async with self._uow() as uow:
            expired = await uow.incidents.expired_leases(now)
            returned = []
            for incident_id, holder in expired:
                if await uow.incidents.drop_lease(incident_id, holder=holder, expired_before=now):
                    await uow.audit.add(AuditEvent(now, verifier_actor(holder), "lease.expired", incident_id))
                    returned.append((incident_id, holder))
            await uow.commit()
        return returned

    async def decide(
        self, user_id: int, incident_id: str, verdict: Verdict, reason: str, *, on_site: bool = False
    ) -> VerdictResult:
        """Record a verdict by the lease holder and apply the quorum rules. One vote per
        person per incident (the database holds to it too): a second one — the same press
        sent twice at once — is refused with ALREADY_VOTED and changes nothing. With
        `on_site`, the verdict is a dispatched field verifier's report from the scene (see
        `sereno.verify.dispatch_service`): the dispatch stands in for the lease, every other
        rule holds."""
        now = self._clock.now()
        async with self._uow() as uow:
            person = await self._member(uow, user_id, Role.TRAINEE, "verdict", incident_id)
            incident = await self._open_incident(uow, user_id, incident_id, "verdict")
            await self._trainees_on_drills(uow, person, incident, "verdict")
            earlier = await uow.verdicts.for_incident(incident_id)
            if any(v.verifier_id == user_id for v in earlier):
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.ALREADY_VOTED)
            if not on_site and incident.claimed_by != user_id:
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.NOT_HOLDER)
            if not on_site and (incident.lease_until is None or incident.lease_until <= now):
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.LEASE_EXPIRED)
            if incident.drill is DrillKind.TRAINING and verdict is Verdict.NEEDS_INFO:
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.DRILL_QUESTION)
            if await uow.reports.incident_has_reporter(incident_id, person.pseudonym):
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.OWN_REPORT)
            counts = person.can(Role.VERIFIER)
            record = VerdictRecord(incident_id, user_id, verdict, reason.strip()[:500], now, counts)
            if not await uow.verdicts.add(record):  # the same person's vote landed a moment ago
                await self._refuse(uow, user_id, "verdict", incident_id, RefusalReason.ALREADY_VOTED)
            verdicts = (*earlier, record)
            outcome, final = self._judge(incident, person, verdicts)
            tell: tuple[ReporterToTell, ...] = ()
            settle: tuple[Recipient, ...] = ()
            debrief = None
            if outcome is Outcome.DECIDED:
                assert final is not None
                await uow.incidents.decide(incident_id, final, now)
                if incident.drill is not None:
                    if self._on_drill_decided is not None:
                        debrief = await self._on_drill_decided(uow, incident, final, verdicts, now)
                elif self._on_decided is not None:
                    await self._on_decided(uow, incident, final, agreeing(verdicts, final), now)
                tell = tuple(replace(r, verdict=final) for r in await uow.contacts.for_incident(incident_id))
            elif outcome is Outcome.NEEDS_INFO:
                await uow.incidents.drop_lease(incident_id, holder=user_id)
                tell = tuple(await self._ask(uow, user_id, incident_id, record.reason, now))
            else:
                await uow.incidents.drop_lease(incident_id, holder=user_id)
                if outcome is Outcome.ESCALATED:
                    await uow.incidents.escalate(incident_id)
                    settle = holding(await uow.verifiers.all(), Role.COORDINATOR)
            await uow.owed.add(tell, now)  # claimed by the caller, who tells them now
            await self._audit(uow, user_id, f"verdict.{verdict.value}", incident_id, {"counts": counts, "outcome": outcome.value})
            updated = await uow.incidents.get(incident_id)
            await uow.commit()
        assert updated is not None
        cards = (CardNotice(updated, CardReason.DISAGREEMENT, settle),) if outcome is Outcome.ESCALATED else ()
        return VerdictResult(updated, outcome, verdicts, tell, debrief, cards)

    async def _ask(self, uow: UnitOfWork, user_id: int, incident_id: str, question: str, now: datetime) -> list[ReporterToTell]:
        asked = []
        for reporter in await uow.contacts.for_incident(incident_id):
            follow_up = FollowUp(str(uuid.uuid4()), reporter.report_id, question, user_id, now)
            await uow.follow_ups.add(follow_up)
            asked.append(replace(reporter, follow_up_id=follow_up.id, question=question))
        return asked

    async def told(self, reporters: Sequence[ReporterToTell]) -> None:
        """These messages were delivered (or can never be: the reporter blocked the bot):
        they are no longer owed, and a reporter told the outcome is forgotten (the contact
        is deleted; a question keeps it, for the outcome to come)."""
        async with self._uow() as uow:
            await uow.owed.delete([r.key for r in reporters])
            await uow.contacts.delete([r.report_id for r in reporters if r.follow_up_id is None])
            await uow.commit()

    async def claim_owed(self, limit: int = 100) -> list[ReporterToTell]:
        """Outcomes and questions still owed after `policy.tell_grace` (whoever was telling
        them died or could not reach the reporter), oldest first, each claimed for the caller
        by a conditional update: of several sweeps at once, one takes each. The caller tells
        them, then calls `told`; what it does not tell is claimed again after the grace."""
        now = self._clock.now()
        async with self._uow() as uow:
            claimed = await uow.owed.claim(now - self.policy.tell_grace, now, limit)
            await uow.commit()
        return claimed

    async def follow_ups(self, user_id: int, incident_id: str) -> list[FollowUp]:
        """The questions asked about an incident and the answers (for the desk)."""
        return (await self.view(user_id, incident_id)).follow_ups

    async def view(self, user_id: int, incident_id: str, action: str = "view") -> IncidentView:
        """The incident with its reports, verdicts and follow-ups, for a desk member who may
        see it (a refusal is audited as `refused.<action>`)."""
        async with self._uow() as uow:
            person = await self._member(uow, user_id, Role.TRAINEE, action, incident_id[:36])
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                await self._refuse(uow, user_id, action, incident_id[:36], RefusalReason.UNKNOWN_INCIDENT)
            assert incident is not None
            await self._own_training(uow, user_id, incident, action)
            claimable = incident.drill is DrillKind.TRAINING or person.can(Role.VERIFIER)
            if incident.drill is DrillKind.LIVE and not person.can(Role.COORDINATOR):
                incident = replace(incident, drill=None)  # a live drill looks real to the desk
            return IncidentView(
                incident,
                await uow.reports.for_incident(incident_id),
                await uow.verdicts.for_incident(incident_id),
                await uow.follow_ups.for_incident(incident_id),
                await uow.merges.open_for(incident_id),
                claimable,
            )

    async def photos(self, user_id: int, incident_id: str) -> list[Media]:
        """The photos of the incident's reports (already stripped of metadata), for a desk
        member who may see the incident."""
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.TRAINEE, "photos", incident_id[:36])
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                await self._refuse(uow, user_id, "photos", incident_id[:36], RefusalReason.UNKNOWN_INCIDENT)
            assert incident is not None
            await self._own_training(uow, user_id, incident, "photos")
            return await uow.media.for_incident(incident_id)

    async def unclaimed_pings(self) -> list[CardNotice]:
        """The cards of open incidents nobody claimed in time, each with whom to ping now:
        every verifier (and up) on duty after `ping_after`, whatever their areas;
        coordinators (on duty or not) after twice that. Each level is sent once (recorded
        with a conditional update). Incidents waiting for batch review are not pinged (they
        are once they are not any more, e.g. after the surge); in a surging neighborhood,
        coordinators are not pinged either: their surge summary counts what is open."""
        now = self._clock.now()
        triage = Triage()
        if self._batch is not None:  # read before the write transaction
            async with self._uow() as uow:
                waiting = [i for i in await uow.incidents.open_queue() if self._ping_level(i, now) > i.pinged]
            triage = await self._batch.triage(waiting) if waiting else triage
        async with self._uow() as uow:
            people = await uow.verifiers.all()
            due = []
            for incident in await uow.incidents.open_queue():
                if incident.claimed_by is not None or incident.drill is DrillKind.TRAINING or incident.id in triage.batched:
                    continue
                level = self._ping_level(incident, now)
                if incident.id in triage.weight:  # in surge: the summary, not a ping, for coordinators
                    level = min(level, 1)
                if level and await uow.incidents.raise_ping(incident.id, level):
                    if level == 1:
                        targets = [v for v in people if v.on_duty and v.can(Role.VERIFIER)]
                    else:
                        targets = [v for v in people if v.can(Role.COORDINATOR)]
                    await uow.audit.add(AuditEvent(now, "system", f"ping.{level}", incident.id, {"people": len(targets)}))
                    due.append(CardNotice(incident, CardReason.UNCLAIMED, recipients(targets)))
            await uow.commit()
        return due

    def _ping_level(self, incident: Incident, now: datetime) -> int:
        """Whom an unclaimed incident calls for by now: 0 nobody yet, 1 everyone on duty,
        2 coordinators too."""
        waited = now - incident.first_seen_at
        after = self.policy.ping_after.get(incident.tier, timedelta(minutes=5))
        return 2 if waited >= 2 * after else 1 if waited >= after else 0

    def _judge(self, incident: Incident, person: Verifier, verdicts: tuple[VerdictRecord, ...]) -> tuple[Outcome, Verdict | None]:
        latest = verdicts[-1]
        if incident.drill is DrillKind.TRAINING:
            return Outcome.DECIDED, latest.verdict  # practice: one's own verdict is graded at once
        if not latest.counts:
            return Outcome.RECORDED, None  # only a vote that counts may ask reporters anything
        if latest.verdict is Verdict.NEEDS_INFO:
            return Outcome.NEEDS_INFO, None
        counting = [v for v in verdicts if v.counts and v.verdict in FINAL]
        if latest.verdict is Verdict.UNVERIFIABLE:
            return (Outcome.ESCALATED, None) if counting else (Outcome.DECIDED, Verdict.UNVERIFIABLE)
        if len({v.verdict for v in counting}) > 1:
            if person.can(Role.COORDINATOR) and incident.escalated:
                # a coordinator settles the disagreement (one who has not voted on it: a
                # person votes once, so the earlier votes are all someone else's)
                return Outcome.DECIDED, latest.verdict
            return Outcome.ESCALATED, None
        if person.can(Role.COORDINATOR) and incident.tier in self.policy.coordinator_alone:
            return Outcome.DECIDED, latest.verdict
        voters = {v.verifier_id for v in counting if v.verdict is latest.verdict}
        if len(voters) >= self.policy.quorum.get(incident.tier, 2):
            return Outcome.DECIDED, latest.verdict
        return Outcome.RECORDED, None

    async def _trainees_on_drills(self, uow: UnitOfWork, person: Verifier, incident: Incident, action: str) -> None:
        """Trainees practise on their training drills: a live incident (a live drill too, as
        it must look real) is claimed and decided by verifiers and up."""
        if incident.drill is not DrillKind.TRAINING and not person.can(Role.VERIFIER):
            await self._refuse(uow, person.user_id, action, incident.id, RefusalReason.TRAINEE_LIVE)

    async def _own_training(self, uow: UnitOfWork, user_id: int, incident: Incident, action: str) -> None:
        """A training drill exists only for the person practising it."""
        if incident.drill is DrillKind.TRAINING:
            run = await uow.drills.run_for_incident(incident.id)
            if run is None or run.person != user_id:
                await self._refuse(uow, user_id, action, incident.id, RefusalReason.UNKNOWN_INCIDENT)

    async def _open_incident(self, uow: UnitOfWork, user_id: int, incident_id: str, action: str) -> Incident:
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            await self._refuse(uow, user_id, action, incident_id[:36], RefusalReason.UNKNOWN_INCIDENT)
        assert incident is not None
        if incident.status is not IncidentStatus.OPEN:
            await self._refuse(uow, user_id, action, incident_id, RefusalReason.DECIDED)
        return incident
