"""Options shared by the commands: one definition each, with the help text users read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lifecircle.cli.logs import merge


def _verbose(ctx: typer.Context, value: int) -> int:
    merge(ctx.ensure_object(dict), verbose=value)
    return value


def _quiet(ctx: typer.Context, value: bool) -> bool:
    merge(ctx.ensure_object(dict), quiet=value)
    return value


# accepted before the command (the group's) and after it (every command's); they add up
Verbose = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        show_default=False,
        callback=_verbose,
        help="More log output: -v adds the cluster's messages (batch), -vv debug output and "
        "tracebacks.",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option("--quiet", "-q", callback=_quiet, help="Only warnings and errors; no progress."),
]
Osm = Annotated[
    Path | None,
    typer.Option("--osm", help="Local OpenStreetMap file: .osm, .osm.xml, .osm.bz2 or .osm.pbf."),
]
Place = Annotated[
    str | None,
    typer.Option(
        "--place",
        help="Place name, or a polygon file (GeoJSON, GeoPackage), to fetch online through osmnx "
        "(Nominatim + Overpass, osmnx's cache); needs the internet.",
    ),
]
Out = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Output folder. Written: coverage.csv, area_coverage.csv, denominators.csv, "
        "coverage.xlsx, lifecircle.gpkg, summary.json, map.html, coverage_map.png, "
        "coverage_chart.png, report.html, the task list tasks.csv and tasks.xlsx, "
        "capacity.csv when facility lists give capacities, and sensitivity.csv with "
        "--sensitivity (README → Outputs says what each holds).",
    ),
]
Communities = Annotated[
    Path | None,
    typer.Option(
        help="Community polygons (GeoJSON, GeoPackage, Shapefile) with id and name columns. "
        "Without it, OSM admin boundaries or a grid are used.",
    ),
]
CommunitiesCrs = Annotated[
    str | None,
    typer.Option(
        help="CRS of the communities file when it states none (e.g. EPSG:4326), or gcj02 / bd09."
    ),
]
Gates = Annotated[
    str | None,
    typer.Option(
        "--gates",
        help="Compound gates: residents inside a gated compound (小区) leave it only through "
        "its gates. 'off' (the default: no gates), 'osm' (gates mapped in OpenStreetMap), or a "
        "file of gate points (CSV with lon,lat or a point layer; optional compound_id). "
        "Compounds without a known gate get assumed gates where walkways meet their boundary.",
    ),
]
GatesCrs = Annotated[
    str | None,
    typer.Option(help="CRS of the --gates file when it states none, or gcj02 (Amap) / bd09."),
]
Compounds = Annotated[
    Path | None,
    typer.Option(
        help="Gated compound polygons with a compound_id (or id) column, used with --gates; "
        "without it, compounds are OSM's landuse=residential areas and closed walls / fences.",
    ),
]
CompoundsCrs = Annotated[
    str | None,
    typer.Option(help="CRS of the --compounds file when it states none, or gcj02 / bd09."),
]
IdColumn = Annotated[
    str, typer.Option(help="Column of the communities file holding the id (kept as text).")
]
NameColumn = Annotated[
    str, typer.Option(help="Column of the communities file holding the community name.")
]
AdminLevel = Annotated[
    str | None,
    typer.Option(
        help="OSM admin_level used as communities when no file is given "
        "(default: the finest level present).",
    ),
]
Population = Annotated[
    Path | None,
    typer.Option(
        help="Residents: a GeoTIFF of people per cell (any CRS), or points (CSV lon,lat,weight; "
        "GeoJSON/GeoPackage with 'weight'). Default: OSM residential buildings, floor area as "
        "an estimate.",
    ),
]
Dem = Annotated[
    Path | None,
    typer.Option(
        "--dem",
        metavar="FILE",
        help="Elevations (GeoTIFF in metres, any CRS): walking times follow the slope by "
        "Tobler's hiking function, uphill and downhill apart; bridges and tunnels keep the "
        "elevations of their ends. Default: flat ground.",
    ),
]
PopulationCrs = Annotated[
    str | None,
    typer.Option(help="CRS of a population points file (CSV default EPSG:4326), or gcj02 / bd09."),
]
Facilities = Annotated[
    list[Path] | None,
    typer.Option(
        "--facilities",
        metavar="FILE",
        help="Facility list (CSV id,category,name,lon,lat; GeoJSON; GeoPackage). Repeatable. "
        "Categories outside the taxonomy are analysed at every tier.",
    ),
]
FacilitiesCrs = Annotated[
    str | None,
    typer.Option(
        help="Coordinates of the facility files: EPSG:4326 (default), any EPSG code, or gcj02 "
        "(Amap, Tencent) / bd09 (Baidu), converted to WGS 84."
    ),
]
NoOsmFacilities = Annotated[
    bool,
    typer.Option(
        "--no-osm-facilities", help="Use only facilities from --facilities files, none from OSM."
    ),
]
Preset = Annotated[
    str | None,
    typer.Option(
        help="The standard to judge by: default, gb50180, tdt1062, shanghai or shanghai-2035, or "
        "the path of your own preset .toml (thresholds, tiers, speeds, basket, target). "
        "`lifecircle presets` shows them; `lifecircle presets shanghai --toml > my.toml` "
        "copies one to edit. Default: default.",
    ),
]
Target = Annotated[
    float | None,
    typer.Option(
        help="Share of residents that must be covered, in (0, 1]; default: the preset's (85 %, "
        "99 % in shanghai-2035)."
    ),
]
MaxSnap = Annotated[
    float,
    typer.Option(
        help="Points farther than this (metres) from every walkable edge are off-network."
    ),
]
GridCell = Annotated[float, typer.Option(help="Cell size (metres) of the fallback grid.")]
Categories = Annotated[
    Path | None,
    typer.Option(help="Your own facility taxonomy (TOML) instead of the shipped one."),
]
WalkFilter = Annotated[
    Path | None,
    typer.Option(help="Your own walkable-way rules (TOML) instead of the shipped one."),
]
Encoding = Annotated[
    str | None,
    typer.Option(
        help="Text encoding of CSV inputs (default: detect UTF-8, UTF-8 with BOM or GB18030/GBK)."
    ),
]
Lang = Annotated[
    str,
    typer.Option(
        help="Language of everything people read: report, map, spreadsheets, task list, "
        "figures and notes: zh or en (CSV column keys never change; tasks.csv, a list for "
        "people, has its headers in the language)."
    ),
]
ReportLang = Annotated[
    str,
    typer.Option(
        "--lang", help="Language of report.html and its figures (text, labels, notes): zh or en."
    ),
]
MapLang = Annotated[
    str, typer.Option("--lang", help="Language of map.html's labels and legend: zh or en.")
]
OutFolder = Annotated[
    Path,
    typer.Argument(
        help="An output folder written by `lifecircle analyze` (or a district's folder of "
        "`lifecircle batch`)."
    ),
]
CodeTable = Annotated[
    Path | None,
    typer.Option(
        help="A table of community codes (CSV with a 12-digit 'code' column, e.g. the statistics "
        "bureau's list) to report committees without polygon or residents, and unknown codes."
    ),
]
AgeShare = Annotated[
    str | None,
    typer.Option(
        help="Share of residents aged 60+ (one value such as 0.23, or a column of the "
        "communities file): adds age-weighted rows that use the elderly walking speed for them."
    ),
]
Overwrite = Annotated[
    bool,
    typer.Option(
        help="Write into a non-empty --out folder: replace the outputs of an earlier run there "
        "(other files are kept; a folder holding an input is refused)."
    ),
]
Area = Annotated[
    Path | None,
    typer.Option(
        help="Polygon file limiting the analysis to one district of a larger --osm extract; "
        "communities (file or OSM boundaries) whose inner point lies in it are analysed.",
    ),
]
AreaCrs = Annotated[
    str | None, typer.Option(help="CRS of the --area file when it states none, or gcj02 / bd09.")
]
Tiles = Annotated[
    str,
    typer.Option(
        help="Map basemap: osm, none, gaode (Amap; overlays are shifted to GCJ-02 for display "
        "only) or any xyzservices name such as Esri.WorldGrayCanvas.",
    ),
]
Offline = Annotated[
    bool,
    typer.Option(
        "--offline/--cdn",
        help="--offline (the default; kept for old scripts) inlines the map's scripts and styles "
        "so it opens with no network: only basemap tiles are fetched, none with --tiles none. "
        "--cdn links them from a CDN instead: a smaller page that needs the internet.",
    ),
]
Sensitivity = Annotated[
    bool,
    typer.Option(
        "--sensitivity",
        help="Also write sensitivity.csv: each community's coverage over a band of walking speed, "
        "snapping limit and facility completeness, and whether its verdict holds over the band "
        "(the map and report mark those that do not). README: How sure is each verdict.",
    ),
]
SpeedBand = Annotated[
    float | None,
    typer.Option(
        "--speed-band",
        help="With --sensitivity: ± m/s on every walking speed (default: the preset's "
        "speed_band_m_s, 0.1 in the shipped presets).",
    ),
]
SnapBand = Annotated[
    float | None,
    typer.Option(
        "--snap-band",
        help="With --sensitivity: the snapping limit is tried at × (1 − band) and × (1 + band) "
        "(default 0.5: 100 and 300 m around --max-snap-m 200).",
    ),
]
Dropout = Annotated[
    float | None,
    typer.Option(
        "--dropout",
        help="With --sensitivity: the probability that each facility is missing from the data, "
        "in [0, 1) (default 0.1).",
    ),
]
DropoutRuns = Annotated[
    int | None,
    typer.Option(
        "--dropout-runs",
        help="With --sensitivity: how many random dropouts to try, with the fixed seeds 0, 1, … "
        "(default 10).",
    ),
]
Crossings = Annotated[
    bool | None,
    typer.Option(
        "--crossings/--no-crossings",
        help="Charge a wait (seconds, the preset's [crossings]: 45 s at signals, 15 s elsewhere "
        "by default) each time a walk crosses a primary, secondary or trunk road; distances "
        "become metres-equivalent. Default: the preset's choice (off in the shipped presets). "
        "README: Crossing delays.",
    ),
]
