"""Routing stage: time to the nearest facility of 8 categories on generated street grids, ours
against the approaches users have today, on identical inputs, checking the results are identical.

Facilities sit on graph nodes here so that every tool answers the same question (node-to-node
network distance within the 15-minute reach, 990 m); the full edge-snapping model is checked
against a networkx oracle in the tests.

    python benchmarks/bench_routing.py [--sizes 10000 100000 1000000] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from synth import NODES_PER_FACILITY, make_city

from lifecircle.crs import metric_crs
from lifecircle.network import build_network
from lifecircle.routing import facility_fields
from lifecircle.snapping import Snapped
from lifecircle.sources.osm import WalkWay

LIMIT_M = 990.0  # 15 minutes at 1.1 m/s


def graph(n_nodes: int):
    city = make_city(n_nodes)
    ways = [
        WalkWay(
            i, idx.astype(np.int64) + 1, np.column_stack([city.lon[idx], city.lat[idx]]), hw, ""
        )
        for i, (idx, hw) in enumerate(city.ways)
    ]
    crs = metric_crs(float(np.mean(city.lon)), float(np.mean(city.lat)))
    return build_network(ways, crs)


def facilities_at_nodes(net, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    kept_nodes = np.unique(np.concatenate([net.edge_u[net.edge_kept], net.edge_v[net.edge_kept]]))
    return {
        cat: rng.choice(kept_nodes, max(1, net.n_nodes // per), replace=False)
        for cat, per in NODES_PER_FACILITY.items()
    }


def snapped_at_nodes(net, fac: dict[str, np.ndarray]) -> dict[str, Snapped]:
    """Each facility on a kept edge that starts or ends at its node, offset 0 or the length."""
    kept = np.flatnonzero(net.edge_kept)
    first_u = np.full(net.n_nodes, -1)
    first_u[net.edge_u[kept][::-1]] = kept[::-1]
    first_v = np.full(net.n_nodes, -1)
    first_v[net.edge_v[kept][::-1]] = kept[::-1]
    out = {}
    for cat, nodes in fac.items():
        e = np.where(first_u[nodes] >= 0, first_u[nodes], first_v[nodes])
        off = np.where(first_u[nodes] >= 0, 0.0, net.edge_len[e])
        out[cat] = Snapped(e, off, np.zeros(len(nodes)), np.zeros(len(nodes), dtype=bool))
    return out


def ours(net, fac: dict[str, np.ndarray], processes: int) -> tuple[float, dict[str, np.ndarray]]:
    """All categories through lifecircle.routing.facility_fields, as the pipeline runs them."""
    snaps = snapped_at_nodes(net, fac)
    net.csr()  # built once per network, as the pipeline does
    t = time.perf_counter()
    fields = facility_fields(net, list(snaps.values()), limit_m=LIMIT_M, processes=processes)
    return time.perf_counter() - t, {c: f.node_m for c, f in zip(snaps, fields, strict=True)}


def nx_graph(net):
    import networkx as nx

    g = nx.Graph()
    k = np.flatnonzero(net.edge_kept)
    for u, v, w in zip(
        net.edge_u[k].tolist(), net.edge_v[k].tolist(), net.edge_len[k].tolist(), strict=True
    ):
        if u != v and (not g.has_edge(u, v) or g[u][v]["weight"] > w):
            g.add_edge(u, v, weight=w)
    return g


def nx_multi(g, fac, n):
    import networkx as nx

    out = {}
    t = time.perf_counter()
    for cat, nodes in fac.items():
        d = nx.multi_source_dijkstra_path_length(g, set(nodes.tolist()), cutoff=LIMIT_M)
        a = np.full(n, np.inf)
        a[list(d.keys())] = list(d.values())
        out[cat] = a
    return time.perf_counter() - t, out


def nx_per_facility(g, fac, n, cats):
    import networkx as nx

    out = {}
    t = time.perf_counter()
    for cat in cats:
        a = np.full(n, np.inf)
        for f in fac[cat].tolist():
            d = nx.single_source_dijkstra_path_length(g, f, cutoff=LIMIT_M)
            idx = np.fromiter(d.keys(), dtype=np.int64, count=len(d))
            val = np.fromiter(d.values(), dtype=float, count=len(d))
            np.minimum.at(a, idx, val)
        out[cat] = a
    return time.perf_counter() - t, out


def pandana_run(net, fac):
    import pandana
    import pandas as pd

    k = np.flatnonzero(net.edge_kept)
    nodes = pd.DataFrame({"x": net.node_xy[:, 0], "y": net.node_xy[:, 1]})
    t0 = time.perf_counter()
    pn = pandana.Network(
        nodes["x"],
        nodes["y"],
        pd.Series(net.edge_u[k]),
        pd.Series(net.edge_v[k]),
        pd.DataFrame({"w": net.edge_len[k]}),
        twoway=True,
    )
    t_build = time.perf_counter() - t0
    out = {}
    t = time.perf_counter()
    for cat, ids in fac.items():
        pn.set_pois(
            cat,
            LIMIT_M,
            1,
            pd.Series(nodes["x"].to_numpy()[ids]),
            pd.Series(nodes["y"].to_numpy()[ids]),
        )
        r = pn.nearest_pois(LIMIT_M, cat, num_pois=1)
        a = r[1].reindex(range(net.n_nodes)).to_numpy(dtype=float, copy=True)
        a[a >= LIMIT_M] = np.inf
        out[cat] = a
    return time.perf_counter() - t, t_build, out


def cityseer_run(net, fac):
    """cityseer's accessibility (Rust): the nearest distance to each land use from every node."""
    import geopandas as gpd
    import networkx as nx
    import shapely
    from cityseer.metrics import layers
    from cityseer.tools import io

    t0 = time.perf_counter()
    g = nx.MultiGraph()
    for i in range(net.n_nodes):
        g.add_node(str(i), x=float(net.node_xy[i, 0]), y=float(net.node_xy[i, 1]))
    for e in np.flatnonzero(net.edge_kept):
        u, v = str(net.edge_u[e]), str(net.edge_v[e])
        if u != v:
            g.add_edge(u, v, geom=net.edge_geom[e])
    g.graph["crs"] = net.crs
    nodes_gdf, _, structure = io.network_structure_from_nx(g)
    t_build = time.perf_counter() - t0
    cats, pts = [], []
    for cat, ids in fac.items():
        cats += [cat] * len(ids)
        pts.append(net.node_xy[ids])
    data = gpd.GeoDataFrame(
        {"landuse": cats}, geometry=shapely.points(np.concatenate(pts)), crs=net.crs
    )
    t = time.perf_counter()
    out = layers.compute_accessibilities(
        data, "landuse", list(fac), nodes_gdf, structure, distances=[int(LIMIT_M)]
    )
    t_query = time.perf_counter() - t
    got = {}
    order = out.index.astype(int).to_numpy()
    for cat in fac:
        a = np.full(net.n_nodes, np.inf)
        a[order] = out[f"cc_{cat}_nearest_max_{int(LIMIT_M)}"].to_numpy(dtype=float)
        got[cat] = np.where(np.isfinite(a), a, np.inf)
    return t_query, t_build, got


def _child(tool, net, fac, ref, queue) -> None:
    try:
        t_query, t_build, got = tool(net, fac)
        # both tools compute in float32: agree to float32 precision. Only small results cross
        # the process boundary (a large payload would block the child's exit).
        check = compare(ref, got, 1e-4, limit_tol=1e-4)
        queue.put(("ok", {"s": t_query, "build_s": t_build, "check": check}))
    except Exception as exc:  # report, do not hide
        queue.put(("error", repr(exc)))


def with_budget(name: str, tool, net, fac, ref, budget_s: float) -> dict:
    """Run another tool in a child process with a time budget (builds can take very long)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(tool, net, fac, ref, queue))
    proc.start()
    proc.join(budget_s)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {f"{name}_error": f"did not finish within {budget_s:.0f} s (network build included)"}
    status, payload = queue.get()
    if status != "ok":
        return {f"{name}_error": payload}
    return {f"{name}_s": payload["s"], f"{name}_build_s": payload["build_s"],
            f"{name}_check": payload["check"]}  # fmt: skip


def compare(
    ref: dict[str, np.ndarray], other: dict[str, np.ndarray], rtol: float, limit_tol: float = 1e-6
) -> dict:
    worst, mismatch = 0.0, 0
    for cat, a in ref.items():
        b = other[cat]
        fa, fb = np.isfinite(a), np.isfinite(b)
        # both sides stop at the reach; a node within rounding of the limit may fall either way
        near = LIMIT_M - limit_tol * LIMIT_M
        edge = (np.nan_to_num(a, posinf=LIMIT_M) >= near) | (
            np.nan_to_num(b, posinf=LIMIT_M) >= near
        )
        mismatch += int(((fa != fb) & ~edge).sum())
        both = fa & fb
        if both.any():
            worst = max(worst, float(np.max(np.abs(a[both] - b[both]) / np.maximum(a[both], 1e-9))))
    return {
        "identical": mismatch == 0 and worst <= rtol,
        "reach_mismatches": mismatch,
        "max_rel_diff": worst,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "_work" / "routing.json")
    ap.add_argument("--pandana-budget-s", type=float, default=900.0)
    args = ap.parse_args()
    results = []
    for n in args.sizes:
        net = graph(n)
        fac = facilities_at_nodes(net)
        row: dict = {
            "nodes": net.n_nodes,
            "edges": int(net.edge_kept.sum()),
            "facilities": {c: len(v) for c, v in fac.items()},
        }
        serial = [ours(net, fac, 1) for _ in range(2)]
        ref = serial[0][1]
        row["ours_1_process_s"] = min(t for t, _ in serial)
        par = [ours(net, fac, 2) for _ in range(2)]
        row["ours_s"] = min(t for t, _ in par)  # what the pipeline does on this 2-core machine
        row["ours_parallel_check"] = compare(ref, par[0][1], 0.0)
        t = time.perf_counter()
        g = nx_graph(net)
        row["networkx_build_s"] = time.perf_counter() - t
        row["nx_multi_s"], got = nx_multi(g, fac, net.n_nodes)
        row["nx_multi_check"] = compare(ref, got, 1e-9)
        cats = list(fac) if n <= 20_000 else ["market"]
        tpf, got = nx_per_facility(g, fac, net.n_nodes, cats)
        row["nx_per_facility_s"] = tpf
        row["nx_per_facility_categories"] = cats
        row["nx_per_facility_check"] = compare({c: ref[c] for c in cats}, got, 1e-9)
        del g
        print(json.dumps(row), flush=True)  # the figures so far, in case pandana never ends
        row.update(with_budget("pandana", pandana_run, net, fac, ref, args.pandana_budget_s))
        row.update(with_budget("cityseer", cityseer_run, net, fac, ref, args.pandana_budget_s))
        print(json.dumps(row), flush=True)
        results.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
