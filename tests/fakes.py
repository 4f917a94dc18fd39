"""In-memory implementations of the `sereno.verify.ports` protocols, for domain tests.

Each repository keeps the semantics of its `sereno.storage` counterpart: the same order of
results, the same uniqueness (a clash raises :class:`sereno.verify.errors.Conflict`, where
the database would refuse the statement or the commit), the same references (a row about a
missing incident, alert, subscriber or neighborhood is refused; deleting the neighborhoods
deletes what refers to them, like the tables' ON DELETE CASCADE) and the same returns.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sereno.verify.alerts import (
    Alert,
    AlertKind,
    AlertState,
    Delivery,
    DeliveryResult,
    MessageKind,
    OutboxMessage,
    Priority,
    TargetKind,
)
from sereno.verify.audience import ChannelLink, LinkToken, Subscriber
from sereno.verify.audit import AuditEvent
from sereno.verify.clustering import Candidate, compatible, distance_m
from sereno.verify.dispatch import Dispatch, DispatchNotice, DispatchState, FieldVerifier, OnSiteReport
from sereno.verify.drills import DrillRun, Scenario, parse_scenarios, scenario_document
from sereno.verify.errors import Conflict
from sereno.verify.incidents import (
    DrillKind,
    FollowUp,
    Incident,
    IncidentStatus,
    MergeSuggestion,
    ReporterToTell,
    Verdict,
    VerdictRecord,
    more_urgent,
)
from sereno.verify.members import Invite, Role, Verifier
from sereno.verify.model import Activity, GeoPoint, Media, Report, ReportContact, Tier
from sereno.verify.places import Neighborhood
from sereno.verify.surge import SurgeOverride
from sereno.verify.training import DRILL_REPORTER
from sereno.verify.trust import Trust

#: Outbox messages that reached (or may be reaching) their chat: lifecycle messages follow them.
_DELIVERED_OR_COMING = (Delivery.PENDING, Delivery.SENDING, Delivery.SENT)


@dataclass
class MemoryStore:
    """What a database would hold."""

    reports: dict[str, Report] = field(default_factory=dict)
    contacts: dict[str, ReportContact] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    neighborhoods: list[Neighborhood] = field(default_factory=list)
    incidents: dict[str, Incident] = field(default_factory=dict)
    merges: list[MergeSuggestion] = field(default_factory=list)
    verifiers: dict[int, Verifier] = field(default_factory=dict)
    invites: dict[str, Invite] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    verdicts: list[VerdictRecord] = field(default_factory=list)
    follow_ups: dict[str, FollowUp] = field(default_factory=dict)
    #: owed messages by key, with when they were claimed
    owed: dict[str, tuple[ReporterToTell, datetime]] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    #: outbox messages by id (ids count up from 1, like the table's), and when each was sent
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    sent_at: dict[int, datetime] = field(default_factory=dict)
    next_outbox_id: int = 1
    #: the leader lease as (epoch, expires at); None: nobody leads (see `_Outbox.claim`)
    leader: tuple[int, datetime] | None = None
    subscribers: dict[int, Subscriber] = field(default_factory=dict)
    #: (chat id, neighborhood id), in the order they were added
    subscriptions: list[tuple[int, str]] = field(default_factory=list)
    channels: list[ChannelLink] = field(default_factory=list)
    link_tokens: dict[str, LinkToken] = field(default_factory=dict)
    #: scenarios as stored: the document they round-trip through, and when imported
    scenarios: dict[str, tuple[dict[str, Any], datetime]] = field(default_factory=dict)
    drill_runs: dict[str, DrillRun] = field(default_factory=dict)
    #: trainees proposed for promotion, and when
    proposals: dict[int, datetime] = field(default_factory=dict)
    commits: int = 0
    #: how many times the freed space was overwritten (`reclaim`)
    reclaimed: int = 0
    dispatch: DispatchMemory = field(default_factory=lambda: DispatchMemory())

    def copy(self) -> MemoryStore:
        """A copy to stage changes on (rows are frozen, so copying the containers suffices)."""
        return MemoryStore(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})


class _Reports:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, report: Report) -> None:
        self._s.reports[report.id] = report

    async def by_draft(self, draft_id: str) -> Report | None:
        return next((r for r in self._s.reports.values() if r.draft_id == draft_id), None)

    async def count_since(self, reporter: str, since: datetime) -> int:
        return sum(1 for r in self._s.reports.values() if r.reporter == reporter and r.created_at > since)

    async def oldest_since(self, reporter: str, since: datetime) -> datetime | None:
        times = [r.created_at for r in self._s.reports.values() if r.reporter == reporter and r.created_at > since]
        return min(times, default=None)

    async def get(self, report_id: str) -> Report | None:
        return self._s.reports.get(report_id)

    async def for_incident(self, incident_id: str) -> list[Report]:
        return sorted((r for r in self._s.reports.values() if r.incident_id == incident_id), key=lambda r: r.created_at)

    async def incident_has_reporter(self, incident_id: str, reporter: str) -> bool:
        return any(r.incident_id == incident_id and r.reporter == reporter for r in self._s.reports.values())

    async def reporters_of(self, incident_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        wanted = set(incident_ids)
        found: dict[str, set[str]] = {}
        for r in self._s.reports.values():
            if r.incident_id in wanted:
                found.setdefault(r.incident_id, set()).add(r.reporter)
        return {incident_id: tuple(sorted(reporters)) for incident_id, reporters in found.items()}

    async def delete_before(self, cutoff: datetime) -> int:
        old = {i for i, r in self._s.reports.items() if r.created_at < cutoff}
        self._s.contacts = {k: c for k, c in self._s.contacts.items() if k not in old}
        self._s.media = {k: m for k, m in self._s.media.items() if m.report_id not in old}
        self._s.reports = {k: r for k, r in self._s.reports.items() if k not in old}
        return len(old)


class _Contacts:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, contact: ReportContact) -> None:
        self._s.contacts[contact.report_id] = contact

    async def for_incident(self, incident_id: str) -> list[ReporterToTell]:
        reports = sorted((r for r in self._s.reports.values() if r.incident_id == incident_id), key=lambda r: r.created_at)
        return [
            ReporterToTell(r.id, r.ref_code, c.chat_id, c.language)
            for r in reports
            if (c := self._s.contacts.get(r.id)) is not None
        ]

    async def delete(self, report_ids: list[str]) -> None:
        for report_id in report_ids:
            self._s.contacts.pop(report_id, None)

    async def delete_expired(self, now: datetime) -> int:
        gone = [k for k, c in self._s.contacts.items() if c.expires_at <= now]
        for k in gone:
            del self._s.contacts[k]
        return len(gone)


class _Owed:
    """Owed messages; like the table, one lives no longer than its report's contact."""

    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, owed: Sequence[ReporterToTell], claimed_at: datetime) -> None:
        for reporter in owed:
            self._s.owed[reporter.key] = (reporter, claimed_at)

    async def claim(self, before: datetime, now: datetime, limit: int) -> list[ReporterToTell]:
        self._s.owed = {k: o for k, o in self._s.owed.items() if o[0].report_id in self._s.contacts}
        stale = sorted(
            (o for o in self._s.owed.values() if o[1] < before),
            key=lambda o: (o[1], self._s.reports[o[0].report_id].created_at, o[0].key),
        )[:limit]
        for reporter, _ in stale:
            self._s.owed[reporter.key] = (reporter, now)
        return [reporter for reporter, _ in stale]

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._s.owed.pop(key, None)


class _Media:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, media: Media) -> None:
        self._s.media[media.id] = media

    async def attach(self, draft_id: str, report_id: str) -> tuple[str, ...]:
        ids = tuple(m.id for m in self._s.media.values() if m.draft_id == draft_id)
        for i in ids:
            self._s.media[i] = replace(self._s.media[i], report_id=report_id)
        return ids

    async def for_incident(self, incident_id: str) -> list[Media]:
        reports = {r.id for r in self._s.reports.values() if r.incident_id == incident_id}
        on_site = {r.photo_id for r in self._s.dispatch.on_site.values() if r.incident_id == incident_id and r.photo_id}
        found = (m for m in self._s.media.values() if m.report_id in reports or m.id in on_site)
        return sorted(found, key=lambda m: (m.created_at, m.id))

    async def delete_unsubmitted_before(self, cutoff: datetime) -> int:
        kept = {r.photo_id for r in self._s.dispatch.on_site.values() if r.photo_id}
        gone = [k for k, m in self._s.media.items() if m.report_id is None and m.created_at < cutoff and k not in kept]
        for k in gone:
            del self._s.media[k]
        return len(gone)


class _Incidents:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, incident: Incident) -> None:
        self._s.incidents[incident.id] = incident

    async def get(self, incident_id: str) -> Incident | None:
        return self._s.incidents.get(incident_id)

    def _candidates(self, keep: object, since: datetime) -> list[Candidate]:
        return [
            Candidate(i.id, i.point, i.neighborhood_id, i.activity, i.last_seen_at, i.tier)
            for i in self._s.incidents.values()
            if i.status is IncidentStatus.OPEN and i.last_seen_at >= since and keep(i)  # type: ignore[operator]
        ]

    async def nearest_open(
        self, point: GeoPoint, cells: list[str], since: datetime, activity: Activity | None, within_m: float
    ) -> Candidate | None:
        wanted = set(cells)
        near = [
            (distance_m(point, c.point), c)
            for c in self._candidates(lambda i: i.cell in wanted, since)
            if c.point is not None and compatible(activity, c.activity)
        ]
        near = [(d, c) for d, c in near if d <= within_m]
        return min(near, key=lambda pair: pair[0])[1] if near else None

    async def open_in_neighborhood(self, neighborhood_id: str, since: datetime) -> list[Candidate]:
        return self._candidates(lambda i: i.neighborhood_id == neighborhood_id, since)

    async def add_report(self, incident_id: str, tier: Tier, activity: Activity | None, seen_at: datetime) -> Incident:
        old = self._s.incidents[incident_id]
        new = replace(
            old,
            report_count=old.report_count + 1,
            last_seen_at=max(old.last_seen_at, seen_at),
            tier=more_urgent(old.tier, tier),
            activity=old.activity or activity,
        )
        self._s.incidents[incident_id] = new
        return new

    async def open_queue(self) -> list[Incident]:
        return [i for i in self._s.incidents.values() if i.status is IncidentStatus.OPEN]

    async def take_lease(self, incident_id: str, user_id: int, now: datetime, until: datetime) -> bool:
        i = self._s.incidents.get(incident_id)
        if i is None or i.status is not IncidentStatus.OPEN:
            return False
        if i.claimed_by not in (None, user_id) and i.lease_until is not None and i.lease_until > now:
            return False
        self._s.incidents[incident_id] = replace(
            i, claimed_by=user_id, lease_until=until, first_claimed_at=i.first_claimed_at or now
        )
        return True

    async def drop_lease(self, incident_id: str, holder: int, expired_before: datetime | None = None) -> bool:
        i = self._s.incidents.get(incident_id)
        if i is None or i.claimed_by != holder:
            return False
        if expired_before is not None and (i.lease_until is None or i.lease_until > expired_before):
            return False
        self._s.incidents[incident_id] = replace(i, claimed_by=None, lease_until=None)
        return True

    async def expired_leases(self, now: datetime) -> list[tuple[str, int]]:
        return [
            (i.id, i.claimed_by)
            for i in self._s.incidents.values()
            if i.status is IncidentStatus.OPEN and i.claimed_by is not None and i.lease_until is not None and i.lease_until <= now
        ]

    async def decide(self, incident_id: str, verdict: Verdict, at: datetime) -> None:
        i = self._s.incidents[incident_id]
        self._s.incidents[incident_id] = replace(
            i, status=IncidentStatus.DECIDED, verdict=verdict, decided_at=at, claimed_by=None, lease_until=None
        )

    async def withdraw(self, incident_id: str) -> bool:
        i = self._s.incidents.get(incident_id)
        if i is None or i.status is not IncidentStatus.OPEN:
            return False
        self._s.incidents[incident_id] = replace(i, status=IncidentStatus.WITHDRAWN, claimed_by=None, lease_until=None)
        return True

    async def escalate(self, incident_id: str) -> None:
        self._s.incidents[incident_id] = replace(self._s.incidents[incident_id], escalated=True)

    async def raise_ping(self, incident_id: str, level: int) -> bool:
        i = self._s.incidents[incident_id]
        if i.pinged >= level or i.claimed_by is not None or i.status is not IncidentStatus.OPEN:
            return False
        self._s.incidents[incident_id] = replace(i, pinged=level)
        return True

    async def merge_into(self, source_id: str, target_id: str) -> None:
        source, target = self._s.incidents[source_id], self._s.incidents[target_id]
        for key, report in list(self._s.reports.items()):
            if report.incident_id == source_id:
                self._s.reports[key] = replace(report, incident_id=target_id)
        self._s.incidents[target_id] = replace(
            target,
            report_count=target.report_count + source.report_count,
            tier=more_urgent(target.tier, source.tier),
            first_seen_at=min(target.first_seen_at, source.first_seen_at),
            last_seen_at=max(target.last_seen_at, source.last_seen_at),
            activity=target.activity or source.activity,
        )
        self._s.incidents[source_id] = replace(source, status=IncidentStatus.MERGED, claimed_by=None, lease_until=None)

    async def points_first_seen_before(self, cutoff: datetime) -> list[tuple[str, GeoPoint]]:
        return [(i.id, i.point) for i in self._s.incidents.values() if i.point is not None and i.first_seen_at < cutoff]

    async def move(self, incident_id: str, point: GeoPoint) -> None:
        self._s.incidents[incident_id] = replace(self._s.incidents[incident_id], point=point)


class _Verdicts:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, record: VerdictRecord) -> bool:
        if any(v.incident_id == record.incident_id and v.verifier_id == record.verifier_id for v in self._s.verdicts):
            return False
        self._s.verdicts.append(record)
        return True

    async def for_incident(self, incident_id: str) -> tuple[VerdictRecord, ...]:
        return tuple(v for v in self._s.verdicts if v.incident_id == incident_id)

    async def redact_before(self, cutoff: datetime) -> int:
        old = [n for n, v in enumerate(self._s.verdicts) if v.at < cutoff and v.reason]
        for n in old:
            self._s.verdicts[n] = replace(self._s.verdicts[n], reason="")
        return len(old)


class _Merges:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def suggest(self, suggestion: MergeSuggestion) -> None:
        self._s.merges.append(suggestion)

    async def open_for(self, incident_id: str) -> MergeSuggestion | None:
        return next((m for m in self._s.merges if m.incident_id == incident_id), None)

    async def resolve(self, incident_id: str, status: str) -> None:
        self._s.merges = [m for m in self._s.merges if m.incident_id != incident_id]


class _Verifiers:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def get(self, user_id: int) -> Verifier | None:
        return self._s.verifiers.get(user_id)

    async def save(self, verifier: Verifier) -> None:
        self._s.verifiers[verifier.user_id] = verifier

    async def all(self) -> list[Verifier]:
        return sorted(self._s.verifiers.values(), key=lambda v: (-v.role, v.name))


class _Invites:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, invite: Invite) -> None:
        self._s.invites[invite.code] = invite

    async def get(self, code: str) -> Invite | None:
        return self._s.invites.get(code)

    async def use(self, code: str, user_id: int, at: datetime) -> bool:
        invite = self._s.invites.get(code)
        if invite is None or invite.used_by is not None:
            return False
        self._s.invites[code] = replace(invite, used_by=user_id, used_at=at)
        return True

    async def void_issued_by(self, user_id: int, roles: Sequence[Role], at: datetime) -> int:
        voided = {
            code: replace(i, expires_at=at)
            for code, i in self._s.invites.items()
            if i.created_by == user_id and i.used_by is None and i.expires_at > at and i.role in roles
        }
        self._s.invites.update(voided)
        return len(voided)


class _FollowUps:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, follow_up: FollowUp) -> None:
        self._s.follow_ups[follow_up.id] = follow_up

    async def get(self, follow_up_id: str) -> FollowUp | None:
        return self._s.follow_ups.get(follow_up_id)

    async def answer(self, follow_up_id: str, answer: str, at: datetime) -> bool:
        current = self._s.follow_ups.get(follow_up_id)
        if current is None or current.answer is not None:
            return False
        self._s.follow_ups[follow_up_id] = replace(current, answer=answer, answered_at=at)
        return True

    async def for_incident(self, incident_id: str) -> list[FollowUp]:
        return [
            f
            for f in self._s.follow_ups.values()
            if (r := self._s.reports.get(f.report_id)) is not None and r.incident_id == incident_id
        ]


class _Audit:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, event: AuditEvent) -> None:
        self._s.audit.append(event)


class _Neighborhoods:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def replace_all(self, neighborhoods: list[Neighborhood]) -> None:
        # kept ids keep what points at them; removed ids take it with them (ON DELETE CASCADE)
        kept = {nb.id for nb in neighborhoods}
        self._s.neighborhoods = list(neighborhoods)
        self._s.subscriptions = [s for s in self._s.subscriptions if s[1] in kept]
        self._s.channels = [c for c in self._s.channels if c.neighborhood_id in kept]

    async def all(self) -> list[Neighborhood]:
        return sorted(self._s.neighborhoods, key=lambda n: n.name)


class _Alerts:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, alert: Alert) -> None:
        if alert.incident_id not in self._s.incidents:
            raise Conflict(f"alert about unknown incident {alert.incident_id}")
        if alert.id in self._s.alerts or any(
            (a.incident_id, a.kind) == (alert.incident_id, alert.kind) for a in self._s.alerts.values()
        ):
            raise Conflict("duplicate alert")
        self._s.alerts[alert.id] = alert

    async def save(self, alert: Alert) -> None:
        stored = self._s.alerts.get(alert.id)
        if stored is not None:
            self._s.alerts[alert.id] = replace(
                stored,
                state=alert.state,
                revision=alert.revision,
                last_update=alert.last_update,
                updated_at=alert.updated_at,
                expires_at=alert.expires_at,
            )

    async def get(self, alert_id: str) -> Alert | None:
        return self._s.alerts.get(alert_id)

    async def for_incident(self, incident_id: str, kind: AlertKind) -> Alert | None:
        return next((a for a in self._s.alerts.values() if a.incident_id == incident_id and a.kind is kind), None)

    async def active(self) -> list[Alert]:
        return sorted(
            (a for a in self._s.alerts.values() if a.state is AlertState.ACTIVE and a.kind is AlertKind.ALERT),
            key=lambda a: a.verified_at,
            reverse=True,
        )

    async def due(self, now: datetime) -> list[Alert]:
        return [a for a in self._s.alerts.values() if a.state is AlertState.ACTIVE and a.expires_at <= now]

    async def uncorrected_debunked(self, since: datetime) -> list[Incident]:
        corrected = {a.incident_id for a in self._s.alerts.values() if a.kind is AlertKind.CORRECTION}
        found = [
            i
            for i in self._s.incidents.values()
            if i.status is IncidentStatus.DECIDED
            and i.verdict is Verdict.DEBUNKED
            and i.decided_at is not None
            and i.decided_at >= since
            and i.id not in corrected
            and i.drill is None
        ]
        return sorted(found, key=lambda i: i.decided_at or since, reverse=True)

    async def verified_between(
        self,
        since: datetime | None,
        until: datetime | None,
        neighborhood_id: str | None = None,
        *,
        active_only: bool = False,
        limit: int | None = None,
    ) -> list[Alert]:
        found = [
            a
            for a in self._s.alerts.values()
            if (since is None or a.verified_at >= since)
            and (until is None or a.verified_at < until)
            and (neighborhood_id is None or a.neighborhood_id == neighborhood_id)
            and (not active_only or a.state is AlertState.ACTIVE)
        ]
        return sorted(found, key=lambda a: (a.verified_at, a.id), reverse=True)[:limit]


class _Outbox:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    def _insert(
        self,
        alert_id: str,
        chat_id: int,
        target: TargetKind,
        kind: MessageKind,
        revision: int,
        language: str,
        priority: Priority,
        now: datetime,
    ) -> None:
        if alert_id not in self._s.alerts:
            raise Conflict(f"outbox message about unknown alert {alert_id}")
        key = (alert_id, chat_id, kind, revision, language)
        if any((m.alert_id, m.chat_id, m.kind, m.revision, m.language) == key for m in self._s.outbox.values()):
            raise Conflict(f"duplicate outbox message {key}")
        message_id = self._s.next_outbox_id
        self._s.next_outbox_id += 1
        self._s.outbox[message_id] = OutboxMessage(message_id, alert_id, chat_id, target, kind, revision, language, priority, now)

    async def fan_out(
        self,
        alert_id: str,
        areas: Sequence[str],
        target: TargetKind,
        kind: MessageKind,
        revision: int,
        priority: Priority,
        now: datetime,
        post_languages: Callable[[str], Sequence[str]] = lambda linked: [linked],
    ) -> int:
        chats: dict[int, str] = {}  # chat id → the language it gets (the least, as the query's min())
        if target is TargetKind.CHANNEL:
            for link in self._s.channels:
                if link.neighborhood_id in areas and link.problem is None:
                    chats[link.chat_id] = min(chats.get(link.chat_id, link.language), link.language)
            messages = [(chat, language) for chat in sorted(chats) for language in post_languages(chats[chat])]
        else:
            for chat_id, neighborhood_id in self._s.subscriptions:
                subscriber = self._s.subscribers.get(chat_id)
                if neighborhood_id in areas and subscriber is not None and subscriber.active:
                    chats[chat_id] = subscriber.language
            messages = sorted(chats.items())
        for chat_id, language in messages:
            self._insert(alert_id, chat_id, target, kind, revision, language, priority, now)
        return len(messages)

    def _follow_post(self, alert_id: str, target: TargetKind, kind: MessageKind, revision: int, now: datetime) -> int:
        posts = [
            m
            for _, m in sorted(self._s.outbox.items())
            if m.alert_id == alert_id and m.kind is MessageKind.POST and m.target is target and m.state in _DELIVERED_OR_COMING
        ]
        if target is TargetKind.SUBSCRIBER:
            posts = [m for m in posts if (s := self._s.subscribers.get(m.chat_id)) is not None and s.active]
        for post in posts:
            self._insert(alert_id, post.chat_id, target, kind, revision, post.language, Priority.LIFECYCLE, now)
        return len(posts)

    async def fan_out_edits(self, alert_id: str, kind: MessageKind, revision: int, now: datetime) -> int:
        return self._follow_post(alert_id, TargetKind.CHANNEL, kind, revision, now)

    async def fan_out_replies(self, alert_id: str, kind: MessageKind, revision: int, now: datetime) -> int:
        return self._follow_post(alert_id, TargetKind.SUBSCRIBER, kind, revision, now)

    async def claim(self, limit: int, now: datetime, epoch: int | None = None) -> list[OutboxMessage]:
        """As the table's, with `now` standing for the database's clock in the lease check."""
        if epoch is not None and (self._s.leader is None or self._s.leader[0] != epoch or self._s.leader[1] <= now):
            return []
        due = sorted(
            (m for m in self._s.outbox.values() if m.state is Delivery.PENDING and (m.not_before is None or m.not_before <= now)),
            key=lambda m: (m.priority, m.id or 0),
        )[:limit]
        claimed = []
        for message in due:
            assert message.id is not None
            claimed.append(replace(message, state=Delivery.SENDING, attempts=message.attempts + 1))
            self._s.outbox[message.id] = claimed[-1]
        return claimed

    async def finish(self, results: Sequence[DeliveryResult], now: datetime) -> None:
        for result in results:
            message = self._s.outbox.get(result.message_id)
            if message is None:
                continue
            if result.state is Delivery.SENT:
                self._s.outbox[result.message_id] = replace(
                    message, state=Delivery.SENT, message_id=result.sent_message_id, error=None
                )
                self._s.sent_at[result.message_id] = now
            elif result.state is Delivery.PENDING:
                self._s.outbox[result.message_id] = replace(
                    message, state=Delivery.PENDING, not_before=result.retry_at, error=result.error
                )
            elif result.state is Delivery.FAILED:
                self._s.outbox[result.message_id] = replace(message, state=Delivery.FAILED, error=(result.error or "")[:300])

    async def recover(self) -> int:
        sending = [i for i, m in self._s.outbox.items() if m.state is Delivery.SENDING]
        for message_id in sending:
            self._s.outbox[message_id] = replace(self._s.outbox[message_id], state=Delivery.PENDING)
        return len(sending)

    async def recent_sends(self, since: datetime) -> list[tuple[int, datetime | None]]:
        sent: list[tuple[int, datetime | None]] = [
            (m.chat_id, at)
            for i, m in sorted(self._s.outbox.items())
            if m.state is Delivery.SENT and (at := self._s.sent_at.get(i)) is not None and at >= since
        ]
        sending = [(m.chat_id, None) for _, m in sorted(self._s.outbox.items()) if m.state is Delivery.SENDING and m.chat_id < 0]
        return [*sent, *sending]

    async def post_of(self, alert_id: str, chat_id: int, language: str) -> OutboxMessage | None:
        return next(
            (
                m
                for _, m in sorted(self._s.outbox.items())
                if (m.alert_id, m.chat_id, m.language, m.kind) == (alert_id, chat_id, language, MessageKind.POST)
            ),
            None,
        )

    async def drop_pending(self, chat_id: int, error: str, now: datetime) -> int:
        pending = [i for i, m in self._s.outbox.items() if m.chat_id == chat_id and m.state is Delivery.PENDING]
        for message_id in pending:
            self._s.outbox[message_id] = replace(self._s.outbox[message_id], state=Delivery.FAILED, error=error[:300])
        return len(pending)

    def _waiting(self) -> list[OutboxMessage]:
        return [m for m in self._s.outbox.values() if m.state in (Delivery.PENDING, Delivery.SENDING)]

    async def backlog(self) -> int:
        return len(self._waiting())

    async def oldest_waiting(self) -> datetime | None:
        return min((m.created_at for m in self._waiting()), default=None)

    async def for_alert(self, alert_id: str) -> list[OutboxMessage]:
        return [m for _, m in sorted(self._s.outbox.items()) if m.alert_id == alert_id]


class _Subscribers:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def get(self, chat_id: int) -> Subscriber | None:
        return self._s.subscribers.get(chat_id)

    async def save(self, subscriber: Subscriber) -> None:
        stored = self._s.subscribers.get(subscriber.chat_id)
        self._s.subscribers[subscriber.chat_id] = (
            subscriber if stored is None else replace(stored, language=subscriber.language, active=subscriber.active)
        )  # `since` stays the first one

    async def areas(self, chat_id: int) -> list[str]:
        return sorted(n for c, n in self._s.subscriptions if c == chat_id)

    async def add_area(self, chat_id: int, neighborhood_id: str) -> None:
        if chat_id not in self._s.subscribers or neighborhood_id not in {n.id for n in self._s.neighborhoods}:
            raise Conflict(f"subscription of {chat_id} to {neighborhood_id}: unknown subscriber or neighborhood")
        if (chat_id, neighborhood_id) in self._s.subscriptions:
            raise Conflict(f"duplicate subscription of {chat_id} to {neighborhood_id}")
        self._s.subscriptions.append((chat_id, neighborhood_id))

    async def remove_area(self, chat_id: int, neighborhood_id: str) -> None:
        self._s.subscriptions = [s for s in self._s.subscriptions if s != (chat_id, neighborhood_id)]

    async def forget(self, chat_id: int) -> None:
        self._s.subscriptions = [s for s in self._s.subscriptions if s[0] != chat_id]
        self._s.subscribers.pop(chat_id, None)

    async def set_language(self, chat_id: int, language: str) -> None:
        if (stored := self._s.subscribers.get(chat_id)) is not None:
            self._s.subscribers[chat_id] = replace(stored, language=language)

    async def deactivate(self, chat_id: int) -> None:
        if (stored := self._s.subscribers.get(chat_id)) is not None:
            self._s.subscribers[chat_id] = replace(stored, active=False)


class _Channels:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def save(self, link: ChannelLink) -> None:
        if link.neighborhood_id not in {n.id for n in self._s.neighborhoods}:
            raise Conflict(f"channel link to unknown neighborhood {link.neighborhood_id}")
        self._s.channels = [c for c in self._s.channels if (c.neighborhood_id, c.chat_id) != (link.neighborhood_id, link.chat_id)]
        self._s.channels.append(link)

    async def flag(self, chat_id: int, problem: str) -> list[ChannelLink]:
        flagged = []
        for n, link in enumerate(self._s.channels):
            if link.chat_id == chat_id and link.problem is None:
                self._s.channels[n] = replace(link, problem=problem)
                flagged.append(self._s.channels[n])
        return flagged

    async def add_token(self, token: LinkToken, now: datetime) -> None:
        self._s.link_tokens = {h: t for h, t in self._s.link_tokens.items() if t.expires_at >= now}
        if token.token_hash in self._s.link_tokens:
            raise Conflict("duplicate link token")
        self._s.link_tokens[token.token_hash] = token

    async def token(self, token_hash: str) -> LinkToken | None:
        return self._s.link_tokens.get(token_hash)

    async def bind_token(self, token_hash: str, chat_id: int) -> bool:
        token = self._s.link_tokens.get(token_hash)
        if token is None or token.chat_id not in (None, chat_id):
            return False
        self._s.link_tokens[token_hash] = replace(token, chat_id=chat_id)
        return True

    async def use_token(self, token_hash: str, chat_id: int, now: datetime) -> bool:
        token = self._s.link_tokens.get(token_hash)
        if token is None or token.chat_id != chat_id or token.used_at is not None or token.expires_at <= now:
            return False
        self._s.link_tokens[token_hash] = replace(token, used_at=now)
        return True


class _Stats:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def reports_by_area(self, since: datetime, until: datetime) -> dict[str | None, int]:
        counts: dict[str | None, int] = {}
        for report in self._s.reports.values():
            if since <= report.created_at <= until and report.reporter != DRILL_REPORTER:
                counts[report.neighborhood_id] = counts.get(report.neighborhood_id, 0) + 1
        return counts

    async def incidents_between(self, since: datetime, until: datetime) -> list[Incident]:
        return [i for i in self._s.incidents.values() if since <= i.first_seen_at <= until and i.drill is None]

    async def alerts_between(self, since: datetime, until: datetime) -> list[Alert]:
        return [a for a in self._s.alerts.values() if since <= a.verified_at <= until]

    async def deliveries(self, alert_ids: Sequence[str]) -> dict[str, dict[Delivery, int]]:
        found: dict[str, dict[Delivery, int]] = {}
        for message in self._s.outbox.values():
            if message.alert_id in alert_ids:
                by_state = found.setdefault(message.alert_id, {})
                by_state[message.state] = by_state.get(message.state, 0) + 1
        return found


class _Drills:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def save(self, scenario: Scenario, at: datetime) -> bool:
        new = scenario.id not in self._s.scenarios
        self._s.scenarios[scenario.id] = (scenario_document(scenario), at)
        return new

    async def all(self) -> list[Scenario]:
        stored = sorted(self._s.scenarios.items(), key=lambda item: (item[1][1], item[0]))
        return parse_scenarios({"scenarios": [document for _, (document, _) in stored]}) if stored else []

    async def get(self, scenario_id: str) -> Scenario | None:
        stored = self._s.scenarios.get(scenario_id)
        return parse_scenarios({"scenarios": [stored[0]]})[0] if stored is not None else None

    async def add_run(self, run: DrillRun) -> None:
        if run.incident_id not in self._s.incidents:
            raise Conflict(f"drill run of unknown incident {run.incident_id}")
        if run.id in self._s.drill_runs or any(r.incident_id == run.incident_id for r in self._s.drill_runs.values()):
            raise Conflict("duplicate drill run")
        # only what a run starts with is stored; the rest comes with `finish`
        self._s.drill_runs[run.id] = DrillRun(run.id, run.scenario_id, run.incident_id, run.kind, run.person, run.started_at)

    async def run_for_incident(self, incident_id: str) -> DrillRun | None:
        return next((r for r in self._s.drill_runs.values() if r.incident_id == incident_id), None)

    async def runs(self, kind: DrillKind, person: int | None) -> list[DrillRun]:
        return sorted(
            (r for r in self._s.drill_runs.values() if r.kind is kind and person in (None, r.person)),
            key=lambda r: (r.started_at, r.id),
        )

    async def finish(self, run: DrillRun) -> None:
        stored = self._s.drill_runs.get(run.id)
        if stored is not None:
            self._s.drill_runs[run.id] = replace(
                stored, verdict=run.verdict, first_claimed_at=run.first_claimed_at, finished_at=run.finished_at
            )

    async def propose(self, user_id: int, at: datetime) -> bool:
        if user_id in self._s.proposals:
            return False
        self._s.proposals[user_id] = at
        return True


class MemoryUnitOfWork:
    """Works on a copy of the store; `commit()` publishes it, leaving without commit drops it."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self._open(self._store.copy())
        return self

    def _open(self, staged: MemoryStore) -> None:
        self._staged = staged
        self.reports = _Reports(self._staged)
        self.contacts = _Contacts(self._staged)
        self.owed = _Owed(self._staged)
        self.media = _Media(self._staged)
        self.neighborhoods = _Neighborhoods(self._staged)
        self.incidents = _Incidents(self._staged)
        self.merges = _Merges(self._staged)
        self.verifiers = _Verifiers(self._staged)
        self.invites = _Invites(self._staged)
        self.audit = _Audit(self._staged)
        self.verdicts = _Verdicts(self._staged)
        self.follow_ups = _FollowUps(self._staged)
        self.alerts = _Alerts(self._staged)
        self.outbox = _Outbox(self._staged)
        self.subscribers = _Subscribers(self._staged)
        self.channels = _Channels(self._staged)
        self.stats = _Stats(self._staged)
        self.drills = _Drills(self._staged)
        self.field_verifiers, self.dispatches, self.on_site_reports, self.dispatch_notices, self.trust, self.surges = (
            dispatch_repositories(self._staged)
        )

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    async def commit(self) -> None:
        for unique in ("draft_id", "ref_code"):
            values = [getattr(r, unique) for r in self._staged.reports.values()]
            if len(values) != len(set(values)):
                raise Conflict(f"duplicate {unique}")
        commits = self._store.commits + 1
        self._store.__dict__.update(self._staged.__dict__)
        self._store.commits = commits
        self._open(self._store.copy())

    async def rollback(self) -> None:
        self._open(self._store.copy())


class MemoryUnitOfWorkFactory:
    """Implements `UnitOfWorkFactory` over one :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store)

    async def reclaim(self) -> None:
        self.store.reclaimed += 1


# ── issue 18: dispatch, trust, surge ───────────────────────────────────────────────────


@dataclass
class DispatchMemory:
    """What the dispatch and surge tables would hold (part of a :class:`MemoryStore`)."""

    field_verifiers: dict[int, FieldVerifier] = field(default_factory=dict)
    #: dispatches by id, with the due time of their next step
    dispatches: dict[str, tuple[Dispatch, datetime | None]] = field(default_factory=dict)
    on_site: dict[str, OnSiteReport] = field(default_factory=dict)
    #: notices by id, with when they were claimed
    notices: dict[str, tuple[DispatchNotice, datetime]] = field(default_factory=dict)
    overrides: dict[str, SurgeOverride] = field(default_factory=dict)
    summary_at: datetime | None = None

    def copy(self) -> DispatchMemory:
        return DispatchMemory(
            dict(self.field_verifiers),
            dict(self.dispatches),
            dict(self.on_site),
            dict(self.notices),
            dict(self.overrides),
            self.summary_at,
        )

    __copy__ = copy  # `MemoryStore.copy` copies each field with copy.copy


class _FieldVerifiers:
    def __init__(self, staged: MemoryStore) -> None:
        self._d = staged.dispatch

    async def get(self, user_id: int) -> FieldVerifier | None:
        return self._d.field_verifiers.get(user_id)

    async def save(self, field_verifier: FieldVerifier) -> None:
        self._d.field_verifiers[field_verifier.user_id] = field_verifier

    async def remove(self, user_id: int) -> bool:
        return self._d.field_verifiers.pop(user_id, None) is not None

    async def all(self) -> list[FieldVerifier]:
        return sorted(self._d.field_verifiers.values(), key=lambda f: f.user_id)

    async def stale_points(self, now: datetime) -> list[FieldVerifier]:
        return [f for f in await self.all() if f.point is not None and f.point_until is not None and f.point_until <= now]


class _Dispatches:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged
        self._d = staged.dispatch

    def _one_ask(self, dispatch: Dispatch) -> None:
        if dispatch.state is DispatchState.OFFERED and any(
            d.id != dispatch.id and d.incident_id == dispatch.incident_id and d.state is DispatchState.OFFERED
            for d, _ in self._d.dispatches.values()
        ):
            raise Conflict("one open ask per incident")

    async def add(self, dispatch: Dispatch, due: datetime | None) -> None:
        self._one_ask(dispatch)
        self._d.dispatches[dispatch.id] = (dispatch, due)

    async def get(self, dispatch_id: str) -> Dispatch | None:
        found = self._d.dispatches.get(dispatch_id)
        return found[0] if found is not None else None

    async def save(self, dispatch: Dispatch, due: datetime | None, previous: int) -> bool:
        stored = self._d.dispatches.get(dispatch.id)
        if stored is None or stored[0].version != previous:
            return False
        self._one_ask(dispatch)
        self._d.dispatches[dispatch.id] = (dispatch, due)
        return True

    def _sorted(self, keep: object) -> list[Dispatch]:
        return sorted(
            (d for d, _ in self._d.dispatches.values() if keep(d)),  # type: ignore[operator]
            key=lambda d: (d.created_at, d.id),
        )

    async def for_incident(self, incident_id: str) -> list[Dispatch]:
        return self._sorted(lambda d: d.incident_id == incident_id)

    async def open(self) -> list[Dispatch]:
        return self._sorted(lambda d: d.is_open)

    async def due(self, now: datetime, limit: int) -> list[Dispatch]:
        due = sorted(
            ((t, d.id, d) for d, t in self._d.dispatches.values() if d.is_open and t is not None and t <= now),
            key=lambda item: (item[0], item[1]),
        )
        return [d for _, _, d in due[:limit]]

    async def between(self, since: datetime, until: datetime) -> list[tuple[Dispatch, datetime]]:
        return [
            (d, self._s.incidents[d.incident_id].first_seen_at) for d in self._sorted(lambda d: since <= d.created_at <= until)
        ]


class _OnSiteReports:
    def __init__(self, staged: MemoryStore) -> None:
        self._d = staged.dispatch
        self._media = staged.media

    async def add(self, report: OnSiteReport) -> None:
        if any(r.dispatch_id == report.dispatch_id for r in self._d.on_site.values()):
            raise Conflict("one on-site report per dispatch")
        self._d.on_site[report.id] = report

    async def for_dispatch(self, dispatch_id: str) -> OnSiteReport | None:
        return next((r for r in self._d.on_site.values() if r.dispatch_id == dispatch_id), None)

    async def for_incident(self, incident_id: str) -> list[OnSiteReport]:
        return sorted((r for r in self._d.on_site.values() if r.incident_id == incident_id), key=lambda r: (r.at, r.id))

    async def redact_before(self, cutoff: datetime) -> int:
        old = [k for k, r in self._d.on_site.items() if r.at < cutoff and (r.text or r.salute.place_text or r.photo_id)]
        for k in old:
            report = self._d.on_site[k]
            if report.photo_id:
                self._media.pop(report.photo_id, None)
            self._d.on_site[k] = replace(report, text=None, salute=replace(report.salute, place_text=None), photo_id=None)
        return len(old)


class _DispatchNotices:
    def __init__(self, staged: MemoryStore) -> None:
        self._d = staged.dispatch

    async def add(self, notices: Sequence[DispatchNotice], claimed_at: datetime) -> None:
        for notice in notices:
            self._d.notices[notice.id] = (notice, claimed_at)

    async def claim(self, before: datetime, now: datetime, limit: int) -> list[DispatchNotice]:
        stale = sorted((n for n in self._d.notices.values() if n[1] < before), key=lambda n: (n[1], n[0].at, n[0].id))[:limit]
        for notice, _ in stale:
            self._d.notices[notice.id] = (notice, now)
        return [notice for notice, _ in stale]

    async def delete(self, notice_ids: Sequence[str]) -> None:
        for notice_id in notice_ids:
            self._d.notices.pop(notice_id, None)


class _Trust:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def outcomes(self, reporters: Sequence[str], exclude_incident: str | None = None) -> dict[str, Trust]:
        seen: dict[str, dict[Verdict, set[str]]] = {}
        for report in self._s.reports.values():
            incident = self._s.incidents.get(report.incident_id or "")
            if (
                report.reporter not in reporters
                or report.reporter == DRILL_REPORTER
                or incident is None
                or incident.id == exclude_incident
                or incident.drill is not None
                or incident.status is not IncidentStatus.DECIDED
                or incident.verdict not in (Verdict.CONFIRMED, Verdict.DEBUNKED)
            ):
                continue
            seen.setdefault(report.reporter, {}).setdefault(incident.verdict, set()).add(incident.id)
        return {r: Trust(len(v.get(Verdict.CONFIRMED, ())), len(v.get(Verdict.DEBUNKED, ()))) for r, v in seen.items()}


class _Surges:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged
        self._d = staged.dispatch

    async def overrides(self) -> list[SurgeOverride]:
        return [self._d.overrides[k] for k in sorted(self._d.overrides)]

    async def set_override(self, override: SurgeOverride) -> None:
        self._d.overrides[override.neighborhood_id] = override

    async def clear_override(self, neighborhood_id: str) -> bool:
        return self._d.overrides.pop(neighborhood_id, None) is not None

    async def report_counts(self, since: datetime, until: datetime) -> dict[str | None, int]:
        counts: dict[str | None, int] = {}
        for report in self._s.reports.values():
            if since < report.created_at <= until and report.reporter != DRILL_REPORTER:
                counts[report.neighborhood_id] = counts.get(report.neighborhood_id, 0) + 1
        return counts

    async def last_summary(self) -> datetime | None:
        return self._d.summary_at

    async def claim_summary(self, previous: datetime | None, at: datetime) -> bool:
        if self._d.summary_at != previous:
            return False
        self._d.summary_at = at
        return True


def dispatch_repositories(
    staged: MemoryStore,
) -> tuple[_FieldVerifiers, _Dispatches, _OnSiteReports, _DispatchNotices, _Trust, _Surges]:
    """The dispatch, trust and surge repositories over a staged store."""
    return (
        _FieldVerifiers(staged),
        _Dispatches(staged),
        _OnSiteReports(staged),
        _DispatchNotices(staged),
        _Trust(staged),
        _Surges(staged),
    )
