"""Capacity: the 2SFCA supply per 1,000 people of a category's target group, its sparse
per-facility catchments, the capacity column of facility lists, and capacity.csv."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import LOCAL_CRS, metric_points, ways_from_metric
from lifecircle import InputError, Inputs, Study, make_settings
from lifecircle.capacity import (
    CAPACITY_COLUMNS,
    catchment_pairs,
    judging,
    target_shares,
    two_step_fca,
)
from lifecircle.cli.main import app
from lifecircle.network import build_network
from lifecircle.render.escape import read_people_csv
from lifecircle.snapping import Snapped, snap_points
from lifecircle.sources.facilities import read_facilities_file


@pytest.fixture(scope="module")
def line_graph():
    r"""One street, three nodes, lengths in metres::

        A(1)------------B(2)------------C(3)
        x=0     300     x=300    300    x=600

    Facilities F0 at A (capacity 30) and F1 at C (capacity 10); residents on the street
    (no legs) r0 at x=100 (100 people), r1 at x=300 (200 people), r2 at x=500 (100 people).
    Walks: r0 → F0 100, F1 500; r1 → 300 and 300; r2 → 500 and 100.
    """
    net = build_network(
        ways_from_metric([[(1, 0, 0), (2, 300, 0)], [(2, 300, 0), (3, 600, 0)]]), LOCAL_CRS
    )
    fac = snap_points(metric_points([(0, 0), (600, 0)]), net, max_snap_m=50)
    res = snap_points(metric_points([(100, 0), (300, 0), (500, 0)]), net, max_snap_m=50)
    return net, fac, res


def _pairs(line_graph, limit_m):
    net, fac, res = line_graph
    return catchment_pairs(net, np.arange(2), fac, res, n_facilities=2, limit_m=limit_m)


def test_catchments_hold_every_resident_within_the_limit(line_graph):
    r, f, d = _pairs(line_graph, 350.0)
    got = {(int(a), int(b)): float(c) for a, b, c in zip(r, f, d, strict=True)}
    assert got.keys() == {(0, 0), (1, 0), (1, 1), (2, 1)}
    assert got[(0, 0)] == pytest.approx(100, abs=0.01)
    assert got[(1, 1)] == pytest.approx(300, abs=0.01)
    assert len(_pairs(line_graph, 50.0)[0]) == 0


def test_hand_computed_two_step_example(line_graph):
    """Step 1: F0 reaches r0, r1 (300 people): 30 / 300 = 0.1 a person; F1 reaches r1, r2
    (300 people): 10 / 300 = 1/30. Step 2: r0 0.1, r1 0.1 + 1/30, r2 1/30; a community of all
    three gets (100 × 0.1 + 200 × 0.1333 + 100 × 0.0333) / 400 × 1000 = 100 per 1,000."""
    r, f, _ = _pairs(line_graph, 350.0)
    demand = np.array([100.0, 200.0, 100.0])
    a = two_step_fca(np.array([30.0, 10.0]), demand, r, f)
    assert a == pytest.approx([0.1, 0.1 + 1 / 30, 1 / 30])
    assert 1000 * (demand * a).sum() / demand.sum() == pytest.approx(100.0)
    # every seat goes to someone: the supply shared out equals the capacity in reach
    assert (demand * a).sum() == pytest.approx(40.0)


def test_a_facility_without_capacity_is_left_out_not_zero_or_infinite(line_graph):
    r, f, _ = _pairs(line_graph, 350.0)
    demand = np.array([100.0, 200.0, 100.0])
    a = two_step_fca(np.array([30.0, np.nan]), demand, r, f)
    assert np.isfinite(a).all()
    # F1 unknown: F0's 30 seats over its 300 people; r2 reaches only F1, so nothing known
    assert a == pytest.approx([0.1, 0.1, 0.0])


def test_shared_edge_walks_are_direct(line_graph):
    """A resident on the facility's own edge walks straight to it, not round by a node."""
    net, _, res = line_graph
    fac = snap_points(metric_points([(150, 30)]), net, max_snap_m=50)  # 30 m leg, x=150
    owner = np.zeros(1, dtype=np.int64)
    r, _, d = catchment_pairs(net, owner, fac, res, n_facilities=1, limit_m=200.0)
    got = dict(zip(r.tolist(), d.tolist(), strict=True))
    assert got.keys() == {0, 1}
    assert got[0] == pytest.approx(50 + 30, abs=0.01)
    assert got[1] == pytest.approx(150 + 30, abs=0.01)


def test_pairs_match_the_brute_force_oracle(grid_graph, brute_force):
    """Every facility's walks against networkx on the 4 × 4 grid, polygons' many access points
    included (a facility of two access points is one facility)."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 600, size=(40, 2))
    res = snap_points(metric_points(xy), grid_graph, max_snap_m=150)
    fxy = [(37, 12), (410, 590), (300, 300), (590, 80), (130, 460)]
    fac = snap_points(metric_points(fxy), grid_graph, max_snap_m=150)
    owner = np.array([0, 1, 2, 3, 3])  # facility 3 has two access points
    limit = 455.0
    r, f, d = catchment_pairs(grid_graph, owner, fac, res, n_facilities=4, limit_m=limit)
    for k in range(4):
        pts = np.flatnonzero(owner == k)
        sub = Snapped(fac.edge[pts], fac.offset_m[pts], fac.leg_m[pts], fac.near_dropped[pts])
        want = brute_force(grid_graph, sub, res)
        inside = np.flatnonzero(want <= limit)
        mine = f == k
        assert sorted(r[mine].tolist()) == inside.tolist()
        order = np.argsort(r[mine])
        assert np.allclose(d[mine][order], want[inside])


def test_agrees_with_pysal_access(grid_graph, brute_force):
    """The per-resident 2SFCA equals pysal access's two_stage_fca on the same walks (access ≥
    1.1.10 counts a walk of exactly the threshold as inside, as lifecircle does)."""
    access = pytest.importorskip(
        "access", reason="pysal access is not installed (pip install access)"
    )
    rng = np.random.default_rng(3)
    res = snap_points(metric_points(rng.uniform(0, 600, size=(30, 2))), grid_graph, max_snap_m=150)
    fxy = [(37, 12), (410, 590), (300, 300), (590, 80)]
    fac = snap_points(metric_points(fxy), grid_graph, max_snap_m=150)
    limit = 380.0
    cost = []
    for k in range(len(fxy)):
        one = Snapped(fac.edge[[k]], fac.offset_m[[k]], fac.leg_m[[k]], fac.near_dropped[[k]])
        d = brute_force(grid_graph, one, res)
        cost += [(i, k, float(x)) for i, x in enumerate(d)]
    cost_df = pd.DataFrame(cost, columns=["origin", "dest", "cost"])
    # put one walk exactly on the threshold: access (≥ 1.1.10) and lifecircle both count it
    cost_df.loc[0, "cost"] = limit
    demand = rng.integers(10, 200, size=len(res)).astype(float)
    capacity = np.array([40.0, 15.0, 25.0, 60.0])
    a = access.Access(
        demand_df=pd.DataFrame({"pop": demand}, index=pd.Index(range(len(res)), name="id")),
        demand_value="pop",
        supply_df=pd.DataFrame({"cap": capacity}, index=pd.Index(range(4), name="id")),
        supply_value="cap",
        cost_df=cost_df,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    theirs = a.two_stage_fca(name="fca", max_cost=limit)["fca_cap"]
    near = cost_df[cost_df["cost"] <= limit]
    mine = two_step_fca(capacity, demand, near["origin"].to_numpy(), near["dest"].to_numpy())
    theirs = theirs.reindex(range(len(res))).fillna(0.0).to_numpy()
    assert np.allclose(mine, theirs)
    assert (mine > 0).sum() > 5  # not a vacuous comparison


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_known_place_is_shared_out_once(data):
    """Whatever the pairs: the places shared out (demand × supply per person, summed) equal the
    capacity of the known facilities that reach anyone, and the order of the pairs is
    irrelevant."""
    n_res = data.draw(st.integers(1, 12))
    n_fac = data.draw(st.integers(1, 6))
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, n_res - 1), st.integers(0, n_fac - 1)), unique=True)
    )
    demand = np.array(data.draw(st.lists(st.floats(0.5, 500), min_size=n_res, max_size=n_res)))
    supply = np.array(
        data.draw(
            st.lists(st.one_of(st.just(np.nan), st.floats(1, 200)), min_size=n_fac, max_size=n_fac)
        )
    )
    r = np.array([p[0] for p in pairs], dtype=np.int64)
    f = np.array([p[1] for p in pairs], dtype=np.int64)
    a = two_step_fca(supply, demand, r, f)
    assert (a >= 0).all() and np.isfinite(a).all()
    reaching = np.unique(f) if len(f) else np.zeros(0, dtype=np.int64)
    assert (demand * a).sum() == pytest.approx(np.nansum(supply[reaching]))
    order = np.random.default_rng(0).permutation(len(r))
    assert np.allclose(two_step_fca(supply, demand, r[order], f[order]), a)


def test_target_groups():
    comm = np.array(["a", "b", ""])
    share = pd.Series({"a": 0.2, "b": 0.4})
    g, basis, s = target_shares("canteen", comm, share)
    assert (g, basis) == ("elderly", "age_share")
    assert s == pytest.approx([0.2, 0.4, 0.3])
    assert target_shares("elder_care", comm, None)[:2] == (
        "elderly",
        "whole_population_share_unknown",
    )
    assert target_shares("kindergarten", comm, share)[:2] == (
        "children",
        "whole_population_share_unknown",
    )
    g, basis, s = target_shares("market", comm, share)
    assert (g, basis) == ("everyone", "everyone") and (s == 1).all()


def test_judged_with_the_categorys_profile():
    preset = make_settings("shanghai").preset
    assert judging(preset, "elder_care") == ("elderly", pytest.approx(270.0), pytest.approx(5.0))
    assert judging(preset, "market")[:2] == ("standard", pytest.approx(990.0))
    assert judging(preset, "transit")[1] == pytest.approx(500.0)


# ---- the capacity column of facility lists --------------------------------------------------


def test_capacity_column_with_chinese_header(tmp_path):
    p = tmp_path / "canteens.csv"
    p.write_text(
        "编号,类别,名称,经度,纬度,座位数\n"
        "a,canteen,长者食堂,121.47,31.23,40\n"
        "b,canteen,助餐点,121.48,31.23,\n"
        'c,canteen,大食堂,121.49,31.23,"1,200"\n',
        encoding="utf-8",
    )
    fac = read_facilities_file(p)
    assert fac["capacity"].iloc[0] == 40 and np.isnan(fac["capacity"].iloc[1])
    assert fac["capacity"].iloc[2] == 1200


@pytest.mark.parametrize("bad", ["0", "-5", "forty", "40座", "nan", "inf"])
def test_bad_capacity_is_refused_with_file_and_line(tmp_path, bad):
    p = tmp_path / "care.csv"
    p.write_text(
        f"id,category,name,lon,lat,capacity\na,elder_care,x,121.47,31.23,12\n"
        f"b,elder_care,y,121.48,31.23,{bad}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as e:
        read_facilities_file(p)
    msg = str(e.value)
    assert "care.csv" in msg and "line 3" in msg and "number above 0" in msg
    assert "line 2" not in msg


# ---- through analyze ------------------------------------------------------------------------

LON0, LAT0, STEP = 121.47, 31.23, 0.001


FACILITIES = [  # id, category, name, x, y (grid steps), capacity
    ("e1", "elder_care", '=HYPERLINK("x")', 1.0, 1.0, "30"),
    ("e2", "elder_care", "<script>", 6.0, 6.0, "20"),
    ("e3", "elder_care", "{{ 7*7 }}", 4.0, 1.0, ""),
    ("m1", "market", "菜场", 4.0, 4.0, ""),
]


@pytest.fixture(scope="module")
def town(street_grid, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("captown")
    street_grid(d / "grid.osm", 9)
    lines = ["id,category,name,lon,lat,床位"]
    lines += [
        f'{i},{c},"{n.replace(chr(34), chr(34) * 2)}",{LON0 + x * STEP:.6f},'
        f"{LAT0 + y * STEP:.6f},{cap}"
        for i, c, n, x, y, cap in FACILITIES
    ]
    (d / "fac.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    half = 4 * STEP
    boxes = [
        shapely.box(LON0, LAT0, LON0 + half, LAT0 + 2 * half),
        shapely.box(LON0 + half, LAT0, LON0 + 2 * half, LAT0 + 2 * half),
    ]
    gpd.GeoDataFrame(
        {"id": ["310101002001", "310101002002"], "name": ["=1+1", "<b>{{ 7*7 }}</b>"]},
        geometry=boxes,
        crs=4326,
    ).to_file(d / "communities.geojson", driver="GeoJSON")
    return d


@pytest.fixture(scope="module")
def study(town) -> Study:
    inputs = Inputs(osm=town / "grid.osm", facilities=(town / "fac.csv",), osm_facilities=False)
    return Study.from_inputs(inputs, make_settings("shanghai", grid_cell_m=300.0, processes=1))


def test_capacity_table_of_a_study(study):
    result = study.coverage()
    cap = result.capacity
    assert list(cap.columns) == CAPACITY_COLUMNS
    assert set(cap["category"]) == {"elder_care"}  # the market has no capacity at all
    assert (cap["profile"] == "elderly").all() and (cap["minutes"] == 5).all()
    assert (cap["target_basis"] == "whole_population_share_unknown").all()
    area = cap[cap["community_id"] == "*"].iloc[0]
    comm = cap[cap["community_id"] != "*"]
    assert area["target_population"] == pytest.approx(comm["target_population"].sum())
    # the two facilities with capacity share out 50 places, no more (all reach residents)
    supplied = (comm["supply_per_1000"].fillna(0) * comm["target_population"]).sum() / 1000
    assert supplied == pytest.approx(50.0)
    assert area["facilities_with_capacity"] == 2 and area["facilities_without_capacity"] == 1
    info = result.summary["capacity"]["elder_care"]
    assert info["without_capacity_ids"] == ["fac.csv:e3"]
    notes = result.summary["notes"]
    assert "'elder_care': 1 facility(ies) without a capacity" in " ".join(notes)


def test_age_share_counts_the_elderly(town):
    inputs = Inputs(
        osm=town / "grid.osm",
        facilities=(town / "fac.csv",),
        osm_facilities=False,
        age_share="0.25",
    )
    settings = make_settings("shanghai", grid_cell_m=300.0, processes=1)
    cap = Study.from_inputs(inputs, settings).coverage().capacity
    base = (
        Study.from_inputs(
            Inputs(osm=town / "grid.osm", facilities=(town / "fac.csv",), osm_facilities=False),
            settings,
        )
        .coverage()
        .capacity
    )
    assert (cap["target_basis"] == "age_share").all()
    # a quarter of the people: four times the places per 1,000 of them
    both = cap.merge(base, on="community_id", suffixes=("", "_all"))
    both = both[both["target_population"] > 0]
    assert np.allclose(both["supply_per_1000"], 4 * both["supply_per_1000_all"])


def test_catchments_are_kept_for_unchanged_categories(study):
    first = study.catchment("elder_care")
    assert study.catchment("elder_care") is first
    after = study.with_facilities(remove=["fac.csv:m1"])
    assert after.catchment("elder_care") is first
    again = study.with_facilities(remove=["fac.csv:e3"])
    assert again.catchment("elder_care") is not first
    assert "fac.csv:e3" not in again.catchment("elder_care").facility_ids


def test_analyze_writes_capacity_csv_with_hostile_names_as_text(town, tmp_path):
    out = tmp_path / "out"
    args = ["-q", "analyze", "--osm", str(town / "grid.osm"), "--no-osm-facilities"]
    args += ["--facilities", str(town / "fac.csv"), "--preset", "shanghai"]
    args += ["--communities", str(town / "communities.geojson"), "--out", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    back = read_people_csv(out / "capacity.csv", dtype={"community_id": str})
    assert list(back.columns) == CAPACITY_COLUMNS
    assert {"=1+1", "<b>{{ 7*7 }}</b>"} <= set(back["community_name"])
    assert ",'=1+1," in (out / "capacity.csv").read_text("utf-8-sig")
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert "capacity.csv" in summary["outputs"]
    assert summary["capacity"]["elder_care"]["facilities_without_capacity"] == 1
    import openpyxl

    wb = openpyxl.load_workbook(out / "coverage.xlsx")
    sheet = next(ws for ws in wb.worksheets if "2SFCA" in ws.title)
    names = {c.value: c for row in sheet.iter_rows(min_row=2) for c in row[1:2]}
    assert names["=1+1"].data_type == "s" and names["=1+1"].quotePrefix
    assert "<b>{{ 7*7 }}</b>" in names


def test_analyze_refuses_bad_capacity_with_exit_2(town, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,category,name,lon,lat,capacity\n"
        f"a,elder_care,x,{LON0 + STEP:.6f},{LAT0 + STEP:.6f},lots\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["analyze", "--osm", str(town / "grid.osm"), "--no-osm-facilities"]
    r = CliRunner().invoke(app, [*args, "--facilities", str(bad), "--out", str(out)])
    assert r.exit_code == 2
    assert "bad.csv" in r.output and "line 2" in r.output
    assert not out.exists()
