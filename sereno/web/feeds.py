"""Public feeds of the alerts for partners' systems, read from the database at each request,
newest first, PII-free by construction (see sereno/verify/exports.py: nothing finer than the
neighborhood, nothing from a report):

- `GET /feeds/alerts.atom` — Atom 1.0 of the current alerts; each entry carries the alert's
  text and links to its card on the map (`/map#alert-<id>`) and to its CAP document.
- `GET /cap/index.atom` — the CAP index: an Atom feed whose entries link (rel="alternate",
  type="application/cap+xml") to one CAP document per alert — the current ones and the
  all-clears of the last day — which is what CAP consumers poll.
- `GET /cap/<alert id>.xml` — one CAP 1.2 `<alert>` per document, at an address that stays
  the alert's for good: msgType Alert, then Update after an update, Cancel for the
  all-clear. 404 for an unknown id.
- `GET /feeds/alerts.cap` — the older combined list of CAP alerts (kept for partners who
  read it; not a CAP document itself).

Absolute links (the self link included) are built from the request's scheme and host,
which follow `X-Forwarded-Proto` / `X-Forwarded-Host` when the deployment trusts its
reverse proxy (`SERENO_TRUST_FORWARDED_HEADERS`, see sereno/web/server.py).
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from yarl import URL

from sereno.verify.export_service import ExportService
from sereno.verify.exports import AtomLink, ExportRecord, FeedSource, cap_document, to_atom, to_cap
from sereno.verify.ports import Clock
from sereno.web.public_map import card_id

FEED_LIMIT = 50
#: How long the CAP index keeps listing an all-clear (by when its alert was verified).
CAP_INDEX_WINDOW = timedelta(hours=24)
ATOM_TYPE = "application/atom+xml"
CAP_TYPE = "application/cap+xml"


def map_url(origin: URL, record: ExportRecord) -> str:
    """The alert's card on the public map."""
    return str(origin.with_path("/map").with_fragment(card_id(record.alert_id)))


def cap_url(origin: URL, record: ExportRecord) -> str:
    """The alert's own CAP document."""
    return str(origin.with_path(f"/cap/{record.alert_id}.xml"))


def feed_routes(exports: ExportService, source: FeedSource, clock: Clock) -> list[web.RouteDef]:
    """The feed routes (see the module's docstring)."""

    async def atom(request: web.Request) -> web.Response:
        origin = request.url.origin()
        records = await exports.active_records(limit=FEED_LIMIT)
        body = to_atom(
            records,
            source,
            clock.now(),
            self_url=str(request.url),
            entry_links=lambda r: [AtomLink(map_url(origin, r), "text/html"), AtomLink(cap_url(origin, r), CAP_TYPE)],
        )
        return web.Response(text=body, content_type=ATOM_TYPE, charset="utf-8")

    async def cap_index(request: web.Request) -> web.Response:
        origin = request.url.origin()
        records = await exports.cap_records(CAP_INDEX_WINDOW, limit=FEED_LIMIT)
        body = to_atom(
            records,
            source,
            clock.now(),
            title=f"{source.name}: CAP alerts",
            feed_name="cap-index",
            self_url=str(request.url),
            entry_links=lambda r: [AtomLink(cap_url(origin, r), CAP_TYPE)],
        )
        return web.Response(text=body, content_type=ATOM_TYPE, charset="utf-8")

    async def cap_alert(request: web.Request) -> web.Response:
        record = await exports.record(request.match_info["alert_id"])
        if record is None:
            raise web.HTTPNotFound(text="no such alert")
        return web.Response(text=cap_document(record, source), content_type=CAP_TYPE, charset="utf-8")

    async def cap_list(_: web.Request) -> web.Response:
        records = await exports.active_records(limit=FEED_LIMIT)
        return web.Response(text=to_cap(records, source, clock.now()), content_type="application/xml", charset="utf-8")

    return [
        web.get("/feeds/alerts.atom", atom),
        web.get("/cap/index.atom", cap_index),
        web.get("/cap/{alert_id}.xml", cap_alert),
        web.get("/feeds/alerts.cap", cap_list),
    ]
