"""Neighborhoods and how a pin or a typed place is resolved to one.

A pin resolves through an h3 cell index computed once per region: cells whose whole
neighbourhood lies in one polygon answer in O(1); pins in cells along a border fall back
to an exact point-in-polygon test among the few polygons whose bounding box holds them.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import h3

from sereno.verify.clustering import distance_m
from sereno.verify.model import GeoPoint

#: h3 resolution of the pin index (res 9: cells of about 0.1 km², edges of about 175 m).
INDEX_RESOLUTION = 9

Ring = tuple[tuple[float, float], ...]  # (lon, lat) pairs, as in GeoJSON
Polygon = tuple[Ring, ...]  # outer ring first, then holes


class PlaceDataError(ValueError):
    """A neighborhoods file that cannot be used; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Neighborhood:
    """A named area alerts are addressed to; public text never gets finer than this."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    zips: tuple[str, ...] = ()
    polygons: tuple[Polygon, ...] = ()

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of every outer ring."""
        lons = [p[0] for poly in self.polygons for p in poly[0]]
        lats = [p[1] for poly in self.polygons for p in poly[0]]
        return min(lons), min(lats), max(lons), max(lats)

    @property
    def centroid(self) -> GeoPoint:
        """The mean of the outer rings' vertices (a fair middle for ordering by distance)."""
        points = [p for poly in self.polygons for p in poly[0][:-1]]
        return GeoPoint(sum(p[1] for p in points) / len(points), sum(p[0] for p in points) / len(points))

    def contains(self, lat: float, lon: float) -> bool:
        """Exact even-odd test: inside an outer ring and outside its holes."""
        for poly in self.polygons:
            if _in_ring(poly[0], lon, lat) and not any(_in_ring(h, lon, lat) for h in poly[1:]):
                return True
        return False

    def to_geojson_geometry(self) -> dict[str, object]:
        """A GeoJSON MultiPolygon of this neighborhood."""
        return {
            "type": "MultiPolygon",
            "coordinates": [[[list(p) for p in ring] for ring in poly] for poly in self.polygons],
        }


def _in_ring(ring: Ring, x: float, y: float) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def slugify(text: str) -> str:
    """A stable ASCII id for a neighborhood name: 'Las Palmas' → 'las-palmas'."""
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for matching typed places."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(text)))


def parse_geojson(text: str) -> list[Neighborhood]:
    """Neighborhoods from a GeoJSON FeatureCollection of Polygon/MultiPolygon features.

    Each feature's properties need `name`; `id`, `aliases` (list of strings) and `zips`
    (list of 5-digit strings) are optional. Errors name the feature at fault.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlaceDataError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise PlaceDataError("expected a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise PlaceDataError("the FeatureCollection has no features")
    out: list[Neighborhood] = []
    seen: set[str] = set()
    for index, feature in enumerate(features, start=1):
        nb = _parse_feature(feature, index)
        if nb.id in seen:
            raise PlaceDataError(f"feature {index}: the id {nb.id!r} is used twice")
        seen.add(nb.id)
        out.append(nb)
    return out


def parse_polygons(geometry: object) -> tuple[Polygon, ...]:
    """Polygons of a GeoJSON Polygon or MultiPolygon geometry, checked for shape and range."""
    if not isinstance(geometry, dict):
        raise PlaceDataError("geometry is missing")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        coords = [coords]
    elif kind != "MultiPolygon":
        raise PlaceDataError(f"geometry must be a Polygon or MultiPolygon, not {kind}")
    if not isinstance(coords, (list, tuple)):
        raise PlaceDataError("coordinates must be [longitude, latitude] pairs")
    try:
        polygons = tuple(tuple(tuple((float(p[0]), float(p[1])) for p in ring) for ring in poly) for poly in coords)
    except (TypeError, ValueError, IndexError):
        raise PlaceDataError("coordinates must be [longitude, latitude] pairs") from None
    if not polygons:
        raise PlaceDataError("geometry has no polygon")
    for poly in polygons:
        if not poly or any(len(ring) < 4 for ring in poly):
            raise PlaceDataError("every ring needs at least 4 positions")
        for lon, lat in (p for ring in poly for p in ring):
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise PlaceDataError(f"position ({lon}, {lat}) is not a longitude/latitude")
    return polygons


def _parse_feature(feature: object, index: int) -> Neighborhood:
    where = f"feature {index}"
    if not isinstance(feature, dict):
        raise PlaceDataError(f"{where}: not an object")
    props = feature.get("properties") or {}
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise PlaceDataError(f"{where}: properties.name is missing")
    where = f"feature {index} ({name})"
    aliases = props.get("aliases") or []
    zips = props.get("zips") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise PlaceDataError(f"{where}: aliases must be a list of strings")
    if not isinstance(zips, list) or not all(isinstance(z, str) and re.fullmatch(r"\d{5}", z) for z in zips):
        raise PlaceDataError(f"{where}: zips must be a list of 5-digit strings")
    try:
        polygons = parse_polygons(feature.get("geometry"))
    except PlaceDataError as exc:
        raise PlaceDataError(f"{where}: {exc}") from None
    ident = props.get("id") or feature.get("id") or slugify(name)
    return Neighborhood(
        id=str(ident),
        name=name.strip(),
        aliases=tuple(a.strip() for a in aliases if a.strip()),
        zips=tuple(zips),
        polygons=polygons,
    )


@dataclass(slots=True)
class Gazetteer:
    """All neighborhoods of a deployment with the indexes that resolve places to them."""

    neighborhoods: Sequence[Neighborhood]
    _by_id: dict[str, Neighborhood] = field(init=False, repr=False)
    _cells: dict[str, str] = field(init=False, repr=False)
    _names: dict[str, list[str]] = field(init=False, repr=False)
    _zips: dict[str, list[str]] = field(init=False, repr=False)
    _adjacent: dict[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {nb.id: nb for nb in self.neighborhoods}
        owners = _cell_owners(self.neighborhoods)
        self._cells = _safe_cells(owners)
        self._adjacent = _adjacency(owners)
        self._names = {}
        self._zips = {}
        for nb in self.neighborhoods:
            for label in (nb.name, *nb.aliases):
                key = _words(label)
                if key and nb.id not in self._names.setdefault(key, []):
                    self._names[key].append(nb.id)
            for z in nb.zips:
                self._zips.setdefault(z, []).append(nb.id)

    def get(self, neighborhood_id: str | None) -> Neighborhood | None:
        """The neighborhood with this id, if it still exists."""
        return self._by_id.get(neighborhood_id) if neighborhood_id else None

    def metres_to_nearest(self, point: GeoPoint, neighborhood_ids: Iterable[str]) -> float:
        """Metres from `point` to the nearest middle of these neighborhoods (those that still
        exist and have a shape); infinite when there is none."""
        middles = [nb.centroid for nb_id in neighborhood_ids if (nb := self.get(nb_id)) is not None and nb.polygons]
        return min((distance_m(point, middle) for middle in middles), default=math.inf)

    def adjacent(self, neighborhood_id: str) -> tuple[str, ...]:
        """Ids of the neighborhoods sharing a border with this one (touching cells), by name."""
        return self._adjacent.get(neighborhood_id, ())

    def locate(self, lat: float, lon: float) -> Neighborhood | None:
        """The neighborhood holding this point, or None outside every one."""
        try:
            cell = h3.latlng_to_cell(lat, lon, INDEX_RESOLUTION)
        except (h3.H3BaseException, ValueError):
            return None
        hit = self._cells.get(cell)
        if hit is not None:
            return self._by_id[hit]
        for nb in self.neighborhoods:
            min_lon, min_lat, max_lon, max_lat = nb.bbox
            if min_lon <= lon <= max_lon and min_lat <= lat <= max_lat and nb.contains(lat, lon):
                return nb
        return None

    def match_text(self, text: str) -> list[Neighborhood]:
        """Neighborhoods a typed place names by ZIP, name or alias (whole words, any case
        or accents); several when the text is ambiguous, none when it names none."""
        words = _words(text)
        by_zip = [i for z in re.findall(r"\b\d{5}\b", words) for i in self._zips.get(z, [])]
        padded = f" {words} "
        by_name = [i for key, ids in self._names.items() if f" {key} " in padded for i in ids]
        both = [i for i in by_name if i in by_zip]
        ids = both or by_name + by_zip
        return [self._by_id[i] for i in dict.fromkeys(ids)]


def _cell_owners(neighborhoods: Iterable[Neighborhood]) -> dict[str, str]:
    """The neighborhood whose polygon holds each h3 cell's centre."""
    owner: dict[str, str] = {}
    for nb in neighborhoods:
        for poly in nb.polygons:
            shape = h3.LatLngPoly([(lat, lon) for lon, lat in poly[0]], *[[(lat, lon) for lon, lat in h] for h in poly[1:]])
            for cell in h3.h3shape_to_cells(shape, INDEX_RESOLUTION):
                owner[cell] = nb.id
    return owner


def _safe_cells(owner: dict[str, str]) -> dict[str, str]:
    """h3 cells whose centre and ring of neighbours all fall in one neighborhood."""
    return {cell: nb_id for cell, nb_id in owner.items() if all(owner.get(n) == nb_id for n in h3.grid_disk(cell, 1))}


def _adjacency(owner: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """Neighborhoods whose cells touch, for each neighborhood."""
    touching: dict[str, set[str]] = {}
    for cell, nb_id in owner.items():
        for n in h3.grid_disk(cell, 1):
            other = owner.get(n)
            if other is not None and other != nb_id:
                touching.setdefault(nb_id, set()).add(other)
    return {nb_id: tuple(sorted(others)) for nb_id, others in touching.items()}


class Geocoder(Protocol):
    """Turns a typed place into a point (an external service, optional)."""

    async def geocode(self, query: str) -> GeoPoint | None:
        """The best point for the query, or None when the service finds nothing."""
        ...


class PlaceKind(StrEnum):
    """How a place resolved."""

    FOUND = "found"  # exactly one neighborhood
    AMBIGUOUS = "ambiguous"  # several candidates: let the reporter pick
    OUTSIDE = "outside"  # a real place, but outside every neighborhood
    UNKNOWN = "unknown"  # nothing matched: ask again or pick from the list


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    """The result of resolving a pin or a typed place."""

    kind: PlaceKind
    neighborhood: Neighborhood | None = None
    candidates: tuple[Neighborhood, ...] = ()
    point: GeoPoint | None = None


class PlaceResolver:
    """Resolves pins offline and typed places offline first, then through a geocoder."""

    def __init__(self, gazetteer: Gazetteer, geocoder: Geocoder | None = None) -> None:
        self.gazetteer = gazetteer
        self._geocoder = geocoder

    def resolve_point(self, point: GeoPoint) -> PlaceMatch:
        """FOUND with the neighborhood holding the pin, else OUTSIDE."""
        nb = self.gazetteer.locate(point.lat, point.lon)
        if nb is None:
            return PlaceMatch(PlaceKind.OUTSIDE, point=point)
        return PlaceMatch(PlaceKind.FOUND, neighborhood=nb, point=point)

    async def resolve_text(self, text: str) -> PlaceMatch:
        """Alias/ZIP match first; if nothing matches, the geocoder (when configured)."""
        matches = self.gazetteer.match_text(text)
        if len(matches) == 1:
            return PlaceMatch(PlaceKind.FOUND, neighborhood=matches[0])
        if matches:
            return PlaceMatch(PlaceKind.AMBIGUOUS, candidates=tuple(matches))
        if self._geocoder is not None:
            point = await self._geocoder.geocode(text)
            if point is not None:
                return self.resolve_point(point)
        return PlaceMatch(PlaceKind.UNKNOWN)
