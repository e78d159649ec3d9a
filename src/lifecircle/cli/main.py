"""The ``lifecircle`` command. Logging is configured only from its ``-v`` / ``-q`` (see
:mod:`lifecircle.cli.logs`), given before or after the command.

Exit codes: 0 done, 1 analysis failed, 2 bad usage or input.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from lifecircle.cli import options as opt
from lifecircle.cli.logs import err, merge
from lifecircle.errors import AnalysisError, InputError, LifecircleError

app = typer.Typer(
    help="Measure 15-minute community life circles (15分钟社区生活圈) on OpenStreetMap walking "
    "networks: per-community coverage, maps and tables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
T = TypeVar("T")


@app.callback()
def main(ctx: typer.Context, verbose: opt.Verbose = 0, quiet: opt.Quiet = False) -> None:
    ctx.obj = merge(ctx.ensure_object(dict), verbose=verbose, quiet=quiet)


def _fail(exc: BaseException, code: int) -> typer.Exit:
    label = "input error" if code == 2 else "analysis failed"
    err.print(f"[bold red]lifecircle: {label}:[/] ", end="")
    err.print(str(exc), markup=False, highlight=False)
    return typer.Exit(code)


def run_guarded(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Turn library errors into messages and exit codes."""
    try:
        return fn(*args, **kwargs)
    except InputError as exc:
        raise _fail(exc, 2) from None
    except (AnalysisError, LifecircleError) as exc:
        raise _fail(exc, 1) from None
    except MemoryError as exc:
        raise _fail(AnalysisError(f"out of memory ({exc}); analyse a smaller area"), 1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug or an unforeseen input: say so, exit 1, traceback with -vv
        logging.getLogger("lifecircle").debug("unexpected error", exc_info=True)
        raise _fail(
            AnalysisError(
                f"unexpected {type(exc).__name__}: {exc} (run with -vv for the traceback)"
            ),
            1,
        ) from None


from lifecircle.cli import analyze as _analyze  # noqa: E402,F401  (registers the commands)
from lifecircle.cli import batch as _batch  # noqa: E402,F401
from lifecircle.cli import presets as _presets  # noqa: E402,F401
from lifecircle.cli import rebuild as _rebuild  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
