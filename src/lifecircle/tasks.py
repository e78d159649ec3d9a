"""The governance task list (治理任务清单) for community offices: one row per community below the
target per category of the complete life circle it misses, with who is affected, how far the
nearest facility is, the site a siting run suggests, and empty columns for the office to name the
responsible department, person and deadline.

:func:`build_tasks` makes the table from a :class:`~lifecircle.result.Result`;
:func:`lifecircle.render.tasksheet.write_tasks` writes it as ``tasks.csv`` and ``tasks.xlsx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lifecircle.chinacoords import wgs84_to_gcj02
from lifecircle.config import Settings
from lifecircle.coverage import basket_limit_m, weighted_median_by
from lifecircle.errors import InputError
from lifecircle.headline import AREA_SAMPLES
from lifecircle.i18n import t
from lifecircle.naming import dist_col
from lifecircle.notes import threshold_label
from lifecircle.result import Result
from lifecircle.study import SEARCH_LIMIT_FACTOR

#: the columns of a task list, in order (``subdistrict`` only when the run knows one)
TASK_KEYS = [
    "community_id",
    "community_name",
    "subdistrict",
    "category",
    "residents",
    "residents_affected",
    "share",
    "target",
    "threshold",
    "median_walk_min",
    "site_name",
    "site_lon",
    "site_lat",
    "site_lon_gcj02",
    "site_lat_gcj02",
    "site_rank",
    "note",
    "department",
    "person",
    "deadline",
]
INPUT_KEYS = ("department", "person", "deadline")  # left blank for the office to fill

TASK_LABELS: dict[str, dict[str, str]] = {
    "community_id": {"zh": "社区代码", "en": "Community code"},
    "community_name": {"zh": "社区名称", "en": "Community"},
    "subdistrict": {"zh": "所属街道", "en": "Subdistrict"},
    "category": {"zh": "缺少的设施类别", "en": "Missing category"},
    "residents": {"zh": "居民数", "en": "Residents"},
    "residents_affected": {"zh": "未覆盖居民数", "en": "Residents affected"},
    "share": {"zh": "现状覆盖率", "en": "Current share"},
    "target": {"zh": "目标", "en": "Target"},
    "threshold": {"zh": "标准", "en": "Threshold"},
    "median_walk_min": {
        "zh": "至最近设施步行时间(分钟,居民中位数)",
        "en": "Walk to the nearest facility (min, median resident)",
    },
    "site_name": {"zh": "建议选址", "en": "Suggested site"},
    "site_lon": {"zh": "选址经度(WGS 84)", "en": "Site longitude (WGS 84)"},
    "site_lat": {"zh": "选址纬度(WGS 84)", "en": "Site latitude (WGS 84)"},
    "site_lon_gcj02": {
        "zh": "选址经度(GCJ-02,高德/腾讯)",
        "en": "Site longitude (GCJ-02, Amap/Tencent)",
    },
    "site_lat_gcj02": {
        "zh": "选址纬度(GCJ-02,高德/腾讯)",
        "en": "Site latitude (GCJ-02, Amap/Tencent)",
    },
    "site_rank": {"zh": "选址序号", "en": "Site rank"},
    "note": {"zh": "备注", "en": "Note"},
    "department": {"zh": "责任部门", "en": "Responsible department"},
    "person": {"zh": "责任人", "en": "Responsible person"},
    "deadline": {"zh": "完成时限", "en": "Deadline"},
}
_SAMPLE_LABELS = {
    "residents": {"zh": "面积样本点", "en": "Area samples"},
    "residents_affected": {"zh": "未覆盖面积样本点", "en": "Area samples affected"},
}
_NOTES = {
    "empty": {
        "zh": "数据中没有此类设施:请核实设施清单或 OSM 数据是否遗漏",
        "en": "no facility of this category in the data: check the facility list or OSM",
    },
    "far": {
        "zh": "多数居民 {minutes:.0f} 分钟步行范围内没有此类设施",
        "en": "most residents have none within a {minutes:.0f}-minute walk",
    },
}
SITE_COLUMNS = ("community_id", "category", "name", "lon", "lat", "rank")
#: columns of the communities layer that name a community's subdistrict, in order of preference
SUBDISTRICT_COLUMNS = ("subdistrict", "subdistrict_name", "街道", "street", "streetName", "town")


def _note(key: str, lang: str) -> str:
    return _NOTES[key].get(lang, _NOTES[key]["en"])


def task_label(key: str, lang: str, *, area_samples: bool = False) -> str:
    """The header of a task-list column in ``lang``."""
    table = _SAMPLE_LABELS if area_samples and key in _SAMPLE_LABELS else TASK_LABELS
    entry = table[key]
    return entry.get(lang, entry["en"])


def subdistricts(communities: pd.DataFrame) -> pd.Series | None:
    """Each community's subdistrict (街道/镇), by ``community_id``: a column of the communities
    naming it, else the 9-digit code that begins every 12-digit community code; None when the
    run has neither."""
    ids = communities["community_id"].astype(str)
    for col in SUBDISTRICT_COLUMNS:
        if col in communities.columns:
            values = communities[col].astype(object).where(communities[col].notna(), "")
            return pd.Series(values.astype(str).to_numpy(), index=ids.to_numpy())
    if len(ids) and ids.str.fullmatch(r"\d{12}").all():
        return pd.Series(ids.str[:9].to_numpy(), index=ids.to_numpy())
    return None


def _site_table(sites: pd.DataFrame | None) -> pd.DataFrame:
    """The best-ranked suggested site per (community, category)."""
    out = pd.DataFrame(
        columns=["community_id", "category", "site_name", "site_lon", "site_lat", "site_rank"]
    )
    if sites is None or not len(sites):
        return out
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise InputError(
            f"sites: missing column(s) {', '.join(missing)}; a table of suggested sites needs "
            f"{', '.join(SITE_COLUMNS)} (community_id may hold a list of the communities a "
            "site serves)"
        )
    s = sites[list(SITE_COLUMNS)].explode("community_id")
    s = s[s["community_id"].notna()].assign(community_id=lambda d: d["community_id"].astype(str))
    s = s.sort_values("rank", kind="mergesort").drop_duplicates(["community_id", "category"])
    return s.rename(
        columns={"name": "site_name", "lon": "site_lon", "lat": "site_lat", "rank": "site_rank"}
    )


def _category_rows(result: Result, settings: Settings, cat: str, lang: str) -> pd.DataFrame | None:
    """The communities below the target for one category, or None when all meet it."""
    preset = settings.preset
    res = result.residents
    res = res[res["community_id"].astype(str) != ""]
    speed_h = preset.headline_speed_m_s
    limit = basket_limit_m(preset, cat, speed_h, max(preset.minutes))
    profile = preset.judge_with.get(cat, preset.headline_profile)
    speed = preset.speeds_m_s[profile]
    d = res[dist_col(cat)].to_numpy(dtype=float)
    w = res["weight"].to_numpy(dtype=float)
    g = pd.DataFrame(
        {
            "community_id": res["community_id"].astype(str),
            "w": w,
            "ok": np.where(d <= limit, w, 0.0),
        }
    ).groupby("community_id")
    total, covered = g["w"].sum(), g["ok"].sum()
    share = covered / total.where(total > 0)
    below = share[share < settings.target].index
    if not len(below):
        return None
    median_m = weighted_median_by(
        res.assign(community_id=res["community_id"].astype(str)), dist_col(cat)
    )
    walk = median_m.reindex(below).to_numpy(dtype=float) / speed / 60.0
    empty = not (result.facilities["category"] == cat).any() if len(result.facilities) else True
    reach_m = float(result.summary["area"].get("analysis_buffer_m", settings.max_reach_m))
    searched_min = SEARCH_LIMIT_FACTOR * reach_m / speed / 60.0
    note = [
        _note("empty", lang)
        if empty
        else ("" if np.isfinite(x) else _note("far", lang).format(minutes=searched_min))
        for x in walk
    ]
    info = result.summary.get("categories", {}).get(cat, {})
    within = (
        threshold_label("metres", limit, lang)
        if preset.threshold(cat).metres
        else (threshold_label("minutes", round(limit / speed / 60.0, 2), lang))
    )
    return pd.DataFrame(
        {
            "community_id": below.to_numpy(),
            "category": str(info.get(f"name_{lang}", cat)),
            "category_key": cat,
            # whole people, as the workbook formats them (7354, not 7354.0 in tasks.csv)
            "residents": total.reindex(below).round(0).astype("Int64").to_numpy(),
            "residents_affected": (total - covered)
            .reindex(below)
            .round(0)
            .astype("Int64")
            .to_numpy(),
            "share": share.reindex(below).to_numpy(),
            "target": settings.target,
            "threshold": f"≤ {within} ({t(profile, lang)})",
            "median_walk_min": np.where(np.isfinite(walk), np.round(walk, 1), np.nan),
            "note": note,
        }
    )


def build_tasks(
    result: Result,
    settings: Settings,
    *,
    sites: pd.DataFrame | None = None,
    lang: str = "zh",
    categories: Sequence[str] | None = None,
    gcj02: bool = False,
) -> pd.DataFrame:
    """The task list: one row per community below the target per category it misses.

    A community misses a category when the share of its residents within the category's
    threshold (walked at the speed of the profile that judges it, as the headline's "within
    threshold" figures) is below ``settings.target``. Rows are grouped by community (in code
    order) and, within a community, sorted by residents affected, most first. A category without
    any facility in the data gives a row for every community, saying so.

    Parameters
    ----------
    result
        An analysis (:meth:`lifecircle.Study.coverage`).
    settings
        The run's settings (preset and target).
    sites
        Suggested sites from a siting run, one row per (site, community): ``community_id`` (an
        id, or a list of the ids a site serves), ``category``, ``name``, ``lon``, ``lat`` (WGS
        84) and ``rank``; the best-ranked site of each (community, category) is shown.
    lang
        ``zh`` or ``en``: the headers, category names and notes.
    categories
        The categories to list (default: the preset's basket, the complete life circle).
    gcj02
        Also give each suggested site in GCJ-02 (``site_lon_gcj02``, ``site_lat_gcj02``), the
        coordinates Amap and Tencent maps take: when the run's inputs were GCJ-02.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`TASK_KEYS` with headers in ``lang`` (see :func:`task_label`;
        ``subdistrict`` only when :func:`subdistricts` finds one, the GCJ-02 columns only with
        ``gcj02``); the responsible department,
        person and deadline are empty text for the office to fill.

    Raises
    ------
    InputError
        When ``sites`` lacks a column.
    """
    chosen = settings.preset.basket if categories is None else categories
    wanted = [c for c in chosen if c in result.categories]
    frames = [f for c in wanted if (f := _category_rows(result, settings, c, lang)) is not None]
    comm = result.communities
    names = pd.Series(
        comm["community_name"].astype(str).to_numpy(),
        index=comm["community_id"].astype(str).to_numpy(),
    )
    sub = subdistricts(comm)
    rows = pd.concat(frames, ignore_index=True) if frames else _empty_rows()
    rows["community_name"] = rows["community_id"].map(names).fillna("")
    rows["subdistrict"] = rows["community_id"].map(sub).fillna("") if sub is not None else ""
    order = {c: i for i, c in enumerate(wanted)}
    rows["_cat"] = rows["category_key"].map(order)
    rows = rows.sort_values(
        ["community_id", "residents_affected", "_cat"],
        ascending=[True, False, True],
        kind="mergesort",
    )
    found = _site_table(sites).rename(columns={"category": "category_key"})
    rows = rows.merge(found, on=["community_id", "category_key"], how="left")
    rows["site_rank"] = pd.to_numeric(rows["site_rank"]).astype("Int64")  # 3, not 3.0
    for key in ("site_name", *INPUT_KEYS):
        rows[key] = rows[key].astype(object).where(rows[key].notna(), "") if key in rows else ""
    keys = _columns(rows, subdistrict=sub is not None, gcj02=gcj02)
    samples = result.summary.get("denominator") == AREA_SAMPLES
    out = rows[keys].reset_index(drop=True)
    out.columns = pd.Index([task_label(k, lang, area_samples=samples) for k in keys])
    out.attrs["keys"] = keys
    return out


def _columns(rows: pd.DataFrame, *, subdistrict: bool, gcj02: bool) -> list[str]:
    """The keys of the task list's columns; with ``gcj02``, the sites' GCJ-02 columns added
    to ``rows``."""
    if gcj02:
        lon, lat = (rows[k].to_numpy(dtype=float) for k in ("site_lon", "site_lat"))
        rows["site_lon_gcj02"], rows["site_lat_gcj02"] = wgs84_to_gcj02(lon, lat)
    return [
        k
        for k in TASK_KEYS
        if (k != "subdistrict" or subdistrict) and (gcj02 or not k.endswith("_gcj02"))
    ]


def _empty_rows() -> pd.DataFrame:
    cols: dict[str, Any] = {
        k: pd.Series(dtype=object)
        for k in ("community_id", "category", "category_key", "threshold", "note")
    }
    for k in ("residents", "residents_affected", "share", "target", "median_walk_min"):
        cols[k] = pd.Series(dtype=float)
    return pd.DataFrame(cols)
