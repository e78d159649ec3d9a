"""``lifecircle serve``: the planning workbench's local server over an analysis folder: the
page a planner clicks on and its HTTP API (see :mod:`lifecircle.server`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lifecircle.cli import logs
from lifecircle.cli import options as opt
from lifecircle.cli.guard import run_guarded
from lifecircle.display import console_text
from lifecircle.errors import InputError

Folder = Annotated[
    Path,
    typer.Argument(help="An output folder of `lifecircle analyze` (its saved study is used)."),
]
Host = Annotated[
    str,
    typer.Option(
        help="Address to listen on. Only this machine by default; another address lets others "
        "on the network reach the workbench (a warning is printed)."
    ),
]
Port = Annotated[int, typer.Option(help="Port to listen on (0: any free port).")]
Lang = Annotated[
    str | None,
    typer.Option(help="Language of the page: zh or en (default: the analysis's language)."),
]
Offline = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="No basemap tiles: the page then asks nothing of the internet (Leaflet always "
        "comes from the package).",
    ),
]


def _run(
    folder: Path, *, host: str, port: int, lang: str | None, offline: bool, quiet: bool
) -> None:
    from lifecircle import server
    from lifecircle.webpage import PageOptions, analysis_lang
    from lifecircle.workbench import Workbench

    if not 0 <= port <= 65535:
        raise InputError(f"--port {port}: give a port from 1 to 65535 (0: any free port)")
    if lang is not None and lang not in ("zh", "en"):
        raise InputError(f"--lang {lang}: give zh or en")
    warning = server.host_warning(host)
    if warning:
        logs.err.print(f"[bold yellow]warning:[/] {console_text(warning)}", highlight=False)
    bench = Workbench.open(folder)  # the study and its baseline coverage; nothing is written
    page = PageOptions(lang=lang or analysis_lang(folder), offline=offline)

    def started(url: str) -> None:
        if not quiet:
            logs.err.print(
                f"Serving {console_text(str(folder))}: open {console_text(url)} in a browser (API: "
                f"{console_text(url)}api/summary); Ctrl-C to stop",
                highlight=False,
            )

    try:
        server.serve_forever(bench, host=host, port=port, started=started, page=page)
    except KeyboardInterrupt:  # Ctrl-C is how a user stops serving: not a failure
        if not quiet:
            logs.err.print("stopped serving", highlight=False)
    except OSError as exc:
        raise InputError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); give "
            "another --port (or 0 for any free one)"
        ) from None


def serve_cmd(
    ctx: typer.Context,
    folder: Folder,
    host: Host = "127.0.0.1",
    port: Port = 8765,
    lang: Lang = None,
    offline: Offline = False,
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """The planning workbench: a page in the browser to add, move and close facilities on the
    map of an `analyze` output folder and see coverage change at once (and its HTTP API); the
    folder is never changed."""
    run_guarded(
        _run,
        folder,
        host=host,
        port=port,
        lang=lang,
        offline=offline,
        quiet=bool(ctx.obj["quiet"]) if ctx.obj else quiet,
    )
