"""``report.html``: a printable report built from an output folder (summary.json, coverage.csv,
the gaps layer) through a Jinja2 template with autoescaping, so names from data stay text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.errors
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from lifecircle.fileio import write_text
from lifecircle.headline import headline
from lifecircle.i18n import t as label
from lifecircle.naming import ALL
from lifecircle.notes import (
    communities_source_label,
    denominator_label,
    dropped_pieces_text,
    input_label,
    render_notes,
    threshold_label,
)
from lifecircle.render.escape import html_text, read_people_csv
from lifecircle.render.maps import damaged_outputs


def _pct(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.1%}"


GAP_COLUMNS = ["community_id", "missing_categories", "weight"]  # what the report reads of gaps
# what it reads of the tables
COVERAGE_READ = frozenset({"community_id", "category", "profile", "minutes", "coverage"})
AREA_READ = frozenset({"category", "profile", "minutes", "coverage"})


def read_report_inputs(
    out: Path,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What the report reads of an output folder: ``summary.json``, ``coverage.csv``,
    ``area_coverage.csv`` and the gaps layer's columns.

    Raises
    ------
    InputError
        When one cannot be read or lacks a column the report reads (an edited folder).
    """
    try:
        summary = json.loads((out / "summary.json").read_text("utf-8"))
        cov = read_people_csv(out / "coverage.csv", dtype={"community_id": str})
        area = read_people_csv(out / "area_coverage.csv")
        # the columns the report reads, without the points: a large area has 10^5 gaps
        gaps = gpd.read_file(
            out / "lifecircle.gpkg", layer="gaps", columns=GAP_COLUMNS, ignore_geometry=True
        )
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as exc:
        raise damaged_outputs(out, f"its outputs cannot be read ({exc})") from exc
    for name, table, needed in (
        ("coverage.csv", cov, COVERAGE_READ),
        ("area_coverage.csv", area, AREA_READ),
    ):
        missing = sorted(needed - set(table.columns))
        if missing:
            raise damaged_outputs(out, f"{name} lacks the column(s) {', '.join(missing)}")
    return summary, cov, area, gaps


def _as_text(value: object) -> Markup:
    """Every value the template prints, escaped by the HTML helper the maps also use."""
    return value if isinstance(value, Markup) else Markup(html_text(value))


def _category_rows(
    summary: dict[str, Any],
    area_cov: pd.DataFrame,
    profiles: list[str],
    minutes: list[int],
    lang: str,
) -> list[dict[str, Any]]:
    """The area-wide table: per category (and the complete life circle) its threshold, the
    facilities found and the share per profile and minutes."""
    area = area_cov.set_index(["category", "profile", "minutes"])["coverage"]
    cats = summary["categories"]
    per_cat = summary["facilities"]["per_category"]
    rows = []
    for key in [*cats, ALL]:
        info = cats.get(key, {})
        value = info.get("threshold_value")
        rows.append(
            {
                "label": label(ALL, lang) if key == ALL else info.get(f"name_{lang}", key),
                "threshold": info.get("threshold", "")
                if value is None
                else threshold_label(str(info.get("threshold_kind", "")), float(value), lang),
                "unverified": info.get("threshold_unverified", False),
                "n": per_cat.get(key, "") if key != ALL else "",
                "cells": [area.get((key, p, m)) for p in profiles for m in minutes],
            }
        )
    return rows


def _lacking(gaps: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per community, the residents lacking each category: the gaps' weights added one by one
    in the layer's order (the same sums, to the last bit, as a loop over the gaps), with the
    categories in the order they first appear. Each distinct list of categories is split once,
    so 10^5 gaps take no Python loop."""
    combo, lists = pd.factorize(gaps["missing_categories"].fillna("").astype(str))
    split = [[k.strip() for k in str(x).split(",") if k.strip()] for x in lists]
    cat_of, cat_names = pd.factorize(pd.Series([k for ks in split for k in ks], dtype=object))
    sizes = np.array([len(k) for k in split], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    per_row = sizes[combo] if len(combo) else np.zeros(0, dtype=np.int64)
    row = np.repeat(np.arange(len(combo)), per_row)  # one entry per gap and category it lacks
    first = np.repeat(np.cumsum(per_row) - per_row, per_row)
    cat = cat_of[starts[combo[row]] + np.arange(len(row)) - first]
    cid_of, cid_names = pd.factorize(gaps["community_id"].astype(str))
    n_cats = max(len(cat_names), 1)
    key, pairs = pd.factorize(cid_of[row].astype(np.int64) * n_cats + cat)  # first seen first
    total = np.zeros(len(pairs))
    np.add.at(total, key, gaps["weight"].to_numpy(dtype=float)[row])  # in order, unbuffered
    out: dict[str, dict[str, float]] = {}
    for pair, v in zip(pairs.tolist(), total.tolist(), strict=True):
        out.setdefault(str(cid_names[pair // n_cats]), {})[str(cat_names[pair % n_cats])] = v
    return out


def _missing_communities(
    summary: dict[str, Any], cov: pd.DataFrame, gaps: pd.DataFrame, lang: str
) -> list[dict[str, Any]]:
    """Communities below the target, worst first, each with the categories its residents lack
    (the share of the community's residents lacking each)."""
    clc = summary["complete_life_circle"]
    cats = summary["categories"]
    top = cov[
        (cov["category"] == ALL)
        & (cov["profile"] == clc["profile"])
        & (cov["minutes"] == clc["minutes"])
        & (cov["residents"] > 0)
        & ~cov["meets_target"].astype(bool)
    ].sort_values("coverage")
    lacking_in = _lacking(gaps)
    missing = []
    for _, c in top.iterrows():
        lacking = lacking_in.get(c["community_id"], {})
        why = ", ".join(
            f"{cats.get(k, {}).get(f'name_{lang}', k)} {v / c['residents']:.0%}"
            for k, v in sorted(lacking.items(), key=lambda kv: -kv[1])
        )
        missing.append(
            {"id": c["community_id"], "name": c["community_name"], "residents": c["residents"],
             "coverage": c["coverage"], "why": why}
        )  # fmt: skip
    return missing


def _completeness(
    summary: dict[str, Any], *, area_samples: bool, lang: str
) -> list[dict[str, Any]]:
    """OSM completeness per category: facilities found, their sources and (with residents, not
    area samples) the rate per 10,000 residents, flagged when OSM alone gives under 0.5."""
    residents = float(summary["residents"]["total"]) or 1.0
    per_cat = summary["facilities"]["per_category"]
    sources = summary["facilities"].get("per_category_source", {})
    rows = []
    for key, info in summary["categories"].items():
        src = sources.get(key, {})
        n = int(per_cat.get(key, 0))
        osm_only = set(src) <= {"osm"}
        rows.append(
            {
                "label": info.get(f"name_{lang}", key),
                "n": n,
                "sources": ", ".join(f"{k} {v}" for k, v in src.items()) or "–",
                # area samples are not people: no rate per resident from them
                "per_10k": None if area_samples else n / residents * 10_000,
                "flag": not area_samples and osm_only and n / residents * 10_000 < 0.5,
            }
        )
    return rows


def _sensitivity(summary: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The report's section on how sure each verdict is (``analyze --sensitivity``): the bands,
    the area's band and the communities whose verdict changes within it."""
    sens = summary.get("sensitivity")
    if not sens:
        return None
    intro = label("sens_intro", lang).format(
        speed=sens["speed_band_m_s"],
        snap_low=sens["snap_limits_m"][0],
        snap_high=sens["snap_limits_m"][2],
        dropout=sens["dropout"],
        runs=sens["dropout_runs"],
        profile=label(sens["profile"], lang),
        minutes=sens["minutes"],
    )
    area = sens.get("area") or {}
    area_line = (
        label("sens_area", lang).format(
            cov=_pct(area["coverage"]),
            low=_pct(area["coverage_low"]),
            high=_pct(area["coverage_high"]),
            stable=label("sens_holds" if area["verdict_stable"] else "sens_flips", lang),
        )
        if area.get("coverage") is not None
        else ""
    )
    sep = "、" if lang == "zh" else ", "
    rows = [
        c | {"why": sep.join(label(k.strip(), lang) for k in c["flipped_by"].split(","))}
        for c in sens["uncertain_communities"]
    ]
    return {"intro": intro, "area": area_line, "rows": rows, "file": sens["file"]}


def render_report(
    out: Path,
    *,
    lang: str = "zh",
    dest: Path | None = None,
    figures_lang: str | None = None,
    inputs: tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None,
) -> Path:
    """Write ``report.html`` for the analysis in ``out`` (or to ``dest``).

    Parameters
    ----------
    out
        The output folder.
    lang
        The report's language.
    dest
        Where to write it instead of ``out/report.html``.
    figures_lang
        The language the figures were drawn in (English when no CJK font was found); by
        default what summary.json records, else what they would be drawn in now. When it is
        not ``lang``, the report says so next to them.
    inputs
        What :func:`read_report_inputs` read of ``out``, when it was read already.
    """
    from lifecircle.render.figures import figure_lang

    summary, cov, area_cov, gaps = inputs if inputs is not None else read_report_inputs(out)
    if figures_lang is None:
        figures_lang = (summary.get("figures") or {}).get("lang") or figure_lang(lang)
    clc = summary["complete_life_circle"]
    profiles = [p for p in dict.fromkeys(cov["profile"]) if p != "age_weighted"]
    minutes = sorted(set(cov["minutes"]))
    hl = headline(summary)
    env = Environment(
        loader=PackageLoader("lifecircle", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        finalize=_as_text,
    )
    html = env.get_template("report.html.j2").render(
        summary=summary,
        clc=clc,
        hl=hl,
        meeting=summary["communities_meeting_target"],
        categories=_category_rows(summary, area_cov, profiles, minutes, lang),
        profiles=profiles,
        minutes=minutes,
        notes=render_notes(summary, lang),
        denominator=denominator_label(summary["denominator"], lang),
        communities_source=communities_source_label(summary["area"]["communities_source"], lang),
        dropped_pieces=dropped_pieces_text(summary, lang),
        missing=_missing_communities(summary, cov, gaps, lang),
        sensitivity=_sensitivity(summary, lang),
        completeness=_completeness(summary, area_samples=hl.area_samples, lang=lang),
        figures=[f for f in ("coverage_map.png", "coverage_chart.png") if (out / f).is_file()],
        figures_note=label("figures_in_english", lang) if figures_lang != lang else "",
        target=float(clc["target"]),
        lang=lang,
        t=lambda k: label(k, lang),
        input_label=lambda k: input_label(k, lang),
        pct=_pct,
    )
    path = dest or out / "report.html"
    return write_text(path, html)
