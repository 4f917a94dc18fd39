"""The intake service: turns a finished draft into a stored report, safely and once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sereno.verify.clustering import (
    Candidate,
    ClusterPolicy,
    Decision,
    Placement,
    cell_of,
    distance_m,
    place,
    search_stages,
)
from sereno.verify.errors import Conflict, Refusal, RefusalReason
from sereno.verify.incidents import FollowUp, Incident, IncidentStatus, MergeSuggestion
from sereno.verify.members import Role, Verifier
from sereno.verify.model import (
    Activity,
    GeoPoint,
    Media,
    Report,
    ReportContact,
    ReportDraft,
    Tier,
)
from sereno.verify.notices import CardNotice, CardReason, covering
from sereno.verify.places import Gazetteer
from sereno.verify.ports import Clock, ImageSanitizer, IncidentRepository, UnitOfWork, UnitOfWorkFactory
from sereno.verify.pseudonyms import Pseudonymizer
from sereno.verify.refcodes import new_ref_code
from sereno.verify.surge import CoordinatorNotice, ReportLimit, Review, SurgeStatus
from sereno.verify.surge_service import SurgeService
from sereno.verify.triage import tier_for

_REF_CODE_ATTEMPTS = 20  # a collision is rare (codes are random); each retry draws anew


async def nearest_incident(
    incidents: IncidentRepository, point: GeoPoint, activity: Activity | None, since: datetime, policy: ClusterPolicy
) -> Candidate | None:
    """The nearest compatible open incident within the fringe of `point`: the report's own
    cell and its neighbours first, the whole fringe only when that cannot settle it."""
    within = policy.fringe_m * 1.01  # a hair wider: `place` decides on exact distances
    nearest = None
    for cells, sure_within in search_stages(point, policy):
        nearest = await incidents.nearest_open(point, cells, since, activity, within)
        if nearest is not None and nearest.point is not None and distance_m(point, nearest.point) <= sure_within:
            break
    return nearest


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    """Limits of the intake; every figure is configurable per deployment."""

    max_reports: int = 5
    window: timedelta = timedelta(minutes=10)
    contact_ttl: timedelta = timedelta(days=3)
    #: Photos one report may carry; more are refused before they are downloaded.
    max_photos: int = 5


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored report and the incident it now belongs to. `duplicate` is true when this
    draft had been submitted before (nothing was stored then); `placement` says whether the
    report opened the incident, joined it, or opened it with a merge suggested; `escalated`
    that joining made the incident more urgent. `cards` says whom to send the incident's
    card: for a new incident, or one this report made more urgent, the verifiers on duty
    covering it who read the report's language, nearest first (nothing for a duplicate or
    a report that joined without changing anything)."""

    report: Report
    duplicate: bool
    incident: Incident | None = None
    placement: Placement | None = None
    escalated: bool = False
    cards: tuple[CardNotice, ...] = ()


class IntakeService:
    """Stores reports under pseudonyms, with the contact kept apart, one per draft, and
    their photos as `images` (the image sanitizer) re-encodes them."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        pseudonymize: Pseudonymizer,
        policy: IntakePolicy | None = None,
        clustering: ClusterPolicy | None = None,
        *,
        images: ImageSanitizer,
        gazetteer: Gazetteer | None = None,
        surge: SurgeService | None = None,
    ) -> None:
        """`gazetteer`: the neighborhoods, to order the verifiers told of a new incident
        nearest first (without it, in roster order). `surge`: surge mode (without it, never
        in surge): in a surging neighborhood the rate limit per reporter tightens, an
        incident of few new reporters waits for batch review (no card), and coordinators
        are left out of the cards (they get the surge summary instead)."""
        self._uow = uow
        self._clock = clock
        self._pseudonymize = pseudonymize
        self._images = images
        self.policy = policy or IntakePolicy()
        self.clustering = clustering or ClusterPolicy()
        self._gazetteer = gazetteer
        self._surge = surge
        self._limited_until: dict[str, datetime] = {}
        self._limits: dict[str, ReportLimit] = {}

    def wait_before_reporting(self, user_id: int) -> timedelta | None:
        """How long this person must still wait, as far as this process knows (no I/O): set
        when a submission was refused for the rate limit. `submit` always checks for real."""
        reporter = self._pseudonymize(user_id)
        until = self._limited_until.get(reporter)
        if until is None:
            return None
        now = self._clock.now()
        if until <= now:
            del self._limited_until[reporter]
            self._limits.pop(reporter, None)
            return None
        return until - now

    def limit_applied(self, user_id: int) -> ReportLimit:
        """The limit this person was last refused under (tighter in surge), else the usual."""
        return self._limits.get(self._pseudonymize(user_id), self.usual_limit)

    @property
    def usual_limit(self) -> ReportLimit:
        """The per-reporter limit outside surge."""
        return ReportLimit(self.policy.max_reports, self.policy.window)

    async def submit(self, draft: ReportDraft, user_id: int, chat_id: int, language: str) -> Submitted:
        """Store the draft as a report (pseudonymous reporter, triage tier, unique reference
        code) in the incident it belongs to (joined, or opened — with a merge suggested when
        it is near another one), keep the chat id apart in a contact row that expires, and
        attach the draft's photos — all in one transaction.

        Submitting the same draft again returns the first report (`duplicate=True`) and
        stores nothing. Raises :class:`Refusal` (RATE_LIMITED: `retry_after`, `limit` reports per
        `window`) when the reporter is over the limit.
        """
        reporter = self._pseudonymize(user_id)
        for _ in range(_REF_CODE_ATTEMPTS):
            try:
                return await self._store(draft, reporter, chat_id, language)
            except Conflict:
                async with self._uow() as uow:
                    existing = await uow.reports.by_draft(draft.draft_id)
                if existing is not None:
                    return Submitted(existing, duplicate=True)
                # else the reference code was taken meanwhile: draw another one
        raise RuntimeError("no free reference code; widen refcodes.LENGTH")

    async def _store(self, draft: ReportDraft, reporter: str, chat_id: int, language: str) -> Submitted:
        limit = self.usual_limit
        surging: dict[str, SurgeStatus] = {}
        if self._surge is not None:  # read before the write transaction (a snapshot, mostly cached)
            surging = {k: s for k, s in (await self._surge.statuses()).items() if s.on}
            limit = await self._surge.report_limit(draft.neighborhood_id, limit)
        now = self._clock.now()
        async with self._uow() as uow:
            since = now - limit.window
            if await uow.reports.count_since(reporter, since) >= limit.max_reports:
                oldest = await uow.reports.oldest_since(reporter, since) or now
                self._limited_until[reporter] = oldest + limit.window
                self._limits[reporter] = limit
                raise Refusal(
                    RefusalReason.RATE_LIMITED,
                    limit=limit.max_reports,
                    window=limit.window,
                    retry_after=max(oldest + limit.window - now, timedelta(seconds=1)),
                )
            report_id = str(uuid.uuid4())
            tier = tier_for(draft)
            incident, decision, escalated = await self._cluster(uow, draft, tier, now)
            report = Report(
                id=report_id,
                ref_code=new_ref_code(),
                draft_id=draft.draft_id,
                reporter=reporter,
                language=language,
                tier=tier,
                created_at=now,
                activity=draft.activity,
                time_seen=draft.time_seen,
                agents=draft.agents,
                vehicles=draft.vehicles,
                uniform=draft.uniform,
                details=draft.details,
                point=draft.point,
                place_text=draft.place_text,
                neighborhood_id=draft.neighborhood_id,
                incident_id=incident.id,
            )
            await uow.reports.add(report)
            await uow.contacts.add(ReportContact(report_id, chat_id, language, expires_at=now + self.policy.contact_ttl))
            if draft.photos:
                report = replace(report, media_ids=await uow.media.attach(draft.draft_id, report_id))
            cards: tuple[CardNotice, ...] = ()
            in_surge = incident.neighborhood_id in surging
            people = await uow.verifiers.all() if decision.placement is not Placement.JOIN or escalated or in_surge else []
            if decision.placement is not Placement.JOIN or escalated:
                to = covering(people, incident, language, self._gazetteer)
                cards = (CardNotice(incident, CardReason.NEW, to),)
            await uow.commit()
        if in_surge:
            cards = await self._surge_cards(incident, reporter, decision.placement, cards, people, language)
        return Submitted(report, False, incident, decision.placement, escalated, cards)

    async def _surge_cards(
        self,
        incident: Incident,
        reporter: str,
        placement: Placement,
        cards: tuple[CardNotice, ...],
        people: list[Verifier],
        language: str,
    ) -> tuple[CardNotice, ...]:
        """The cards of a report in a surging neighborhood (after its transaction): none
        while the incident waits for batch review; the card, as for a new incident, when
        this report brought it out of batch review; coordinators left out (they get the
        summary)."""
        assert self._surge is not None
        plan = await self._surge.plan(incident.id, reporter if placement is Placement.JOIN else None)
        if plan.review is Review.BATCH:
            return ()
        if not cards and not plan.promoted:
            return ()
        if plan.coordinators is CoordinatorNotice.SUMMARY:
            people = [p for p in people if not p.can(Role.COORDINATOR)]
        return (CardNotice(incident, CardReason.NEW, covering(people, incident, language, self._gazetteer)),)

    async def _cluster(self, uow: UnitOfWork, draft: ReportDraft, tier: Tier, now: datetime) -> tuple[Incident, Decision, bool]:
        """Join the report's incident, or open one (suggesting a merge when near another)."""
        since = now - self.clustering.window
        if draft.point is not None:
            nearest = await nearest_incident(uow.incidents, draft.point, draft.activity, since, self.clustering)
            candidates = [nearest] if nearest is not None else []
        elif draft.neighborhood_id is not None:
            candidates = await uow.incidents.open_in_neighborhood(draft.neighborhood_id, since)
        else:
            candidates = []
        decision = place(draft.point, draft.neighborhood_id, draft.activity, now, candidates, self.clustering)
        if decision.placement is Placement.JOIN:
            assert decision.target is not None
            joined = await uow.incidents.add_report(decision.target.incident_id, tier, draft.activity, now)
            return joined, decision, joined.tier != decision.target.tier
        incident = Incident(
            id=str(uuid.uuid4()),
            status=IncidentStatus.OPEN,
            tier=tier,
            activity=draft.activity,
            neighborhood_id=draft.neighborhood_id,
            point=draft.point,
            cell=cell_of(draft.point) if draft.point else None,
            first_seen_at=now,
            last_seen_at=now,
            report_count=1,
        )
        await uow.incidents.add(incident)
        if decision.target is not None:  # a suggestion
            await uow.merges.suggest(MergeSuggestion(incident.id, decision.target.incident_id, decision.distance_m))
        return incident, decision, False

    async def answer_follow_up(self, follow_up_id: str, user_id: int, text: str) -> FollowUp | None:
        """Attach a reporter's answer to the question about their report. Only the person who
        made the report can answer, once; anything else returns None and changes nothing."""
        now = self._clock.now()
        async with self._uow() as uow:
            follow_up = await uow.follow_ups.get(follow_up_id)
            report = await uow.reports.get(follow_up.report_id) if follow_up else None
            if follow_up is None or report is None or report.reporter != self._pseudonymize(user_id):
                return None
            if not await uow.follow_ups.answer(follow_up_id, text, now):
                return None
            await uow.commit()
        return replace(follow_up, answer=text, answered_at=now)

    def check_photo_size(self, stated_pixels: int) -> None:
        """Refuse (TOO_MANY_PIXELS) a photo whose stated size is over the image sanitizer's
        limit: checked before the photo is downloaded at all."""
        self._images.check_pixels(stated_pixels)

    async def keep_photo(self, draft_id: str, data: bytes, stated_pixels: int | None = None) -> Media:
        """Store a photo for a draft, whatever bytes it came as: only what the image
        sanitizer re-encodes from its pixels is kept, never the bytes given (no EXIF, GPS or
        other metadata). `stated_pixels` is the size the sender stated, checked before
        anything is decoded. Raises :class:`Refusal` (NOT_AN_IMAGE, TOO_MANY_PIXELS) and
        stores nothing when the picture cannot be kept. Returns the stored record."""
        clean = await self._images.sanitize(data, stated_pixels)
        media = Media(
            id=str(uuid.uuid4()),
            draft_id=draft_id,
            content=clean.content,
            mime_type=clean.mime_type,
            width=clean.width,
            height=clean.height,
            created_at=self._clock.now(),
        )
        async with self._uow() as uow:
            await uow.media.add(media)
            await uow.commit()
        return media
