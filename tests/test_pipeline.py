"""The pipeline on real extracts and hand-made inputs with known answers."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from conftest import FIXTURES, shared
from lifecircle.config import make_settings
from lifecircle.headline import headline
from lifecircle.pipeline import Inputs, analyze
from lifecircle.sources.facilities import access_points
from lifecircle.sources.osm import overpass_json_to_osm_xml


def test_osm_admin_boundaries_become_communities():
    r = analyze(Inputs(osm=shared("osm/hsinchu_zhubei.osm")), make_settings())
    assert r.summary["area"]["communities_source"] == "osm_admin_level_9"
    assert list(r.communities["community_name"]) == ["興安里"]
    assert r.summary["residents"]["points"] > 0
    # the nine 里 that the extract cuts are named, and the headline warns
    cut = r.summary["counts"]["osm_boundaries_cut"]
    assert cut["count"] == 9 and cut["admin_levels"] == ["9"] and cut["communities_kept"] == 1
    assert "斗崙里" in cut["names"] and "興安里" not in cut["names"]
    assert "osm_boundaries_cut" in [w.code for w in headline(r.summary).warnings]


def test_nanjing_reports_missing_elder_care():
    r = analyze(Inputs(osm=shared("osm/nanjing_xinjiekou.osm")), make_settings())
    assert "elder_care" in r.summary["facilities"]["empty_categories"]
    assert r.summary["area"]["crs"] == "EPSG:4549"
    assert r.summary["network"]["osm"]["ways_elevated_excluded"] > 0
    assert any("elder_care" in n for n in r.summary["notes"])


@pytest.fixture(scope="module")
def small_city(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    return overpass_json_to_osm_xml(resp, d / "small.osm"), d


def test_points_population_and_known_distance(small_city):
    osm, d = small_city
    # one resident exactly on the middle street, 100 m east of the supermarket's street position
    el = {
        e["id"]: e for e in json.loads((FIXTURES / "overpass_small.json").read_text())["elements"]
    }
    a, b = el[1003], el[1004]  # row 1, columns 0 and 1: the middle street
    lon, lat = (a["lon"] + b["lon"]) / 2, a["lat"]
    pop = d / "pop.csv"
    pop.write_text(f"lon,lat,weight\n{lon},{lat},25\n")
    comm = d / "comm.geojson"
    gpd.GeoDataFrame(
        {"id": ["c1"], "name": ["一"]},
        geometry=[shapely.box(121.4695, 31.2295, 121.4725, 31.2322)],
        crs=4326,
    ).to_file(comm, driver="GeoJSON")
    r = analyze(Inputs(osm=osm, population=pop, communities=comm), make_settings())
    assert r.summary["denominator"] == "population_points:pop.csv"
    assert r.residents["weight"].sum() == 25
    # By hand: the supermarket stands 0.2 of a block east of the column-0 footway and half a block
    # north of row 0, so it snaps to that footway (leg ≈ 20 m). The resident walks west along
    # row 1 to node (1, 0), south along the footway to the snapped point, then the leg.
    from pyproj import Transformer

    tf = Transformer.from_crs(4326, 4549, always_xy=True)
    P = {k: shapely.Point(tf.transform(el[k]["lon"], el[k]["lat"])) for k in (1000, 1003, 2000)}
    res = shapely.Point(tf.transform(lon, lat))
    footway = shapely.LineString([P[1000], P[1003]])
    snapped = footway.interpolate(footway.project(P[2000]))
    expected = res.distance(P[1003]) + P[1003].distance(snapped) + P[2000].distance(snapped)
    assert expected == pytest.approx(120, abs=2)  # a 100 m grid, give or take the degree rounding
    assert r.residents["dist_m_market"].iloc[0] == pytest.approx(expected, rel=1e-6)
    t_std = r.residents["time_min_market_standard"].iloc[0]
    t_old = r.residents["time_min_market_elderly"].iloc[0]
    assert t_old / t_std == pytest.approx(1.1 / 0.9)


def test_polygon_facility_counts_by_outline():
    poly = shapely.box(0, 0, 400, 200)
    fac = gpd.GeoDataFrame(
        {"facility_id": ["p"], "category": ["park"], "name": ["园"]}, geometry=[poly], crs=4549
    )
    rows, pts = access_points(fac.to_crs(4326), fac.crs, step_m=25)
    xy = shapely.get_coordinates(pts)
    assert (rows == 0).all()
    # every access point is on the outline, spaced at most 25 m, covering all four sides
    assert np.allclose(shapely.distance(pts, poly.boundary), 0, atol=1e-3)
    assert len(pts) >= 2 * (400 + 200) / 25
    assert xy[:, 0].min() == pytest.approx(0, abs=1e-3) and xy[:, 0].max() == pytest.approx(
        400, abs=1e-3
    )
