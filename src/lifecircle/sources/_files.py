"""Shared helpers for reading user files (vector layers and CSV) with a declared CRS."""

from __future__ import annotations

import csv
import io
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError
from pyproj.exceptions import ProjError

from lifecircle._validate import check_file as check_file  # re-exported for the readers
from lifecircle.chinacoords import to_wgs84
from lifecircle.errors import CRSError, InputError
from lifecircle.render.escape import QUOTE, csv_untext

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet")

log = logging.getLogger(__name__)


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


# the option that declares each file option's CRS (--place and --places have none)
CRS_OPTIONS = {
    o: f"{o}-crs"
    for o in ("--communities", "--area", "--population", "--facilities", "--districts")
}


def usable_crs(crs: CRS) -> bool:
    """Whether coordinates in ``crs`` can be brought to WGS 84: not a local (engineering)
    Cartesian system such as GDAL's ``LOCAL_CS["undefined"]``."""
    if crs.is_engineering:
        return False
    try:
        Transformer.from_crs(crs, 4326, always_xy=True)
    except ProjError:
        return False
    return True


def unusable_crs_error(crs: CRS, option: str, path: Path) -> CRSError:
    """The error for a file whose CRS cannot be related to the earth."""
    declare = CRS_OPTIONS.get(option)
    fix = (
        f"declare the real one with {declare} EPSG:xxxx (for example EPSG:4549, CGCS2000 "
        "3-degree Gauss-Kruger CM 120E) or reproject the file (ogr2ogr -t_srs EPSG:4326)"
        if declare
        else "reproject the file to a known CRS (ogr2ogr -t_srs EPSG:4326)"
    )
    return CRSError(
        f"{option} {path}: the file's coordinate reference system is {crs.name!r}, a local "
        f"system with no link to the earth, so its coordinates cannot be placed on a map; {fix}"
    )


def read_vector(path: Path, option: str, declared: Declared) -> gpd.GeoDataFrame:
    """Read a vector layer; it must carry a CRS or the user must declare one. Layers declared
    GCJ-02 / BD-09 must be longitude/latitude and are converted to WGS 84.

    A file whose CRS is a local Cartesian one (no link to the earth) is refused, unless the user
    declares the real CRS, which then replaces it. Features without a geometry, or with an empty
    one, are kept (``geometry`` None or empty): each reader decides whether to refuse them or to
    drop and report them (see :func:`empty_rows`).
    """
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise InputError(
            f"{option} {path}: cannot be read as a vector layer ({exc}); give a GeoJSON, "
            "GeoPackage or Shapefile"
        ) from exc
    if gdf.crs is not None and not usable_crs(gdf.crs):
        if declared.crs is None or declared.china:
            raise unusable_crs_error(gdf.crs, option, path)
        gdf = gdf.set_crs(declared.crs, allow_override=True)
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
    elif declared.crs is not None and gdf.crs.is_geographic and not _degrees(gdf):
        # GeoJSON is WGS 84 by definition, so GDAL says so of a file holding metres: the
        # declared CRS is what its numbers are
        gdf = gdf.set_crs(declared.crs, allow_override=True)
    elif declared.crs is not None and not gdf.crs.equals(declared.crs):
        raise CRSError(
            f"{option} {path}: the file says its CRS is {gdf.crs.to_string()} but "
            f"{declared.crs.to_string()} was declared; drop the option or fix the file"
        )
    if declared.crs is not None and not declared.china and not usable_crs(declared.crs):
        raise unusable_crs_error(declared.crs, CRS_OPTIONS.get(option, option), path)
    _check_lonlat_range(gdf, option, path)
    return to_wgs84_geoms(gdf, declared.china)


def _bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    geoms = gdf.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return (0.0, 0.0, 0.0, 0.0)
    x0, y0, x1, y1 = shapely.total_bounds(geoms[ok])
    return float(x0), float(y0), float(x1), float(y1)


def _degrees(gdf: gpd.GeoDataFrame) -> bool:
    """Whether every coordinate of the layer can be a longitude/latitude."""
    x0, y0, x1, y1 = _bounds(gdf)
    return x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90


def _check_lonlat_range(gdf: gpd.GeoDataFrame, option: str, path: Path) -> None:
    """Refuse a layer in longitude/latitude whose coordinates cannot be degrees: a GeoJSON
    holding metres (GeoJSON says WGS 84 whatever its numbers are) is read as degrees."""
    if gdf.crs is None or not gdf.crs.is_geographic or _degrees(gdf):
        return
    x0, y0, x1, y1 = _bounds(gdf)
    raise CRSError(
        f"{option} {path}: coordinates run from ({x0:.6g}, {y0:.6g}) to ({x1:.6g}, {y1:.6g}), "
        f"which cannot be longitude/latitude ({gdf.crs.name}): the numbers look like metres of "
        f"a projected CRS. Declare it, e.g. {CRS_OPTIONS.get(option, option + '-crs')} "
        "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E), or save the file with its CRS"
    )


def empty_rows(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Positions of the rows without a geometry or with an empty one."""
    geoms = gdf.geometry.to_numpy()
    return np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))


def coordinate_problems(
    x: pd.Series,
    y: pd.Series,
    raw_x: pd.Series,
    raw_y: pd.Series,
    *,
    geographic: bool,
    lines: np.ndarray | None = None,
) -> list[str]:
    """One message per CSV row whose coordinates are missing, not numbers, or (in a
    longitude/latitude system) out of range or swapped; ``lines`` numbers the rows
    (:func:`row_numbers`; from line 2 by default)."""
    if lines is None:
        lines = np.arange(len(x), dtype=np.int64) + 2
    problems: list[str] = []
    xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        fine = np.isfinite(xv) & np.isfinite(yv)
        if geographic:
            fine &= (np.abs(xv) <= 180) & (np.abs(yv) <= 90)
    for raw in (raw_x, raw_y):
        fine &= raw.astype(str).str.strip().ne("").to_numpy()
    # only the rows that fail a check are looked at one by one (50 k rows took 5 s that way)
    for i in np.flatnonzero(~fine):
        line = int(lines[i])
        rx, ry = raw_x.iloc[i], raw_y.iloc[i]
        xi, yi = x.iloc[i], y.iloc[i]
        if str(rx).strip() == "" or str(ry).strip() == "":
            problems.append(f"line {line}: missing lon or lat")
        elif not (np.isfinite(xi) and np.isfinite(yi)):
            problems.append(f"line {line}: lon/lat not numbers ({rx!r}, {ry!r})")
        elif not geographic:
            continue
        elif abs(yi) > 90 and abs(xi) <= 90 and abs(yi) <= 180:
            problems.append(
                f"line {line}: lat {yi} is out of range and lon {xi} would be a latitude: "
                "the columns look swapped"
            )
        elif abs(xi) > 180 or abs(yi) > 90:
            problems.append(f"line {line}: lon {xi} / lat {yi} out of range")
    return problems


def rows_to_points(
    df: pd.DataFrame, path: Path, option: str, declared: Declared, columns: str
) -> np.ndarray:
    """Points from a CSV's ``lon`` / ``lat`` text columns; every bad row is listed in one
    :class:`InputError` (``columns`` describes the columns the file needs, for the message)."""
    lon = pd.to_numeric(df["lon"].str.strip(), errors="coerce")
    lat = pd.to_numeric(df["lat"].str.strip(), errors="coerce")
    geographic = declared.crs is None or declared.crs.is_geographic
    problems = coordinate_problems(
        lon, lat, df["lon"], df["lat"], geographic=geographic, lines=row_numbers(df)
    )
    if problems:
        raise rejected_rows_error(problems, path, option, columns)
    return shapely.points(lon.to_numpy(dtype=float), lat.to_numpy(dtype=float))


def rejected_rows_error(problems: list[str], path: Path, option: str, columns: str) -> InputError:
    """One error listing a file's rejected rows (the first 30)."""
    shown = "\n".join(f"  - {p}" for p in problems[:30])
    more = f"\n  - … and {len(problems) - 30} more" if len(problems) > 30 else ""
    return InputError(
        f"{option} {path}: {len(problems)} row(s) rejected\n{shown}{more}\n"
        f"Fix or remove these rows (columns: {columns} in the declared CRS)."
    )


def text_ids(values: pd.Series, *, strip: bool = True) -> pd.Series:
    """Ids as text, ``""`` where missing: whole numbers read as floats (a numeric column with a
    null) keep their digits (``310101001001``, not ``310101001001.0``). Ids lose surrounding
    white space; names (``strip=False``) are kept as written, every character theirs."""
    if pd.api.types.is_float_dtype(values.dtype):
        v = values.to_numpy(dtype=float)
        finite = np.isfinite(v)
        if np.all(v[finite] == np.round(v[finite])):
            out = [f"{x:.0f}" if f else "" for x, f in zip(v, finite, strict=True)]
            return pd.Series(out, index=values.index, dtype=object)
    missing = values.isna().to_numpy()
    text = values.astype(str)
    if strip:
        text = text.str.strip()
    return text.where(~missing, "")


ENCODINGS = ("utf-8", "gb18030")

# header aliases users' files carry (Chinese and English variants) -> our column keys
HEADER_ALIASES = {
    "id": ("id", "编号", "序号", "编码", "代码", "设施编号", "poi_id", "poiid", "uid", "code"),
    "name": ("name", "名称", "名字", "设施名称", "单位名称", "poi名称", "title"),
    "category": ("category", "类别", "类型", "分类", "设施类别", "设施类型", "type", "kind"),
    "lon": ("lon", "lng", "longitude", "long", "经度", "x", "wgs84_lon", "gcj02_lon", "bd09_lon"),
    "lat": ("lat", "latitude", "纬度", "y", "wgs84_lat", "gcj02_lat", "bd09_lat"),
    "weight": ("weight", "权重", "人口", "人数", "常住人口", "population", "pop"),
    "capacity": (
        "capacity",
        "seats",
        "beds",
        "places",
        "容量",
        "床位",
        "床位数",
        "座位",
        "座位数",
        "餐位",
        "餐位数",
        "名额",
        "学位",
        "学位数",
    ),
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


#: the numeric columns of the inputs, whose decimal comma a semicolon-separated file may use
DECIMAL_COLUMNS = frozenset({"lon", "lat", "weight", "capacity"})


def csv_separator(text: str) -> str:
    """The separator of a CSV text: a comma, unless its header has none and holds semicolons
    or tabs (Excel saves "CSV" with semicolons where the decimal mark is a comma)."""
    header = text.split("\n", 1)[0]
    if "," in header:
        return ","
    return next((sep for sep in (";", "\t") if sep in header), ",")


def record_lines(text: str, sep: str = ",") -> np.ndarray:
    """The line of the file on which each data row of a CSV text starts, as an editor numbers
    them (the header is line 1): blank lines and line breaks inside quoted cells count."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts = []
    end = 0
    try:
        for row in reader:
            if row and (len(row) > 1 or row[0].strip()):  # pandas skips blank lines, spaces too
                starts.append(end + 1)
            end = reader.line_num
    except csv.Error:  # pandas read it, so it is a quirk of this parser: no lines known
        return np.empty(0, dtype=np.int64)
    return np.asarray(starts[1:], dtype=np.int64)


class RowLines:
    """The lines of :func:`record_lines`, as kept in a frame's ``attrs``: pandas copies
    ``attrs`` deeply into every frame derived from it and compares them when concatenating,
    so they are held here once (never copied) and compare by identity."""

    __slots__ = ("numbers",)

    def __init__(self, numbers: np.ndarray) -> None:
        self.numbers = numbers

    def __deepcopy__(self, memo: dict[int, object]) -> RowLines:
        return self  # never changed: shared


def row_numbers(df: pd.DataFrame) -> np.ndarray:
    """How messages number the rows of a CSV read by :func:`read_csv_text`: the line each
    starts on, or (when those are not known) the row's position from line 2."""
    lines = df.attrs.get("lines")
    if isinstance(lines, RowLines) and len(lines.numbers) == len(df):
        return lines.numbers
    return np.arange(len(df), dtype=np.int64) + 2


def read_csv_text(path: Path, option: str, encoding: str | None = None) -> pd.DataFrame:
    """A CSV with every column as text (codes keep their leading zeros), headers normalised to
    our keys, full-width characters (１２３．５) folded to ASCII in every cell, and the single
    quote that keeps a formula-like cell text (``'=SUM(A1)``, as a spreadsheet and
    :func:`lifecircle.render.escape.csv_text` write it) taken off."""
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
    sep = csv_separator(text)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
    except Exception as exc:
        raise InputError(f"{option} {path}: not a readable CSV file ({exc})") from exc
    lines = record_lines(text, sep)
    if len(lines) == len(df):
        df.attrs["lines"] = RowLines(lines)
    else:  # a quirk the two parsers read apart: rows are numbered from line 2
        log.debug("%s: %d rows, %d records by line; rows counted from 2", path, len(df), len(lines))
    df = df.rename(columns=normalise_headers(list(df.columns)))
    for c in df.columns:
        col = df[c].str.strip()
        if not col.str.isascii().all():  # fold full-width forms only where there are any
            col = col.map(lambda v: unicodedata.normalize("NFKC", v).strip())
        if col.str.startswith(QUOTE).any():  # '=1+1 is the text =1+1, as a spreadsheet reads
            col = col.map(csv_untext)  # it and as lifecircle's own CSVs write it
        df[c] = col
    if sep == ";":  # where Excel separates with semicolons, its decimal mark is a comma
        for c in DECIMAL_COLUMNS.intersection(df.columns):
            df[c] = df[c].str.replace(r"^([+-]?\d+),(\d+)$", r"\1.\2", regex=True)
    df.attrs["encoding"] = enc
    return df
