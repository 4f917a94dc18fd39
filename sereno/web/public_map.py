"""The public map: `GET /map` shows which neighborhoods have an active verified alert.

One self-contained HTML page (no tiles, fonts, scripts or styles from elsewhere): the
neighborhoods drawn as inline SVG from their polygons, those with an active verified alert
shaded amber, every one labelled by name; below it the same facts as text — each active
alert's neighborhood, what, how many minutes ago it was verified, when it expires, what to
do, the know-your-rights line and the hotline from configuration — and the neighborhoods
without one. In every supported language (`?lang=es`, else the browser's language, else the
deployment's), right to left for Arabic (`dir="rtl"`), with times in the deployment's
timezone. Laid out for phones as narrow as 320 px (nothing scrolls sideways: the language
menu and long names wrap; a hotline number never breaks and keeps its left-to-right order).
Without JavaScript the page reloads itself every minute; with it, a small inline script swaps
in fresh content every minute and keeps the last good content when the network drops.
Nothing finer than a neighborhood is shown, and every configured string is HTML-escaped.

The data comes from a `load` callable, so the page is read-only and holds no state that a
second replica would need; :func:`load_from` backs it with the database.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date
from babel.units import format_unit

from sereno.bot.i18n import LANGUAGE_NAMES, N_, SUPPORTED_LANGUAGES, Translator, translator
from sereno.bot.render import ACTIVITY_LABELS, KNOW_YOUR_RIGHTS_LINE
from sereno.verify.alerts import Alert, AlertKind, AlertState
from sereno.verify.clock import SystemClock
from sereno.verify.places import Gazetteer, Neighborhood
from sereno.verify.ports import Clock, UnitOfWorkFactory
from sereno.verify.resources import Hotline, Resources
from sereno.web.map_assets import CONTENT_SECURITY_POLICY, REFRESH_SECONDS, SCRIPT, STYLE
from sereno.web.map_projection import project

log = logging.getLogger(__name__)

MapData = tuple[list[Neighborhood], list[Alert]]
Loader = Callable[[], Awaitable[MapData]]

# Every sentence of the page is marked here: Babel (on Python 3.11) does not see t()/N_()
# calls inside f-strings, so the page code refers only to these names.
TITLE = N_("Map of verified alerts")
TITLE_FOR_REGION = N_("{region}: map of verified alerts")
SUMMARY_ACTIVE = N_("Neighborhoods with an active verified alert: {places}.")
SUMMARY_NONE = N_("No active alerts right now.")
ALERTS_HEADING = N_("Active alerts")
QUIET_LIST = N_("No active alert: {places}.")
FOOTNOTE = N_("Only alerts confirmed by trained verifiers appear here, and only by neighborhood.")
LANGUAGE = N_("Language")
MAP_TITLE = N_("Map of the neighborhoods this network covers")
LEGEND = N_("Legend")
LEGEND_ACTIVE = N_("Active verified alert")
LEGEND_QUIET = N_("No active alert")
AREA_ACTIVE = N_("{place}: active verified alert")
AREA_QUIET = N_("{place}: no active alert")
UNMAPPED_AREA = N_("Area not shown on the map")
WHAT = N_("What: {what}")
NO_ACTIVITY = N_("Immigration enforcement activity")
TIME_ON_DATE = N_("{time} on {date}")
VERIFIED_AGO = N_("Verified {duration} ago, at {when}")
VERIFIED_JUST_NOW = N_("Verified less than a minute ago, at {when}")
EXPIRES_AT = N_("Expires at {when}")
UPDATED_AT = N_("Updated at {when} (times in {zone}). This page refreshes every minute.")
ADVICE_LINE = N_("What to do: stay calm. Avoid the area if you can. Share only verified information.")
NO_HOTLINE = N_("No legal hotline is configured for this network yet. Contact a local immigrant legal aid organization.")
HOTLINE_NAMED = N_("Legal hotline ({name}): {number}")
HOTLINE = N_("Legal hotline: {number}")
UNAVAILABLE = N_("The map is not available right now. This page will try again in a minute.")

#: Every page sentence, for tests that check the Spanish page has no English left.
PAGE_TEXTS = (
    TITLE,
    TITLE_FOR_REGION,
    SUMMARY_ACTIVE,
    SUMMARY_NONE,
    ALERTS_HEADING,
    QUIET_LIST,
    FOOTNOTE,
    LANGUAGE,
    MAP_TITLE,
    LEGEND,
    LEGEND_ACTIVE,
    LEGEND_QUIET,
    AREA_ACTIVE,
    AREA_QUIET,
    UNMAPPED_AREA,
    WHAT,
    NO_ACTIVITY,
    TIME_ON_DATE,
    VERIFIED_AGO,
    VERIFIED_JUST_NOW,
    EXPIRES_AT,
    UPDATED_AT,
    ADVICE_LINE,
    NO_HOTLINE,
    HOTLINE_NAMED,
    HOTLINE,
    UNAVAILABLE,
)


class Safe(str):
    """Text that is already HTML and must not be escaped again."""


def esc(value: object) -> Safe:
    """`value` as HTML text, quotes included (fit for attributes too); Safe values as they are."""
    return value if isinstance(value, Safe) else Safe(html.escape(str(value), quote=True))


def tr(t: Translator, message: str, /, **values: object) -> Safe:
    """`t(message, …)` as HTML: the translation and every value are escaped (Safe values
    are inserted as they are)."""
    return Safe(esc(t(message)).format(**{key: esc(value) for key, value in values.items()}))


def is_shown(alert: Alert, now: datetime) -> bool:
    """Whether the map shows the alert: a verified alert (not a correction), active and
    not past its expiry (the expiry job may not have run yet)."""
    return alert.kind is AlertKind.ALERT and alert.state is AlertState.ACTIVE and alert.expires_at > now


def render_map(
    neighborhoods: Sequence[Neighborhood],
    alerts: Iterable[Alert],
    t: Translator,
    tz: ZoneInfo,
    resources: Resources,
    now: datetime,
    *,
    region_name: str = "",
) -> str:
    """The whole page in `t`'s language, as of `now`, with times in `tz`. Alerts that are
    not shown (see :func:`is_shown`) are left out; the newest alert is listed first."""
    shown = sorted((a for a in alerts if is_shown(a, now)), key=lambda a: a.verified_at, reverse=True)
    active = {a.neighborhood_id for a in shown if a.neighborhood_id}
    active_names = [nb.name for nb in neighborhoods if nb.id in active]
    quiet_names = [nb.name for nb in neighborhoods if nb.id not in active]
    title = tr(t, TITLE_FOR_REGION, region=region_name) if region_name else tr(t, TITLE)
    summary = tr(t, SUMMARY_ACTIVE, places=", ".join(active_names)) if active_names else tr(t, SUMMARY_NONE)
    if shown:
        listing = _alert_list(t, shown, {nb.id: nb.name for nb in neighborhoods}, tz, resources, now)
    else:
        listing = f"<p>{tr(t, SUMMARY_NONE)}</p>"
    quiet = [f'<p class="muted">{tr(t, QUIET_LIST, places=", ".join(quiet_names))}</p>'] if quiet_names else []
    return _page(
        t,
        title,
        [
            "<header>",
            f"<h1>{title}</h1>",
            _language_nav(t),
            f'<p id="summary" role="status">{summary}</p>',
            *_region_hotline(t, resources),
            "</header>",
            '<main id="live">',
            _figure(t, neighborhoods, active, summary),
            '<section aria-labelledby="alerts-heading">',
            f'<h2 id="alerts-heading">{tr(t, ALERTS_HEADING)}</h2>',
            listing,
            *quiet,
            "</section>",
            f'<p class="muted">{_updated(t, now, tz)}</p>',
            "</main>",
            f'<footer><p class="muted">{tr(t, FOOTNOTE)}</p></footer>',
        ],
        live=True,
    )


def render_unavailable(t: Translator) -> str:
    """A calm page for when the data cannot be loaded; it reloads itself."""
    title = tr(t, TITLE)
    return _page(t, title, [f"<h1>{title}</h1>", f"<p>{tr(t, UNAVAILABLE)}</p>"], live=False)


def _page(t: Translator, title: str, body: list[str], *, live: bool) -> str:
    """The HTML document around `body`, in `t`'s language and writing direction; `live`
    pages refresh by script (by meta refresh without JavaScript), others always by meta
    refresh."""
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                f'<html lang="{esc(t.language)}" dir="{"rtl" if t.rtl else "ltr"}">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{title}</title>",
                '<link rel="icon" href="data:,">',
                f"<noscript>{refresh}</noscript>" if live else refresh,
                f"<style>{STYLE}</style>",
                "</head>",
                '<body><div class="wrap">',
                *body,
                "</div>",
                f"<script>{SCRIPT}</script>" if live else "",
                "</body>",
                "</html>",
            ]
        )
        + "\n"
    )


def _language_nav(t: Translator) -> str:
    links = []
    for code, name in LANGUAGE_NAMES.items():
        current = ' aria-current="page"' if code == t.language else ""
        links.append(f'<li><a href="?lang={esc(code)}" hreflang="{esc(code)}" lang="{esc(code)}"{current}>{esc(name)}</a></li>')
    return f'<nav aria-label="{tr(t, LANGUAGE)}"><ul>{"".join(links)}</ul></nav>'


def _figure(t: Translator, neighborhoods: Sequence[Neighborhood], active: set[str], summary: str) -> str:
    """The SVG map and its legend. Screen readers get the map's title and the summary; the
    lists below say the same in text."""
    canvas = project(neighborhoods, width=480, margin=12)
    paths, labels = [], []
    # Active areas are drawn last so that their outline is not hidden under a neighbor's.
    for shape in sorted(canvas.shapes, key=lambda s: s.neighborhood.id in active):
        nb = shape.neighborhood
        on = nb.id in active
        title = tr(t, AREA_ACTIVE if on else AREA_QUIET, place=nb.name)
        paths.append(
            f'<path class="{"nb active" if on else "nb"}" data-neighborhood="{esc(nb.id)}" '
            f'd="{shape.path}"><title>{title}</title></path>'
        )
        x, y = shape.label
        labels.append(_label(nb.name, x, y, on))
    return "\n".join(
        [
            "<figure>",
            f'<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="{canvas.view_box}" role="img" '
            'aria-labelledby="map-title map-desc">',
            f'<title id="map-title">{tr(t, MAP_TITLE)}</title>',
            f'<desc id="map-desc">{summary}</desc>',
            '<g class="areas">',
            *paths,
            "</g>",
            '<g class="labels" aria-hidden="true">',
            *labels,
            "</g>",
            "</svg>",
            f'<figcaption><ul class="legend" aria-label="{tr(t, LEGEND)}">',
            f'<li><span class="swatch active" aria-hidden="true"></span>{tr(t, LEGEND_ACTIVE)}</li>',
            f'<li><span class="swatch" aria-hidden="true"></span>{tr(t, LEGEND_QUIET)}</li>',
            "</ul></figcaption>",
            "</figure>",
        ]
    )


def _label(name: str, x: float, y: float, active: bool) -> str:
    """The name centred on (x, y); a long name of several words on two lines."""
    bold = ' class="active"' if active else ""
    words = name.split()
    if len(name) <= 10 or len(words) < 2:
        return f'<text x="{x:.1f}" y="{y:.1f}"{bold}>{esc(name)}</text>'
    cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    first, second = " ".join(words[:cut]), " ".join(words[cut:])
    return (
        f'<text x="{x:.1f}" y="{y:.1f}"{bold}><tspan x="{x:.1f}" dy="-0.6em">{esc(first)}</tspan>'
        f'<tspan x="{x:.1f}" dy="1.2em">{esc(second)}</tspan></text>'
    )


def _alert_list(
    t: Translator,
    alerts: Sequence[Alert],
    names: dict[str, str],
    tz: ZoneInfo,
    resources: Resources,
    now: datetime,
) -> str:
    """One card per alert; its element id (`alert-<alert id>`) is what the feeds link to."""
    items = []
    for alert in alerts:
        place = names.get(alert.neighborhood_id or "") or t(UNMAPPED_AREA)
        what = t(ACTIVITY_LABELS[alert.activity]) if alert.activity else t(NO_ACTIVITY)
        items.append(
            "\n".join(
                [
                    f'<li class="alert" id="{esc(card_id(alert.id))}" data-neighborhood="{esc(alert.neighborhood_id or "")}">',
                    f"<h3>{esc(place)}</h3>",
                    f"<p>{tr(t, WHAT, what=what)}</p>",
                    f"<p>{_verified(t, alert.verified_at, now, tz)}</p>",
                    f"<p>{tr(t, EXPIRES_AT, when=_stamp(t, alert.expires_at, tz, today=now))}</p>",
                    f"<p>{tr(t, ADVICE_LINE)}</p>",
                    f"<p>{tr(t, KNOW_YOUR_RIGHTS_LINE)}</p>",
                    f"<p>{_hotline(t, resources.hotline_for(alert.neighborhood_id))}</p>",
                    "</li>",
                ]
            )
        )
    return '<ul class="alerts">\n' + "\n".join(items) + "\n</ul>"


def card_id(alert_id: str) -> str:
    """The HTML id of an alert's card on the map (`/map#alert-<id>` scrolls to it)."""
    return f"alert-{alert_id}"


def _stamp(t: Translator, at: datetime, tz: ZoneInfo, *, today: datetime | None = None) -> Safe:
    """`at` in `tz` as HH:MM and the long date in `t`'s language, in a <time> element; the
    time alone when `at` falls on the same local day as `today`."""
    local = at.astimezone(tz)
    clock = local.strftime("%H:%M")
    if today is not None and today.astimezone(tz).date() == local.date():
        text = esc(clock)
    else:
        text = tr(t, TIME_ON_DATE, time=clock, date=format_date(local.date(), "long", locale=t.language))
    return Safe(f'<time datetime="{esc(local.isoformat())}">{text}</time>')


def _verified(t: Translator, at: datetime, now: datetime, tz: ZoneInfo) -> Safe:
    """How many whole minutes ago the alert was verified (as the language counts them), and when."""
    minutes = max(0, int((now - at).total_seconds() // 60))
    when = _stamp(t, at, tz)
    if minutes == 0:
        return tr(t, VERIFIED_JUST_NOW, when=when)
    return tr(t, VERIFIED_AGO, duration=format_unit(minutes, "duration-minute", length="long", locale=t.language), when=when)


def _updated(t: Translator, now: datetime, tz: ZoneInfo) -> Safe:
    zone = now.astimezone(tz).tzname() or tz.key
    return tr(t, UPDATED_AT, when=_stamp(t, now, tz), zone=zone)


def _region_hotline(t: Translator, resources: Resources) -> list[str]:
    """The region-wide hotline line; nothing when only neighborhoods have hotlines (each
    alert then shows its own)."""
    if resources.hotline is None and resources.varies_by_neighborhood:
        return []
    return [f"<p>{_hotline(t, resources.hotline)}</p>"]


def _hotline(t: Translator, hotline: Hotline | None) -> Safe:
    """The configured hotline as a tap-to-call link that never breaks across lines and reads
    left to right inside right-to-left text, or the honest note that none is set."""
    if hotline is None or not hotline.number:
        return tr(t, NO_HOTLINE)
    dial = re.sub(r"[^0-9+]", "", hotline.number)
    number = Safe(f'<a class="tel" href="tel:{esc(dial)}"><bdi dir="ltr">{esc(hotline.number)}</bdi></a>')
    if hotline.name:
        return tr(t, HOTLINE_NAMED, name=hotline.name, number=number)
    return tr(t, HOTLINE, number=number)


def choose_language(query: str | None, accept_language: str | None, default: str) -> str:
    """`?lang=` when supported, else the first supported language the browser accepts
    (in the order it lists them, skipping q=0), else `default`."""
    if query in SUPPORTED_LANGUAGES:
        return query
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        code = tag.split("-")[0].strip().lower()
        refused = re.fullmatch(r"q=0(\.0*)?", params.replace(" ", "")) is not None
        if code in SUPPORTED_LANGUAGES and not refused:
            return code
    return default if default in SUPPORTED_LANGUAGES else "en"


async def load_from(uow_factory: UnitOfWorkFactory, gazetteer: Gazetteer) -> MapData:
    """The gazetteer's neighborhoods and the active alerts in the database (one short
    read-only unit of work). Use as `load=functools.partial(load_from, uow_factory, gazetteer)`."""
    async with uow_factory() as uow:
        alerts = await uow.alerts.active()
    return list(gazetteer.neighborhoods), alerts


class PublicMap:
    """Serves `GET /map` (and HEAD). Loaded data is reused for `cache_seconds`, one load at
    a time, so a surge of visitors costs one database read per interval per replica."""

    def __init__(
        self,
        load: Loader,
        *,
        tz: ZoneInfo,
        resources: Resources,
        default_language: str = "en",
        region_name: str = "",
        clock: Clock | None = None,
        cache_seconds: float = 15.0,
    ) -> None:
        self._load = load
        self._tz = tz
        self._resources = resources
        self._default = default_language
        self._region = region_name
        self._clock = clock or SystemClock()
        self._ttl = cache_seconds
        self._cached: tuple[float, MapData] | None = None
        self._lock = asyncio.Lock()

    async def data(self) -> MapData:
        """The loaded data, from the cache while it is fresh."""
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self._ttl:
                return self._cached[1]
            data = await self._load()
            self._cached = (time.monotonic(), data)
            return data

    async def handle(self, request: web.Request) -> web.Response:
        """The page in the visitor's language; 503 with a calm page when loading fails."""
        language = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"), self._default)
        t = translator(language)
        headers = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": f"public, max-age={int(self._ttl)}",
            "Vary": "Accept-Language",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        try:
            neighborhoods, alerts = await self.data()
        except Exception:  # the page stays up and calm whatever the database does
            log.exception("public map: loading the data failed")
            headers.update({"Retry-After": str(REFRESH_SECONDS), "Cache-Control": "no-store"})
            return web.Response(
                status=503, text=render_unavailable(t), content_type="text/html", charset="utf-8", headers=headers
            )
        page = render_map(neighborhoods, alerts, t, self._tz, self._resources, self._clock.now(), region_name=self._region)
        return web.Response(text=page, content_type="text/html", charset="utf-8", headers=headers)

    def routes(self) -> list[web.RouteDef]:
        """`GET /map` (HEAD too)."""
        return [web.get("/map", self.handle)]


def map_routes(
    load: Loader,
    *,
    tz: ZoneInfo,
    resources: Resources,
    default_language: str = "en",
    region_name: str = "",
    clock: Clock | None = None,
    cache_seconds: float = 15.0,
) -> list[web.RouteDef]:
    """Routes for the webhook server to mount: `app.add_routes(map_routes(load, tz=…, resources=…))`."""
    return PublicMap(
        load,
        tz=tz,
        resources=resources,
        default_language=default_language,
        region_name=region_name,
        clock=clock,
        cache_seconds=cache_seconds,
    ).routes()
