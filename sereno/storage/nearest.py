"""The intake's hottest statement — the nearest open incident among a few h3 cells — compiled
once per dialect and run as one driver call.

Through SQLAlchemy's async adapters a SELECT costs four thread hops on aiosqlite (cursor,
execute, fetch, close) and an expanding ``IN`` re-rendered per call; on a busy two-core
machine that overhead, not the index search, decides the lookup's tail latency. Here the
cells travel as one parameter (a JSON array read by ``json_each`` on SQLite, a text array
compared with ``= ANY`` on PostgreSQL), the SQL is compiled once by SQLAlchemy from the same
table definition, and it runs with ``execute_fetchall`` (aiosqlite, one hop) or ``fetchrow``
(asyncpg, its prepared-statement cache) on the unit of work's own connection.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, bindparam, func, literal_column, or_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from sereno.storage.tables import IncidentRow
from sereno.storage.types import UTCDateTime
from sereno.verify.clustering import SPECIFIC_ACTIVITIES, Candidate
from sereno.verify.model import Activity, GeoPoint, Tier

INCIDENT = IncidentRow.__table__  # type: ignore[attr-defined]
METRES_PER_DEGREE = 111_195.0
CANDIDATE_COLUMNS = (
    INCIDENT.c.id,
    INCIDENT.c.lat,
    INCIDENT.c.lon,
    INCIDENT.c.neighborhood_id,
    INCIDENT.c.activity,
    INCIDENT.c.last_seen_at,
    INCIDENT.c.tier,
)


def _param(name: str, **kw: Any) -> Any:
    """A named parameter whose value is given at each run (None only while compiling)."""
    return bindparam(name, None, **kw)


def _statement(dialect_name: str, compatible: bool) -> Any:
    """Nearest open incident in ``cells`` seen since ``since`` within ``within2`` (squared
    metres, equirectangular: arithmetic only, within 0.1 % of haversine over a few km)."""
    dx = (INCIDENT.c.lon - _param("lon")) * _param("kx")
    dy = (INCIDENT.c.lat - _param("lat")) * METRES_PER_DEGREE
    distance2 = dx * dx + dy * dy
    if dialect_name == "postgresql":
        in_cells = INCIDENT.c.cell == func.any(_param("cells", type_=ARRAY(String)))
    else:
        in_cells = INCIDENT.c.cell.in_(select(literal_column("value")).select_from(func.json_each(_param("cells"))))
    statement = select(*CANDIDATE_COLUMNS).where(
        INCIDENT.c.status == "open",
        in_cells,
        INCIDENT.c.last_seen_at >= _param("since"),
        distance2 <= _param("within2"),
    )
    if compatible:
        statement = statement.where(
            or_(
                INCIDENT.c.activity.is_(None),
                INCIDENT.c.activity == _param("activity"),
                INCIDENT.c.activity.not_in([a.value for a in SPECIFIC_ACTIVITIES]),
            )
        )
    return statement.order_by(distance2).limit(1)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names in positional order
    fixed: dict[str, Any]  # values of the statement's own literals (status, limit, …)


class NearestOpenLookup:
    """The nearest-open-incident statement for one dialect (sqlite or postgresql)."""

    def __init__(self, dialect: Dialect) -> None:
        self._postgres = dialect.name == "postgresql"
        self._compiled = {compatible: self._compile(dialect, compatible) for compatible in (False, True)}
        stamp = UTCDateTime().dialect_impl(dialect)
        self._bind_time: Callable[[Any], Any] = stamp.bind_processor(dialect) or (lambda v: v)
        self._read_time: Callable[[Any], Any] = stamp.result_processor(dialect, None) or (lambda v: v)

    @staticmethod
    def _compile(dialect: Dialect, compatible: bool) -> _Compiled:
        compiled = _statement(dialect.name, compatible).compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        return _Compiled(compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params))

    def bind(
        self, point: GeoPoint, cells: list[str], since: datetime, activity: Activity | None, within_m: float
    ) -> tuple[str, list[Any]]:
        """The driver-level SQL and positional values for one lookup."""
        compiled = self._compiled[activity in SPECIFIC_ACTIVITIES]
        params: dict[str, Any] = {
            "cells": cells if self._postgres else json.dumps(cells),
            "since": self._bind_time(since),
            "lat": point.lat,
            "lon": point.lon,
            "kx": METRES_PER_DEGREE * math.cos(math.radians(point.lat)),
            "within2": within_m * within_m,
            "activity": activity.value if activity is not None else None,
        }
        return compiled.sql, [params[name] if name in params else compiled.fixed[name] for name in compiled.names]

    async def run(
        self,
        conn: AsyncConnection,
        point: GeoPoint,
        cells: list[str],
        since: datetime,
        activity: Activity | None,
        within_m: float,
    ) -> Candidate | None:
        """The nearest open incident in `cells`, seen since `since`, compatible with `activity`
        (when it is a specific one), within `within_m` metres of `point`; None when none is."""
        sql, values = self.bind(point, cells, since, activity, within_m)
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        if self._postgres:
            row: Sequence[Any] | None = await driver.fetchrow(sql, *values)
        else:
            rows = await driver.execute_fetchall(sql, values)
            row = rows[0] if rows else None
        return self._candidate(row) if row is not None else None

    def _candidate(self, row: Sequence[Any]) -> Candidate:
        incident_id, lat, lon, neighborhood_id, activity, last_seen_at, tier = row
        return Candidate(
            incident_id,
            GeoPoint.kept(lat, lon),
            neighborhood_id,
            Activity(activity) if activity else None,
            self._read_time(last_seen_at),
            Tier(tier),
        )


_LOOKUPS: dict[str, NearestOpenLookup] = {}


def nearest_open_lookup(dialect: Dialect) -> NearestOpenLookup:
    """The lookup compiled for `dialect` (once per dialect name per process)."""
    lookup = _LOOKUPS.get(dialect.name)
    if lookup is None:
        lookup = _LOOKUPS[dialect.name] = NearestOpenLookup(dialect)
    return lookup
