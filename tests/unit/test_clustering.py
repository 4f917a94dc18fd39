import math
import random
from datetime import UTC, datetime, timedelta

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from sereno.verify.clustering import (
    Candidate,
    ClusterPolicy,
    Placement,
    candidate_cells,
    cell_of,
    compatible,
    distance_m,
    place,
)
from sereno.verify.incidents import Incident, IncidentStatus
from sereno.verify.intake import nearest_incident
from sereno.verify.model import Activity, GeoPoint, Tier
from tests.fakes import MemoryStore, _Incidents

NOW = datetime(2026, 5, 1, 15, 0, tzinfo=UTC)
POLICY = ClusterPolicy()
HERE = GeoPoint(34.0500, -118.2500)


def north_of(point: GeoPoint, metres: float) -> GeoPoint:
    return GeoPoint(point.lat + metres / 111_195.0, point.lon)


def incident(
    point: GeoPoint | None,
    activity: Activity | None = None,
    minutes_ago: int = 10,
    neighborhood: str | None = "las-palmas",
    ident: str = "i1",
) -> Candidate:
    return Candidate(ident, point, neighborhood, activity, NOW - timedelta(minutes=minutes_ago))


def test_distance_is_great_circle_metres() -> None:
    assert abs(distance_m(HERE, north_of(HERE, 1000)) - 1000) < 1


def test_a_close_recent_compatible_report_joins() -> None:
    decision = place(north_of(HERE, 400), None, Activity.ARREST, NOW, [incident(HERE, Activity.CHECKPOINT)], POLICY)
    assert decision.placement is Placement.JOIN and decision.incident_id == "i1"


def test_the_fringe_gets_a_suggestion_and_beyond_it_a_new_incident() -> None:
    assert place(north_of(HERE, 1500), None, None, NOW, [incident(HERE)], POLICY).placement is Placement.SUGGEST
    assert place(north_of(HERE, 2100), None, None, NOW, [incident(HERE)], POLICY).placement is Placement.NEW


def test_old_incidents_and_incompatible_activities_are_not_joined() -> None:
    stale = incident(HERE, minutes_ago=181)
    assert place(HERE, None, None, NOW, [stale], POLICY).placement is Placement.NEW
    workplace = incident(HERE, Activity.WORKPLACE)
    assert place(HERE, None, Activity.HOME_VISIT, NOW, [workplace], POLICY).placement is Placement.NEW


def test_the_nearest_of_several_incidents_is_joined() -> None:
    far, near = incident(north_of(HERE, 900), ident="far"), incident(north_of(HERE, 100), ident="near")
    assert place(HERE, None, None, NOW, [far, near], POLICY).incident_id == "near"


def test_reports_without_a_point_are_only_suggested_by_neighborhood() -> None:
    decision = place(None, "las-palmas", None, NOW, [incident(HERE)], POLICY)
    assert decision.placement is Placement.SUGGEST and decision.distance_m is None
    assert place(None, "old-mill", None, NOW, [incident(HERE)], POLICY).placement is Placement.NEW
    assert place(None, None, None, NOW, [incident(HERE)], POLICY).placement is Placement.NEW


def test_compatibility_is_symmetric_and_lenient_for_unclear_reports() -> None:
    assert compatible(Activity.ARREST, Activity.WORKPLACE) and compatible(Activity.WORKPLACE, Activity.ARREST)
    assert compatible(None, Activity.COURTHOUSE) and compatible(Activity.PRESENCE, Activity.CHECKPOINT)
    assert not compatible(Activity.CHECKPOINT, Activity.COURTHOUSE)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(min_value=-60, max_value=60),
    lon=st.floats(min_value=-179, max_value=179),
    bearing=st.floats(min_value=0, max_value=360),
    metres=st.floats(min_value=0, max_value=POLICY.fringe_m),
)
def test_every_incident_within_the_fringe_sits_in_a_candidate_cell(lat: float, lon: float, bearing: float, metres: float) -> None:
    report = GeoPoint(lat, lon)
    dlat = metres * math.cos(math.radians(bearing)) / 111_195.0
    dlon = metres * math.sin(math.radians(bearing)) / (111_195.0 * math.cos(math.radians(lat)))
    other = GeoPoint(lat + dlat, lon + dlon)
    if distance_m(report, other) <= POLICY.fringe_m:
        assert cell_of(other) in set(candidate_cells(report, POLICY))


def test_candidate_cells_are_a_small_fixed_set() -> None:
    cells = candidate_cells(HERE, POLICY)
    assert len(cells) == 1 + 3 * POLICY.ring * (POLICY.ring + 1)
    assert all(h3.get_resolution(c) == 8 for c in cells)


async def test_the_staged_search_finds_the_same_nearest_incident_as_a_full_search() -> None:
    rng = random.Random(11)
    store = MemoryStore()
    repo = _Incidents(store)
    for n in range(600):  # dense spots and sparse areas
        spot = rng.choice([(34.05, -118.25), (34.10, -118.30), None])
        lat, lon = (
            (spot[0] + rng.gauss(0, 0.004), spot[1] + rng.gauss(0, 0.004))
            if spot
            else (34.0 + rng.random() * 0.15, -118.35 + rng.random() * 0.15)
        )
        point = GeoPoint(lat, lon)
        await repo.add(
            Incident(
                str(n), IncidentStatus.OPEN, Tier.HIGH, rng.choice([None, *Activity]), None, point, cell_of(point), NOW, NOW, 1
            )
        )
    for _ in range(300):
        query = GeoPoint(34.0 + rng.random() * 0.15, -118.35 + rng.random() * 0.15)
        activity = rng.choice([None, *Activity])
        staged = await nearest_incident(repo, query, activity, NOW - POLICY.window, POLICY)
        full = await repo.nearest_open(
            query, candidate_cells(query, POLICY), NOW - POLICY.window, activity, POLICY.fringe_m * 1.01
        )
        assert (staged.incident_id if staged else None) == (full.incident_id if full else None)
