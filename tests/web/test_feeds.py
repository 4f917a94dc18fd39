"""The public feeds over HTTP: Atom entries with the alert's text and links, one CAP 1.2
document per alert with an Atom index of them, and absolute links that follow a trusted
reverse proxy's X-Forwarded-Proto / X-Forwarded-Host (and only a trusted one's)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sereno.bot.metrics import Metrics
from sereno.verify.alerts import AlertState, UpdateKind
from sereno.verify.clock import ManualClock
from sereno.verify.exports import ExportRecord, FeedSource
from sereno.web.feeds import feed_routes
from sereno.web.server import WebContext, web_app
from tests.map_fixtures import NOW, TZ, alert, demo_neighborhoods

ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
#: CAP 1.2's dateTime: to the second, with an explicit numeric offset (no "Z", no fractions).
CAP_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[-+]\d{2}:\d{2}")
SOURCE = FeedSource.for_region("Puerto Sereno", TZ)
PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "alerts.example.org"}
NEIGHBORHOODS = {nb.id: nb for nb in demo_neighborhoods()}


def record(neighborhood_id: str, **changes: object) -> ExportRecord:
    return ExportRecord.from_alert(alert(neighborhood_id, **changes), NEIGHBORHOODS[neighborhood_id])


class Exports:
    """Stands in for ExportService: an active alert in Las Palmas and an all-clear in Northgate."""

    def __init__(self) -> None:
        self.records = [
            record("las-palmas"),
            record(
                "northgate",
                verified_at=NOW - timedelta(hours=2),
                state=AlertState.CLEARED,
                revision=1,
                last_update=UpdateKind.ALL_CLEAR,
                updated_at=NOW - timedelta(minutes=30),
            ),
        ]

    async def active_records(self, *, limit: int | None = None) -> list[ExportRecord]:
        return [r for r in self.records if r.state is AlertState.ACTIVE][:limit]

    async def cap_records(self, window: timedelta, *, limit: int | None = None) -> list[ExportRecord]:
        return self.records[:limit]

    async def record(self, alert_id: str) -> ExportRecord | None:
        return next((r for r in self.records if r.alert_id == alert_id), None)


async def client_for(*, trusted: bool) -> TestClient:
    # the feeds never touch the bot, its database or its leadership: only the metrics are real
    context = WebContext(None, None, None, None, Metrics(), "secret")  # type: ignore[arg-type]
    app = web_app(context, feed_routes(Exports(), SOURCE, ManualClock(NOW)), trust_forwarded_headers=trusted)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    c = await client_for(trusted=False)
    yield c
    await c.close()


@pytest.fixture
async def behind_proxy() -> AsyncIterator[TestClient]:
    c = await client_for(trusted=True)
    yield c
    await c.close()


async def fetch_xml(client: TestClient, path: str, **headers: str) -> tuple[str, ET.Element]:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return response.content_type, ET.fromstring(await response.read())


def links(element: ET.Element) -> list[dict[str, str]]:
    return [dict(link.attrib) for link in element.findall(f"{ATOM}link")]


def assert_valid_atom(feed: ET.Element) -> None:
    """RFC 4287's required elements: the feed's id, title, updated and author; each entry's
    id, title, updated, and content or an alternate link."""
    assert feed.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert (feed.findtext(ATOM + tag) or "").strip(), tag
    for entry in feed.findall(f"{ATOM}entry"):
        for tag in ("id", "title", "updated"):
            assert (entry.findtext(ATOM + tag) or "").strip(), tag
        assert entry.find(f"{ATOM}content") is not None or any(
            link.get("rel", "alternate") == "alternate" for link in links(entry)
        )


async def test_atom_entries_carry_the_alerts_text_and_link_to_its_card_on_the_map_and_its_cap_document(
    client: TestClient,
) -> None:
    content_type, feed = await fetch_xml(client, "/feeds/alerts.atom")
    assert content_type == "application/atom+xml"
    assert_valid_atom(feed)
    origin = str(client.make_url("")).rstrip("/")
    assert {"rel": "self", "href": f"{origin}/feeds/alerts.atom", "type": "application/atom+xml"} in links(feed)
    [entry] = feed.findall(f"{ATOM}entry")
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "text"
    assert "Checkpoint or vehicle stop in Las Palmas" in (content.text or "")
    assert links(entry) == [
        {"rel": "alternate", "type": "text/html", "href": f"{origin}/map#alert-alert-las-palmas"},
        {"rel": "alternate", "type": "application/cap+xml", "href": f"{origin}/cap/alert-las-palmas.xml"},
    ]


async def test_behind_a_trusted_proxy_every_absolute_link_has_the_forwarded_scheme_and_host(
    behind_proxy: TestClient,
) -> None:
    for path in ("/feeds/alerts.atom", "/cap/index.atom"):
        _, feed = await fetch_xml(behind_proxy, path, **PROXY)
        hrefs = [link["href"] for element in (feed, *feed.findall(f"{ATOM}entry")) for link in links(element)]
        assert f"https://alerts.example.org{path}" in hrefs
        assert len(hrefs) >= 2 and all(href.startswith("https://alerts.example.org/") for href in hrefs), hrefs


async def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(client: TestClient) -> None:
    _, feed = await fetch_xml(client, "/feeds/alerts.atom", **PROXY)
    hrefs = [link["href"] for element in (feed, *feed.findall(f"{ATOM}entry")) for link in links(element)]
    assert hrefs and all(href.startswith("http://127.0.0.1:") for href in hrefs), hrefs


async def test_the_cap_index_links_each_alert_to_its_own_cap_document(client: TestClient) -> None:
    content_type, index = await fetch_xml(client, "/cap/index.atom")
    assert content_type == "application/atom+xml"
    assert_valid_atom(index)
    _, main = await fetch_xml(client, "/feeds/alerts.atom")
    assert index.findtext(f"{ATOM}id") != main.findtext(f"{ATOM}id")
    documents = []
    for entry in index.findall(f"{ATOM}entry"):
        [link] = links(entry)
        assert link["rel"] == "alternate" and link["type"] == "application/cap+xml"
        content_type, document = await fetch_xml(client, link["href"].removeprefix(str(client.make_url("")).rstrip("/")))
        assert content_type == "application/cap+xml"
        documents.append(document)
    # the current alert, and the all-clear that ended the other one
    assert [(d.findtext(f"{CAP}identifier"), d.findtext(f"{CAP}msgType")) for d in documents] == [
        ("alert-las-palmas", "Alert"),
        ("alert-northgate-r1", "Cancel"),
    ]


async def test_each_cap_document_is_one_complete_cap_1_2_alert_no_finer_than_its_neighborhood(
    client: TestClient,
) -> None:
    _, document = await fetch_xml(client, "/cap/alert-las-palmas.xml")
    assert document.tag == f"{CAP}alert"  # the root itself, in CAP 1.2's namespace
    for tag in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        assert (document.findtext(CAP + tag) or "").strip(), tag
    assert CAP_DATETIME.fullmatch(document.findtext(f"{CAP}sent") or "")
    assert (document.findtext(f"{CAP}status"), document.findtext(f"{CAP}msgType"), document.findtext(f"{CAP}scope")) == (
        "Actual",
        "Alert",
        "Public",
    )
    [info] = document.findall(f"{CAP}info")
    for tag in ("category", "event", "urgency", "severity", "certainty"):
        assert (info.findtext(CAP + tag) or "").strip(), tag
    for tag in ("effective", "expires"):
        assert CAP_DATETIME.fullmatch(info.findtext(CAP + tag) or ""), tag
    [area] = info.findall(f"{CAP}area")
    assert area.findtext(f"{CAP}areaDesc") == "Las Palmas"
    # the only geometry is the neighborhood's own outline
    ring = NEIGHBORHOODS["las-palmas"].polygons[0][0]
    assert [p.text for p in area.findall(f"{CAP}polygon")] == [" ".join(f"{lat!r},{lon!r}" for lon, lat in ring)]
    assert area.find(f"{CAP}circle") is None

    _, cancel = await fetch_xml(client, "/cap/alert-northgate.xml")
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    references = (cancel.findtext(f"{CAP}references") or "").split(",")
    assert references[:2] == [SOURCE.sender, "alert-northgate"] and CAP_DATETIME.fullmatch(references[2])


async def test_an_unknown_alert_has_no_cap_document(client: TestClient) -> None:
    assert (await client.get("/cap/no-such-alert.xml")).status == 404


async def test_the_combined_cap_list_still_works(client: TestClient) -> None:
    _, listing = await fetch_xml(client, "/feeds/alerts.cap")
    assert [a.findtext(f"{CAP}identifier") for a in listing.findall(f"{CAP}alert")] == ["alert-las-palmas"]
