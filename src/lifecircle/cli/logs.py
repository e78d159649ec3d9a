"""Logging for the ``lifecircle`` command: configured here and only here, from ``-v`` / ``-q``.

``-v``, ``-vv`` and ``-q`` may stand before the command (``lifecircle -v analyze``) or after it
(``lifecircle analyze -v``); both places add up: the more verbose of the two counts, and ``-q``
anywhere wins.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

#: the console of standard error: log records, progress bars and error messages all go
#: through it (so that records print above the bars); made again by each configure_logging,
#: since rich decides at creation whether it writes to a terminal and in which colours
err = Console(stderr=True, soft_wrap=True)

#: libraries whose INFO lines mean nothing to a planner: shown from ``-vv`` on
NOISY = ("fiona", "pyogrio", "rasterio", "urllib3", "matplotlib", "distributed", "bokeh", "tornado")


def _printable_record(record: logging.LogRecord) -> bool:
    """Log records name files and districts: their control characters never reach the
    terminal (:func:`lifecircle.display.printable`)."""
    from lifecircle.display import printable

    message = record.getMessage()
    shown = printable(message)
    if shown != message:
        record.msg, record.args = shown, None
    return True


def configure_logging(verbose: int, quiet: bool) -> None:
    """Send log records to stderr at the level ``-v`` / ``-vv`` / ``-q`` ask for.

    Parameters
    ----------
    verbose
        How many times ``-v`` was given: 0 INFO from lifecircle, 1 also the INFO lines of the
        cluster (``lifecircle batch``), 2 DEBUG and every library's messages.
    quiet
        Only warnings and errors (wins over ``verbose``).
    """
    global err
    err = Console(stderr=True, soft_wrap=True)
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    handler = RichHandler(console=err, show_path=False, markup=False)
    handler.addFilter(_printable_record)
    logging.basicConfig(
        level=level, format="%(message)s", datefmt="[%X]", handlers=[handler], force=True
    )
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.NOTSET if verbose > 1 else logging.WARNING)


def merge(obj: dict[str, Any], *, verbose: int = 0, quiet: bool = False) -> dict[str, Any]:
    """Add the ``-v`` / ``-q`` of one place (before or after the command) to ``obj`` and
    configure logging for the result; returns ``obj`` (``{"verbose": int, "quiet": bool}``)."""
    obj["verbose"] = max(int(obj.get("verbose", 0)), verbose)
    obj["quiet"] = bool(obj.get("quiet", False)) or quiet
    configure_logging(obj["verbose"], obj["quiet"])
    return obj
