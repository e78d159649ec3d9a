"""What a reader repaired, as it reaches ``summary.json``: counts, and notes in words."""

from __future__ import annotations

from typing import Any


def split_report(report: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A reader's report as ``(counts, notes)``: every entry but ``notes`` goes to
    ``summary.json → counts``; ``notes`` (sentences for the user) go to ``summary.json → notes``."""
    counts = {k: v for k, v in report.items() if k != "notes"}
    return counts, list(report.get("notes", []))
