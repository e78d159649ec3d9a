"""The study object: same tables as analyze, facility changes re-route only their category, and a
study saved in an output folder comes back without reading the inputs again."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

import lifecircle
from lifecircle import InputError, Inputs, Study, analyze, make_settings
from lifecircle.cli.main import app
from lifecircle.fileio import MARKER
from lifecircle.naming import dist_col
from lifecircle.study import study_cache

LON0, LAT0 = 121.47, 31.23  # a 1 km street grid in central Shanghai
STEP = 0.001  # about 95 m east-west, 111 m north-south


FACILITIES = [
    ("m1", "market", "东菜场", 0.5, 0.5),
    ("m2", "market", "西菜场", 9.5, 9.0),
    ("c1", "clinic", "卫生站", 5.0, 5.2),
    ("k1", "kindergarten", "幼儿园", 1.2, 8.7),
]


def _csv(path: Path, rows: list[tuple[str, str, str, float, float]]) -> Path:
    lines = ["id,category,name,lon,lat"]
    lines += [f"{i},{c},{n},{LON0 + x * STEP:.6f},{LAT0 + y * STEP:.6f}" for i, c, n, x, y in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def town(street_grid, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("town")
    street_grid(d / "grid.osm", 11)
    _csv(d / "facilities.csv", FACILITIES)
    return d


def _inputs(town: Path, *facility_files: Path) -> Inputs:
    files = facility_files or (town / "facilities.csv",)
    return Inputs(osm=town / "grid.osm", facilities=tuple(files), osm_facilities=False)


@pytest.fixture(scope="module")
def settings():
    return make_settings(grid_cell_m=300.0, processes=1)


@pytest.fixture(scope="module")
def study(town, settings) -> Study:
    return Study.from_inputs(_inputs(town), settings)


def _same_tables(a, b, *, ids: bool = True) -> None:
    """The coverage tables and the residents' walks are equal (and the nearest facility's id,
    when both runs named their facilities alike)."""
    assert_frame_equal(a.coverage, b.coverage)
    assert_frame_equal(a.area_coverage, b.area_coverage)
    assert_frame_equal(a.denominators, b.denominators)
    cols = [c for c in a.residents.columns if c != "geometry" and (ids or "nearest_" not in c)]
    assert_frame_equal(pd.DataFrame(a.residents[cols]), pd.DataFrame(b.residents[cols]))


def test_coverage_gives_the_tables_of_analyze(town, settings, study):
    _same_tables(study.coverage(), analyze(_inputs(town), settings))


def test_coverage_does_not_change_the_study(study):
    before = study.residents.table.copy()
    study.coverage()
    study.coverage()
    assert_frame_equal(study.residents.table, before)
    assert dist_col("market") not in study.residents.table.columns


def test_removing_a_facility_reroutes_its_category_only(town, settings, study, monkeypatch):
    import lifecircle.study as study_mod

    routed: list[int] = []
    real = study_mod.facility_fields

    def spy(net, facs, **kw):
        routed.append(len(facs))
        return real(net, facs, **kw)

    monkeypatch.setattr(study_mod, "facility_fields", spy)
    after = study.with_facilities(remove=["facilities.csv:m2"])
    assert routed == [1]  # one category searched again: the market
    for cat in ("clinic", "kindergarten"):
        assert after.access[cat].field is study.access[cat].field
    assert after.access["market"].field is not study.access["market"].field
    without = _csv(town / "without_m2.csv", FACILITIES[:1] + FACILITIES[2:])
    _same_tables(after.coverage(), analyze(_inputs(town, without), settings), ids=False)


def test_adding_facilities_equals_analysing_with_them(town, settings, study, tmp_path):
    extra = [("m3", "market", "新菜场", 9.0, 1.0), ("e1", "elder_care", "日间照料", 4.0, 4.0)]
    extra_csv = _csv(tmp_path / "extra.csv", extra)
    add = lifecircle.read_facilities_file(extra_csv)
    after = study.with_facilities(add=add)
    assert "elder_care" in after.categories
    fresh = analyze(_inputs(town, town / "facilities.csv", extra_csv), settings)
    _same_tables(after.coverage(), fresh)
    # adding never lengthens a walk
    base = study.coverage().residents
    new = after.coverage().residents
    assert (new[dist_col("market")].to_numpy() <= base[dist_col("market")].to_numpy()).all()
    assert (new[dist_col("market")] < base[dist_col("market")]).any()


def test_move_is_remove_plus_add(study):
    moved = gpd.GeoDataFrame(
        {"facility_id": ["c1b"], "category": ["clinic"], "name": ["卫生站"]},
        geometry=[shapely.Point(LON0 + 1 * STEP, LAT0 + 1 * STEP)],
        crs=4326,
    )
    after = study.with_facilities(add=moved, remove=["facilities.csv:c1"])
    ids = set(after.facilities.table["facility_id"])
    assert "facilities.csv:c1" not in ids and "c1b" in ids
    assert "facilities.csv:c1" in set(study.facilities.table["facility_id"])  # left as it was
    assert after.facilities.table.loc[lambda t: t.facility_id == "c1b", "source"].item() == (
        "scenario"
    )


def test_unknown_ids_to_remove_are_refused_and_listed(study):
    with pytest.raises(InputError, match=r"2 unknown id\(s\): nope, m9"):
        study.with_facilities(remove=["nope", "facilities.csv:m1", "m9"])


def test_save_and_load_round_trip(study, tmp_path):
    path = study.save(study_cache(tmp_path / "out"), key="k1")
    back = Study.load(path, key="k1")
    _same_tables(back.coverage(), study.coverage())
    with pytest.raises(InputError, match="other inputs or parameters"):
        Study.load(path, key="k2")
    junk = tmp_path / "junk.pickle"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(InputError, match="not a study saved by this lifecircle"):
        Study.load(junk)
    from lifecircle.signing import signed

    junk.write_bytes(signed(b"signed, but not a pickle"))
    with pytest.raises(InputError, match="not a saved lifecircle study"):
        Study.load(junk)
    with pytest.raises(InputError, match="no saved study"):
        Study.load(tmp_path / "absent.pickle")
    import pickle

    from lifecircle.study import CACHE_FORMAT

    old = {"format": CACHE_FORMAT - 1, "version": "0", "key": None, "study": None}
    junk.write_bytes(signed(pickle.dumps(old)))
    with pytest.raises(InputError, match=rf"older layout \(format {CACHE_FORMAT - 1}.*rerun"):
        Study.load(junk)


def test_a_rerun_on_the_same_folder_does_not_read_the_osm_file_again(town, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["-q", "analyze", "--osm", str(town / "grid.osm"), "--no-osm-facilities"]
    args += [
        "--facilities",
        str(town / "facilities.csv"),
        "--grid-cell-m",
        "300",
        "--out",
        str(out),
    ]
    runner = CliRunner()
    assert runner.invoke(app, args).exit_code == 0
    assert study_cache(out).is_file()
    assert study_cache(out).name in json.loads((out / MARKER).read_text("utf-8"))["files"]
    first = (out / "coverage.csv").read_bytes()

    import lifecircle.prepare as prepare_mod

    def no_read(*a, **k):
        raise AssertionError("the OSM file was read again")

    monkeypatch.setattr(prepare_mod, "read_osm_input", no_read)
    r = runner.invoke(app, [*args, "--overwrite", "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert (out / "coverage.csv").read_bytes() == first
    # other parameters: the saved study is not used
    r = runner.invoke(app, [*args, "--overwrite", "--target", "0.9"])
    assert r.exit_code == 1 and "the OSM file was read again" in r.output


class _Trap:
    """Loading this pickle would run code: a cache of the user's must never be loaded."""

    def __reduce__(self):
        return (exec, ("raise SystemExit('the pickle was loaded')",))


def test_a_cache_file_lifecircle_did_not_write_is_never_loaded(town, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    trap = pickle.dumps(_Trap())
    study_cache(out).write_bytes(trap)
    args = ["analyze", "--osm", str(town / "grid.osm"), "--grid-cell-m", "300"]
    r = CliRunner().invoke(app, [*args, "--out", str(out), "--overwrite"])
    assert r.exit_code == 2, r.output
    assert "the pickle was loaded" not in r.output
    assert study_cache(out).name in r.output  # refused as the user's file, kept
    assert study_cache(out).read_bytes() == trap


def test_a_cache_listed_by_a_hand_made_marker_is_never_unpickled(town, tmp_path):
    """The marker is a plain file anyone can write: it cannot vouch for a pickle. A study file
    that is not signed with this user's secret is refused before unpickling, and the run builds
    the study afresh."""
    out = tmp_path / "out"
    out.mkdir()
    study_cache(out).write_bytes(pickle.dumps(_Trap()))
    (out / MARKER).write_text(
        json.dumps({"format": 1, "run": "x", "files": [study_cache(out).name]}), "utf-8"
    )
    args = ["analyze", "--osm", str(town / "grid.osm"), "--grid-cell-m", "300"]
    r = CliRunner().invoke(app, [*args, "--out", str(out), "--overwrite"])
    assert r.exit_code == 0, r.output
    assert "the pickle was loaded" not in r.output
    back = Study.load(study_cache(out))  # replaced by a study of this run, signed
    assert isinstance(back, Study)


def test_a_study_signed_with_another_secret_is_refused(study, tmp_path, monkeypatch):
    from lifecircle import signing

    path = study.save(tmp_path / "s.pickle", key="k")
    blob = path.read_bytes()
    monkeypatch.setenv("LIFECIRCLE_SECRET_FILE", str(tmp_path / "another-user"))
    with pytest.raises(InputError, match="signature does not match your secret"):
        Study.load(path)
    monkeypatch.undo()
    tampered = bytearray(blob)
    tampered[-10] ^= 1  # one bit of the pickle changed after signing
    path.write_bytes(bytes(tampered))
    with pytest.raises(InputError, match="signature does not match your secret"):
        Study.load(path)
    path.write_bytes(pickle.dumps(_Trap()))  # no signature at all
    with pytest.raises(InputError, match="no signature"):
        Study.load(path)
    assert signing.secret_path().stat().st_mode & 0o077 == 0  # the owner's only


def test_a_saved_study_is_the_signed_pickle(study, tmp_path):
    """The pickle is streamed to the file as it is signed: the file is what signed() makes of
    the pickle, which is the study's."""
    import pickle

    from lifecircle.signing import signed, verified

    path = study.save(tmp_path / "study.pickle", key="k")
    blob = path.read_bytes()
    data = verified(blob, path)
    assert blob == signed(data)
    state = pickle.loads(data)
    assert state["key"] == "k"
    assert isinstance(state["study"], Study)
    tampered = bytearray(blob)
    tampered[-1] ^= 1  # the signature covers the last byte written, too
    with pytest.raises(InputError, match="signature"):
        verified(bytes(tampered), path)


def test_help_does_not_load_the_engine():
    code = (
        "import sys\n"
        "from lifecircle.cli.main import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['analyze', '--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('geopandas', 'scipy', 'folium', 'shapely') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_settings_are_validated_however_they_are_made():
    import dataclasses

    s = make_settings()
    for field, bad in (("grid_cell_m", 0.0), ("grid_cell_m", -5.0), ("max_snap_m", 0.0)):
        with pytest.raises(InputError, match=field.replace("_", "-")):
            dataclasses.replace(s, **{field: bad})
    with pytest.raises(InputError, match="target"):
        dataclasses.replace(s, target=1.5)


def test_the_public_api_is_documented():
    for name in lifecircle.__all__:
        obj = getattr(lifecircle, name)
        if callable(obj):
            assert obj.__doc__, f"lifecircle.{name} has no docstring"


def test_service_areas_in_forked_workers_are_those_of_one_process(town, settings, monkeypatch):
    """Large networks draw each category's service areas in a worker: same polygons, same
    tables (the town is small, so the size threshold is lowered for the test)."""
    from dataclasses import replace

    import lifecircle.study as study_module

    one = Study.from_inputs(_inputs(town), replace(settings, processes=1)).coverage()
    monkeypatch.setattr(study_module, "PARALLEL_MIN_NODES", 0)
    two = Study.from_inputs(_inputs(town), replace(settings, processes=2)).coverage()
    _same_tables(one, two)
    a, b = one.service_areas, two.service_areas
    assert len(a) == len(b) > 0
    assert list(a["category"]) == list(b["category"])
    assert (shapely.to_wkb(a.geometry.to_numpy()) == shapely.to_wkb(b.geometry.to_numpy())).all()
    a, b = one.service_area_outlines, two.service_area_outlines  # the map's, made in the workers
    assert a is not None and b is not None and len(a) == len(b) > 0
    assert (
        a[["category", "minutes"]].to_numpy().tolist()
        == b[["category", "minutes"]].to_numpy().tolist()
    )
    assert (shapely.to_wkb(a.geometry.to_numpy()) == shapely.to_wkb(b.geometry.to_numpy())).all()


def test_adding_a_facility_already_in_the_study_is_refused(study, town):
    from lifecircle.sources.facilities import read_facilities_file

    added = read_facilities_file(town / "facilities.csv")  # the same list, same ids
    with pytest.raises(
        InputError, match=r"4 id\(s\) already among the facilities: .*facilities.csv:m1"
    ):
        study.with_facilities(add=added)
    gone = study.with_facilities(remove=["facilities.csv:m1"], add=added.iloc[:1])
    assert list(gone.facilities.table["facility_id"]).count("facilities.csv:m1") == 1  # moved


def test_a_damaged_secret_is_named_before_any_work(town, tmp_path, monkeypatch):
    secret = tmp_path / "short-secret"
    secret.write_bytes(b"0123456789")  # a file cut short by a crash
    monkeypatch.setenv("LIFECIRCLE_SECRET_FILE", str(secret))
    out = tmp_path / "out"
    args = ["analyze", "--osm", str(town / "grid.osm"), "--grid-cell-m", "300", "--out", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "damaged (10 bytes)" in " ".join(r.output.split()) and not out.exists()


def test_two_runs_making_the_secret_at_once_share_one(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from lifecircle import signing

    monkeypatch.setenv("LIFECIRCLE_SECRET_FILE", str(tmp_path / "cfg" / "secret"))
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: signing.user_secret(create=True), range(16)))
    assert len(keys) == 1 and len(next(iter(keys))) == 32
    assert sorted(p.name for p in (tmp_path / "cfg").iterdir()) == ["secret"]  # no temp left


def _area_layer(result) -> pd.DataFrame:
    """The service-area layer as comparable rows: category, profile, minutes and the WKB."""
    sa = result.service_areas
    return pd.DataFrame(
        {
            "category": sa["category"].to_numpy(),
            "profile": sa["profile"].to_numpy(),
            "minutes": sa["minutes"].to_numpy(),
            "wkb": shapely.to_wkb(sa.geometry.to_numpy()),
        }
    )


@pytest.fixture
def drawn(monkeypatch) -> list[str]:
    """The categories whose service areas are drawn from now on (in this process)."""
    calls: list[str] = []
    real = Study._service_areas

    def spy(self, cat, acc):
        calls.append(cat)
        return real(self, cat, acc)

    monkeypatch.setattr(Study, "_service_areas", spy)
    return calls


@pytest.mark.parametrize("saved", [False, True], ids=["in_memory", "saved_and_loaded"])
def test_a_change_draws_only_its_categories_service_areas(
    town, settings, study, tmp_path, drawn, saved
):
    """A scenario carries the baseline's service areas of the categories it leaves alone, also
    through the saved study, and its layer equals that of a fresh analysis."""
    study.coverage()  # the baseline drawn once (maybe before this test)
    base = pickle.loads(pickle.dumps(study)) if saved else study
    drawn.clear()
    base.coverage()
    assert drawn == []  # asked again: nothing drawn again
    extra = [("m3", "market", "新菜场", 9.0, 1.0), ("e1", "elder_care", "日间照料", 4.0, 4.0)]
    extra_csv = _csv(tmp_path / "extra.csv", extra)
    after = base.with_facilities(add=lifecircle.read_facilities_file(extra_csv))
    got = after.coverage()
    assert sorted(drawn) == ["elder_care", "market"]
    for cat in ("clinic", "kindergarten"):  # carried over as they were
        assert after._reach[cat] is base._reach[cat]
    fresh = analyze(_inputs(town, town / "facilities.csv", extra_csv), settings)
    assert set(fresh.service_areas["category"]) >= {"market", "elder_care", "clinic"}
    assert_frame_equal(_area_layer(got), _area_layer(fresh))


def test_a_reach_is_reused_only_with_the_field_it_was_measured_from(study, drawn):
    """A category whose distance field was replaced is measured again, whatever the cache holds
    under its name."""
    import copy
    from dataclasses import replace

    study.coverage()
    other = copy.copy(study)
    other._reach = dict(study._reach)
    field = copy.copy(study.access["clinic"].field)  # equal, but not the field measured from
    other.access = study.access | {"clinic": replace(study.access["clinic"], field=field)}
    drawn.clear()
    got = other.coverage()
    assert drawn == ["clinic"]
    assert other._reach["clinic"].field is field
    assert_frame_equal(_area_layer(got), _area_layer(study.coverage()))


def test_the_kept_outlines_are_the_service_areas_as_the_map_simplifies_them(study):
    """The outlines made in the service-area workers are those the map made from the layer
    (the way it still draws an analysis read back from its folder), shape for shape."""
    from dataclasses import replace

    from lifecircle.outlines import drawn_service_areas

    got = study.coverage()
    profile = got.summary["complete_life_circle"]["profile"]
    kept = drawn_service_areas(got, profile)
    again = drawn_service_areas(replace(got, service_area_outlines=None), profile)
    assert len(kept) and set(kept["profile"]) == {profile}
    cols = ["category", "profile", "minutes"]
    assert kept[cols].to_numpy().tolist() == again[cols].to_numpy().tolist()
    assert kept.geometry.to_wkb().tolist() == again.geometry.to_wkb().tolist()
    other = got.service_areas[got.service_areas["profile"] != profile]
    assert len(other)  # the other profiles' longest tier: in the layer, never drawn


def test_the_gaps_name_the_categories_each_resident_misses(study):
    """``missing_categories`` is, per resident without the complete life circle, the basket's
    categories (in basket order) whose walk is longer than its limit or unknown."""
    import numpy as np

    from lifecircle.coverage import basket_limit_m, covered_mask
    from lifecircle.naming import ALL
    from lifecircle.tables import gaps_layer

    res, preset = study.coverage().residents, study.settings.preset
    maxm, speed = max(preset.minutes), preset.headline_speed_m_s
    res = res.copy()
    res.loc[res.index[::3], dist_col("market")] = np.nan  # unknown walks: missing
    gaps = gaps_layer(res, preset)
    keep = ~covered_mask(res, ALL, speed, maxm, preset)
    want = [
        ", ".join(
            c
            for c in preset.basket_for(maxm)
            if not row[dist_col(c)] <= basket_limit_m(preset, c, speed, maxm)
        )
        for _, row in res[keep].iterrows()
    ]
    assert len(gaps) == int(keep.sum()) > 0
    assert gaps["missing_categories"].tolist() == want
    assert any(", " in w for w in want) and "market" in ", ".join(want)
