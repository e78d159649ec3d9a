"""``lifecircle site``: the sites it recommends give exactly the coverage it claims when analysed
as facilities; greedy's first pick is the best single site; optimal is never worse than greedy;
targets per community and subdistrict hold; bad input is refused with nothing lost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import CHROMIUM
from lifecircle.chinacoords import wgs84_to_gcj02
from lifecircle.cli.main import app
from lifecircle.render.escape import read_people_csv
from lifecircle.routing import nearest_facility
from lifecircle.sitecands import network_candidates, read_candidates
from lifecircle.sitesolve import Problem, greedy, optimal
from lifecircle.siting import site, walk_for
from lifecircle.snapping import snap_points
from lifecircle.sources.facilities import access_points
from lifecircle.study import Study, study_cache

runner = CliRunner()
LON0, LAT0 = 121.47, 31.23  # an 11 × 11 street grid in central Shanghai, about 1 km across
STEP = 0.001
CAT = "elder_care"
HOSTILE = ["<script>alert(1)</script>", "{{ 7*7 }}", '=HYPERLINK("http://x","y")', "+1", "@SUM(A1)"]


def invoke(*args: object):
    return runner.invoke(app, ["-q", *map(str, args)])


def _csv(path: Path, rows: list[tuple[str, str, str, float, float]]) -> Path:
    lines = ["id,category,name,lon,lat"]
    lines += [f'{i},{c},"{n.replace(chr(34), chr(34) * 2)}",{LON0 + x * STEP:.6f},'
              f"{LAT0 + y * STEP:.6f}" for i, c, n, x, y in rows]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def town(street_grid, tmp_path_factory) -> Path:
    """The grid, two existing elder-care places and a market, weighted residents, and four
    communities with 12-digit codes in two subdistricts (hostile names included)."""
    d = tmp_path_factory.mktemp("town")
    street_grid(d / "grid.osm", 11, named=True)  # candidates are named by their streets
    _csv(
        d / "facilities.csv",
        [
            ("e1", CAT, "日间照料中心", 1.0, 1.0),
            ("e2", CAT, "长者照护之家", 8.5, 2.0),
            ("m1", "market", "菜场", 5.0, 5.0),
        ],
    )
    rng = np.random.default_rng(7)
    x, y = rng.uniform(0.2, 9.8, 400), rng.uniform(0.2, 9.8, 400)
    pop = pd.DataFrame(
        {"lon": LON0 + x * STEP, "lat": LAT0 + y * STEP, "weight": rng.integers(1, 30, 400)}
    )
    pop.to_csv(d / "people.csv", index=False)
    half = 5 * STEP
    boxes = [
        (0, 0, half, half),
        (half, 0, 10 * STEP, half),
        (0, half, half, 10 * STEP),
        (half, half, 10 * STEP, 10 * STEP),
    ]
    comm = gpd.GeoDataFrame(
        {
            "id": ["310101001001", "310101001002", "310101002001", "310101002002"],
            "name": ["南苑<b>", "=SUM(A1)", "北苑", "{{ 7*7 }}"],
        },
        geometry=[shapely.box(LON0 + a, LAT0 + b, LON0 + c, LAT0 + e) for a, b, c, e in boxes],
        crs=4326,
    )
    comm.to_file(d / "communities.geojson", driver="GeoJSON")
    return d


def _analyze_args(town: Path, *extra: Path) -> list[object]:
    args: list[object] = ["analyze", "--osm", town / "grid.osm", "--no-osm-facilities"]
    for f in (town / "facilities.csv", *extra):
        args += ["--facilities", f]
    return [
        *args,
        "--communities", town / "communities.geojson",
        "--population", town / "people.csv",
        "--preset", "shanghai",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def analysis(town, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analysis") / "run"
    r = invoke(*_analyze_args(town), "--out", out)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def study(analysis) -> Study:
    return Study.load(study_cache(analysis))


def _area_share(coverage: pd.DataFrame, profile: str = "elderly", minutes: int = 5) -> float:
    row = coverage[
        (coverage["category"] == CAT)
        & (coverage["profile"] == profile)
        & (coverage["minutes"] == minutes)
    ]
    return float(row["coverage"].iloc[0])


def _as_facilities(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "facility_id": "site:" + sites["candidate_id"].astype(str),
            "category": CAT,
            "name": sites["name"],
        },
        geometry=sites.geometry.values,
        crs=4326,
    )


# ---- the claims hold -----------------------------------------------------------------------


def test_coverage_after_is_what_analysis_with_the_sites_gives(study):
    r = site(study, category=CAT, target=0.85)
    assert r.reached and len(r.sites) >= 2
    assert r.walk.profile == "elderly" and r.walk.limit_m == pytest.approx(270.0)
    assert _area_share(study.coverage().area_coverage) == r.coverage_before
    for k in (1, len(r.sites) // 2, len(r.sites)):
        after = study.with_facilities(add=_as_facilities(r.sites.iloc[:k])).coverage()
        assert _area_share(after.area_coverage) == r.sites["coverage_after"].iloc[k - 1]
    assert r.coverage_after >= 0.85
    assert r.sites["coverage_after"].is_monotonic_increasing
    # the claimed per-community shares too
    cov = after.coverage
    mine = cov[(cov["category"] == CAT) & (cov["profile"] == "elderly") & (cov["minutes"] == 5)]
    got = mine.set_index("community_id")["coverage"]
    claimed = r.communities.set_index("community_id")["coverage_after"]
    assert (got.reindex(claimed.index).to_numpy() == claimed.to_numpy()).all()


def test_cli_sites_csv_analysed_as_facilities_gives_the_claim(town, analysis, tmp_path):
    out = tmp_path / "sites"
    r = invoke("site", analysis, "--category", CAT, "--count", 3, "--out", out)
    assert r.exit_code == 0, r.output
    for name in ("sites.csv", "sites.gpkg", "map.html", "coverage_curve.png", "summary.json"):
        assert (out / name).is_file()
    sites = read_people_csv(out / "sites.csv", dtype={"candidate_id": str})
    assert list(sites.columns[:6]) == ["rank", "candidate_id", "name", "category", "lon", "lat"]
    assert list(sites["rank"]) == [1, 2, 3]
    again = tmp_path / "again"
    r = invoke(*_analyze_args(town, out / "sites.csv"), "--out", again)
    assert r.exit_code == 0, r.output
    area = read_people_csv(again / "area_coverage.csv")
    assert _area_share(area) == sites["coverage_after"].iloc[-1]
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["coverage_after"] == sites["coverage_after"].iloc[-1]
    assert summary["question"]["mode"] == "count" and summary["sites"] == 3


def test_reach_matrix_equals_routing_each_candidate_as_a_facility(study):
    """The sparse matrix against analyze's own routing, one candidate at a time."""
    from lifecircle.sitereach import reach_matrix

    cands = network_candidates(study.network, study.area.area_m, spacing_m=150.0)
    walk = walk_for(study, CAT)
    rows, pts = access_points(cands, study.area.crs, step_m=25.0)
    snap = snap_points(pts, study.network, max_snap_m=study.settings.max_snap_m)
    xy = np.array([[p.x, p.y] for p in pts])
    m = reach_matrix(
        study.network, rows, snap, study.residents.snap, n_candidates=len(cands), xy=xy,
        limit_m=walk.limit_m,
    )  # fmt: skip
    assert sp.issparse(m) and m.shape == (len(cands), len(study.residents.table))
    for c in range(len(cands)):
        one = snap_points(pts[rows == c], study.network, max_snap_m=study.settings.max_snap_m)
        d = nearest_facility(
            study.network, one, study.residents.snap, limit_m=study.search_limit_m
        ).origin_m
        assert (m[c].toarray().ravel() == (d <= walk.limit_m)).all(), c


def test_greedy_first_pick_is_the_best_single_site(study):
    cands = network_candidates(study.network, study.area.area_m, spacing_m=120.0)
    r = site(study, category=CAT, candidates=cands, count=1)
    base = study.coverage().area_coverage
    gains = []
    acc = study.access[CAT]
    from lifecircle.routing import origin_distances

    d0, _ = origin_distances(
        study.network, acc.field, acc.snap, study.residents.snap, limit_m=study.search_limit_m
    )
    res = study.residents.table
    counted = res["community_id"].astype(str).isin(study.area.communities["community_id"])
    w = res["weight"].to_numpy(float)
    for i in range(len(cands)):
        _, pts = access_points(cands.iloc[[i]], study.area.crs, step_m=25.0)
        one = snap_points(pts, study.network, max_snap_m=study.settings.max_snap_m)
        d = nearest_facility(study.network, one, study.residents.snap,
                             limit_m=study.search_limit_m).origin_m  # fmt: skip
        new = (d <= 270.0) & ~(d0 <= 270.0) & counted.to_numpy()
        gains.append(w[new].sum())
    best = int(np.argmax(gains))  # the first of equal bests
    assert r.sites["candidate_id"].iloc[0] == cands["candidate_id"].iloc[best]
    assert r.sites["residents_newly_covered"].iloc[0] == gains[best]
    assert _area_share(base) < r.coverage_after


def test_optimal_is_never_worse_than_greedy(study):
    cands = network_candidates(study.network, study.area.area_m, spacing_m=120.0)
    for k in (1, 2, 4):
        g = site(study, category=CAT, candidates=cands, count=k)
        o = site(study, category=CAT, candidates=cands, count=k, method="optimal")
        assert o.coverage_after >= g.coverage_after
        assert o.solver["status"] == 0 and o.solver["mip_gap"] == pytest.approx(0.0, abs=1e-9)
    g = site(study, category=CAT, candidates=cands, target=0.9, per="community")
    o = site(study, category=CAT, candidates=cands, target=0.9, per="community", method="optimal")
    assert g.reached and o.reached and len(o.sites) <= len(g.sites)
    assert (o.communities["meets_target_after"] | (o.communities["residents"] == 0)).all()


def test_optimal_beats_greedy_where_greedy_is_fooled():
    """A covers 1–6, B covers 1–3 and 7, C covers 4–6 and 8: greedy takes A and then B (7 of
    8); the best two are B and C (all 8)."""
    cover = {0: [0, 1, 2, 3, 4, 5], 1: [0, 1, 2, 6], 2: [3, 4, 5, 7]}
    rows = [r for r, cols in cover.items() for _ in cols]
    cols = [c for cs in cover.values() for c in cs]
    p = Problem(
        reach=sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(3, 8)),
        weight=np.ones(8),
        group=np.zeros(8, dtype=np.int64),
        need=np.array([np.inf]),
    )
    assert greedy(p, max_sites=2) == [0, 1]
    chosen, report = optimal(p, count=2, time_limit_s=10)
    assert sorted(chosen or []) == [1, 2] and report["status"] == 0
    # set covering: every element needs covering -> B and C, two sites
    full = Problem(p.reach, p.weight, p.group, need=np.array([8.0]))
    assert sorted(optimal(full, count=None, time_limit_s=10)[0] or []) == [1, 2]


def test_greedy_ties_go_to_the_lowest_index():
    p = Problem(
        reach=sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 0]], dtype=bool)),
        weight=np.ones(2),
        group=np.zeros(2, dtype=np.int64),
        need=np.array([np.inf]),
    )
    assert greedy(p, max_sites=3) == [0, 1]


@pytest.mark.parametrize("per", ["community", "subdistrict"])
def test_target_per_community_and_subdistrict_hold_in_analysis(study, per):
    r = site(study, category=CAT, target=0.8, per=per)
    assert r.reached
    after = study.with_facilities(add=_as_facilities(r.sites)).coverage().coverage
    rows = after[(after["category"] == CAT) & (after["profile"] == "elderly")
                 & (after["minutes"] == 5)].copy()  # fmt: skip
    if per == "community":
        assert (rows["coverage"] >= 0.8).all()
        # one site fewer would leave a community below (greedy stops as soon as all meet)
        fewer = study.with_facilities(add=_as_facilities(r.sites.iloc[:-1])).coverage().coverage
        f = fewer[(fewer["category"] == CAT) & (fewer["profile"] == "elderly")
                  & (fewer["minutes"] == 5)]  # fmt: skip
        assert (f["coverage"] < 0.8).any()
    else:
        rows["sd"] = rows["community_id"].str.slice(0, 9)
        g = rows.groupby("sd")[["covered_residents", "residents"]].sum()
        assert len(g) == 2
        assert ((g["covered_residents"] / g["residents"]) >= 0.8).all()
    assert set(r.suggested_sites()["community_id"]) <= set(r.communities["community_id"])


def test_every_community_gets_a_suggested_site(study):
    r = site(study, category=CAT, target=0.8, per="community")
    sug = r.communities.set_index("community_id")
    for cid, row in sug.iterrows():
        if row["meets_target_before"]:
            continue
        rank = int(row["suggested_rank"])
        assert cid in r.sites["communities_served"].iloc[rank - 1].split("; ")
        assert row["suggested_candidate_id"] == r.sites["candidate_id"].iloc[rank - 1]


def test_the_site_folder_holds_the_task_list_with_each_communitys_suggested_site(
    analysis, tmp_path
):
    """The office's task list, written beside the sites: a community below the target for the
    sited category names the site that serves it, and only sites of this run are named."""
    from lifecircle.tasks import task_label

    out = tmp_path / "sites"
    r = invoke("site", analysis, "--category", CAT, "--count", 3, "--out", out, "--lang", "en")
    assert r.exit_code == 0, r.output
    sites = read_people_csv(out / "sites.csv", dtype={"candidate_id": str})
    tasks = read_people_csv(out / "tasks.csv", dtype=str, keep_default_na=False)
    name, cat = task_label("site_name", "en"), task_label("category", "en")
    assert len(tasks) and set(tasks[name]) - {""} <= set(sites["name"])
    suggested = tasks[tasks[name] != ""]
    assert len(suggested) and suggested[cat].nunique() == 1  # only the sited category
    served = {c for ids in sites["communities_served"] for c in str(ids).split(";") if c}
    ids = set(suggested[task_label("community_id", "en")])
    assert ids <= {c.strip() for c in served}
    assert (out / "tasks.xlsx").is_file()


def test_unreachable_target_is_reported_with_the_best_share(study, town, analysis, tmp_path):
    cands = _csv(tmp_path / "two.csv", [("a", "", "甲", 5.0, 5.0), ("b", "", "乙", 2.0, 7.0)])
    r = site(study, category=CAT, candidates=read_candidates(cands, category=CAT), target=1.0)
    assert r.reached is False and r.best_share < 1.0
    assert r.best_share == r.coverage_after  # both candidates help, so both are listed
    out = tmp_path / "o"
    res = invoke("site", analysis, "--category", CAT, "--candidates", cands, "--target", 1.0,
                 "--out", out)  # fmt: skip
    assert res.exit_code == 2
    assert "cannot be reached" in res.output and f"{r.best_share:.1%}" in res.output
    assert not out.exists()


# ---- bad input -----------------------------------------------------------------------------


def test_unknown_category_and_bad_targets_are_refused(analysis, tmp_path):
    out = tmp_path / "o"
    r = invoke("site", analysis, "--category", "spaceport", "--out", out)
    assert r.exit_code == 2 and "spaceport" in r.output and "elder_care" in r.output
    for bad in ("1.5", "0", "-0.2"):
        r = invoke("site", analysis, "--category", CAT, "--target", bad, "--out", out)
        assert r.exit_code == 2 and "--target" in r.output
    r = invoke("site", analysis, "--category", CAT, "--count", 2, "--target", 0.8, "--out", out)
    assert r.exit_code == 2 and "not both" in r.output
    r = invoke("site", analysis, "--category", CAT, "--method", "magic", "--out", out)
    assert r.exit_code == 2 and "--method" in r.output
    for opt, bad in (("--spacing-m", "0"), ("--time-limit", "-1"), ("--time-limit", "inf"),
                     ("--time-limit", "nan"), ("--count", "0")):  # fmt: skip
        r = invoke("site", analysis, "--category", CAT, opt, bad, "--out", out)
        assert r.exit_code == 2 and opt in r.output, (opt, r.output)
    r = invoke("site", analysis, "--category", CAT, "--profile", "runner", "--out", out)
    assert r.exit_code == 2 and "--profile" in r.output and "elderly" in r.output
    assert not out.exists()


def test_candidates_all_outside_are_refused_some_outside_reported(study, analysis, tmp_path):
    far = _csv(tmp_path / "far.csv", [("x", "", "远", 500.0, 500.0)])
    out = tmp_path / "o"
    r = invoke("site", analysis, "--category", CAT, "--candidates", far, "--out", out)
    assert r.exit_code == 2 and "none of the 1 candidates" in r.output and not out.exists()
    mixed = _csv(tmp_path / "mixed.csv", [("x", "", "远", 500.0, 500.0), ("a", "", "甲", 5, 5)])
    r = invoke("site", analysis, "--category", CAT, "--candidates", mixed, "--count", 1,
               "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text("utf-8"))
    assert s["candidates"]["outside_area"] == 1 and s["candidates"]["outside_area_ids"] == ["x"]
    assert any("outside the analysis area" in n for n in s["notes"])


def test_not_an_analysis_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "coverage.csv").write_text("mine")
    for folder in (empty, tmp_path / "missing"):
        r = invoke("site", folder, "--category", CAT, "--out", tmp_path / "o")
        assert r.exit_code == 2 and "analyze" in r.output
    assert (empty / "coverage.csv").read_text() == "mine" and not (tmp_path / "o").exists()


def test_a_cache_of_another_version_is_refused(analysis, tmp_path):
    import pickle
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(analysis, copy)
    from lifecircle.signing import signed, verified

    state = pickle.loads(verified(study_cache(copy).read_bytes(), study_cache(copy)))
    state["version"] = "0.0.1"
    study_cache(copy).write_bytes(signed(pickle.dumps(state)))  # signed by this user
    r = invoke("site", copy, "--category", CAT, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "0.0.1" in r.output and "rerun" in r.output


def test_per_subdistrict_needs_subdistricts(tmp_path, town):
    out = tmp_path / "grid_run"
    args = ["analyze", "--osm", town / "grid.osm", "--no-osm-facilities",
            "--facilities", town / "facilities.csv", "--preset", "shanghai",
            "--grid-cell-m", 400, "--out", out]  # fmt: skip
    assert invoke(*args).exit_code == 0
    r = invoke("site", out, "--category", CAT, "--target", 0.5, "--per", "subdistrict",
               "--out", tmp_path / "s")  # fmt: skip
    assert r.exit_code == 2 and "subdistrict" in r.output and "--per community" in r.output


def _digest(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_out_folder_keeps_user_files(analysis, tmp_path):
    before = _digest(analysis)
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = invoke("site", analysis, "--category", CAT, "--count", 1, "--out", out)
    assert r.exit_code == 2 and "--overwrite" in r.output
    (out / "sites.csv").write_text("my own table")
    r = invoke("site", analysis, "--category", CAT, "--count", 1, "--out", out, "--overwrite")
    assert r.exit_code == 2 and "did not write" in r.output
    assert (out / "sites.csv").read_text() == "my own table"
    (out / "sites.csv").unlink()
    r = invoke("site", analysis, "--category", CAT, "--count", 1, "--out", out, "--overwrite")
    assert r.exit_code == 0 and (out / "notes.txt").read_text() == "mine"
    r = invoke("site", analysis, "--category", CAT, "--count", 2, "--out", out, "--overwrite")
    assert r.exit_code == 0 and len(read_people_csv(out / "sites.csv")) == 2
    r = invoke("site", analysis, "--category", CAT, "--count", 1, "--out", analysis)
    assert r.exit_code == 2  # never into the analysis folder (it holds the study read)
    assert _digest(analysis) == before  # the analysis folder is only read


# ---- names stay text; GCJ-02 -----------------------------------------------------------------


def test_hostile_candidate_names_stay_text(analysis, tmp_path):
    spots = [(2.0, 2.0), (7.0, 7.0), (2.0, 8.0), (8.0, 8.0), (5.0, 3.0)]
    pairs = enumerate(zip(HOSTILE, spots, strict=True))
    rows = [(f"h{i}", "", n, x, y) for i, (n, (x, y)) in pairs]
    cands = _csv(tmp_path / "hostile.csv", rows)
    out = tmp_path / "o"
    r = invoke("site", analysis, "--category", CAT, "--candidates", cands, "--count", 5,
               "--out", out, "--lang", "en")  # fmt: skip
    assert r.exit_code == 0, r.output
    raw = (out / "sites.csv").read_text("utf-8-sig")
    for name in ("=HYPERLINK", "+1", "@SUM(A1)"):
        if name in raw:
            assert f"'{name}" in raw  # quoted: a spreadsheet shows it as text
    back = read_people_csv(out / "sites.csv")
    assert set(back["name"]) == set(HOSTILE)  # every one adds someone, so all are listed
    served = ";".join(back["community_names_served"].dropna())
    assert "=SUM(A1)" in served and "{{ 7*7 }}" in served  # community names, as text
    html = (out / "map.html").read_text("utf-8")
    assert "<script>alert(1)" not in html and "{{ 7*7 }}" not in html
    assert "南苑<b>" not in html and "南苑\\u0026lt;b\\u0026gt;" in html  # in the layer's JSON
    assert ">49<" not in html
    layer = gpd.read_file(out / "sites.gpkg", layer="sites")
    assert set(layer["name"]) == set(back["name"])


def test_gcj02_candidates_give_gcj02_columns(study, analysis, tmp_path):
    lon, lat = LON0 + 4.0 * STEP, LAT0 + 6.0 * STEP
    glon, glat = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    p = tmp_path / "gcj.csv"
    p.write_text(f"id,name,lon,lat\ng1,甲,{glon[0]:.8f},{glat[0]:.8f}\n", encoding="utf-8")
    out = tmp_path / "o"
    r = invoke("site", analysis, "--category", CAT, "--candidates", p, "--candidates-crs",
               "gcj02", "--count", 1, "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    s = read_people_csv(out / "sites.csv", dtype={"candidate_id": str})
    assert list(s.columns[4:8]) == ["lon", "lat", "lon_gcj02", "lat_gcj02"]
    assert s["lon"].iloc[0] == pytest.approx(lon, abs=1e-7)
    assert s["lat_gcj02"].iloc[0] == pytest.approx(glat[0], abs=1e-7)
    assert s["candidate_id"].iloc[0] == "g1"
    # the task list gives the suggested site in both, labelled: what the office pastes into Amap
    tasks = read_people_csv(out / "tasks.csv")
    site = tasks[tasks["选址序号"].notna()]
    assert len(site)  # the site serves communities below the target
    assert site["选址纬度(GCJ-02,高德/腾讯)"].iloc[0] == pytest.approx(glat[0], abs=1e-6)
    assert site["选址经度(WGS 84)"].iloc[0] == pytest.approx(lon, abs=1e-6)


PWN = [
    "<script>window.__pwned='script'</script>",
    "<img src=x onerror=\"window.__pwned='img'\">",
    "`${window.__pwned='template'}`",
    "{{ 7*7 }} {% if true %}jinja{% endif %}",
]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_site_map_in_a_browser_runs_no_name(analysis, tmp_path):
    from playwright.sync_api import sync_playwright

    spots = [(2.0, 2.0), (7.0, 7.0), (2.0, 8.0), (8.0, 8.0)]
    rows = [(f"p{i}", "", n, x, y) for i, (n, (x, y)) in enumerate(zip(PWN, spots, strict=True))]
    out = tmp_path / "o"
    r = invoke("site", analysis, "--category", CAT, "--candidates", _csv(tmp_path / "c.csv", rows),
               "--count", 4, "--out", out, "--tiles", "none")  # fmt: skip
    assert r.exit_code == 0, r.output
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = b.new_page(viewport={"width": 1200, "height": 800})
        errors, dialogs = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto((out / "map.html").resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        markers = page.locator(".lc-site")
        assert markers.count() == 4
        text = []
        for i in range(4):
            # a click event on the marker itself, not at a screen point that the previous
            # popup or another marker may cover; then the popup is closed before the next
            markers.nth(i).dispatch_event("click")
            popup = page.locator(".leaflet-popup-content")
            popup.wait_for(state="visible")
            text += popup.all_inner_texts()
            page.locator(".leaflet-popup-close-button").dispatch_event("click")
            popup.wait_for(state="detached")
        pwned = page.evaluate("() => window.__pwned")
        b.close()
    assert pwned is None and dialogs == [] and errors == []
    shown = "\n".join(text)
    for name in PWN:
        assert name in shown  # the name, as text, in its site's popup


def test_polygon_candidates_are_reached_along_their_outline(study):
    """A vacant lot (polygon) is reached anywhere along its outline, as analyze reaches a
    polygon facility: its claimed coverage is what analysis with the polygon gives."""
    lot = shapely.box(LON0 + 3.3 * STEP, LAT0 + 6.2 * STEP, LON0 + 4.6 * STEP, LAT0 + 7.4 * STEP)
    cands = gpd.GeoDataFrame(
        {"candidate_id": ["lot", "p1", "p2"], "name": ["空地", "甲", "乙"]},
        geometry=[lot, shapely.Point(LON0 + 7 * STEP, LAT0 + 7 * STEP),
                  shapely.Point(LON0 + 2 * STEP, LAT0 + 3 * STEP)],
        crs=4326,
    )  # fmt: skip
    r = site(study, category=CAT, candidates=cands, count=3)
    assert "lot" in set(r.sites["candidate_id"])
    assert r.sites.set_index("candidate_id").loc["lot"].geometry.geom_type == "Polygon"
    after = study.with_facilities(add=_as_facilities(r.sites)).coverage()
    assert _area_share(after.area_coverage) == r.coverage_after


def test_readme_shanghai_example(tmp_path):
    """The README's worked example: the example premises (GCJ-02) on the real central-Shanghai
    streets; the claimed shares are what the analysis with the sites gives."""
    from conftest import ROOT, shared

    osm = shared("osm/shanghai_central_roads.osm")
    out = tmp_path / "shanghai"
    r = invoke("analyze", "--osm", osm, "--preset", "shanghai",
               "--facilities", ROOT / "data/examples/shanghai_facilities_gcj02.csv",
               "--facilities-crs", "gcj02", "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    sites = tmp_path / "sites"
    r = invoke("site", out, "--category", CAT, "--count", 5,
               "--candidates", ROOT / "data/examples/shanghai_candidates_gcj02.csv",
               "--candidates-crs", "gcj02", "--out", sites)  # fmt: skip
    assert r.exit_code == 0, r.output
    table = read_people_csv(sites / "sites.csv", dtype={"candidate_id": str})
    assert len(table) == 5 and {"lon_gcj02", "lat_gcj02"} <= set(table.columns)
    study = Study.load(study_cache(out))
    g = gpd.GeoDataFrame(
        {"facility_id": "s:" + table["candidate_id"], "category": CAT, "name": table["name"]},
        geometry=gpd.points_from_xy(table["lon"], table["lat"]),
        crs=4326,
    )
    after = study.with_facilities(add=g).coverage().area_coverage
    assert _area_share(after) == table["coverage_after"].iloc[-1]


def test_candidates_off_the_network_are_reported(study):
    import copy
    from dataclasses import replace

    strict = copy.copy(study)
    strict.settings = replace(study.settings, max_snap_m=10.0)  # mid-block is now off-network
    cands = gpd.GeoDataFrame(
        {"candidate_id": ["mid", "corner"], "name": ["街坊中间", "路口"]},
        geometry=[shapely.Point(LON0 + 4.5 * STEP, LAT0 + 6.5 * STEP),
                  shapely.Point(LON0 + 4 * STEP, LAT0 + 6 * STEP)],
        crs=4326,
    )  # fmt: skip
    r = site(strict, category=CAT, candidates=cands, count=2)
    c = r.summary["candidates"]
    assert c["off_network"] == 1 and c["off_network_ids"] == ["mid"]
    assert list(r.sites["candidate_id"]) == ["corner"]  # the other reaches no one
    assert not r.candidates.set_index("candidate_id").loc["mid", "on_network"]


def test_suggested_sites_read_back_from_a_site_folder(analysis, tmp_path):
    from lifecircle.errors import InputError
    from lifecircle.siteoutputs import load_suggested_sites

    out = tmp_path / "o"
    assert invoke("site", analysis, "--category", CAT, "--target", 0.8, "--per", "community",
                  "--out", out).exit_code == 0  # fmt: skip
    sug = load_suggested_sites(out)
    sites = read_people_csv(out / "sites.csv", dtype={"candidate_id": str})
    assert set(sug["category"]) == {CAT} and len(sug) == 4
    assert sug["community_id"].str.fullmatch(r"\d{12}").all()  # codes stay text
    for _, row in sug[~sug["meets_target_before"]].iterrows():
        site_row = sites[sites["rank"] == row["suggested_rank"]].iloc[0]
        assert site_row["candidate_id"] == row["suggested_candidate_id"]
        assert row["community_id"] in site_row["communities_served"].split("; ")
    with pytest.raises(InputError, match="lifecircle site"):
        load_suggested_sites(analysis)


def _eager_greedy(reach: np.ndarray, w: np.ndarray, grp: np.ndarray, need: np.ndarray, k: int):
    """The obvious greedy: every candidate's capped gain recomputed at every step."""
    covered = np.zeros(reach.shape[1], dtype=bool)
    got = np.zeros(len(need))
    tol = 1e-9 * max(w.sum(), 1.0)
    chosen: list[int] = []
    while len(chosen) < k:
        below = np.isinf(need) | (got < need - tol)
        if not below.any():
            break
        left = np.where(np.isinf(need), np.inf, np.where(below, np.maximum(need - got, tol), 0))
        gains, raws = [], []
        for c in range(reach.shape[0]):
            new = reach[c] & ~covered
            sums = np.bincount(grp[new], weights=w[new], minlength=len(need))
            gains.append(-1.0 if c in chosen else float(np.minimum(sums, left).sum()))
            raws.append(float(sums[left > 0].sum()))
        best = max(gains)
        if best <= tol:
            break
        ties = [c for c in range(len(gains)) if gains[c] >= best - tol]
        top = max(raws[c] for c in ties)
        pick = min(c for c in ties if raws[c] >= top - tol)
        chosen.append(pick)
        new = reach[pick] & ~covered
        covered |= reach[pick]
        got += np.bincount(grp[new], weights=w[new], minlength=len(need))
    return chosen


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_cand=st.integers(1, 12),
    n_res=st.integers(1, 30),
    n_groups=st.integers(1, 3),
    target=st.sampled_from([None, 0.3, 0.6, 0.9]),
)
def test_lazy_greedy_picks_what_the_obvious_greedy_picks(seed, n_cand, n_res, n_groups, target):
    rng = np.random.default_rng(seed)
    reach = rng.random((n_cand, n_res)) < 0.25
    w = rng.integers(1, 5, n_res).astype(float)  # whole numbers: plenty of exact ties
    grp = rng.integers(0, n_groups, n_res)
    if target is None:
        need = np.array([np.inf])
        grp = np.zeros(n_res, dtype=np.int64)
    else:
        need = target * np.bincount(grp, weights=w, minlength=n_groups)
    p = Problem(sp.csr_matrix(reach), w, grp.astype(np.int64), need)
    got = np.zeros(len(need))

    def unmet(new_cols):
        got[:] += np.bincount(grp[new_cols], weights=w[new_cols], minlength=len(need))
        return got < need - 1e-9 * w.sum()

    k = n_cand if target is not None else max(1, n_cand // 2)
    lazy = greedy(p, max_sites=k, unmet=None if target is None else unmet)
    assert lazy == _eager_greedy(reach, w, grp, need, k)
    if target is None:  # the integer program is never worse than greedy
        chosen, _ = optimal(p, count=k, time_limit_s=10)
        cov = lambda sel: w[reach[sel].any(axis=0)].sum() if sel else 0.0  # noqa: E731
        assert cov(chosen or []) >= cov(lazy)


def test_task_sites_from_the_result_and_from_the_folder(study, analysis, tmp_path):
    from lifecircle.siteoutputs import load_task_sites

    r = site(study, category=CAT, target=0.8, per="community")
    mine = r.task_sites()
    assert list(mine.columns) == ["community_id", "category", "name", "lon", "lat", "rank"]
    sug = r.communities.dropna(subset=["suggested_rank"])
    assert list(mine["community_id"]) == list(sug["community_id"])
    assert list(mine["rank"]) == [int(x) for x in sug["suggested_rank"]]
    out = tmp_path / "o"
    assert invoke("site", analysis, "--category", CAT, "--target", 0.8, "--per", "community",
                  "--out", out).exit_code == 0  # fmt: skip
    back = load_task_sites(out)
    pd.testing.assert_frame_equal(back, mine, check_dtype=False)


# ---- the solver's progress -------------------------------------------------------------------


def _fooled() -> Problem:
    """A covers 1–6, B covers 1–3 and 7, C covers 4–6 and 8: the best two are B and C."""
    cover = {0: [0, 1, 2, 3, 4, 5], 1: [0, 1, 2, 6], 2: [3, 4, 5, 7]}
    rows = [r for r, cols in cover.items() for _ in cols]
    cols = [c for cs in cover.values() for c in cs]
    return Problem(
        reach=sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(3, 8)),
        weight=np.ones(8),
        group=np.zeros(8, dtype=np.int64),
        need=np.array([np.inf]),
    )


@pytest.mark.parametrize("need", [np.inf, 8.0])
def test_highspy_and_the_scipy_fallback_choose_the_same_sites(monkeypatch, caplog, need):
    """highspy tells a progress step the bound, incumbent, gap and time left; without highspy
    scipy.optimize.milp solves the same program to the same sites (and says so in the log)."""
    from lifecircle.timing import Step

    p = _fooled()
    p = Problem(p.reach, p.weight, p.group, need=np.array([need]))
    count = 2 if np.isinf(need) else None
    step = Step("solve", "solving (optimal)", total=10.0, unit="s")
    chosen, report = optimal(p, count=count, time_limit_s=10, progress=step)
    assert report["solver"] == "HiGHS (highspy)" and report["status"] == 0
    assert report["mip_gap"] == pytest.approx(0.0, abs=1e-9)
    assert step.note.startswith("bound ") and "gap 0.0 %" in step.note and "left" in step.note
    # maximal covering shows the residents covered (8), set covering the sites (2)
    assert "incumbent 8 " in step.note if count else "incumbent 2 " in step.note
    monkeypatch.setitem(__import__("sys").modules, "highspy", None)  # `import highspy` fails
    with caplog.at_level("DEBUG", logger="lifecircle.sitesolve"):
        back, scipy_report = optimal(p, count=count, time_limit_s=10, progress=Step("s", "s"))
    assert scipy_report["solver"] == "HiGHS (scipy.optimize.milp)"
    assert "highspy not available" in caplog.text
    assert sorted(chosen or []) == sorted(back or []) == [1, 2]
    assert scipy_report["status"] == report["status"]
    assert scipy_report["objective"] == pytest.approx(report["objective"])


def test_site_progress_shows_the_solver_and_changes_no_output(analysis, tmp_path, monkeypatch):
    """Without a terminal: plain lines with the solver's bound, gap and time left and no
    control sequence; with -q nothing; sites.csv the same byte for byte."""
    for var in ("TTY_COMPATIBLE", "FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    args = ["site", analysis, "--category", CAT, "--count", 3, "--method", "optimal",
            "--time-limit", 20, "--lang", "en"]  # fmt: skip
    shown = runner.invoke(app, [*map(str, args), "--out", str(tmp_path / "shown")])
    quiet = runner.invoke(app, ["-q", *map(str, args), "--out", str(tmp_path / "quiet")])
    assert shown.exit_code == 0 and quiet.exit_code == 0, shown.output + quiet.output
    out = shown.output
    assert "\x1b" not in out
    for stage in ("placing candidates", "reach matrix", "choosing sites (greedy)"):
        assert re.search(rf"^{re.escape(stage)} +\d+\.\d s", out, re.M), stage
    line = re.search(r"^solving \(optimal\) +\d+\.\d s +(.*)$", out, re.M)
    assert line, out
    assert re.fullmatch(r"bound [\d,.]+ · incumbent [\d,.]+ · gap \d+\.\d % · \d+:\d\d left",
                        line.group(1)), line.group(1)  # fmt: skip
    assert quiet.output.strip() == ""
    shown_csv = (tmp_path / "shown" / "sites.csv").read_bytes()
    assert shown_csv == (tmp_path / "quiet" / "sites.csv").read_bytes()


def test_ctrl_c_while_solving_stops_the_solver_and_then_interrupts():
    """Ctrl+C during the solve is caught for HiGHS (which would take an exception in its
    callback for a solver error and carry on) and raised once it has stopped."""
    import signal

    from lifecircle.sitesolve import _ctrl_c, _model, _Teller
    from lifecircle.timing import Step

    tell = _Teller(_model(_fooled(), 2), 10.0, Step("solve", "solving"))
    with _ctrl_c(tell):
        signal.raise_signal(signal.SIGINT)
    assert tell.interrupted
    with pytest.raises(KeyboardInterrupt):  # the usual handler is back
        signal.raise_signal(signal.SIGINT)


def test_site_speaks_the_analysis_language_unless_told(town, tmp_path):
    en = tmp_path / "en"
    assert invoke(*_analyze_args(town), "--out", en, "--lang", "en").exit_code == 0
    r = invoke("site", en, "--category", CAT, "--count", 1, "--out", tmp_path / "s1")
    assert r.exit_code == 0, r.output
    assert "The best new site raises" in (tmp_path / "s1" / "map.html").read_text("utf-8")
    r = invoke(
        "site", en, "--category", CAT, "--count", 1, "--out", tmp_path / "s2", "--lang", "zh"
    )
    assert r.exit_code == 0, r.output
    assert "The best" not in (tmp_path / "s2" / "map.html").read_text("utf-8")


def test_bad_candidate_rows_name_the_columns_candidates_need(analysis, tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("id,name,lon,lat\nc1,甲,abc,31.23\n", encoding="utf-8")
    r = invoke("site", analysis, "--category", CAT, "--candidates", p, "--out", tmp_path / "o")
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "--candidates" in text and "line 2: lon/lat not numbers" in text
    assert "columns: id,name,lon,lat" in text and "category" not in text.split("columns:")[1]
