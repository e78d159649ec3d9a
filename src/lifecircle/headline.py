"""The headline of a run, decided in one place: the verdict against the target, why it is what it
is (basket categories without any facility, residents off the walk network, a facility list that
looks like GCJ-02, area samples standing in for residents), and the warnings every output that
shows a verdict repeats — console, summary.json, map, report, the batch's status table and city
outputs.

:func:`headline` is a pure function of a run's summary (``summary.json`` as written, or the dict
the pipeline returns), so a map or report rebuilt later from the folder says the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lifecircle.i18n import LANGS, t
from lifecircle.notes import add_notes, note

OFF_NETWORK_WARN_SHARE = 0.05
"""A share of residents (weighted) farther than ``--max-snap-m`` from any walkable way above
which the run's verdict carries a warning: a few per cent are normal (points in large parks,
on water, at the edge of an extract); beyond that the network does not describe the area."""

AREA_SAMPLES = "uniform_area_no_population_data"
"""The denominator of runs without population data: evenly spread points, not residents."""

# codes of the warnings (machine keys in summary.json → warnings and city_summary.json)
EMPTY_BASKET = "empty_basket_categories"
OFF_NETWORK = "off_network"
LOOKS_GCJ02 = "facilities_look_gcj02"
LOOKS_BD09 = "facilities_look_bd09"
BOUNDARIES_CUT = "osm_boundaries_cut"


@dataclass(frozen=True)
class HeadlineWarning:
    """One warning, with its text in every language and the figures behind it."""

    code: str
    messages: Mapping[str, str]
    data: Mapping[str, Any] = field(default_factory=dict)
    short: Mapping[str, str] = field(default_factory=dict)  # for a table cell

    def text(self, lang: str) -> str:
        return self.messages.get(lang, self.messages["en"])

    def short_text(self, lang: str) -> str:
        return self.short.get(lang) or self.short.get("en") or self.code

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            **dict(self.data),
            "message": dict(self.messages),
            "short": dict(self.short),
        }


@dataclass(frozen=True)
class Headline:
    """What a run's headline says; see :func:`headline`."""

    verdict: str  # "meets" | "misses" | "no_data"
    coverage: float | None
    target: float
    profile: str
    minutes: int
    area_samples: bool
    basket: tuple[str, ...]
    empty_basket: tuple[str, ...]
    coverage_with_data: float | None
    within_threshold: Mapping[str, float | None]
    off_network_share: float
    communities_meeting: tuple[int, int] | None
    warnings: tuple[HeadlineWarning, ...]
    names: Mapping[str, Mapping[str, str]] = field(repr=False, default_factory=dict)
    thresholds: Mapping[str, str] = field(repr=False, default_factory=dict)
    empty_categories: tuple[str, ...] = ()
    communities_without_residents: int = 0  # not judged (empty grid cells, parks, water)

    @property
    def status(self) -> str:
        """``ok`` or ``ok_with_warnings``: what a batch's status table shows for a finished run."""
        return "ok_with_warnings" if self.warnings else "ok"

    def unit(self, lang: str) -> str:
        """What the weights count, in running text: residents, or area samples."""
        return t("unit_area_samples" if self.area_samples else "unit_residents", lang)

    def unit_label(self, lang: str) -> str:
        """The same as a column header (居民数 / 面积样本点)."""
        return t("area_samples" if self.area_samples else "residents", lang)

    def category_name(self, category: str, lang: str) -> str:
        """A category's short name in ``lang`` (its key when the run recorded none)."""
        return _short(self.names.get(category, {}).get(lang) or category)

    def per_category(self, lang: str) -> list[CategoryLine]:
        """Per category, the share within its own threshold at the headline tier: the view that
        stays informative when the complete life circle is 0 % (basket categories first)."""
        cats = sorted(self.within_threshold, key=lambda c: c not in self.basket)
        return [
            CategoryLine(
                key=c,
                name=self.category_name(c, lang),
                threshold=self.thresholds.get(c, ""),
                share=None if c in self.empty_categories else self.within_threshold[c],
                in_basket=c in self.basket,
                empty=c in self.empty_categories,
            )
            for c in cats
        ]

    def verdict_text(self, lang: str) -> str:
        if self.verdict == "no_data":
            return t("hl_no_data", lang).format(unit=self.unit(lang))
        return t("hl_meets" if self.verdict == "meets" else "hl_misses", lang)

    def sentence(self, lang: str) -> str:
        """The headline sentence: the share against the target, the communities meeting it, and
        what the share counts when there are no residents; the reasons to doubt it follow as
        :attr:`warnings` (see :meth:`full_text`)."""
        parts = [
            t("hl_clc", lang).format(
                minutes=self.minutes,
                profile=t(self.profile, lang),
                share=_pct(self.coverage),
                unit=self.unit(lang),
                target=f"{self.target:.0%}",
                verdict=self.verdict_text(lang),
            )
        ]
        if self.communities_meeting is not None:
            count, of = self.communities_meeting
            empty = self.communities_without_residents
            key = "hl_communities_some_empty" if empty else "hl_communities"
            parts.append(t(key, lang).format(count=count, of=of, empty=empty))
        if self.area_samples:
            parts.append(t("hl_area_samples", lang))
        return " ".join(parts) if lang == "en" else "".join(parts)

    def full_text(self, lang: str) -> str:
        """The headline sentence followed by every warning: what summary.json records."""
        sep = " " if lang == "en" else ""
        return sep.join([self.sentence(lang), *self.warning_texts(lang)])

    def warning_texts(self, lang: str) -> list[str]:
        return [w.text(lang) for w in self.warnings]

    def as_dict(self) -> dict[str, Any]:
        """For summary.json → ``headline`` (the texts in every language)."""
        return {
            "verdict": self.verdict,
            "status": self.status,
            "coverage": self.coverage,
            "target": self.target,
            "profile": self.profile,
            "minutes": self.minutes,
            "counts": "area_samples" if self.area_samples else "residents",
            "empty_basket_categories": list(self.empty_basket),
            "coverage_over_basket_categories_with_data": self.coverage_with_data,
            "off_network_share": self.off_network_share,
            "off_network_warn_share": OFF_NETWORK_WARN_SHARE,
            "text": {lang: self.full_text(lang) for lang in LANGS},
        }


@dataclass(frozen=True)
class CategoryLine:
    """One category in the per-category view: ``share`` is None when it has no facility."""

    key: str
    name: str
    threshold: str
    share: float | None
    in_basket: bool
    empty: bool


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


def _short(name: str) -> str:
    """A category label without its parenthesised detail."""
    return re.split(r"[(（]", name, maxsplit=1)[0].strip() or name


def headline(summary: Mapping[str, Any]) -> Headline:
    """Decide the headline of a run from its summary.

    Parameters
    ----------
    summary
        A run's summary: ``complete_life_circle`` (with ``empty_basket_categories``,
        ``coverage_with_data`` and ``within_threshold`` from
        :func:`lifecircle.coverage.headline_shares`), ``residents``, ``denominator``,
        ``categories``, and optionally ``communities_meeting_target``, ``counts`` and
        ``provenance.parameters.max_snap_m``. Older summaries without the newer keys are read
        as having no empty basket category.

    Returns
    -------
    Headline
        The verdict, the figures behind it and the warnings, in every language.
    """
    clc = summary["complete_life_circle"]
    cats = summary.get("categories", {})
    names = {
        c: {lang: str(info.get(f"name_{lang}") or c) for lang in LANGS} for c, info in cats.items()
    }
    cov = clc.get("coverage")
    cov = None if cov is None or cov != cov else float(cov)  # NaN: no residents
    target = float(clc["target"])
    verdict = "no_data" if cov is None else ("meets" if cov >= target else "misses")
    area_samples = summary.get("denominator") == AREA_SAMPLES
    basket = tuple(clc.get("basket", ()))
    empty = tuple(clc.get("empty_basket_categories", ()))
    with_data = clc.get("coverage_with_data")
    res = summary.get("residents", {})
    off = float(res.get("off_network_share") or 0.0)
    meet = summary.get("communities_meeting_target")
    meeting = (int(meet["count"]), int(meet["of"])) if meet else None
    no_residents = int(meet.get("communities_without_residents", 0)) if meet else 0
    unit = {lang: t("unit_area_samples" if area_samples else "unit_residents", lang)
            for lang in LANGS}  # fmt: skip

    warnings = [
        w
        for w in (
            _empty_basket_warning(empty, basket, names, unit, with_data),
            _off_network_warning(summary, off, unit),
            _shifted_warning(summary, "gcj02"),
            _shifted_warning(summary, "bd09"),
            _boundaries_cut_warning(summary),
        )
        if w is not None
    ]
    return Headline(
        verdict=verdict,
        coverage=cov,
        target=target,
        profile=str(clc.get("profile", "standard")),
        minutes=int(clc.get("minutes", 15)),
        area_samples=area_samples,
        basket=basket,
        empty_basket=empty,
        coverage_with_data=None if with_data is None else float(with_data),
        within_threshold=dict(clc.get("within_threshold", {})),
        off_network_share=off,
        communities_meeting=meeting,
        communities_without_residents=no_residents,
        warnings=tuple(warnings),
        names=names,
        thresholds={c: str(info.get("threshold", "")) for c, info in cats.items()},
        empty_categories=tuple(summary.get("facilities", {}).get("empty_categories", ())),
    )


def _each(key: str, **params: Any) -> dict[str, str]:
    """The label ``key`` of :mod:`lifecircle.i18n` in every language, formatted."""
    return {lang: t(key, lang).format(**params) for lang in LANGS}


def _empty_basket_warning(
    empty: tuple[str, ...],
    basket: tuple[str, ...],
    names: Mapping[str, Mapping[str, str]],
    unit: Mapping[str, str],
    with_data: float | None,
) -> HeadlineWarning | None:
    """Basket categories without any facility: nobody can have the complete life circle."""
    if not empty:
        return None
    sep = {"zh": "、", "en": ", "}
    listed = {
        lang: sep[lang].join(_short(names[c][lang]) if c in names else c for c in empty)
        for lang in LANGS
    }
    if len(empty) < len(basket):
        msgs = {
            lang: t("hl_empty_basket", lang).format(
                n=len(empty),
                names=listed[lang],
                unit=unit[lang],
                m=len(basket) - len(empty),
                share=_pct(with_data),
            )
            for lang in LANGS
        }
    else:
        msgs = {
            lang: t("hl_empty_basket_all", lang).format(n=len(empty), names=listed[lang])
            for lang in LANGS
        }
    return HeadlineWarning(
        EMPTY_BASKET,
        msgs,
        {"categories": list(empty), "coverage_with_data": with_data},
        {lang: t("hl_short_empty", lang).format(names=listed[lang]) for lang in LANGS},
    )


def _off_network_warning(
    summary: Mapping[str, Any], off: float, unit: Mapping[str, str]
) -> HeadlineWarning | None:
    """More than :data:`OFF_NETWORK_WARN_SHARE` of the weights farther than the snap limit."""
    if off <= OFF_NETWORK_WARN_SHARE:
        return None
    max_snap = summary.get("provenance", {}).get("parameters", {}).get("max_snap_m")
    snap_txt = f"{float(max_snap):g}" if max_snap is not None else "--max-snap-m"
    msgs = {
        lang: t("hl_off_network", lang).format(
            share=f"{off:.0%}",
            unit=unit[lang],
            max_snap=snap_txt,
            limit=f"{OFF_NETWORK_WARN_SHARE:.0%}",
        )
        for lang in LANGS
    }
    return HeadlineWarning(
        OFF_NETWORK,
        msgs,
        {"share": off, "warn_share": OFF_NETWORK_WARN_SHARE, "max_snap_m": max_snap},
        _each("hl_short_off_network", share=f"{off:.0%}"),
    )


def _shifted_warning(summary: Mapping[str, Any], system: str) -> HeadlineWarning | None:
    """Facility lists read as WGS 84 that look like GCJ-02 or BD-09 (``system``)."""
    code = LOOKS_GCJ02 if system == "gcj02" else LOOKS_BD09
    files = list(summary.get("counts", {}).get(code, []))
    if not files:
        return None
    return HeadlineWarning(
        code,
        _each(f"hl_{system}", files=", ".join(files)),
        {"files": files},
        _each(f"hl_short_{system}"),
    )


def _boundaries_cut_warning(summary: Mapping[str, Any]) -> HeadlineWarning | None:
    """Communities taken from OSM boundaries, some of which the extract cuts: the run covers
    fewer communities than the place has (:func:`lifecircle.sources.boundaries.cut_boundaries`)."""
    cut = summary.get("counts", {}).get(BOUNDARIES_CUT)
    if not cut:
        return None
    names = list(cut.get("names", []))
    more = int(cut["count"]) - len(names)
    sep = {"zh": "、", "en": ", "}
    listed = {lang: sep[lang].join(names) + (f" … (+{more})" if more > 0 else "") for lang in LANGS}
    msgs = {
        lang: t("hl_boundaries_cut", lang).format(
            n=cut["count"],
            levels=", ".join(cut.get("admin_levels", [])),
            names=listed[lang],
            kept=cut.get("communities_kept", 0),
        )
        for lang in LANGS
    }
    return HeadlineWarning(
        BOUNDARIES_CUT, msgs, dict(cut), _each("hl_short_boundaries_cut", n=cut["count"])
    )


def with_headline(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``summary`` with ``headline``, ``warnings`` (one entry per warning, texts in
    every language) and each warning's English text added to ``notes`` (once)."""
    out = dict(summary)
    hl = headline(out)
    out["headline"] = hl.as_dict()
    out["warnings"] = [w.as_dict() for w in hl.warnings]
    known = set(out.get("notes") or [])
    add_notes(
        out,
        [
            note("headline_warning", en=w.text("en"), zh=w.text("zh"))
            for w in hl.warnings
            if w.text("en") not in known
        ],
    )
    out["residents"] = dict(out.get("residents", {})) | {
        "counts": "area_samples" if hl.area_samples else "residents"
    }
    return out


def status_cell(status: str, warnings: list[Mapping[str, Any]], lang: str) -> str:
    """A district's status for a batch's table: ``ok``, ``ok ⚠ <short warnings>``, or the
    status itself (failed, interrupted …); ``warnings`` as in summary.json → warnings."""
    if status != "ok" or not warnings:
        return status
    parts = [
        str(w.get("short", {}).get(lang) or w.get("short", {}).get("en") or w.get("code"))
        for w in warnings
    ]
    return "ok ⚠ " + "; ".join(parts)
