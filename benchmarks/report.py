"""Write benchmarks/RESULTS.md from the JSON files the benchmarks left in benchmarks/_work/.

python benchmarks/report.py
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
WORK = HERE / "_work"


def load(name: str):
    p = WORK / name
    return json.loads(p.read_text()) if p.exists() else None


def f(x, nd=2):
    return "–" if x is None else f"{x:,.{nd}f}"


def routing_section(rows) -> list[str]:
    out = [
        "## Routing: nearest facility of 8 categories",
        "",
        "Generated jittered street grids (80 m blocks, 8 % of segments missing), facilities on",
        "graph nodes so that every tool answers the same node-to-node question within the 990 m",
        "reach (15 min at 1.1 m/s). Times are for all 8 categories; graph construction is excluded",
        "for every tool and listed separately for pandana, whose contraction-hierarchy build is",
        "part of what a user waits for. `identical` compares every node's distance with ours.",
        "",
        "| nodes | ours, 2 processes (s) | ours, 1 process (s) | networkx multi-source (s) | speed-up | networkx one search per facility (s) | pandana query (s) | pandana build (s) | cityseer query (s) | cityseer build (s) | results |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pf = f(r.get("nx_per_facility_s"))
        if r.get("nx_per_facility_categories") and len(r["nx_per_facility_categories"]) < 8:
            pf += f" ({', '.join(r['nx_per_facility_categories'])} only)"
        pan_q = f(r.get("pandana_s")) if "pandana_s" in r else "–"
        pan_b = (
            f(r.get("pandana_build_s"), 1)
            if "pandana_build_s" in r
            else r.get("pandana_error", "–")
        )
        cs_q = f(r.get("cityseer_s")) if "cityseer_s" in r else "–"
        cs_b = (
            f(r.get("cityseer_build_s"), 1)
            if "cityseer_build_s" in r
            else r.get("cityseer_error", "–")
        )
        checks = [
            f"networkx {'identical' if r['nx_multi_check']['identical'] else 'DIFFERENT'}",
            f"per-facility {'identical' if r['nx_per_facility_check']['identical'] else 'DIFFERENT'}",
        ]
        for tool in ("pandana", "cityseer"):
            if f"{tool}_check" in r:
                pc = r[f"{tool}_check"]
                checks.append(
                    f"{tool} max rel. diff {pc['max_rel_diff']:.1e}, "
                    f"{pc['reach_mismatches']} nodes disagree on reaching"
                )
        out.append(
            f"| {r['nodes']:,} | {f(r['ours_s'], 3)} | {f(r.get('ours_1_process_s'), 3)} | "
            f"{f(r['nx_multi_s'])} | {r['nx_multi_s'] / r['ours_s']:.0f}× | {pf} | {pan_q} | {pan_b} | {cs_q} | {cs_b} | "
            f"{'; '.join(checks)} |"
        )
    return out


def analyze_section(a) -> list[str]:
    if a is None:
        return ["## Whole analysis against osmnx + networkx", "", "(not run)"]
    b, o = a["baseline_s"], a["ours_s"]
    d = a["coverage_points_diff"]
    out = [
        "## Whole analysis against the osmnx + networkx workflow",
        "",
        f"A generated city of {a['nodes']:,} street nodes given as `.osm` XML, {a['residents']:,}",
        f"weighted resident points, {a['communities']} communities, 8 categories, in one run.",
        "The baseline is what a competent user writes today: `osmnx.graph_from_xml`,",
        "`features_from_xml`, `nearest_nodes` for residents and facilities, one networkx",
        "multi-source Dijkstra per category, a spatial join and a weighted share.",
        "",
        "| stage | osmnx + networkx (s) |",
        "|---|---|",
    ]
    out += [f"| {k} | {f(v)} |" for k, v in b.items()]
    out += [
        "",
        f"lifecircle `analyze` (library call, same inputs): **{f(o['total'])} s** "
        f"(stages: {', '.join(f'{k} {v:.2f}' for k, v in o.items() if k != 'total')}).",
        f"Speed-up: **{a['speedup']:.1f}×**.",
        *_cli_lines(a),
        "",
        "Accuracy. Ours equals the brute-force networkx oracle (tests/oracle.py) on "
        f"{', '.join(a['oracle']['categories'])}: max relative difference "
        f"{a['oracle']['max_rel_diff']:.1e}. The baseline snaps homes and facilities to the",
        "nearest *node* and ignores the walk to and from the street, so its coverage differs from",
        f"the exact one by up to **{d['max']:.1f} percentage points** for a community × category ×",
        f"tier (mean {d['mean']:.2f}, 95th percentile {d['p95']:.1f}; "
        f"{d['share_of_rows_off_by_more_than_1_point']:.0%} of rows off by more than 1 point).",
    ]
    return out


def _cli_lines(a) -> list[str]:
    c = a.get("cli_s")
    if not c:
        return []
    runs = ", ".join(f"{x:.1f}" for x in a.get("cli_wall_s_all", []))
    return [
        "",
        "The whole `lifecircle analyze` command on the same inputs, every output written, in a "
        f"fresh process: **{f(c['wall_s'])} s** (fastest of {runs} s; outputs and start-up "
        f"{f(c['outputs_and_startup_s'])} s). Speed-up as a user waits: "
        f"**{a['speedup_cli']:.1f}×**.",
    ]


def stages_section(rows) -> list[str]:
    if not rows:
        return ["## Stages", "", "(not run)"]
    keys = ["load_user_files", "load_osm", "area", "graph", "facilities", "snapping",
            "of_which_routing", "of_which_service_areas", "coverage"]  # fmt: skip
    out = [
        "## `lifecircle analyze` stage by stage",
        "",
        "Each case runs the real CLI in a fresh process (`bench_stages.py`). Real extracts use OSM",
        "buildings as residents; generated grids are `.osm.pbf` with resident points and",
        "communities. `outputs+startup` is writing CSV, GeoPackage, spreadsheet, map and the",
        "interpreter start. Peak memory is the process's maximum resident set (with its routing",
        "workers); `–` means not above the previous case's peak, which is all the OS reports.",
        "",
        "| case | nodes | residents | communities | "
        + " | ".join(keys)
        + " | outputs+startup | total (s) | peak memory (GB) | map (MB) |",
        "|" + "---|" * (len(keys) + 9),
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['case']} | error: {r['error'][:80]} |")
            continue
        st = r["stages_s"]
        out.append(
            f"| {r['case']} | {r['nodes']:,.0f} | {r['resident_points']:,} | {r['communities']} | "
            + " | ".join(f(st.get(k)) for k in keys)
            + f" | {f(r['outputs_and_startup_s'])} | **{f(r['wall_s'])}** | {f(r['peak_rss_gb'])} | {f(r['map_mb'], 1)} |"
        )
    return out


def outputs_section(rows) -> list[str]:
    """The outputs of each case, per file-writing task (``summary.json → output_timings_s``)."""
    rows = [r for r in rows if r.get("output_timings_s")]
    if not rows:
        return []
    tasks = ["map", "cache", "gpkg", "xlsx", "tables", "figures"]
    out = [
        "### Writing the outputs, file by file",
        "",
        "Seconds each file-writing task took (`summary.json → output_timings_s`): `map` is",
        "`map.html`, `cache` the saved study, `gpkg` `lifecircle.gpkg`, `xlsx` `coverage.xlsx`,",
        "`tables` the CSV files and the task list (`tasks.csv`, `tasks.xlsx`), `figures` the two",
        "PNGs. On areas of 50,000 nodes or more they run in forked workers side by side, so `wall`",
        "(what the user waits) is less than their sum. `report.html` and `summary.json` follow.",
        "",
        "| case | " + " | ".join(tasks) + " | wall (s) | start-up, summary and report (s) |",
        "|" + "---|" * (len(tasks) + 3),
    ]
    for r in rows:
        t = r["output_timings_s"]
        rest = r["outputs_and_startup_s"] - t.get("wall", 0.0)
        out.append(
            f"| {r['case']} | "
            + " | ".join(f(t.get(k)) for k in tasks)
            + f" | {f(t.get('wall'))} | {f(rest)} |"
        )
    return out


def service_section(rows) -> list[str]:
    if not rows:
        return ["## Service areas", "", "(not run)"]
    out = [
        "## Service areas: raster against the exact area",
        "",
        "Exact: every reached stretch of edge cut with shapely, buffered 40 m and unioned. Ours:",
        "reached samples every 5 m rasterised at 10 m, spread 40 m by a minimum filter, polygons by",
        "`rasterio.features.shapes`; `filled` also fills holes under 2 ha (block interiors).",
        "",
        "| extract | category | facilities | exact (s) | exact km² | raster (s) | area ratio | IoU | raster filled (s) | area ratio | IoU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        a, b = r["raster"], r["raster_filled"]
        out.append(
            f"| {r['source']} | {r['category']} | {r['facilities']} | {f(r['exact_s'])} | {f(r['exact_km2'], 3)} | "
            f"{f(a['s'])} | {a['area_ratio']:.3f} | {a['iou']:.3f} | {f(b['s'])} | {b['area_ratio']:.3f} | {b['iou']:.3f} |"
        )
    return out


def batch_section(b) -> list[str]:
    if not b:
        return []
    b1, b2, loop = b["batch_1"], b["batch_2"], b.get("loop", {})
    t1, t2 = b1["timings"], b2["timings"]
    nodes = b["nodes_total_in_districts"]
    return [
        "## A whole city: `lifecircle batch` on dask.distributed",
        "",
        "Shanghai's 16 real district polygons (`../shared/data/boundaries/`) over a generated street",
        f"grid that fills the city ({nodes:,.0f} walkable nodes in the districts' networks, their",
        f"walking buffers included), {b['residents']:,} generated resident points, generated",
        "facilities of 8 categories, 1 km grid communities, outputs with `--tiles none`. The batch",
        "reads the city file once into its cache; the 1- and 2-worker runs share that cache, so",
        "preparation is counted once. The plain loop runs `lifecircle analyze --area <district>` for",
        "each district in turn, parsing the city file every time: what a user does without the batch.",
        "",
        "| run | preparation (s) | districts (s) | whole command (s) | peak memory per worker (MB) | results |",
        "|---|---|---|---|---|---|",
        f"| batch, 1 worker | {f(t1['prepare_city_s'], 1)} | {f(t1['run_s'], 1)} | {f(b1['wall_s'], 1)} | {f(b1['peak_rss_mb_per_worker'], 0)} | {b1['ok']} of 16 ok |",
        f"| batch, 2 workers | (cache reused) | {f(t2['run_s'], 1)} | {f(b2['wall_s'], 1)} | {f(b2['peak_rss_mb_per_worker'], 0)} | {'identical' if b['identical_1_vs_2_workers'] else 'DIFFERENT'} to 1 worker |",
        f"| loop of `analyze --area` | (every district) | – | {f(loop.get('wall_s'), 1)} | {f(loop.get('peak_rss_mb'), 0)} | {'identical' if loop.get('identical_to_batch') else 'DIFFERENT'} to the batch |",
        "",
        f"2 workers against 1: **{b['speedup_2_workers']:.2f}×** on the districts (parallel efficiency "
        f"{b['parallel_efficiency']:.0%}). The whole city with 2 workers, preparation included: "
        f"**{t1['prepare_city_s'] + b2['wall_s']:.0f} s**; the loop of `analyze`: {f(loop.get('wall_s'), 0)} s "
        f"({(loop.get('wall_s') or 0) / (t1['prepare_city_s'] + b2['wall_s']):.1f}× longer).",
        "",
        "Per district (1 worker, seconds): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(b1["district_seconds"].items())),
    ]


def map_section(m) -> list[str]:
    if not m:
        return []
    r = m["offline_no_tiles"]
    layers = ", ".join(f"{k} {v}" for k, v in r["features_per_layer"].items())
    return [
        "## Opening the map of a large district",
        "",
        f"A generated district with {r['communities']} communities and {r['resident_points']:,}",
        "resident points (`benchmarks/bench_map.py`), written with `--offline --tiles none` so that",
        "only the page itself is measured, opened five times in headless Chromium (Debian's",
        "chromium through Playwright, networking blocked).",
        "",
        "| map size (MB) | load event (ms, median) | load and first frame (s, median) | features per layer |",
        "|---|---|---|---|",
        f"| {r['map_mb']:.1f} | {r['open']['median_load_ms']:.0f} | {r['open']['median_wall_s']:.2f} | {layers} |",
    ]


def main() -> None:
    routing = load("routing.json") or []
    lines = [
        "# Benchmarks",
        "",
        f"Measured on this project's machine: {platform.processor() or platform.machine()}, 2 cores,",
        f"24 GB, Python {platform.python_version()}, written {datetime.now(UTC):%Y-%m-%d}. Re-run with",
        "`make bench` (or each `benchmarks/bench_*.py`); `benchmarks/report.py` rewrites this file",
        "from the JSON they leave in `benchmarks/_work/`. Tests never assert times.",
        "",
        *routing_section(routing),
        "",
        *analyze_section(load("analyze.json")),
        "",
        *stages_section(load("stages.json")),
        "",
        *outputs_section(load("stages.json") or []),
        "",
        *service_section(load("service_area.json")),
        "",
        *batch_section(load("batch.json")),
        "",
        *map_section(load("map.json")),
        "",
    ]
    # measured figures of the planning commands, kept by hand (their benches print them)
    for kept in ("SPEED.md", "PLANNING.md", "NOTES.md", "CROSSINGS.md", "TERRAIN.md"):
        if (HERE / kept).exists():
            lines += [(HERE / kept).read_text("utf-8")]
    (HERE / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")
    print("wrote", HERE / "RESULTS.md")


if __name__ == "__main__":
    main()
