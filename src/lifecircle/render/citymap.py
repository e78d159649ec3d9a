"""city_map.html: every district of a batch run coloured by its complete-life-circle coverage
against the target, each linking to its own map."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np

from lifecircle.render.escape import safe_text
from lifecircle.render.maps import (
    CLASS_COLOURS,
    base_map,
    basemap,
    coverage_class,
    display_shift,
    finish_map,
    legend,
)
from lifecircle.sources.districts import District


def make_city_map(
    path: Path,
    districts: list[District],
    records: dict[str, dict[str, Any]],
    *,
    target: float,
    lang: str = "zh",
    tiles: str = "osm",
    offline: bool = True,
) -> dict[str, Any]:
    """Write the city map; returns its size and feature count."""
    rows = []
    for d in districts:
        rec = records.get(d.district_id, {})
        clc = (rec.get("complete_life_circle") or {}).get("coverage")
        ok = rec.get("status") == "ok"
        share = float(clc) if ok and clc is not None else np.nan
        link = f"{quote(d.dirname)}/map.html"
        if ok:
            body = (
                f"complete life circle 完整生活圈: <b>{share:.1%}</b> (target {target:.0%})<br>"
                f"residents 居民: {float(rec.get('residents') or 0):,.0f}<br>"
                f'<a href="{safe_text(link)}" target="_blank">open the district map 打开地图</a>'
            )
        else:
            status, error = rec.get("status", "not run"), rec.get("error", "")
            body = f"<i>{safe_text(status)}</i>: {safe_text(error)}"
        rows.append(
            {
                "name": safe_text(d.name),
                "id": safe_text(d.district_id),
                "coverage": f"{share:.1%}"
                if np.isfinite(share)
                else safe_text(rec.get("status", "")),
                "cls": coverage_class(share, target) if ok else "none",
                "popup": f"<b>{safe_text(d.name)}</b> ({safe_text(d.district_id)})<br>{body}",
                "geometry": d.geometry,
            }
        )
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    gdf = gdf[~gdf.geometry.is_empty].copy()
    gdf["geometry"] = gdf.geometry.simplify(2e-5).set_precision(1e-6)
    bm = basemap(tiles)
    gdf = display_shift(bm)(gdf)
    m = base_map(tuple(gdf.total_bounds), bm)

    folium.GeoJson(
        gdf.to_json(),
        name="Districts 区",
        style_function=lambda f: {
            "fillColor": CLASS_COLOURS[f["properties"]["cls"]],
            "color": "#333",
            "weight": 1,
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "id", "coverage"],
            aliases=["District 区", "ID", "Complete life circle"],
        ),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=360),
    ).add_to(m)
    legend(target, "residents of each district", "standard", None).add_to(m)
    return finish_map(m, path, offline=offline, counts={"districts": len(gdf)}, bm=bm)
