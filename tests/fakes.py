"""In-memory implementations of the `sereno.verify.ports` protocols, for domain tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Self

from sereno.verify.audit import AuditEvent
from sereno.verify.clustering import Candidate, compatible, distance_m
from sereno.verify.errors import Conflict
from sereno.verify.incidents import (
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
    commits: int = 0
    #: how many times the freed space was overwritten (`reclaim`)
    reclaimed: int = 0

    def copy(self) -> MemoryStore:
        return MemoryStore(dict(self.reports), dict(self.contacts), dict(self.media), list(self.neighborhoods),
                           dict(self.incidents), list(self.merges), dict(self.verifiers), dict(self.invites),
                           list(self.audit), list(self.verdicts), dict(self.follow_ups), dict(self.owed),
                           self.commits, self.reclaimed)


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
        reports = sorted((r for r in self._s.reports.values() if r.incident_id == incident_id),
                         key=lambda r: r.created_at)
        return [ReporterToTell(r.id, r.ref_code, c.chat_id, c.language)
                for r in reports if (c := self._s.contacts.get(r.id)) is not None]

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
        stale = sorted((o for o in self._s.owed.values() if o[1] < before),
                       key=lambda o: (o[1], self._s.reports[o[0].report_id].created_at, o[0].key))[:limit]
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
        return sorted((m for m in self._s.media.values() if m.report_id in reports), key=lambda m: (m.created_at, m.id))

    async def delete_unsubmitted_before(self, cutoff: datetime) -> int:
        gone = [k for k, m in self._s.media.items() if m.report_id is None and m.created_at < cutoff]
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

    async def nearest_open(self, point: GeoPoint, cells: list[str], since: datetime, activity: Activity | None,
                           within_m: float) -> Candidate | None:
        wanted = set(cells)
        near = [(distance_m(point, c.point), c) for c in self._candidates(lambda i: i.cell in wanted, since)
                if c.point is not None and compatible(activity, c.activity)]
        near = [(d, c) for d, c in near if d <= within_m]
        return min(near, key=lambda pair: pair[0])[1] if near else None

    async def open_in_neighborhood(self, neighborhood_id: str, since: datetime) -> list[Candidate]:
        return self._candidates(lambda i: i.neighborhood_id == neighborhood_id, since)

    async def add_report(self, incident_id: str, tier: Tier, activity: Activity | None, seen_at: datetime) -> Incident:
        old = self._s.incidents[incident_id]
        new = replace(old, report_count=old.report_count + 1, last_seen_at=max(old.last_seen_at, seen_at),
                      tier=more_urgent(old.tier, tier), activity=old.activity or activity)
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
        self._s.incidents[incident_id] = replace(i, claimed_by=user_id, lease_until=until,
                                                 first_claimed_at=i.first_claimed_at or now)
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
        return [(i.id, i.claimed_by) for i in self._s.incidents.values()
                if i.status is IncidentStatus.OPEN and i.claimed_by is not None
                and i.lease_until is not None and i.lease_until <= now]

    async def decide(self, incident_id: str, verdict: Verdict, at: datetime) -> None:
        i = self._s.incidents[incident_id]
        self._s.incidents[incident_id] = replace(i, status=IncidentStatus.DECIDED, verdict=verdict, decided_at=at,
                                                 claimed_by=None, lease_until=None)

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
            target, report_count=target.report_count + source.report_count, tier=more_urgent(target.tier, source.tier),
            first_seen_at=min(target.first_seen_at, source.first_seen_at),
            last_seen_at=max(target.last_seen_at, source.last_seen_at), activity=target.activity or source.activity)
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
        voided = {code: replace(i, expires_at=at) for code, i in self._s.invites.items()
                  if i.created_by == user_id and i.used_by is None and i.expires_at > at and i.role in roles}
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
        return [f for f in self._s.follow_ups.values()
                if (r := self._s.reports.get(f.report_id)) is not None and r.incident_id == incident_id]


class _Audit:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def add(self, event: AuditEvent) -> None:
        self._s.audit.append(event)


class _Neighborhoods:
    def __init__(self, staged: MemoryStore) -> None:
        self._s = staged

    async def replace_all(self, neighborhoods: list[Neighborhood]) -> None:
        self._s.neighborhoods = list(neighborhoods)

    async def all(self) -> list[Neighborhood]:
        return list(self._s.neighborhoods)


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

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
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
