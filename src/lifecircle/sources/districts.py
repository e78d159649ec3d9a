"""Districts for a batch run: polygons with a code and a name, from one vector file (a feature
per district) or a folder of files (a file per district, named by its code), and the rule that
gives every community to one district."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle._validate import Problems
from lifecircle.errors import InputError
from lifecircle.sources._files import VECTOR_SUFFIXES, Declared, check_file, read_vector

ID_COLUMNS = ("code", "adcode", "district_code", "district_id", "id", "区划代码", "代码", "编码")
NAME_COLUMNS = ("name", "district_name", "名称", "区名", "name:zh")
RESERVED = {  # what a batch folder holds besides district folders
    "batch_manifest.json",
    "city_coverage.csv",
    "city_summary.json",
    "city_map.html",
    "city_districts.geojson",
    "cache",
    "_cache",
}


@dataclass(frozen=True)
class District:
    """One district: text id (a 6- or 9-digit code, or any text), name, WGS 84 polygon, and the
    name of its output folder."""

    district_id: str
    name: str
    geometry: BaseGeometry
    dirname: str


def safe_dirname(district_id: str, name: str) -> str:
    """A folder name ``<id>_<name>`` that cannot leave its parent: separators, ``..``, control
    and shell-special characters become ``_``; letters of any script are kept; at most 80
    characters."""
    raw = district_id if not name or name == district_id else f"{district_id}_{name}"
    s = unicodedata.normalize("NFKC", raw)
    s = re.sub(r"[^\w\-.]+", "_", s)  # \w is Unicode-aware: 黄浦区 stays readable
    s = re.sub(r"_+", "_", re.sub(r"\.{2,}", "_", s)).strip("._ ")
    return s[:80] or "district"


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted if wanted in columns else None
    lower = {c.lower(): c for c in columns}
    return next((lower[c] for c in candidates if c in lower), None)


def read_districts(
    path: str | Path,
    *,
    id_column: str | None = None,
    name_column: str | None = None,
    crs: Declared | None = None,
) -> list[District]:
    """Read districts from a vector file or a folder of vector files.

    In a folder each file is one district (its features are merged); the id is the file's
    ``id_column`` value when it has one, else the file name without suffix. Every problem found
    (duplicate or missing ids, empty geometries, a missing column) is reported at once.
    """
    option = "--districts"
    p = Path(path)
    if p.is_dir():
        table = _read_folder(p, option, id_column, name_column, crs)
    else:
        table = _read_file(p, option, id_column, name_column, crs)
    _check_ids(table, f"{option} {p}")
    return _to_districts(table)


def _read_folder(
    p: Path, option: str, id_column: str | None, name_column: str | None, crs: Declared | None
) -> pd.DataFrame:
    """One row per vector file of folder ``p``: its features merged into one district."""
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in VECTOR_SUFFIXES)
    if not files:
        raise InputError(
            f"{option} {p}: the folder holds no vector file ({', '.join(VECTOR_SUFFIXES)})"
        )
    frames = []
    for f in files:
        g = read_vector(f, option, crs or Declared()).to_crs(4326)
        idc = _pick(list(g.columns), id_column, ID_COLUMNS)
        nc = _pick(list(g.columns), name_column, NAME_COLUMNS)
        did = str(g[idc].iloc[0]).strip() if idc and len(g) else f.stem
        name = str(g[nc].iloc[0]).strip() if nc and len(g) else did
        geom = shapely.union_all(shapely.make_valid(g.geometry.to_numpy())) if len(g) else None
        frames.append({"id": did, "name": name, "geometry": geom, "source": f.name})
    return pd.DataFrame(frames)


def _read_file(
    p: Path, option: str, id_column: str | None, name_column: str | None, crs: Declared | None
) -> pd.DataFrame:
    """One row per feature of the vector file ``p``."""
    f = check_file(p, option)
    g = read_vector(f, option, crs or Declared()).to_crs(4326)
    cols = [c for c in g.columns if c != "geometry"]
    idc = _pick(cols, id_column, ID_COLUMNS)
    if idc is None:
        raise InputError(
            f"{option} {f}: no district id column ({id_column or ', '.join(ID_COLUMNS[:5])}); "
            f"the file has {', '.join(cols) or 'no attribute columns'}. Name it with "
            "--district-id-column"
        )
    nc = _pick(cols, name_column, NAME_COLUMNS)
    if name_column is not None and nc is None:
        raise InputError(f"{option} {f}: no column {name_column!r}; the file has {cols}")
    ids = g[idc].astype("string").str.strip()
    return pd.DataFrame(
        {
            "id": ids.fillna("").to_numpy(),
            "name": (g[nc].astype(str).str.strip() if nc else ids).fillna("").to_numpy(),
            "geometry": [shapely.make_valid(x) if x is not None else None for x in g.geometry],
            "source": [f"feature {i + 1}" for i in range(len(g))],
        }
    )


def _check_ids(table: pd.DataFrame, where: str) -> None:
    """Raise for duplicate or missing district ids, all of them at once."""
    problems = Problems(where)
    dup = table["id"][table["id"].duplicated(keep=False)]
    if len(dup):
        problems.add(
            f"duplicate district ids {sorted(set(dup))[:10]}: every district needs its own "
            "(codes are text: 6 digits for a 区县, 9 for a 街道)"
        )
    blank = table["source"][table["id"] == ""]
    if len(blank):
        problems.add(f"districts without an id: {', '.join(blank[:10])}")
    problems.raise_if_any()


def _to_districts(table: pd.DataFrame) -> list[District]:
    """The districts of ``table``: polygon parts only, each with its own safe folder name."""
    out: list[District] = []
    used: set[str] = set()
    for did, name, geom in table[["id", "name", "geometry"]].itertuples(index=False):
        polys = (
            [x for x in shapely.get_parts(geom) if x.geom_type in ("Polygon", "MultiPolygon")]
            if geom is not None
            else []
        )
        geom = shapely.union_all(polys) if polys else shapely.Polygon()
        folder = safe_dirname(did, name)
        if folder.lower() in RESERVED:  # a district named like a file of the batch folder
            folder = f"{folder}_district"
        if folder in used:  # two ids that only differ in characters made safe
            folder = f"{folder}_{len(used)}"
        used.add(folder)
        out.append(District(did, name, geom, folder))
    return out


#: an overlap of two districts worth saying: this much of the smaller one, and at least
#: OVERLAP_MIN_M2 (digitising slivers along a shared border are not)
OVERLAP_SHARE = 0.01
OVERLAP_MIN_M2 = 10_000.0


def overlapping(districts: list[District]) -> list[dict[str, object]]:
    """The pairs of districts that overlap (:data:`OVERLAP_SHARE` of the smaller one, at least
    :data:`OVERLAP_MIN_M2`): their residents and facilities there count in both districts,
    and twice in the city's totals."""
    from lifecircle.crs import metric_crs

    geoms = [d.geometry for d in districts]
    if len(geoms) < 2:
        return []
    c = shapely.union_all(geoms).centroid
    if c.is_empty:
        return []
    metric = gpd.GeoSeries(geoms, crs=4326).to_crs(metric_crs(c.x, c.y)).to_numpy()
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    out = []
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        shared = float(shapely.intersection(metric[i], metric[j]).area)
        smaller = min(float(metric[i].area), float(metric[j].area))
        if shared >= max(OVERLAP_MIN_M2, OVERLAP_SHARE * smaller):
            out.append(
                {
                    "districts": [districts[i].district_id, districts[j].district_id],
                    "overlap_m2": round(shared),
                    "share_of_smaller": round(shared / smaller, 4) if smaller else None,
                }
            )
    return out


def assign_communities(
    communities: gpd.GeoDataFrame, districts: list[District]
) -> tuple[np.ndarray, str]:
    """The index of the district each community belongs to (-1: none), and the rule used.

    By code prefix when every community id is a 12-digit code and every district id a 6- or
    9-digit one; otherwise by location: the district holding the community's representative
    point (the rule ``lifecircle analyze --area`` uses).
    """
    ids = communities["community_id"].astype(str)
    dids = [d.district_id for d in districts]
    if (
        len(ids)
        and ids.str.fullmatch(r"\d{12}").all()
        and all(re.fullmatch(r"\d{6}|\d{9}", d) for d in dids)
    ):
        which = np.full(len(ids), -1, dtype=np.int64)
        for k, code in enumerate(dids):
            which[ids.str.startswith(code).to_numpy() & (which < 0)] = k
        return which, "code_prefix"
    which = np.full(len(communities), -1, dtype=np.int64)
    pts = shapely.get_coordinates(shapely.point_on_surface(communities.geometry.to_numpy()))
    for k, dist in enumerate(districts):
        if dist.geometry.is_empty:
            continue
        hit = shapely.contains_xy(dist.geometry, pts[:, 0], pts[:, 1]) & (which < 0)
        which[hit] = k
    return which, "location"
