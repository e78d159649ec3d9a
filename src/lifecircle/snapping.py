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


def _side_of_road(
    net: Network, edge: np.ndarray, offset: np.ndarray, pts: np.ndarray
) -> np.ndarray:
    """The copy of each split road edge on the side the point lies: the right copy where the
    point is right of the edge's u -> v direction (negative cross product), else the left one
    (a point exactly on the centre line stays on the left copy)."""
    assert net.crossings is not None
    twin = net.crossings.twin[edge]
    out = edge.copy()
    has = np.flatnonzero(twin >= 0)
    if not len(has):
        return out
    geom, t, length = net.edge_geom[edge[has]], offset[has], net.edge_len[edge[has]]
    step = np.minimum(0.5, length / 2)
    a = shapely.get_coordinates(shapely.line_interpolate_point(geom, np.maximum(t - step, 0.0)))
    b = shapely.get_coordinates(shapely.line_interpolate_point(geom, np.minimum(t + step, length)))
    s = shapely.get_coordinates(shapely.line_interpolate_point(geom, t))
    p = shapely.get_coordinates(pts[has])
    cross = (b[:, 0] - a[:, 0]) * (p[:, 1] - s[:, 1]) - (b[:, 1] - a[:, 1]) * (p[:, 0] - s[:, 0])
    right = cross < 0
    out[has[right]] = twin[has[right]]
    return out


@dataclass(frozen=True, eq=False)
class EdgeIndex:
    """The spatial indexes :func:`snap_points` searches: kept edges and dropped ones. A network
    keeps its own (:meth:`lifecircle.network.Network.edge_index`); ``of`` builds one."""

    kept_idx: np.ndarray
    kept: shapely.STRtree
    dropped: shapely.STRtree | None
    # what the trees were built from: the same objects mean the same edges (never changed in place)
    built_from: tuple[object, ...] = ()

    def indexes(self, net: Network) -> bool:
        """Whether these trees were built from ``net``'s edges."""
        now = (net.edge_geom, net.edge_kept, net.crossings)
        return len(self.built_from) == len(now) and all(
            a is b for a, b in zip(self.built_from, now, strict=True)
        )

    @classmethod
    def of(cls, net: Network) -> EdgeIndex:
        snappable = net.edge_kept
        if net.crossings is not None:  # one copy of each split road; never a crossing link
            snappable = snappable & ~net.crossings.link & (net.crossings.side >= 0)
        kept_idx = np.flatnonzero(snappable)
        dropped_idx = np.flatnonzero(~net.edge_kept)
        return cls(
            kept_idx=kept_idx,
            kept=shapely.STRtree(net.edge_geom[kept_idx]),
            dropped=shapely.STRtree(net.edge_geom[dropped_idx]) if len(dropped_idx) else None,
            built_from=(net.edge_geom, net.edge_kept, net.crossings),
        )


def snap_points(points: np.ndarray, net: Network, *, max_snap_m: float) -> Snapped:
    """Snap shapely Points (metric CRS) to the nearest kept edge within ``max_snap_m``.

    Parameters
    ----------
    points
        Array of shapely Points in ``net.crs``.
    net
        The walk graph.
    max_snap_m
        Points farther than this from every kept edge are off-network.

    The network's edge index (:meth:`lifecircle.network.Network.edge_index`) is built on the
    first call and reused by every later one.
    """
    index = net.edge_index()
    kept_idx = index.kept_idx
    loc, dist = _nearest(index.kept, points, max_snap_m)
    edge = np.where(loc >= 0, kept_idx[np.maximum(loc, 0)], -1)
    offset = np.full(len(points), np.nan)
    on = edge >= 0
    if on.any():
        t = shapely.line_locate_point(net.edge_geom[edge[on]], points[on])
        offset[on] = np.clip(t, 0.0, net.edge_len[edge[on]])  # guard against rounding
        if net.crossings is not None:
            edge[on] = _side_of_road(net, edge[on], offset[on], points[on])
    near_dropped = np.zeros(len(points), dtype=bool)
    if index.dropped is not None:
        dloc, ddist = _nearest(index.dropped, points, max_snap_m)
        near_dropped = (dloc >= 0) & (ddist < dist)
    return Snapped(
        edge=edge, offset_m=offset, leg_m=np.where(on, dist, np.nan), near_dropped=near_dropped
    )
