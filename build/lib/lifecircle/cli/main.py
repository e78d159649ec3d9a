"""The ``lifecircle`` command. Logging is configured only from its ``-v`` / ``-q`` (see
:mod:`lifecircle.cli.logs`), given before or after the command.

Exit codes: 0 done, 1 analysis failed, 2 bad usage or input.
"""

from __future__ import annotations

import sys

import typer

from lifecircle.cli import analyze, batch, presets, rebuild, scenario, serve, site
from lifecircle.cli import options as opt
from lifecircle.cli.logs import merge

app = typer.Typer(
    help="Measure 15-minute community life circles (15分钟社区生活圈) on OpenStreetMap walking "
    "networks: per-community coverage, maps and tables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(ctx: typer.Context, verbose: opt.Verbose = 0, quiet: opt.Quiet = False) -> None:
    ctx.obj = merge(ctx.ensure_object(dict), verbose=verbose, quiet=quiet)


# Commands are registered here; no command module imports this one back. Each keeps its heavy
# imports (geopandas, the engine) inside the command, so that `lifecircle --help` is instant.
app.command("analyze")(analyze.analyze_cmd)
app.command("demo")(analyze.demo_cmd)
app.command("batch")(batch.batch_cmd)
app.command("presets")(presets.presets_cmd)
app.command("report")(rebuild.report_cmd)
app.command("map")(rebuild.map_cmd)
app.command("scenario")(scenario.scenario_cmd)
app.command("site")(site.site_cmd)
app.command("serve")(serve.serve_cmd)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
