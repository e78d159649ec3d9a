"""Capacity (2SFCA): time and memory of the per-facility catchments on generated street grids —
one length-limited search per facility, kept as a sparse (resident, facility, metres) table.

    python benchmarks/bench_capacity.py [--sizes 100000] [--facilities-per 100] [--residents 50000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_routing import graph

from lifecircle.capacity import catchment_pairs, two_step_fca
from lifecircle.snapping import Snapped

LIMITS_M = {"elder_care": 270.0, "canteen": 540.0}  # shanghai preset, elderly walker


def on_edges(net, n: int, seed: int) -> Snapped:
    """``n`` points spread over kept edges, 0–30 m off the street."""
    rng = np.random.default_rng(seed)
    kept = np.flatnonzero(net.edge_kept)
    e = rng.choice(kept, n)
    off = rng.uniform(0, 1, n) * net.edge_len[e]
    return Snapped(e, off, rng.uniform(0, 30, n), np.zeros(n, dtype=bool))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--facilities-per", type=int, default=100, help="graph nodes per facility")
    ap.add_argument("--residents", type=int, default=50_000)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    rows = []
    for n in a.sizes:
        net = graph(n)
        res = on_edges(net, a.residents, 1)
        n_fac = max(1, net.n_nodes // a.facilities_per)
        fac = on_edges(net, n_fac, 2)
        for cat, limit in LIMITS_M.items():
            t0 = time.perf_counter()
            r, f, _ = catchment_pairs(
                net, np.arange(n_fac), fac, res, n_facilities=n_fac, limit_m=limit
            )
            t1 = time.perf_counter()
            two_step_fca(np.full(n_fac, 50.0), np.ones(a.residents), r, f)
            t2 = time.perf_counter()
            rows.append(
                {
                    "nodes": net.n_nodes,
                    "category": cat,
                    "limit_m": limit,
                    "facilities": n_fac,
                    "residents": a.residents,
                    "pairs": len(r),
                    "catchments_s": round(t1 - t0, 2),
                    "two_steps_s": round(t2 - t1, 3),
                    "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    if a.out:
        a.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
