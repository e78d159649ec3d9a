"""Service areas: the land within a walking time of a category's nearest facility.

Every edge is sampled at half the raster cell; a sample is reached when its network distance to
the nearest facility is within the reach. Reached samples mark raster cells, the cells are dilated
by ``buffer_m`` (the short walk off the street to a door), and rasterio turns them into polygons.
Larger times contain smaller ones by construction (nested service areas).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from scipy import ndimage

from lifecircle.network import Network
from lifecircle.snapping import Snapped

K = TypeVar("K", bound=Hashable)


class EdgeSamples:
    """Points every ``step_m`` along each kept edge, with their position along the edge."""

    def __init__(self, net: Network, step_m: float) -> None:
        kept = net.edge_kept
        if net.crossings is not None:  # a crossing link is a point: its node is sampled already
            kept = kept & ~net.crossings.link
        kept = np.flatnonzero(kept)
        xy, idx = densified(net.edge_geom[kept], step_m)
        seg = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
        seg = np.concatenate([[0.0], seg])
        seg[np.concatenate([[True], idx[1:] != idx[:-1]])] = 0.0
        cum = np.cumsum(seg)
        start = np.concatenate([[0], np.flatnonzero(idx[1:] != idx[:-1]) + 1])
        base = np.repeat(cum[start], np.diff(np.concatenate([start, [len(idx)]])))
        self.xy = xy
        self.edge = kept[idx]
        self.pos = np.minimum(cum - base, net.edge_len[self.edge])
        self.net = net

    def distance(self, node_m: np.ndarray, fac: Snapped) -> np.ndarray:
        """Network distance from each sample to the nearest facility (metres)."""
        net = self.net
        d = np.minimum(
            node_m[net.edge_u[self.edge]]
            + net.walk_m(self.edge, self.pos, np.zeros_like(self.pos)),
            node_m[net.edge_v[self.edge]]
            + net.walk_m(self.edge, self.pos, net.edge_len[self.edge]),
        )
        # the direct way to a facility on the same edge; samples are grouped by edge
        on = np.flatnonzero(fac.on_network)
        if len(on):
            lo = np.searchsorted(self.edge, fac.edge[on], side="left")
            hi = np.searchsorted(self.edge, fac.edge[on], side="right")
            n = hi - lo
            if n.sum():
                idx = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
                direct = net.walk_m(
                    self.edge[idx], self.pos[idx], np.repeat(fac.offset_m[on], n)
                ) + np.repeat(fac.leg_m[on], n)
                np.minimum.at(d, idx, direct)
        return d


def densified(lines: np.ndarray, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates of the lines with points inserted so that no segment is longer than
    ``step_m``, and the index of the line of each: what ``shapely.get_coordinates(
    shapely.segmentize(lines, step_m), return_index=True)`` gives, to the bit, at a third of
    the time and without building the densified lines.

    As GEOS densifies: a segment of length ``L > step_m`` is cut into ``ceil(L / step_m)``
    equal parts, the ``j``-th point at fraction ``(j * (L / n)) / L`` of it; a vertex repeating
    the one before it is dropped.
    """
    if not (shapely.get_type_id(lines) == shapely.GeometryType.LINESTRING).all():
        # lines of several parts (none in a network today): GEOS, part by part
        dense = shapely.segmentize(lines, step_m)
        return shapely.get_coordinates(dense, return_index=True)
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    if len(xy) > 1:  # a vertex repeating the one before it on its line is dropped
        same = (idx[1:] == idx[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
        if same.any():
            keep = np.concatenate([[True], ~same])
            xy, idx = xy[keep], idx[keep]
    s = np.flatnonzero(idx[1:] == idx[:-1])  # segment k runs from vertex s[k] to s[k] + 1
    x0, y0 = xy[s, 0], xy[s, 1]
    dx, dy = xy[s + 1, 0] - x0, xy[s + 1, 1] - y0
    length = np.sqrt(dx * dx + dy * dy)
    parts = np.where(length > step_m, np.ceil(length / step_m), 1.0).astype(np.int64)
    inserted = np.zeros(len(xy), dtype=np.int64)
    inserted[s] = parts - 1
    start = np.cumsum(inserted + 1) - (inserted + 1)  # where each vertex lands
    out = np.empty((len(xy) + int(inserted.sum()), 2))
    out[start] = xy
    new = parts - 1
    seg = np.repeat(np.arange(len(s)), new)
    j = np.arange(len(seg)) - np.repeat(np.cumsum(new) - new, new) + 1
    frac = (j * (length / parts)[seg]) / length[seg]
    at = start[s][seg] + j
    out[at, 0] = x0[seg] + frac * dx[seg]
    out[at, 1] = y0[seg] + frac * dy[seg]
    return out, np.repeat(idx, inserted + 1)


def auto_cell_m(
    bounds: tuple[float, float, float, float], cell_m: float, max_cells: float = 1.5e6
) -> float:
    """The raster cell: ``cell_m``, coarsened so that the grid stays under ``max_cells``."""
    w, h = bounds[2] - bounds[0], bounds[3] - bounds[1]
    return float(max(cell_m, np.sqrt(max(w * h, 1.0) / max_cells)))


def service_areas(
    samples: EdgeSamples,
    dist_m: np.ndarray,
    reaches_m: dict[K, float],
    *,
    cell_m: float,
    buffer_m: float,
    fill_holes_m2: float = 0.0,
) -> dict[K, shapely.Geometry]:
    """Service-area (multi)polygons, one per named reach, in the metric CRS.

    Each cell takes the smallest distance of the samples in it; a minimum filter over a disk of
    radius ``buffer_m`` spreads it to the neighbouring land; a reach's area is the cells at or
    under it. Holes smaller than ``fill_holes_m2`` (the inside of street blocks) are filled. One
    raster per category serves every reach, and each smaller reach's area is clipped by the next
    larger one after simplification (as r5py does), so that larger areas contain smaller ones.
    """
    out = {k: shapely.MultiPolygon() for k in reaches_m}
    if not reaches_m:
        return out
    hit = dist_m <= max(reaches_m.values())
    if not hit.any():
        return out
    # column by column: a min over axis 0 of an (n, 2) array is 20 times slower
    x, y = samples.xy[:, 0][hit], samples.xy[:, 1][hit]
    pad = buffer_m + 2 * cell_m
    minx, miny = x.min() - pad, y.min() - pad
    maxx, maxy = x.max() + pad, y.max() + pad
    width = int(np.ceil((maxx - minx) / cell_m))
    height = int(np.ceil((maxy - miny) / cell_m))
    cols = ((x - minx) / cell_m).astype(np.int64)
    rows = ((maxy - y) / cell_m).astype(np.int64)
    grid = np.full((height, width), np.inf, dtype=np.float64)
    # the samples run along their edges: each run of samples in one cell is reduced first (a
    # third as many left), then the runs on the flat cell index (ufunc.at with a tuple of
    # indices is 9 times slower); a minimum, so the same grid
    cell = rows * width + cols
    run = np.flatnonzero(np.concatenate([[True], cell[1:] != cell[:-1]]))
    np.minimum.at(grid.reshape(-1), cell[run], np.minimum.reduceat(dist_m[hit], run))
    r = max(1, round(buffer_m / cell_m))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (xx**2 + yy**2) <= r * r
    spread = ndimage.grey_erosion(grid, footprint=disk, mode="constant", cval=np.inf)
    transform = Affine(cell_m, 0, minx, 0, -cell_m, maxy)
    max_hole = fill_holes_m2 / (cell_m * cell_m)
    larger: shapely.Geometry | None = None
    # largest reach first: each smaller area is clipped by the next larger one once both are
    # simplified, since simplifying each on its own can move a shared border either way
    for key in sorted(reaches_m, key=reaches_m.__getitem__, reverse=True):
        mask = spread <= reaches_m[key]
        if not mask.any():
            continue
        if max_hole > 0:
            mask = _fill_holes(mask, max_hole)
        shapes = rasterio.features.shapes(
            mask.astype(np.uint8), mask=mask, transform=transform, connectivity=8
        )
        # shapes() yields disjoint regions: no union needed. Simplify each piece on its own
        # (cost stays linear) to drop the raster staircase.
        parts = shapely.simplify(_raster_polygons(shapes), cell_m / 2, preserve_topology=True)
        if larger is not None:
            parts = _polygons(_clip(parts, larger, margin=2 * cell_m))
        if len(parts):
            out[key] = shapely.MultiPolygon(list(parts)) if len(parts) > 1 else parts[0]
            larger = out[key]
    return out


def _raster_polygons(shapes: Iterable[tuple[dict[str, Any], Any]]) -> np.ndarray:
    """The polygons of ``rasterio.features.shapes`` (GeoJSON-like, first ring the shell), built
    in one call from all their coordinates: the same polygons as ``shapely.geometry.shape``
    makes one by one, in a fifth of the time."""
    coords: list[tuple[float, float]] = []
    ring_len: list[int] = []
    poly_of: list[int] = []
    for i, (geom, _) in enumerate(shapes):
        for ring in geom["coordinates"]:
            ring_len.append(len(ring))
            poly_of.append(i)
            coords.extend(ring)
    if not poly_of:
        return np.empty(0, dtype=object)
    flat = itertools.chain.from_iterable(coords)
    xy = np.fromiter(flat, dtype=np.float64, count=2 * len(coords)).reshape(-1, 2)
    rings = shapely.linearrings(xy, indices=np.repeat(np.arange(len(ring_len)), ring_len))
    return shapely.polygons(rings, indices=np.asarray(poly_of))


def _fill_holes(mask: np.ndarray, max_cells: float) -> np.ndarray:
    """``mask`` with the unreached pieces of fewer than ``max_cells`` cells filled: the inside
    of street blocks. A piece that touches the raster's border is the land around the network,
    never a hole, however small the raster."""
    lab, _ = ndimage.label(~mask)
    small = np.bincount(lab.ravel()) < max_cells
    small[0] = False  # label 0: the reached cells
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    small[border] = False
    return mask | small[lab]


def _clip(parts: np.ndarray, larger: shapely.Geometry, *, margin: float) -> np.ndarray:
    """``shapely.intersection(parts, larger)``, each part against only what of ``larger`` can
    touch it.

    Against the whole of ``larger`` every part pays for every piece of ``larger`` (GEOS indexes
    them all): at 100 k nodes that was most of the service areas' time. A part that lies well
    inside ``larger`` is intersected with its own box grown by ``margin`` (GEOS then builds the
    part's rings from the part's edges alone, as it does against ``larger``); any other part
    with the pieces of ``larger`` whose box comes within ``margin`` of its box, in their order.
    Both give the same rings, vertex for vertex (checked to the byte on real extracts and a
    100 k-node city by ``benchmarks/compare_versions.py``). A part whose overlay fails against
    its pieces alone is intersected with the whole of ``larger``.
    """
    bounds = shapely.bounds(parts) + np.array([-margin, -margin, margin, margin])
    shapely.prepare(larger)
    inside = shapely.contains_properly(larger, parts)
    out = np.empty(len(parts), dtype=object)
    out[inside] = shapely.intersection(parts[inside], shapely.box(*bounds[inside].T))
    pieces = shapely.get_parts(larger)
    rest = np.flatnonzero(~inside)
    if len(pieces) < 2:
        out[rest] = shapely.intersection(parts[rest], larger)
        return out
    part_i, piece_i = shapely.STRtree(pieces).query(shapely.box(*bounds[rest].T))
    order = np.lexsort((piece_i, part_i))
    part_i, piece_i = part_i[order], piece_i[order]
    start = np.searchsorted(part_i, np.arange(len(rest) + 1))
    for k, i in enumerate(rest):
        near = shapely.MultiPolygon(list(pieces[piece_i[start[k] : start[k + 1]]]))
        try:
            out[i] = shapely.intersection(parts[i], near)
        except shapely.errors.GEOSException:
            out[i] = shapely.intersection(parts[i], larger)
    return out


def _polygons(geoms: np.ndarray) -> np.ndarray:
    """The non-empty polygons of ``geoms`` (an intersection can add touching lines and
    points)."""
    parts = shapely.get_parts(geoms)
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & ~shapely.is_empty(parts)
    return parts[keep]
