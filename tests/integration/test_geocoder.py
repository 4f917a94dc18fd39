"""The geopy adapter against a local stand-in for a Nominatim server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sereno.bot.geocoding import GeopyGeocoder
from sereno.verify.model import GeoPoint


@pytest.fixture
async def nominatim() -> AsyncIterator[tuple[str, list[str]]]:
    queries: list[str] = []

    async def search(request: web.Request) -> web.Response:
        query = request.query.get("q", "")
        queries.append(query)
        if query == "explode":
            return web.Response(status=500)
        if query == "nowhere":
            return web.json_response([])
        return web.json_response(
            [
                {
                    "lat": "34.0565",
                    "lon": "-118.2577",
                    "display_name": query,
                    "place_id": 1,
                    "boundingbox": ["34", "34.1", "-118.3", "-118.2"],
                }
            ]
        )

    app = web.Application()
    app.router.add_get("/search", search)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}", queries
    finally:
        await runner.cleanup()


async def test_found_place_becomes_a_point(nominatim: tuple[str, list[str]]) -> None:
    domain, queries = nominatim
    geocoder = GeopyGeocoder("nominatim", domain=domain, scheme="http", user_agent="sereno-test")
    try:
        assert await geocoder.geocode("5th and Main") == GeoPoint(34.0565, -118.2577)
        assert await geocoder.geocode("nowhere") is None
    finally:
        await geocoder.close()
    assert queries == ["5th and Main", "nowhere"]


async def test_a_failing_service_counts_as_not_found(nominatim: tuple[str, list[str]]) -> None:
    domain, _ = nominatim
    geocoder = GeopyGeocoder("nominatim", domain=domain, scheme="http", user_agent="sereno-test")
    try:
        assert await geocoder.geocode("explode") is None
    finally:
        await geocoder.close()


async def test_an_unreachable_service_counts_as_not_found() -> None:
    geocoder = GeopyGeocoder("nominatim", domain="127.0.0.1:9", scheme="http", user_agent="sereno-test", timeout=2)
    try:
        assert await geocoder.geocode("5th and Main") is None
    finally:
        await geocoder.close()
