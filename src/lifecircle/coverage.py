"""Coverage per community × category × profile × minutes: the population-weighted share of
residents within the time, with an explicit denominator and a pass/fail against the target."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from lifecircle.config import Preset
from lifecircle.naming import ALL, dist_col, limit_m

AGE_WEIGHTED = "age_weighted"  # the profile name of age-weighted rows
COVERAGE_COLUMNS = [
    "community_id",
    "community_name",
    "category",
    "profile",
    "minutes",
    "residents",
    "covered_residents",
    "coverage",
    "target",
    "meets_target",
]


def basket_limit_m(preset: Preset, category: str, speed_m_s: float, minutes: float) -> float:
    """How far a resident may walk to a basket category in the complete life circle at this tier:
    within both ``minutes`` and the category's own threshold, at its ``judge_with`` speed."""
    sp = preset.judge_speed(category, speed_m_s)
    return min(limit_m(minutes, sp), preset.threshold(category).limit_m(sp))


def covered_mask(
    residents: pd.DataFrame,
    category: str,
    speed_m_s: float,
    minutes: float,
    preset: Preset,
) -> np.ndarray:
    """Which residents reach the category within ``minutes`` at ``speed_m_s``.

    For ``all`` (the complete life circle) a resident must reach every category of the preset's
    basket for this tier within both ``minutes`` and that category's own threshold (a time or a
    distance), each judged at its ``judge_with`` profile's speed when the preset sets one.
    """
    if category != ALL:
        return residents[dist_col(category)].to_numpy() <= limit_m(minutes, speed_m_s)
    ok = np.ones(len(residents), dtype=bool)
    for c in preset.basket_for(int(minutes)):
        ok &= residents[dist_col(c)].to_numpy() <= basket_limit_m(preset, c, speed_m_s, minutes)
    return ok


def weighted_share(ok: np.ndarray, weight: np.ndarray) -> float | None:
    """The share of ``weight`` where ``ok`` (None when the weights sum to nothing)."""
    total = float(weight.sum())
    return float(weight[ok].sum() / total) if total > 0 else None


def headline_shares(
    residents: pd.DataFrame,
    categories: list[str],
    preset: Preset,
    *,
    speed_m_s: float,
    minutes: int,
    empty: list[str],
) -> dict[str, object]:
    """What the headline needs beyond the complete-life-circle share: the basket categories that
    have no facility at all, the complete life circle over the basket categories that have data,
    and per category the share of residents within its own limit at this tier.

    Parameters
    ----------
    residents
        ``weight``, ``community_id`` (residents outside every community, ``""``, are left out,
        as in :func:`coverage_table`) and a ``dist_m_<category>`` column per category.
    categories
        The categories analysed.
    preset
        Basket and thresholds.
    speed_m_s
        The walking speed of the headline profile.
    minutes
        The headline tier.
    empty
        Categories with no facility in the area or its buffer.

    Returns
    -------
    dict
        ``empty_basket_categories``, ``basket_with_data``, ``coverage_with_data`` (None when no
        basket category has data or there are no residents) and ``within_threshold``
        (category -> share, the limit being :func:`basket_limit_m`).
    """
    counted = residents["community_id"].astype(str).to_numpy() != ""
    w = np.where(counted, residents["weight"].to_numpy(dtype=float), 0.0)
    basket = preset.basket_for(int(minutes))
    gone = set(empty) | {c for c in basket if dist_col(c) not in residents.columns}
    with_data = [c for c in basket if c not in gone]
    within: dict[str, float | None] = {}
    for c in categories:
        if dist_col(c) in residents.columns:
            lim = basket_limit_m(preset, c, speed_m_s, minutes)
            within[c] = weighted_share(residents[dist_col(c)].to_numpy() <= lim, w)
    ok = np.ones(len(residents), dtype=bool)
    for c in with_data:
        ok &= residents[dist_col(c)].to_numpy() <= basket_limit_m(preset, c, speed_m_s, minutes)
    return {
        "empty_basket_categories": [c for c in basket if c in gone],
        "basket_with_data": with_data,
        "coverage_with_data": weighted_share(ok, w) if with_data else None,
        "within_threshold": within,
    }


def coverage_blocks(
    residents: pd.DataFrame,
    ids: np.ndarray,
    categories: list[str],
    preset: Preset,
    *,
    age_share: pd.Series | None = None,
) -> Iterator[tuple[str, str, int, np.ndarray, np.ndarray, np.ndarray]]:
    """The numbers of :func:`coverage_table`, block by block in its order: per category (then
    the complete life circle) × profile × minutes, the residents, covered residents and share
    of each community of ``ids``."""
    code = pd.Categorical(residents["community_id"].astype(str), categories=ids).codes
    inside = code >= 0
    w = residents["weight"].to_numpy(dtype=float)
    total = np.bincount(code[inside], weights=w[inside], minlength=len(ids))
    age = None
    if age_share is not None:
        # each resident counts (1 - s) as a walker of the headline profile and s as an elderly
        # one, s being the share of residents aged 60+ in their community
        s_comm = age_share.reindex(ids).fillna(0.0).to_numpy(dtype=float)
        age = np.where(inside, s_comm[np.maximum(code, 0)], 0.0)
    profiles = list(preset.speeds_m_s.items())
    elderly = preset.elderly_profile
    elderly_speed = preset.speeds_m_s[elderly] if elderly else preset.headline_speed_m_s
    if age is not None:
        profiles.append((AGE_WEIGHTED, float("nan")))
    for cat in [*categories, ALL]:
        for profile, speed in profiles:
            for minutes in preset.minutes:
                if age is not None and profile == AGE_WEIGHTED:
                    std = covered_mask(residents, cat, preset.headline_speed_m_s, minutes, preset)
                    eld = covered_mask(residents, cat, elderly_speed, minutes, preset)
                    part = (1 - age) * std + age * eld
                    cov = np.bincount(code[inside], weights=(w * part)[inside], minlength=len(ids))
                else:
                    ok = covered_mask(residents, cat, speed, minutes, preset) & inside
                    cov = np.bincount(code[ok], weights=w[ok], minlength=len(ids))
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = np.where(total > 0, cov / np.where(total > 0, total, 1), np.nan)
                yield cat, profile, minutes, total, cov, share


def coverage_table(
    residents: pd.DataFrame,
    communities: pd.DataFrame,
    categories: list[str],
    preset: Preset,
    target: float,
    *,
    age_share: pd.Series | None = None,
) -> pd.DataFrame:
    """The ``coverage.csv`` table. ``residents`` needs ``community_id``, ``weight`` and a
    ``dist_m_<category>`` column per category; communities with no residents get an empty share."""
    ids = communities["community_id"].astype(str).to_numpy()
    names = communities["community_name"].astype(str).to_numpy()
    frames = [
        pd.DataFrame(
            {
                "community_id": ids,
                "community_name": names,
                "category": cat,
                "profile": profile,
                "minutes": minutes,
                "residents": total,
                "covered_residents": cov,
                "coverage": share,
                "target": target,
                "meets_target": np.where(np.isnan(share), False, share >= target),
            }
        )
        for cat, profile, minutes, total, cov, share in coverage_blocks(
            residents, ids, categories, preset, age_share=age_share
        )
    ]
    return pd.concat(frames, ignore_index=True)[COVERAGE_COLUMNS]


def area_totals(coverage: pd.DataFrame, target: float) -> pd.DataFrame:
    """Totals over the whole area, one row per category × profile × minutes."""
    g = coverage.groupby(["category", "profile", "minutes"], sort=False)[
        ["residents", "covered_residents"]
    ].sum()
    g = g.reset_index()
    g["coverage"] = np.where(g["residents"] > 0, g["covered_residents"] / g["residents"], np.nan)
    g["target"] = target
    g["meets_target"] = g["coverage"] >= target
    g.insert(0, "community_name", "(area total)")
    g.insert(0, "community_id", "*")
    return g[COVERAGE_COLUMNS]


def weighted_median_by(residents: pd.DataFrame, value: str, by: str = "community_id") -> pd.Series:
    """Per group, the population-weighted median of ``value`` (inf stays inf: unreachable)."""
    d = residents[[by, "weight", value]].sort_values([by, value], kind="mergesort")
    cum = d.groupby(by, sort=False)["weight"].cumsum()
    half = d.groupby(by, sort=False)["weight"].transform("sum") / 2
    first = d[cum >= half].groupby(by, sort=False)[value].first()
    return first


DENOMINATOR_COLUMNS = [
    "community_id", "community_name", "category", "profile", "minutes",
    "denominator", "total", "covered", "coverage", "target", "meets_target",
]  # fmt: skip


def _as_denominator(cov: pd.DataFrame, name: str) -> pd.DataFrame:
    out = cov.rename(columns={"residents": "total", "covered_residents": "covered"})
    out.insert(5, "denominator", name)
    return out[DENOMINATOR_COLUMNS]


def denominator_tables(
    cov: pd.DataFrame,
    buildings: pd.DataFrame,
    communities: pd.DataFrame,
    categories: list[str],
    preset: Preset,
    target: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coverage by every denominator practice uses: residents, residential buildings (count),
    residential floor area (m²) per community, and at area level also communities (the share of
    communities with residents that meet the target). Returns (per community, area totals)."""
    per = [_as_denominator(cov, "residents")]
    area = [_as_denominator(area_totals(cov, target), "residents")]
    if len(buildings):
        for name, weight in (
            ("residential_buildings", np.ones(len(buildings))),
            ("residential_floor_area_m2", buildings["floor_area_m2"].to_numpy(dtype=float)),
        ):
            b = coverage_table(
                buildings.assign(weight=weight), communities, categories, preset, target
            )
            per.append(_as_denominator(b, name))
            area.append(_as_denominator(area_totals(b, target), name))
    populated = cov[cov["residents"] > 0]
    g = populated.groupby(["category", "profile", "minutes"], sort=False)["meets_target"]
    comm = g.agg(["sum", "count"]).reset_index()
    comm_rows = pd.DataFrame(
        {
            "community_id": "*",
            "community_name": "(area total)",
            "category": comm["category"],
            "profile": comm["profile"],
            "minutes": comm["minutes"],
            "denominator": "communities",
            "total": comm["count"].astype(float),
            "covered": comm["sum"].astype(float),
            "coverage": np.where(
                comm["count"] > 0, comm["sum"] / comm["count"].clip(lower=1), np.nan
            ),
            "target": target,
        }
    )
    comm_rows["meets_target"] = comm_rows["coverage"] >= target
    area.append(comm_rows[DENOMINATOR_COLUMNS])
    return pd.concat(per, ignore_index=True), pd.concat(area, ignore_index=True)
