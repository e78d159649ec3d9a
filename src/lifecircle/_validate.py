"""Gather every problem found in an input, then raise once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lifecircle.errors import InputError


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
