"""Read a city's OpenStreetMap file once, keep what the analysis needs as columnar files, and
give each district the part of it that lies near the district.

The cache is a folder of GeoParquet-like Parquet files (ways, facility features, buildings,
residential land use, boundaries), each row carrying its bounding box, rows grouped spatially so
that a reader asking for one district's box skips most of the file. It is keyed by a digest of the
OSM file and of everything that changes what is read from it (walk filter, category taxonomy), so
a rerun reuses it and a changed input builds a new one.

Walkable ways carry city-wide ``junction`` flags: a district's part of the city then splits its
ways at exactly the nodes the whole city would, so a district analysed from the cache gives what
the whole file gives for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from lifecircle._toml import read_toml
from lifecircle.categories import Taxonomy
from lifecircle.config import WalkFilter
from lifecircle.fileio import new_folder, write_text
from lifecircle.sources.osm import Feature, OSMData, WalkWay, read_osm

log = logging.getLogger(__name__)

# 2: ways say whether they are bridges or tunnels (--dem); 3: boundaries the extract cuts
FORMAT_VERSION = 3
ROW_GROUP = 20_000
CELL_DEG = 0.05  # rows are ordered by cells of this size so that row groups are compact


@dataclass(frozen=True)
class CityCache:
    """A prepared city: where its files are and what reading the source cost."""

    path: Path
    meta: dict[str, Any]

    def load(self, bbox: tuple[float, float, float, float]) -> OSMData:
        """Everything whose bounding box meets ``bbox`` (lon/lat), in the source's order."""
        data = OSMData(
            source=self.meta["source"],
            counts=dict(self.meta["counts"]),
            timestamp=self.meta["timestamp"],
            bounds=tuple(self.meta["bounds"]) if self.meta["bounds"] else None,
        )
        ways = _read(self.path / "ways.parquet", bbox)
        if ways is not None:
            ids, lon, lat, junc = (
                ways.column(c).combine_chunks() for c in ("node_ids", "lon", "lat", "junction")
            )
            offs = ids.offsets.to_numpy()
            all_ids = ids.values.to_numpy()
            all_ll = np.column_stack([lon.values.to_numpy(), lat.values.to_numpy()])
            all_j = junc.values.to_numpy(zero_copy_only=False)
            way_ids = ways.column("way_id").to_numpy()
            highway = ways.column("highway").to_pylist()
            name = ways.column("name").to_pylist()
            structure = ways.column("structure").to_numpy(zero_copy_only=False)
            for i in range(len(way_ids)):
                a, b = offs[i], offs[i + 1]
                data.ways.append(
                    WalkWay(
                        way_id=int(way_ids[i]),
                        node_ids=all_ids[a:b],
                        lonlat=all_ll[a:b],
                        highway=highway[i],
                        name=name[i],
                        junction=all_j[a:b],
                        structure=bool(structure[i]),
                    )
                )
        data.features = _read_features(self.path / "features.parquet", bbox)
        data.buildings = _read_features(self.path / "buildings.parquet", bbox)
        data.boundaries = _read_features(self.path / "boundaries.parquet", bbox)
        # their present member ways: a district's run names those of its level (headline)
        data.incomplete_boundaries = _read_features(self.path / "cut_boundaries.parquet", bbox)
        lu = _read(self.path / "landuse.parquet", bbox)
        if lu is not None:
            data.residential_landuse = list(
                shapely.from_wkb(lu.column("geometry").to_numpy(zero_copy_only=False))
            )
        return data


def cache_key(
    osm_sha256: str, *, walk_filter_file: Path | None, categories_file: Path | None
) -> str:
    """Digest of the source file and of the rules that decide which of its contents are kept
    (the parsed TOML, so that formatting changes to the files do not matter)."""
    rules = {
        "walk_filter": read_toml(walk_filter_file, "walk_filter.toml", "walk filter")[0],
        "categories": read_toml(categories_file, "categories.toml", "categories file")[0],
    }
    blob = json.dumps([FORMAT_VERSION, osm_sha256, rules], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def prepare_city(
    osm_path: Path,
    root: Path,
    *,
    walk_filter: WalkFilter,
    taxonomy: Taxonomy,
    osm_sha256: str,
    walk_filter_file: Path | None = None,
    categories_file: Path | None = None,
) -> CityCache:
    """Read ``osm_path`` once into ``root/<key>/``, or reuse the cache already there.

    ``walk_filter`` and ``taxonomy`` must be what ``walk_filter_file`` and ``categories_file``
    (``None``: the shipped ones) hold; the files key the cache.
    """
    key = cache_key(osm_sha256, walk_filter_file=walk_filter_file, categories_file=categories_file)
    dest = root / key
    if (dest / "meta.json").is_file():
        meta = json.loads((dest / "meta.json").read_text(encoding="utf-8"))
        log.info("reusing the city cache %s (built in %.1f s)", dest, meta["seconds"])
        return CityCache(dest, meta | {"reused": True})
    t0 = time.perf_counter()
    osm = read_osm(osm_path, walk_filter=walk_filter, taxonomy=taxonomy)
    t_read = time.perf_counter() - t0
    with new_folder(dest) as tmp:  # complete or absent, also if the run is killed
        _write_ways(osm.ways, tmp / "ways.parquet")
        _write_features(osm.features, tmp / "features.parquet")
        _write_features(osm.buildings, tmp / "buildings.parquet")
        _write_features(osm.boundaries, tmp / "boundaries.parquet")
        placed = [f for f in osm.incomplete_boundaries if not f.geometry.is_empty]
        _write_features(placed, tmp / "cut_boundaries.parquet")  # none of theirs: no place
        _write_geoms(osm.residential_landuse, tmp / "landuse.parquet")
        meta = {
            "format": FORMAT_VERSION,
            "source": osm.source,
            "osm_sha256": osm_sha256,
            "counts": osm.counts,
            "timestamp": osm.timestamp,
            "bounds": list(osm.bounds) if osm.bounds else None,
            "ways": len(osm.ways),
            "features": len(osm.features),
            "buildings": len(osm.buildings),
            "boundaries": len(osm.boundaries),
            "read_seconds": round(t_read, 3),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        write_text(tmp / "meta.json", json.dumps(meta, indent=2))
    log.info(
        "city cache %s: %d ways, %d features, %d buildings in %.1f s",
        dest,
        meta["ways"],
        meta["features"],
        meta["buildings"],
        meta["seconds"],
    )
    return CityCache(dest, meta | {"reused": False})


# ---- writing ------------------------------------------------------------------------------


def _order(boxes: np.ndarray) -> np.ndarray:
    """Row order: by coarse cell of the box centre, then by source order."""
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    cx = np.floor((boxes[:, 0] + boxes[:, 2]) / 2 / CELL_DEG).astype(np.int64)
    cy = np.floor((boxes[:, 1] + boxes[:, 3]) / 2 / CELL_DEG).astype(np.int64)
    return np.lexsort((np.arange(len(boxes)), cx, cy))


def _bbox_columns(boxes: np.ndarray) -> dict[str, pa.Array]:
    return {k: pa.array(boxes[:, i]) for i, k in enumerate(("minx", "miny", "maxx", "maxy"))}


def _write(table: pa.Table, boxes: np.ndarray, path: Path) -> None:
    order = _order(boxes)
    pq.write_table(table.take(pa.array(order)), path, row_group_size=ROW_GROUP, compression="zstd")


def _write_ways(ways: list[WalkWay], path: Path) -> None:
    n = len(ways)
    sizes = np.fromiter((len(w.node_ids) for w in ways), dtype=np.int64, count=n)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ids = np.concatenate([w.node_ids for w in ways]) if n else np.zeros(0, dtype=np.int64)
    ll = np.concatenate([w.lonlat for w in ways]) if n else np.zeros((0, 2))
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    junction = counts[inverse] >= 2  # shared with another way (or used twice by one)
    boxes = np.zeros((n, 4))
    if n:
        starts = offsets[:-1]
        boxes[:, 0] = np.minimum.reduceat(ll[:, 0], starts)
        boxes[:, 1] = np.minimum.reduceat(ll[:, 1], starts)
        boxes[:, 2] = np.maximum.reduceat(ll[:, 0], starts)
        boxes[:, 3] = np.maximum.reduceat(ll[:, 1], starts)
    off = pa.array(offsets, type=pa.int64())
    table = pa.table(
        {
            "seq": pa.array(np.arange(n, dtype=np.int64)),
            "way_id": pa.array(np.array([w.way_id for w in ways], dtype=np.int64)),
            "highway": pa.array([w.highway for w in ways], type=pa.string()),
            "name": pa.array([w.name for w in ways], type=pa.string()),
            "structure": pa.array([w.structure for w in ways], type=pa.bool_()),
            "node_ids": pa.LargeListArray.from_arrays(off, pa.array(ids, type=pa.int64())),
            "lon": pa.LargeListArray.from_arrays(off, pa.array(ll[:, 0])),
            "lat": pa.LargeListArray.from_arrays(off, pa.array(ll[:, 1])),
            "junction": pa.LargeListArray.from_arrays(off, pa.array(junction, type=pa.bool_())),
            **_bbox_columns(boxes),
        }
    )
    _write(table, boxes, path)


def _geom_boxes(geoms: list[Any]) -> np.ndarray:
    return shapely.bounds(np.array(geoms, dtype=object)) if geoms else np.zeros((0, 4))


def _write_features(features: list[Feature], path: Path) -> None:
    geoms = [f.geometry for f in features]
    boxes = _geom_boxes(geoms)
    table = pa.table(
        {
            "seq": pa.array(np.arange(len(features), dtype=np.int64)),
            "osm_type": pa.array([f.osm_type for f in features], type=pa.string()),
            "osm_id": pa.array([f.osm_id for f in features], type=pa.int64()),
            "tags": pa.array(
                [json.dumps(f.tags, ensure_ascii=False) for f in features], type=pa.string()
            ),
            "geometry": pa.array(
                shapely.to_wkb(np.array(geoms, dtype=object)) if geoms else [], type=pa.binary()
            ),
            **_bbox_columns(boxes),
        }
    )
    _write(table, boxes, path)


def _write_geoms(geoms: list[Any], path: Path) -> None:
    boxes = _geom_boxes(geoms)
    table = pa.table(
        {
            "seq": pa.array(np.arange(len(geoms), dtype=np.int64)),
            "geometry": pa.array(
                shapely.to_wkb(np.array(geoms, dtype=object)) if geoms else [], type=pa.binary()
            ),
            **_bbox_columns(boxes),
        }
    )
    _write(table, boxes, path)


# ---- reading ------------------------------------------------------------------------------


def _read(path: Path, bbox: tuple[float, float, float, float]) -> pa.Table | None:
    minx, miny, maxx, maxy = bbox
    table = pq.read_table(
        path,
        filters=[
            ("maxx", ">=", minx),
            ("minx", "<=", maxx),
            ("maxy", ">=", miny),
            ("miny", "<=", maxy),
        ],
    )
    if table.num_rows == 0:
        return None
    return table.sort_by("seq")  # the source's order: results must not depend on the cache's


def _read_features(path: Path, bbox: tuple[float, float, float, float]) -> list[Feature]:
    t = _read(path, bbox)
    if t is None:
        return []
    geoms = shapely.from_wkb(t.column("geometry").to_numpy(zero_copy_only=False))
    return [
        Feature(osm_type=ot, osm_id=int(oid), tags=json.loads(tags), geometry=g)
        for ot, oid, tags, g in zip(
            t.column("osm_type").to_pylist(),
            t.column("osm_id").to_numpy(),
            t.column("tags").to_pylist(),
            geoms,
            strict=True,
        )
    ]
