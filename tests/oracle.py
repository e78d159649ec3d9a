"""A slow, obviously-correct reference: insert every origin and facility into a networkx graph as
nodes on their edges, then run networkx's multi-source Dijkstra. Used only by tests."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

from lifecircle.network import Network
from lifecircle.snapping import Snapped


def brute_force(net: Network, fac: Snapped, origins: Snapped) -> np.ndarray:
    g = nx.Graph()
    on_edge: dict[int, list[tuple[float, object]]] = {}
    for i in np.flatnonzero(fac.on_network):
        on_edge.setdefault(int(fac.edge[i]), []).append((float(fac.offset_m[i]), ("f", int(i))))
    for i in np.flatnonzero(origins.on_network):
        on_edge.setdefault(int(origins.edge[i]), []).append(
            (float(origins.offset_m[i]), ("o", int(i)))
        )

    def add(a: object, b: object, w: float) -> None:
        if a == b:
            return
        if g.has_edge(a, b):
            w = min(w, g[a][b]["weight"])
        g.add_edge(a, b, weight=w)

    for e in np.flatnonzero(net.edge_kept):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_len[e])
        pts = sorted(on_edge.get(int(e), []), key=lambda p: p[0])
        chain = [
            (0.0, ("n", u)),
            *[(t, ("p", int(e), k)) for k, (t, _) in enumerate(pts)],
            (length, ("n", v)),
        ]
        for (t0, a), (t1, b) in itertools.pairwise(chain):
            add(a, b, max(0.0, t1 - t0))
        for k, (_, who) in enumerate(pts):
            add(("p", int(e), k), who, 0.0)
    sources = []
    for i in np.flatnonzero(fac.on_network):
        g.add_edge("SRC", ("fleg", int(i)), weight=float(fac.leg_m[i]))
        g.add_edge(("fleg", int(i)), ("f", int(i)), weight=0.0)
        sources.append(("f", int(i)))
    out = np.full(len(origins), np.inf)
    if not sources:
        return out
    dist = nx.single_source_dijkstra_path_length(g, "SRC")
    for i in np.flatnonzero(origins.on_network):
        d = dist.get(("o", int(i)))
        if d is not None:
            out[i] = d + float(origins.leg_m[i])
    return out
