"""Compound gates in a study and on the command line, on the 11 × 11 street grid (streets every
0.001°, about 95 m east-west and 111 m north-south; see conftest's ``street_grid``).

One compound fills the block between the streets x 3..4 and y 3..4 (inset by 0.1 of a block),
its gate in the middle of its north side (3.5, 3.9), that side drawn 0.1 m south of it.
Residents: ``r_in`` inside the compound near its south side (3.5, 3.2), and ``r_gate`` standing
exactly on the gate, just outside the compound: its walk is the gate's network distance."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from typer.testing import CliRunner

from lifecircle import Inputs, Study, make_settings
from lifecircle.chinacoords import wgs84_to_gcj02
from lifecircle.cli.main import app
from lifecircle.errors import InputError
from lifecircle.naming import dist_col
from lifecircle.notes import render_notes

LON0, LAT0, STEP = 121.47, 31.23, 0.001
GATE = (3.5, 3.9)
R_IN = (3.5, 3.2)
HOSTILE = "<script>alert(1)</script>{{ 7*7 }}"


def _ll(x: float, y: float) -> tuple[float, float]:
    return LON0 + x * STEP, LAT0 + y * STEP


def _write_compounds(
    path: Path, boxes: dict[str, tuple[float, float, float, float]], *, id_col: str = "compound_id"
) -> Path:
    geoms = [shapely.box(*_ll(x0, y0), *_ll(x1, y1)) for x0, y0, x1, y1 in boxes.values()]
    gdf = gpd.GeoDataFrame(
        {id_col: list(boxes), "name": [HOSTILE] * len(boxes)}, geometry=geoms, crs=4326
    )
    gdf.to_file(path, driver="GeoJSON")
    return path


def _write_gates(path: Path, gates: list[tuple[str, float, float]], *, gcj02: bool = False) -> Path:
    lines = ["id,compound_id,lon,lat"]
    for gid, x, y in gates:
        lon, lat = _ll(x, y)
        if gcj02:
            glon, glat = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
            lon, lat = float(glon[0]), float(glat[0])
        lines.append(f"{gid},,{lon:.8f},{lat:.8f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def town(street_grid, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("gated_town")
    street_grid(d / "grid.osm", 11)
    (d / "facilities.csv").write_text(
        "id,category,name,lon,lat\n"
        + "m1,market,菜场,{:.6f},{:.6f}\n".format(*_ll(0.5, 0.0))
        + "c1,clinic,卫生站,{:.6f},{:.6f}\n".format(*_ll(8.0, 8.5)),
        encoding="utf-8",
    )
    people = [R_IN, GATE, (6.5, 6.5), (1.2, 7.7)]
    (d / "people.csv").write_text(
        "lon,lat,weight\n" + "".join("{:.8f},{:.8f},100\n".format(*_ll(x, y)) for x, y in people),
        encoding="utf-8",
    )
    _write_compounds(d / "compounds.geojson", {"c-1": (3.1, 3.1, 3.9, 3.899)})
    _write_gates(d / "gates.csv", [("g-1", *GATE)])
    _write_gates(d / "gates_gcj02.csv", [("g-1", *GATE)], gcj02=True)
    return d


@pytest.fixture(scope="module")
def settings():
    return make_settings(grid_cell_m=300.0, processes=1)


def _inputs(town: Path, **kw) -> Inputs:
    return Inputs(
        osm=town / "grid.osm",
        facilities=(town / "facilities.csv",),
        osm_facilities=False,
        population=town / "people.csv",
        **kw,
    )


def _straight_m() -> float:
    tf = Transformer.from_crs(4326, 32651, always_xy=True)
    (x0, x1), (y0, y1) = tf.transform(*zip(_ll(*R_IN), _ll(*GATE), strict=True))
    return float(np.hypot(x1 - x0, y1 - y0))


@pytest.fixture(scope="module")
def plain(town, settings):
    return Study.from_inputs(_inputs(town), settings).coverage()


@pytest.fixture(scope="module")
def gated(town, settings):
    return Study.from_inputs(
        _inputs(town, gates=str(town / "gates.csv"), compounds=town / "compounds.geojson"),
        settings,
    ).coverage()


def test_the_resident_inside_walks_to_the_gate_then_on_the_network(plain, gated):
    d = gated.residents[dist_col("market")].to_numpy()
    assert d[0] == pytest.approx(d[1] + _straight_m(), abs=1.0)
    before = plain.residents[dist_col("market")].to_numpy()
    assert d[0] > before[0] + 50  # the gate is on the far side
    assert np.array_equal(d[1:], before[1:])  # nobody else moves


def test_the_summary_says_who_went_through_gates_and_what_it_changed(gated, plain):
    g = gated.summary["gates"]
    assert g["residents_through_known_gates"] == 100
    assert g["residents_through_assumed_gates"] == 0
    assert g["compounds"] == 1 and g["gates_known"] == 1
    assert (
        g["within_threshold_ignoring_gates"]
        == plain.summary["complete_life_circle"]["within_threshold"]
    )
    assert g["within_threshold"] == gated.summary["complete_life_circle"]["within_threshold"]
    zh = render_notes(gated.summary, "zh")
    assert any("小区出入口" in n for n in zh)
    assert "gates" not in plain.summary


def test_gates_off_or_without_compounds_change_nothing(town, settings, plain):
    off = Study.from_inputs(_inputs(town, gates="off"), settings).coverage()
    osm = Study.from_inputs(_inputs(town, gates="osm"), settings).coverage()  # none mapped
    for other in (off, osm):
        for c in ("market", "clinic"):
            assert np.array_equal(
                other.residents[dist_col(c)].to_numpy(), plain.residents[dist_col(c)].to_numpy()
            )
        assert other.coverage.equals(plain.coverage)
    assert osm.summary["gates"]["compounds"] == 0


def test_a_gcj02_gates_file_lands_on_the_gate(town, settings, gated):
    inputs = _inputs(
        town,
        gates=str(town / "gates_gcj02.csv"),
        gates_crs="gcj02",
        compounds=town / "compounds.geojson",
    )
    res = Study.from_inputs(inputs, settings).coverage().residents
    want = gated.residents[dist_col("market")].to_numpy()
    assert res[dist_col("market")].to_numpy() == pytest.approx(want, abs=0.5)
    with pytest.raises(InputError, match=r"belong to no compound[\s\S]*--gates-crs"):
        Study.from_inputs(  # read as WGS 84, the points sit some 500 m off
            _inputs(town, gates=str(town / "gates_gcj02.csv"), compounds=inputs.compounds),
            settings,
        )


# ---- the command line ---------------------------------------------------------------------


def _analyze(town: Path, out: Path, *extra: str):
    args = [
        "analyze",
        "--osm",
        str(town / "grid.osm"),
        "--facilities",
        str(town / "facilities.csv"),
    ]
    args += ["--no-osm-facilities", "--population", str(town / "people.csv"), "--out", str(out)]
    return CliRunner().invoke(app, [*args, *extra])


def test_cli_writes_the_gates_summary_and_escapes_names(town, tmp_path):
    out = tmp_path / "out"
    r = _analyze(
        town,
        out,
        "--gates",
        str(town / "gates.csv"),
        "--compounds",
        str(town / "compounds.geojson"),
        "--lang",
        "en",
    )
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["gates"]["residents_through_known_gates"] == 100
    assert summary["provenance"]["options"]["gates"] == str(town / "gates.csv")
    assert set(summary["provenance"]["inputs"]) >= {"gates", "compounds"}
    assert "Compound gates" in (out / "report.html").read_text("utf-8")
    comp = gpd.read_file(out / "lifecircle.gpkg", layer="compounds")
    assert comp["name"].tolist() == [HOSTILE]  # a name is text, kept as it is
    assert comp["gates"].tolist() == ["known"]
    assert comp["residents_through_gates"].tolist() == [100]
    gates = gpd.read_file(out / "lifecircle.gpkg", layer="gates")
    assert gates[["gate_id", "compound_id", "kind"]].values.tolist() == [["g-1", "c-1", "known"]]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("far_gate", "far-1: not within 30 m"),
        ("overlap", "overlap (c-1 / c-2)"),
        ("no_id", "no id column"),
        ("compounds_alone", "--compounds: used with --gates osm|FILE only"),
        ("bad_crs", "not a coordinate reference system"),
    ],
)
def test_cli_refuses_bad_gate_inputs_and_keeps_what_was_there(town, tmp_path, setup, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me", encoding="utf-8")
    comp = town / "compounds.geojson"
    gates = town / "gates.csv"
    extra: list[str] = []
    if setup == "far_gate":
        gates = _write_gates(tmp_path / "g.csv", [("g-1", *GATE), ("far-1", 8.5, 8.5)])
    elif setup == "overlap":
        comp = _write_compounds(
            tmp_path / "c.geojson", {"c-1": (3.1, 3.1, 3.9, 3.9), "c-2": (3.5, 3.5, 3.95, 3.95)}
        )
    elif setup == "no_id":
        comp = _write_compounds(
            tmp_path / "c.geojson", {"c-1": (3.1, 3.1, 3.9, 3.9)}, id_col="label"
        )
    elif setup == "bad_crs":
        extra = ["--gates-crs", "EPSG:nonsense"]
    args = ["--compounds", str(comp), *extra]
    if setup != "compounds_alone":
        args += ["--gates", str(gates)]
    r = _analyze(town, out, *args, "--overwrite")
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())
    assert (out / "mine.txt").read_text("utf-8") == "keep me"
    assert not (out / "summary.json").exists()


def _osm_with(town: Path, dest: Path, *, gate: bool) -> Path:
    """The grid with a walled compound (a closed barrier=wall way) around the block, a gate
    node on its north side when ``gate``, and a residential landuse area around the wall."""
    ring = [(3.1, 3.1), (3.9, 3.1), (3.9, 3.9), GATE, (3.1, 3.9)]
    outer = [(3.05, 3.05), (3.95, 3.05), (3.95, 3.95), (3.05, 3.95)]
    nodes = [
        f'<node id="{900 + i}" version="1" lat="{_ll(x, y)[1]:.7f}" lon="{_ll(x, y)[0]:.7f}"/>'
        for i, (x, y) in enumerate(ring + outer)
    ]
    if gate:
        nodes[3] = nodes[3].replace("/>", '><tag k="barrier" v="gate"/></node>')
    refs = "".join(f'<nd ref="{900 + i}"/>' for i in [*range(5), 0])
    oref = "".join(f'<nd ref="{900 + i}"/>' for i in [5, 6, 7, 8, 5])
    ways = [
        f'<way id="900" version="1">{refs}<tag k="barrier" v="wall"/></way>',
        f'<way id="901" version="1">{oref}<tag k="landuse" v="residential"/></way>',
    ]
    text = (town / "grid.osm").read_text("utf-8")
    first_way = text.index("<way ")
    text = text[:first_way] + "\n".join(nodes) + "\n" + text[first_way:]
    dest.write_text(text.replace("</osm>", "\n".join(ways) + "\n</osm>"), encoding="utf-8")
    return dest


def test_osm_walls_and_gate_nodes_make_the_same_compound(town, settings, gated, tmp_path):
    osm = _osm_with(town, tmp_path / "walled.osm", gate=True)
    inputs = _inputs(town, gates="osm")
    study = Study.from_inputs(replace(inputs, osm=osm), settings)
    res = study.coverage()
    want = gated.residents[dist_col("market")].to_numpy()
    assert res.residents[dist_col("market")].to_numpy() == pytest.approx(want, abs=0.5)
    g = res.summary["gates"]
    assert g["compounds"] == 1 and g["osm_compounds_overlapping_dropped"] == 1
    assert g["gates_known"] == 1 and g["residents_through_known_gates"] == 100


def test_an_osm_wall_without_a_gate_node_has_no_assumed_gate_here(town, settings, plain, tmp_path):
    # no walkway meets the wall: its residents are routed as without gates, and reported
    osm = _osm_with(town, tmp_path / "walled.osm", gate=False)
    inputs = _inputs(town, gates="osm")
    res = Study.from_inputs(replace(inputs, osm=osm), settings).coverage()
    g = res.summary["gates"]
    assert g["compounds_without_gate"] == 1
    assert g["residents_in_compounds_without_gate"] == 100
    assert g["residents_through_known_gates"] == g["residents_through_assumed_gates"] == 0
    want = plain.residents[dist_col("market")].to_numpy()
    assert np.array_equal(res.residents[dist_col("market")].to_numpy(), want)


# ---- scenario: open a gate ----------------------------------------------------------------


def test_opening_a_gate_equals_analysing_with_it_and_shortens_no_walk_less(town, settings, gated):
    from lifecircle.scenario import what_if
    from lifecircle.sources._files import parse_crs
    from lifecircle.sources.compounds import read_gates

    base = Study.from_inputs(
        _inputs(town, gates=str(town / "gates.csv"), compounds=town / "compounds.geojson"),
        settings,
    )
    south = _write_gates(town / "south_gate.csv", [("g-2", 3.5, 3.1)])
    both = _write_gates(town / "both_gates.csv", [("g-1", *GATE), ("g-2", 3.5, 3.1)])
    s = what_if(base, add_gates=read_gates(south, crs=parse_crs(None, "--gates-crs")))
    fresh = Study.from_inputs(
        _inputs(town, gates=str(both), compounds=town / "compounds.geojson"), settings
    ).coverage()
    for c in ("market", "clinic"):
        after = s.after.residents[dist_col(c)].to_numpy()
        assert after == pytest.approx(fresh.residents[dist_col(c)].to_numpy())
        assert (after <= gated.residents[dist_col(c)].to_numpy() + 1e-9).all()
    assert (
        s.after.residents[dist_col("market")].iloc[0] < gated.residents[dist_col("market")].iloc[0]
    )
    assert s.after.summary["gates"]["gates_opened_in_scenario"] == 1
    assert s.summary["gates_opened"] == ["g-2"]
    assert any(getattr(n, "key", "") == "scenario_gates" for n in s.study.notes)
    assert base.gates is not None and len(base.gates.gates) == 1  # the base is unchanged


def test_cli_scenario_add_gate(town, tmp_path):
    base = tmp_path / "base"
    r = _analyze(town, base, "--gates", "osm", "--lang", "en")
    assert r.exit_code == 0, r.output
    far = _write_gates(tmp_path / "far.csv", [("g-9", 8.5, 8.5)])
    r = CliRunner().invoke(
        app, ["scenario", str(base), "--add-gate", str(far), "--out", str(tmp_path / "s")]
    )
    assert r.exit_code == 2
    assert "g-9" in r.output and "belong to no compound" in " ".join(r.output.split())
    plain = tmp_path / "plain"
    assert _analyze(town, plain).exit_code == 0
    r = CliRunner().invoke(
        app,
        [
            "scenario",
            str(plain),
            "--add-gate",
            str(town / "gates.csv"),
            "--out",
            str(tmp_path / "t"),
        ],
    )
    assert r.exit_code == 2
    assert "run without compound gates" in " ".join(r.output.split())


def test_cli_scenario_opens_a_gate(town, tmp_path):
    base = tmp_path / "base"
    comp = ["--compounds", str(town / "compounds.geojson")]
    r = _analyze(town, base, "--gates", str(town / "gates.csv"), *comp, "--lang", "en")
    assert r.exit_code == 0, r.output
    south = _write_gates(tmp_path / "south.csv", [("g-2", 3.5, 3.1)])
    out = tmp_path / "s"
    r = CliRunner().invoke(
        app, ["scenario", str(base), "--add-gate", str(south), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["scenario"]["gates_opened"] == ["g-2"]
    assert summary["provenance"]["inputs"]["add_gate"]["path"] == str(south)
    assert (out / "coverage_change.csv").is_file()


def test_sensitivity_and_siting_refuse_a_study_with_gates(town, settings, tmp_path):
    # both measure walks ignoring the gates: refused rather than contradicting the analysis
    from lifecircle.siting import site

    study = Study.from_inputs(_inputs(town, gates="osm"), settings)
    with pytest.raises(InputError, match="--sensitivity does not take compound gates"):
        study.sensitivity()
    with pytest.raises(InputError, match="lifecircle site does not take compound gates"):
        site(study, category="market", count=1)
    r = _analyze(town, tmp_path / "o", "--gates", "osm", "--sensitivity")
    assert r.exit_code == 2
    assert "--sensitivity does not take compound gates" in " ".join(r.output.split())
    assert not (tmp_path / "o" / "summary.json").exists()


def test_cli_refuses_an_out_folder_holding_the_gates_file(town, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    gates = _write_gates(out / "gates.csv", [("g-1", *GATE)])
    r = _analyze(town, out, "--gates", str(gates), "--compounds", str(town / "compounds.geojson"))
    assert r.exit_code == 2
    assert "--gates" in r.output
    assert gates.is_file() and not (out / "summary.json").exists()


def test_access_point_positions_follow_the_sited_order(town, settings):
    # a polygon facility (several access points) among points: positions match the snapping
    from lifecircle.gated import access_point_positions
    from lifecircle.snapping import snap_points

    study = Study.from_inputs(_inputs(town, gates="osm"), settings)
    park = gpd.GeoDataFrame(
        {"category": ["market"], "facility_id": ["p1"], "name": ["园"]},
        geometry=[shapely.box(*_ll(5.2, 5.2), *_ll(5.8, 5.8))],
        crs=4326,
    )
    added = study.with_facilities(add=park)
    pts = access_point_positions(added, "market")
    _, snap = added.facilities.of_category("market")
    again = snap_points(pts, added.network, max_snap_m=added.settings.max_snap_m)
    assert len(pts) == len(snap) > 2
    assert np.array_equal(again.edge, snap.edge)
    assert again.offset_m == pytest.approx(snap.offset_m)


def test_the_workbench_answers_a_gated_study_as_a_scenario_does(town, settings):
    """``POST /api/evaluate`` on an analysis with gates: the enclosed resident still leaves
    through the gate on the far side, so a market added just outside the near wall is as far
    as ``what_if`` says (the incremental path, which walks from the resident's own street,
    would put it within a few metres)."""
    from pandas.testing import assert_frame_equal

    from lifecircle.scenario import what_if
    from lifecircle.workbench import Workbench

    study = Study.from_inputs(
        _inputs(town, gates=str(town / "gates.csv"), compounds=town / "compounds.geojson"),
        settings,
    )
    bench = Workbench(study)
    lon, lat = _ll(3.5, 3.0)
    got = bench.evaluate({"add": [{"category": "market", "lon": lon, "lat": lat, "name": "m"}]})
    add = gpd.GeoDataFrame(
        {"facility_id": ["workbench.csv:1"], "category": ["market"], "name": ["m"],
         "source": ["workbench.csv"], "capacity": [np.nan]},
        geometry=[shapely.Point(lon, lat)], crs=4326,
    )  # fmt: skip
    sc = what_if(study, add=add, remove=[])
    want = sc.after.coverage.reset_index(drop=True)
    assert_frame_equal(
        pd.DataFrame(got["coverage"], columns=got["columns"]), want, check_dtype=False
    )
    assert got["change"]["rerouted_categories"] == ["market"]
    assert got["facilities"][0]["facility_id"] == "workbench.csv:1"
    d = sc.after.residents[dist_col("market")].to_numpy()
    assert d[0] > 150  # through the gate, not straight onto the street by the wall
