"""The folium map: communities coloured by complete-life-circle coverage against the target, a
layer per category (facility markers and service area), a gaps layer, legend and layer control."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import folium
import geopandas as gpd
import numpy as np
from branca.element import MacroElement, Template
from folium.plugins import FastMarkerCluster
from pyproj import CRS

from lifecircle.errors import InputError
from lifecircle.i18n import t
from lifecircle.naming import ALL, median_dist_col
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


def load_outputs(out: Path) -> SavedRun:
    """Read an output folder written by ``lifecircle analyze``."""
    gpkg = out / "lifecircle.gpkg"
    try:
        summary = json.loads((out / "summary.json").read_text("utf-8"))
        layers = {
            name: gpd.read_file(gpkg, layer=name)
            for name in ("communities", "facilities", "service_areas", "gaps")
        }
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{out}: not a complete lifecircle output folder ({exc}); run `lifecircle analyze` "
            "into it first"
        ) from exc
    layers["communities"]["community_id"] = layers["communities"]["community_id"].astype(str)
    return SavedRun(
        crs=CRS.from_user_input(summary["area"]["crs"]),
        summary=summary,
        categories=list(summary["categories"]),
        **layers,
    )


CLASS_COLOURS = {  # well below / below / meets / well above / no residents
    "well_below": "#d7191c",
    "below": "#fdae61",
    "meets": "#a6d96a",
    "well_above": "#1a9641",
    "none": "#bdbdbd",
}
CATEGORY_COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
]
MAX_MARKERS = 1500  # beyond this a layer is clustered
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


def _simplify(gdf: gpd.GeoDataFrame, crs: Any, tol_m: float) -> gpd.GeoDataFrame:
    g = gdf.to_crs(crs)
    g["geometry"] = g.geometry.simplify(tol_m, preserve_topology=True)
    g = g.to_crs(4326)
    g["geometry"] = g.geometry.set_precision(1e-6)
    return g


def _legend(target: float, denominator: str, profile: str, minutes: int) -> MacroElement:
    rows = "".join(
        f'<div><span style="background:{CLASS_COLOURS[k]};width:14px;height:14px;'
        f'display:inline-block;margin-right:6px;border:1px solid #555"></span>{label}</div>'
        for k, label in [
            ("well_below", f"well below target (&lt; {target - 0.15:.0%})"),
            ("below", f"below target (&lt; {target:.0%})"),
            ("meets", f"meets target (≥ {target:.0%})"),
            ("well_above", f"well above (≥ {target + (1 - target) / 2:.0%})"),
            ("none", "no residents"),
        ]
    )
    html = f"""
    {{% macro html(this, kwargs) %}}
    <div style="position:fixed;bottom:24px;left:12px;z-index:9999;background:white;
         padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px sans-serif;
         max-width:280px">
      <b>Complete life circle 完整生活圈</b><br>
      share of residents reaching every basket category within its threshold
      ({safe_text(profile)} walker, ≤ {minutes} min). Target {target:.0%}.<br>
      <i>Denominator: {safe_text(denominator)}</i>
      {rows}
    </div>
    {{% endmacro %}}"""
    el = MacroElement()
    el._template = Template(html)
    return el


def _metric_scale() -> MacroElement:
    """A scale bar in metres only (folium's default adds miles and feet)."""
    el = MacroElement()
    el._template = Template(
        """{% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )
    return el


def _popups(
    comm: gpd.GeoDataFrame, result: MapInputs, profile: str, minutes: int, target: float, lang: str
) -> list[str]:
    """Per community: each category's coverage, and for those below the target the walk the
    typical (median) resident has to the nearest facility of that category."""
    limit = float(result.summary.get("area", {}).get("analysis_buffer_m", 990.0)) * 2
    out = []
    for _, c in comm.iterrows():
        rows = []
        for cat in result.categories:
            share = c.get(f"cov_{cat}_{profile}_{minutes}min", np.nan)
            if share is None or not np.isfinite(share):
                continue
            name = safe_text(category_label(result.summary, cat, lang))
            if share >= target:
                rows.append(f"<tr><td>{name}</td><td>{share:.0%}</td><td></td></tr>")
                continue
            d = c.get(median_dist_col(cat), np.nan)
            walk = f"{d:,.0f} m" if d is not None and np.isfinite(d) else f"&gt; {limit:,.0f} m"
            rows.append(
                f'<tr style="color:#b2182b"><td>{name}</td><td>{share:.0%}</td><td>{walk}</td></tr>'
            )
        head = f"<b>{safe_text(c['community_name'])}</b> ({safe_text(c['community_id'])})"
        header = (
            f"<tr><th>{t('category', lang)}</th><th>{t('coverage', lang)}</th>"
            f"<th>{t('median_walk', lang)}</th></tr>"
        )
        body = header + "".join(rows) if rows else f"<tr><td>{t('no_residents', lang)}</td></tr>"
        out.append(
            f"{head}<br>{t('coverage', lang)} ≤ {minutes} {t('minutes', lang)}, "
            f"{t(profile, lang)}<table>{body}</table>"
        )
    return out


def make_map(result: MapInputs, path: Path, *, target: float, lang: str = "zh") -> dict[str, Any]:
    """Write ``map.html``; returns its size and the number of features per layer."""
    crs = result.crs
    summary = result.summary
    clc = summary["complete_life_circle"]
    profile, minutes = clc["profile"], clc["minutes"]
    col = f"cov_{ALL}_{profile}_{minutes}min"
    comm = _simplify(result.communities, crs, 2.0)
    b = comm.total_bounds
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=True)
    _metric_scale().add_to(m)
    folium.TileLayer(
        "OpenStreetMap", name="OpenStreetMap", attr="© OpenStreetMap contributors"
    ).add_to(m)
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    counts: dict[str, int] = {}

    share = comm[col].to_numpy(dtype=float) if col in comm else np.full(len(comm), np.nan)
    props = gpd.GeoDataFrame(
        {
            "popup": _popups(comm, result, profile, minutes, target, lang),
            "name": [safe_text(n) for n in comm["community_name"]],
            "id": [safe_text(i) for i in comm["community_id"]],
            "residents": [f"{r:,.0f}" for r in comm["residents"].fillna(0)],
            "coverage": [f"{s:.1%}" if np.isfinite(s) else "–" for s in share],
            "cls": [coverage_class(s, target) for s in share],
        },
        geometry=comm.geometry.values,
        crs=4326,
    )
    folium.GeoJson(
        props.to_json(),
        name="Communities 社区 (complete life circle)",
        style_function=lambda f: {
            "fillColor": CLASS_COLOURS[f["properties"]["cls"]],
            "color": "#333",
            "weight": 1,
            "fillOpacity": 0.55,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "id", "residents", "coverage"],
            aliases=["Community 社区", "ID", "Residents 居民", "Complete life circle"],
        ),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=420),
    ).add_to(m)
    counts["communities"] = len(props)

    fac = result.facilities
    sa = result.service_areas
    for k, cat in enumerate(result.categories):
        colour = CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)]
        label = category_label(result.summary, cat, lang)
        n_fac = int((fac["category"] == cat).sum()) if len(fac) else 0
        fg = folium.FeatureGroup(name=f"{safe_text(label)} ({n_fac})", show=False)
        sel = sa[(sa["category"] == cat) & (sa["profile"] == profile) & (sa["minutes"] == minutes)]
        if len(sel) and not sel.geometry.iloc[0].is_empty:
            area = _simplify(sel[["geometry"]], crs, 5.0)
            folium.GeoJson(
                area.to_json(),
                style_function=lambda f, c=colour: {
                    "fillColor": c,
                    "color": c,
                    "weight": 1,
                    "fillOpacity": 0.15,
                },
                tooltip=safe_text(f"{label}: {minutes}-minute service area"),
            ).add_to(fg)
        pts = fac[fac["category"] == cat] if len(fac) else fac
        if len(pts):
            rp = pts.to_crs(crs).geometry.representative_point().to_crs(4326).set_precision(1e-6)
            if len(pts) > MAX_MARKERS:
                FastMarkerCluster([[p.y, p.x] for p in rp]).add_to(fg)
            else:
                layer = gpd.GeoDataFrame(
                    {
                        "name": [safe_text(n) or "(unnamed)" for n in pts["name"]],
                        "category": safe_text(label),
                        "reached": [f"{v:,.0f}" for v in pts["residents_within_max_minutes"]],
                    },
                    geometry=rp.values,
                    crs=4326,
                )
                folium.GeoJson(
                    layer.to_json(),
                    marker=folium.CircleMarker(radius=5, fill=True, fill_opacity=0.9, weight=1),
                    style_function=lambda f, c=colour: {"color": "#222", "fillColor": c},
                    tooltip=folium.GeoJsonTooltip(
                        fields=["name", "category", "reached"],
                        aliases=["Facility 设施", "Category 类别", f"Residents ≤ {minutes} min"],
                    ),
                ).add_to(fg)
        counts[f"category:{cat}"] = n_fac
        fg.add_to(m)

    gaps = result.gaps
    gfg = folium.FeatureGroup(
        name=f"Gaps 缺口: residents missing the complete life circle ({len(gaps)})", show=True
    )
    if len(gaps) > MAX_GAP_POINTS:
        gm = gaps.to_crs(crs)
        size = hex_size_m(tuple(gm.total_bounds), MAX_GAP_POINTS, 60.0)
        hexes = hexbin(gm, "weight", size).to_crs(4326)
        top = float(hexes["weight"].max()) or 1.0
        hexes["o"] = 0.15 + 0.6 * np.sqrt(hexes["weight"].to_numpy() / top)
        hexes["residents"] = [f"{w:,.0f}" for w in hexes["weight"]]
        hexes["geometry"] = hexes.geometry.set_precision(1e-6)
        folium.GeoJson(
            hexes[["residents", "o", "geometry"]].to_json(),
            style_function=lambda f: {
                "fillColor": "#b2182b",
                "color": "#b2182b",
                "weight": 0.4,
                "fillOpacity": f["properties"]["o"],
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["residents"], aliases=["Residents without the complete life circle"]
            ),
        ).add_to(gfg)
        counts["gaps"] = len(hexes)
        counts["gaps_hexagon_m"] = round(size)
        pts_g = gaps.iloc[:0]  # drawn as hexagons
    else:
        pts_g = gpd.GeoDataFrame(
            {
                "weight": gaps["weight"].to_numpy(),
                "what": [f"missing: {safe_text(m)}" for m in gaps["missing_categories"]],
            },
            geometry=gaps.geometry.values,
            crs=4326,
        )
    if len(pts_g) and len(gaps) <= MAX_GAP_POINTS:
        top = float(pts_g["weight"].max()) or 1.0
        pts_g["r"] = 2 + 5 * np.sqrt(pts_g["weight"].to_numpy() / top)
        pts_g["residents"] = [f"{w:,.0f}" for w in pts_g["weight"]]
        pts_g["geometry"] = pts_g.geometry.set_precision(1e-6)
        folium.GeoJson(
            pts_g[["residents", "what", "r", "geometry"]].to_json(),
            marker=folium.CircleMarker(radius=3, fill=True, fill_opacity=0.45, weight=0),
            style_function=lambda f: {
                "fillColor": "#b2182b",
                "color": "#b2182b",
                "radius": f["properties"]["r"],
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["residents", "what"], aliases=["Residents 居民", ""]
            ),
        ).add_to(gfg)
        counts["gaps"] = len(pts_g)
    counts.setdefault("gaps", 0)
    gfg.add_to(m)
    _legend(target, summary["denominator"], profile, minutes).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.save(str(path))
    return {"bytes": path.stat().st_size, "features_per_layer": counts}
