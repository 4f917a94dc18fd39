"""Read-only queries for desk statistics (`sereno.verify.ports.StatsRepository`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sereno.storage.alert_repositories import ALERT, OUTBOX, _alert
from sereno.storage.repositories import INCIDENT, REPORT, _incident
from sereno.verify.alerts import Alert, Delivery
from sereno.verify.incidents import Incident
from sereno.verify.training import DRILL_REPORTER


class SqlStatsRepository:
    """Counts and rows for a window, straight from the tables."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def reports_by_area(self, since: datetime, until: datetime) -> dict[str | None, int]:
        rows = await self._c.execute(
            select(REPORT.c.neighborhood_id, func.count())
            .where(REPORT.c.created_at >= since, REPORT.c.created_at <= until, REPORT.c.reporter != DRILL_REPORTER)
            .group_by(REPORT.c.neighborhood_id)
        )
        return {area: count for area, count in rows}

    async def incidents_between(self, since: datetime, until: datetime) -> list[Incident]:
        rows = (
            await self._c.execute(
                select(INCIDENT).where(
                    INCIDENT.c.first_seen_at >= since, INCIDENT.c.first_seen_at <= until, INCIDENT.c.drill.is_(None)
                )
            )
        ).mappings()
        return [_incident(r) for r in rows]

    async def alerts_between(self, since: datetime, until: datetime) -> list[Alert]:
        rows = await self._c.execute(select(ALERT).where(ALERT.c.verified_at >= since, ALERT.c.verified_at <= until))
        return [_alert(r) for r in rows]

    async def deliveries(self, alert_ids: Sequence[str]) -> dict[str, dict[Delivery, int]]:
        found: dict[str, dict[Delivery, int]] = {}
        if not alert_ids:
            return found
        rows = await self._c.execute(
            select(OUTBOX.c.alert_id, OUTBOX.c.state, func.count())
            .where(OUTBOX.c.alert_id.in_(list(alert_ids)))
            .group_by(OUTBOX.c.alert_id, OUTBOX.c.state)
        )
        for alert_id, state, count in rows:
            found.setdefault(alert_id, {})[Delivery(state)] = count
        return found
