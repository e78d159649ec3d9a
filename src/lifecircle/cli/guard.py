"""Turn library errors into clear messages and exit codes: 0 done, 1 analysis failed, 2 bad
usage or input. Every command runs its work through :func:`run_guarded`."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer

from lifecircle.cli import logs
from lifecircle.display import printable
from lifecircle.errors import AnalysisError, InputError, LifecircleError

T = TypeVar("T")


def _fail(exc: BaseException, code: int) -> typer.Exit:
    label = "input error" if code == 2 else "analysis failed"
    logs.err.print(f"[bold red]lifecircle: {label}:[/] ", end="")
    logs.err.print(printable(str(exc)), markup=False, highlight=False)
    return typer.Exit(code)


#: what an interrupted command says, unless it says more (the batch keeps finished districts)
INTERRUPTED = "interrupted: nothing of this run was kept; the output folder is as it was before it"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A job scheduler's SIGTERM stops a command as Ctrl-C does, so that the files being
    written are cleaned up (only in the main thread, where signals arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_guarded(
    fn: Callable[..., T], *args: Any, on_interrupt: str = INTERRUPTED, **kwargs: Any
) -> T:
    """Turn library errors into messages and exit codes; Ctrl-C and SIGTERM into
    ``on_interrupt`` and exit code 130."""
    try:
        with _sigterm_as_interrupt():
            return fn(*args, **kwargs)
    except InputError as exc:
        raise _fail(exc, 2) from None
    except (AnalysisError, LifecircleError) as exc:
        raise _fail(exc, 1) from None
    except MemoryError as exc:
        raise _fail(AnalysisError(f"out of memory ({exc}); analyse a smaller area"), 1) from None
    except KeyboardInterrupt:
        logs.err.print(f"[bold red]lifecircle: {on_interrupt}[/]", highlight=False)
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
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
