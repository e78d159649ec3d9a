"""The ``lifecircle`` command. Logging is configured here and only here (``-v`` / ``-q``).

Exit codes: 0 done, 1 analysis failed, 2 bad usage or input.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.logging import RichHandler

from lifecircle.cli import analyze, batch, presets, rebuild
from lifecircle.cli.guard import err

app = typer.Typer(
    help="Measure 15-minute community life circles (15分钟社区生活圈) on OpenStreetMap walking "
    "networks: per-community coverage, maps and tables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=err, show_path=False, markup=False)],
        force=True,
    )
    if verbose < 2:
        for noisy in (
            "fiona",
            "pyogrio",
            "rasterio",
            "urllib3",
            "matplotlib",
            "distributed",
            "bokeh",
            "tornado",
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = {"quiet": quiet}


# Commands are registered here; no command module imports this one back. Each keeps its heavy
# imports (geopandas, the engine) inside the command, so that `lifecircle --help` is instant.
app.command("analyze")(analyze.analyze_cmd)
app.command("demo")(analyze.demo_cmd)
app.command("batch")(batch.batch_cmd)
app.command("presets")(presets.presets_cmd)
app.command("report")(rebuild.report_cmd)
app.command("map")(rebuild.map_cmd)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
