"""Gather every problem found in an input, then raise once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lifecircle.errors import InputError, InputFileError


class Problems:
    """Collect problems with one input and raise a single :class:`InputError` listing them all."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, error: type[InputError] = InputError) -> None:
        if not self.items:
            return
        shown = self.items[:20]
        more = len(self.items) - len(shown)
        lines = "\n".join(f"  - {m}" for m in shown)
        if more:
            lines += f"\n  - … and {more} more"
        raise error(f"{self.what}: {len(self.items)} problem(s)\n{lines}")


@contextmanager
def gather(what: str, error: type[InputError] = InputError) -> Iterator[Problems]:
    """Context manager: ``with gather("preset x") as p: p.add(...)`` raises once at the end."""
    problems = Problems(what)
    yield problems
    problems.raise_if_any(error)


def check_file(path: str | Path, option: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it is a readable file, else an
    :class:`~lifecircle.errors.InputFileError` naming ``option``."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{option} {p}: no such file; check the path")
    if not p.is_file():
        raise InputFileError(f"{option} {p}: is not a file")
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputFileError(
            f"{option} {p}: cannot be read ({exc.strerror}); check permissions"
        ) from exc
    return p
