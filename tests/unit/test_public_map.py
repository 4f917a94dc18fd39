"""The public map page: what it draws, what it lists, in which language, and that every
configured string stays text."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta

import pytest

from sereno.bot.i18n import translator
from sereno.verify.alerts import AlertKind, AlertState
from sereno.verify.places import Neighborhood
from sereno.verify.resources import Hotline, NeighborhoodResources, Resources
from sereno.web.map_assets import CONTENT_SECURITY_POLICY, SCRIPT, STYLE, csp_hash
from sereno.web.map_projection import label_point, project
from sereno.web.public_map import PAGE_TEXTS, choose_language, render_map, render_unavailable
from tests.map_fixtures import NOW, RESOURCES, TZ, alert, demo_neighborhoods, parse_html


def page(alerts: list | None = None, language: str = "en", **kw: object) -> str:  # type: ignore[type-arg]
    neighborhoods = kw.pop("neighborhoods", None) or demo_neighborhoods()
    resources = kw.pop("resources", RESOURCES)
    return render_map(neighborhoods, [alert()] if alerts is None else alerts, translator(language), TZ, resources, NOW, **kw)  # type: ignore[arg-type]


def areas(html: str) -> dict[str, set[str]]:
    """Neighborhood id → classes of its SVG path."""
    return {p.attrs["data-neighborhood"]: p.classes for p in parse_html(html).find("path")}


def test_the_active_neighborhood_is_shaded_and_the_others_are_not() -> None:
    drawn = areas(page())
    assert len(drawn) == 8
    assert drawn.pop("las-palmas") == {"nb", "active"}
    assert all(classes == {"nb"} for classes in drawn.values())


def test_every_neighborhood_is_labelled_by_name_and_the_svg_is_well_formed_and_labelled() -> None:
    html = page()
    doc = parse_html(html)
    [svg] = doc.find("svg")
    assert svg.attrs["role"] == "img" and svg.attrs["aria-labelledby"] == "map-title map-desc"
    assert doc.find("title", id="map-title")[0].text == "Map of the neighborhoods this network covers"
    assert doc.find("desc", id="map-desc")[0].text == "Neighborhoods with an active verified alert: Las Palmas."
    labels = {t.text for t in svg.find("text")}
    assert labels == {nb.name for nb in demo_neighborhoods()}
    assert [p.text for p in svg.find("path", data_neighborhood="las-palmas")] == ["Las Palmas: active verified alert"]
    ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])  # parses as XML


def test_the_list_mirrors_the_map_with_what_when_advice_rights_and_hotline() -> None:
    doc = parse_html(page())
    [item] = doc.find("li", class_="alert")
    assert item.attrs["data-neighborhood"] == "las-palmas" and item.attrs["id"] == "alert-alert-las-palmas"
    assert item.find("h3")[0].text == "Las Palmas"
    lines = [p.text for p in item.find("p")]
    assert lines == [
        "What: Checkpoint or vehicle stop",
        "Verified 20 minutes ago, at 12:10 on January 15, 2026",
        "Expires at 16:10",
        "What to do: stay calm. Avoid the area if you can. Share only verified information.",
        "Know your rights: you have the right to remain silent. Do not open the door: ask agents to slide any "
        "warrant under it (to enter a home they need one signed by a judge). Do not run, argue or resist.",
        "Legal hotline (Demo Legal Line): (555) 010-0100",
    ]
    assert [time.attrs["datetime"] for time in item.find("time")] == ["2026-01-15T12:10:00-08:00", "2026-01-15T16:10:00-08:00"]
    assert [a.attrs["href"] for a in item.find("a")] == ["tel:5550100100"]
    quiet = [p.text for p in doc.find("p", class_="muted") if p.text.startswith("No active alert:")]
    assert quiet == ["No active alert: Harbor View, Mission Flats, Riverside, Eastfield, Northgate, Cedar Heights, Old Mill."]
    assert "Updated at 12:30 on January 15, 2026 (times in PST)" in doc.text


def test_the_page_is_accessible_mobile_friendly_and_refreshes_itself_without_javascript() -> None:
    doc = parse_html(page())
    [html_el] = doc.find("html")
    assert html_el.attrs["lang"] == "en"
    assert doc.find("title")[0].text == "Map of verified alerts"
    assert doc.find("meta", name="viewport")[0].attrs["content"] == "width=device-width, initial-scale=1"
    [noscript] = doc.find("noscript")  # html.parser reads its content as markup, as a browser without JS does
    assert noscript.find("meta", http_equiv="refresh")[0].attrs["content"] == "60"
    assert doc.find("p", id="summary")[0].attrs["role"] == "status"
    assert doc.find("nav")[0].attrs["aria-label"] == "Language"


def test_nothing_comes_from_elsewhere_and_only_the_pages_own_style_and_script_may_run() -> None:
    html = page()
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html and "url(" not in html
    assert f"<style>{STYLE}</style>" in html and f"<script>{SCRIPT}</script>" in html
    assert csp_hash(STYLE) in CONTENT_SECURITY_POLICY and csp_hash(SCRIPT) in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_the_spanish_page_is_all_spanish() -> None:
    html = page(language="es", region_name="Puerto Sereno")
    doc = parse_html(html)
    assert doc.find("html")[0].attrs["lang"] == "es"
    assert doc.find("title")[0].text == "Puerto Sereno: mapa de alertas verificadas"
    [item] = doc.find("li", class_="alert")
    lines = [p.text for p in item.find("p")]
    assert lines[:4] == [
        "Qué: Punto de control o parada de vehículos",
        "Verificada hace 20 minutos, a las 12:10 del 15 de enero de 2026",
        "Caduca a las 16:10",
        "Qué hacer: mantenga la calma. Si puede, evite la zona. Comparta solo información verificada.",
    ]
    assert lines[4].startswith("Conozca sus derechos")
    assert lines[5] == "Línea de ayuda legal (Demo Legal Line): (555) 010-0100"
    assert doc.find("p", id="summary")[0].text == "Barrios con una alerta verificada activa: Las Palmas."
    [area] = doc.find("path", data_neighborhood="las-palmas")
    assert area.text == "Las Palmas: alerta verificada activa"
    es = translator("es")
    assert [text for text in PAGE_TEXTS if es(text) == text] == []
    english = [text for text in PAGE_TEXTS if len(text) > 12 and "{" not in text and text in doc.text]
    assert english == []


@pytest.mark.parametrize(
    ("language", "verified", "expires", "lines"),
    [
        (
            "en",
            timedelta(seconds=59),
            timedelta(hours=4),
            ["Verified less than a minute ago, at 12:29 on January 15, 2026", "Expires at 16:30"],
        ),
        (
            "en",
            timedelta(minutes=1),
            timedelta(hours=12),
            ["Verified 1 minute ago, at 12:29 on January 15, 2026", "Expires at 00:30 on January 16, 2026"],
        ),
        (
            "es",
            timedelta(minutes=135),
            timedelta(hours=1),
            ["Verificada hace 135 minutos, a las 10:15 del 15 de enero de 2026", "Caduca a las 13:30"],
        ),
        (
            "ar",
            timedelta(minutes=2),
            timedelta(hours=1),
            ["تم التحقق منذ دقيقتان، في 12:28 بتاريخ 15 يناير 2026", "تنتهي صلاحيته في 13:30"],
        ),
    ],
)
def test_each_card_says_how_many_minutes_ago_it_was_verified_and_when_it_expires_in_the_readers_language(
    language: str, verified: timedelta, expires: timedelta, lines: list[str]
) -> None:
    card = parse_html(page([alert(verified_at=NOW - verified, expires_at=NOW + expires)], language=language))
    [item] = card.find("li", class_="alert")
    assert [p.text for p in item.find("p")][1:3] == lines


def test_arabic_reads_right_to_left_and_keeps_the_hotline_number_left_to_right_and_whole() -> None:
    doc = parse_html(page(language="ar"))
    assert doc.find("html")[0].attrs == {"lang": "ar", "dir": "rtl"}
    assert parse_html(page()).find("html")[0].attrs == {"lang": "en", "dir": "ltr"}
    links = [a for a in doc.find("a") if a.attrs["href"].startswith("tel:")]
    assert links and all("tel" in a.classes and [b.attrs for b in a.find("bdi")] == [{"dir": "ltr"}] for a in links)
    assert all(b.text == "(555) 010-0100" for a in links for b in a.find("bdi"))
    assert ".tel{white-space:nowrap}" in STYLE


def test_with_no_active_alert_the_page_says_so_calmly() -> None:
    for html, expected in (
        (page([]), "No active alerts right now."),
        (page([], language="es"), "No hay alertas activas en este momento."),
    ):
        doc = parse_html(html)
        assert all(classes == {"nb"} for classes in areas(html).values())
        assert doc.find("li", class_="alert") == []
        assert doc.find("p", id="summary")[0].text == expected
        assert expected in [p.text for p in doc.find("main")[0].find("p")]


@pytest.mark.parametrize(
    "change",
    [
        {"kind": AlertKind.CORRECTION},
        {"state": AlertState.CLEARED},
        {"state": AlertState.EXPIRED},
        {"expires_at": NOW - timedelta(seconds=1)},  # past its lifetime, before the expiry job ran
    ],
)
def test_corrections_and_ended_alerts_are_not_shown(change: dict) -> None:  # type: ignore[type-arg]
    html = page([alert(**change)])
    assert "active" not in areas(html)["las-palmas"]
    assert parse_html(html).find("li", class_="alert") == []


def test_several_alerts_are_listed_newest_first_and_unknown_neighborhoods_are_listed_not_drawn() -> None:
    older = alert("northgate", verified_at=NOW - timedelta(hours=2))
    lost = alert("gone-away", verified_at=NOW - timedelta(hours=1))
    html = page([older, alert(), lost])
    items = parse_html(html).find("li", class_="alert")
    assert [i.find("h3")[0].text for i in items] == ["Las Palmas", "Area not shown on the map", "Northgate"]
    assert {k for k, v in areas(html).items() if "active" in v} == {"las-palmas", "northgate"}


def test_each_alert_shows_its_neighborhoods_hotline_and_never_an_invented_one() -> None:
    local = Resources(hotline=None, neighborhoods={"las-palmas": NeighborhoodResources(Hotline("555-0199"))})
    doc = parse_html(page([alert(), alert("northgate")], resources=local))
    hotlines = {i.attrs["data-neighborhood"]: i.find("p")[-1].text for i in doc.find("li", class_="alert")}
    assert hotlines["las-palmas"] == "Legal hotline: 555-0199"
    assert hotlines["northgate"].startswith("No legal hotline is configured")
    none = parse_html(page([], resources=Resources()))
    assert "No legal hotline is configured for this network yet." in none.find("header")[0].text
    assert not [a for a in none.find("a") if a.attrs["href"].startswith("tel:")]


def test_configured_strings_are_escaped_everywhere() -> None:
    evil = Neighborhood(
        id='x" onmouseover="alert(1)',
        name="<script>alert('name')</script> & Co",
        polygons=demo_neighborhoods()[5].polygons,
    )
    resources = Resources(hotline=Hotline("555-0100", '<img src=x onerror="alert(2)">'))
    html = page(
        [alert(evil.id)], neighborhoods=[*demo_neighborhoods()[:5], evil], resources=resources, region_name="<b>Region</b>"
    )
    doc = parse_html(html)
    assert [s.text for s in doc.find("script")] == [" ".join(SCRIPT.split())]
    assert doc.find("img") == [] and doc.find("b") == []
    assert all("onmouseover" not in n.attrs and "onerror" not in n.attrs for n in doc.iter())
    assert "<script>alert(" not in html and "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt; &amp; Co" in html
    [item] = doc.find("li", class_="alert")
    assert item.attrs["data-neighborhood"] == 'x" onmouseover="alert(1)'
    assert item.find("h3")[0].text == "<script>alert('name')</script> & Co"
    assert doc.find("title")[0].text == "<b>Region</b>: map of verified alerts"
    assert "active" in areas(html)['x" onmouseover="alert(1)']
    ET.fromstring(html[html.index("<svg") : html.index("</svg>") + 6])


def test_no_coordinates_reach_the_page_only_projected_shapes() -> None:
    html = page()
    assert "34.0" not in html and "-118." not in html


def test_the_unavailable_page_is_calm_translated_and_reloads() -> None:
    doc = parse_html(render_unavailable(translator("es")))
    assert doc.find("html")[0].attrs["lang"] == "es"
    assert "El mapa no está disponible en este momento." in doc.text
    assert doc.find("meta", http_equiv="refresh")[0].attrs["content"] == "60"


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("es", "en-US,en;q=0.9", "es"),
        ("fr", "es-MX,es;q=0.9", "es"),
        (None, "fr-FR, es;q=0.5", "es"),
        (None, "es;q=0, en", "en"),
        (None, None, "en"),
        (None, "fr", "en"),
    ],
)
def test_the_language_is_the_query_then_the_browser_then_the_default(
    query: str | None, header: str | None, expected: str
) -> None:
    assert choose_language(query, header, "en") == expected


def test_the_projection_keeps_proportions_at_the_regions_latitude_and_puts_north_up() -> None:
    square = ((0.0, 59.0), (1.0, 59.0), (1.0, 61.0), (0.0, 61.0), (0.0, 59.0))  # 1° lon × 2° lat at ~60°N
    canvas = project([Neighborhood("a", "A", polygons=((square,),))], width=120, margin=10)
    assert canvas.width == 120
    # 1° of longitude at 60°N is half a degree of latitude wide: 100 units wide → 400 high.
    assert math.isclose(canvas.height - 20, 100 / math.cos(math.radians(60)) * 2, rel_tol=1e-9)
    [shape] = canvas.shapes
    assert shape.path.startswith("M10,410L110,410L110,10L10,10Z")  # the southern edge is at the bottom
    assert label_point([(0, 0), (4, 0), (4, 2), (0, 2)]) == pytest.approx((2, 1))


def test_holes_and_multipolygons_are_drawn_even_odd() -> None:
    outer = ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0))
    hole = ((1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 2.0), (1.0, 1.0))
    island = ((5.0, 0.0), (6.0, 0.0), (6.0, 1.0), (5.0, 1.0), (5.0, 0.0))
    nb = Neighborhood("a", "A", polygons=((outer, hole), (island,)))
    [shape] = project([nb]).shapes
    assert shape.path.count("M") == 3 and shape.path.count("Z") == 3
    html = page([], neighborhoods=[replace(nb, name="Ring")])
    assert 'class="nb"' in html
