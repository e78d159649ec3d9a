"""The folium map: communities coloured by complete-life-circle coverage against the target, a
layer per category (facility markers and nested service areas), a gaps layer, legend, search by
community name, fullscreen, scale bar and layer control.

Only Leaflet is loaded (see :mod:`lifecircle.render.assets`), inlined by default so the page
opens with no network (``offline=False`` links it from a CDN instead). With a
basemap drawn in GCJ-02 (Amap/Gaode), every overlay is shifted to GCJ-02 for display only: the
analysis and every other output stay in WGS 84."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from pyproj import CRS

from lifecircle.chinacoords import wgs84_to_gcj02
from lifecircle.errors import InputError
from lifecircle.fileio import write_text
from lifecircle.headline import Headline, headline
from lifecircle.i18n import t
from lifecircle.naming import ALL, median_dist_col
from lifecircle.notes import denominator_label
from lifecircle.outlines import PRECISION_DEG, drawn_service_areas, simplified
from lifecircle.render.assets import DEFAULT_CSS, DEFAULT_JS, inline_assets
from lifecircle.render.controls import (
    CLASS_COLOURS,
    SERVICE_AREA_DASH,
    UNSURE_DASH,
    attribution_control,
    fullscreen_control,
    legend,
    metric_scale,
    search_control,
)
from lifecircle.render.encoded import Decoder, EncodedAreas
from lifecircle.render.escape import safe_text
from lifecircle.render.hexbin import hex_size_m, hexbin
from lifecircle.render.spreadsheet import category_label


class MapInputs(Protocol):
    """What the map needs: a :class:`lifecircle.pipeline.Result`, or the same layers read back
    from an output folder (:func:`load_outputs`)."""

    crs: Any
    summary: dict[str, Any]
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    categories: list[str]


@dataclass
class SavedRun:
    """The layers and summary of a finished run, read back from its output folder."""

    crs: Any
    summary: dict[str, Any]
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    service_areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    categories: list[str]


#: the parts of ``summary.json`` that the map and the report read, with the type each has
SUMMARY_PARTS: dict[str, type] = {
    "preset": dict,
    "area": dict,
    "denominator": str,
    "residents": dict,
    "facilities": dict,
    "categories": dict,
    "complete_life_circle": dict,
    "communities_meeting_target": dict,
    "notes": list,
    "counts": dict,
    "provenance": dict,
}


MAP_NEEDS = ("area", "categories", "complete_life_circle")  # what a map cannot be drawn without


def check_summary(out: Path, summary: object, needs: Iterable[str]) -> None:
    """Refuse a ``summary.json`` that lacks a part in ``needs`` or holds a part of
    :data:`SUMMARY_PARTS` of another type than lifecircle writes (an edited file)."""
    if not isinstance(summary, dict):
        raise damaged_outputs(out, "summary.json is not the record lifecircle writes")
    need = set(needs)
    wrong = [
        k
        for k, kind in SUMMARY_PARTS.items()
        if (k in summary or k in need) and not isinstance(summary.get(k), kind)
    ]
    if wrong:
        raise damaged_outputs(out, f"summary.json lacks or changed {', '.join(wrong)}")


def damaged_outputs(out: Path, what: str) -> InputError:
    return InputError(
        f"{out}: {what}; the folder's outputs were edited or damaged since lifecircle wrote "
        "them. Run `lifecircle analyze` again into a new folder"
    )


def load_outputs(out: Path) -> SavedRun:
    """Read an output folder written by ``lifecircle analyze`` (or ``scenario``).

    Raises
    ------
    InputError
        When the folder holds no analysis (another command's outputs, or none), or its
        ``summary.json`` or ``lifecircle.gpkg`` cannot be read as lifecircle wrote them.
    """
    import pyogrio.errors

    from lifecircle.fileio import output_kind, owned_files

    kind = output_kind(owned_files(out)) if out.is_dir() else None
    if kind not in (None, "lifecircle analyze"):
        raise InputError(
            f"{out}: holds the outputs of `{kind}`, not of `lifecircle analyze`; the map and "
            "the report are rebuilt in an analysis folder (that command writes its own)"
        )
    if not (out / "summary.json").is_file():
        raise InputError(
            f"{out}: no summary.json: not a `lifecircle analyze` output folder; give the --out "
            "folder of an analysis"
        )
    try:
        summary = json.loads((out / "summary.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise damaged_outputs(out, f"summary.json cannot be read ({exc})") from exc
    check_summary(out, summary, MAP_NEEDS)
    gpkg = out / "lifecircle.gpkg"
    try:
        layers = {
            name: gpd.read_file(gpkg, layer=name)
            for name in ("communities", "facilities", "service_areas", "gaps")
        }
        crs = CRS.from_user_input(summary["area"]["crs"])
    except (OSError, ValueError, KeyError, pyogrio.errors.DataSourceError) as exc:
        raise damaged_outputs(out, f"{gpkg.name} or its CRS cannot be read ({exc})") from exc
    except pyogrio.errors.DataLayerError as exc:
        raise damaged_outputs(out, f"{gpkg.name} lacks a layer ({exc})") from exc
    layers["communities"]["community_id"] = layers["communities"]["community_id"].astype(str)
    return SavedRun(crs=crs, summary=summary, categories=list(summary["categories"]), **layers)


CATEGORY_COLOURS = [  # cool hues only: the coverage classes use red, orange and green
    "#3f51b5",  # indigo
    "#8e24aa",  # purple
    "#0277bd",  # blue
    "#00838f",  # teal
    "#5e35b1",  # deep purple
    "#1565c0",  # strong blue
    "#ad1457",  # magenta
    "#283593",  # navy
    "#6a1b9a",  # violet
    "#0d47a1",  # dark blue
    "#4527a0",  # dark indigo
    "#0097a7",  # cyan
]
MAX_ICONS = 400  # beyond this a category is drawn as canvas circles rather than icons
MAX_GAP_POINTS = 2000  # beyond this gaps are aggregated to cells


def coverage_class(share: float, target: float) -> str:
    """well_below (< target − 15 points), below, meets, well_above (≥ halfway to 100 %)."""
    if share is None or not np.isfinite(share):
        return "none"
    if share < target - 0.15:
        return "well_below"
    if share < target:
        return "below"
    if share >= target + (1 - target) / 2:
        return "well_above"
    return "meets"


# ---- basemaps -------------------------------------------------------------------------------

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
GCJ02_PROVIDERS = ("gaode", "amap", "tencent")  # tiles drawn in GCJ-02


@dataclass(frozen=True)
class Basemap:
    """A tile layer: ``url`` None for no basemap; ``gcj02`` when its tiles are in GCJ-02."""

    name: str
    url: str | None
    attribution: str
    gcj02: bool = False
    max_zoom: int = 19


def basemap(tiles: str) -> Basemap:
    """``osm`` (default), ``none``, ``gaode`` (Amap) or any xyzservices provider name, such as
    ``Esri.WorldGrayCanvas`` or ``Gaode.Satellite``."""
    key = tiles.strip()
    if key.lower() in ("osm", "openstreetmap", "openstreetmap.mapnik"):
        return Basemap("OpenStreetMap", OSM_TILES, OSM_ATTRIBUTION)
    if key.lower() == "none":
        return Basemap("none", None, "")
    if key.lower() in ("gaode", "amap"):
        key = "Gaode.Normal"
    import xyzservices

    try:
        prov = xyzservices.providers.query_name(key)
    except ValueError as exc:
        raise InputError(
            f"--tiles {tiles}: not a known basemap; use osm, none, gaode, or an xyzservices "
            "provider name such as Esri.WorldGrayCanvas or Gaode.Satellite"
        ) from exc
    if prov.requires_token():
        raise InputError(f"--tiles {tiles}: this provider needs an API key; choose another")
    return Basemap(
        name=prov.name,
        url=prov.build_url(),
        attribution=prov.get("attribution", prov.name),
        gcj02=prov.name.lower().startswith(GCJ02_PROVIDERS),
        max_zoom=int(prov.get("max_zoom", 19)),
    )


def display_shift(bm: Basemap) -> Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]:
    """For a GCJ-02 basemap, a copy of a WGS 84 layer in GCJ-02; otherwise the layer itself."""
    if not bm.gcj02:
        return lambda gdf: gdf

    def shift(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        out = gdf.to_crs(4326).copy()
        out["geometry"] = shapely.transform(
            out.geometry.to_numpy(), lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        )
        return out

    return shift


def base_map(bounds: tuple[float, ...], bm: Basemap) -> folium.Map:
    """An empty map on basemap ``bm`` fitted to lon/lat ``bounds`` (already in display
    coordinates), loading Leaflet only, with a metric scale bar, fullscreen button and
    attribution."""
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=True, max_zoom=bm.max_zoom)
    m.default_js = list(DEFAULT_JS)
    m.default_css = list(DEFAULT_CSS)
    m.get_root().header.add_child(  # type: ignore[attr-defined]
        folium.Element(
            "<style>.lc-miss td{color:#b2182b} .leaflet-popup-content td{padding:0 4px}</style>"
        )
    )
    metric_scale().add_to(m)
    Decoder().add_to(m)
    fullscreen_control().add_to(m)
    if bm.url is not None:
        folium.TileLayer(bm.url, name=bm.name, attr=bm.attribution, max_zoom=bm.max_zoom).add_to(m)
    if bm.name != "OpenStreetMap":  # the overlays come from OSM whatever the basemap
        attribution_control(f"Data {OSM_ATTRIBUTION}").add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def finish_map(
    m: folium.Map, path: Path, *, offline: bool = True, counts: dict[str, int], bm: Basemap
) -> dict[str, Any]:
    """Write the page; its size and features per layer.

    Parameters
    ----------
    m
        The finished map.
    path
        Where to write it.
    offline
        Inline Leaflet (the default), so the page opens with no network; False links it from
        jsDelivr instead (``--cdn``), a smaller page that needs the internet.
    counts
        Features per layer, reported back.
    bm
        The basemap, reported back.
    """
    html = _unescape_non_ascii(m.get_root().render())
    if offline:
        html = inline_assets(html)
    write_text(path, html)
    return {
        "bytes": path.stat().st_size,
        "features_per_layer": counts,
        "tiles": bm.name,
        "offline": offline,
        "display_shift": "wgs84_to_gcj02" if bm.gcj02 else None,
    }


# ---- the area map -------------------------------------------------------------------------------


def _category_names(result: MapInputs, keys: str, lang: str) -> str:
    """``"canteen, elder_care"`` as the categories' short names in ``lang``."""
    sep = "、" if lang == "zh" else ", "
    return sep.join(
        _short(category_label(result.summary, k.strip(), lang))
        for k in str(keys or "").split(",")
        if k.strip()
    )


def _popups(
    comm: gpd.GeoDataFrame, result: MapInputs, profile: str, minutes: int, target: float, lang: str
) -> list[str]:
    """Per community: each category's coverage, and for those below the target the walk the
    typical (median) resident has to the nearest facility of that category."""
    limit = float(result.summary.get("area", {}).get("analysis_buffer_m", 990.0)) * 2
    no_data = "no_area_samples" if headline(result.summary).area_samples else "no_residents"
    out = []
    for _, c in comm.iterrows():
        rows = []
        for cat in result.categories:
            share = c.get(f"cov_{cat}_{profile}_{minutes}min", np.nan)
            if share is None or not np.isfinite(share):
                continue
            name = safe_text(_short(category_label(result.summary, cat, lang)))
            if share >= target:
                rows.append(f"<tr><td>{name}</td><td>{share:.0%}</td><td></td></tr>")
                continue
            d = c.get(median_dist_col(cat), np.nan)
            walk = f"{d:,.0f} m" if d is not None and np.isfinite(d) else f"&gt; {limit:,.0f} m"
            rows.append(
                f'<tr class="lc-miss"><td>{name}</td><td>{share:.0%}</td><td>{walk}</td></tr>'
            )
        head = f"<b>{safe_text(c['community_name'])}</b> ({safe_text(c['community_id'])})"
        header = (
            f"<tr><th>{t('category', lang)}</th><th>{t('coverage', lang)}</th>"
            f"<th>{t('median_walk', lang)}</th></tr>"
        )
        body = header + "".join(rows) if rows else f"<tr><td>{t(no_data, lang)}</td></tr>"
        out.append(
            f"{head}<br>{t('coverage', lang)} ≤ {minutes} {t('minutes', lang)}, "
            f"{t(profile, lang)}<table>{body}</table>"
        )
    return out


UNSURE_STYLE = {"color": "#000", "weight": 2.5, "dashArray": UNSURE_DASH}


def _uncertain(summary: dict[str, Any], profile: str, minutes: int, lang: str) -> dict[str, str]:
    """Community id → the popup's first line, for the communities whose complete-life-circle
    verdict ``analyze --sensitivity`` found uncertain at the map's profile and minutes."""
    sens = summary.get("sensitivity") or {}
    if (sens.get("category"), sens.get("profile"), sens.get("minutes")) != (ALL, profile, minutes):
        return {}
    return {
        str(c["community_id"]): '<div class="lc-unsure"><b>'
        + safe_text(t("sens_popup", lang).format(low=c["coverage_low"], high=c["coverage_high"]))
        + "</b></div>"
        for c in sens.get("uncertain_communities", [])
    }


def _uncertain_layer(
    m: folium.Map, unsure: gpd.GeoDataFrame, lang: str, counts: dict[str, int]
) -> None:
    """A "?" on each community whose verdict is uncertain (a shared edge cannot tell by its
    dashes alone which side is meant); not clickable, so a click opens the community's popup."""
    fg = folium.FeatureGroup(name=f"? {safe_text(t('sens_title', lang))} ({len(unsure)})")
    icon = (
        '<div style="background:#fff;color:#000;border:2px dashed #000;border-radius:50%;'
        'width:18px;height:18px;line-height:18px;text-align:center;font:bold 13px sans-serif">'
        "?</div>"
    )
    for pt in unsure.geometry.representative_point():
        folium.Marker(
            [round(pt.y, 5), round(pt.x, 5)],
            icon=folium.DivIcon(html=icon, icon_size=(22, 22), icon_anchor=(11, 11)),
            interactive=False,
        ).add_to(fg)
    counts["uncertain_verdicts"] = len(unsure)
    fg.add_to(m)


def _short(label: str) -> str:
    """A category label without its parenthesised detail: popups repeat it per community."""
    return re.split(r"[(（]", label, maxsplit=1)[0].strip() or label


def _unescape_non_ascii(html: str) -> str:
    """Turn the ``\\uXXXX`` escapes json.dumps writes for non-ASCII text back into characters:
    Chinese names take 3 bytes instead of 6. The page is UTF-8, and every character that matters
    to HTML or JavaScript (``<``, ``&``, quotes, backslash) is ASCII and stays escaped."""

    def repl(m: re.Match[str]) -> str:
        slashes, ch = m.group(1), chr(int(m.group(2), 16))
        if len(slashes) % 2 == 0:  # an escaped backslash, then a plain "u"
            return m.group(0)
        if ord(ch) < 0x80 or 0xD800 <= ord(ch) <= 0xDFFF or ch in "\u2028\u2029":
            return m.group(0)
        return slashes[:-1] + ch

    # a whole run of backslashes before the "u": a pattern that starts with a backslash lets
    # the regex engine skip ahead (twice as fast on a 4.5 MB page as a look-behind)
    return re.sub(r"(\\+)u([0-9a-fA-F]{4})", repl, html)


def _icon(glyph: str, colour: str) -> folium.DivIcon:
    return folium.DivIcon(
        html=(
            f'<div style="background:{colour};color:#fff;border:1px solid #222;'
            "border-radius:50%;width:20px;height:20px;line-height:19px;text-align:center;"
            f'font:bold 12px sans-serif">{safe_text(glyph[:1])}</div>'
        ),
        icon_size=(20, 20),
        icon_anchor=(10, 10),
        class_name="lc-icon",
    )


def _circle_style(colour: str, _feature: Any) -> dict[str, Any]:
    return {"color": "#222", "fillColor": colour}


def _category_layer(
    m: folium.Map,
    k: int,
    cat: str,
    result: MapInputs,
    drawn: gpd.GeoDataFrame,
    shift: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame],
    lang: str,
    counts: dict[str, int],
    hl: Headline,
) -> None:
    """The layer of one category: its service areas as ``drawn``
    (:func:`lifecircle.outlines.drawn_service_areas`) and its facilities."""
    fac, crs = result.facilities, result.crs
    colour = CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)]
    label = category_label(result.summary, cat, lang)
    icon = str(result.summary["categories"].get(cat, {}).get("icon") or label[:1])
    pts = fac[fac["category"] == cat] if len(fac) else fac
    fg = folium.FeatureGroup(name=f"{safe_text(label)} ({len(pts)})", show=False)
    tiers = drawn[drawn["category"] == cat]
    for minutes in sorted(tiers["minutes"].unique(), reverse=True):  # nested: largest first
        area = shift(tiers.loc[tiers["minutes"] == minutes, ["geometry"]])
        EncodedAreas(  # not interactive: a click reaches the community beneath
            area.geometry.iloc[0],
            style={
                "fillColor": colour,
                "color": colour,
                "weight": 1.5,
                "dashArray": SERVICE_AREA_DASH,
                "fillOpacity": 0.08,
                "interactive": False,
            },
        ).add_to(fg)
    if len(pts):
        rp = pts.to_crs(crs).geometry.representative_point().to_crs(4326)
        layer = shift(
            gpd.GeoDataFrame(
                {
                    "name": [safe_text(n) or t("unnamed", lang) for n in pts["name"]],
                    "category": safe_text(label),
                    "reached": [f"{v:,.0f}" for v in pts["residents_within_max_minutes"]],
                },
                geometry=rp.values,
                crs=4326,
            )
        )
        layer["geometry"] = layer.geometry.set_precision(PRECISION_DEG)
        if len(pts) <= MAX_ICONS:
            marker = folium.Marker(icon=_icon(icon, colour))
            style: Callable[[Any], dict[str, Any]] = lambda f: {}  # noqa: E731
        else:  # thousands of icons would slow the page: canvas circles instead
            marker = folium.CircleMarker(radius=4, fill=True, fill_opacity=0.9, weight=1)
            style = partial(_circle_style, colour)
        top = max(result.summary.get("preset", {}).get("minutes", [15]))
        folium.GeoJson(
            layer.to_json(),
            marker=marker,
            style_function=style,
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=[""]),
            popup=folium.GeoJsonPopup(
                fields=["name", "category", "reached"],
                aliases=[
                    t("facility", lang),
                    t("category", lang),
                    t("reached_within", lang).format(
                        minutes=top, unit=hl.unit(lang), label=hl.unit_label(lang)
                    ),
                ],
            ),
        ).add_to(fg)
    counts[f"category:{cat}"] = len(pts)
    fg.add_to(m)


def _gaps_layer(
    m: folium.Map,
    result: MapInputs,
    shift: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame],
    counts: dict[str, int],
    lang: str,
    hl: Headline,
) -> None:
    gaps = result.gaps
    gfg = folium.FeatureGroup(
        name=t("layer_gaps", lang).format(n=len(gaps), unit=hl.unit(lang)), show=True
    )
    if len(gaps) > MAX_GAP_POINTS:
        gm = gaps.to_crs(result.crs)
        size = hex_size_m(tuple(gm.total_bounds), MAX_GAP_POINTS, 60.0)
        hexes = shift(hexbin(gm, "weight", size).to_crs(4326))
        top = float(hexes["weight"].max()) or 1.0
        hexes["o"] = 0.15 + 0.6 * np.sqrt(hexes["weight"].to_numpy() / top)
        hexes["residents"] = [f"{w:,.0f}" for w in hexes["weight"]]
        hexes["geometry"] = hexes.geometry.set_precision(PRECISION_DEG)
        folium.GeoJson(
            hexes[["residents", "o", "geometry"]].to_json(),
            style_function=lambda f: {
                "fillColor": "#b2182b",
                "color": "#b2182b",
                "weight": 0.4,
                "fillOpacity": f["properties"]["o"],
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["residents"],
                aliases=[t("tip_gaps", lang).format(unit=hl.unit(lang), label=hl.unit_label(lang))],
            ),
        ).add_to(gfg)
        counts["gaps"] = len(hexes)
        counts["gaps_hexagon_m"] = round(size)
    elif len(gaps):
        pts_g = shift(
            gpd.GeoDataFrame(
                {
                    "weight": gaps["weight"].to_numpy(),
                    "what": [
                        safe_text(f"{t('missing', lang)}: {_category_names(result, x, lang)}")
                        for x in gaps["missing_categories"]
                    ],
                },
                geometry=gaps.geometry.values,
                crs=4326,
            )
        )
        top = float(pts_g["weight"].max()) or 1.0
        pts_g["r"] = 2 + 5 * np.sqrt(pts_g["weight"].to_numpy() / top)
        pts_g["residents"] = [f"{w:,.0f}" for w in pts_g["weight"]]
        pts_g["geometry"] = pts_g.geometry.set_precision(PRECISION_DEG)
        folium.GeoJson(
            pts_g[["residents", "what", "r", "geometry"]].to_json(),
            marker=folium.CircleMarker(radius=3, fill=True, fill_opacity=0.45, weight=0),
            style_function=lambda f: {
                "fillColor": "#b2182b",
                "color": "#b2182b",
                "radius": f["properties"]["r"],
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["residents", "what"], aliases=[hl.unit_label(lang), ""]
            ),
        ).add_to(gfg)
        counts["gaps"] = len(pts_g)
    counts.setdefault("gaps", 0)
    gfg.add_to(m)


def _community_props(
    comm: gpd.GeoDataFrame,
    result: MapInputs,
    col: str,
    profile: str,
    minutes: int,
    target: float,
    lang: str,
) -> gpd.GeoDataFrame:
    """The communities' layer data: popup, tooltip fields and class; with an ``unsure`` column
    only when the sensitivity finds some verdict uncertain."""
    summary = result.summary
    share = comm[col].to_numpy(dtype=float) if col in comm else np.full(len(comm), np.nan)
    unsure = _uncertain(summary, profile, minutes, lang)
    is_unsure = [str(i) in unsure for i in comm["community_id"]]
    props = gpd.GeoDataFrame(
        {
            "popup": [
                (unsure[str(i)] if u else "") + p
                for i, u, p in zip(
                    comm["community_id"],
                    is_unsure,
                    _popups(comm, result, profile, minutes, target, lang),
                    strict=True,
                )
            ],
            "name": [safe_text(n) for n in comm["community_name"]],
            "id": [safe_text(i) for i in comm["community_id"]],
            "q": [  # the search box decodes it back to text in the page
                f"{safe_text(n)} ({safe_text(i)})"  # each isolated: see html_text
                for n, i in zip(comm["community_name"], comm["community_id"], strict=True)
            ],
            "residents": [f"{r:,.0f}" for r in comm["residents"].fillna(0)],
            "coverage": [
                (f"{s:.1%}" if np.isfinite(s) else "–") + (" ?" if u else "")
                for s, u in zip(share, is_unsure, strict=True)
            ],
            "cls": [coverage_class(s, target) for s in share],
        },
        geometry=comm.geometry.values,
        crs=4326,
    )
    if unsure:  # (only then: a run without --sensitivity draws the map it always drew)
        props.insert(len(props.columns) - 1, "unsure", is_unsure)
    return props


def _communities_layer(props: gpd.GeoDataFrame, hl: Headline, lang: str) -> folium.GeoJson:
    """The communities coloured by class, with tooltip and popup (not yet added to a map)."""
    return folium.GeoJson(
        props.to_json(),
        name=t("layer_communities", lang),
        style_function=lambda f: (
            {
                "fillColor": CLASS_COLOURS[f["properties"]["cls"]],
                "color": "#333",
                "weight": 1,
                "fillOpacity": 0.55,
            }
            | (UNSURE_STYLE if f["properties"].get("unsure") else {})
        ),
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "id", "residents", "coverage"],
            aliases=[
                t("community_name", lang),
                t("community_id", lang),
                hl.unit_label(lang),
                t("all", lang),
            ],
        ),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=420),
    )


def _map_legend(
    summary: dict[str, Any], hl: Headline, target: float, profile: str, minutes: int, lang: str
) -> MacroElement:
    """The class legend of a run's map, with its headline and warnings."""
    return legend(
        target,
        denominator_label(summary["denominator"], lang),
        profile,
        minutes,
        lang,
        headline=hl.sentence(lang),
        warnings=tuple(hl.warning_texts(lang)),
        unit=hl.unit(lang),
        service_areas=True,
        uncertain=t("sens_legend", lang) if "sensitivity" in summary else "",
    )


def make_map(
    result: MapInputs,
    path: Path,
    *,
    target: float,
    lang: str = "zh",
    tiles: str = "osm",
    offline: bool = True,
    overlay: Callable[..., dict[str, int]] | None = None,
) -> dict[str, Any]:
    """Write ``map.html``; returns its size, basemap and the number of features per layer.

    ``offline`` (the default) inlines Leaflet so the overlays show with no network; only the
    basemap's tiles are fetched. False links Leaflet from a CDN. ``overlay(m, shift, lang)``
    adds a command's own layers (and their legend) to the map ``m``, passing every layer through
    ``shift`` (the display shift of the basemap); it returns their feature counts."""
    crs = result.crs
    summary = result.summary
    clc = summary["complete_life_circle"]
    profile, minutes = clc["profile"], clc["minutes"]
    col = f"cov_{ALL}_{profile}_{minutes}min"
    bm = basemap(tiles)
    shift = display_shift(bm)
    hl = headline(summary)
    comm = shift(simplified(result.communities, crs, 2.0))
    m = base_map(tuple(comm.total_bounds), bm)
    counts: dict[str, int] = {}

    props = _community_props(comm, result, col, profile, minutes, target, lang)
    communities = _communities_layer(props, hl, lang)
    communities.add_to(m)
    counts["communities"] = len(props)
    if "unsure" in props:
        _uncertain_layer(m, props[props["unsure"]], lang, counts)
    drawn = drawn_service_areas(result, profile)
    for k, cat in enumerate(result.categories):
        _category_layer(m, k, cat, result, drawn, shift, lang, counts, hl)
    _gaps_layer(m, result, shift, counts, lang, hl)
    if overlay is not None:
        counts.update(overlay(m, shift, lang))
    _map_legend(summary, hl, target, profile, minutes, lang).add_to(m)
    search_control(communities.get_name()).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)  # open on hover/tap: never over a popup
    return finish_map(m, path, offline=offline, counts=counts, bm=bm)
