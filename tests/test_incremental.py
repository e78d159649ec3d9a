"""The workbench's incremental evaluation answers what ``what_if`` (a whole changed analysis)
answers, value for value, for random edits (additions, removals, moves, facilities added exactly
where others stand) on a hand-made street grid and on the real Helsinki extract; and its JSON
is the same bytes as encoding the answer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lifecircle import Inputs, Study, make_settings
from lifecircle._records import jsonable
from lifecircle.incremental import covered_residents, records
from lifecircle.naming import ALL
from lifecircle.scenario import coverage_change, threshold_rows, what_if
from lifecircle.workbench import Workbench

LON0, LAT0, STEP = 121.47, 31.23, 0.001  # the conftest street grid's corner and spacing
# every example builds a whole changed analysis for the comparison: no shrinking (a failure
# shows its body as drawn)
QUICK: dict[str, Any] = {
    "deadline": None,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],
    "suppress_health_check": [HealthCheck.function_scoped_fixture],
}
HOSTILE = ["<script>alert(1)</script>", "{{ 7*7 }}", '=HYPERLINK("http://x","y")', "+1", "@SUM(A1)"]
POINTS = [  # id, category, name, x, y (grid steps)
    ("m1", "market", "{{ 7*7 }}", 0.5, 0.5),
    ("m2", "market", "+1", 8.5, 8.0),
    ("m3", "market", "@SUM(A1)", 5.0, 2.0),
    ("h1", "health", "<b>站</b>", 5.0, 5.2),
    ("e1", "elder_care", "=1+1", 2.0, 7.0),
    ("k1", "kindergarten", "幼儿园", 1.2, 8.7),
]


def _reference(bench: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    """What ``POST /api/evaluate`` answered before it was incremental: through ``what_if``."""
    study, before = bench.study, bench.baseline
    table, ids = bench._additions(body.get("add", [])), bench._removals(body.get("remove", []))
    if table is None and not ids:
        after, rerouted, facilities, timings = before, [], pd.DataFrame(), {}
    else:
        sc = what_if(study, add=table, remove=ids, before=before)
        after, rerouted = sc.after, sc.summary["rerouted_categories"]
        facilities, timings = sc.facilities, sc.summary["timings_s"]
    rows = threshold_rows(study, study.categories)
    change = coverage_change(
        before.coverage, after.coverage, target=study.settings.target, at_threshold=rows
    )
    per_cat = {}
    for c in study.categories:
        cb = covered_residents(before.area_coverage, c, rows.get(c))
        ca = covered_residents(after.area_coverage, c, rows.get(c))
        per_cat[c] = {
            "coverage_before": jsonable(
                before.summary["complete_life_circle"]["within_threshold"].get(c)
            ),
            "coverage_after": jsonable(
                after.summary["complete_life_circle"]["within_threshold"].get(c)
            ),
            "residents_newly_covered": None if cb is None or ca is None else ca - cb,
        }
    judged = change[change["at_threshold"] & (change["verdict_change"] != "")]
    cols = ["community_id", "community_name", "category"]
    kinds = ("now_meets", "now_misses")
    flips = {k: records(judged.loc[judged["verdict_change"] == k, cols]) for k in kinds}
    clc_b, clc_a = before.summary["complete_life_circle"], after.summary["complete_life_circle"]
    meeting = "communities_meeting_target"
    return {
        "columns": list(after.coverage.columns),
        "coverage": records(after.coverage),
        "change": {
            "rerouted_categories": rerouted,
            "per_category": per_cat,
            "complete_life_circle": {
                "category": ALL,
                "coverage_before": jsonable(clc_b["coverage"]),
                "coverage_after": jsonable(clc_a["coverage"]),
                "communities_meeting_before": before.summary[meeting]["count"],
                "communities_meeting_after": after.summary[meeting]["count"],
            },
            "flips": flips,
        },
        "facilities": records(facilities),
        "timings_s": timings,
    }


def _same_as_what_if(bench: Workbench, body: dict[str, Any]) -> dict[str, Any]:
    got, want = bench.evaluate(body), _reference(bench, body)
    assert list(got) == list(want)
    assert sorted(got["timings_s"]) == sorted(want["timings_s"])
    for key in ("columns", "change", "facilities"):
        assert got[key] == want[key], key
    assert len(got["coverage"]) == len(want["coverage"])
    for a, w in zip(got["coverage"], want["coverage"], strict=True):
        assert a == w
    return got


def _json_without_timings(text: str) -> str:
    return re.sub(r'"timings_s": \{[^}]*\}\}$', "", text)


def _bounds(bench: Workbench) -> tuple[float, float, float, float]:
    return tuple(bench.study.area.communities.to_crs(4326).total_bounds)  # type: ignore[return-value]


def _facility_points(bench: Workbench) -> list[tuple[str, str, float, float]]:
    t = bench.study.facilities.table
    pts = t.geometry.representative_point()
    return list(zip(t["facility_id"].astype(str), t["category"], pts.x, pts.y, strict=True))


def edits(bench: Workbench, *, max_adds: int = 3, max_removes: int = 3) -> st.SearchStrategy:
    """Random bodies: additions anywhere in the area or exactly at a facility of the study
    (ties), removals, and moves (a removal and an addition of the same category close by)."""
    x0, y0, x1, y1 = _bounds(bench)
    facs = _facility_points(bench)
    cats = bench.study.categories
    anywhere = st.fixed_dictionaries(
        {
            "category": st.sampled_from(cats),
            "lon": st.floats(x0, x1),
            "lat": st.floats(y0, y1),
            "name": st.sampled_from(HOSTILE),
        }
    )
    at_one = st.sampled_from(facs).map(lambda f: {"category": f[1], "lon": f[2], "lat": f[3]})
    moves = st.lists(
        st.tuples(st.sampled_from(facs), st.floats(-3e-4, 3e-4), st.floats(-3e-4, 3e-4)),
        max_size=2,
        unique_by=lambda m: m[0][0],
    )

    def body(adds, removes, moved) -> dict[str, Any]:
        out_add = list(adds) + [
            {"category": f[1], "lon": float(np.clip(f[2] + dx, x0, x1)),
             "lat": float(np.clip(f[3] + dy, y0, y1))}
            for f, dx, dy in moved
        ]  # fmt: skip
        out_remove = list(dict.fromkeys([*removes, *(f[0] for f, _, _ in moved)]))
        return {"add": out_add, "remove": out_remove}

    return st.builds(
        body,
        st.lists(st.one_of(anywhere, at_one), max_size=max_adds),
        st.lists(st.sampled_from([f[0] for f in facs]), max_size=max_removes, unique=True),
        moves,
    )


# ---- a hand-made street grid -------------------------------------------------------------------


def _facility_files(d: Path) -> tuple[Path, Path]:
    lines = ["id,category,name,lon,lat"]
    for i, c, n, x, y in POINTS:
        name = '"' + n.replace('"', '""') + '"'
        lines.append(f"{i},{c},{name},{LON0 + x * STEP:.7f},{LAT0 + y * STEP:.7f}")
    csv = d / "facilities.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parks = gpd.GeoDataFrame(  # outlines: their access points come after every point's
        {"id": ["p1", "p2"], "category": ["park", "market"], "name": ["公园", "<i>大市场</i>"]},
        geometry=[
            shapely.box(LON0 + 2.2 * STEP, LAT0 + 2.2 * STEP, LON0 + 3.8 * STEP, LAT0 + 3.6 * STEP),
            shapely.box(LON0 + 6.3 * STEP, LAT0 + 5.4 * STEP, LON0 + 6.7 * STEP, LAT0 + 5.8 * STEP),
        ],
        crs=4326,
    )
    gj = d / "parks.geojson"
    parks.to_file(gj, driver="GeoJSON")
    return csv, gj


@pytest.fixture(scope="module")
def grid_bench(street_grid, tmp_path_factory) -> Workbench:
    d = tmp_path_factory.mktemp("incr")
    street_grid(d / "grid.osm", 10)
    files = _facility_files(d)
    inputs = Inputs(osm=d / "grid.osm", facilities=files, osm_facilities=False)
    study = Study.from_inputs(inputs, make_settings(grid_cell_m=250.0, processes=1))
    return Workbench(study)


@settings(max_examples=30, **QUICK)
@given(data=st.data())
def test_random_edits_on_a_street_grid_equal_what_if(grid_bench, data):
    body = data.draw(edits(grid_bench))
    _same_as_what_if(grid_bench, body)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"remove": ["parks.geojson:p2", "facilities.csv:m3", "facilities.csv:m2",
                    "facilities.csv:m1"]},
        {"add": [{"category": "market", "lon": LON0 + 0.5 * STEP, "lat": LAT0 + 0.5 * STEP}]},
        {"add": [{"category": "health", "lon": LON0 + 5 * STEP, "lat": LAT0 + 5.2 * STEP}] * 2},
        {"add": [{"category": "sports", "lon": LON0 + 4 * STEP, "lat": LAT0 + 4 * STEP}]},
        # at a corner of the market hall's outline: a point is listed before any outline, so
        # on the tie the added market is the nearest
        {"add": [{"category": "market", "lon": LON0 + 6.3 * STEP, "lat": LAT0 + 5.4 * STEP}]},
        {"add": [{"category": "park", "lon": LON0 + 9 * STEP, "lat": LAT0 + 9 * STEP, "name": "x"}],
         "remove": ["parks.geojson:p1"]},
    ],
    ids=["nothing", "every-market-removed", "tie-at-m1", "two-at-one-place", "new-category",
         "at-an-outline", "move-park"],
)  # fmt: skip
def test_edge_cases_equal_what_if(grid_bench, body):
    _same_as_what_if(grid_bench, body)


def test_more_added_facilities_than_separate_searches_equal_what_if(grid_bench):
    x0, y0, x1, y1 = _bounds(grid_bench)
    rng = np.random.default_rng(3)
    adds = [
        {"category": "elder_care", "lon": float(x), "lat": float(y)}
        for x, y in zip(rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20), strict=True)
    ]
    _same_as_what_if(grid_bench, {"add": adds})


def test_the_json_is_the_encoded_answer_and_requests_do_not_add_up(grid_bench):
    body = {
        "add": [{"category": "elder_care", "lon": LON0 + 6 * STEP, "lat": LAT0 + 3 * STEP,
                 "name": HOSTILE[0]}],
        "remove": ["facilities.csv:e1"],
    }  # fmt: skip
    first = grid_bench.evaluate(body)
    text = grid_bench.evaluate_json(body)
    plain = json.dumps(first, ensure_ascii=False, allow_nan=False)
    assert _json_without_timings(text) == _json_without_timings(plain)
    assert json.loads(text)["facilities"][0]["name"] == HOSTILE[0]
    assert first["change"]["rerouted_categories"] == ["elder_care"]
    again = grid_bench.evaluate(body)
    assert {k: v for k, v in again.items() if k != "timings_s"} == {
        k: v for k, v in first.items() if k != "timings_s"
    }
    nothing = grid_bench.evaluate({})
    assert nothing["coverage"] == records(grid_bench.baseline.coverage)
    assert grid_bench.evaluate_json({}) == json.dumps(nothing, ensure_ascii=False, allow_nan=False)


# ---- the real Helsinki extract -----------------------------------------------------------------


@pytest.fixture(scope="module")
def helsinki_bench(helsinki, comm_file) -> Workbench:
    inputs = Inputs(osm=helsinki, communities=comm_file)
    return Workbench(Study.from_inputs(inputs, make_settings(processes=1)))


@settings(max_examples=12, **QUICK)
@given(data=st.data())
def test_random_edits_on_helsinki_equal_what_if(helsinki_bench, data):
    body = data.draw(edits(helsinki_bench, max_adds=2, max_removes=2))
    _same_as_what_if(helsinki_bench, body)


def test_age_weighted_rows_equal_what_if(street_grid, tmp_path):
    """With ``--age-share`` the table has age-weighted rows: they are edited too."""
    street_grid(tmp_path / "grid.osm", 8)
    files = _facility_files(tmp_path)
    inputs = Inputs(osm=tmp_path / "grid.osm", facilities=files, osm_facilities=False,
                    age_share="0.3")  # fmt: skip
    bench = Workbench(Study.from_inputs(inputs, make_settings(grid_cell_m=250.0, processes=1)))
    assert (bench.baseline.coverage["profile"] == "age_weighted").any()
    added = {"category": "elder_care", "lon": LON0 + 5 * STEP, "lat": LAT0 + 1.5 * STEP}
    _same_as_what_if(bench, {"add": [added], "remove": ["facilities.csv:e1"]})
    _same_as_what_if(bench, {"remove": ["facilities.csv:m1"]})


# ---- walking over terrain (directed costs) and across split roads --------------------------------


@pytest.fixture(scope="module")
def hilly_bench(street_grid, tmp_path_factory) -> Workbench:
    """The grid on a hill rising 8 % to the north-east: walking up costs more than down, so
    an added facility's search must use the walk toward it."""
    from test_terrain import geo_dem

    d = tmp_path_factory.mktemp("incr_hill")
    street_grid(d / "grid.osm", 10)
    dem = geo_dem(d / "hill.tif", lambda x, y: 0.08 * (x + y))
    inputs = Inputs(
        osm=d / "grid.osm", facilities=_facility_files(d), osm_facilities=False, dem=dem
    )
    study = Study.from_inputs(inputs, make_settings(grid_cell_m=250.0, processes=1))
    assert study.network.has_terrain
    return Workbench(study)


@settings(max_examples=12, **QUICK)
@given(data=st.data())
def test_random_edits_on_a_hill_equal_what_if(hilly_bench, data):
    _same_as_what_if(hilly_bench, data.draw(edits(hilly_bench)))


@pytest.fixture(scope="module")
def crossing_bench(tmp_path_factory) -> Workbench:
    """The crossing-delay town (a primary road through it, sides split, crossing links)."""
    from test_crossings_study import FACILITIES, N, _town_osm
    from test_crossings_study import LAT0 as Y0
    from test_crossings_study import LON0 as X0
    from test_crossings_study import STEP as S

    d = tmp_path_factory.mktemp("incr_cross")
    _town_osm(d / "town.osm")
    lines = ["id,category,name,lon,lat"]
    for i, c, _, x, y in FACILITIES:
        lines.append(f"{i},{c},f,{X0 + x * S:.6f},{Y0 + y * S:.6f}")
    (d / "facilities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    inputs = Inputs(osm=d / "town.osm", facilities=(d / "facilities.csv",), osm_facilities=False)
    study = Study.from_inputs(inputs, make_settings(grid_cell_m=300.0, processes=1, crossings=True))
    assert study.network.crossings is not None and N > 3
    return Workbench(study)


@settings(max_examples=12, **QUICK)
@given(data=st.data())
def test_random_edits_across_split_roads_equal_what_if(crossing_bench, data):
    _same_as_what_if(crossing_bench, data.draw(edits(crossing_bench)))
