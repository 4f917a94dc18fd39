"""Partner exports (CSV, GeoJSON, CAP 1.2, Atom 1.0), each parsed back and checked."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from sereno.verify.alerts import Alert, AlertKind, AlertState, UpdateKind
from sereno.verify.exports import (
    ACTIVITY_NAMES,
    ATOM_NS,
    CAP_LIST_NS,
    CAP_NS,
    CSV_COLUMNS,
    AtomLink,
    ExportFormat,
    ExportRecord,
    FeedSource,
    cap_document,
    parse_moment,
    render,
    to_atom,
    to_cap,
    to_csv,
    to_geojson,
)
from sereno.verify.model import Activity, Tier
from sereno.verify.places import Neighborhood, parse_geojson
from tests.conftest import DEMO_REGION

ROOT = Path(__file__).resolve().parents[2]
CAP = f"{{{CAP_NS}}}"
ATOM = f"{{{ATOM_NS}}}"
T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)
LA = ZoneInfo("America/Los_Angeles")
SOURCE = FeedSource.for_region("Harbor City", LA)
NEIGHBORHOODS = {nb.id: nb for nb in parse_geojson(DEMO_REGION.read_text())}
#: A neighborhood in two parts, the second ring left open (as some files have it).
ISLANDS = Neighborhood(
    "islands",
    "The Islands",
    polygons=(
        (((-118.30, 34.00), (-118.29, 34.00), (-118.29, 34.01), (-118.30, 34.00)),),
        (((-118.28, 34.00), (-118.27, 34.00), (-118.27, 34.01), (-118.28, 34.01)),),
    ),
)


def alert(n: int, **changes: object) -> Alert:
    values: dict[str, object] = dict(
        id=f"00000000-0000-4000-8000-{n:012d}",
        incident_id=f"10000000-0000-4000-8000-{n:012d}",
        kind=AlertKind.ALERT,
        neighborhood_id="harbor-view",
        areas=("harbor-view",),
        activity=Activity.PRESENCE,
        tier=Tier.HIGH,
        verifiers=2,
        reports=3,
        verified_at=T0 - timedelta(minutes=n),
        expires_at=T0 + timedelta(hours=4),
    )
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


def record(a: Alert, neighborhood: Neighborhood | None = None) -> ExportRecord:
    return ExportRecord.from_alert(a, neighborhood if neighborhood is not None else NEIGHBORHOODS.get(a.neighborhood_id or ""))


@pytest.fixture
def records() -> list[ExportRecord]:
    """An active alert, an all-clear, a still-active update, a correction whose
    neighborhood was removed since, and an alert in a neighborhood of two parts."""
    return [
        record(alert(1)),
        record(
            alert(
                2,
                neighborhood_id="las-palmas",
                activity=None,
                tier=Tier.URGENT,
                state=AlertState.CLEARED,
                revision=2,
                last_update=UpdateKind.ALL_CLEAR,
                updated_at=T0 + timedelta(hours=1),
            )
        ),
        record(
            alert(
                3,
                activity=Activity.CHECKPOINT,
                tier=Tier.ROUTINE,
                revision=1,
                last_update=UpdateKind.STILL_ACTIVE,
                updated_at=T0 + timedelta(minutes=30),
            )
        ),
        record(
            alert(4, kind=AlertKind.CORRECTION, neighborhood_id="gone", activity=Activity.ARREST, tier=Tier.URGENT, reports=5)
        ),
        record(alert(5, neighborhood_id="islands", activity=Activity.WORKPLACE), ISLANDS),
    ]


def text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    assert found is not None, path
    return found.text or ""


# ---------------------------------------------------------------- CSV


def test_csv_has_a_header_and_one_row_of_alert_level_facts_per_alert(records: list[ExportRecord]) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(records))))
    assert len(rows) == 5 and tuple(rows[0]) == CSV_COLUMNS
    first = rows[0]
    assert first["alert_id"] == records[0].alert_id and first["incident_id"] == records[0].incident_id
    assert (first["kind"], first["neighborhood_id"], first["neighborhood_name"]) == ("alert", "harbor-view", "Harbor View")
    assert (first["activity"], first["activity_label"]) == ("presence", "Agents present or gathering")
    assert (first["tier"], first["verifiers"], first["reports"], first["state"]) == ("high", "2", "3", "active")
    assert datetime.fromisoformat(first["verified_at"]) == records[0].verified_at
    assert datetime.fromisoformat(first["expires_at"]) == records[0].expires_at
    cleared = rows[1]
    assert (cleared["state"], cleared["last_update"], cleared["activity"]) == ("cleared", "all_clear", "")
    assert cleared["activity_label"] == "Immigration enforcement activity"
    assert datetime.fromisoformat(cleared["updated_at"]) == T0 + timedelta(hours=1)
    assert rows[3]["kind"] == "correction" and rows[3]["neighborhood_name"] == "" and rows[3]["centroid_lat"] == ""


def test_csv_carries_only_the_neighborhood_centroid_rounded_to_3_decimals(records: list[ExportRecord]) -> None:
    row = next(csv.DictReader(io.StringIO(to_csv(records[:1]))))
    middle = NEIGHBORHOODS["harbor-view"].centroid
    assert (float(row["centroid_lat"]), float(row["centroid_lon"])) == (round(middle.lat, 3), round(middle.lon, 3))
    assert all(len(row[k].split(".")[1]) <= 3 for k in ("centroid_lat", "centroid_lon"))


def test_csv_cells_from_neighborhood_names_cannot_start_a_spreadsheet_formula() -> None:
    sneaky = Neighborhood("=cmd", '=HYPERLINK("http://x")', polygons=ISLANDS.polygons)
    row = next(csv.DictReader(io.StringIO(to_csv([record(alert(1, neighborhood_id="=cmd"), sneaky)]))))
    assert row["neighborhood_name"].startswith("'=") and row["neighborhood_id"] == "'=cmd"


# ---------------------------------------------------------------- GeoJSON


def test_geojson_is_a_feature_collection_of_neighborhood_polygons(records: list[ExportRecord]) -> None:
    data = json.loads(to_geojson(records))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 5
    feature = data["features"][0]
    assert feature["type"] == "Feature" and feature["id"] == records[0].alert_id
    assert feature["geometry"]["type"] == "Polygon"
    [ring] = feature["geometry"]["coordinates"]
    assert ring == [list(p) for p in NEIGHBORHOODS["harbor-view"].polygons[0][0]] and ring[0] == ring[-1]
    assert all(len(p) == 2 and -180 <= p[0] <= 180 and -90 <= p[1] <= 90 for p in ring)
    props = feature["properties"]
    assert props["neighborhood_name"] == "Harbor View" and props["activity"] == "presence"
    assert props["verifiers"] == 2 and props["reports"] == 3 and props["state"] == "active"
    assert props["updated_at"] is None and props["last_update"] is None


def test_geojson_geometry_is_a_multipolygon_for_a_neighborhood_in_parts_and_null_when_unknown(
    records: list[ExportRecord],
) -> None:
    features = {f["id"]: f for f in json.loads(to_geojson(records))["features"]}
    assert features[records[4].alert_id]["geometry"]["type"] == "MultiPolygon"
    assert len(features[records[4].alert_id]["geometry"]["coordinates"]) == 2
    assert features[records[3].alert_id]["geometry"] is None


# ---------------------------------------------------------------- CAP 1.2


def cap_alerts(document: str) -> list[ET.Element]:
    root = ET.fromstring(document.encode())
    assert root.tag == f"{{{CAP_LIST_NS}}}alerts"
    alerts = list(root)
    assert all(a.tag == f"{CAP}alert" for a in alerts) and root.get("count") == str(len(alerts))
    return alerts


def test_cap_alerts_carry_the_required_elements_in_the_cap_namespace(records: list[ExportRecord]) -> None:
    alerts = cap_alerts(to_cap(records, SOURCE, NOW))
    assert len(alerts) == 5
    for element, rec in zip(alerts, records, strict=True):
        for tag in ("identifier", "sender", "sent", "status", "msgType", "scope"):
            assert text(element, f"{CAP}{tag}"), tag
        assert text(element, f"{CAP}sender") == "sereno@harbor-city"
        assert text(element, f"{CAP}status") == "Actual" and text(element, f"{CAP}scope") == "Public"
        assert text(element, f"{CAP}incidents") == rec.incident_id
        info = element.find(f"{CAP}info")
        assert info is not None
        assert text(info, f"{CAP}language") == "en-US" and text(info, f"{CAP}category") == "Safety"
        for tag in ("event", "urgency", "severity", "certainty", "headline", "description", "instruction", "expires"):
            assert text(info, f"{CAP}{tag}"), tag
        assert text(info, f"{CAP}areaDesc".join([f"{CAP}area/", ""])) == rec.place
    first = alerts[0].find(f"{CAP}info")
    assert first is not None
    assert text(first, f"{CAP}event") == "Agents present or gathering"
    assert "Harbor View" in text(first, f"{CAP}headline")
    assert "2 trained verifiers" in text(first, f"{CAP}description")
    assert "remain silent" in text(first, f"{CAP}instruction")


def test_cap_times_have_a_numeric_offset_and_no_fraction(records: list[ExportRecord]) -> None:
    [element] = cap_alerts(to_cap(records[:1], SOURCE, NOW))
    times = [text(element, f"{CAP}sent"), text(element, f"{CAP}info/{CAP}expires")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d", t) for t in times)
    assert times == ["2026-01-15T11:59:00-00:00", "2026-01-15T16:00:00-00:00"]


@pytest.mark.parametrize(
    ("index", "msg_type", "urgency", "severity", "certainty", "response"),
    [
        (0, "Alert", "Immediate", "Moderate", "Observed", "Avoid"),  # high tier, active
        (1, "Cancel", "Past", "Minor", "Observed", "AllClear"),  # the all-clear
        (2, "Update", "Expected", "Minor", "Observed", "Avoid"),  # routine, still active
        (3, "Alert", "Past", "Minor", "Unlikely", "None"),  # a correction of a debunked rumor
    ],
)
def test_cap_codes_follow_the_tier_the_kind_and_the_lifecycle(
    records: list[ExportRecord], index: int, msg_type: str, urgency: str, severity: str, certainty: str, response: str
) -> None:
    element = cap_alerts(to_cap(records, SOURCE, NOW))[index]
    info = element.find(f"{CAP}info")
    assert info is not None
    assert text(element, f"{CAP}msgType") == msg_type
    assert [text(info, f"{CAP}{tag}") for tag in ("urgency", "severity", "certainty", "responseType")] == [
        urgency,
        severity,
        certainty,
        response,
    ]


def test_an_urgent_active_alert_is_immediate_and_severe() -> None:
    [element] = cap_alerts(to_cap([record(alert(1, tier=Tier.URGENT, activity=Activity.ARREST))], SOURCE, NOW))
    assert text(element, f"{CAP}info/{CAP}urgency") == "Immediate"
    assert text(element, f"{CAP}info/{CAP}severity") == "Severe"


def test_cap_updates_and_all_clears_reference_the_first_message(records: list[ExportRecord]) -> None:
    alerts = cap_alerts(to_cap(records, SOURCE, NOW))
    first, cleared = records[0], records[1]
    assert text(alerts[0], f"{CAP}identifier") == first.alert_id and alerts[0].find(f"{CAP}references") is None
    assert text(alerts[1], f"{CAP}identifier") == f"{cleared.alert_id}-r2"
    assert text(alerts[1], f"{CAP}references") == f"sereno@harbor-city,{cleared.alert_id},2026-01-15T11:58:00-00:00"
    assert text(alerts[1], f"{CAP}sent") == "2026-01-15T13:00:00-00:00"
    assert "All clear" in text(alerts[1], f"{CAP}info/{CAP}description")


def test_cap_areas_are_the_neighborhood_polygons_as_closed_lat_lon_rings(records: list[ExportRecord]) -> None:
    alerts = cap_alerts(to_cap(records, SOURCE, NOW))
    area = alerts[0].find(f"{CAP}info/{CAP}area")
    assert area is not None
    [polygon] = [p.text or "" for p in area.findall(f"{CAP}polygon")]
    pairs = [tuple(map(float, pair.split(","))) for pair in polygon.split()]
    assert pairs == [(lat, lon) for lon, lat in NEIGHBORHOODS["harbor-view"].polygons[0][0]]
    assert text(area, f"{CAP}geocode/{CAP}value") == "harbor-view"
    islands = alerts[4].find(f"{CAP}info/{CAP}area")
    assert islands is not None
    rings = [[tuple(map(float, pair.split(","))) for pair in (p.text or "").split()] for p in islands.findall(f"{CAP}polygon")]
    assert len(rings) == 2 and all(len(r) >= 4 and r[0] == r[-1] for r in rings)
    assert rings[1] == [(34.00, -118.28), (34.00, -118.27), (34.01, -118.27), (34.01, -118.28), (34.00, -118.28)]
    unknown = alerts[3].find(f"{CAP}info/{CAP}area")
    assert unknown is not None and unknown.find(f"{CAP}polygon") is None


def test_each_cap_message_also_stands_alone(records: list[ExportRecord]) -> None:
    documents = [cap_document(r, SOURCE) for r in records]
    assert len(documents) == 5
    roots = [ET.fromstring(d.encode()) for d in documents]
    assert all(r.tag == f"{CAP}alert" for r in roots)
    assert [text(r, f"{CAP}identifier") for r in roots] == [
        text(a, f"{CAP}identifier") for a in cap_alerts(to_cap(records, SOURCE, NOW))
    ]


# ---------------------------------------------------------------- Atom 1.0


def test_atom_feed_has_id_title_updated_author_and_an_entry_per_alert_with_its_text_and_links(
    records: list[ExportRecord],
) -> None:
    feed = ET.fromstring(
        to_atom(
            records,
            SOURCE,
            NOW,
            self_url="https://example.org/feeds/alerts.atom",
            entry_links=lambda r: [AtomLink(f"https://example.org/alerts/{r.alert_id}", "text/html")],
        ).encode()
    )
    assert feed.tag == f"{ATOM}feed"
    assert text(feed, f"{ATOM}id").startswith("urn:uuid:") and text(feed, f"{ATOM}title")
    assert datetime.fromisoformat(text(feed, f"{ATOM}updated")) == T0 + timedelta(hours=1)  # the newest change
    assert text(feed, f"{ATOM}author/{ATOM}name") == "Sereno (Harbor City)"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 5
    for entry, rec in zip(entries, records, strict=True):
        assert text(entry, f"{ATOM}id") == f"urn:uuid:{rec.alert_id}"
        content = entry.find(f"{ATOM}content")
        assert text(entry, f"{ATOM}title") and content is not None and content.get("type") == "text"
        assert rec.place in (content.text or "") and "share only" in (content.text or "").lower()  # what, where, what to do
        assert datetime.fromisoformat(text(entry, f"{ATOM}published")) == rec.verified_at
        assert datetime.fromisoformat(text(entry, f"{ATOM}updated")) == rec.changed_at
        [link] = entry.findall(f"{ATOM}link")
        assert link.attrib == {"rel": "alternate", "type": "text/html", "href": f"https://example.org/alerts/{rec.alert_id}"}
    self_link = feed.find(f"{ATOM}link")
    assert self_link is not None and self_link.get("rel") == "self"
    assert text(entries[1], f"{ATOM}title").startswith("All clear: Las Palmas")
    assert text(entries[3], f"{ATOM}title").startswith("Rumor check")


def test_atom_ids_are_stable_across_renders_and_urns_for_non_uuid_alert_ids() -> None:
    odd = record(alert(1, id="alert-7"))
    once = ET.fromstring(to_atom([odd], SOURCE, NOW).encode())
    again = ET.fromstring(to_atom([odd], FeedSource.for_region("Harbor City"), NOW + timedelta(days=1)).encode())
    assert text(once, f"{ATOM}id") == text(again, f"{ATOM}id")
    assert text(once, f"{ATOM}entry/{ATOM}id") == text(again, f"{ATOM}entry/{ATOM}id")
    assert text(once, f"{ATOM}entry/{ATOM}id").startswith("urn:uuid:")


def test_prose_times_are_in_the_deployment_time_zone(records: list[ExportRecord]) -> None:
    entry = ET.fromstring(to_atom(records[:1], SOURCE, NOW).encode()).find(f"{ATOM}entry")
    assert entry is not None and "2026-01-15 03:59 PST" in text(entry, f"{ATOM}content")


# ---------------------------------------------------------------- every format


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_an_empty_export_is_still_a_valid_document(fmt: ExportFormat) -> None:
    out = render(fmt, [], SOURCE, NOW)
    if fmt is ExportFormat.CSV:
        assert list(csv.DictReader(io.StringIO(out))) == [] and out.startswith("alert_id,")
    elif fmt is ExportFormat.GEOJSON:
        assert json.loads(out) == {"type": "FeatureCollection", "features": []}
    elif fmt is ExportFormat.CAP:
        assert cap_alerts(out) == []
    else:
        feed = ET.fromstring(out.encode())
        assert text(feed, f"{ATOM}updated") == "2026-01-15T14:00:00+00:00" and feed.find(f"{ATOM}entry") is None


@pytest.mark.parametrize("fmt", [ExportFormat.CAP, ExportFormat.ATOM])
def test_characters_xml_cannot_hold_are_dropped_from_names(fmt: ExportFormat) -> None:
    odd = Neighborhood("bell", "Bell\x07 Gardens", polygons=ISLANDS.polygons)
    out = render(fmt, [record(alert(1, neighborhood_id="bell"), odd)], SOURCE, NOW)
    assert "Bell Gardens" in out and "\x07" not in out
    ET.fromstring(out.encode())


def test_activity_names_are_the_bots_english_labels() -> None:
    from sereno.bot.render import ACTIVITY_LABELS

    assert ACTIVITY_NAMES == ACTIVITY_LABELS


def test_the_export_renderers_import_no_telegram_database_or_web_library() -> None:
    code = (
        "import sys, sereno.verify.exports, sereno.verify.export_service; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'telegram', 'sqlmodel', 'sqlalchemy', 'aiohttp', 'bot', 'storage'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env={"PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- arguments


def test_moments_parse_dates_local_times_offsets_and_utc() -> None:
    assert parse_moment("2026-01-15", LA) == datetime(2026, 1, 15, tzinfo=LA)
    assert parse_moment("2026-01-15", LA, end_of_day=True) == datetime(2026, 1, 16, tzinfo=LA)
    assert parse_moment("2026-01-15T08:30", LA) == datetime(2026, 1, 15, 8, 30, tzinfo=LA)
    assert parse_moment("2026-01-15T08:30-05:00", LA) == datetime(2026, 1, 15, 13, 30, tzinfo=UTC)
    assert parse_moment("2026-01-15T08:30Z", LA, end_of_day=True) == datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
    for bad in ("yesterday", "2026-13-01", "15/01/2026", ""):
        with pytest.raises(ValueError, match="is not an ISO date or time"):
            parse_moment(bad, LA)


def test_formats_parse_in_any_case_and_an_unknown_one_names_the_choices() -> None:
    assert ExportFormat.parse(" GeoJSON ") is ExportFormat.GEOJSON
    with pytest.raises(ValueError, match="unknown format 'xml': use csv, geojson, cap or atom"):
        ExportFormat.parse("xml")


def test_the_sender_comes_from_the_region_and_must_be_one_cap_word() -> None:
    assert FeedSource.for_region("Harbor City, CA").sender == "sereno@harbor-city-ca"
    assert FeedSource.for_region("  ").sender == "sereno"
    for bad in ("a b", "a,b", "a<b", "a&b", ""):
        with pytest.raises(ValueError):
            FeedSource(bad, "x")
