"""Progress of long commands: bars on a terminal only, plain lines elsewhere (no control
sequence), nothing but warnings with -q, and never a change to any output file."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from rich.console import Console
from typer.testing import CliRunner

from lifecircle.cli.main import app
from lifecircle.display import Bars, Lines, display_for
from lifecircle.timing import FileWatch, Step, Stopwatch, available, solver_note

ESC = "\x1b"
STAGES = (
    "reading OpenStreetMap",
    "building the walk graph",
    "placing residents",
    "routing",
    "service areas",
    "writing outputs",
)
runner = CliRunner()


def _plain(text: str) -> str:
    """``text`` without its control sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def run(monkeypatch: pytest.MonkeyPatch, *args: object, terminal: bool = False):
    """The CLI with standard error as a pipe (``terminal=False``: rich's test finds no TTY)
    or forced to behave as a terminal (rich's ``TTY_COMPATIBLE=1``)."""
    for var in ("TTY_COMPATIBLE", "FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    if terminal:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "200")
    return runner.invoke(app, [*map(str, args)])


# ---- analyze -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory, helsinki, comm_file):
    """The same analysis three times: stderr a pipe, stderr a (forced) terminal, and -q."""
    mp = pytest.MonkeyPatch()
    base = tmp_path_factory.mktemp("progress")
    args = ["--osm", helsinki, "--communities", comm_file, "--lang", "en"]
    try:
        plain = run(mp, "analyze", *args, "--out", base / "plain")
        bars = run(mp, "analyze", *args, "--out", base / "bars", terminal=True)
        quiet = run(mp, "analyze", "-q", *args, "--out", base / "quiet")
    finally:
        mp.undo()
    for r in (plain, bars, quiet):
        assert r.exit_code == 0, r.output
    return {"plain": plain, "bars": bars, "quiet": quiet, "base": base}


def test_plain_lines_without_a_terminal(runs):
    out = runs["plain"].output
    assert ESC not in out  # no colour, no cursor movement, no bar redrawn
    for stage in STAGES:  # one line per stage, with its time
        assert re.search(rf"^{re.escape(stage)} +\d+\.\d s", out, re.M), stage
    assert re.search(r"^reading OpenStreetMap +\d+\.\d s +0\.7 MB$", out, re.M)
    assert re.search(r"^routing +\d+\.\d s +[1-9]\d* categories$", out, re.M)
    assert re.search(r"^service areas +\d+\.\d s +[1-9]\d* categories$", out, re.M)


def test_bars_on_a_terminal(runs):
    out = runs["bars"].output
    assert ESC in out  # the live display was drawn (so the comparison below means something)
    assert "━" in out  # a bar
    text = _plain(out)
    for stage in STAGES:
        assert f"✓ {stage}" in text, stage


def test_quiet_prints_nothing_but_warnings(runs):
    out = runs["quiet"].output
    assert out.strip()  # the clipped extract and the headline warn: those are kept
    assert "INFO" not in out
    for stage in (*STAGES, "fingerprinting inputs", "Wrote"):
        assert stage not in out
    for line in out.splitlines():
        if line.strip() and not line.startswith(" "):  # continuation lines are indented
            assert re.match(r"(\[[\d:]+\] )?(WARNING|ERROR)\b|Warning:", line), line


def _normal_json(path: Path) -> dict:
    """summary.json without what differs between any two runs: the clock time of the run and
    the seconds each stage and each output took."""
    s = json.loads(path.read_text("utf-8"))
    s.pop("timings_s", None)
    s.pop("output_timings_s", None)
    s["provenance"].pop("created_utc", None)
    return s


def _xlsx_parts(path: Path) -> dict[str, bytes]:
    """The workbook's parts but its creation time (docProps/core.xml)."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def test_progress_never_changes_an_output(runs):
    """The run with bars and the run with plain lines wrote the same files, byte for byte
    apart from what differs between any two runs (the clock time, stage times, folium's
    random element ids); the -q run too."""
    base = runs["base"]
    a, b, q = base / "plain", base / "bars", base / "quiet"
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) == sorted(p.name for p in q.iterdir())
    for other in (b, q):
        for name in (
            "coverage.csv",
            "area_coverage.csv",
            "denominators.csv",
            "coverage_map.png",
            "coverage_chart.png",
        ):
            assert (a / name).read_bytes() == (other / name).read_bytes(), name
        ids = re.compile(r"[0-9a-f]{32}")
        html_a, html_o = ((x / "map.html").read_text("utf-8") for x in (a, other))
        assert ids.sub("ID", html_a) == ids.sub("ID", html_o)
        stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
        rep_a, rep_o = ((x / "report.html").read_text("utf-8") for x in (a, other))
        assert stamp.sub("T", rep_a) == stamp.sub("T", rep_o)
        assert _normal_json(a / "summary.json") == _normal_json(other / "summary.json")
        assert _xlsx_parts(a / "coverage.xlsx") == _xlsx_parts(other / "coverage.xlsx")
        for layer in ("communities", "facilities", "residents", "service_areas", "gaps"):
            la = gpd.read_file(a / "lifecircle.gpkg", layer=layer)
            lo = gpd.read_file(other / "lifecircle.gpkg", layer=layer)
            pd.testing.assert_frame_equal(la, lo, check_exact=True)


# ---- the helper itself ----------------------------------------------------------------------


def _console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=150, soft_wrap=True), buf


def test_stage_lines_and_counts_on_a_plain_display():
    console, buf = _console(terminal=False)
    clock = Stopwatch(Lines(console, every_s=0.0))  # every update makes a line
    with clock.stage("routing", "routing", total=3, unit="categories") as step:
        for _ in step.track(["school", "clinic", "market"]):
            pass
    with clock.stage("write", "writing outputs", total=2) as step:
        step("coverage.csv")
        step("map.html")
    with clock.stage("area"):  # no message: timed, not shown
        pass
    out = buf.getvalue()
    assert ESC not in out
    assert "routing: 1/3 categories, clinic" in out
    assert re.search(r"^routing +\d+\.\d s +3 categories$", out, re.M)
    assert "writing outputs: 1/2, map.html" in out
    assert re.search(r"^writing outputs +\d+\.\d s$", out, re.M)  # both files done
    assert "area" not in out
    assert list(clock.timings) == ["routing", "write", "area"]


@pytest.mark.parametrize("terminal", [False, True])
def test_names_from_the_data_cannot_drive_the_terminal(terminal):
    """A district id or file name with control characters (ESC, BEL) prints them as �."""
    hostile = "D1\x1b]0;owned\x07\x1b[2J<script>{{ 7*7 }}=HYPERLINK(1)[bold]"
    console, buf = _console(terminal=terminal)
    display = Bars(console) if terminal else Lines(console, every_s=0.0)
    with display if isinstance(display, Bars) else _null():
        clock = Stopwatch(display)
        with clock.stage("districts", f"districts {hostile}", total=2, each_line=True) as step:
            step.advance(detail=hostile)
            clock.say(f"{hostile} failed")
    raw = buf.getvalue()
    assert "\x1b]0;" not in raw and "\x07" not in raw and "\x1b[2J" not in raw
    shown = "D1\ufffd]0;owned\ufffd\ufffd[2J<script>{{ 7*7 }}=HYPERLINK(1)[bold]"
    assert f"{shown} failed" in _plain(raw)
    assert f"districts {shown}" in _plain(raw)


def test_a_stage_that_raises_leaves_no_done_line():
    console, buf = _console(terminal=False)
    clock = Stopwatch(Lines(console))
    with pytest.raises(ValueError), clock.stage("graph", "building the walk graph"):
        raise ValueError("bad")
    assert buf.getvalue() == ""
    assert "graph" in clock.timings  # still timed


def test_plain_callable_is_told_each_stage():
    told: list[str] = []
    clock = Stopwatch(told.append)
    with clock.stage("load_osm", "reading OpenStreetMap"), clock.stage("area"):
        pass
    assert told == ["reading OpenStreetMap"]


def test_display_for_picks_bars_lines_or_nothing():
    term, buf = _console(terminal=True)
    pipe, _ = _console(terminal=False)
    with display_for(term, quiet=False) as d:
        assert isinstance(d, Bars)
        with Stopwatch(d).stage("x", "routing", total=1) as step:
            step.advance()
    assert "✓ routing" in _plain(buf.getvalue())
    with display_for(pipe, quiet=False) as d:
        assert isinstance(d, Lines)
    with display_for(term, quiet=True) as d:
        assert type(d).__name__ == "Display"


@pytest.mark.skipif(not available(), reason="read positions need Linux /proc/self/fdinfo")
def test_file_watch_follows_the_bytes_read(tmp_path):
    path = tmp_path / "city.osm.pbf"
    path.write_bytes(b"x" * 10_000)
    step = Step("load_osm", "reading OpenStreetMap", unit="bytes")
    watch = FileWatch(path, step, every_s=3600)  # polled by hand below, not by its thread
    with watch:
        assert step.total == 10_000
        with open(path, "rb", buffering=0) as fh:  # unbuffered: reads are read(2) calls
            fh.read(2_500)
            watch.poll()
            assert step.completed == 2_500
        with open(path, "rb", buffering=0) as fh:  # opened again: a second pass
            fh.read(100)
            watch.poll()
            assert step.completed == 100
            assert step.detail == "another pass over the file"
            fh.read()
            watch.poll()
            assert step.detail == "another pass over the file, all read, still working on it"
    assert step.completed == 10_000  # done when the block ends


def test_solver_progress_line():
    """What a solver's callback shows: best bound, incumbent, gap and the time limit left."""
    assert solver_note(best_bound=1234.4, incumbent=1200.0, gap=0.028, time_left_s=83) == (
        "bound 1,234 · incumbent 1,200 · gap 2.8 % · 1:23 left"
    )
    assert solver_note(best_bound=12.5, incumbent=None, gap=None, time_left_s=None) == (
        "bound 12.5 · no solution yet"
    )
    for terminal in (False, True):
        console, buf = _console(terminal=terminal)
        display = Bars(console) if terminal else Lines(console, every_s=0.0)
        with (
            display if isinstance(display, Bars) else _null(),
            Stopwatch(display).stage("solve", "solving", total=60, unit="s") as step,
        ):
            step.solver(best_bound=98.0, incumbent=95.0, gap=0.0316, time_left_s=45)
            assert step.completed == 15
            if terminal:
                display.progress.refresh()
        out = buf.getvalue()
        assert "gap 3.2 %" in out and "0:45 left" in out
        assert (ESC in out) is terminal


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# ---- batch ----------------------------------------------------------------------------------


def test_batch_shows_districts_done_failed_and_time_left(tmp_path, helsinki, monkeypatch):
    """Two districts of the Helsinki extract and one outside it, on one worker: a plain line
    per finished district (done of all, elapsed, time left), then the final table."""
    x0, y0, x1, y1 = (24.9352, 60.1642, 24.9534, 60.1791)
    xm = (x0 + x1) / 2
    gdf = gpd.GeoDataFrame(
        {"code": ["W", "E", "FAR"], "name": ["west", '=HYPERLINK("x")', "nowhere"]},
        geometry=[
            shapely.box(x0, y0, xm, y1),
            shapely.box(xm, y0, x1, y1),
            shapely.box(25.5, 61.0, 25.6, 61.1),
        ],
        crs=4326,
    )
    gdf.to_file(tmp_path / "districts.geojson")
    r = run(
        monkeypatch,
        "batch",
        "--osm",
        helsinki,
        "--districts",
        tmp_path / "districts.geojson",
        "--out",
        tmp_path / "out",
        "--workers",
        1,
    )
    assert r.exit_code == 1, r.output  # FAR lies outside the extract
    out = r.output
    assert ESC not in out
    first = re.search(r"^districts: 1/2 done, (W|E) ok · about [\d:]+ left, .* elapsed$", out, re.M)
    assert first, out
    assert re.search(r"^districts: 2/2 done, (W|E) ok, .* elapsed$", out, re.M)
    assert re.search(r"^districts +[\d.:]+( s)?  2 done$", out, re.M)
    assert "status" in out and "nowhere" in out  # the final table


def test_console_text_is_the_one_way_names_reach_the_console(monkeypatch):
    """The batch's district table, the headline and the error line print names from the data
    through console_text / printable: no terminal sequence, no rich markup."""
    from rich.console import Console

    from lifecircle.cli import batch as batch_cli
    from lifecircle.cli import guard
    from lifecircle.display import console_text
    from lifecircle.errors import InputError

    hostile = "\x1b[2J\x1b[31mCLEARED[bold red]x[/]"
    assert console_text(hostile) == "\ufffd[2J\ufffd[31mCLEARED\\[bold red]x\\[/]"
    assert console_text("abc\u202edef") == "abc\ufffddef"  # no right-to-left override
    console, buf = _console(terminal=True)
    monkeypatch.setattr(batch_cli, "console", console)
    summary = {
        "per_district": {hostile: {"status": "ok", "name": hostile, "residents": 5.0}},
        "totals": {},
    }
    batch_cli.print_status_table(summary, lang="en")
    raw = buf.getvalue()
    assert "\x1b[2J" not in raw and "\x1b[31mC" not in raw and "[bold red]x" in _plain(raw)
    err = Console(file=io.StringIO(), force_terminal=True, width=200)
    monkeypatch.setattr(guard.logs, "err", err)
    guard._fail(InputError(f"--districts x.geojson: {hostile} is bad"), 2)
    assert "\x1b[2J" not in err.file.getvalue()
