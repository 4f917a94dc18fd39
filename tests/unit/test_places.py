import json
import math

import pytest

from sereno.verify.model import GeoPoint, InvalidPoint
from sereno.verify.places import Gazetteer, PlaceDataError, PlaceKind, PlaceResolver, parse_geojson
from tests.conftest import DEMO_REGION


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(parse_geojson(DEMO_REGION.read_text()))


def test_demo_region_has_six_to_ten_neighborhoods_with_aliases_and_zips(gazetteer: Gazetteer) -> None:
    assert 6 <= len(gazetteer.neighborhoods) <= 10
    assert all(nb.aliases and nb.zips for nb in gazetteer.neighborhoods)


def test_pin_resolves_to_the_polygon_holding_it_everywhere(gazetteer: Gazetteer) -> None:
    # a dense grid over the region: the h3 index and the exact polygon test must agree
    min_lon = min(nb.bbox[0] for nb in gazetteer.neighborhoods)
    min_lat = min(nb.bbox[1] for nb in gazetteer.neighborhoods)
    max_lon = max(nb.bbox[2] for nb in gazetteer.neighborhoods)
    max_lat = max(nb.bbox[3] for nb in gazetteer.neighborhoods)
    steps = 60
    for i in range(steps + 1):
        for j in range(steps + 1):
            lat = min_lat + (max_lat - min_lat) * i / steps
            lon = min_lon + (max_lon - min_lon) * j / steps
            exact = [nb.id for nb in gazetteer.neighborhoods if nb.contains(lat, lon)]
            found = gazetteer.locate(lat, lon)
            assert (found.id if found else None) == (exact[0] if exact else None), (lat, lon)


def test_pin_outside_every_neighborhood_is_none(gazetteer: Gazetteer) -> None:
    assert gazetteer.locate(40.7128, -74.0060) is None
    assert gazetteer.locate(90.0, 180.0) is None


def test_typed_alias_any_case_and_accents(gazetteer: Gazetteer) -> None:
    assert [nb.id for nb in gazetteer.match_text("cerca de LA MISION")] == ["mission-flats"]
    assert [nb.id for nb in gazetteer.match_text("5th and Main, Las Palmas")] == ["las-palmas"]


def test_zip_shared_by_two_neighborhoods_is_ambiguous_unless_a_name_settles_it(gazetteer: Gazetteer) -> None:
    assert {nb.id for nb in gazetteer.match_text("90907")} == {"riverside", "eastfield"}
    assert [nb.id for nb in gazetteer.match_text("Campo Este 90907")] == ["eastfield"]


def test_alias_must_match_whole_words(gazetteer: Gazetteer) -> None:
    assert gazetteer.match_text("Harborough street") == []


class FixedGeocoder:
    def __init__(self, point: GeoPoint | None) -> None:
        self.point = point
        self.queries: list[str] = []

    async def geocode(self, query: str) -> GeoPoint | None:
        self.queries.append(query)
        return self.point


async def test_resolver_uses_the_geocoder_only_when_offline_matching_fails(gazetteer: Gazetteer) -> None:
    inside = GeoPoint(34.0565, -118.2577)
    geocoder = FixedGeocoder(inside)
    resolver = PlaceResolver(gazetteer, geocoder)
    assert (await resolver.resolve_text("Palmas")).neighborhood.id == "las-palmas"  # type: ignore[union-attr]
    assert geocoder.queries == []
    match = await resolver.resolve_text("1200 W 3rd St")
    assert match.kind is PlaceKind.FOUND and match.neighborhood.id == "las-palmas"  # type: ignore[union-attr]
    assert geocoder.queries == ["1200 W 3rd St"]


async def test_resolver_without_geocoder_reports_unknown(gazetteer: Gazetteer) -> None:
    assert (await PlaceResolver(gazetteer).resolve_text("somewhere else")).kind is PlaceKind.UNKNOWN


async def test_geocoded_place_outside_the_region_is_outside(gazetteer: Gazetteer) -> None:
    resolver = PlaceResolver(gazetteer, FixedGeocoder(GeoPoint(40.7, -74.0)))
    assert (await resolver.resolve_text("Times Square")).kind is PlaceKind.OUTSIDE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "not valid JSON"),
        (json.dumps({"type": "Feature"}), "FeatureCollection"),
        (json.dumps({"type": "FeatureCollection", "features": []}), "no features"),
        (json.dumps({"type": "FeatureCollection", "features": [{"properties": {}}]}), "feature 1: properties.name"),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [{"properties": {"name": "A"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}],
                }
            ),
            r"feature 1 \(A\): geometry must be a Polygon",
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "properties": {"name": "A", "zips": ["123"]},
                            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                        }
                    ],
                }
            ),
            "5-digit",
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "properties": {"name": "A"},
                            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [200, 1], [0, 0]]]},
                        }
                    ],
                }
            ),
            "not a longitude/latitude",
        ),
    ],
)
def test_bad_neighborhood_files_are_refused_with_a_clear_reason(data: str, message: str) -> None:
    with pytest.raises(PlaceDataError, match=message):
        parse_geojson(data)


def test_centroids_fall_inside_their_neighborhoods(gazetteer: Gazetteer) -> None:
    for nb in gazetteer.neighborhoods:
        c = nb.centroid
        assert gazetteer.locate(c.lat, c.lon) == nb


@pytest.mark.parametrize(
    ("lat", "lon", "accuracy"),
    [
        (90.5, 0.0, None),
        (-91.0, 0.0, None),
        (0.0, 180.5, None),
        (0.0, -200.0, None),
        (math.nan, 0.0, None),
        (0.0, math.inf, None),
        (-math.inf, 0.0, None),
        (0.0, 0.0, math.nan),
        (0.0, 0.0, -5.0),
    ],
)
def test_a_point_that_is_no_place_on_earth_is_refused(lat: float, lon: float, accuracy: float | None) -> None:
    with pytest.raises(InvalidPoint):
        GeoPoint(lat, lon, accuracy)
