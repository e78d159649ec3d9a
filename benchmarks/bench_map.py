"""How heavy the map is for a district of 500 communities and 50,000 resident points: file size,
features per layer, and the time headless Chromium takes to open it (navigation start to the
load event, then to the first frame drawn after it), five times each, offline and with no tiles
so that only our page is measured.

    python benchmarks/bench_map.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
WORK = HERE / "_work"
CLI = str(ROOT / ".venv" / "bin" / "lifecircle")
sys.path.insert(0, str(HERE))
from synth import make_city, write_communities, write_osm_pbf, write_residents  # noqa: E402

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync",
]  # fmt: skip


def open_times(path: Path, runs: int = 5) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    out = []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=ARGS)
        for _ in range(runs):
            page = b.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.route(
                "**/*",
                lambda r: (
                    r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()
                ),
            )
            t0 = time.perf_counter()
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            wall = time.perf_counter() - t0
            nav = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return {load_ms: n.loadEventEnd, dom_ms: n.domContentLoadedEventEnd}; }"
            )
            out.append({"wall_s": wall, **nav, "errors": errors})
            page.close()
        b.close()
    return {
        "runs": out,
        "median_wall_s": statistics.median(r["wall_s"] for r in out),
        "median_load_ms": statistics.median(r["load_ms"] for r in out),
    }


def main() -> None:
    d = WORK / "map500"
    d.mkdir(parents=True, exist_ok=True)
    pbf = d / "city.osm.pbf"
    if not pbf.exists():
        c = make_city(100_000, seed=3)
        write_osm_pbf(c, pbf)
        write_residents(c, 50_000, d / "residents.csv")
        write_communities(c, 20, d / "communities.geojson", cols=25)
    res = {}
    for label, extra in (("offline_no_tiles", ["--tiles", "none", "--offline"]),):
        out = d / f"out_{label}"
        t0 = time.perf_counter()
        subprocess.run(
            [CLI, "-q", "analyze", "--osm", str(pbf),
             "--communities", str(d / "communities.geojson"),
             "--population", str(d / "residents.csv"), "--out", str(out), "--overwrite", *extra],
            check=True,
        )  # fmt: skip
        s = json.loads((out / "summary.json").read_text("utf-8"))
        res[label] = {
            "analyze_wall_s": time.perf_counter() - t0,
            "communities": s["area"]["communities"],
            "resident_points": s["residents"]["points"],
            "map_mb": s["map"]["bytes"] / 1e6,
            "features_per_layer": s["map"]["features_per_layer"],
            "report_kb": (out / "report.html").stat().st_size / 1e3,
            "open": open_times(out / "map.html"),
        }
        print(label, json.dumps(res[label], indent=1)[:1500], flush=True)
    (WORK / "map.json").write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
