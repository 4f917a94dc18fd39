"""Duplicate clustering: reports of one event become one incident.

A report joins an open incident when it is close in space and time (default 1 km, 3 h)
and its activity is compatible; within the fringe (up to 2× the distance) the verifier is
shown a suggested merge instead. Candidates come from h3 cells — the report's cell and a
ring of neighbours wide enough for the fringe — never from a scan of every open incident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import h3

from sereno.verify.model import Activity, GeoPoint, Tier

#: Resolution of incident cells (edges of about 530 m).
CELL_RESOLUTION = 8
_EARTH_RADIUS_M = 6_371_008.8
_METRES_PER_DEGREE = 111_195.0
#: Activities that describe different kinds of operation: two different ones are not one event.
_SPECIFIC = frozenset({Activity.HOME_VISIT, Activity.WORKPLACE, Activity.CHECKPOINT, Activity.COURTHOUSE})


@dataclass(frozen=True, slots=True)
class ClusterPolicy:
    """How close two reports must be to describe one event (configurable per deployment)."""

    radius_m: float = 1000.0
    window: timedelta = timedelta(hours=3)
    fringe_factor: float = 2.0

    @property
    def fringe_m(self) -> float:
        return self.radius_m * self.fringe_factor

    @property
    def ring(self) -> int:
        """How many rings of cells around a report's cell can hold an incident in the fringe."""
        edge: float = h3.average_hexagon_edge_length(CELL_RESOLUTION, "m")
        return math.ceil(self.fringe_m / (1.5 * edge)) + 1


def cell_of(point: GeoPoint) -> str:
    """The incident cell holding `point`."""
    cell: str = h3.latlng_to_cell(point.lat, point.lon, CELL_RESOLUTION)
    return cell


def coarse_point(point: GeoPoint) -> GeoPoint:
    """The centre of the incident cell holding `point`: the precision public text may carry
    (about 500 m), kept for an incident once its reports are purged."""
    lat, lon = h3.cell_to_latlng(cell_of(point))
    return GeoPoint(lat, lon)


def candidate_cells(point: GeoPoint, policy: ClusterPolicy) -> list[str]:
    """Cells where an incident within the fringe of `point` can sit."""
    return list(h3.grid_disk(cell_of(point), policy.ring))


def search_stages(point: GeoPoint, policy: ClusterPolicy) -> list[tuple[list[str], float]]:
    """Cell sets to search for the nearest incident, smallest first, each with the radius it
    is sure to cover around `point`: a nearest incident found within that radius is the
    nearest of all, so the wider (slower) sets are only read when needed. The last set
    covers the whole fringe."""
    home = cell_of(point)
    near = list(h3.grid_disk(home, 1))
    return [(near, _inner_radius(point, near)), (candidate_cells(point, policy), policy.fringe_m)]


def _inner_radius(point: GeoPoint, cells: list[str]) -> float:
    """The distance from `point` to the outline of `cells` (every point closer than that
    lies in one of them), less 1 % for the flat-earth approximation at this scale."""
    shape = h3.cells_to_h3shape(cells)
    outline = shape.outer if isinstance(shape, h3.LatLngPoly) else shape[0].outer
    kx = _METRES_PER_DEGREE * math.cos(math.radians(point.lat))
    xy = [((lng - point.lon) * kx, (lat - point.lat) * _METRES_PER_DEGREE) for lat, lng in outline]
    closest = min(_segment_distance(xy[i - 1], xy[i]) for i in range(len(xy)))
    return closest * 0.99


def _segment_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from the origin to the segment a–b (plane coordinates)."""
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy)


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


#: Activities that exclude one another (see :func:`compatible`).
SPECIFIC_ACTIVITIES = _SPECIFIC


def compatible(a: Activity | None, b: Activity | None) -> bool:
    """Whether two reported activities can describe one event: two different specific kinds
    (a home visit and a workplace operation, say) cannot; anything else can (an arrest seen
    at a checkpoint, agents seen present, something else, not said)."""
    return a is None or b is None or a == b or not (a in _SPECIFIC and b in _SPECIFIC)


class Placement(StrEnum):
    """What a new report does to the open incidents."""

    JOIN = "join"  # becomes part of an incident
    SUGGEST = "suggest"  # opens its own incident, with a merge suggested to the verifier
    NEW = "new"  # opens its own incident


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open incident near a new report, as the clustering sees it."""

    incident_id: str
    point: GeoPoint | None
    neighborhood_id: str | None
    activity: Activity | None
    last_seen_at: datetime
    tier: Tier = Tier.ROUTINE


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a report goes: `target` is the incident joined or suggested; `distance_m` is
    None for a neighborhood-only suggestion."""

    placement: Placement
    target: Candidate | None = None
    distance_m: float | None = None

    @property
    def incident_id(self) -> str | None:
        return self.target.incident_id if self.target else None


def place(
    point: GeoPoint | None,
    neighborhood_id: str | None,
    activity: Activity | None,
    seen_at: datetime,
    candidates: list[Candidate],
    policy: ClusterPolicy,
) -> Decision:
    """Join the nearest compatible incident within the radius; else suggest the nearest
    compatible one within the fringe; a report without a point is only ever suggested for
    an incident in the same neighborhood."""
    recent = [c for c in candidates if c.last_seen_at >= seen_at - policy.window and compatible(activity, c.activity)]
    if point is None:
        same_area = [c for c in recent if neighborhood_id is not None and c.neighborhood_id == neighborhood_id]
        if same_area:
            latest = max(same_area, key=lambda c: c.last_seen_at)
            return Decision(Placement.SUGGEST, latest)
        return Decision(Placement.NEW)
    located = [(distance_m(point, c.point), c) for c in recent if c.point is not None]
    if not located:
        return Decision(Placement.NEW)
    nearest_distance, nearest = min(located, key=lambda pair: pair[0])
    if nearest_distance <= policy.radius_m:
        return Decision(Placement.JOIN, nearest, nearest_distance)
    if nearest_distance <= policy.fringe_m:
        return Decision(Placement.SUGGEST, nearest, nearest_distance)
    return Decision(Placement.NEW)
