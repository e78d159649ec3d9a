"""The command line: exit codes, files written, clear messages on bad input, nothing half-done."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from typer.testing import CliRunner

from conftest import BOX
from lifecircle.cli.main import app
from lifecircle.coverage import COVERAGE_COLUMNS

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["-q", *map(str, args)])


def test_help_explains_options():
    r = runner.invoke(app, ["analyze", "--help"], env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})
    assert r.exit_code == 0
    for opt in (
        "--osm",
        "--place",
        "--communities",
        "--population",
        "--facilities",
        "--facilities-crs",
        "--no-osm-facilities",
        "--preset",
        "--target",
        "--max-snap-m",
        "--overwrite",
    ):
        assert opt in r.output


def test_end_to_end_with_communities_and_facilities(tmp_path, helsinki, comm_file):
    fac = tmp_path / "fac.csv"
    fac.write_text(
        "id,category,name,lon,lat\n1,canteen,长者食堂 <script>alert(1)</script>,24.945,60.170\n"
        "2,elder_care,日间照料中心,24.940,60.168\n3,my_new_kind,`${x}`,24.947,60.173\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    r = invoke(
        "analyze", "--osm", helsinki, "--communities", comm_file, "--facilities", fac, "--out", out
    )
    assert r.exit_code == 0, r.output
    for f in ("coverage.csv", "lifecircle.gpkg", "summary.json", "map.html"):
        assert (out / f).is_file()
    raw = (out / "coverage.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    cov = pd.read_csv(out / "coverage.csv", dtype={"community_id": str}, encoding="utf-8-sig")
    assert list(cov.columns) == COVERAGE_COLUMNS
    assert set(cov["community_id"]) == {
        "310101001001",
        "310101001002",
        "310101001003",
        "310101001004",
    }
    assert {"my_new_kind", "canteen", "all"} <= set(cov["category"])
    n = 4 * (len(set(cov["category"]))) * 2 * 3
    assert len(cov) == n
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["area"]["communities_source"] == "file:communities.geojson"
    assert s["counts"]["communities_repaired"] == 1
    assert s["provenance"]["inputs"]["osm"]["sha256"]
    assert s["denominator"] == "osm_residential_buildings_floor_area_estimate"
    layers = set(gpd.list_layers(out / "lifecircle.gpkg")["name"])
    assert layers == {"communities", "facilities", "residents", "service_areas", "gaps"}
    html = (out / "map.html").read_text("utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "`${x}`" not in html
    assert "OpenStreetMap contributors" in html


def test_same_input_twice_gives_same_tables(tmp_path, helsinki, comm_file):
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--out", a).exit_code == 0
    )
    assert (
        invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--out", b).exit_code == 0
    )
    assert (a / "coverage.csv").read_bytes() == (b / "coverage.csv").read_bytes()
    ra = gpd.read_file(a / "lifecircle.gpkg", layer="residents")
    rb = gpd.read_file(b / "lifecircle.gpkg", layer="residents")
    pd.testing.assert_frame_equal(ra, rb)


def test_population_raster_in_another_crs(tmp_path, helsinki, comm_file):
    # a 100 m raster in EPSG:3067 (Finland) covering the communities: 10 people per cell
    from pyproj import Transformer

    tf = Transformer.from_crs(4326, 3067, always_xy=True)
    x0, y0 = tf.transform(BOX[0], BOX[1])
    x1, y1 = tf.transform(BOX[2], BOX[3])
    w, h = int((x1 - x0) // 100) + 2, int((y1 - y0) // 100) + 2
    tif = tmp_path / "pop.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs="EPSG:3067",
        transform=from_origin(x0 - 100, y1 + 100, 100, 100),
    ) as dst:
        dst.write(np.full((1, h, w), 10, dtype="float32"))
    out = tmp_path / "out"
    r = invoke(
        "analyze", "--osm", helsinki, "--communities", comm_file, "--population", tif, "--out", out
    )
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["denominator"] == "population_raster:pop.tif"
    assert s["residents"]["total"] == pytest.approx(10 * s["residents"]["points"])


# ------------------------------------------------------------------ bad input: exit 2, message


def test_missing_file(tmp_path):
    r = invoke("analyze", "--osm", tmp_path / "nope.osm.pbf", "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert "nope.osm.pbf" in r.output and "no such file" in r.output
    assert not (tmp_path / "o").exists()


def test_osm_and_place_together(tmp_path, helsinki):
    r = invoke("analyze", "--osm", helsinki, "--place", "Helsinki", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "exactly one" in r.output


def test_refuses_non_empty_out_and_keeps_it(tmp_path, helsinki):
    out = tmp_path / "o"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    r = invoke("analyze", "--osm", helsinki, "--out", out)
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert (out / "precious.txt").read_text() == "keep me"


def test_failed_run_leaves_previous_output_intact(tmp_path, helsinki, comm_file):
    out = tmp_path / "o"
    assert (
        invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--out", out).exit_code
        == 0
    )
    before = (out / "coverage.csv").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,category,name,lon,lat\n1,market,x,,60.1\n", encoding="utf-8")
    r = invoke("analyze", "--osm", helsinki, "--facilities", bad, "--out", out, "--overwrite")
    assert r.exit_code == 2
    assert (out / "coverage.csv").read_bytes() == before
    assert not list(tmp_path.glob(".o.tmp-*"))


def test_osm_without_walkable_ways(tmp_path):
    p = tmp_path / "empty.osm"
    p.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="31.2" lon="121.4" version="1"/>'
        '<node id="2" lat="31.21" lon="121.41" version="1"/>'
        '<way id="3" version="1"><nd ref="1"/><nd ref="2"/>'
        '<tag k="highway" v="motorway"/></way></osm>'
    )
    r = invoke("analyze", "--osm", p, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "walkable" in r.output


def test_not_an_osm_file(tmp_path):
    p = tmp_path / "garbage.osm.pbf"
    p.write_bytes(b"this is not a pbf")
    r = invoke("analyze", "--osm", p, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "garbage.osm.pbf" in r.output


def test_facility_rows_rejected_with_reasons(tmp_path, helsinki):
    bad = tmp_path / "fac.csv"
    bad.write_text(
        "id,category,name,lon,lat\n1,market,ok,24.94,60.17\n2,market,missing,,60.17\n"
        "3,market,text,abc,60.17\n4,market,swapped,60.17,124.94\n",
        encoding="utf-8",
    )
    r = invoke("analyze", "--osm", helsinki, "--facilities", bad, "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert "3 row(s) rejected" in r.output
    assert "line 3: missing" in r.output and "line 4" in r.output and "swapped" in r.output


def test_boundary_without_crs(tmp_path, helsinki):
    gdf = gpd.GeoDataFrame({"id": ["a"], "name": ["a"]}, geometry=[shapely.box(*BOX)])
    p = tmp_path / "c.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # the point of the test
        gdf.to_file(p, driver="GPKG")
    r = invoke("analyze", "--osm", helsinki, "--communities", p, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "coordinate reference system" in r.output
    r = invoke(
        "analyze",
        "--osm",
        helsinki,
        "--communities",
        p,
        "--communities-crs",
        "EPSG:4326",
        "--out",
        tmp_path / "o2",
    )
    assert r.exit_code == 0, r.output


def test_layers_in_another_crs_are_reprojected(tmp_path, helsinki, comm_file):
    g = gpd.read_file(comm_file).to_crs(3067)
    p = tmp_path / "c3067.gpkg"
    g.to_file(p, driver="GPKG")
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--out", a).exit_code == 0
    )
    assert invoke("analyze", "--osm", helsinki, "--communities", p, "--out", b).exit_code == 0
    ca = pd.read_csv(a / "coverage.csv", dtype={"community_id": str})
    cb = pd.read_csv(b / "coverage.csv", dtype={"community_id": str})
    pd.testing.assert_frame_equal(
        ca[["community_id", "category", "residents"]],
        cb[["community_id", "category", "residents"]],
        rtol=1e-3,
    )


def test_duplicate_community_ids(tmp_path, helsinki):
    gdf = gpd.GeoDataFrame(
        {"id": ["a", "a"], "name": ["x", "y"]},
        geometry=[shapely.box(*BOX), shapely.box(*BOX)],
        crs=4326,
    )
    p = tmp_path / "dup.geojson"
    gdf.to_file(p, driver="GeoJSON")
    r = invoke("analyze", "--osm", helsinki, "--communities", p, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "duplicate community ids" in r.output


def test_raster_not_overlapping(tmp_path, helsinki):
    tif = tmp_path / "far.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=5,
        height=5,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(100, 10, 0.01, 0.01),
    ) as dst:
        dst.write(np.ones((1, 5, 5), dtype="float32"))
    r = invoke("analyze", "--osm", helsinki, "--population", tif, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "does not overlap" in r.output


def test_bad_target_and_snap(tmp_path, helsinki):
    r = invoke("analyze", "--osm", helsinki, "--target", "1.5", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "--target" in r.output
    r = invoke("analyze", "--osm", helsinki, "--max-snap-m", "-1", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "--max-snap-m" in r.output


def test_empty_category_is_flagged_not_a_crash(tmp_path, helsinki, comm_file):
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--out", out)
    assert r.exit_code == 0
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert "elder_care" in s["facilities"]["empty_categories"]
    cov = pd.read_csv(out / "coverage.csv")
    ec = cov[(cov["category"] == "elder_care") & (cov["residents"] > 0)]
    assert len(ec) and (ec["coverage"] == 0).all()


def test_presets_command_lists_and_shows():
    r = runner.invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for name in ("default", "gb50180", "tdt1062", "shanghai", "shanghai-2035"):
        assert name in r.output
    r = runner.invoke(app, ["presets", "gb50180"], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and "300 m" in r.output and "unverified" in r.output
    r = runner.invoke(app, ["presets", "nope"])
    assert r.exit_code == 2 and "no such preset" in r.output


def test_bad_preset_file_is_exit_2(tmp_path, helsinki):
    p = tmp_path / "bad.toml"
    p.write_text("target = 2\n[thresholds]\nmarket = -1\n", encoding="utf-8")
    r = invoke("analyze", "--osm", helsinki, "--preset", p, "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert "target must be a share" in r.output and "thresholds.market" in r.output
    assert not (tmp_path / "o").exists()


def test_age_share_and_denominators(tmp_path, helsinki, comm_file):
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--age-share", "0.3",
               "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    cov = pd.read_csv(out / "coverage.csv", dtype={"community_id": str})
    assert "age_weighted" in set(cov["profile"])
    d = pd.read_csv(out / "denominators.csv", dtype={"community_id": str})
    assert {
        "residents",
        "residential_buildings",
        "residential_floor_area_m2",
        "communities",
    } <= set(d["denominator"])
    r = invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--age-share", "share60",
               "--out", tmp_path / "o2")  # fmt: skip
    assert r.exit_code == 2 and "share60" in r.output


def test_shanghai_example(tmp_path):
    """The README's Shanghai example: real central-Shanghai streets, the Shanghai preset and an
    Amap-style (GCJ-02) facility list."""
    from conftest import ROOT, shared

    osm = shared("osm/shanghai_central_roads.osm")
    fac = ROOT / "data" / "examples" / "shanghai_facilities_gcj02.csv"
    out = tmp_path / "sh"
    r = invoke("analyze", "--osm", osm, "--preset", "shanghai", "--facilities", fac,
               "--facilities-crs", "gcj02", "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["preset"]["name"] == "shanghai" and s["area"]["crs"] == "EPSG:4549"
    assert s["facilities"]["per_category"]["elder_care"] == 12
    assert s["categories"]["elder_care"]["judged_with_profile"] == "elderly"
    assert s["network"]["osm"]["ways_elevated_excluded"] > 0
    assert not any("GCJ-02" in n for n in s["notes"])  # declared correctly: no warning


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ("analysis", "analysis failed: the graph exploded"),
        ("unexpected", "unexpected RuntimeError: a bug"),
    ],
)
def test_analysis_failure_is_exit_1(tmp_path, helsinki, monkeypatch, error, message):
    """An analysis that fails on valid input exits 1 with a message, and writes nothing."""
    from lifecircle.errors import AnalysisError
    from lifecircle.study import Study

    def boom(*args, **kwargs):
        raise AnalysisError("the graph exploded") if error == "analysis" else RuntimeError("a bug")

    monkeypatch.setattr(Study, "from_inputs", boom)
    r = invoke("analyze", "--osm", helsinki, "--out", tmp_path / "o")
    assert r.exit_code == 1
    assert message in r.output
    assert not (tmp_path / "o").exists()
