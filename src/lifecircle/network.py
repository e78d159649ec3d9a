"""The walk graph: split walkable ways at intersections, project to a metric CRS, measure edges,
find disconnected pieces, and build the compressed sparse (CSR) adjacency used for routing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.sparse as sp
import shapely
from pyproj import CRS, Transformer
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from lifecircle.errors import NoNetworkError
from lifecircle.notes import Note, note
from lifecircle.sources.osm import WalkWay

if TYPE_CHECKING:
    from lifecircle.crossings import Crossings
    from lifecircle.snapping import EdgeIndex

log = logging.getLogger(__name__)


@dataclass
class Network:
    """An undirected walk graph in a metric CRS.

    Edges are polylines between graph nodes (intersections and dead ends); ``edge_geom`` holds
    them as shapely LineStrings in the metric CRS. Edges in pieces too small to keep have
    ``edge_kept == False``: they are not routed on, and points near them are reported.

    With terrain (``--dem``, :func:`lifecircle.terrain.apply_dem`), walking an edge costs
    ``edge_cost_uv`` flat-equivalent metres from ``edge_u`` to ``edge_v`` and ``edge_cost_vu``
    back; without it both are ``None`` and every edge costs its length both ways. Every
    distance of the engine is in these metres: :meth:`walk_m` for a part of an edge,
    :meth:`csr` for whole edges.
    """

    crs: CRS
    node_xy: np.ndarray  # (n, 2) metric
    node_osmid: np.ndarray  # (n,) int64
    edge_u: np.ndarray  # (m,) int64
    edge_v: np.ndarray
    edge_len: np.ndarray  # metres
    edge_geom: np.ndarray  # shapely LineStrings
    edge_way: np.ndarray  # OSM way id
    edge_highway: np.ndarray
    edge_name: np.ndarray
    node_component: np.ndarray
    edge_kept: np.ndarray  # bool
    stats: dict[str, float] = field(default_factory=dict)
    # sidewalk sides and crossing links when crossing delays are modelled (lifecircle.crossings)
    crossings: Crossings | None = None
    # bool per edge: a bridge or tunnel (bridge=*, tunnel=*, layer != 0): off the terrain
    edge_structure: np.ndarray | None = None
    edge_cost_uv: np.ndarray | None = None  # flat-equivalent metres walking u -> v
    edge_cost_vu: np.ndarray | None = None  # ... and v -> u
    node_z: np.ndarray | None = None  # metres above the DEM's datum, NaN where unknown
    terrain: dict[str, Any] | None = None  # what the DEM gave (lifecircle.terrain)
    _csr: sp.csr_matrix | None = field(default=None, repr=False)
    _edge_index: EdgeIndex | None = field(default=None, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def __getstate__(self) -> dict[str, object]:
        # edges as one coordinate array: pickling a million LineStrings one by one is slow
        state = dict(self.__dict__)
        xy, idx = shapely.get_coordinates(self.edge_geom, return_index=True)
        state["edge_geom"] = (xy, idx)
        state["_csr"] = None
        state["_edge_index"] = None  # rebuilt on first use: trees are not worth storing
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        xy, idx = cast("tuple[np.ndarray, np.ndarray]", state["edge_geom"])
        state["edge_geom"] = (
            shapely.linestrings(xy, indices=idx) if len(xy) else np.empty(0, dtype=object)
        )
        self.__dict__.update(state)

    @property
    def has_terrain(self) -> bool:
        """Whether walking an edge costs more one way than the other (a DEM was applied)."""
        return self.edge_cost_uv is not None and self.edge_cost_vu is not None

    def flat(self) -> Network:
        """This network without terrain: every edge costs its length both ways."""
        return replace(
            self, edge_cost_uv=None, edge_cost_vu=None, node_z=None, terrain=None, _csr=None
        )

    def walk_m(self, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Cost of walking along ``edge`` from ``start`` to ``end`` (metres from ``edge_u``
        along the edge), in flat-equivalent metres.

        Without terrain this is ``|end - start|``. With terrain, a part of an edge costs its
        share of the whole edge's cost in that direction (the edge's mean slope factor: exact
        on an even slope, an average where the slope changes along the edge).
        """
        along = np.abs(np.asarray(end, dtype=float) - np.asarray(start, dtype=float))
        if self.edge_cost_uv is None or self.edge_cost_vu is None:
            return along
        length = self.edge_len[edge]
        cost = np.where(
            np.asarray(end) >= np.asarray(start), self.edge_cost_uv[edge], self.edge_cost_vu[edge]
        )
        factor = np.divide(cost, length, out=np.ones_like(length, dtype=float), where=length > 0)
        return np.asarray(along * factor, dtype=float)

    def edge_index(self) -> EdgeIndex:
        """The spatial index snapping searches (:class:`lifecircle.snapping.EdgeIndex`), built
        on first use and kept: building it takes longer than snapping a few points, and every
        command snaps several sets (residents, buildings, facilities, added facilities, the
        GCJ-02 check). A network made with other edges (``dataclasses.replace``) builds its
        own, even when it carried this one over."""
        from lifecircle.snapping import EdgeIndex

        if self._edge_index is None or not self._edge_index.indexes(self):
            self._edge_index = EdgeIndex.of(self)
        return self._edge_index

    def drop_edge_index(self) -> None:
        """Free the snapping index (built again by the next snap): an analysis drops it once
        every point is placed, before its workers fork (about 0.1 GB at a million nodes)."""
        self._edge_index = None

    def csr(self) -> sp.csr_matrix:
        """Adjacency of kept edges, the cheapest of any parallel edges; cached.

        Entry ``[i, j]`` is the cost of walking from ``j`` to ``i``: every search of the engine
        starts at the destinations (facilities, candidate sites) and goes outward, so a search
        on this matrix gives, per node, the walk from that node TO the nearest destination.
        Without terrain it is symmetric (edge lengths).
        """
        if self._csr is None:
            kept = self.edge_kept
            if self.edge_cost_uv is None or self.edge_cost_vu is None:
                to_u = to_v = self.edge_len[kept]
            else:
                to_u, to_v = self.edge_cost_vu[kept], self.edge_cost_uv[kept]
            self._csr = build_csr(
                self.n_nodes, self.edge_u[kept], self.edge_v[kept], to_u, back=to_v
            )
        return self._csr


def build_csr(
    n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, *, back: np.ndarray | None = None
) -> sp.csr_matrix:
    """CSR adjacency (both directions) keeping the minimum weight of parallel edges.

    Entry ``[u, v]`` weighs ``w`` and entry ``[v, u]`` weighs ``back`` (``w`` when not
    given: symmetric). Self-loops are dropped (they never shorten a path). Explicit zero
    weights are kept as edges.
    """
    keep = u != v
    back = w if back is None else back
    rows = np.concatenate([u[keep], v[keep]]).astype(np.int64)
    cols = np.concatenate([v[keep], u[keep]]).astype(np.int64)
    wts = np.concatenate([w[keep], back[keep]])
    # one sort on a single key (row, then column), then the least weight of each run of
    # parallel edges: three times faster than sorting on (row, column, weight)
    key = rows * n + cols
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key
    wts = np.minimum.reduceat(wts[order], starts) if len(key) else wts
    rows, cols = np.divmod(key[starts], n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((wts, cols.astype(np.int32), indptr), shape=(n, n))


@dataclass
class _Edges:
    """Edges between graph nodes, before the pieces are sorted out (metric CRS)."""

    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    geom: np.ndarray
    way: np.ndarray  # index into the list of ways
    node_xy: np.ndarray
    node_osmid: np.ndarray


def _split_ways(ways: list[WalkWay], crs: CRS) -> _Edges:
    """Project the ways and split them into edges at their ends and at every node used more
    than once (or flagged a junction city-wide)."""
    sizes = np.fromiter((len(w.node_ids) for w in ways), dtype=np.int64, count=len(ways))
    ids = np.concatenate([w.node_ids for w in ways])
    lonlat = np.concatenate([w.lonlat for w in ways])
    tf = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tf.transform(lonlat[:, 0], lonlat[:, 1])
    xy = np.column_stack([x, y])

    # graph nodes: way ends and any node used more than once
    uniq, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    is_graph = counts[inverse] >= 2
    if all(w.junction is not None for w in ways):
        is_graph |= np.concatenate([w.junction for w in ways])
    is_graph[starts] = True
    is_graph[starts + sizes - 1] = True

    # edges: between consecutive graph nodes along each way
    gpos = np.flatnonzero(is_graph)
    way_of = np.repeat(np.arange(len(ways)), sizes)
    same_way = way_of[gpos[:-1]] == way_of[gpos[1:]]
    e_start = gpos[:-1][same_way]
    e_end = gpos[1:][same_way]
    seg = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    cum = np.concatenate([[0.0], np.cumsum(seg)])

    # vertex runs of each edge -> LineStrings in one vectorised call
    n_vert = e_end - e_start + 1
    run_idx = np.repeat(np.arange(len(e_start)), n_vert)
    offs = np.arange(n_vert.sum()) - np.repeat(np.cumsum(n_vert) - n_vert, n_vert)
    vert = np.repeat(e_start, n_vert) + offs

    node_of_uniq = -np.ones(len(uniq), dtype=np.int64)
    used = np.unique(inverse[np.concatenate([e_start, e_end])])
    node_of_uniq[used] = np.arange(len(used))
    eu = node_of_uniq[inverse[e_start]]
    ev = node_of_uniq[inverse[e_end]]
    node_xy = np.zeros((len(used), 2))
    node_xy[eu] = xy[e_start]
    node_xy[ev] = xy[e_end]
    return _Edges(
        u=eu,
        v=ev,
        length=cum[e_end] - cum[e_start],
        geom=shapely.linestrings(xy[vert], indices=run_idx),
        way=way_of[e_start],
        node_xy=node_xy,
        node_osmid=uniq[used],
    )


def _clip(e: _Edges, clip: BaseGeometry) -> tuple[_Edges, int]:
    """The edges that meet ``clip`` and their nodes, renumbered; and how many were left out."""
    inside = shapely.intersects(e.geom, clip)
    if not inside.any():
        raise NoNetworkError(
            "no walkable way of the OpenStreetMap input lies in the analysis area; check "
            "that the --osm file covers the communities / area you asked for"
        )
    u, v = e.u[inside], e.v[inside]
    keep_nodes = np.unique(np.concatenate([u, v]))
    remap = -np.ones(len(e.node_xy), dtype=np.int64)
    remap[keep_nodes] = np.arange(len(keep_nodes))
    clipped = _Edges(
        u=remap[u],
        v=remap[v],
        length=e.length[inside],
        geom=e.geom[inside],
        way=e.way[inside],
        node_xy=e.node_xy[keep_nodes],
        node_osmid=e.node_osmid[keep_nodes],
    )
    return clipped, int((~inside).sum())


def _pieces_joined(u: np.ndarray, v: np.ndarray, link: np.ndarray, n: int, n_comp: int) -> int:
    """How many pieces of the network the links across pedestrian areas join together: the
    connected pieces of the ways alone less those with the links (every piece with a link holds
    a node of a way, so nodes that only links reach are not pieces of their own)."""
    if not link.any():
        return 0
    w = ~link
    adj = sp.coo_matrix((np.ones(int(w.sum())), (u[w], v[w])), shape=(n, n))
    alone, _ = connected_components(adj, directed=False)
    on_ways = np.zeros(n, dtype=bool)
    on_ways[u[w]] = True
    on_ways[v[w]] = True
    return int(alone - (~on_ways).sum() - n_comp)


def _pieces(e: _Edges, n: int, min_component_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Each node's connected piece, and per piece whether it is routed on: long enough, or
    the longest."""
    adj = sp.coo_matrix((np.ones(len(e.u)), (e.u, e.v)), shape=(n, n))
    n_comp, comp = connected_components(adj, directed=False)
    comp_len = np.bincount(comp[e.u], weights=e.length, minlength=n_comp)
    keep_comp = comp_len >= min_component_m
    keep_comp[np.argmax(comp_len)] = True
    return comp, keep_comp


def _graph_stats(
    e: _Edges, link: np.ndarray, keep_comp: np.ndarray, edge_kept: np.ndarray
) -> dict[str, float]:
    """The walk graph's counts: nodes, edges, length, pieces joined, kept and dropped."""
    n, n_comp = len(e.node_xy), len(keep_comp)
    return {
        "nodes": float(n),
        "edges": float(len(e.u)),
        # the ways' length; the straight links across pedestrian areas
        # (lifecircle.sources.walkareas) are many criss-crossing one square, so apart
        "length_km": float(e.length[~link].sum() / 1000),
        "pedestrian_area_links_km": float(e.length[link].sum() / 1000),
        "pieces_joined_by_area_links": float(_pieces_joined(e.u, e.v, link, n, n_comp)),
        "components": float(n_comp),
        "components_dropped": float((~keep_comp).sum()),
        "edges_dropped_small_pieces": float((~edge_kept).sum()),
        "length_dropped_small_pieces_km": float(e.length[~edge_kept].sum() / 1000),
    }


def build_network(
    ways: list[WalkWay],
    crs: CRS,
    *,
    clip: BaseGeometry | None = None,
    min_component_m: float = 250.0,
) -> Network:
    """Build the walk graph from walkable ways.

    Parameters
    ----------
    ways
        Walkable ways in WGS 84 (see :func:`lifecircle.sources.osm.read_osm`).
    crs
        The metric CRS to project to.
    clip
        Keep only edges that intersect this polygon (metric CRS): the analysis area buffered by
        the longest walking reach.
    min_component_m
        Connected pieces whose total length is below this are not routed on (the largest piece is
        always kept).

    Raises
    ------
    NoNetworkError
        When there is no walkable way, or none in ``clip``.
    """
    if not ways:
        raise NoNetworkError(
            "the OpenStreetMap input has no walkable ways; check that the file covers a built-up "
            "area and that the walk filter does not exclude everything"
        )
    e = _split_ways(ways, crs)
    stats: dict[str, float] = {"edges_before_clip": float(len(e.u))}
    if clip is not None:
        e, outside = _clip(e, clip)
        stats["edges_outside_area"] = float(outside)
    n = len(e.node_xy)
    comp, keep_comp = _pieces(e, n, min_component_m)
    n_comp = len(keep_comp)
    edge_kept = keep_comp[comp[e.u]]
    highway = np.array([w.highway for w in ways], dtype=object)[e.way]
    stats.update(_graph_stats(e, highway == "pedestrian_area", keep_comp, edge_kept))
    log.info(
        "walk graph: %d nodes, %d edges, %.1f km; %d connected piece(s), %d below %.0f m dropped",
        n,
        len(e.u),
        stats["length_km"],
        n_comp,
        stats["components_dropped"],
        min_component_m,
    )
    return Network(
        crs=crs,
        node_xy=e.node_xy,
        node_osmid=e.node_osmid,
        edge_u=e.u,
        edge_v=e.v,
        edge_len=e.length,
        edge_geom=e.geom,
        edge_way=np.array([w.way_id for w in ways], dtype=np.int64)[e.way],
        edge_highway=highway,
        edge_name=np.array([w.name for w in ways], dtype=object)[e.way],
        node_component=comp,
        edge_kept=edge_kept,
        stats=stats,
        edge_structure=np.array([w.structure for w in ways], dtype=bool)[e.way],
    )


def walk_network_notes(
    osm_counts: dict[str, int], stats: dict[str, float], *, min_component_m: float
) -> list[Note]:
    """The note saying what the walk network kept, joined and dropped beyond osmnx's walk filter:
    cycleways kept for walking, pedestrian areas joined (and links added) or left unjoined, and
    pieces of network too small to route on. None when there is nothing of the kind."""
    params = {
        "kept": int(osm_counts.get("ways_kept_for_walking", 0)),
        "areas_joined": int(osm_counts.get("pedestrian_areas_joined", 0)),
        "links": int(osm_counts.get("pedestrian_area_links", 0)),
        "pieces_joined": int(stats.get("pieces_joined_by_area_links", 0)),
        "areas_unjoined": int(osm_counts.get("pedestrian_areas_unjoined", 0)),
        "pieces_dropped": int(stats.get("components_dropped", 0)),
        "dropped_km": float(stats.get("length_dropped_small_pieces_km", 0.0)),
        "min_component_m": float(min_component_m),
    }
    if not any(params[k] for k in ("kept", "areas_joined", "areas_unjoined", "pieces_dropped")):
        return []
    return [note("walk_network", **params)]
