"""Which residents each candidate site would reach: a sparse candidate × resident matrix from one
length-limited search per candidate.

Each candidate is treated exactly as :mod:`lifecircle.routing` treats a facility: a virtual
source joined to both ends of the edge of each of its access points (weight ``leg + distance
along the edge``), a Dijkstra search stopped at the walking limit, then for each resident the
better of its two edge ends (or the direct way along a shared edge) plus its own leg — the same
sums in the same order, so a candidate reaches a resident here exactly when ``analyze`` with the
candidate as a facility finds that resident within the limit.

The searches run on small pieces of the graph: a path no longer than the limit never leaves the
disc of that radius around its start (an edge is never shorter than the straight line between
its ends), so candidates are grouped by map cell and each group is searched on the nodes within
the limit of its cell only. Memory stays proportional to what is reached, never candidates ×
nodes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from lifecircle.network import Network
from lifecircle.snapping import Snapped

CHUNK = 256  # candidates searched together (rows of one dense distance block)
MARGIN_M = 1.0  # widens each piece of graph beyond the limit, against rounding


def _group_cells(xy: np.ndarray, cell_m: float) -> np.ndarray:
    """Per point, the number of its map cell of side ``cell_m`` (row-major)."""
    ix = np.floor((xy[:, 0] - xy[:, 0].min()) / cell_m).astype(np.int64)
    iy = np.floor((xy[:, 1] - xy[:, 1].min()) / cell_m).astype(np.int64)
    return iy * (int(ix.max()) + 1) + ix


def _cell_size(xy: np.ndarray, limit_m: float) -> float:
    """A cell holding about :data:`CHUNK` candidates when they spread evenly, at least twice
    the limit wide (smaller cells search the same margin again and again)."""
    span = np.ptp(xy, axis=0) + 1.0
    per = float(np.sqrt(span[0] * span[1] * CHUNK / max(len(xy), 1)))
    return max(2.0 * limit_m, per, 50.0)


def _seeds(
    net: Network, owner: np.ndarray, snap: Snapped
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate and node, the lowest entry weight from the candidate's virtual source
    (as :func:`lifecircle.routing._seed` does for a facility category)."""
    on = np.flatnonzero(snap.on_network)
    e = snap.edge[on]
    a = snap.leg_m[on] + net.walk_m(e, np.zeros(len(e)), snap.offset_m[on])
    b = snap.leg_m[on] + net.walk_m(e, net.edge_len[e], snap.offset_m[on])
    df = pd.DataFrame(
        {
            "cand": np.concatenate([owner[on], owner[on]]),
            "node": np.concatenate([net.edge_u[e], net.edge_v[e]]),
            "w": np.concatenate([a, b]),
        }
    )
    df = df.sort_values(["cand", "node", "w"], kind="mergesort")
    df = df.drop_duplicates(["cand", "node"], keep="first")
    return df["cand"].to_numpy(), df["node"].to_numpy(), df["w"].to_numpy()


class _Residents:
    """Residents indexed by the node at each end of their edge and by their edge."""

    def __init__(self, net: Network, res: Snapped, n_nodes: int) -> None:
        on = np.flatnonzero(res.on_network)
        e = res.edge[on]
        s = res.offset_m[on]
        node = np.concatenate([net.edge_u[e], net.edge_v[e]])
        # the resident's walk to each end of its edge
        along = np.concatenate(
            [net.walk_m(e, s, np.zeros_like(s)), net.walk_m(e, s, net.edge_len[e])]
        )
        who = np.concatenate([on, on])
        order = np.argsort(node, kind="stable")
        self.node_res = who[order]
        self.node_along = along[order]
        self.node_ptr = np.searchsorted(node[order], np.arange(n_nodes + 1))
        eorder = np.argsort(e, kind="stable")
        self.edge_keys = e[eorder]
        self.edge_res = on[eorder]
        self.offset = res.offset_m
        self.leg = res.leg_m


def _expand(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each i, the positions ``start[i] .. stop[i]-1``: (i, position) for all of them."""
    counts = stop - start
    which = np.repeat(np.arange(len(start)), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + start[which]
    return which, pos


def _via_nodes(
    cand: np.ndarray, node: np.ndarray, d: np.ndarray, rx: _Residents, limit_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """(candidate, resident) pairs within the limit by way of an end of the resident's edge."""
    which, pos = _expand(rx.node_ptr[node], rx.node_ptr[node + 1])
    r = rx.node_res[pos]
    total = (d[which] + rx.node_along[pos]) + rx.leg[r]
    ok = total <= limit_m
    return cand[which[ok]], r[ok]


def _direct(
    net: Network, owner: np.ndarray, snap: Snapped, rx: _Residents, limit_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """(candidate, resident) pairs within the limit along an edge they share."""
    on = np.flatnonzero(snap.on_network)
    left = np.searchsorted(rx.edge_keys, snap.edge[on], side="left")
    right = np.searchsorted(rx.edge_keys, snap.edge[on], side="right")
    which, pos = _expand(left, right)
    r = rx.edge_res[pos]
    ap = on[which]
    walk = net.walk_m(snap.edge[ap], rx.offset[r], snap.offset_m[ap])
    total = (walk + snap.leg_m[ap]) + rx.leg[r]
    ok = total <= limit_m
    return owner[ap[ok]], r[ok]


def _search_block(
    net: Network,
    csr: sp.csr_matrix,
    nodes: np.ndarray,
    seeds: tuple[np.ndarray, np.ndarray, np.ndarray],
    limit_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dijkstra from each candidate of a block over the graph restricted to ``nodes``: the
    (candidate, node, metres) reached within the limit."""
    cand, node, w = seeds
    ids = np.unique(cand)
    local = np.full(net.n_nodes, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    keep = local[node] >= 0  # entry nodes beyond the piece lie beyond the limit anyway
    cand, node, w = cand[keep], node[keep], w[keep]
    sub = csr[nodes][:, nodes].tocoo()
    n, k = len(nodes), len(ids)
    row = np.searchsorted(ids, cand)
    graph = sp.csr_matrix(
        (
            np.concatenate([sub.data, w]),
            (np.concatenate([sub.row, n + row]), np.concatenate([sub.col, local[node]])),
        ),
        shape=(n + k, n + k),
    )
    dist = dijkstra(graph, directed=True, indices=n + np.arange(k), limit=limit_m)[:, :n]
    ci, ni = np.nonzero(np.isfinite(dist))
    return ids[ci], nodes[ni], dist[ci, ni]


def reach_matrix(
    net: Network,
    owner: np.ndarray,
    snap: Snapped,
    residents: Snapped,
    *,
    n_candidates: int,
    xy: np.ndarray,
    limit_m: float,
) -> sp.csr_matrix:
    """Which residents each candidate reaches within ``limit_m`` (legs included).

    Parameters
    ----------
    net
        The walk graph.
    owner
        Per access point, the candidate it belongs to (0 .. n_candidates-1).
    snap
        The access points, snapped.
    residents
        The resident points, snapped.
    n_candidates
        How many candidates (rows of the matrix).
    xy
        Per access point, its position in the network's metric CRS.
    limit_m
        The walking limit.

    Returns
    -------
    scipy.sparse.csr_matrix
        Boolean, candidates × residents.
    """
    n_res = len(residents)
    rx = _Residents(net, residents, net.n_nodes)
    csr = net.csr()
    pairs_c, pairs_r = [], []
    dc, dr = _direct(net, owner, snap, rx, limit_m)
    pairs_c.append(dc)
    pairs_r.append(dr)
    seeds = _seeds(net, owner, snap)
    on = snap.on_network
    if on.any():
        cell_m = _cell_size(xy[on], limit_m)
        cand_cell = np.full(n_candidates, -1, dtype=np.int64)
        cells = _group_cells(xy[on], cell_m)
        cand_cell[owner[on]] = cells  # a candidate of several access points: any of its cells
        node_xy = net.node_xy
        reach = limit_m + MARGIN_M
        # the box of each block: its access points' box widened by the limit
        for block in _blocks(cand_cell):
            sel = np.isin(owner, block) & on
            lo = xy[sel].min(axis=0) - reach
            hi = xy[sel].max(axis=0) + reach
            inside = np.flatnonzero(
                (node_xy[:, 0] >= lo[0])
                & (node_xy[:, 0] <= hi[0])
                & (node_xy[:, 1] >= lo[1])
                & (node_xy[:, 1] <= hi[1])
            )
            in_block = np.isin(seeds[0], block)
            blk = (seeds[0][in_block], seeds[1][in_block], seeds[2][in_block])
            c, nd, d = _search_block(net, csr, inside, blk, limit_m)
            vc, vr = _via_nodes(c, nd, d, rx, limit_m)
            pairs_c.append(vc)
            pairs_r.append(vr)
    c = np.concatenate(pairs_c).astype(np.int64)
    r = np.concatenate(pairs_r).astype(np.int64)
    key = np.unique(c * n_res + r)
    return sp.csr_matrix(
        (np.ones(len(key), dtype=bool), (key // n_res, key % n_res)),
        shape=(n_candidates, n_res),
    )


def _blocks(cand_cell: np.ndarray) -> list[np.ndarray]:
    """Candidates grouped by cell, at most :data:`CHUNK` a group (off-network ones left out)."""
    idx = np.flatnonzero(cand_cell >= 0)
    order = idx[np.argsort(cand_cell[idx], kind="stable")]
    cells = cand_cell[order]
    out = []
    for part in np.split(order, np.flatnonzero(np.diff(cells)) + 1):
        out += [part[i : i + CHUNK] for i in range(0, len(part), CHUNK)]
    return out
