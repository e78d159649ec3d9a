"""Time and announce the stages of a run from outside them: a stage is a ``with`` block, so the
stage functions themselves know nothing of clocks or progress bars."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[str], None]


class Stopwatch:
    """Seconds per named stage (rounded to 0.1 ms), and a progress callback told at each start.

    Examples
    --------
    >>> clock = Stopwatch()
    >>> with clock.stage("graph"):
    ...     pass
    >>> list(clock.timings)
    ['graph']
    """

    def __init__(self, progress: Progress | None = None) -> None:
        self._seconds: dict[str, float] = {}
        self._progress = progress

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage, in the order the stages first ran."""
        return {k: round(v, 4) for k, v in self._seconds.items()}

    @contextmanager
    def stage(self, name: str, message: str | None = None) -> Iterator[None]:
        """Time the block as ``name`` (added to an earlier time of the same name)."""
        if message and self._progress is not None:
            self._progress(message)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to the stage ``name``."""
        self._seconds[name] = self._seconds.get(name, 0.0) + seconds
