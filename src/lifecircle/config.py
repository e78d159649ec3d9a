"""Frozen, validated settings. Presets and the walk filter live as TOML data files."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lifecircle._validate import gather
from lifecircle.errors import InputError, InputFileError

PRESETS = ("default",)


def _read_toml(path: str | Path | None, packaged: str, what: str) -> tuple[dict[str, Any], str]:
    if path is None:
        text = resources.files("lifecircle.data").joinpath(packaged).read_text("utf-8")
        source = f"lifecircle/data/{packaged}"
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except OSError as exc:
            raise InputFileError(
                f"{what} {p}: cannot be read ({exc.strerror or exc}); check the path"
            ) from exc
        source = str(p)
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{what} {source}: not valid TOML ({exc}); fix the syntax") from exc


@dataclass(frozen=True)
class Preset:
    """Thresholds, tiers, walking speeds and the complete-life-circle basket."""

    name: str
    title: str
    source: str
    target: float
    minutes: tuple[int, ...]
    speeds_m_s: dict[str, float]
    thresholds_min: dict[str, float]
    basket: tuple[str, ...]
    file: str = ""

    @property
    def max_minutes(self) -> float:
        return max([*self.minutes, *self.thresholds_min.values()])

    def threshold_min(self, category: str) -> float:
        """The category's threshold; categories the preset does not name use the longest tier."""
        return self.thresholds_min.get(category, float(max(self.minutes)))


def load_preset(name_or_path: str | Path | None = None) -> Preset:
    """Load a shipped preset by name (``default``) or a user's preset file (``*.toml``)."""
    ref = "default" if name_or_path is None else str(name_or_path)
    if ref in PRESETS:
        data, source = _read_toml(None, f"preset_{ref}.toml", "preset")
    elif ref.endswith(".toml") or Path(ref).exists():
        data, source = _read_toml(ref, "", "preset file")
    else:
        raise InputError(
            f"--preset {ref!r}: no such preset; choose one of {', '.join(PRESETS)} "
            "or give the path of a preset .toml file"
        )
    with gather(f"preset {source}") as p:
        target = data.get("target", 0.85)
        if not isinstance(target, int | float) or not (0 < float(target) <= 1):
            p.add(f"target must be a share in (0, 1], got {target!r}")
            target = 0.85
        minutes = data.get("minutes", [5, 10, 15])
        if (
            not isinstance(minutes, list)
            or not minutes
            or not all(isinstance(m, int) and m > 0 for m in minutes)
        ):
            p.add(f"minutes must be a list of positive whole minutes, got {minutes!r}")
            minutes = [5, 10, 15]
        speeds = data.get("profiles", {"standard": 1.1, "elderly": 0.9})
        if not isinstance(speeds, dict) or not speeds:
            p.add("[profiles] must name at least one walking speed in m/s")
            speeds = {"standard": 1.1}
        for k, v in speeds.items():
            if not isinstance(v, int | float) or not (0.1 <= float(v) <= 3.0):
                p.add(f"profiles.{k} must be a walking speed between 0.1 and 3 m/s, got {v!r}")
        thresholds = data.get("thresholds", {})
        if not isinstance(thresholds, dict):
            p.add("[thresholds] must be a table of category = minutes")
            thresholds = {}
        for k, v in thresholds.items():
            if not isinstance(v, int | float) or not (0 < float(v) < 240) or math.isnan(v):
                p.add(f"thresholds.{k} must be a positive number of minutes, got {v!r}")
        basket = data.get("basket", {}).get("mandatory", [])
        if not isinstance(basket, list) or not all(isinstance(b, str) for b in basket):
            p.add("basket.mandatory must be a list of category keys")
            basket = []
    return Preset(
        name=str(data.get("name", Path(source).stem)),
        title=str(data.get("title", "")),
        source=str(data.get("source", "")),
        target=float(target),
        minutes=tuple(sorted(set(minutes))),
        speeds_m_s={k: float(v) for k, v in speeds.items()},
        thresholds_min={k: float(v) for k, v in thresholds.items()},
        basket=tuple(basket),
        file=source,
    )


@dataclass(frozen=True)
class WalkFilter:
    """Which ways are walkable: osmnx's walk filter plus the elevated-expressway rule."""

    require: tuple[str, ...]
    exclude: tuple[tuple[str, re.Pattern[str]], ...]
    elevated: tuple[tuple[tuple[str, re.Pattern[str]], ...], ...]
    foot_allowed: frozenset[str]
    source: str = ""

    def classify(self, tags: dict[str, str]) -> str:
        """``"walk"``, ``"excluded"`` (osmnx filter), ``"elevated"`` or ``"not_highway"``."""
        for k in self.require:
            if k not in tags:
                return "not_highway"
        for k, pat in self.exclude:
            v = tags.get(k)
            if v is not None and pat.search(v):
                return "excluded"
        if tags.get("foot") not in self.foot_allowed:
            for rule in self.elevated:
                if all((v := tags.get(k)) is not None and pat.search(v) for k, pat in rule):
                    return "elevated"
        return "walk"


def load_walk_filter(path: str | Path | None = None) -> WalkFilter:
    data, source = _read_toml(path, "walk_filter.toml", "walk filter")
    with gather(f"walk filter {source}") as p:

        def comp(k: str, v: object) -> re.Pattern[str]:
            try:
                return re.compile(str(v))
            except re.error as exc:
                p.add(f"{k}: invalid regular expression {v!r}: {exc}")
                return re.compile("(?!)")

        exclude = tuple((k, comp(k, v)) for k, v in data.get("exclude", {}).items())
        elev = data.get("elevated", {})
        rules = tuple(tuple((k, comp(k, v)) for k, v in r.items()) for r in elev.get("rules", []))
    return WalkFilter(
        require=tuple(data.get("require", ["highway"])),
        exclude=exclude,
        elevated=rules,
        foot_allowed=frozenset(elev.get("foot_allowed", [])),
        source=source,
    )


@dataclass(frozen=True)
class Settings:
    """Everything the engine needs besides the data. Frozen: pass it explicitly."""

    preset: Preset
    target: float
    max_snap_m: float = 200.0
    min_component_m: float = 250.0
    outline_step_m: float = 25.0
    service_area_cell_m: float = 10.0
    service_area_buffer_m: float = 40.0
    service_area_fill_holes_m2: float = 20_000.0
    grid_cell_m: float = 500.0
    floor_area_per_person_m2: float = 35.0
    default_levels: float = 3.0
    admin_level: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def profiles(self) -> dict[str, float]:
        return self.preset.speeds_m_s

    @property
    def max_reach_m(self) -> float:
        """The longest distance any profile walks within the longest threshold or tier."""
        return self.preset.max_minutes * 60.0 * max(self.profiles.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset.name,
            "preset_file": self.preset.file,
            "target": self.target,
            "minutes": list(self.preset.minutes),
            "speeds_m_s": self.profiles,
            "thresholds_min": self.preset.thresholds_min,
            "basket": list(self.preset.basket),
            "max_snap_m": self.max_snap_m,
            "min_component_m": self.min_component_m,
            "outline_step_m": self.outline_step_m,
            "service_area_cell_m": self.service_area_cell_m,
            "service_area_buffer_m": self.service_area_buffer_m,
            "service_area_fill_holes_m2": self.service_area_fill_holes_m2,
            "grid_cell_m": self.grid_cell_m,
            "floor_area_per_person_m2": self.floor_area_per_person_m2,
            "default_levels": self.default_levels,
            "admin_level": self.admin_level,
            "max_reach_m": self.max_reach_m,
        }


def make_settings(
    preset: str | Path | None = None,
    *,
    target: float | None = None,
    max_snap_m: float = 200.0,
    **kwargs: Any,
) -> Settings:
    """Build validated :class:`Settings`; every problem is reported at once."""
    pre = load_preset(preset)
    with gather("settings") as p:
        if target is not None and not (0 < target <= 1):
            p.add(f"--target must be a share in (0, 1], e.g. 0.85; got {target}")
        if not (0 < max_snap_m <= 5000):
            p.add(f"--max-snap-m must be between 0 and 5000 metres; got {max_snap_m}")
    return Settings(
        preset=pre,
        target=pre.target if target is None else float(target),
        max_snap_m=max_snap_m,
        **kwargs,
    )
