"""How a scenario shows its change: the map layers (communities coloured by gain, loss or a flip
of the verdict, added and removed facilities marked, a legend) and ``coverage_change.xlsx``.

Every name from the data goes through :mod:`lifecircle.render.escape`: :func:`safe_text` on the
map, :func:`excel_text` (string cells, quoted when formula-like) in the workbook."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from lifecircle.fileio import atomic_write
from lifecircle.i18n import t
from lifecircle.naming import ALL
from lifecircle.outlines import PRECISION_DEG
from lifecircle.render.escape import excel_text, formula_like, safe_text
from lifecircle.render.spreadsheet import category_label

if TYPE_CHECKING:
    from collections.abc import Callable

    from lifecircle.scenario import Scenario

CHANGE_COLOURS = {  # a blue–red diverging scheme, apart from the coverage classes' red–green
    "now_meets": "#08519c",
    "gain": "#6baed6",
    "mixed": "#bcbddc",
    "loss": "#fc9272",
    "now_misses": "#a50f15",
    "flips_both": "#54278f",
    "unchanged": "#f7f7f7",
    "none": "#bdbdbd",
}
ADDED_COLOUR, REMOVED_COLOUR = "#08519c", "#a50f15"
CHANGE_CSV, FACILITIES_CSV = "coverage_change.csv", "facility_changes.csv"  # see scenario_files

WORDS: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "now_meets": ("变为达标", "now meets the target"),
    "gain": ("覆盖率上升", "coverage up"),
    "mixed": ("有升有降", "up in one, down in another"),
    "loss": ("覆盖率下降", "coverage down"),
    "now_misses": ("变为未达标", "now misses the target"),
    "flips_both": ("一类变为达标,另一类变为未达标", "one category now meets, another misses"),
    "unchanged": ("无变化", "unchanged"),
    "none": ("无居民", "no residents"),
    "layer": ("情景:覆盖率变化", "Scenario: change in coverage"),
    "added": ("新增设施", "Added facilities"),
    "removed": ("撤除设施", "Removed facilities"),
    "title": ("情景对比(变化前 → 变化后)", "Scenario (before → after)"),
    "judged": (
        "每类按其标准(步行人群、分钟)判断;完整生活圈按最长时段",
        "each category at its own threshold (walker, minutes); complete life circle at the "
        "longest tier",
    ),
    "before": ("变化前", "Before"),
    "after": ("变化后", "After"),
    "change": ("变化(百分点)", "Change (points)"),
    "verdict": ("达标变化", "Verdict change"),
    "walker_minutes": ("步行人群 / 分钟", "Walker / minutes"),
    "facility_id": ("设施编号", "Facility id"),
    "name": ("名称", "Name"),
    "lon": ("经度 (WGS 84)", "Longitude (WGS 84)"),
    "lat": ("纬度 (WGS 84)", "Latitude (WGS 84)"),
    "what": ("变化", "Change"),
    "nearest_for": ("为其最近设施的居民", "Residents it is nearest for"),
    "sheet_change": ("覆盖率变化", "Change"),
    "sheet_facilities": ("新增与撤除设施", "Facilities"),
}


@dataclass(frozen=True)
class ChangeView:
    """What the change layers and workbook show: from a :class:`lifecircle.scenario.Scenario`
    just computed (:meth:`of`), or read back from a scenario's output folder (:meth:`read`, for
    ``lifecircle map``).

    Attributes
    ----------
    crs
        The metric CRS of the analysis.
    communities
        The communities layer (WGS 84) with ``community_id`` and ``community_name``.
    summary
        The changed analysis's summary (category names and thresholds, the headline tier).
    scenario
        ``summary.json → scenario``.
    change, facilities
        The tables of ``coverage_change.csv`` and ``facility_changes.csv``.
    """

    crs: Any
    communities: gpd.GeoDataFrame
    summary: dict[str, Any]
    scenario: dict[str, Any]
    change: pd.DataFrame
    facilities: pd.DataFrame

    @classmethod
    def of(cls, s: Scenario) -> ChangeView:
        """The view of a scenario just computed."""
        a = s.after
        return cls(a.crs, a.communities, a.summary, s.summary, s.change, s.facilities)

    @classmethod
    def read(cls, out: Path) -> ChangeView | None:
        """The view of a scenario's output folder; ``None`` for a folder that is not one."""
        from lifecircle.render.escape import read_people_csv
        from lifecircle.render.maps import load_outputs

        if not (out / CHANGE_CSV).is_file() or not (out / FACILITIES_CSV).is_file():
            return None
        run = load_outputs(out)
        if "scenario" not in run.summary:
            return None
        ids = {"community_id": str, "community_name": str, "category": str}
        change = read_people_csv(out / CHANGE_CSV, dtype=ids, keep_default_na=False,
                                 na_values={"coverage_before": [""], "coverage_after": [""],
                                            "change": [""]})  # fmt: skip
        change["at_threshold"] = change["at_threshold"].astype(str) == "True"
        text = {"facility_id": str, "name": str, "category": str}
        fac = read_people_csv(out / FACILITIES_CSV, dtype=text, keep_default_na=False)
        return cls(run.crs, run.communities, run.summary, run.summary["scenario"], change, fac)


def w(key: str, lang: str) -> str:
    """A word of the scenario's outputs in ``lang``."""
    zh, en = WORDS[key]
    return zh if lang == "zh" else en


# ---- which rows judge each changed category ---------------------------------------------------


def judged_rows(view: ChangeView) -> pd.DataFrame:
    """The rows of the change table that judge the changed categories and the complete life
    circle: at each one's threshold, or (a category judged by distance) at the headline
    profile and longest tier."""
    ch = view.change
    cats = [*view.scenario["rerouted_categories"], ALL]
    clc = view.summary["complete_life_circle"]
    at_head = (ch["profile"] == clc["profile"]) & (ch["minutes"] == int(clc["minutes"]))
    parts = []
    for c in cats:
        sub = ch[(ch["category"] == c) & ch["at_threshold"]]
        if not len(sub):
            sub = ch[(ch["category"] == c) & at_head]
        parts.append(sub)
    return pd.concat(parts, ignore_index=True)


def change_class(rows: pd.DataFrame) -> str:
    """One community's class from its judged rows (see :data:`CHANGE_COLOURS`)."""
    if not (rows["residents"] > 0).any():
        return "none"
    v = set(rows["verdict_change"])
    if {"now_meets", "now_misses"} <= v:
        return "flips_both"
    if "now_meets" in v:
        return "now_meets"
    if "now_misses" in v:
        return "now_misses"
    d = rows["change"].to_numpy(dtype=float)
    up, down = bool((d > 0).any()), bool((d < 0).any())
    return "mixed" if up and down else "gain" if up else "loss" if down else "unchanged"


def _pct(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.0%}"


def _row_text(r: Any, summary: dict[str, Any], lang: str) -> str:
    label = safe_text(category_label(summary, str(r.category), lang))
    d = float(r.change) if np.isfinite(r.change) else 0.0
    verdict = f" — {w(r.verdict_change, lang)}" if r.verdict_change else ""
    return (
        f"{label}: {_pct(r.coverage_before)} → {_pct(r.coverage_after)} ({d * 100:+.1f}){verdict}"
    )


# ---- the map ----------------------------------------------------------------------------------


def _community_layer(
    view: ChangeView, shift: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame], lang: str
) -> tuple[folium.FeatureGroup, int]:
    comm = view.communities[["community_id", "community_name", "geometry"]].to_crs(view.crs)
    comm["geometry"] = comm.geometry.simplify(2.0, preserve_topology=True)
    comm = shift(comm.to_crs(4326))
    comm["geometry"] = comm.geometry.set_precision(PRECISION_DEG)
    rows = judged_rows(view)
    by = {str(k): g for k, g in rows.groupby("community_id", sort=False)}
    empty = rows.iloc[:0]
    classes, texts = [], []
    for cid in comm["community_id"].astype(str):
        g = by.get(cid, empty)
        classes.append(change_class(g))
        texts.append("<br>".join(_row_text(r, view.summary, lang) for r in g.itertuples()))
    props = gpd.GeoDataFrame(
        {
            "name": [
                f"{safe_text(n)} ({safe_text(i)})"
                for n, i in zip(comm["community_name"], comm["community_id"], strict=True)
            ],
            "cls": classes,
            "what": [w(c, lang) for c in classes],
            "detail": texts,
        },
        geometry=comm.geometry.values,
        crs=4326,
    )
    fg = folium.FeatureGroup(name=w("layer", lang), show=True)
    folium.GeoJson(
        props.to_json(),
        style_function=lambda f: {
            "fillColor": CHANGE_COLOURS[f["properties"]["cls"]],
            "color": "#333",
            "weight": 2 if f["properties"]["cls"] in ("now_meets", "now_misses") else 0.8,
            "fillOpacity": 0.5 if f["properties"]["cls"] == "unchanged" else 0.85,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name", "what", "detail"], aliases=["", "", ""]),
    ).add_to(fg)
    return fg, len(props)


def _marker(glyph: str, colour: str, square: bool) -> folium.DivIcon:
    shape = "border-radius:3px" if square else "border-radius:50%"
    return folium.DivIcon(
        html=(
            f'<div style="background:#fff;color:{colour};border:2px solid {colour};{shape};'
            "width:18px;height:18px;line-height:17px;text-align:center;"
            f'font:bold 15px sans-serif">{glyph}</div>'
        ),
        icon_size=(22, 22),
        icon_anchor=(11, 11),
        class_name="lc-change",
    )


def _facility_layer(
    view: ChangeView,
    kind: str,
    shift: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame],
    lang: str,
) -> tuple[folium.FeatureGroup, int]:
    fac = view.facilities[view.facilities["change"] == kind]
    fg = folium.FeatureGroup(name=f"{w(kind, lang)} ({len(fac)})", show=True)
    if len(fac):
        summary = view.summary
        pts = shift(
            gpd.GeoDataFrame(
                {
                    "name": [safe_text(n) or t("unnamed", lang) for n in fac["name"]],
                    "id": [safe_text(i) for i in fac["facility_id"]],
                    "category": [
                        safe_text(category_label(summary, str(c), lang)) for c in fac["category"]
                    ],
                    "what": w(kind, lang),
                },
                geometry=gpd.points_from_xy(fac["lon"], fac["lat"]),
                crs=4326,
            )
        )
        pts["geometry"] = pts.geometry.set_precision(PRECISION_DEG)
        added = kind == "added"
        folium.GeoJson(
            pts.to_json(),
            marker=folium.Marker(
                icon=_marker(
                    "+" if added else "×", ADDED_COLOUR if added else REMOVED_COLOUR, added
                )
            ),
            tooltip=folium.GeoJsonTooltip(fields=["name", "what"], aliases=["", ""]),
            popup=folium.GeoJsonPopup(
                fields=["name", "category", "id", "what"],
                aliases=[
                    t("facility", lang),
                    t("category", lang),
                    w("facility_id", lang),
                    w("what", lang),
                ],
            ),
        ).add_to(fg)
    return fg, len(fac)


def _legend(view: ChangeView, lang: str) -> MacroElement:
    swatch = (
        '<span style="background:{c};width:14px;height:14px;display:inline-block;'
        'margin-right:6px;border:1px solid #555;vertical-align:-2px"></span>'
    )
    rows = "".join(
        f"<div>{swatch.format(c=CHANGE_COLOURS[k])}{safe_text(w(k, lang))}</div>"
        for k in ("now_meets", "gain", "mixed", "loss", "now_misses", "unchanged")
    )
    s = view.scenario
    marks = (
        f'<div style="margin-top:3px"><b style="color:{ADDED_COLOUR}">+</b> '
        f"{safe_text(w('added', lang))}: {s['added']} &nbsp; "
        f'<b style="color:{REMOVED_COLOUR}">×</b> {safe_text(w("removed", lang))}: '
        f"{s['removed']}</div>"
    )
    html = (
        f"<b>{safe_text(w('title', lang))}</b><br><i>{safe_text(w('judged', lang))}</i>"
        f"{rows}{marks}"
    )
    el = MacroElement()
    el._template = Template(
        "{% macro script(this, kwargs) %}(function(map){"
        "var C = L.Control.extend({options: {position: 'bottomright'}, onAdd: function() {"
        "var d = L.DomUtil.create('div', 'lc-change-legend');"
        "d.style.cssText = 'background:#fff;padding:8px 10px;border:1px solid #888;"
        "border-radius:4px;font:12px sans-serif;max-width:280px;line-height:1.35';"
        f"d.innerHTML = {json.dumps(html)};"
        "L.DomEvent.disableClickPropagation(d); L.DomEvent.disableScrollPropagation(d);"
        "return d;}}); map.addControl(new C());"
        "})({{ this._parent.get_name() }});{% endmacro %}"
    )
    return el


def change_layers(
    m: folium.Map,
    view: ChangeView,
    *,
    shift: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame],
    lang: str,
) -> dict[str, int]:
    """Add the scenario's layers to the map ``m``: communities coloured by their change at the
    rows that judge the changed categories and the complete life circle, the added and the
    removed facilities, and a legend. Returns the features per layer."""
    comm, n_comm = _community_layer(view, shift, lang)
    comm.add_to(m)
    counts = {"scenario_change": n_comm}
    for kind in ("added", "removed"):
        fg, n = _facility_layer(view, kind, shift, lang)
        fg.add_to(m)
        counts[f"scenario_{kind}"] = n
    _legend(view, lang).add_to(m)
    return counts


def overlay(out: Path) -> Callable[..., dict[str, int]] | None:
    """The change layers of the scenario folder ``out`` for
    :func:`lifecircle.render.maps.make_map`'s ``overlay`` (``None`` when ``out`` is not a
    scenario folder), so that ``lifecircle map`` redraws them."""
    view = ChangeView.read(out)
    if view is None:
        return None
    return lambda m, shift, lang: change_layers(m, view, shift=shift, lang=lang)


# ---- the workbook -----------------------------------------------------------------------------

HEADER = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
FILLS = {
    "now_meets": PatternFill("solid", start_color="C6DBEF", end_color="C6DBEF"),
    "now_misses": PatternFill("solid", start_color="F8CBAD", end_color="F8CBAD"),
}


class _Text:
    """String cells (never evaluated; formula-like text also marked as quoted text), counting
    the cells whose text had characters a workbook cannot hold removed."""

    def __init__(self) -> None:
        self.cleaned = 0

    def __call__(self, ws: Worksheet, row: int, col: int, value: object) -> Any:
        text, changed = excel_text(value)
        self.cleaned += changed
        cell = ws.cell(row=row, column=col)
        cell.value = text
        cell.data_type = "s"
        cell.number_format = "@"
        if formula_like(text):
            cell.quotePrefix = True
        return cell


def _table(
    ws: Worksheet, text: _Text, labels: list[str], rows: list[list[Any]], widths: list[int]
) -> None:
    for j, label in enumerate(labels, start=1):
        c = text(ws, 1, j, label)
        c.font, c.fill = Font(bold=True), HEADER
    for i, row in enumerate(rows, start=2):
        for j, v in enumerate(row, start=1):
            if isinstance(v, tuple):  # (share, format)
                cell = ws.cell(row=i, column=j, value=None if not np.isfinite(v[0]) else v[0])
                cell.number_format = v[1]
            elif isinstance(v, int | float):
                ws.cell(row=i, column=j, value=v)
            else:
                text(ws, i, j, v)
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "C2"


def write_change_xlsx(view: ChangeView, path: Path, *, lang: str = "zh") -> dict[str, Any]:
    """``coverage_change.xlsx``: per community the change of each changed category and of the
    complete life circle at the row that judges it (flips highlighted), and the facilities
    added and removed. Returns the sheets and the number of cleaned text cells."""
    text = _Text()
    summary = view.summary
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = w("sheet_change", lang)
    rows = judged_rows(view)
    labels = [t("community_id", lang), t("community_name", lang), t("category", lang)]
    labels += [w("walker_minutes", lang), t("residents", lang), w("before", lang)]
    labels += [w("after", lang), w("change", lang), w("verdict", lang)]
    records: list[dict[Any, Any]] = rows.to_dict("records")
    body = [
        [
            str(r["community_id"]),
            str(r["community_name"]),
            category_label(summary, str(r["category"]), lang),
            f"{t(str(r['profile']), lang)} ≤{r['minutes']}{t('minutes', lang)}",
            float(r["residents"]),
            (float(r["coverage_before"]), "0.0%"),
            (float(r["coverage_after"]), "0.0%"),
            (float(r["change"]) * 100, "+0.0;-0.0;0.0"),
            w(str(r["verdict_change"]), lang) if r["verdict_change"] else "",
        ]
        for r in records
    ]
    _table(ws, text, labels, body, [16, 24, 26, 18, 10, 10, 10, 12, 16])
    for i, r in enumerate(records, start=2):
        fill = FILLS.get(str(r["verdict_change"]))
        if fill is not None:
            for j in range(1, len(labels) + 1):
                ws.cell(row=i, column=j).fill = fill
    fs = wb.create_sheet(w("sheet_facilities", lang))
    fac = view.facilities
    labels = [w("what", lang), w("facility_id", lang), t("category", lang), w("name", lang)]
    labels += [w("lon", lang), w("lat", lang), w("nearest_for", lang)]
    body = [
        [
            w(str(r["change"]), lang),
            str(r["facility_id"]),
            category_label(summary, str(r["category"]), lang),
            "" if pd.isna(r["name"]) else str(r["name"]),
            float(r["lon"]),
            float(r["lat"]),
            float(r["residents_within_max_minutes"]),
        ]
        for r in fac.to_dict("records")
    ]
    _table(fs, text, labels, body, [14, 28, 26, 28, 14, 14, 16])
    atomic_write(path, wb.save)
    return {"sheets": wb.sheetnames, "cleaned_cells": text.cleaned}
