"""The crossing delays of a preset (``[crossings]``): whether walks pay a wait to cross major
roads, how long, and which roads. The graph work is in :mod:`lifecircle.crossings`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEFAULT_CLASSES = ("primary", "secondary", "trunk")
DEFAULT_SIGNALISED_S = 45.0
DEFAULT_UNSIGNALISED_S = 15.0
DEFAULT_SIGNAL_RADIUS_M = 20.0
MAX_DELAY_S = 600.0


@dataclass(frozen=True)
class CrossingDelays:
    """The crossing model of a preset: whether it is on, the delays and the delayed classes."""

    enabled: bool = False
    signalised_s: float = DEFAULT_SIGNALISED_S
    unsignalised_s: float = DEFAULT_UNSIGNALISED_S
    classes: tuple[str, ...] = DEFAULT_CLASSES
    signal_radius_m: float = DEFAULT_SIGNAL_RADIUS_M

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "signalised_s": self.signalised_s,
            "unsignalised_s": self.unsignalised_s,
            "classes": list(self.classes),
            "signal_radius_m": self.signal_radius_m,
        }


def parse_crossings(raw: object, problems: list[str]) -> CrossingDelays:
    """The ``[crossings]`` table of a preset; what is wrong is added to ``problems``.

    A preset that states the table turns crossings on unless it says ``enabled = false``.
    """
    if not isinstance(raw, dict):
        problems.append(
            "[crossings] must be a table: signalised_s = 45, unsignalised_s = 15, "
            'classes = ["primary", "secondary", "trunk"]'
        )
        return CrossingDelays()
    extra = sorted(
        set(raw) - {"enabled", "signalised_s", "unsignalised_s", "classes"} - {"signal_radius_m"}
    )
    if extra:
        problems.append(
            f"[crossings]: unknown field(s) {extra}; use enabled, signalised_s, unsignalised_s, "
            "classes, signal_radius_m"
        )
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"crossings.enabled must be true or false, got {enabled!r}")
        enabled = True
    values: dict[str, float] = {}
    for key, default, top in (
        ("signalised_s", DEFAULT_SIGNALISED_S, MAX_DELAY_S),
        ("unsignalised_s", DEFAULT_UNSIGNALISED_S, MAX_DELAY_S),
        ("signal_radius_m", DEFAULT_SIGNAL_RADIUS_M, 200.0),
    ):
        problem = delay_problem(raw.get(key, default), f"crossings.{key}", top)
        if problem:
            problems.append(problem)
        values[key] = default if problem else float(raw.get(key, default))
    classes = raw.get("classes", list(DEFAULT_CLASSES))
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
        problems.append(
            f"crossings.classes must be a list of OSM highway values such as "
            f'["primary", "secondary", "trunk"], got {classes!r}'
        )
        classes = list(DEFAULT_CLASSES)
    return CrossingDelays(enabled=enabled, classes=tuple(classes), **values)


def delay_problem(value: object, where: str, top: float = MAX_DELAY_S) -> str | None:
    """What is wrong with a delay in seconds (or a radius in metres), or None: a number from 0
    to ``top``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not 0 <= value <= top
    ):
        unit = "metres" if where.endswith("_m") else "seconds"
        return f"{where} must be a number of {unit} from 0 to {top:g}, got {value!r}"
    return None
