"""city_map.html: every district of a batch run coloured by its complete-life-circle coverage
against the target, each linking to its own map."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np

from lifecircle.headline import Headline
from lifecircle.i18n import t
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


def _popup_body(
    rec: dict[str, Any],
    share: float,
    link: str,
    hl: Headline | None,
    warned: list[str],
    *,
    target: float,
    lang: str,
) -> str:
    """A district's popup below its name: coverage, weights, warnings and link, or its status."""
    if rec.get("status") == "ok":
        alerts = "".join(f'<div style="color:#8a4b00">⚠ {safe_text(w)}</div>' for w in warned)
        unit = (
            t("area_samples", lang) if hl is not None and hl.area_samples
            else t("residents", lang)
        )  # fmt: skip
        return (
            f"{t('all', lang)}: <b>{share:.1%}</b> ({t('target', lang)} {target:.0%})<br>"
            f"{unit}: {float(rec.get('residents') or 0):,.0f}<br>{alerts}"
            f'<a href="{safe_text(link)}" target="_blank">{t("open_district_map", lang)}</a>'
        )
    status, error = rec.get("status", "not_run"), rec.get("error", "")
    return f"<i>{safe_text(t(f'status_{status}', lang))}</i>: {safe_text(error)}"


def _district_row(
    d: District,
    rec: dict[str, Any],
    headlines: dict[str, Headline],
    *,
    target: float,
    lang: str,
) -> tuple[dict[str, Any], bool]:
    """A district's feature on the city map, and whether it has warnings."""
    clc = (rec.get("complete_life_circle") or {}).get("coverage")
    ok = rec.get("status") == "ok"
    share = float(clc) if ok and clc is not None else np.nan
    link = f"{quote(d.dirname)}/map.html"
    hl = headlines.get(d.district_id) if ok else None
    warned = hl.warning_texts(lang) if hl is not None else []
    body = _popup_body(rec, share, link, hl, warned, target=target, lang=lang)
    row = {
        "name": safe_text(d.name),
        "id": safe_text(d.district_id),
        "coverage": (f"{share:.1%}" + (" ⚠" if warned else ""))
        if np.isfinite(share)
        else safe_text(t(f"status_{rec.get('status', 'not_run')}", lang)),
        "cls": coverage_class(share, target) if ok else "none",
        "popup": f"<b>{safe_text(d.name)}</b> ({safe_text(d.district_id)})<br>{body}",
        "geometry": d.geometry,
    }
    return row, bool(warned)


def _districts_layer(gdf: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
    """The districts coloured by class, with tooltip and popup (not yet added to a map)."""
    return folium.GeoJson(
        gdf.to_json(),
        name=t("layer_districts", lang),
        style_function=lambda f: {
            "fillColor": CLASS_COLOURS[f["properties"]["cls"]],
            "color": "#333",
            "weight": 1,
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "id", "coverage"],
            aliases=[t("district", lang), t("district_id", lang), t("all", lang)],
        ),
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False, max_width=360),
    )


def _weights_kind(headlines: dict[str, Headline]) -> str:
    """What the districts' weights count: residents, area samples (no population data), or
    both (``mixed``)."""
    samples = sum(hl.area_samples for hl in headlines.values())
    return (
        "residents" if samples == 0
        else "area_samples" if samples == len(headlines)
        else "mixed"
    )  # fmt: skip


def make_city_map(
    path: Path,
    districts: list[District],
    records: dict[str, dict[str, Any]],
    headlines: dict[str, Headline] | None = None,
    *,
    target: float,
    lang: str = "zh",
    tiles: str = "osm",
    offline: bool = True,
) -> dict[str, Any]:
    """Write the city map; returns its size and feature count. ``headlines``: per finished
    district its headline (a district with warnings is marked ⚠, not plain ok)."""
    headlines = headlines or {}
    rows = []
    n_warned = 0
    for d in districts:
        row, warned = _district_row(
            d, records.get(d.district_id, {}), headlines, target=target, lang=lang
        )
        rows.append(row)
        n_warned += warned
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    gdf = gdf[~gdf.geometry.is_empty].copy()
    gdf["geometry"] = gdf.geometry.simplify(2e-5).set_precision(1e-6)
    bm = basemap(tiles)
    gdf = display_shift(bm)(gdf)
    m = base_map(tuple(gdf.total_bounds), bm)

    _districts_layer(gdf, lang).add_to(m)
    kind = _weights_kind(headlines)
    legend(
        target,
        t(f"district_{kind}", lang),
        "standard",
        None,
        lang,
        warnings=(t("districts_with_warnings", lang).format(n=n_warned),) if n_warned else (),
        unit=t(f"unit_{kind}", lang),
    ).add_to(m)
    return finish_map(m, path, offline=offline, counts={"districts": len(gdf)}, bm=bm)
