"""``lifecircle scenario`` against the full ``lifecircle analyze`` on a generated city: both run
through the real CLI in a fresh process each, then the scenario's compute alone (load the saved
study, re-route the changed categories, both coverage tables) in a fresh process without
writing.

Two scenarios: elder-care facilities open (one category of eight re-routed), then the same and
markets close (two categories).

    python benchmarks/bench_scenario.py [--nodes 100000] [--add 20] [--remove 10]

Writes ``benchmarks/_work/scenario_<nodes>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from synth import make_city, write_communities, write_osm_pbf, write_residents  # noqa: E402

RESIDENTS = {10_000: 5_000, 100_000: 50_000, 1_000_000: 200_000}
COMMUNITIES = {10_000: (5, 5), 100_000: (10, 10), 1_000_000: (20, 25)}
PYTHON = Path(sys.executable)  # the interpreter running this, and its lifecircle command
LIFECIRCLE = PYTHON.parent / "lifecircle"

COMPUTE_ONLY = """
import json, sys, time
t0 = time.perf_counter()
from lifecircle.scenario import load_analysis, read_additions, read_removals, what_if
t1 = time.perf_counter()
run = load_analysis(sys.argv[1])
t2 = time.perf_counter()
add = read_additions([sys.argv[2]], run.study)
ids = read_removals(sys.argv[3]) if sys.argv[3] else []
t3 = time.perf_counter()
s = what_if(run.study, add=add, remove=ids)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_study_s": t2 - t1, "read_changes_s": t3 - t2,
                  "what_if_s": t4 - t3, **s.summary["timings_s"],
                  "rerouted": s.summary["rerouted_categories"]}))
"""


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{proc.stderr[-3000:]}")
    return wall, proc


def changes(base: Path, work: Path, n_add: int, n_remove: int) -> tuple[Path, Path]:
    """Elder-care facilities to add (on street nodes spread over the area) and markets to
    close (ids from the analysis's facilities layer)."""
    import geopandas as gpd
    import numpy as np

    fac = gpd.read_file(base / "lifecircle.gpkg", layer="facilities")
    comm = gpd.read_file(base / "lifecircle.gpkg", layer="communities")
    x0, y0, x1, y1 = comm.total_bounds
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(x0, x1, n_add), rng.uniform(y0, y1, n_add)
    add = work / "scenario_add.csv"
    rows = [
        f"n{i},elder_care,新养老{i},{a:.7f},{b:.7f}"
        for i, (a, b) in enumerate(zip(lon, lat, strict=True))
    ]
    add.write_text("id,category,name,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    markets = fac.loc[fac["category"] == "market", "facility_id"].astype(str).tolist()
    gone = rng.choice(markets, size=min(n_remove, len(markets)), replace=False)
    remove = work / "scenario_remove.csv"
    remove.write_text("facility_id\n" + "\n".join(gone) + "\n", encoding="utf-8")
    return add, remove


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--add", type=int, default=20)
    ap.add_argument("--remove", type=int, default=10)
    args = ap.parse_args()
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    n = args.nodes
    city = make_city(n)
    pbf = write_osm_pbf(city, work / f"grid_{n}.osm.pbf")
    res = write_residents(city, RESIDENTS.get(n, n // 5), work / f"grid_{n}_res.csv")
    r, c = COMMUNITIES.get(n, (10, 10))
    comm = write_communities(city, r, work / f"grid_{n}_comm.geojson", cols=c)
    base = work / f"scenario_base_{n}"
    shutil.rmtree(base, ignore_errors=True)  # a saved study there would be reused: a full run
    inputs = ["--osm", str(pbf), "--population", str(res), "--communities", str(comm)]
    analyze_s, _ = timed(
        [str(LIFECIRCLE), "-q", "analyze", *inputs, "--out", str(base), "--overwrite"]
    )
    add, remove = changes(base, work, args.add, args.remove)
    stages = json.loads((base / "summary.json").read_text("utf-8"))["timings_s"]
    analysis_compute = sum(v for k, v in stages.items() if not k.startswith("of_which"))
    row: dict[str, object] = {
        "nodes": n,
        "analyze_wall_s": round(analyze_s, 2),
        "analyze_compute_s": round(analysis_compute, 2),
        "analyze_stages_s": stages,
        "cache_mb": round((base / "study_cache.pickle").stat().st_size / 1e6, 1),
    }
    # one category changed (elder care opens), then two (and markets close)
    variants = {
        "add": ["--add", str(add)],
        "add_remove": ["--add", str(add), "--remove", str(remove)],
    }
    for label, change in variants.items():
        out = work / f"scenario_out_{n}_{label}"
        cmd = [str(LIFECIRCLE), "-q", "scenario", str(base), *change, "--out", str(out)]
        wall, _ = timed([*cmd, "--overwrite"])
        rm = str(remove) if label == "add_remove" else ""
        _, proc = timed([str(PYTHON), "-c", COMPUTE_ONLY, str(base), str(add), rm])
        compute = json.loads(proc.stdout.strip().splitlines()[-1])
        compute_s = compute["load_study_s"] + compute["what_if_s"]
        row[label] = {
            "scenario_wall_s": round(wall, 2),
            "compute": {
                k: (round(v, 3) if isinstance(v, float) else v) for k, v in compute.items()
            },
            "compute_s": round(compute_s, 2),
            "wall_ratio": round(wall / analyze_s, 3),
            "compute_ratio": round(compute_s / analysis_compute, 3),
        }
    print(json.dumps(row, indent=2))
    (work / f"scenario_{n}.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
