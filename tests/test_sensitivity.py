"""How sure each verdict is: the bands of walking speed, snapping limit and facility dropout, by
hand on a drawn street, against fresh studies on a drawn grid, and as properties (coverage never
falls when speed, minutes or the snapping limit rise, or when a facility is added)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from drawn_town import grid_town, street_town, to_lonlat, write_preset
from lifecircle import InputError, Inputs, Study, make_settings
from lifecircle._variants import resnap
from lifecircle.config import load_preset
from lifecircle.sensitivity import (
    EXTRA_COLUMNS,
    SENSITIVITY_COLUMNS,
    dropped_facilities,
    make_bands,
    sensitivity,
)

COLUMNS = [
    "coverage_low",
    "coverage",
    "coverage_high",
    "coverage_speed_low",
    "coverage_speed_high",
    "coverage_snap_low",
    "coverage_snap_high",
    "coverage_dropout_low",
    "coverage_dropout_mean",
]


def _inputs(files: dict, *, age_share: str | None = None) -> Inputs:
    return Inputs(
        osm=files["osm"],
        population=files["population"],
        facilities=(files["facilities"],),
        communities=files["communities"],
        osm_facilities=False,
        age_share=age_share,
    )


def _study(files: dict, preset=None, **kw) -> Study:
    return Study.from_inputs(
        _inputs(files), make_settings(preset or files["preset"], processes=1, **kw)
    )


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> dict:
    return street_town(tmp_path_factory.mktemp("street"))


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> dict:
    return grid_town(tmp_path_factory.mktemp("grid"))


@pytest.fixture(scope="module")
def grid_study(grid) -> Study:
    study = _study(grid)
    study.coverage()
    return study


def _row(table: pd.DataFrame, community: str, category: str = "all", minutes: int = 10):
    t = table[
        (table["community_id"] == community)
        & (table["category"] == category)
        & (table["minutes"] == minutes)
        & (table["profile"] == "standard")
    ]
    assert len(t) == 1
    return t.iloc[0]


# ---- by hand ----------------------------------------------------------------------------------


def test_the_street_by_hand(street):
    """See drawn_town.street_town: 600 m (540, 660) within 10 minutes; limits 100/200/300 m."""
    study = _study(street)
    sens = study.sensitivity(dropout=0.5, runs=4)
    row = _row(sens.table, "c1")
    assert row["coverage"] == pytest.approx(2 / 5)  # R1 550 m, R4 550 m; R5 off the network
    assert row["coverage_speed_low"] == 0.0  # 540 m: nobody
    assert row["coverage_speed_high"] == pytest.approx(3 / 5)  # + R2 (650 m)
    assert row["coverage_snap_low"] == pytest.approx(1 / 5)  # R4 (150 m off) leaves
    assert row["coverage_snap_high"] == pytest.approx(3 / 5)  # R5 (250 m off) joins
    # the single market is dropped in the runs whose seed draws below 0.5
    gone = [bool(d[0]) for d in dropped_facilities(1, probability=0.5, runs=4)]
    assert any(gone) and not all(gone)  # the seeds 0…3 do both, so both cases are checked
    assert row["coverage_dropout_low"] == 0.0
    assert row["coverage_dropout_mean"] == pytest.approx(2 / 5 * gone.count(False) / 4)
    assert row["coverage_low"] == 0.0
    assert row["coverage_high"] == pytest.approx(4 / 5)  # 660 m and 300 m: R1, R2, R4, R5
    assert not row["verdict_stable"] and row["meets_target"]  # 40 % ≥ 35 %, 0 % is not
    assert row["flipped_by"] == "speed, snap, dropout"
    assert sens.snap_limits_m == (100.0, 200.0, 300.0)
    assert sens.dropped == tuple(int(g) for g in gone)
    # the area total is the one community with residents
    area = _row(sens.table, "*")
    assert area[COLUMNS].tolist() == row[COLUMNS].tolist()
    # a community without residents has no share and no verdict
    empty = _row(sens.table, "c2")
    assert np.isnan(empty["coverage"]) and pd.isna(empty["verdict_stable"])


def test_a_narrow_band_keeps_the_verdict(street):
    study = _study(street)
    row = _row(study.sensitivity(speed_band_m_s=0.01, snap_band=0.2, dropout=0.0).table, "c1")
    # 594–606 m and 160–240 m change nobody's reach; nothing is dropped
    assert row[COLUMNS].tolist() == pytest.approx([0.4] * len(COLUMNS))
    assert row["verdict_stable"] and row["flipped_by"] == ""


# ---- against fresh studies --------------------------------------------------------------------


def test_the_coverage_column_is_that_of_coverage_csv(grid):
    for age in (None, "0.3"):
        study = Study.from_inputs(_inputs(grid, age_share=age), make_settings(grid["preset"]))
        result = study.coverage()
        table = study.sensitivity(runs=2).table
        n = len(result.coverage)
        assert list(table.columns) == [*SENSITIVITY_COLUMNS, *EXTRA_COLUMNS]
        # exactly, not nearly: the same shares as coverage.csv and area_coverage.csv
        assert np.array_equal(
            table["coverage"].to_numpy()[:n], result.coverage["coverage"], equal_nan=True
        )
        assert np.array_equal(
            table["coverage"].to_numpy()[n:], result.area_coverage["coverage"], equal_nan=True
        )
        for col in ("community_id", "community_name", "category", "profile", "minutes"):
            assert table[col].iloc[:n].tolist() == result.coverage[col].tolist()
        assert (table["community_id"].iloc[n:] == "*").all()
        assert ("age_weighted" in set(table["profile"])) == (age is not None)


def test_the_snapping_band_is_a_fresh_study_at_each_limit(grid, grid_study):
    sens = grid_study.sensitivity(snap_band=0.5, dropout=0.0)
    assert sens.rerouted["snap"] > 0  # facilities 100–250 m off the network move in and out
    n = len(grid_study.coverage().coverage)
    for col, limit in (("coverage_snap_low", 100.0), ("coverage_snap_high", 300.0)):
        fresh = _study(grid, max_snap_m=limit).coverage().coverage["coverage"].to_numpy()
        assert np.allclose(sens.table[col].to_numpy()[:n], fresh, equal_nan=True), col


def test_the_speed_band_is_a_fresh_study_with_other_speeds(grid, grid_study, tmp_path):
    sens = grid_study.sensitivity(speed_band_m_s=0.2, dropout=0.0)
    n = len(grid_study.coverage().coverage)
    for col, std, eld in (("coverage_speed_low", 0.9, 0.7), ("coverage_speed_high", 1.3, 1.1)):
        preset = write_preset(
            tmp_path / f"{col}.toml",
            target=0.6,
            minutes=[5, 10, 15],
            speed=std,
            elderly=eld,
            thresholds={"market": 10, "health": 15},
            basket=["market", "health"],
        )
        fresh = _study(grid, preset).coverage().coverage["coverage"].to_numpy()
        assert np.allclose(sens.table[col].to_numpy()[:n], fresh, equal_nan=True), col


def test_a_dropout_run_is_the_study_without_its_facilities(grid_study):
    sens = grid_study.sensitivity(dropout=0.5, runs=1)
    drop = dropped_facilities(len(grid_study.facilities.table), probability=0.5, runs=1)[0]
    assert 0 < drop.sum() < len(drop)
    ids = grid_study.facilities.table["facility_id"].astype(str)[drop].tolist()
    fresh = grid_study.with_facilities(remove=ids).coverage()
    n = len(fresh.coverage)
    got = sens.table["coverage_dropout_low"].to_numpy()
    assert np.allclose(got[:n], fresh.coverage["coverage"], equal_nan=True)
    assert np.allclose(got[n:], fresh.area_coverage["coverage"], equal_nan=True)
    assert sens.dropped == (int(drop.sum()),)


def test_snapping_again_at_the_run_limit_is_the_run_snapping(grid_study):
    again = resnap(grid_study, 300.0).at(200.0)
    for a, b in [
        (again.residents, grid_study.residents.snap),
        *((again.points[c], grid_study.access[c].snap) for c in grid_study.categories),
    ]:
        assert np.array_equal(a.edge, b.edge)
        assert np.allclose(a.offset_m, b.offset_m, equal_nan=True)
        assert np.allclose(a.leg_m, b.leg_m, equal_nan=True)


def test_same_study_same_table(grid_study):
    a = sensitivity(grid_study, dropout=0.3, runs=3)
    b = grid_study.sensitivity(dropout=0.3, runs=3)
    assert_frame_equal(a.table, b.table)
    assert a.dropped == b.dropped


# ---- properties -------------------------------------------------------------------------------

FAST = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _populated(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["verdict_stable"].notna()]


@FAST
@given(
    speed=st.floats(0.0, 0.8),
    snap=st.floats(0.0, 0.95),
    dropout=st.floats(0.0, 0.9),
    runs=st.integers(1, 3),
)
def test_every_band_brackets_the_run(grid_study, speed, snap, dropout, runs):
    table = grid_study.sensitivity(speed_band_m_s=speed, snap_band=snap, dropout=dropout, runs=runs)
    t = _populated(table.table)
    assert len(t) and t[COLUMNS].notna().all().all()
    cov = t["coverage"]
    assert (t["coverage_low"] <= cov).all() and (cov <= t["coverage_high"]).all()
    for band in ("speed", "snap"):
        assert (t[f"coverage_{band}_low"] <= cov).all()
        assert (cov <= t[f"coverage_{band}_high"]).all()
    assert (t["coverage_dropout_low"] <= t["coverage_dropout_mean"] + 1e-12).all()
    assert (t["coverage_dropout_mean"] <= cov + 1e-12).all()
    stable = (t["coverage_low"] >= t["target"]) == (t["coverage_high"] >= t["target"])
    assert (t["verdict_stable"].astype(bool) == stable).all()
    assert ((t["flipped_by"] == "") == stable).all()
    assert (t[t["coverage"].isna()]["verdict_stable"].isna()).all()


@FAST
@given(a=st.floats(0.0, 0.8), b=st.floats(0.0, 0.8))
def test_coverage_never_falls_when_speed_rises(grid_study, a, b):
    lo, hi = sorted((a, b))
    narrow = grid_study.sensitivity(speed_band_m_s=lo, snap_band=0, dropout=0).table
    wide = grid_study.sensitivity(speed_band_m_s=hi, snap_band=0, dropout=0).table
    # speeds: run − hi ≤ run − lo ≤ run ≤ run + lo ≤ run + hi
    chain = [
        wide["coverage_speed_low"],
        narrow["coverage_speed_low"],
        narrow["coverage"],
        narrow["coverage_speed_high"],
        wide["coverage_speed_high"],
    ]
    populated = narrow["verdict_stable"].notna()
    for slower, faster in itertools.pairwise(chain):
        assert (slower[populated] <= faster[populated]).all()


@FAST
@given(a=st.floats(0.0, 0.95), b=st.floats(0.0, 0.95))
def test_coverage_never_falls_when_the_snapping_limit_rises(grid_study, a, b):
    lo, hi = sorted((a, b))
    narrow = grid_study.sensitivity(speed_band_m_s=0, snap_band=lo, dropout=0).table
    wide = grid_study.sensitivity(speed_band_m_s=0, snap_band=hi, dropout=0).table
    chain = [
        wide["coverage_snap_low"],
        narrow["coverage_snap_low"],
        narrow["coverage"],
        narrow["coverage_snap_high"],
        wide["coverage_snap_high"],
    ]
    populated = narrow["verdict_stable"].notna()
    for smaller, larger in itertools.pairwise(chain):
        assert (smaller[populated] <= larger[populated]).all()


def test_coverage_never_falls_when_minutes_rise(grid_study):
    # the test preset's basket is one tier, so the complete life circle is monotone too
    t = _populated(grid_study.sensitivity(dropout=0.3, runs=3).table)
    for _, g in t.groupby(["community_id", "category", "profile"]):
        g = g.sort_values("minutes")
        for col in COLUMNS:
            assert (np.diff(g[col].to_numpy()) >= -1e-12).all(), col


@FAST
@given(
    x=st.floats(-50, 1150),
    y=st.floats(-50, 850),
    category=st.sampled_from(["market", "health"]),
)
def test_coverage_never_falls_when_a_facility_is_added(grid_study, x, y, category):
    lon, lat = to_lonlat(np.array([[x, y]]))[0]
    add = gpd.GeoDataFrame(
        {"category": [category], "name": ["new"], "facility_id": ["new:1"]},
        geometry=[shapely.Point(lon, lat)],
        crs=4326,
    )
    before = grid_study.sensitivity(dropout=0.3, runs=2).table
    after = grid_study.with_facilities(add=add).sensitivity(dropout=0.3, runs=2).table
    populated = before["verdict_stable"].notna()
    for col in COLUMNS:  # the new facility is drawn last: the others drop as before
        assert (after[col][populated] >= before[col][populated] - 1e-12).all(), col


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"speed_band_m_s": -0.1}, "--speed-band (speed_band_m_s)"),
        ({"speed_band_m_s": 1.1}, "--speed-band (speed_band_m_s)"),  # the slowest walks 1.1
        ({"speed_band_m_s": float("nan")}, "--speed-band (speed_band_m_s)"),
        ({"snap_band": -0.5}, "--snap-band (snap_band)"),
        ({"snap_band": 1.0}, "--snap-band (snap_band)"),
        ({"dropout": 1.0}, "--dropout (dropout)"),
        ({"dropout": -0.1}, "--dropout (dropout)"),
        ({"runs": 0}, "--dropout-runs (runs)"),
        ({"runs": 2.5}, "--dropout-runs (runs)"),
    ],
)
def test_bad_bands_are_refused_naming_the_option(kwargs, named):
    preset = replace(load_preset("default"), speeds_m_s={"standard": 1.1})
    with pytest.raises(InputError, match=named.replace("(", r"\(").replace(")", r"\)")):
        make_bands(preset, **kwargs)


def test_every_bad_band_is_named_at_once():
    with pytest.raises(InputError) as exc:
        make_bands(load_preset("default"), speed_band_m_s=-1, snap_band=2, dropout=1, runs=0)
    for option in ("--speed-band", "--snap-band", "--dropout", "--dropout-runs"):
        assert option in str(exc.value)


@pytest.mark.parametrize("band", ["-0.1", "0.9", '"fast"', "true"])
def test_a_bad_preset_speed_band_names_the_field(tmp_path, band):
    p = tmp_path / "p.toml"
    p.write_text(
        f"speed_band_m_s = {band}\n[profiles]\nstandard = 1.1\nelderly = 0.9\n"
        '[basket]\nmandatory = ["market"]\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="speed_band_m_s must be a speed"):
        load_preset(p)


def test_a_preset_without_a_speed_band_gets_the_default_and_keeps_it_in_toml(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('[profiles]\nstandard = 1.2\n[basket]\nmandatory = ["market"]\n', "utf-8")
    pre = load_preset(p)
    assert pre.speed_band_m_s == 0.1
    again = tmp_path / "again.toml"
    again.write_text(
        pre.to_toml().replace("speed_band_m_s = 0.1", "speed_band_m_s = 0.25"), encoding="utf-8"
    )
    assert load_preset(again).speed_band_m_s == 0.25
    assert make_bands(load_preset(again)).speed_m_s == 0.25
