"""A city-scale batch: Shanghai's 16 real district polygons over a generated street grid that
fills the city (about 1 M walkable nodes), with generated facilities and residents.

Measures the one-time preparation (reading the city file into the columnar cache), the batch with
1 and with 2 workers (sharing the prepared cache), the peak memory per worker, and a plain loop of
``lifecircle analyze --area <district>`` over the same districts — the approach a user has without
the batch — and checks that every district's coverage.csv is identical between all three.

    python benchmarks/bench_batch.py [--nodes 1000000] [--residents 300000]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
WORK = HERE / "_work"
DISTRICTS = ROOT.parent / "shared" / "data" / "boundaries" / "shanghai_districts"
CLI = str(ROOT / ".venv" / "bin" / "lifecircle")
sys.path.insert(0, str(HERE))
from synth import make_city_in, write_osm_pbf, write_residents_in  # noqa: E402

NAMES = {  # the 16 districts of Shanghai, by statistical division code
    "310101": "黄浦区", "310104": "徐汇区", "310105": "长宁区", "310106": "静安区",
    "310107": "普陀区", "310109": "虹口区", "310110": "杨浦区", "310112": "闵行区",
    "310113": "宝山区", "310114": "嘉定区", "310115": "浦东新区", "310116": "金山区",
    "310117": "松江区", "310118": "青浦区", "310120": "奉贤区", "310151": "崇明区",
}  # fmt: skip
COMMON = ["--grid-cell-m", "1000", "--tiles", "none"]


def inputs(n_nodes: int, n_res: int) -> dict[str, Path]:
    import geopandas as gpd
    import shapely

    WORK.mkdir(exist_ok=True)
    d = WORK / f"shanghai_{n_nodes}"
    d.mkdir(exist_ok=True)
    frames = []
    for code, name in NAMES.items():
        g = gpd.read_file(DISTRICTS / f"{code}.geojson").to_crs(4326)
        frames.append({"code": code, "name": name, "geometry": shapely.union_all(g.geometry)})
    districts = gpd.GeoDataFrame(frames, geometry="geometry", crs=4326)
    districts.to_file(d / "districts.gpkg", driver="GPKG")
    for i, row in districts.iterrows():
        districts.iloc[[i]].to_file(d / f"area_{row.code}.gpkg", driver="GPKG")
    city = shapely.union_all(districts.geometry.to_numpy())
    pbf, res = d / "city.osm.pbf", d / "residents.csv"
    if not pbf.exists():
        t0 = time.perf_counter()
        c = make_city_in(city, n_nodes)
        write_osm_pbf(c, pbf)
        write_residents_in(city, n_res, res)
        print(f"generated {pbf} in {time.perf_counter() - t0:.0f} s", flush=True)
    return {"dir": d, "pbf": pbf, "residents": res, "districts": d / "districts.gpkg"}


def run(cmd: list[str], log: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT).returncode
    return time.perf_counter() - t0, rc


def batch(inp: dict[str, Path], out: Path, workers: int, cache: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        CLI, "batch", "--osm", str(inp["pbf"]), "--districts", str(inp["districts"]),
        "--population", str(inp["residents"]), "--out", str(out), "--workers", str(workers),
        "--cache-dir", str(cache), *COMMON,
    ]  # fmt: skip
    wall, rc = run(cmd, out.parent / f"{out.name}.log")
    s = json.loads((out / "city_summary.json").read_text("utf-8"))
    per = s["per_district"]
    return {
        "workers": workers,
        "exit_code": rc,
        "wall_s": wall,
        "timings": s["timings"],
        "ok": s["ok"],
        "failed": s["failed"],
        "peak_rss_mb_per_worker": max(v["peak_rss_mb"] or 0 for v in per.values()),
        "district_seconds": {k: v["seconds"] for k, v in per.items()},
        "cache": s["provenance"]["city_cache"],
        "complete_life_circle": s["totals"]["complete_life_circle_coverage"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--residents", type=int, default=300_000)
    ap.add_argument("--skip-loop", action="store_true")
    a = ap.parse_args()
    if not DISTRICTS.exists():
        sys.exit(f"{DISTRICTS} is absent: the shared real-data folder is not beside this checkout")
    inp = inputs(a.nodes, a.residents)
    d = inp["dir"]
    cache = d / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    res: dict = {"nodes_requested": a.nodes, "residents": a.residents}
    if not a.skip_loop:  # first, so that the peak memory of its processes is its own
        loop = d / "loop"
        shutil.rmtree(loop, ignore_errors=True)
        loop.mkdir()
        t0 = time.perf_counter()
        codes = {}
        for code in NAMES:
            cmd = [
                CLI, "-q", "analyze", "--osm", str(inp["pbf"]),
                "--area", str(d / f"area_{code}.gpkg"),
                "--population", str(inp["residents"]), "--out", str(loop / code), *COMMON,
            ]  # fmt: skip
            codes[code] = run(cmd, loop / f"{code}.log")[1]
        res["loop"] = {
            "wall_s": time.perf_counter() - t0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "exit_codes": codes,
        }
        print("loop:", json.dumps(res["loop"]), flush=True)
    res["batch_1"] = batch(inp, d / "out_w1", 1, cache)  # builds the cache: preparation timed here
    print("1 worker:", json.dumps(res["batch_1"]["timings"]), flush=True)
    res["batch_2"] = batch(inp, d / "out_w2", 2, cache)
    print("2 workers:", json.dumps(res["batch_2"]["timings"]), flush=True)
    r1, r2 = res["batch_1"]["timings"]["run_s"], res["batch_2"]["timings"]["run_s"]
    res["speedup_2_workers"] = r1 / r2
    res["parallel_efficiency"] = r1 / (2 * r2)
    man = json.loads((d / "out_w1" / "batch_manifest.json").read_text("utf-8"))
    dirs = {k: v["dir"] for k, v in man["districts"].items()}
    nodes = {}
    for k, folder in dirs.items():
        s = json.loads((d / "out_w1" / folder / "summary.json").read_text("utf-8"))
        nodes[k] = s["network"]["nodes"]
    res["nodes_per_district"] = nodes
    res["nodes_total_in_districts"] = sum(nodes.values())
    same = all(
        (d / "out_w1" / f / "coverage.csv").read_bytes()
        == (d / "out_w2" / f / "coverage.csv").read_bytes()
        for f in dirs.values()
    )
    res["identical_1_vs_2_workers"] = same
    if "loop" in res:
        res["loop"]["identical_to_batch"] = all(
            (d / "loop" / k / "coverage.csv").read_bytes()
            == (d / "out_w1" / f / "coverage.csv").read_bytes()
            for k, f in dirs.items()
        )
    (WORK / "batch.json").write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print(
        json.dumps(
            {k: v for k, v in res.items() if k not in ("nodes_per_district",)},
            indent=1,
            ensure_ascii=False,
        )[:3000]
    )


if __name__ == "__main__":
    main()
