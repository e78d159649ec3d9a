"""``lifecircle report``: rebuild report.html from an existing output folder, without rerunning
the analysis (for example in the other language)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from lifecircle.cli import options as opt
from lifecircle.cli.main import app, run_guarded
from lifecircle.render.report import render_report


def _rebuild(out: Path, lang: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=".report.", suffix=".html", dir=out)
    os.close(fd)
    try:
        render_report(out, lang=lang, dest=Path(tmp))
        os.replace(tmp, out / "report.html")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out / "report.html"


@app.command("report")
def report_cmd(
    out: Annotated[Path, typer.Argument(help="An output folder written by `lifecircle analyze`.")],
    lang: opt.Lang = "zh",
) -> None:
    """Rebuild report.html from an output folder without recomputing the analysis."""
    from lifecircle.errors import InputError

    if not out.is_dir():
        run_guarded(_fail, InputError(f"{out}: no such output folder; give the --out of a run"))
    path = run_guarded(_rebuild, out, lang)
    typer.echo(f"Wrote {path}")


def _fail(exc: Exception) -> None:
    raise exc
