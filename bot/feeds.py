"""Public feeds of the active alerts for partners' systems: `GET /feeds/alerts.atom` (Atom
1.0) and `GET /feeds/alerts.cap` (CAP 1.2 messages in a list). PII-free by construction
(see verify/exports.py); read from the database at each request, newest first."""

from __future__ import annotations

from aiohttp import web

from verify.export_service import ExportService
from verify.exports import FeedSource, to_atom, to_cap
from verify.ports import Clock

FEED_LIMIT = 50


def feed_routes(exports: ExportService, source: FeedSource, clock: Clock) -> list[web.RouteDef]:
    """The two feed routes."""

    async def atom(request: web.Request) -> web.Response:
        records = await exports.active_records(limit=FEED_LIMIT)
        body = to_atom(records, source, clock.now(), self_url=str(request.url))
        return web.Response(text=body, content_type="application/atom+xml", charset="utf-8")

    async def cap(_: web.Request) -> web.Response:
        records = await exports.active_records(limit=FEED_LIMIT)
        return web.Response(text=to_cap(records, source, clock.now()), content_type="application/xml",
                            charset="utf-8")

    return [web.get("/feeds/alerts.atom", atom), web.get("/feeds/alerts.cap", cap)]
