"""Many districts of a city on a dask.distributed cluster, resumable.

The client reads every city-wide input once (the OSM file into a columnar cache, communities,
facility lists, population points), gives each district the part of them near it, and submits one
task per district. A task runs :func:`lifecircle.pipeline.analyze` on its part and writes the
district's output folder atomically, so a district's results are exactly what ``lifecircle
analyze --area <district>`` gives. A manifest in the output folder records, per district, a
digest of its inputs and parameters and the outcome; a rerun skips districts that finished with
the same digest.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle.categories import load_taxonomy
from lifecircle.city import write_city_outputs
from lifecircle.config import Settings, load_walk_filter
from lifecircle.crs import metric_crs
from lifecircle.daskrun import close_quietly, dask_logging, held_interrupts
from lifecircle.errors import InputError, LifecircleError
from lifecircle.fileio import check_out_folder, mark_written
from lifecircle.inputs import Inputs, Prepared
from lifecircle.manifest import (
    MANIFEST,
    complete,
    digest,
    frame_digest,
    open_manifest,
    run_parameters,
    write_json,
)
from lifecircle.outputs import input_files, input_paths, write_outputs
from lifecircle.pipeline import analyze_prepared, read_user_communities, read_user_facilities
from lifecircle.render.batchmaps import DISTRICTS_FILE
from lifecircle.render.options import Presentation
from lifecircle.sources import boundaries, population
from lifecircle.sources._files import check_file, parse_crs
from lifecircle.sources.citycache import CityCache, prepare_city
from lifecircle.sources.districts import District, assign_communities, read_districts
from lifecircle.sources.osm import download_osm
from lifecircle.timing import Display, Progress, Stopwatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cluster:
    """Where the tasks run: an existing scheduler, or a local cluster of ``workers`` processes."""

    scheduler: str | None = None
    workers: int | None = None
    memory_limit: str = "auto"  # per worker
    retries: int = 2  # times a task may kill its worker before it is recorded as failed
    connect_timeout_s: float = 5.0
    log_level: str = "error"  # of dask's own loggers (scheduler, nanny, workers): info with -v


@dataclass
class BatchResult:
    out: Path
    districts: dict[str, dict[str, Any]]
    summary: dict[str, Any]

    @property
    def failed(self) -> list[str]:
        return [k for k, v in self.districts.items() if v["status"] == "failed"]


@dataclass(frozen=True)
class DistrictTask:
    """Everything one district needs; pickled to a worker."""

    district: District
    digest: str
    out: Path
    cache: CityCache
    inputs: Inputs
    settings: Settings
    presentation: Presentation
    communities: gpd.GeoDataFrame | None
    communities_source: str | None
    community_counts: dict[str, Any]
    user_facilities: list[tuple[Path, gpd.GeoDataFrame]]
    population_points: gpd.GeoDataFrame | None
    bbox: tuple[float, float, float, float]  # what of the city this district reads
    files: dict[str, Any] = field(default_factory=dict)


# ---- the task --------------------------------------------------------------------------------


# What a district reads of the city cache (every row whose box meets this one): the district
# buffered by the walking reach, with a safety margin. The analysis buffers its area in its own
# metric CRS, centred on the area it settles on (communities given by code can reach beyond the
# district), and clips the network and the facilities to that buffer; this box is drawn in a CRS
# centred on the district. The extra 20 % of the reach and 500 m absorb the difference between
# the two projections and the bending of a buffer's outline in lon/lat, at the cost of reading
# a little more than is used. Too small a margin would silently lose facilities near the edge.
BBOX_REACH_FACTOR = 1.2
BBOX_MARGIN_M = 500.0


def district_bbox(geom: BaseGeometry, reach_m: float) -> tuple[float, float, float, float]:
    """The lon/lat box holding ``geom`` buffered by the walking reach and a margin."""
    crs = metric_crs(geom.centroid.x, geom.centroid.y)
    g = (
        gpd.GeoSeries([geom], crs=4326)
        .to_crs(crs)
        .buffer(BBOX_REACH_FACTOR * reach_m + BBOX_MARGIN_M)
    )
    minx, miny, maxx, maxy = g.to_crs(4326).total_bounds
    return float(minx), float(miny), float(maxx), float(maxy)


def run_district(task: DistrictTask) -> dict[str, Any]:
    """Analyse one district and write its folder; never raises for the district's own errors."""
    t0 = time.perf_counter()
    d = task.district
    record: dict[str, Any] = {"district_id": d.district_id, "name": d.name, "dir": d.dirname}
    try:
        osm = task.cache.load(task.bbox)
        record["read_cache_s"] = round(time.perf_counter() - t0, 3)
        prepared = Prepared(
            osm=osm,
            area=d.geometry,
            communities=task.communities,
            communities_source=task.communities_source,
            community_counts=task.community_counts,
            user_facilities=task.user_facilities,
            population=task.inputs.population,
            population_points=task.population_points,
        )
        # the batch checks city-wide facility lists once: a district may have none of them
        result = analyze_prepared(
            prepared, task.settings, inputs=task.inputs, refuse_if_outside=False
        )
        t_out = time.perf_counter()
        summary = write_outputs(
            result,
            task.out / d.dirname,
            inputs=task.inputs,
            settings=task.settings,
            presentation=task.presentation,
            overwrite=True,
            files=task.files,
            extra={"district": {"id": d.district_id, "name": d.name}},
        )
        record.update(
            status="ok",
            outputs_s=round(time.perf_counter() - t_out, 3),
            complete_life_circle=summary["complete_life_circle"],
            communities=summary["area"]["communities"],
            residents=summary["residents"]["total"],
        )
    except (LifecircleError, ValueError, OSError) as exc:
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    record["seconds"] = round(time.perf_counter() - t0, 3)
    record["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    record["worker_pid"] = os.getpid()
    record["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    return record


# ---- digests and the manifest -----------------------------------------------------------------


# ---- the client ---------------------------------------------------------------------------------


def _connect(cluster: Cluster) -> Any:
    """A client of the ``--scheduler``, or a clear error within the connection timeout."""
    from distributed import Client

    assert cluster.scheduler is not None
    try:
        return Client(cluster.scheduler, timeout=f"{cluster.connect_timeout_s}s")
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"--scheduler {cluster.scheduler}: no dask scheduler answered within "
            f"{cluster.connect_timeout_s:g} s ({exc}). Start one with `dask scheduler` "
            "and workers with `dask worker <address>`, check the address, or leave out "
            "--scheduler to run on this machine"
        ) from exc


@contextlib.contextmanager
def _client(cluster: Cluster, n_tasks: int) -> Iterator[Any]:
    """A client of the ``--scheduler``, or of a local cluster started for the run and closed
    after it: client first, then the cluster, with interrupts held while either starts or
    stops, and dask's loggers at ``cluster.log_level``."""
    import dask

    with (
        dask_logging(cluster.log_level) as silence,
        dask.config.set({"distributed.scheduler.allowed-failures": cluster.retries}),
    ):
        from distributed import Client, LocalCluster

        opened: list[Any] = []  # closed in reverse order
        try:
            with held_interrupts():
                if cluster.scheduler:
                    opened.append(_connect(cluster))
                else:
                    n = cluster.workers or max(1, min(os.cpu_count() or 1, n_tasks))
                    opened.append(
                        LocalCluster(
                            n_workers=n,
                            threads_per_worker=1,
                            processes=True,
                            memory_limit=cluster.memory_limit,
                            # a free port: the scheduler's HTTP server starts even without
                            # bokeh, and at its default 8787 it clashes with another cluster
                            dashboard_address="127.0.0.1:0",
                            host="127.0.0.1",
                            silence_logs=silence,
                        )
                    )
                    opened.append(Client(opened[0]))
            yield opened[-1]
        finally:
            with held_interrupts():
                for what in reversed(opened):
                    close_quietly(what, 30.0)


def run_batch(  # noqa: PLR0913  (keyword-only, one per option of `lifecircle batch`)
    inputs: Inputs,
    settings: Settings,
    *,
    districts_path: Path,
    out: Path,
    cluster: Cluster = Cluster(),
    force: bool = False,
    district_id_column: str | None = None,
    district_name_column: str | None = None,
    districts_crs: str | None = None,
    cache_dir: Path | None = None,
    presentation: Presentation | None = None,
    progress: Progress | Display | None = None,
) -> BatchResult:
    """Analyse every district of ``districts_path``; see the module docstring.

    ``progress`` shows how far the run is: a :class:`~lifecircle.timing.Display` (bars or
    plain lines: districts done of all, failed so far, elapsed and estimated time left), or
    a callable told each line.
    """
    clock = Stopwatch(progress)
    started = time.perf_counter()
    out = out.resolve()
    settings = replace(settings, processes=1)  # parallelism comes from the cluster
    shown = presentation or Presentation()
    dists = _check_options(
        inputs,
        districts_path,
        cluster,
        id_column=district_id_column,
        name_column=district_name_column,
        crs=districts_crs,
    )
    params = run_parameters(inputs, settings)
    _check_batch_folder(out, inputs, districts_path)
    manifest = open_manifest(out, params, force=force)
    mark_written(out, [MANIFEST])

    # ---- read the city once
    inputs, files, cache, lists, outside, timings = _read_city_once(
        inputs, settings, dists, districts_path, out, cache_dir, clock
    )

    # ---- one task per district that is not already done
    make_task = partial(
        DistrictTask,
        out=out,
        cache=cache,
        inputs=inputs,
        settings=settings,
        presentation=shown,
        files=files,
    )
    base = digest(params, {k: v["sha256"] for k, v in files.items()})
    tasks, manifest["districts"], skipped = _plan_tasks(
        dists, lists, outside, manifest["districts"], base, out, make_task, settings.max_reach_m
    )
    manifest["inputs"] = files
    write_json(out / MANIFEST, manifest)
    clock.say(
        f"{len(tasks)} to run, {skipped} unchanged and skipped, {len(outside)} outside the extract"
    )

    # ---- run
    t = time.perf_counter()
    dashboard = _run_tasks(tasks, cluster, manifest, out, clock) if tasks else None
    timings["run_s"] = round(time.perf_counter() - t, 3)

    # ---- city outputs
    t = time.perf_counter()
    summary = write_city_outputs(out, dists, manifest, settings, cache, files, lists.rule, shown)
    timings["city_outputs_s"] = round(time.perf_counter() - t, 3)
    timings["total_s"] = round(time.perf_counter() - started, 3)
    summary["timings"] = timings
    summary["dashboard"] = dashboard
    summary["districts_skipped_unchanged"] = skipped
    write_json(out / "city_summary.json", summary)
    mark_written(out, CITY_FILES)
    return BatchResult(out=out, districts=manifest["districts"], summary=summary)


def _check_options(
    inputs: Inputs,
    districts_path: Path,
    cluster: Cluster,
    *,
    id_column: str | None,
    name_column: str | None,
    crs: str | None,
) -> list[District]:
    """The districts, once the options are checked and a given scheduler answers."""
    inputs.check(place_option="--places FILE")
    if inputs.place is not None:
        check_file(inputs.place, "--places")
    dists = read_districts(
        districts_path,
        id_column=id_column,
        name_column=name_column,
        crs=parse_crs(crs, "--districts-crs"),
    )
    if cluster.scheduler:  # before any heavy work: a wrong address is found in seconds
        _connect(cluster).close()
    return dists


def _read_city_once(
    inputs: Inputs,
    settings: Settings,
    dists: list[District],
    districts_path: Path,
    out: Path,
    cache_dir: Path | None,
    clock: Stopwatch,
) -> tuple[Inputs, dict[str, Any], CityCache, _CityLists, dict[str, str], dict[str, float]]:
    """The city's inputs, read once: the inputs as prepared, their files, the city cache, the
    lists each district takes its part of, the districts outside the extract, and timings."""
    clock.say(f"{len(dists)} districts; reading the city's inputs once")
    timings: dict[str, float] = {}
    t = time.perf_counter()
    inputs, files, cache = _read_city(inputs, settings, out, cache_dir, clock)
    timings["prepare_city_s"] = 0.0 if cache.meta["reused"] else cache.meta["seconds"]

    lists = _read_city_lists(inputs, dists)
    timings["read_inputs_s"] = round(time.perf_counter() - t, 3)
    outside = _districts_outside(dists, cache, inputs, districts_path)
    _check_lists_in_city(lists, dists, outside)
    return inputs, files, cache, lists, outside, timings


def _plan_tasks(
    dists: list[District],
    lists: _CityLists,
    outside: dict[str, str],
    records: dict[str, dict[str, Any]],
    base: str,
    out: Path,
    make_task: Callable[..., DistrictTask],
    reach_m: float,
) -> tuple[list[DistrictTask], dict[str, dict[str, Any]], int]:
    """One task per district not already done: the tasks, the manifest's new district records
    (in the order of ``dists``; ``records`` are the earlier run's) and how many were skipped."""
    tasks: list[DistrictTask] = []
    planned: dict[str, dict[str, Any]] = {}
    skipped = 0
    for k, d in enumerate(dists):
        sub = lists.communities_of(k)
        key = digest(
            base,
            d.district_id,
            d.name,
            shapely.to_wkb(d.geometry),
            None if sub is None else frame_digest(sub),
        )
        prev = records.get(d.district_id)
        record = {"district_id": d.district_id, "name": d.name, "dir": d.dirname, "digest": key}
        if d.district_id in outside:
            planned[d.district_id] = record | {"status": "failed", "error": outside[d.district_id]}
        elif (
            prev
            and prev.get("status") == "ok"
            and prev.get("digest") == key
            and complete(out / d.dirname)
        ):
            skipped += 1
            planned[d.district_id] = prev | {"skipped_in_last_run": True}
        else:
            sub = sub if sub is not None and len(sub) else None  # none in it: as analyze does
            task = make_task(
                district=d,
                digest=key,
                communities=sub,
                communities_source=lists.source if sub is not None else None,
                community_counts=lists.counts if sub is not None else {},
                **lists.around(d, sub, reach_m),
            )
            tasks.append(task)
            planned[d.district_id] = record | {"status": "pending"}
    return tasks, planned, skipped


@dataclass
class _CityLists:
    """The user's city-wide lists, read once: communities (and which district each belongs
    to, by ``rule``), facility lists and population points."""

    communities: gpd.GeoDataFrame | None
    which: Any
    rule: str | None
    source: str | None
    counts: dict[str, Any]
    facilities: list[tuple[Path, gpd.GeoDataFrame]]
    population: gpd.GeoDataFrame | None

    def communities_of(self, k: int) -> gpd.GeoDataFrame | None:
        """The communities given to district number ``k`` (None without a communities file)."""
        if self.communities is None or self.which is None:
            return None
        return self.communities[self.which == k].reset_index(drop=True)

    def around(self, d: District, sub: gpd.GeoDataFrame | None, reach_m: float) -> dict[str, Any]:
        """The box a district's task reads, and the facilities and points in it."""
        # communities given by code may reach beyond the district polygon: read around both
        shape = d.geometry if sub is None else shapely.union_all([d.geometry, *sub.geometry])
        x0, y0, x1, y1 = bbox = district_bbox(shape, reach_m)
        pts = self.population
        return {
            "bbox": bbox,
            "user_facilities": [(p, f.cx[x0:x1, y0:y1]) for p, f in self.facilities],
            "population_points": None
            if pts is None
            else pts.cx[x0:x1, y0:y1].reset_index(drop=True),
        }


def _read_city_lists(inputs: Inputs, dists: list[District]) -> _CityLists:
    comm = which = rule = src = None
    counts: dict[str, Any] = {}
    if inputs.communities is not None:
        comm, counts, src = read_user_communities(inputs)
        which, rule = assign_communities(comm, dists)
    pts = None
    if inputs.population is not None and not population.is_raster(inputs.population):
        pts = population.residents_from_points(
            inputs.population,
            parse_crs(inputs.population_crs, "--population-crs"),
            encoding=inputs.encoding,
        )
    return _CityLists(comm, which, rule, src, counts, read_user_facilities(inputs), pts)


def _districts_outside(
    dists: list[District], cache: CityCache, inputs: Inputs, districts_path: Path
) -> dict[str, str]:
    """The districts that cannot be analysed (empty, or outside the extract), each with the
    reason; refuses a batch none of whose districts overlaps the extract."""
    b = cache.meta["bounds"]
    extent = shapely.box(*b) if b else shapely.Polygon()
    where = f"(lon {b[0]:.3f}–{b[2]:.3f}, lat {b[1]:.3f}–{b[3]:.3f})" if b else ""
    outside = {
        d.district_id: "InputError: the district's geometry is empty or not a polygon"
        if d.geometry.is_empty
        else f"InputError: the district lies outside the OSM extract {where}"
        for d in dists
        if d.geometry.is_empty or not d.geometry.intersects(extent)
    }
    if len(outside) == len(dists):
        raise InputError(
            f"--districts {districts_path}: none of the {len(dists)} districts overlaps the OSM "
            f"extract {where}; check that the districts and --osm cover the same city, and "
            "--districts-crs"
            if b
            else f"--osm {inputs.osm}: the file holds no data"
        )
    return outside


def _check_lists_in_city(lists: _CityLists, dists: list[District], outside: dict[str, str]) -> None:
    """Refuse a facility list none of whose points lies in any district (a CRS mistake)."""
    city = shapely.union_all([d.geometry for d in dists if d.district_id not in outside])
    for path, f in lists.facilities:
        if len(f) and not f.intersects(city.buffer(0.02)).any():
            c = f.geometry.union_all().centroid
            raise InputError(
                f"--facilities {path}: none of its {len(f)} points lies in any district (they "
                f"centre on lon {c.x:.4f}, lat {c.y:.4f}); check --facilities-crs (Amap/Tencent "
                "lists are gcj02, Baidu lists bd09)"
            )


#: the files a batch writes at the top of its folder (each district writes its own folder)
CITY_FILES = (
    MANIFEST,
    "city_coverage.csv",
    "city_summary.json",
    "city_map.html",
    DISTRICTS_FILE,
)


def _check_batch_folder(out: Path, inputs: Inputs, districts_path: Path) -> None:
    """Refuse, before any work, a batch folder that holds an input of the run or a file named
    like a city file that lifecircle did not write (``--force`` or not: they are the user's)."""
    check_out_folder(
        out,
        overwrite=True,  # whether a folder may be reused is the manifest's question
        inputs=[*input_paths(inputs), ("--districts", districts_path)],
        names=CITY_FILES,
        legacy=CITY_FILES,
    )


def _read_city(
    inputs: Inputs, settings: Settings, out: Path, cache_dir: Path | None, clock: Stopwatch
) -> tuple[Inputs, dict[str, Any], CityCache]:
    """The city's OSM file (downloaded once for ``--places``), fingerprinted and read into
    the columnar cache (or the cache of an earlier run reused): the inputs with ``osm`` set,
    the input files' fingerprints, and the cache."""
    taxonomy = load_taxonomy(inputs.categories)
    wf = load_walk_filter(inputs.walk_filter)
    if inputs.place is not None:  # online: one download for the whole city
        osm_path = _download_places(Path(inputs.place), out, settings.max_reach_m)
        inputs = replace(inputs, osm=osm_path, place=None)
    assert inputs.osm is not None
    check_file(inputs.osm, "--osm")
    with clock.stage("fingerprint", "fingerprinting inputs", watch=inputs.osm):
        files = input_files(inputs)
    with clock.stage("prepare_city", "reading OpenStreetMap", watch=inputs.osm) as step:
        cache = prepare_city(
            inputs.osm,
            cache_dir or out / "_cache",
            walk_filter=wf,
            taxonomy=taxonomy,
            osm_sha256=files["osm"]["sha256"],
            walk_filter_file=inputs.walk_filter,
            categories_file=inputs.categories,
        )
        if cache.meta["reused"]:
            step.update(note="the city cache of an earlier run")
    return inputs, files, cache


def _download_places(places: Path, out: Path, reach_m: float) -> Path:
    """Fetch the OSM data of ``--places`` once: a polygon file, or a text file of place names
    (one per line, geocoded by osmnx). Kept in ``out/_cache/download`` for reruns."""
    import osmnx as ox

    from lifecircle.fileio import new_folder

    check_file(places, "--places")
    if places.suffix.lower() == ".txt":
        names = [ln.strip() for ln in places.read_text("utf-8").splitlines() if ln.strip()]
        if not names:
            raise InputError(f"--places {places}: no place name in the file (one per line)")
        area = (
            ox.geocode_to_gdf(list[str | dict[str, str]](names)).to_crs(4326).geometry.union_all()
        )
    else:
        area = boundaries.read_area(places, option="--places")
    dest = out / "_cache" / "download" / digest(shapely.to_wkb(area))[:16]
    if (dest / "overpass.osm").is_file():
        return dest / "overpass.osm"
    with new_folder(dest) as tmp:
        path, _ = download_osm(area, tmp, reach_m=reach_m)
    return dest / path.name


def _run_tasks(
    tasks: list[DistrictTask],
    cluster: Cluster,
    manifest: dict[str, Any],
    out: Path,
    clock: Stopwatch,
) -> str | None:
    records = manifest["districts"]
    try:
        with _client(cluster, len(tasks)) as client:
            return _collect(client, tasks, cluster, manifest, out, clock)
    except BaseException:  # interrupted (also while the cluster started), or a failure
        with held_interrupts():
            for task in tasks:
                rec = records[task.district.district_id]
                if rec["status"] == "pending":
                    rec["status"] = "interrupted"
            write_json(out / MANIFEST, manifest)
        raise


def _collect(
    client: Any,
    tasks: list[DistrictTask],
    cluster: Cluster,
    manifest: dict[str, Any],
    out: Path,
    clock: Stopwatch,
) -> str | None:
    """Submit the tasks, record each district as it finishes (and show how many are done,
    failed and left, from the cluster's task completions); the dashboard address."""
    from distributed import as_completed

    records = manifest["districts"]
    services = client.scheduler_info().get("services", {})
    has_bokeh = importlib.util.find_spec("bokeh") is not None  # the dashboard needs it
    dashboard = client.dashboard_link if "dashboard" in services and has_bokeh else None
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    clock.say(
        f"running {len(tasks)} district(s) on {n_workers} worker(s)"
        + (f"; dashboard {dashboard}" if dashboard else "")
    )
    # largest first (by the area read): the long tasks start early and the short ones fill
    # the gaps, so workers finish together
    order = sorted(tasks, key=lambda tk: -(tk.bbox[2] - tk.bbox[0]) * (tk.bbox[3] - tk.bbox[1]))
    futures: dict[Any, DistrictTask] = {}
    try:
        for i, task in enumerate(order):
            fut = client.submit(
                run_district,
                task,
                key=f"district-{task.digest[:16]}",
                pure=False,
                priority=len(order) - i,
            )
            futures[fut] = task
        failed = 0
        with clock.stage(
            "districts", "districts", total=len(tasks), unit="done", eta=True, each_line=True
        ) as step:
            for fut in as_completed(futures):
                task = futures[fut]
                rec = records[task.district.district_id]
                _record(fut, rec, cluster)
                write_json(out / MANIFEST, manifest)
                if rec["status"] != "ok":
                    failed += 1
                    clock.say(f"{task.district.district_id} failed: {rec['error']}")
                step.advance(
                    detail=f"{task.district.district_id} {rec['status']}",
                    note=f"{failed} failed" if failed else "",
                )
    except BaseException:
        # forget the districts still queued or running (one request, before the client
        # closes), so that a shared scheduler drops them too
        with held_interrupts(), contextlib.suppress(OSError, TimeoutError):
            client.cancel(list(futures))
        raise
    return dashboard


def _record(fut: Any, rec: dict[str, Any], cluster: Cluster) -> None:
    """Put a finished task's outcome in its district's record."""
    from distributed.scheduler import KilledWorker

    try:
        rec.update(fut.result())
    except KilledWorker:
        times = (
            f"{cluster.retries + 1} times"
            if cluster.scheduler is None
            else "more often than the scheduler's allowed-failures"
        )
        rec.update(
            status="failed",
            error=f"the worker running it died {times} (memory limit or a crash); "
            "raise --memory-limit or use fewer workers",
        )
    except Exception as exc:  # an error outside run_district's own handling
        rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
