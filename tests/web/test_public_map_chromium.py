"""The public map in a real browser: headless Chromium loads `/map` from an aiohttp server
fed with the demo region and active alerts (Las Palmas, and a neighborhood with a very long
name), and we read back the rendered DOM, a screenshot, and the layout at phone and desktop
widths (measured in the page over the DevTools protocol)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image

from sereno.verify.clock import ManualClock
from sereno.web.public_map import MapData, map_routes
from tests.map_fixtures import NOW, RESOURCES, TZ, alert, demo_neighborhoods, parse_html
from tests.web.browser import CHROMIUM, browser_page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"),
]

AMBER = (242, 181, 68)  # --amber in sereno/web/map_assets.STYLE


#: One word too long for a phone's line, as some configured names are.
LONG_NAME = "Northgate-Kensington-Riverside-Heights-Industrial-Estate"


async def fixed_data() -> MapData:
    neighborhoods = [replace(nb, name=LONG_NAME) if nb.id == "northgate" else nb for nb in demo_neighborhoods()]
    return neighborhoods, [alert("las-palmas"), alert("northgate", verified_at=NOW - timedelta(hours=2))]


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes(map_routes(fixed_data, tz=TZ, resources=RESOURCES, clock=ManualClock(NOW), region_name="Puerto Sereno"))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def chromium(profile: Path, *args: str) -> bytes:
    """Runs headless Chromium (without blocking the loop that serves the page); its stdout."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--window-size=1000,1200",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


def rgb_pixels(png: Path) -> list[tuple[int, int, int]]:
    with Image.open(png) as image:
        data = image.convert("RGB").tobytes()
    return [(data[i], data[i + 1], data[i + 2]) for i in range(0, len(data), 3)]


def amber_share(pixels: list[tuple[int, int, int]]) -> float:
    """The share of pixels that are the map's amber."""
    near = sum(1 for p in pixels if all(abs(c - a) <= 12 for c, a in zip(p, AMBER, strict=True)))
    return near / len(pixels)


def red_pixels(pixels: list[tuple[int, int, int]]) -> int:
    return sum(1 for r, g, b in pixels if r > 180 and g < 90 and b < 90)


async def test_chromium_renders_the_map_with_the_active_neighborhoods_highlighted_and_listed(
    base_url: str, tmp_path: Path
) -> None:
    dom = (await chromium(tmp_path / "profile-dom", "--dump-dom", f"{base_url}/map")).decode()
    doc = parse_html(dom)
    assert doc.find("title")[0].text == "Puerto Sereno: map of verified alerts"
    paths = {p.attrs["data-neighborhood"]: p.classes for p in doc.find("path")}
    assert len(paths) == 8
    assert {area for area, classes in paths.items() if "active" in classes} == {"las-palmas", "northgate"}
    item = doc.find("li", class_="alert")[0]
    assert item.find("h3")[0].text == "Las Palmas"
    assert "Verified 20 minutes ago, at 12:10 on January 15, 2026" in item.text
    assert "Legal hotline (Demo Legal Line): (555) 010-0100" in item.text

    spanish = parse_html((await chromium(tmp_path / "profile-es", "--dump-dom", f"{base_url}/map?lang=es")).decode())
    assert spanish.find("html")[0].attrs["lang"] == "es"
    assert "Verificada hace 20 minutos, a las 12:10 del 15 de enero de 2026" in spanish.find("li", class_="alert")[0].text

    shot = tmp_path / "public-map.png"
    await chromium(tmp_path / "profile-shot", f"--screenshot={shot}", f"{base_url}/map")
    assert shot.exists() and shot.stat().st_size > 20_000
    with Image.open(shot) as image:
        assert image.size == (1000, 1200)
    # Two of eight neighborhoods are active: a clear patch of amber, and nothing red.
    pixels = rgb_pixels(shot)
    assert amber_share(pixels) > 0.01
    assert red_pixels(pixels) == 0


#: What the layout test reads in the page: sideways overflow, HTML elements sticking out of
#: the viewport (the map's own labels are clipped by the SVG and do not count), the writing
#: direction, and each hotline link's line boxes (one box, one line high: it did not break)
#: and where its characters are drawn (left to right, in order, also inside Arabic text).
LAYOUT = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  clientWidth: document.documentElement.clientWidth,
  dir: document.documentElement.dir,
  direction: getComputedStyle(document.body).direction,
  wider: [...document.querySelectorAll("body *:not(svg *)")].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5
                                                                    || e.getBoundingClientRect().left < -0.5).length,
  hotlines: [...document.querySelectorAll('a[href^="tel:"]')].map(a => ({
    boxes: a.getClientRects().length,
    height: a.getBoundingClientRect().height,
    lineHeight: parseFloat(getComputedStyle(a).lineHeight),
    text: a.textContent,
    lefts: [...a.textContent].map((_, i) => {  // where each character of the number is drawn
      const range = document.createRange(), text = (a.querySelector("bdi") || a).firstChild;
      range.setStart(text, i);
      range.setEnd(text, i + 1);
      return range.getBoundingClientRect().left;
    }),
  })),
})"""


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
@pytest.mark.parametrize("language", ["en", "ar"])
async def test_the_map_fits_phone_and_desktop_widths_in_english_and_arabic_with_the_hotline_on_one_line(
    base_url: str, tmp_path: Path, width: int, height: int, language: str
) -> None:
    async with browser_page(tmp_path / "profile") as page:
        await page.open(f"{base_url}/map?lang={language}", width, height)
        layout = json.loads(await page.evaluate(LAYOUT))
    assert layout["clientWidth"] == width
    assert layout["scrollWidth"] == width, "the page scrolls sideways"
    assert layout["wider"] == 0
    rtl = language == "ar"
    assert layout["dir"] == ("rtl" if rtl else "ltr") and layout["direction"] == layout["dir"]
    assert len(layout["hotlines"]) == 3  # the region's, and one on each alert's card
    for hotline in layout["hotlines"]:
        assert hotline["text"] == "(555) 010-0100"
        assert hotline["lefts"] == sorted(hotline["lefts"]), "the number is not drawn left to right"
        assert hotline["boxes"] == 1 and hotline["height"] < 1.5 * hotline["lineHeight"], hotline
