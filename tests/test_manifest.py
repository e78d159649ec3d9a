"""The batch manifest: digests that stay put across runs and move with any change, and a batch
folder that refuses other parameters, other contents and damaged manifests."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import geopandas as gpd
import pytest
import shapely

from lifecircle.config import make_settings
from lifecircle.errors import InputError
from lifecircle.inputs import Inputs
from lifecircle.manifest import (
    MANIFEST,
    complete,
    digest,
    frame_digest,
    open_manifest,
    run_parameters,
    write_json,
)
from lifecircle.outputs import OUTPUT_FILES

# ---- digest ---------------------------------------------------------------------------------


def test_digest_is_pinned_so_reruns_of_older_batches_match():
    # the exact encoding: bytes as they are, anything else as sorted JSON, each part ended by NUL
    expected = hashlib.sha256(b'{"a": 1, "b": [2, 3]}\0raw\0"x"\0').hexdigest()
    assert digest({"b": [2, 3], "a": 1}, b"raw", "x") == expected


def test_digest_ignores_key_order_and_nothing_else():
    base = digest({"target": 0.85, "minutes": [5, 10, 15]}, "D1")
    assert digest({"minutes": [5, 10, 15], "target": 0.85}, "D1") == base
    for other in (
        digest({"target": 0.9, "minutes": [5, 10, 15]}, "D1"),
        digest({"target": 0.85, "minutes": [5, 15, 10]}, "D1"),  # list order matters
        digest({"target": 0.85, "minutes": [5, 10, 15]}, "D2"),
        digest({"target": 0.85, "minutes": [5, 10, 15]}),
        digest({"target": 0.85, "minutes": [5, 10, 15]}, "D1", None),
    ):
        assert other != base


def test_digest_keeps_parts_apart_and_bytes_apart_from_text():
    assert digest("ab") != digest("a", "b")
    assert digest(b"ab") != digest("ab")
    assert digest(b"a", b"b") != digest(b"ab")


# ---- frame_digest -------------------------------------------------------------------------


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"community_id": ["310101002001", "310101002002"], "name": ["甲", "乙"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs=4326,
    )


def test_frame_digest_is_stable_and_ignores_the_index():
    g = _frame()
    assert frame_digest(g) == frame_digest(_frame())
    assert frame_digest(g.set_axis([10, 20])) == frame_digest(g)
    assert len(frame_digest(g)) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda g: g.assign(name=["甲", "丙"]),
        lambda g: g.rename(columns={"name": "title"}),
        lambda g: g.assign(extra=[1, 2]),
        lambda g: g.iloc[::-1],  # row order: the district's communities in another order
        lambda g: g.iloc[:1],
        lambda g: g.set_geometry(
            [shapely.box(0, 0, 1, 1 + 1e-12), shapely.box(1, 0, 2, 1)], crs=4326
        ),
        lambda g: g.assign(community_id=["310101002001", "310101002003"]),
    ],
    ids=["value", "column name", "new column", "row order", "fewer rows", "geometry", "code"],
)
def test_frame_digest_moves_with_any_change(change):
    g = _frame()
    assert frame_digest(change(g.copy())) != frame_digest(g)


# ---- run parameters -----------------------------------------------------------------------


def test_run_parameters_follow_what_is_computed_not_how_it_is_spread():
    inputs = Inputs(osm=None, place="x")
    one = run_parameters(inputs, make_settings(processes=1))
    assert run_parameters(inputs, make_settings(processes=4)) == one
    assert "processes" not in one["settings"]
    assert run_parameters(inputs, make_settings(target=0.9)) != one
    assert run_parameters(Inputs(place="x", id_column="code"), make_settings(processes=1)) != one
    # a rerun compares them with the manifest's JSON: they must come back from it unchanged
    assert json.loads(json.dumps(one)) == one


# ---- open_manifest ------------------------------------------------------------------------

PARAMS = {"settings": {"target": 0.85, "preset": {"name": "default"}}, "encoding": None}


def _saved(out, params=PARAMS, districts=None):
    out.mkdir(parents=True, exist_ok=True)
    data = {"format": 1, "parameters": params, "districts": districts or {}}
    (out / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    return data


def test_a_new_folder_gets_a_new_manifest(tmp_path):
    out = tmp_path / "a" / "batch"
    m = open_manifest(out, PARAMS, force=False)
    assert m == {"format": 1, "parameters": PARAMS, "districts": {}}
    assert out.is_dir() and not (out / MANIFEST).exists()  # written by the run, not here
    # an empty folder, or one holding only the cache, is as good as a new one
    (tmp_path / "c" / "_cache").mkdir(parents=True)
    assert open_manifest(tmp_path / "c", PARAMS, force=False)["districts"] == {}


def test_the_same_parameters_keep_the_districts(tmp_path):
    rec = {"D1": {"status": "ok", "digest": "abc", "dir": "D1"}}
    _saved(tmp_path, districts=rec)
    m = open_manifest(tmp_path, json.loads(json.dumps(PARAMS)), force=False)
    assert m["districts"] == rec


def test_other_parameters_are_refused_naming_what_changed(tmp_path):
    _saved(tmp_path, districts={"D1": {"status": "ok"}})
    before = (tmp_path / MANIFEST).read_bytes()
    other = {"settings": {"target": 0.9, "preset": {"name": "shanghai"}}, "encoding": None}
    with pytest.raises(InputError) as e:
        open_manifest(tmp_path, other, force=False)
    msg = str(e.value)
    assert "other parameters" in msg and "--force" in msg and str(tmp_path) in msg
    assert "settings.preset.name, settings.target" in msg  # every change, sorted
    assert "encoding" not in msg  # unchanged
    assert (tmp_path / MANIFEST).read_bytes() == before
    # a parameter that appears or disappears is a change too
    with pytest.raises(InputError, match=r"changed: age_share\)"):
        open_manifest(tmp_path, {**PARAMS, "age_share": "0.3"}, force=False)


def test_force_forgets_every_district_and_takes_the_new_parameters(tmp_path):
    _saved(tmp_path, districts={"D1": {"status": "ok"}})
    other = {**PARAMS, "encoding": "gbk"}
    m = open_manifest(tmp_path, other, force=True)
    assert m["parameters"] == other and m["districts"] == {}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        ("名".encode("gbk"), "not UTF-8"),
        (b"[1, 2]", "without the parameters and districts"),
        (b'{"parameters": [], "districts": {}}', "without the parameters and districts"),
        (b'{"parameters": {}, "districts": {"D1": "ok"}}', "without the parameters"),
    ],
    ids=["broken", "empty", "gbk", "a list", "parameters not a table", "district not a table"],
)
def test_an_unreadable_manifest_is_refused_then_replaced_with_force(tmp_path, content, why):
    (tmp_path / MANIFEST).write_bytes(content)
    with pytest.raises(InputError, match="is unreadable") as e:
        open_manifest(tmp_path, PARAMS, force=False)
    assert why in str(e.value) and "--force" in str(e.value) and MANIFEST in str(e.value)
    assert (tmp_path / MANIFEST).read_bytes() == content  # left as it was
    # the message says --force starts over: it does
    m = open_manifest(tmp_path, PARAMS, force=True)
    assert m == {"format": 1, "parameters": PARAMS, "districts": {}}


def test_a_folder_of_other_files_is_refused_unless_forced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="holds no batch run"):
        open_manifest(tmp_path, PARAMS, force=False)
    assert open_manifest(tmp_path, PARAMS, force=True)["districts"] == {}
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "out"
    f.write_text("x")
    for force in (False, True):
        with pytest.raises(InputError, match="is not a folder"):
            open_manifest(f, PARAMS, force=force)
    assert f.read_text() == "x"


# ---- files ----------------------------------------------------------------------------------


def test_write_json_replaces_whole_files_with_normal_permissions(tmp_path):
    p = tmp_path / MANIFEST
    write_json(p, {"name": "黄浦区", "n": 1})
    write_json(p, {"name": "徐汇区", "path": tmp_path})
    assert json.loads(p.read_text("utf-8")) == {"name": "徐汇区", "path": str(tmp_path)}
    assert "徐汇区" in p.read_text("utf-8")  # readable, not \\u-escaped
    assert [q.name for q in tmp_path.iterdir()] == [MANIFEST]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask


def test_complete_needs_every_output_file(tmp_path):
    assert not complete(tmp_path / "missing")
    for f in OUTPUT_FILES:
        (tmp_path / f).write_text("x")
    assert complete(tmp_path)
    (tmp_path / OUTPUT_FILES[-1]).unlink()
    assert not complete(tmp_path)
    (tmp_path / OUTPUT_FILES[-1]).mkdir()  # a folder by that name is not the file
    assert not complete(tmp_path)
