"""The figures of a siting run: ``map.html`` (the ranked sites over the communities coloured by
the category's coverage with them, today's coverage and the existing facilities as layers) and
``coverage_curve.png`` (the area-wide share against the number of new sites, the target marked).

Every name from the data goes through :func:`~lifecircle.render.escape.safe_text` (map) or
:func:`~lifecircle.render.escape.plot_text` (figure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np

from lifecircle.fileio import atomic_write
from lifecircle.i18n import t
from lifecircle.outlines import PRECISION_DEG
from lifecircle.render.controls import CLASS_COLOURS, _script
from lifecircle.render.escape import plot_text, safe_text
from lifecircle.render.figures import DPI, _labels, _rc
from lifecircle.render.maps import (
    base_map,
    basemap,
    coverage_class,
    display_shift,
    finish_map,
)

if TYPE_CHECKING:
    from lifecircle.siting import SitingResult

TEXT: dict[str, dict[str, str]] = {
    "sites": {"zh": "建议新增点位 ({n})", "en": "Suggested new sites ({n})"},
    "after": {"zh": "新增后覆盖率", "en": "Coverage with the new sites"},
    "before": {"zh": "现状覆盖率", "en": "Coverage today"},
    "existing": {"zh": "现有设施 ({n})", "en": "Existing facilities ({n})"},
    "candidates": {"zh": "候选点位 ({n})", "en": "Candidate sites ({n})"},
    "rank": {"zh": "排序", "en": "Rank"},
    "site": {"zh": "点位", "en": "Site"},
    "id": {"zh": "编号", "en": "Id"},
    "new": {"zh": "新覆盖{unit}", "en": "{Unit} newly covered"},
    "cov_after": {"zh": "累计覆盖率", "en": "Area coverage after it"},
    "served": {"zh": "服务社区", "en": "Communities served"},
    "community": {"zh": "社区", "en": "Community"},
    "suggested": {"zh": "建议点位", "en": "Suggested site"},
    "curve_title": {
        "zh": "{cat}:{m}步行可达的{unit}比例({p})",
        "en": "{cat}: share of {unit} within {m} ({p} walker)",
    },
    "x": {"zh": "新增点位数", "en": "number of new sites"},
    "y": {"zh": "{unit}覆盖率(全区)", "en": "share of {unit} (whole area)"},
    "share": {"zh": "比例", "en": "share"},
    "groups": {"zh": "达标{g}比例", "en": "share of {g} meeting the target"},
    "community_g": {"zh": "社区", "en": "communities"},
    "subdistrict_g": {"zh": "街道", "en": "subdistricts"},
    "target": {"zh": "目标 {t:.0%}", "en": "target {t:.0%}"},
    "best": {"zh": "全部候选点位:{b:.1%}", "en": "all candidates: {b:.1%}"},
    "standard": {"zh": "一般步行", "en": "standard"},
    "elderly": {"zh": "老年人步行", "en": "elderly"},
}


def _tx(key: str, lang: str, **kw: Any) -> str:
    entry = TEXT[key]
    return entry.get(lang, entry["en"]).format(**kw)


def _unit(lang: str, area_samples: bool) -> str:
    """What the weights count, in running text: residents, or area samples."""
    return t("unit_area_samples" if area_samples else "unit_residents", lang)


def _within(result: SitingResult, lang: str) -> str:
    w = result.walk
    if w.minutes is not None:
        return f"{w.minutes:g} 分钟" if lang == "zh" else f"{w.minutes:g} min"
    return f"{w.limit_m:,.0f} m"


def _pct(v: float) -> str:
    return f"{v:.1%}" if v is not None and np.isfinite(v) else "–"


BADGE = (
    "background:#111;color:#ffd600;border:2px solid #ffd600;border-radius:50%;width:24px;"
    "height:24px;box-sizing:border-box;display:flex;align-items:center;justify-content:center;"
    "font:bold 11px/1 sans-serif"
)
SITE_KEYS = ["rank", "site", "id", "new", "cov_after", "served"]


def _ranked_sites(sites: gpd.GeoDataFrame, shift: Any, lang: str, unit: str) -> Any:
    """One layer of numbered markers (thousands stay light: one GeoJSON, one icon each drawn
    by Leaflet), each with its popup. Every value is escaped text before it is embedded."""
    from branca.element import MacroElement, Template

    rp = shift(gpd.GeoDataFrame(geometry=sites.geometry.representative_point().values, crs=4326))
    feats = []
    for g, (_, s) in zip(rp.geometry, sites.iterrows(), strict=True):
        props = {
            "rank": str(int(s["rank"])),
            "site": safe_text(s["name"]) or "–",
            "id": safe_text(s["candidate_id"]),
            "new": f"{s['residents_newly_covered']:,.0f}",
            "cov_after": _pct(s["coverage_after"]),
            "served": safe_text(s["community_names_served"]) or "–",
        }
        feats.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [round(g.x, 6), round(g.y, 6)]},
            }
        )
    labels = {k: safe_text(_tx(k, lang, unit=unit, Unit=unit.capitalize())) for k in SITE_KEYS}
    el = MacroElement()
    el._template = Template(
        """{% macro script(this, kwargs) %}
        (function(group){
          var labels = """
        + json.dumps(labels, indent=1)
        + """;
          var keys = """
        + json.dumps(SITE_KEYS)
        + """;
          L.geoJSON("""
        + json.dumps({"type": "FeatureCollection", "features": feats}, indent=1)
        + """, {pointToLayer: function(f, latlng) {
            var p = f.properties;
            var icon = L.divIcon({className: 'lc-site', iconSize: [24, 24], iconAnchor: [12, 12],
              html: '<div style=\""""
        + BADGE
        + """\">' + p.rank + '</div>'});
            var rows = keys.map(function(k){
              return '<tr><th>' + labels[k] + '</th><td>' + p[k] + '</td></tr>'; }).join('');
            return L.marker(latlng, {icon: icon})
              .bindTooltip(p.rank + '. ' + p.site)
              .bindPopup('<table>' + rows + '</table>', {maxWidth: 380});
          }}).addTo(group);
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )
    return el


def _community_layer(
    comm: gpd.GeoDataFrame, col: str, name: str, show: bool, target: float, lang: str
) -> folium.GeoJson:
    props = gpd.GeoDataFrame(
        {
            "name": [safe_text(n) for n in comm["community_name"]],
            "id": [safe_text(i) for i in comm["community_id"]],
            "before": [_pct(v) for v in comm["coverage_before"]],
            "after": [_pct(v) for v in comm["coverage_after"]],
            "site": [
                safe_text(f"{r} {n}".strip()) if str(r) not in ("<NA>", "nan", "") else "–"
                for r, n in zip(comm["suggested_rank"], comm["suggested_site_name"], strict=True)
            ],
            "cls": [coverage_class(v, target) for v in comm[col].to_numpy(dtype=float)],
        },
        geometry=comm.geometry.values,
        crs=4326,
    )
    layer = folium.GeoJson(
        props.to_json(),
        name=name,
        show=show,
        style_function=lambda f: {
            "fillColor": CLASS_COLOURS[f["properties"]["cls"]],
            "color": "#333",
            "weight": 1,
            "fillOpacity": 0.5,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "id", "before", "after", "site"],
            aliases=[
                _tx("community", lang),
                _tx("id", lang),
                _tx("before", lang),
                _tx("after", lang),
                _tx("suggested", lang),
            ],
        ),
    )
    return layer


def _points(
    m: folium.Map,
    pts: gpd.GeoDataFrame,
    name: str,
    colour: str,
    shift: Any,
    *,
    show: bool,
) -> None:
    fg = folium.FeatureGroup(name=name, show=show)
    if len(pts):
        rp = pts.geometry.representative_point()
        layer = shift(
            gpd.GeoDataFrame(
                {"name": [safe_text(n) or "–" for n in pts["name"]]}, geometry=rp.values, crs=4326
            )
        )
        layer["geometry"] = layer.geometry.set_precision(PRECISION_DEG)
        folium.GeoJson(
            layer.to_json(),
            marker=folium.CircleMarker(radius=4, fill=True, fill_opacity=0.9, weight=1),
            style_function=lambda f: {"color": "#222", "fillColor": colour},
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=[""]),
        ).add_to(fg)
    fg.add_to(m)


def _legend(
    result: SitingResult,
    category_label: str,
    headline: str,
    denominator: str,
    lang: str,
    unit: str,
) -> Any:
    """The class legend: the headline, what the colours measure, the classes, the marks."""
    t = result.target
    zh = lang == "zh"
    swatch = (
        '<span style="background:{c};width:14px;height:14px;display:inline-block;'
        'margin-right:6px;border:1px solid #555;vertical-align:-2px"></span>'
    )
    classes = {
        "zh": [f"远低于目标 (&lt; {t - 0.15:.0%})", f"低于目标 (&lt; {t:.0%})",
               f"达到目标 (≥ {t:.0%})", f"远高于目标 (≥ {t + (1 - t) / 2:.0%})", f"无{unit}"],
        "en": [f"well below target (&lt; {t - 0.15:.0%})", f"below target (&lt; {t:.0%})",
               f"meets target (≥ {t:.0%})", f"well above (≥ {t + (1 - t) / 2:.0%})",
               f"no {unit}"],
    }["zh" if zh else "en"]  # fmt: skip
    keys = ["well_below", "below", "meets", "well_above", "none"]
    rows = "".join(
        f"<div>{swatch.format(c=CLASS_COLOURS[k])}{lbl}</div>"
        for k, lbl in zip(keys, classes, strict=True)
    )
    prof = safe_text(TEXT.get(result.walk.profile, {}).get(lang, result.walk.profile))
    within = safe_text(_within(result, lang))
    body = (
        f"新增点位后,{within}内({prof})可达{safe_text(category_label)}的{unit}比例"
        if zh
        else f"share of {unit} within {within} ({prof} walker) of "
        f"{safe_text(category_label)}, with the new sites"
    )
    badge = (
        "background:#111;color:#ffd600;border:2px solid #ffd600;border-radius:50%;"
        "padding:0 5px;font-weight:bold"
    )
    what = "建议新增点位(按排序)" if zh else "suggested site, by rank"
    mark = f'<div style="margin-top:4px"><span style="{badge}">1</span> {what}</div>'
    denom = ("分母:" if zh else "Denominator: ") + safe_text(denominator)
    html = (
        f'<b>{safe_text(headline)}</b><hr style="margin:5px 0">{body}<br><i>{denom}</i>{rows}{mark}'
    )
    return _script(
        """
        var C = L.Control.extend({options: {position: 'bottomleft'}, onAdd: function() {
          var d = L.DomUtil.create('div', 'lc-legend');
          d.style.cssText = 'background:#fff;padding:8px 10px;border:1px solid #888;'
            + 'border-radius:4px;font:12px sans-serif;max-width:300px;line-height:1.35';
          d.innerHTML = """
        + json.dumps(html)
        + """;
          L.DomEvent.disableClickPropagation(d);
          return d;
        }});
        map.addControl(new C());
        """
    )


def make_site_map(
    result: SitingResult,
    path: Path,
    *,
    existing: gpd.GeoDataFrame,
    category_label: str,
    headline: str,
    denominator: str,
    lang: str = "zh",
    tiles: str = "osm",
    offline: bool = True,
    area_samples: bool = False,
) -> dict[str, Any]:
    """Write the siting map; returns its size and features per layer. ``area_samples``: the
    run has no population data, so its weights are area samples, not residents."""
    unit = _unit(lang, area_samples)
    bm = basemap(tiles)
    shift = display_shift(bm)
    comm = shift(result.communities.to_crs(4326))
    m = base_map(tuple(comm.total_bounds), bm)
    target = result.target
    _community_layer(comm, "coverage_after", _tx("after", lang), True, target, lang).add_to(m)
    _community_layer(comm, "coverage_before", _tx("before", lang), False, target, lang).add_to(m)
    cand = result.candidates
    chosen = set(result.sites["candidate_id"].astype(str))
    others = cand[~cand["candidate_id"].astype(str).isin(chosen)]
    if len(others) <= 5000:
        _points(m, others, _tx("candidates", lang, n=len(others)), "#9e9e9e", shift, show=False)
    _points(m, existing, _tx("existing", lang, n=len(existing)), "#3f51b5", shift, show=True)
    fg = folium.FeatureGroup(name=_tx("sites", lang, n=len(result.sites)), show=True)
    sites = result.sites
    if len(sites):
        _ranked_sites(sites, shift, lang, unit).add_to(fg)
    fg.add_to(m)
    _legend(result, category_label, headline, denominator, lang, unit).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    counts = {"communities": len(comm), "sites": len(sites), "existing": len(existing)}
    counts["candidates"] = len(others) if len(others) <= 5000 else 0
    return finish_map(m, path, offline=offline, counts=counts, bm=bm)


def coverage_curve_png(
    result: SitingResult,
    path: Path,
    *,
    category_label: str,
    lang: str = "zh",
    area_samples: bool = False,
) -> dict[str, Any]:
    """The area-wide share against the number of new sites (0 = today), with the target line;
    in target mode per community or subdistrict, also the share of them meeting the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lang, font = _labels(lang)
    unit = _unit(lang, area_samples)
    curve = result.curve
    with plt.rc_context(_rc(font)):
        fig, ax = plt.subplots(figsize=(8, 4.8), dpi=DPI)
        ax.plot(curve["sites"], curve["coverage"], color="#2b5797", marker="o", markersize=3,
                label=_tx("y", lang, unit=unit))  # fmt: skip
        if result.mode == "target" and result.per != "area":
            share = curve["groups_meeting"] / curve["groups"].clip(lower=1)
            ax.plot(curve["sites"], share, color="#1a9641", linestyle=":", marker=".",
                    label=_tx("groups", lang, g=_tx(f"{result.per}_g", lang)))  # fmt: skip
        ax.axhline(result.target, color="#b2182b", linestyle="--", linewidth=1)
        ax.text(0, result.target + 0.01, _tx("target", lang, t=result.target), color="#b2182b",
                fontsize=8, va="bottom")  # fmt: skip
        ax.axhline(result.best_share, color="#777", linestyle=":", linewidth=0.8)
        ax.text(0, result.best_share + 0.01, _tx("best", lang, b=result.best_share),
                color="#555", fontsize=7, ha="left", va="bottom")  # fmt: skip
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, max(1, int(curve["sites"].max())))
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel(_tx("x", lang))
        ax.set_ylabel(_tx("share", lang))
        prof = TEXT.get(result.walk.profile, {}).get(lang, result.walk.profile)
        ax.set_title(
            _tx("curve_title", lang, cat=plot_text(category_label), m=_within(result, lang),
                unit=unit,
                p=plot_text(prof)),
            fontsize=11,
        )  # fmt: skip
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        atomic_write(path, lambda p: fig.savefig(p, dpi=DPI, format="png"))
        plt.close(fig)
    return {"lang": lang, "font": font}
