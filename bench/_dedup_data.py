"""Synthetic open incidents over a metropolitan area for `bench/dedup.py`, and the exhaustive
in-memory placement its indexed decisions are checked against.

Two layouts of the incidents seen within the clustering window:

* ``random`` (the issue's stress case): every incident drawn independently — 70 % around a
  few hundred hot spots (gaussian, σ 1 km), 30 % uniform — so hot spots hold hundreds of
  open, compatible incidents within a kilometre of each other;
* ``steady``: the same reports replayed in time order through `sereno.verify.clustering.place`, as
  the intake would (a JOIN bumps the incident, anything else opens one), so what is open in
  the window is what Sereno itself would hold after those reports.

Either way a share of the N open incidents was last seen before the window (a backlog the
time filter must skip), and the total is N.
"""

from __future__ import annotations

import math
import random
import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sereno.verify.clustering import Candidate, ClusterPolicy, Decision, Placement, cell_of, place
from sereno.verify.incidents import IncidentStatus, more_urgent
from sereno.verify.model import Activity, GeoPoint, Tier

CENTER_LAT, CENTER_LON = 34.05, -118.25  # downtown Los Angeles
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(CENTER_LAT))
HOT_SPOTS = 300
HOT_SHARE = 0.7
HOT_SIGMA_M = 1_000.0
ACTIVITIES: list[Activity | None] = [*Activity, None]
ACTIVITY_WEIGHTS = [10, 8, 6, 12, 3, 25, 8, 8, 20]  # presence and "not said" most common
TIERS = [Tier.URGENT, Tier.HIGH, Tier.ROUTINE]
TIER_WEIGHTS = [10, 30, 60]


@dataclass(frozen=True, slots=True)
class Query:
    """A located report to place."""

    point: GeoPoint
    activity: Activity | None


class Metro:
    """Seeded random points over a `width_km` × `height_km` box, clustered around hot spots."""

    def __init__(self, rng: random.Random, width_km: float = 50, height_km: float = 40) -> None:
        self._rng = rng
        self._half_ns = height_km * 500 / M_PER_DEG_LAT
        self._half_ew = width_km * 500 / M_PER_DEG_LON
        self.hot_spots = [self._uniform() for _ in range(HOT_SPOTS)]

    def reseeded(self, rng: random.Random) -> Metro:
        """The same area and hot spots, drawing from `rng`."""
        other = Metro.__new__(Metro)
        other._rng, other._half_ns, other._half_ew, other.hot_spots = rng, self._half_ns, self._half_ew, self.hot_spots
        return other

    def _uniform(self) -> tuple[float, float]:
        r = self._rng
        return CENTER_LAT + r.uniform(-self._half_ns, self._half_ns), CENTER_LON + r.uniform(-self._half_ew, self._half_ew)

    def point(self) -> GeoPoint:
        r = self._rng
        if r.random() < HOT_SHARE:
            lat, lon = r.choice(self.hot_spots)
            return GeoPoint(lat + r.gauss(0, HOT_SIGMA_M / M_PER_DEG_LAT), lon + r.gauss(0, HOT_SIGMA_M / M_PER_DEG_LON))
        return GeoPoint(*self._uniform())

    def activity(self) -> Activity | None:
        return self._rng.choices(ACTIVITIES, ACTIVITY_WEIGHTS)[0]

    def query(self) -> Query:
        return Query(self.point(), self.activity())


def queries(seed: int, m: int, width_km: float, height_km: float) -> list[Query]:
    """M located reports drawn like the incidents (same hot spots, another random stream)."""
    metro = Metro(random.Random(seed), width_km, height_km).reseeded(random.Random(seed + 1))
    return [metro.query() for _ in range(m)]


def incidents(
    seed: int,
    n: int,
    now: datetime,
    policy: ClusterPolicy,
    *,
    stale_share: float,
    layout: str,
    width_km: float,
    height_km: float,
) -> list[dict[str, Any]]:
    """N open incident rows (every column the benchmark sets, so one executemany fits all).
    Deterministic for a given seed and `now`: the benchmark drops them before timing and
    rebuilds them afterwards for the correctness check."""
    rng = random.Random(seed)
    metro = Metro(rng, width_km, height_km)
    fresh = n - round(n * stale_share)
    if layout == "random":
        rows = [
            _row(rng, metro.point(), metro.activity(), now - timedelta(seconds=rng.uniform(0, policy.window.total_seconds())))
            for _ in range(fresh)
        ]
    elif layout == "steady":
        rows = _replayed(rng, metro, fresh, now, policy)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    while len(rows) < n:  # the backlog: open, but last seen before the window
        stale = now - policy.window - timedelta(seconds=rng.uniform(1, 21 * 3600))
        rows.append(_row(rng, metro.point(), metro.activity(), stale))
    return rows


def _row(rng: random.Random, point: GeoPoint, activity: Activity | None, last_seen: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "status": IncidentStatus.OPEN.value,
        "tier": rng.choices(TIERS, TIER_WEIGHTS)[0].value,
        "activity": activity.value if activity else None,
        "neighborhood_id": f"n{rng.randrange(120):03d}",
        "lat": point.lat,
        "lon": point.lon,
        "cell": cell_of(point),
        "first_seen_at": last_seen - timedelta(seconds=rng.uniform(0, 7200)),
        "last_seen_at": last_seen,
        "report_count": 1,
        "claimed_by": None,
        "lease_until": None,
        "verdict": None,
        "decided_at": None,
    }


def _replayed(rng: random.Random, metro: Metro, reports: int, now: datetime, policy: ClusterPolicy) -> list[dict[str, Any]]:
    """Open incidents left by `reports` reports spread over the window, each placed as the
    intake places it (candidates here come from a lat/lon grid, not from h3 cells)."""
    start = now - policy.window
    times = sorted(start + timedelta(seconds=rng.uniform(0, policy.window.total_seconds())) for _ in range(reports))
    grid = _Grid(policy)
    rows: list[dict[str, Any]] = []
    for seen_at in times:
        point, activity = metro.point(), metro.activity()
        decision = place(point, None, activity, seen_at, grid.near(point), policy)
        tier = rng.choices(TIERS, TIER_WEIGHTS)[0]
        if decision.placement is Placement.JOIN:
            assert decision.target is not None
            row = grid.rows[decision.target.incident_id]
            row["last_seen_at"] = seen_at
            row["report_count"] += 1
            row["tier"] = more_urgent(Tier(row["tier"]), tier).value
            row["activity"] = row["activity"] or (activity.value if activity else None)
            grid.put(row)
        else:
            row = _row(rng, point, activity, seen_at)
            row["first_seen_at"], row["tier"] = seen_at, tier.value
            rows.append(row)
            grid.put(row)
    return rows


def candidate(row: dict[str, Any]) -> Candidate:
    return Candidate(
        row["id"],
        GeoPoint(row["lat"], row["lon"]),
        row["neighborhood_id"],
        Activity(row["activity"]) if row["activity"] else None,
        row["last_seen_at"],
        Tier(row["tier"]),
    )


class _Grid:
    """Incidents bucketed on a lat/lon grid whose squares are wider than the fringe."""

    def __init__(self, policy: ClusterPolicy) -> None:
        self._dlat = 1.1 * policy.fringe_m / M_PER_DEG_LAT
        self._dlon = 1.1 * policy.fringe_m / (M_PER_DEG_LAT * math.cos(math.radians(CENTER_LAT + 1)))
        self._buckets: defaultdict[tuple[int, int], dict[str, Candidate]] = defaultdict(dict)
        self.rows: dict[str, dict[str, Any]] = {}

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self._dlat), math.floor(lon / self._dlon)

    def put(self, row: dict[str, Any]) -> None:
        self.rows[row["id"]] = row
        self._buckets[self._key(row["lat"], row["lon"])][row["id"]] = candidate(row)

    def near(self, point: GeoPoint) -> list[Candidate]:
        i, j = self._key(point.lat, point.lon)
        return [c for di in (-1, 0, 1) for dj in (-1, 0, 1) for c in self._buckets.get((i + di, j + dj), {}).values()]


class Exhaustive:
    """Placement over every incident, in memory, after a lossless bounding-box prefilter:
    the reference the indexed decisions must match (not timed)."""

    def __init__(self, rows: list[dict[str, Any]], policy: ClusterPolicy) -> None:
        self._policy = policy
        located = sorted(((r["lat"], candidate(r)) for r in rows), key=lambda pair: pair[0])
        self._lats = [lat for lat, _ in located]
        self._candidates = [c for _, c in located]
        # Generous margins: a degree of latitude is over 110 km, of longitude here over 90 km.
        self._dlat = 1.5 * policy.fringe_m / 110_000
        self._dlon = 1.5 * policy.fringe_m / 90_000

    def decide(self, q: Query, now: datetime) -> Decision:
        lo = bisect_left(self._lats, q.point.lat - self._dlat)
        hi = bisect_right(self._lats, q.point.lat + self._dlat)
        near = [c for c in self._candidates[lo:hi] if c.point is not None and abs(c.point.lon - q.point.lon) <= self._dlon]
        return place(q.point, None, q.activity, now, near, self._policy)
