"""Read gated compounds (小区) and their gates: the user's files (``--compounds``, ``--gates``),
or what OpenStreetMap maps (``landuse=residential`` areas, closed ``barrier=wall|fence`` rings,
``barrier=gate|entrance`` and ``entrance=*`` nodes). Everything comes back in WGS 84; where the
gates are and which compound each belongs to is decided in :mod:`lifecircle.gates`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from lifecircle.errors import InputError
from lifecircle.sources._files import (
    VECTOR_SUFFIXES,
    Declared,
    check_file,
    empty_rows,
    read_csv_text,
    read_vector,
    rows_to_points,
    text_ids,
    to_wgs84_geoms,
)
from lifecircle.sources.osm import Feature

COMPOUND_COLUMNS = ["compound_id", "name", "source", "geometry"]
GATE_COLUMNS = ["gate_id", "compound_id", "source", "geometry"]
GATES_CSV_COLUMNS = "id,compound_id,lon,lat (or 编号,小区编号,经度,纬度)"
# id columns a user's file may name: the first present is used
_COMPOUND_IDS = ("compound_id", "小区编号", "小区id", "id", "编号")
_GATE_IDS = ("gate_id", "id", "编号", "出入口编号")


def _first(columns: Sequence[str], wanted: Sequence[str]) -> str | None:
    lower = {str(c).strip().lower(): str(c) for c in columns}
    return next((lower[w] for w in wanted if w in lower), None)


def _frame(data: dict[str, object], geom: object, columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=geom, crs="EPSG:4326")[columns]


def read_compounds(path: str | Path, *, crs: Declared) -> gpd.GeoDataFrame:
    """Compound polygons from a vector file, in WGS 84.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or Shapefile of polygons with an id column (``compound_id``,
        ``id`` or ``小区编号``) and optionally ``name``.
    crs
        The declared CRS (``--compounds-crs``; GCJ-02 / BD-09 are converted).

    Raises
    ------
    InputError
        When the file cannot be read, has no id column, rows without a polygon, or an id twice.
    """
    p = Path(path)
    option = "--compounds"
    check_file(p, option)
    if p.suffix.lower() not in VECTOR_SUFFIXES:
        raise InputError(
            f"{option} {p}: unknown file type {p.suffix!r}; give polygons as .geojson, .gpkg "
            "or .shp"
        )
    gdf = read_vector(p, option, crs)
    id_col = _first(list(gdf.columns), _COMPOUND_IDS)
    if id_col is None:
        raise InputError(
            f"{option} {p}: no id column; add one named compound_id (or id, 小区编号) holding "
            f"each compound's id (columns found: {', '.join(map(str, gdf.columns))})"
        )
    ids = text_ids(gdf[id_col])
    problems = [f"row {i + 1}: no geometry" for i in empty_rows(gdf)]
    kinds = gdf.geometry.geom_type.fillna("")
    problems += [
        f"row {i + 1} ({ids.iloc[i]}): a {kinds.iloc[i]}, not a polygon"
        for i in np.flatnonzero(~kinds.isin(["Polygon", "MultiPolygon", ""]).to_numpy())
    ]
    problems += [f"row {i + 1}: empty id" for i in np.flatnonzero(ids.eq("").to_numpy())]
    twice = sorted(set(ids[ids.duplicated() & ids.ne("")]))
    if twice:
        problems.append(f"id(s) given twice: {', '.join(twice[:20])}")
    if problems:
        raise InputError(
            f"{option} {p}: {len(problems)} problem(s)\n"
            + "\n".join(f"  - {x}" for x in problems[:30])
            + "\nGive one polygon per compound with a unique id."
        )
    name_col = _first(list(gdf.columns), ("name", "名称", "小区名称"))
    names = gdf[name_col].fillna("").astype(str) if name_col else pd.Series("", index=gdf.index)
    return _frame(
        {"compound_id": ids.to_numpy(), "name": names.to_numpy(), "source": f"file:{p.name}"},
        gdf.geometry.to_numpy(),
        COMPOUND_COLUMNS,
    )


def read_gates(path: str | Path, *, crs: Declared, encoding: str | None = None) -> gpd.GeoDataFrame:
    """Gate points from a CSV (``lon``/``lat``) or a vector file, in WGS 84.

    Parameters
    ----------
    path
        A CSV with ``lon,lat`` (or ``经度,纬度``), or point layer; an optional
        ``compound_id`` (or ``小区编号``) names the compound a gate belongs to, an optional
        ``id`` / ``gate_id`` names the gate (else ``gate-<line>``).
    crs
        The declared CRS (``--gates-crs``; GCJ-02 as Amap exports 小区出入口, BD-09).
    encoding
        The CSV's text encoding (UTF-8 or GB18030 are detected).

    Raises
    ------
    InputError
        When the file cannot be read or a row has no usable point.
    """
    p = Path(path)
    option = "--gates"
    check_file(p, option)
    if p.suffix.lower() in (".csv", ".txt"):
        df = read_csv_text(p, option, encoding)
        missing = [c for c in ("lon", "lat") if c not in df.columns]
        if missing or not len(df):
            raise InputError(
                f"{option} {p}: "
                + (f"missing column(s) {', '.join(missing)}" if missing else "no rows")
                + f"; a gates CSV needs {GATES_CSV_COLUMNS}"
            )
        geom = rows_to_points(df, p, option, crs, GATES_CSV_COLUMNS)
        gdf = gpd.GeoDataFrame(df, geometry=geom, crs=crs.crs or CRS.from_epsg(4326))
        gdf = to_wgs84_geoms(gdf, crs.china).to_crs(4326)
    elif p.suffix.lower() in VECTOR_SUFFIXES:
        gdf = read_vector(p, option, crs).to_crs(4326)
        bad = [int(i) + 1 for i in empty_rows(gdf)]
        bad += [int(i) + 1 for i in np.flatnonzero((gdf.geometry.geom_type != "Point").to_numpy())]
        if bad:
            raise InputError(
                f"{option} {p}: row(s) {', '.join(map(str, sorted(set(bad))[:20]))} hold no "
                "point; give one point per gate"
            )
    else:
        raise InputError(
            f"{option} {p}: unknown file type {p.suffix!r}; give .csv, .geojson, .gpkg or .shp"
        )
    return _gate_table(gdf, p)


def _gate_table(gdf: gpd.GeoDataFrame, p: Path) -> gpd.GeoDataFrame:
    cols = list(gdf.columns)
    id_col = _first(cols, _GATE_IDS)
    comp_col = _first(cols, ("compound_id", "小区编号", "小区id"))
    n = len(gdf)
    ids = text_ids(gdf[id_col]) if id_col else pd.Series([""] * n, index=gdf.index)
    ids = ids.where(ids.ne(""), pd.Series([f"gate-{i + 1}" for i in range(n)], index=gdf.index))
    twice = sorted(set(ids[ids.duplicated()]))
    if twice:
        raise InputError(
            f"--gates {p}: gate id(s) given twice: {', '.join(twice[:20])}; give each gate once"
        )
    comp = text_ids(gdf[comp_col]) if comp_col else pd.Series([""] * n, index=gdf.index)
    return _frame(
        {"gate_id": ids.to_numpy(), "compound_id": comp.to_numpy(), "source": f"file:{p.name}"},
        gdf.geometry.to_numpy(),
        GATE_COLUMNS,
    )


def compounds_from_osm(features: Sequence[Feature]) -> gpd.GeoDataFrame:
    """OSM compound polygons (``landuse=residential`` areas, closed walls and fences)."""
    polys = [f for f in features if f.geometry.geom_type in ("Polygon", "MultiPolygon")]
    return _frame(
        {
            "compound_id": [f"{f.osm_type}/{f.osm_id}" for f in polys],
            "name": [f.tags.get("name", "") for f in polys],
            "source": ["osm:barrier" if f.tags.get("barrier") else "osm:landuse" for f in polys],
        },
        [f.geometry for f in polys],
        COMPOUND_COLUMNS,
    )


def gates_from_osm(features: Sequence[Feature]) -> gpd.GeoDataFrame:
    """OSM gate nodes (``barrier=gate|entrance``, ``entrance=*``); gates tagged ``access=no``
    (closed to everyone) are left out, ``access=private`` ones kept (residents may pass)."""
    open_ = [f for f in features if f.tags.get("access") != "no"]
    return _frame(
        {
            "gate_id": [f"node/{f.osm_id}" for f in open_],
            "compound_id": [""] * len(open_),
            "source": ["osm"] * len(open_),
        },
        [f.geometry for f in open_],
        GATE_COLUMNS,
    )
