"""Drill scenarios in `drill_scenario` (`verify.ports.DrillRepository`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables import DrillScenarioRow
from verify.drills import Scenario, parse_scenarios, scenario_document

DRILL = DrillScenarioRow.__table__  # type: ignore[attr-defined]


class SqlDrillRepository:
    """Scenarios stored as the documents they were imported from."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def save(self, scenario: Scenario, at: datetime) -> bool:
        """Store or replace a scenario; True when it was new."""
        replaced = await self._c.execute(delete(DRILL).where(DRILL.c.id == scenario.id))
        await self._c.execute(insert(DRILL).values(id=scenario.id, document=scenario_document(scenario),
                                                   imported_at=at))
        return not replaced.rowcount

    async def all(self) -> list[Scenario]:
        rows = await self._c.execute(select(DRILL.c.document).order_by(DRILL.c.id))
        return parse_scenarios({"scenarios": [row.document for row in rows]})
