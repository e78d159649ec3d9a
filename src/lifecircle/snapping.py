"""Attach points to the walk graph: the nearest point on the nearest kept edge (not the nearest
node), within a maximum snapping distance. Points beyond it are off-network, never attached."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from lifecircle.network import Network

OK, OFF_NETWORK = "ok", "off_network"


@dataclass(frozen=True)
class Snapped:
    """Where each point meets the network.

    ``edge`` is -1 for off-network points. ``offset_m`` is the distance along the edge from its
    ``u`` node; ``leg_m`` the straight line from the point to its snapped position.
    ``near_dropped`` marks points whose nearest edge of all lies in a piece of network too small
    to keep: they were attached to the nearest kept edge within the limit, or left off-network.
    """

    edge: np.ndarray
    offset_m: np.ndarray
    leg_m: np.ndarray
    near_dropped: np.ndarray

    @property
    def on_network(self) -> np.ndarray:
        return self.edge >= 0

    def __len__(self) -> int:
        return len(self.edge)


def _nearest(tree: shapely.STRtree, pts: np.ndarray, max_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest geometry (lowest index on ties) and its distance; -1 / inf if none."""
    n = len(pts)
    best = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    if n == 0 or len(tree.geometries) == 0:
        return best, dist
    (pi, gi), d = tree.query_nearest(
        pts, max_distance=max_m, return_distance=True, all_matches=True
    )
    if len(pi):
        order = np.lexsort((gi, pi))  # ties: the lowest edge index wins, whatever the input order
        pi, gi, d = pi[order], gi[order], d[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        best[pi[first]] = gi[first]
        dist[pi[first]] = d[first]
    return best, dist


@dataclass(frozen=True)
class EdgeIndex:
    """The spatial indexes :func:`snap_points` searches: kept edges and dropped ones. Building
    them takes longer than snapping a few points, so a caller that snaps again and again (the
    workbench) builds them once with :meth:`of` and passes them."""

    kept_idx: np.ndarray
    kept: shapely.STRtree
    dropped: shapely.STRtree | None

    @classmethod
    def of(cls, net: Network) -> EdgeIndex:
        kept_idx = np.flatnonzero(net.edge_kept)
        dropped_idx = np.flatnonzero(~net.edge_kept)
        return cls(
            kept_idx=kept_idx,
            kept=shapely.STRtree(net.edge_geom[kept_idx]),
            dropped=shapely.STRtree(net.edge_geom[dropped_idx]) if len(dropped_idx) else None,
        )


def snap_points(
    points: np.ndarray, net: Network, *, max_snap_m: float, index: EdgeIndex | None = None
) -> Snapped:
    """Snap shapely Points (metric CRS) to the nearest kept edge within ``max_snap_m``.

    Parameters
    ----------
    points
        Array of shapely Points in ``net.crs``.
    net
        The walk graph.
    max_snap_m
        Points farther than this from every kept edge are off-network.
    index
        ``EdgeIndex.of(net)`` when already built (the same answer, without rebuilding it).
    """
    index = index or EdgeIndex.of(net)
    kept_idx = index.kept_idx
    loc, dist = _nearest(index.kept, points, max_snap_m)
    edge = np.where(loc >= 0, kept_idx[np.maximum(loc, 0)], -1)
    offset = np.full(len(points), np.nan)
    on = edge >= 0
    if on.any():
        t = shapely.line_locate_point(net.edge_geom[edge[on]], points[on])
        offset[on] = np.clip(t, 0.0, net.edge_len[edge[on]])  # guard against rounding
    near_dropped = np.zeros(len(points), dtype=bool)
    if index.dropped is not None:
        dloc, ddist = _nearest(index.dropped, points, max_snap_m)
        near_dropped = (dloc >= 0) & (ddist < dist)
    return Snapped(
        edge=edge, offset_m=offset, leg_m=np.where(on, dist, np.nan), near_dropped=near_dropped
    )
