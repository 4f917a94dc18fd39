"""Reporter trust hints for the desk's card (see :mod:`sereno.verify.trust`)."""

from __future__ import annotations

from collections.abc import Sequence

from sereno.verify.model import Report
from sereno.verify.ports import UnitOfWorkFactory
from sereno.verify.trust import Trust, TrustHint


class TrustService:
    """Reads pseudonyms' past outcomes. It returns hints keyed by report id, for the reports of a
    card the caller read through the desk (which checks the viewer); never for reporters."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def of(self, reporter: str, exclude_incident: str | None = None) -> Trust:
        """The pseudonym's trust, from its decided incidents other than `exclude_incident`."""
        async with self._uow() as uow:
            return (await uow.trust.outcomes([reporter], exclude_incident)).get(reporter, Trust())

    async def hints(self, reports: Sequence[Report]) -> dict[str, TrustHint]:
        """The hint of each of these reports of one incident (by report id), from its
        reporter's other incidents."""
        if not reports:
            return {}
        async with self._uow() as uow:
            outcomes = await uow.trust.outcomes(sorted({r.reporter for r in reports}), reports[0].incident_id)
        return {r.id: outcomes.get(r.reporter, Trust()).hint for r in reports}
