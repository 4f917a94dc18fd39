"""Drill scenarios, drill runs and certification proposals (`sereno.verify.ports.DrillRepository`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sereno.storage.tables import CertificationProposalRow, DrillRunRow, DrillScenarioRow
from sereno.verify.drills import DrillRun, Scenario, parse_scenarios, scenario_document
from sereno.verify.incidents import DrillKind, Verdict

DRILL = DrillScenarioRow.__table__  # type: ignore[attr-defined]
RUN = DrillRunRow.__table__  # type: ignore[attr-defined]
PROPOSAL = CertificationProposalRow.__table__  # type: ignore[attr-defined]


class SqlDrillRepository:
    """Scenarios stored as the documents they were imported from, and their runs."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._c = conn

    async def save(self, scenario: Scenario, at: datetime) -> bool:
        """Store or replace a scenario; True when it was new."""
        replaced = await self._c.execute(delete(DRILL).where(DRILL.c.id == scenario.id))
        await self._c.execute(insert(DRILL).values(id=scenario.id, document=scenario_document(scenario), imported_at=at))
        return not replaced.rowcount

    async def all(self) -> list[Scenario]:
        rows = await self._c.execute(select(DRILL.c.document).order_by(DRILL.c.imported_at, DRILL.c.id))
        documents = [row.document for row in rows]
        return parse_scenarios({"scenarios": documents}) if documents else []

    async def get(self, scenario_id: str) -> Scenario | None:
        row = (await self._c.execute(select(DRILL.c.document).where(DRILL.c.id == scenario_id))).first()
        return parse_scenarios({"scenarios": [row.document]})[0] if row is not None else None

    async def add_run(self, run: DrillRun) -> None:
        await self._c.execute(
            insert(RUN).values(
                id=run.id,
                scenario_id=run.scenario_id,
                incident_id=run.incident_id,
                kind=run.kind.value,
                person=run.person,
                started_at=run.started_at,
            )
        )

    async def run_for_incident(self, incident_id: str) -> DrillRun | None:
        row = (await self._c.execute(select(RUN).where(RUN.c.incident_id == incident_id))).mappings().first()
        return _run(row) if row is not None else None

    async def runs(self, kind: DrillKind, person: int | None) -> list[DrillRun]:
        query = select(RUN).where(RUN.c.kind == kind.value)
        if person is not None:
            query = query.where(RUN.c.person == person)
        rows = await self._c.execute(query.order_by(RUN.c.started_at, RUN.c.id))
        return [_run(row) for row in rows.mappings()]

    async def finish(self, run: DrillRun) -> None:
        await self._c.execute(
            update(RUN)
            .where(RUN.c.id == run.id)
            .values(
                verdict=run.verdict.value if run.verdict else None,
                first_claimed_at=run.first_claimed_at,
                finished_at=run.finished_at,
            )
        )

    async def propose(self, user_id: int, at: datetime) -> bool:
        if (await self._c.execute(select(PROPOSAL.c.user_id).where(PROPOSAL.c.user_id == user_id))).first():
            return False
        await self._c.execute(insert(PROPOSAL).values(user_id=user_id, proposed_at=at))
        return True


def _run(row: Any) -> DrillRun:
    return DrillRun(
        id=row["id"],
        scenario_id=row["scenario_id"],
        incident_id=row["incident_id"],
        kind=DrillKind(row["kind"]),
        person=row["person"],
        started_at=row["started_at"],
        first_claimed_at=row["first_claimed_at"],
        verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        finished_at=row["finished_at"],
    )
