"""Generated city-like inputs for benchmarks: a jittered street grid with gaps, facility POIs,
weighted resident points and square communities, written as .osm XML or .osm.pbf.

The grid is centred on Shanghai (121.47 E, 31.23 N) so the CGCS2000 zone path is exercised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import Transformer

CENTRE = (121.47, 31.23)
METRIC = "EPSG:4549"
CATEGORY_TAGS = {  # one OSM tag per benchmark category, matched by the shipped taxonomy
    "market": ("shop", "supermarket"),
    "health": ("amenity", "clinic"),
    "kindergarten": ("amenity", "kindergarten"),
    "primary_school": ("amenity", "school"),
    "park": ("leisure", "park"),
    "sports": ("leisure", "fitness_centre"),
    "community_centre": ("amenity", "community_centre"),
    "elder_care": ("amenity", "nursing_home"),
}
NODES_PER_FACILITY = {  # density: one facility per this many street nodes
    "market": 60,
    "health": 150,
    "kindergarten": 120,
    "primary_school": 250,
    "park": 200,
    "sports": 180,
    "community_centre": 300,
    "elder_care": 220,
}


@dataclass
class City:
    lon: np.ndarray  # street node coordinates
    lat: np.ndarray
    ways: list[tuple[np.ndarray, str]]  # node index arrays and highway tag
    pois: list[tuple[float, float, str, str, str]]  # lon, lat, key, value, category
    side: int
    spacing_m: float

    @property
    def n_nodes(self) -> int:
        return len(self.lon)


def make_city(n_nodes: int, *, spacing_m: float = 80.0, gap: float = 0.08, seed: int = 0) -> City:
    """About ``n_nodes`` street nodes on a jittered square grid; ``gap`` of segments missing."""
    rng = np.random.default_rng(seed)
    side = round(np.sqrt(n_nodes))
    tf = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
    fwd = Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)
    cx, cy = fwd.transform(*CENTRE)
    ix, iy = np.meshgrid(np.arange(side), np.arange(side))
    x = cx + (ix.ravel() - side / 2) * spacing_m + rng.uniform(-12, 12, side * side)
    y = cy + (iy.ravel() - side / 2) * spacing_m + rng.uniform(-12, 12, side * side)
    lon, lat = tf.transform(x, y)
    ways: list[tuple[np.ndarray, str]] = []
    for line in range(side):
        for horizontal in (True, False):
            idx = line * side + np.arange(side) if horizontal else np.arange(side) * side + line
            hw = "primary" if line % 10 == 0 else ("footway" if line % 7 == 3 else "residential")
            keep = rng.random(side - 1) >= gap  # segment i joins node i and i+1
            start = 0
            for i in range(side - 1):
                if not keep[i] or (i - start) >= 60:
                    if i > start:
                        ways.append((idx[start : i + 1], hw))
                    start = i if keep[i] else i + 1
            if side - 1 > start:
                ways.append((idx[start:], hw))
    pois = []
    for cat, per in NODES_PER_FACILITY.items():
        k, v = CATEGORY_TAGS[cat]
        n = max(1, n_nodes // per)
        at = rng.integers(0, len(x), n)
        px = x[at] + rng.uniform(-35, 35, n)
        py = y[at] + rng.uniform(-35, 35, n)
        plon, plat = tf.transform(px, py)
        pois += [(float(a), float(b), k, v, cat) for a, b in zip(plon, plat, strict=True)]
    return City(np.asarray(lon), np.asarray(lat), ways, pois, side, spacing_m)


def write_osm_xml(city: City, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<osm version="0.6" generator="lifecircle-bench">\n'
        )
        for i, (a, b) in enumerate(zip(city.lon, city.lat, strict=True)):
            fh.write(f'<node id="{i + 1}" version="1" lat="{b:.7f}" lon="{a:.7f}"/>\n')
        base = len(city.lon) + 1
        for j, (lo, la, k, v, _) in enumerate(city.pois):
            fh.write(
                f'<node id="{base + j}" version="1" lat="{la:.7f}" lon="{lo:.7f}">'
                f'<tag k="{k}" v="{v}"/><tag k="name" v="P{j}"/></node>\n'
            )
        for w, (idx, hw) in enumerate(city.ways):
            nds = "".join(f'<nd ref="{int(i) + 1}"/>' for i in idx)
            fh.write(f'<way id="{w + 1}" version="1">{nds}<tag k="highway" v="{hw}"/></way>\n')
        fh.write("</osm>\n")
    return path


def write_osm_pbf(city: City, path: Path) -> Path:
    import osmium

    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path)) as w:
        for i, (a, b) in enumerate(zip(city.lon, city.lat, strict=True)):
            w.add_node(osmium.osm.mutable.Node(id=i + 1, location=(float(a), float(b)), version=1))
        base = len(city.lon) + 1
        for j, (lo, la, k, v, _) in enumerate(city.pois):
            w.add_node(
                osmium.osm.mutable.Node(
                    id=base + j, location=(lo, la), version=1, tags={k: v, "name": f"P{j}"}
                )
            )
        for n, (idx, hw) in enumerate(city.ways):
            w.add_way(
                osmium.osm.mutable.Way(
                    id=n + 1, nodes=[int(i) + 1 for i in idx], version=1, tags={"highway": hw}
                )
            )
    return path


def write_residents(city: City, n: int, path: Path, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    lo0, lo1 = np.quantile(city.lon, [0.02, 0.98])
    la0, la1 = np.quantile(city.lat, [0.02, 0.98])
    lon = rng.uniform(lo0, lo1, n)
    lat = rng.uniform(la0, la1, n)
    w = rng.integers(1, 60, n)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("lon,lat,weight\n")
        for a, b, c in zip(lon, lat, w, strict=True):
            fh.write(f"{a:.7f},{b:.7f},{c}\n")
    return path


def write_communities(city: City, rows: int, path: Path, cols: int | None = None) -> Path:
    """rows × cols rectangular communities covering the inner 96 % of the grid (12-digit ids)."""
    cols = cols or rows
    lo0, lo1 = np.quantile(city.lon, [0.02, 0.98])
    la0, la1 = np.quantile(city.lat, [0.02, 0.98])
    xs, ys = np.linspace(lo0, lo1, cols + 1), np.linspace(la0, la1, rows + 1)
    feats = []
    for r in range(rows):
        for c in range(cols):
            ring = [
                [xs[c], ys[r]],
                [xs[c + 1], ys[r]],
                [xs[c + 1], ys[r + 1]],
                [xs[c], ys[r + 1]],
                [xs[c], ys[r]],
            ]
            code = f"310101{r:03d}{c:03d}"
            feats.append(
                {
                    "type": "Feature",
                    "properties": {"id": code, "name": f"社区{r}-{c}"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def make_city_in(polygon, n_nodes: int, *, gap: float = 0.08, seed: int = 0) -> City:
    """A jittered street grid filling a WGS 84 polygon (a whole city) with about ``n_nodes``
    nodes inside it; segments with an end outside the polygon are left out."""
    import shapely

    rng = np.random.default_rng(seed)
    fwd = Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)
    tf = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
    poly_m = shapely.transform(
        polygon, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1]))
    )
    spacing = float(np.sqrt(poly_m.area / n_nodes))
    minx, miny, maxx, maxy = poly_m.bounds
    nx_, ny_ = int((maxx - minx) / spacing) + 1, int((maxy - miny) / spacing) + 1
    ix, iy = np.meshgrid(np.arange(nx_), np.arange(ny_))
    x = minx + ix.ravel() * spacing + rng.uniform(-0.15, 0.15, ix.size) * spacing
    y = miny + iy.ravel() * spacing + rng.uniform(-0.15, 0.15, ix.size) * spacing
    shapely.prepare(poly_m)
    inside = shapely.contains_xy(poly_m, x, y)
    lon, lat = tf.transform(x, y)
    ways: list[tuple[np.ndarray, str]] = []
    for horizontal, (count, length) in ((True, (ny_, nx_)), (False, (nx_, ny_))):
        for line in range(count):
            idx = line * nx_ + np.arange(length) if horizontal else np.arange(length) * nx_ + line
            hw = "primary" if line % 10 == 0 else ("footway" if line % 7 == 3 else "residential")
            ok = (rng.random(length - 1) >= gap) & inside[idx[:-1]] & inside[idx[1:]]
            start = 0
            for i in range(length - 1):
                if not ok[i] or (i - start) >= 60:
                    if i > start:
                        ways.append((idx[start : i + 1], hw))
                    start = i if ok[i] else i + 1
            if length - 1 > start:
                ways.append((idx[start:], hw))
    n_in = int(inside.sum())
    inner = np.flatnonzero(inside)
    pois = []
    for cat, per in NODES_PER_FACILITY.items():
        k, v = CATEGORY_TAGS[cat]
        n = max(1, n_in // per)
        at = inner[rng.integers(0, len(inner), n)]
        px = x[at] + rng.uniform(-0.4, 0.4, n) * spacing
        py = y[at] + rng.uniform(-0.4, 0.4, n) * spacing
        plon, plat = tf.transform(px, py)
        pois += [(float(a), float(b), k, v, cat) for a, b in zip(plon, plat, strict=True)]
    side = int(np.sqrt(n_in))
    return City(np.asarray(lon), np.asarray(lat), ways, pois, side, spacing)


def write_residents_in(polygon, n: int, path: Path, seed: int = 1) -> Path:
    """``n`` weighted resident points spread over a WGS 84 polygon (rejection sampling)."""
    import shapely

    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    lon, lat = np.zeros(0), np.zeros(0)
    while len(lon) < n:
        a = rng.uniform(minx, maxx, 2 * n)
        b = rng.uniform(miny, maxy, 2 * n)
        keep = shapely.contains_xy(polygon, a, b)
        lon, lat = np.concatenate([lon, a[keep]]), np.concatenate([lat, b[keep]])
    lon, lat = lon[:n], lat[:n]
    w = rng.integers(1, 60, n)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("lon,lat,weight\n")
        for a, b, c in zip(lon, lat, w, strict=True):
            fh.write(f"{a:.7f},{b:.7f},{c}\n")
    return path
