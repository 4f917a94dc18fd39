"""Neighborhood polygons projected onto a flat SVG canvas.

An equirectangular projection: x grows with longitude scaled by the cosine of the region's
middle latitude (so shapes keep their proportions at that latitude), y grows southwards.
The region is fitted into a viewBox `width` units wide with a margin on every side; the
height follows from the region's shape. Plenty for a city-sized region; no tiles, no
network, no library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sereno.verify.places import Neighborhood, Ring

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Shape:
    """One neighborhood on the canvas: its SVG path data (every ring, holes included, to be
    filled even-odd) and the point where its name goes."""

    neighborhood: Neighborhood
    path: str
    label: Point


@dataclass(frozen=True, slots=True)
class Canvas:
    """The projected region: the viewBox size and one shape per neighborhood, in order."""

    width: float
    height: float
    shapes: tuple[Shape, ...]

    @property
    def view_box(self) -> str:
        return f"0 0 {_num(self.width)} {_num(self.height)}"


class Projection:
    """Maps (lon, lat) to canvas (x, y) so that the bounding box of `neighborhoods` fits
    inside `width` × (derived height) with `margin` units to spare on each side."""

    def __init__(self, neighborhoods: Sequence[Neighborhood], width: float = 640, margin: float = 16) -> None:
        boxes = [nb.bbox for nb in neighborhoods if nb.polygons]
        if not boxes:
            raise ValueError("no neighborhood has a polygon")
        self.min_lon = min(b[0] for b in boxes)
        self.max_lat = max(b[3] for b in boxes)
        min_lat = min(b[1] for b in boxes)
        max_lon = max(b[2] for b in boxes)
        self.kx = math.cos(math.radians((min_lat + self.max_lat) / 2))
        span_x = max((max_lon - self.min_lon) * self.kx, 1e-9)
        span_y = max(self.max_lat - min_lat, 1e-9)
        inner = width - 2 * margin
        self.scale = inner / span_x
        self.margin = margin
        self.width = width
        self.height = span_y * self.scale + 2 * margin

    def __call__(self, lon: float, lat: float) -> Point:
        x = self.margin + (lon - self.min_lon) * self.kx * self.scale
        y = self.margin + (self.max_lat - lat) * self.scale
        return x, y


def project(neighborhoods: Sequence[Neighborhood], width: float = 640, margin: float = 16) -> Canvas:
    """The canvas of `neighborhoods` (those without polygons are left out)."""
    drawable = [nb for nb in neighborhoods if nb.polygons]
    if not drawable:
        return Canvas(width, width / 2, ())
    proj = Projection(drawable, width, margin)
    shapes = []
    for nb in drawable:
        rings = [[proj(lon, lat) for lon, lat in ring] for poly in nb.polygons for ring in poly]
        outers = [[proj(lon, lat) for lon, lat in poly[0]] for poly in nb.polygons]
        shapes.append(Shape(nb, " ".join(_ring_path(r) for r in rings), label_point(max(outers, key=_area))))
    return Canvas(proj.width, proj.height, tuple(shapes))


def _ring_path(ring: Sequence[Point]) -> str:
    points = list(ring[:-1]) if len(ring) > 1 and ring[0] == ring[-1] else list(ring)
    head, *rest = points
    return "M" + _pt(head) + "".join("L" + _pt(p) for p in rest) + "Z"


def _pt(p: Point) -> str:
    return f"{_num(p[0])},{_num(p[1])}"


def _num(value: float) -> str:
    """A coordinate with one decimal, without a trailing '.0' or a negative zero."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _area(ring: Sequence[Point]) -> float:
    """Unsigned shoelace area."""
    return abs(_signed_area(ring))


def _signed_area(ring: Sequence[Point]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True)) / 2


def label_point(ring: Sequence[Point] | Ring) -> Point:
    """The area centroid of a ring (its vertex mean when the ring has no area)."""
    a = _signed_area(ring)
    if abs(a) < 1e-12:
        return sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)
    pairs = list(zip(ring, [*ring[1:], ring[0]], strict=True))
    cx = sum((x0 + x1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairs) / (6 * a)
    cy = sum((y0 + y1) * (x0 * y1 - x1 * y0) for (x0, y0), (x1, y1) in pairs) / (6 * a)
    return cx, cy
