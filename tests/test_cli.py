"""The command line: exit codes, files written, clear messages on bad input, nothing half-done."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

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
    assert layers == {
        "communities",
        "facilities",
        "facility_outlines",
        "facility_lines",
        "residents",
        "service_areas",
        "gaps",
    }
    # one declared geometry type per layer, also with parks (polygons) from OSM
    import pyogrio

    from lifecircle.gpkg import LAYER_TYPES

    for name in layers:
        assert (
            pyogrio.read_info(out / "lifecircle.gpkg", layer=name)["geometry_type"]
            == (LAYER_TYPES[name])
        )
    outlines = gpd.read_file(out / "lifecircle.gpkg", layer="facility_outlines")
    assert "park" in set(outlines["category"])
    fac = gpd.read_file(out / "lifecircle.gpkg", layer="facilities")
    assert set(outlines["facility_id"]) <= set(fac.loc[fac["shape"] == "area", "facility_id"])
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
    assert not list(tmp_path.glob(".o.*")) and not list(out.glob(".lifecircle-tmp-*"))


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


@pytest.mark.parametrize("name", ["default", "shanghai", "shanghai-2035"])
def test_presets_toml_prints_a_file_to_copy(tmp_path, name):
    """`presets NAME` names no path inside the installed package (it may be a wheel); `--toml`
    prints the file itself, which loads back to the same preset."""
    from lifecircle.config import load_preset

    r = runner.invoke(app, ["presets", name], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "lifecircle/data/" not in r.output
    assert f"lifecircle presets {name} --toml >" in r.output
    r = runner.invoke(app, ["presets", name, "--toml"])
    assert r.exit_code == 0, r.output
    copy = tmp_path / "my.toml"
    copy.write_text(r.stdout, encoding="utf-8")
    mine, shipped = load_preset(copy), load_preset(name)
    assert (mine.thresholds, mine.target, mine.basket_tiers) == (
        shipped.thresholds,
        shipped.target,
        shipped.basket_tiers,
    )
    r = runner.invoke(app, ["presets", str(copy)], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and f"file: {copy.resolve()}" in r.output
    r = runner.invoke(app, ["presets", "--toml"])
    assert r.exit_code == 2 and "name the preset" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ["-vv", "presets", "default"],
        ["presets", "default", "-vv"],
        ["presets", "-vv", "default"],
        ["-vv", "presets", "default", "-v"],  # the more verbose of the two counts
    ],
)
def test_verbose_before_or_after_the_command(args):
    import logging

    r = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert logging.getLogger().level == logging.DEBUG


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", ["analyze", "batch", "demo", "map", "report", "presets"])
def test_every_command_takes_v_and_q_after_it(tmp_path, where, command):
    import logging

    flags = ["-q"]
    args = {
        "analyze": ["--osm", tmp_path / "missing.osm", "--out", tmp_path / "o"],
        "batch": ["--osm", tmp_path / "missing.osm", "--districts", tmp_path / "d.gpkg",
                  "--out", tmp_path / "o"],
        "demo": ["--help"],
        "map": [tmp_path / "nowhere"],
        "report": [tmp_path / "nowhere"],
        "presets": ["default"],
    }[command]  # fmt: skip
    argv = (
        [*flags, command, *map(str, args)]
        if where == "before"
        else [command, *map(str, args), *flags]
    )
    r = runner.invoke(app, argv, env={"COLUMNS": "250"})
    assert "No such option" not in r.output
    assert r.exit_code in (0, 2), r.output
    if command != "demo":  # --help exits before the option callbacks
        assert logging.getLogger().level == logging.WARNING
    r = runner.invoke(app, [command, "--help"], env={"COLUMNS": "250"})
    assert "--verbose" in r.output and "-vv" in r.output and "--quiet" in r.output


def test_help_words():
    """The help names what a user needs: every file --out gets, every shipped preset, the right
    outputs of each --lang, and no shipped file by a path inside the package."""
    from lifecircle.config import PRESETS
    from lifecircle.outputs import OUTPUT_FILES

    env = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}
    analyze = runner.invoke(app, ["analyze", "--help"], env=env).output
    for f in OUTPUT_FILES:
        assert f in analyze, f
    for name in PRESETS:
        assert f" {name}" in analyze, name
    assert "--toml" in analyze
    report = runner.invoke(app, ["report", "--help"], env=env).output
    assert "report.html" in report and "spreadsheet" not in report
    map_ = runner.invoke(app, ["map", "--help"], env=env).output
    assert "map.html" in map_ and "spreadsheet" not in map_
    for cmd in ("report", "map"):
        assert "lifecircle batch" in runner.invoke(app, [cmd, "--help"], env=env).output
    batch = runner.invoke(app, ["batch", "--help"], env=env).output
    assert "gcj02" in batch.split("--districts-crs")[1].split("--communities")[0]
    assert "files of `analyze --out`" in batch
    assert "files of `analyze --out`" in runner.invoke(app, ["demo", "--help"], env=env).output


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


# ------------------------------------------------------------------ hostile inputs: exit 2


UNDEFINED_WKT = (
    'ENGCRS["undefined",EDATUM["unknown"],CS[Cartesian,2],AXIS["x",east],AXIS["y",north],'
    'LENGTHUNIT["metre",1]]'
)


def assert_refused(r, out: Path, *parts: str) -> None:
    """Exit 2, a message naming each part, no traceback, and no output folder."""
    assert r.exit_code == 2, r.output
    assert "input error" in r.output and "unexpected" not in r.output
    assert "Traceback" not in r.output
    for part in parts:
        assert part in r.output, (part, r.output)
    assert not out.exists()


def test_communities_in_an_undefined_crs(tmp_path, helsinki):
    from pyproj import CRS

    p = tmp_path / "local.gpkg"
    gpd.GeoDataFrame({"id": ["a"], "name": ["a"]}, geometry=[shapely.box(0, 0, 100, 100)],
                     crs=CRS.from_wkt(UNDEFINED_WKT)).to_file(p)  # fmt: skip
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--communities", p, "--out", out)
    assert_refused(r, out, "--communities", "local.gpkg", "--communities-crs")
    r = invoke("analyze", "--osm", helsinki, "--area", p, "--out", out)
    assert_refused(r, out, "--area", "local.gpkg", "--area-crs")


def test_communities_with_a_null_numeric_id(tmp_path, helsinki):
    p = tmp_path / "c.gpkg"
    boxes = [shapely.box(*BOX), shapely.box(*BOX)]
    gpd.GeoDataFrame({"code": [310101001001, None], "name": ["a", "b"]},
                     geometry=boxes, crs=4326).to_file(p)  # fmt: skip
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--communities", p, "--id-column", "code",
               "--out", out)  # fmt: skip
    assert_refused(r, out, "--communities", "c.gpkg", "no 'code'", "feature(s) 2")


def test_a_truncated_population_raster(tmp_path, helsinki):
    tif = tmp_path / "pop.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=300, height=300, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(BOX[0], BOX[3], 0.0001, 0.0001)) as dst:  # fmt: skip
        dst.write(np.random.default_rng(0).uniform(1, 5, (1, 300, 300)).astype("float32"))
    raw = tif.read_bytes()
    tif.write_bytes(raw[: len(raw) // 3])
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--population", tif, "--out", out)
    assert_refused(r, out, "--population", "pop.tif", "truncated")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(256)), "not a text file in UTF-8"),
        (b"", "the file is empty"),
        (b"[basket]\ntiers = ['market']\n", "[basket.tiers] must be a table"),
        (b"target = 'high'\n[basket]\nmandatory = ['market']\n", "target must be a share"),
    ],
)
def test_garbage_preset_files(tmp_path, helsinki, content, message):
    p = tmp_path / "mine.toml"
    p.write_bytes(content)
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--preset", p, "--out", out)
    assert_refused(r, out, "mine.toml", message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage\xff", "not a text file in UTF-8"),
        (b"[categories.x]\nmatch = [{ amenity = 1 }]\n", "needs name_zh"),
        (b"categories = [1, 2]\n", "needs at least one [categories.<key>] table"),
    ],
)
def test_garbage_categories_files(tmp_path, helsinki, content, message):
    p = tmp_path / "cats.toml"
    p.write_bytes(content)
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--categories", p, "--out", out)
    assert_refused(r, out, "categories file", "cats.toml", message)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--grid-cell-m", "0"), "--grid-cell-m"),
        (("--grid-cell-m", "-500"), "--grid-cell-m"),
        (("--max-snap-m", "0"), "--max-snap-m"),
        (("--target", "0"), "--target"),
    ],
)
def test_bad_numbers_for_options(tmp_path, helsinki, args, option):
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, *args, "--out", out)
    assert_refused(r, out, option)


def _offline(*_args, **_kwargs):
    import requests

    raise requests.exceptions.ConnectionError("Failed to resolve 'nominatim.openstreetmap.org'")


def test_place_when_the_geocoder_cannot_be_reached(tmp_path, monkeypatch):
    import osmnx

    monkeypatch.setattr(osmnx, "geocode_to_gdf", _offline)
    out = tmp_path / "o"
    r = invoke("analyze", "--place", "黄浦区, 上海市", "--out", out)
    assert_refused(r, out, "--place '黄浦区, 上海市'", "Nominatim", "cannot be reached", "--osm")


def test_place_the_geocoder_does_not_know(tmp_path, monkeypatch):
    import osmnx
    from osmnx._errors import InsufficientResponseError

    def nothing(query, *_a, **_k):
        raise InsufficientResponseError(
            f"Nominatim geocoder returned 0 results for query {query!r}."
        )

    monkeypatch.setattr(osmnx, "geocode_to_gdf", nothing)
    out = tmp_path / "o"
    r = invoke("analyze", "--place", "Nowhere-on-earth", "--out", out)
    assert_refused(r, out, "--place 'Nowhere-on-earth'", "found no place")


def test_place_polygon_when_overpass_cannot_be_reached(tmp_path, monkeypatch):
    from osmnx import _overpass

    monkeypatch.setattr(_overpass, "_overpass_request", _offline)
    p = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(*BOX)], crs=4326).to_file(p)
    out = tmp_path / "o"
    r = invoke("analyze", "--place", p, "--out", out)
    assert_refused(r, out, "--place", "Overpass", "cannot be reached", "--osm")


def test_age_share_naming_a_missing_column(tmp_path, helsinki, comm_file):
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--communities", comm_file, "--age-share",
               "share_60", "--out", out)  # fmt: skip
    assert_refused(r, out, "--age-share", "'share_60'", "communities.geojson")
    assert "--id-column" not in r.output


def test_a_facility_file_without_rows(tmp_path, helsinki):
    fac = tmp_path / "canteens.csv"
    fac.write_text("id,category,name,lon,lat\n", encoding="utf-8")
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--facilities", fac, "--out", out)
    assert_refused(r, out, "--facilities", "canteens.csv", "no rows")


def test_population_points_with_swapped_coordinates(tmp_path, helsinki):
    pop = tmp_path / "pop.csv"
    pop.write_text("lon,lat,weight\n24.94,60.17,5\n60.17,124.94,5\n", encoding="utf-8")
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--population", pop, "--out", out)
    assert_refused(r, out, "--population", "pop.csv", "line 3", "swapped")
    pop.write_text("lon,lat,weight\n24.94,60.17,5\n60.17,24.94,5\n", encoding="utf-8")
    r = invoke("analyze", "--osm", helsinki, "--population", pop, "--out", out)
    assert_refused(r, out, "--population", "pop.csv", "lines 3", "swapped")


def test_a_walk_filter_that_excludes_every_way_is_named_not_the_data(tmp_path, helsinki):
    wf = tmp_path / "wall.toml"
    wf.write_text('require = ["highway"]\n[exclude]\nhighway = ".*"\n', encoding="utf-8")
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--walk-filter", wf, "--out", out)
    assert_refused(r, out, "none of its ways is walkable by the walk filter", "--walk-filter")


def test_facilities_with_in_range_swapped_coordinates(tmp_path, helsinki):
    """lon 60.168, lat 24.940 are both in range: without this check the row lay thousands of
    kilometres away and was left out with only a count in summary.json."""
    fac = tmp_path / "kg.csv"
    fac.write_text(
        "id,category,name,lon,lat\nk1,kindergarten,ok,24.9384,60.1699\n"
        "k2,kindergarten,swapped,60.168,24.940\n",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--facilities", fac, "--out", out)
    assert_refused(r, out, "--facilities", "kg.csv", "kg.csv:k2", "look swapped")


def test_rows_are_numbered_by_the_line_they_start_on(tmp_path, helsinki):
    """Blank lines and a line break inside a quoted name count, as an editor numbers lines."""
    fac = tmp_path / "kg.csv"
    fac.write_text(
        "id,category,name,lon,lat\nk1,kindergarten,ok,24.9384,60.1699\n\n"
        'k2,kindergarten,"two\nlines",abc,60.17\nk2,kindergarten,again,24.94,60.17\n',
        encoding="utf-8",
    )
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--facilities", fac, "--out", out)
    assert_refused(r, out, "kg.csv", "line 4: lon/lat not numbers ('abc', '60.17')")
    fac.write_text(fac.read_text("utf-8").replace("abc", "24.95"), encoding="utf-8")
    r = invoke("analyze", "--osm", helsinki, "--facilities", fac, "--out", out)
    assert_refused(r, out, "kg.csv", "id 'k2' is given to 2 rows (lines 4, 6)")


def test_a_facility_beyond_the_reach_is_named_in_the_notes(tmp_path, helsinki):
    fac = tmp_path / "kg.csv"
    fac.write_text(
        "id,category,name,lon,lat\nk1,kindergarten,ok,24.9384,60.1699\n"
        "k9,kindergarten,far,25.5,60.5\n",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--facilities", fac, "--out", out, "--lang", "en")
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert any(k and k["key"] == "facilities_outside_area" for k in s["note_keys"])
    said = [n for n in s["notes"] if "kg.csv:k9" in n]
    assert len(said) == 1 and "1 facility(ies) of kg.csv lie beyond the analysis area" in said[0]
    assert "kg.csv:k9" in (out / "report.html").read_text("utf-8")


# ------------------------------------------------------------------ repaired and reported


def test_empty_communities_and_odd_raster_cells_are_reported(tmp_path, helsinki, comm_file):
    g = gpd.read_file(comm_file)
    extra = gpd.GeoDataFrame({"id": ["310101001005", "310101001006"], "name": ["空", "无"]},
                             geometry=[None, shapely.Polygon()], crs=4326)  # fmt: skip
    comm = tmp_path / "c.gpkg"
    pd.concat([g, extra], ignore_index=True).to_file(comm)
    w, h = 40, 40
    values = np.full((1, h, w), 10, dtype="float32")
    values[0, 20, 10:15] = -1
    values[0, 21, 10:13] = np.nan
    tif = tmp_path / "pop.tif"
    x0, y0, x1, y1 = BOX
    with rasterio.open(tif, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(x0 - 0.001, y1 + 0.001,
                       (x1 - x0 + 0.002) / w, (y1 - y0 + 0.002) / h)) as dst:  # fmt: skip
        dst.write(values)
    out = tmp_path / "o"
    r = invoke("analyze", "--osm", helsinki, "--communities", comm, "--population", tif,
               "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["area"]["communities"] == 4
    assert s["counts"]["communities_dropped_empty_ids"] == ["310101001005", "310101001006"]
    assert s["counts"]["population_raster_cells_ignored"] == {"negative": 5, "nan": 3}
    assert any("310101001005, 310101001006" in n for n in s["notes"])
    assert any("5 cell(s)" in n and "NaN" in n for n in s["notes"])
    assert "notes" not in s["counts"]


# ---- the output folder: only a run's own outputs are ever replaced ------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def small_osm(tmp_path_factory) -> Path:
    """The hand-made 3 × 3 block grid of tests/fixtures/overpass_small.json as .osm XML."""
    from lifecircle.sources.osm import overpass_json_to_osm_xml

    resp = json.loads((Path(__file__).parent / "fixtures" / "overpass_small.json").read_text())
    return overpass_json_to_osm_xml(resp, tmp_path_factory.mktemp("small") / "small.osm")


@pytest.fixture(scope="module")
def small_run(small_osm, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small_run") / "out"
    r = invoke("analyze", "--osm", small_osm, "--out", out, "--offline")
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture
def earlier(small_run, tmp_path) -> Path:
    """An earlier run's folder, to which the planner added a survey and notes."""
    out = tmp_path / "out"
    shutil.copytree(small_run, out)
    (out / "survey.xlsx").write_bytes(b"PK\x03\x04 the planner's survey")
    (out / "notes.txt").write_text("实地调查笔记", encoding="utf-8")
    return out


def test_overwrite_keeps_the_users_files(small_osm, earlier):
    mine = {k: v for k, v in _snapshot(earlier).items() if k in ("survey.xlsx", "notes.txt")}
    before = _snapshot(earlier)
    r = invoke("analyze", "--osm", small_osm, "--out", earlier, "--offline", "--overwrite")
    assert r.exit_code == 0, r.output
    after = _snapshot(earlier)
    assert {k: after[k] for k in mine} == mine
    assert set(after) == set(before)  # the same outputs, replaced; nothing left beside
    assert after["summary.json"] != before["summary.json"]  # replaced (a new created_utc)
    assert [p.name for p in earlier.parent.iterdir()] == ["out"]


def test_out_holding_the_runs_inputs_is_refused_and_kept(small_osm, earlier):
    data = earlier / "data"
    data.mkdir()
    osm = shutil.copy(small_osm, data / "city.osm")
    comm = earlier / "communities.geojson"
    gpd.GeoDataFrame({"id": ["1"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326).to_file(comm)
    before = _snapshot(earlier)
    for extra in ([], ["--overwrite"]):
        r = invoke("analyze", "--osm", osm, "--communities", comm, "--out", earlier, *extra)
        assert r.exit_code == 2, r.output
        assert "holds the input --osm" in r.output and "Choose another --out" in r.output
        assert _snapshot(earlier) == before


def test_out_dot_is_the_current_folder(small_osm, earlier, monkeypatch):
    monkeypatch.chdir(earlier)
    r = invoke("analyze", "--osm", small_osm, "--out", ".", "--offline", "--overwrite")
    assert r.exit_code == 0, r.output
    assert (earlier / "notes.txt").read_text(encoding="utf-8") == "实地调查笔记"
    assert [p.name for p in earlier.parent.iterdir()] == ["out"]  # no ..old-* beside it
    assert not [p for p in earlier.iterdir() if p.name.startswith(".lifecircle-tmp")]
    r = invoke("analyze", "--osm", small_osm, "--out", ".")
    assert r.exit_code == 2 and "--overwrite" in r.output


@pytest.mark.parametrize("overwrite", [False, True])
def test_full_disk_is_exit_2_and_keeps_the_old_outputs(
    small_osm, earlier, tmp_path, monkeypatch, overwrite
):
    import matplotlib.figure

    def full(self, path, *a, **kw):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    out = earlier if overwrite else tmp_path / "fresh"
    before = _snapshot(earlier)
    r = invoke("analyze", "--osm", small_osm, "--out", out, *(["--overwrite"] * overwrite))
    assert r.exit_code == 2, r.output
    assert "the disk is full" in r.output and "free some space" in r.output
    assert f"--out {out}" in " ".join(r.output.split())
    assert _snapshot(earlier) == before
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_read_only_out_is_exit_2_before_the_analysis(small_osm, earlier, monkeypatch, code):
    from lifecircle.study import Study

    real_open, real_mkdir = os.open, os.mkdir
    ro = earlier.resolve()

    def under(path) -> bool:
        return Path(os.fsdecode(path)).resolve().is_relative_to(ro)

    def refuse_open(path, flags, *a, **kw):
        if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *a, **kw)

    def refuse_mkdir(path, *a, **kw):
        if under(path):
            raise OSError(code, os.strerror(code))
        return real_mkdir(path, *a, **kw)

    def never(*a, **kw):
        raise AssertionError("analysed although the folder cannot be written")

    monkeypatch.setattr(os, "open", refuse_open)
    monkeypatch.setattr(os, "mkdir", refuse_mkdir)
    monkeypatch.setattr(Study, "from_inputs", never)
    before = _snapshot(earlier)
    for out, extra in ((earlier, ["--overwrite"]), (earlier / "new", [])):
        r = invoke("analyze", "--osm", small_osm, "--out", out, *extra)
        assert r.exit_code == 2, r.output
        assert "choose a folder you can write to" in r.output
        assert "unexpected" not in r.output
    assert _snapshot(earlier) == before


def test_rebuilding_the_map_and_report_keeps_the_users_files(earlier, monkeypatch):
    before = _snapshot(earlier)
    real = Path.write_text

    def full(self, *a, **kw):
        if self.name == "map.html":
            real(self, "<html>half", encoding="utf-8")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full)
    r = invoke("map", earlier, "--lang", "en")
    assert r.exit_code == 2 and "the disk is full" in r.output, r.output
    assert _snapshot(earlier) == before
    monkeypatch.undo()
    for cmd in ("map", "report"):
        assert invoke(cmd, earlier, "--lang", "en").exit_code == 0
    after = _snapshot(earlier)
    assert after["notes.txt"] == before["notes.txt"]
    assert after["survey.xlsx"] == before["survey.xlsx"]
    assert after["coverage.csv"] == before["coverage.csv"]  # not rebuilt
    assert after["map.html"] != before["map.html"]
    assert set(after) == set(before)


def test_sigterm_stops_a_command_as_ctrl_c_does_and_keeps_the_earlier_outputs(tmp_path):
    """A job scheduler's SIGTERM while files are being written: exit 130, a message, the
    earlier outputs byte-identical and no temporary folder left."""
    import signal

    import typer

    from lifecircle import fileio
    from lifecircle.cli.guard import run_guarded

    out = tmp_path / "out"

    def first(tmp: Path) -> None:
        (tmp / "coverage.csv").write_text("earlier run")

    fileio.replace_outputs(out, first, overwrite=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def killed(tmp: Path) -> None:
        (tmp / "coverage.csv").write_text("half of a new run")
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the command")

    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(typer.Exit) as stopped:
        run_guarded(fileio.replace_outputs, out, killed, overwrite=True)
    assert stopped.value.exit_code == 130
    assert signal.getsignal(signal.SIGTERM) == handler  # put back
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_console_notes_speak_the_chosen_language(small_osm, tmp_path):
    r = runner.invoke(app, ["analyze", "--osm", str(small_osm), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "说明:" in r.output and "note:" not in r.output
    assert "No community boundaries" not in r.output


def test_report_on_a_batch_folder_points_to_the_district_folders(tmp_path):
    (tmp_path / "batch_manifest.json").write_text('{"districts": {}}', encoding="utf-8")
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2
    text = " ".join(r.output.split())
    assert "a `lifecircle batch` folder" in text and "lifecircle map" in text


def test_presets_show_every_category_key_whole_on_an_80_column_terminal():
    import subprocess
    import sys

    from lifecircle.config import load_preset

    env = dict(os.environ, COLUMNS="80", TERM="dumb")
    out = subprocess.run(
        [sys.executable, "-m", "lifecircle.cli.main", "presets", "shanghai"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    preset = load_preset("shanghai")
    for key in set(preset.thresholds) | set(preset.basket):
        assert f" {key} " in out, key  # never cut to "community_…"
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80
