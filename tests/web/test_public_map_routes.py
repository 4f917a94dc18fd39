"""`GET /map` over HTTP: language choice, headers, the cache, and a failing data source."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sereno.verify.clock import ManualClock
from sereno.web.map_assets import CONTENT_SECURITY_POLICY
from sereno.web.public_map import MapData, map_routes
from tests.map_fixtures import NOW, RESOURCES, TZ, alert, demo_neighborhoods, parse_html


class Source:
    """A data source that counts its loads and can be told to fail."""

    def __init__(self) -> None:
        self.loads = 0
        self.alerts = [alert()]
        self.broken = False

    async def __call__(self) -> MapData:
        self.loads += 1
        if self.broken:
            raise ConnectionError("database is down")
        return demo_neighborhoods(), list(self.alerts)


@pytest.fixture
async def source() -> Source:
    return Source()


async def client_for(source: Source, **options: object) -> TestClient:
    app = web.Application()
    app.add_routes(map_routes(source, tz=TZ, resources=RESOURCES, clock=ManualClock(NOW), **options))  # type: ignore[arg-type]
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(source: Source) -> AsyncIterator[TestClient]:
    c = await client_for(source, cache_seconds=0)
    yield c
    await c.close()


async def test_the_map_is_served_as_html_with_a_strict_policy(client: TestClient) -> None:
    response = await client.get("/map")
    assert response.status == 200
    assert response.content_type == "text/html" and response.charset == "utf-8"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    doc = parse_html(await response.text())
    assert doc.find("html")[0].attrs["lang"] == "en"
    assert "active" in doc.find("path", data_neighborhood="las-palmas")[0].classes
    assert (await client.head("/map")).status == 200


async def test_spanish_by_query_or_by_the_browsers_language(client: TestClient) -> None:
    by_query = parse_html(await (await client.get("/map", params={"lang": "es"})).text())
    by_header = parse_html(await (await client.get("/map", headers={"Accept-Language": "es-MX,es;q=0.9"})).text())
    for doc in (by_query, by_header):
        assert doc.find("html")[0].attrs["lang"] == "es"
        assert doc.find("h2")[0].text == "Alertas activas"
    english = parse_html(await (await client.get("/map", params={"lang": "xx"})).text())
    assert english.find("html")[0].attrs["lang"] == "en"


async def test_the_page_follows_the_data_source(client: TestClient, source: Source) -> None:
    source.alerts = []
    doc = parse_html(await (await client.get("/map")).text())
    assert doc.find("p", id="summary")[0].text == "No active alerts right now."


async def test_a_failing_data_source_gives_a_calm_page_that_retries(client: TestClient, source: Source) -> None:
    source.broken = True
    response = await client.get("/map", params={"lang": "es"})
    assert response.status == 503
    assert response.headers["Retry-After"] == "60"
    assert "El mapa no está disponible en este momento." in parse_html(await response.text()).text


async def test_loads_are_shared_while_the_cache_is_fresh(source: Source) -> None:
    client = await client_for(source, cache_seconds=60)
    try:
        for _ in range(5):
            assert (await client.get("/map")).status == 200
        assert source.loads == 1
    finally:
        await client.close()
