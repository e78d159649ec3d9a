"""Facilities: from OSM features through the category taxonomy, and from user files (CSV,
GeoJSON, GeoPackage) with a declared CRS. Polygons count by their outline."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from lifecircle.categories import Taxonomy
from lifecircle.chinacoords import bd09_to_wgs84, gcj02_to_wgs84
from lifecircle.config import Settings
from lifecircle.errors import InputError
from lifecircle.network import Network
from lifecircle.notes import note
from lifecircle.snapping import snap_points
from lifecircle.sources._files import (
    VECTOR_SUFFIXES,
    Declared,
    check_file,
    empty_rows,
    normalise_headers,
    parse_crs,
    read_csv_text,
    read_vector,
    rejected_rows_error,
    row_numbers,
    rows_to_points,
    text_ids,
    to_wgs84_geoms,
)
from lifecircle.sources.osm import Feature

log = logging.getLogger(__name__)

FACILITY_COLUMNS = ["facility_id", "category", "name", "source", "capacity", "geometry"]


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
                    "capacity": np.nan,  # OSM's capacity tags are too sparse to compare
                    "geometry": f.geometry,
                }
            )
    gdf = gpd.GeoDataFrame(rows, columns=FACILITY_COLUMNS, geometry="geometry", crs="EPSG:4326")
    return gdf


FACILITY_CSV_COLUMNS = "id,category,name,lon,lat"


def _duplicate_id_problems(
    ids: pd.Series, cats: pd.Series, geoms: np.ndarray, numbers: np.ndarray
) -> list[str]:
    """Ids given to more than one row, except one facility listed once per category (the same
    id and location on each row, as OSM features that fall in two categories)."""
    problems = []
    positions: dict[str, list[int]] = {}
    for i, fid in enumerate(ids.tolist()):
        if fid != "":
            positions.setdefault(fid, []).append(i)
    for fid, pos in positions.items():
        if len(pos) < 2:
            continue
        lines = ", ".join(str(numbers[i]) for i in pos[:10])
        same_place = all(shapely.equals_exact(geoms[pos[0]], geoms[i], 1e-9) for i in pos[1:])
        if cats.iloc[pos].duplicated().any() or not same_place:
            problems.append(
                f"id {fid!r} is given to {len(pos)} rows (lines {lines}); give every facility "
                "its own id (one facility in two categories: the same id and location on a row "
                "per category)"
            )
    return problems


def read_capacity(
    values: pd.Series, path: Path, option: str, *, where: str, numbers: np.ndarray | None = None
) -> np.ndarray:
    """A facility list's ``capacity`` column (seats, beds, places) as numbers, NaN where a
    cell is empty (a facility whose capacity is not known).

    Raises
    ------
    InputError
        Listing every cell that is not a positive number (``where`` says what rows are:
        ``lines`` of a CSV or ``features`` of a layer; ``numbers`` numbers them, from 1 by
        default).
    """
    raw = values.reset_index(drop=True)
    if numbers is None:
        numbers = np.arange(len(raw), dtype=np.int64) + 1
    text = raw.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    text = text.str.strip().str.replace(",", "", regex=False)
    num = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero((text != "").to_numpy() & ~(np.isfinite(num) & (num > 0)))
    if len(bad):
        problems = [
            f"{where[:-1]} {numbers[i]}: capacity {raw.iloc[i]!r} is not a positive number"
            for i in bad
        ]
        raise rejected_capacity_error(problems, path, option)
    return num


def rejected_capacity_error(problems: list[str], path: Path, option: str) -> InputError:
    """The error for capacity cells that are not positive numbers."""
    shown = "\n".join(f"  - {p}" for p in problems[:30])
    more = f"\n  - … and {len(problems) - 30} more" if len(problems) > 30 else ""
    return InputError(
        f"{option} {path}: {len(problems)} capacity value(s) rejected\n{shown}{more}\n"
        "Give the capacity (seats, beds, places) as a number above 0, without units, or leave "
        "the cell empty where it is not known."
    )


def read_facilities_file(
    path: str | Path,
    *,
    crs: Declared | str | int | None = None,
    encoding: str | None = None,
    option: str = "--facilities",
    label: str | None = None,
    category: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a user's facility list, returned in WGS 84.

    CSV columns ``id,category,name,lon,lat`` (or Chinese headers such as 类别, 名称, 经度, 纬度) in
    the declared system (WGS 84 by default; any EPSG code; ``gcj02`` / ``bd09`` converted here).
    Vector layers need ``category``; ``id`` and ``name`` are optional. An optional ``capacity``
    column (or 床位, 座位, 容量, 名额 …) gives each facility's seats, beds or places; an empty
    cell means unknown. Refused, with line
    numbers: a file without rows, rows with bad coordinates, without a category or without a
    geometry, and one id on several rows (unless one facility is listed once per category).
    Rows without an id get ``line<N>``. Ids are prefixed with ``label`` (the file's name by
    default), which is also the facilities' ``source``.

    Parameters
    ----------
    path
        The CSV, GeoJSON, GeoPackage or Shapefile.
    crs
        The coordinate system the file is in when it does not say: ``"EPSG:4549"``, ``"gcj02"``,
        ``"bd09"`` … (WGS 84 by default).
    encoding
        The CSV's text encoding (detected when not given: UTF-8, GB18030 …).
    option
        How the file is named in messages.
    label
        The prefix of the ids and the facilities' ``source`` (the file's name by default).
    category
        Every row is of this category (a list of candidate sites): the file needs no category
        column, and one it has is not read.

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id`` (``<file name>:<id>``), ``category``, ``name``, ``source``,
        ``capacity`` (seats, beds or places; NaN where the file gives none), geometry.

    Raises
    ------
    InputError
        When the file cannot be read, lacks a category, or has rows with bad coordinates (all
        listed with their line numbers).

    Examples
    --------
    >>> read_facilities_file("canteens.csv", crs="gcj02")  # doctest: +SKIP
    """
    if not isinstance(crs, Declared):
        crs = parse_crs(crs, f"{option}-crs")
    declared = crs or Declared()
    p = check_file(path, option)
    label = label or p.name
    gdf, where = _facility_rows(p, option, declared, encoding=encoding, category=category)
    # a CSV's rows by the line they start on (the header is line 1), a layer's from 1
    numbers = row_numbers(gdf) if where == "lines" else np.arange(len(gdf), dtype=np.int64) + 1
    cats = _categories_of(gdf, p, option, where=where, numbers=numbers)
    ids = _ids_of(gdf, cats, p, option, where=where, numbers=numbers)
    capacity = _capacities_of(gdf, p, option, where=where, numbers=numbers)
    out = gpd.GeoDataFrame(
        {
            "facility_id": [f"{label}:{i}" for i in ids],
            "category": cats.to_numpy(),
            "name": text_ids(gdf["name"], strip=False).to_numpy() if "name" in gdf.columns else "",
            "source": label,
            "capacity": capacity,
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    ).to_crs(4326)
    out.attrs["declared"] = declared.label()
    log.info("read %d facilities from %s (%s)", len(out), p.name, declared.label())
    return out


def _facility_rows(
    p: Path, option: str, declared: Declared, *, encoding: str | None, category: str | None
) -> tuple[gpd.GeoDataFrame, str]:
    """The file's rows with their geometries, and what its rows are called in messages
    (``lines`` of a CSV, ``features`` of a vector layer)."""
    if p.suffix.lower() in (".csv", ".txt"):
        return _csv_rows(p, option, declared, encoding=encoding, category=category), "lines"
    if p.suffix.lower() in VECTOR_SUFFIXES:
        return _vector_rows(p, option, declared, category=category), "features"
    raise InputError(
        f"{option} {p}: unknown file type {p.suffix!r}; give .csv, .geojson, .gpkg or .shp"
    )


def _csv_rows(
    p: Path, option: str, declared: Declared, *, encoding: str | None, category: str | None
) -> gpd.GeoDataFrame:
    """A facility CSV's rows as points in WGS 84 (GCJ-02 / BD-09 converted)."""
    df = _coordinates_of(read_csv_text(p, option, encoding), declared.china)
    if category is not None:
        df["category"] = category
    missing = [c for c in ("category", "lon", "lat") if c not in df.columns]
    if missing:
        raise InputError(
            f"{option} {p}: missing column(s) {', '.join(missing)}; a facility CSV needs "
            "id,category,name,lon,lat (or 编号,类别,名称,经度,纬度)"
        )
    if not len(df):
        raise InputError(
            f"{option} {p}: the file has a header but no rows; add the rows, or drop this "
            f"{option} file"
        )
    # a list of one category (--candidates) needs no category column
    columns = FACILITY_CSV_COLUMNS if category is None else "id,name,lon,lat"
    geom = rows_to_points(df, p, option, declared, columns)
    gdf = gpd.GeoDataFrame(df, geometry=geom, crs=declared.crs or CRS.from_epsg(4326))
    gdf = to_wgs84_geoms(gdf, declared.china)
    gdf.attrs["lines"] = df.attrs.get("lines")  # for messages: the lines the rows start on
    return gdf


def _vector_rows(
    p: Path, option: str, declared: Declared, *, category: str | None
) -> gpd.GeoDataFrame:
    """A facility layer's features, with normalised headers; refused without a feature, a
    category column or a geometry on each feature."""
    gdf = read_vector(p, option, declared)
    names = normalise_headers([c for c in gdf.columns if c != "geometry"])
    gdf = gdf.rename(columns=names).set_geometry("geometry")
    if category is not None:
        gdf["category"] = category
    if not len(gdf):
        raise InputError(
            f"{option} {p}: the layer holds no feature; add the features, or drop this "
            f"{option} file"
        )
    if "category" not in gdf.columns:
        raise InputError(f"{option} {p}: needs a 'category' (类别) column")
    empty = empty_rows(gdf)
    if len(empty):
        raise InputError(
            f"{option} {p}: {len(empty)} feature(s) without a geometry (features "
            f"{', '.join(str(i + 1) for i in empty[:20])}); give each a location or remove it"
        )
    return gdf


def _categories_of(
    gdf: gpd.GeoDataFrame, p: Path, option: str, *, where: str, numbers: np.ndarray
) -> pd.Series:
    """Each row's category, cleaned; refused where one is empty."""
    # a category is a key: control characters pasted with it (BEL, NUL …) are not part of it
    cats = text_ids(gdf["category"]).str.replace(r"[\x00-\x1f\x7f]", "", regex=True)
    cats = cats.str.strip().reset_index(drop=True)
    empty_cat = np.flatnonzero((cats == "").to_numpy())
    if len(empty_cat):
        rows = ", ".join(str(numbers[i]) for i in empty_cat[:20])
        raise InputError(f"{option} {p}: rows without a category ({where} {rows}); fill them in")
    return cats


def _ids_of(
    gdf: gpd.GeoDataFrame, cats: pd.Series, p: Path, option: str, *, where: str, numbers: np.ndarray
) -> pd.Series:
    """Each row's id (``line<N>`` where it has none); refused where one id is on several rows."""
    if "id" in gdf.columns:
        ids = text_ids(gdf["id"]).reset_index(drop=True)
        ids = ids.where(ids != "", [f"line{n}" for n in numbers])
    else:
        ids = pd.Series([f"line{n}" for n in numbers], dtype=object)
    dup = _duplicate_id_problems(ids, cats, gdf.geometry.to_numpy(), numbers)
    if dup:
        if where == "features":
            dup = [m.replace("(lines", "(features") for m in dup]
        raise rejected_rows_error(dup, p, option, FACILITY_CSV_COLUMNS)
    return ids


def _capacities_of(
    gdf: gpd.GeoDataFrame, p: Path, option: str, *, where: str, numbers: np.ndarray
) -> np.ndarray:
    """Each row's capacity (NaN where unknown, or for all rows without a capacity column)."""
    if "capacity" in gdf.columns:
        return read_capacity(gdf["capacity"], p, option, where=where, numbers=numbers)
    return np.full(len(gdf), np.nan)


def _coordinates_of(df: pd.DataFrame, system: str | None) -> pd.DataFrame:
    """A list with WGS 84 ``lon``/``lat`` and also ``lon_gcj02``/``lat_gcj02`` (as
    ``lifecircle site`` writes ``sites.csv``) read as GCJ-02 takes the GCJ-02 pair: the columns
    that say they are in the declared system win over the plain ones."""
    pair = [f"lon_{system}", f"lat_{system}"] if system else []
    if not pair or not set(pair) <= set(df.columns):
        return df
    return df.drop(columns=["lon", "lat"], errors="ignore").rename(
        columns={pair[0]: "lon", pair[1]: "lat"}
    )


def read_facilities_files(
    paths: tuple[str | Path, ...] | list[str | Path],
    *,
    crs: Declared | None = None,
    encoding: str | None = None,
) -> list[tuple[Path, gpd.GeoDataFrame]]:
    """Every ``--facilities`` file, in WGS 84, with its path.

    The same file given twice is refused. Files of the same name in different folders are told
    apart by their folder (``a/shops.csv``, ``b/shops.csv``), so that every facility id is unique
    across the files.
    """
    resolved = [Path(f).resolve() for f in paths]
    seen: dict[Path, str] = {}
    for f, r in zip(paths, resolved, strict=True):
        if r in seen:
            raise InputError(
                f"--facilities {f}: given twice (also as {seen[r]}); its facilities would be "
                "counted twice, give each file once"
            )
        seen[r] = str(f)
    names = [r.name for r in resolved]
    labels = []
    for r in resolved:
        if names.count(r.name) == 1:
            labels.append(r.name)
            continue
        parts = r.parts
        depth = 2
        while depth <= len(parts):
            lab = "/".join(parts[-depth:])
            if sum("/".join(o.parts[-depth:]) == lab for o in resolved) == 1:
                break
            depth += 1
        labels.append(lab)
    return [
        (Path(f), read_facilities_file(f, crs=crs, encoding=encoding, label=lab))
        for f, lab in zip(paths, labels, strict=True)
    ]


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


@dataclass(frozen=True)
class FileCheck:
    """What checking one user facility list found: how many of its facilities lie beyond the
    reach buffer (``None`` when it was not checked), the GCJ-02 warning, and the evidence for it
    (see :func:`gcj02_evidence`)."""

    outside: int | None = None
    note: str | None = None
    gcj02: dict[str, Any] = field(default_factory=dict)
    outside_ids: tuple[str, ...] = ()  # the facilities beyond the buffer, as the notes list them


def check_user_facilities(
    fac: gpd.GeoDataFrame,
    path: Path,
    declared: Declared,
    net: Network,
    buffer_m: shapely.Geometry,
    crs: CRS,
    settings: Settings,
    *,
    refuse_if_outside: bool = True,
) -> FileCheck:
    """Refuse a file whose points all fall far from the area (a wrong declared CRS), and warn when
    a file declared WGS 84 sits where GCJ-02 coordinates would: shifted by the same few hundred
    metres, so that converting it as GCJ-02 brings most points onto the streets.

    Returns
    -------
    FileCheck
    """
    if not len(fac):
        return FileCheck()
    pts = fac.to_crs(crs)
    inside = pts.intersects(buffer_m).to_numpy()
    if not inside.any() and not refuse_if_outside:
        return FileCheck()
    if not inside.any():
        c = fac.geometry.union_all().centroid
        raise InputError(
            f"--facilities {path}: none of its {len(fac)} points falls in the analysis area when "
            f"read as {declared.label()} (they centre on lon {c.x:.4f}, lat {c.y:.4f}); check "
            "--facilities-crs (Amap/Tencent lists are gcj02, Baidu lists bd09)"
        )
    if refuse_if_outside:  # a list cut to a district's box: the rest lies outside, rightly
        _refuse_swapped(fac, inside, path, declared, buffer_m, crs)
    outside = int((~inside).sum())
    ids = tuple(fac.loc[~inside, "facility_id"].astype(str))
    found = FileCheck(outside, outside_ids=ids)
    if declared.china or (declared.crs is not None and not declared.crs.is_geographic):
        return found
    xy = shapely.get_coordinates(fac.geometry.representative_point().to_numpy())
    if not (73 <= np.median(xy[:, 0]) <= 135.5 and 17 <= np.median(xy[:, 1]) <= 54):
        return found
    ev = gcj02_evidence(xy, net, crs)
    if ev["looks_gcj02"]:
        msg = note(
            "looks_gcj02",
            file=path.name,
            median_m=ev["median_m_as_given"],
            median_gcj02_m=ev["median_m_read_as_gcj02"],
            median_elsewhere_m=ev["median_m_shifted_elsewhere"],
        )
        log.warning(msg)
        return FileCheck(outside, msg, ev, ids)
    bd = gcj02_evidence(xy, net, crs, system="bd09")  # a Baidu list, 100-500 m further off
    ev = ev | {k: v for k, v in bd.items() if "bd09" in k}
    if bd["looks_bd09"]:
        msg = note(
            "looks_bd09",
            file=path.name,
            median_m=bd["median_m_as_given"],
            median_bd09_m=bd["median_m_read_as_bd09"],
            median_elsewhere_m=bd["median_m_shifted_elsewhere"],
        )
        log.warning(msg)
        return FileCheck(outside, msg, ev, ids)
    return FileCheck(outside, None, ev, ids)


def _refuse_swapped(
    fac: gpd.GeoDataFrame,
    inside: np.ndarray,
    path: Path,
    declared: Declared,
    buffer_m: shapely.Geometry,
    crs: CRS,
) -> None:
    """Refuse a list whose points beyond the area would lie inside it with longitude and
    latitude exchanged: swapped columns that are both in range (lon 60.17, lat 24.94) pass
    every other check, and the facility would be left out as far away."""
    if declared.crs is not None and not declared.crs.is_geographic:
        return
    pts = np.flatnonzero(~inside & (fac.geometry.geom_type == "Point").to_numpy())
    if not len(pts):
        return
    xy = shapely.get_coordinates(fac.geometry.to_numpy()[pts])
    flipped = gpd.GeoSeries(shapely.points(xy[:, 1], xy[:, 0]), crs="EPSG:4326").to_crs(crs)
    swapped = pts[flipped.intersects(buffer_m).to_numpy()]
    if not len(swapped):
        return
    ids = fac["facility_id"].astype(str).to_numpy()[swapped]
    listed = ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")
    raise InputError(
        f"--facilities {path}: {len(ids)} point(s) lie outside the analysis area but would lie "
        f"inside it with longitude and latitude exchanged ({listed}): the columns look "
        "swapped; fix these rows (lon is the x, east-west coordinate)"
    )


GCJ02_GAIN_RATIO = 0.5
"""Read as GCJ-02, a list's median distance to the streets must drop below this fraction of both
its distance as given and its distance after the same shift in other directions."""
GCJ02_MIN_GAIN_M = 3.0  # and by at least this many metres: not a rounding difference
GCJ02_CAP_M = 500.0  # distances are measured up to this far (farther counts as this far)


def gcj02_evidence(
    lonlat: np.ndarray, net: Network, crs: CRS, *, system: str = "gcj02"
) -> dict[str, Any]:
    """Does a list read as WGS 84 sit where GCJ-02 (or, with ``system="bd09"``, Baidu's BD-09)
    coordinates would?

    Compares the median distance from the points to the walk network as given, after the
    GCJ-02 → WGS 84 inverse, and after the same displacement turned by 90°, 180° and 270° (a
    control: how far points land from the streets after a shift of that length that is *not*
    the GCJ-02 one, which is what street density alone gives). A GCJ-02 list comes much closer
    to the streets with the inverse than both as given and with the controls; a WGS 84 list does
    not, however dense the streets are — so no fixed distance in metres is needed.

    Parameters
    ----------
    lonlat
        (n, 2) longitudes and latitudes as read.
    net
        The walk network (metric CRS ``crs``).
    crs
        The metric CRS.

    Returns
    -------
    dict
        The three medians (metres, capped at :data:`GCJ02_CAP_M`), the median shift length and
        ``looks_gcj02``.
    """
    to_m = partial(_metric_xy, crs=crs)
    as_is = to_m(lonlat)
    back = gcj02_to_wgs84 if system == "gcj02" else bd09_to_wgs84
    shifted = to_m(np.column_stack(back(lonlat[:, 0], lonlat[:, 1])))
    delta = shifted - as_is

    def median_m(xy: np.ndarray) -> float:
        leg = snap_points(shapely.points(xy), net, max_snap_m=GCJ02_CAP_M).leg_m
        return float(np.median(np.where(np.isfinite(leg), leg, GCJ02_CAP_M)))

    d_given, d_gcj = median_m(as_is), median_m(shifted)
    quarter = np.column_stack([-delta[:, 1], delta[:, 0]])  # the shift turned by 90°
    turns = [quarter, -delta, -quarter]
    d_ctrl = float(np.median([median_m(as_is + d) for d in turns]))
    looks = (
        d_gcj < GCJ02_GAIN_RATIO * d_given
        and d_gcj < GCJ02_GAIN_RATIO * d_ctrl
        and d_given - d_gcj >= GCJ02_MIN_GAIN_M
    )
    return {
        "points": len(lonlat),
        "median_m_as_given": round(d_given, 2),
        f"median_m_read_as_{system}": round(d_gcj, 2),
        "median_m_shifted_elsewhere": round(d_ctrl, 2),
        "median_shift_m": round(float(np.median(np.hypot(delta[:, 0], delta[:, 1]))), 1),
        f"looks_{system}": bool(looks),
    }


def _metric_xy(lonlat: np.ndarray, *, crs: CRS) -> np.ndarray:
    pts = gpd.GeoSeries(shapely.points(lonlat), crs=4326).to_crs(crs)
    return shapely.get_coordinates(pts.to_numpy())
