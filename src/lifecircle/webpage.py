"""The planning workbench's page (``GET /`` of ``lifecircle serve``): its HTML, its settings,
its map layers (``GET /api/layers``) and the fixed list of assets it may load (``/static/``).

The page is a static shell: its script is ``static/workbench.js`` (a file of the package, no
inline script, so the page runs under a strict Content-Security-Policy), its settings a JSON data
block (labels in the chosen language, the coverage classes and colours of the maps' legend, the
target, the categories with their threshold row, the basemap), and its data are fetched as JSON:
the layers once, then one ``POST /api/evaluate`` per edit. Every name from the data reaches the
page as JSON and is shown with ``textContent``, never parsed as HTML.

Examples
--------
>>> from lifecircle.webpage import STATIC, static_asset
>>> sorted(STATIC)
['leaflet.css', 'leaflet.js', 'workbench.css', 'workbench.js']
>>> static_asset("../summary.json") is None
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecircle.i18n import LABELS, LANGS, t
from lifecircle.render.assets import leaflet_files
from lifecircle.render.controls import CLASS_COLOURS, class_labels
from lifecircle.render.escape import html_text

if TYPE_CHECKING:
    from lifecircle.workbench import Workbench

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ORIGIN = "https://tile.openstreetmap.org"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
COORD_DECIMALS = 6  # about 0.1 m: finer than anything drawn


def _package_file(name: str) -> bytes:
    return (resources.files("lifecircle") / "static" / name).read_bytes()


#: every asset the page may load: name → (its bytes, its Content-Type). Nothing else is served
#: under ``/static/``: a request names a key of this dict, never a path.
STATIC: dict[str, tuple[Callable[[], bytes], str]] = {
    "workbench.js": (lambda: _package_file("workbench.js"), "text/javascript; charset=utf-8"),
    "workbench.css": (lambda: _package_file("workbench.css"), "text/css; charset=utf-8"),
    "leaflet.js": (lambda: leaflet_files()[0].encode(), "text/javascript; charset=utf-8"),
    "leaflet.css": (lambda: leaflet_files()[1].encode(), "text/css; charset=utf-8"),
}


@cache
def static_asset(name: str) -> tuple[bytes, str] | None:
    """The bytes and Content-Type of the listed asset ``name``; None for any other name."""
    entry = STATIC.get(name)
    if entry is None:
        return None
    load, kind = entry
    return load(), kind


@dataclass(frozen=True)
class PageOptions:
    """How the page is shown: ``lang`` (zh or en) and ``offline`` (no basemap tiles: the page
    then makes no request beyond the server it came from)."""

    lang: str = "zh"
    offline: bool = False


def analysis_lang(folder: str | Path | None) -> str:
    """The language the analysis in ``folder`` was presented in (its ``summary.json``), else zh."""
    if folder is None:
        return "zh"
    try:
        summary = json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
        lang = summary.get("provenance", {}).get("presentation", {}).get("lang", "zh")
    except (OSError, ValueError, AttributeError):
        return "zh"
    return lang if lang in LANGS else "zh"


def content_security_policy(options: PageOptions) -> str:
    """The page's policy: its own script and styles only, JSON from its own server, images from
    itself, data URIs (Leaflet's icons) and the basemap's tile server unless offline. Inline
    styles are allowed for the printable view the page opens from a Blob (it inherits this
    policy); inline script never is."""
    img = "'self' data:" + ("" if options.offline else f" {OSM_ORIGIN}")
    return (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img} blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def threshold_text(threshold: Any, lang: str) -> str | None:
    """A category's threshold as the summary says it (``10 min``, ``500 m``) in ``lang``."""
    if threshold is None:
        return None
    text = str(threshold)
    if lang == "zh":
        text = re.sub(r"(\d+(?:\.\d+)?) ?min\b", r"\1 分钟", text)
        text = re.sub(r"(\d+(?:\.\d+)?) ?m\b", r"\1 米", text)
    return text


def page_config(bench: Workbench, options: PageOptions) -> dict[str, Any]:
    """What the page's script needs besides the data: labels in the page's language, the
    coverage classes and colours of the maps' legend, the target, the categories (names,
    threshold row: the profile and minutes of ``coverage.csv`` that judge a community) and the
    basemap (None when offline)."""
    from lifecircle.naming import ALL
    from lifecircle.scenario import threshold_rows

    lang = options.lang
    summary = bench.baseline.summary
    study = bench.study
    rows = threshold_rows(study, study.categories)
    cats = [
        {
            "category": c,
            "name": str(summary["categories"][c].get(f"name_{lang}", c)),
            "threshold": threshold_text(summary["categories"][c].get("threshold"), lang),
            "in_basket": bool(summary["categories"][c].get("in_basket")),
            "profile": rows[c][0] if c in rows else None,
            "minutes": rows[c][1] if c in rows else None,
        }
        for c in study.categories
    ]
    unit = "居民" if lang == "zh" else "residents"
    return {
        "lang": lang,
        "labels": {k: t(k, lang) for k in LABELS if k.startswith("wb_") or k in _PAGE_KEYS},
        "target": study.settings.target,
        "all": {
            "category": ALL,
            "name": t("all", lang),
            "profile": rows.get(ALL, (None, None))[0],
            "minutes": rows.get(ALL, (None, None))[1],
        },
        "categories": cats,
        "classes": [
            {"key": k, "label": label, "colour": CLASS_COLOURS[k]}
            for k, label in class_labels(study.settings.target, unit, lang)
        ],
        "tiles": None
        if options.offline
        else {"url": OSM_TILES, "attribution": OSM_ATTRIBUTION, "max_zoom": 19},
    }


_PAGE_KEYS = ("community_name", "community_id", "residents", "coverage", "target", "all")


def page_html(bench: Workbench, options: PageOptions) -> str:
    """The page: a shell whose script and styles are static files and whose settings are a
    JSON data block (not script: it never runs)."""
    cfg = page_config(bench, options)
    data = (
        json.dumps(cfg, ensure_ascii=False)
        .replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
    )  # the JSON cannot end its element early nor start a comment
    title = html_text(t("wb_title", options.lang))
    return (
        f'<!doctype html><html lang="{options.lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{title}</title>"
        '<link rel="stylesheet" href="/static/leaflet.css">'
        '<link rel="stylesheet" href="/static/workbench.css">'
        f'<script type="application/json" id="lc-config">{data}</script>'
        '<script src="/static/leaflet.js" defer></script>'
        '<script src="/static/workbench.js" defer></script>'
        '</head><body><div id="lc-app"><div id="lc-map"></div>'
        '<aside id="lc-panel" aria-live="polite"></aside></div></body></html>'
    )


def layers(bench: Workbench) -> dict[str, Any]:
    """The map's data, sent once: the communities (``community_id``, ``community_name``,
    ``residents``) and the baseline's facilities (``facility_id``, ``category``, ``name``; one
    point each, inside an area-mapped one) as GeoJSON FeatureCollections in WGS 84, the
    communities' coordinates to 6 decimals."""
    import shapely

    comm = bench.baseline.communities[
        ["community_id", "community_name", "residents", "geometry"]
    ].to_crs(4326)
    comm = comm.assign(
        geometry=shapely.set_precision(comm.geometry.to_numpy(), 10.0**-COORD_DECIMALS),
        community_id=comm["community_id"].astype(str),
        community_name=comm["community_name"].fillna("").astype(str),
        residents=comm["residents"].fillna(0.0).astype(float),
    )
    fac = bench.study.facilities.table[["facility_id", "category", "name", "geometry"]].to_crs(4326)
    fac = fac.assign(  # a facility mapped as an area (a school's grounds) is drawn at a point of it
        geometry=fac.geometry.representative_point(),
        facility_id=fac["facility_id"].astype(str),
        name=fac["name"].fillna("").astype(str),
    )
    return {
        "communities": json.loads(comm.to_json(drop_id=True)),
        "facilities": json.loads(fac.to_json(drop_id=True)),
        "service_areas": service_areas(bench),
        "gaps": gaps(bench),
    }


def service_areas(bench: Workbench) -> dict[str, Any]:
    """The baseline's service areas as ``map.html`` draws them: per category (key) a
    FeatureCollection of its nested tiers (``minutes``, largest first) for the profile of the
    complete life circle (:func:`lifecircle.outlines.drawn_service_areas`), in WGS 84,
    with the category's map colour (``colour``). Edits do not redraw them: they are the
    baseline's."""
    from lifecircle.outlines import drawn_service_areas
    from lifecircle.render.maps import CATEGORY_COLOURS

    base = bench.baseline
    drawn = drawn_service_areas(base, base.summary["complete_life_circle"]["profile"])
    out: dict[str, Any] = {}
    for k, cat in enumerate(bench.study.categories):
        area = drawn.loc[drawn["category"] == cat, ["minutes", "geometry"]]
        area = area.sort_values("minutes", ascending=False)
        area = area.assign(minutes=area["minutes"].astype(int))
        out[cat] = {
            "colour": CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)],
            "tiers": json.loads(area.to_json(drop_id=True)),
        }
    return out


def gaps(bench: Workbench) -> dict[str, Any]:
    """The baseline's gaps as ``map.html`` draws them: the residents without the complete life
    circle as points (``weight``: residents there) or, beyond ``MAX_GAP_POINTS``, hexagons
    summing them; ``size`` in [0, 1] is √(weight / largest weight), the marker's radius or
    fill. GeoJSON features in WGS 84 and ``kind`` (points or hexagons)."""
    import geopandas as gpd
    import numpy as np

    from lifecircle.outlines import PRECISION_DEG
    from lifecircle.render.hexbin import hex_size_m, hexbin
    from lifecircle.render.maps import MAX_GAP_POINTS

    g = bench.baseline.gaps
    if len(g) > MAX_GAP_POINTS:
        gm = g.to_crs(bench.baseline.crs)
        size = hex_size_m(tuple(gm.total_bounds), MAX_GAP_POINTS, 60.0)
        shapes = hexbin(gm, "weight", size).to_crs(4326)[["weight", "geometry"]]
        kind = "hexagons"
    else:
        shapes = gpd.GeoDataFrame(
            {"weight": g["weight"].to_numpy(dtype=float)},
            geometry=g.to_crs(4326).geometry.values,
            crs=4326,
        )
        kind = "points"
    w = shapes["weight"].to_numpy(dtype=float)
    top = float(w.max()) if len(w) and w.max() > 0 else 1.0
    shapes = shapes.assign(
        weight=np.round(w, 1),
        size=np.round(np.sqrt(np.clip(w, 0, None) / top), 3),
        geometry=shapes.geometry.set_precision(PRECISION_DEG),
    )
    return {"kind": kind, "features": json.loads(shapes.to_json(drop_id=True))["features"]}
