"""Residents as weighted points: from a population raster (GeoTIFF, any CRS; cell values are
people), from a points file, or estimated from OSM residential buildings (footprint × levels)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.io
import rasterio.windows
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from lifecircle.errors import CRSError, InputError
from lifecircle.notes import note
from lifecircle.sources._files import (
    VECTOR_SUFFIXES,
    Declared,
    check_file,
    coordinate_problems,
    empty_rows,
    read_csv_text,
    read_vector,
    rejected_rows_error,
    row_numbers,
    to_wgs84_geoms,
    usable_crs,
)
from lifecircle.sources.osm import RESIDENTIAL_BUILDINGS, Feature

log = logging.getLogger(__name__)


RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img")


def is_raster(path: str | Path) -> bool:
    """Whether a --population file is read as a raster (by its suffix) rather than as points."""
    return Path(path).suffix.lower() in RASTER_SUFFIXES


# More people per km² than this in a cell is not a population (the densest districts of Hong
# Kong or Dhaka hold about 130,000): an undeclared nodata value such as 1e30 or 3.4e38.
MAX_DENSITY_PER_KM2 = 2_000_000.0


def _cell_area_km2(src: rasterio.io.DatasetReader, crs: CRS, lat: float) -> float:
    """The area of one cell in km² (at latitude ``lat`` for a longitude/latitude raster)."""
    a, e = abs(src.transform.a), abs(src.transform.e)
    if crs.is_geographic:
        return a * 111_320.0 * max(np.cos(np.radians(lat)), 0.01) * e * 110_574.0 / 1e6
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return a * e * unit * unit / 1e6


def residents_from_raster(
    path: str | Path, area_wgs84: BaseGeometry
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """One point per populated cell centre inside the area's bounding box (WGS 84), and a
    report of the cells that were read as no residents.

    Cells with negative values, or NaN where NaN is not the declared nodata value, are treated
    as nodata and counted (``report["notes"]`` says so). A raster that cannot be read (damaged,
    truncated), has no usable CRS, or holds impossible values (more than
    :data:`MAX_DENSITY_PER_KM2` people per km², infinity) is refused.
    """
    option = "--population"
    p = check_file(path, option)
    try:
        src = rasterio.open(p)
    except rasterio.errors.RasterioError as exc:
        raise InputError(f"{option} {p}: not a readable raster ({exc}); give a GeoTIFF") from exc
    with src:
        crs = _raster_crs(src, p, option)
        win = _area_window(src, crs, area_wgs84, p, option)
        band = _read_window(src, win, p, option)
        limit = MAX_DENSITY_PER_KM2 * _cell_area_km2(src, crs, area_wgs84.centroid.y)
        values, nan, negative = _cell_values(band, limit, p, option)
        pts = _cell_points(values, src.window_transform(win), crs)
    if len(pts) == 0:
        raise InputError(f"{option} {p}: no populated cell in the analysis area")
    return pts, _ignored_cells_report(p, n_neg=int(negative.sum()), n_nan=int(nan.sum()))


def _raster_crs(src: rasterio.io.DatasetReader, p: Path, option: str) -> CRS:
    """The raster's CRS; refused when it has none or one with no link to the earth."""
    if src.crs is None:
        raise CRSError(
            f"{option} {p}: the raster has no CRS; georeference it (e.g. gdal_edit -a_srs)"
        )
    crs = CRS.from_user_input(src.crs)
    if not usable_crs(crs):
        raise CRSError(
            f"{option} {p}: the raster's coordinate reference system is {crs.name!r}, a "
            "local system with no link to the earth; georeference it with its real CRS "
            "(gdal_edit -a_srs EPSG:xxxx FILE)"
        )
    return crs


def _area_window(
    src: rasterio.io.DatasetReader, crs: CRS, area_wgs84: BaseGeometry, p: Path, option: str
) -> rasterio.windows.Window:
    """The raster's cells over the area's bounding box, with one cell to spare on each side;
    refused when the raster does not overlap the area."""
    tf = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
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
    return rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)


def _read_window(
    src: rasterio.io.DatasetReader, win: rasterio.windows.Window, p: Path, option: str
) -> np.ma.MaskedArray:
    """The first band's cells in the window (masked where nodata), as float64."""
    try:
        return src.read(1, window=win, masked=True).astype("float64")
    except rasterio.errors.RasterioError as exc:
        raise InputError(
            f"{option} {p}: the raster's cells cannot be read ({exc}); the file looks "
            "damaged or truncated: copy or export it again"
        ) from exc


def _cell_values(
    band: np.ma.MaskedArray, limit: float, p: Path, option: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells' residents (0 for nodata, NaN and negative cells) and the masks of the NaN
    and negative cells; refused when a cell holds more than ``limit`` people."""
    values = np.ma.filled(band, 0.0)
    mask = np.ma.getmaskarray(band)
    nan = np.isnan(values) & ~mask
    negative = (values < 0) & ~mask
    absurd = (values > limit) & ~mask
    if absurd.any():
        raise InputError(
            f"{option} {p}: {int(absurd.sum())} cell(s) in the area hold impossible values "
            f"(up to {values[absurd].max():.3g} people in one cell, where "
            f"{MAX_DENSITY_PER_KM2:,.0f} per km² would be {limit:,.0f}); probably a nodata "
            "value the file does not declare: declare it (gdal_edit -a_nodata VALUE FILE) "
            "or fix those cells"
        )
    values[nan | negative] = 0.0
    return values, nan, negative


def _cell_points(values: np.ndarray, wtf: Affine, crs: CRS) -> gpd.GeoDataFrame:
    """One point in WGS 84 per populated cell centre, weighted by its residents."""
    rows, cols = np.nonzero(values > 0)
    cx, cy = rasterio.transform.xy(wtf, rows, cols, offset="center")
    return gpd.GeoDataFrame(
        {"weight": values[rows, cols]},
        geometry=shapely.points(np.asarray(cx), np.asarray(cy)),
        crs=crs,
    ).to_crs(4326)


def _ignored_cells_report(p: Path, *, n_neg: int, n_nan: int) -> dict[str, Any]:
    """The report of the cells read as no residents, with a note when there are any."""
    notes = []
    if n_neg or n_nan:
        msg = note("population_raster_cells_ignored", file=p.name, negative=n_neg, nan=n_nan)
        log.warning(msg)
        notes.append(msg)
    return {
        "population_raster_cells_ignored": {"negative": n_neg, "nan": n_nan},
        "notes": notes,
    }


def residents_from_points(
    path: str | Path, crs: Declared | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Weighted points: CSV ``lon,lat,weight`` (declared CRS, WGS 84 by default) or a vector layer
    with a ``weight`` column.

    Every row with missing, non-numeric, out-of-range or swapped coordinates, or a missing or
    negative weight, is refused with its line number (feature number in a vector layer), as is
    a file without rows.
    """
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
        if not len(df):
            raise InputError(
                f"{option} {p}: the file has a header but no rows; add the residents' points"
            )
        lon = pd.to_numeric(df["lon"], errors="coerce")
        lat = pd.to_numeric(df["lat"], errors="coerce")
        geographic = declared.crs is None or declared.crs.is_geographic
        lines = row_numbers(df)
        problems = coordinate_problems(
            lon, lat, df["lon"], df["lat"], geographic=geographic, lines=lines
        )
        w = pd.to_numeric(df["weight"], errors="coerce")
        for i in np.flatnonzero((~np.isfinite(w) | (w < 0)).to_numpy()):
            problems.append(
                f"line {lines[i]}: weight {df['weight'].iloc[i]!r} is not a number ≥ 0 (people)"
            )
        if problems:
            problems.sort(key=lambda m: int(m.split(":")[0].split()[1]))
            raise rejected_rows_error(problems, p, option, "lon,lat,weight")
        pts = gpd.GeoDataFrame(
            {"weight": w.to_numpy(dtype=float)},
            geometry=shapely.points(lon.to_numpy(dtype=float), lat.to_numpy(dtype=float)),
            crs=declared.crs or CRS.from_epsg(4326),
        )
        return to_wgs84_geoms(pts, declared.china).to_crs(4326)
    if p.suffix.lower() in VECTOR_SUFFIXES:
        gdf = read_vector(p, option, declared)
        if "weight" not in gdf.columns:
            raise InputError(f"{option} {p}: needs a numeric 'weight' column (people per point)")
        if not len(gdf):
            raise InputError(f"{option} {p}: the layer holds no feature; add the residents")
        empty = empty_rows(gdf)
        if len(empty):
            raise InputError(
                f"{option} {p}: {len(empty)} feature(s) without a geometry (features "
                f"{', '.join(str(i + 1) for i in empty[:20])}); give each a location or remove it"
            )
        w = pd.to_numeric(gdf["weight"], errors="coerce")
        if (~np.isfinite(w)).any() or (w < 0).any():
            bad = np.flatnonzero((~np.isfinite(w) | (w < 0)).to_numpy())
            raise InputError(
                f"{option} {p}: 'weight' must be a number ≥ 0 on every feature (features "
                f"{', '.join(str(i + 1) for i in bad[:20])})"
            )
        geom = gdf.geometry
        if not (geom.geom_type == "Point").all():
            geom = geom.representative_point()
        return gpd.GeoDataFrame({"weight": w.to_numpy()}, geometry=geom.values, crs=gdf.crs).to_crs(
            4326
        )
    raise InputError(
        f"{option} {p}: give a GeoTIFF raster, a CSV lon,lat,weight, or a vector layer"
    )


def refuse_swapped_points(points: gpd.GeoDataFrame, area_wgs84: BaseGeometry, path: Path) -> None:
    """Refuse a points file (as read by :func:`residents_from_points`, rows in file order) with
    points outside the area that would lie inside it with longitude and latitude exchanged:
    swapped columns that are both in range (lon 60.17, lat 24.94) pass every other check."""
    if not len(points):
        return
    xy = shapely.get_coordinates(points.geometry.to_numpy())
    outside = ~shapely.contains_xy(area_wgs84, xy[:, 0], xy[:, 1])
    swapped = outside & shapely.contains_xy(area_wgs84, xy[:, 1], xy[:, 0])
    if not swapped.any():
        return
    csv = path.suffix.lower() in (".csv", ".txt")
    rows = np.flatnonzero(swapped) + 1  # features of a layer
    if csv:  # the lines they start on, read again for this message only
        try:
            numbers = row_numbers(read_csv_text(path, "--population"))
        except InputError:  # an --encoding the detection does not find: from line 2
            numbers = np.arange(len(points), dtype=np.int64) + 2
        rows = numbers[swapped] if len(numbers) == len(points) else rows + 1
    where = "lines" if csv else "features"
    raise InputError(
        f"--population {path}: {int(swapped.sum())} point(s) lie outside the area but would lie "
        f"inside it with longitude and latitude exchanged ({where} "
        f"{', '.join(str(r) for r in rows[:20])}{' …' if len(rows) > 20 else ''}): the columns "
        "look swapped; fix these rows (lon is the x, east-west coordinate)"
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
