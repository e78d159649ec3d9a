"""Facilities: from OSM features through the category taxonomy, and from user files (CSV,
GeoJSON, GeoPackage) with a declared CRS. Polygons count by their outline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from lifecircle.categories import Taxonomy
from lifecircle.chinacoords import gcj02_to_wgs84
from lifecircle.config import Settings
from lifecircle.errors import InputError
from lifecircle.network import Network
from lifecircle.notes import note
from lifecircle.snapping import snap_points
from lifecircle.sources._files import (
    VECTOR_SUFFIXES,
    Declared,
    check_file,
    normalise_headers,
    read_csv_text,
    read_vector,
    to_wgs84_geoms,
)
from lifecircle.sources.osm import Feature

log = logging.getLogger(__name__)

FACILITY_COLUMNS = ["facility_id", "category", "name", "source", "geometry"]


def facilities_from_osm(features: list[Feature], taxonomy: Taxonomy) -> gpd.GeoDataFrame:
    """One row per (feature, category) it matches, WGS 84."""
    rows = []
    for f in features:
        for cat in taxonomy.classify(f.tags):
            rows.append(
                {
                    "facility_id": f"osm:{f.osm_type}/{f.osm_id}",
                    "category": cat,
                    "name": f.tags.get("name:zh") or f.tags.get("name") or "",
                    "source": "osm",
                    "geometry": f.geometry,
                }
            )
    gdf = gpd.GeoDataFrame(rows, columns=FACILITY_COLUMNS, geometry="geometry", crs="EPSG:4326")
    return gdf


def _rows_to_points(df: pd.DataFrame, path: Path, option: str) -> gpd.GeoSeries:
    """Parse lon/lat text columns; every bad row is listed in one error."""
    problems: list[str] = []
    lon = pd.to_numeric(df["lon"].str.strip(), errors="coerce")
    lat = pd.to_numeric(df["lat"].str.strip(), errors="coerce")
    for i in range(len(df)):
        line = i + 2  # header is line 1
        raw_lon, raw_lat = df["lon"].iloc[i], df["lat"].iloc[i]
        x, y = lon.iloc[i], lat.iloc[i]
        if str(raw_lon).strip() == "" or str(raw_lat).strip() == "":
            problems.append(f"line {line}: missing lon or lat")
        elif np.isnan(x) or np.isnan(y):
            problems.append(f"line {line}: lon/lat not numbers ({raw_lon!r}, {raw_lat!r})")
        elif abs(y) > 90 and abs(x) <= 90 and abs(y) <= 180:
            problems.append(
                f"line {line}: lat {y} is out of range and lon {x} would be a latitude: "
                "the columns look swapped"
            )
        elif abs(x) > 180 or abs(y) > 90:
            problems.append(f"line {line}: lon {x} / lat {y} out of range")
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:30])
        more = f"\n  - … and {len(problems) - 30} more" if len(problems) > 30 else ""
        raise InputError(
            f"{option} {path}: {len(problems)} row(s) rejected\n{shown}{more}\n"
            "Fix or remove these rows (columns: id,category,name,lon,lat in the declared CRS)."
        )
    return gpd.GeoSeries(shapely.points(lon.to_numpy(), lat.to_numpy()))


def read_facilities_file(
    path: str | Path,
    *,
    crs: Declared | None = None,
    encoding: str | None = None,
    option: str = "--facilities",
) -> gpd.GeoDataFrame:
    """Read a user's facility list, returned in WGS 84.

    CSV columns ``id,category,name,lon,lat`` (or Chinese headers such as 类别, 名称, 经度, 纬度) in
    the declared system (WGS 84 by default; any EPSG code; ``gcj02`` / ``bd09`` converted here).
    Vector layers need ``category``; ``id`` and ``name`` are optional.
    """
    declared = crs or Declared()
    p = check_file(path, option)
    if p.suffix.lower() in (".csv", ".txt"):
        df = read_csv_text(p, option, encoding)
        missing = [c for c in ("category", "lon", "lat") if c not in df.columns]
        if missing:
            raise InputError(
                f"{option} {p}: missing column(s) {', '.join(missing)}; a facility CSV needs "
                "id,category,name,lon,lat (or 编号,类别,名称,经度,纬度)"
            )
        geom = _rows_to_points(df, p, option)
        gdf = gpd.GeoDataFrame(df, geometry=geom.values, crs=declared.crs or CRS.from_epsg(4326))
        gdf = to_wgs84_geoms(gdf, declared.china)
    elif p.suffix.lower() in VECTOR_SUFFIXES:
        gdf = read_vector(p, option, declared)
        names = normalise_headers([c for c in gdf.columns if c != "geometry"])
        gdf = gdf.rename(columns=names).set_geometry("geometry")
        if "category" not in gdf.columns:
            raise InputError(f"{option} {p}: needs a 'category' (类别) column")
    else:
        raise InputError(
            f"{option} {p}: unknown file type {p.suffix!r}; give .csv, .geojson, .gpkg or .shp"
        )
    cats = gdf["category"].astype(str).str.strip()
    empty = cats == ""
    if empty.any():
        lines = ", ".join(str(i + 2) for i in np.flatnonzero(empty.to_numpy())[:20])
        raise InputError(f"{option} {p}: rows without a category (lines {lines}); fill them in")
    ids = (
        gdf["id"].astype(str) if "id" in gdf.columns else pd.Series(np.arange(len(gdf))).astype(str)
    )
    out = gpd.GeoDataFrame(
        {
            "facility_id": [f"{p.name}:{i}" for i in ids],
            "category": cats.to_numpy(),
            "name": gdf["name"].astype(str).to_numpy() if "name" in gdf.columns else "",
            "source": p.name,
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    ).to_crs(4326)
    out.attrs["declared"] = declared.label()
    log.info("read %d facilities from %s (%s)", len(out), p.name, declared.label())
    return out


def access_points(
    facilities: gpd.GeoDataFrame, crs: CRS, *, step_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points where each facility can be reached, in the metric CRS.

    A point is itself; a polygon or line is reached anywhere along its outline, sampled every
    ``step_m`` metres (vertices included). Returns (facility row index, shapely Points).
    """
    geoms = facilities.to_crs(crs).geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    rows, pts = [], []
    point_rows = np.flatnonzero(kinds == 0)
    rows.append(point_rows)
    pts.append(geoms[point_rows])
    for i in np.flatnonzero(kinds != 0):
        g = geoms[i]
        outline = g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g
        dense = shapely.segmentize(outline, step_m)
        coords = np.unique(shapely.get_coordinates(dense), axis=0)
        if len(coords) == 0:
            continue
        rows.append(np.full(len(coords), i))
        pts.append(shapely.points(coords))
    return np.concatenate(rows).astype(np.int64), np.concatenate(pts)


def check_user_facilities(
    fac: gpd.GeoDataFrame,
    path: Path,
    declared: Declared,
    net: Network,
    buffer_m: shapely.Geometry,
    crs: CRS,
    settings: Settings,
    notes: list[str],
    counts: dict[str, Any],
    *,
    refuse_if_outside: bool = True,
) -> None:
    """Refuse a file whose points all fall far from the area (a wrong declared CRS), and warn when
    a file declared WGS 84 sits where GCJ-02 coordinates would: shifted by the same few hundred
    metres, so that converting it as GCJ-02 brings most points onto the streets."""
    if not len(fac):
        return
    pts = fac.to_crs(crs)
    inside = pts.intersects(buffer_m).to_numpy()
    if not inside.any() and not refuse_if_outside:
        return
    if not inside.any():
        c = fac.geometry.union_all().centroid
        raise InputError(
            f"--facilities {path}: none of its {len(fac)} points falls in the analysis area when "
            f"read as {declared.label()} (they centre on lon {c.x:.4f}, lat {c.y:.4f}); check "
            "--facilities-crs (Amap/Tencent lists are gcj02, Baidu lists bd09)"
        )
    counts.setdefault("facilities_outside_buffer_per_file", {})[path.name] = int((~inside).sum())
    if declared.china or (declared.crs is not None and not declared.crs.is_geographic):
        return
    xy = shapely.get_coordinates(fac.geometry.representative_point().to_numpy())
    if not (73 <= np.median(xy[:, 0]) <= 135.5 and 17 <= np.median(xy[:, 1]) <= 54):
        return
    as_gcj = shapely.points(np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1])))
    as_is = gpd.GeoSeries(shapely.points(xy), crs=4326).to_crs(crs).to_numpy()
    shifted = gpd.GeoSeries(as_gcj, crs=4326).to_crs(crs).to_numpy()
    far = settings.max_snap_m
    d_as_is = snap_points(as_is, net, max_snap_m=far).leg_m
    d_shift = snap_points(shifted, net, max_snap_m=far).leg_m
    med_as_is = float(np.nanmedian(np.where(np.isnan(d_as_is), far, d_as_is)))
    med_shift = float(np.nanmedian(np.where(np.isnan(d_shift), far, d_shift)))
    if med_as_is > 25.0 and med_shift < 0.5 * med_as_is:
        msg = note("looks_gcj02", file=path.name, median_m=med_as_is, median_gcj02_m=med_shift)
        log.warning(msg)
        notes.append(msg)
