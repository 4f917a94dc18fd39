"""Repositories implementing the `verify.ports` protocols on one SQLModel session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import MediaRow, NeighborhoodRow, ReportContactRow, ReportRow
from verify.errors import Conflict
from verify.model import (
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
from verify.places import Neighborhood, parse_polygons


class SqlReportRepository:
    """Reports in the `report` table."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, report: Report) -> None:
        point = report.point
        self._s.add(
            ReportRow(
                id=report.id,
                ref_code=report.ref_code,
                draft_id=report.draft_id,
                reporter=report.reporter,
                language=report.language,
                tier=report.tier,
                created_at=report.created_at,
                activity=report.activity,
                time_seen=report.time_seen,
                agents=report.agents,
                vehicles=report.vehicles,
                uniform=report.uniform,
                details=report.details,
                lat=point.lat if point else None,
                lon=point.lon if point else None,
                accuracy_m=point.accuracy_m if point else None,
                place_text=report.place_text,
                neighborhood_id=report.neighborhood_id,
            )
        )
        try:
            await self._s.flush()  # the row must exist before rows that point at it
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    async def by_draft(self, draft_id: str) -> Report | None:
        row = (await self._s.exec(select(ReportRow).where(ReportRow.draft_id == draft_id))).first()
        if row is None:
            return None
        media = await self._s.exec(select(MediaRow.id).where(MediaRow.report_id == row.id))
        return _report(row, tuple(media.all()))

    async def count_since(self, reporter: str, since: datetime) -> int:
        query = select(func.count()).select_from(ReportRow).where(
            ReportRow.reporter == reporter, col(ReportRow.created_at) > since
        )
        return int((await self._s.exec(query)).one())

    async def oldest_since(self, reporter: str, since: datetime) -> datetime | None:
        query = select(func.min(ReportRow.created_at)).where(
            ReportRow.reporter == reporter, col(ReportRow.created_at) > since
        )
        return (await self._s.exec(query)).one()


def _report(row: ReportRow, media_ids: tuple[str, ...]) -> Report:
    point = None
    if row.lat is not None and row.lon is not None:
        point = GeoPoint(row.lat, row.lon, row.accuracy_m)
    return Report(
        id=row.id,
        ref_code=row.ref_code,
        draft_id=row.draft_id,
        reporter=row.reporter,
        language=row.language,
        tier=Tier(row.tier),
        created_at=row.created_at,
        activity=Activity(row.activity) if row.activity else None,
        time_seen=TimeSeen(row.time_seen) if row.time_seen else None,
        agents=AgentCount(row.agents) if row.agents else None,
        vehicles=VehicleCount(row.vehicles) if row.vehicles else None,
        uniform=Uniform(row.uniform) if row.uniform else None,
        details=row.details,
        point=point,
        place_text=row.place_text,
        neighborhood_id=row.neighborhood_id,
        media_ids=media_ids,
    )


class SqlContactRepository:
    """Reporter contacts in `report_contact`."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, contact: ReportContact) -> None:
        self._s.add(
            ReportContactRow(
                report_id=contact.report_id,
                chat_id=contact.chat_id,
                language=contact.language,
                expires_at=contact.expires_at,
            )
        )


class SqlMediaRepository:
    """Photos in `media`."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, media: Media) -> None:
        self._s.add(
            MediaRow(
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
        await self._s.flush()

    async def attach(self, draft_id: str, report_id: str) -> tuple[str, ...]:
        ids = tuple(
            (await self._s.exec(select(MediaRow.id).where(MediaRow.draft_id == draft_id))).all()
        )
        if ids:
            await self._s.exec(
                update(MediaRow).where(col(MediaRow.id).in_(ids)).values(report_id=report_id)
            )
        return ids


class SqlNeighborhoodRepository:
    """Neighborhoods in `neighborhood`."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def replace_all(self, neighborhoods: list[Neighborhood]) -> None:
        await self._s.exec(delete(NeighborhoodRow))
        for nb in neighborhoods:
            self._s.add(
                NeighborhoodRow(
                    id=nb.id,
                    name=nb.name,
                    aliases=list(nb.aliases),
                    zips=list(nb.zips),
                    geometry=nb.to_geojson_geometry(),
                )
            )
        await self._s.flush()

    async def all(self) -> list[Neighborhood]:
        rows = (await self._s.exec(select(NeighborhoodRow).order_by(NeighborhoodRow.name))).all()
        return [
            Neighborhood(
                id=r.id,
                name=r.name,
                aliases=tuple(r.aliases),
                zips=tuple(r.zips),
                polygons=parse_polygons(r.geometry),
            )
            for r in rows
        ]
