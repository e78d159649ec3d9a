"""Where to put new facilities: the fewest sites that bring a category to the target, or the best
``count`` sites, chosen among candidates with the existing facilities held fixed.

:func:`site` works on a :class:`~lifecircle.study.Study` (the network, the snapped residents and
the category's distance field are reused). Every share is population-weighted with the run's
denominator and computed exactly as ``coverage.csv`` computes it, so adding the chosen sites as
facilities to ``analyze`` gives the ``coverage_after`` claimed.

Examples
--------
>>> from lifecircle.study import Study
>>> from lifecircle.siting import site
>>> study = Study.load("outputs/shanghai/study_cache.pickle")  # doctest: +SKIP
>>> result = site(study, category="elder_care", target=0.85, per="community")  # doctest: +SKIP
>>> result.sites[["rank", "candidate_id", "coverage_after"]]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.errors import InputError
from lifecircle.gated import refuse_gates
from lifecircle.naming import limit_m as minutes_to_m
from lifecircle.routing import origin_distances
from lifecircle.sitecands import DEFAULT_SPACING_M, network_candidates
from lifecircle.siteplan import Plan, Shares
from lifecircle.sitereach import reach_matrix
from lifecircle.snapping import Snapped, snap_points
from lifecircle.sources.facilities import access_points
from lifecircle.timing import Display, Progress, Stopwatch

if TYPE_CHECKING:
    import scipy.sparse as sp

    from lifecircle.study import Study

log = logging.getLogger(__name__)

PER = ("area", "community", "subdistrict")
METHODS = ("greedy", "optimal")


@dataclass(frozen=True)
class Walk:
    """How near a new site must be: the category, the walking profile, its speed, the minutes
    (None for a distance threshold) and the walking limit in metres."""

    category: str
    profile: str
    speed_m_s: float
    minutes: float | None
    limit_m: float


@dataclass(frozen=True)
class SitingResult:
    """The sites chosen and what they change.

    Attributes
    ----------
    walk
        Category, profile, minutes and walking limit.
    sites
        One row per chosen site, best first: ``rank``, ``candidate_id``, ``name``, ``category``,
        ``lon``, ``lat`` (WGS 84), ``residents_newly_covered``, ``coverage_after`` (the area-wide
        share after sites 1..rank), ``communities_served`` / ``community_names_served`` (where
        its newly covered residents live, most first) and the candidate's geometry.
    curve
        The coverage curve: per number of sites (0 = today), the area-wide share and the share
        of groups (communities, subdistricts) meeting the target.
    communities
        Per community: residents, share before and after, meets the target before and after,
        and the suggested site (``suggested_rank``, ``suggested_candidate_id``,
        ``suggested_site_name``: the chosen site that newly covers most of its residents).
    candidates
        Every candidate considered: ``candidate_id``, ``name``, ``on_network``,
        ``residents_within_reach`` (newly covered if it were the only new site).
    mode, target, per, method
        What was asked: ``count`` or ``target`` mode, the target, per what, and the method.
    reached
        In target mode, whether the target is reached (None in count mode).
    coverage_before, coverage_after, best_share
        The area-wide share today, with the chosen sites, and with every candidate.
    solver
        What the solver reported (method ``optimal``): status, gap, time.
    summary
        Counts and notes for ``summary.json``.
    """

    walk: Walk
    sites: gpd.GeoDataFrame
    curve: pd.DataFrame
    communities: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    mode: str
    target: float
    per: str
    method: str
    reached: bool | None
    coverage_before: float
    coverage_after: float
    best_share: float
    solver: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def suggested_sites(self) -> pd.DataFrame:
        """Per community below the target today, the suggested site: ``community_id``,
        ``community_name``, ``suggested_rank``, ``suggested_candidate_id``,
        ``suggested_site_name``, ``suggested_lon``, ``suggested_lat`` (empty where none of the
        chosen sites reaches its residents)."""
        c = self.communities
        cols = [
            "community_id",
            "community_name",
            "suggested_rank",
            "suggested_candidate_id",
            "suggested_site_name",
            "suggested_lon",
            "suggested_lat",
        ]
        return pd.DataFrame(c.loc[~c["meets_target_before"].astype(bool), cols]).reset_index(
            drop=True
        )

    def task_sites(self) -> pd.DataFrame:
        """The suggested sites in the form a task list takes (``lifecircle.tasks.build_tasks``'s
        ``sites``): one row per community that has one, with ``community_id``, ``category``,
        ``name``, ``lon``, ``lat`` (WGS 84) and ``rank``."""
        return task_sites_of(pd.DataFrame(self.communities), self.walk.category)


def task_sites_of(communities: pd.DataFrame, category: str) -> pd.DataFrame:
    """``community_id, category, name, lon, lat, rank`` from a table with the suggested-site
    columns of :attr:`SitingResult.communities` (rows without a suggested site left out)."""
    has = communities["suggested_rank"].notna()
    c = communities[has]
    return pd.DataFrame(
        {
            "community_id": c["community_id"].astype(str).to_numpy(),
            "category": category,
            "name": c["suggested_site_name"].astype(str).to_numpy(),
            "lon": c["suggested_lon"].to_numpy(dtype=float),
            "lat": c["suggested_lat"].to_numpy(dtype=float),
            "rank": c["suggested_rank"].astype(int).to_numpy(),
        }
    )


def walk_for(
    study: Study, category: str, *, profile: str | None = None, minutes: float | None = None
) -> Walk:
    """The walking limit for siting ``category``: by default the preset's threshold for it at
    the speed of the profile that judges it (``judge_with``, else the headline profile).

    Raises
    ------
    InputError
        For a category the run did not analyse, an unknown profile, or minutes that are not
        positive or go beyond the analysis' searches.
    """
    preset = study.settings.preset
    if category not in study.categories:
        raise InputError(
            f"--category {category!r}: not a category of this analysis; choose one of "
            f"{', '.join(study.categories)}"
        )
    prof = profile or preset.judge_with.get(category) or preset.headline_profile
    if prof not in preset.speeds_m_s:
        raise InputError(
            f"--profile {prof!r}: not a walking profile of preset {preset.name}; choose one of "
            f"{', '.join(preset.speeds_m_s)}"
        )
    speed = preset.speeds_m_s[prof]
    if minutes is not None:
        if not (isinstance(minutes, int | float) and np.isfinite(minutes) and minutes > 0):
            raise InputError(f"--minutes must be a positive number of minutes; got {minutes}")
        limit = minutes_to_m(float(minutes), speed)
        shown: float | None = float(minutes)
    else:
        thr = preset.threshold(category)
        limit = thr.limit_m(speed)
        shown = thr.minutes
    if limit > study.search_limit_m:
        top = study.search_limit_m / speed / 60.0
        raise InputError(
            f"--minutes {shown}: {limit:,.0f} m at {speed} m/s is beyond what the analysis "
            f"searched ({study.search_limit_m:,.0f} m); give at most {top:.0f} minutes"
        )
    return Walk(category, prof, speed, shown, limit)


def _check_options(count: int | None, target: float | None, per: str, method: str) -> None:
    problems = []
    if count is not None and target is not None:
        problems.append("give either --count (the best N sites) or --target, not both")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        problems.append(f"--count must be a whole number of sites, 1 or more; got {count}")
    if target is not None and not (
        isinstance(target, int | float) and np.isfinite(target) and 0 < target <= 1
    ):
        problems.append(f"--target must be a share in (0, 1], e.g. 0.85; got {target}")
    if per not in PER:
        problems.append(f"--per {per!r}: choose one of {', '.join(PER)}")
    if count is not None and per != "area":
        problems.append("--per applies to --target; --count chooses the sites best for the area")
    if method not in METHODS:
        problems.append(f"--method {method!r}: choose greedy or optimal")
    if problems:
        raise InputError("; ".join(problems))


def _place_candidates(
    study: Study, cands: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The candidates inside the area (those outside are counted and dropped)."""
    area = study.area
    if cands is None:
        table = network_candidates(study.network, area.area_m, spacing_m=DEFAULT_SPACING_M)
        source = f"network_nodes_every_{DEFAULT_SPACING_M:g}m"
        if not len(table):
            raise InputError("no street node lies inside the area to use as a candidate site")
    else:
        missing = {"candidate_id", "geometry"} - set(cands.columns)
        if missing:
            raise InputError(f"candidates: missing column(s) {sorted(missing)}")
        table = cands.to_crs(4326).reset_index(drop=True)
        source = str(cands.attrs.get("source", "given"))
        if not len(table):
            raise InputError("--candidates: the list holds no candidate")
    dup = table["candidate_id"].astype(str).duplicated()
    if dup.any():
        raise InputError(
            f"--candidates: id(s) given twice: {sorted(set(table.loc[dup, 'candidate_id']))[:10]}"
        )
    inside = table.to_crs(area.crs).intersects(area.area_m).to_numpy()
    if not inside.any():
        c = table.geometry.union_all().centroid
        raise InputError(
            f"--candidates: none of the {len(table)} candidates lies in the analysis area (they "
            f"centre on lon {c.x:.4f}, lat {c.y:.4f}); check --candidates-crs (Amap/Tencent "
            "lists are gcj02, Baidu lists bd09) and that the list is for this area"
        )
    outside = table.loc[~inside, "candidate_id"].astype(str).tolist()
    table = table[inside].reset_index(drop=True)
    if "name" not in table.columns:
        table["name"] = ""
    table["name"] = table["name"].astype(object).fillna("")
    return table, {
        "source": source,
        "given": len(inside),
        "outside_area": len(outside),
        "outside_area_ids": outside[:50],
    }


def site(  # noqa: PLR0913  (keyword-only, one per option of `lifecircle site`)
    study: Study,
    *,
    category: str,
    candidates: gpd.GeoDataFrame | None = None,
    count: int | None = None,
    target: float | None = None,
    per: str = "area",
    method: str = "greedy",
    profile: str | None = None,
    minutes: float | None = None,
    time_limit_s: float = 60.0,
    progress: Progress | Display | None = None,
) -> SitingResult:
    """Choose sites for new facilities of ``category`` with the existing ones held fixed.

    Parameters
    ----------
    study
        The analysed area.
    category
        The category to add facilities of.
    candidates
        Candidate sites (``candidate_id``, ``name``, geometry; see
        :func:`lifecircle.sitecands.read_candidates`, or
        :func:`lifecircle.sitecands.network_candidates` at another spacing); by default street
        nodes every 100 m inside the area.
    count
        Choose the best ``count`` sites (the most residents newly covered)...
    target
        ...or the fewest sites that bring the share to ``target`` (the run's target when neither
        is given),
    per
        ``area`` (the area as a whole), ``community`` (every community with residents) or
        ``subdistrict`` (every subdistrict) must reach the target.
    method
        ``greedy`` (fast; ties to the lowest candidate index) or ``optimal`` (integer program
        solved by HiGHS within ``time_limit_s``; never worse than greedy).
    profile, minutes
        The walking profile and minutes (default: the preset's threshold for the category at
        the speed of the profile that judges it).
    time_limit_s
        The solver's time limit (``optimal``).
    progress
        Where the stages are shown (a :class:`~lifecircle.timing.Display`, or a callable told
        each stage's message); ``optimal`` shows the solver's best bound, incumbent, gap and
        the time limit left as it goes. Nothing is shown by default.

    Returns
    -------
    SitingResult

    Raises
    ------
    InputError
        For an unknown category or profile, bad options, or candidates none of which lies in
        the area.
    """
    t0 = time.perf_counter()
    _check_options(count, target, per, method)
    refuse_gates(study, "lifecircle site")
    walk = walk_for(study, category, profile=profile, minutes=minutes)
    goal = study.settings.target if count is None and target is None else target
    clock = Stopwatch(progress)
    with clock.stage("candidates", "placing candidates"):
        placed = _place_and_cover(study, candidates, walk)
    t1 = time.perf_counter()
    xy = _xy(placed.points)
    with clock.stage("reach_matrix", "reach matrix"):
        reach = _reach(study, walk, placed, xy)
    t2 = time.perf_counter()
    shares = Shares(study, walk, goal if goal is not None else study.settings.target)
    plan = Plan(study, walk, shares, reach, placed.covered0, per, goal if count is None else None)
    chosen, solver = plan.solve(count=count, method=method, time_limit_s=time_limit_s, clock=clock)
    t3 = time.perf_counter()
    with clock.stage("tables", "site tables"):
        result = _tables(plan, placed, chosen, count=count, method=method, solver=solver)
    result.summary["timings_s"] = _timings(t0, t1, t2, t3)
    _log_sited(result, category, len(placed.table))
    return result


@dataclass(frozen=True)
class _Placed:
    """The candidates in the area (``table``, with ``on_network``) and how many were dropped
    (``counts``), their access points (``points``, owned by ``rows``) snapped (``snap``), and
    which residents the existing facilities already cover (``covered0``)."""

    table: gpd.GeoDataFrame
    counts: dict[str, Any]
    rows: np.ndarray
    points: np.ndarray
    snap: Snapped
    covered0: np.ndarray


def _place_and_cover(study: Study, candidates: gpd.GeoDataFrame | None, walk: Walk) -> _Placed:
    """Place and snap the candidates; the residents the category's existing facilities cover."""
    net, res = study.network, study.residents
    table, cand_counts = _place_candidates(study, candidates)
    rows, pts = access_points(table, study.area.crs, step_m=study.settings.outline_step_m)
    snap = snap_points(pts, net, max_snap_m=study.settings.max_snap_m)
    on_net = np.bincount(rows[snap.on_network], minlength=len(table)) > 0
    table["on_network"] = on_net
    acc = study.access[walk.category]
    d0, _ = origin_distances(net, acc.field, acc.snap, res.snap, limit_m=study.search_limit_m)
    covered0 = d0 <= walk.limit_m
    return _Placed(table, cand_counts, rows, pts, snap, covered0)


def _xy(pts: np.ndarray) -> np.ndarray:
    """The points' coordinates, one row each."""
    return (
        np.column_stack([[p.x for p in pts], [p.y for p in pts]]) if len(pts) else np.zeros((0, 2))
    )


def _reach(study: Study, walk: Walk, placed: _Placed, xy: np.ndarray) -> sp.csr_matrix:
    """Which residents each candidate reaches within the walking limit."""
    return reach_matrix(
        study.network,
        placed.rows,
        placed.snap,
        study.residents.snap,
        n_candidates=len(placed.table),
        xy=xy,
        limit_m=walk.limit_m,
    )


def _tables(
    plan: Plan,
    placed: _Placed,
    chosen: list[int],
    *,
    count: int | None,
    method: str,
    solver: dict[str, Any],
) -> SitingResult:
    """The result's tables for the chosen candidates."""
    mode = "count" if count is not None else "target"
    return plan.result(
        placed.table, chosen, mode=mode, method=method, solver=solver, counts=placed.counts
    )


def _timings(t0: float, t1: float, t2: float, t3: float) -> dict[str, float]:
    """Seconds per stage, from the stages' start times (the last ends now)."""
    return {
        "candidates_and_existing": round(t1 - t0, 3),
        "reach_matrix": round(t2 - t1, 3),
        "choosing": round(t3 - t2, 3),
        "tables": round(time.perf_counter() - t3, 3),
    }


def _log_sited(result: SitingResult, category: str, n_candidates: int) -> None:
    log.info(
        "sited %d %s facilities among %d candidates: %.1f%% -> %.1f%%%s",
        len(result.sites),
        category,
        n_candidates,
        100 * result.coverage_before,
        100 * result.coverage_after,
        " (the target is not reached)" if result.reached is False else "",
    )
