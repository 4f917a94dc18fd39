"""Dispatch on the ports: who is asked, role checks on the server, the audit trail, the
notices owed, and the views that keep who was dispatched to coordinators.

Who is asked (nearest first, see :func:`sereno.verify.dispatch.rank_candidates`): desk members
(trainees and up) who opted in as field verifiers and are on duty, except

- the dispatcher (they asked for someone else's eyes; a second, independent person is what
  the two-person rule wants),
- anyone already asked about this incident (whatever they answered), or who already voted
  on it, or whose own report is in it (their verdict would not count),
- anyone being asked, or in the field, for another dispatch right now.

The list is drawn again at each ask, so someone who went off duty in the meantime is passed
over and someone who came on duty counts. Trainees may opt in and be sent; their on-site
report is shown but, like any trainee's verdict, does not count. No one is ever sent to a
drill (a synthetic incident): the refusal tells the dispatcher it is one, which is the lesser
harm.

Every change is one transaction that also records its audit events and the notices it owes
(what to tell whom, with who was dispatched only in coordinators' notices). The caller sends
the notices and then calls :meth:`DispatchService.notified`; what is not confirmed within
`DispatchPolicy.notice_grace` comes back from :meth:`DispatchService.run_due`, which a job
calls every minute or so: it also takes every timed step that is due (an ask that expired,
a check-in, a reminder, the one escalation), from the due times stored with each dispatch,
so a restart loses no timer.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sereno.verify.audit import AuditEvent, verifier_actor
from sereno.verify.desk import DeskGuard, DeskService, VerdictResult
from sereno.verify.dispatch import (
    ETA_CHOICES,
    IN_FIELD,
    MAX_ON_SITE_PLACE,
    MAX_ON_SITE_TEXT,
    MAX_PHOTO_ID,
    CheckInAnswer,
    CheckInStage,
    Dispatch,
    DispatchNotice,
    DispatchPolicy,
    DispatchState,
    EndReason,
    FieldVerifier,
    Finding,
    NoticeKind,
    OfferAnswer,
    OnSiteReport,
    Salute,
    Step,
    accept,
    arrive,
    ask_for_help,
    check_in_ok,
    due_step,
    end,
    next_due,
    nobody_left,
    offer_to,
    pass_over,
    rank_candidates,
    take_step,
)
from sereno.verify.errors import Conflict, Refusal, RefusalReason
from sereno.verify.incidents import Incident, IncidentStatus, Verdict
from sereno.verify.members import Role
from sereno.verify.model import GeoPoint
from sereno.verify.places import Gazetteer
from sereno.verify.ports import Clock, UnitOfWork, UnitOfWorkFactory
from sereno.verify.stats import DispatchStats, dispatch_stats
from sereno.verify.text import CleanText, clean_text

#: A change that lost a race is tried again on the fresh dispatch this many times.
_ATTEMPTS = 3

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class DispatchResult:
    """The dispatch after an action, and the notices it owes (send them, then call
    `DispatchService.notified` with their ids)."""

    dispatch: Dispatch
    notices: tuple[DispatchNotice, ...] = ()


@dataclass(frozen=True, slots=True)
class OnSiteResult:
    """The stored on-site report, the dispatch, the notices, and what the desk made of the
    report as a verdict (`verdict`: tell reporters, alert coordinators on disagreement, as
    after any verdict; None when the desk did not record it — see `report.refusal`)."""

    report: OnSiteReport
    dispatch: Dispatch
    verdict: VerdictResult | None
    notices: tuple[DispatchNotice, ...] = ()


@dataclass(frozen=True, slots=True)
class DispatchView:
    """A dispatch as one viewer may see it. The desk sees that someone was asked, is on
    the way (ETA) or on site; `person`, `person_name`, `dispatcher`, the person's last
    shared `neighborhood_id` and the check-in details are filled in for coordinators only."""

    dispatch_id: str
    incident_id: str
    state: DispatchState
    created_at: datetime
    asked: int
    eta_minutes: int | None
    accepted_at: datetime | None
    expected_at: datetime | None
    on_site_at: datetime | None
    ended_at: datetime | None
    end_reason: EndReason | None
    person: int | None = None
    person_name: str | None = None
    dispatcher: int | None = None
    neighborhood_id: str | None = None
    check_in: CheckInStage | None = None
    check_in_due: datetime | None = None
    missed_check_ins: int = 0
    escalations: int = 0


@dataclass(frozen=True, slots=True)
class OnSiteView:
    """An on-site report as one viewer may see it (`person`, `person_name`: coordinators only)."""

    finding: Finding
    at: datetime
    salute: Salute
    text: str | None
    photo_id: str | None
    verdict: Verdict | None
    counts: bool
    person: int | None = None
    person_name: str | None = None


@dataclass(frozen=True, slots=True)
class DispatchCard:
    """What an incident's card shows about dispatch."""

    dispatches: tuple[DispatchView, ...]
    reports: tuple[OnSiteView, ...]
    #: Whether the viewer may ask someone to go now (a verifier or up, the incident open,
    #: no ask waiting for an answer).
    may_send: bool = False

    @property
    def on_the_way(self) -> DispatchView | None:
        """The latest dispatch with someone in the field, if any ("someone is on the way")."""
        return next((d for d in reversed(self.dispatches) if d.state in IN_FIELD), None)


@dataclass(frozen=True, slots=True)
class Assignment:
    """What the person asked, or in the field, is told about where to go (never who asked)."""

    dispatch_id: str
    state: DispatchState
    incident: Incident
    eta_minutes: int | None
    reported: bool  # their on-site report is in


_Audit = tuple[str, dict[str, Any]]
_Change = tuple[Dispatch, list[DispatchNotice], list[_Audit]]


class DispatchService(DeskGuard):
    """Sending field verifiers, their safety check-ins, and what the desk may see of it."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        gazetteer: Gazetteer,
        desk: DeskService,
        policy: DispatchPolicy | None = None,
        pseudonymize: Callable[[int], str] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._gazetteer = gazetteer
        self._desk = desk
        self.policy = policy or DispatchPolicy()
        self._pseudonymize = pseudonymize

    # ── field verifiers ────────────────────────────────────────────────────────────
    async def opt_in(self, user_id: int, neighborhood_id: str | None = None) -> FieldVerifier:
        """Opt in as a field verifier (trainees and up), where one usually is; again: change it."""
        now = self._clock.now()
        async with self._uow() as uow:
            await self._member(uow, user_id, Role.TRAINEE, "field.opt_in", f"verifier:{user_id}")
            if neighborhood_id is not None and self._gazetteer.get(neighborhood_id) is None:
                await self._refuse(uow, user_id, "field.opt_in", f"verifier:{user_id}", RefusalReason.UNKNOWN_NEIGHBORHOOD)
            existing = await uow.field_verifiers.get(user_id)
            person = (
                replace(existing, neighborhood_id=neighborhood_id or existing.neighborhood_id)
                if existing
                else FieldVerifier(user_id, now, neighborhood_id)
            )
            await uow.field_verifiers.save(person)
            await self._record(
                uow, verifier_actor(user_id), "field.opt_in", f"verifier:{user_id}", {"neighborhood": person.neighborhood_id}
            )
            await uow.commit()
        return person

    async def opt_out(self, user_id: int) -> bool:
        """Stop being asked (any location shared goes too); False if one had not opted in.
        A dispatch one is on goes on until it ends."""
        async with self._uow() as uow:
            removed = await uow.field_verifiers.remove(user_id)
            if removed:
                await self._record(uow, verifier_actor(user_id), "field.opt_out", f"verifier:{user_id}", {})
            await uow.commit()
        return removed

    async def field_verifier(self, user_id: int) -> FieldVerifier | None:
        """One's own field entry, if one opted in."""
        async with self._uow() as uow:
            return await uow.field_verifiers.get(user_id)

    async def share_location(self, user_id: int, point: GeoPoint) -> FieldVerifier:
        """A field verifier shared where they are: it orders who is asked first, and its
        neighborhood becomes their last shared one. The point is kept for
        `policy.location_ttl`, or while they are in the field, and no longer; the audit
        trail gets the neighborhood only, when it changes."""
        now = self._clock.now()
        async with self._uow() as uow:
            person = await uow.field_verifiers.get(user_id)
            if person is None:
                await self._refuse(uow, user_id, "field.location", f"verifier:{user_id}", RefusalReason.NOT_FIELD_VERIFIER)
            assert person is not None
            area = self._gazetteer.locate(point.lat, point.lon)
            neighborhood = area.id if area is not None else person.neighborhood_id
            changed = replace(person, point=point, point_until=now + self.policy.location_ttl, neighborhood_id=neighborhood)
            await uow.field_verifiers.save(changed)
            if person.point is None or neighborhood != person.neighborhood_id:
                await self._record(
                    uow, verifier_actor(user_id), "field.location", f"verifier:{user_id}", {"neighborhood": neighborhood}
                )
            await uow.commit()
        return changed

    # ── sending ────────────────────────────────────────────────────────────────────
    async def candidates(self, by: int, incident_id: str) -> list[int]:
        """Who would be asked now, in order (coordinators only: it names people)."""
        async with self._uow() as uow:
            await self._member(uow, by, Role.COORDINATOR, "dispatch.candidates", incident_id[:36])
            incident = await self._incident(uow, by, incident_id, "dispatch.candidates")
            return await self._candidates(uow, incident, by, ())

    async def send(self, incident_id: str, by: int) -> DispatchResult:
        """Ask the nearest field verifier to go and look (verifiers and coordinators). One
        ask per incident at a time (PENDING while one is open); once someone went, another
        send asks a second person. Refused with NOBODY when nobody can be asked."""
        now = self._clock.now()
        action = "dispatch.send"
        async with self._uow() as uow:
            await self._member(uow, by, Role.VERIFIER, action, incident_id[:36])
            incident = await self._incident(uow, by, incident_id, action)
            if incident.status is not IncidentStatus.OPEN:
                await self._refuse(uow, by, action, incident_id, RefusalReason.DECIDED)
            if any(d.current_offer is not None for d in await uow.dispatches.for_incident(incident_id)):
                await self._refuse(uow, by, action, incident_id, RefusalReason.DISPATCH_PENDING)
            ranked = await self._candidates(uow, incident, by, ())
            if not ranked:
                await self._refuse(uow, by, action, incident_id, RefusalReason.NO_FIELD_VERIFIER)
            dispatch = offer_to(Dispatch(str(uuid.uuid4()), incident_id, by, now), ranked[0], now)
            try:
                await uow.dispatches.add(dispatch, next_due(dispatch, self.policy))
            except Conflict:
                await self._refuse(uow, by, action, incident_id, RefusalReason.DISPATCH_PENDING)
            notices = [self._notice(NoticeKind.OFFER, ranked[0], dispatch, now)]
            await uow.dispatch_notices.add(notices, now)
            await self._record(uow, verifier_actor(by), action, dispatch.id, {"incident": incident_id, "candidates": len(ranked)})
            await self._record(uow, SYSTEM, "dispatch.offer", dispatch.id, {"to": ranked[0]})
            try:
                await uow.commit()
            except Conflict:  # another ask for this incident landed a moment ago
                await self._refuse_anew(by, action, incident_id, RefusalReason.DISPATCH_PENDING)
        return DispatchResult(dispatch, tuple(notices))

    async def accept(self, dispatch_id: str, person: int, eta_minutes: int) -> DispatchResult:
        """The person asked goes, there in `eta_minutes` (one of ETA_CHOICES); the dispatcher
        is told someone is on the way (who, only if they are a coordinator)."""
        now = self._clock.now()
        action = "dispatch.accept"
        async with self._uow() as uow:
            await self._member(uow, person, Role.TRAINEE, action, dispatch_id[:36])
            if eta_minutes not in ETA_CHOICES:
                await self._refuse(uow, person, action, dispatch_id[:36], RefusalReason.BAD_ETA)

            async def change(dispatch: Dispatch) -> _Change:
                await self._offered(uow, person, dispatch, action)
                accepted = accept(dispatch, person, eta_minutes, now, self.policy)
                notices = await self._to_dispatcher(uow, NoticeKind.ON_THE_WAY, accepted, now)
                return accepted, notices, [(action, {"eta": eta_minutes})]

            result = await self._apply(uow, person, dispatch_id, action, change)
            await uow.commit()
        return result

    async def decline(self, dispatch_id: str, person: int) -> DispatchResult:
        """The person asked cannot go: the next candidate is asked (or the dispatcher told
        that nobody was left)."""
        now = self._clock.now()
        action = "dispatch.decline"
        async with self._uow() as uow:
            await self._member(uow, person, Role.TRAINEE, action, dispatch_id[:36])

            async def change(dispatch: Dispatch) -> _Change:
                await self._offered(uow, person, dispatch, action)
                passed = pass_over(dispatch, person, OfferAnswer.DECLINED, now)
                moved, notices, audits = await self._pass_on(uow, passed, now)
                return moved, notices, [(action, {}), *audits]

            result = await self._apply(uow, person, dispatch_id, action, change)
            await uow.commit()
        return result

    # ── in the field ───────────────────────────────────────────────────────────────
    async def on_site_report(
        self,
        dispatch_id: str,
        person: int,
        finding: Finding,
        salute: Salute | None = None,
        text: str | None = None,
        photo_id: str | None = None,
    ) -> OnSiteResult:
        """The person in the field reports from the scene (once per dispatch). The report is
        recorded as their verdict through the desk (`policy.verdicts` maps the finding), so
        the desk's rules apply — trainees' do not count, one vote per person, not on an
        incident holding a report of their own, not once it is decided — and is kept and
        shown on the card either way. `text` is cleaned and cut to MAX_ON_SITE_TEXT."""
        now = self._clock.now()
        action = "dispatch.on_site"
        salute = salute or Salute()
        async with self._uow() as uow:
            await self._member(uow, person, Role.TRAINEE, action, dispatch_id[:36])
            dispatch = await self._dispatch(uow, person, dispatch_id, action)
            if dispatch.state not in IN_FIELD or dispatch.person != person:
                await self._refuse(uow, person, action, dispatch_id, RefusalReason.NOT_IN_FIELD)
            if await uow.on_site_reports.for_dispatch(dispatch_id) is not None:
                await self._refuse(uow, person, action, dispatch_id, RefusalReason.ALREADY_REPORTED)
        cleaned = clean_text(text, MAX_ON_SITE_TEXT)
        words = cleaned.text if isinstance(cleaned, CleanText) else None
        place = clean_text(salute.place_text, MAX_ON_SITE_PLACE)
        salute = replace(salute, place_text=place.text if isinstance(place, CleanText) else None)
        photo = photo_id[:MAX_PHOTO_ID] if photo_id else None
        verdict = self.policy.verdicts[finding]
        decided: VerdictResult | None = None
        refusal: str | None = None
        try:
            decided = await self._desk.decide(person, dispatch.incident_id, verdict, words or "", on_site=True)
        except Refusal as refused:
            refusal = refused.reason.value
        mine = [v for v in decided.verdicts if v.verifier_id == person] if decided is not None else []
        report = OnSiteReport(
            str(uuid.uuid4()),
            dispatch_id,
            dispatch.incident_id,
            person,
            finding,
            now,
            salute,
            words,
            photo,
            verdict if decided is not None else None,
            bool(mine) and mine[-1].counts,
            refusal,
        )
        async with self._uow() as uow:
            try:
                await uow.on_site_reports.add(report)
            except Conflict:
                await self._refuse(uow, person, action, dispatch_id, RefusalReason.ALREADY_REPORTED)

            async def change(current: Dispatch) -> _Change:
                if current.state not in IN_FIELD:  # a coordinator closed it meanwhile: keep the report
                    return current, [], []
                arrived = arrive(current, now)
                return arrived, await self._to_dispatcher(uow, NoticeKind.ON_SITE, arrived, now), []

            result = await self._apply(uow, person, dispatch_id, action, change)
            await self._record(
                uow,
                verifier_actor(person),
                action,
                dispatch_id,
                {"finding": finding.value, "counts": report.counts, "refusal": refusal},
            )
            try:
                await uow.commit()
            except Conflict:
                await self._refuse_anew(person, action, dispatch_id, RefusalReason.ALREADY_REPORTED)
        return OnSiteResult(report, result.dispatch, decided, result.notices)

    async def check_in(self, dispatch_id: str, person: int, answer: CheckInAnswer) -> DispatchResult:
        """The person in the field answers (at any time, not only when asked): OK schedules
        the next check-in; HELP tells every coordinator at once; LEAVING or SAFE ends the
        dispatch. After an escalation, coordinators are told that the person answered.
        Only the person in the field may answer — whatever their role now: someone whose
        role was taken away while out there is still heard when they ask for help."""
        now = self._clock.now()
        action = f"dispatch.check_in.{answer.value}"
        async with self._uow() as uow:

            async def change(dispatch: Dispatch) -> _Change:
                if not dispatch.is_open:
                    await self._refuse(uow, person, action, dispatch_id, RefusalReason.DISPATCH_ENDED)
                if dispatch.state not in IN_FIELD or dispatch.person != person:
                    await self._refuse(uow, person, action, dispatch_id, RefusalReason.NOT_IN_FIELD)
                check = dispatch.check_in
                was_escalated = check is not None and check.stage is CheckInStage.ESCALATED
                if answer is CheckInAnswer.HELP:
                    helped, tell = ask_for_help(dispatch, now, self.policy)
                    notices = await self._to_coordinators(uow, NoticeKind.HELP, helped, now) if tell else []
                    return helped, notices, [(action, {"told": len(notices)})]
                if answer is CheckInAnswer.OK:
                    changed = check_in_ok(dispatch, now, self.policy)
                else:
                    reason = EndReason.SAFE if answer is CheckInAnswer.SAFE else EndReason.LEAVING
                    changed = end(dispatch, reason, person, now)
                clear = await self._to_coordinators(uow, NoticeKind.ALL_CLEAR, changed, now) if was_escalated else []
                return changed, clear, [(action, {})]

            result = await self._apply(uow, person, dispatch_id, action, change)
            if not result.dispatch.is_open:
                await self._coarsen(uow, person)
            await uow.commit()
        return result

    async def close(self, dispatch_id: str, by: int) -> DispatchResult:
        """A coordinator ends a dispatch: an open ask is withdrawn, the person in the field
        is told, timers stop."""
        now = self._clock.now()
        action = "dispatch.close"
        async with self._uow() as uow:
            await self._member(uow, by, Role.COORDINATOR, action, dispatch_id[:36])

            async def change(dispatch: Dispatch) -> _Change:
                if not dispatch.is_open:
                    await self._refuse(uow, by, action, dispatch_id, RefusalReason.DISPATCH_ENDED)
                offer = dispatch.current_offer
                closed = end(dispatch, EndReason.COORDINATOR, by, now)
                notices = []
                if offer is not None:
                    notices.append(self._notice(NoticeKind.OFFER_ENDED, offer.person, closed, now))
                elif dispatch.person is not None:
                    notices.append(self._notice(NoticeKind.CLOSED, dispatch.person, closed, now))
                return closed, notices, [(action, {})]

            result = await self._apply(uow, by, dispatch_id, action, change)
            if result.dispatch.person is not None:
                await self._coarsen(uow, result.dispatch.person)
            await uow.commit()
        return result

    # ── the job ────────────────────────────────────────────────────────────────────
    async def run_due(self, limit: int = 100) -> list[DispatchNotice]:
        """Take every timed step due now (an unanswered ask passes on after
        `policy.offer_timeout`; a check-in is asked, reminded, then escalated to every
        coordinator once), coarsen shared locations that went stale, and return the notices
        to send now: those of these steps, and those owed since before
        `policy.notice_grace` (their sender died). Send them, then call `notified`."""
        now = self._clock.now()
        async with self._uow() as uow:
            due = [d.id for d in await uow.dispatches.due(now, limit)]
        notices: list[DispatchNotice] = []
        for dispatch_id in due:
            async with self._uow() as uow:
                dispatch = await uow.dispatches.get(dispatch_id)
                step = due_step(dispatch, now, self.policy) if dispatch is not None else None
                if dispatch is None or step is None:
                    continue
                changed, owed, audits = await self._timed(uow, dispatch, step, now)
                if not await uow.dispatches.save(changed, next_due(changed, self.policy), dispatch.version):
                    continue  # someone answered a moment ago: the next run looks again
                await uow.dispatch_notices.add(owed, now)
                for audit_action, detail in audits:
                    await self._record(uow, SYSTEM, audit_action, dispatch_id, detail)
                if not changed.is_open and changed.person is not None:
                    await self._coarsen(uow, changed.person)
                await uow.commit()
            notices += owed
        async with self._uow() as uow:
            notices += await uow.dispatch_notices.claim(now - self.policy.notice_grace, now, limit)
            engaged = _engaged(await uow.dispatches.open())
            for person in await uow.field_verifiers.stale_points(now):
                if person.user_id not in engaged:
                    await uow.field_verifiers.save(person.coarsened())
            await uow.commit()
        return notices

    async def notified(self, notice_ids: Sequence[str]) -> None:
        """These notices were sent (or can never be: the person blocked the bot)."""
        async with self._uow() as uow:
            await uow.dispatch_notices.delete(notice_ids)
            await uow.commit()

    # ── views ──────────────────────────────────────────────────────────────────────
    async def card(self, viewer: int, incident_id: str) -> DispatchCard:
        """What the incident's card shows about dispatch to `viewer` (a desk member): who
        was dispatched, and by whom, only for coordinators. A drill has no dispatch, and
        offers sending like a real incident (a live drill looks real to the desk; a send is
        refused as a drill: nobody is ever sent to one)."""
        async with self._uow() as uow:
            member = await self._member(uow, viewer, Role.TRAINEE, "dispatch.view", incident_id[:36])
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                await self._refuse(uow, viewer, "dispatch.view", incident_id[:36], RefusalReason.UNKNOWN_INCIDENT)
            assert incident is not None
            if incident.drill is not None:  # a live drill's card looks real; sending is refused
                return DispatchCard((), (), member.can(Role.VERIFIER) and incident.status is IncidentStatus.OPEN)
            dispatches = await uow.dispatches.for_incident(incident_id)
            reports = await uow.on_site_reports.for_incident(incident_id)
            coordinator = member.can(Role.COORDINATOR)
            names = {v.user_id: v.name for v in await uow.verifiers.all()} if coordinator else {}
            fields = {f.user_id: f for f in await uow.field_verifiers.all()} if coordinator else {}
        may_send = (
            member.can(Role.VERIFIER)
            and incident.status is IncidentStatus.OPEN
            and all(d.current_offer is None for d in dispatches)
        )
        return DispatchCard(
            tuple(_view(d, coordinator, names, fields) for d in dispatches),
            tuple(_on_site_view(r, coordinator, names) for r in reports),
            may_send,
        )

    async def assignment(self, dispatch_id: str, person: int) -> Assignment:
        """Where the person being asked, or in the field, is to go: refused (OFFER_GONE) for
        anyone else, and once the dispatch ended (DISPATCH_ENDED)."""
        action = "dispatch.assignment"
        async with self._uow() as uow:
            dispatch = await self._dispatch(uow, person, dispatch_id, action)
            if not dispatch.is_open:
                await self._refuse(uow, person, action, dispatch_id, RefusalReason.DISPATCH_ENDED)
            offer = dispatch.current_offer
            if not ((offer is not None and offer.person == person) or dispatch.person == person):
                await self._refuse(uow, person, action, dispatch_id, RefusalReason.OFFER_GONE)
            incident = await self._incident(uow, person, dispatch.incident_id, action)
            reported = await uow.on_site_reports.for_dispatch(dispatch_id) is not None
        return Assignment(dispatch.id, dispatch.state, incident, dispatch.eta_minutes, reported)

    async def incidents(self, incident_ids: Iterable[str]) -> dict[str, Incident]:
        """The incidents dispatch notices or views are about, by id, to word them (where,
        what); for the sender of notices a service made, not for a person's request."""
        async with self._uow() as uow:
            found = {i: await uow.incidents.get(i) for i in set(incident_ids)}
        return {i: incident for i, incident in found.items() if incident is not None}

    async def open_dispatches(self, by: int) -> list[DispatchView]:
        """Every open dispatch with who is out there (coordinators only: `/dispatches`)."""
        async with self._uow() as uow:
            await self._member(uow, by, Role.COORDINATOR, "dispatch.list", "dispatches")
            dispatches = await uow.dispatches.open()
            names = {v.user_id: v.name for v in await uow.verifiers.all()}
            fields = {f.user_id: f for f in await uow.field_verifiers.all()}
        return [_view(d, True, names, fields) for d in dispatches]

    async def stats(
        self, by: int | None, since: datetime | None = None, until: datetime | None = None, window: timedelta | None = None
    ) -> DispatchStats:
        """Dispatch figures for dispatches made in [since, until], by default the last
        `window` (7 days); coordinators, or the command line (`by` None)."""
        until = until or self._clock.now()
        since = since or until - (window or timedelta(days=7))
        async with self._uow() as uow:
            if by is not None:
                await self._member(uow, by, Role.COORDINATOR, "dispatch.stats", "stats")
            rows = await uow.dispatches.between(since, until)
        return dispatch_stats(rows, since, until)

    # ── inside ─────────────────────────────────────────────────────────────────────
    async def _candidates(self, uow: UnitOfWork, incident: Incident, dispatcher: int, asked: Sequence[int]) -> list[int]:
        now = self._clock.now()
        members = {v.user_id: v for v in await uow.verifiers.all()}
        busy = _engaged(await uow.dispatches.open())
        skip = busy | set(asked) | {dispatcher}
        skip |= {p for d in await uow.dispatches.for_incident(incident.id) for p in d.asked}
        skip |= {v.verifier_id for v in await uow.verdicts.for_incident(incident.id)}
        reporters = {r.reporter for r in await uow.reports.for_incident(incident.id)}
        people = [
            (person, member.neighborhoods)
            for person in await uow.field_verifiers.all()
            if (member := members.get(person.user_id)) is not None
            and member.can(Role.TRAINEE)
            and member.on_duty
            and person.user_id not in skip
            and member.pseudonym not in reporters
        ]
        return rank_candidates(incident, people, self._gazetteer, now, self.policy)

    async def _pass_on(self, uow: UnitOfWork, dispatch: Dispatch, now: datetime) -> _Change:
        """After a decline or an expired ask: ask the next candidate, or end (nobody left,
        or the incident is no longer open) and tell the dispatcher."""
        incident = await uow.incidents.get(dispatch.incident_id)
        ranked: list[int] = []
        if incident is not None and incident.status is IncidentStatus.OPEN:
            ranked = await self._candidates(uow, incident, dispatch.dispatcher, dispatch.asked)
        if ranked:
            offered = offer_to(dispatch, ranked[0], now)
            return offered, [self._notice(NoticeKind.OFFER, ranked[0], offered, now)], [("dispatch.offer", {"to": ranked[0]})]
        ended = nobody_left(dispatch, now)
        return (
            ended,
            await self._to_dispatcher(uow, NoticeKind.NOBODY, ended, now),
            [("dispatch.nobody", {"asked": len(ended.offers)})],
        )

    async def _timed(self, uow: UnitOfWork, dispatch: Dispatch, step: Step, now: datetime) -> _Change:
        if step is Step.EXPIRE_OFFER:
            offer = dispatch.current_offer
            assert offer is not None
            passed = pass_over(dispatch, offer.person, OfferAnswer.EXPIRED, now)
            moved, notices, audits = await self._pass_on(uow, passed, now)
            ended = self._notice(NoticeKind.OFFER_ENDED, offer.person, moved, now)
            return moved, [ended, *notices], [("dispatch.offer.expired", {"to": offer.person}), *audits]
        person = dispatch.person
        assert person is not None
        stepped = take_step(dispatch, step, now)
        if step is Step.ASK:
            return stepped, [self._notice(NoticeKind.CHECK_IN, person, stepped, now)], [("dispatch.check_in.asked", {})]
        if step is Step.REMIND:
            return stepped, [self._notice(NoticeKind.REMINDER, person, stepped, now)], [("dispatch.check_in.missed", {})]
        notices = await self._to_coordinators(uow, NoticeKind.ESCALATION, stepped, now)
        _, neighborhood = await self._named(uow, stepped)
        return stepped, notices, [("dispatch.check_in.escalated", {"told": len(notices), "neighborhood": neighborhood})]

    async def _apply(
        self, uow: UnitOfWork, user_id: int, dispatch_id: str, action: str, change: Callable[[Dispatch], Awaitable[_Change]]
    ) -> DispatchResult:
        """Apply `change` to the stored dispatch and save it conditionally, with its notices
        and audit events; a change that lost a race is worked out again on the fresh one."""
        for _ in range(_ATTEMPTS):
            dispatch = await self._dispatch(uow, user_id, dispatch_id, action)
            changed, notices, audits = await change(dispatch)
            if changed is dispatch or await uow.dispatches.save(changed, next_due(changed, self.policy), dispatch.version):
                await uow.dispatch_notices.add(notices, self._clock.now())
                for audit_action, detail in audits:
                    actor = verifier_actor(user_id) if audit_action == action else SYSTEM
                    await self._record(uow, actor, audit_action, dispatch_id, detail)
                return DispatchResult(changed, tuple(notices))
        await self._refuse(uow, user_id, action, dispatch_id, RefusalReason.CHANGED_MEANWHILE)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _notice(
        kind: NoticeKind, recipient: int, dispatch: Dispatch, now: datetime, named: tuple[str | None, str | None] | None = None
    ) -> DispatchNotice:
        """A notice to `recipient`; `named` — (the dispatched person's name, their last
        shared neighborhood) — only for a coordinator: then who was dispatched is added."""
        name, neighborhood = named or (None, None)
        return DispatchNotice(
            str(uuid.uuid4()),
            kind,
            recipient,
            dispatch.id,
            dispatch.incident_id,
            now,
            eta_minutes=dispatch.eta_minutes,
            neighborhood_id=neighborhood,
            person=dispatch.person if named is not None else None,
            person_name=name,
        )

    @staticmethod
    async def _named(uow: UnitOfWork, dispatch: Dispatch) -> tuple[str | None, str | None]:
        """The dispatched person's name and last shared neighborhood (for coordinators)."""
        if dispatch.person is None:
            return None, None
        member = await uow.verifiers.get(dispatch.person)
        area = await uow.field_verifiers.get(dispatch.person)
        return (member.name if member is not None else None), (area.neighborhood_id if area is not None else None)

    async def _to_dispatcher(self, uow: UnitOfWork, kind: NoticeKind, dispatch: Dispatch, now: datetime) -> list[DispatchNotice]:
        """The dispatcher is told (who went, only if they are a coordinator)."""
        dispatcher = await uow.verifiers.get(dispatch.dispatcher)
        if dispatcher is None or not dispatcher.can(Role.TRAINEE):
            return []
        named = await self._named(uow, dispatch) if dispatcher.can(Role.COORDINATOR) else None
        return [self._notice(kind, dispatcher.user_id, dispatch, now, named)]

    async def _to_coordinators(
        self, uow: UnitOfWork, kind: NoticeKind, dispatch: Dispatch, now: datetime
    ) -> list[DispatchNotice]:
        """One notice per coordinator (on duty or not), with who is out there and their last
        shared neighborhood; with no coordinator on the roster, the dispatcher is told
        (without who)."""
        named = await self._named(uow, dispatch)
        notices = [
            self._notice(kind, member.user_id, dispatch, now, named)
            for member in await uow.verifiers.all()
            if member.can(Role.COORDINATOR)
        ]
        return notices or await self._to_dispatcher(uow, kind, dispatch, now)

    async def _coarsen(self, uow: UnitOfWork, user_id: int) -> None:
        """The person's dispatch ended: keep their neighborhood, not their location."""
        person = await uow.field_verifiers.get(user_id)
        if person is not None and person.point is not None:
            await uow.field_verifiers.save(person.coarsened())

    async def _offered(self, uow: UnitOfWork, person: int, dispatch: Dispatch, action: str) -> None:
        offer = dispatch.current_offer
        if offer is None or offer.person != person:
            await self._refuse(uow, person, action, dispatch.id, RefusalReason.OFFER_GONE)

    async def _dispatch(self, uow: UnitOfWork, user_id: int, dispatch_id: str, action: str) -> Dispatch:
        dispatch = await uow.dispatches.get(dispatch_id)
        if dispatch is None:
            await self._refuse(uow, user_id, action, dispatch_id[:36], RefusalReason.UNKNOWN_DISPATCH)
        assert dispatch is not None
        return dispatch

    async def _incident(self, uow: UnitOfWork, user_id: int, incident_id: str, action: str) -> Incident:
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            await self._refuse(uow, user_id, action, incident_id[:36], RefusalReason.UNKNOWN_INCIDENT)
        assert incident is not None
        if incident.drill is not None:
            await self._refuse(uow, user_id, action, incident_id, RefusalReason.DRILL_DISPATCH)
        return incident

    async def _record(self, uow: UnitOfWork, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        await uow.audit.add(AuditEvent(self._clock.now(), actor, action, subject, dict(detail)))

    async def _refuse_anew(self, user_id: int, action: str, subject: str, reason: RefusalReason) -> None:
        """A refusal found at commit: recorded in a fresh unit of work."""
        async with self._uow() as uow:
            await self._refuse(uow, user_id, action, subject, reason)


def _engaged(dispatches: Sequence[Dispatch]) -> set[int]:
    """People being asked, or in the field, in these (open) dispatches."""
    engaged = set()
    for dispatch in dispatches:
        if (offer := dispatch.current_offer) is not None:
            engaged.add(offer.person)
        if dispatch.state in IN_FIELD and dispatch.person is not None:
            engaged.add(dispatch.person)
    return engaged


def _view(dispatch: Dispatch, coordinator: bool, names: dict[int, str], fields: dict[int, FieldVerifier]) -> DispatchView:
    shown = DispatchView(
        dispatch.id,
        dispatch.incident_id,
        dispatch.state,
        dispatch.created_at,
        len(dispatch.offers),
        dispatch.eta_minutes,
        dispatch.accepted_at,
        dispatch.expected_at,
        dispatch.on_site_at,
        dispatch.ended_at,
        dispatch.end_reason,
    )
    if not coordinator:
        return shown
    person = (
        dispatch.person
        if dispatch.person is not None
        else (dispatch.current_offer.person if dispatch.current_offer is not None else None)
    )
    area = fields.get(person) if person is not None else None
    check = dispatch.check_in if dispatch.is_open else None
    return replace(
        shown,
        person=person,
        person_name=names.get(person) if person is not None else None,
        dispatcher=dispatch.dispatcher,
        neighborhood_id=area.neighborhood_id if area else None,
        check_in=check.stage if check else None,
        check_in_due=check.due_at if check else None,
        missed_check_ins=dispatch.missed_check_ins,
        escalations=dispatch.escalations,
    )


def _on_site_view(report: OnSiteReport, coordinator: bool, names: dict[int, str]) -> OnSiteView:
    return OnSiteView(
        report.finding,
        report.at,
        report.salute,
        report.text,
        report.photo_id,
        report.verdict,
        report.counts,
        report.person if coordinator else None,
        names.get(report.person) if coordinator else None,
    )
