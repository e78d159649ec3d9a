"""The life-circle facility taxonomy: category -> OSM tag rules and names (zh/en).

The taxonomy ships as ``data/categories.toml``; users may pass their own file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lifecircle._toml import read_toml
from lifecircle._validate import gather
from lifecircle.notes import note

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
            if not isinstance(pattern, str):
                problems.append(
                    f'{where}[{i}].{key} must be a regular expression in quotes (or "*"), '
                    f"got {pattern!r}"
                )
                continue
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
    synonyms: tuple[str, ...] = field(default=(), repr=False)  # other names users give it

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
_FIELDS = {"name_zh", "name_en", "icon", "match", "exclude", "synonyms"}


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
            extra = sorted(set(spec) - _FIELDS)
            if extra:
                found.append(
                    f"[categories.{key}]: unknown field(s) {extra}; a category has "
                    f"{', '.join(sorted(_FIELDS))}"
                )
            for name in ("name_zh", "name_en"):
                if name not in spec:
                    found.append(f"[categories.{key}] needs {name} (its label in tables and maps)")
                elif not isinstance(spec[name], str) or not spec[name].strip():
                    found.append(f"{key}.{name} must be a non-empty text, got {spec[name]!r}")
            icon = spec.get("icon", "")
            if not isinstance(icon, str):
                found.append(f"{key}.icon must be one character in quotes, got {icon!r}")
                icon = ""
            synonyms = spec.get("synonyms", [])
            if not isinstance(synonyms, list) or not all(isinstance(x, str) for x in synonyms):
                found.append(f"{key}.synonyms must be a list of texts, got {synonyms!r}")
                synonyms = []
            match = _compile_rules(spec.get("match"), f"{key}.match", found)
            exclude = _compile_rules(spec.get("exclude"), f"{key}.exclude", found)
            if not match:
                found.append(f"{key}.match: needs at least one rule")
            for m in found:
                problems.add(m)
            name_zh = str(spec.get("name_zh", key))
            cats.append(
                Category(
                    key=key,
                    name_zh=name_zh,
                    name_en=str(spec.get("name_en", key)),
                    match=match,
                    exclude=exclude,
                    icon=icon or name_zh[:1],
                    synonyms=tuple(synonyms),
                )
            )
    return Taxonomy(categories=tuple(cats), source=source)


_TERM_RE = re.compile(r"[a-z][a-z_]+|[\u3400-\u9fff]{2,}")


def _terms(category: Category) -> set[str]:
    """Words that name a category: its key, names, synonyms and the tag values and name parts
    its rules look for (``clinic`` in ``amenity = "clinic|doctors"``, ``养老院``)."""
    out = {category.key, category.name_en.lower(), *(s.lower() for s in category.synonyms)}
    out.update(_TERM_RE.findall(category.name_en.lower()))
    out.update(re.split(r"[/、()（）,，\s]+", category.name_zh))
    for rule in category.match:
        for _key, pattern in rule:
            if pattern is not None:
                out.update(_TERM_RE.findall(pattern.pattern.lower()))
    return {t.strip() for t in out if len(t.strip()) >= 2}


def suggest_category(name: str, taxonomy: Taxonomy) -> str | None:
    """The taxonomy key a user's category name most likely means, or None.

    An exact match of a word naming exactly one category (``clinic`` → ``health``), else the
    closest such word by :func:`difflib.get_close_matches` (``elderly_care`` → ``elder_care``), else
    a Chinese name that contains the user's name or is contained in it.
    """
    norm = re.sub(r"[\s\-]+", "_", name.strip().lower())
    owners: dict[str, set[str]] = {}
    for c in taxonomy.categories:
        for t in _terms(c):
            owners.setdefault(t.replace(" ", "_"), set()).add(c.key)
    unique = {t: next(iter(k)) for t, k in owners.items() if len(k) == 1}
    if norm in unique:
        return unique[norm]
    # short names are too easily close to something (foo ~ food): only longer ones are guessed
    close = difflib.get_close_matches(norm, list(unique), n=1, cutoff=0.8) if len(norm) > 4 else []
    if close:
        return unique[close[0]]
    if not norm.isascii():
        for c in taxonomy.categories:
            if any(t in norm or norm in t for t in _terms(c) if not t.isascii()):
                return c.key
    return None


def outside_taxonomy(
    user_categories: Iterable[str], taxonomy: Taxonomy, basket: Iterable[str]
) -> tuple[dict[str, str | None], list[str]]:
    """The user's categories that neither the taxonomy nor the basket knows, each with the
    taxonomy key it most likely means (or None), and a note for each.

    Such a category is valid (it is analysed on its own at every tier), but it never counts
    towards the complete life circle: a list of ``clinic`` facilities does not fill ``health``.
    """
    in_basket = set(basket)
    found: dict[str, str | None] = {}
    notes: list[str] = []
    for cat in sorted(set(user_categories)):
        if cat in taxonomy or cat in in_basket:
            continue
        key = suggest_category(cat, taxonomy)
        found[cat] = key
        if key is None:
            msg = note("category_outside_taxonomy", category=cat, keys=", ".join(taxonomy.keys))
        else:
            msg = note(
                "category_outside_taxonomy_hint" + ("_basket" if key in in_basket else ""),
                category=cat,
                suggested=key,
                suggested_zh=taxonomy[key].name_zh,
            )
        notes.append(msg)
    return found, notes
