"""Write an analysis to an output folder: coverage.csv, lifecircle.gpkg, summary.json, map.html.

Everything is written into a temporary folder inside ``--out`` first and moved into place only
when all files are complete (:func:`lifecircle.fileio.replace_outputs`): a failure never leaves a
half-written folder, and only the outputs of an earlier run are replaced — never an input of the
run or any other file of the user's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np

from lifecircle import fileio
from lifecircle._records import jsonable
from lifecircle.config import Settings
from lifecircle.forked import forked_map, has_fork
from lifecircle.gpkg import write_gpkg
from lifecircle.headline import with_headline
from lifecircle.inputs import Inputs
from lifecircle.naming import ALL
from lifecircle.notes import add_notes, note
from lifecircle.render.escape import gpkg_safe_frame, write_people_csv
from lifecircle.render.options import Presentation
from lifecircle.result import Result
from lifecircle.routing import PARALLEL_MIN_NODES

if TYPE_CHECKING:
    from lifecircle.sensitivity import Sensitivity
    from lifecircle.study import Study

log = logging.getLogger(__name__)

CACHE_FILE = "study_cache.pickle"  # lifecircle.study.CACHE_NAME, without importing the engine
SENSITIVITY_FILE = "sensitivity.csv"  # written with --sensitivity only

LEGACY_FILES = (  # what versions that wrote no marker wrote: counted as lifecircle's there
    "coverage.csv",
    "area_coverage.csv",
    "coverage.xlsx",
    "denominators.csv",
    "lifecircle.gpkg",
    "summary.json",
    "map.html",
    "coverage_map.png",
    "coverage_chart.png",
    "report.html",
)
OUTPUT_FILES = (*LEGACY_FILES, "tasks.csv", "tasks.xlsx")
OPTIONAL_FILES = ("capacity.csv",)  # written when some facilities carry a capacity


def output_count(*, study: bool) -> int:
    """How many times :func:`write_outputs` tells its ``progress``: one per file written, but
    once for the two task-list files, and once for the map, the figures and the saved study,
    which are written at the same time."""
    del study  # saved with the map and the figures
    return len(OUTPUT_FILES) - 3


@dataclass(frozen=True)
class MoreOutputs:
    """What a command adds to the outputs of a run (``lifecircle scenario``: its change table
    and the map layers of the change), written in the same staging folder so that all files
    arrive together or none does.

    Attributes
    ----------
    files
        The names of the files ``write`` writes (refused when a file of the user's has one).
    write
        Writes those files into the staging folder it is given; returns how many text cells of
        CSV files meant for people it quoted (counted in ``summary.json → text_cells``).
    map_layers
        Adds layers to the map (see :func:`lifecircle.render.maps.make_map`'s ``overlay``).
    summary
        Keys added to ``summary.json``.
    """

    files: tuple[str, ...] = ()
    write: Callable[[Path], int] | None = None
    map_layers: Callable[..., dict[str, int]] | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def input_paths(inputs: Inputs) -> list[tuple[str, Path]]:
    """``(option, path)`` of every input file of a run, for refusing an ``--out`` that holds
    one."""
    labelled: list[tuple[str, Path | str | None]] = [
        ("--osm", inputs.osm),
        ("--area", inputs.area),
        ("--communities", inputs.communities),
        ("--population", inputs.population),
        ("--code-table", inputs.code_table),
        ("--categories", inputs.categories),
        ("--walk-filter", inputs.walk_filter),
        ("--dem", inputs.dem),
        ("--compounds", inputs.compounds),
        ("--gates", inputs.gates_file),
        *(("--facilities", f) for f in inputs.facilities),
    ]
    if inputs.place is not None and Path(inputs.place).is_file():  # a polygon file
        labelled.append(("--place", inputs.place))
    return [(label, Path(p)) for label, p in labelled if p is not None]


def check_output_dir(
    out: Path,
    *,
    overwrite: bool,
    inputs: Inputs | None = None,
    more: tuple[str, ...] = (),
) -> None:
    """Refuse an output folder before the analysis: a path that is a file, a folder holding an
    input of the run, a non-empty folder unless ``overwrite``, a folder holding a file named
    like an output (or one of ``more``) that lifecircle did not write, or one that cannot be
    written."""
    fileio.check_out_folder(
        out,
        overwrite=overwrite,
        inputs=input_paths(inputs) if inputs is not None else (),
        names=(*OUTPUT_FILES, *OPTIONAL_FILES, *more),
        legacy=LEGACY_FILES,
    )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(inputs: Inputs) -> dict[str, Any]:
    """Path, SHA-256 and size of every input file."""
    files: dict[str, Any] = {}
    for label, p in [
        ("osm", inputs.osm),
        ("area", inputs.area),
        ("communities", inputs.communities),
        ("population", inputs.population),
        ("code_table", inputs.code_table),
        ("categories", inputs.categories),
        ("walk_filter", inputs.walk_filter),
        ("dem", inputs.dem),
        ("compounds", inputs.compounds),
        ("gates", inputs.gates_file),
    ] + [(f"facilities[{i}]", f) for i, f in enumerate(inputs.facilities)]:
        if p is not None:
            files[label] = {
                "path": str(p),
                "sha256": sha256(Path(p)),
                "bytes": Path(p).stat().st_size,
            }
    return files


def provenance(
    inputs: Inputs,
    settings: Settings,
    *,
    files: dict[str, Any] | None = None,
    presentation: Presentation | None = None,
) -> dict[str, Any]:
    """Where a run's inputs came from and with what it ran; ``files`` reuses digests already
    computed (the batch hashes a city's files once, not once per district)."""
    if files is None:
        files = input_files(inputs)
    versions: dict[str, str | None] = {}
    for pkg in (
        "lifecircle",
        "numpy",
        "scipy",
        "pandas",
        "shapely",
        "pyproj",
        "geopandas",
        "osmium",
        "osmnx",
        "networkx",
        "rasterio",
        "folium",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": files,
        "place": inputs.place,
        "options": {
            "facilities_crs": inputs.facilities_crs,
            "communities_crs": inputs.communities_crs,
            "population_crs": inputs.population_crs,
            "osm_facilities": inputs.osm_facilities,
            "id_column": inputs.id_column,
            "name_column": inputs.name_column,
            "categories_file": str(inputs.categories) if inputs.categories else None,
            "walk_filter_file": str(inputs.walk_filter) if inputs.walk_filter else None,
            "gates": inputs.gates if inputs.gates_on else "off",
            "gates_crs": inputs.gates_crs,
            "compounds_crs": inputs.compounds_crs,
        },
        "parameters": settings.as_dict(),
        "presentation": asdict(presentation or Presentation()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "attribution": "© OpenStreetMap contributors (ODbL 1.0)",
    }


def _finite(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            out[c] = out[c].replace([np.inf, -np.inf], np.nan)
    return out


def text_cleaning(*, csv_quoted: int, xlsx: int, gpkg: int) -> tuple[dict[str, int], list[str]]:
    """What was done to names so that each file shows them as text: the counts (summary.json's
    ``text_cells``) and a note for each kind of change that was made."""
    counts = {"csv_quoted": csv_quoted, "xlsx_cleaned": xlsx, "gpkg_nul_removed": gpkg}
    notes: list[str] = [note(key, count=n) for key, n in counts.items() if n]
    return counts, notes


def write_task_list(result: Result, folder: Path, *, settings: Settings, lang: str) -> int:
    """``tasks.csv`` and ``tasks.xlsx`` (:func:`lifecircle.tasks.build_tasks`) in ``folder``;
    returns how many CSV cells were quoted."""
    from lifecircle.render.tasksheet import write_tasks
    from lifecircle.tasks import build_tasks

    return write_tasks(build_tasks(result, settings, lang=lang), folder, lang=lang)["csv_quoted"]


def _write_tables(
    result: Result,
    tmp: Path,
    *,
    settings: Settings,
    lang: str,
    sensitivity: Sensitivity | None,
    more: MoreOutputs,
) -> tuple[int, list[str]]:
    """The CSV tables, a command's own files and the task list in ``tmp``; returns how many CSV
    cells were quoted and the names of the outputs (those written later included)."""
    quoted = write_people_csv(result.coverage, tmp / "coverage.csv")
    quoted += write_people_csv(result.area_coverage, tmp / "area_coverage.csv")
    quoted += write_people_csv(result.denominators, tmp / "denominators.csv")
    written = list(OUTPUT_FILES)
    if len(result.capacity):
        quoted += write_people_csv(result.capacity, tmp / "capacity.csv")
        written.append("capacity.csv")
    if sensitivity is not None:
        quoted += write_people_csv(sensitivity.table, tmp / SENSITIVITY_FILE)
        written.append(SENSITIVITY_FILE)
    if more.write is not None:
        quoted += more.write(tmp)
        written.extend(more.files)
    quoted += write_task_list(result, tmp, settings=settings, lang=lang)
    return quoted, written


def _write_layers(result: Result, gpkg: Path) -> int:
    """The layers of ``lifecircle.gpkg``; returns how many NUL characters were removed."""
    layers = {
        "communities": result.communities,
        "facilities": result.facilities,
        "residents": result.residents,
        "service_areas": result.service_areas,
        "gaps": result.gaps,
        **result.gate_layers,
    }
    nul = 0
    safe = {}
    for name, layer in layers.items():
        safe[name], n = gpkg_safe_frame(_finite(layer))
        nul += n
    write_gpkg(gpkg, safe)
    return nul


def _with_summary(
    result: Result,
    inputs: Inputs,
    settings: Settings,
    files: dict[str, Any] | None,
    shown: Presentation,
    sensitivity: Sensitivity | None,
) -> Result:
    """``result`` with the summary every output reads: provenance, headline and, with
    ``sensitivity``, its verdicts (the map and the report mark the uncertain ones)."""
    # the headline (verdict, warnings) is decided once, from the summary every output reads
    record = provenance(inputs, settings, files=files, presentation=shown)
    summary = with_headline(result.summary | {"provenance": record})
    if sensitivity is not None:  # the map and the report mark the uncertain verdicts
        clc = summary["complete_life_circle"]
        summary["sensitivity"] = sensitivity.summary(ALL, clc["profile"], clc["minutes"])
    return replace(result, summary=summary)


def _write_files(
    plain: Result,
    final: Result,
    tmp: Path,
    *,
    settings: Settings,
    shown: Presentation,
    sensitivity: Sensitivity | None,
    more: MoreOutputs,
    study: tuple[Study, str] | None,
    tell: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, float]]:
    """Every file but ``summary.json`` and the report in ``tmp``; returns what each task
    returned (``map``, ``cache``, ``gpkg``, ``xlsx``, ``tables``, ``figures``) and the seconds
    each took, with ``wall`` for all of them.

    The files are independent of each other (the map and the figures read nothing the tables
    add to the summary), so on large areas they are written by forked workers on the cores at
    once, the longest (the map, the saved study) first; ``tell`` is told each file's name as
    its writing starts (with workers: all at once). ``plain`` is the result the tables, the task
    list and the GeoPackage are written from; ``final`` adds the summary every drawing reads.
    """
    tasks = _output_tasks(
        plain,
        final,
        tmp,
        settings=settings,
        shown=shown,
        sensitivity=sensitivity,
        more=more,
        study=study,
    )
    large = int(final.summary.get("network", {}).get("nodes", 0)) >= PARALLEL_MIN_NODES
    return _run_tasks(tasks, processes=settings.processes if large else 1, tell=tell)


_Tasks = dict[str, tuple[tuple[str, ...], Callable[[], Any]]]


def _output_tasks(
    plain: Result,
    final: Result,
    tmp: Path,
    *,
    settings: Settings,
    shown: Presentation,
    sensitivity: Sensitivity | None,
    more: MoreOutputs,
    study: tuple[Study, str] | None,
) -> _Tasks:
    """The file-writing tasks of :func:`_write_files`, longest first: per task the names of
    the files it writes (told as it starts) and the call that writes them."""
    from lifecircle.render.figures import write_figures
    from lifecircle.render.maps import make_map
    from lifecircle.render.spreadsheet import write_xlsx
    from lifecircle.study import study_cache

    summary = final.summary
    drawn = "map.html, coverage_map.png, coverage_chart.png" + (f", {CACHE_FILE}" if study else "")
    tasks: _Tasks = {
        "map": (
            (drawn,),
            lambda: make_map(
                final,
                tmp / "map.html",
                target=settings.target,
                lang=shown.lang,
                tiles=shown.tiles,
                offline=shown.offline,
                overlay=more.map_layers,
            ),
        )
    }
    if study is not None:
        saved = study
        tasks["cache"] = ((), lambda: saved[0].save(study_cache(tmp), key=saved[1]))
    tasks["gpkg"] = (("lifecircle.gpkg",), lambda: _write_layers(plain, tmp / "lifecircle.gpkg"))
    tasks["xlsx"] = (
        ("coverage.xlsx",),
        lambda: write_xlsx(final, tmp / "coverage.xlsx", target=settings.target, lang=shown.lang),
    )
    tasks["tables"] = (
        ("coverage.csv", "area_coverage.csv", "denominators.csv", "tasks.xlsx"),
        lambda: _write_tables(
            plain, tmp, settings=settings, lang=shown.lang, sensitivity=sensitivity, more=more
        ),
    )
    tasks["figures"] = (
        (),
        lambda: write_figures(
            tmp,
            communities=final.communities,
            area_coverage=final.area_coverage,
            summary=summary,
            target=settings.target,
            lang=shown.lang,
        ),
    )
    return tasks


def _run_tasks(
    tasks: _Tasks, *, processes: int, tell: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Runs ``tasks`` (forked on ``processes`` workers when more than one), telling each
    task's file names as it starts; returns what each returned, and how long each took with
    (``"wall"``) all of them together."""
    order = list(tasks)
    started = 0

    def start_next(_done: str | None = None) -> None:
        nonlocal started
        if started < len(order):
            for name in tasks[order[started]][0]:
                tell(name)
            started += 1

    # with workers every file is started at once (a worker takes the next as it is free)
    for _ in range(len(order) if processes > 1 and has_fork() else 1):
        start_next()

    def timed(key: str) -> tuple[Any, float]:
        t0 = time.perf_counter()
        return tasks[key][1](), time.perf_counter() - t0

    t0 = time.perf_counter()
    results = forked_map(timed, order, processes=processes, done=start_next)
    seconds = {k: round(s, 4) for k, (_, s) in zip(order, results, strict=True)}
    seconds["wall"] = round(time.perf_counter() - t0, 4)
    return {k: r for k, (r, _) in zip(order, results, strict=True)}, seconds


def write_outputs(  # noqa: PLR0913  (keyword-only options, each an optional part of a run)
    result: Result,
    out: Path,
    *,
    inputs: Inputs,
    settings: Settings,
    presentation: Presentation | None = None,
    overwrite: bool,
    files: dict[str, Any] | None = None,
    extra: dict[str, Any] | MoreOutputs | None = None,
    study: tuple[Study, str] | None = None,
    progress: Callable[[str], None] | None = None,
    sensitivity: Sensitivity | None = None,
) -> dict[str, Any]:
    """Write every output into ``out``, replacing only an earlier run's outputs there.

    Nothing in ``out`` changes until every file is complete; then the files listed by the
    folder's marker (``.lifecircle-outputs.json``; in a folder of an older version, the
    :data:`LEGACY_FILES`) are replaced and any other file is left alone. A folder holding an
    input of the run is refused. Returns the summary that was written.

    ``study`` (a study and its :func:`~lifecircle.study.study_key`) is saved with the outputs
    (``study_cache.pickle``) so that a later command on the folder need not read the inputs
    again. ``progress`` is told each file's name as its writing starts (see
    :func:`output_count` for how many there are). ``sensitivity``
    (:meth:`~lifecircle.study.Study.sensitivity`) is written as ``sensitivity.csv``, and the
    map and the report mark the communities whose verdict it finds uncertain.
    ``extra`` holds keys added to ``summary.json``, or a :class:`MoreOutputs`: the files,
    map layers and summary keys a command adds (``lifecircle scenario``).

    Raises
    ------
    lifecircle.errors.OutputError
        ``out`` cannot take the outputs or cannot be written (full disk, read-only); ``out``
        is then left exactly as it was.
    """
    from lifecircle.render.report import render_report

    shown = presentation or Presentation()
    tell = progress or (lambda _name: None)
    more = extra if isinstance(extra, MoreOutputs) else MoreOutputs(summary=dict(extra or {}))
    extra_files = (SENSITIVITY_FILE,) if sensitivity is not None else ()
    check_output_dir(out, overwrite=overwrite, inputs=inputs, more=(*more.files, *extra_files))
    stage = fileio.staged_outputs(
        out, overwrite=overwrite, inputs=input_paths(inputs), legacy=LEGACY_FILES
    )
    with stage as tmp:  # the private folder of the new files; moved in when all are written
        final = _with_summary(result, inputs, settings, files, shown, sensitivity)
        summary = final.summary
        done, seconds = _write_files(
            result,
            final,
            tmp,
            settings=settings,
            shown=shown,
            sensitivity=sensitivity,
            more=more,
            study=study,
            tell=tell,
        )
        quoted, written = done["tables"]
        counts, notes = text_cleaning(
            csv_quoted=quoted, xlsx=done["xlsx"]["cleaned_cells"], gpkg=done["gpkg"]
        )
        summary["text_cells"] = counts
        add_notes(summary, notes)
        summary["map"], summary["figures"] = done["map"], done["figures"]
        # per file-writing task, forked workers side by side: "wall" is what the user waited
        summary["output_timings_s"] = seconds
        summary.update(more.summary)
        summary["outputs"] = [*written, *([CACHE_FILE] if study is not None else [])]
        tell("summary.json")
        fileio.write_text(
            tmp / "summary.json", json.dumps(jsonable(summary), ensure_ascii=False, indent=2)
        )
        tell("report.html")
        render_report(tmp, lang=shown.lang)  # built from what was just written
    log.info("wrote %s", out)
    return summary
