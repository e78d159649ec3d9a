"""``POST /api/evaluate`` of ``lifecircle serve`` with one added facility, on a generated city:
the city is analysed through the real CLI, then the workbench is served on 127.0.0.1 (a free
port, in a thread of this process) and asked to evaluate one added elder-care facility at
several places, one request at a time, timed from the request to the last byte of the answer.

    python benchmarks/bench_serve.py [--nodes 100000] [--requests 5]

Writes ``benchmarks/_work/serve_<nodes>.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from synth import make_city, write_communities, write_osm_pbf, write_residents  # noqa: E402

RESIDENTS = {10_000: 5_000, 100_000: 50_000, 1_000_000: 200_000}
COMMUNITIES = {10_000: (5, 5), 100_000: (10, 10), 1_000_000: (20, 25)}
LIFECIRCLE = Path(sys.executable).parent / "lifecircle"


def analysed(n: int, work: Path) -> Path:
    """The analysis folder of the generated city (analysed once, then reused)."""
    out = work / f"serve_base_{n}"
    if (out / "study_cache.pickle").is_file():
        return out
    city = make_city(n)
    pbf = write_osm_pbf(city, work / f"grid_{n}.osm.pbf")
    res = write_residents(city, RESIDENTS.get(n, n // 5), work / f"grid_{n}_res.csv")
    r, c = COMMUNITIES.get(n, (10, 10))
    comm = write_communities(city, r, work / f"grid_{n}_comm.geojson", cols=c)
    inputs = ["--osm", str(pbf), "--population", str(res), "--communities", str(comm)]
    cmd = [str(LIFECIRCLE), "-q", "analyze", *inputs, "--out", str(out), "--overwrite"]
    subprocess.run(cmd, check=True)
    return out


def post(port: int, body: dict) -> tuple[float, int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/api/evaluate", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    wall = time.perf_counter() - t0
    conn.close()
    return wall, resp.status, json.loads(raw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=5)
    args = ap.parse_args()
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    base = analysed(args.nodes, work)

    from lifecircle.server import start_in_thread
    from lifecircle.workbench import Workbench

    t0 = time.perf_counter()
    bench = Workbench.open(base)
    open_s = time.perf_counter() - t0
    w, s, e, n = bench.summary()["bounds_wgs84"]
    running = start_in_thread(bench)
    walls, timings = [], []
    try:
        for k in range(args.requests):
            f = (k + 1) / (args.requests + 1)
            add = {"category": "elder_care", "lon": w + f * (e - w), "lat": s + f * (n - s)}
            wall, status, got = post(running.port, {"add": [add]})
            if status != 200:
                raise SystemExit(f"evaluate failed: {got}")
            walls.append(wall)
            timings.append(got["timings_s"])
    finally:
        running.stop()
    row = {
        "nodes": args.nodes,
        "network_nodes": bench.study.network.n_nodes,
        "open_folder_and_baseline_s": round(open_s, 2),
        "evaluate_wall_s": [round(x, 3) for x in walls],
        "evaluate_median_s": round(statistics.median(walls), 3),
        "what_if_timings_s": timings,
    }
    print(json.dumps(row, indent=2))
    (work / f"serve_{args.nodes}.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
