"""The governance task list (tasks.csv, tasks.xlsx): one row per community below the target per
category it misses, in Chinese or English, safe for Excel, ready for the office to fill in."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from lifecircle import InputError, Inputs, Study, make_settings
from lifecircle.chinacoords import wgs84_to_gcj02
from lifecircle.cli.main import app
from lifecircle.render.escape import read_people_csv
from lifecircle.render.tasksheet import write_tasks
from lifecircle.tasks import TASK_KEYS, build_tasks, subdistricts, task_label

LON0, LAT0, STEP = 121.47, 31.23, 0.001  # about 95 m east-west, 111 m north-south
N = 17  # a 1.5 × 1.8 km street grid

HOSTILE = ['=HYPERLINK("http://x","y")', "<script>alert(1)</script>", "{{ 7*7 }}", "@SUM(A1)"]
IDS = ["310101002001", "310101002002", "310101013001", "310101013002"]


@pytest.fixture(scope="module")
def town(street_grid, tmp_path_factory) -> Path:
    """Four communities (quadrants, hostile names, 12-digit codes of two subdistricts) on the
    grid; one market and one clinic near the south-west corner, nothing else: the north-east
    is far from both, and elder care (a basket category) has no facility at all."""
    d = tmp_path_factory.mktemp("tasktown")
    street_grid(d / "grid.osm", N)
    half = (N - 1) / 2 * STEP
    x0, y0 = LON0, LAT0
    boxes = [
        shapely.box(x0, y0, x0 + half, y0 + half),
        shapely.box(x0 + half, y0, x0 + 2 * half, y0 + half),
        shapely.box(x0, y0 + half, x0 + half, y0 + 2 * half),
        shapely.box(x0 + half, y0 + half, x0 + 2 * half, y0 + 2 * half),
    ]
    gpd.GeoDataFrame({"id": IDS, "name": HOSTILE}, geometry=boxes, crs=4326).to_file(
        d / "communities.geojson", driver="GeoJSON"
    )
    rows = [("m1", "market", "+1 菜场", 2.0, 2.0), ("h1", "health", "-卫生站", 3.0, 2.0)]
    lines = ["id,category,name,lon,lat"]
    lines += [f"{i},{c},{n},{LON0 + x * STEP:.6f},{LAT0 + y * STEP:.6f}" for i, c, n, x, y in rows]
    (d / "fac.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def _inputs(town: Path) -> Inputs:
    return Inputs(
        osm=town / "grid.osm",
        communities=town / "communities.geojson",
        facilities=(town / "fac.csv",),
        osm_facilities=False,
    )


@pytest.fixture(scope="module")
def settings():
    return make_settings("shanghai", processes=1)


@pytest.fixture(scope="module")
def result(town, settings):
    return Study.from_inputs(_inputs(town), settings).coverage()


def _keyed(tasks: pd.DataFrame) -> pd.DataFrame:
    out = tasks.copy()
    out.columns = pd.Index(tasks.attrs["keys"])
    return out


def test_one_row_per_community_below_target_per_category(result, settings):
    tasks = _keyed(build_tasks(result, settings, categories=["market"], lang="en"))
    cov = result.coverage
    market = cov[(cov.category == "market") & (cov.profile == "standard") & (cov.minutes == 15)]
    below = set(market.loc[market.coverage < settings.target, "community_id"])
    meets = set(market.loc[market.coverage >= settings.target, "community_id"])
    assert below and meets  # the town has both: the test can fail either way
    assert set(tasks["community_id"]) == below
    assert not set(tasks["community_id"]) & meets  # meeting the target: no row
    row = tasks.iloc[0]
    shown = market.set_index("community_id").loc[row["community_id"]]
    assert row["share"] == pytest.approx(shown["coverage"])
    assert row["residents_affected"] == pytest.approx(
        shown["residents"] - shown["covered_residents"], abs=0.5
    )
    assert row["target"] == settings.target
    assert 0 < row["median_walk_min"] < 30
    assert row["department"] == row["person"] == row["deadline"] == ""


def test_empty_basket_categories_give_rows_that_say_so(result, settings):
    tasks = _keyed(build_tasks(result, settings, lang="zh"))
    care = tasks[tasks["category"] == result.summary["categories"]["elder_care"]["name_zh"]]
    populated = result.coverage.query("category == 'market' and residents > 0")
    assert set(care["community_id"]) == set(populated["community_id"])
    assert (care["note"] == "数据中没有此类设施:请核实设施清单或 OSM 数据是否遗漏").all()
    assert care["share"].eq(0).all() and care["median_walk_min"].isna().all()


def test_sorted_by_shortfall_within_community(result, settings):
    tasks = _keyed(build_tasks(result, settings))
    assert list(tasks["community_id"]) == sorted(tasks["community_id"])
    for _, g in tasks.groupby("community_id", sort=False):
        affected = g["residents_affected"].to_numpy()
        assert (np.diff(affected) <= 0).all()
    assert len(set(tasks["community_id"])) >= 2


def test_both_languages(result, settings):
    zh = build_tasks(result, settings, lang="zh")
    en = build_tasks(result, settings, lang="en")
    assert list(zh.columns)[:3] == ["社区代码", "社区名称", "所属街道"]
    assert "责任部门" in zh.columns and "完成时限" in zh.columns
    assert list(en.columns)[:3] == ["Community code", "Community", "Subdistrict"]
    assert "Responsible department" in en.columns and "Deadline" in en.columns
    assert len(zh) == len(en)
    cats = result.summary["categories"]["market"]
    assert cats["name_zh"] in set(zh["缺少的设施类别"])
    assert cats["name_en"] in set(en["Missing category"])
    assert zh.attrs["keys"] == en.attrs["keys"] == [k for k in TASK_KEYS if "gcj02" not in k]


def test_subdistrict_from_codes_or_a_column():
    comm = pd.DataFrame({"community_id": IDS, "community_name": list("abcd")})
    assert list(subdistricts(comm)) == ["310101002", "310101002", "310101013", "310101013"]
    named = comm.assign(街道=["南京东路街道"] * 2 + ["外滩街道"] * 2)
    assert subdistricts(named)["310101013001"] == "外滩街道"
    assert subdistricts(comm.assign(community_id=["a", "b", "c", "d"])) is None


def test_no_subdistrict_column_when_the_run_has_none(result, settings):
    comm = result.communities.assign(community_id=["g1", "g2", "g3", "g4"])
    res = result.residents.assign(
        community_id=result.residents["community_id"].map(
            dict(zip(IDS, comm.community_id, strict=True))
        )
    )
    other = type(result)(**{**result.__dict__, "communities": comm, "residents": res})
    tasks = build_tasks(other, settings)
    assert "subdistrict" not in tasks.attrs["keys"]
    assert len(tasks)


def test_suggested_sites(result, settings):
    base = _keyed(build_tasks(result, settings, categories=["market"]))
    first, second = base["community_id"].iloc[0], base["community_id"].iloc[-1]
    sites = pd.DataFrame(
        {
            "community_id": [[first, second], first, "elsewhere"],
            "category": ["market", "market", "market"],
            "name": ["=cmd|' /C calc'!A0", "second best", "x"],
            "lon": [121.48, 121.49, 121.5],
            "lat": [31.24, 31.25, 31.26],
            "rank": [1, 2, 3],
        }
    )
    tasks = _keyed(build_tasks(result, settings, categories=["market"], sites=sites))
    got = tasks.set_index("community_id")
    assert got.loc[first, "site_name"] == "=cmd|' /C calc'!A0"  # the best-ranked one
    assert got.loc[first, "site_rank"] == 1 and got.loc[first, "site_lon"] == 121.48
    assert got.loc[second, "site_name"] == "=cmd|' /C calc'!A0"
    others = tasks[~tasks["community_id"].isin([first, second])]
    assert (others["site_name"] == "").all() and others["site_lon"].isna().all()
    assert "site_lon_gcj02" not in tasks.columns  # WGS 84 only, unless the inputs were GCJ-02
    with pytest.raises(InputError, match="rank"):
        build_tasks(result, settings, sites=sites.drop(columns="rank"))
    # GCJ-02 inputs: each site also in the coordinates Amap and Tencent take, labelled
    raw = build_tasks(result, settings, categories=["market"], sites=sites, gcj02=True)
    assert "选址经度(WGS 84)" in raw.columns and "选址经度(GCJ-02,高德/腾讯)" in raw.columns
    g = _keyed(raw).set_index("community_id")
    glon, glat = wgs84_to_gcj02(np.array([121.48]), np.array([31.24]))
    assert g.loc[first, "site_lon_gcj02"] == glon[0] and g.loc[first, "site_lat_gcj02"] == glat[0]
    assert abs(glon[0] - 121.48) > 1e-3  # a real shift, about 500 m
    assert g.loc[g["site_name"] == "", "site_lat_gcj02"].isna().all()
    keys = raw.attrs["keys"]
    assert keys.index("site_lat") + 1 == keys.index("site_lon_gcj02")


def test_files_keep_hostile_names_as_text(result, settings, tmp_path):
    sites = pd.DataFrame(
        {"community_id": [IDS[3]], "category": ["market"], "name": ["+SUM(1)"],
         "lon": [121.48], "lat": [31.24], "rank": [1]}
    )  # fmt: skip
    tasks = build_tasks(result, settings, sites=sites, lang="zh")
    counts = write_tasks(tasks, tmp_path, lang="zh")
    assert counts["csv_quoted"] > 0
    back = read_people_csv(tmp_path / "tasks.csv", dtype=str, keep_default_na=False)
    assert set(back["社区名称"]) <= set(HOSTILE) and len(set(back["社区名称"])) >= 2
    raw = (tmp_path / "tasks.csv").read_text("utf-8-sig")
    for bad in ("\n=HYPERLINK", ",=HYPERLINK", ",@SUM", ",+SUM"):
        assert bad not in raw
    ws = openpyxl.load_workbook(tmp_path / "tasks.xlsx").active
    seen = set()
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                assert cell.data_type == "s" and cell.quotePrefix
                seen.add(cell.value)
    assert {HOSTILE[0], HOSTILE[3], "+SUM(1)"} <= seen
    assert any(c.value == "<script>alert(1)</script>" for r in ws.iter_rows() for c in r)


def test_workbook_prints_and_waits_for_input(result, settings, tmp_path):
    tasks = build_tasks(result, settings, lang="en")
    write_tasks(tasks, tmp_path, lang="en")
    ws = openpyxl.load_workbook(tmp_path / "tasks.xlsx").active
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$1"
    headers = [c.value for c in ws[1]]
    assert headers == list(tasks.columns)
    for key in ("department", "person", "deadline"):
        col = headers.index(task_label(key, "en")) + 1
        cells = [ws.cell(row=i, column=col) for i in range(2, len(tasks) + 2)]
        assert all(c.value is None for c in cells)  # blank for the office
        assert all(c.fill.start_color.rgb.endswith("FFF2CC") for c in cells)
    deadline = ws.cell(row=2, column=headers.index("Deadline") + 1)
    assert deadline.number_format == "yyyy-mm-dd"
    checks = ws.data_validations.dataValidation
    assert any(v.type == "date" and deadline.coordinate in v.sqref for v in checks)
    share = ws.cell(row=2, column=headers.index("Current share") + 1)
    assert share.number_format == "0.0%" and isinstance(share.value, int | float)


def test_an_empty_list_says_every_community_meets_it(result, settings, tmp_path):
    tasks = build_tasks(result, settings, categories=[], lang="en")
    assert len(tasks) == 0 and tasks.columns[0] == "Community code"
    write_tasks(tasks, tmp_path, lang="en")
    ws = openpyxl.load_workbook(tmp_path / "tasks.xlsx").active
    assert ws.cell(row=2, column=1).value == "Every community meets the target."
    assert read_people_csv(tmp_path / "tasks.csv").empty


def test_analyze_writes_the_task_list(town, tmp_path):
    out = tmp_path / "out"
    args = ["-q", "analyze", "--osm", str(town / "grid.osm"), "--no-osm-facilities"]
    args += ["--communities", str(town / "communities.geojson")]
    args += ["--facilities", str(town / "fac.csv"), "--preset", "shanghai", "--lang", "en"]
    r = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    back = read_people_csv(out / "tasks.csv", dtype=str, keep_default_na=False)
    assert list(back.columns)[:2] == ["Community code", "Community"]
    assert set(back["Community code"]) <= set(IDS)
    assert (out / "tasks.xlsx").is_file()
    assert not (out / "capacity.csv").exists()  # no facility carries a capacity
