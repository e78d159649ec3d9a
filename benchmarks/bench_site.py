"""``lifecircle site`` on the generated 100 k-node city: 50,000 weighted residents, 10,000
candidate sites, elder care (5 minutes at the elderly speed under the shanghai preset).

Measures, in one process on the analysis' saved study: the reach matrix (its size in memory), the
greedy choice (best 10; fewest sites for 85 % of the area; for 85 % of every community) and the
optimal one (best 10, HiGHS, 120 s limit), with the process's peak memory; then the command end to
end (all output files). Not a test: times depend on the machine and its load.

    python benchmarks/bench_site.py [--nodes 100000] [--candidates 10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from synth import make_city, write_communities, write_osm_pbf, write_residents  # noqa: E402

LIFECIRCLE = [sys.executable, "-m", "lifecircle.cli.main"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def analysis(n: int, residents: int, work: Path) -> Path:
    """The analysis folder of the generated city (reused when it is there already)."""
    out = work / f"site_analysis_{n}"
    if (out / "study_cache.pickle").is_file():
        return out
    city = make_city(n)
    pbf = write_osm_pbf(city, work / f"site_grid_{n}.osm.pbf")
    res = write_residents(city, residents, work / f"site_grid_{n}_res.csv")
    comm = write_communities(city, 10, work / f"site_grid_{n}_comm.geojson")
    cmd = [*LIFECIRCLE, "-q", "analyze", "--osm", pbf, "--population", res,
           "--communities", comm, "--preset", "shanghai", "--out", out, "--overwrite"]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True)
    print(json.dumps({"analysis_s": round(time.perf_counter() - t0, 1)}), flush=True)
    return out


def candidates(study, k: int):
    """``k`` street nodes spread evenly over the area."""
    from lifecircle.sitecands import network_candidates

    area_m2 = study.area.area_m.area
    spacing = float(np.sqrt(area_m2 / k)) * 0.95
    c = network_candidates(study.network, study.area.area_m, spacing_m=spacing)
    if len(c) > k:
        c = c.iloc[np.linspace(0, len(c) - 1, k).astype(int)].reset_index(drop=True)
    return c, spacing


def timed(label: str, fn, **kw) -> dict:
    before = peak_mb()
    t0 = time.perf_counter()
    r = fn(**kw)
    wall = time.perf_counter() - t0
    row = {
        "case": label,
        "wall_s": round(wall, 2),
        "stages_s": r.summary.get("timings_s"),
        "sites": len(r.sites),
        "coverage_before": round(r.coverage_before, 4),
        "coverage_after": round(r.coverage_after, 4),
        "reached": r.reached,
        "solver": {k: r.solver.get(k) for k in ("status", "mip_gap", "seconds", "kept")}
        if r.method == "optimal"
        else None,
        "peak_rss_mb_before": round(before, 1),
        "peak_rss_mb_after": round(peak_mb(), 1),
    }
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--residents", type=int, default=50_000)
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=HERE / "_work" / "site.json")
    args = ap.parse_args()
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    folder = analysis(args.nodes, args.residents, work)

    from lifecircle.sitereach import reach_matrix
    from lifecircle.siting import site, walk_for
    from lifecircle.snapping import snap_points
    from lifecircle.sources.facilities import access_points
    from lifecircle.study import Study, study_cache

    t0 = time.perf_counter()
    study = Study.load(study_cache(folder))
    load_s = time.perf_counter() - t0
    cands, spacing = candidates(study, args.candidates)
    cat = "elder_care"
    walk = walk_for(study, cat)
    rows_ap, pts = access_points(cands, study.area.crs, step_m=25.0)
    snap = snap_points(pts, study.network, max_snap_m=study.settings.max_snap_m)
    xy = np.array([[p.x, p.y] for p in pts])
    t0 = time.perf_counter()
    m = reach_matrix(study.network, rows_ap, snap, study.residents.snap,
                     n_candidates=len(cands), xy=xy, limit_m=walk.limit_m)  # fmt: skip
    reach_s = time.perf_counter() - t0
    meta = {
        "nodes": study.network.n_nodes,
        "resident_points": len(study.residents.table),
        "communities": len(study.area.communities),
        "candidates": len(cands),
        "candidate_spacing_m": round(spacing, 1),
        "category": cat,
        "limit_m": walk.limit_m,
        "study_load_s": round(load_s, 2),
        "reach_matrix_s": round(reach_s, 2),
        "reach_nnz": int(m.nnz),
        "reach_mb": round((m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 1e6, 2),
        "dense_would_be_mb": round(m.shape[0] * m.shape[1] / 1e6, 1),
    }
    print(json.dumps(meta), flush=True)
    rows = [
        timed("greedy_count_10", site, study=study, category=cat, candidates=cands, count=10),
        timed(
            "greedy_target_0.85_area",
            site,
            study=study,
            category=cat,
            candidates=cands,
            target=0.85,
        ),
        timed(
            "greedy_target_0.85_community",
            site,
            study=study,
            category=cat,
            candidates=cands,
            target=0.85,
            per="community",
        ),
        timed(
            "optimal_count_10",
            site,
            study=study,
            category=cat,
            candidates=cands,
            count=10,
            method="optimal",
            time_limit_s=120.0,
        ),
        # a longer walk: 15 minutes at the elderly speed (810 m), three times the reach
        timed(
            "15min_greedy_count_10",
            site,
            study=study,
            category=cat,
            candidates=cands,
            count=10,
            minutes=15,
        ),
        timed(
            "15min_greedy_target_0.85_area",
            site,
            study=study,
            category=cat,
            candidates=cands,
            target=0.85,
            minutes=15,
        ),
        timed(
            "15min_optimal_count_10",
            site,
            study=study,
            category=cat,
            candidates=cands,
            count=10,
            minutes=15,
            method="optimal",
            time_limit_s=120.0,
        ),
    ]
    cand_csv = work / "site_candidates.csv"
    pt = cands.geometry
    cand_csv.write_text(
        "id,name,lon,lat\n"
        + "".join(
            f"{i},,{p.x:.8f},{p.y:.8f}\n" for i, p in zip(cands["candidate_id"], pt, strict=True)
        ),
        encoding="utf-8",
    )
    cmd = [*LIFECIRCLE, "-q", "site", folder, "--category", cat, "--candidates", cand_csv,
           "--target", "0.85", "--out", work / "site_out", "--overwrite"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    cli = {"case": "cli_greedy_target_0.85_area_with_outputs",
           "wall_s": round(time.perf_counter() - t0, 2), "exit": proc.returncode}  # fmt: skip
    print(json.dumps(cli), flush=True)
    args.out.write_text(json.dumps({"meta": meta, "runs": [*rows, cli]}, indent=2))


if __name__ == "__main__":
    main()
