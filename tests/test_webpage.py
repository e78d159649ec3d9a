"""The workbench page's server side without a browser: its layers, its listed assets, its
language, and a settings block that no name can break out of."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import geopandas as gpd
import pytest
import shapely

from lifecircle import webpage
from lifecircle.webpage import (
    PageOptions,
    analysis_lang,
    content_security_policy,
    static_asset,
    threshold_text,
)

HOSTILE = "</script><script>window.__pwned=1</script><!--"


def _bench() -> SimpleNamespace:
    comm = gpd.GeoDataFrame(
        {"community_id": [101], "community_name": [HOSTILE], "residents": [None]},
        geometry=[shapely.box(121.0, 31.0, 121.001, 31.001)],
        crs=4326,
    ).to_crs(32651)
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["f:1", "f:2"],
            "category": ["primary_school", "market"],
            "name": [None, "=HYPERLINK(1)"],
        },
        geometry=[shapely.box(121.0002, 31.0002, 121.0004, 31.0004), shapely.Point(121.0, 31.0)],
        crs=4326,
    )
    centre = gpd.GeoSeries([shapely.Point(121.0005, 31.0005)], crs=4326).to_crs(32651)[0]
    sa = gpd.GeoDataFrame(  # nested tiers, finely drawn: 4 × 512 vertices a circle
        {
            "category": ["market"] * 3 + ["market"],
            "profile": ["walk"] * 3 + ["elderly"],
            "minutes": [5, 10, 15, 15],
        },
        geometry=[centre.buffer(r, quad_segs=128) for r in (400.0, 800.0, 1200.0, 900.0)],
        crs=32651,
    ).to_crs(4326)
    gaps = gpd.GeoDataFrame(
        {"weight": [2.0, 8.0, 0.0], "missing_categories": ["market", "market, clinic", "x"]},
        geometry=[shapely.Point(121.0 + k * 1e-3, 31.0) for k in range(3)],
        crs=4326,
    )
    return SimpleNamespace(
        baseline=SimpleNamespace(
            communities=comm,
            crs=comm.crs,
            service_areas=sa,
            gaps=gaps,
            summary={"complete_life_circle": {"profile": "walk", "minutes": 15}},
        ),
        study=SimpleNamespace(
            facilities=SimpleNamespace(table=fac), categories=["primary_school", "market"]
        ),
    )


def test_layers_are_wgs84_text_and_points():
    got = webpage.layers(_bench())
    c = got["communities"]["features"][0]
    assert c["properties"] == {"community_id": "101", "community_name": HOSTILE, "residents": 0.0}
    lon, lat = c["geometry"]["coordinates"][0][0]
    assert 120.99 < lon < 121.01 and 30.99 < lat < 31.01
    assert all(len(str(v).split(".")[-1]) <= 6 for v in (lon, lat))
    school, market = got["facilities"]["features"]
    assert school["geometry"]["type"] == "Point"  # a school's grounds, drawn at a point inside
    x, y = school["geometry"]["coordinates"]
    assert 121.0002 < x < 121.0004 and 31.0002 < y < 31.0004
    assert school["properties"] == {"facility_id": "f:1", "category": "primary_school", "name": ""}
    assert market["properties"]["name"] == "=HYPERLINK(1)"


def test_baseline_service_areas_are_nested_simplified_tiers_per_category():
    got = webpage.layers(_bench())
    sa = got["service_areas"]
    assert set(sa) == {"primary_school", "market"}
    assert sa["primary_school"]["tiers"]["features"] == []  # no service area: no tier
    assert sa["primary_school"]["colour"] != sa["market"]["colour"]
    tiers = sa["market"]["tiers"]["features"]
    # the complete life circle's profile only, largest first (drawn beneath the smaller)
    assert [f["properties"] for f in tiers] == [{"minutes": 15}, {"minutes": 10}, {"minutes": 5}]
    ring = tiers[0]["geometry"]["coordinates"][0]
    assert 20 < len(ring) < 513  # simplified by 10 m, as map.html draws it
    area = shapely.geometry.shape(tiers[0]["geometry"])
    assert 120.98 < area.bounds[0] < 121.0 and 31.0 < area.bounds[3] < 31.02
    assert len(json.dumps(sa)) < 20_000


def test_no_service_areas_and_no_gaps_give_empty_layers():
    bench = _bench()
    bench.baseline.service_areas = bench.baseline.service_areas.iloc[0:0]
    bench.baseline.gaps = bench.baseline.gaps.iloc[0:0]
    got = webpage.layers(bench)
    assert [v["tiers"]["features"] for v in got["service_areas"].values()] == [[], []]
    assert got["gaps"] == {"kind": "points", "features": []}


def test_baseline_gaps_are_points_then_hexagons(monkeypatch):
    from lifecircle.render import maps

    gaps = webpage.layers(_bench())["gaps"]
    assert gaps["kind"] == "points"
    assert [f["properties"] for f in gaps["features"]] == [
        {"weight": 2.0, "size": 0.5},
        {"weight": 8.0, "size": 1.0},
        {"weight": 0.0, "size": 0.0},
    ]
    monkeypatch.setattr(maps, "MAX_GAP_POINTS", 2)  # beyond it: hexagons summing the residents
    gaps = webpage.gaps(_bench())
    assert gaps["kind"] == "hexagons"
    assert {f["geometry"]["type"] for f in gaps["features"]} == {"Polygon"}
    assert sum(f["properties"]["weight"] for f in gaps["features"]) == 10.0
    assert max(f["properties"]["size"] for f in gaps["features"]) == 1.0


@pytest.mark.parametrize(
    "name", ["..", "../server.py", "/etc/passwd", "workbench.js/..", "WORKBENCH.JS", "", "static"]
)
def test_only_listed_assets_are_served(name):
    assert static_asset(name) is None


def test_listed_assets_are_the_package_files():
    js, kind = static_asset("workbench.js")
    assert kind.startswith("text/javascript") and b"textContent" in js
    assert b"innerHTML" not in js  # names never reach the page as markup
    css, kind = static_asset("leaflet.css")
    assert kind.startswith("text/css") and b"url(images/" not in css  # icons inlined


def test_policy_allows_tiles_only_online():
    online = content_security_policy(PageOptions(offline=False))
    offline = content_security_policy(PageOptions(offline=True))
    assert "tile.openstreetmap.org" in online and "tile.openstreetmap.org" not in offline
    for csp in (online, offline):
        assert "script-src 'self';" in csp and "unsafe-eval" not in csp
        assert "connect-src 'self'" in csp


def test_settings_block_cannot_end_early(monkeypatch):
    monkeypatch.setattr(webpage, "page_config", lambda bench, options: {"name": HOSTILE + "&"})
    html = webpage.page_html(None, PageOptions(lang="en"))  # type: ignore[arg-type]
    block = re.search(r'<script type="application/json" id="lc-config">(.*?)</script>', html)
    assert block is not None and "<" not in block.group(1) and "&" not in block.group(1)
    assert json.loads(block.group(1)) == {"name": HOSTILE + "&"}
    assert html.count("<script") == 3


def test_language_comes_from_the_analysis(tmp_path):
    assert analysis_lang(tmp_path) == "zh"  # no summary.json: the default
    summary = {"provenance": {"presentation": {"lang": "en"}}}
    (tmp_path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    assert analysis_lang(tmp_path) == "en"
    (tmp_path / "summary.json").write_text('{"provenance": {"presentation": {"lang": "fr"}}}')
    assert analysis_lang(tmp_path) == "zh"
    (tmp_path / "summary.json").write_text("not json")
    assert analysis_lang(tmp_path) == "zh"


def test_thresholds_read_in_the_page_language():
    assert threshold_text("10 min", "zh") == "10 分钟"
    assert threshold_text("500 m", "zh") == "500 米"
    assert threshold_text("10 min", "en") == "10 min"
    assert threshold_text(None, "zh") is None
