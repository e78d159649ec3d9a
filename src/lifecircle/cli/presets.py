"""``lifecircle presets``: list the shipped presets, or show one (shipped or your own file)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lifecircle.categories import load_taxonomy
from lifecircle.cli import options as opt
from lifecircle.cli.guard import run_guarded
from lifecircle.config import PRESETS, Preset, load_preset
from lifecircle.display import console_text
from lifecircle.errors import InputError

console = Console(soft_wrap=True)


def _shipped(preset: Preset) -> bool:
    return preset.file == f"lifecircle/data/preset_{preset.name}.toml"


def _where(preset: Preset) -> str:
    """Where the preset lives, as a path that opens, or how to get a copy of a shipped one (it
    lives inside the installed package, which may be a wheel or a zip: no path to open)."""
    if not _shipped(preset):
        return f"file: {Path(preset.file).resolve()}"
    return (
        f"shipped with lifecircle; copy it to edit: lifecircle presets {preset.name} --toml > "
        f"my_preset.toml, then --preset my_preset.toml"
    )


def _toml(ref: str) -> str:
    """The preset file's own text (with its comments): shipped, or the user's file."""
    preset = load_preset(ref)
    if _shipped(preset):
        return (
            resources.files("lifecircle.data")
            .joinpath(f"preset_{preset.name}.toml")
            .read_text("utf-8")
        )
    return Path(preset.file).read_text("utf-8")


def _show(preset: Preset) -> None:
    preset.check_categories(set(load_taxonomy().keys))
    name, title = console_text(preset.name), console_text(preset.title)
    console.print(f"[bold]{name}[/] — {title}", highlight=False)
    console.print(f"source: {console_text(preset.source)}", highlight=False)
    console.print(console_text(_where(preset)), highlight=False)
    speeds = ", ".join(f"{k} {v:g} m/s" for k, v in preset.speeds_m_s.items())
    tiers = ", ".join(str(m) for m in preset.minutes)
    band = f"± {preset.speed_band_m_s:g} m/s with --sensitivity"
    console.print(
        f"target {preset.target:.0%}; tiers {tiers} min; {speeds} ({band})", highlight=False
    )
    keys = sorted(set(preset.thresholds) | set(preset.basket))
    table = Table()
    # the keys users type into files are never cut short, however narrow the terminal
    table.add_column("category", no_wrap=True, min_width=max(map(len, keys), default=8))
    for header in ("threshold", "judged with", "in basket"):
        table.add_column(header)
    table.add_column("unverified", no_wrap=True, min_width=len("unverified"))
    table.add_column("note", no_wrap=True)  # a number: the notes follow the table, full width
    tier_of = {c: t for t, cats in preset.basket_tiers.items() for c in cats}
    notes: list[str] = []
    for key in keys:
        t = preset.threshold(key)
        if t.note:
            notes.append(f"{len(notes) + 1}. {key}: {t.note}")
        table.add_row(
            console_text(key),
            console_text(t.describe()),
            console_text(preset.judge_with.get(key, "")),
            f"from the {tier_of[key]}-min tier" if key in tier_of else "",
            "unverified" if t.unverified else "",
            f"{len(notes)}" if t.note else "",
        )
    console.print(table)
    for line in notes:
        console.print(console_text(line), highlight=False)


def presets_cmd(
    name: Annotated[
        str | None,
        typer.Argument(help="A preset name, or the path of your own preset .toml, to show."),
    ] = None,
    toml: Annotated[
        bool,
        typer.Option(
            "--toml",
            help="Print the preset's TOML file itself (redirect it to a file to edit: "
            "lifecircle presets shanghai --toml > my.toml).",
        ),
    ] = False,
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """List the shipped presets, or show one with its thresholds, basket and sources (--toml:
    print its file, to copy and edit)."""
    if name is None and toml:
        run_guarded(
            _raise, InputError("--toml: name the preset to print, e.g. presets shanghai --toml")
        )
    if name is None:
        table = Table("name", "target", "title")
        for n in PRESETS:
            p = run_guarded(load_preset, n)
            table.add_row(console_text(n), f"{p.target:.0%}", console_text(p.title))
        console.print(table)
        console.print(
            "Show one: lifecircle presets NAME   ·   copy one to edit: lifecircle presets NAME "
            "--toml > my.toml   ·   use one: --preset NAME|my.toml",
            highlight=False,
        )
        return
    if toml:
        typer.echo(run_guarded(_toml, name), nl=False)
        return
    run_guarded(lambda: _show(load_preset(name)))


def _raise(exc: Exception) -> None:
    raise exc
