"""Service areas: the land within a walking time of a category's nearest facility.

Every edge is sampled at half the raster cell; a sample is reached when its network distance to
the nearest facility is within the reach. Reached samples mark raster cells, the cells are dilated
by ``buffer_m`` (the short walk off the street to a door), and rasterio turns them into polygons.
Larger times contain smaller ones by construction (nested service areas).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import rasterio.features
import shapely
from affine import Affine
from scipy import ndimage

from lifecircle.network import Network
from lifecircle.snapping import Snapped


class EdgeSamples:
    """Points every ``step_m`` along each kept edge, with their position along the edge."""

    def __init__(self, net: Network, step_m: float) -> None:
        kept = np.flatnonzero(net.edge_kept)
        dense = shapely.segmentize(net.edge_geom[kept], step_m)
        xy, idx = shapely.get_coordinates(dense, return_index=True)
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
            node_m[net.edge_u[self.edge]] + self.pos,
            node_m[net.edge_v[self.edge]] + (net.edge_len[self.edge] - self.pos),
        )
        on = np.flatnonzero(fac.on_network)
        if len(on):
            f = pd.DataFrame({"edge": fac.edge[on], "t": fac.offset_m[on], "leg": fac.leg_m[on]})
            f = f[f["edge"].isin(np.unique(self.edge))]
            if len(f):
                s = pd.DataFrame({"i": np.arange(len(self.edge)), "edge": self.edge, "p": self.pos})
                m = s.merge(f, on="edge")
                direct = np.abs(m["p"] - m["t"]) + m["leg"]
                best = direct.groupby(m["i"]).min()
                idx = best.index.to_numpy()
                d[idx] = np.minimum(d[idx], best.to_numpy())
        return d


def service_area(
    samples: EdgeSamples,
    dist_m: np.ndarray,
    reach_m: float,
    *,
    cell_m: float,
    buffer_m: float,
    bounds: tuple[float, float, float, float],
) -> shapely.Geometry:
    """The (multi)polygon within ``reach_m`` of the nearest facility, in the metric CRS."""
    minx, miny, maxx, maxy = bounds
    pad = buffer_m + 2 * cell_m
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    width = int(np.ceil((maxx - minx) / cell_m))
    height = int(np.ceil((maxy - miny) / cell_m))
    hit = dist_m <= reach_m
    if not hit.any():
        return shapely.MultiPolygon()
    cols = ((samples.xy[hit, 0] - minx) / cell_m).astype(np.int64)
    rows = ((maxy - samples.xy[hit, 1]) / cell_m).astype(np.int64)
    ok = (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    grid = np.zeros((height, width), dtype=bool)
    grid[rows[ok], cols[ok]] = True
    r = max(1, int(round(buffer_m / cell_m)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (xx**2 + yy**2) <= r * r
    grid = ndimage.binary_dilation(grid, structure=disk)
    transform = Affine(cell_m, 0, minx, 0, -cell_m, maxy)
    polys = [
        shapely.geometry.shape(geom)
        for geom, val in rasterio.features.shapes(
            grid.astype(np.uint8), mask=grid, transform=transform, connectivity=8
        )
        if val == 1
    ]
    return shapely.union_all(polys) if polys else shapely.MultiPolygon()
