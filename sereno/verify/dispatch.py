"""Eyes on the ground: the records and the state machine of sending a field verifier to look.

A verifier or coordinator asks for someone to go and look at an incident. The desk members
who opted in as field verifiers and are on duty are asked one at a time, nearest first; each
ask (an :class:`Offer`) is open for two minutes, and a decline or no answer passes it to the
next. The person who accepts gives an ETA and gets a safety check-in timer (ETA + 20 minutes
by default): "Are you OK?", a reminder, then ONE escalation to coordinators with their last
shared neighborhood; "I need help" escalates at once. The dispatch ends when they leave
("I'm leaving" / "I'm safe and gone") or a coordinator closes it.

Everything here is pure: the functions take a :class:`Dispatch` and return the next one, and
:func:`next_due` says when its next timed step is due, so timers live in the database (a
job asks what is due) and survive restarts. :mod:`sereno.verify.dispatch_service` runs it
against the ports, with the role checks, the audit trail and the notices.

Privacy: who was dispatched is known to coordinators only (the desk sees "someone is on the
way, ETA"). A shared location is held only as long as needed to pick the nearest person and
keep them safe; once their dispatch ends (or the location goes stale) only the neighborhood
is kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sereno.verify.clustering import distance_m
from sereno.verify.incidents import Incident, Verdict
from sereno.verify.model import Activity, AgentCount, GeoPoint, TimeSeen, Uniform, VehicleCount
from sereno.verify.places import Gazetteer

#: The ETA buttons, in minutes.
ETA_CHOICES: Final = (5, 10, 20, 30)
#: Longest short text kept with an on-site report (also the verdict's reason).
MAX_ON_SITE_TEXT: Final = 500
#: Longest typed location detail of an on-site report.
MAX_ON_SITE_PLACE: Final = 200
#: Longest photo reference kept with an on-site report.
MAX_PHOTO_ID: Final = 64


class Finding(StrEnum):
    """What the field verifier found on site."""

    CONFIRMED = "confirmed"  # saw it: with what they saw (SALUTE) and a short text
    NOTHING_THERE = "nothing_there"  # checked the area, nothing there
    UNCERTAIN = "uncertain"  # saw something, cannot tell


class Direction(StrEnum):
    """Where the agents were heading."""

    NORTH = "n"
    NORTH_EAST = "ne"
    EAST = "e"
    SOUTH_EAST = "se"
    SOUTH = "s"
    SOUTH_WEST = "sw"
    WEST = "w"
    NORTH_WEST = "nw"
    STATIONARY = "stationary"
    UNKNOWN = "unknown"


class Equipment(StrEnum):
    """Vehicles and gear seen (the E of SALUTE)."""

    UNMARKED_SUV = "unmarked_suv"
    MARKED_VEHICLE = "marked_vehicle"
    VAN = "van"
    BUS = "bus"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """Timers and rules of dispatch, configurable per deployment."""

    #: An ask not answered in this long passes to the next candidate.
    offer_timeout: timedelta = timedelta(minutes=2)
    #: The first check-in is due this long after the ETA.
    check_in_after_eta: timedelta = timedelta(minutes=20)
    #: After "I'm OK", the next check-in is due this long later.
    check_in_every: timedelta = timedelta(minutes=20)
    #: No answer to "Are you OK?" in this long: a reminder.
    remind_after: timedelta = timedelta(minutes=5)
    #: No answer to the reminder in this long: coordinators are told (once).
    escalate_after: timedelta = timedelta(minutes=5)
    #: Another "I need help" this soon after the last one tells coordinators nothing new.
    help_repeat_after: timedelta = timedelta(minutes=5)
    #: A shared location (not in a dispatch) is coarsened to its neighborhood after this long.
    location_ttl: timedelta = timedelta(hours=1)
    #: A notice not confirmed as sent this long after it was claimed is claimed again.
    notice_grace: timedelta = timedelta(seconds=60)
    #: Field verifiers further than this from the incident are not asked (None: no limit).
    max_distance_m: float | None = None
    #: The desk verdict each finding is recorded as (under the desk's rules: two-person rule,
    #: trainees do not count, one vote per person). Nothing there after a look is "checked,
    #: not enforcement", which still needs a second person; uncertain is "unable to verify".
    verdicts: Mapping[Finding, Verdict] = field(
        default_factory=lambda: {
            Finding.CONFIRMED: Verdict.CONFIRMED,
            Finding.NOTHING_THERE: Verdict.DEBUNKED,
            Finding.UNCERTAIN: Verdict.UNVERIFIABLE,
        }
    )


@dataclass(frozen=True, slots=True)
class FieldVerifier:
    """A desk member who opted in to be sent to look. `neighborhood_id` is where they
    usually are (set by them, or the neighborhood of the last location they shared); `point`
    is a location they shared, kept only until `point_until` or until the dispatch they are
    on ends — never finer than the neighborhood after that."""

    user_id: int
    opted_in_at: datetime
    neighborhood_id: str | None = None
    point: GeoPoint | None = None
    point_until: datetime | None = None

    def fresh_point(self, now: datetime) -> GeoPoint | None:
        """The shared location, if it has not gone stale."""
        if self.point is None or (self.point_until is not None and self.point_until <= now):
            return None
        return self.point

    def coarsened(self) -> FieldVerifier:
        """The same person with only the neighborhood kept."""
        return replace(self, point=None, point_until=None)


class DispatchState(StrEnum):
    """Where a dispatch stands."""

    OFFERED = "offered"  # one candidate is being asked (the current offer)
    ACCEPTED = "accepted"  # on the way, with an ETA
    ON_SITE = "on_site"  # reported from the scene; check-ins go on until they leave
    DECLINED = "declined"  # ended: the last candidate declined and nobody was left to ask
    EXPIRED = "expired"  # ended: the last ask went unanswered and nobody was left to ask
    CLOSED = "closed"  # ended: the person left, or a coordinator closed it


OPEN_STATES: Final = frozenset({DispatchState.OFFERED, DispatchState.ACCEPTED, DispatchState.ON_SITE})
#: Someone is out there: check-ins run.
IN_FIELD: Final = frozenset({DispatchState.ACCEPTED, DispatchState.ON_SITE})


class OfferAnswer(StrEnum):
    """What became of one ask."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # not answered in time
    WITHDRAWN = "withdrawn"  # a coordinator closed the dispatch while it was open


@dataclass(frozen=True, slots=True)
class Offer:
    """One candidate asked to go."""

    person: int
    at: datetime
    answer: OfferAnswer | None = None
    answered_at: datetime | None = None


class CheckInStage(StrEnum):
    """Where the current safety check-in stands."""

    SCHEDULED = "scheduled"  # waiting until it is due
    ASKED = "asked"  # "Are you OK?" was sent
    REMINDED = "reminded"  # the reminder was sent
    ESCALATED = "escalated"  # coordinators were told, once; nothing more until an answer


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The safety check-in of the person in the field. `stage_at`: when the stage began;
    `help_at`: when they last asked for help (then coordinators were told at once)."""

    due_at: datetime
    stage: CheckInStage = CheckInStage.SCHEDULED
    stage_at: datetime | None = None
    help_at: datetime | None = None


class CheckInAnswer(StrEnum):
    """The person's answer to a check-in (their buttons work at any time in the field)."""

    OK = "ok"  # reschedules the check-in
    LEAVING = "leaving"  # ends the dispatch
    SAFE = "safe"  # "I'm safe and gone": ends the dispatch
    HELP = "help"  # coordinators are told at once


class EndReason(StrEnum):
    """Why a dispatch ended."""

    LEAVING = "leaving"
    SAFE = "safe"
    COORDINATOR = "coordinator"
    NOBODY = "nobody"  # no candidate accepted


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Sending someone to look at one incident: the asks in order, the person who went, the
    ETA, their check-in, and the time of each step. `version` grows with every change (a
    write is conditional on it, so of two changes at one moment one wins)."""

    id: str
    incident_id: str
    dispatcher: int
    created_at: datetime
    state: DispatchState = DispatchState.OFFERED
    offers: tuple[Offer, ...] = ()
    eta_minutes: int | None = None
    accepted_at: datetime | None = None
    on_site_at: datetime | None = None
    check_in: CheckIn | None = None
    #: check-ins the person did not answer before the reminder
    missed_check_ins: int = 0
    #: times coordinators were told (a missed check-in, or "I need help")
    escalations: int = 0
    ended_at: datetime | None = None
    ended_by: int | None = None
    end_reason: EndReason | None = None
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def current_offer(self) -> Offer | None:
        """The ask waiting for an answer, if one is."""
        if self.state is DispatchState.OFFERED and self.offers and self.offers[-1].answer is None:
            return self.offers[-1]
        return None

    @property
    def person(self) -> int | None:
        """Who accepted (the person in the field), if anyone did."""
        return next((o.person for o in self.offers if o.answer is OfferAnswer.ACCEPTED), None)

    @property
    def asked(self) -> tuple[int, ...]:
        """Everyone asked so far, in order."""
        return tuple(o.person for o in self.offers)

    @property
    def expected_at(self) -> datetime | None:
        """When the person said they would be there."""
        if self.accepted_at is None or self.eta_minutes is None:
            return None
        return self.accepted_at + timedelta(minutes=self.eta_minutes)


class Step(StrEnum):
    """A timed step that is due."""

    EXPIRE_OFFER = "expire_offer"  # the ask went unanswered: pass it on
    ASK = "ask"  # "Are you OK?"
    REMIND = "remind"  # no answer: ask again
    ESCALATE = "escalate"  # no answer to the reminder: tell coordinators (once)


class DispatchError(ValueError):
    """A transition that does not apply to the dispatch as it stands."""


def next_due(dispatch: Dispatch, policy: DispatchPolicy) -> datetime | None:
    """When the dispatch's next timed step is due (None: nothing is timed — it ended, or
    coordinators were told and wait for an answer)."""
    offer = dispatch.current_offer
    if offer is not None:
        return offer.at + policy.offer_timeout
    check = dispatch.check_in
    if dispatch.state not in IN_FIELD or check is None:
        return None
    if check.stage is CheckInStage.SCHEDULED:
        return check.due_at
    assert check.stage_at is not None
    if check.stage is CheckInStage.ASKED:
        return check.stage_at + policy.remind_after
    if check.stage is CheckInStage.REMINDED:
        return check.stage_at + policy.escalate_after
    return None


def due_step(dispatch: Dispatch, now: datetime, policy: DispatchPolicy) -> Step | None:
    """The timed step due at `now`, if any."""
    due = next_due(dispatch, policy)
    if due is None or due > now:
        return None
    if dispatch.current_offer is not None:
        return Step.EXPIRE_OFFER
    assert dispatch.check_in is not None
    return {CheckInStage.SCHEDULED: Step.ASK, CheckInStage.ASKED: Step.REMIND, CheckInStage.REMINDED: Step.ESCALATE}[
        dispatch.check_in.stage
    ]


def _bump(dispatch: Dispatch, **changes: Any) -> Dispatch:
    return replace(dispatch, version=dispatch.version + 1, **changes)


def offer_to(dispatch: Dispatch, person: int, now: datetime) -> Dispatch:
    """Ask `person` next."""
    if not dispatch.is_open or dispatch.current_offer is not None or dispatch.state in IN_FIELD:
        raise DispatchError("an ask is open, or the dispatch is past asking")
    return _bump(dispatch, state=DispatchState.OFFERED, offers=(*dispatch.offers, Offer(person, now)))


def _answer(dispatch: Dispatch, person: int, answer: OfferAnswer, now: datetime) -> tuple[Offer, ...]:
    offer = dispatch.current_offer
    if offer is None or offer.person != person:
        raise DispatchError("this person is not being asked")
    return (*dispatch.offers[:-1], replace(offer, answer=answer, answered_at=now))


def accept(dispatch: Dispatch, person: int, eta_minutes: int, now: datetime, policy: DispatchPolicy) -> Dispatch:
    """`person` goes, there in `eta_minutes`: their first check-in is due at the ETA plus
    `policy.check_in_after_eta`."""
    if eta_minutes not in ETA_CHOICES:
        raise DispatchError(f"no such ETA: {eta_minutes}")
    offers = _answer(dispatch, person, OfferAnswer.ACCEPTED, now)
    due = now + timedelta(minutes=eta_minutes) + policy.check_in_after_eta
    return _bump(
        dispatch, state=DispatchState.ACCEPTED, offers=offers, eta_minutes=eta_minutes, accepted_at=now, check_in=CheckIn(due)
    )


def pass_over(dispatch: Dispatch, person: int, answer: OfferAnswer, now: datetime) -> Dispatch:
    """`person` declined (or did not answer in time): the ask is closed, and the dispatch
    waits for the next candidate (:func:`offer_to`) or ends (:func:`nobody_left`)."""
    if answer not in (OfferAnswer.DECLINED, OfferAnswer.EXPIRED):
        raise DispatchError(f"not a way to pass: {answer}")
    return _bump(dispatch, offers=_answer(dispatch, person, answer, now))


def nobody_left(dispatch: Dispatch, now: datetime) -> Dispatch:
    """Nobody is left to ask: the dispatch ends as declined or expired (by its last ask)."""
    if dispatch.state is not DispatchState.OFFERED or dispatch.current_offer is not None:
        raise DispatchError("an ask is still open")
    last = dispatch.offers[-1].answer if dispatch.offers else None
    state = DispatchState.EXPIRED if last is OfferAnswer.EXPIRED else DispatchState.DECLINED
    return _bump(dispatch, state=state, ended_at=now, end_reason=EndReason.NOBODY)


def arrive(dispatch: Dispatch, now: datetime) -> Dispatch:
    """The person reported from the scene."""
    if dispatch.state not in IN_FIELD:
        raise DispatchError("nobody is in the field")
    return _bump(dispatch, state=DispatchState.ON_SITE, on_site_at=dispatch.on_site_at or now)


def take_step(dispatch: Dispatch, step: Step, now: datetime) -> Dispatch:
    """Record that a due check-in step was taken (see :func:`due_step`); an expired offer
    goes through :func:`pass_over`."""
    check = dispatch.check_in
    if check is None or dispatch.state not in IN_FIELD:
        raise DispatchError("no check-in runs")
    if step is Step.ASK:
        return _bump(dispatch, check_in=replace(check, stage=CheckInStage.ASKED, stage_at=now))
    if step is Step.REMIND:
        return _bump(
            dispatch,
            check_in=replace(check, stage=CheckInStage.REMINDED, stage_at=now),
            missed_check_ins=dispatch.missed_check_ins + 1,
        )
    if step is Step.ESCALATE:
        return _bump(
            dispatch, check_in=replace(check, stage=CheckInStage.ESCALATED, stage_at=now), escalations=dispatch.escalations + 1
        )
    raise DispatchError(f"not a check-in step: {step}")


def check_in_ok(dispatch: Dispatch, now: datetime, policy: DispatchPolicy) -> Dispatch:
    """ "I'm OK": the next check-in is due `policy.check_in_every` from now (any escalation
    is over)."""
    if dispatch.state not in IN_FIELD:
        raise DispatchError("nobody is in the field")
    return _bump(dispatch, check_in=CheckIn(now + policy.check_in_every))


def ask_for_help(dispatch: Dispatch, now: datetime, policy: DispatchPolicy) -> tuple[Dispatch, bool]:
    """ "I need help": the check-in is escalated at once (no further prompts until they
    answer or a coordinator closes it). Returns the dispatch and whether coordinators are to
    be told — not again for a press within `policy.help_repeat_after` of the last one."""
    check = dispatch.check_in
    if dispatch.state not in IN_FIELD or check is None:
        raise DispatchError("nobody is in the field")
    if check.help_at is not None and now - check.help_at < policy.help_repeat_after:
        return dispatch, False
    escalated = replace(check, stage=CheckInStage.ESCALATED, stage_at=now, help_at=now)
    return _bump(dispatch, check_in=escalated, escalations=dispatch.escalations + 1), True


def end(dispatch: Dispatch, reason: EndReason, by: int | None, now: datetime) -> Dispatch:
    """Close an open dispatch: an open ask is withdrawn, timers stop."""
    if not dispatch.is_open:
        raise DispatchError("the dispatch has ended")
    offers = dispatch.offers
    if dispatch.current_offer is not None:
        offers = (*offers[:-1], replace(offers[-1], answer=OfferAnswer.WITHDRAWN, answered_at=now))
    return _bump(dispatch, state=DispatchState.CLOSED, offers=offers, ended_at=now, ended_by=by, end_reason=reason)


# ── on-site reports ────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Salute:
    """What a field verifier saw (size, activity, location, uniform, time, equipment) and
    where the agents were heading; every field may be left out."""

    agents: AgentCount | None = None
    vehicles: VehicleCount | None = None
    activity: Activity | None = None
    place_text: str | None = None
    uniform: Uniform | None = None
    time_seen: TimeSeen | None = None
    equipment: tuple[Equipment, ...] = ()
    direction: Direction | None = None


@dataclass(frozen=True, slots=True)
class OnSiteReport:
    """A field verifier's report from the scene, one per dispatch. It is recorded as their
    verdict on the incident (`verdict`); `counts` says whether that verdict counts toward
    the two-person rule, `refusal` why the desk did not record it (a trainee's, a second
    vote, an incident already decided…)."""

    id: str
    dispatch_id: str
    incident_id: str
    person: int
    finding: Finding
    at: datetime
    salute: Salute = Salute()
    text: str | None = None
    photo_id: str | None = None
    verdict: Verdict | None = None
    counts: bool = False
    refusal: str | None = None


# ── notices: what to tell whom ─────────────────────────────────────────────────────────


class NoticeKind(StrEnum):
    """A message the dispatch owes someone."""

    OFFER = "offer"  # to a candidate: the ask, the safety briefing, the ETA buttons
    OFFER_ENDED = "offer_ended"  # to a candidate whose ask expired or was withdrawn
    ON_THE_WAY = "on_the_way"  # to the dispatcher: someone accepted, with the ETA
    NOBODY = "nobody"  # to the dispatcher: nobody accepted
    ON_SITE = "on_site"  # to the dispatcher: the on-site report is in
    CHECK_IN = "check_in"  # to the person: "Are you OK?"
    REMINDER = "reminder"  # to the person: no answer yet
    ESCALATION = "escalation"  # to every coordinator: a missed check-in, once
    HELP = "help"  # to every coordinator: "I need help"
    ALL_CLEAR = "all_clear"  # to every coordinator, after an escalation: the person answered
    CLOSED = "closed"  # to the person in the field (or being asked): a coordinator closed it


@dataclass(frozen=True, slots=True)
class DispatchNotice:
    """One message to one person. `person`/`person_name` (who was dispatched) are set only
    for coordinators; `neighborhood_id` is the person's last shared neighborhood, for
    coordinators' escalations. Stored with the change that caused it and kept until the
    sender says it was sent (see `DispatchService.notified`)."""

    id: str
    kind: NoticeKind
    recipient: int
    dispatch_id: str
    incident_id: str
    at: datetime
    eta_minutes: int | None = None
    neighborhood_id: str | None = None
    person: int | None = None
    person_name: str | None = None


# ── choosing whom to ask ───────────────────────────────────────────────────────────────


def target_of(incident: Incident, gazetteer: Gazetteer) -> GeoPoint | None:
    """Where to measure from: the incident's pin, else the middle of its neighborhood."""
    if incident.point is not None:
        return incident.point
    neighborhood = gazetteer.get(incident.neighborhood_id)
    return neighborhood.centroid if neighborhood is not None and neighborhood.polygons else None


def distance_to(
    target: GeoPoint | None, field_verifier: FieldVerifier, homes: Sequence[str], gazetteer: Gazetteer, now: datetime
) -> float:
    """Metres from `target` to where the person is: their fresh shared location, else the
    middle of their field neighborhood, else of the nearest of their `homes` (their home
    neighborhoods on the roster: the measure the desk orders verifiers by); infinite when
    unknown."""
    if target is None:
        return float("inf")
    point = field_verifier.fresh_point(now)
    if point is not None:
        return distance_m(target, point)
    if field_verifier.neighborhood_id and math.isfinite(
        metres := gazetteer.metres_to_nearest(target, (field_verifier.neighborhood_id,))
    ):
        return metres
    return gazetteer.metres_to_nearest(target, homes)


def rank_candidates(
    incident: Incident,
    people: Sequence[tuple[FieldVerifier, Sequence[str]]],
    gazetteer: Gazetteer,
    now: datetime,
    policy: DispatchPolicy,
) -> list[int]:
    """The user ids of `people` (each already found eligible, with their home
    neighborhoods on the roster), nearest to the incident first
    (ties, and people whose place is unknown, by user id), without those beyond
    `policy.max_distance_m`."""
    target = target_of(incident, gazetteer)
    ranked = sorted((distance_to(target, fv, homes, gazetteer, now), fv.user_id) for fv, homes in people)
    limit = policy.max_distance_m
    return [user_id for metres, user_id in ranked if limit is None or metres <= limit]
