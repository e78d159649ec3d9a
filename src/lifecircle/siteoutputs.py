"""Write a siting run into its output folder: ``sites.csv``, ``sites.gpkg``, ``map.html``,
``coverage_curve.png`` and ``summary.json``.

As for ``analyze``, every file is built in a temporary folder inside ``--out`` and moved in only
when all are complete (:func:`lifecircle.fileio.staged_outputs`): only the files of an earlier
siting run are replaced, never a file of the user's, and a folder holding an input is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from lifecircle import fileio
from lifecircle._records import installed_version, jsonable
from lifecircle.chinacoords import wgs84_to_gcj02
from lifecircle.gpkg import as_type
from lifecircle.headline import AREA_SAMPLES
from lifecircle.notes import denominator_label
from lifecircle.render.escape import gpkg_safe_frame, write_people_csv
from lifecircle.render.tasksheet import write_tasks
from lifecircle.tasks import build_tasks

if TYPE_CHECKING:
    from lifecircle.siting import SitingResult
    from lifecircle.study import Study

SITE_FILES = (
    "sites.csv",
    "sites.gpkg",
    "map.html",
    "coverage_curve.png",
    "tasks.csv",
    "tasks.xlsx",
    "summary.json",
)
SITES_COLUMNS = [
    "rank",
    "candidate_id",
    "name",
    "category",
    "lon",
    "lat",
    "residents_newly_covered",
    "coverage_after",
    "communities_served",
    "community_names_served",
]

PER_TEXT = {
    "area": {"zh": "全区", "en": "the area as a whole"},
    "community": {"zh": "每个社区", "en": "every community"},
    "subdistrict": {"zh": "每个街道", "en": "every subdistrict"},
}


def category_label(study: Study, category: str, lang: str) -> str:
    """The category's name in ``lang`` (its key when the taxonomy has none)."""
    if category in study.taxonomy:
        return study.taxonomy[category].label(lang)
    return category


def headline(result: SitingResult, lang: str = "en") -> str:
    """One sentence: how many sites, and what they change (or why the target is out of reach)."""
    n = len(result.sites)
    b, a, best, t = (
        f"{result.coverage_before:.1%}",
        f"{result.coverage_after:.1%}",
        f"{result.best_share:.1%}",
        f"{result.target:.0%}",
    )
    per = PER_TEXT[result.per][lang if lang in ("zh", "en") else "en"]
    zh = lang == "zh"
    if result.mode == "target" and result.reached is False:
        below = result.summary.get("groups", {}).get("below_after", [])
        names = ", ".join(str(x) for x in below[:10]) + (" …" if len(below) > 10 else "")
        g = {"community": ("个社区", "communities"), "subdistrict": ("个街道", "subdistricts")}
        if zh:
            stay = (
                f"即使采用全部候选点位,仍有 {len(below)} {g[result.per][0]}未达标({names});"
                if result.per in g
                else ""
            )
            return (
                f"现有候选点位无法使{per}达到目标 {t}:{stay}"
                f"全部候选点位可使全区覆盖率由 {b} 提高到 {best}"
            )
        stay = (
            f"{len(below)} {g[result.per][1]} stay below it even with every candidate ({names}); "
            if result.per in g
            else ""
        )
        return (
            f"The target {t} for {per} cannot be reached with these candidates: {stay}every "
            f"candidate together brings the area from {b} to {best}"
        )
    if n == 0:
        if result.mode == "target":
            return f"{per}已达到目标 {t},无需新增点位" if zh else f"{per} already meets {t}"
        return "没有候选点位能新增覆盖居民" if zh else "No candidate adds anyone within reach"
    if result.mode == "target":
        if zh:
            return f"新增 {n} 处即可使{per}达到目标 {t}:全区覆盖率由 {b} 提高到 {a}"
        sites = "new site brings" if n == 1 else "new sites bring"
        return f"{n} {sites} {per} to the target {t}: the area goes from {b} to {a}"
    if zh:
        return f"最佳 {n} 处新增点位使全区覆盖率由 {b} 提高到 {a}"
    best_n = "The best new site raises" if n == 1 else f"The best {n} new sites raise"
    return f"{best_n} the area's share from {b} to {a}"


def sites_table(result: SitingResult, *, gcj02: bool) -> pd.DataFrame:
    """``sites.csv``: the columns of :data:`SITES_COLUMNS`, plus ``lon_gcj02`` and
    ``lat_gcj02`` after ``lon``/``lat`` when the inputs were GCJ-02."""
    s = pd.DataFrame(result.sites[SITES_COLUMNS]).copy()
    if gcj02:
        glon, glat = wgs84_to_gcj02(s["lon"].to_numpy(float), s["lat"].to_numpy(float))
        at = list(s.columns).index("lat") + 1
        s.insert(at, "lon_gcj02", glon)
        s.insert(at + 1, "lat_gcj02", glat)
    return s


def _write_layer(path: Path, name: str, layer: gpd.GeoDataFrame, gtype: str) -> int:
    safe, n = gpkg_safe_frame(layer)
    geoms = as_type(safe.geometry.to_numpy(), gtype)
    frame = safe.set_geometry(gpd.GeoSeries(geoms, index=safe.index, crs=safe.crs))
    for c in frame.columns:
        if frame[c].dtype.kind == "f":
            frame[c] = frame[c].replace([np.inf, -np.inf], np.nan)
    pyogrio.write_dataframe(
        frame.reset_index(drop=True), path, layer=name, driver="GPKG", geometry_type=gtype
    )
    return n


def write_gpkg(result: SitingResult, path: Path, *, gcj02: bool) -> int:
    """``sites.gpkg``: ``sites`` (a point per site with every column of sites.csv),
    ``site_outlines`` (the sites given as polygons), ``communities`` (shares before and after,
    the suggested site) and ``candidates``. Returns the text cells cleaned of NUL."""
    sites = gpd.GeoDataFrame(
        sites_table(result, gcj02=gcj02),
        geometry=result.sites.geometry.representative_point().values,
        crs=4326,
    )
    outlines = result.sites[result.sites.geom_type.isin(["Polygon", "MultiPolygon"])]
    comm = result.communities.to_crs(4326).copy()
    comm["suggested_rank"] = comm["suggested_rank"].astype("float")
    cand = result.candidates.copy()
    cand["geometry"] = cand.geometry.representative_point()
    n = _write_layer(path, "sites", sites, "Point")
    n += _write_layer(
        path, "site_outlines", outlines[["rank", "candidate_id", "name", "geometry"]],
        "MultiPolygon",
    )  # fmt: skip
    n += _write_layer(path, "communities", comm, "MultiPolygon")
    n += _write_layer(path, "candidates", cand, "Point")
    return n


def site_summary(
    result: SitingResult, study: Study, *, record: dict[str, Any], lang: str
) -> dict[str, Any]:
    """What ``summary.json`` holds: the question, the answer, the solver, counts and notes."""
    w = result.walk
    notes = list(record.pop("notes", []))
    cands = result.summary["candidates"]
    if cands.get("outside_area"):
        notes.append(
            f"{cands['outside_area']} candidate(s) outside the analysis area were left out "
            "(candidates.outside_area_ids)."
        )
    if cands.get("off_network"):
        notes.append(
            f"{cands['off_network']} candidate(s) lie farther than {study.settings.max_snap_m:g} m "
            "from every walkable way and reach no one (candidates.off_network_ids)."
        )
    if result.mode == "count" and len(result.sites) < int(record.get("count") or 0):
        notes.append(
            f"Only {len(result.sites)} candidate(s) add residents within reach; fewer sites "
            "than asked are listed."
        )
    if result.solver.get("kept") == "greedy" and result.method == "optimal":
        notes.append("The solver did not beat the greedy choice in time; the greedy one is kept.")
    return {
        "question": {
            "category": w.category,
            "category_name": category_label(study, w.category, lang),
            "profile": w.profile,
            "speed_m_s": w.speed_m_s,
            "minutes": w.minutes,
            "limit_m": w.limit_m,
            "mode": result.mode,
            "count": record.get("count"),
            "target": result.target,
            "per": result.per,
            "method": result.method,
        },
        "headline": {"en": headline(result, "en"), "zh": headline(result, "zh")},
        "reached": result.reached,
        "sites": len(result.sites),
        "coverage_before": result.coverage_before,
        "coverage_after": result.coverage_after,
        "best_reachable_share": result.best_share,
        "curve": result.curve.to_dict(orient="list"),
        "solver": result.solver,
        "denominator": study.residents.denominator,
        **{k: v for k, v in result.summary.items()},
        "notes": notes,
        "analysis": record.get("analysis"),
        "candidates_file": record.get("candidates_file"),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "lifecircle": installed_version(),
        "outputs": list(SITE_FILES),
    }


def write_site_outputs(
    result: SitingResult,
    study: Study,
    out: Path,
    *,
    overwrite: bool,
    record: dict[str, Any],
    inputs: list[tuple[str, Path]],
    gcj02: bool,
    lang: str = "zh",
    tiles: str = "osm",
    offline: bool = True,
) -> dict[str, Any]:
    """Write every file of a siting run into ``out``; returns the summary written.

    Raises
    ------
    lifecircle.errors.OutputError
        When ``out`` cannot take the files; it is then left as it was.
    """
    from lifecircle.render.sitemap import coverage_curve_png, make_site_map

    label = category_label(study, result.walk.category, lang)
    samples = study.residents.denominator == AREA_SAMPLES  # no population data
    fac = study.facilities.table
    existing = fac[fac["category"] == result.walk.category]
    fileio.check_out_folder(out, overwrite=overwrite, inputs=inputs, names=SITE_FILES)
    with fileio.staged_outputs(out, overwrite=overwrite, inputs=inputs) as tmp:
        quoted = write_people_csv(sites_table(result, gcj02=gcj02), tmp / "sites.csv")
        nul = write_gpkg(result, tmp / "sites.gpkg", gcj02=gcj02)
        # the analysis's task list, with each community's suggested site for this category
        tasks = build_tasks(
            study.coverage(), study.settings, sites=result.task_sites(), lang=lang, gcj02=gcj02
        )
        cleaned = write_tasks(tasks, tmp, lang=lang)
        quoted += cleaned["csv_quoted"]
        summary = site_summary(result, study, record=dict(record), lang=lang)
        summary["text_cells"] = {
            "csv_quoted": quoted,
            "gpkg_nul_removed": nul,
            "xlsx_cleaned": cleaned.get("xlsx_cleaned", 0),
        }
        summary["map"] = make_site_map(
            result,
            tmp / "map.html",
            existing=existing,
            category_label=label,
            headline=headline(result, lang),
            denominator=denominator_label(study.residents.denominator, lang),
            lang=lang,
            tiles=tiles,
            offline=offline,
            area_samples=samples,
        )
        summary["figure"] = coverage_curve_png(
            result,
            tmp / "coverage_curve.png",
            category_label=label,
            lang=lang,
            area_samples=samples,
        )
        fileio.write_text(
            tmp / "summary.json", json.dumps(jsonable(summary), ensure_ascii=False, indent=2)
        )
    return summary


SUGGESTED_COLUMNS = [
    "community_id",
    "community_name",
    "category",
    "meets_target_before",
    "suggested_rank",
    "suggested_candidate_id",
    "suggested_site_name",
    "suggested_lon",
    "suggested_lat",
]


def load_suggested_sites(folder: Path) -> pd.DataFrame:
    """Per community, the suggested site of a ``lifecircle site`` output folder (the
    ``communities`` layer of its ``sites.gpkg``), with the category sited: the columns of
    :data:`SUGGESTED_COLUMNS`; ``suggested_rank`` is empty where no chosen site reaches the
    community's residents.

    Raises
    ------
    InputError
        When the folder holds no siting run.
    """
    from lifecircle.errors import InputError

    try:
        summary = json.loads((Path(folder) / "summary.json").read_text("utf-8"))
        category = summary["question"]["category"]
        comm = pyogrio.read_dataframe(Path(folder) / "sites.gpkg", layer="communities")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{folder}: not an output folder of lifecircle site ({exc}); run lifecircle site first"
        ) from exc
    out = pd.DataFrame(comm.drop(columns="geometry"))
    out["community_id"] = out["community_id"].astype(str)
    out["category"] = category
    out["suggested_rank"] = out["suggested_rank"].astype("Int64")
    return out[SUGGESTED_COLUMNS]


def load_task_sites(folder: Path) -> pd.DataFrame:
    """The suggested sites of a ``lifecircle site`` folder in the form a task list takes
    (``lifecircle.tasks.build_tasks``'s ``sites``): ``community_id, category, name, lon, lat,
    rank``, one row per community with a suggested site."""
    from lifecircle.siting import task_sites_of

    sug = load_suggested_sites(folder)
    return task_sites_of(sug, str(sug["category"].iloc[0]) if len(sug) else "")
