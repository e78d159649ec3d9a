"""Frozen, validated settings. Presets and the walk filter live as TOML data files."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lifecircle._toml import read_toml
from lifecircle._validate import Problems, gather
from lifecircle.delays import CrossingDelays, parse_crossings
from lifecircle.errors import InputError
from lifecircle.naming import limit_m

DEFAULT_MAX_SNAP_M = 200.0  # farther from every walkable way than this is off-network
MAX_SNAP_LIMIT_M = 5000.0
# how far walking speeds may be off either way (m/s) when a preset does not say: the spread of
# 0.9–1.1 m/s that GB 50180's 800–1000 m in 15 minutes implies (see lifecircle.sensitivity)
DEFAULT_SPEED_BAND_M_S = 0.1

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
        return limit_m(self.minutes or 0.0, speed_m_s)

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
    roles: dict[str, str] = field(default_factory=dict)  # see headline_profile, elderly_profile
    # ± m/s every profile's speed may be off by: the speed band of `analyze --sensitivity`
    speed_band_m_s: float = DEFAULT_SPEED_BAND_M_S
    # crossing delays ([crossings]); off unless the preset states them (lifecircle.crossings)
    crossings: CrossingDelays = field(default_factory=CrossingDelays)

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
    def headline_profile(self) -> str:
        """The walking profile the headline figures use: ``[roles] headline``, else the first of
        ``[profiles]``."""
        return self.roles.get("headline") or next(iter(self.speeds_m_s))

    @property
    def elderly_profile(self) -> str | None:
        """The profile of residents aged 60+ (age-weighted coverage): ``[roles] elderly``, else
        a profile named ``elderly``, else none."""
        if "elderly" in self.roles:
            return self.roles["elderly"]
        return "elderly" if "elderly" in self.speeds_m_s else None

    @property
    def explicit_roles(self) -> dict[str, str]:
        """The roles that differ from what the profiles' order and names imply."""
        implied = {"headline": next(iter(self.speeds_m_s))}
        if "elderly" in self.speeds_m_s:
            implied["elderly"] = "elderly"
        return {k: v for k, v in self.roles.items() if implied.get(k) != v}

    @property
    def headline_speed_m_s(self) -> float:
        """The headline profile's walking speed."""
        return self.speeds_m_s[self.headline_profile]

    def service_area_tiers(self) -> dict[tuple[str, int], float]:
        """(profile, minutes) → metres of the service areas drawn: every tier for the headline
        profile, the longest tier for the others."""
        longest = max(self.minutes)
        return {
            (profile, minutes): limit_m(minutes, speed)
            for profile, speed in self.speeds_m_s.items()
            for minutes in self.minutes
            if profile == self.headline_profile or minutes == longest
        }

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
        return t.limit_m(self.headline_speed_m_s) / 60.0 / self.headline_speed_m_s

    def judge_speed(self, category: str, speed_m_s: float) -> float:
        """The speed a category is judged with: its ``judge_with`` profile, else the row's."""
        prof = self.judge_with.get(category)
        return self.speeds_m_s[prof] if prof else speed_m_s

    def max_reach_m(self) -> float:
        """The longest distance any threshold or tier allows."""
        fastest = max(self.speeds_m_s.values())
        reach = limit_m(self.max_minutes, fastest)
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
            f"speed_band_m_s = {self.speed_band_m_s!r}",
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
        if self.explicit_roles:
            lines += ["", "[roles]", *(f"{q(k)} = {q(v)}" for k, v in self.explicit_roles.items())]
        if self.crossings != CrossingDelays():
            c = self.crossings
            lines += [
                "",
                "[crossings]",
                f"enabled = {str(c.enabled).lower()}",
                f"signalised_s = {c.signalised_s!r}",
                f"unsignalised_s = {c.unsignalised_s!r}",
                f"classes = {json.dumps(list(c.classes))}",
                f"signal_radius_m = {c.signal_radius_m!r}",
            ]
        lines += ["", "[basket.tiers]"]
        lines += [
            f'"{t}" = {json.dumps(list(c), ensure_ascii=False)}'
            for t, c in sorted(self.basket_tiers.items())
        ]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return (
            {
                "name": self.name,
                "title": self.title,
                "source": self.source,
                "file": self.file,
                "target": self.target,
                "minutes": list(self.minutes),
                "speeds_m_s": dict(self.speeds_m_s),
                "thresholds": {
                    k: {
                        "kind": t.kind,
                        "value": t.value,
                        "unverified": t.unverified,
                        "note": t.note,
                    }
                    for k, t in self.thresholds.items()
                },
                "basket_tiers": {str(k): list(v) for k, v in sorted(self.basket_tiers.items())},
                "judge_with": dict(self.judge_with),
                "unverified": self.unverified,
            }
            | ({"roles": self.explicit_roles} if self.explicit_roles else {})
            | (
                {"crossings": self.crossings.as_dict()}
                if self.crossings != CrossingDelays()
                else {}
            )
        )


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
    unverified = raw.get("unverified", False)
    if not isinstance(unverified, bool):
        p.add(f"thresholds.{key}.unverified must be true or false, got {unverified!r}")
    note = raw.get("note", "")
    if not isinstance(note, str):
        p.add(f"thresholds.{key}.note must be text, got {note!r}")
    has = [k for k in ("minutes", "metres") if k in raw]
    if len(has) != 1:
        p.add(f"thresholds.{key} needs exactly one of minutes or metres, got {sorted(raw)}")
        return None
    v = raw[has[0]]
    limit = MAX_PRESET_MINUTES if has[0] == "minutes" else 20_000
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or not 0 < v <= limit:
        p.add(f"thresholds.{key}.{has[0]} must be a positive number ≤ {limit}, got {v!r}")
        return None
    return Threshold(
        minutes=float(v) if has[0] == "minutes" else None,
        metres=float(v) if has[0] == "metres" else None,
        unverified=unverified is True,
        note=note if isinstance(note, str) else "",
    )


_PRESET_KEYS = {
    "name",
    "title",
    "source",
    "target",
    "minutes",
    "profiles",
    "thresholds",
    "basket",
    "judge_with",
    "roles",
    "speed_band_m_s",
    "crossings",
}


def _is_key_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(b, str) and b.strip() for b in value)


def _parse_basket(basket: object, minutes: list[int], p: Problems) -> dict[int, tuple[str, ...]]:
    """The basket tiers of a preset: ``mandatory = [...]`` (the first tier) and/or
    ``[basket.tiers]`` with a list of category keys per tier."""
    tiers: dict[int, tuple[str, ...]] = {}
    if not isinstance(basket, dict):
        p.add("[basket] must be a table with mandatory = [...] or [basket.tiers]")
        return tiers
    extra = set(basket) - {"mandatory", "tiers"}
    if extra:
        p.add(
            f"[basket]: unknown field(s) {sorted(extra)}; use mandatory = [...] or [basket.tiers]"
        )
    mandatory = basket.get("mandatory")
    if mandatory is not None:
        if not _is_key_list(mandatory):
            p.add(f"basket.mandatory must be a list of category keys, got {mandatory!r}")
        else:
            tiers[min(minutes)] = tuple(mandatory)
    raw_tiers = basket.get("tiers", {})
    if not isinstance(raw_tiers, dict):
        p.add(
            f"[basket.tiers] must be a table of minutes = [category keys], e.g. "
            f'"15" = ["market"]; got {raw_tiers!r}'
        )
        raw_tiers = {}
    for tier, cats in raw_tiers.items():
        if not str(tier).isdigit() or int(tier) not in minutes:
            p.add(f"basket.tiers.{tier}: a tier must be one of minutes {minutes}")
            continue
        if not _is_key_list(cats):
            p.add(f"basket.tiers.{tier} must be a list of category keys, got {cats!r}")
            continue
        tiers[int(tier)] = tiers.get(int(tier), ()) + tuple(cats)
    return tiers


def _preset_target(target: object, p: Problems) -> float:
    if _bad_number(target, 0.0, 1.0):
        p.add(f"target must be a share in (0, 1], e.g. 0.85; got {target!r}")
        return 0.85
    return float(target)  # type: ignore[arg-type]


#: the longest tier or threshold a preset may set (minutes): a walk of four hours
MAX_PRESET_MINUTES = 240


def _preset_minutes(minutes: object, p: Problems) -> list[int]:
    if (
        not isinstance(minutes, list)
        or not minutes
        or not all(
            isinstance(m, int) and not isinstance(m, bool) and 0 < m <= MAX_PRESET_MINUTES
            for m in minutes
        )
    ):
        p.add(
            f"minutes must be a list of whole minutes from 1 to {MAX_PRESET_MINUTES}, got "
            f"{minutes!r}"
        )
        return [5, 10, 15]
    if len(set(minutes)) < len(minutes):
        p.add(f"minutes lists a tier twice ({minutes!r}); list each once")
        return [5, 10, 15]
    return minutes


def _preset_speeds(speeds: object, p: Problems) -> dict[str, float]:
    if not isinstance(speeds, dict) or not speeds:
        p.add(f"[profiles] must name at least one walking speed in m/s, got {speeds!r}")
        return {"standard": 1.1}
    out = {}
    for k, v in speeds.items():
        if _bad_number(v, 0.0, 3.0) or v < 0.1:
            p.add(f"profiles.{k} must be a walking speed between 0.1 and 3 m/s, got {v!r}")
            out[str(k)] = 1.0
        else:
            out[str(k)] = float(v)
    return out


def speed_band_problem(band: object, speeds: dict[str, float], where: str) -> str | None:
    """What is wrong with a speed band (``where`` names the preset field or option), or None:
    it must be a speed in m/s from 0 to below the slowest profile's, so that every profile
    still walks at the low end of the band."""
    slowest = min(speeds.values(), default=1.0)
    if (
        isinstance(band, bool)
        or not isinstance(band, int | float)
        or math.isnan(band)
        or not 0 <= band < slowest
    ):
        return (
            f"{where} must be a speed in m/s from 0 up to below the slowest walking profile "
            f"({slowest:g} m/s), e.g. {DEFAULT_SPEED_BAND_M_S}; got {band!r}"
        )
    return None


def _profile_table(
    table: object,
    name: str,
    shape: str,
    keys: tuple[str, ...] | None,
    speeds: dict[str, float],
    p: Problems,
) -> dict[str, str]:
    """A table mapping names (categories, roles) to walking profiles: the valid entries."""
    if not isinstance(table, dict):
        p.add(f"[{name}] must be a table: {shape}")
        return {}
    out = {}
    for k, prof in table.items():
        if keys is not None and k not in keys:
            p.add(f"{name}.{k}: unknown key; the keys are {' and '.join(keys)}")
        elif not isinstance(prof, str) or prof not in speeds:
            p.add(f"{name}.{k} = {prof!r} is not a profile; profiles: {sorted(speeds)}")
        else:
            out[str(k)] = prof
    return out


def load_preset(name_or_path: str | Path | None = None) -> Preset:
    """Load a shipped preset by name (see :data:`PRESETS`) or a user's preset file (``*.toml``).

    Every problem of the file (wrong types, values out of range, an empty basket, unknown
    fields) is gathered and reported in one :class:`InputError`.
    """
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
        if not data:
            p.add(
                "the file is empty; copy a shipped preset (lifecircle presets default) and edit "
                "it: a preset needs at least a [basket] of categories"
            )
        extra = sorted(set(data) - _PRESET_KEYS)
        if extra:
            p.add(f"unknown field(s) {extra}; a preset has {', '.join(sorted(_PRESET_KEYS))}")
        for key in ("name", "title", "source"):
            if key in data and not isinstance(data[key], str):
                p.add(f"{key} must be text, got {data[key]!r}")
        target = _preset_target(data.get("target", 0.85), p)
        minutes = _preset_minutes(data.get("minutes", [5, 10, 15]), p)
        speeds = _preset_speeds(data.get("profiles", {"standard": 1.1, "elderly": 0.9}), p)
        raw_thr = data.get("thresholds", {})
        if not isinstance(raw_thr, dict):
            p.add("[thresholds] must be a table of category = minutes or {minutes|metres = …}")
            raw_thr = {}
        thresholds = {}
        for k, v in raw_thr.items():
            t = _parse_threshold(k, v, p)
            if t is not None:
                thresholds[k] = t
        tiers = _parse_basket(data.get("basket", {}), minutes, p)
        if data and not any(tiers.values()):
            p.add(
                "the basket is empty: name the categories of the complete life circle with "
                '[basket] mandatory = ["market", ...] or [basket.tiers] "15" = [...]; without '
                "them every resident would count as covered"
            )
        judge = _profile_table(
            data.get("judge_with", {}), "judge_with", "category = profile", None, speeds, p
        )
        roles = _profile_table(
            data.get("roles", {}),
            "roles",
            "headline = <profile>, elderly = <profile>",
            ("headline", "elderly"),
            speeds,
            p,
        )
        crossings = (
            parse_crossings(data["crossings"], p.items) if "crossings" in data else CrossingDelays()
        )
        band = data.get("speed_band_m_s", DEFAULT_SPEED_BAND_M_S)
        problem = speed_band_problem(band, speeds, "speed_band_m_s")
        if problem:
            p.add(problem)
    return Preset(
        name=str(data.get("name", Path(source).stem)),
        title=str(data.get("title", "")),
        source=str(data.get("source", "")),
        target=target,
        minutes=tuple(sorted(set(minutes))),
        speeds_m_s={k: float(v) for k, v in speeds.items()},
        thresholds=thresholds,
        basket_tiers=tiers,
        judge_with=judge,
        roles=roles,
        file=source,
        speed_band_m_s=DEFAULT_SPEED_BAND_M_S if problem else float(band),
        crossings=crossings,
    )


Rules = tuple[tuple[tuple[str, re.Pattern[str]], ...], ...]


def _matches(tags: dict[str, str], rules: Rules) -> bool:
    """Whether ``tags`` match ALL the tags of at least one rule."""
    return any(all((v := tags.get(k)) is not None and pat.search(v) for k, pat in r) for r in rules)


@dataclass(frozen=True)
class WalkFilter:
    """Which ways are walkable: osmnx's walk filter plus the elevated-expressway rule, the ways
    kept for walking although that filter leaves them out (cycleways people may walk on), and
    which areas are walkable surfaces (pedestrian squares, concourses)."""

    require: tuple[str, ...]
    exclude: tuple[tuple[str, re.Pattern[str]], ...]
    elevated: Rules
    foot_allowed: frozenset[str]
    source: str = ""
    keep: Rules = ()
    areas: Rules = ()

    def classify(self, tags: dict[str, str]) -> str:
        """``"walk"``, ``"kept"`` (walkable by a ``[[keep]]`` rule although ``[exclude]`` leaves
        it out), ``"excluded"`` (osmnx filter), ``"elevated"`` or ``"not_highway"``.

        ``foot=no`` is never overridden by a ``[[keep]]`` rule.
        """
        for k in self.require:
            if k not in tags:
                return "not_highway"
        excluded = any((v := tags.get(k)) is not None and pat.search(v) for k, pat in self.exclude)
        if excluded:
            if tags.get("foot") != "no" and _matches(tags, self.keep):
                return "kept"
            return "excluded"
        if tags.get("foot") not in self.foot_allowed and _matches(tags, self.elevated):
            return "elevated"
        return "walk"

    def walk_area(self, tags: dict[str, str], *, relation: bool = False) -> bool:
        """Whether an area (closed way or multipolygon) is a walkable surface.

        A multipolygon relation is an area by its type, so ``area=yes`` is implied for it. Areas
        tagged ``foot=no``, or ``access=private|no`` without a ``foot`` tag that allows walking,
        are not walkable.
        """
        if relation and "area" not in tags:
            tags = {**tags, "area": "yes"}
        if not _matches(tags, self.areas) or tags.get("foot") == "no":
            return False
        return not (
            tags.get("access") in ("private", "no") and tags.get("foot") not in self.foot_allowed
        )


def load_walk_filter(path: str | Path | None = None) -> WalkFilter:
    """Load the walkable-way rules (``data/walk_filter.toml``, or a user's file); every problem
    of the file (wrong types, invalid regular expressions, unknown fields) is reported at once."""
    data, source = read_toml(path, "walk_filter.toml", "walk filter")
    with gather(f"walk filter {source}") as p:

        def comp(k: str, v: object) -> re.Pattern[str]:
            if not isinstance(v, str):
                p.add(f"{k} must be a regular expression in quotes, got {v!r}")
                return re.compile("(?!)")
            try:
                return re.compile(v)
            except re.error as exc:
                p.add(f"{k}: invalid regular expression {v!r}: {exc}")
                return re.compile("(?!)")

        def table(value: object, where: str) -> dict[str, Any]:
            if isinstance(value, dict):
                return value
            p.add(f"{where} must be a table of tag = regular expression, got {value!r}")
            return {}

        def texts(value: object, where: str, default: list[str]) -> list[str]:
            if isinstance(value, list) and all(isinstance(x, str) for x in value):
                return value
            p.add(f"{where} must be a list of texts, got {value!r}")
            return default

        shipped = Path(__file__).parent / "data" / "walk_filter.toml"
        if not data and path is not None:
            p.add(
                "the file is empty: it would make every way with a highway tag walkable "
                "(motorways, foot=no and private ways too); start from the shipped rules "
                f"({shipped}) and edit them"
            )
        elif path is not None and not data.get("exclude"):  # require = [] alone, say
            p.add(
                "it excludes nothing (no [exclude] table): every way with a highway tag would "
                "be walkable (motorways, foot=no and private ways too); start from the shipped "
                f"rules ({shipped}) and edit them"
            )
        extra = sorted(set(data) - {"require", "exclude", "elevated", "keep", "areas"})
        if extra:
            p.add(
                f"unknown field(s) {extra}; a walk filter has require, exclude, elevated, keep, "
                "areas"
            )
        require = texts(data.get("require", ["highway"]), "require", ["highway"])
        exclude = tuple(
            (k, comp(f"exclude.{k}", v))
            for k, v in table(data.get("exclude", {}), "[exclude]").items()
        )
        elev = table(data.get("elevated", {}), "[elevated]")

        def rule_list(raw: object, where: str) -> Rules:
            if not isinstance(raw, list):
                p.add(f"[[{where}]] must be a list of tables, got {raw!r}")
                raw = []
            return tuple(
                tuple(
                    (k, comp(f"{where}[{i}].{k}", v)) for k, v in table(r, f"{where}[{i}]").items()
                )
                for i, r in enumerate(raw)
            )

        rules = rule_list(elev.get("rules", []), "elevated.rules")
        keep = rule_list(data.get("keep", []), "keep")
        areas = rule_list(data.get("areas", []), "areas")
        foot = texts(elev.get("foot_allowed", []), "elevated.foot_allowed", [])
    return WalkFilter(
        require=tuple(require),
        exclude=exclude,
        elevated=rules,
        foot_allowed=frozenset(foot),
        source=source,
        keep=keep,
        areas=areas,
    )


@dataclass(frozen=True)
class Settings:
    """Everything the engine needs besides the data. Frozen: pass it explicitly."""

    preset: Preset
    target: float
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    min_component_m: float = 250.0
    outline_step_m: float = 25.0
    service_area_cell_m: float = 10.0
    service_area_buffer_m: float = 40.0
    service_area_fill_holes_m2: float = 20_000.0
    grid_cell_m: float = 500.0
    floor_area_per_person_m2: float = 35.0
    default_levels: float = 3.0
    admin_level: str | None = None
    processes: int = field(default_factory=lambda: min(os.cpu_count() or 1, 4))
    # --crossings / --no-crossings: None keeps the preset's choice ([crossings])
    crossings: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate on construction, so that ``dataclasses.replace`` cannot bypass it."""
        with gather("settings") as p:
            p.items.extend(
                settings_problems(
                    target=self.target, max_snap_m=self.max_snap_m, grid_cell_m=self.grid_cell_m
                )
            )
            for name in (
                "outline_step_m",
                "service_area_cell_m",
                "floor_area_per_person_m2",
                "default_levels",
            ):
                v = getattr(self, name)
                if not v > 0:
                    p.add(f"{name} must be positive; got {v}")
            for name in ("min_component_m", "service_area_buffer_m", "service_area_fill_holes_m2"):
                v = getattr(self, name)
                if not v >= 0:
                    p.add(f"{name} must be zero or positive; got {v}")
            if self.processes < 1:
                p.add(f"processes must be at least 1; got {self.processes}")

    @property
    def profiles(self) -> dict[str, float]:
        return self.preset.speeds_m_s

    @property
    def max_reach_m(self) -> float:
        """The longest distance any profile walks within the longest threshold or tier."""
        return self.preset.max_reach_m()

    @property
    def crossing_delays(self) -> CrossingDelays | None:
        """The crossing delays to model, or None when crossings are off (the preset's choice,
        unless ``crossings`` says otherwise)."""
        on = self.preset.crossings.enabled if self.crossings is None else self.crossings
        return replace(self.preset.crossings, enabled=True) if on else None

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
            "processes": self.processes,
            "max_reach_m": self.max_reach_m,
        } | ({"crossings": c.as_dict()} if (c := self.crossing_delays) is not None else {})


def _bad_number(value: object, low: float, high: float) -> bool:
    """Whether ``value`` is not a number in (low, high] (NaN and booleans are not numbers)."""
    return (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not low < value <= high
    )


#: the smallest grid cell: a community of less than a block says nothing (and a tiny cell over a
#: district would mean billions of cells)
MIN_GRID_CELL_M = 50.0


def settings_problems(
    *,
    target: float | None = None,
    max_snap_m: float = 200.0,
    grid_cell_m: float = 500.0,
) -> list[str]:
    """What is wrong with these engine options, one message per option (empty when valid)."""
    out = []
    if target is not None and _bad_number(target, 0.0, 1.0):
        out.append(f"--target must be a share in (0, 1], e.g. 0.85; got {target}")
    if _bad_number(max_snap_m, 0.0, MAX_SNAP_LIMIT_M):
        out.append(
            f"--max-snap-m must be a distance in metres above 0 and at most "
            f"{MAX_SNAP_LIMIT_M:g} (default {DEFAULT_MAX_SNAP_M:g}); "
            f"got {max_snap_m}"
        )
    if _bad_number(grid_cell_m, MIN_GRID_CELL_M - 1e-9, 20_000.0):
        out.append(
            f"--grid-cell-m must be a cell size in metres from {MIN_GRID_CELL_M:g} to 20000 "
            f"(default 500); got {grid_cell_m}"
        )
    return out


def make_settings(
    preset: str | Path | None = None,
    *,
    target: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    **kwargs: Any,
) -> Settings:
    """Build validated :class:`Settings` from a preset name or file; every problem is reported
    at once.

    Parameters
    ----------
    preset
        A shipped preset (see :data:`PRESETS`) or the path of a preset ``.toml`` file.
    target
        The share of residents to reach (overrides the preset's).
    max_snap_m
        Points farther than this from every walkable way are off-network.
    **kwargs
        Any other field of :class:`Settings`.

    Raises
    ------
    InputError
        When the preset or a setting is invalid.

    Examples
    --------
    >>> make_settings("shanghai", target=0.99).target
    0.99
    """
    pre = load_preset(preset)
    return Settings(
        preset=pre,
        target=pre.target if target is None else float(target),
        max_snap_m=max_snap_m,
        **kwargs,
    )
