"""Turn library errors into clear messages and exit codes: 0 done, 1 analysis failed, 2 bad
usage or input. Every command runs its work through :func:`run_guarded`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from lifecircle.cli import logs
from lifecircle.errors import AnalysisError, InputError, LifecircleError

T = TypeVar("T")


def _fail(exc: BaseException, code: int) -> typer.Exit:
    label = "input error" if code == 2 else "analysis failed"
    logs.err.print(f"[bold red]lifecircle: {label}:[/] ", end="")
    logs.err.print(str(exc), markup=False, highlight=False)
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


def raise_(exc: Exception) -> None:
    """Raise ``exc`` (for ``run_guarded(raise_, InputError(...))`` in a command)."""
    raise exc
