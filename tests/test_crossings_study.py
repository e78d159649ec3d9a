"""Crossing delays in a whole analysis: a town cut by a primary road with one signalised
junction, analysed with and without delays; the summary, notes and CLI option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lifecircle import Inputs, Study, make_settings
from lifecircle.cli.main import app
from lifecircle.config import load_preset
from lifecircle.naming import dist_col

LON0, LAT0, STEP = 121.47, 31.23, 0.001  # about 95 m east-west, 111 m north-south
N = 7  # 7 × 7 streets; row 3 (the middle) is a primary road
SIGNAL = (3, 1)  # a signalised junction on the primary road: (row, column)

FACILITIES = [
    # south of the primary road: north of it, residents must cross to reach them
    ("m1", "market", "菜场 <script>", 2.5, 2.6),
    ("p1", "park", '=HYPERLINK("x")', 4.5, 2.6),
    ("h1", "health", "{{ 7*7 }}", 1.5, 0.6),
]


def _town_osm(path: Path) -> Path:
    nid = lambda i, j: 1 + i * N + j  # noqa: E731
    nodes = []
    for i in range(N):
        for j in range(N):
            tag = '<tag k="highway" v="traffic_signals"/>' if (i, j) == SIGNAL else ""
            lat, lon = LAT0 + i * STEP, LON0 + j * STEP
            attrs = f'id="{nid(i, j)}" version="1" lat="{lat:.6f}" lon="{lon:.6f}"'
            nodes.append(f"<node {attrs}>{tag}</node>" if tag else f"<node {attrs}/>")
    ways = []
    w = 1
    for i in range(N):
        for line, kind in (
            ([nid(i, j) for j in range(N)], "primary" if i == 3 else "residential"),
            ([nid(j, i) for j in range(N)], "residential"),
        ):
            refs = "".join(f'<nd ref="{r}"/>' for r in line)
            ways.append(f'<way id="{w}" version="1">{refs}<tag k="highway" v="{kind}"/></way>')
            w += 1
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        + "\n".join(nodes + ways)
        + "\n</osm>\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("crossing_town")
    _town_osm(d / "town.osm")
    lines = ["id,category,name,lon,lat"]
    for i, c, n, x, y in FACILITIES:
        lines.append(
            f'{i},{c},"{n.replace(chr(34), chr(34) * 2)}",{LON0 + x * STEP:.6f},'
            f"{LAT0 + y * STEP:.6f}"
        )
    (d / "facilities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def _inputs(town: Path) -> Inputs:
    return Inputs(
        osm=town / "town.osm", facilities=(town / "facilities.csv",), osm_facilities=False
    )


@pytest.fixture(scope="module")
def runs(town):
    plain = Study.from_inputs(_inputs(town), make_settings(grid_cell_m=300.0, processes=1))
    delayed = Study.from_inputs(
        _inputs(town), make_settings(grid_cell_m=300.0, processes=1, crossings=True)
    )
    return plain, plain.coverage(), delayed, delayed.coverage()


def test_off_by_default(runs):
    plain, r_plain, _, _ = runs
    assert plain.network.crossings is None
    assert "crossings" not in r_plain.summary
    assert not any(k["key"] == "crossings" for k in r_plain.summary["note_keys"])


def test_the_network_is_split_at_the_primary_road(runs):
    plain, _, delayed, _ = runs
    c = delayed.network.crossings
    assert c is not None
    # the 5 inner junctions of the primary road split in 2 sectors each (north and south);
    # its two ends have one primary edge each and stay whole
    assert c.stats["crossing_nodes_split"] == N - 2
    assert c.stats["crossing_links"] == N - 2
    assert c.stats["crossing_nodes_signalised"] == 1
    assert delayed.network.n_nodes == plain.network.n_nodes + N - 2
    assert delayed.network.n_edges == plain.network.n_edges + (N - 1) + (N - 2)


def test_crossing_lengthens_walks_from_the_north_only(runs):
    _, r_plain, _, r_delayed = runs
    for cat in ("market", "park", "health"):
        a = r_plain.residents[dist_col(cat)].to_numpy()
        b = r_delayed.residents[dist_col(cat)].to_numpy()
        ok = np.isfinite(a) & np.isfinite(b)
        assert np.all(b[ok] >= a[ok] - 1e-6)
        lat = r_plain.residents.geometry.y.to_numpy()
        lon = r_plain.residents.geometry.x.to_numpy()
        # the road's two ends are T-junctions with one primary edge: walking round an end
        # crosses no primary road, and is shorter than a wait within a few metres of it
        central = (lon > LON0 + 1 * STEP) & (lon < LON0 + 5 * STEP)
        north = (lat > LAT0 + 3.2 * STEP) & central
        south = lat < LAT0 + 2.8 * STEP
        longer = b > a + 1e-6
        # residents north of the road cross it, and pay at least the 15 s wait (16.5 m)
        assert longer[north & ok].all()
        assert np.all(b[north & ok] - a[north & ok] >= 15 * 1.1 - 1e-6)
        # residents well south of it, on the facilities' side, do not
        assert not longer[south & ok].any()


def test_summary_and_note_report_the_model_and_its_effect(runs):
    _, r_plain, _, r_delayed = runs
    s = r_delayed.summary["crossings"]
    assert s["crossing_links"] == N - 2 and s["crossing_links_signalised"] == 1
    assert s["signalised_m"] == pytest.approx(45 * 1.1)
    assert s["unsignalised_m"] == pytest.approx(15 * 1.1)
    # the comparison is the run without crossings, exactly
    assert s["complete_life_circle_without_delays"] == pytest.approx(
        r_plain.summary["complete_life_circle"]["coverage"]
    )
    assert s["complete_life_circle"] == pytest.approx(
        r_delayed.summary["complete_life_circle"]["coverage"]
    )
    within_plain = r_plain.summary["complete_life_circle"]["within_threshold"]
    for cat, row in s["categories"].items():
        assert row["within_threshold_without_delays"] == pytest.approx(within_plain[cat])
        assert row["within_threshold"] <= row["within_threshold_without_delays"]
        if cat in ("market", "park", "health"):
            assert 0 < row["residents_walking_longer_share"] < 1
        else:  # no facility at all: nobody walks there, with or without waits
            assert row["residents_walking_longer_share"] == 0
    assert set(s["categories"]) >= {"market", "park", "health"}
    assert (
        s["communities_meeting_target_without_delays"]
        == (r_plain.summary["communities_meeting_target"]["count"])
    )
    keys = [k for k in r_delayed.summary["note_keys"] if k["key"] == "crossings"]
    assert len(keys) == 1 and keys[0]["params"]["links"] == N - 2
    text = next(n for n in r_delayed.summary["notes"] if n.startswith("Crossing delays"))
    assert "metres-equivalent" in text and "45 s" in text


def test_preset_crossings_round_trip(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(
        load_preset("shanghai").to_toml()
        + '\n[crossings]\nsignalised_s = 60\nunsignalised_s = 0\nclasses = ["primary"]\n',
        encoding="utf-8",
    )
    pre = load_preset(p)
    assert pre.crossings.enabled and pre.crossings.signalised_s == 60.0
    again = tmp_path / "again.toml"
    again.write_text(pre.to_toml(), encoding="utf-8")
    assert load_preset(again).crossings == pre.crossings
    assert make_settings(p).crossing_delays is not None
    assert make_settings(p, crossings=False).crossing_delays is None
    assert "crossings" not in load_preset("shanghai").as_dict()


def test_cli_crossings_and_a_negative_delay(town, tmp_path):
    args = ["analyze", "--osm", str(town / "town.osm"), "--facilities"]
    args += [str(town / "facilities.csv"), "--no-osm-facilities", "--grid-cell-m", "300"]
    out = tmp_path / "o"
    hostile = tmp_path / "hostile.toml"  # a road class is text of the user's: escaped
    hostile.write_text(
        load_preset("default").to_toml()
        + '\n[crossings]\nenabled = false\nclasses = ["primary", "<script>x</script>"]\n',
        encoding="utf-8",
    )
    r = CliRunner().invoke(
        app, [*args, "--out", str(out), "--crossings", "--lang", "en", "--preset", str(hostile)]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["crossings"]["crossing_links"] == N - 2
    assert "Crossing delays modelled" in r.output
    report = (out / "report.html").read_text("utf-8")
    assert "Crossing delays modelled" in report or "过街" in report
    assert "<script>x</script>" not in report and "&lt;script&gt;x" in report
    before = (out / "coverage.csv").read_bytes()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        load_preset("default").to_toml() + "\n[crossings]\nsignalised_s = -10\n", encoding="utf-8"
    )
    r = CliRunner().invoke(app, [*args, "--out", str(out), "--overwrite", "--preset", str(bad)])
    assert r.exit_code == 2
    assert "crossings.signalised_s" in r.output and "-10" in r.output
    assert (out / "coverage.csv").read_bytes() == before


def test_a_saved_study_and_a_scenario_keep_the_crossings(town, runs, tmp_path):
    from pandas.testing import assert_frame_equal

    import lifecircle

    _, _, delayed, r_delayed = runs
    saved = Study.load(delayed.save(tmp_path / "study.pickle"))
    assert saved.network.crossings is not None
    again = saved.coverage()
    assert_frame_equal(again.coverage, r_delayed.coverage)
    assert again.summary["crossings"]["crossing_links"] == N - 2
    # a market added north of the road: the same as analysing with it from the start
    extra = tmp_path / "extra.csv"
    extra.write_text(
        f"id,category,name,lon,lat\nm9,market,北菜场,{LON0 + 2.5 * STEP:.6f},"
        f"{LAT0 + 3.4 * STEP:.6f}\n",
        encoding="utf-8",
    )
    after = delayed.with_facilities(add=lifecircle.read_facilities_file(extra)).coverage()
    fresh = Study.from_inputs(
        Inputs(
            osm=town / "town.osm",
            facilities=(town / "facilities.csv", extra),
            osm_facilities=False,
        ),
        make_settings(grid_cell_m=300.0, processes=1, crossings=True),
    ).coverage()
    assert_frame_equal(after.coverage, fresh.coverage)
    m = dist_col("market")
    assert (after.residents[m].to_numpy() <= r_delayed.residents[m].to_numpy() + 1e-9).all()


def test_sensitivity_runs_on_the_split_network(runs):
    _, _, delayed, _ = runs
    sens = delayed.sensitivity(runs=2)
    assert len(sens.table) and sens.table["coverage"].notna().any()


def _dem(path: Path, z) -> Path:
    """A lon/lat DEM over the crossing town: ``z(column, row)`` in street steps."""
    import rasterio
    from rasterio.transform import from_origin

    n, d = 90, STEP / 10
    lon0, lat1 = LON0 - STEP, LAT0 + (N + 1) * STEP
    cols = (np.arange(n) + 0.5) * d / STEP - 1
    rows = (N + 1) - (np.arange(n) + 0.5) * d / STEP
    gc, gr = np.meshgrid(cols, rows)
    with rasterio.open(
        path, "w", driver="GTiff", height=n, width=n, count=1, dtype="float64",
        crs="EPSG:4326", transform=from_origin(lon0, lat1, d, d),
    ) as dst:  # fmt: skip
        dst.write(z(gc, gr), 1)
    return path


def _dem_inputs(town: Path, dem: Path) -> Inputs:
    return Inputs(
        osm=town / "town.osm", facilities=(town / "facilities.csv",), osm_facilities=False, dem=dem
    )


def test_crossings_on_a_flat_dem_give_the_crossings_alone(town, runs, tmp_path):
    """The split network keeps its terrain arrays edge for edge: on flat ground every cost is
    the length (the links their wait), so the results are those of crossings without a DEM."""
    _, _, _, r_delayed = runs
    dem = _dem(tmp_path / "flat.tif", lambda c, r: np.full_like(c, 7.0))
    s = make_settings(grid_cell_m=300.0, processes=1, crossings=True)
    study = Study.from_inputs(_dem_inputs(town, dem), s)
    net = study.network
    assert net.crossings is not None and net.has_terrain
    assert net.edge_cost_uv is not None and net.edge_cost_vu is not None
    assert net.edge_structure is not None and len(net.edge_structure) == net.n_edges
    assert np.allclose(net.edge_cost_uv, net.edge_len) and np.allclose(
        net.edge_cost_vu, net.edge_len
    )
    got = study.coverage()
    cols = [c for c in got.residents.columns if c.startswith("dist_m_")]
    np.testing.assert_allclose(got.residents[cols], r_delayed.residents[cols], rtol=1e-9)
    timings = {"baseline_routing_s", "split_s"}
    drop = lambda d: {k: v for k, v in d.items() if k not in timings}  # noqa: E731
    assert drop(got.summary["crossings"]) == drop(r_delayed.summary["crossings"])


def test_crossings_on_a_hill_charge_the_wait_and_the_slope(town, tmp_path):
    """On a hill the sidewalk copies keep their edge's costs per direction, the links cost
    their wait both ways, and the "without delays" figures are those of the DEM run alone."""
    dem = _dem(tmp_path / "hill.tif", lambda c, r: 12.0 * r)  # about 11 % up to the north
    hill = Study.from_inputs(_dem_inputs(town, dem), make_settings(grid_cell_m=300.0, processes=1))
    both = Study.from_inputs(
        _dem_inputs(town, dem), make_settings(grid_cell_m=300.0, processes=1, crossings=True)
    )
    net = both.network
    c = net.crossings
    assert c is not None and net.edge_cost_uv is not None and net.edge_cost_vu is not None
    assert np.allclose(net.edge_cost_uv[c.link], net.edge_len[c.link])
    assert np.allclose(net.edge_cost_vu[c.link], net.edge_len[c.link])
    sides = np.flatnonzero(c.side != 0)
    twin = c.twin[sides]
    assert np.allclose(net.edge_cost_uv[sides], net.edge_cost_uv[twin])
    north = ~c.link & (net.edge_highway == "residential")
    assert (np.maximum(net.edge_cost_uv, net.edge_cost_vu)[north] > net.edge_len[north]).all()
    r_hill, r_both = hill.coverage(), both.coverage()
    for cat in ("market", "park", "health"):
        a = r_hill.residents[dist_col(cat)].to_numpy()
        b = r_both.residents[dist_col(cat)].to_numpy()
        ok = np.isfinite(a)
        assert (b[ok] >= a[ok] - 1e-6).all()  # a wait never shortens a walk
    eff = r_both.summary["crossings"]
    for cat in ("market", "park", "health"):  # the unsplit comparison keeps the hill
        assert eff["categories"][cat]["within_threshold_without_delays"] == pytest.approx(
            r_hill.summary["complete_life_circle"]["within_threshold"][cat]
        )
