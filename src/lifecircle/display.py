"""Where the stages of a run are shown (see :mod:`lifecircle.timing` for how they are timed
and told): rich progress bars on a terminal, plain lines elsewhere, nothing with ``-q``.

- :class:`Bars`: a bar per running stage with its count and elapsed time, only on a terminal;
- :class:`Lines`: plain text lines without any control sequence (CI, cron, a job scheduler);
- :class:`~lifecircle.timing.Display`: nothing at all.

:func:`display_for` picks one for a console. Text from the data (a district's id, a file
name) never reaches the terminal with its control characters (:func:`printable`).
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lifecircle.timing import Display, Step, done_line, progress_line

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

#: plain lines for a stage still running come at most this often (seconds)
LINE_EVERY_S = 15.0


#: bidirectional embeddings, overrides and isolates: they reorder what a terminal shows after
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """``text`` with its control characters (ESC, BEL, …; from a district's id, say) and
    bidirectional overrides shown as ``�``, so that no name from the data can move the
    cursor, recolour a terminal or reorder the line it is on."""
    return "".join(
        "\ufffd"
        if (c not in "\n\t" and unicodedata.category(c) == "Cc") or c in BIDI_CONTROLS
        else c
        for c in text
    )


def console_text(text: object) -> str:
    """Text from the data (a name, an id, a file name) as the console shows it: its control
    characters shown as ``\ufffd`` (:func:`printable`) and its square brackets escaped, so
    that it is neither a terminal sequence nor rich markup. The one way names reach the
    console."""
    from rich.markup import escape

    return escape(printable(str(text)))


class Lines(Display):
    """Plain lines for a standard error that is not a terminal: one per finished stage with
    its time, and for a long stage one every ``every_s`` seconds with how far it is (one per
    item for a stage opened with ``each_line``, as the districts of a batch). Never a control
    sequence (no colour, no cursor movement)."""

    def __init__(self, console: Console, *, every_s: float = LINE_EVERY_S) -> None:
        self.console = console
        self.every_s = every_s
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        self.console.print(printable(text), markup=False, highlight=False, emoji=False)

    def start(self, step: Step) -> None:
        with self._lock:
            self._last[id(step)] = step.started

    def update(self, step: Step) -> None:
        now = time.perf_counter()
        with self._lock:
            if not step.each_line and now - self._last.get(id(step), now) < self.every_s:
                return
            self._last[id(step)] = now
        self._print(progress_line(step))

    def finish(self, step: Step, *, ok: bool) -> None:
        with self._lock:
            self._last.pop(id(step), None)
        if ok:
            self._print(done_line(step))

    def line(self, text: str) -> None:
        self._print(text)


class Bars(Display):
    """rich progress bars on a terminal: a bar per running stage with its count and elapsed
    time; a finished stage leaves one line with its time. Use as a context manager (the bars
    are drawn between enter and exit).

    Log records and warnings printed while the bars are shown go above them when they are
    printed through the same console (the one :mod:`lifecircle.cli.logs` configures).
    """

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as RichProgress

        self.console = console
        self.progress: RichProgress = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[remarks]}", markup=True),
            console=console,
            transient=True,
            redirect_stderr=True,
            redirect_stdout=False,
        )
        self._tasks: dict[int, TaskID] = {}

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, step: Step) -> None:
        self._tasks[id(step)] = self.progress.add_task(
            console_text(step.message), total=step.total, amount=step.amount(), remarks=""
        )

    def update(self, step: Step) -> None:
        task = self._tasks.get(id(step))
        if task is not None:
            self.progress.update(
                task,
                completed=step.completed,
                total=step.total,
                amount=step.amount(),
                remarks=console_text(step.remarks()),
            )

    def finish(self, step: Step, *, ok: bool) -> None:
        task = self._tasks.pop(id(step), None)
        if task is not None:
            self.progress.remove_task(task)
        if ok:
            self.progress.console.print(
                f"[green]✓[/] {console_text(done_line(step))}", highlight=False
            )

    def line(self, text: str) -> None:
        self.progress.console.print(printable(text), markup=False, highlight=False, emoji=False)


@contextmanager
def display_for(console: Console, *, quiet: bool) -> Iterator[Display]:
    """The display a command shows its stages on: nothing with ``quiet``, bars when
    ``console`` writes to a terminal (rich's own test, which ``TTY_COMPATIBLE=1`` or
    ``FORCE_COLOR`` can force), else plain lines."""
    if quiet:
        yield Display()
    elif console.is_terminal and not console.is_dumb_terminal:
        with Bars(console) as bars:
            yield bars
    else:
        yield Lines(console)
