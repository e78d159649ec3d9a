"""``lifecircle scenario``: what if facilities open, close or move — the analysis of an output
folder with its facilities changed, without reading the inputs again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from lifecircle.cli import options as opt
from lifecircle.cli.guard import run_guarded
from lifecircle.display import console_text
from lifecircle.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd

    from lifecircle.scenario import Scenario

out_console = Console(stderr=True, soft_wrap=True)

Add = Annotated[
    list[Path] | None,
    typer.Option(
        "--add",
        metavar="FILE",
        help="Facilities to add, in any format analyze's --facilities takes (CSV id,category,"
        "name,lon,lat; GeoJSON; GeoPackage). Repeatable. Moving a facility: --remove its id "
        "and --add it at the new place.",
    ),
]
Remove = Annotated[
    list[Path] | None,
    typer.Option(
        "--remove",
        metavar="FILE",
        help="Facilities to remove: a CSV with a facility_id column, or one facility_id per "
        "line, as in the facilities layer of OUT/lifecircle.gpkg. Repeatable.",
    ),
]
AddCrs = Annotated[
    str | None,
    typer.Option(
        help="Coordinates of the --add files: EPSG:4326, any EPSG code, gcj02 or bd09. "
        "Default: the analysis's --facilities-crs (WGS 84 when it had none)."
    ),
]
ScenarioOut = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Folder for the scenario: every output of analyze for the changed facilities, plus "
        "coverage_change.csv, facility_changes.csv and coverage_change.xlsx. Never OUT itself.",
    ),
]
AddGate = Annotated[
    Path | None,
    typer.Option(
        "--add-gate",
        metavar="FILE",
        help="Compound gates to open (the analysis must have used --gates): points as analyze's "
        "--gates file takes them (CSV id,compound_id,lon,lat or a point layer), each within "
        "30 m of its compound's boundary. Only the walks of residents inside compounds change.",
    ),
]
Base = Annotated[
    Path,
    typer.Argument(
        help="An output folder written by `lifecircle analyze` (its saved study is used: no "
        "input is read again)."
    ),
]


def _run(
    base: Path,
    out: Path,
    *,
    add: list[Path],
    remove: list[Path],
    add_crs: str | None,
    overwrite: bool,
    add_gate: Path | None = None,
    gates_crs: str | None = None,
    lang: str | None,
    tiles: str | None,
    offline: bool | None,
    quiet: bool,
) -> dict[str, Any]:
    # the engine loads when the command runs, not for `lifecircle --help`
    from lifecircle import scenario as sc
    from lifecircle.errors import InputError
    from lifecircle.outputs import sha256
    from lifecircle.render.options import Presentation

    run = sc.load_analysis(base)
    shown_before = run.summary.get("provenance", {}).get("presentation", {})
    shown = Presentation(
        lang=lang or shown_before.get("lang", "zh"),
        tiles=tiles or shown_before.get("tiles", "osm"),
        offline=shown_before.get("offline", True) if offline is None else offline,
    )
    if not add and not remove and add_gate is None:
        raise InputError(
            "nothing to change: give --add FILE and/or --remove FILE, or --add-gate FILE"
        )
    ids = list(dict.fromkeys(i for f in remove for i in sc.read_removals(f)))
    sc.check_removals(run.study, ids)
    inputs = sc.scenario_inputs(run.study, add)
    gate_file = [("--add-gate", add_gate)] if add_gate is not None else []
    sc.check_scenario_out(
        out, base, overwrite=overwrite, inputs=inputs, removals=remove, others=gate_file
    )
    additions = sc.read_additions(add, run.study, crs=add_crs) if add else None
    gates = _read_gates(add_gate, gates_crs)
    if quiet:
        scenario = sc.what_if(run.study, add=additions, remove=ids, add_gates=gates)
    else:
        with out_console.status("re-routing the changed categories…"):
            scenario = sc.what_if(run.study, add=additions, remove=ids, add_gates=gates)
    files = sc.scenario_files(run, additions)
    if add_gate is not None:
        files["add_gate"] = {
            "path": str(add_gate),
            "sha256": sha256(add_gate),
            "bytes": add_gate.stat().st_size,
        }
    summary = sc.write_scenario(
        scenario,
        out,
        inputs=inputs,
        presentation=shown,
        overwrite=overwrite,
        files=files,
        base=str(base),
    )
    if not quiet:
        print_change(scenario, lang=shown.lang)
        out_console.print(f"Wrote {console_text(str(out))}/", highlight=False)
    return summary


def _read_gates(path: Path | None, crs: str | None) -> gpd.GeoDataFrame | None:
    """The ``--add-gate`` file, read (None without one)."""
    from lifecircle.errors import InputError
    from lifecircle.sources._files import parse_crs
    from lifecircle.sources.compounds import read_gates

    if path is None:
        if crs is not None:
            raise InputError("--gates-crs: only used with --add-gate; add it or leave it out")
        return None
    return read_gates(path, crs=parse_crs(crs, "--gates-crs"))


def _pct(v: float | None) -> str:
    return "  –  " if v is None else f"{v:6.1%}"


def print_change(scenario: Scenario, *, lang: str) -> None:
    """The change on the console: what was added and removed, per changed category the
    area-wide share within its threshold before and after, the complete life circle, and the
    communities whose verdict flips."""
    from lifecircle.notes import render_notes
    from lifecircle.render.spreadsheet import category_label

    s = scenario.summary
    summary = scenario.after.summary
    given = (s.get("added_unused") or {}).get("added", s["added"])
    of = f" of {given}" if given != s["added"] else ""
    out_console.print(
        f"[bold]Scenario:[/] {s['added']}{of} facilit{'y' if given == 1 else 'ies'} added, "
        f"{s['removed']} removed; re-routed: "
        f"{console_text(', '.join(s['rerouted_categories']) or 'none')}.",
        highlight=False,
    )
    if s.get("added_unused"):  # why the change may change nothing
        keys = summary.get("note_keys") or []
        for entry, text in zip(keys, render_notes(summary, lang), strict=False):
            if entry and str(entry.get("key")).startswith("scenario_added_"):
                out_console.print(
                    f"[bold yellow]{t('warning', lang)}:[/] {console_text(text)}", highlight=False
                )
    out_console.print("Area-wide share within each category's threshold (before → after):")
    for cat, v in s["per_category"].items():
        name = console_text(category_label(summary, cat, lang))
        d = "" if v["change"] is None else f"  ({v['change'] * 100:+.1f} points)"
        out_console.print(
            f"  {name}  {console_text(v['threshold'])}: {_pct(v['coverage_before'])} → "
            f"{_pct(v['coverage_after'])}{d}",
            highlight=False,
        )
    clc = s["complete_life_circle"]
    out_console.print(
        f"  {t('all', lang)}: {_pct(clc['coverage_before'])} → {_pct(clc['coverage_after'])}; "
        f"communities meeting it: {clc['communities_meeting_before']} → "
        f"{clc['communities_meeting_after']}",
        highlight=False,
    )
    for kind, word, colour in (
        ("now_meets", "now meet", "green"),
        ("now_misses", "now miss", "red"),
    ):
        flips = s["flips"][kind]
        if not flips:
            continue
        names = ", ".join(
            f"{f['community_name']} ({category_label(summary, f['category'], lang)})"
            for f in flips[:8]
        )
        more = f", … ({s['flips_count'][kind]} in all)" if s["flips_count"][kind] > 8 else ""
        out_console.print(
            f"[{colour}]{s['flips_count'][kind]} {word} the target:[/] {console_text(names)}{more}",
            highlight=False,
        )
    if not any(s["flips_count"].values()):
        out_console.print("No community's verdict flips at the rows that judge these categories.")


def scenario_cmd(
    ctx: typer.Context,
    base: Base,
    out: ScenarioOut,
    add: Add = None,
    remove: Remove = None,
    add_crs: AddCrs = None,
    add_gate: AddGate = None,
    gates_crs: opt.GatesCrs = None,
    lang: Annotated[
        str | None, typer.Option(help="zh or en (default: the analysis's language).")
    ] = None,
    tiles: Annotated[
        str | None, typer.Option(help="Map basemap (default: the analysis's).")
    ] = None,
    offline: Annotated[
        bool | None,
        typer.Option(
            "--offline/--cdn", help="Inline the map's scripts (default: as the analysis)."
        ),
    ] = None,
    overwrite: opt.Overwrite = False,
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """What if facilities open, close or move: re-analyse an `analyze` output folder with
    facilities added and removed (only the changed categories are routed again) and write the
    full outputs plus coverage_change.csv."""
    run_guarded(
        _run,
        base,
        out,
        add=list(add or ()),
        remove=list(remove or ()),
        add_crs=add_crs,
        add_gate=add_gate,
        gates_crs=gates_crs,
        overwrite=overwrite,
        lang=lang,
        tiles=tiles,
        offline=offline,
        quiet=ctx.obj["quiet"],
    )
