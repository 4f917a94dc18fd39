"""Figures the metrics endpoint reads straight from the database (not through a unit of work:
a scrape must stay cheap and touch nothing else)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sereno.storage.repositories import INCIDENT
from sereno.verify.incidents import IncidentStatus


async def open_incidents(engine: AsyncEngine) -> int:
    """How many incidents are open on the desk (the queue depth)."""
    async with engine.connect() as conn:
        query = select(func.count()).select_from(INCIDENT).where(INCIDENT.c.status == IncidentStatus.OPEN.value)
        return int((await conn.execute(query)).scalar() or 0)
