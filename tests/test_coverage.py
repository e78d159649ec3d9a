import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.config import load_preset
from lifecircle.coverage import COVERAGE_COLUMNS, area_totals, coverage_table

PRESET = dataclasses.replace(load_preset(), basket_tiers={5: ("market", "park")})


def _communities():
    return pd.DataFrame(
        {"community_id": ["310101001001", "B", "EMPTY"], "community_name": ["甲", "乙", "空"]}
    )


def _residents():
    # speeds 1.1 / 0.9 m/s: 5 min = 330 / 270 m; 10 min = 660 / 540 m; 15 min = 990 / 810 m
    return pd.DataFrame(
        {
            "community_id": ["310101001001", "310101001001", "B", "B"],
            "weight": [100.0, 300.0, 50.0, 50.0],
            "dist_m_market": [300.0, 700.0, np.inf, 100.0],
            "dist_m_park": [100.0, 100.0, 100.0, 1000.0],
        }
    )


def test_known_answer():
    cov = coverage_table(_residents(), _communities(), ["market", "park"], PRESET, 0.85)
    assert list(cov.columns) == COVERAGE_COLUMNS
    row = cov.set_index(["community_id", "category", "profile", "minutes"])
    assert row.loc[("310101001001", "market", "standard", 5), "coverage"] == pytest.approx(0.25)
    assert row.loc[("310101001001", "market", "standard", 15), "coverage"] == pytest.approx(1.0)
    assert row.loc[("310101001001", "market", "elderly", 10), "coverage"] == pytest.approx(0.25)
    assert row.loc[("B", "market", "standard", 15), "coverage"] == pytest.approx(0.5)
    # complete life circle: market within min(15, 10) min and park within min(15, 10) min
    # community A: resident 1 (300 m, 100 m) yes; resident 2 (700 m > 660 m) no -> 0.25
    assert row.loc[("310101001001", "all", "standard", 15), "coverage"] == pytest.approx(0.25)
    assert row.loc[("B", "all", "standard", 15), "coverage"] == pytest.approx(0.0)
    assert row.loc[("310101001001", "all", "standard", 15), "meets_target"] is np.False_
    # a community without residents has no share and does not meet the target
    assert np.isnan(row.loc[("EMPTY", "market", "standard", 15), "coverage"])
    assert not row.loc[("EMPTY", "market", "standard", 15), "meets_target"]
    # codes stay text
    assert cov["community_id"].iloc[0] == "310101001001"
    tot = area_totals(cov, 0.85).set_index(["category", "profile", "minutes"])
    assert tot.loc[("market", "standard", 15), "coverage"] == pytest.approx((400 + 50) / 500)


@settings(max_examples=50, deadline=None)
@given(
    d=st.lists(
        st.tuples(st.floats(0, 3000) | st.just(np.inf), st.floats(0, 3000), st.floats(0.1, 100)),
        min_size=1,
        max_size=30,
    ),
    perm_seed=st.integers(0, 1000),
)
def test_properties(d, perm_seed):
    res = pd.DataFrame(
        {
            "community_id": ["A" if i % 2 else "B" for i in range(len(d))],
            "weight": [w for _, _, w in d],
            "dist_m_market": [a for a, _, _ in d],
            "dist_m_park": [b for _, b, _ in d],
        }
    )
    comm = pd.DataFrame({"community_id": ["A", "B"], "community_name": ["A", "B"]})
    cov = coverage_table(res, comm, ["market", "park"], PRESET, 0.85)
    s = cov["coverage"].dropna()
    assert ((s >= 0) & (s <= 1 + 1e-12)).all()
    piv = cov.set_index(["community_id", "category", "profile", "minutes"])["coverage"]
    for c in ("A", "B"):
        for cat in ("market", "park", "all"):
            for p in ("standard", "elderly"):
                a5, a10, a15 = (piv.get((c, cat, p, m), np.nan) for m in (5, 10, 15))
                if np.isfinite(a15):
                    assert a5 <= a10 + 1e-12 <= a15 + 2e-12
            if np.isfinite(piv.get((c, cat, "standard", 15), np.nan)):
                assert piv[(c, cat, "elderly", 15)] <= piv[(c, cat, "standard", 15)] + 1e-12
    shuffled = res.sample(frac=1.0, random_state=perm_seed)
    cov2 = coverage_table(shuffled, comm, ["market", "park"], PRESET, 0.85)
    pd.testing.assert_frame_equal(cov, cov2, check_exact=False, rtol=1e-12)


def test_distance_thresholds_judge_with_and_tiers():
    """gb50180-style distance thresholds, a category judged with the elderly profile, tiers."""
    from lifecircle.config import Threshold

    res = pd.DataFrame(
        {
            "community_id": ["A", "A", "A"],
            "weight": [1.0, 1.0, 1.0],
            "dist_m_market": [250.0, 450.0, 250.0],
            "dist_m_park": [100.0, 100.0, 700.0],
        }
    )
    comm = pd.DataFrame({"community_id": ["A"], "community_name": ["A"]})
    preset = dataclasses.replace(
        load_preset(),
        thresholds={"market": Threshold(metres=300.0), "park": Threshold(minutes=10.0)},
        basket_tiers={5: ("market",), 10: ("park",)},
        judge_with={"park": "elderly"},
    )
    cov = coverage_table(res, comm, ["market", "park"], preset, 0.85)
    row = cov.set_index(["category", "profile", "minutes"])["coverage"]
    # tier 5: market within min(5 min, 300 m): 330 m at 1.1 m/s -> 300 m binds: residents 1, 3
    assert row[("all", "standard", 5)] == pytest.approx(2 / 3)
    # tier 10 adds the park within 10 min judged at 0.9 m/s (540 m) whatever the row's profile
    assert row[("all", "standard", 10)] == pytest.approx(1 / 3)
    assert row[("all", "elderly", 10)] == pytest.approx(1 / 3)
    # per-category rows stay plain times at the row's speed
    assert row[("park", "standard", 15)] == pytest.approx(1.0)


def test_age_weighted_rows():
    # speeds 1.1 / 0.9 m/s: 10 min = 660 m standard, 540 m elderly
    res = pd.DataFrame(
        {"community_id": ["A", "A", "B"], "weight": [10.0, 30.0, 20.0],
         "dist_m_market": [600.0, 100.0, 600.0], "dist_m_park": [0.0, 0.0, 0.0]}
    )  # fmt: skip
    comm = pd.DataFrame({"community_id": ["A", "B"], "community_name": ["A", "B"]})
    ages = pd.Series({"A": 0.25, "B": 1.0})
    cov = coverage_table(res, comm, ["market", "park"], PRESET, 0.85, age_share=ages)
    row = cov.set_index(["community_id", "category", "profile", "minutes"])["coverage"]
    # A: resident at 600 m is covered for a standard walker only: 10 * 0.75 + 30 = 37.5 of 40
    assert row[("A", "market", "age_weighted", 10)] == pytest.approx(37.5 / 40)
    assert row[("B", "market", "age_weighted", 10)] == pytest.approx(0.0)  # everyone is 60+
    assert row[("B", "market", "standard", 10)] == pytest.approx(1.0)


def test_every_denominator_on_a_known_case():
    from lifecircle.coverage import denominator_tables

    comm = pd.DataFrame({"community_id": ["A", "B"], "community_name": ["A", "B"]})
    res = pd.DataFrame(
        {"community_id": ["A", "A", "B"], "weight": [10.0, 30.0, 20.0],
         "dist_m_market": [100.0, 2000.0, 100.0], "dist_m_park": [0.0, 0.0, 0.0]}
    )  # fmt: skip
    bld = pd.DataFrame(
        {"community_id": ["A", "A", "A", "B"], "floor_area_m2": [1000.0, 3000.0, 6000.0, 500.0],
         "dist_m_market": [100.0, 100.0, 2000.0, 100.0], "dist_m_park": [0.0] * 4}
    )  # fmt: skip
    cov = coverage_table(res, comm, ["market", "park"], PRESET, 0.85)
    per, area = denominator_tables(cov, bld, comm, ["market", "park"], PRESET, 0.85)
    key = ["community_id", "category", "profile", "minutes", "denominator"]
    p = per.set_index(key)["coverage"]
    assert p[("A", "market", "standard", 15, "residents")] == pytest.approx(0.25)
    assert p[("A", "market", "standard", 15, "residential_buildings")] == pytest.approx(2 / 3)
    assert p[("A", "market", "standard", 15, "residential_floor_area_m2")] == pytest.approx(0.4)
    a = area.set_index(key)["coverage"]
    assert a[("*", "market", "standard", 15, "residential_buildings")] == pytest.approx(3 / 4)
    # communities: A misses 85 % (25 %), B meets it (100 %): half the communities
    assert a[("*", "market", "standard", 15, "communities")] == pytest.approx(0.5)
    assert set(per["denominator"]) == {
        "residents",
        "residential_buildings",
        "residential_floor_area_m2",
    }


@pytest.mark.parametrize("n_cols", [1, 8, 62, 63, 70])
def test_distinct_rows_of_the_gaps_match_numpys_unique_rows(n_cols):
    """The gaps layer names each distinct set of missing categories once: as integer codes up
    to 62 categories, as rows beyond; both give numpy's distinct rows (maybe in another order)."""
    from lifecircle.tables import _distinct_rows

    rng = np.random.default_rng(n_cols)
    rows = rng.random((500, n_cols)) < 0.2
    rows[:50] = rows[50:100]  # repeated rows
    sets, which = _distinct_rows(rows)
    want = np.unique(rows, axis=0)
    assert (sets[which] == rows).all()
    assert sorted(map(tuple, sets.tolist())) == sorted(map(tuple, want.tolist()))
    assert len(sets) == len(want)  # each once
