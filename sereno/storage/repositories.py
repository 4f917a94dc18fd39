"""Repositories implementing the `sereno.verify.ports` protocols, with SQLAlchemy Core statements on
the unit of work's connection (the SQLModel tables give the schema; no ORM session is needed,
which keeps a submission to a handful of statements)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from sereno.storage.nearest import CANDIDATE_COLUMNS, nearest_open_lookup
from sereno.storage.sealing import ContactSeal, SealingKeyMissing
from sereno.storage.tables import (
    AuditEventRow,
    FollowUpRow,
    IncidentRow,
    InviteRow,
    MediaRow,
    MergeSuggestionRow,
    NeighborhoodRow,
    OnSiteReportRow,
    OwedOutcomeRow,
    ReportContactRow,
    ReportRow,
    VerdictRow,
    VerifierRow,
)
from sereno.verify.audit import AuditEvent
from sereno.verify.clustering import Candidate
from sereno.verify.errors import Conflict
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
    more_urgent,
)
from sereno.verify.members import Invite, Role, Verifier
from sereno.verify.model import (
    Activity,
    AgentCount,
    GeoPoint,
    Media,
    Report,
    ReportContact,
    Tier,
    TimeSeen,
    Uniform,
    VehicleCount,
)
from sereno.verify.places import Neighborhood, parse_polygons

# SQLModel does not declare `__table__` to type checkers; each table model has one.
REPORT = ReportRow.__table__  # type: ignore[attr-defined]
CONTACT = ReportContactRow.__table__  # type: ignore[attr-defined]
MEDIA = MediaRow.__table__  # type: ignore[attr-defined]
ON_SITE = OnSiteReportRow.__table__  # type: ignore[attr-defined]
NEIGHBORHOOD = NeighborhoodRow.__table__  # type: ignore[attr-defined]
INCIDENT = IncidentRow.__table__  # type: ignore[attr-defined]
MERGE = MergeSuggestionRow.__table__  # type: ignore[attr-defined]
VERIFIER = VerifierRow.__table__  # type: ignore[attr-defined]
INVITE = InviteRow.__table__  # type: ignore[attr-defined]
AUDIT = AuditEventRow.__table__  # type: ignore[attr-defined]
VERDICT = VerdictRow.__table__  # type: ignore[attr-defined]
FOLLOW_UP = FollowUpRow.__table__  # type: ignore[attr-defined]
OWED = OwedOutcomeRow.__table__  # type: ignore[attr-defined]
#: Values bound in one `IN (…)` at most (well under SQLite's and PostgreSQL's parameter limits).
_IN_CHUNK = 500

# Statements on the submission path are built once; executing them only binds parameters.
_INSERT_REPORT = insert(REPORT)
_INSERT_CONTACT = insert(CONTACT)
_RECENT = (REPORT.c.reporter == bindparam("reporter"), REPORT.c.created_at > bindparam("since"))
_COUNT_RECENT = select(func.count()).where(*_RECENT)
_OLDEST_RECENT = select(func.min(REPORT.c.created_at)).where(*_RECENT)


class SqlReportRepository:
    """Reports in the `report` table."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, report: Report) -> None:
        point = report.point
        values = {
            "id": report.id,
            "ref_code": report.ref_code,
            "draft_id": report.draft_id,
            "reporter": report.reporter,
            "language": report.language,
            "tier": report.tier.value,
            "status": "new",
            "created_at": report.created_at,
            "activity": _value(report.activity),
            "time_seen": _value(report.time_seen),
            "agents": _value(report.agents),
            "vehicles": _value(report.vehicles),
            "uniform": _value(report.uniform),
            "details": report.details,
            "lat": point.lat if point else None,
            "lon": point.lon if point else None,
            "accuracy_m": point.accuracy_m if point else None,
            "place_text": report.place_text,
            "neighborhood_id": report.neighborhood_id,
            "incident_id": report.incident_id,
        }
        try:
            await self._c.execute(_INSERT_REPORT, values)
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    async def by_draft(self, draft_id: str) -> Report | None:
        row = (await self._c.execute(select(REPORT).where(REPORT.c.draft_id == draft_id))).mappings().first()
        if row is None:
            return None
        media = await self._c.execute(select(MEDIA.c.id).where(MEDIA.c.report_id == row["id"]))
        return _report(row, tuple(media.scalars()))

    async def count_since(self, reporter: str, since: datetime) -> int:
        return int((await self._c.execute(_COUNT_RECENT, {"reporter": reporter, "since": since})).scalar_one())

    async def oldest_since(self, reporter: str, since: datetime) -> datetime | None:
        return (await self._c.execute(_OLDEST_RECENT, {"reporter": reporter, "since": since})).scalar_one()

    async def get(self, report_id: str) -> Report | None:
        row = (await self._c.execute(select(REPORT).where(REPORT.c.id == report_id))).mappings().first()
        return _report(row, ()) if row is not None else None

    async def for_incident(self, incident_id: str) -> list[Report]:
        rows = await self._c.execute(select(REPORT).where(REPORT.c.incident_id == incident_id).order_by(REPORT.c.created_at))
        photos: dict[str, list[str]] = {}
        for media_id, report_id in await self._c.execute(
            select(MEDIA.c.id, MEDIA.c.report_id)
            .join(REPORT, REPORT.c.id == MEDIA.c.report_id)
            .where(REPORT.c.incident_id == incident_id)
            .order_by(MEDIA.c.created_at, MEDIA.c.id)
        ):
            photos.setdefault(report_id, []).append(media_id)
        return [_report(r, tuple(photos.get(r["id"], ()))) for r in rows.mappings()]

    async def incident_has_reporter(self, incident_id: str, reporter: str) -> bool:
        query = select(REPORT.c.id).where(REPORT.c.incident_id == incident_id, REPORT.c.reporter == reporter).limit(1)
        return (await self._c.execute(query)).first() is not None

    async def reporters_of(self, incident_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        wanted = list(dict.fromkeys(incident_ids))
        found: dict[str, set[str]] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            rows = await self._c.execute(
                select(REPORT.c.incident_id, REPORT.c.reporter)
                .where(REPORT.c.incident_id.in_(wanted[start : start + _IN_CHUNK]))
                .distinct()
            )
            for incident_id, reporter in rows:
                found.setdefault(incident_id, set()).add(reporter)
        return {incident_id: tuple(sorted(reporters)) for incident_id, reporters in found.items()}

    async def delete_before(self, cutoff: datetime) -> int:
        old = select(REPORT.c.id).where(REPORT.c.created_at < cutoff).scalar_subquery()
        await self._c.execute(delete(CONTACT).where(CONTACT.c.report_id.in_(old)))
        await self._c.execute(delete(MEDIA).where(MEDIA.c.report_id.in_(old)))
        await self._c.execute(delete(FOLLOW_UP).where(FOLLOW_UP.c.report_id.in_(old)))
        return int((await self._c.execute(delete(REPORT).where(REPORT.c.created_at < cutoff))).rowcount)


def _value(member: Any) -> str | None:
    return None if member is None else str(member.value)


def _report(row: Any, media_ids: tuple[str, ...]) -> Report:
    point = GeoPoint.kept(row["lat"], row["lon"], row["accuracy_m"])
    return Report(
        id=row["id"],
        ref_code=row["ref_code"],
        draft_id=row["draft_id"],
        reporter=row["reporter"],
        language=row["language"],
        tier=Tier(row["tier"]),
        created_at=row["created_at"],
        activity=Activity(row["activity"]) if row["activity"] else None,
        time_seen=TimeSeen(row["time_seen"]) if row["time_seen"] else None,
        agents=AgentCount(row["agents"]) if row["agents"] else None,
        vehicles=VehicleCount(row["vehicles"]) if row["vehicles"] else None,
        uniform=Uniform(row["uniform"]) if row["uniform"] else None,
        details=row["details"],
        point=point,
        place_text=row["place_text"],
        neighborhood_id=row["neighborhood_id"],
        incident_id=row["incident_id"],
        media_ids=media_ids,
    )


_OPEN_IN_AREA = select(*CANDIDATE_COLUMNS).where(
    INCIDENT.c.status == IncidentStatus.OPEN.value,
    INCIDENT.c.drill.is_(None),  # no real report joins a drill
    INCIDENT.c.neighborhood_id == bindparam("neighborhood_id"),
    INCIDENT.c.last_seen_at >= bindparam("since"),
)
_INSERT_INCIDENT = insert(INCIDENT)
_SELECT_INCIDENT = select(INCIDENT).where(INCIDENT.c.id == bindparam("id"))


class SqlIncidentRepository:
    """Incidents in the `incident` table; candidates come from the (status, cell) index."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, incident: Incident) -> None:
        point = incident.point
        await self._c.execute(
            _INSERT_INCIDENT,
            {
                "id": incident.id,
                "status": incident.status.value,
                "tier": incident.tier.value,
                "activity": _value(incident.activity),
                "neighborhood_id": incident.neighborhood_id,
                "lat": point.lat if point else None,
                "lon": point.lon if point else None,
                "cell": incident.cell,
                "first_seen_at": incident.first_seen_at,
                "last_seen_at": incident.last_seen_at,
                "report_count": incident.report_count,
                "claimed_by": incident.claimed_by,
                "lease_until": incident.lease_until,
                "verdict": _value(incident.verdict),
                "decided_at": incident.decided_at,
                "escalated": incident.escalated,
                "pinged": incident.pinged,
                "first_claimed_at": incident.first_claimed_at,
                "drill": _value(incident.drill),
            },
        )

    async def get(self, incident_id: str) -> Incident | None:
        row = (await self._c.execute(_SELECT_INCIDENT, {"id": incident_id})).mappings().first()
        return _incident(row) if row is not None else None

    async def nearest_open(
        self, point: GeoPoint, cells: list[str], since: datetime, activity: Activity | None, within_m: float
    ) -> Candidate | None:
        return await nearest_open_lookup(self._c.dialect).run(self._c, point, cells, since, activity, within_m)

    async def open_in_neighborhood(self, neighborhood_id: str, since: datetime) -> list[Candidate]:
        rows = await self._c.execute(_OPEN_IN_AREA, {"neighborhood_id": neighborhood_id, "since": since})
        return [_candidate(r) for r in rows]

    async def add_report(self, incident_id: str, tier: Tier, activity: Activity | None, seen_at: datetime) -> Incident:
        rank = {t.value: i for i, t in enumerate(TIER_ORDER)}
        tier_rank = case(rank, value=INCIDENT.c.tier)
        await self._c.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == incident_id)
            .values(
                report_count=INCIDENT.c.report_count + 1,
                last_seen_at=case((INCIDENT.c.last_seen_at < seen_at, seen_at), else_=INCIDENT.c.last_seen_at),
                tier=case((tier_rank > rank[tier.value], tier.value), else_=INCIDENT.c.tier),
                activity=func.coalesce(INCIDENT.c.activity, _value(activity)),
            )
        )
        incident = await self.get(incident_id)
        assert incident is not None
        return incident

    async def open_queue(self) -> list[Incident]:
        rows = (await self._c.execute(select(INCIDENT).where(INCIDENT.c.status == IncidentStatus.OPEN.value))).mappings()
        return [_incident(r) for r in rows]

    async def take_lease(self, incident_id: str, user_id: int, now: datetime, until: datetime) -> bool:
        free = or_(INCIDENT.c.claimed_by.is_(None), INCIDENT.c.lease_until <= now, INCIDENT.c.claimed_by == user_id)
        result = await self._c.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == incident_id, INCIDENT.c.status == IncidentStatus.OPEN.value, free)
            .values(
                claimed_by=user_id,
                lease_until=until,
                first_claimed_at=func.coalesce(INCIDENT.c.first_claimed_at, literal(now, INCIDENT.c.first_claimed_at.type)),
            )
        )
        return result.rowcount == 1

    async def drop_lease(self, incident_id: str, holder: int, expired_before: datetime | None = None) -> bool:
        query = update(INCIDENT).where(INCIDENT.c.id == incident_id, INCIDENT.c.claimed_by == holder)
        if expired_before is not None:
            query = query.where(INCIDENT.c.lease_until <= expired_before)
        result = await self._c.execute(query.values(claimed_by=None, lease_until=None))
        return result.rowcount == 1

    async def expired_leases(self, now: datetime) -> list[tuple[str, int]]:
        rows = await self._c.execute(
            select(INCIDENT.c.id, INCIDENT.c.claimed_by).where(
                INCIDENT.c.status == IncidentStatus.OPEN.value,
                INCIDENT.c.claimed_by.is_not(None),
                INCIDENT.c.lease_until <= now,
            )
        )
        return [(r.id, r.claimed_by) for r in rows]

    async def decide(self, incident_id: str, verdict: Verdict, at: datetime) -> None:
        await self._c.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == incident_id)
            .values(
                status=IncidentStatus.DECIDED.value,
                verdict=verdict.value,
                decided_at=at,
                claimed_by=None,
                lease_until=None,
            )
        )

    async def withdraw(self, incident_id: str) -> bool:
        result = await self._c.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == incident_id, INCIDENT.c.status == IncidentStatus.OPEN.value)
            .values(status=IncidentStatus.WITHDRAWN.value, claimed_by=None, lease_until=None)
        )
        return result.rowcount == 1

    async def escalate(self, incident_id: str) -> None:
        await self._c.execute(update(INCIDENT).where(INCIDENT.c.id == incident_id).values(escalated=True))

    async def raise_ping(self, incident_id: str, level: int) -> bool:
        result = await self._c.execute(
            update(INCIDENT)
            .where(
                INCIDENT.c.id == incident_id,
                INCIDENT.c.pinged < level,
                INCIDENT.c.claimed_by.is_(None),
                INCIDENT.c.status == IncidentStatus.OPEN.value,
            )
            .values(pinged=level)
        )
        return result.rowcount == 1

    async def merge_into(self, source_id: str, target_id: str) -> None:
        source = await self.get(source_id)
        target = await self.get(target_id)
        assert source is not None and target is not None
        await self._c.execute(update(REPORT).where(REPORT.c.incident_id == source_id).values(incident_id=target_id))
        await self._c.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == target_id)
            .values(
                report_count=target.report_count + source.report_count,
                tier=more_urgent(target.tier, source.tier).value,
                first_seen_at=min(target.first_seen_at, source.first_seen_at),
                last_seen_at=max(target.last_seen_at, source.last_seen_at),
                activity=_value(target.activity or source.activity),
            )
        )
        await self._c.execute(
            update(INCIDENT)
            .where(INCIDENT.c.id == source_id)
            .values(status=IncidentStatus.MERGED.value, claimed_by=None, lease_until=None)
        )

    async def points_first_seen_before(self, cutoff: datetime) -> list[tuple[str, GeoPoint]]:
        rows = await self._c.execute(
            select(INCIDENT.c.id, INCIDENT.c.lat, INCIDENT.c.lon).where(
                INCIDENT.c.first_seen_at < cutoff, INCIDENT.c.lat.is_not(None), INCIDENT.c.lon.is_not(None)
            )
        )
        return [(r.id, GeoPoint(r.lat, r.lon)) for r in rows]

    async def move(self, incident_id: str, point: GeoPoint) -> None:
        await self._c.execute(update(INCIDENT).where(INCIDENT.c.id == incident_id).values(lat=point.lat, lon=point.lon))


def _candidate(row: Any) -> Candidate:
    point = GeoPoint.kept(row.lat, row.lon)
    return Candidate(
        row.id, point, row.neighborhood_id, Activity(row.activity) if row.activity else None, row.last_seen_at, Tier(row.tier)
    )


def _incident(row: Any) -> Incident:
    return Incident(
        id=row["id"],
        status=IncidentStatus(row["status"]),
        tier=Tier(row["tier"]),
        activity=Activity(row["activity"]) if row["activity"] else None,
        neighborhood_id=row["neighborhood_id"],
        point=GeoPoint.kept(row["lat"], row["lon"]),
        cell=row["cell"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        report_count=row["report_count"],
        claimed_by=row["claimed_by"],
        lease_until=row["lease_until"],
        verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        decided_at=row["decided_at"],
        escalated=bool(row["escalated"]),
        pinged=row["pinged"],
        first_claimed_at=row["first_claimed_at"],
        drill=DrillKind(row["drill"]) if row["drill"] else None,
    )


class SqlMergeRepository:
    """Merge suggestions in `merge_suggestion`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def suggest(self, suggestion: MergeSuggestion) -> None:
        await self._c.execute(
            insert(MERGE).values(
                incident_id=suggestion.incident_id,
                other_incident_id=suggestion.other_incident_id,
                distance_m=suggestion.distance_m,
                status="open",
            )
        )

    async def open_for(self, incident_id: str) -> MergeSuggestion | None:
        row = (await self._c.execute(select(MERGE).where(MERGE.c.incident_id == incident_id, MERGE.c.status == "open"))).first()
        return MergeSuggestion(row.incident_id, row.other_incident_id, row.distance_m) if row else None

    async def resolve(self, incident_id: str, status: str) -> None:
        await self._c.execute(
            update(MERGE).where(MERGE.c.incident_id == incident_id, MERGE.c.status == "open").values(status=status)
        )


def _require(seal: ContactSeal | None, what: str) -> ContactSeal:
    if seal is None:
        raise SealingKeyMissing(what)
    return seal


class SqlContactRepository:
    """Reporter contacts in `report_contact`, their chat ids sealed with `seal`. Those that
    do not open (sealed under an earlier key) cannot be told and are left to expire."""

    def __init__(self, conn: AsyncConnection, seal: ContactSeal | None) -> None:
        self._c = conn
        self._seal = seal

    async def add(self, contact: ReportContact) -> None:
        sealed = _require(self._seal, "keeping a reporter's contact").seal(contact.chat_id, contact.report_id)
        await self._c.execute(
            _INSERT_CONTACT,
            {
                "report_id": contact.report_id,
                "sealed_chat": sealed,
                "language": contact.language,
                "expires_at": contact.expires_at,
            },
        )

    async def delete_expired(self, now: datetime) -> int:
        return int((await self._c.execute(delete(CONTACT).where(CONTACT.c.expires_at <= now))).rowcount)

    async def for_incident(self, incident_id: str) -> list[ReporterToTell]:
        seal = _require(self._seal, "reading reporters' contacts")
        rows = await self._c.execute(
            select(CONTACT.c.report_id, REPORT.c.ref_code, CONTACT.c.sealed_chat, CONTACT.c.language)
            .join(REPORT, REPORT.c.id == CONTACT.c.report_id)
            .where(REPORT.c.incident_id == incident_id)
            .order_by(REPORT.c.created_at)
        )
        return [
            ReporterToTell(r.report_id, r.ref_code, chat_id, r.language)
            for r in rows
            if (chat_id := seal.open(r.sealed_chat, r.report_id)) is not None
        ]

    async def delete(self, report_ids: list[str]) -> None:
        if report_ids:
            await self._c.execute(delete(CONTACT).where(CONTACT.c.report_id.in_(report_ids)))


class SqlOwedOutcomeRepository:
    """Messages owed to reporters in `owed_outcome` (deleted with the contact, whose sealed
    chat id `seal` opens; one that does not open is not claimed)."""

    def __init__(self, conn: AsyncConnection, seal: ContactSeal | None) -> None:
        self._c = conn
        self._seal = seal

    async def add(self, owed: Sequence[ReporterToTell], claimed_at: datetime) -> None:
        if owed:
            await self._c.execute(
                insert(OWED),
                [{"id": r.key, "report_id": r.report_id, "follow_up_id": r.follow_up_id, "claimed_at": claimed_at} for r in owed],
            )

    async def claim(self, before: datetime, now: datetime, limit: int) -> list[ReporterToTell]:
        seal = _require(self._seal, "telling reporters")
        rows = (
            await self._c.execute(
                select(
                    OWED.c.id,
                    OWED.c.report_id,
                    OWED.c.follow_up_id,
                    REPORT.c.ref_code,
                    CONTACT.c.sealed_chat,
                    CONTACT.c.language,
                    INCIDENT.c.verdict,
                    FOLLOW_UP.c.question,
                )
                .join(CONTACT, CONTACT.c.report_id == OWED.c.report_id)
                .join(REPORT, REPORT.c.id == OWED.c.report_id)
                .outerjoin(INCIDENT, INCIDENT.c.id == REPORT.c.incident_id)
                .outerjoin(FOLLOW_UP, FOLLOW_UP.c.id == OWED.c.follow_up_id)
                .where(OWED.c.claimed_at < before)
                .order_by(OWED.c.claimed_at, REPORT.c.created_at, OWED.c.id)
                .limit(limit)
            )
        ).all()
        taken = []
        for r in rows:
            chat_id = seal.open(r.sealed_chat, r.report_id)
            if chat_id is None:
                continue
            won = await self._c.execute(update(OWED).where(OWED.c.id == r.id, OWED.c.claimed_at < before).values(claimed_at=now))
            if won.rowcount == 1:
                asks = r.follow_up_id is not None  # a question, else the decided incident's verdict
                taken.append(
                    ReporterToTell(
                        r.report_id,
                        r.ref_code,
                        chat_id,
                        r.language,
                        r.follow_up_id,
                        None if asks else Verdict(r.verdict),
                        r.question if asks else "",
                    )
                )
        return taken

    async def delete(self, keys: Sequence[str]) -> None:
        if keys:
            await self._c.execute(delete(OWED).where(OWED.c.id.in_(list(keys))))


class SqlMediaRepository:
    """Photos in `media`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, media: Media) -> None:
        await self._c.execute(
            insert(MEDIA).values(
                id=media.id,
                draft_id=media.draft_id,
                report_id=media.report_id,
                content=media.content,
                mime_type=media.mime_type,
                width=media.width,
                height=media.height,
                created_at=media.created_at,
            )
        )

    async def attach(self, draft_id: str, report_id: str) -> tuple[str, ...]:
        ids = tuple((await self._c.execute(select(MEDIA.c.id).where(MEDIA.c.draft_id == draft_id))).scalars())
        if ids:
            await self._c.execute(update(MEDIA).where(MEDIA.c.id.in_(ids)).values(report_id=report_id))
        return ids

    async def for_incident(self, incident_id: str) -> list[Media]:
        of_reports = select(REPORT.c.id).where(REPORT.c.incident_id == incident_id)
        on_site = select(ON_SITE.c.photo_id).where(ON_SITE.c.incident_id == incident_id, ON_SITE.c.photo_id.is_not(None))
        rows = await self._c.execute(
            select(MEDIA)
            .where(or_(MEDIA.c.report_id.in_(of_reports), MEDIA.c.id.in_(on_site)))
            .order_by(MEDIA.c.created_at, MEDIA.c.id)
        )
        return [
            Media(r["id"], r["draft_id"], r["content"], r["mime_type"], r["width"], r["height"], r["created_at"], r["report_id"])
            for r in rows.mappings()
        ]

    async def delete_unsubmitted_before(self, cutoff: datetime) -> int:
        kept = select(ON_SITE.c.photo_id).where(ON_SITE.c.photo_id.is_not(None))  # an on-site report's photo
        query = delete(MEDIA).where(MEDIA.c.report_id.is_(None), MEDIA.c.created_at < cutoff, MEDIA.c.id.not_in(kept))
        return int((await self._c.execute(query)).rowcount)


class SqlNeighborhoodRepository:
    """Neighborhoods in `neighborhood`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def replace_all(self, neighborhoods: list[Neighborhood]) -> None:
        """Neighborhoods whose id is kept are updated in place, so their subscriptions, channel
        links and alerts stay; new ids are added; only the ids no longer listed are deleted
        (and with them, ON DELETE CASCADE, what pointed at them)."""
        rows = [
            {
                "nb_id": nb.id,
                "name": nb.name,
                "aliases": list(nb.aliases),
                "zips": list(nb.zips),
                "geometry": nb.to_geojson_geometry(),
            }
            for nb in neighborhoods
        ]
        existing = set((await self._c.execute(select(NEIGHBORHOOD.c.id))).scalars())
        await self._c.execute(delete(NEIGHBORHOOD).where(NEIGHBORHOOD.c.id.not_in([r["nb_id"] for r in rows])))
        if kept := [r for r in rows if r["nb_id"] in existing]:
            await self._c.execute(
                update(NEIGHBORHOOD)
                .where(NEIGHBORHOOD.c.id == bindparam("nb_id"))
                .values(
                    name=bindparam("name"), aliases=bindparam("aliases"), zips=bindparam("zips"), geometry=bindparam("geometry")
                ),
                kept,
            )
        if added := [r for r in rows if r["nb_id"] not in existing]:
            await self._c.execute(insert(NEIGHBORHOOD), [{"id": r.pop("nb_id"), **r} for r in added])

    async def all(self) -> list[Neighborhood]:
        rows = (await self._c.execute(select(NEIGHBORHOOD).order_by(NEIGHBORHOOD.c.name))).mappings()
        return [
            Neighborhood(
                id=r["id"],
                name=r["name"],
                aliases=tuple(r["aliases"]),
                zips=tuple(r["zips"]),
                polygons=parse_polygons(r["geometry"]),
            )
            for r in rows
        ]


class SqlVerifierRepository:
    """The roster in `verifier`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def get(self, user_id: int) -> Verifier | None:
        row = (await self._c.execute(select(VERIFIER).where(VERIFIER.c.user_id == user_id))).mappings().first()
        return _verifier(row) if row is not None else None

    async def save(self, verifier: Verifier) -> None:
        values = {
            "role": int(verifier.role),
            "name": verifier.name,
            "pseudonym": verifier.pseudonym,
            "joined_at": verifier.joined_at,
            "languages": list(verifier.languages),
            "neighborhoods": list(verifier.neighborhoods),
            "on_duty": verifier.on_duty,
        }
        updated = await self._c.execute(update(VERIFIER).where(VERIFIER.c.user_id == verifier.user_id).values(values))
        if updated.rowcount == 0:
            await self._c.execute(insert(VERIFIER).values(user_id=verifier.user_id, **values))

    async def all(self) -> list[Verifier]:
        rows = (await self._c.execute(select(VERIFIER).order_by(VERIFIER.c.role.desc(), VERIFIER.c.name))).mappings()
        return [_verifier(r) for r in rows]


def _verifier(row: Any) -> Verifier:
    return Verifier(
        user_id=row["user_id"],
        role=Role(row["role"]),
        name=row["name"],
        pseudonym=row["pseudonym"],
        joined_at=row["joined_at"],
        languages=tuple(row["languages"]),
        neighborhoods=tuple(row["neighborhoods"]),
        on_duty=bool(row["on_duty"]),
    )


class SqlInviteRepository:
    """Invite codes in `invite`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, invite: Invite) -> None:
        await self._c.execute(
            insert(INVITE).values(
                code=invite.code,
                role=int(invite.role),
                created_by=invite.created_by,
                created_at=invite.created_at,
                expires_at=invite.expires_at,
                used_by=invite.used_by,
                used_at=invite.used_at,
            )
        )

    async def get(self, code: str) -> Invite | None:
        row = (await self._c.execute(select(INVITE).where(INVITE.c.code == code))).mappings().first()
        if row is None:
            return None
        return Invite(
            row["code"],
            Role(row["role"]),
            row["created_by"],
            row["created_at"],
            row["expires_at"],
            row["used_by"],
            row["used_at"],
        )

    async def use(self, code: str, user_id: int, at: datetime) -> bool:
        result = await self._c.execute(
            update(INVITE).where(INVITE.c.code == code, INVITE.c.used_by.is_(None)).values(used_by=user_id, used_at=at)
        )
        return result.rowcount == 1

    async def void_issued_by(self, user_id: int, roles: Sequence[Role], at: datetime) -> int:
        result = await self._c.execute(
            update(INVITE)
            .where(
                INVITE.c.created_by == user_id,
                INVITE.c.used_by.is_(None),
                INVITE.c.expires_at > at,
                INVITE.c.role.in_([int(r) for r in roles]),
            )
            .values(expires_at=at)
        )
        return result.rowcount


class SqlAuditRepository:
    """The trail in `audit_event`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, event: AuditEvent) -> None:
        await self._c.execute(
            insert(AUDIT).values(at=event.at, actor=event.actor, action=event.action, subject=event.subject, detail=event.detail)
        )


class SqlVerdictRepository:
    """Verdicts in `verdict`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, record: VerdictRecord) -> bool:
        insert_ = sqlite.insert if self._c.dialect.name == "sqlite" else postgresql.insert
        result = await self._c.execute(
            insert_(VERDICT)
            .values(
                incident_id=record.incident_id,
                verifier_id=record.verifier_id,
                verdict=record.verdict.value,
                reason=record.reason,
                at=record.at,
                counts=record.counts,
            )
            .on_conflict_do_nothing(index_elements=["incident_id", "verifier_id"])
        )
        return result.rowcount == 1

    async def redact_before(self, cutoff: datetime) -> int:
        query = update(VERDICT).where(VERDICT.c.at < cutoff, VERDICT.c.reason != "").values(reason="")
        return int((await self._c.execute(query)).rowcount)

    async def for_incident(self, incident_id: str) -> tuple[VerdictRecord, ...]:
        rows = await self._c.execute(select(VERDICT).where(VERDICT.c.incident_id == incident_id).order_by(VERDICT.c.id))
        return tuple(
            VerdictRecord(r.incident_id, r.verifier_id, Verdict(r.verdict), r.reason, r.at, bool(r.counts)) for r in rows
        )


class SqlFollowUpRepository:
    """Follow-up questions in `follow_up`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, follow_up: FollowUp) -> None:
        await self._c.execute(
            insert(FOLLOW_UP).values(
                id=follow_up.id,
                report_id=follow_up.report_id,
                question=follow_up.question,
                asked_by=follow_up.asked_by,
                asked_at=follow_up.asked_at,
                answer=follow_up.answer,
                answered_at=follow_up.answered_at,
            )
        )

    async def get(self, follow_up_id: str) -> FollowUp | None:
        row = (await self._c.execute(select(FOLLOW_UP).where(FOLLOW_UP.c.id == follow_up_id))).first()
        return _follow_up(row) if row is not None else None

    async def answer(self, follow_up_id: str, answer: str, at: datetime) -> bool:
        result = await self._c.execute(
            update(FOLLOW_UP)
            .where(FOLLOW_UP.c.id == follow_up_id, FOLLOW_UP.c.answer.is_(None))
            .values(answer=answer, answered_at=at)
        )
        return result.rowcount == 1

    async def for_incident(self, incident_id: str) -> list[FollowUp]:
        rows = await self._c.execute(
            select(FOLLOW_UP)
            .join(REPORT, REPORT.c.id == FOLLOW_UP.c.report_id)
            .where(REPORT.c.incident_id == incident_id)
            .order_by(FOLLOW_UP.c.asked_at)
        )
        return [_follow_up(r) for r in rows]


def _follow_up(row: Any) -> FollowUp:
    return FollowUp(row.id, row.report_id, row.question, row.asked_by, row.asked_at, row.answer, row.answered_at)
