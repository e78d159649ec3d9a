"""``POST /api/evaluate`` of ``lifecircle serve`` on a generated city, timed as a client waits.

The city is analysed through the real CLI (once; the folder is reused), then ``lifecircle serve``
is started as its own process on a free port of 127.0.0.1 and asked, one request at a time, to
evaluate three kinds of edit at several places: one added elder-care facility, one removed, and
one moved (removed and added about 150 m away). Each request is timed from sending it to the last
byte of the answer (HTTP round trip, JSON included). The first request after start-up is reported
apart.

With ``--check`` the same edits are also evaluated in this process through
:func:`lifecircle.scenario.what_if` (a whole changed analysis, as the workbench answered before it
was incremental): the coverage rows must be equal value for value, and its time is reported.

    python benchmarks/bench_serve.py [--nodes 100000] [--requests 5] [--check]

Writes ``benchmarks/_work/serve_<nodes>.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from synth import make_city, write_communities, write_osm_pbf, write_residents  # noqa: E402

RESIDENTS = {10_000: 5_000, 100_000: 50_000, 1_000_000: 200_000}
COMMUNITIES = {10_000: (5, 5), 100_000: (10, 10), 1_000_000: (20, 25)}
LIFECIRCLE = Path(sys.executable).parent / "lifecircle"
CATEGORY = "elder_care"
MOVE_DEG = 0.0015  # about 150 m east


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


def request(port: int, method: str, path: str, body: Any = None) -> tuple[float, int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    if body is None:
        conn.request(method, path)
    else:
        data = json.dumps(body)
        conn.request(method, path, data, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    wall = time.perf_counter() - t0
    conn.close()
    return wall, resp.status, json.loads(raw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(base: Path) -> tuple[subprocess.Popen, int, float]:
    """``lifecircle serve`` in its own process; its port and the seconds until it answered."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(LIFECIRCLE), "-q", "serve", str(base), "--port", str(port)])
    while True:
        try:
            _, status, _ = request(port, "GET", "/api/summary")
            if status == 200:
                return proc, port, time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"lifecircle serve stopped with exit code {proc.returncode}")
        time.sleep(0.2)


def bodies(base: Path, count: int) -> dict[str, list[dict[str, Any]]]:
    """Per kind of edit, ``count`` bodies spread over the area."""
    import geopandas as gpd

    fac = gpd.read_file(base / "lifecircle.gpkg", layer="facilities")
    fac = fac[fac["category"] == CATEGORY].reset_index(drop=True)
    pts = fac.geometry.representative_point()
    w, s, e, n = fac.total_bounds
    out: dict[str, list[dict[str, Any]]] = {"add": [], "remove": [], "move": []}
    for k in range(count):
        f = (k + 1) / (count + 1)
        out["add"].append({"add": [{"category": CATEGORY, "lon": w + f * (e - w),
                                    "lat": s + (1 - f) * (n - s)}]})  # fmt: skip
        i = int(f * (len(fac) - 1))
        fid = str(fac["facility_id"].iloc[i])
        out["remove"].append({"remove": [fid]})
        moved = {"category": CATEGORY, "lon": float(pts.x.iloc[i]) + MOVE_DEG,
                 "lat": float(pts.y.iloc[i])}  # fmt: skip
        out["move"].append({"remove": [fid], "add": [moved]})
    return out


def check(base: Path, asked: dict[str, list[dict[str, Any]]], got: dict[str, list[Any]]) -> dict:
    """The same edits through what_if in this process: equal coverage rows, and its time."""
    from lifecircle.incremental import records
    from lifecircle.scenario import what_if
    from lifecircle.workbench import Workbench

    bench = Workbench.open(base)
    times, equal = [], True
    for kind, items in asked.items():
        for body, answer in zip(items, got[kind], strict=True):
            table = bench._additions(body.get("add", []))
            ids = bench._removals(body.get("remove", []))
            t0 = time.perf_counter()
            sc = what_if(bench.study, add=table, remove=ids, before=bench.baseline)
            times.append(time.perf_counter() - t0)
            equal &= records(sc.after.coverage) == answer["coverage"]
    median = round(statistics.median(times), 3)
    return {"coverage_equal_to_what_if": equal, "what_if_median_s": median}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=5)
    ap.add_argument("--check", action="store_true", help="compare with what_if (slow)")
    args = ap.parse_args()
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    base = analysed(args.nodes, work)
    asked = bodies(base, args.requests)
    proc, port, open_s = start_server(base)
    walls: dict[str, list[float]] = {k: [] for k in asked}
    got: dict[str, list[Any]] = {k: [] for k in asked}
    timings: dict[str, list[Any]] = {k: [] for k in asked}
    try:
        first_s, status, _ = request(port, "POST", "/api/evaluate", asked["add"][0])
        for k in range(args.requests):
            for kind, items in asked.items():
                wall, status, answer = request(port, "POST", "/api/evaluate", items[k])
                if status != 200:
                    raise SystemExit(f"evaluate failed: {answer}")
                walls[kind].append(wall)
                got[kind].append(answer)
                timings[kind].append(answer["timings_s"]["change_and_reroute_s"])
        _, _, summary = request(port, "GET", "/api/summary")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    row: dict[str, Any] = {
        "nodes": args.nodes,
        "network_nodes": json.loads((base / "summary.json").read_text())["network"]["nodes"],
        "facilities": summary["facilities"],
        "residents": summary["residents"],
        "serve_start_until_answering_s": round(open_s, 2),
        "first_request_s": round(first_s, 3),
    }
    for kind in asked:
        row[f"{kind}_wall_s"] = [round(x, 4) for x in walls[kind]]
        row[f"{kind}_median_s"] = round(statistics.median(walls[kind]), 4)
        row[f"{kind}_server_s"] = timings[kind]
    row["answer_bytes"] = len(json.dumps(got["add"][0], ensure_ascii=False).encode())
    if args.check:
        row |= check(base, asked, got)
    print(json.dumps(row, indent=2))
    (work / f"serve_{args.nodes}.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
