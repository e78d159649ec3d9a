"""Time and show the stages of a run from outside them: a stage is a ``with`` block, so the
stage functions themselves know nothing of clocks or progress bars.

A :class:`Stopwatch` times named stages and tells a :class:`Display` about them. A stage that
has a count (categories, files, bytes of a file) gets a :class:`Step` to advance; the
orchestrating code advances it (``step.track(categories)``, ``watch=path`` for a file being
read), never the stage body. :class:`Display` itself shows nothing (``-q``, and library use);
:mod:`lifecircle.display` has the bars for a terminal and the plain lines for elsewhere.

A plain callable ``progress(message)`` (the older interface) still works: it is told each
stage's message as the stage starts.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

Progress = Callable[[str], None]
T = TypeVar("T")

#: how often the position in a file being read is looked up (seconds)
WATCH_EVERY_S = 0.2


class Step:
    """One running stage as a display sees it: its message, how far it is, a detail.

    ``completed`` and ``total`` count ``unit`` (``"bytes"``, ``"categories"``, ``"files"``,
    ``"districts"``, ``"s"``); ``total`` is ``None`` when the stage cannot be counted (only
    the elapsed time is shown). ``detail`` names the item in hand; ``note`` is extra text
    (``"2 failed"``, a solver's gap).
    """

    def __init__(
        self,
        name: str,
        message: str,
        *,
        total: float | None = None,
        unit: str = "",
        eta: bool = False,
        each_line: bool = False,
        display: Display | None = None,
    ) -> None:
        self.name = name
        self.message = message
        self.total = total
        self.unit = unit
        self.eta = eta
        self.each_line = each_line
        self.completed = 0.0
        self.detail = ""
        self.note = ""
        self.started = time.perf_counter()
        self.ended: float | None = None
        self._display = display or Display()
        self._items = 0

    # ---- told by the orchestrating code ----------------------------------------------------

    def __call__(self, detail: str) -> None:
        """The next item, named ``detail``, starts (the items before it are done): a
        :data:`Progress` callable for a function that announces its items."""
        self._items += 1
        self.update(completed=self._items - 1, detail=detail)

    def advance(
        self, n: float = 1.0, *, detail: str | None = None, note: str | None = None
    ) -> None:
        """``n`` more units are done."""
        self.update(completed=self.completed + n, detail=detail, note=note)

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        detail: str | None = None,
        note: str | None = None,
    ) -> None:
        """Set how far the stage is (only what is given changes)."""
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if detail is not None:
            self.detail = detail
        if note is not None:
            self.note = note
        self._display.update(self)

    def track(self, items: Iterable[T], *, label: Callable[[T], str] = str) -> Iterator[T]:
        """Yield ``items``, counting each one done when the next is asked for."""
        for item in items:
            self.update(detail=label(item))
            yield item
            self.advance()

    def solver(
        self,
        *,
        best_bound: float | None,
        incumbent: float | None,
        gap: float | None,
        time_left_s: float | None,
    ) -> None:
        """A solver's state: its best bound, its incumbent (best solution found so far, or
        ``None``), the relative gap (0.028 for 2.8 %) and the time limit left.

        On a stage opened with ``total=time_limit_s, unit="s"`` the bar fills as the time
        limit is used up; the note reads ``bound 1,234 · incumbent 1,200 · gap 2.8 % ·
        1:23 left``.
        """
        completed = None
        if self.total is not None and time_left_s is not None:
            completed = max(0.0, min(self.total, self.total - time_left_s))
        self.update(
            completed=completed,
            note=solver_note(
                best_bound=best_bound, incumbent=incumbent, gap=gap, time_left_s=time_left_s
            ),
        )

    # ---- read by the displays --------------------------------------------------------------

    @property
    def elapsed_s(self) -> float:
        """Seconds since the stage started (until it ended)."""
        return (self.ended or time.perf_counter()) - self.started

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (``None`` before the first unit is done)."""
        if self.total is None or self.completed <= 0:
            return None
        return self.elapsed_s / self.completed * max(0.0, self.total - self.completed)

    def amount(self) -> str:
        """``"4.8/8.4 MB"``, ``"3/12 categories"``; empty for a stage without a count."""
        if self.total is None:
            return ""
        if self.unit == "bytes":
            return f"{self.completed / 1e6:,.1f}/{self.total / 1e6:,.1f} MB"
        if self.unit == "s":
            return f"{_clock(self.completed)}/{_clock(self.total)}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.completed:,.0f}/{self.total:,.0f}{unit}"

    def remarks(self) -> str:
        """The detail, the note and the estimated time left, as one text."""
        parts = [self.detail, self.note]
        eta = self.eta_s if self.eta else None
        if eta is not None and self.completed < (self.total or 0):
            parts.append(f"about {_clock(eta)} left")
        return " · ".join(p for p in parts if p)

    def summary(self) -> str:
        """What a finished stage did, for its line: ``"12 categories"``, ``"8.4 MB"``."""
        if self.total is None or self.unit in ("", "s"):
            return self.note
        if self.unit == "bytes":
            return f"{self.total / 1e6:,.1f} MB"
        unit = f" {self.unit}" if self.unit else ""
        return " · ".join(p for p in (f"{self.completed:,.0f}{unit}", self.note) if p)


def solver_note(
    *,
    best_bound: float | None,
    incumbent: float | None,
    gap: float | None,
    time_left_s: float | None,
) -> str:
    """``bound 1,234 · incumbent 1,200 · gap 2.8 % · 1:23 left`` (parts that are ``None`` are
    left out; no incumbent yet reads ``no solution yet``)."""
    parts = []
    if best_bound is not None:
        parts.append(f"bound {_number(best_bound)}")
    parts.append("no solution yet" if incumbent is None else f"incumbent {_number(incumbent)}")
    if gap is not None:
        parts.append(f"gap {gap:.1%}".replace("%", " %"))
    if time_left_s is not None:
        parts.append(f"{_clock(time_left_s)} left")
    return " · ".join(parts)


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.4g}"


def _clock(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else _clock(seconds)


def progress_line(step: Step) -> str:
    """A running stage in one plain line: ``districts: 3/10 done, D4 · 1 failed · about 0:40
    left, 1:02 elapsed``."""
    parts = [p for p in (step.amount(), step.remarks()) if p]
    return f"{step.message}: " + ", ".join([*parts, f"{_seconds(step.elapsed_s)} elapsed"])


def done_line(step: Step) -> str:
    """A finished stage in one line: ``reading OpenStreetMap      2.3 s  8.4 MB``."""
    text = f"{step.message:<26} {_seconds(step.elapsed_s):>8}"
    summary = step.summary()
    return f"{text}  {summary}" if summary else text


# ---- displays ------------------------------------------------------------------------------


class Display:
    """Shows nothing: for ``-q`` and for library use. The base of every display."""

    def start(self, step: Step) -> None:
        """A stage starts."""

    def update(self, step: Step) -> None:
        """A stage moved on."""

    def finish(self, step: Step, *, ok: bool) -> None:
        """A stage ended (``ok`` false: it raised)."""

    def line(self, text: str) -> None:
        """A line of its own (a district that failed)."""


class Announce(Display):
    """Tells a plain ``progress(message)`` callable each stage's message as it starts."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def start(self, step: Step) -> None:
        self.progress(step.message)

    def update(self, step: Step) -> None:
        if step.each_line:
            self.progress(progress_line(step))

    def line(self, text: str) -> None:
        self.progress(text)


# ---- reading a file: bytes read, from outside the reader ------------------------------------


class FileWatch:
    """Follows how far this process has read ``path``: every ``every_s`` seconds the read
    position of each descriptor open on it is looked up (Linux ``/proc/self/fdinfo``) and the
    step is set to it. A reader that opens the file again starts another pass (the bar
    starts again, marked "another pass over the file"; a pass too short to be seen between
    two looks goes uncounted, so no pass number is shown). libosmium reads ahead of the
    objects it hands over, so the bar can be full while the reader still works.

    Where ``/proc`` is not available the step keeps no count: only the elapsed time shows.
    Nothing here reads the file or touches the reader.
    """

    def __init__(self, path: Path, step: Step, *, every_s: float = WATCH_EVERY_S) -> None:
        self.path = Path(path)
        self.step = step
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: set[str] = set()
        self._passes = 0
        self._pos = 0

    def __enter__(self) -> FileWatch:
        if not (available() and self.path.is_file()):
            return self
        self._target = os.path.realpath(self.path)
        self.step.update(total=self.path.stat().st_size)
        self._thread = threading.Thread(target=self._run, name="lifecircle-filewatch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.step.update(completed=self.step.total or 0)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.poll()
            except OSError:  # a descriptor closed while looked at: look again later
                continue

    def poll(self) -> None:
        """Look up the read position once and tell the step."""
        positions = open_positions(self._target)
        if not positions:
            return
        fds = set(positions)
        pos = max(positions.values())
        if not (fds & self._fds) or pos < self._pos:  # the file was opened again
            self._passes += 1
        self._fds, self._pos = fds, pos
        notes = ["another pass over the file"] if self._passes > 1 else []
        if self.step.total and pos >= self.step.total:  # the reader reads ahead of its work
            notes.append("all read, still working on it")
        self.step.update(completed=pos, detail=", ".join(notes))


def available() -> bool:
    """Whether read positions can be looked up (Linux)."""
    return os.path.isdir("/proc/self/fdinfo")


def open_positions(target: str) -> dict[str, int]:
    """Read position of every descriptor of this process open on the real path ``target``."""
    out: dict[str, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != target:
                continue
            with open(f"/proc/self/fdinfo/{fd}") as fh:
                for ln in fh:
                    if ln.startswith("pos:"):
                        out[fd] = int(ln.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return out


# ---- the stopwatch ---------------------------------------------------------------------------


class Stopwatch:
    """Seconds per named stage (rounded to 0.1 ms), shown on a display as they run.

    Parameters
    ----------
    progress
        A :class:`Display`, or a plain callable told each stage's message as it starts, or
        ``None`` (time only).

    Examples
    --------
    >>> clock = Stopwatch()
    >>> with clock.stage("graph"):
    ...     pass
    >>> list(clock.timings)
    ['graph']
    >>> with clock.stage("routing", "routing", total=2, unit="categories") as step:
    ...     done = [c for c in step.track(["school", "clinic"])]
    >>> step.completed
    2.0
    """

    def __init__(self, progress: Progress | Display | None = None) -> None:
        self._seconds: dict[str, float] = {}
        if isinstance(progress, Display):
            self.display = progress
        elif progress is not None:
            self.display = Announce(progress)
        else:
            self.display = Display()

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage, in the order the stages first ran."""
        return {k: round(v, 4) for k, v in self._seconds.items()}

    @contextmanager
    def stage(
        self,
        name: str,
        message: str | None = None,
        *,
        total: float | None = None,
        unit: str = "",
        eta: bool = False,
        each_line: bool = False,
        watch: str | Path | None = None,
    ) -> Iterator[Step]:
        """Time the block as ``name`` (added to an earlier time of the same name).

        Parameters
        ----------
        name
            The key of :attr:`timings`.
        message
            What the display shows; a stage without one is timed and not shown.
        total, unit
            How many ``unit`` the stage has to do (advance the yielded :class:`Step`).
        eta
            Show the estimated time left.
        each_line
            Plain displays print a line each time the step moves on (else one now and then).
        watch
            A file the block reads: the step follows the bytes read (see :class:`FileWatch`).
        """
        shown = self.display if message else Display()
        step = Step(
            name,
            message or name,
            total=total,
            unit=unit,
            eta=eta,
            each_line=each_line,
            display=shown,
        )
        shown.start(step)
        ok = False
        try:
            if watch is not None and message:
                step.unit = "bytes"
                with FileWatch(Path(watch), step):
                    yield step
            else:
                yield step
            ok = True
            if step._items:  # told item by item: the last one is done too
                step.completed = float(step._items)
        finally:
            step.ended = time.perf_counter()
            self.add(name, step.ended - step.started)
            shown.finish(step, ok=ok)

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to the stage ``name``."""
        self._seconds[name] = self._seconds.get(name, 0.0) + seconds

    def say(self, text: str) -> None:
        """A line of its own on the display."""
        self.display.line(text)
