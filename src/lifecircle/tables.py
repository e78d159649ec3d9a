"""From a study's routed state to the tables and layers of a :class:`~lifecircle.result.Result`:
resident distances and times, coverage per community and for the area, the gaps layer, the
communities layer, the service areas and the summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.capacity import capacity_tables
from lifecircle.config import Preset
from lifecircle.coverage import (
    AGE_WEIGHTED,
    area_totals,
    basket_limit_m,
    coverage_table,
    covered_mask,
    denominator_tables,
    headline_shares,
    weighted_median_by,
)
from lifecircle.naming import ALL, coverage_col, dist_col, limit_m, median_dist_col, time_col
from lifecircle.notes import add_notes, note
from lifecircle.outlines import SERVICE_AREA_COLUMNS, outline_frame
from lifecircle.result import Result
from lifecircle.sources import ages
from lifecircle.sources.codes import compare_with_code_table
from lifecircle.summary import build_summary
from lifecircle.terrain import flat_comparison

if TYPE_CHECKING:
    from lifecircle.gates import Gates
    from lifecircle.study import Study


@dataclass(frozen=True)
class CategoryReach:
    """What routing gives for one category: per resident the distance and the nearest access
    point of the category (-1 beyond the search), per building the distance, and the service
    areas. Access points are numbered within the category, so a change to another category's
    facilities leaves this valid."""

    category: str
    resident_m: np.ndarray
    nearest_point: np.ndarray
    building_m: np.ndarray | None
    # per tier: category, profile, minutes, geometry (WGS 84) and the map's outline
    # (lifecircle.outlines.service_area_rows)
    service_areas: list[dict[str, Any]]
    routing_s: float = 0.0
    service_areas_s: float = 0.0
    # with compound gates: per resident the distance ignoring the gates (for the comparison)
    resident_m_ungated: np.ndarray | None = None
    # the distance field all this was measured from: a study reuses the reach (and its
    # service areas) only while its category still has that very field
    field: object | None = None


def nearest_rows(reach: CategoryReach, point_rows: np.ndarray) -> np.ndarray:
    """Per resident, the facility-table row of the nearest facility (-1 for none), given the
    row of each of the category's access points."""
    if not len(point_rows):
        return np.full(len(reach.nearest_point), -1, dtype=np.int64)
    p = reach.nearest_point
    return np.where(p >= 0, point_rows[np.maximum(p, 0)], -1)


def resident_layer(
    residents: gpd.GeoDataFrame,
    reaches: list[CategoryReach],
    nearest: list[np.ndarray],
    facility_ids: np.ndarray,
    preset: Preset,
) -> gpd.GeoDataFrame:
    """The residents with, per category, the distance, the nearest facility and the times."""
    res = residents.copy()
    for r, near in zip(reaches, nearest, strict=True):
        res[dist_col(r.category)] = r.resident_m
        res[f"nearest_{r.category}"] = np.where(
            near >= 0, facility_ids[np.maximum(near, 0)] if len(facility_ids) else "", ""
        )
        for profile, speed in preset.speeds_m_s.items():
            res[time_col(r.category, profile)] = r.resident_m / speed / 60.0
    return res


def building_layer(buildings: gpd.GeoDataFrame, reaches: list[CategoryReach]) -> gpd.GeoDataFrame:
    """The residential buildings with their distance per category."""
    bld = buildings.copy()
    if len(bld):
        for r in reaches:
            bld[dist_col(r.category)] = r.building_m
    return bld


def facility_layer(
    facilities: gpd.GeoDataFrame,
    reaches: list[CategoryReach],
    nearest: list[np.ndarray],
    weights: np.ndarray,
    preset: Preset,
) -> gpd.GeoDataFrame:
    """The facilities with the residents each is the nearest for within the longest tier."""
    fac = facilities.copy()
    reached = np.zeros(len(fac))
    within = limit_m(max(preset.minutes), preset.headline_speed_m_s)
    for r, near in zip(reaches, nearest, strict=True):
        hit = (r.resident_m <= within) & (near >= 0)
        np.add.at(reached, near[hit], weights[hit])
    fac["residents_within_max_minutes"] = reached
    return fac


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a boolean matrix, sorted, and which of them each row is: rows of up
    to 62 columns as one integer each (sorting integers is 8 times faster than sorting rows)."""
    n_cols = rows.shape[1]
    if n_cols > 62:
        sets, which = np.unique(rows, axis=0, return_inverse=True)
        return sets, which.reshape(-1)
    code = rows.astype(np.int64) @ (np.int64(1) << np.arange(n_cols, dtype=np.int64))
    uniq, which = np.unique(code, return_inverse=True)
    sets = (uniq[:, None] >> np.arange(n_cols, dtype=np.int64)) & 1
    return sets.astype(bool), which.reshape(-1)


def gaps_layer(res: gpd.GeoDataFrame, preset: Preset) -> gpd.GeoDataFrame:
    """Residents without the complete life circle at the longest tier, with what they miss."""
    maxm = max(preset.minutes)
    speed = preset.headline_speed_m_s
    full = covered_mask(res, ALL, speed, maxm, preset)
    gap_idx = np.flatnonzero(~full)
    basket = list(preset.basket_for(maxm))
    # per gap, which categories it misses (a row of booleans); each distinct row named once
    lacks = np.zeros((len(gap_idx), len(basket)), dtype=bool)
    for j, c in enumerate(basket):
        lim = basket_limit_m(preset, c, speed, maxm)
        lacks[:, j] = ~(res[dist_col(c)].to_numpy()[gap_idx] <= lim)
    missing: list[str] = [""] * len(gap_idx)
    if len(gap_idx) and basket:
        sets, which = _distinct_rows(lacks)
        names = [", ".join(c for c, lack in zip(basket, row, strict=True) if lack) for row in sets]
        missing = np.array(names, dtype=object)[which.reshape(-1)].tolist()
    return gpd.GeoDataFrame(
        {
            "community_id": res["community_id"].to_numpy()[~full],
            "weight": res["weight"].to_numpy()[~full],
            "missing_categories": missing,
            "on_network": res["on_network"].to_numpy()[~full],
        },
        geometry=res.geometry.to_numpy()[~full],
        crs="EPSG:4326",
    )


def communities_layer(
    communities: gpd.GeoDataFrame,
    cov: pd.DataFrame,
    res: pd.DataFrame,
    categories: list[str],
) -> gpd.GeoDataFrame:
    """The communities with their residents, one column per share and the median walks."""
    wide = cov.pivot_table(
        index="community_id",
        columns=["category", "profile", "minutes"],
        values="coverage",
        dropna=False,
    )
    wide.columns = [coverage_col(str(t[0]), str(t[1]), int(t[2])) for t in wide.columns]
    out = communities.merge(wide, left_on="community_id", right_index=True, how="left")
    per_comm = cov.drop_duplicates("community_id").set_index("community_id")["residents"]
    out.insert(2, "residents", out["community_id"].map(per_comm).to_numpy())
    for cat in categories:  # how far the typical resident walks, for popups and reports
        med = weighted_median_by(res, dist_col(cat))
        out[median_dist_col(cat)] = out["community_id"].map(med).to_numpy(dtype=float)
    return out


def _code_table_check(study: Study, cov: pd.DataFrame) -> tuple[dict[str, Any] | None, list[str]]:
    """Compare the communities with ``--code-table``: the report and its note."""
    if study.inputs.code_table is None:
        return None, []
    per_comm = cov.drop_duplicates("community_id").set_index("community_id")["residents"]
    report = compare_with_code_table(
        study.inputs.code_table, study.area.communities["community_id"], per_comm
    )
    n1 = len(report["committees_without_polygon"])
    n2 = len(report["polygons_with_unknown_codes"])
    n3 = len(report["committees_without_residents"])
    if not (n1 or n2 or n3):
        return report, []
    return report, [note("code_table", no_polygon=n1, no_residents=n3, unknown_codes=n2)]


def gate_layers(gates: Gates, res: pd.DataFrame) -> dict[str, gpd.GeoDataFrame]:
    """The ``compounds`` layer (how its residents leave: ``known``, ``assumed`` or ``none``
    gates, and how many) and the ``gates`` layer (``known`` / ``assumed``, on the network or
    not), in WGS 84."""
    comp = gates.compounds
    w = res["weight"].to_numpy(dtype=float)
    member = gates.residents.compound
    through = np.bincount(member[member >= 0], weights=w[member >= 0], minlength=len(comp))
    compounds = comp[["compound_id", "name", "source", "gates", "geometry"]].assign(
        residents_through_gates=through
    )
    g = gates.gates
    ids = comp["compound_id"].to_numpy(dtype=object)
    table = gpd.GeoDataFrame(
        {
            "gate_id": g["gate_id"].astype(str).to_numpy(),
            "compound_id": ids[g["compound"].to_numpy()] if len(g) else [],
            "kind": g["kind"].to_numpy(),
            "source": g["source"].to_numpy(),
            "on_network": g["on_network"].to_numpy(dtype=bool),
        },
        geometry=g.geometry.to_numpy(),
        crs=g.crs,
    )
    return {"compounds": compounds.to_crs(4326), "gates": table.to_crs(4326)}


def add_gates_summary(
    summary: dict[str, Any],
    gates: Gates,
    preset: Preset,
    res: pd.DataFrame,
    reaches: list[CategoryReach],
    empty: list[str],
) -> None:
    """``summary["gates"]``: residents routed through gates and the shares within each
    category's threshold with and without the gates (the headline profile, longest tier);
    and the note that says so."""
    from lifecircle.gated import gates_summary

    profile, maxm = preset.headline_profile, max(preset.minutes)
    cats = [r.category for r in reaches]
    ungated = res.copy()
    for r in reaches:
        if r.resident_m_ungated is not None:
            ungated[dist_col(r.category)] = r.resident_m_ungated

    def within(frame: pd.DataFrame) -> dict[str, Any]:
        shares = headline_shares(
            frame, cats, preset, speed_m_s=preset.speeds_m_s[profile], minutes=maxm, empty=empty
        )
        return dict(shares["within_threshold"])  # type: ignore[call-overload]

    # with the gates: the shares the summary already holds (the same call on the same walks)
    with_gates = dict(summary["complete_life_circle"]["within_threshold"])
    g = gates_summary(gates, res, with_gates, within(ungated))
    summary["gates"] = g
    moved = {c: v for c, v in g["change"].items() if v is not None}
    worst = min(moved, key=moved.__getitem__) if moved else None
    add_notes(
        summary,
        [
            note(
                "gates",
                known=g["residents_through_known_gates"],
                assumed=g["residents_through_assumed_gates"],
                none=g["residents_in_compounds_without_gate"],
                compounds=g["compounds"],
                category=worst or "-",
                change=moved.get(worst, 0.0) if worst else 0.0,
            )
        ],
    )


def build_result(study: Study, reaches: list[CategoryReach], timings: dict[str, float]) -> Result:
    """Every table and layer of an analysis from the study's state and its routed categories."""
    preset, target = study.settings.preset, study.settings.target
    communities = study.area.communities
    categories = [r.category for r in reaches]
    sited = study.facilities
    fac_ids = sited.table["facility_id"].to_numpy(dtype=object)
    nearest = [nearest_rows(r, study.access[r.category].rows) for r in reaches]
    res = resident_layer(study.residents.table, reaches, nearest, fac_ids, preset)
    bld = building_layer(study.residents.buildings, reaches)
    fac = facility_layer(sited.table, reaches, nearest, res["weight"].to_numpy(), preset)
    age_share = ages.age_shares(study.inputs.age_share, communities, preset)
    cov = coverage_table(res, communities, categories, preset, target, age_share=age_share)
    area_cov = area_totals(cov, target)
    denoms, area_denoms = denominator_tables(
        cov[cov["profile"] != AGE_WEIGHTED], bld, communities, categories, preset, target
    )
    code_report, code_notes = _code_table_check(study, cov)
    capacity, capacity_summary, capacity_notes = capacity_tables(study, res, age_share)
    counts = dict(study.counts)
    if code_report is not None:
        counts["code_table"] = code_report
    empty = [r.category for r in reaches if not len(study.access[r.category].rows)]
    rows = [row for r in reaches for row in r.service_areas]
    sa = gpd.GeoDataFrame(  # in WGS 84 already (lifecircle.outlines.service_area_rows)
        pd.DataFrame(rows, columns=SERVICE_AREA_COLUMNS), geometry="geometry", crs=4326
    )
    summary = build_summary(
        study,
        res=res,
        fac=fac,
        cov=cov,
        area_cov=area_cov,
        categories=categories,
        empty_categories=empty,
        notes=[*study.notes, *code_notes, *capacity_notes],
        counts=counts,
        timings=timings,
    )
    if capacity_summary:
        summary["capacity"] = capacity_summary
    if study.network.terrain:  # --dem: the terrain and how it changed coverage against flat
        summary["terrain"], terrain_notes = flat_comparison(
            study, res, categories, empty, summary["complete_life_circle"]
        )
        add_notes(summary, terrain_notes)
    if study.gates is not None:
        add_gates_summary(summary, study.gates, preset, res, reaches, empty)
    return Result(
        crs=study.area.crs,
        communities=communities_layer(communities, cov, res, categories),
        facilities=fac,
        residents=res,
        coverage=cov,
        area_coverage=area_cov,
        denominators=pd.concat([denoms, area_denoms], ignore_index=True),
        service_areas=sa,
        gaps=gaps_layer(res, preset),
        summary=summary,
        network=study.network,
        taxonomy=study.taxonomy,
        categories=categories,
        capacity=capacity,
        gate_layers=gate_layers(study.gates, res) if study.gates is not None else {},
        service_area_outlines=outline_frame(rows),
    )
