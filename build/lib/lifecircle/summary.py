"""The summary of an analysis (what ``summary.json`` holds before the output writer adds the map,
the figures and the provenance): the headline verdict, the counts behind it and the notes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lifecircle.coverage import headline_shares
from lifecircle.naming import ALL
from lifecircle.notes import note, note_keys

if TYPE_CHECKING:
    from lifecircle.study import Study


def complete_life_circle(area_cov: pd.DataFrame, profile: str, minutes: int, study: Study) -> dict:
    """The headline: the complete life circle at the longest tier for the headline profile."""
    preset, target = study.settings.preset, study.settings.target
    top = area_cov[
        (area_cov["category"] == ALL)
        & (area_cov["profile"] == profile)
        & (area_cov["minutes"] == minutes)
    ]
    return {
        "profile": profile,
        "minutes": minutes,
        "basket": list(preset.basket_for(minutes)),
        "coverage": float(top["coverage"].iloc[0]),
        "target": target,
        "meets_target": bool(top["meets_target"].iloc[0]),
    }


def communities_meeting(cov: pd.DataFrame, profile: str, minutes: int) -> dict[str, Any]:
    """How many communities with residents meet the target for the complete life circle."""
    ctop = cov[(cov["category"] == ALL) & (cov["profile"] == profile) & (cov["minutes"] == minutes)]
    populated = ctop[ctop["residents"] > 0]
    return {
        "denominator": "communities with residents",
        "count": int(populated["meets_target"].sum()),
        "of": len(populated),
        "share": float(populated["meets_target"].mean()) if len(populated) else None,
        "communities_without_residents": int((ctop["residents"] <= 0).sum()),
    }


def _share(weights: np.ndarray, mask: np.ndarray) -> float:
    total = weights.sum()
    return float(weights[mask].sum() / total) if total else 0.0


def residents_summary(res: pd.DataFrame, study: Study) -> dict[str, Any]:
    """Resident points, their total weight and how many are off the network."""
    w = res["weight"].to_numpy()
    snap = study.residents.snap
    off = ~snap.on_network
    return {
        "points": len(res),
        "total": float(w.sum()),
        "off_network_points": int(off.sum()),
        "off_network_share": _share(w, off),
        "near_dropped_piece_points": int(snap.near_dropped.sum()),
        "near_dropped_piece_share": _share(w, snap.near_dropped),
        "outside_communities_points": int((res["community_id"] == "").sum()),
    }


def facilities_summary(
    fac: pd.DataFrame, categories: list[str], empty: list[str], study: Study
) -> dict[str, Any]:
    """Facilities per category and source, off the network, and dropped."""
    sited = study.facilities
    has = len(fac) > 0
    return {
        "per_category": {c: int((fac["category"] == c).sum()) for c in categories},
        "per_category_source": {
            c: {
                str(k): int(v)
                for k, v in fac.loc[fac["category"] == c, "source"].value_counts().items()
            }
            for c in categories
        }
        if has
        else {c: {} for c in categories},
        "off_network": int((~fac["on_network"]).sum()) if has else 0,
        "near_dropped_piece": int(
            np.bincount(sited.rows[sited.snap.near_dropped], minlength=len(fac)).astype(bool).sum()
        )
        if has
        else 0,
        "outside_buffer_dropped": study.counts["facilities_outside_buffer"],
        "empty_categories": empty,
    }


def categories_summary(categories: list[str], study: Study) -> dict[str, dict[str, Any]]:
    """Per category: names, icon, threshold and whether it is in the basket."""
    preset, taxonomy = study.settings.preset, study.taxonomy
    return {
        c: {
            "name_zh": taxonomy[c].name_zh if c in taxonomy else c,
            "name_en": taxonomy[c].name_en if c in taxonomy else c,
            "icon": taxonomy[c].icon if c in taxonomy else c[:1].upper(),
            "threshold": preset.threshold(c).describe(),
            "threshold_kind": preset.threshold(c).kind,
            "threshold_value": preset.threshold(c).value,
            "threshold_unverified": preset.threshold(c).unverified,
            "judged_with_profile": preset.judge_with.get(c),
            "in_basket": c in preset.basket,
        }
        for c in categories
    }


def build_summary(
    study: Study,
    *,
    res: pd.DataFrame,
    fac: pd.DataFrame,
    cov: pd.DataFrame,
    area_cov: pd.DataFrame,
    categories: list[str],
    empty_categories: list[str],
    notes: list[str],
    counts: dict[str, Any],
    timings: dict[str, float],
) -> dict[str, Any]:
    """Everything ``summary.json`` says about one analysis."""
    settings, area = study.settings, study.area
    preset = settings.preset
    profile, maxm = preset.headline_profile, max(preset.minutes)
    notes = notes + [note("empty_category", category=c) for c in empty_categories]
    return {
        "preset": preset.as_dict(),
        "area": {
            "communities": len(area.communities),
            "communities_source": area.communities_source,
            "crs": area.crs.to_string(),
            "crs_name": area.crs.name,
            "area_km2": round(area.area_m.area / 1e6, 4),
            "analysis_buffer_m": area.reach_m,
            "service_area_cell_m": study.service_area_cell_m,
        },
        "denominator": study.residents.denominator,
        "residents": residents_summary(res, study),
        "network": study.network.stats | {"osm": study.osm_counts},
        "facilities": facilities_summary(fac, categories, empty_categories, study),
        "dropped_pieces_treatment": (
            f"pieces of network shorter than {settings.min_component_m:g} m in total are not "
            "routed on; points nearest to them are attached to the nearest kept edge within "
            f"{settings.max_snap_m:g} m, or reported off-network"
        ),
        "categories": categories_summary(categories, study),
        "area_coverage": area_cov.drop(columns=["community_id", "community_name"]).to_dict(
            "records"
        ),
        "complete_life_circle": complete_life_circle(area_cov, profile, maxm, study)
        | headline_shares(
            res,
            categories,
            preset,
            speed_m_s=preset.speeds_m_s[profile],
            minutes=maxm,
            empty=empty_categories,
        ),
        "communities_meeting_target": communities_meeting(cov, profile, maxm),
        "notes": notes,
        "note_keys": note_keys(notes),
        "timings_s": dict(timings),
        "counts": counts,
        "osm_timestamp": study.osm_timestamp,
    }
