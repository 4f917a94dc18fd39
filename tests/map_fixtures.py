"""Fixed data for the public map's tests: the demo region and one active alert in Las Palmas."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sereno.verify.alerts import Alert, AlertKind
from sereno.verify.model import Activity, Tier
from sereno.verify.places import Neighborhood, parse_geojson
from sereno.verify.resources import Hotline, Resources
from tests.conftest import DEMO_REGION

TZ = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 1, 15, 20, 30, tzinfo=UTC)  # 12:30 in Los Angeles
#: Fictional, as every number in tests must be.
RESOURCES = Resources(hotline=Hotline("(555) 010-0100", "Demo Legal Line"))


def demo_neighborhoods() -> list[Neighborhood]:
    return parse_geojson(DEMO_REGION.read_text())


def alert(neighborhood_id: str = "las-palmas", **changes: object) -> Alert:
    """An active checkpoint alert verified 20 minutes before NOW (12:10 local)."""
    base = Alert(
        id=f"alert-{neighborhood_id}",
        incident_id=f"incident-{neighborhood_id}",
        kind=AlertKind.ALERT,
        neighborhood_id=neighborhood_id,
        areas=(neighborhood_id,),
        activity=Activity.CHECKPOINT,
        tier=Tier.HIGH,
        verifiers=2,
        reports=3,
        verified_at=NOW - timedelta(minutes=20),
        expires_at=NOW + timedelta(hours=3, minutes=40),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Node:
    """An element of a parsed page: tag, attributes, children and its own text pieces."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.parts: list[str | Node] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        """All text inside, whitespace collapsed."""
        pieces = [p if isinstance(p, str) else p.text for p in self.parts]
        return " ".join(" ".join(pieces).split())

    def iter(self, tag: str | None = None) -> list[Node]:
        found = [self] if tag in (None, self.tag) else []
        for child in self.children:
            found += child.iter(tag)
        return found

    def find(self, tag: str, **attrs: str) -> list[Node]:
        """Descendants (and self) with this tag whose attributes include `attrs` (`class_`
        matches one class)."""
        wanted = dict(attrs)
        cls = wanted.pop("class_", None)
        return [
            n
            for n in self.iter(tag)
            if all(n.attrs.get(k.replace("_", "-")) == v for k, v in wanted.items()) and (cls is None or cls in n.classes)
        ]


VOID = {"meta", "link", "br", "img", "input", "hr", "source", "area", "base", "col", "embed", "wbr"}


def parse_html(page: str) -> Node:
    """A tree of the page's elements (html.parser, so exactly what a browser would see as
    tags: escaped text never becomes an element)."""
    from html.parser import HTMLParser

    root = Node("#document", {}, None)

    class Builder(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.current = root

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
            self.current.children.append(node)
            self.current.parts.append(node)
            if tag not in VOID:
                self.current = node

        def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
            self.current.children.append(node)
            self.current.parts.append(node)

        def handle_endtag(self, tag: str) -> None:
            node: Node | None = self.current
            while node is not None and node.tag != tag:
                node = node.parent
            if node is not None and node.parent is not None:
                self.current = node.parent

        def handle_data(self, data: str) -> None:
            self.current.parts.append(data)

    builder = Builder()
    builder.feed(page)
    builder.close()
    return root
