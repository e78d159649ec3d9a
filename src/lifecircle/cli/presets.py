"""``lifecircle presets``: list the shipped presets, or show one (shipped or your own file)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lifecircle.categories import load_taxonomy
from lifecircle.cli.guard import run_guarded
from lifecircle.config import PRESETS, Preset, load_preset

console = Console(soft_wrap=True)


def _show(preset: Preset) -> None:
    preset.check_categories(set(load_taxonomy().keys))
    console.print(f"[bold]{preset.name}[/] — {preset.title}", highlight=False)
    console.print(f"source: {preset.source}", highlight=False, markup=False)
    console.print(f"file: {preset.file}", highlight=False, markup=False)
    speeds = ", ".join(f"{k} {v:g} m/s" for k, v in preset.speeds_m_s.items())
    tiers = ", ".join(str(m) for m in preset.minutes)
    console.print(f"target {preset.target:.0%}; tiers {tiers} min; {speeds}", highlight=False)
    table = Table("category", "threshold", "judged with", "in basket", "unverified", "note")
    tier_of = {c: t for t, cats in preset.basket_tiers.items() for c in cats}
    for key in sorted(set(preset.thresholds) | set(preset.basket)):
        t = preset.threshold(key)
        table.add_row(
            key,
            t.describe(),
            preset.judge_with.get(key, ""),
            f"from the {tier_of[key]}-min tier" if key in tier_of else "",
            "unverified" if t.unverified else "",
            t.note,
        )
    console.print(table)


def presets_cmd(
    name: Annotated[
        str | None,
        typer.Argument(help="A preset name, or the path of your own preset .toml, to show."),
    ] = None,
) -> None:
    """List the shipped presets, or show one with its thresholds, basket and sources."""
    if name is None:
        table = Table("name", "target", "title")
        for n in PRESETS:
            p = run_guarded(load_preset, n)
            table.add_row(n, f"{p.target:.0%}", p.title)
        console.print(table)
        console.print("Show one: lifecircle presets NAME   ·   use one: --preset NAME|FILE.toml")
        return
    run_guarded(lambda: _show(load_preset(name)))
