"""Ports the domain needs from the outside world; `storage/` and `bot/` implement them.

The ports speak of entity modules' records only (no service module is imported here, and
no entity module imports this one), so `sereno.verify` has no import cycle."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from sereno.verify.alerts import (
    Alert,
    AlertKind,
    Delivery,
    DeliveryResult,
    MessageKind,
    OutboxMessage,
    Priority,
    TargetKind,
)
from sereno.verify.audience import ChannelLink, LinkToken, Subscriber
from sereno.verify.audit import AuditEvent
from sereno.verify.clustering import Candidate
from sereno.verify.dispatch import Dispatch, DispatchNotice, FieldVerifier, OnSiteReport
from sereno.verify.drills import DrillRun, Scenario
from sereno.verify.incidents import (
    DrillKind,
    FollowUp,
    Incident,
    MergeSuggestion,
    ReporterToTell,
    Verdict,
    VerdictRecord,
)
from sereno.verify.members import Invite, Role, Verifier
from sereno.verify.model import Activity, CleanImage, GeoPoint, Media, Report, ReportContact, Tier
from sereno.verify.places import Neighborhood
from sereno.verify.surge import SurgeOverride
from sereno.verify.trust import Trust


class Clock(Protocol):
    """The current time, timezone-aware UTC (tests move it)."""

    def now(self) -> datetime: ...


class ImageSanitizer(Protocol):
    """Makes a picture safe to keep: decoded from whatever bytes a reporter sent and
    written afresh from its pixels, so nothing but the picture survives (no GPS, device or
    time in EXIF, no XMP, IPTC, ICC or comments)."""

    def check_pixels(self, pixels: int) -> None:
        """Refuse (TOO_MANY_PIXELS, `limit`: the most pixels decoded) a picture of this many
        pixels, before it is even fetched."""
        ...

    async def sanitize(self, data: bytes, stated_pixels: int | None = None) -> CleanImage:
        """The clean picture. Raises :class:`~sereno.verify.errors.Refusal` with
        TOO_MANY_PIXELS (`limit`: the most pixels decoded) when `stated_pixels` (the size the
        sender stated, if any) or the file's own header is over the limit — then nothing is
        decoded — and with NOT_AN_IMAGE when the bytes are not a picture it can read."""
        ...


class ReportRepository(Protocol):
    """Submitted reports."""

    async def add(self, report: Report) -> None:
        """Stage a new report (a duplicate draft or reference code fails at commit)."""
        ...

    async def by_draft(self, draft_id: str) -> Report | None:
        """The report already submitted from this draft, if any (makes submit idempotent)."""
        ...

    async def count_since(self, reporter: str, since: datetime) -> int:
        """How many reports this pseudonym submitted after `since`."""
        ...

    async def oldest_since(self, reporter: str, since: datetime) -> datetime | None:
        """When the oldest report of this pseudonym after `since` was made."""
        ...

    async def delete_before(self, cutoff: datetime) -> int:
        """Delete reports made before `cutoff`, with their contacts and photos; returns how many."""
        ...

    async def incident_has_reporter(self, incident_id: str, reporter: str) -> bool:
        """Whether the incident holds a report by this pseudonym."""
        ...

    async def get(self, report_id: str) -> Report | None: ...

    async def for_incident(self, incident_id: str) -> list[Report]:
        """The incident's reports, oldest first, each with its photos' ids."""
        ...

    async def reporters_of(self, incident_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The distinct reporter pseudonyms of each of these incidents, sorted (incidents
        without reports left out): one read for a whole queue."""
        ...


class ContactRepository(Protocol):
    """Short-lived ways to answer reporters, kept apart from reports."""

    async def add(self, contact: ReportContact) -> None: ...

    async def for_incident(self, incident_id: str) -> list[ReporterToTell]:
        """How to reach every reporter of the incident who can still be reached."""
        ...

    async def delete(self, report_ids: list[str]) -> None:
        """Forget these reports' contacts."""
        ...

    async def delete_expired(self, now: datetime) -> int:
        """Delete contacts whose expiry has passed; returns how many."""
        ...


class OwedOutcomeRepository(Protocol):
    """Messages owed to reporters (outcomes and follow-up questions), recorded with the
    verdict and kept until told; each lives no longer than the reporter's contact."""

    async def add(self, owed: Sequence[ReporterToTell], claimed_at: datetime) -> None:
        """Record these as owed, claimed at `claimed_at` by whoever tells them now."""
        ...

    async def claim(self, before: datetime, now: datetime, limit: int) -> list[ReporterToTell]:
        """Take over up to `limit` owed messages claimed before `before` (oldest claim first,
        then oldest report): each is claimed again at `now` by a conditional update, so of
        several callers at once exactly one gets it. Returns those taken, with their verdict
        or question."""
        ...

    async def delete(self, keys: Sequence[str]) -> None:
        """No longer owed (`ReporterToTell.key`)."""
        ...


class MediaRepository(Protocol):
    """Photos (already stripped of metadata)."""

    async def add(self, media: Media) -> None: ...

    async def attach(self, draft_id: str, report_id: str) -> tuple[str, ...]:
        """Link the draft's photos to the report; returns their ids."""
        ...

    async def for_incident(self, incident_id: str) -> list[Media]:
        """The photos of the incident's reports, oldest first."""
        ...

    async def delete_unsubmitted_before(self, cutoff: datetime) -> int:
        """Delete photos of drafts never submitted, kept since before `cutoff`."""
        ...


class IncidentRepository(Protocol):
    """Incidents on the desk."""

    async def add(self, incident: Incident) -> None: ...

    async def get(self, incident_id: str) -> Incident | None: ...

    async def nearest_open(
        self, point: GeoPoint, cells: list[str], since: datetime, activity: Activity | None, within_m: float
    ) -> Candidate | None:
        """The nearest open incident compatible with `activity`, seen at or after `since`,
        within about `within_m` of `point` — looked up in these h3 cells (an index lookup,
        never a scan of every open incident)."""
        ...

    async def open_in_neighborhood(self, neighborhood_id: str, since: datetime) -> list[Candidate]:
        """Open incidents (not drills) of this neighborhood with a report at or after `since`."""
        ...

    async def add_report(self, incident_id: str, tier: Tier, activity: Activity | None, seen_at: datetime) -> Incident:
        """Count one more report: the tier can only become more urgent, a missing activity is
        filled in, and the last-seen time moves forward. Returns the incident as updated."""
        ...

    async def open_queue(self) -> list[Incident]:
        """Every open incident."""
        ...

    async def take_lease(self, incident_id: str, user_id: int, now: datetime, until: datetime) -> bool:
        """Give the lease to `user_id` in one conditional update: only if the incident is
        open and unclaimed, its lease has run out, or `user_id` already holds it."""
        ...

    async def drop_lease(self, incident_id: str, holder: int, expired_before: datetime | None = None) -> bool:
        """Clear the lease if `holder` holds it (and, when given, it ran out before then)."""
        ...

    async def expired_leases(self, now: datetime) -> list[tuple[str, int]]:
        """(incident id, holder) of open incidents whose lease ran out."""
        ...

    async def decide(self, incident_id: str, verdict: Verdict, at: datetime) -> None:
        """Close the incident with its final verdict (the lease goes with it)."""
        ...

    async def withdraw(self, incident_id: str) -> bool:
        """Take an open incident off the desk without a verdict (the lease goes with it);
        False if it was not open."""
        ...

    async def escalate(self, incident_id: str) -> None:
        """Mark that verifiers disagree: coordinators decide."""
        ...

    async def raise_ping(self, incident_id: str, level: int) -> bool:
        """Record that the incident was pinged at `level`, only if it was pinged less so far
        and is still unclaimed (one sender wins)."""
        ...

    async def merge_into(self, source_id: str, target_id: str) -> None:
        """Move the source's reports to the target (counts, tier and times follow) and mark
        the source merged."""
        ...

    async def points_first_seen_before(self, cutoff: datetime) -> list[tuple[str, GeoPoint]]:
        """(id, point) of every incident with a point whose first report came before `cutoff`."""
        ...

    async def move(self, incident_id: str, point: GeoPoint) -> None:
        """Store `point` as the incident's point (its cell stays)."""
        ...


class AlertRepository(Protocol):
    """Alerts and corrections."""

    async def add(self, alert: Alert) -> None: ...

    async def save(self, alert: Alert) -> None:
        """Store the alert's state, revision, update and expiry."""
        ...

    async def get(self, alert_id: str) -> Alert | None: ...

    async def for_incident(self, incident_id: str, kind: AlertKind) -> Alert | None: ...

    async def active(self) -> list[Alert]:
        """Active alerts (not corrections), newest first."""
        ...

    async def due(self, now: datetime) -> list[Alert]:
        """Active alerts and corrections whose lifetime ended by `now`."""
        ...

    async def uncorrected_debunked(self, since: datetime) -> list[Incident]:
        """Incidents (not drills) debunked after `since` that have no correction, newest first."""
        ...

    async def verified_between(
        self,
        since: datetime | None,
        until: datetime | None,
        neighborhood_id: str | None = None,
        *,
        active_only: bool = False,
        limit: int | None = None,
    ) -> list[Alert]:
        """Alerts and corrections verified at or after `since` and before `until` (None: no
        bound), only those about `neighborhood_id` (their own neighborhood, not the adjacent
        ones they also reached) when given, only active ones when `active_only`; newest
        first, at most `limit`."""
        ...


class OutboxRepository(Protocol):
    """Messages waiting for the broadcaster, and what became of them."""

    async def fan_out(
        self,
        alert_id: str,
        areas: Sequence[str],
        target: TargetKind,
        kind: MessageKind,
        revision: int,
        priority: Priority,
        now: datetime,
        post_languages: Callable[[str], Sequence[str]] = ...,
    ) -> int:
        """One message per active subscriber of `areas`, each chat once, in its language; or
        per linked channel of `areas`, each chat once per language `post_languages` gives
        for its link's languages (default: one combined post in them). Returns how many
        were queued."""
        ...

    async def fan_out_edits(self, alert_id: str, kind: MessageKind, revision: int, now: datetime) -> int:
        """One edit per channel post that was sent (or will be sent), in that post's language."""
        ...

    async def fan_out_replies(self, alert_id: str, kind: MessageKind, revision: int, now: datetime) -> int:
        """One message per subscriber who was sent (or will be sent) the alert's post."""
        ...

    async def claim(self, limit: int, now: datetime, epoch: int | None = None) -> list[OutboxMessage]:
        """Mark up to `limit` due pending messages as sending and return them, most urgent
        first (concurrent claimers never get the same message). With `epoch`, only while
        the leader lease still has that epoch and has not run out (else nothing)."""
        ...

    async def recent_sends(self, since: datetime) -> list[tuple[int, datetime | None]]:
        """(chat id, sent at) of each message sent since `since`, and (chat id, None) of
        each message to a group or channel still marked sending (it may have gone out)."""
        ...

    async def finish(self, results: Sequence[DeliveryResult], now: datetime) -> None:
        """Record what happened to claimed messages."""
        ...

    async def recover(self) -> int:
        """Return every message left sending (by a process that died) to pending."""
        ...

    async def post_of(self, alert_id: str, chat_id: int, language: str) -> OutboxMessage | None:
        """The alert's post to this chat in this language, as delivered so far."""
        ...

    async def drop_pending(self, chat_id: int, error: str, now: datetime) -> int:
        """Fail every pending message to this chat (it blocked the bot, or is gone)."""
        ...

    async def backlog(self) -> int:
        """Messages pending or sending."""
        ...

    async def oldest_waiting(self) -> datetime | None:
        """When the oldest message still pending or sending was written (None: none is)."""
        ...

    async def for_alert(self, alert_id: str) -> list[OutboxMessage]: ...


class StatsRepository(Protocol):
    """Read-only figures for desk statistics."""

    async def reports_by_area(self, since: datetime, until: datetime) -> dict[str | None, int]:
        """Reports made in [since, until], by neighborhood id (None: no place); drills' synthetic
        reports are not counted."""
        ...

    async def incidents_between(self, since: datetime, until: datetime) -> list[Incident]:
        """Incidents first reported in [since, until], drills left out."""
        ...

    async def alerts_between(self, since: datetime, until: datetime) -> list[Alert]:
        """Alerts and corrections verified in [since, until]."""
        ...

    async def deliveries(self, alert_ids: Sequence[str]) -> dict[str, dict[Delivery, int]]:
        """Outbox messages of these alerts by state, per alert."""
        ...


class DrillRepository(Protocol):
    """Training scenarios, the drills worked on the desk, and certification proposals."""

    async def save(self, scenario: Scenario, at: datetime) -> bool:
        """Store or replace a scenario; True when it was new."""
        ...

    async def all(self) -> list[Scenario]: ...

    async def get(self, scenario_id: str) -> Scenario | None: ...

    async def add_run(self, run: DrillRun) -> None: ...

    async def run_for_incident(self, incident_id: str) -> DrillRun | None: ...

    async def runs(self, kind: DrillKind, person: int | None) -> list[DrillRun]:
        """Runs of this kind (of `person` only, when given), oldest first."""
        ...

    async def finish(self, run: DrillRun) -> None:
        """Store the run's verdict, first claim and finish time."""
        ...

    async def propose(self, user_id: int, at: datetime) -> bool:
        """Record that this trainee was proposed for promotion; False if they already were."""
        ...


class SubscriberRepository(Protocol):
    """Subscribers and the neighborhoods they follow."""

    async def get(self, chat_id: int) -> Subscriber | None: ...

    async def save(self, subscriber: Subscriber) -> None:
        """Create or update (language, active)."""
        ...

    async def areas(self, chat_id: int) -> list[str]: ...

    async def add_area(self, chat_id: int, neighborhood_id: str) -> None: ...

    async def remove_area(self, chat_id: int, neighborhood_id: str) -> None: ...

    async def forget(self, chat_id: int) -> None:
        """Delete the subscriber and every area."""
        ...

    async def set_language(self, chat_id: int, language: str) -> None: ...

    async def deactivate(self, chat_id: int) -> None:
        """The chat blocked the bot: send it nothing until it subscribes again."""
        ...


class ChannelRepository(Protocol):
    """Neighborhood channel links."""

    async def save(self, link: ChannelLink) -> None:
        """Create or replace the link (clearing any problem)."""
        ...

    async def flag(self, chat_id: int, problem: str) -> list[ChannelLink]:
        """Set `problem` on the links to this chat that had none; returns those."""
        ...

    async def add_token(self, token: LinkToken, now: datetime) -> None:
        """Store a pending link command, and forget those expired before `now`."""
        ...

    async def token(self, token_hash: str) -> LinkToken | None: ...

    async def bind_token(self, token_hash: str, chat_id: int) -> bool:
        """Bind the token to `chat_id` unless it is bound to another chat (False)."""
        ...

    async def use_token(self, token_hash: str, chat_id: int, now: datetime) -> bool:
        """Mark the token used, only if it is bound to `chat_id`, unused and unexpired (one
        winner in a race)."""
        ...


class VerdictRepository(Protocol):
    """Everyone's verdicts, kept (trainees' too): one per person per incident."""

    async def add(self, record: VerdictRecord) -> bool:
        """Store the verdict, unless its person already has one on the incident (False:
        nothing stored; a vote sent twice at once is stored once)."""
        ...

    async def redact_before(self, cutoff: datetime) -> int:
        """Blank the reasons of verdicts given before `cutoff`; returns how many had one."""
        ...

    async def for_incident(self, incident_id: str) -> tuple[VerdictRecord, ...]:
        """The verdicts on an incident, oldest first."""
        ...


class MergeRepository(Protocol):
    """Merge suggestions shown to verifiers."""

    async def suggest(self, suggestion: MergeSuggestion) -> None: ...

    async def open_for(self, incident_id: str) -> MergeSuggestion | None:
        """The open suggestion made when this incident was opened, if any."""
        ...

    async def resolve(self, incident_id: str, status: str) -> None:
        """Close the incident's suggestion as "merged" or "separate"."""
        ...


class VerifierRepository(Protocol):
    """The roster."""

    async def get(self, user_id: int) -> Verifier | None: ...

    async def save(self, verifier: Verifier) -> None:
        """Insert or replace the entry."""
        ...

    async def all(self) -> list[Verifier]: ...


class InviteRepository(Protocol):
    """One-time invite codes."""

    async def add(self, invite: Invite) -> None: ...

    async def get(self, code: str) -> Invite | None: ...

    async def use(self, code: str, user_id: int, at: datetime) -> bool:
        """Mark the code used by `user_id`, only if nobody used it yet (one winner in a race)."""
        ...

    async def void_issued_by(self, user_id: int, roles: Sequence[Role], at: datetime) -> int:
        """Make the unused, unexpired invites `user_id` issued for one of `roles` expire at
        `at`; returns how many."""
        ...


class FollowUpRepository(Protocol):
    """Questions to reporters and their answers."""

    async def add(self, follow_up: FollowUp) -> None: ...

    async def get(self, follow_up_id: str) -> FollowUp | None: ...

    async def answer(self, follow_up_id: str, answer: str, at: datetime) -> bool:
        """Store the answer, only if none was given yet."""
        ...

    async def for_incident(self, incident_id: str) -> list[FollowUp]: ...


class AuditRepository(Protocol):
    """The append-only audit trail."""

    async def add(self, event: AuditEvent) -> None: ...


class NeighborhoodRepository(Protocol):
    """The deployment's neighborhoods."""

    async def replace_all(self, neighborhoods: list[Neighborhood]) -> None:
        """Make the stored neighborhoods exactly `neighborhoods`; those whose id is kept keep
        their subscriptions and channel links."""

    async def all(self) -> list[Neighborhood]: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; leaving without `commit()` rolls back."""

    @property
    def reports(self) -> ReportRepository: ...

    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def owed(self) -> OwedOutcomeRepository: ...

    @property
    def media(self) -> MediaRepository: ...

    @property
    def neighborhoods(self) -> NeighborhoodRepository: ...

    @property
    def incidents(self) -> IncidentRepository: ...

    @property
    def merges(self) -> MergeRepository: ...

    @property
    def verifiers(self) -> VerifierRepository: ...

    @property
    def invites(self) -> InviteRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def verdicts(self) -> VerdictRepository: ...

    @property
    def follow_ups(self) -> FollowUpRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def subscribers(self) -> SubscriberRepository: ...

    @property
    def channels(self) -> ChannelRepository: ...

    @property
    def stats(self) -> StatsRepository: ...

    @property
    def drills(self) -> DrillRepository: ...

    @property
    def field_verifiers(self) -> FieldVerifierRepository: ...

    @property
    def dispatches(self) -> DispatchRepository: ...

    @property
    def on_site_reports(self) -> OnSiteReportRepository: ...

    @property
    def dispatch_notices(self) -> DispatchNoticeRepository: ...

    @property
    def trust(self) -> TrustRepository: ...

    @property
    def surges(self) -> SurgeRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Make the work durable; raises `sereno.verify.errors.Conflict` on a uniqueness clash."""
        ...

    async def rollback(self) -> None:
        """Drop what this unit did so far and carry on in a fresh transaction."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use case."""

    def __call__(self) -> UnitOfWork: ...

    async def reclaim(self) -> None:
        """Overwrite the space freed by deletes, so what was deleted cannot be read back
        from the database's files (outside any unit of work; slow on a large database)."""
        ...


class FieldVerifierRepository(Protocol):
    """Desk members who opted in to be sent to look."""

    async def get(self, user_id: int) -> FieldVerifier | None: ...

    async def save(self, field_verifier: FieldVerifier) -> None:
        """Insert or replace the entry."""
        ...

    async def remove(self, user_id: int) -> bool:
        """Opt out (the entry and any location go); False if they had not opted in."""
        ...

    async def all(self) -> list[FieldVerifier]: ...

    async def stale_points(self, now: datetime) -> list[FieldVerifier]:
        """Those holding a shared location whose `point_until` is at or before `now`."""
        ...


class DispatchRepository(Protocol):
    """Dispatches, with the due time of their next timed step (`due`, None: none)."""

    async def add(self, dispatch: Dispatch, due: datetime | None) -> None:
        """Stage a new dispatch; a second open ask for one incident fails with `Conflict`
        (at once or at commit)."""
        ...

    async def get(self, dispatch_id: str) -> Dispatch | None: ...

    async def save(self, dispatch: Dispatch, due: datetime | None, previous: int) -> bool:
        """Store the dispatch only if the stored one is still at version `previous` (one
        conditional update: of two changes at one moment, one wins); False otherwise."""
        ...

    async def for_incident(self, incident_id: str) -> list[Dispatch]:
        """The incident's dispatches, oldest first."""
        ...

    async def open(self) -> list[Dispatch]:
        """Every open dispatch (offered, accepted, on site), oldest first."""
        ...

    async def due(self, now: datetime, limit: int) -> list[Dispatch]:
        """Up to `limit` open dispatches whose next step is due by `now`, earliest first."""
        ...

    async def between(self, since: datetime, until: datetime) -> list[tuple[Dispatch, datetime]]:
        """Dispatches made in [since, until], each with its incident's first report time."""
        ...


class OnSiteReportRepository(Protocol):
    """Field verifiers' reports from the scene (one per dispatch)."""

    async def add(self, report: OnSiteReport) -> None:
        """Stage the report; a second one for the same dispatch fails with `Conflict` (at
        once or at commit)."""
        ...

    async def for_dispatch(self, dispatch_id: str) -> OnSiteReport | None: ...

    async def for_incident(self, incident_id: str) -> list[OnSiteReport]:
        """The incident's on-site reports, oldest first."""
        ...

    async def redact_before(self, cutoff: datetime) -> int:
        """Blank the text and typed place of reports made before `cutoff`; returns how many
        had any."""
        ...


class DispatchNoticeRepository(Protocol):
    """Messages the dispatch owes people, kept until sent."""

    async def add(self, notices: Sequence[DispatchNotice], claimed_at: datetime) -> None:
        """Record these as owed, claimed at `claimed_at` by whoever sends them now."""
        ...

    async def claim(self, before: datetime, now: datetime, limit: int) -> list[DispatchNotice]:
        """Take over up to `limit` notices claimed before `before` (oldest first), each
        claimed again at `now` by a conditional update (of several callers, one gets it)."""
        ...

    async def delete(self, notice_ids: Sequence[str]) -> None:
        """Sent (or never sendable): no longer owed."""
        ...


class TrustRepository(Protocol):
    """Past outcomes per reporter pseudonym."""

    async def outcomes(self, reporters: Sequence[str], exclude_incident: str | None = None) -> dict[str, Trust]:
        """For each pseudonym with any: how many distinct decided incidents (drills and
        `exclude_incident` left out) holding a report by it were confirmed and debunked."""
        ...


class SurgeRepository(Protocol):
    """Coordinators' surge overrides, report counts, and the last surge summary."""

    async def overrides(self) -> list[SurgeOverride]: ...

    async def set_override(self, override: SurgeOverride) -> None:
        """Insert or replace the override of its neighborhood."""
        ...

    async def clear_override(self, neighborhood_id: str) -> bool: ...

    async def report_counts(self, since: datetime, until: datetime) -> dict[str | None, int]:
        """Reports made after `since` up to and including `until`, by neighborhood id (None:
        no place); drills' left out."""
        ...

    async def last_summary(self) -> datetime | None: ...

    async def claim_summary(self, previous: datetime | None, at: datetime) -> bool:
        """Record a summary sent at `at`, only if the last one is still `previous` (one
        sender wins)."""
        ...
