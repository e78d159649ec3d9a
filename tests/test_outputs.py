"""write_outputs: every output of a real (tiny) analysis, replacing only an earlier run's files.

The analysis runs once on the hand-made Overpass fixture; the disk that fills, the read-only
folder and GDAL's own error are simulated (tests run as root).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import matplotlib.figure
import pyogrio
import pytest

from lifecircle import fileio
from lifecircle.config import make_settings
from lifecircle.errors import OutputError
from lifecircle.outputs import OUTPUT_FILES, check_output_dir, input_paths, write_outputs
from lifecircle.pipeline import Inputs, analyze
from lifecircle.sources.osm import overpass_json_to_osm_xml

FIXTURES = Path(__file__).parent / "fixtures"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The analysis of a 3 × 3 block grid (tests/fixtures/overpass_small.json)."""
    d = tmp_path_factory.mktemp("small")
    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    osm = overpass_json_to_osm_xml(resp, d / "small.osm")
    inputs = Inputs(osm=osm)
    settings = make_settings()  # maps inline their scripts by default (no network)
    return analyze(inputs, settings), inputs, settings


def write(small, out: Path, *, overwrite: bool = True, inputs: Inputs | None = None) -> dict:
    result, default_inputs, settings = small
    return write_outputs(
        result, out, inputs=inputs or default_inputs, settings=settings, overwrite=overwrite
    )


@pytest.fixture(scope="module")
def earlier_run(small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("earlier") / "out"
    write(small, out, overwrite=False)
    return out


@pytest.fixture
def earlier(earlier_run, tmp_path) -> Path:
    """A copy of an earlier run's folder, with a survey and notes of the user's beside."""
    out = tmp_path / "out"
    shutil.copytree(earlier_run, out)
    (out / "survey.xlsx").write_bytes(b"PK\x03\x04 the planner's survey")
    (out / "notes.txt").write_text("实地调查笔记", encoding="utf-8")
    return out


def test_every_output_and_the_marker(earlier_run):
    names = {p.name for p in earlier_run.iterdir()}
    assert names == {*OUTPUT_FILES, fileio.MARKER}
    listed = json.loads((earlier_run / fileio.MARKER).read_text("utf-8"))["files"]
    assert sorted(listed) == sorted(OUTPUT_FILES)
    for name in names:
        assert (earlier_run / name).stat().st_mode & 0o777 == fileio.file_mode()


def test_summary_times_each_file_writing_task(earlier_run):
    """``output_timings_s``: one entry per file-writing task, and the wall time of them all,
    which takes in each of them (they run one after the other, or side by side)."""
    got = json.loads((earlier_run / "summary.json").read_text("utf-8"))["output_timings_s"]
    tasks = {k: v for k, v in got.items() if k != "wall"}
    assert set(tasks) == {"map", "gpkg", "xlsx", "tables", "figures"}  # no study saved here
    assert all(v >= 0 for v in tasks.values())
    assert got["wall"] >= max(tasks.values())


def test_overwrite_keeps_the_users_files_byte_identical(small, earlier):
    mine = {k: v for k, v in snapshot(earlier).items() if k in ("survey.xlsx", "notes.txt")}
    write(small, earlier)
    after = snapshot(earlier)
    assert {k: after[k] for k in mine} == mine
    assert set(after) == {*OUTPUT_FILES, fileio.MARKER, *mine}


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_disk_that_fills_while_writing_leaves_the_old_outputs(
    small, earlier, tmp_path, monkeypatch, overwrite
):
    """The figures come after the tables, the GeoPackage, the workbook and the map: the disk
    fills there. The earlier outputs, the user's files — and a new folder's absence — stay."""

    def full(self, *a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    out = earlier if overwrite else tmp_path / "fresh"
    before = snapshot(earlier)
    with pytest.raises(OutputError, match="the disk is full") as err:
        write(small, out, overwrite=overwrite)
    assert f"--out {out}" in str(err.value) and "free some space" in str(err.value)
    assert snapshot(earlier) == before
    assert not (tmp_path / "fresh").exists()


def test_gdals_own_error_on_a_full_disk(small, earlier, monkeypatch):
    from pyogrio.errors import DataSourceError

    def gdal(frame, path, **kw):
        Path(path).write_bytes(b"SQLite format 3\0")
        raise DataSourceError("Failed to commit transaction")

    monkeypatch.setattr(pyogrio, "write_dataframe", gdal)  # how lifecircle.gpkg writes layers
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 0))
    before = snapshot(earlier)
    with pytest.raises(OutputError, match="the disk is full"):
        write(small, earlier)
    assert snapshot(earlier) == before


def test_an_interrupted_run_leaves_the_old_outputs(small, earlier, monkeypatch):
    def ctrl_c(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr("lifecircle.render.report.render_report", ctrl_c)
    before = snapshot(earlier)
    with pytest.raises(KeyboardInterrupt):
        write(small, earlier)
    assert snapshot(earlier) == before


@pytest.mark.parametrize("where", [".", "data", "data/osm"])
def test_an_input_inside_out_is_refused(small, earlier, where):
    _, inputs, _ = small
    (earlier / where).mkdir(parents=True, exist_ok=True)
    osm = earlier / where / "city.osm"
    shutil.copy(inputs.osm, osm)
    before = snapshot(earlier)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="holds the input --osm") as err:
            write(small, earlier, overwrite=overwrite, inputs=Inputs(osm=osm))
        assert str(osm) in str(err.value)
        with pytest.raises(OutputError, match="holds the input --osm"):
            check_output_dir(earlier, overwrite=overwrite, inputs=Inputs(osm=osm))
    assert snapshot(earlier) == before


def test_input_paths_name_every_option(tmp_path):
    poly = tmp_path / "place.geojson"
    poly.write_text("{}")
    inputs = Inputs(
        osm=Path("a.osm"),
        place=str(poly),
        communities=Path("c.shp"),
        population=Path("p.tif"),
        facilities=(Path("f1.csv"), Path("f2.xlsx")),
        code_table=Path("codes.csv"),
        categories=Path("cat.toml"),
        walk_filter=Path("walk.toml"),
        area=Path("area.geojson"),
    )
    got = dict(input_paths(inputs))
    assert set(got) == {
        "--osm",
        "--place",
        "--communities",
        "--population",
        "--facilities",
        "--code-table",
        "--categories",
        "--walk-filter",
        "--area",
    }
    assert [p for k, p in input_paths(inputs) if k == "--facilities"] == [
        Path("f1.csv"),
        Path("f2.xlsx"),
    ]
    assert input_paths(Inputs(place="Huangpu, Shanghai")) == []  # a name, not a file


def test_a_folder_that_cannot_be_written_is_refused_before_the_analysis(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.open

    def read_only(path, flags, *a, **kw):
        if Path(os.fsdecode(path)).resolve().is_relative_to(ro) and flags & (
            os.O_WRONLY | os.O_RDWR
        ):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(OutputError, match=r"read-only .*choose a folder you can write to"):
        check_output_dir(ro / "out", overwrite=False)


@pytest.fixture
def two_workers(small, monkeypatch):
    """The small analysis written as a large one is: its files by two forked workers at once."""
    from dataclasses import replace

    monkeypatch.setattr("lifecircle.outputs.PARALLEL_MIN_NODES", 0)
    result, inputs, settings = small
    return result, inputs, replace(settings, processes=2)


def _same_run(folder: Path) -> dict[str, bytes]:
    """The files of a run, less what differs between any two runs (the time it ran, the
    random element ids of folium's map and the workbooks' creation time)."""
    import re
    import zipfile

    files = snapshot(folder)
    for name in ("map.html", "report.html"):
        text = re.sub(rb"_[0-9a-f]{32}", b"_ID", files[name])
        files[name] = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", b"TIME", text)
    text = re.sub(rb'"output_timings_s": \{[^}]*\}', b"", files["summary.json"])
    files["summary.json"] = re.sub(rb'"(created_utc|[a-z_]+_s)": "?[^,\n]*', b"", text)
    del files[fileio.MARKER]  # when it was written
    layers = []  # a GeoPackage holds the time each layer was written: its values compared
    for layer in pyogrio.list_layers(folder / "lifecircle.gpkg")[:, 0]:
        frame = pyogrio.read_dataframe(folder / "lifecircle.gpkg", layer=layer)
        layers.append(frame.to_wkb().to_csv().encode())
    files["lifecircle.gpkg"] = b"".join(layers)
    for name in ("coverage.xlsx", "tasks.xlsx"):
        with zipfile.ZipFile(folder / name) as z:
            files[name] = b"".join(z.read(n) for n in z.namelist() if n != "docProps/core.xml")
    return files


def test_files_written_by_workers_are_those_written_one_by_one(small, two_workers, tmp_path):
    told: list[str] = []
    for name, run in (("serial", small), ("workers", two_workers)):
        result, inputs, settings = run
        write_outputs(
            result,
            tmp_path / name,
            inputs=inputs,
            settings=settings,
            overwrite=False,
            progress=told.append,
        )
    serial, workers = _same_run(tmp_path / "serial"), _same_run(tmp_path / "workers")
    assert set(serial) == set(workers) == set(OUTPUT_FILES)
    assert {k for k in serial if serial[k] != workers[k]} == set()
    half = len(told) // 2  # each file told once, in both runs
    assert sorted(told[:half]) == sorted(told[half:]) and len(set(told[:half])) == half


def test_a_worker_that_fills_the_disk_leaves_the_old_outputs(two_workers, earlier, monkeypatch):
    def full(self, *a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)  # the workers inherit it
    before = snapshot(earlier)
    with pytest.raises(OutputError, match="the disk is full"):
        write(two_workers, earlier)
    assert snapshot(earlier) == before
