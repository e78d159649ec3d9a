"""Aggregate points to a hexagon grid (pointy-top, axial coordinates) for maps at district scale:
one polygon per occupied hexagon with the summed weight, instead of one marker per point."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

_SQRT3 = float(np.sqrt(3.0))


def hex_size_m(bounds: tuple[float, float, float, float], max_cells: int, min_m: float) -> float:
    """The circumradius that keeps about ``max_cells`` hexagons over the bounds."""
    w, h = bounds[2] - bounds[0], bounds[3] - bounds[1]
    return float(max(min_m, np.sqrt(max(w * h, 1.0) / (max_cells * 1.5 * _SQRT3))))


def hexbin(points: gpd.GeoDataFrame, weight: str, size_m: float) -> gpd.GeoDataFrame:
    """Sum ``weight`` per hexagon of circumradius ``size_m`` (metric CRS in, metric CRS out)."""
    x = points.geometry.x.to_numpy()
    y = points.geometry.y.to_numpy()
    q = (_SQRT3 / 3 * x - y / 3) / size_m
    r = (2 / 3 * y) / size_m
    # cube rounding: round all three coordinates, then fix the one that moved most
    cx, cz = np.round(q), np.round(r)
    cy = np.round(-q - r)
    dx, dy, dz = np.abs(cx - q), np.abs(cy - (-q - r)), np.abs(cz - r)
    fix_x = (dx > dy) & (dx > dz)
    fix_z = ~fix_x & (dz >= dy)
    cx = np.where(fix_x, -cy - cz, cx)
    cz = np.where(fix_z, -cx - cy, cz)
    qi, ri = cx.astype(np.int64), cz.astype(np.int64)
    key = qi * 1_000_003 + ri
    uniq, inv = np.unique(key, return_inverse=True)
    w = np.bincount(inv, weights=points[weight].to_numpy(dtype=float), minlength=len(uniq))
    n = np.bincount(inv, minlength=len(uniq))
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    hq, hr = qi[first], ri[first]
    centre_x = size_m * _SQRT3 * (hq + hr / 2)
    centre_y = size_m * 1.5 * hr
    angles = np.radians(30 + 60 * np.arange(6))
    ring_x = centre_x[:, None] + size_m * np.cos(angles)[None, :]
    ring_y = centre_y[:, None] + size_m * np.sin(angles)[None, :]
    rings = np.stack([ring_x, ring_y], axis=-1)
    hexes = shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))
    return gpd.GeoDataFrame({"weight": w, "points": n}, geometry=hexes, crs=points.crs)
