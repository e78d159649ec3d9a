"""Communities: from a boundary file, from OSM administrative boundaries, or a regular grid."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from lifecircle._validate import gather
from lifecircle.errors import InputError
from lifecircle.notes import note
from lifecircle.sources._files import Declared, check_file, empty_rows, read_vector, text_ids
from lifecircle.sources.codes import looks_like_codes, validate_community_codes
from lifecircle.sources.osm import Feature

log = logging.getLogger(__name__)


def read_communities(
    path: str | Path,
    *,
    id_column: str = "id",
    name_column: str = "name",
    crs: Declared | None = None,
    keep: tuple[str, ...] = (),
    keep_option: str = "--age-share",
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Community polygons with text ``community_id`` and ``community_name`` (WGS 84), plus the
    columns named in ``keep`` (by the option ``keep_option``, for the messages).

    Missing, empty or duplicate ids are refused, all listed at once. Invalid polygons are
    repaired (``make_valid``) and counted; communities without a geometry (or with one that is
    empty, or has no area once repaired) are dropped, and their ids reported (``report["notes"]``
    says so in words).
    """
    option = "--communities"
    p = check_file(path, option)
    gdf = read_vector(p, option, crs or Declared())
    _check_columns(gdf, f"{option} {p}", (id_column, name_column), keep, keep_option)
    if not len(gdf):
        raise InputError(f"{option} {p}: the file holds no feature; give community polygons")
    ids = text_ids(gdf[id_column])
    _check_ids(ids, f"{option} {p}", id_column)
    code_report: dict[str, object] = {}
    if looks_like_codes(ids):
        code_report = validate_community_codes(gdf.assign(**{id_column: ids}), id_column, option)
    geoms, empty, repaired = _repaired_polygons(gdf, ids, f"{option} {p}")
    dropped = ids[empty].tolist()
    notes = []
    if dropped:
        msg = note(
            "communities_dropped_empty",
            count=len(dropped),
            file=p.name,
            ids=", ".join(dropped[:10]) + (" …" if len(dropped) > 10 else ""),
        )
        log.warning(msg)
        notes.append(msg)
    keep_rows = ~empty
    out = gpd.GeoDataFrame(
        {
            "community_id": ids.to_numpy()[keep_rows],
            "community_name": text_ids(gdf[name_column], strip=False).to_numpy()[keep_rows],
            **{k: gdf[k].to_numpy()[keep_rows] for k in keep},
        },
        geometry=geoms[keep_rows],
        crs=gdf.crs,
    ).to_crs(4326)
    return out, {
        "communities_repaired": len(repaired),
        "repaired_ids": repaired,
        "communities_dropped_empty": len(dropped),
        "communities_dropped_empty_ids": dropped,
        "codes": code_report,
        "notes": notes,
    }


def _check_columns(
    gdf: gpd.GeoDataFrame,
    where: str,
    needed: tuple[str, str],
    keep: tuple[str, ...],
    keep_option: str,
) -> None:
    """Refuse a file without the id and name columns or a column named by ``keep_option``."""
    have = ", ".join(c for c in gdf.columns if c != "geometry") or "no attribute columns"
    missing = [c for c in needed if c not in gdf.columns]
    missing_keep = [c for c in keep if c not in gdf.columns]
    with gather(where) as problems:
        if missing:
            problems.add(
                f"no column(s) {', '.join(repr(m) for m in missing)}; the file has {have}. Name "
                "the right ones with --id-column / --name-column"
            )
        if missing_keep:
            problems.add(
                f"no column(s) {', '.join(repr(m) for m in missing_keep)} named by "
                f"{keep_option}; the file has {have}. Give one of these, or a number"
            )


def _check_ids(ids: pd.Series, where: str, id_column: str) -> None:
    """Refuse missing and duplicate ids, all listed at once."""
    with gather(where) as problems:
        blank = np.flatnonzero((ids == "").to_numpy())
        if len(blank):
            problems.add(
                f"{len(blank)} communit{'y has' if len(blank) == 1 else 'ies have'} no "
                f"{id_column!r} (feature(s) {', '.join(str(i + 1) for i in blank[:10])}); every "
                "community needs its own id"
            )
        dup = ids[ids.duplicated(keep=False) & (ids != "")]
        if len(dup):
            problems.add(
                f"duplicate community ids {sorted(set(dup))[:10]}; every community needs its own id"
            )


def _repaired_polygons(
    gdf: gpd.GeoDataFrame, ids: pd.Series, where: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The polygons with invalid ones repaired; which are empty (none, empty, or no area once
    repaired); and the ids repaired. Refuses other geometry types, and a file with no area."""
    empty = np.zeros(len(gdf), dtype=bool)
    empty[empty_rows(gdf)] = True
    types = set(gdf.geometry[~empty].geom_type)
    if not types <= {"Polygon", "MultiPolygon"}:
        raise InputError(
            f"{where}: geometries must be polygons, found {sorted(types)}; give the "
            "communities' boundaries as polygons"
        )
    geoms = gdf.geometry.to_numpy().copy()
    repaired = []
    for i in np.flatnonzero(~empty & ~shapely.is_valid(geoms)):
        fixed = shapely.make_valid(geoms[i])
        polys = [g for g in shapely.get_parts(fixed) if g.geom_type in ("Polygon", "MultiPolygon")]
        geoms[i] = shapely.union_all(polys) if polys else shapely.Polygon()
        if shapely.is_empty(geoms[i]) or shapely.area(geoms[i]) == 0:
            empty[i] = True  # nothing of it is left to analyse
        else:
            repaired.append(ids.iloc[i])
    if repaired:
        log.warning("%d invalid community polygon(s) repaired: %s", len(repaired), repaired[:10])
    if empty.all():
        raise InputError(
            f"{where}: no community has a polygon with an area (all {len(gdf)} are empty "
            "or degenerate); check the file's geometries"
        )
    return geoms, empty, repaired


def read_area(
    path: str | Path, *, crs: Declared | None = None, option: str = "--area"
) -> BaseGeometry:
    """The union of a polygon file's features, in WGS 84, repaired if invalid."""
    p = check_file(path, option)
    gdf = read_vector(p, option, crs or Declared())
    gdf = gdf.drop(index=gdf.index[empty_rows(gdf)])  # nothing to add to the union
    types = set(gdf.geometry.geom_type.dropna())
    if not len(gdf) or not types <= {"Polygon", "MultiPolygon"}:
        raise InputError(
            f"{option} {p}: needs polygon features, found {sorted(types) or 'none'}; give the "
            "boundary of the area as polygons"
        )
    geom = shapely.union_all(shapely.make_valid(gdf.to_crs(4326).geometry.to_numpy()))
    if geom.is_empty or geom.area == 0:
        raise InputError(f"{option} {p}: the polygons are empty once repaired")
    return geom


def within_area(gdf: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
    """The rows whose representative point lies in ``area`` (both WGS 84): a community belongs to
    exactly one district even where boundaries from different sources do not quite match."""
    if not len(gdf):
        return gdf
    pts = shapely.point_on_surface(gdf.geometry.to_numpy())
    return gdf[shapely.contains_xy(area, *shapely.get_coordinates(pts).T)].reset_index(drop=True)


def communities_from_osm(
    boundaries: list[Feature], admin_level: str | None, *, within: BaseGeometry | None = None
) -> tuple[gpd.GeoDataFrame | None, str | None]:
    """Administrative boundaries of one level as communities: the chosen level, or the finest
    level that has at least one polygon (inside ``within``, when given)."""
    polys = [b for b in boundaries if b.geometry.geom_type in ("Polygon", "MultiPolygon")]
    if within is not None and polys:
        rp = shapely.get_coordinates(shapely.point_on_surface([b.geometry for b in polys]))
        polys = [
            b for b, inside in zip(polys, shapely.contains_xy(within, *rp.T), strict=True) if inside
        ]
    if not polys:
        return None, None
    levels = Counter(b.tags.get("admin_level", "") for b in polys)
    if admin_level is None:
        numeric = [lv for lv in levels if lv.isdigit()]
        if not numeric:
            return None, None
        admin_level = max(numeric, key=int)
    chosen = [b for b in polys if b.tags.get("admin_level") == admin_level]
    if not chosen and within is not None:
        return None, None  # none of that level in this district: the caller falls back to a grid
    if not chosen:
        raise InputError(
            f"--admin-level {admin_level}: no boundary of that level in the OSM input; levels "
            f"present: {', '.join(sorted(levels))}"
        )
    gdf = gpd.GeoDataFrame(
        {
            "community_id": [f"osm:{b.osm_type}/{b.osm_id}" for b in chosen],
            "community_name": [b.tags.get("name:zh") or b.tags.get("name", "") for b in chosen],
        },
        geometry=[b.geometry for b in chosen],
        crs="EPSG:4326",
    )
    return gdf, admin_level


#: how many names of cut boundaries a run lists (summary.json, the headline's warning)
MAX_CUT_NAMES = 10


def cut_boundaries(
    incomplete: list[Feature],
    level: str | None,
    *,
    within: BaseGeometry | None = None,
    finer: bool = True,
) -> dict[str, Any] | None:
    """What a run that took its communities from OSM should say of the boundary relations
    whose rings do not close (cut at the extract's edge): those of the level it used and, with
    ``finer`` (the level was chosen as the finest present), of finer levels (every level when
    it fell back to a grid); with ``within``, only those whose present member ways meet it.
    ``None`` when there are none."""

    def counted(lv: str) -> bool:
        if level is None or not level.isdigit():
            return True
        return int(lv) >= int(level) if finer else lv == level

    cut = [
        b
        for b in incomplete
        if b.tags.get("admin_level", "").isdigit()
        and counted(b.tags["admin_level"])
        and (within is None or (not b.geometry.is_empty and b.geometry.intersects(within)))
    ]
    if not cut:
        return None
    names = [b.tags.get("name:zh") or b.tags.get("name") or f"relation/{b.osm_id}" for b in cut]
    return {
        "count": len(cut),
        "admin_levels": sorted({b.tags["admin_level"] for b in cut}, key=int),
        "names": names[:MAX_CUT_NAMES],
    }


#: more grid communities than this is no longer a map anyone reads (100 km × 100 km at 200 m)
MAX_GRID_CELLS = 250_000


def grid_communities(area: BaseGeometry, crs: CRS, cell_m: float) -> gpd.GeoDataFrame:
    """A regular grid of ``cell_m`` squares over the area (metric CRS), clipped to it."""
    minx, miny, maxx, maxy = area.bounds
    cells = ((maxx - minx) / cell_m + 1) * ((maxy - miny) / cell_m + 1)
    if cells > MAX_GRID_CELLS:
        raise InputError(
            f"--grid-cell-m {cell_m:g}: the area ({(maxx - minx) / 1000:.1f} × "
            f"{(maxy - miny) / 1000:.1f} km) would need about {cells:,.0f} grid cells (at most "
            f"{MAX_GRID_CELLS:,}); give a larger --grid-cell-m, or community polygons "
            "(--communities)"
        )
    xs = np.arange(np.floor(minx / cell_m) * cell_m, maxx, cell_m)
    ys = np.arange(np.floor(miny / cell_m) * cell_m, maxy, cell_m)
    cells, ids = [], []
    for r, y in enumerate(ys):
        for c, x in enumerate(xs):
            cells.append(shapely.box(x, y, x + cell_m, y + cell_m))
            ids.append(f"grid_r{r:03d}_c{c:03d}")
    geoms = shapely.intersection(np.array(cells, dtype=object), area)
    keep = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 0)
    gdf = gpd.GeoDataFrame(
        {"community_id": np.array(ids)[keep], "community_name": np.array(ids)[keep]},
        geometry=geoms[keep],
        crs=crs,
    )
    return gdf.to_crs(4326)
