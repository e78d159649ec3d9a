"""Frozen, validated settings. Presets and the walk filter live as TOML data files."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifecircle._toml import read_toml
from lifecircle._validate import Problems, gather
from lifecircle.errors import InputError

PRESETS = ("default", "gb50180", "tdt1062", "shanghai", "shanghai-2035")


@dataclass(frozen=True)
class Threshold:
    """How near a category must be: a time (minutes at the walker's speed) or a distance."""

    minutes: float | None = None
    metres: float | None = None
    unverified: bool = False
    note: str = ""

    def limit_m(self, speed_m_s: float) -> float:
        """The walking distance this threshold allows at ``speed_m_s``."""
        if self.metres is not None:
            return self.metres
        assert self.minutes is not None
        return self.minutes * 60.0 * speed_m_s

    @property
    def kind(self) -> str:
        return "metres" if self.metres is not None else "minutes"

    @property
    def value(self) -> float:
        return float(self.metres if self.metres is not None else self.minutes or 0.0)

    def describe(self) -> str:
        v = self.value
        return f"{v:g} m" if self.kind == "metres" else f"{v:g} min"


@dataclass(frozen=True)
class Preset:
    """Thresholds, tiers, walking speeds, the complete-life-circle basket and the target."""

    name: str
    title: str
    source: str
    target: float
    minutes: tuple[int, ...]
    speeds_m_s: dict[str, float]
    thresholds: dict[str, Threshold]
    basket_tiers: dict[int, tuple[str, ...]]
    judge_with: dict[str, str] = field(default_factory=dict)
    file: str = ""

    @property
    def basket(self) -> tuple[str, ...]:
        """Every category of the complete life circle, over all tiers."""
        out: list[str] = []
        for tier in sorted(self.basket_tiers):
            out += [c for c in self.basket_tiers[tier] if c not in out]
        return tuple(out)

    def basket_for(self, minutes: int) -> tuple[str, ...]:
        """Categories a resident must reach for the complete life circle at this tier: those of
        every tier up to it."""
        out: list[str] = []
        for tier in sorted(self.basket_tiers):
            if tier <= minutes:
                out += [c for c in self.basket_tiers[tier] if c not in out]
        return tuple(out)

    @property
    def max_minutes(self) -> float:
        return float(max(self.minutes))

    def threshold(self, category: str) -> Threshold:
        """The category's threshold; categories the preset does not name use the longest tier."""
        return self.thresholds.get(category, Threshold(minutes=float(max(self.minutes))))

    def threshold_min(self, category: str) -> float:
        """The threshold in minutes (distance thresholds at the first profile's speed)."""
        t = self.threshold(category)
        if t.minutes is not None:
            return t.minutes
        return (
            t.limit_m(next(iter(self.speeds_m_s.values())))
            / 60.0
            / next(iter(self.speeds_m_s.values()))
        )

    def judge_speed(self, category: str, speed_m_s: float) -> float:
        """The speed a category is judged with: its ``judge_with`` profile, else the row's."""
        prof = self.judge_with.get(category)
        return self.speeds_m_s[prof] if prof else speed_m_s

    def max_reach_m(self) -> float:
        """The longest distance any threshold or tier allows."""
        fastest = max(self.speeds_m_s.values())
        reach = self.max_minutes * 60.0 * fastest
        return max([reach, *(t.limit_m(fastest) for t in self.thresholds.values())])

    @property
    def unverified(self) -> list[str]:
        return sorted(k for k, t in self.thresholds.items() if t.unverified)

    def check_categories(self, known: set[str] | frozenset[str], where: str = "") -> None:
        """Raise if the preset names a category neither the taxonomy nor a facility file has."""
        named = set(self.thresholds) | set(self.basket) | set(self.judge_with)
        unknown = sorted(named - set(known))
        if unknown:
            raise InputError(
                f"preset {self.file or self.name}: unknown "
                f"categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}{where}; "
                "use keys of the taxonomy "
                f"({', '.join(sorted(known))}) or add them to your facilities or --categories file"
            )

    def to_toml(self) -> str:
        """The preset as a TOML file that :func:`load_preset` reads back to an equal preset."""

        def q(s: str) -> str:
            return json.dumps(s, ensure_ascii=False)

        lines = [
            f"name = {q(self.name)}",
            f"title = {q(self.title)}",
            f"source = {q(self.source)}",
            f"target = {self.target!r}",
            f"minutes = {list(self.minutes)!r}",
            "",
            "[profiles]",
            *(f"{q(k)} = {v!r}" for k, v in self.speeds_m_s.items()),
            "",
            "[thresholds]",
        ]
        for k, t in self.thresholds.items():
            fields = [f"{t.kind} = {t.value!r}"]
            if t.unverified:
                fields.append("unverified = true")
            if t.note:
                fields.append(f"note = {q(t.note)}")
            lines.append(f"{q(k)} = {{ {', '.join(fields)} }}")
        if self.judge_with:
            lines += ["", "[judge_with]", *(f"{q(k)} = {q(v)}" for k, v in self.judge_with.items())]
        lines += ["", "[basket.tiers]"]
        lines += [
            f'"{t}" = {json.dumps(list(c), ensure_ascii=False)}'
            for t, c in sorted(self.basket_tiers.items())
        ]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "file": self.file,
            "target": self.target,
            "minutes": list(self.minutes),
            "speeds_m_s": dict(self.speeds_m_s),
            "thresholds": {
                k: {"kind": t.kind, "value": t.value, "unverified": t.unverified, "note": t.note}
                for k, t in self.thresholds.items()
            },
            "basket_tiers": {str(k): list(v) for k, v in sorted(self.basket_tiers.items())},
            "judge_with": dict(self.judge_with),
            "unverified": self.unverified,
        }


def _parse_threshold(key: str, raw: object, p: Problems) -> Threshold | None:
    if isinstance(raw, bool):
        p.add(f"thresholds.{key} must be minutes or a table, got {raw!r}")
        return None
    if isinstance(raw, int | float):
        raw = {"minutes": raw}
    if not isinstance(raw, dict):
        p.add(f"thresholds.{key} must be a number of minutes or a table, got {raw!r}")
        return None
    extra = set(raw) - {"minutes", "metres", "unverified", "note"}
    if extra:
        p.add(f"thresholds.{key}: unknown field(s) {sorted(extra)}; use minutes or metres")
    has = [k for k in ("minutes", "metres") if k in raw]
    if len(has) != 1:
        p.add(f"thresholds.{key} needs exactly one of minutes or metres, got {sorted(raw)}")
        return None
    v = raw[has[0]]
    limit = 240 if has[0] == "minutes" else 20_000
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or not 0 < v <= limit:
        p.add(f"thresholds.{key}.{has[0]} must be a positive number ≤ {limit}, got {v!r}")
        return None
    return Threshold(
        minutes=float(v) if has[0] == "minutes" else None,
        metres=float(v) if has[0] == "metres" else None,
        unverified=bool(raw.get("unverified", False)),
        note=str(raw.get("note", "")),
    )


def load_preset(name_or_path: str | Path | None = None) -> Preset:
    """Load a shipped preset by name (see :data:`PRESETS`) or a user's preset file (``*.toml``)."""
    ref = "default" if name_or_path is None else str(name_or_path)
    if ref in PRESETS:
        data, source = read_toml(None, f"preset_{ref}.toml", "preset")
    elif ref.endswith(".toml") or Path(ref).exists():
        data, source = read_toml(ref, "", "preset file")
    else:
        raise InputError(
            f"--preset {ref!r}: no such preset; choose one of {', '.join(PRESETS)} "
            "or give the path of a preset .toml file"
        )
    with gather(f"preset {source}") as p:
        target = data.get("target", 0.85)
        if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 1:
            p.add(f"target must be a share in (0, 1], e.g. 0.85; got {target!r}")
            target = 0.85
        minutes = data.get("minutes", [5, 10, 15])
        if (
            not isinstance(minutes, list)
            or not minutes
            or not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in minutes)
        ):
            p.add(f"minutes must be a list of positive whole minutes, got {minutes!r}")
            minutes = [5, 10, 15]
        speeds = data.get("profiles", {"standard": 1.1, "elderly": 0.9})
        if not isinstance(speeds, dict) or not speeds:
            p.add("[profiles] must name at least one walking speed in m/s")
            speeds = {"standard": 1.1}
        for k, v in list(speeds.items()):
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.1 <= v <= 3.0:
                p.add(f"profiles.{k} must be a walking speed between 0.1 and 3 m/s, got {v!r}")
                speeds[k] = 1.0
        raw_thr = data.get("thresholds", {})
        if not isinstance(raw_thr, dict):
            p.add("[thresholds] must be a table of category = minutes or {minutes|metres = …}")
            raw_thr = {}
        thresholds = {}
        for k, v in raw_thr.items():
            t = _parse_threshold(k, v, p)
            if t is not None:
                thresholds[k] = t
        basket = data.get("basket", {})
        tiers: dict[int, tuple[str, ...]] = {}
        if not isinstance(basket, dict):
            p.add("[basket] must be a table with mandatory = [...] or [basket.tiers]")
            basket = {}
        mandatory = basket.get("mandatory")
        if mandatory is not None:
            if not isinstance(mandatory, list) or not all(isinstance(b, str) for b in mandatory):
                p.add("basket.mandatory must be a list of category keys")
            else:
                tiers[min(minutes)] = tuple(mandatory)
        for tier, cats in basket.get("tiers", {}).items():
            if not str(tier).isdigit() or int(tier) not in minutes:
                p.add(f"basket.tiers.{tier}: a tier must be one of minutes {minutes}")
                continue
            if not isinstance(cats, list) or not all(isinstance(b, str) for b in cats):
                p.add(f"basket.tiers.{tier} must be a list of category keys")
                continue
            tiers[int(tier)] = tiers.get(int(tier), ()) + tuple(cats)
        judge = data.get("judge_with", {})
        if not isinstance(judge, dict):
            p.add("[judge_with] must be a table of category = profile")
            judge = {}
        for k, prof in judge.items():
            if prof not in speeds:
                p.add(f"judge_with.{k} = {prof!r} is not a profile; profiles: {sorted(speeds)}")
    return Preset(
        name=str(data.get("name", Path(source).stem)),
        title=str(data.get("title", "")),
        source=str(data.get("source", "")),
        target=float(target),
        minutes=tuple(sorted(set(minutes))),
        speeds_m_s={k: float(v) for k, v in speeds.items()},
        thresholds=thresholds,
        basket_tiers=tiers,
        judge_with={k: str(v) for k, v in judge.items() if v in speeds},
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
    data, source = read_toml(path, "walk_filter.toml", "walk filter")
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
    lang: str = "zh"
    tiles: str = "osm"  # map basemap: osm, none, gaode or an xyzservices name
    offline: bool = True  # inline the map's scripts so it opens with no network (False: --cdn)
    processes: int = field(default_factory=lambda: min(os.cpu_count() or 1, 4))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def profiles(self) -> dict[str, float]:
        return self.preset.speeds_m_s

    @property
    def max_reach_m(self) -> float:
        """The longest distance any profile walks within the longest threshold or tier."""
        return self.preset.max_reach_m()

    def as_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset.as_dict(),
            "target": self.target,
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
            "lang": self.lang,
            "processes": self.processes,
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
        if kwargs.get("lang", "zh") not in ("zh", "en"):
            p.add(f"--lang must be zh or en; got {kwargs.get('lang')!r}")
        if "tiles" in kwargs:
            from lifecircle.render.maps import basemap

            try:
                basemap(kwargs["tiles"])
            except ValueError as exc:
                p.add(str(exc))
    return Settings(
        preset=pre,
        target=pre.target if target is None else float(target),
        max_snap_m=max_snap_m,
        **kwargs,
    )
