"""PII-free exports of verified alerts for legal and advocacy partners: CSV, GeoJSON, CAP 1.2
and Atom 1.0.

An :class:`ExportRecord` holds alert-level facts only — alert and incident ids, kind,
neighborhood, activity, tier, how many verifiers and reports, times, state — built from an
:class:`~verify.alerts.Alert` and its :class:`~verify.places.Neighborhood`. Nothing a report
holds (reporter pseudonym, contact, words, pin, photo) can reach an export, because no
record field comes from a report. Places are the neighborhood's own polygon; the only point,
the neighborhood's centroid rounded to 3 decimals (about 100 m; it tells no more than the
neighborhood's name), appears where a format needs a point: the CSV columns.

The renderers are pure (records in, text out, no clock: the caller passes `now`) and use
the standard library only, so the command line and the web feeds share them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from xml.etree import ElementTree as ET

from sereno.verify.alerts import Alert, AlertKind, AlertState, UpdateKind
from sereno.verify.model import Activity, Tier
from sereno.verify.places import Neighborhood, Polygon, slugify

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
#: Root of the document :func:`to_cap` returns: a plain list of standalone CAP messages.
CAP_LIST_NS = "urn:sereno:cap-list:1"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

#: English activity labels (the same wording as `sereno.bot.render.ACTIVITY_LABELS`' source strings).
ACTIVITY_NAMES = {
    Activity.ARREST: "Arrest or detention happening",
    Activity.HOME_VISIT: "Agents at a home / knocking",
    Activity.WORKPLACE: "Workplace operation",
    Activity.CHECKPOINT: "Checkpoint or vehicle stop",
    Activity.COURTHOUSE: "Arrest at a courthouse",
    Activity.PRESENCE: "Agents present or gathering",
    Activity.SURVEILLANCE: "Watching / surveillance",
    Activity.OTHER: "Something else",
}
UNSPECIFIED_ACTIVITY = "Immigration enforcement activity"
CENTROID_DECIMALS = 3

CSV_COLUMNS = (
    "alert_id",
    "incident_id",
    "kind",
    "neighborhood_id",
    "neighborhood_name",
    "centroid_lat",
    "centroid_lon",
    "activity",
    "activity_label",
    "tier",
    "verifiers",
    "reports",
    "verified_at",
    "expires_at",
    "state",
    "last_update",
    "updated_at",
)


class ExportFormat(StrEnum):
    CSV = "csv"
    GEOJSON = "geojson"
    CAP = "cap"
    ATOM = "atom"

    @classmethod
    def parse(cls, text: str) -> ExportFormat:
        """The format named `text` (any case); ValueError naming the choices otherwise."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = [f.value for f in cls]
            raise ValueError(f"unknown format {text!r}: use {', '.join(names[:-1])} or {names[-1]}") from None


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One alert or correction as partners see it. `polygons` are the neighborhood's (empty
    when the neighborhood is unknown or was removed since)."""

    alert_id: str
    incident_id: str
    kind: AlertKind
    neighborhood_id: str | None
    neighborhood_name: str | None
    activity: Activity | None
    tier: Tier
    verifiers: int
    reports: int
    verified_at: datetime
    expires_at: datetime
    state: AlertState
    revision: int
    last_update: UpdateKind | None
    updated_at: datetime | None
    polygons: tuple[Polygon, ...] = ()

    @classmethod
    def from_alert(cls, alert: Alert, neighborhood: Neighborhood | None) -> ExportRecord:
        """The record of `alert`, placed by `neighborhood` (None when it is not known)."""
        return cls(
            alert_id=alert.id,
            incident_id=alert.incident_id,
            kind=alert.kind,
            neighborhood_id=alert.neighborhood_id,
            neighborhood_name=neighborhood.name if neighborhood else None,
            activity=alert.activity,
            tier=alert.tier,
            verifiers=alert.verifiers,
            reports=alert.reports,
            verified_at=alert.verified_at,
            expires_at=alert.expires_at,
            state=alert.state,
            revision=alert.revision,
            last_update=alert.last_update,
            updated_at=alert.updated_at,
            polygons=neighborhood.polygons if neighborhood else (),
        )

    @property
    def activity_label(self) -> str:
        return ACTIVITY_NAMES[self.activity] if self.activity else UNSPECIFIED_ACTIVITY

    @property
    def place(self) -> str:
        """The neighborhood's name, else its id, else "the area"."""
        return self.neighborhood_name or self.neighborhood_id or "the area"

    @property
    def centroid(self) -> tuple[float, float] | None:
        """(lat, lon) of the neighborhood's middle, rounded to 3 decimals; None without polygons."""
        if not self.polygons:
            return None
        middle = Neighborhood("", "", polygons=self.polygons).centroid
        return round(middle.lat, CENTROID_DECIMALS), round(middle.lon, CENTROID_DECIMALS)

    @property
    def changed_at(self) -> datetime:
        """When the alert last changed (its verification, or its latest update)."""
        return self.updated_at or self.verified_at


@dataclass(frozen=True, slots=True)
class FeedSource:
    """Who publishes an export: `sender` identifies the network in CAP (no spaces, commas,
    '<' or '&'), `name` is shown to people, `tz` is used for times written in prose."""

    sender: str
    name: str
    tz: tzinfo = UTC

    def __post_init__(self) -> None:
        if not self.sender or re.search(r"[\s,<&]", self.sender):
            raise ValueError(f"sender {self.sender!r} must be one word without commas, '<' or '&'")

    @classmethod
    def for_region(cls, region_name: str, tz: tzinfo = UTC) -> FeedSource:
        """`sereno@<region-slug>` named "Sereno (<region>)" (plain "sereno"/"Sereno" without one)."""
        slug = slugify(region_name)
        return cls(f"sereno@{slug}" if slug else "sereno", f"Sereno ({region_name.strip()})" if slug else "Sereno", tz)

    def feed_id(self, feed_name: str = "alerts") -> str:
        """A stable urn:uuid for this sender's feed called `feed_name`."""
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'sereno:{self.sender}:{feed_name}')}"


# ---------------------------------------------------------------- shared wording and times


def _iso(at: datetime | None) -> str:
    """ISO 8601 in UTC to the second ('' for None)."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat() if at is not None else ""


def _clock(at: datetime, tz: tzinfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


def headline(record: ExportRecord) -> str:
    """A one-line title: what and where (and the all-clear, when given)."""
    if record.kind is AlertKind.CORRECTION:
        return f"Rumor check: {record.place} — enforcement not confirmed"
    if record.state is AlertState.CLEARED:
        return f"All clear: {record.place} — {record.activity_label}"
    return f"Verified alert: {record.place} — {record.activity_label}"


def description(record: ExportRecord, tz: tzinfo = UTC) -> str:
    """What verifiers established, in calm prose with counts and times (no person, no place
    finer than the neighborhood)."""
    by = "a trained verifier" if record.verifiers <= 1 else f"{record.verifiers} trained verifiers"
    reports = "1 community report" if record.reports == 1 else f"{record.reports} community reports"
    if record.kind is AlertKind.CORRECTION:
        return (
            f"Reports of immigration enforcement in {record.place} ({reports}) were checked by {by} and were "
            f"not confirmed (checked {_clock(record.verified_at, tz)})."
        )
    text = f"{record.activity_label} in {record.place}, verified {_clock(record.verified_at, tz)} by {by} from {reports}."
    if record.state is AlertState.CLEARED:
        text += f" All clear {_clock(record.changed_at, tz)}: verifiers report the activity has ended."
    elif record.last_update is UpdateKind.STILL_ACTIVE and record.state is AlertState.ACTIVE:
        text += f" Update {_clock(record.changed_at, tz)}: verifiers say the activity is still going on."
    if record.state is AlertState.EXPIRED:
        text += f" This alert expired {_clock(record.expires_at, tz)} and is no longer current."
    return text


def instruction(record: ExportRecord) -> str:
    """What to do, calmly (general know-your-rights information, not legal advice)."""
    if record.kind is AlertKind.CORRECTION:
        return "Please do not forward the rumor. Share only alerts verified by this network."
    if record.state is AlertState.CLEARED:
        return "The activity has ended. Stay calm and share only verified information."
    return (
        "Stay calm. Avoid the area if you can. Share only verified information. You have the right to remain "
        "silent. Do not open the door: ask agents to slide any warrant under it (to enter a home they need one "
        "signed by a judge). Do not run, argue or resist."
    )


# ---------------------------------------------------------------- CSV and GeoJSON


def _cell(text: str | None) -> str:
    """Text for a spreadsheet cell: a leading =, +, - or @ cannot start a formula."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@" else text


def _row(record: ExportRecord) -> dict[str, object]:
    centroid = record.centroid
    return {
        "alert_id": record.alert_id,
        "incident_id": record.incident_id,
        "kind": record.kind.value,
        "neighborhood_id": _cell(record.neighborhood_id),
        "neighborhood_name": _cell(record.neighborhood_name),
        "centroid_lat": centroid[0] if centroid else "",
        "centroid_lon": centroid[1] if centroid else "",
        "activity": record.activity.value if record.activity else "",
        "activity_label": record.activity_label,
        "tier": record.tier.value,
        "verifiers": record.verifiers,
        "reports": record.reports,
        "verified_at": _iso(record.verified_at),
        "expires_at": _iso(record.expires_at),
        "state": record.state.value,
        "last_update": record.last_update.value if record.last_update else "",
        "updated_at": _iso(record.updated_at),
    }


def to_csv(records: Sequence[ExportRecord]) -> str:
    """RFC 4180 CSV with a header row (:data:`CSV_COLUMNS`); times are ISO 8601 UTC. The
    neighborhood's rounded centroid is the row's only point (a CSV cannot carry a polygon)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(_row(r) for r in records)
    return out.getvalue()


def _geometry(polygons: tuple[Polygon, ...]) -> dict[str, object] | None:
    if not polygons:
        return None
    rings = [[[[lon, lat] for lon, lat in ring] for ring in poly] for poly in polygons]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}


def _properties(record: ExportRecord) -> dict[str, object]:
    return {
        "alert_id": record.alert_id,
        "incident_id": record.incident_id,
        "kind": record.kind.value,
        "neighborhood_id": record.neighborhood_id,
        "neighborhood_name": record.neighborhood_name,
        "activity": record.activity.value if record.activity else None,
        "activity_label": record.activity_label,
        "tier": record.tier.value,
        "verifiers": record.verifiers,
        "reports": record.reports,
        "verified_at": _iso(record.verified_at),
        "expires_at": _iso(record.expires_at),
        "state": record.state.value,
        "last_update": record.last_update.value if record.last_update else None,
        "updated_at": _iso(record.updated_at) or None,
    }


def to_geojson(records: Sequence[ExportRecord]) -> str:
    """An RFC 7946 FeatureCollection, one Feature per record (id: the alert id) whose geometry
    is its neighborhood — a Polygon, a MultiPolygon when the neighborhood has several parts,
    null when the neighborhood is unknown — and whose properties are the record's facts."""
    features = [
        json.dumps(
            {"type": "Feature", "id": r.alert_id, "geometry": _geometry(r.polygons), "properties": _properties(r)},
            ensure_ascii=False,
        )
        for r in records
    ]
    return '{"type": "FeatureCollection", "features": [\n' + ",\n".join(features) + "\n]}\n"


# ---------------------------------------------------------------- XML helpers

_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML 1.0


def _root(tag: str, ns: str, **attrs: str) -> ET.Element:
    """A root element in namespace `ns` written as the default one (`xmlns="…"`): its
    descendants are built unqualified, since ElementTree's `default_namespace` option
    refuses the unqualified attributes (`href`, `term`) Atom needs."""
    return ET.Element(tag, {"xmlns": ns, **attrs})


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    return element


def _xml(root: ET.Element, level: int = 0) -> str:
    ET.indent(root, level=level)
    return ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------- CAP 1.2


def cap_time(at: datetime) -> str:
    """CAP's dateTime: to the second, with a numeric offset, UTC written as "-00:00"."""
    text = at.astimezone(UTC).replace(microsecond=0).isoformat()
    return text.removesuffix("+00:00") + "-00:00"


def cap_message_type(record: ExportRecord) -> str:
    """Cancel for an all-clear, Update once a coordinator updated it, else Alert."""
    if record.state is AlertState.CLEARED:
        return "Cancel"
    return "Update" if record.revision > 0 else "Alert"


def cap_identifier(record: ExportRecord) -> str:
    """The alert id for the first message; `<alert id>-r<revision>` for later ones."""
    return record.alert_id if record.revision == 0 else f"{record.alert_id}-r{record.revision}"


def cap_codes(record: ExportRecord) -> tuple[str, str, str, str]:
    """(urgency, severity, certainty, responseType) for the record.

    A confirmed alert is Observed; urgent (an arrest or raid in progress) and high tiers are
    Immediate, routine ones Expected; severity Severe / Moderate / Minor by tier; the
    response is Avoid. An all-clear or an expired alert is Past and Minor (all-clear: the
    response AllClear). A correction (a debunked rumor) is Past, Minor and Unlikely, with no
    response needed.
    """
    if record.kind is AlertKind.CORRECTION:
        return "Past", "Minor", "Unlikely", "None"
    if record.state is AlertState.CLEARED:
        return "Past", "Minor", "Observed", "AllClear"
    if record.state is AlertState.EXPIRED:
        return "Past", "Minor", "Observed", "None"
    urgency = "Expected" if record.tier is Tier.ROUTINE else "Immediate"
    severity = {Tier.URGENT: "Severe", Tier.HIGH: "Moderate", Tier.ROUTINE: "Minor"}[record.tier]
    return urgency, severity, "Observed", "Avoid"


def _cap_polygon(ring: tuple[tuple[float, float], ...]) -> str:
    points = list(ring) if ring[0] == ring[-1] else [*ring, ring[0]]
    return " ".join(f"{lat!r},{lon!r}" for lon, lat in points)


def cap_alert(record: ExportRecord, source: FeedSource) -> ET.Element:
    """One CAP 1.2 `<alert>` element for the record (elements in the schema's order)."""
    alert = _root("alert", CAP_NS)
    _sub(alert, "identifier", cap_identifier(record))
    _sub(alert, "sender", source.sender)
    _sub(alert, "sent", cap_time(record.changed_at if record.revision else record.verified_at))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", cap_message_type(record))
    _sub(alert, "scope", "Public")
    if record.revision:
        _sub(alert, "references", f"{source.sender},{record.alert_id},{cap_time(record.verified_at)}")
    _sub(alert, "incidents", record.incident_id)
    info = _sub(alert, "info")
    urgency, severity, certainty, response = cap_codes(record)
    _sub(info, "language", "en-US")
    _sub(info, "category", "Safety")
    _sub(info, "event", "Rumor check" if record.kind is AlertKind.CORRECTION else record.activity_label)
    _sub(info, "responseType", response)
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "sereno:activity")
    _sub(code, "value", record.activity.value if record.activity else "unspecified")
    _sub(info, "effective", cap_time(record.verified_at))
    _sub(info, "expires", cap_time(record.expires_at))
    _sub(info, "senderName", source.name)
    _sub(info, "headline", headline(record))
    _sub(info, "description", description(record, source.tz))
    _sub(info, "instruction", instruction(record))
    for name, value in (
        ("kind", record.kind.value),
        ("tier", record.tier.value),
        ("state", record.state.value),
        ("verifiers", str(record.verifiers)),
        ("reports", str(record.reports)),
    ):
        parameter = _sub(info, "parameter")
        _sub(parameter, "valueName", f"sereno:{name}")
        _sub(parameter, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", record.place)
    for poly in record.polygons:
        _sub(area, "polygon", _cap_polygon(poly[0]))
    if record.neighborhood_id:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", "sereno:neighborhood")
        _sub(geocode, "value", record.neighborhood_id)
    return alert


def cap_document(record: ExportRecord, source: FeedSource) -> str:
    """The record as a standalone CAP 1.2 document: one `<alert>` (what a CAP consumer
    ingests, one message per document)."""
    return _XML_DECLARATION + _xml(cap_alert(record, source)) + "\n"


def to_cap(records: Sequence[ExportRecord], source: FeedSource, now: datetime) -> str:
    """One XML document listing a CAP 1.2 `<alert>` per record, in the order given.

    CAP defines one message per document and no list of its own, so the alerts are wrapped in
    `<alerts xmlns="urn:sereno:cap-list:1" generated=... count=...>`; each child `<alert>`
    declares the CAP namespace itself and is a complete CAP message that can be cut out as
    is (:func:`cap_document` gives one per document)."""
    parts = []
    for record in records:
        parts.append("\n  " + _xml(cap_alert(record, source), level=1))
    head = f'<alerts xmlns="{CAP_LIST_NS}" generated="{cap_time(now)}" count="{len(parts)}">'
    return _XML_DECLARATION + head + "".join(parts) + ("\n" if parts else "") + "</alerts>\n"


# ---------------------------------------------------------------- Atom 1.0


def atom_entry_id(alert_id: str) -> str:
    """A urn:uuid for the alert: its own id when it is a UUID, else one derived from it."""
    try:
        return uuid.UUID(alert_id).urn
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"sereno:alert:{alert_id}").urn


@dataclass(frozen=True, slots=True)
class AtomLink:
    """A link from an Atom entry: where to (`href`), the media type found there, and how it
    relates to the entry (RFC 4287 §4.2.7)."""

    href: str
    type: str
    rel: str = "alternate"


def to_atom(
    records: Sequence[ExportRecord],
    source: FeedSource,
    now: datetime,
    *,
    title: str | None = None,
    feed_name: str = "alerts",
    self_url: str | None = None,
    entry_links: Callable[[ExportRecord], Sequence[AtomLink]] | None = None,
) -> str:
    """An Atom 1.0 feed (RFC 4287): id (stable per sender and `feed_name`), title, updated
    (the newest change, or `now` when empty), author; one entry per record with its alert's
    urn:uuid, title, published (verified), updated (last change), the alert's text (what
    happened and what to do) as content, the activity as category, and the links
    `entry_links` gives."""
    feed = _root("feed", ATOM_NS, **{_XML_LANG: "en"})
    _sub(feed, "id", source.feed_id(feed_name))
    _sub(feed, "title", title or f"{source.name}: verified alerts")
    _sub(feed, "updated", _iso(max((r.changed_at for r in records), default=now)))
    author = _sub(feed, "author")
    _sub(author, "name", source.name)
    _sub(feed, "generator", "Sereno")
    if self_url:
        _sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    for record in records:
        entry = _sub(feed, "entry")
        _sub(entry, "id", atom_entry_id(record.alert_id))
        _sub(entry, "title", headline(record))
        _sub(entry, "published", _iso(record.verified_at))
        _sub(entry, "updated", _iso(record.changed_at))
        _sub(entry, "content", f"{description(record, source.tz)} {instruction(record)}", type="text")
        _sub(entry, "category", term=record.activity.value if record.activity else "unspecified", label=record.activity_label)
        for link in entry_links(record) if entry_links is not None else ():
            _sub(entry, "link", rel=link.rel, type=link.type, href=link.href)
    return _XML_DECLARATION + _xml(feed) + "\n"


# ---------------------------------------------------------------- dispatch and arguments


def render(fmt: ExportFormat, records: Sequence[ExportRecord], source: FeedSource, now: datetime) -> str:
    """The records in `fmt`."""
    if fmt is ExportFormat.CSV:
        return to_csv(records)
    if fmt is ExportFormat.GEOJSON:
        return to_geojson(records)
    if fmt is ExportFormat.CAP:
        return to_cap(records, source, now)
    return to_atom(records, source, now)


def parse_moment(text: str, tz: tzinfo, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or date-time as an aware datetime. Times without an offset are in
    `tz`; a date alone is the start of that day in `tz` (its end, i.e. the next day's start,
    with `end_of_day`). ValueError with an example otherwise."""
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value) + (timedelta(days=1) if end_of_day else timedelta())
            return datetime.combine(day, time(), tz)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or time (e.g. 2026-01-15 or 2026-01-15T08:00-08:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
