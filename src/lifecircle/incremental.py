"""The workbench's evaluation of an edit, answered incrementally from the baseline.

``POST /api/evaluate`` asks for the coverage of the baseline plus some facilities added and
some removed. :func:`lifecircle.scenario.what_if` answers that by building the changed study and
every table of an analysis (service areas, layers, the summary): seconds on a large area. An
:class:`EditEngine` keeps what the answer needs from the baseline and redoes only what an edit
touches:

1. the added facilities are snapped as ``analyze`` snaps them
   (:func:`lifecircle.placement.site_facilities`, on the network's kept edge index);
2. per changed category, the distance field is edited (:func:`lifecircle.fieldedit.edit_field`:
   a length-limited search from each added facility, a search over the region whose nearest
   facility was removed);
3. only the residents on edges that touch a changed node, or that hold a changed facility, get
   their walk again (:func:`lifecircle.routing.origin_distances`);
4. only the communities of residents whose walk changed get their coverage rows again
   (:func:`lifecircle.coverage.coverage_table` on their residents), and the area-wide figures
   of the changed categories are summed again from all communities' rows.

The answer is the one ``what_if`` gives, value for value (the tests compare them on random
edits). A study with compound gates (``analyze --gates``) is answered by ``what_if`` itself:
its enclosed residents walk through their gates' distances, not their own edge's ends (exact,
at the speed of a re-route).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle._ragged import index_by, slices
from lifecircle._records import jsonable
from lifecircle.coverage import (
    COVERAGE_COLUMNS,
    area_totals,
    basket_limit_m,
    coverage_blocks,
    weighted_share,
)
from lifecircle.fieldedit import EditedField, concat, edit_field, take
from lifecircle.naming import ALL, dist_col, limit_m
from lifecircle.placement import SitedFacilities, site_facilities
from lifecircle.result import Result
from lifecircle.routing import origin_distances
from lifecircle.scenario import NOW_MEETS, NOW_MISSES, facility_rows, threshold_rows
from lifecircle.sources import ages
from lifecircle.study import Study, check_new_ids
from lifecircle.summary import communities_meeting, complete_life_circle


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``df`` (without geometry) as JSON-ready dicts, values exact (no rounding)."""
    cols = [c for c in df.columns if c != "geometry"]
    return [
        {c: jsonable(v) for c, v in zip(cols, row, strict=True)}
        for row in df[cols].itertuples(index=False, name=None)
    ]


def covered_residents(area: pd.DataFrame, cat: str, row: tuple[str, int] | None) -> float | None:
    """Residents within ``cat``'s threshold, area-wide (None when it has no tier row)."""
    if row is None:
        return None
    sel = area[
        (area["category"] == cat) & (area["profile"] == row[0]) & (area["minutes"] == row[1])
    ]
    return jsonable(sel["covered_residents"].sum()) if len(sel) else 0.0


def _grouped(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``values`` sorted by ``keys`` (integers in 0..n-1, stable) and where each key's run
    starts (``n`` + 1 pointers)."""
    order, ptr = index_by(keys, n)
    return values[order], ptr


def _gather(grouped: tuple[np.ndarray, np.ndarray], keys: np.ndarray) -> np.ndarray:
    """The values of :func:`_grouped` under ``keys``; keys outside 0..n-1 (an off-network
    point's edge -1) hold none."""
    vals, ptr = grouped
    return vals[slices(ptr, keys[(keys >= 0) & (keys < len(ptr) - 1)])]


VALUES = ["residents", "covered_residents", "coverage", "meets_target"]  # the rest are keys


class LayoutError(RuntimeError):
    """The baseline's coverage table is not laid out as :func:`coverage_table` lays it out."""


class EditEngine:
    """The baseline's state that an edit's answer is built from (see the module's text).

    Parameters
    ----------
    study
        The analysed area; its :meth:`~lifecircle.study.Study.coverage` must have been asked.
    baseline
        ``study.coverage()``.

    Raises
    ------
    LayoutError
        When the baseline's coverage table is not laid out as
        :func:`lifecircle.coverage.coverage_table` lays it out (one block of the communities,
        in the area's order, per category, profile and tier): a study this engine cannot
        edit.
    """

    def __init__(self, study: Study, baseline: Result) -> None:
        self.study, self.before = study, baseline
        net, preset = study.network, study.settings.preset
        self.limit_m = study.area.reach_m  # the farthest any coverage figure judges
        self.full_limit_m = study.search_limit_m
        self.within_m = limit_m(max(preset.minutes), preset.headline_speed_m_s)
        net.edge_index()  # built now, not on the first request
        # placing an added facility asks whether it lies in these: prepared once (a cache
        # inside the geometries; they are not changed)
        shapely.prepare([study.area.buffer_m, study.area.area_m])
        net.csr()  # built now, not on the first request
        table = study.facilities.table
        self.fac_ids = table["facility_id"].astype(str).to_numpy()
        self.fac_row = {f: i for i, f in enumerate(self.fac_ids)}
        self.fac_cat = table["category"].astype(str).to_numpy()
        self.fac_poly = shapely.get_type_id(table.geometry.to_numpy()) != 0
        res = baseline.residents
        self.weight = res["weight"].to_numpy(dtype=float)
        self.res_comm = res["community_id"].astype(str).to_numpy()
        # the headline shares count residents inside a community only
        self.counted_weight = np.where(self.res_comm != "", self.weight, 0.0)
        self.dist = {c: res[dist_col(c)].to_numpy(dtype=float) for c in study.categories}
        snap = study.residents.snap
        on = np.flatnonzero(snap.on_network)
        e = snap.edge[on]
        both = np.concatenate([on, on])
        self.res_by_node = _grouped(
            np.concatenate([net.edge_u[e], net.edge_v[e]]), both, net.n_nodes
        )
        self.res_by_edge = _grouped(e, on, net.n_edges)
        comm = study.area.communities
        self.comm_ids = comm["community_id"].astype(str).to_numpy()
        code = pd.Categorical(self.res_comm, categories=self.comm_ids).codes.astype(np.int64)
        self.res_code = code
        inside = np.flatnonzero(code >= 0)
        self.res_by_comm = _grouped(code[inside], inside, len(self.comm_ids))
        self.age_share = ages.age_shares(study.inputs.age_share, study.area.communities, preset)
        self._layout(baseline.coverage)
        self.rows = threshold_rows(study, study.categories)
        self.within_before = dict(baseline.summary["complete_life_circle"]["within_threshold"])
        self.covered_before = {
            c: covered_residents(baseline.area_coverage, c, self.rows.get(c))
            for c in study.categories
        }

    def _layout(self, cov: pd.DataFrame) -> None:
        n = len(self.comm_ids)
        if list(cov.columns) != COVERAGE_COLUMNS:
            raise LayoutError(f"coverage columns {list(cov.columns)}, not {COVERAGE_COLUMNS}")
        if n == 0 or len(cov) % n:
            raise LayoutError("coverage rows are not whole blocks of communities")
        ids = cov["community_id"].astype(str).to_numpy().reshape(-1, n)
        if not (ids == self.comm_ids).all():
            raise LayoutError("coverage rows do not list the communities in one order")
        starts = cov.iloc[::n]
        keys = list(
            zip(starts["category"], starts["profile"], starts["minutes"].astype(int), strict=True)
        )
        self.blocks = {k: i for i, k in enumerate(keys)}
        self.block_cats = [k[0] for k in keys]
        self.records = records(cov)
        self.columns = list(cov.columns)
        self.values = {c: cov[c].to_numpy() for c in VALUES}
        # the keys as Python text: grouping and merging them is quicker than Arrow strings
        self.keys = cov.drop(columns=VALUES).astype(
            {c: object for c in ("community_id", "community_name", "category", "profile")}
        )
        self.row_json = [_dumps(r) for r in self.records]  # encoded once for all requests
        self._removed: dict[str, dict[str, Any]] = {}
        self.keys_text = {k: self.keys[k].to_numpy() for k in ("community_id", "community_name")}

    # ---- one request ---------------------------------------------------------------------

    def evaluate(self, add: gpd.GeoDataFrame | None, remove: Sequence[str]) -> Answer:
        """The answer of ``POST /api/evaluate`` for facilities ``add``\\ ed (WGS 84, the columns
        of a facility list) and ``remove``\\ d (facility ids of the study, checked by the
        caller). :meth:`Answer.as_dict` (with :attr:`records`) or :meth:`as_json` give the
        JSON: ``columns``, ``coverage``, ``change``, ``facilities`` and ``timings_s``."""
        ids = list(dict.fromkeys(str(r) for r in remove))
        if (add is None or not len(add)) and not ids:
            return self._answer([], dict(self.dist), None, None, {})
        if self.study.gates is not None:
            return self._exact(add, ids)
        t0 = time.perf_counter()
        gone = np.zeros(len(self.fac_ids), dtype=bool)
        gone[[self.fac_row[i] for i in ids]] = True  # ids of the study (checked by the caller)
        if add is not None and len(add):
            new, removed = list(add["facility_id"].astype(str)), set(ids)
            check_new_ids([i for i in new if i in self.fac_row and i not in removed], new)
        sited = self._site(add)
        cats = self._changed_categories(sited, gone)
        dist = dict(self.dist)
        touched = np.zeros(len(self.comm_ids), dtype=bool)
        reached = np.zeros(0 if sited is None else len(sited.table))
        for c in cats:
            dist[c] = self._edit_category(c, sited, gone, reached, touched)
        timings = {"before_s": 0.0, "change_and_reroute_s": 0.0}
        answer = self._answer(cats, dist, touched, (sited, reached, ids), timings)
        timings["change_and_reroute_s"] = round(time.perf_counter() - t0, 4)
        return answer

    def _exact(self, add: gpd.GeoDataFrame | None, ids: list[str]) -> Answer:
        """The answer through :func:`lifecircle.scenario.what_if` (the changed categories routed
        again in full): for a study with compound gates, whose enclosed residents walk through
        the gates' distances rather than their own edge's ends."""
        from lifecircle.scenario import what_if

        t0 = time.perf_counter()
        sc = what_if(self.study, add=add, remove=ids, before=self.before)
        cats = list(sc.summary["rerouted_categories"])
        res = sc.after.residents
        dist = {c: res[dist_col(c)].to_numpy(dtype=float) for c in self.study.categories}
        touched = np.zeros(len(self.comm_ids), dtype=bool)
        for c in cats:
            code = self.res_code[dist[c] != self.dist[c]]
            touched[code[code >= 0]] = True
        timings = dict(sc.summary["timings_s"])
        answer = self._answer(cats, dist, touched, None, timings)
        timings["change_and_reroute_s"] = round(time.perf_counter() - t0, 4)
        return replace(answer, facilities=records(sc.facilities))

    def _site(self, add: gpd.GeoDataFrame | None) -> SitedFacilities | None:
        if add is None or not len(add):
            return None
        st = self.study
        return site_facilities(add, st.network, st.area, st.settings)

    def _changed_categories(self, sited: SitedFacilities | None, gone: np.ndarray) -> list[str]:
        cats = set(self.fac_cat[gone])
        if sited is not None:
            cats |= set(sited.table["category"])
        return [c for c in self.study.categories if c in cats]

    def _edit_category(
        self,
        cat: str,
        sited: SitedFacilities | None,
        gone: np.ndarray,
        reached: np.ndarray,
        touched: np.ndarray,
    ) -> np.ndarray:
        """The residents' walks to ``cat`` after the edit; adds the added facilities' residents
        to ``reached`` and marks the communities whose residents' walks changed in
        ``touched``."""
        st = self.study
        acc = st.access[cat]
        keep = np.flatnonzero(~gone[acc.rows])
        if sited is not None:
            a_rows, a_snap = sited.of_category(cat)
            a_poly = shapely.get_type_id(sited.table.geometry.to_numpy()[a_rows]) != 0
        else:
            a_rows, a_snap, a_poly = (
                np.zeros(0, np.int64),
                take(acc.snap, keep[:0]),
                np.zeros(0, bool),
            )
        # the order a fresh analysis lists the category's access points: points, then outlines,
        # each by facility row (the added ones after the kept ones)
        big = len(self.fac_ids)
        key_row = np.concatenate([acc.rows[keep], big + a_rows])
        key_poly = np.concatenate([self.fac_poly[acc.rows[keep]], a_poly])
        order = np.lexsort((key_row, key_poly))
        pos = np.empty(len(order), dtype=np.int64)
        pos[order] = np.arange(len(order))
        snap = take(concat([take(acc.snap, keep), a_snap]), order)
        renumber = np.full(len(acc.rows), -1, dtype=np.int64)
        renumber[keep] = pos[: len(keep)]
        new_pos = pos[len(keep) :]
        owner = np.full(len(order), -1, dtype=np.int64)
        owner[new_pos] = a_rows
        groups = [new_pos[a_rows == r] for r in np.unique(a_rows)]
        edited = edit_field(
            st.network, acc.field, renumber, snap, groups,
            limit_m=self.limit_m, full_limit_m=self.full_limit_m,
        )  # fmt: skip
        edges = np.concatenate([acc.snap.edge[gone[acc.rows]], a_snap.edge])
        who = self._residents(edited, edges)
        d, near = origin_distances(
            st.network, edited.field, snap, take(st.residents.snap, who),
            limit_m=self.full_limit_m,
        )  # fmt: skip
        hit = (d <= self.within_m) & (near >= 0)
        fac = owner[near[hit]]
        np.add.at(reached, fac[fac >= 0], self.weight[who][hit][fac >= 0])
        base = self.dist[cat]
        out = base.copy()
        out[who] = d
        moved = who[d != base[who]]
        code = self.res_code[moved]
        touched[code[code >= 0]] = True
        return out

    def _residents(self, edited: EditedField, edges: np.ndarray) -> np.ndarray:
        """The residents whose walk may have changed: on an edge with a changed end node, or
        on an edge where a facility was added or removed."""
        if edited.full:
            return np.arange(len(self.weight))
        return np.unique(
            np.concatenate(
                [_gather(self.res_by_node, edited.changed), _gather(self.res_by_edge, edges)]
            )
        )

    # ---- the answer ------------------------------------------------------------------------

    def _answer(
        self,
        cats: list[str],
        dist: dict[str, np.ndarray],
        touched: np.ndarray | None,
        added: tuple[SitedFacilities | None, np.ndarray, list[str]] | None,
        timings: dict[str, float],
    ) -> Answer:
        vals = self.values
        rows: dict[int, dict[str, Any]] = {}
        comms = np.flatnonzero(touched) if touched is not None else np.zeros(0, np.int64)
        if len(comms):
            vals = {k: v.copy() for k, v in vals.items()}
            rows = self._new_rows(cats, dist, comms, vals)
        change = self._change(cats, dist, comms, vals)
        facilities: list[dict[str, Any]] = []
        if added is not None:
            sited, reached, removed = added
            if sited is not None:
                table = sited.table.assign(residents_within_max_minutes=reached)
                ids = list(table["facility_id"].astype(str))
                facilities = records(facility_rows(table, ids, "added"))
            # removed facilities in the order of the facility table, as facility_changes lists
            facilities += [
                self._removed_row(r) for r in sorted(removed, key=self.fac_row.__getitem__)
            ]
        return Answer(self.columns, rows, change, facilities, timings)

    def _new_rows(
        self,
        cats: list[str],
        dist: dict[str, np.ndarray],
        comms: np.ndarray,
        vals: dict[str, np.ndarray],
    ) -> dict[int, dict[str, Any]]:
        """The coverage rows of the communities ``comms`` for ``cats`` and the complete life
        circle (by position in the table; :func:`lifecircle.coverage.coverage_blocks` on their
        residents), their values also written into ``vals``."""
        st, n = self.study, len(self.comm_ids)
        who = np.sort(_gather(self.res_by_comm, comms))
        residents = pd.DataFrame(
            {
                "community_id": self.res_comm[who],
                "weight": self.weight[who],
                **{dist_col(c): d[who] for c, d in dist.items()},
            }
        )
        ids, names = self.comm_ids[comms], self.keys_text["community_name"][comms]
        target = self.records[0]["target"]  # as the table holds it
        rows: dict[int, dict[str, Any]] = {}
        blocks = coverage_blocks(residents, ids, cats, st.settings.preset, age_share=self.age_share)
        for cat, profile, minutes, total, cov, share in blocks:
            at = self.blocks[(cat, profile, int(minutes))] * n + comms
            meets = np.where(np.isnan(share), False, share >= st.settings.target)
            for col, v in zip(VALUES, (total, cov, share, meets), strict=True):
                vals[col][at] = v
            for k, p in enumerate(at.tolist()):
                rows[p] = {
                    "community_id": str(ids[k]),
                    "community_name": str(names[k]),
                    "category": cat,
                    "profile": profile,
                    "minutes": int(minutes),
                    "residents": jsonable(total[k]),
                    "covered_residents": jsonable(cov[k]),
                    "coverage": jsonable(share[k]),
                    "target": target,
                    "meets_target": bool(meets[k]),
                }
        return rows

    def _removed_row(self, facility_id: str) -> dict[str, Any]:
        """A removed facility as a row of ``facility_changes.csv`` (kept once made)."""
        if facility_id not in self._removed:
            fac = self.before.facilities
            one = fac.iloc[np.flatnonzero(self.fac_ids == facility_id)]
            self._removed[facility_id] = records(facility_rows(one, [facility_id], "removed"))[0]
        return self._removed[facility_id]

    def _judged(self, cats: list[str]) -> list[int]:
        """The blocks of the coverage table that judge ``cats`` and the complete life circle
        (:func:`lifecircle.scenario.threshold_rows`), in the table's order."""
        keys = [(c, *self.rows[c]) for c in [*cats, ALL] if c in self.rows]
        return sorted(self.blocks[k] for k in keys if k in self.blocks)

    def _flips(
        self, judged: list[int], comms: np.ndarray, vals: dict[str, np.ndarray]
    ) -> dict[str, list[dict[str, Any]]]:
        """The communities whose verdict flips in the ``judged`` blocks (:meth:`_judged`), in
        the order of the coverage table (as :func:`lifecircle.scenario.coverage_change` marks
        them)."""
        n, target = len(self.comm_ids), self.study.settings.target
        out: dict[str, list[dict[str, Any]]] = {NOW_MEETS: [], NOW_MISSES: []}
        for b in judged:
            idx = b * n + comms
            populated = vals["residents"][idx] > 0
            mb = populated & (self.values["coverage"][idx] >= target)
            ma = populated & (vals["coverage"][idx] >= target)
            for kind, hit in ((NOW_MEETS, ma & ~mb), (NOW_MISSES, mb & ~ma)):
                for i in idx[hit]:
                    out[kind].append(
                        {k: self.keys_text[k][i] for k in ("community_id", "community_name")}
                        | {"category": self.block_cats[b]}
                    )
        return out

    def _frame(self, idx: np.ndarray, vals: dict[str, np.ndarray]) -> pd.DataFrame:
        """Rows ``idx`` of the coverage table with the values ``vals``."""
        df = self.keys.iloc[idx].reset_index(drop=True)
        for col, v in vals.items():
            df[col] = v[idx]
        return df[self.columns]

    def _change(
        self,
        cats: list[str],
        dist: dict[str, np.ndarray],
        comms: np.ndarray,
        vals: dict[str, np.ndarray],
    ) -> dict[str, Any]:
        st, n = self.study, len(self.comm_ids)
        preset = st.settings.preset
        profile, maxm = preset.headline_profile, max(preset.minutes)
        base = self.before.summary
        within_after, covered_after = dict(self.within_before), dict(self.covered_before)
        clc_after = base["complete_life_circle"]["coverage"]
        meeting_after = base["communities_meeting_target"]["count"]
        flips: dict[str, list[dict[str, Any]]] = {"now_meets": [], "now_misses": []}
        if cats:
            speed = preset.speeds_m_s[profile]
            for c in cats:
                ok = dist[c] <= basket_limit_m(preset, c, speed, maxm)
                within_after[c] = weighted_share(ok, self.counted_weight)
            judged = self._judged(cats)  # the complete life circle's block among them
            frame = self._frame(_ranges(judged, n), vals)
            area = area_totals(frame, st.settings.target)
            for c in cats:
                covered_after[c] = covered_residents(area, c, self.rows.get(c))
            clc_after = complete_life_circle(area, profile, maxm, st)["coverage"]
            meeting_after = communities_meeting(frame, profile, maxm)["count"]
            flips = self._flips(judged, comms, vals)
        per_cat = {}
        for c in st.categories:
            cb, ca = self.covered_before[c], covered_after[c]
            per_cat[c] = {
                "coverage_before": jsonable(self.within_before.get(c)),
                "coverage_after": jsonable(within_after.get(c)),
                "residents_newly_covered": None if cb is None or ca is None else ca - cb,
            }
        return {
            "rerouted_categories": list(cats),
            "per_category": per_cat,
            "complete_life_circle": {
                "category": ALL,
                "coverage_before": jsonable(base["complete_life_circle"]["coverage"]),
                "coverage_after": jsonable(clc_after),
                "communities_meeting_before": base["communities_meeting_target"]["count"],
                "communities_meeting_after": meeting_after,
            },
            "flips": flips,
        }

    def as_json(self, answer: Answer) -> str:
        """``json.dumps(answer.as_dict(...), ensure_ascii=False, allow_nan=False)``, byte for
        byte, with the unchanged coverage rows encoded once for all requests."""
        parts = list(self.row_json)
        for p, r in answer.rows.items():
            parts[p] = _dumps(r)
        return (
            f'{{"columns": {_dumps(answer.columns)}, "coverage": [{", ".join(parts)}], '
            f'"change": {_dumps(answer.change)}, "facilities": {_dumps(answer.facilities)}, '
            f'"timings_s": {_dumps(answer.timings_s)}}}'
        )


def _ranges(blocks: list[int], n: int) -> np.ndarray:
    if not blocks:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(b * n, (b + 1) * n) for b in blocks])


def _dumps(o: Any) -> str:
    return json.dumps(o, ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Answer:
    """An evaluation: the coverage rows that differ from the baseline's (by position), the
    change, the facilities added and removed, and the timings."""

    columns: list[str]
    rows: dict[int, dict[str, Any]]
    change: dict[str, Any]
    facilities: list[dict[str, Any]]
    timings_s: dict[str, float]

    def as_dict(self, baseline_rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The JSON-ready answer, given the baseline's coverage rows (copied: a caller may
        change what it is given)."""
        coverage = [dict(r) for r in baseline_rows]
        for p, r in self.rows.items():
            coverage[p] = r
        return {
            "columns": self.columns,
            "coverage": coverage,
            "change": self.change,
            "facilities": self.facilities,
            "timings_s": self.timings_s,
        }
