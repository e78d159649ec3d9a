"""Walking distance from every origin to the nearest facility of a category: one multi-source
Dijkstra pass over the CSR graph per category, not one search per facility.

Facilities and origins sit part-way along edges. A virtual source node is joined to both ends of
each facility's edge with weight ``leg + walk along the edge``; one Dijkstra from it gives, for
every graph node, the distance to the nearest facility. The search goes outward from the
facilities while residents walk toward them: with terrain the graph is directed and
:meth:`lifecircle.network.Network.csr` holds the walk toward the facility (entry ``[i, j]`` costs
the walk from ``j`` to ``i``). An origin then takes the better of its two
edge ends, or the direct way along its edge when a facility shares it, plus its own leg.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from lifecircle.network import Network
from lifecircle.snapping import Snapped


@dataclass(frozen=True)
class Reach:
    """Distances for one category.

    ``node_m``: per graph node, metres to the nearest facility (inf beyond the limit).
    ``origin_m``: per origin, metres including both legs (inf if unreachable or off-network).
    ``origin_facility``: index of the nearest facility per origin (-1 if none).
    """

    node_m: np.ndarray
    origin_m: np.ndarray
    origin_facility: np.ndarray


def _seed(net: Network, fac: Snapped) -> pd.DataFrame:
    """Entry weights from the virtual source to graph nodes: the best facility for each node."""
    on = np.flatnonzero(fac.on_network)
    e = fac.edge[on]
    t = fac.offset_m[on]
    # the walk from each end of the edge to the facility (uphill and downhill differ)
    a = fac.leg_m[on] + net.walk_m(e, np.zeros_like(t), t)
    b = fac.leg_m[on] + net.walk_m(e, net.edge_len[e], t)
    df = pd.DataFrame(
        {
            "node": np.concatenate([net.edge_u[e], net.edge_v[e]]),
            "w": np.concatenate([a, b]),
            "fac": np.concatenate([on, on]),
        }
    )
    df = df.sort_values(["node", "w", "fac"], kind="mergesort")
    return df.drop_duplicates("node", keep="first")


def _with_source(base: sp.csr_matrix, nodes: np.ndarray, w: np.ndarray) -> sp.csr_matrix:
    """The base graph plus one virtual node (index n) with edges to ``nodes``."""
    n = base.shape[0]
    indptr = np.concatenate([base.indptr, [base.indptr[-1] + len(nodes)]])
    indices = np.concatenate([base.indices, nodes.astype(base.indices.dtype)])
    data = np.concatenate([base.data, w])
    # rows 0..n-1 keep their entries; the new row n holds the source's edges; one more column
    return sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))


def _source_of(pred: np.ndarray, src: int) -> np.ndarray:
    """For each node, the first node after the virtual source on its shortest path; -1 where
    unreached. Pointer doubling on the predecessor tree: O(n log depth), vectorised."""
    n = len(pred)
    idx = np.arange(n)
    ptr = pred.astype(np.int64, copy=True)
    root = (ptr == src) | (ptr < 0) | (idx == src)
    ptr[root] = idx[root]
    while True:
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    reached = (pred >= 0) & (idx != src)
    return np.where(reached, ptr, -1)


@dataclass(frozen=True)
class Field:
    """Per graph node: metres to the nearest facility and which facility (-1 if none)."""

    node_m: np.ndarray
    node_fac: np.ndarray


def facility_field(net: Network, fac: Snapped, *, limit_m: float = np.inf) -> Field:
    """One Dijkstra from a virtual source joined to every facility's edge ends."""
    n = net.n_nodes
    if not fac.on_network.any():
        return Field(np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
    seed = _seed(net, fac)
    graph = _with_source(net.csr(), seed["node"].to_numpy(), seed["w"].to_numpy())
    dist, pred = dijkstra(graph, directed=True, indices=n, limit=limit_m, return_predecessors=True)
    first_node = _source_of(pred, n)
    node_fac = np.full(n + 1, -1, dtype=np.int64)
    lookup = np.full(n + 1, -1, dtype=np.int64)
    lookup[seed["node"].to_numpy()] = seed["fac"].to_numpy()
    has = first_node >= 0
    node_fac[has] = lookup[first_node[has]]
    return Field(node_m=dist[:n], node_fac=node_fac[:n])


_WORKER_NET: Network | None = None
PARALLEL_MIN_NODES = 50_000  # below this, starting workers costs more than routing the graph


def _field_in_worker(args: tuple[Snapped, float]) -> Field:
    assert _WORKER_NET is not None
    fac, limit = args
    return facility_field(_WORKER_NET, fac, limit_m=limit)


def facility_fields(
    net: Network,
    facs: list[Snapped],
    *,
    limit_m: float = np.inf,
    processes: int = 1,
    done: Callable[[], None] | None = None,
) -> list[Field]:
    """:func:`facility_field` for several categories, in ``processes`` forked worker processes.

    SciPy's Dijkstra holds the GIL, so threads do not help; forked processes share the graph
    copy-on-write and return only the per-node arrays. Falls back to one process where ``fork``
    is not available or there is a single category. ``done`` is called as each category's
    field is ready, in the order of ``facs`` (for a progress display).
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    tell = done or (lambda: None)
    net.csr()  # build once, before forking
    small = net.n_nodes < PARALLEL_MIN_NODES
    out: list[Field] = []
    if small or processes <= 1 or len(facs) <= 1 or "fork" not in mp.get_all_start_methods():
        for f in facs:
            out.append(facility_field(net, f, limit_m=limit_m))
            tell()
        return out
    global _WORKER_NET
    _WORKER_NET = net
    try:
        with ProcessPoolExecutor(
            max_workers=min(processes, len(facs)), mp_context=mp.get_context("fork")
        ) as pool:
            for field in pool.map(_field_in_worker, [(f, limit_m) for f in facs]):
                out.append(field)
                tell()
            return out
    finally:
        _WORKER_NET = None


def origin_distances(
    net: Network, field: Field, fac: Snapped, origins: Snapped, *, limit_m: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Metres from each origin to its nearest facility (legs included) and that facility."""
    no = len(origins)
    best = np.full(no, np.inf)
    best_fac = np.full(no, -1, dtype=np.int64)
    on = np.flatnonzero(origins.on_network)
    if not len(on) or not fac.on_network.any():
        return best, best_fac
    node_m, node_fac = field.node_m, field.node_fac
    e = origins.edge[on]
    s = origins.offset_m[on]
    via_u = net.walk_m(e, s, np.zeros_like(s)) + node_m[net.edge_u[e]]
    via_v = net.walk_m(e, s, net.edge_len[e]) + node_m[net.edge_v[e]]
    use_u = via_u <= via_v
    d = np.where(use_u, via_u, via_v)
    f = np.where(use_u, node_fac[net.edge_u[e]], node_fac[net.edge_v[e]])
    # the direct way along a shared edge
    fon = np.flatnonzero(fac.on_network)
    same = pd.DataFrame({"o": np.arange(len(on)), "edge": e, "s": s}).merge(
        pd.DataFrame(
            {"edge": fac.edge[fon], "t": fac.offset_m[fon], "leg": fac.leg_m[fon], "fac": fon}
        ),
        on="edge",
    )
    if len(same):
        same["d"] = (
            net.walk_m(same["edge"].to_numpy(), same["s"].to_numpy(), same["t"].to_numpy())
            + same["leg"].to_numpy()
        )
        same = same.sort_values(["o", "d", "fac"], kind="mergesort").drop_duplicates("o")
        oi = same["o"].to_numpy()
        better = same["d"].to_numpy() < d[oi]
        d[oi[better]] = same["d"].to_numpy()[better]
        f[oi[better]] = same["fac"].to_numpy()[better]
    total = d + origins.leg_m[on]
    total[total > limit_m] = np.inf
    best[on] = total
    best_fac[on] = np.where(np.isfinite(total), f, -1)
    return best, best_fac


def origin_distances_on(
    net: Network,
    facilities: list[Snapped],
    origins: Snapped,
    *,
    limit_m: float,
    processes: int = 1,
) -> list[np.ndarray]:
    """Per set of ``facilities`` (one per category), the metres from each origin to the nearest
    of them on ``net``: every category routed again on another network (the graph without
    crossing delays, flat ground), the same snapped points."""
    fields = facility_fields(net, facilities, limit_m=limit_m, processes=processes)
    return [
        origin_distances(net, field, fac, origins, limit_m=limit_m)[0]
        for fac, field in zip(facilities, fields, strict=True)
    ]


def nearest_facility(
    net: Network,
    fac: Snapped,
    origins: Snapped,
    *,
    limit_m: float = np.inf,
) -> Reach:
    """Walking distance from each origin to the nearest facility (metres, legs included).

    Parameters
    ----------
    net
        The walk graph.
    fac
        Facility access points, snapped.
    origins
        Origins (resident points), snapped.
    limit_m
        Stop searching beyond this distance; farther results are ``inf``.
    """
    field = facility_field(net, fac, limit_m=limit_m)
    d, f = origin_distances(net, field, fac, origins, limit_m=limit_m)
    return Reach(node_m=field.node_m, origin_m=d, origin_facility=f)
