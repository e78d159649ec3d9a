"""``lifecircle map`` and ``lifecircle report``: rebuild map.html or report.html from an existing
output folder without rerunning the analysis (for example in the other language)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from lifecircle.cli import options as opt
from lifecircle.cli.guard import run_guarded
from lifecircle.display import printable
from lifecircle.errors import InputError


def _update(out: Path, build: Callable[[Path], object]) -> None:
    """Replace the files ``build`` writes among the run's outputs in ``out``, all at once; the
    other outputs and every file of the user's stay as they are, also on a failure."""
    from lifecircle.fileio import replace_outputs  # the engine loads when a command runs
    from lifecircle.outputs import LEGACY_FILES

    replace_outputs(
        out, build, overwrite=True, update=True, legacy=LEGACY_FILES, option="output folder"
    )


def _rebuild(out: Path, lang: str) -> Path:
    """The figures (drawn in ``lang``), then the report that shows them."""
    from lifecircle.fileio import write_json
    from lifecircle.render.figures import write_figures
    from lifecircle.render.maps import SUMMARY_PARTS, check_summary, load_outputs
    from lifecircle.render.report import read_report_inputs, render_report

    run = load_outputs(out)
    check_summary(out, run.summary, SUMMARY_PARTS)  # the report reads every part
    tables = read_report_inputs(out)  # what the report reads, checked before any drawing
    summary, _, area, _ = tables

    def build(tmp: Path) -> None:
        drawn = write_figures(
            tmp,
            communities=run.communities,
            area_coverage=area,
            summary=run.summary,
            target=float(run.summary["complete_life_circle"]["target"]),
            lang=lang,
        )
        render_report(
            out, lang=lang, dest=tmp / "report.html", figures_lang=drawn["lang"], inputs=tables
        )
        # summary.json says how the figures are drawn now (their language, the font found)
        write_json(tmp / "summary.json", {**summary, "figures": drawn})

    _update(out, build)
    return out / "report.html"


def _rebuild_map(out: Path, lang: str, tiles: str, offline: bool) -> Path:
    from lifecircle.render.change import overlay
    from lifecircle.render.maps import load_outputs, make_map

    run = load_outputs(out)
    target = float(run.summary["complete_life_circle"]["target"])
    extra = overlay(out)  # a scenario's folder keeps its change layers
    _update(
        out,
        lambda tmp: make_map(
            run,
            tmp / "map.html",
            target=target,
            lang=lang,
            tiles=tiles,
            offline=offline,
            overlay=extra,
        ),
    )
    return out / "map.html"


def _rebuild_maps(out: Path, lang: str, tiles: str, offline: bool) -> list[Path]:
    """map.html of an analysis folder; of a batch folder, every finished district's map.html
    and then city_map.html (drawn from the manifest and the district outlines)."""
    from lifecircle.fileio import atomic_write
    from lifecircle.render.batchmaps import (
        district_folders,
        is_batch_folder,
        load_districts,
        read_manifest,
    )
    from lifecircle.render.citymap import make_city_map

    if not is_batch_folder(out):
        return [_rebuild_map(out, lang, tiles, offline)]
    manifest = read_manifest(out)
    records = manifest.get("districts", {})
    written = [
        _rebuild_map(folder, lang, tiles, offline) for folder in district_folders(out, records)
    ]
    dists, notes = load_districts(out, manifest)
    for note in notes:
        typer.echo(f"note: {printable(note)}", err=True)
    target = float(manifest["parameters"]["settings"]["target"])
    atomic_write(
        out / "city_map.html",
        lambda p: make_city_map(
            p, dists, records, target=target, lang=lang, tiles=tiles, offline=offline
        ),
    )
    written.append(out / "city_map.html")
    return written


def report_cmd(
    out: opt.OutFolder,
    lang: opt.ReportLang = "zh",
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """Rebuild report.html and its figures from an output folder without recomputing the
    analysis (for example in the other language)."""
    if not out.is_dir():
        run_guarded(_fail, InputError(f"{out}: no such output folder; give the --out of a run"))
    if (out / "batch_manifest.json").is_file():  # MANIFEST, without importing the engine
        run_guarded(
            _fail,
            InputError(
                f"{out}: a `lifecircle batch` folder, which has a report per district: give a "
                f"district's folder (e.g. lifecircle report {out / '<district>'}); "
                f"`lifecircle map {out}` redraws the city map and every district's map"
            ),
        )
    path = run_guarded(_rebuild, out, lang)
    typer.echo(f"Wrote {path}")


def _fail(exc: Exception) -> None:
    raise exc


def map_cmd(
    out: Annotated[
        Path,
        typer.Argument(
            help="An output folder written by `lifecircle analyze`, or a `lifecircle batch` "
            "folder (every district's map.html and city_map.html are rebuilt)."
        ),
    ],
    lang: opt.MapLang = "zh",
    tiles: opt.Tiles = "osm",
    offline: opt.Offline = True,
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """Rebuild map.html from an output folder without recomputing the analysis (for example
    on another basemap, or --cdn); of a batch folder, every district's map and the city map."""
    if not out.is_dir():
        run_guarded(_fail, InputError(f"{out}: no such output folder; give the --out of a run"))
    paths = run_guarded(_rebuild_maps, out, lang, tiles, offline)
    if len(paths) > 1:
        typer.echo(f"Wrote {len(paths) - 1} district maps under {out}")
    typer.echo(f"Wrote {paths[-1]}")
