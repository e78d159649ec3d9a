"""Shared helpers for reading user files (vector layers and CSV) with a declared CRS."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from lifecircle._validate import check_file as check_file  # re-exported for the readers
from lifecircle.chinacoords import to_wgs84
from lifecircle.errors import CRSError, InputError

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet")


@dataclass(frozen=True)
class Declared:
    """A coordinate system the user declared: a pyproj CRS, or one of the Chinese offset systems
    (``gcj02`` for Amap/Tencent, ``bd09`` for Baidu), which are longitude/latitude pairs that
    lifecircle converts to WGS 84 itself (pyproj cannot)."""

    crs: CRS | None = None
    china: str | None = None

    def label(self) -> str:
        if self.china:
            return self.china
        return self.crs.to_string() if self.crs is not None else "unstated"


def parse_crs(value: str | int | None, option: str) -> Declared:
    """``EPSG:4326``, ``4326``, ``gcj02``, ``bd09`` or anything pyproj understands."""
    if value is None or value == "":
        return Declared()
    v = str(value).strip()
    key = v.lower().replace("-", "").replace("_", "")
    if key in ("gcj02", "bd09"):
        return Declared(crs=CRS.from_epsg(4326), china=key)
    try:
        return Declared(crs=CRS.from_user_input(int(v) if v.isdigit() else v))
    except ProjCRSError as exc:
        raise CRSError(
            f"{option} {value!r}: not a coordinate reference system pyproj knows; give an EPSG "
            "code such as EPSG:4326, or gcj02 (Amap, Tencent) / bd09 (Baidu)"
        ) from exc


def to_wgs84_geoms(gdf: gpd.GeoDataFrame, china: str | None) -> gpd.GeoDataFrame:
    """Convert every coordinate of a lon/lat layer declared GCJ-02 or BD-09 to WGS 84."""
    if not china:
        return gdf

    def conv(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1], china)
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out["geometry"] = shapely.transform(gdf.geometry.to_numpy(), conv)
    return out.set_crs(4326, allow_override=True)


def read_vector(path: Path, option: str, declared: Declared) -> gpd.GeoDataFrame:
    """Read a vector layer; it must carry a CRS or the user must declare one. Layers declared
    GCJ-02 / BD-09 must be longitude/latitude and are converted to WGS 84."""
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise InputError(
            f"{option} {path}: cannot be read as a vector layer ({exc}); give a GeoJSON, "
            "GeoPackage or Shapefile"
        ) from exc
    if declared.china:
        if gdf.crs is not None and not gdf.crs.is_geographic:
            raise CRSError(
                f"{option} {path}: declared {declared.china} but the file is in "
                f"{gdf.crs.to_string()}, a projected CRS; {declared.china} coordinates are "
                "longitude/latitude"
            )
        gdf = gdf.set_crs(4326, allow_override=True)
    elif gdf.crs is None:
        if declared.crs is None:
            raise CRSError(
                f"{option} {path}: the file states no coordinate reference system; declare it "
                f"(e.g. {option}-crs EPSG:4326, or gcj02 / bd09) or add a .prj / CRS to the file"
            )
        gdf = gdf.set_crs(declared.crs)
    elif declared.crs is not None and not gdf.crs.equals(declared.crs):
        raise CRSError(
            f"{option} {path}: the file says its CRS is {gdf.crs.to_string()} but "
            f"{declared.crs.to_string()} was declared; drop the option or fix the file"
        )
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].copy()
    return to_wgs84_geoms(gdf, declared.china)


ENCODINGS = ("utf-8", "gb18030")

# header aliases users' files carry (Chinese and English variants) -> our column keys
HEADER_ALIASES = {
    "id": ("id", "编号", "序号", "编码", "代码", "设施编号", "poi_id", "poiid", "uid", "code"),
    "name": ("name", "名称", "名字", "设施名称", "单位名称", "poi名称", "title"),
    "category": ("category", "类别", "类型", "分类", "设施类别", "设施类型", "type", "kind"),
    "lon": ("lon", "lng", "longitude", "long", "经度", "x", "wgs84_lon", "gcj02_lon", "bd09_lon"),
    "lat": ("lat", "latitude", "纬度", "y", "wgs84_lat", "gcj02_lat", "bd09_lat"),
    "weight": ("weight", "权重", "人口", "人数", "常住人口", "population", "pop"),
}


def normalise_headers(columns: list[str]) -> dict[str, str]:
    """Map a file's headers to our keys (``经度`` -> ``lon``); unknown headers keep their name."""
    lookup = {alias.lower(): key for key, aliases in HEADER_ALIASES.items() for alias in aliases}
    out: dict[str, str] = {}
    taken: set[str] = set()
    for c in columns:
        norm = unicodedata.normalize("NFKC", str(c)).strip().lower()
        key = lookup.get(norm, norm)
        if key in taken:  # two columns claim the same key: keep the first, leave the other
            key = norm
        taken.add(key)
        out[c] = key
    return out


def detect_encoding(raw: bytes) -> str:
    """UTF-8 (with or without BOM) when the bytes decode as UTF-8, else GB18030 (a superset of
    GBK and GB2312). A GBK file is never decoded as UTF-8 by accident: its bytes are not valid
    UTF-8 in practice."""
    try:
        raw.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 or GB18030 text (byte {exc.start}); save it as UTF-8 or give --encoding"
        ) from exc


def read_csv_text(path: Path, option: str, encoding: str | None = None) -> pd.DataFrame:
    """A CSV with every column as text (codes keep their leading zeros), headers normalised to
    our keys, full-width characters (１２３．５) folded to ASCII in every cell."""
    raw = path.read_bytes()
    try:
        enc = encoding or detect_encoding(raw)
    except InputError as exc:
        raise InputError(f"{option} {path}: {exc}") from None
    try:
        text = raw.decode(enc)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(
            f"{option} {path}: cannot be decoded as {enc} ({exc}); fix --encoding or omit it "
            "to detect UTF-8 / GB18030"
        ) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except Exception as exc:
        raise InputError(f"{option} {path}: not a readable CSV file ({exc})") from exc
    df = df.rename(columns=normalise_headers(list(df.columns)))
    for c in df.columns:
        col = df[c].str.strip()
        if not col.str.isascii().all():  # fold full-width forms only where there are any
            col = col.map(lambda v: unicodedata.normalize("NFKC", v).strip())
        df[c] = col
    df.attrs["encoding"] = enc
    return df
