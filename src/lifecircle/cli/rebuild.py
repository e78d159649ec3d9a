"""``lifecircle map`` and ``lifecircle report``: rebuild map.html or report.html from an existing
output folder without rerunning the analysis (for example in the other language)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from lifecircle.cli import options as opt
from lifecircle.cli.main import app, run_guarded
from lifecircle.outputs import default_mode
from lifecircle.render.maps import load_outputs, make_map
from lifecircle.render.report import render_report


def _replace(out: Path, name: str, write: Callable[[Path], object]) -> Path:
    """Write ``out/name`` through a temporary file, so a failure leaves the old file whole."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
    os.close(fd)
    try:
        write(Path(tmp))
        default_mode(Path(tmp))
        os.replace(tmp, out / name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out / name


def _rebuild(out: Path, lang: str) -> Path:
    """The figures (drawn in ``lang``), then the report that shows them."""
    import pandas as pd

    from lifecircle.render.figures import FIGURES, write_figures

    run = load_outputs(out)
    area = pd.read_csv(out / "area_coverage.csv", encoding="utf-8-sig")
    with tempfile.TemporaryDirectory(prefix=".figures-", dir=out) as tmp:
        drawn = write_figures(
            Path(tmp),
            communities=run.communities,
            area_coverage=area,
            summary=run.summary,
            target=float(run.summary["complete_life_circle"]["target"]),
            lang=lang,
        )
        for name in FIGURES:  # each replaced whole, as the report below
            default_mode(Path(tmp) / name)
            os.replace(Path(tmp) / name, out / name)
    return _replace(
        out,
        "report.html",
        lambda p: render_report(out, lang=lang, dest=p, figures_lang=drawn["lang"]),
    )


def _rebuild_maps(out: Path, lang: str, tiles: str, offline: bool) -> list[Path]:
    """map.html of an analysis folder; of a batch folder, every finished district's map.html
    and then city_map.html (drawn from the manifest and the district outlines)."""
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
        typer.echo(f"note: {note}", err=True)
    target = float(manifest["parameters"]["settings"]["target"])
    written.append(
        _replace(
            out,
            "city_map.html",
            lambda p: make_city_map(
                p, dists, records, target=target, lang=lang, tiles=tiles, offline=offline
            ),
        )
    )
    return written


def _rebuild_map(out: Path, lang: str, tiles: str, offline: bool) -> Path:
    run = load_outputs(out)
    target = float(run.summary["complete_life_circle"]["target"])
    return _replace(
        out,
        "map.html",
        lambda p: make_map(run, p, target=target, lang=lang, tiles=tiles, offline=offline),
    )


@app.command("report")
def report_cmd(
    out: Annotated[Path, typer.Argument(help="An output folder written by `lifecircle analyze`.")],
    lang: opt.Lang = "zh",
) -> None:
    """Rebuild report.html and its figures from an output folder without recomputing the
    analysis (for example in the other language)."""
    from lifecircle.errors import InputError

    if not out.is_dir():
        run_guarded(_fail, InputError(f"{out}: no such output folder; give the --out of a run"))
    path = run_guarded(_rebuild, out, lang)
    typer.echo(f"Wrote {path}")


def _fail(exc: Exception) -> None:
    raise exc


@app.command("map")
def map_cmd(
    out: Annotated[
        Path,
        typer.Argument(
            help="An output folder written by `lifecircle analyze`, or a `lifecircle batch` "
            "folder (every district's map.html and city_map.html are rebuilt)."
        ),
    ],
    lang: opt.Lang = "zh",
    tiles: opt.Tiles = "osm",
    offline: opt.Offline = True,
) -> None:
    """Rebuild map.html from an output folder without recomputing the analysis (for example
    on another basemap, or --cdn); of a batch folder, every district's map and the city map."""
    from lifecircle.errors import InputError

    if not out.is_dir():
        run_guarded(_fail, InputError(f"{out}: no such output folder; give the --out of a run"))
    paths = run_guarded(_rebuild_maps, out, lang, tiles, offline)
    if len(paths) > 1:
        typer.echo(f"Wrote {len(paths) - 1} district maps under {out}")
    typer.echo(f"Wrote {paths[-1]}")
