"""``lifecircle batch``: every district of a city, on a dask.distributed cluster."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lifecircle.cli import options as opt
from lifecircle.cli.guard import run_guarded
from lifecircle.config import DEFAULT_MAX_SNAP_M, make_settings
from lifecircle.display import console_text
from lifecircle.headline import status_cell
from lifecircle.i18n import t
from lifecircle.inputs import Inputs

if TYPE_CHECKING:
    from lifecircle.batch import BatchResult, Cluster
    from lifecircle.config import Settings
    from lifecircle.render.options import Presentation

console = Console(stderr=True, soft_wrap=True)


Districts = Annotated[
    Path,
    typer.Option(
        help="District polygons: one file with a feature per district (id and name columns), "
        "or a folder with a file per district (named by its code).",
    ),
]
BatchOut = Annotated[
    Path,
    typer.Option(
        help="Output folder: a subfolder per district (the files of `analyze --out`), "
        "city_coverage.csv, city_summary.json, city_map.html and batch_manifest.json (a "
        "rerun resumes from it), and _cache/ (the prepared city, unless --cache-dir).",
    ),
]
Places = Annotated[
    Path | None,
    typer.Option(
        help="Instead of --osm: fetch the city online once, for a polygon file or a text file "
        "of place names (one per line); needs the internet.",
    ),
]
DistrictIdColumn = Annotated[
    str | None,
    typer.Option(help="Column holding the district code (default: code, adcode, id…)."),
]
DistrictNameColumn = Annotated[
    str | None, typer.Option(help="Column holding the district name (default: name…).")
]
DistrictsCrs = Annotated[
    str | None,
    typer.Option(
        help="CRS of the districts when the file states none (e.g. EPSG:4326), or gcj02 / bd09."
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Address of a running dask scheduler (tcp://host:8786). Default: a local cluster "
        "on this machine.",
    ),
]
Workers = Annotated[
    int | None, typer.Option(min=1, help="Local cluster size (default: one per core).")
]
MemoryLimit = Annotated[
    str, typer.Option(help="Memory per local worker, e.g. 6GB (default: RAM / workers).")
]
Retries = Annotated[
    int,
    typer.Option(
        min=0,
        help="Times a district may kill its worker before it is recorded as failed (local "
        "cluster; with --scheduler the scheduler's allowed-failures setting counts).",
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        help="Where the prepared city is kept (default: OUT/_cache); share it between runs."
    ),
]
Force = Annotated[
    bool,
    typer.Option(help="Recompute every district, also in a folder made with other parameters."),
]

_INTERRUPTED = "interrupted: finished districts are kept; run the same command again to resume"


def batch_cmd(
    ctx: typer.Context,
    districts: Districts,
    out: BatchOut,
    osm: opt.Osm = None,
    places: Places = None,
    district_id_column: DistrictIdColumn = None,
    district_name_column: DistrictNameColumn = None,
    districts_crs: DistrictsCrs = None,
    communities: opt.Communities = None,
    communities_crs: opt.CommunitiesCrs = None,
    id_column: opt.IdColumn = "id",
    name_column: opt.NameColumn = "name",
    admin_level: opt.AdminLevel = None,
    population: opt.Population = None,
    population_crs: opt.PopulationCrs = None,
    dem: opt.Dem = None,
    facilities: opt.Facilities = None,
    facilities_crs: opt.FacilitiesCrs = None,
    no_osm_facilities: opt.NoOsmFacilities = False,
    preset: opt.Preset = None,
    target: opt.Target = None,
    max_snap_m: opt.MaxSnap = DEFAULT_MAX_SNAP_M,
    grid_cell_m: opt.GridCell = 500.0,
    categories: opt.Categories = None,
    walk_filter: opt.WalkFilter = None,
    encoding: opt.Encoding = None,
    lang: opt.Lang = "zh",
    tiles: opt.Tiles = "osm",
    offline: opt.Offline = True,
    age_share: opt.AgeShare = None,
    scheduler: Scheduler = None,
    workers: Workers = None,
    memory_limit: MemoryLimit = "auto",
    retries: Retries = 2,
    cache_dir: CacheDir = None,
    force: Force = False,
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """Analyse every district of a city: the city file is read once, one task per district runs
    on dask.distributed, and a rerun skips districts that are already done."""
    from lifecircle.batch import run_batch  # dask: loaded when a batch runs

    quiet = ctx.obj["quiet"]
    inputs = Inputs(
        osm=osm,
        place=str(places) if places else None,
        communities=communities,
        communities_crs=communities_crs,
        id_column=id_column,
        name_column=name_column,
        population=population,
        population_crs=population_crs,
        dem=dem,
        facilities=tuple(facilities or ()),
        facilities_crs=facilities_crs,
        osm_facilities=not no_osm_facilities,
        categories=categories,
        walk_filter=walk_filter,
        encoding=encoding,
        age_share=age_share,
    )
    batch = partial(
        run_batch,
        inputs,
        districts_path=districts,
        out=out,
        cluster=_cluster(scheduler, workers, memory_limit, retries, ctx.obj["verbose"]),
        force=force,
        district_id_column=district_id_column,
        district_name_column=district_name_column,
        districts_crs=districts_crs,
        cache_dir=cache_dir,
    )
    settings = partial(_settings, preset, target, max_snap_m, admin_level, grid_cell_m)
    shown = partial(_presentation, lang, tiles, offline)
    # Ctrl-C or a job scheduler's SIGTERM: exit 130, finished districts kept
    result = run_guarded(_run, batch, settings, shown, quiet, on_interrupt=_INTERRUPTED)
    _report(result, out, lang=lang, quiet=quiet)


def _cluster(
    scheduler: str | None, workers: int | None, memory_limit: str, retries: int, verbose: int
) -> Cluster:
    """Where the districts run; dask's own lines (scheduler, nanny, workers) only when asked for."""
    from lifecircle.batch import Cluster

    return Cluster(
        scheduler=scheduler,
        workers=workers,
        memory_limit=memory_limit,
        retries=retries,
        log_level={0: "error", 1: "info"}.get(verbose, "debug"),
    )


def _settings(
    preset: str | None,
    target: float | None,
    max_snap_m: float,
    admin_level: str | None,
    grid_cell_m: float,
) -> Settings:
    """The analysis settings of the options."""
    return make_settings(
        preset,
        target=target,
        max_snap_m=max_snap_m,
        admin_level=admin_level,
        grid_cell_m=grid_cell_m,
    )


def _presentation(lang: str, tiles: str, offline: bool) -> Presentation:
    """How the maps and reports are shown."""
    from lifecircle.render.options import Presentation

    return Presentation(lang=lang, tiles=tiles, offline=offline)


def _run(
    batch: Callable[..., BatchResult],
    settings: Callable[[], Settings],
    shown: Callable[[], Presentation],
    quiet: bool,
) -> BatchResult:
    """Run the batch with its progress shown: districts done / all, failed, elapsed and time
    left: bars on a terminal, plain lines elsewhere, nothing with -q."""
    from lifecircle.cli import logs
    from lifecircle.display import display_for

    made = settings()
    with display_for(logs.err, quiet=quiet) as display:
        return batch(made, presentation=shown(), progress=display)


def _report(result: BatchResult, out: Path, *, lang: str, quiet: bool) -> None:
    """The districts' table and the city's line (unless -q); exit 1 naming the failed ones."""
    summary = result.summary
    failed = result.failed
    tot = summary["totals"]
    if not quiet:
        print_status_table(summary, lang=lang)
        cov = tot["complete_life_circle_coverage"]
        console.print(
            f"{summary['ok']} of {summary['districts']} districts done "
            f"({summary['districts_skipped_unchanged']} unchanged from an earlier run); "
            + (
                f"complete life circle {cov:.1%} of {tot['residents']:,.0f} "
                + _unit(tot.get("districts_counting_area_samples") or 0, summary["ok"])
                + "; "
                if cov is not None
                else ""
            )
            + f"wrote {console_text(out)}/",
            highlight=False,
        )
    overlaps = summary.get("district_overlaps") or []
    if overlaps:  # warned even with -q: the city's totals count these residents twice
        pairs = "; ".join(
            f"{console_text(a)} / {console_text(b)} ({o['overlap_m2'] / 1e6:.2f} km²)"
            for o in overlaps[:5]
            for a, b in [o["districts"]]
        )
        more = f"; … ({len(overlaps)} pairs)" if len(overlaps) > 5 else ""
        console.print(
            f"[bold yellow]{t('warning', lang)}:[/] districts overlap: {pairs}{more}. Residents "
            "and facilities there count in both districts, and twice in the city's totals "
            "(city_summary.json → district_overlaps); give districts that do not overlap",
            highlight=False,
        )
    if failed:
        for k in failed:
            error = console_text(result.districts[k].get("error", ""))
            console.print(f"[red]failed[/] {console_text(k)}: {error}", highlight=False)
        raise typer.Exit(1)


def print_status_table(summary: dict[str, Any], *, lang: str) -> None:
    """One row per district: status (``ok``, ``ok ⚠`` with its warnings, or failed), the
    complete life circle and residents; a finished district with warnings is never plain ok."""
    table = Table(title=None, show_edge=False, pad_edge=False)
    for name, justify in (("id", "left"), ("name", "left"), ("status", "left"),
                          ("complete life circle", "right"), ("residents", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for k, rec in summary["per_district"].items():
        status = status_cell(str(rec.get("status")), rec.get("warnings") or [], lang)
        cov = rec.get("complete_life_circle")
        colour = "red" if rec.get("status") != "ok" else ("yellow" if rec.get("warning") else "")
        table.add_row(
            console_text(str(k)),
            console_text(str(rec.get("name") or "")),
            f"[{colour}]{console_text(status)}[/]" if colour else console_text(status),
            f"{cov:.1%}" if cov is not None else "–",
            (
                f"{float(rec.get('residents') or 0):,.0f}"
                + (
                    f" ({t('unit_area_samples', lang)})"
                    if rec.get("counts") == "area_samples"
                    else ""
                )
            )
            if rec.get("status") == "ok"
            else "",
        )
    console.print(table)
    n = summary["totals"].get("districts_with_warnings") or 0
    if n:
        console.print(f"[yellow]{console_text(t('districts_with_warnings', lang).format(n=n))}[/]")


def _unit(n_samples: int, n_ok: int) -> str:
    """What a city total counts: districts without population data count area samples."""
    if not n_samples:
        return "residents"
    return "area samples" if n_samples >= n_ok else "residents and area samples"


def _raise(exc: Exception) -> None:
    raise exc
