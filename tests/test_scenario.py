"""``lifecircle scenario``: an analysis folder with facilities added, removed or moved gives the
tables a fresh ``analyze`` of the changed facility set gives (byte for byte), the change table
says what changed and which verdicts flip, names stay text, and bad input is refused."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from conftest import CHROMIUM, needs_chromium
from lifecircle.chinacoords import wgs84_to_gcj02
from lifecircle.cli.main import app
from lifecircle.fileio import MARKER
from lifecircle.render.escape import read_people_csv
from lifecircle.scenario import (
    CHANGE_COLUMNS,
    NOW_MEETS,
    NOW_MISSES,
    coverage_change,
    load_analysis,
    read_additions,
    read_removals,
    unused_additions,
    what_if,
)
from lifecircle.study import study_cache

LON0, LAT0 = 121.47, 31.23  # a 1 km street grid in central Shanghai
STEP = 0.001  # about 95 m east-west, 111 m north-south
N = 11
# OSM points of interest on the grid: (node id, tag key, value, name, x, y) in grid steps
POIS = [
    (9001, "shop", "supermarket", "北超市", 2.0, 8.5),
    (9002, "amenity", "clinic", "社区诊所", 7.5, 2.0),
]
FACILITIES = [
    ("m1", "market", "东菜场", 0.5, 0.5),
    ("m2", "market", "西菜场", 9.5, 9.0),
    ("c1", "health", "卫生站", 5.0, 5.2),
    ("k1", "kindergarten", "幼儿园", 1.2, 8.7),
]
HOSTILE = ["<script>alert(1)</script>", "{{ 7*7 }}", '=HYPERLINK("x")', "+1", "@SUM(A1)"]


def _csv(path: Path, rows, *, gcj02: bool = False) -> Path:
    lines = ["id,category,name,lon,lat"]
    for i, c, n, x, y in rows:
        lon, lat = LON0 + x * STEP, LAT0 + y * STEP
        if gcj02:
            lon, lat = (float(v[0]) for v in wgs84_to_gcj02(np.array([lon]), np.array([lat])))
        name = '"' + n.replace('"', '""') + '"' if any(ch in n for ch in ',"') else n
        lines.append(f"{i},{c},{name},{lon:.7f},{lat:.7f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _communities(path: Path) -> Path:
    """Four communities over the grid, with hostile names."""
    x1, y1 = LON0 + (N - 1) * STEP, LAT0 + (N - 1) * STEP
    xm, ym = (LON0 + x1) / 2, (LAT0 + y1) / 2
    boxes = [(LON0, LAT0, xm, ym), (xm, LAT0, x1, ym), (LON0, ym, xm, y1), (xm, ym, x1, y1)]
    names = ["南社区", "=SUM(A1)", "<b>北</b>", "{{ 7*7 }}"]
    feats = [
        {
            "type": "Feature",
            "properties": {"id": f"31010100100{k}", "name": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]],
            },
        }
        for k, ((a, b, c, d), name) in enumerate(zip(boxes, names, strict=True))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


runner = CliRunner()


def _analyze(
    out: Path, osm: Path, comm: Path, *facilities: Path, crs: str | None = None, overwrite=False
) -> Path:
    args = ["-q", "analyze", "--osm", str(osm), "--communities", str(comm)]
    args += ["--overwrite"] if overwrite else []
    for f in facilities:
        args += ["--facilities", str(f)]
    if crs:
        args += ["--facilities-crs", crs]
    r = runner.invoke(app, [*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def _scenario(base: Path, out: Path, *, add=(), remove=(), extra=()) -> object:
    args = ["scenario", str(base), "--out", str(out)]
    for a in add:
        args += ["--add", str(a)]
    for r in remove:
        args += ["--remove", str(r)]
    return runner.invoke(app, [*args, *extra])


@pytest.fixture(scope="module")
def town(street_grid, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("town")
    street_grid(d / "grid.osm", N, pois=POIS)
    _communities(d / "communities.geojson")
    _csv(d / "facilities.csv", FACILITIES)
    return d


@pytest.fixture(scope="module")
def base(town, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "base"
    return _analyze(out, town / "grid.osm", town / "communities.geojson", town / "facilities.csv")


def _ids_file(path: Path, ids: list[str]) -> Path:
    path.write_text("facility_id\n" + "\n".join(ids) + "\n", encoding="utf-8")
    return path


def _same_bytes(a: Path, b: Path, names=("coverage.csv", "area_coverage.csv", "denominators.csv")):
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


# ---- the same tables as analyze ----------------------------------------------------------------


def test_adding_gives_the_coverage_csv_of_analyze_byte_for_byte(town, base, tmp_path):
    extra = _csv(
        tmp_path / "new.csv",
        [
            ("m3", "market", "新菜场", 9.0, 1.0),
            ("e1", "elder_care", "日间照料", 4.0, 4.0),
            ("x1", "private_clinic", "私人诊所", 3.0, 6.0),  # outside the taxonomy
        ],
    )
    r = _scenario(base, tmp_path / "what-if", add=[extra])
    assert r.exit_code == 0, r.output
    fresh = _analyze(
        tmp_path / "fresh", town / "grid.osm", town / "communities.geojson",
        town / "facilities.csv", extra,
    )  # fmt: skip
    _same_bytes(tmp_path / "what-if", fresh)
    cov = read_people_csv(tmp_path / "what-if" / "coverage.csv")
    assert "private_clinic" in set(cov["category"])
    s = json.loads((tmp_path / "what-if" / "summary.json").read_text("utf-8"))
    f = json.loads((fresh / "summary.json").read_text("utf-8"))
    assert "private_clinic" in s["counts"]["user_categories_outside_taxonomy"]
    assert (
        s["counts"]["user_categories_outside_taxonomy"]
        == (f["counts"]["user_categories_outside_taxonomy"])
    )
    assert any("private_clinic" in n for n in s["notes"])  # as analyze says it


def test_removing_a_listed_facility_gives_the_coverage_csv_of_analyze(town, base, tmp_path):
    gone = _ids_file(tmp_path / "closed.csv", ["facilities.csv:m2"])
    r = _scenario(base, tmp_path / "what-if", remove=[gone])
    assert r.exit_code == 0, r.output
    without = _csv(tmp_path / "edited" / "facilities.csv", [FACILITIES[0], *FACILITIES[2:]])
    fresh = _analyze(tmp_path / "fresh", town / "grid.osm", town / "communities.geojson", without)
    _same_bytes(tmp_path / "what-if", fresh)


def test_analyze_into_a_scenario_folder_never_takes_the_scenarios_study(town, base, tmp_path):
    """A removal leaves the input files as the analysis had them: a later analyze of those
    inputs into the scenario's folder must compute the data's own coverage, not reuse the
    scenario's edited study."""
    gone = _ids_file(tmp_path / "closed.csv", ["facilities.csv:m2"])
    what_if = tmp_path / "what-if"
    assert _scenario(base, what_if, remove=[gone]).exit_code == 0
    assert (what_if / "coverage.csv").read_bytes() != (base / "coverage.csv").read_bytes()
    again = _analyze(
        what_if, town / "grid.osm", town / "communities.geojson", town / "facilities.csv",
        overwrite=True,
    )  # fmt: skip
    _same_bytes(again, base)


def test_removing_an_osm_facility_equals_analysing_the_extract_without_it(
    street_grid, town, base, tmp_path
):
    """analyze cannot leave out one OSM facility; an extract without the feature can."""
    gone = tmp_path / "closed.txt"
    gone.write_text("# the supermarket closes\nosm:node/9001\n", encoding="utf-8")
    r = _scenario(base, tmp_path / "what-if", remove=[gone])
    assert r.exit_code == 0, r.output
    osm = street_grid(tmp_path / "grid.osm", N, pois=POIS[1:])
    fresh = _analyze(tmp_path / "fresh", osm, town / "communities.geojson", town / "facilities.csv")
    _same_bytes(tmp_path / "what-if", fresh)
    ch = read_people_csv(tmp_path / "what-if" / "facility_changes.csv")
    assert ch[["change", "facility_id", "name"]].values.tolist() == [
        ["removed", "osm:node/9001", "北超市"]
    ]


def test_moving_is_remove_plus_add_and_equals_analyze(town, base, tmp_path):
    gone = _ids_file(tmp_path / "closed.csv", ["facilities.csv:c1"])
    moved = _csv(tmp_path / "moved.csv", [("c1", "health", "卫生站", 1.0, 1.0)])
    r = _scenario(base, tmp_path / "what-if", add=[moved], remove=[gone])
    assert r.exit_code == 0, r.output
    without = _csv(tmp_path / "edited" / "facilities.csv", [*FACILITIES[:2], FACILITIES[3]])
    fresh = _analyze(
        tmp_path / "fresh", town / "grid.osm", town / "communities.geojson", without, moved
    )
    _same_bytes(tmp_path / "what-if", fresh)
    fac = read_people_csv(tmp_path / "what-if" / "facility_changes.csv")
    assert fac["change"].tolist() == ["added", "removed"]
    assert fac["facility_id"].tolist() == ["moved.csv:c1", "facilities.csv:c1"]


def test_added_lists_take_the_analysis_crs_by_default(town, tmp_path):
    """An analysis of GCJ-02 lists: the added list is read as GCJ-02 too, as one more
    --facilities file would be."""
    comm = town / "communities.geojson"
    listed = _csv(tmp_path / "in" / "facilities.csv", FACILITIES, gcj02=True)
    base = _analyze(tmp_path / "base", town / "grid.osm", comm, listed, crs="gcj02")
    extra = _csv(tmp_path / "in" / "new.csv", [("m3", "market", "新菜场", 9.0, 1.0)], gcj02=True)
    r = _scenario(base, tmp_path / "what-if", add=[extra])
    assert r.exit_code == 0, r.output
    fresh = _analyze(tmp_path / "fresh", town / "grid.osm", comm, listed, extra, crs="gcj02")
    _same_bytes(tmp_path / "what-if", fresh)
    s = json.loads((tmp_path / "what-if" / "summary.json").read_text("utf-8"))
    assert s["scenario"]["add_crs"] == "gcj02"
    assert s["provenance"]["inputs"]["facilities[1]"]["path"] == str(extra)
    # read as WGS 84 instead, the points land elsewhere: other coverage
    r = _scenario(base, tmp_path / "wgs", add=[extra], extra=["--add-crs", "EPSG:4326"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "wgs" / "coverage.csv").read_bytes() != (fresh / "coverage.csv").read_bytes()


def test_a_category_new_to_the_analysis_takes_its_place_in_the_tables(town, tmp_path):
    """Without OSM facilities, canteens (first in the taxonomy, outside the default basket) are
    analysed only when a list has some: added, they come first, as in a fresh analysis."""
    comm = town / "communities.geojson"
    osm, listed = town / "grid.osm", town / "facilities.csv"
    args = ["-q", "analyze", "--osm", str(osm), "--communities", str(comm), "--no-osm-facilities"]
    base = tmp_path / "base"
    r = runner.invoke(app, [*args, "--facilities", str(listed), "--out", str(base)])
    assert r.exit_code == 0, r.output
    add = _csv(tmp_path / "canteens.csv", [("t1", "canteen", "长者食堂", 5.0, 5.0)])
    r = _scenario(base, tmp_path / "what-if", add=[add])
    assert r.exit_code == 0, r.output
    fresh = tmp_path / "fresh"
    r = runner.invoke(
        app, [*args, "--facilities", str(listed), "--facilities", str(add), "--out", str(fresh)]
    )
    assert r.exit_code == 0, r.output
    _same_bytes(tmp_path / "what-if", fresh)
    cats = list(dict.fromkeys(read_people_csv(fresh / "coverage.csv")["category"]))
    assert cats[0] == "canteen"


# ---- what changed -----------------------------------------------------------------------------


def test_change_table_gives_before_after_and_flips(town, base, tmp_path):
    everywhere = [(f"m{i}{j}", "market", "菜场", 1.0 + 3 * i, 1.0 + 3 * j) for i in range(4)
                  for j in range(4)]  # fmt: skip
    add = _csv(tmp_path / "markets.csv", everywhere)
    r = _scenario(base, tmp_path / "what-if", add=[add])
    assert r.exit_code == 0, r.output
    ch = read_people_csv(tmp_path / "what-if" / "coverage_change.csv", dtype={"community_id": str})
    assert list(ch.columns) == CHANGE_COLUMNS
    before = read_people_csv(base / "coverage.csv", dtype={"community_id": str})
    after = read_people_csv(tmp_path / "what-if" / "coverage.csv", dtype={"community_id": str})
    key = ["community_id", "category", "profile", "minutes"]
    m = ch.merge(before, on=key).merge(after, on=key, suffixes=("_b", "_a"))
    assert len(m) == len(ch) == len(after)
    assert np.allclose(m["coverage_before"], m["coverage_b"], equal_nan=True)
    assert np.allclose(m["coverage_after"], m["coverage_a"], equal_nan=True)
    assert np.allclose(m["change"], m["coverage_a"] - m["coverage_b"], equal_nan=True)
    meets = ch[ch["verdict_change"] == NOW_MEETS]
    assert len(meets) and (meets["coverage_before"] < 0.85).all()
    assert (meets["coverage_after"] >= 0.85).all()
    assert set(meets["category"]) <= {"market", "all"}
    assert not (ch["verdict_change"] == NOW_MISSES).any()
    other = ch[ch["category"] != "market"]
    assert (other.loc[other["category"] != "all", "change"].fillna(0) == 0).all()
    full = json.loads((tmp_path / "what-if" / "summary.json").read_text("utf-8"))
    judged = ch[ch["at_threshold"] & (ch["category"] == "market")]
    threshold = int(full["categories"]["market"]["threshold_value"])  # minutes
    assert set(zip(judged["profile"], judged["minutes"], strict=True)) == {("standard", threshold)}
    s = full["scenario"]
    said = [k for k in full["note_keys"] if k and k["key"] == "scenario"]  # not mistaken for data
    params = {"added": 16, "removed": 0, "categories": "market"}
    assert said == [{"key": "scenario", "params": params}]
    assert s["added"] == 16 and s["removed"] == 0
    assert s["rerouted_categories"] == ["market"]
    pc = s["per_category"]["market"]
    assert pc["coverage_after"] > pc["coverage_before"]
    flipped = {f["community_id"] for f in s["flips"]["now_meets"] if f["category"] == "market"}
    assert flipped == set(judged.loc[judged["verdict_change"] == NOW_MEETS, "community_id"])
    assert "now meet the target" in r.output  # the console says which


def test_closing_every_market_makes_communities_miss(base, tmp_path):
    ids = ["facilities.csv:m1", "facilities.csv:m2", "osm:node/9001"]
    r = _scenario(base, tmp_path / "what-if", remove=[_ids_file(tmp_path / "c.csv", ids)])
    assert r.exit_code == 0, r.output
    ch = read_people_csv(tmp_path / "what-if" / "coverage_change.csv", dtype={"community_id": str})
    market = ch[ch["category"] == "market"]
    assert (market["coverage_after"].dropna() == 0).all()
    was = market[market["meets_before"]]
    assert len(was) and (was["verdict_change"] == NOW_MISSES).all()


def test_coverage_change_of_a_category_new_to_the_area():
    before = pd.DataFrame(
        {
            "community_id": ["a", "b"],
            "category": "market",
            "profile": "standard",
            "minutes": 15,
            "coverage": [0.9, np.nan],
        }
    )
    after = pd.concat(
        [
            before.assign(community_name=["A", "B"], residents=[10.0, 0.0]),
            before.assign(
                community_name=["A", "B"],
                residents=[10.0, 0.0],
                category="canteen",
                coverage=[0.95, np.nan],
            ),
        ],
        ignore_index=True,
    )
    ch = coverage_change(before, after, target=0.85, at_threshold={"canteen": ("standard", 15)})
    new = ch[ch["category"] == "canteen"].set_index("community_id")
    assert new.loc["a", "coverage_before"] == 0.0  # no facility before: nobody reached one
    assert new.loc["a", "verdict_change"] == NOW_MEETS
    assert np.isnan(new.loc["b", "coverage_before"]) and new.loc["b", "verdict_change"] == ""
    assert bool(new.loc["a", "at_threshold"]) and not ch.loc[0, "at_threshold"]


def test_only_the_changed_categories_are_routed_again(base, tmp_path, monkeypatch):
    import lifecircle.prepare as prepare_mod
    import lifecircle.study as study_mod

    def no_read(*a, **k):
        raise AssertionError("the OSM file was read again")

    monkeypatch.setattr(prepare_mod, "read_osm_input", no_read)
    routed: list[int] = []
    real = study_mod.facility_fields

    def spy(net, facs, **kw):
        routed.append(len(facs))
        return real(net, facs, **kw)

    monkeypatch.setattr(study_mod, "facility_fields", spy)
    run = load_analysis(base)
    kg = _csv(tmp_path / "k.csv", [("k2", "kindergarten", "托育", 8.0, 2.0)])
    add = read_additions([kg], run.study)
    s = what_if(run.study, add=add, remove=["facilities.csv:m1"])
    assert routed == [2]  # one search each for markets and kindergartens
    assert s.summary["rerouted_categories"] == ["market", "kindergarten"]
    for cat in set(run.study.categories) - {"market", "kindergarten"}:
        assert s.study.access[cat].field is run.study.access[cat].field


def test_a_scenario_folder_is_itself_an_analysis_folder(base, tmp_path):
    first = _csv(tmp_path / "one.csv", [("m3", "market", "新菜场", 9.0, 1.0)])
    assert _scenario(base, tmp_path / "s1", add=[first]).exit_code == 0
    second = _ids_file(tmp_path / "two.csv", ["one.csv:m3"])
    r = _scenario(tmp_path / "s1", tmp_path / "s2", remove=[second])
    assert r.exit_code == 0, r.output
    _same_bytes(base, tmp_path / "s2", names=("coverage.csv",))  # back where it started
    s = json.loads((tmp_path / "s2" / "summary.json").read_text("utf-8"))
    said = [k["params"] for k in s["note_keys"] if k and k["key"] == "scenario"]
    assert said == [{"added": 0, "removed": 1, "categories": "market"}]  # this step's, once


# ---- names are text ---------------------------------------------------------------------------


def test_hostile_names_stay_text_in_every_change_output(base, tmp_path):
    rows = [(f"h{k}", "market", name, 2.0 + k, 5.0) for k, name in enumerate(HOSTILE)]
    add = _csv(tmp_path / "hostile.csv", rows)
    out = tmp_path / "what-if"
    r = _scenario(base, out, add=[add], extra=["--lang", "en"])
    assert r.exit_code == 0, r.output
    fac = read_people_csv(out / "facility_changes.csv")
    assert fac["name"].tolist() == HOSTILE  # read back exactly
    raw = (out / "facility_changes.csv").read_text("utf-8-sig")
    assert "'=HYPERLINK" in raw and "'+1" in raw and "'@SUM(A1)" in raw
    ch = (out / "coverage_change.csv").read_text("utf-8-sig")
    assert ",'=SUM(A1)," in ch and ",=SUM(A1)," not in ch  # a community's name
    first = (out / "map.html").read_text("utf-8")
    # lifecircle map redraws the change layers from the files, names as they were
    assert runner.invoke(app, ["-q", "map", str(out), "--lang", "en"]).exit_code == 0
    for page in (first, (out / "map.html").read_text("utf-8")):
        html = page.replace("\\u0026", "&")  # JSON's escape of &
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&#123;&#123; 7*7 &#125;&#125;" in html and "{{ 7*7 }}" not in html
        assert "&#39;=HYPERLINK" not in html and "=HYPERLINK(&quot;x&quot;)" in html
        assert "Added facilities (5)" in html and "Scenario: change in coverage" in html
    wb = load_workbook(out / "coverage_change.xlsx")
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value in HOSTILE]
    assert {c.value for c in cells} == set(HOSTILE)
    assert all(c.data_type == "s" for c in cells)
    assert all(c.quotePrefix for c in cells if c.value[0] in "=+@")
    comm = [c for ws in wb for row in ws.iter_rows() for c in row if c.value == "=SUM(A1)"]
    assert comm and all(c.data_type == "s" and c.quotePrefix for c in comm)


# ---- bad input ----------------------------------------------------------------------------------


def _unchanged(base: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(base.iterdir()) if p.is_file()}


def test_unknown_ids_are_refused_and_listed(base, tmp_path):
    before = _unchanged(base)
    ids = _ids_file(tmp_path / "c.csv", ["nope", "facilities.csv:m1", "m9"])
    r = _scenario(base, tmp_path / "what-if", remove=[ids])
    assert r.exit_code == 2, r.output
    assert "2 id(s)" in r.output and "'nope'" in r.output and "'m9'" in r.output
    assert not (tmp_path / "what-if").exists()
    assert _unchanged(base) == before


def test_empty_and_bad_change_files_are_refused(base, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("id,category,name,lon,lat\n", encoding="utf-8")
    r = _scenario(base, tmp_path / "o1", add=[empty])
    assert r.exit_code == 2 and "--add" in r.output and "no rows" in r.output
    blank = tmp_path / "blank.txt"
    blank.write_text("\n# nothing\n", encoding="utf-8")
    r = _scenario(base, tmp_path / "o2", remove=[blank])
    assert r.exit_code == 2 and "lists no facility id" in r.output
    r = _scenario(base, tmp_path / "o3")
    assert r.exit_code == 2 and "nothing to change" in r.output
    far = _csv(tmp_path / "far.csv", [("f1", "market", "远方", 500.0, 500.0)])
    r = _scenario(base, tmp_path / "o4", add=[far])
    assert r.exit_code == 2 and "--add" in r.output and "none of its 1 points" in r.output
    same = _csv(tmp_path / "x" / "facilities.csv", [("m3", "market", "新菜场", 9.0, 1.0)])
    r = _scenario(base, tmp_path / "o5", add=[same])
    assert r.exit_code == 2 and "rename it" in r.output
    twice = _csv(tmp_path / "twice.csv", [("m3", "market", "新菜场", 9.0, 1.0)])
    r = _scenario(base, tmp_path / "o6", add=[twice, twice])
    assert r.exit_code == 2 and "--add" in r.output and "given twice" in r.output
    assert not any((tmp_path / f"o{k}").exists() for k in range(1, 7))


def test_a_folder_of_another_command_or_without_its_marker_is_named(base, tmp_path):
    add = _csv(tmp_path / "new.csv", [("m3", "market", "新菜场", 9.0, 1.0)])
    sites = tmp_path / "sites"
    r = runner.invoke(app, ["site", str(base), "--category", "market", "--count", "1",
                            "--out", str(sites)])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = _scenario(sites, tmp_path / "o", add=[add])
    assert r.exit_code == 2 and "holds the outputs of `lifecircle site`" in r.output
    copied = tmp_path / "copied"
    shutil.copytree(base, copied)
    (copied / MARKER).unlink()  # as `cp dir/*` copies it
    r = _scenario(copied, tmp_path / "o", add=[add])
    assert r.exit_code == 2 and f"no {MARKER}" in r.output.replace("\n", "")
    assert not (tmp_path / "o").exists()


def test_read_removals_takes_a_csv_column_or_one_id_per_line(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("\ufeffname,facility_id\n菜场,'-12\n诊所,osm:node/1\n诊所,osm:node/1\n", "utf-8")
    assert read_removals(a) == ["-12", "osm:node/1"]  # a quoted CSV cell read back
    b = tmp_path / "b.txt"
    b.write_text("osm:node/1\n\n# comment\nfacilities.csv:m1\n", encoding="utf-8")
    assert read_removals(b) == ["osm:node/1", "facilities.csv:m1"]
    c = tmp_path / "c.csv"
    c.write_text("facility_id;name\nosm:node/1;菜场\n'-12;诊所\n", "utf-8")  # Excel's semicolons
    assert read_removals(c) == ["osm:node/1", "-12"]


def test_a_folder_that_is_not_an_analysis_is_refused(tmp_path):
    add = _csv(tmp_path / "new.csv", [("m3", "market", "新菜场", 9.0, 1.0)])
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("mine", encoding="utf-8")
    r = _scenario(d, tmp_path / "o", add=[add])
    assert r.exit_code == 2 and "not a `lifecircle analyze` output folder" in r.output
    assert str(d) in r.output.replace("\n", "")
    r = _scenario(tmp_path / "absent", tmp_path / "o", add=[add])
    assert r.exit_code == 2 and "no such folder" in r.output


def _state(path: Path) -> dict:
    """A saved study's state, read as lifecircle reads it (verified where studies are signed)."""
    blob = path.read_bytes()
    try:
        from lifecircle.signing import verified
    except ImportError:  # a lifecircle that does not sign its saved studies
        return pickle.loads(blob)
    return pickle.loads(verified(blob, path))


def _save_state(path: Path, state: dict) -> None:
    """Write a saved study's state as lifecircle writes it (signed where studies are signed),
    so that only what the test changed in it can make it be refused."""
    data = pickle.dumps(state, protocol=5)
    try:
        from lifecircle.signing import signed
    except ImportError:
        pass
    else:
        data = signed(data)
    path.write_bytes(data)


def test_an_older_cache_or_none_is_refused_with_rerun(base, tmp_path):
    add = _csv(tmp_path / "new.csv", [("m3", "market", "新菜场", 9.0, 1.0)])
    old = tmp_path / "old"
    shutil.copytree(base, old)
    state = _state(study_cache(old))
    state["version"] = "0.0.1"
    _save_state(study_cache(old), state)
    r = _scenario(old, tmp_path / "o", add=[add])
    out = r.output.replace("\n", "")
    assert r.exit_code == 2 and "lifecircle 0.0.1" in out and "rerun `lifecircle analyze" in out
    state["version"], state["format"] = _state(study_cache(base))["version"], 1
    _save_state(study_cache(old), state)
    r = _scenario(old, tmp_path / "o", add=[add])
    assert r.exit_code == 2 and "rerun" in r.output
    study_cache(old).unlink()
    r = _scenario(old, tmp_path / "o", add=[add])
    assert r.exit_code == 2 and "holds no saved study" in r.output
    assert not (tmp_path / "o").exists()


def test_out_with_the_users_files_or_the_analysis_is_refused(base, tmp_path):
    add = _csv(tmp_path / "new.csv", [("m3", "market", "新菜场", 9.0, 1.0)])
    before = _unchanged(base)
    for out in (base, base / "what-if"):
        r = _scenario(base, out, add=[add], extra=["--overwrite"])
        assert r.exit_code == 2 and "analysis folder" in r.output, r.output
    assert _unchanged(base) == before and not (base / "what-if").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "plan.docx").write_bytes(b"my plan")
    r = _scenario(base, mine, add=[add])
    assert r.exit_code == 2 and "not empty" in r.output
    (mine / "coverage_change.csv").write_text("mine", encoding="utf-8")
    r = _scenario(base, mine, add=[add], extra=["--overwrite"])
    assert r.exit_code == 2 and "coverage_change.csv" in r.output
    assert (mine / "coverage_change.csv").read_text("utf-8") == "mine"
    (mine / "coverage_change.csv").unlink()
    r = _scenario(base, mine, add=[add], extra=["--overwrite"])
    assert r.exit_code == 0, r.output
    assert (mine / "plan.docx").read_bytes() == b"my plan"  # kept
    r = _scenario(base, tmp_path, add=[add], extra=["--overwrite"])  # holds new.csv, an input
    assert r.exit_code == 2 and "holds the input" in r.output
    files = json.loads((mine / MARKER).read_text("utf-8"))["files"]
    assert {"coverage_change.csv", "facility_changes.csv", "study_cache.pickle"} <= set(files)


@needs_chromium
def test_the_map_shows_the_change_and_hostile_names_as_text_in_a_browser(base, tmp_path):
    from playwright.sync_api import sync_playwright

    names = [
        "<script>window.__pwned='script'</script>",
        "<img src=x onerror=\"window.__pwned='img'\">",
        "`${window.__pwned='template'}`",
        "{{ 7*7 }}",
    ]
    add = _csv(tmp_path / "new.csv", [(f"h{k}", "market", n, 2.0 + 2 * k, 5.0) for k, n in
                                      enumerate(names)])  # fmt: skip
    gone = _ids_file(tmp_path / "closed.csv", ["facilities.csv:m1"])
    out = tmp_path / "what-if"
    r = _scenario(base, out, add=[add], remove=[gone], extra=["--tiles", "none", "--lang", "en"])
    assert r.exit_code == 0, r.output
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append(d.message), d.dismiss()))
        page.goto(out.joinpath("map.html").resolve().as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        assert errors == [] and page.evaluate("() => window.__pwned") is None
        legend = page.locator(".lc-change-legend").inner_text()
        assert "now meets the target" in legend and "Added facilities: 4" in legend
        layers = page.eval_on_selector_all(
            ".leaflet-control-layers-overlays label", "els => els.map(e => e.textContent.trim())"
        )
        assert "Added facilities (4)" in layers and "Removed facilities (1)" in layers
        assert any("Scenario: change in coverage" in x for x in layers)
        shown = []
        for k in range(page.locator(".lc-change").count()):
            # the marker's own mouse events, not a pointer at a spot another marker may cover
            page.locator(".lc-change").nth(k).dispatch_event("mouseover")
            tip = page.locator(".leaflet-tooltip")
            tip.wait_for(state="visible")
            shown.append(tip.inner_text())
            page.locator(".lc-change").nth(k).dispatch_event("mouseout")
            tip.wait_for(state="detached")
        browser.close()
    text = "\n".join(shown)
    assert all(n in text for n in names), text  # each name shown as the text it is
    assert "49" not in text


def test_scenario_help_does_not_load_the_engine():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lifecircle.cli.main import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['scenario', '--help'])\n"
        "assert r.exit_code == 0 and '--remove' in r.output, r.output\n"
        "print([m for m in ('geopandas', 'scipy', 'folium', 'shapely') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("where", ["before", "after"])
def test_scenario_takes_v_and_q_after_it(tmp_path, where):
    import logging

    args = ["scenario", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]
    argv = ["-q", *args] if where == "before" else [*args, "-q"]
    r = runner.invoke(app, argv, env={"COLUMNS": "250"})
    assert r.exit_code == 2 and "no such folder" in r.output, r.output
    assert logging.getLogger().level == logging.WARNING
    r = runner.invoke(app, ["scenario", "--help"], env={"COLUMNS": "250"})
    assert "--verbose" in r.output and "--quiet" in r.output and "--add-crs" in r.output


def test_added_facilities_that_serve_nobody_are_named_not_dropped(base, tmp_path):
    """A facility added beyond the area's reach, or off the walk network, changes nothing: the
    console, the notes (report) and summary.json say which and why."""
    add = _csv(tmp_path / "new.csv", [
        ("far", "market", "远方", -40.0, 5.0),  # about 3.8 km west: beyond the walking reach
        ("off", "market", "<b>田里</b>", -5.0, 5.0),  # 475 m from the nearest street
        ("ok", "market", "新菜场", 9.0, 1.0),
    ])  # fmt: skip
    out = tmp_path / "what-if"
    r = _scenario(base, out, add=[add], extra=["--lang", "en"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "2 of 3 facilities added" in text
    assert "1 of the 3 added facility(ies) lie beyond the area's walking reach" in text
    assert "(new.csv:far)" in text and "(new.csv:off)" in text
    assert "farther than 200 m from any walkable way" in text
    s = json.loads((out / "summary.json").read_text("utf-8"))
    unused = s["scenario"]["added_unused"]
    assert unused["not_placed_ids"] == ["new.csv:far"]
    assert unused["off_network_ids"] == ["new.csv:off"]
    assert unused["nearest_for_nobody"] == 0
    keys = [k["key"] for k in s["note_keys"] if k]
    assert {"scenario_added_not_placed", "scenario_added_off_network"} <= set(keys)
    assert "new.csv:far" in (out / "report.html").read_text("utf-8")


def test_unused_additions_sorts_each_kind():
    fac = pd.DataFrame({
        "change": ["added", "added", "added", "removed"],
        "facility_id": ["a", "b", "c", "d"],
        "on_network": [True, False, True, False],
        "residents_within_max_minutes": [0.0, 0.0, 12.5, 0.0],
    })  # fmt: skip
    got = unused_additions(fac, ["a", "b", "c", "z"])
    assert got == {"added": 4, "not_placed": 1, "off_network": 1, "nearest_for_nobody": 1,
                   "not_placed_ids": ["z"], "off_network_ids": ["b"],
                   "nearest_for_nobody_ids": ["a"]}  # fmt: skip
    assert unused_additions(fac[fac["facility_id"].isin(["c", "d"])], ["c"]) is None
