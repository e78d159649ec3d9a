"""The workbench page of ``lifecircle serve`` in a real browser: from the click that adds a
facility to the moment the community colours are updated, on the generated city of
``bench_serve.py`` (analysed once through the real CLI, then reused).

The workbench is served on 127.0.0.1 (a free port, in a thread of this process, offline: no
tiles) and opened in Debian's chromium driven by Playwright at 1280 × 720. Each round clicks the
map at another place with the elder-care category chosen; the page records the time from the
click to the animation frame after the communities were restyled (``window.__lcLastEditMs``,
``performance.now()`` in the page), of which the ``POST /api/evaluate`` request (sent to its
answer parsed, ``window.__lcLastEvaluateMs``) and the rest, the page's drawing; the benchmark
waits for its ``data-evaluated`` counter. The wall time seen from Python (click to counter) is
recorded too.

    python benchmarks/bench_workbench.py [--nodes 100000] [--clicks 7] [--zoom 15]

Writes ``benchmarks/_work/workbench_<nodes>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from bench_serve import analysed  # noqa: E402

TIMEOUT_MS = 180_000  # one step of the page; a refused click shows in the status line instead
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_spot(page: Any, x: float, y: float) -> tuple[float, float]:
    """The nearest place to (x, y) where a click reaches the map itself, not a facility's
    marker (a click on a marker opens it instead of adding a facility)."""
    for r in range(0, 60, 4):
        for dx, dy in ((0, 0), (r, 0), (-r, 0), (0, r), (0, -r), (r, r), (-r, -r)):
            hit = page.evaluate(
                f"(() => {{ const e = document.elementFromPoint({x + dx}, {y + dy}); return !!e "
                "&& !e.closest('.leaflet-marker-pane, .leaflet-popup-pane, .leaflet-control'); })()"
            )
            if hit:
                return x + dx, y + dy
    raise SystemExit(f"no free spot for a click near {x:.0f}, {y:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--clicks", type=int, default=7)
    ap.add_argument(
        "--zoom", type=int, default=0, help="zoom the map to each click's place first (e.g. 15)"
    )
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    base = analysed(args.nodes, work)

    from playwright.sync_api import sync_playwright

    from lifecircle.server import start_in_thread
    from lifecircle.webpage import PageOptions
    from lifecircle.workbench import Workbench

    t0 = time.perf_counter()
    bench = Workbench.open(base)
    open_s = time.perf_counter() - t0
    running = start_in_thread(bench, page=PageOptions(lang="en", offline=True))
    in_page, wall, added, request = [], [], [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            t0 = time.perf_counter()
            page.goto(running.url)
            page.wait_for_selector("body[data-evaluated='1']", state="attached", timeout=TIMEOUT_MS)
            load_s = time.perf_counter() - t0
            page.select_option("#lc-category", "elder_care")
            box = page.locator("#lc-map").bounding_box()
            w, s, e, n = bench.summary()["bounds_wgs84"]
            for k in range(args.clicks):
                f = (k + 1) / (args.clicks + 1)
                # a place inside the area (along its diagonal), where the page draws it now
                lat, lon = s + (n - s) * (0.2 + 0.6 * f), w + (e - w) * (0.2 + 0.6 * f)
                if args.zoom:  # as a planner does on a large area: zoom in, then click
                    page.evaluate(
                        f"(() => {{ lcWorkbench.map.setView([{lat}, {lon}], {args.zoom}, "
                        "{animate: false}); return null; })()"
                    )
                pt = page.evaluate(
                    f"(() => {{ const p = lcWorkbench.map.latLngToContainerPoint([{lat}, {lon}]);"
                    " return [p.x, p.y]; })()"
                )
                x, y = _free_spot(page, box["x"] + pt[0], box["y"] + pt[1])
                lon, lat = page.evaluate(
                    f"(() => {{ const l = lcWorkbench.map.containerPointToLatLng([{x - box['x']}, "
                    f"{y - box['y']}]); return [l.lng, l.lat]; }})()"
                )
                if k:  # back to the baseline: one added facility each time
                    page.click("#lc-reset")
                    page.wait_for_selector(
                        f"body[data-evaluated='{2 * k + 1}']", state="attached", timeout=TIMEOUT_MS
                    )
                want = 2 * k + 2
                t = time.perf_counter()
                page.mouse.click(x, y)
                print(f"click {k + 1} at {lon:.5f}, {lat:.5f}", file=sys.stderr, flush=True)
                page.wait_for_selector(
                    f"body[data-evaluated='{want}']", state="attached", timeout=TIMEOUT_MS
                )
                wall.append(time.perf_counter() - t)
                in_page.append(page.evaluate("window.__lcLastEditMs") / 1000)
                request.append(page.evaluate("window.__lcLastEvaluateMs") / 1000)
                status = page.locator("#lc-status").inner_text()
                if status:
                    raise SystemExit(f"the page says: {status}")
                added.append(len(page.evaluate("lcWorkbench.edits()")["add"]))
            browser.close()
    finally:
        running.stop()
    row = {
        "nodes": args.nodes,
        "network_nodes": bench.study.network.n_nodes,
        "communities": len(bench.baseline.communities),
        "open_folder_and_baseline_s": round(open_s, 2),
        "page_load_to_first_colours_s": round(load_s, 2),
        "click_to_colours_s": [round(x, 3) for x in in_page],
        "click_to_colours_median_s": round(statistics.median(in_page), 3),
        "of_which_evaluate_request_s": [round(x, 3) for x in request],
        "of_which_page_drawing_s": [round(a - b, 3) for a, b in zip(in_page, request, strict=True)],
        "python_wall_click_to_counter_s": [round(x, 3) for x in wall],
        "facilities_added_when_timed": added,
    }
    print(json.dumps(row, indent=2))
    (work / f"workbench_{args.nodes}.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
