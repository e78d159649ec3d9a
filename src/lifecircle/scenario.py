"""What if: an analysis with facilities added, removed or moved, and what that changes.

:func:`load_analysis` opens an ``analyze`` output folder through the study it saved (no input is
read again); :func:`read_additions` and :func:`read_removals` read the changes as
``lifecircle scenario`` takes them (these and :func:`write_scenario` live in
:mod:`lifecircle.scenario_files` and are available here); :func:`what_if` applies them with
:meth:`lifecircle.study.Study.with_facilities` (only the changed categories are routed again) and
compares coverage before and after (:func:`coverage_change`); :func:`write_scenario` writes the
full set of outputs of the changed analysis plus the change files.

A scenario's ``coverage.csv`` is the one ``lifecircle analyze`` writes with the changed facility
set: the original inputs, the added lists as further ``--facilities`` files (after the original
ones), the removed facilities left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.categories import outside_taxonomy
from lifecircle.errors import InputError
from lifecircle.gated import with_gates
from lifecircle.naming import ALL
from lifecircle.notes import Note, add_notes, note
from lifecircle.result import Result
from lifecircle.scenario_files import (
    CHANGE_FILE,
    CHANGE_XLSX,
    FACILITY_CHANGES_FILE,
    SCENARIO_FILES,
    Additions,
    Analysis,
    check_removals,
    check_scenario_out,
    load_analysis,
    read_additions,
    read_removals,
    scenario_files,
    scenario_inputs,
    write_scenario,
)
from lifecircle.study import Study

log = logging.getLogger(__name__)

NOW_MEETS, NOW_MISSES = "now_meets", "now_misses"
CHANGE_COLUMNS = [
    "community_id",
    "community_name",
    "category",
    "profile",
    "minutes",
    "residents",
    "coverage_before",
    "coverage_after",
    "change",
    "target",
    "meets_before",
    "meets_after",
    "verdict_change",
    "at_threshold",
]
FACILITY_CHANGE_COLUMNS = [
    "change",
    "facility_id",
    "category",
    "name",
    "source",
    "lon",
    "lat",
    "on_network",
    "in_area",
    "residents_within_max_minutes",
]
MAX_LISTED = 200  # facilities and flips listed by name in summary.json (all are in the CSVs)


# ---- comparing --------------------------------------------------------------------------------


def threshold_rows(study: Study, categories: Iterable[str]) -> dict[str, tuple[str, int]]:
    """Per category, the (profile, minutes) row of ``coverage.csv`` that judges it: the profile
    it is judged with (its ``judge_with``, else the headline profile) at the tier equal to its
    threshold; the complete life circle (``all``) at the headline profile and longest tier.
    A category whose threshold is a distance, or not a tier, has none."""
    preset = study.settings.preset
    rows = {ALL: (preset.headline_profile, max(preset.minutes))}
    for c in categories:
        th = preset.threshold(c)
        if th.kind == "minutes" and th.value in preset.minutes:
            rows[c] = (preset.judge_with.get(c, preset.headline_profile), int(th.value))
    return rows


def coverage_change(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    target: float,
    at_threshold: dict[str, tuple[str, int]] | None = None,
) -> pd.DataFrame:
    """Per community × category × profile × minutes: the share before and after, the change,
    and whether the verdict against ``target`` flips.

    Parameters
    ----------
    before, after
        ``coverage.csv`` tables. A category only ``after`` has (added facilities of a category
        the analysis had none of) had no facility before: its share before is 0 where the
        community has residents.
    target
        The share a community must reach.
    at_threshold
        Per category, the (profile, minutes) row that judges it (:func:`threshold_rows`).

    Returns
    -------
    pandas.DataFrame
        The :data:`CHANGE_COLUMNS`, in the row order of ``after``. ``verdict_change`` is
        ``now_meets``, ``now_misses`` or empty; communities without residents never flip.
    """
    key = ["community_id", "category", "profile", "minutes"]
    b = before[[*key, "coverage"]].rename(columns={"coverage": "coverage_before"})
    out = after[[*key, "community_name", "residents", "coverage"]].merge(
        b, on=key, how="left", validate="one_to_one"
    )
    out = out.rename(columns={"coverage": "coverage_after"})
    populated = out["residents"].to_numpy(dtype=float) > 0
    new = out["coverage_before"].isna().to_numpy() & populated
    out.loc[new, "coverage_before"] = 0.0  # the category had no facility before
    cb = out["coverage_before"].to_numpy(dtype=float)
    ca = out["coverage_after"].to_numpy(dtype=float)
    out["change"] = (ca - cb).round(12)  # 0.16, not 0.16000000000000003
    out["target"] = target
    out["meets_before"] = populated & (cb >= target)
    out["meets_after"] = populated & (ca >= target)
    mb, ma = out["meets_before"].to_numpy(), out["meets_after"].to_numpy()
    out["verdict_change"] = np.select([ma & ~mb, mb & ~ma], [NOW_MEETS, NOW_MISSES], "")
    rows = at_threshold or {}
    out["at_threshold"] = [
        rows.get(c) == (p, int(m))
        for c, p, m in zip(out["category"], out["profile"], out["minutes"], strict=True)
    ]
    return out[CHANGE_COLUMNS]


def facility_rows(fac: gpd.GeoDataFrame, ids: Sequence[str], change: str) -> pd.DataFrame:
    """The rows of ``fac`` whose id is among ``ids``, as rows of ``facility_changes.csv``
    marked ``change`` (the :data:`FACILITY_CHANGE_COLUMNS`)."""
    sel = fac[fac["facility_id"].astype(str).isin(set(ids))].copy()
    pts = sel.geometry.representative_point() if len(sel) else sel.geometry
    sel["lon"] = pts.x.round(7) if len(sel) else []
    sel["lat"] = pts.y.round(7) if len(sel) else []
    sel.insert(0, "change", change)
    return pd.DataFrame(sel.reindex(columns=FACILITY_CHANGE_COLUMNS))


def facility_changes(
    before: Result, after: Result, *, added: Sequence[str], removed: Sequence[str]
) -> pd.DataFrame:
    """The facilities added (as placed in ``after``) and removed (as they were in ``before``):
    the :data:`FACILITY_CHANGE_COLUMNS`. An added facility beyond the walking reach of the area
    is not placed and is not listed (``summary.json`` counts it)."""
    return pd.concat(
        [
            facility_rows(after.facilities, added, "added"),
            facility_rows(before.facilities, removed, "removed"),
        ],
        ignore_index=True,
    )


# ---- the scenario -----------------------------------------------------------------------------


@dataclass
class Scenario:
    """A study before and after a change of its facilities.

    Attributes
    ----------
    study
        The changed study (save it, or change it again).
    before, after
        Every table and layer of the analysis before and after.
    change
        :func:`coverage_change`: the table of ``coverage_change.csv``.
    facilities
        :func:`facility_changes`: the table of ``facility_changes.csv``.
    summary
        What ``summary.json → scenario`` says (:func:`change_summary`).
    """

    study: Study
    before: Result
    after: Result
    change: pd.DataFrame
    facilities: pd.DataFrame
    summary: dict[str, Any]


def what_if(
    study: Study,
    *,
    add: gpd.GeoDataFrame | Additions | None = None,
    remove: Iterable[str] = (),
    before: Result | None = None,
    add_gates: gpd.GeoDataFrame | None = None,
) -> Scenario:
    """``study`` with facilities added and removed (a move is both), and what that changes.

    Parameters
    ----------
    study
        The analysed area (:meth:`lifecircle.study.Study.from_inputs`, or
        :func:`load_analysis`); not changed.
    add
        Facilities to add: :func:`read_additions`, or a table as
        :func:`lifecircle.read_facilities_file` reads one.
    remove
        ``facility_id`` values of facilities of ``study`` to remove.
    before
        ``study.coverage()`` when already computed.
    add_gates
        Compound gates to open (:func:`lifecircle.sources.compounds.read_gates`), when
        ``study`` was analysed with gates: only the walks of residents inside compounds change.

    Raises
    ------
    InputError
        When an id to remove is not a facility of ``study``, or there is nothing to change.

    Examples
    --------
    >>> from lifecircle.scenario import load_analysis, read_additions, what_if
    >>> run = load_analysis("outputs/shanghai")  # doctest: +SKIP
    >>> new = read_additions(["new_canteens.csv"], run.study, crs="gcj02")  # doctest: +SKIP
    >>> s = what_if(run.study, add=new, remove=["osm:node/42"])  # doctest: +SKIP
    >>> s.change.query("verdict_change != ''")  # doctest: +SKIP
    """
    additions = add if isinstance(add, Additions) else None
    table = add.table if isinstance(add, Additions) else add
    ids = list(dict.fromkeys(str(r) for r in remove))
    n_gates = 0 if add_gates is None else len(add_gates)
    if (table is None or not len(table)) and not ids and not n_gates:
        raise InputError(
            "nothing to change: give facilities to add (--add) or remove (--remove), or gates "
            "to open (--add-gate)"
        )
    check_removals(study, ids)
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    before = before if before is not None else study.coverage()
    clock["before_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    changed, rerouted = _changed_study(study, additions, table, ids, add_gates)
    after = changed.coverage()
    clock["change_and_reroute_s"] = time.perf_counter() - t0
    added_ids = [] if table is None else [str(i) for i in table["facility_id"]]
    rows = threshold_rows(changed, changed.categories)
    change = coverage_change(
        before.coverage, after.coverage, target=study.settings.target, at_threshold=rows
    )
    fac = facility_changes(before, after, added=added_ids, removed=ids)
    summary = change_summary(
        before, after, change, fac, changed=changed.categories if n_gates else rerouted
    )
    unused = unused_additions(fac, added_ids)
    if unused:  # why a change can change nothing: said in the notes, the report and the console
        summary["added_unused"] = unused
        add_notes(after.summary, _unused_notes(unused, study))
    if add_gates is not None and n_gates:
        summary["gates_opened"] = [str(g) for g in add_gates["gate_id"]][:MAX_LISTED]
    summary["timings_s"] = {k: round(v, 4) for k, v in clock.items()}
    if additions is not None:  # how the added lists' coordinates were read
        summary["add_crs"] = additions.crs or "EPSG:4326"
    _log_change(summary, len(added_ids), len(ids))
    return Scenario(changed, before, after, change, fac, summary)


def _log_change(summary: dict[str, Any], added: int, removed: int) -> None:
    log.info(
        "scenario: %d added, %d removed; %d verdicts flip at the rows that judge the categories "
        "(%d at any profile and tier)",
        added,
        removed,
        sum(summary["flips_count"].values()),
        summary["verdict_changes_all_rows"],
    )


def _changed_study(
    study: Study,
    additions: Additions | None,
    table: gpd.GeoDataFrame | None,
    ids: list[str],
    add_gates: gpd.GeoDataFrame | None,
) -> tuple[Study, list[str]]:
    """``study`` with the facilities of ``table`` added, ``ids`` removed and ``add_gates``
    opened, its notes saying so; and the categories re-routed."""
    n_added = 0 if table is None else len(table)
    n_gates = 0 if add_gates is None else len(add_gates)
    changed = study.with_facilities(add=table, remove=ids) if n_added or ids else study
    _report_additions(changed, study, additions, table)
    rerouted = _changed_categories(study, table, ids)
    if add_gates is not None and n_gates:
        changed = with_gates(changed, add_gates)
    changed.notes = [  # a scenario of a scenario: the note of this change replaces the last
        *scenario_notes(n_added, len(ids), rerouted, n_gates),
        *(n for n in changed.notes if getattr(n, "key", None) not in SCENARIO_NOTES),
    ]
    return changed, rerouted


SCENARIO_NOTES = ("scenario", "scenario_gates")


def scenario_notes(added: int, removed: int, rerouted: list[str], gates: int) -> list[Note]:
    """The notes saying what a scenario changed: facilities, and gates opened."""
    out = []
    if added or removed:
        out.append(note("scenario", added=added, removed=removed, categories=", ".join(rerouted)))
    if gates:
        out.append(note("scenario_gates", gates=gates))
    return out


def _changed_categories(study: Study, add: gpd.GeoDataFrame | None, remove: list[str]) -> list[str]:
    t = study.facilities.table
    cats = set(t.loc[t["facility_id"].astype(str).isin(set(remove)), "category"])
    if add is not None:
        cats |= set(add["category"])
    return [c for c in study.categories if c in cats] + sorted(cats - set(study.categories))


def _report_additions(
    changed: Study, study: Study, additions: Additions | None, table: gpd.GeoDataFrame | None
) -> None:
    """Tell in the changed study's notes and counts what ``analyze`` would tell of the added
    lists: their checks against the area and their categories outside the taxonomy."""
    if table is None or not len(table):
        return
    notes = list(additions.notes) if additions is not None else []
    counts = dict(changed.counts)
    for k, v in (additions.counts if additions is not None else {}).items():
        old = counts.get(k)
        counts[k] = old | v if isinstance(old, dict) else [*(old or []), *v]
    seen = dict(counts.get("user_categories_outside_taxonomy", {}))
    found, found_notes = outside_taxonomy(
        [c for c in table["category"].unique() if c not in seen],
        study.taxonomy,
        study.settings.preset.basket,
    )
    if found:
        counts["user_categories_outside_taxonomy"] = seen | found
        notes = found_notes + notes
    changed.counts = counts
    changed.notes = [*changed.notes, *notes]


def unused_additions(facilities: pd.DataFrame, added: Sequence[str]) -> dict[str, Any] | None:
    """The added facilities that serve nobody, from :func:`facility_changes`: those beyond the
    area's walking reach (not placed), those off the walk network, and those on it that are the
    nearest of their kind for no resident within the longest tier. ``None`` when every added
    facility serves someone."""
    placed = facilities[facilities["change"] == "added"]
    on = placed["on_network"].astype(bool)
    groups = {
        "not_placed": sorted(set(added) - set(placed["facility_id"].astype(str))),
        "off_network": placed.loc[~on, "facility_id"].astype(str).tolist(),
        "nearest_for_nobody": placed.loc[
            on & (placed["residents_within_max_minutes"] <= 0), "facility_id"
        ]
        .astype(str)
        .tolist(),
    }
    if not any(groups.values()):
        return None
    return {
        "added": len(added),
        **{k: len(v) for k, v in groups.items()},
        **{f"{k}_ids": v[:MAX_LISTED] for k, v in groups.items()},
    }


def _unused_notes(unused: dict[str, Any], study: Study) -> list[str]:
    """One note per kind of unused addition (:func:`unused_additions`) that there is."""
    common = {"added": unused["added"]}
    params: dict[str, dict[str, Any]] = {
        "not_placed": {},
        "off_network": {"max_snap_m": study.settings.max_snap_m},
        "nearest_for_nobody": {"minutes": max(study.settings.preset.minutes)},
    }
    out: list[str] = []
    for kind, extra in params.items():
        n, ids = unused[kind], unused[f"{kind}_ids"]  # the ids are capped at MAX_LISTED
        if n:
            listed = ", ".join(ids[:10]) + (f" … (+{n - 10})" if n > 10 else "")
            out.append(note(f"scenario_added_{kind}", **common, n=n, ids=listed, **extra))
    return out


def _share(summary: dict[str, Any], cat: str) -> float | None:
    v = summary["complete_life_circle"].get("within_threshold", {}).get(cat)
    return None if v is None else float(v)


def change_summary(
    before: Result,
    after: Result,
    change: pd.DataFrame,
    facilities: pd.DataFrame,
    *,
    changed: Sequence[str],
) -> dict[str, Any]:
    """What ``summary.json → scenario`` says: what was added and removed, per changed category
    the area-wide share within its threshold before and after, the complete life circle before
    and after, and the communities whose verdict flips at the row that judges a category."""
    per_cat = {}
    for c in changed:
        b, a = _share(before.summary, c), _share(after.summary, c)
        b = 0.0 if b is None and a is not None else b  # a category new to the area
        per_cat[c] = {
            "threshold": after.summary["categories"][c]["threshold"],
            "coverage_before": b,
            "coverage_after": a,
            "change": None if a is None or b is None else a - b,
        }
    clc_b, clc_a = before.summary["complete_life_circle"], after.summary["complete_life_circle"]
    judged = change[change["at_threshold"] & (change["verdict_change"] != "")]
    flips = {
        kind: judged.loc[
            judged["verdict_change"] == kind, ["community_id", "community_name", "category"]
        ].to_dict("records")[:MAX_LISTED]
        for kind in (NOW_MEETS, NOW_MISSES)
    }
    listed = facilities[["change", "facility_id", "category", "name", "lon", "lat"]]
    return {
        "added": int((facilities["change"] == "added").sum()),
        "removed": int((facilities["change"] == "removed").sum()),
        "facilities": listed.head(MAX_LISTED).to_dict("records"),
        "rerouted_categories": list(changed),
        "per_category": per_cat,
        "complete_life_circle": {
            "profile": clc_a["profile"],
            "minutes": clc_a["minutes"],
            "coverage_before": clc_b["coverage"],
            "coverage_after": clc_a["coverage"],
            "change": clc_a["coverage"] - clc_b["coverage"],
            "communities_meeting_before": before.summary["communities_meeting_target"]["count"],
            "communities_meeting_after": after.summary["communities_meeting_target"]["count"],
        },
        "flips": flips,
        "flips_count": {k: int((judged["verdict_change"] == k).sum()) for k in flips},
        "verdict_changes_all_rows": int((change["verdict_change"] != "").sum()),
    }


__all__ = [
    "CHANGE_COLUMNS",
    "CHANGE_FILE",
    "CHANGE_XLSX",
    "FACILITY_CHANGES_FILE",
    "FACILITY_CHANGE_COLUMNS",
    "NOW_MEETS",
    "NOW_MISSES",
    "SCENARIO_FILES",
    "Additions",
    "Analysis",
    "Scenario",
    "change_summary",
    "check_removals",
    "check_scenario_out",
    "coverage_change",
    "facility_changes",
    "facility_rows",
    "load_analysis",
    "read_additions",
    "read_removals",
    "scenario_files",
    "scenario_inputs",
    "threshold_rows",
    "what_if",
    "write_scenario",
]
