"""Crossing delays: charge the wait at a road crossing when a walk crosses a major road, not when
it walks along it.

The model splits the sidewalk sides of major roads ("split sidewalk sides"). At every graph node
where two or more edges of a delayed road class ("major" edges) meet, the incident edges are
sorted by the angle at which they leave the node; the major edges cut the circle around the node
into sectors, and each sector becomes a graph node of its own (the original node keeps sector 0).
Every other edge attaches to the sector it leaves into. Every major edge becomes two parallel
edges, its left and its right side, of the same length and geometry, joining the sectors on that
side at both ends. Adjacent sectors of a node are joined by a crossing link whose length is the
delay converted to metres at the headline walking speed, so that the distance fields stay in
metres (metres-equivalent): walking along a major road never pays, crossing it at a node pays
once per road crossed, and a walk along a major road cannot change side between nodes.

A node is signalised when an OpenStreetMap node tagged ``highway=traffic_signals`` or
``crossing=traffic_signals`` lies within ``signal_radius_m`` of it (signals are often mapped on
the approaches of a junction rather than on the junction node itself).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely.ops import substring

from lifecircle.delays import CrossingDelays

if TYPE_CHECKING:
    from lifecircle.network import Network
    from lifecircle.result import Result
    from lifecircle.snapping import Snapped
    from lifecircle.study import Study

CROSSING_HIGHWAY = "crossing_link"  # edge_highway of the links between sectors


@dataclass
class Crossings:
    """What the split added to a network, per edge of the split network.

    ``side``: +1 the left copy of a major edge (left of its u → v direction), -1 the right copy,
    0 any other edge. ``twin``: the other copy of a major edge (-1 for others). ``link``: the
    crossing links between sectors. ``origin``: the edge of the unsplit network each edge comes
    from (-1 for links). ``node_of``: the node of the unsplit network each node comes from.
    ``stats``: counts and delays for the summary.
    """

    side: np.ndarray
    twin: np.ndarray
    link: np.ndarray
    origin: np.ndarray
    node_of: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


def _incidences(net: Network, major: np.ndarray) -> pd.DataFrame:
    """Every end of every edge: node, edge, end (0 at u, 1 at v), leaving angle, major."""
    m = net.n_edges
    xy, idx = shapely.get_coordinates(net.edge_geom, return_index=True)
    start = np.searchsorted(idx, np.arange(m))
    stop = np.searchsorted(idx, np.arange(m), side="right") - 1
    # the first vertex away from the node (or the far end of a degenerate edge)
    nxt_u = np.minimum(start + 1, stop)
    nxt_v = np.maximum(stop - 1, start)
    node = np.concatenate([net.edge_u, net.edge_v])
    toward = np.concatenate([xy[nxt_u], xy[nxt_v]])
    d = toward - net.node_xy[node]
    return pd.DataFrame(
        {
            "node": node,
            "edge": np.tile(np.arange(m), 2),
            "end": np.repeat([0, 1], m),
            "angle": np.arctan2(d[:, 1], d[:, 0]),
            "major": np.tile(major, 2),
        }
    )


def _signalised(
    net: Network, nodes: np.ndarray, signals: np.ndarray, radius_m: float
) -> np.ndarray:
    """Whether a signal (lon/lat rows of ``signals``) lies within ``radius_m`` of each node."""
    if not len(nodes) or not len(signals):
        return np.zeros(len(nodes), dtype=bool)
    tf = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True)
    x, y = tf.transform(signals[:, 0], signals[:, 1])
    d, _ = cKDTree(np.column_stack([x, y])).query(net.node_xy[nodes], k=1)
    return np.asarray(d <= radius_m + 1e-6)


@dataclass
class _Sectors:
    """The split nodes (sorted), their number of sectors, the first new node id minus one (sector
    s >= 1 of node i is ``base[i] + s``), and per edge the nodes on its left and right side at
    its u and v ends."""

    nodes: np.ndarray
    k: np.ndarray
    base: np.ndarray
    left_u: np.ndarray
    right_u: np.ndarray
    left_v: np.ndarray
    right_v: np.ndarray


def _sectors(net: Network, major: np.ndarray) -> _Sectors:
    """Cut the circle around every node with two or more major edge ends into sectors."""
    inc = _incidences(net, major)
    n_major = inc.groupby("node")["major"].sum()
    split_nodes = n_major.index[n_major >= 2].to_numpy()
    node_k = n_major[n_major >= 2].to_numpy().astype(np.int64)
    inc = inc[inc["node"].isin(split_nodes)].sort_values(["node", "angle", "edge", "end"])
    nodes = inc["node"].to_numpy()
    pos = np.searchsorted(split_nodes, nodes)
    k = node_k[pos]
    # sector of each end: the last major end at or before it going counter-clockwise
    cm = inc.groupby("node")["major"].cumsum().to_numpy() - 1
    ccw = np.where(cm < 0, k - 1, cm)
    cw = np.where(inc["major"].to_numpy(), (ccw - 1) % k, ccw)
    # sector 0 keeps the node, the others are new nodes after the existing ones
    base = net.n_nodes + np.cumsum(node_k - 1) - (node_k - 1) - 1
    b = base[pos]
    ccw_node = np.where(ccw == 0, nodes, b + ccw)
    cw_node = np.where(cw == 0, nodes, b + cw)
    left_u, right_u = net.edge_u.copy(), net.edge_u.copy()
    left_v, right_v = net.edge_v.copy(), net.edge_v.copy()
    e, end = inc["edge"].to_numpy(), inc["end"].to_numpy()
    at_u, at_v = end == 0, end == 1
    left_u[e[at_u]], right_u[e[at_u]] = ccw_node[at_u], cw_node[at_u]
    # at v the edge leaves towards u: its left (seen from u to v) is the clockwise side there
    left_v[e[at_v]], right_v[e[at_v]] = cw_node[at_v], ccw_node[at_v]
    return _Sectors(split_nodes, node_k, base, left_u, right_u, left_v, right_v)


def _links(sec: _Sectors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Links between adjacent sectors of each split node (one when a node has two sectors):
    their two sector nodes and the split node."""
    n_links = np.where(sec.k == 2, 1, sec.k)
    node = np.repeat(sec.nodes, n_links)
    kk = np.repeat(sec.k, n_links)
    bb = np.repeat(sec.base, n_links)
    s = np.arange(n_links.sum()) - np.repeat(np.cumsum(n_links) - n_links, n_links)
    t = (s + 1) % kk

    def sector_node(x: np.ndarray) -> np.ndarray:
        return np.where(x == 0, node, bb + x)

    return sector_node(s), sector_node(t), node


def _terrain_of(
    net: Network,
    order: np.ndarray,
    *,
    share: np.ndarray | None = None,
    link_m: np.ndarray | None = None,
    nodes: np.ndarray | None = None,
) -> dict[str, Any]:
    """The terrain arrays (:mod:`lifecircle.terrain`) of the edges ``order`` of ``net``: each
    a ``share`` of its edge (cut pieces), then links costing ``link_m`` both ways and flat; node
    elevations of the nodes ``nodes`` (old ones first). Empty when ``net`` has none."""
    out: dict[str, Any] = {}
    n_links = 0 if link_m is None else len(link_m)
    if net.edge_structure is not None:
        out["edge_structure"] = np.concatenate(
            [net.edge_structure[order], np.zeros(n_links, dtype=bool)]
        )
    if net.edge_cost_uv is not None and net.edge_cost_vu is not None:
        f = np.ones(len(order)) if share is None else share
        extra = np.zeros(0) if link_m is None else link_m
        out["edge_cost_uv"] = np.concatenate([net.edge_cost_uv[order] * f, extra])
        out["edge_cost_vu"] = np.concatenate([net.edge_cost_vu[order] * f, extra])
    if net.node_z is not None and nodes is not None:
        out["node_z"] = net.node_z[nodes]
    return out


def cut_at_crossings(
    net: Network, crossing_nodes: np.ndarray | None, *, classes: tuple[str, ...]
) -> tuple[Network, int]:
    """``net`` with every edge of ``classes`` cut at the OSM crossing nodes (rows of node id,
    lon, lat) that lie inside it, each cut a new graph node; and the number of cuts. A crossing
    node where ways meet is a graph node already; one on a road alone is not, until cut."""
    nodes = np.empty((0, 3)) if crossing_nodes is None else np.asarray(crossing_nodes, dtype=float)
    major = np.flatnonzero(np.isin(net.edge_highway.astype(str), list(classes)))
    if not len(nodes.reshape(-1, 3)) or not len(major):
        return net, 0
    nodes = nodes.reshape(-1, 3)
    tf = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True)
    pts = shapely.points(np.column_stack(tf.transform(nodes[:, 1], nodes[:, 2])))
    pi, gi = shapely.STRtree(net.edge_geom[major]).query(pts, predicate="dwithin", distance=0.01)
    e = major[gi]
    t = shapely.line_locate_point(net.edge_geom[e], pts[pi])
    inner = (t > 0.01) & (t < net.edge_len[e] - 0.01)
    cuts = pd.DataFrame({"edge": e[inner], "t": t[inner], "p": pi[inner]})
    cuts = cuts.sort_values(["edge", "t", "p"]).drop_duplicates(["edge", "t"])
    if not len(cuts):
        return net, 0
    new = net.n_nodes + np.arange(len(cuts))
    cuts["node"] = new
    u, v, length, geom, src = [], [], [], [], []
    for key, grp in cuts.groupby("edge", sort=True):
        edge = int(cast("int", key))
        ts = [0.0, *grp["t"].to_list(), float(net.edge_len[edge])]
        ends = [int(net.edge_u[edge]), *grp["node"].to_list(), int(net.edge_v[edge])]
        for k in range(len(ts) - 1):
            u.append(ends[k])
            v.append(ends[k + 1])
            length.append(ts[k + 1] - ts[k])
            geom.append(substring(net.edge_geom[edge], ts[k], ts[k + 1]))
            src.append(edge)
    keep = np.setdiff1d(np.arange(net.n_edges), cuts["edge"].unique())
    order = np.concatenate([keep, np.asarray(src, dtype=np.int64)])
    cut_xy = shapely.get_coordinates(pts[cuts["p"].to_numpy()])
    pieces = np.asarray(length, dtype=float)
    share = np.concatenate(
        [np.ones(len(keep)), np.divide(pieces, net.edge_len[src], out=np.ones(len(src)),
                                       where=net.edge_len[src] > 0)]
    )  # fmt: skip
    terrain = _terrain_of(net, order, share=share)
    if net.node_z is not None:  # a cut's elevation: its edge's ends, by the cut's place
        e = cuts["edge"].to_numpy()
        frac = cuts["t"].to_numpy() / np.maximum(net.edge_len[e], 1e-9)
        za, zb = net.node_z[net.edge_u[e]], net.node_z[net.edge_v[e]]
        terrain["node_z"] = np.concatenate([net.node_z, za + (zb - za) * frac])
    return (
        replace(
            net,
            node_xy=np.concatenate([net.node_xy, cut_xy]),
            node_osmid=np.concatenate(
                [net.node_osmid, nodes[cuts["p"].to_numpy(), 0].astype(np.int64)]
            ),
            node_component=np.concatenate(
                [net.node_component, net.node_component[net.edge_u[cuts["edge"].to_numpy()]]]
            ),
            edge_u=np.concatenate([net.edge_u[keep], np.asarray(u, dtype=np.int64)]),
            edge_v=np.concatenate([net.edge_v[keep], np.asarray(v, dtype=np.int64)]),
            edge_len=np.concatenate([net.edge_len[keep], np.asarray(length, dtype=float)]),
            edge_geom=np.concatenate([net.edge_geom[keep], np.asarray(geom, dtype=object)]),
            edge_way=net.edge_way[order],
            edge_highway=net.edge_highway[order],
            edge_name=net.edge_name[order],
            edge_kept=net.edge_kept[order],
            _csr=None,
            _edge_index=None,
            **terrain,
        ),
        len(cuts),
    )


def split_crossings(
    net: Network,
    *,
    delays: CrossingDelays,
    speed_m_s: float,
    signals: np.ndarray | None = None,
    crossing_nodes: np.ndarray | None = None,
) -> Network:
    """The network with the sidewalk sides of major roads split and crossing links added.

    Parameters
    ----------
    net
        The walk graph (not changed).
    delays
        The delays (seconds) and the delayed road classes (``edge_highway`` values).
    speed_m_s
        The walking speed that converts delays to metres.
    signals
        Lon/lat (WGS 84) of OpenStreetMap traffic-signal nodes, shape (k, 2).
    crossing_nodes
        Node id, lon, lat of OpenStreetMap ``highway=crossing`` nodes, shape (k, 3): a major
        edge is cut at those that lie inside it, so that a walk may cross there.

    Returns
    -------
    Network
        A new network whose ``crossings`` says which edges are sides and links; its ``stats``
        gain ``crossing_*`` counts. With both delays 0 s, ``net`` itself: crossing costs
        nothing anywhere, mid-block too (the split graph would still forbid crossing between
        nodes).
    """
    if delays.signalised_s == 0 and delays.unsignalised_s == 0:
        return net  # crossing is free everywhere, mid-block too: the plain graph
    t0 = time.perf_counter()
    net, n_cut = cut_at_crossings(net, crossing_nodes, classes=delays.classes)
    sig = np.empty((0, 2)) if signals is None else np.asarray(signals, dtype=float).reshape(-1, 2)
    major = np.isin(net.edge_highway.astype(str), list(delays.classes))
    sec = _sectors(net, major)
    la, lb, ln = _links(sec)
    is_sig_node = _signalised(net, sec.nodes, sig, delays.signal_radius_m)
    link_sig = is_sig_node[np.searchsorted(sec.nodes, ln)]
    link_len = np.where(link_sig, delays.signalised_s, delays.unsignalised_s) * speed_m_s
    order, eu, ev, crossings_edges = _split_edges(sec, major, la, lb)
    n_m, n_l = int(major.sum()), len(la)
    pts = net.node_xy[ln]
    link_geom = shapely.linestrings(np.repeat(pts, 2, axis=0), indices=np.repeat(np.arange(n_l), 2))
    copied = np.repeat(sec.nodes, sec.k - 1)
    stats = _split_stats(sec, is_sig_node, link_sig, n_major=n_m, n_cut=n_cut)
    crossings = Crossings(
        **crossings_edges,
        origin=np.concatenate([order, -np.ones(n_l, dtype=np.int64)]),
        node_of=np.concatenate([np.arange(net.n_nodes), copied]),
        stats=stats | _model_stats(delays, speed_m_s, signals_read=len(sig), t0=t0),
    )
    return replace(
        net,
        node_xy=np.concatenate([net.node_xy, net.node_xy[copied]]),
        node_osmid=np.concatenate([net.node_osmid, net.node_osmid[copied]]),
        node_component=np.concatenate([net.node_component, net.node_component[copied]]),
        edge_u=eu,
        edge_v=ev,
        edge_len=np.concatenate([net.edge_len[order], link_len]),
        edge_geom=np.concatenate([net.edge_geom[order], link_geom]),
        edge_way=np.concatenate([net.edge_way[order], -np.ones(n_l, dtype=np.int64)]),
        edge_highway=np.concatenate(
            [net.edge_highway[order], np.full(n_l, CROSSING_HIGHWAY, dtype=object)]
        ),
        edge_name=np.concatenate([net.edge_name[order], np.full(n_l, "", dtype=object)]),
        edge_kept=np.concatenate([net.edge_kept[order], _link_kept(net, ln)]),
        stats=dict(net.stats) | stats,
        crossings=crossings,
        _csr=None,
        _edge_index=None,
        **_terrain_of(
            net, order, link_m=link_len, nodes=np.concatenate([np.arange(net.n_nodes), copied])
        ),
    )


def _split_edges(
    sec: _Sectors, major: np.ndarray, la: np.ndarray, lb: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The split graph's edges: the origin order of the copied edges, their ends, and the
    ``side``, ``twin`` and ``link`` arrays of :class:`Crossings`."""
    left_u, right_u, left_v, right_v = sec.left_u, sec.right_u, sec.left_v, sec.right_v
    maj = np.flatnonzero(major)
    other = np.flatnonzero(~major)
    # edge order: the other edges, the left copies, the right copies, the links
    order = np.concatenate([other, maj, maj])
    n_o, n_m, n_l = len(other), len(maj), len(la)
    eu = np.concatenate([left_u[other], left_u[maj], right_u[maj], la])
    ev = np.concatenate([left_v[other], left_v[maj], right_v[maj], lb])
    side = np.concatenate([np.zeros(n_o), np.ones(n_m), -np.ones(n_m), np.zeros(n_l)]).astype(
        np.int8
    )
    twin = np.concatenate(
        [-np.ones(n_o), n_o + n_m + np.arange(n_m), n_o + np.arange(n_m), -np.ones(n_l)]
    ).astype(np.int64)
    link = np.concatenate([np.zeros(n_o + 2 * n_m, dtype=bool), np.ones(n_l, dtype=bool)])
    return order, eu, ev, {"side": side, "twin": twin, "link": link}


def _split_stats(
    sec: _Sectors, is_sig_node: np.ndarray, link_sig: np.ndarray, *, n_major: int, n_cut: int
) -> dict[str, Any]:
    """The ``crossing_*`` counts of a split."""
    n_l = len(link_sig)
    return {
        "crossing_nodes_split": len(sec.nodes),
        "crossing_nodes_signalised": int(is_sig_node.sum()),
        "crossing_sector_nodes_added": int((sec.k - 1).sum()),
        "crossing_links": n_l,
        "crossing_links_signalised": int(link_sig.sum()),
        "crossing_major_edges": n_major,
        "crossing_edges_added": n_major + n_l,
        "crossing_mid_block_cuts": n_cut,
    }


def _model_stats(
    delays: CrossingDelays, speed_m_s: float, *, signals_read: int, t0: float
) -> dict[str, Any]:
    """The delays of the model and the time the split took (since ``t0``)."""
    return {
        "signalised_s": delays.signalised_s,
        "unsignalised_s": delays.unsignalised_s,
        "speed_m_s": speed_m_s,
        "signalised_m": delays.signalised_s * speed_m_s,
        "unsignalised_m": delays.unsignalised_s * speed_m_s,
        "classes": list(delays.classes),
        "signal_radius_m": delays.signal_radius_m,
        "signals_read": signals_read,
        "split_s": round(time.perf_counter() - t0, 4),
    }


def _link_kept(net: Network, nodes: np.ndarray) -> np.ndarray:
    """A link is routed on when an edge that meets its node is."""
    kept_node = np.zeros(net.n_nodes, dtype=bool)
    kept_node[net.edge_u[net.edge_kept]] = True
    kept_node[net.edge_v[net.edge_kept]] = True
    return kept_node[nodes]


def without_delays(net: Network) -> Network:
    """The walk graph as it was before the split (the network of a run without crossing
    delays, edge for edge); ``net`` itself when it is not split."""
    c = net.crossings
    if c is None:
        return net
    one = np.flatnonzero(~c.link & (c.side >= 0))
    order = one[np.argsort(c.origin[one], kind="stable")]
    n0 = len(c.node_of) - int((c.node_of != np.arange(len(c.node_of))).sum())
    return replace(
        net,
        node_xy=net.node_xy[:n0],
        node_osmid=net.node_osmid[:n0],
        node_component=net.node_component[:n0],
        edge_u=c.node_of[net.edge_u[order]],
        edge_v=c.node_of[net.edge_v[order]],
        edge_len=net.edge_len[order],
        edge_geom=net.edge_geom[order],
        edge_way=net.edge_way[order],
        edge_highway=net.edge_highway[order],
        edge_name=net.edge_name[order],
        edge_kept=net.edge_kept[order],
        stats={k: v for k, v in net.stats.items() if not k.startswith("crossing_")},
        crossings=None,
        _csr=None,
        _edge_index=None,
        **_terrain_of(net, order, nodes=np.arange(n0)),
    )


def unsplit_snap(net: Network, snap: Snapped) -> Snapped:
    """Points snapped to the split ``net`` as they lie on the unsplit graph
    (:func:`without_delays`): the same place on the edge the side comes from."""
    if net.crossings is None:
        return snap
    edge = np.where(snap.edge >= 0, net.crossings.origin[np.maximum(snap.edge, 0)], -1)
    return replace(snap, edge=edge)


def _without_delays_distances(study: Study, result: Result) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The residents' community, weight and distances with the delays (from ``result``) and
    without them (routed again on the unsplit graph, the same snapped points)."""
    from lifecircle.naming import dist_col
    from lifecircle.routing import origin_distances_on

    net = study.network
    snaps = [unsplit_snap(net, study.access[c].snap) for c in study.categories]
    distances = origin_distances_on(
        without_delays(net),
        snaps,
        unsplit_snap(net, study.residents.snap),
        limit_m=study.search_limit_m,
        processes=study.settings.processes,
    )
    cols = ["community_id", "weight", *(dist_col(c) for c in study.categories)]
    res = pd.DataFrame(result.residents[cols])
    res0 = res.copy()
    for c, d in zip(study.categories, distances, strict=True):
        res0[dist_col(c)] = d
    return res, res0


def crossing_effect(study: Study, result: Result) -> dict[str, Any]:
    """How the crossing delays changed coverage: the same study routed again on the network
    without delays (the unsplit graph, the same snapped points), compared for the
    headline profile at the longest tier.

    Returns
    -------
    dict
        The model's counts and delays, ``baseline_routing_s`` (the cost of the comparison), and
        with and without delays: the complete life circle share, the communities meeting the
        target, and per category the share within its threshold and the share of residents
        whose walk got longer.
    """
    from lifecircle.coverage import area_totals, coverage_table, headline_shares
    from lifecircle.naming import dist_col
    from lifecircle.summary import communities_meeting, complete_life_circle

    net = study.network
    assert net.crossings is not None
    t0 = time.perf_counter()
    res, res0 = _without_delays_distances(study, result)
    baseline_s = time.perf_counter() - t0
    preset, target = study.settings.preset, study.settings.target
    profile, top = preset.headline_profile, max(preset.minutes)
    speed = preset.speeds_m_s[profile]
    empty = [c for c in study.categories if not len(study.access[c].rows)]
    cov0 = coverage_table(res0, study.area.communities, study.categories, preset, target)
    # with delays: the run's own headline shares, at the same profile and minutes
    within = cast(
        "dict[str, float | None]", result.summary["complete_life_circle"]["within_threshold"]
    )
    within0 = cast(
        "dict[str, float | None]",
        headline_shares(res0, study.categories, preset, speed_m_s=speed, minutes=top, empty=empty)[
            "within_threshold"
        ],
    )
    counted = res["community_id"].astype(str).to_numpy() != ""
    w = np.where(counted, res["weight"].to_numpy(dtype=float), 0.0)
    categories = {}
    for c in study.categories:
        longer = res[dist_col(c)].to_numpy() > res0[dist_col(c)].to_numpy() + 0.5
        categories[c] = {
            "within_threshold": within.get(c),
            "within_threshold_without_delays": within0.get(c),
            "residents_walking_longer_share": float(w[longer].sum() / w.sum()) if w.sum() else None,
        }
    return {
        "model": "split sidewalk sides; crossing links between sectors at nodes of major roads",
        "distances": "metres-equivalent: each delay counts as the metres walked in it at "
        f"{net.crossings.stats['speed_m_s']:g} m/s (the headline profile's speed)",
        **net.crossings.stats,
        "profile": profile,
        "minutes": top,
        "complete_life_circle": result.summary["complete_life_circle"]["coverage"],
        "complete_life_circle_without_delays": complete_life_circle(
            area_totals(cov0, target), profile, top, study
        )["coverage"],
        "communities_meeting_target": result.summary["communities_meeting_target"]["count"],
        "communities_meeting_target_without_delays": communities_meeting(cov0, profile, top)[
            "count"
        ],
        "categories": categories,
        "baseline_routing_s": round(baseline_s, 4),
    }
