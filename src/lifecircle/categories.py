"""The life-circle facility taxonomy: category -> OSM tag rules and names (zh/en).

The taxonomy ships as ``data/categories.toml``; users may pass their own file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lifecircle._toml import read_toml
from lifecircle._validate import gather

Rule = tuple[tuple[str, re.Pattern[str] | None], ...]


def _compile_rules(raw: object, where: str, problems: list[str]) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where} must be a list of tables, got {type(raw).__name__}")
        return ()
    for i, rule in enumerate(raw):
        if not isinstance(rule, dict) or not rule:
            problems.append(f"{where}[{i}] must be a non-empty table of tag = regex")
            continue
        compiled: list[tuple[str, re.Pattern[str] | None]] = []
        for key, pattern in rule.items():
            if pattern == "*":
                compiled.append((key, None))
                continue
            try:
                compiled.append((key, re.compile(str(pattern), re.IGNORECASE)))
            except re.error as exc:
                problems.append(
                    f"{where}[{i}].{key}: invalid regular expression {pattern!r}: {exc}"
                )
        rules.append(tuple(compiled))
    return tuple(rules)


def _rule_matches(rule: Rule, tags: Mapping[str, str]) -> bool:
    for key, pattern in rule:
        value = tags.get(key)
        if value is None:
            return False
        if pattern is not None and pattern.fullmatch(value) is None:
            return False
    return True


@dataclass(frozen=True)
class Category:
    """One kind of everyday facility."""

    key: str
    name_zh: str
    name_en: str
    match: tuple[Rule, ...] = field(repr=False)
    exclude: tuple[Rule, ...] = field(default=(), repr=False)
    icon: str = ""  # one character for map markers; the first of name_zh when not given

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether an OSM feature with these tags belongs to this category."""
        if not any(_rule_matches(r, tags) for r in self.match):
            return False
        return not any(_rule_matches(r, tags) for r in self.exclude)

    def label(self, lang: str = "en") -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class Taxonomy:
    """An ordered set of categories."""

    categories: tuple[Category, ...]
    source: str

    def __getitem__(self, key: str) -> Category:
        for c in self.categories:
            if c.key == key:
                return c
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(c.key == key for c in self.categories)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.categories)

    def classify(self, tags: Mapping[str, str]) -> list[str]:
        """Every category a feature with these tags belongs to."""
        return [c.key for c in self.categories if c.matches(tags)]

    @property
    def tag_keys(self) -> frozenset[str]:
        """Tag keys that any rule looks at (a fast pre-filter for OSM readers)."""
        keys: set[str] = set()
        for c in self.categories:
            for rule in c.match:
                keys.update(k for k, _ in rule)
        return frozenset(keys)


_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load a facility taxonomy from TOML; ``None`` loads the one shipped with lifecircle.

    Parameters
    ----------
    path
        A TOML file with ``[categories.<key>]`` tables (see ``data/categories.toml``).
    """
    data, source = read_toml(path, "categories.toml", "categories file")
    cats: list[Category] = []
    with gather(f"categories file {source}") as problems:
        table = data.get("categories")
        if not isinstance(table, dict) or not table:
            problems.add("needs at least one [categories.<key>] table")
            table = {}
        for key, spec in table.items():
            if not _KEY_RE.match(key) or key == "all":
                problems.add(
                    f"category key {key!r} must be lower-case letters, digits, _ (not 'all')"
                )
            if not isinstance(spec, dict):
                problems.add(f"[categories.{key}] must be a table")
                continue
            found: list[str] = []
            match = _compile_rules(spec.get("match"), f"{key}.match", found)
            exclude = _compile_rules(spec.get("exclude"), f"{key}.exclude", found)
            if not match:
                found.append(f"{key}.match: needs at least one rule")
            for m in found:
                problems.add(m)
            cats.append(
                Category(
                    key=key,
                    name_zh=str(spec.get("name_zh", key)),
                    name_en=str(spec.get("name_en", key)),
                    match=match,
                    exclude=exclude,
                    icon=str(spec.get("icon") or str(spec.get("name_zh", key))[:1]),
                )
            )
    return Taxonomy(categories=tuple(cats), source=source)
