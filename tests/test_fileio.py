"""Writing files: whole or not at all, normal permissions, a run replaces only its own outputs.

Tests run as root, where permissions do not stop writes: a read-only folder, a full disk and a
library's own error on a full disk are simulated by making the OS functions fail for one folder.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from lifecircle import fileio
from lifecircle.errors import InputError, OutputError

LEGACY = ("coverage.csv", "map.html", "summary.json")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def build(files: dict[str, str]):
    def write(tmp: Path) -> None:
        for name, text in files.items():
            fileio.write_text(tmp / name, text)

    return write


def run(out: Path, files: dict[str, str], **kw) -> None:
    kw.setdefault("overwrite", True)
    kw.setdefault("legacy", LEGACY)
    fileio.replace_outputs(out, build(files), **kw)


def marker(out: Path) -> list[str]:
    return json.loads((out / fileio.MARKER).read_text("utf-8"))["files"]


@pytest.fixture
def earlier(tmp_path) -> Path:
    """A folder holding an earlier run's outputs and two files of the user's."""
    out = tmp_path / "out"
    run(out, {"coverage.csv": "old coverage", "map.html": "old map"}, overwrite=False)
    (out / "survey.xlsx").write_bytes(b"PK\x03\x04 the user's survey")
    (out / "notes.txt").write_text("my notes", encoding="utf-8")
    (out / "mine").mkdir()
    (out / "mine" / "coverage.csv").write_text("a file of mine in a subfolder")
    return out


def fail_for(monkeypatch, folder: Path, code: int, *names: str) -> None:
    """Make ``os`` functions fail with ``code`` for every path under ``folder``."""
    folder = folder.resolve()

    def wrap(fn):
        def failing(path, *a, **kw):
            p = Path(os.fsdecode(path)).resolve() if not isinstance(path, int) else None
            if p is not None and (p == folder or folder in p.parents):
                raise OSError(code, os.strerror(code), str(path))
            return fn(path, *a, **kw)

        return failing

    for name in names:
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))


# ---- one file ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_write_gives_the_mode_of_a_plain_file(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        fileio.write_text(tmp_path / "a.txt", "x")
        fileio.atomic_write(tmp_path / "b.bin", lambda p: p.write_bytes(b"y"))
        with open(tmp_path / "plain.txt", "w") as fh:  # what a plainly created file gets
            fh.write("z")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.bin", "plain.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode
    assert fileio.file_mode() == 0o666 & ~old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "plain.txt"]


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("the old one")

    def half_then_full_disk(p: Path) -> None:
        with open(p, "w") as fh:
            fh.write("half of the new")
            fh.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="the disk is full") as err:
        fileio.atomic_write(target, half_then_full_disk)
    assert isinstance(err.value, InputError) and isinstance(err.value, OSError)
    assert f"{tmp_path}: cannot write summary.json: the disk is full" in str(err.value)
    assert "free some space" in str(err.value)
    assert target.read_text() == "the old one"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    # the writer sees the real name (libraries infer the format from the suffix)
    seen = []
    fileio.atomic_write(tmp_path / "x.gpkg", lambda p: (seen.append(p.name), p.write_text("n")))
    assert seen == ["x.gpkg"] and (tmp_path / "x.gpkg").read_text() == "n"


def test_a_librarys_own_error_on_a_full_disk_is_explained(tmp_path, monkeypatch):
    """GDAL says only "Failed to commit transaction": a failure with (almost) no free space
    left is reported as a full disk, any other failure passes unchanged."""

    def gdal(p: Path) -> None:
        p.write_bytes(b"SQLite format 3\0")
        raise RuntimeError("Failed to commit transaction")

    with pytest.raises(RuntimeError, match="commit") as err:
        fileio.atomic_write(tmp_path / "a.gpkg", gdal)
    assert not isinstance(err.value, OutputError)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 0))
    with pytest.raises(OutputError, match=r"the disk is full .*Failed to commit"):
        fileio.atomic_write(tmp_path / "a.gpkg", gdal)
    assert not list(tmp_path.iterdir())


def test_new_folder_is_complete_or_absent(tmp_path):
    dest = tmp_path / "cache" / "k1"
    with pytest.raises(OutputError, match="disk is full"), fileio.new_folder(dest) as tmp:
        (tmp / "a.parquet").write_text("part")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not dest.exists() and not list((tmp_path / "cache").iterdir())
    with fileio.new_folder(dest) as tmp:
        (tmp / "meta.json").write_text("first")
    with fileio.new_folder(dest) as tmp:  # built meanwhile by another run: that one is kept
        (tmp / "meta.json").write_text("second")
    assert (dest / "meta.json").read_text() == "first"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["k1"]


# ---- a run's outputs --------------------------------------------------------------------------


def test_overwrite_replaces_only_the_earlier_runs_outputs(earlier):
    mine = {k: v for k, v in snapshot(earlier).items() if k in ("survey.xlsx", "notes.txt")}
    mine["mine/coverage.csv"] = (earlier / "mine" / "coverage.csv").read_bytes()
    run(earlier, {"coverage.csv": "new coverage", "summary.json": "{}"})
    after = snapshot(earlier)
    assert {k: after[k] for k in mine} == mine  # byte-identical
    assert after["coverage.csv"] == b"new coverage"
    assert "map.html" not in after  # the earlier run's, not written again: removed
    assert marker(earlier) == ["coverage.csv", "summary.json"]
    assert sorted(after) == sorted([*mine, "coverage.csv", "summary.json", fileio.MARKER])


def test_without_overwrite_a_non_empty_folder_is_refused(earlier):
    before = snapshot(earlier)
    with pytest.raises(OutputError, match="not empty; pass --overwrite"):
        run(earlier, {"coverage.csv": "new"}, overwrite=False)
    assert snapshot(earlier) == before


@pytest.mark.parametrize("where", ["", "sub/", "sub/deeper/"])
def test_a_folder_holding_an_input_is_refused(earlier, where):
    (earlier / where).mkdir(parents=True, exist_ok=True)
    inp = earlier / where / "communities.shp"
    inp.write_bytes(b"shape")
    before = snapshot(earlier)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="holds the input --communities") as err:
            run(earlier, {"coverage.csv": "new"}, overwrite=overwrite,
                inputs=[("--osm", earlier.parent / "x.osm"), ("--communities", inp)])  # fmt: skip
        assert str(inp) in str(err.value) and "Choose another --out" in str(err.value)
        assert snapshot(earlier) == before


def test_an_input_reached_through_a_relative_path_or_a_link_is_found(earlier, monkeypatch):
    link = earlier.parent / "link"
    link.symlink_to(earlier, target_is_directory=True)
    (earlier / "a.osm").write_text("<osm/>")
    monkeypatch.chdir(earlier)
    with pytest.raises(OutputError, match="holds the input --osm"):
        run(Path("."), {"coverage.csv": "new"}, inputs=[("--osm", link / "a.osm")])
    with pytest.raises(OutputError, match="holds the input --osm"):
        run(link, {"coverage.csv": "new"}, inputs=[("--osm", Path("a.osm"))])


def test_out_dot_is_the_current_folder(earlier, monkeypatch):
    monkeypatch.chdir(earlier)
    run(Path("."), {"coverage.csv": "new coverage"})
    assert (earlier / "coverage.csv").read_text() == "new coverage"
    assert (earlier / "notes.txt").read_text() == "my notes"
    assert not [p for p in earlier.parent.iterdir() if p.name != "out"]  # nothing beside it
    assert not [p for p in earlier.iterdir() if p.name.startswith(".lifecircle-tmp")]


def test_a_file_named_like_an_output_that_lifecircle_did_not_write_is_refused(earlier):
    (earlier / "summary.json").write_text("the user's own summary")
    before = snapshot(earlier)
    with pytest.raises(OutputError, match=r"holds summary\.json, which lifecircle did not write"):
        run(earlier, {"coverage.csv": "new", "summary.json": "{}"})
    assert snapshot(earlier) == before
    with pytest.raises(OutputError, match=r"holds summary\.json"):  # also before any work
        fileio.check_out_folder(earlier, overwrite=True, names=["summary.json"], legacy=LEGACY)


def test_a_folder_named_like_an_output_is_never_removed(tmp_path):
    out = tmp_path / "old"
    (out / "summary.json").mkdir(parents=True)  # the user's folder, named like an output
    (out / "summary.json" / "mine.txt").write_text("mine")
    run(out, {"coverage.csv": "new"})
    assert (out / "summary.json" / "mine.txt").read_text() == "mine"
    with pytest.raises(OutputError, match=r"holds summary\.json"):
        run(out, {"summary.json": "{}"})
    assert (out / "summary.json" / "mine.txt").read_text() == "mine"


OLD_SUMMARY = '{"provenance": {"packages": {"lifecircle": "0.0.9"}}}'


def test_a_folder_of_an_older_version_without_a_marker(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "coverage.csv").write_text("written by 0.x")
    (out / "map.html").write_text("written by 0.x")
    (out / "summary.json").write_text(OLD_SUMMARY)  # how an older run is known
    (out / "survey.xlsx").write_bytes(b"mine")
    run(out, {"coverage.csv": "new"})
    assert sorted(p.name for p in out.iterdir()) == [fileio.MARKER, "coverage.csv", "survey.xlsx"]
    assert (out / "survey.xlsx").read_bytes() == b"mine"


@pytest.mark.parametrize(
    "summary",
    [None, "{}", '{"provenance": {"packages": {"pandas": "2"}}}', "not json", "[1, 2]"],
)
def test_files_named_like_outputs_in_a_folder_without_a_marker_are_the_users(tmp_path, summary):
    """Only a folder that an older lifecircle wrote (its summary.json says so) has outputs
    without a marker: elsewhere a file called coverage.csv is the user's and is never replaced."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "coverage.csv").write_text("my own survey")
    if summary is not None:
        (out / "summary.json").write_text(summary)
    before = snapshot(out)
    with pytest.raises(
        OutputError, match=r"holds (coverage\.csv|summary\.json), which lifecircle did not"
    ):
        run(out, {"coverage.csv": "new", "summary.json": "{}"})
    assert snapshot(out) == before
    assert fileio.owned_files(out, legacy=LEGACY) == set()


def test_mark_written_adds_to_the_marker_and_keeps_only_plain_names(tmp_path):
    fileio.mark_written(tmp_path, ["city_map.html", "../evil", "a/b"])
    fileio.mark_written(tmp_path, ["city_summary.json"])
    owned = fileio.owned_files(tmp_path)
    assert owned == {fileio.MARKER, "city_map.html", "city_summary.json"}


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_disk_that_fills_while_writing_changes_nothing(earlier, tmp_path, overwrite):
    def fills(tmp: Path) -> None:
        fileio.write_text(tmp / "coverage.csv", "new coverage")
        with open(tmp / "map.html", "w") as fh:
            fh.write("<html>half")
            raise OSError(errno.ENOSPC, "No space left on device")

    out = earlier if overwrite else tmp_path / "new" / "out"
    before = snapshot(earlier)
    with pytest.raises(OutputError, match=r"--out .*out: cannot write there: the disk is full"):
        fileio.replace_outputs(out, fills, overwrite=overwrite, legacy=LEGACY)
    assert snapshot(earlier) == before
    assert not (tmp_path / "new").exists()  # the folders this run created are gone again


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")],
)
def test_a_folder_that_cannot_be_written_is_refused_before_any_work(
    earlier, monkeypatch, code, reason
):
    before = snapshot(earlier)
    fail_for(monkeypatch, earlier, code, "open", "mkdir")
    with pytest.raises(OutputError, match=f"--out {earlier}: cannot write there: .*{reason}"):
        fileio.check_out_folder(earlier, overwrite=True)
    with pytest.raises(OutputError, match="you can write to"):
        fileio.check_out_folder(earlier / "new" / "sub", overwrite=False)
    with pytest.raises(OutputError, match=reason):
        run(earlier, {"coverage.csv": "new"})
    monkeypatch.undo()
    assert snapshot(earlier) == before


# os.replace calls: 1-3 the new files into the temporary folder, 4 the marker, 5 the journal,
# 6-8 the earlier outputs aside, 9-12 the new ones in (the marker last)
@pytest.mark.parametrize("fails_at", [5, 7, 10, 12])
def test_a_failure_while_moving_files_in_puts_everything_back(earlier, monkeypatch, fails_at):
    before = snapshot(earlier)
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == fails_at:
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="Input/output"):
        run(earlier, {"coverage.csv": "n", "map.html": "n", "summary.json": "n"})
    monkeypatch.undo()
    assert snapshot(earlier) == before
    assert not [p for p in earlier.iterdir() if p.name.startswith(".lifecircle-")][1:]


@pytest.mark.parametrize("killed_at", [7, 9, 11, 12])
def test_a_run_killed_while_moving_files_is_undone_by_the_next(earlier, monkeypatch, killed_at):
    """A killed process cannot clean up: leave the folder as a kill would, then the next run
    (here :func:`fileio.recover`) puts the earlier outputs back first."""
    before = snapshot(earlier)
    real = os.replace
    calls = []

    class Killed(BaseException):
        pass

    def dies(src, dst):
        calls.append(dst)
        if len(calls) == killed_at:
            raise Killed
        return real(src, dst)

    monkeypatch.setattr(os, "replace", dies)
    monkeypatch.setattr(fileio, "_rollback", lambda out, backup: None)  # no cleanup when killed
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **kw: None)
    with pytest.raises(Killed):
        run(earlier, {"coverage.csv": "n", "map.html": "n", "summary.json": "n"})
    monkeypatch.undo()
    assert snapshot(earlier) != before
    fileio.recover(earlier)
    assert snapshot(earlier) == before


def test_a_run_killed_after_its_last_move_keeps_the_new_outputs(earlier, monkeypatch):
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **kw: None)  # killed before the cleanup
    run(earlier, {"coverage.csv": "new"})
    monkeypatch.undo()
    assert [p for p in earlier.iterdir() if p.name.startswith(fileio.OLD_PREFIX)]
    fileio.recover(earlier)
    assert (earlier / "coverage.csv").read_text() == "new"
    assert not [p for p in earlier.iterdir() if p.name.startswith(".lifecircle-")][1:]
    assert (earlier / "notes.txt").read_text() == "my notes"


def test_update_replaces_some_outputs_and_keeps_the_others(earlier):
    run(earlier, {"map.html": "new map"}, update=True)
    assert (earlier / "map.html").read_text() == "new map"
    assert (earlier / "coverage.csv").read_text() == "old coverage"
    assert marker(earlier) == ["coverage.csv", "map.html"]
    assert (earlier / "survey.xlsx").exists()


def test_two_runs_into_one_folder_at_once(earlier):
    with fileio.staged_outputs(earlier, overwrite=True, legacy=LEGACY) as tmp:
        fileio.write_text(tmp / "coverage.csv", "first")
        with pytest.raises(OutputError, match="another lifecircle run is writing"):
            run(earlier, {"coverage.csv": "second"})
    assert (earlier / "coverage.csv").read_text() == "first"


# ---- whose outputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "kept"),
    [
        ("summary.json", "sites.csv", "lifecircle analyze"),  # site --overwrite into an analysis
        ("sites.csv", "summary.json", "lifecircle site"),  # analyze into a site folder
        ("batch_manifest.json", "summary.json", "lifecircle batch"),
        ("summary.json", "batch_manifest.json", "lifecircle analyze"),
    ],
)
def test_overwrite_never_replaces_another_commands_outputs(tmp_path, first, second, kept):
    out = tmp_path / "out"
    run(out, {first: "{}", "map.html": "the first command's map"})
    before = snapshot(out)
    for overwrite in (True, False):  # never "pass --overwrite" into another command's folder
        with pytest.raises(OutputError, match=f"holds the outputs of `{kept}`.*Choose another"):
            fileio.check_out_folder(out, overwrite=overwrite, names=[second, "map.html"])
    with pytest.raises(OutputError, match=f"holds the outputs of `{kept}`"):
        run(out, {second: "{}", "map.html": "the second command's map"})  # checked at commit too
    assert snapshot(out) == before


def test_the_same_command_and_a_rebuild_may_replace(tmp_path):
    out = tmp_path / "out"
    run(out, {"summary.json": "{}", "coverage.csv": "a", "map.html": "m"})
    run(out, {"map.html": "rebuilt"}, update=True)  # a rebuilt map tells no command
    run(out, {"summary.json": "{}", "coverage.csv": "b", "coverage_change.csv": "c"})  # scenario
    assert (out / "coverage.csv").read_text() == "b" and (out / "map.html").exists() is False


@pytest.mark.parametrize("text", ["", "{", "[]", '{"files": "coverage.csv"}', '{"files": [1]}'])
def test_a_damaged_marker_owns_nothing_and_is_named(earlier, text):
    """A marker emptied or cut short must not hand every output name to lifecircle: the
    user's own report.html stays as it is."""
    (earlier / "report.html").write_text("the user's report", encoding="utf-8")
    (earlier / fileio.MARKER).write_text(text, encoding="utf-8")
    before = snapshot(earlier)
    with pytest.raises(OutputError, match=r"\.lifecircle-outputs\.json: damaged"):
        run(earlier, {"coverage.csv": "new", "report.html": "lifecircle's report"})
    assert snapshot(earlier) == before


def test_a_folder_the_file_system_refuses_for_another_reason_is_named(tmp_path, monkeypatch):
    """/proc/x: the probe's error is not one of the explained ones, and is still no internal
    error."""

    def refuse(*a, **kw):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/proc/tmpxyz")

    monkeypatch.setattr(fileio.tempfile, "TemporaryFile", refuse)
    with pytest.raises(OutputError, match=r"no file can be written in .*choose another folder"):
        fileio.probe_writable(tmp_path / "x")
