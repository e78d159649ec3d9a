"""Shared helpers for reading user files (vector layers and CSV) with a declared CRS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from lifecircle.errors import CRSError, InputError, InputFileError

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet")


def parse_crs(value: str | int | None, option: str) -> CRS | None:
    """A CRS from ``EPSG:4326``, ``4326`` or any string pyproj understands; ``None`` stays None."""
    if value is None or value == "":
        return None
    try:
        return CRS.from_user_input(int(value) if str(value).isdigit() else value)
    except ProjCRSError as exc:
        raise CRSError(
            f"{option} {value!r}: not a coordinate reference system pyproj knows; "
            "give an EPSG code such as EPSG:4326"
        ) from exc


def check_file(path: str | Path, option: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{option} {p}: no such file; check the path")
    if not p.is_file():
        raise InputFileError(f"{option} {p}: is not a file")
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputFileError(
            f"{option} {p}: cannot be read ({exc.strerror}); check permissions"
        ) from exc
    return p


def read_vector(path: Path, option: str, declared: CRS | None) -> gpd.GeoDataFrame:
    """Read a vector layer; it must carry a CRS or the user must declare one."""
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise InputError(
            f"{option} {path}: cannot be read as a vector layer ({exc}); give a GeoJSON, "
            "GeoPackage or Shapefile"
        ) from exc
    if gdf.crs is None:
        if declared is None:
            raise CRSError(
                f"{option} {path}: the file states no coordinate reference system; declare it "
                "(e.g. --facilities-crs EPSG:4326, or --communities-crs) or add a .prj / CRS"
            )
        gdf = gdf.set_crs(declared)
    elif declared is not None and not gdf.crs.equals(declared):
        raise CRSError(
            f"{option} {path}: the file says its CRS is {gdf.crs.to_string()} but "
            f"{declared.to_string()} was declared; drop the option or fix the file"
        )
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].copy()
    return gdf


def read_csv_text(path: Path, option: str) -> pd.DataFrame:
    """A CSV with every column as text (codes keep their leading zeros)."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
        except UnicodeDecodeError:
            continue
        except Exception as exc:
            raise InputError(f"{option} {path}: not a readable CSV file ({exc})") from exc
    raise InputError(f"{option} {path}: not UTF-8 or GB18030 text; save it as UTF-8")
