"""The public map's data source over the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.bot.i18n import translator
from sereno.storage.unit_of_work import SqlUnitOfWorkFactory
from sereno.verify.alerts import AlertKind, AlertState
from sereno.verify.incidents import Incident, IncidentStatus
from sereno.verify.model import Tier
from sereno.verify.places import Gazetteer
from sereno.web.public_map import load_from, render_map
from tests.map_fixtures import NOW, RESOURCES, TZ, alert, demo_neighborhoods, parse_html


def incident(incident_id: str, neighborhood_id: str) -> Incident:
    at = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
    return Incident(incident_id, IncidentStatus.DECIDED, Tier.HIGH, None, neighborhood_id, None, None, at, at, 3)


async def test_load_from_gives_the_gazetteers_neighborhoods_and_only_active_alerts(engine: AsyncEngine) -> None:
    uow_factory = SqlUnitOfWorkFactory(engine)
    gazetteer = Gazetteer(demo_neighborhoods())
    active = alert()
    cleared = replace(alert("northgate"), state=AlertState.CLEARED)
    correction = replace(alert("old-mill"), kind=AlertKind.CORRECTION)
    async with uow_factory() as uow:
        for a in (active, cleared, correction):
            await uow.incidents.add(incident(a.incident_id, a.neighborhood_id or ""))
            await uow.alerts.add(a)
        await uow.commit()

    neighborhoods, alerts = await load_from(uow_factory, gazetteer)

    assert [nb.id for nb in neighborhoods] == [nb.id for nb in gazetteer.neighborhoods]
    assert [a.id for a in alerts] == [active.id]
    doc = parse_html(render_map(neighborhoods, alerts, translator("en"), TZ, RESOURCES, NOW))
    drawn = {p.attrs["data-neighborhood"]: p.classes for p in doc.find("path")}
    assert {k for k, v in drawn.items() if "active" in v} == {"las-palmas"}
