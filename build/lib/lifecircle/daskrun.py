"""Running on dask.distributed without its noise: dask's loggers held at a chosen level (in this
process and in the worker processes), and start-up and shut-down of a cluster shielded from
Ctrl-C / SIGTERM, which would otherwise leave it half made and make dask print tracebacks."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: dask's loggers and their levels by ``Cluster.log_level`` (dask's defaults at "info")
_DASK_LEVELS = {
    "error": {"distributed": "error", "tornado": "critical", "bokeh": "critical"},
    "warning": {"distributed": "warning", "tornado": "critical", "bokeh": "error"},
    "info": {"distributed": "info", "tornado": "critical", "bokeh": "error"},
    "debug": {"distributed": "debug", "tornado": "debug", "bokeh": "debug"},
}


@contextlib.contextmanager
def dask_logging(level: str) -> Iterator[int]:
    """Hold dask's loggers at ``level`` (``error``, ``warning``, ``info`` or ``debug``) while a
    cluster runs.

    dask sets them itself from its ``distributed.logging`` config when ``distributed`` is first
    imported, in this process and in every worker process it spawns (``distributed`` at INFO:
    some forty lines a run). Here they are set after that import; the worker processes read the
    same config from the environment the nanny spawns them with. The previous levels come back
    at the end. Yields the level as a number, for ``LocalCluster(silence_logs=...)``.
    """
    import dask
    import distributed  # noqa: F401  (its import configures the loggers set below)

    levels = _DASK_LEVELS.get(level.lower(), _DASK_LEVELS["error"])
    saved = {name: logging.getLogger(name).level for name in levels}
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl.upper())
    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env.update({f"DASK_DISTRIBUTED__LOGGING__{k.upper()}": v for k, v in levels.items()})
    try:
        with dask.config.set(
            {"distributed.logging": levels, "distributed.nanny.pre-spawn-environ": env}
        ):
            yield logging.getLevelName(levels["distributed"].upper())
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a cluster starts, stops or forgets its tasks, then raise
    ``KeyboardInterrupt`` if one came.

    An interrupt raised inside dask's own start-up or shut-down leaves the cluster half made or
    half closed: dask then prints tracebacks (``CommClosedError``, an ``AssertionError`` from
    its exit hook) and reaps stray worker processes. Between those steps interrupts act at once.
    Does nothing outside the main thread (signals are only delivered there).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(sig)
        if current is None or current is signal.SIG_IGN:  # not set from Python, or ignored
            continue
        old[sig] = signal.signal(sig, lambda signum, _frame: got.append(signum))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if got:
        raise KeyboardInterrupt


def close_quietly(what: Any, timeout_s: float) -> None:
    """Close a dask client or cluster; a connection already gone is no error while closing
    (logged at DEBUG)."""
    try:
        what.close(timeout=timeout_s)
    except (OSError, TimeoutError) as exc:  # CommClosedError is an OSError
        log.debug("closing %s: %s", type(what).__name__, exc, exc_info=True)
