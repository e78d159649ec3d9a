"""The web assets a map needs, and how it gets them.

A map loads only Leaflet (folium's defaults also pull jQuery, Bootstrap, Font Awesome and
awesome-markers from four CDNs; nothing here uses them). By default Leaflet is inlined from the
copy the ``django-js-lib-leaflet`` package ships (plain static files; Django is not needed), its
images as data URIs, so the page opens with no network, and where CDNs are blocked; ``--cdn``
links it from jsDelivr instead. Basemap tiles are always fetched (none with ``--tiles none``).
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import resources

LEAFLET_VERSION = "1.9.4"  # the version django-js-lib-leaflet 1.9.4.x ships
LEAFLET_JS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js"
LEAFLET_CSS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css"
DEFAULT_JS = [("leaflet", LEAFLET_JS)]
DEFAULT_CSS = [("leaflet_css", LEAFLET_CSS)]


@cache
def leaflet_files() -> tuple[str, str]:
    """Leaflet's script and stylesheet, the stylesheet's images inlined."""
    root = resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    js = (root / "leaflet.js").read_text(encoding="utf-8")
    css = (root / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(m: re.Match[str]) -> str:
        raw = (root / "images" / m.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(raw).decode()})"

    css = re.sub(r"url\(images/([\w@.-]+\.png)\)", data_uri, css)
    js = js.replace("//# sourceMappingURL=leaflet.js.map", "")
    return js, css


def inline_assets(html: str) -> str:
    """Replace the page's Leaflet script and stylesheet links by their contents."""
    js, css = leaflet_files()
    js = js.replace("</script", "<\\/script")  # cannot end the element early
    html = re.sub(
        rf'<script src="{re.escape(LEAFLET_JS)}"></script>',
        lambda _m: f"<script>{js}</script>",
        html,
    )
    html = re.sub(
        rf'<link rel="stylesheet" href="{re.escape(LEAFLET_CSS)}"\s*/>',
        lambda _m: f"<style>{css}</style>",
        html,
    )
    left = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
    if left:  # a plugin added a CDN asset this module does not know: a bug here, not the user's
        raise RuntimeError(f"offline map still references {left}")
    return html
