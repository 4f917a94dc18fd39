"""Dispatch, trust and surge repositories (`sereno.verify.ports`: FieldVerifierRepository,
DispatchRepository, OnSiteReportRepository, DispatchNoticeRepository, TrustRepository,
SurgeRepository), with SQLAlchemy Core statements on the unit of work's connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from sereno.storage.repositories import INCIDENT, MEDIA, ON_SITE, REPORT
from sereno.storage.tables import (
    DispatchNoticeRow,
    DispatchRow,
    FieldVerifierRow,
    SurgeOverrideRow,
    SurgeSummaryRow,
)
from sereno.verify.dispatch import (
    OPEN_STATES,
    CheckIn,
    CheckInStage,
    Direction,
    Dispatch,
    DispatchNotice,
    DispatchState,
    EndReason,
    Equipment,
    FieldVerifier,
    Finding,
    NoticeKind,
    Offer,
    OfferAnswer,
    OnSiteReport,
    Salute,
)
from sereno.verify.errors import Conflict
from sereno.verify.incidents import IncidentStatus, Verdict
from sereno.verify.model import Activity, AgentCount, GeoPoint, TimeSeen, Uniform, VehicleCount
from sereno.verify.surge import SurgeOverride
from sereno.verify.training import DRILL_REPORTER
from sereno.verify.trust import Trust

FIELD = FieldVerifierRow.__table__  # type: ignore[attr-defined]
DISPATCH = DispatchRow.__table__  # type: ignore[attr-defined]
NOTICE = DispatchNoticeRow.__table__  # type: ignore[attr-defined]
SURGE = SurgeOverrideRow.__table__  # type: ignore[attr-defined]
SUMMARY = SurgeSummaryRow.__table__  # type: ignore[attr-defined]

_OPEN = [s.value for s in OPEN_STATES]
_SUMMARY_NAME = "coordinators"


def _stamp(value: datetime | None) -> str | None:
    """A time inside a JSON column: ISO 8601 with its UTC offset."""
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _opt(enum: Any, value: str | None) -> Any:
    return enum(value) if value else None


class SqlFieldVerifierRepository:
    """Field verifiers in `field_verifier`."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def get(self, user_id: int) -> FieldVerifier | None:
        row = (await self._c.execute(select(FIELD).where(FIELD.c.user_id == user_id))).mappings().first()
        return _field_verifier(row) if row is not None else None

    async def save(self, field_verifier: FieldVerifier) -> None:
        point = field_verifier.point
        values = {
            "opted_in_at": field_verifier.opted_in_at,
            "neighborhood_id": field_verifier.neighborhood_id,
            "lat": point.lat if point else None,
            "lon": point.lon if point else None,
            "accuracy_m": point.accuracy_m if point else None,
            "point_until": field_verifier.point_until,
        }
        updated = await self._c.execute(update(FIELD).where(FIELD.c.user_id == field_verifier.user_id).values(values))
        if updated.rowcount == 0:
            await self._c.execute(insert(FIELD).values(user_id=field_verifier.user_id, **values))

    async def remove(self, user_id: int) -> bool:
        return bool((await self._c.execute(delete(FIELD).where(FIELD.c.user_id == user_id))).rowcount)

    async def all(self) -> list[FieldVerifier]:
        rows = (await self._c.execute(select(FIELD).order_by(FIELD.c.user_id))).mappings()
        return [_field_verifier(r) for r in rows]

    async def stale_points(self, now: datetime) -> list[FieldVerifier]:
        rows = (
            await self._c.execute(
                select(FIELD).where(FIELD.c.point_until <= now, FIELD.c.lat.is_not(None)).order_by(FIELD.c.user_id)
            )
        ).mappings()
        return [_field_verifier(r) for r in rows]


def _field_verifier(row: Any) -> FieldVerifier:
    return FieldVerifier(
        row["user_id"],
        row["opted_in_at"],
        row["neighborhood_id"],
        GeoPoint.kept(row["lat"], row["lon"], row["accuracy_m"]),
        row["point_until"],
    )


class SqlDispatchRepository:
    """Dispatches in `dispatch`; every save is conditional on the version it read."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, dispatch: Dispatch, due: datetime | None) -> None:
        try:
            await self._c.execute(insert(DISPATCH).values(id=dispatch.id, **_values(dispatch, due)))
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    async def get(self, dispatch_id: str) -> Dispatch | None:
        row = (await self._c.execute(select(DISPATCH).where(DISPATCH.c.id == dispatch_id))).mappings().first()
        return _dispatch(row) if row is not None else None

    async def save(self, dispatch: Dispatch, due: datetime | None, previous: int) -> bool:
        try:
            updated = await self._c.execute(
                update(DISPATCH)
                .where(DISPATCH.c.id == dispatch.id, DISPATCH.c.version == previous)
                .values(_values(dispatch, due))
            )
        except IntegrityError as exc:  # a second open ask for the incident
            raise Conflict(str(exc.orig)) from None
        return updated.rowcount == 1

    async def for_incident(self, incident_id: str) -> list[Dispatch]:
        rows = await self._c.execute(
            select(DISPATCH).where(DISPATCH.c.incident_id == incident_id).order_by(DISPATCH.c.created_at, DISPATCH.c.id)
        )
        return [_dispatch(r) for r in rows.mappings()]

    async def open(self) -> list[Dispatch]:
        rows = await self._c.execute(
            select(DISPATCH).where(DISPATCH.c.state.in_(_OPEN)).order_by(DISPATCH.c.created_at, DISPATCH.c.id)
        )
        return [_dispatch(r) for r in rows.mappings()]

    async def due(self, now: datetime, limit: int) -> list[Dispatch]:
        rows = await self._c.execute(
            select(DISPATCH)
            .where(DISPATCH.c.next_due <= now, DISPATCH.c.state.in_(_OPEN))
            .order_by(DISPATCH.c.next_due, DISPATCH.c.id)
            .limit(limit)
        )
        return [_dispatch(r) for r in rows.mappings()]

    async def between(self, since: datetime, until: datetime) -> list[tuple[Dispatch, datetime]]:
        rows = await self._c.execute(
            select(DISPATCH, INCIDENT.c.first_seen_at.label("incident_first_seen_at"))
            .join(INCIDENT, INCIDENT.c.id == DISPATCH.c.incident_id)
            .where(DISPATCH.c.created_at >= since, DISPATCH.c.created_at <= until)
            .order_by(DISPATCH.c.created_at, DISPATCH.c.id)
        )
        return [(_dispatch(r), r["incident_first_seen_at"]) for r in rows.mappings()]


def _values(dispatch: Dispatch, due: datetime | None) -> dict[str, Any]:
    offer = dispatch.current_offer
    check = dispatch.check_in
    return {
        "incident_id": dispatch.incident_id,
        "dispatcher": dispatch.dispatcher,
        "created_at": dispatch.created_at,
        "state": dispatch.state.value,
        "offers": [
            {
                "person": o.person,
                "at": _stamp(o.at),
                "answer": o.answer.value if o.answer else None,
                "answered_at": _stamp(o.answered_at),
            }
            for o in dispatch.offers
        ],
        "offered_to": offer.person if offer is not None else None,
        "person": dispatch.person,
        "eta_minutes": dispatch.eta_minutes,
        "accepted_at": dispatch.accepted_at,
        "on_site_at": dispatch.on_site_at,
        "check_in_due": check.due_at if check else None,
        "check_in_stage": check.stage.value if check else None,
        "check_in_stage_at": check.stage_at if check else None,
        "help_at": check.help_at if check else None,
        "missed_check_ins": dispatch.missed_check_ins,
        "escalations": dispatch.escalations,
        "ended_at": dispatch.ended_at,
        "ended_by": dispatch.ended_by,
        "end_reason": dispatch.end_reason.value if dispatch.end_reason else None,
        "next_due": due,
        "version": dispatch.version,
    }


def _dispatch(row: Any) -> Dispatch:
    offers = tuple(
        Offer(int(o["person"]), datetime.fromisoformat(o["at"]), _opt(OfferAnswer, o["answer"]), _time(o["answered_at"]))
        for o in row["offers"]
    )
    check = None
    if row["check_in_due"] is not None:
        check = CheckIn(row["check_in_due"], CheckInStage(row["check_in_stage"]), row["check_in_stage_at"], row["help_at"])
    return Dispatch(
        id=row["id"],
        incident_id=row["incident_id"],
        dispatcher=row["dispatcher"],
        created_at=row["created_at"],
        state=DispatchState(row["state"]),
        offers=offers,
        eta_minutes=row["eta_minutes"],
        accepted_at=row["accepted_at"],
        on_site_at=row["on_site_at"],
        check_in=check,
        missed_check_ins=row["missed_check_ins"],
        escalations=row["escalations"],
        ended_at=row["ended_at"],
        ended_by=row["ended_by"],
        end_reason=_opt(EndReason, row["end_reason"]),
        version=row["version"],
    )


class SqlOnSiteReportRepository:
    """On-site reports in `on_site_report` (one per dispatch, held by a unique key)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, report: OnSiteReport) -> None:
        s = report.salute
        try:
            await self._c.execute(
                insert(ON_SITE).values(
                    id=report.id,
                    dispatch_id=report.dispatch_id,
                    incident_id=report.incident_id,
                    person=report.person,
                    finding=report.finding.value,
                    at=report.at,
                    agents=_value(s.agents),
                    vehicles=_value(s.vehicles),
                    activity=_value(s.activity),
                    place_text=s.place_text,
                    uniform=_value(s.uniform),
                    time_seen=_value(s.time_seen),
                    equipment=[e.value for e in s.equipment],
                    direction=_value(s.direction),
                    text=report.text,
                    photo_id=report.photo_id,
                    verdict=_value(report.verdict),
                    counts=report.counts,
                    refusal=report.refusal,
                )
            )
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    async def for_dispatch(self, dispatch_id: str) -> OnSiteReport | None:
        row = (await self._c.execute(select(ON_SITE).where(ON_SITE.c.dispatch_id == dispatch_id))).mappings().first()
        return _on_site(row) if row is not None else None

    async def for_incident(self, incident_id: str) -> list[OnSiteReport]:
        rows = await self._c.execute(
            select(ON_SITE).where(ON_SITE.c.incident_id == incident_id).order_by(ON_SITE.c.at, ON_SITE.c.id)
        )
        return [_on_site(r) for r in rows.mappings()]

    async def redact_before(self, cutoff: datetime) -> int:
        old = (ON_SITE.c.at < cutoff,)
        photos = select(ON_SITE.c.photo_id).where(*old, ON_SITE.c.photo_id.is_not(None))
        await self._c.execute(delete(MEDIA).where(MEDIA.c.id.in_(photos)))
        query = (
            update(ON_SITE)
            .where(
                *old,
                or_(ON_SITE.c.text.is_not(None), ON_SITE.c.place_text.is_not(None), ON_SITE.c.photo_id.is_not(None)),
            )
            .values(text=None, place_text=None, photo_id=None)
        )
        return int((await self._c.execute(query)).rowcount)


def _value(member: Any) -> str | None:
    return member.value if member is not None else None


def _on_site(row: Any) -> OnSiteReport:
    salute = Salute(
        agents=_opt(AgentCount, row["agents"]),
        vehicles=_opt(VehicleCount, row["vehicles"]),
        activity=_opt(Activity, row["activity"]),
        place_text=row["place_text"],
        uniform=_opt(Uniform, row["uniform"]),
        time_seen=_opt(TimeSeen, row["time_seen"]),
        equipment=tuple(Equipment(e) for e in row["equipment"]),
        direction=_opt(Direction, row["direction"]),
    )
    return OnSiteReport(
        id=row["id"],
        dispatch_id=row["dispatch_id"],
        incident_id=row["incident_id"],
        person=row["person"],
        finding=Finding(row["finding"]),
        at=row["at"],
        salute=salute,
        text=row["text"],
        photo_id=row["photo_id"],
        verdict=_opt(Verdict, row["verdict"]),
        counts=bool(row["counts"]),
        refusal=row["refusal"],
    )


class SqlDispatchNoticeRepository:
    """Notices owed in `dispatch_notice` until sent."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def add(self, notices: Sequence[DispatchNotice], claimed_at: datetime) -> None:
        if notices:
            await self._c.execute(
                insert(NOTICE),
                [
                    {
                        "id": n.id,
                        "dispatch_id": n.dispatch_id,
                        "kind": n.kind.value,
                        "recipient": n.recipient,
                        "detail": {
                            "incident_id": n.incident_id,
                            "eta_minutes": n.eta_minutes,
                            "neighborhood_id": n.neighborhood_id,
                            "person": n.person,
                            "person_name": n.person_name,
                        },
                        "created_at": n.at,
                        "claimed_at": claimed_at,
                    }
                    for n in notices
                ],
            )

    async def claim(self, before: datetime, now: datetime, limit: int) -> list[DispatchNotice]:
        rows = (
            (
                await self._c.execute(
                    select(NOTICE)
                    .where(NOTICE.c.claimed_at < before)
                    .order_by(NOTICE.c.claimed_at, NOTICE.c.created_at, NOTICE.c.id)
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
        taken = []
        for row in rows:
            won = await self._c.execute(
                update(NOTICE).where(NOTICE.c.id == row["id"], NOTICE.c.claimed_at < before).values(claimed_at=now)
            )
            if won.rowcount == 1:
                detail = row["detail"]
                taken.append(
                    DispatchNotice(
                        row["id"],
                        NoticeKind(row["kind"]),
                        row["recipient"],
                        row["dispatch_id"],
                        detail["incident_id"],
                        row["created_at"],
                        detail.get("eta_minutes"),
                        detail.get("neighborhood_id"),
                        detail.get("person"),
                        detail.get("person_name"),
                    )
                )
        return taken

    async def delete(self, notice_ids: Sequence[str]) -> None:
        if notice_ids:
            await self._c.execute(delete(NOTICE).where(NOTICE.c.id.in_(list(notice_ids))))


class SqlTrustRepository:
    """Past outcomes per pseudonym, from the reports still kept and their incidents."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def outcomes(self, reporters: Sequence[str], exclude_incident: str | None = None) -> dict[str, Trust]:
        wanted = [r for r in dict.fromkeys(reporters) if r != DRILL_REPORTER]
        if not wanted:
            return {}
        query = (
            select(REPORT.c.reporter, INCIDENT.c.verdict, func.count(func.distinct(INCIDENT.c.id)))
            .join(INCIDENT, INCIDENT.c.id == REPORT.c.incident_id)
            .where(
                REPORT.c.reporter.in_(wanted),
                INCIDENT.c.status == IncidentStatus.DECIDED.value,
                INCIDENT.c.verdict.in_([Verdict.CONFIRMED.value, Verdict.DEBUNKED.value]),
                INCIDENT.c.drill.is_(None),
            )
            .group_by(REPORT.c.reporter, INCIDENT.c.verdict)
        )
        if exclude_incident is not None:
            query = query.where(INCIDENT.c.id != exclude_incident)
        found: dict[str, Trust] = {}
        for reporter, verdict, count in await self._c.execute(query):
            trust = found.get(reporter, Trust())
            found[reporter] = (
                Trust(int(count), trust.debunked) if verdict == Verdict.CONFIRMED.value else Trust(trust.confirmed, int(count))
            )
        return found


class SqlSurgeRepository:
    """Surge overrides, report counts by neighborhood, and the last summary's time."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def overrides(self) -> list[SurgeOverride]:
        rows = await self._c.execute(select(SURGE).order_by(SURGE.c.neighborhood_id))
        return [SurgeOverride(r["neighborhood_id"], bool(r["on"]), r["set_by"], r["set_at"], r["until"]) for r in rows.mappings()]

    async def set_override(self, override: SurgeOverride) -> None:
        values = {"on": override.on, "set_by": override.by, "set_at": override.at, "until": override.until}
        updated = await self._c.execute(update(SURGE).where(SURGE.c.neighborhood_id == override.neighborhood_id).values(values))
        if updated.rowcount == 0:
            await self._c.execute(insert(SURGE).values(neighborhood_id=override.neighborhood_id, **values))

    async def clear_override(self, neighborhood_id: str) -> bool:
        return bool((await self._c.execute(delete(SURGE).where(SURGE.c.neighborhood_id == neighborhood_id))).rowcount)

    async def report_counts(self, since: datetime, until: datetime) -> dict[str | None, int]:
        rows = await self._c.execute(
            select(REPORT.c.neighborhood_id, func.count())
            .where(REPORT.c.created_at > since, REPORT.c.created_at <= until, REPORT.c.reporter != DRILL_REPORTER)
            .group_by(REPORT.c.neighborhood_id)
        )
        return {area: int(count) for area, count in rows}

    async def last_summary(self) -> datetime | None:
        return (await self._c.execute(select(SUMMARY.c.sent_at).where(SUMMARY.c.name == _SUMMARY_NAME))).scalar()

    async def claim_summary(self, previous: datetime | None, at: datetime) -> bool:
        if previous is None:
            insert_ = sqlite.insert if self._c.dialect.name == "sqlite" else postgresql.insert
            first = await self._c.execute(
                insert_(SUMMARY).values(name=_SUMMARY_NAME, sent_at=at).on_conflict_do_nothing(index_elements=["name"])
            )
            return first.rowcount == 1
        won = await self._c.execute(
            update(SUMMARY).where(SUMMARY.c.name == _SUMMARY_NAME, SUMMARY.c.sent_at == previous).values(sent_at=at)
        )
        return won.rowcount == 1
