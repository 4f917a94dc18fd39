"""The public map's inline style and script, and the Content-Security-Policy that lets
exactly these two run (by hash) and nothing else: no other origin, no other inline code."""

from __future__ import annotations

import base64
import hashlib

#: How often the page refreshes itself, in seconds.
REFRESH_SECONDS = 60

#: Calm colours: grey-blue land, amber for an active verified alert (never red). Nothing
#: is wider than a phone: long words wrap anywhere, the language menu wraps, and sides are
#: logical (inline-start/end) so the Arabic page mirrors; a phone number (`.tel`) never breaks.
STYLE = """
:root{color-scheme:light;--ink:#1f2a30;--muted:#56646c;--land:#e8eef0;--edge:#7f9099;
--amber:#f2b544;--amber-edge:#9a6200;--paper:#fbfaf7}
*{box-sizing:border-box}
body{margin:0;background:var(--paper);color:var(--ink);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
.wrap{max-width:48rem;margin:0 auto;padding:1rem;overflow-wrap:anywhere}
h1{font-size:1.4rem;line-height:1.25;margin:.25rem 0 .5rem}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:0 0 .25rem}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;margin:0}
a{color:#0b5873}
.tel{white-space:nowrap}
#summary{font-weight:600}
figure{margin:1rem 0}
svg.map{display:block;width:100%;height:auto;background:#f3f6f7;border:1px solid #d3dce0;border-radius:.5rem}
.nb{fill:var(--land);stroke:var(--edge);stroke-width:1.5;fill-rule:evenodd;stroke-linejoin:round}
.nb.active{fill:var(--amber);stroke:var(--amber-edge);stroke-width:2.5}
.labels text{font-size:12px;fill:var(--ink);text-anchor:middle;dominant-baseline:middle;
paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.labels text.active{font-weight:700}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;padding:0;margin:.5rem 0 0}
.swatch{display:inline-block;width:1.1em;height:1.1em;vertical-align:-.2em;margin-inline-end:.4em;
border:2px solid var(--edge);background:var(--land);border-radius:.2em}
.swatch.active{background:var(--amber);border-color:var(--amber-edge)}
.alerts{list-style:none;padding:0;margin:0}
.alert{background:#fff;border:1px solid #e3e0d6;border-inline-start:.4rem solid var(--amber);border-radius:.35rem;
padding:.75rem 1rem;margin:.75rem 0}
.alert p{margin:.3rem 0}
.muted{color:var(--muted);font-size:.92rem}
@media (max-width:32rem){.labels text{font-size:17px}}
"""

#: Re-fetches the page every REFRESH_SECONDS and swaps in the fresh content (#live) and
#: summary; on any failure the current content, with its "updated at" time, stays. The
#: fetched HTML is parsed inert (DOMParser runs no scripts).
SCRIPT = """
(function () {
  var every = EVERY * 1000;
  function refresh() {
    fetch(location.href, {cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var live = document.getElementById("live"), next = fresh.getElementById("live");
        var said = document.getElementById("summary"), says = fresh.getElementById("summary");
        if (live && next) { live.replaceWith(document.importNode(next, true)); }
        if (said && says && said.textContent !== says.textContent) { said.textContent = says.textContent; }
        if (fresh.title) { document.title = fresh.title; }
      })
      .catch(function () {})
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
""".replace("EVERY", str(REFRESH_SECONDS))


def csp_hash(text: str) -> str:
    """The CSP source expression allowing an inline element whose content is `text`."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: Only this page's own inline style and script may run, and it may fetch only itself.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {csp_hash(STYLE)}; script-src {csp_hash(SCRIPT)}; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
