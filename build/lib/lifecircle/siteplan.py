"""The siting problem of one study and category: residents, their communities and groups, the
existing coverage, the candidates' reach; solving it and turning the chosen sites into tables.

Shares are computed exactly as ``coverage.csv`` (per community) and ``area_coverage.csv`` (the
area) compute them, so that the claims can be checked against ``analyze`` to the last digit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lifecircle.coverage import COVERAGE_COLUMNS, area_totals
from lifecircle.errors import InputError
from lifecircle.sitesolve import Problem, greedy, optimal
from lifecircle.sources.codes import SUBDISTRICT_COLUMNS
from lifecircle.timing import Stopwatch

if TYPE_CHECKING:
    from lifecircle.siting import SitingResult, Walk
    from lifecircle.study import Study

SUBDISTRICT_NAMES = ("subdistrict", "subdistrict_name", "street", "街道", "街道名称", "乡镇")
MAX_SERVED = 20  # communities named per site in sites.csv


def subdistricts(communities: pd.DataFrame) -> np.ndarray | None:
    """Each community's subdistrict (街道): a subdistrict column of the communities, else the
    first 9 digits of 12-digit community codes; None when neither is there."""
    lower = {str(c).lower(): c for c in communities.columns}
    for name in (*SUBDISTRICT_COLUMNS, *SUBDISTRICT_NAMES):
        if name in lower:
            return communities[lower[name]].fillna("").astype(str).str.strip().to_numpy()
    ids = communities["community_id"].astype(str)
    if len(ids) and ids.str.fullmatch(r"\d{12}").all():
        return ids.str.slice(0, 9).to_numpy()
    return None


class Shares:
    """Shares exactly as ``coverage.csv`` and ``area_coverage.csv`` compute them."""

    def __init__(self, study: Study, walk: Walk, target: float) -> None:
        comm = study.area.communities
        self.ids = comm["community_id"].astype(str).to_numpy()
        res = study.residents.table
        self.code = pd.Categorical(res["community_id"].astype(str), categories=self.ids).codes
        self.inside = self.code >= 0
        self.w = res["weight"].to_numpy(dtype=float)
        self.total = np.bincount(
            self.code[self.inside], weights=self.w[self.inside], minlength=len(self.ids)
        )
        self.walk = walk
        self.target = target

    def per_community(self, covered: np.ndarray) -> np.ndarray:
        ok = covered & self.inside
        return np.bincount(self.code[ok], weights=self.w[ok], minlength=len(self.ids))

    def community_share(self, cov: np.ndarray) -> np.ndarray:
        t = self.total
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(t > 0, cov / np.where(t > 0, t, 1), np.nan)

    def area(self, cov: np.ndarray) -> float:
        """The area-wide share given the covered weight per community."""
        return float(self.areas(cov[None, :])[0])

    def areas(self, covs: np.ndarray) -> np.ndarray:
        """The area-wide share for each row of per-community covered weights, computed by
        :func:`lifecircle.coverage.area_totals` itself (one group per row), so that each is the
        number ``area_coverage.csv`` would hold."""
        k, n = covs.shape
        frame = pd.DataFrame(
            {
                "community_id": np.tile(self.ids, k),
                "community_name": "",
                "category": np.repeat(np.arange(k), n),
                "profile": self.walk.profile,
                "minutes": self.walk.minutes or 0,
                "residents": np.tile(self.total, k),
                "covered_residents": covs.ravel(),
                "coverage": 0.0,
                "target": self.target,
                "meets_target": False,
            }
        )[COVERAGE_COLUMNS]
        return area_totals(frame, self.target)["coverage"].to_numpy(dtype=float)

    def area_below(self, cov: np.ndarray) -> bool:
        """Whether the area-wide share is below the target (exactly as the tables judge it;
        the plain ratio decides when it is clearly on one side)."""
        approx = float(cov.sum()) / max(float(self.total.sum()), 1e-300)
        if abs(approx - self.target) > 1e-9:
            return approx < self.target
        return not self.area(cov) >= self.target


def groups(per: str, study: Study, shares: Shares) -> tuple[np.ndarray, list[str], Any]:
    """Per community its group, the group labels, and a function: per-community covered →
    per-group unmet (exactly as the tables judge a share against the target)."""
    n = len(shares.ids)
    target = shares.target
    if per == "area":

        def unmet_area(cov: np.ndarray) -> np.ndarray:
            return np.array([shares.area_below(cov)])

        return np.zeros(n, dtype=np.int64), ["*"], unmet_area
    if per == "community":

        def unmet_comm(cov: np.ndarray) -> np.ndarray:
            s = shares.community_share(cov)
            return (shares.total > 0) & ~(np.nan_to_num(s, nan=0.0) >= target)

        return np.arange(n, dtype=np.int64), list(shares.ids), unmet_comm
    sd = subdistricts(study.area.communities)
    if sd is None:
        raise InputError(
            "--per subdistrict: the communities of this analysis have no subdistrict (街道): "
            "give analyze a communities file with a streetCode / subdistrict column or 12-digit "
            "community codes, or use --per community or --per area"
        )
    labels, grp = np.unique(sd, return_inverse=True)
    tot = np.bincount(grp, weights=shares.total, minlength=len(labels))

    def unmet_sd(cov: np.ndarray) -> np.ndarray:
        c = np.bincount(grp, weights=cov, minlength=len(labels))
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(tot > 0, c / np.where(tot > 0, tot, 1), 0.0)
        return (tot > 0) & ~(s >= target)

    return grp.astype(np.int64), [str(x) for x in labels], unmet_sd


class Plan:
    """One siting problem: who is covered today, whom each candidate would reach, the groups
    that must reach the target; :meth:`solve` chooses sites, :meth:`result` tabulates them."""

    def __init__(
        self,
        study: Study,
        walk: Walk,
        shares: Shares,
        reach: sp.csr_matrix,
        covered0: np.ndarray,
        per: str,
        target: float | None,
    ) -> None:
        self.study, self.walk, self.shares = study, walk, shares
        self.reach = reach
        self.covered0 = covered0
        self.per = per
        self.target = target
        n_comm = len(shares.ids)
        if target is not None:
            comm_group, self.labels, self._unmet = groups(per, study, shares)
        else:
            comm_group, self.labels, self._unmet = np.zeros(n_comm, dtype=np.int64), ["*"], None
        self.comm_group = comm_group
        counted = shares.inside & (shares.w > 0)
        reached = np.diff(sp.csc_matrix(reach).indptr) > 0
        self.cols = np.flatnonzero(counted & ~covered0 & reached)
        self.cov0 = shares.per_community(covered0)
        w = shares.w[shares.inside]
        # whole numbers (people, or 1 per area sample): every sum is exact in any order
        self.whole_weights = bool(np.all(np.mod(w, 1.0) == 0) and w.sum() < 2.0**52)
        n_groups = len(self.labels)
        if target is None:
            need = np.array([np.inf])
        else:
            tot_g = np.bincount(comm_group, weights=shares.total, minlength=n_groups)
            cov_g = np.bincount(comm_group, weights=self.cov0, minlength=n_groups)
            need = target * tot_g - cov_g
        self.problem = Problem(
            reach=sp.csr_matrix(reach[:, self.cols]),
            weight=shares.w[self.cols],
            group=comm_group[shares.code[self.cols]],
            need=need,
        )

    # ---- judging --------------------------------------------------------------------------

    def covered(self, chosen: list[int]) -> np.ndarray:
        """Which residents are within the limit with the chosen sites added."""
        cov = self.covered0.copy()
        if chosen:
            cov[self.reach[chosen].indices] = True
        return cov

    def unmet_groups(self, covered: np.ndarray) -> np.ndarray:
        """Per group, whether it is still below the target with ``covered`` residents."""
        assert self._unmet is not None
        return np.asarray(self._unmet(self.shares.per_community(covered)))

    def tracker(self) -> Callable[[np.ndarray], np.ndarray]:
        """A fresh ``unmet`` for :func:`~lifecircle.sitesolve.greedy`: given the demand columns
        each pick newly covers, the groups still below the target. With whole-number weights
        (every sum exact in any order) the per-community sums are kept up to date; otherwise
        they are summed again over all residents, in the tables' order."""
        sh = self.shares
        covered = self.covered0.copy()
        cov = self.cov0.copy()
        whole = self.whole_weights

        def unmet(new_cols: np.ndarray) -> np.ndarray:
            nonlocal cov
            idx = self.cols[new_cols]
            covered[idx] = True
            if whole:
                cov = cov + np.bincount(sh.code[idx], weights=sh.w[idx], minlength=len(cov))
            else:
                cov = sh.per_community(covered)
            assert self._unmet is not None
            return np.asarray(self._unmet(cov))

        return unmet

    def _weight(self, chosen: list[int]) -> float:
        return float(self.shares.per_community(self.covered(chosen)).sum())

    # ---- choosing ---------------------------------------------------------------------------

    def solve(
        self,
        *,
        count: int | None,
        method: str,
        time_limit_s: float,
        clock: Stopwatch | None = None,
    ) -> tuple[list[int], dict[str, Any]]:
        """The chosen candidates, best first, and the solver's report (``clock`` shows the
        greedy choice and the solver's progress as stages)."""
        clock = clock or Stopwatch()
        p = self.problem
        unmet = None if self.target is None else self.tracker()
        with clock.stage("greedy", "choosing sites (greedy)"):
            quick = greedy(p, max_sites=count or p.n_candidates, unmet=unmet)
        if method == "greedy":
            return quick, {"method": "greedy", "tie_break": "lowest candidate index"}
        reachable = (
            self.target is None
            or not self.unmet_groups(self.covered(list(range(p.n_candidates)))).any()
        )
        if not reachable:
            return quick, {
                "method": "optimal",
                "status": None,
                "message": "not solved: the target cannot be reached with these candidates",
                "kept": "greedy",
            }
        with clock.stage("solve", "solving (optimal)", total=time_limit_s, unit="s") as step:
            chosen, report = optimal(p, count=count, time_limit_s=time_limit_s, progress=step)
        report["method"] = "optimal"
        report["greedy_sites"] = len(quick)
        kept = "optimal"
        if chosen is None:
            kept = "greedy"
        elif count is not None:
            if self._weight(chosen) < self._weight(quick):
                kept = "greedy"
        elif len(chosen) > len(quick) or self.unmet_groups(self.covered(chosen)).any():
            kept = "greedy"
        report["kept"] = kept
        if kept == "greedy" or chosen is None:
            return quick, report
        return self._ranked(chosen), report

    def _ranked(self, chosen: list[int]) -> list[int]:
        """The chosen sites ordered by what each adds after the ones before it (sites that add
        nothing are left out)."""
        mask = np.zeros(self.problem.n_candidates, dtype=bool)
        mask[chosen] = True
        return greedy(self.problem, max_sites=len(chosen), allowed=mask)

    # ---- tabulating --------------------------------------------------------------------------

    def result(
        self,
        table: gpd.GeoDataFrame,
        chosen: list[int],
        *,
        mode: str,
        method: str,
        solver: dict[str, Any],
        counts: dict[str, Any],
    ) -> SitingResult:
        """The result tables for the sites ``chosen`` (in rank order)."""
        from lifecircle.siting import SitingResult

        sh = self.shares
        per_rank, comm_covs, cov = self._by_rank(chosen)
        every = sh.per_community(self.covered(list(range(len(table)))))
        shares = sh.areas(np.vstack([comm_covs, every[None, :]]))
        after, best = list(shares[:-1]), float(shares[-1])
        meeting = [self._meeting(cc, a) for cc, a in zip(comm_covs, after, strict=True)]
        comm_after = comm_covs[-1]
        sites = self._sites(table, chosen, per_rank, after[1:])
        communities = self._communities(table, chosen, per_rank, comm_after)
        reached = None if self.target is None else not self.unmet_groups(cov).any()
        curve = pd.DataFrame(
            {
                "sites": np.arange(len(chosen) + 1),
                "coverage": after,
                "groups_meeting": [m[0] for m in meeting],
                "groups": [m[1] for m in meeting],
            }
        )
        cand = self._candidates(table)
        off = table.loc[~table["on_network"].astype(bool), "candidate_id"].astype(str).tolist()
        summary = {
            "candidates": counts
            | {
                "inside_area": len(table),
                "off_network": len(off),
                "off_network_ids": off[:50],
                "adding_no_one": int((cand["residents_within_reach"] <= 0).sum()),
            },
            "groups": {
                "per": self.per,
                "groups": len(self.labels),
                "meeting_before": meeting[0][0],
                "meeting_after": meeting[-1][0],
                "below_after": self._below(comm_after)[:100],
            },
            "residents": {
                "total": float(sh.total.sum()),
                "covered_before": float(self.cov0.sum()),
                "covered_after": float(comm_after.sum()),
                "reachable_by_a_candidate": float(self.problem.weight.sum()),
            },
        }
        return SitingResult(
            walk=self.walk,
            sites=sites,
            curve=curve,
            communities=communities,
            candidates=cand,
            mode=mode,
            target=sh.target,
            per=self.per,
            method=method,
            reached=reached,
            coverage_before=after[0],
            coverage_after=after[-1],
            best_share=best,
            solver=solver,
            summary=summary,
        )

    def _by_rank(self, chosen: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per rank the weight each site newly covers per community; per number of sites
        (0 = today) the covered weight per community, summed as the tables sum it; and which
        residents are covered with every chosen site."""
        sh = self.shares
        cov = self.covered0.copy()
        per_rank = np.zeros((len(chosen), len(sh.ids)))
        comm_covs = np.zeros((len(chosen) + 1, len(sh.ids)))
        comm_covs[0] = self.cov0
        for i, c in enumerate(chosen):
            row = self.reach.indices[self.reach.indptr[c] : self.reach.indptr[c + 1]]
            new = row[~cov[row]]
            cov[new] = True
            new = new[sh.inside[new]]
            per_rank[i] = np.bincount(sh.code[new], weights=sh.w[new], minlength=len(sh.ids))
            if self.whole_weights:
                comm_covs[i + 1] = comm_covs[i] + per_rank[i]
            else:
                comm_covs[i + 1] = sh.per_community(cov)
        return per_rank, comm_covs, cov

    def _candidates(self, table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Every candidate with the weight it would newly cover if it were the only new site."""
        first = self.problem.reach @ self.problem.weight if len(self.cols) else None
        cand = table[["candidate_id", "name", "on_network", "geometry"]].copy()
        cand["residents_within_reach"] = (
            np.zeros(len(table)) if first is None else np.asarray(first, dtype=float)
        )
        return gpd.GeoDataFrame(cand, geometry="geometry", crs=4326)

    def _meeting(self, comm_cov: np.ndarray, area: float) -> tuple[int, int]:
        """(groups meeting the target, groups with residents); ``area`` is the area's share."""
        if self._unmet is None or self.per == "area":
            return int(area >= self.shares.target), 1
        unmet = self._unmet(comm_cov)
        tot = np.bincount(self.comm_group, weights=self.shares.total, minlength=len(self.labels))
        return int(((tot > 0) & ~unmet).sum()), int((tot > 0).sum())

    def _below(self, comm_cov: np.ndarray) -> list[str]:
        if self._unmet is None:
            return []
        return [lab for lab, u in zip(self.labels, self._unmet(comm_cov), strict=True) if u]

    def _sites(
        self,
        table: gpd.GeoDataFrame,
        chosen: list[int],
        per_rank: np.ndarray,
        after: list[float],
    ) -> gpd.GeoDataFrame:
        comm = self.study.area.communities
        ids = comm["community_id"].astype(str).to_numpy()
        names = comm["community_name"].astype(str).to_numpy()
        served_ids, served_names = [], []
        for row in per_rank:
            order = [j for j in np.argsort(-row, kind="stable") if row[j] > 0][:MAX_SERVED]
            served_ids.append("; ".join(ids[j] for j in order))
            served_names.append("; ".join(names[j] for j in order))
        sel = table.iloc[chosen].reset_index(drop=True)
        pt = sel.geometry.representative_point()
        return gpd.GeoDataFrame(
            {
                "rank": np.arange(1, len(chosen) + 1),
                "candidate_id": sel["candidate_id"].astype(str).to_numpy(),
                "name": sel["name"].astype(object).to_numpy(),
                "category": self.walk.category,
                "lon": pt.x.to_numpy(),
                "lat": pt.y.to_numpy(),
                "residents_newly_covered": per_rank.sum(axis=1),
                "coverage_after": np.asarray(after, dtype=float),
                "communities_served": served_ids,
                "community_names_served": served_names,
            },
            geometry=sel.geometry.values,
            crs=4326,
        )

    def _communities(
        self,
        table: gpd.GeoDataFrame,
        chosen: list[int],
        per_rank: np.ndarray,
        comm_after: np.ndarray,
    ) -> gpd.GeoDataFrame:
        sh = self.shares
        comm = self.study.area.communities
        before = sh.community_share(self.cov0)
        after = sh.community_share(comm_after)
        out = gpd.GeoDataFrame(
            {
                "community_id": comm["community_id"].astype(str).to_numpy(),
                "community_name": comm["community_name"].astype(str).to_numpy(),
                "group": [self.labels[g] for g in self.comm_group],
                "residents": sh.total,
                "coverage_before": before,
                "coverage_after": after,
                "meets_target_before": np.nan_to_num(before, nan=-1) >= sh.target,
                "meets_target_after": np.nan_to_num(after, nan=-1) >= sh.target,
            },
            geometry=comm.geometry.values,
            crs=comm.crs,
        )
        rank = np.full(len(out), -1)
        if len(chosen):
            top = per_rank.argmax(axis=0)
            has = per_rank.max(axis=0) > 0
            rank[has] = top[has]
        sel = table.iloc[chosen].reset_index(drop=True)
        pt = sel.geometry.representative_point()
        pick = np.maximum(rank, 0)
        some = rank >= 0
        out["suggested_rank"] = pd.array(np.where(some, rank + 1, 0), dtype="Int64")
        out.loc[~some, "suggested_rank"] = pd.NA
        cid = sel["candidate_id"].astype(str).to_numpy()
        nm = sel["name"].astype(str).to_numpy()
        out["suggested_candidate_id"] = np.where(some, cid[pick] if len(cid) else "", "")
        out["suggested_site_name"] = np.where(some, nm[pick] if len(nm) else "", "")
        lon = pt.x.to_numpy() if len(pt) else np.zeros(1)
        lat = pt.y.to_numpy() if len(pt) else np.zeros(1)
        out["suggested_lon"] = np.where(some, lon[pick], np.nan)
        out["suggested_lat"] = np.where(some, lat[pick], np.nan)
        return out
