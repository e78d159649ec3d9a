"""The workbench page of ``lifecircle serve`` in a real browser (Debian's chromium driven by
Playwright, as tests/test_browser.py does): it opens offline, a click on the map adds a facility
and the numbers shown are those ``Workbench.evaluate`` and ``lifecircle scenario`` compute for
the same edit, facilities move and close, sites are suggested and added, the file buttons send
the requests of the contract, hostile names stay inert text, and --lang zh speaks Chinese."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import test_serve as town
from conftest import CHROMIUM, needs_chromium
from lifecircle.cli.main import app
from lifecircle.render.controls import CLASS_COLOURS
from lifecircle.render.escape import read_people_csv
from lifecircle.render.maps import coverage_class
from lifecircle.server import start_in_thread
from lifecircle.webpage import PageOptions
from lifecircle.workbench import Workbench
from test_browser import ARGS, HOSTILE

pytestmark = needs_chromium
runner = CliRunner()
LON0, LAT0, STEP, N = town.LON0, town.LAT0, town.STEP, town.N
# the market facilities carry hostile names; health has one plain facility
FACILITIES = [
    ("m1", "market", HOSTILE[0], 0.5, 0.5),
    ("m2", "market", HOSTILE[1], 7.5, 7.0),
    ("m3", "market", HOSTILE[4], 1.0, 7.5),
    ("c1", "health", "clinic", 4.0, 4.2),
]
ELDER = (4.0, 4.0)  # grid steps east and north of the south-west corner: a street crossing


def _communities(path: Path) -> Path:
    """Five strips across the grid named by the hostile names, west to east."""
    x1, y1 = LON0 + (N - 1) * STEP, LAT0 + (N - 1) * STEP
    edges = [LON0 + (x1 - LON0) * k / len(HOSTILE) for k in range(len(HOSTILE) + 1)]
    feats = [
        {
            "type": "Feature",
            "properties": {"id": f"c{k}", "name": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[a, LAT0], [b, LAT0], [b, y1], [a, y1], [a, LAT0]]],
            },
        }
        for k, (a, b, name) in enumerate(zip(edges[:-1], edges[1:], HOSTILE, strict=True))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


@pytest.fixture(scope="module")
def analysis(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("wbtown")
    town._osm(d / "grid.osm")
    _communities(d / "communities.geojson")
    town._csv(d / "facilities.csv", FACILITIES)
    out = d / "base"
    r = runner.invoke(
        app,
        ["-q", "analyze", "--osm", str(d / "grid.osm"), "--communities",
         str(d / "communities.geojson"), "--facilities", str(d / "facilities.csv"),
         "--out", str(out), "--lang", "en"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def bench(analysis) -> Workbench:
    return Workbench.open(analysis)


@pytest.fixture(scope="module")
def servers(bench):
    """The page offline in English, offline in Chinese, and online (tiles) in English."""
    running = {
        "en": start_in_thread(bench, page=PageOptions(lang="en", offline=True)),
        "zh": start_in_thread(bench, page=PageOptions(lang="zh", offline=True)),
        "online": start_in_thread(bench, page=PageOptions(lang="en", offline=False)),
    }
    yield running
    for r in running.values():
        r.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page of the workbench with every request off 127.0.0.1 refused (and recorded)."""

    def __init__(self, browser, url: str, *, width: int = 1280, height: int = 720) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.posts: list[tuple[str, str | None]] = []
        own = url.rstrip("/")
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            u = r.request.url
            if u.startswith(own + "/") or u.startswith("data:") or u.startswith("blob:"):
                if r.request.method == "POST":
                    self.posts.append((u[len(own) :], r.request.post_data))
                return r.continue_()
            self.outside.append(u)
            return r.abort()

        self.context.route("**/*", route)
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
        self.wait_evaluated(1)

    def wait_evaluated(self, n: int) -> None:
        # (a selector, not wait_for_function: the page's policy forbids eval, rightly)
        self.page.wait_for_selector(f"body[data-evaluated='{n}']", state="attached", timeout=60_000)

    def evaluated(self) -> int:
        return int(self.page.evaluate("document.body.dataset.evaluated"))

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """The page coordinates of a place on the map."""
        x, y = self.page.evaluate(
            "([lat, lon]) => { const p = lcWorkbench.map.latLngToContainerPoint([lat, lon]);"
            " return [p.x, p.y]; }",
            [lat, lon],
        )
        box = self.page.locator("#lc-map").bounding_box()
        return box["x"] + x, box["y"] + y

    def centre(self, lon: float, lat: float) -> None:
        """Centre the map on a place (clear of the legend in a corner)."""
        self.page.evaluate(
            "([lat, lon]) => lcWorkbench.map.setView([lat, lon], lcWorkbench.map.getZoom(), "
            "{animate: false})",
            [lat, lon],
        )

    def edits(self) -> dict:
        return self.page.evaluate("lcWorkbench.edits()")

    def share_shown(self, category: str) -> str:
        cells = self.page.locator(f"#lc-shares tr[data-category='{category}'] td")
        return cells.nth(2).inner_text().strip()

    def close(self) -> None:
        self.context.close()


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def test_page_opens_offline_and_asks_nothing_of_the_internet(browser, servers, bench):
    p = Page(browser, servers["en"].url)
    try:
        assert p.errors == [] and p.outside == []
        assert p.page.locator(".leaflet-tile").count() == 0  # --offline: no basemap at all
        legend = p.page.locator(".lc-legend-row")
        assert legend.count() == 5 and "meets target (≥ 85%)" in legend.nth(2).inner_text()
        options = p.page.locator("#lc-category option")
        assert options.count() == len(bench.study.categories)
        # the categories' colours on the map are the classes of map.html for the baseline
        chosen = p.page.locator("#lc-category").input_value()
        want = _classes(bench, bench.evaluate({}), chosen)
        for cid, colour in want.items():
            assert p.page.evaluate("id => lcWorkbench.fill(id)", cid) == colour
        assert p.page.evaluate("window.__pwned") is None
    finally:
        p.close()


def test_online_page_asks_only_for_basemap_tiles(browser, servers):
    p = Page(browser, servers["online"].url)
    try:
        p.page.wait_for_timeout(300)
        assert p.outside, "the online page asks for tiles"
        assert all(u.startswith("https://tile.openstreetmap.org/") for u in p.outside), p.outside
    finally:
        p.close()


def _classes(bench: Workbench, got: dict, category: str) -> dict[str, str]:
    """Each community's colour for ``category`` in an evaluate answer: map.html's classes."""
    from lifecircle.scenario import threshold_rows

    prof, minutes = threshold_rows(bench.study, [category])[category]
    return {
        r["community_id"]: CLASS_COLOURS[coverage_class(r["coverage"], r["target"])]
        if r["residents"] > 0
        else CLASS_COLOURS["none"]
        for r in got["coverage"]
        if r["category"] == category and r["profile"] == prof and r["minutes"] == minutes
    }


def _choose(p: Page, category: str) -> None:
    p.page.select_option("#lc-category", category)


def test_a_click_adds_a_facility_and_shows_what_lifecircle_scenario_computes(
    browser, servers, bench, analysis, tmp_path
):
    p = Page(browser, servers["en"].url)
    try:
        _choose(p, "elder_care")
        lon, lat = LON0 + ELDER[0] * STEP, LAT0 + ELDER[1] * STEP
        p.page.mouse.click(*p.point(lon, lat))
        p.wait_evaluated(2)
        edits = p.edits()
        assert edits["remove"] == [] and len(edits["add"]) == 1
        added = edits["add"][0]
        assert added["category"] == "elder_care"
        # the click lands within a pixel of the place (a few metres at this zoom)
        assert abs(added["lon"] - lon) < 2e-5 and abs(added["lat"] - lat) < 2e-5
        want = bench.evaluate(edits)
        share = want["change"]["per_category"]["elder_care"]["coverage_after"]
        assert share > 0 and want["change"]["per_category"]["elder_care"]["coverage_before"] == 0
        assert p.share_shown("elder_care") == pct(share)
        clc = want["change"]["complete_life_circle"]["coverage_after"]
        assert p.share_shown("all") == pct(clc)
        newly = want["change"]["per_category"]["elder_care"]["residents_newly_covered"]
        change = p.page.locator("#lc-change").inner_text()
        assert f"+{newly:,.0f} residents newly covered" in change  # with its sign
        for f in want["change"]["flips"]["now_meets"]:
            assert f["community_name"] in p.page.locator(".lc-now_meets").inner_text()
        for cid, colour in _classes(bench, want, "elder_care").items():
            assert p.page.evaluate("id => lcWorkbench.fill(id)", cid) == colour
        # the same edit through the command line: the same shares
        csv = tmp_path / "workbench.csv"
        name = added["name"].replace('"', '""')
        csv.write_text(
            f'id,category,name,lon,lat\n1,elder_care,"{name}",{added["lon"]!r},{added["lat"]!r}\n',
            encoding="utf-8",
        )
        out = tmp_path / "what-if"
        r = runner.invoke(
            app, ["-q", "scenario", str(analysis), "--add", str(csv), "--out", str(out)]
        )
        assert r.exit_code == 0, r.output
        summary = json.loads((out / "summary.json").read_text("utf-8"))
        cli_share = summary["complete_life_circle"]["within_threshold"]["elder_care"]
        assert p.share_shown("elder_care") == pct(cli_share)
        assert p.share_shown("all") == pct(summary["complete_life_circle"]["coverage"])
        cov = read_people_csv(out / "coverage.csv")
        assert [float(x) for x in cov["coverage"]] == [r["coverage"] for r in want["coverage"]]
        assert p.errors == [] and p.outside == []
    finally:
        p.close()


def test_move_close_undo_and_reset(browser, servers, bench):
    p = Page(browser, servers["en"].url)
    try:
        _choose(p, "market")
        # drag the market m2 (north-east) a few streets south-west
        p.centre(LON0 + 7.5 * STEP, LAT0 + 7.0 * STEP)
        x, y = p.point(LON0 + 7.5 * STEP, LAT0 + 7.0 * STEP)
        p.page.mouse.move(x, y)
        p.page.mouse.down()
        p.page.mouse.move(x - 40, y + 40, steps=8)
        p.page.mouse.move(x - 80, y + 80, steps=8)
        p.page.mouse.up()
        p.wait_evaluated(2)
        moved = p.edits()
        assert moved["remove"] == ["facilities.csv:m2"]
        assert len(moved["add"]) == 1 and moved["add"][0]["name"] == HOSTILE[1]
        assert moved["add"][0]["category"] == "market"
        assert (
            moved["add"][0]["lon"] < LON0 + 7.5 * STEP and moved["add"][0]["lat"] < LAT0 + 7 * STEP
        )
        want = bench.evaluate(moved)["change"]["per_category"]["market"]["coverage_after"]
        assert p.share_shown("market") == pct(want)
        # drag the moved (now added) one again: only its place changes
        first = moved["add"][0]
        p.centre(first["lon"], first["lat"])
        x, y = p.point(first["lon"], first["lat"])
        p.page.mouse.move(x, y)
        p.page.mouse.down()
        p.page.mouse.move(x + 30, y, steps=8)
        p.page.mouse.move(x + 60, y, steps=8)
        p.page.mouse.up()
        p.wait_evaluated(3)
        again = p.edits()
        assert again["remove"] == ["facilities.csv:m2"] and len(again["add"]) == 1
        assert again["add"][0]["lon"] > first["lon"] and again["add"][0]["name"] == HOSTILE[1]
        assert again["add"][0]["lat"] == pytest.approx(first["lat"], abs=2e-5)
        moved = again
        want = bench.evaluate(moved)["change"]["per_category"]["market"]["coverage_after"]
        assert p.share_shown("market") == pct(want)
        # click the market m1 (south-west) and close it from its popup
        p.centre(LON0 + 0.5 * STEP, LAT0 + 0.5 * STEP)
        p.page.mouse.click(*p.point(LON0 + 0.5 * STEP, LAT0 + 0.5 * STEP))
        popup = p.page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert HOSTILE[0] in popup.inner_text()  # the name shown literally, as text
        popup.locator("button").click()
        p.wait_evaluated(4)
        closed = p.edits()
        assert closed["remove"] == ["facilities.csv:m2", "facilities.csv:m1"]
        want = bench.evaluate(closed)["change"]["per_category"]["market"]["coverage_after"]
        assert p.share_shown("market") == pct(want)
        # undo the closing, then reset everything: the baseline again
        p.page.click("#lc-undo")
        p.wait_evaluated(5)
        assert p.edits() == moved
        p.page.click("#lc-reset")
        p.wait_evaluated(6)
        assert p.edits() == {"add": [], "remove": []}
        base = bench.evaluate({})["change"]["per_category"]["market"]["coverage_after"]
        assert p.share_shown("market") == pct(base)
        assert "No edits yet" in p.page.locator("#lc-change").inner_text()
        assert p.errors == [] and p.page.evaluate("window.__pwned") is None
    finally:
        p.close()


def test_a_click_outside_the_area_is_refused_and_undone(browser, servers):
    p = Page(browser, servers["en"].url)
    try:
        _choose(p, "elder_care")
        p.page.evaluate("lcWorkbench.map.setZoom(12, {animate: false})")
        x, y = p.point(LON0 + 0.05, LAT0 + 0.05)  # about 5 km away
        box = p.page.locator("#lc-map").bounding_box()
        assert box["x"] < x < box["x"] + box["width"] and box["y"] < y < box["y"] + box["height"]
        p.page.mouse.click(x, y)
        p.page.wait_for_selector("#lc-status.lc-bad")
        assert "outside the analysis area" in p.page.locator("#lc-status").inner_text()
        assert p.edits() == {"add": [], "remove": []}
        p.errors = [e for e in p.errors if "400" not in e]  # the refused request's console line
        assert p.errors == []
    finally:
        p.close()


def test_suggested_sites_are_shown_and_added_with_one_click(browser, servers, bench):
    p = Page(browser, servers["en"].url)
    try:
        _choose(p, "elder_care")
        p.page.fill("#lc-count", "2")
        p.page.click("#lc-suggest")
        rows = p.page.locator("#lc-sites li.lc-site-row")
        rows.first.wait_for(timeout=60_000)
        want = bench.sites({"category": "elder_care", "count": 2})
        assert rows.count() == len(want["sites"]) == 2
        assert p.page.locator(".lc-site").count() == 2
        assert [s.inner_text() for s in p.page.locator(".lc-site").all()] == ["1", "2"]
        sent = [json.loads(b) for u, b in p.posts if u == "/api/sites"]
        assert sent == [{"category": "elder_care", "count": 2}]
        rows.first.locator("button").click()
        p.wait_evaluated(2)
        add = p.edits()["add"]
        assert [(a["lon"], a["lat"]) for a in add] == [
            (want["sites"][0]["lon"], want["sites"][0]["lat"])
        ]
        got = bench.evaluate(p.edits())["change"]["per_category"]["elder_care"]["coverage_after"]
        assert p.share_shown("elder_care") == pct(got)
        assert p.page.locator(".lc-site").count() == 1  # the added one leaves the suggestions
    finally:
        p.close()


def test_file_buttons_send_the_contract_requests(browser, servers):
    p = Page(browser, servers["en"].url)
    seen: list[tuple[str, str, dict | bytes]] = []
    loaded = {"add": [{"category": "health", "lon": LON0 + 2 * STEP, "lat": LAT0 + 6 * STEP,
                       "name": HOSTILE[2]}], "remove": ["facilities.csv:c1"]}  # fmt: skip

    def fake(route):
        req = route.request
        path = req.url.split("127.0.0.1", 1)[1].split("/", 1)[1]
        kind = req.headers.get("content-type", "")
        body = req.post_data_buffer if kind == "application/zip" else json.loads(req.post_data)
        seen.append(("/" + path, kind, body))
        if path == "api/scenario":
            return route.fulfill(
                body=b"PK-zip",
                content_type="application/zip",
                headers={"Content-Disposition": 'attachment; filename="lifecircle-scenario.zip"'},
            )
        if path == "api/scenario/load":
            return route.fulfill(body=json.dumps(loaded), content_type="application/json")
        if path == "api/export":
            name = "coverage.xlsx" if body["format"] == "xlsx" else "coverage.csv"
            return route.fulfill(
                body=b"x", headers={"Content-Disposition": f'attachment; filename="{name}"'}
            )
        return route.fulfill(body="<!doctype html><title>print</title><h1>PRINTED</h1>",
                             content_type="text/html; charset=utf-8")  # fmt: skip

    try:
        for pattern in ("**/api/scenario", "**/api/scenario/load", "**/api/export", "**/api/print"):
            p.page.route(pattern, fake)
        _choose(p, "elder_care")
        p.page.mouse.click(*p.point(LON0 + ELDER[0] * STEP, LAT0 + ELDER[1] * STEP))
        p.wait_evaluated(2)
        edits = p.edits()
        with p.page.expect_download() as dl:
            p.page.click("#lc-save")
        assert dl.value.suggested_filename == "lifecircle-scenario.zip"
        assert seen[-1] == ("/api/scenario", "application/json", edits)
        for fmt in ("csv", "xlsx"):
            with p.page.expect_download() as dl:
                p.page.click(f"#lc-export-{fmt}")
            assert dl.value.suggested_filename == f"coverage.{fmt}"
            assert seen[-1] == ("/api/export", "application/json", {**edits, "format": fmt})
        with p.context.expect_page() as tab:
            p.page.click("#lc-print")
        tab.value.wait_for_selector("h1")
        assert tab.value.url.startswith("blob:") and tab.value.inner_text("h1") == "PRINTED"
        assert seen[-1] == ("/api/print", "application/json", {**edits, "lang": "en"})
        upload = {"name": "s.zip", "mimeType": "application/zip", "buffer": b"PK\x03\x04zip"}
        p.page.set_input_files("#lc-load-file", files=[upload])
        p.wait_evaluated(3)
        assert seen[-1] == ("/api/scenario/load", "application/zip", b"PK\x03\x04zip")
        assert p.edits() == loaded
        assert p.page.evaluate("window.__pwned") is None
    finally:
        p.close()


def test_hostile_names_stay_inert_text(browser, servers):
    p = Page(browser, servers["en"].url)
    try:
        _choose(p, "market")
        short = p.page.locator("#lc-short").inner_text()
        shown = [n for n in HOSTILE if n in short]
        assert shown, short  # the communities short of markets, named literally
        # every community name in the search list, literally
        options = p.page.eval_on_selector_all("#lc-names option", "os => os.map(o => o.value)")
        assert sorted(o.rsplit(" (", 1)[0] for o in options) == sorted(HOSTILE)
        # a tooltip over a community and a facility's popup show names as text
        x, y = p.point(LON0 + 0.5 * STEP, LAT0 + 3 * STEP)
        p.page.mouse.move(x, y)
        tip = p.page.locator(".leaflet-tooltip")
        tip.wait_for()
        assert HOSTILE[0] in tip.inner_text()
        p.page.fill("#lc-search", HOSTILE[4][:8])
        p.page.press("#lc-search", "Enter")
        p.page.wait_for_timeout(300)
        assert p.page.locator("img[src='x']").count() == 0
        assert p.page.locator("#lc-panel script").count() == 0
        assert p.page.evaluate("window.__pwned") is None
        assert "49" not in p.page.locator("#lc-short").inner_text()  # {{ 7*7 }} not rendered
        assert p.errors == []
    finally:
        p.close()


def test_lang_zh_shows_chinese_labels(browser, servers):
    p = Page(browser, servers["zh"].url)
    try:
        assert p.page.evaluate("document.documentElement.lang") == "zh"
        panel = p.page.locator("#lc-panel").inner_text()
        for label in ("设施类别", "全区覆盖率", "推荐选址", "保存方案", "完整生活圈", "撤销"):
            assert label in panel
        assert "达到目标 (≥ 85%)" in p.page.locator(".lc-legend").inner_text()
        assert (
            re.search("[a-z]{4,}", p.page.locator("#lc-category option").first.inner_text()) is None
        )
    finally:
        p.close()


def test_baseline_service_areas_and_gaps_switch_on_and_off(browser, servers, bench):
    from lifecircle.webpage import gaps, service_areas

    sa = service_areas(bench)
    tiers = sa["market"]["tiers"]["features"]
    assert tiers, "the town's markets have service areas"
    n_gaps = len(gaps(bench)["features"])
    assert n_gaps > 0, "the town has residents missing the complete life circle"
    drawn = ".leaflet-lc-baseline-pane path"
    p = Page(browser, servers["en"].url)
    try:
        _choose(p, "market")
        assert p.page.locator(drawn).count() == 0  # off by default
        layers = p.page.locator("#lc-layers")
        assert "Baseline service areas" in layers.inner_text()
        assert "edits do not redraw them" in layers.inner_text()
        p.page.check("#lc-layer-sa")
        assert p.page.locator(drawn).count() == len(tiers)
        strokes = p.page.eval_on_selector_all(drawn, "ps => ps.map(p => p.getAttribute('stroke'))")
        assert set(strokes) == {sa["market"]["colour"]}  # the category's colour, as in map.html
        minutes = " / ".join(str(f["properties"]["minutes"]) for f in reversed(tiers))
        assert f"Market, supermarket and grocer: {minutes} min (nested)" in layers.inner_text()
        # choosing another category swaps in its service areas
        _choose(p, "health")
        assert sa["health"]["tiers"]["features"]
        assert p.page.locator(drawn).count() == len(sa["health"]["tiers"]["features"])
        strokes = p.page.eval_on_selector_all(drawn, "ps => ps.map(p => p.getAttribute('stroke'))")
        assert set(strokes) == {sa["health"]["colour"]} != {sa["market"]["colour"]}
        p.page.uncheck("#lc-layer-sa")
        assert p.page.locator(drawn).count() == 0
        p.page.check("#lc-layer-gaps")
        assert p.page.locator(drawn).count() == n_gaps
        # the baseline layers do not catch clicks: a click on them still adds a facility
        p.page.check("#lc-layer-sa")
        f = gaps(bench)["features"][0]["geometry"]["coordinates"]
        p.centre(f[0], f[1])
        p.page.mouse.click(*p.point(f[0], f[1]))
        p.wait_evaluated(2)
        assert len(p.edits()["add"]) == 1
        assert p.errors == [] and p.outside == []
    finally:
        p.close()
