"""Residents as weighted points: from a population raster (GeoTIFF, any CRS; cell values are
people), from a points file, or estimated from OSM residential buildings (footprint × levels)."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.windows
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from lifecircle.errors import CRSError, InputError
from lifecircle.sources._files import (
    VECTOR_SUFFIXES,
    Declared,
    check_file,
    read_csv_text,
    read_vector,
    to_wgs84_geoms,
)
from lifecircle.sources.osm import RESIDENTIAL_BUILDINGS, Feature

log = logging.getLogger(__name__)


RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img")


def is_raster(path: str | Path) -> bool:
    """Whether a --population file is read as a raster (by its suffix) rather than as points."""
    return Path(path).suffix.lower() in RASTER_SUFFIXES


def residents_from_raster(path: str | Path, area_wgs84: BaseGeometry) -> gpd.GeoDataFrame:
    """One point per populated cell centre inside the area's bounding box (WGS 84)."""
    option = "--population"
    p = check_file(path, option)
    try:
        src = rasterio.open(p)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{option} {p}: not a readable raster ({exc}); give a GeoTIFF") from exc
    with src:
        if src.crs is None:
            raise CRSError(
                f"{option} {p}: the raster has no CRS; georeference it (e.g. gdal_edit -a_srs)"
            )
        tf = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        minx, miny, maxx, maxy = area_wgs84.bounds
        xs, ys = tf.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
        rb = src.bounds
        if max(xs) < rb.left or min(xs) > rb.right or max(ys) < rb.bottom or min(ys) > rb.top:
            raise InputError(
                f"{option} {p}: the raster (bounds {tuple(round(v, 4) for v in rb)} in "
                f"{src.crs.to_string()}) does not overlap the analysis area; give a raster that "
                "covers it"
            )
        r0, c0 = src.index(min(xs), max(ys))
        r1, c1 = src.index(max(xs), min(ys))
        row0, row1 = max(min(r0, r1) - 1, 0), min(max(r0, r1) + 2, src.height)
        col0, col1 = max(min(c0, c1) - 1, 0), min(max(c0, c1) + 2, src.width)
        win = rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)
        band = src.read(1, window=win, masked=True).astype("float64")
        wtf = src.window_transform(win)
        values = np.ma.filled(band, 0.0)
        values[~np.isfinite(values)] = 0.0
        rows, cols = np.nonzero(values > 0)
        cx, cy = rasterio.transform.xy(wtf, rows, cols, offset="center")
        pts = gpd.GeoDataFrame(
            {"weight": values[rows, cols]},
            geometry=shapely.points(np.asarray(cx), np.asarray(cy)),
            crs=src.crs,
        ).to_crs(4326)
    if len(pts) == 0:
        raise InputError(f"{option} {p}: no populated cell in the analysis area")
    return pts


def residents_from_points(
    path: str | Path, crs: Declared | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Weighted points: CSV ``lon,lat,weight`` (declared CRS, WGS 84 by default) or a vector layer
    with a ``weight`` column."""
    option = "--population"
    declared = crs or Declared()
    p = check_file(path, option)
    if p.suffix.lower() in (".csv", ".txt"):
        df = read_csv_text(p, option, encoding)
        missing = [c for c in ("lon", "lat", "weight") if c not in df.columns]
        if missing:
            raise InputError(
                f"{option} {p}: missing column(s) {', '.join(missing)} (need lon,lat,weight)"
            )
        num = df[["lon", "lat", "weight"]].apply(pd.to_numeric, errors="coerce")
        bad = num.isna().any(axis=1) | (num["weight"] < 0)
        if bad.any():
            lines = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:20])
            raise InputError(
                f"{option} {p}: rows with missing, non-numeric or negative values (lines {lines})"
            )
        pts = gpd.GeoDataFrame(
            {"weight": num["weight"].to_numpy()},
            geometry=shapely.points(num["lon"].to_numpy(), num["lat"].to_numpy()),
            crs=declared.crs or CRS.from_epsg(4326),
        )
        return to_wgs84_geoms(pts, declared.china).to_crs(4326)
    if p.suffix.lower() in VECTOR_SUFFIXES:
        gdf = read_vector(p, option, declared)
        if "weight" not in gdf.columns:
            raise InputError(f"{option} {p}: needs a numeric 'weight' column (people per point)")
        w = pd.to_numeric(gdf["weight"], errors="coerce")
        if w.isna().any() or (w < 0).any():
            raise InputError(f"{option} {p}: 'weight' must be a number ≥ 0 on every feature")
        geom = gdf.geometry
        if not (geom.geom_type == "Point").all():
            geom = geom.representative_point()
        return gpd.GeoDataFrame({"weight": w.to_numpy()}, geometry=geom.values, crs=gdf.crs).to_crs(
            4326
        )
    raise InputError(
        f"{option} {p}: give a GeoTIFF raster, a CSV lon,lat,weight, or a vector layer"
    )


def residents_from_buildings(
    buildings: list[Feature],
    residential_landuse: list[BaseGeometry],
    crs: CRS,
    *,
    default_levels: float,
    floor_area_per_person_m2: float,
) -> gpd.GeoDataFrame:
    """Estimated residents per residential building: footprint area × levels / m² per person.

    Residential buildings are those tagged as homes, and ``building=yes`` standing on
    ``landuse=residential``. The result is an estimate and is labelled so in the outputs.
    """
    landuse = shapely.union_all(residential_landuse) if residential_landuse else None
    rows = []
    for b in buildings:
        kind = b.tags.get("building", "")
        if kind not in RESIDENTIAL_BUILDINGS and not (
            kind == "yes"
            and landuse is not None
            and landuse.contains(b.geometry.representative_point())
        ):
            continue
        try:
            levels = float(str(b.tags.get("building:levels", "")).split(";")[0])
            if not (0 < levels < 200):
                raise ValueError
        except ValueError:
            levels = default_levels
        rows.append((f"osm:{b.osm_type}/{b.osm_id}", levels, b.geometry))
    if not rows:
        return gpd.GeoDataFrame({"building_id": [], "weight": []}, geometry=[], crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(
        {"building_id": [r[0] for r in rows], "levels": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs="EPSG:4326",
    )
    metric = gdf.to_crs(crs)
    floor = metric.area.to_numpy() * gdf["levels"].to_numpy()
    out = gpd.GeoDataFrame(
        {
            "building_id": gdf["building_id"],
            "floor_area_m2": floor,
            "weight": floor / floor_area_per_person_m2,
        },
        geometry=metric.geometry.representative_point().to_crs(4326).values,
        crs="EPSG:4326",
    )
    return out


def uniform_residents(
    area_m: shapely.Geometry, crs: CRS, spacing_m: float = 50.0
) -> gpd.GeoDataFrame:
    minx, miny, maxx, maxy = area_m.bounds
    xs, ys = np.meshgrid(
        np.arange(minx + spacing_m / 2, maxx, spacing_m),
        np.arange(miny + spacing_m / 2, maxy, spacing_m),
    )
    pts = shapely.points(xs.ravel(), ys.ravel())
    pts = pts[shapely.contains(area_m, pts)]
    return gpd.GeoDataFrame({"weight": np.ones(len(pts))}, geometry=pts, crs=crs).to_crs(4326)
