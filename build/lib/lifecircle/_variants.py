"""The machinery of :mod:`lifecircle.sensitivity`: a study's residents and facilities snapped at
another limit, searches run again only for the sets of facility points not searched before, and
coverage shares computed as :func:`lifecircle.coverage.coverage_table` computes them, without
building its table for every variant."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lifecircle.config import Preset
from lifecircle.coverage import AGE_WEIGHTED, area_totals, covered_mask
from lifecircle.errors import AnalysisError
from lifecircle.naming import ALL, dist_col
from lifecircle.routing import Field, facility_fields, origin_distances
from lifecircle.snapping import Snapped, snap_points
from lifecircle.sources import ages
from lifecircle.sources.facilities import access_points

if TYPE_CHECKING:
    from lifecircle.study import Study


# ---- snapping at other limits ------------------------------------------------------------------


def within(s: Snapped, limit_m: float, keep: np.ndarray | None = None) -> Snapped:
    """The snapping at a lower limit: the points farther than ``limit_m`` from the network (and
    those ``keep`` leaves out) taken off it. A point's nearest edge within a limit is its nearest
    edge within any larger limit, so nothing else changes."""
    on = s.on_network & (s.leg_m <= limit_m)
    if keep is not None:
        on &= keep
    return Snapped(
        edge=np.where(on, s.edge, -1),
        offset_m=np.where(on, s.offset_m, np.nan),
        leg_m=np.where(on, s.leg_m, np.nan),
        near_dropped=s.near_dropped,
    )


@dataclass(frozen=True)
class Resnapped:
    """The residents and, per category, the facility access points snapped at one limit."""

    residents: Snapped
    points: dict[str, Snapped]

    def at(self, limit_m: float) -> Resnapped:
        return Resnapped(
            residents=within(self.residents, limit_m),
            points={c: within(s, limit_m) for c, s in self.points.items()},
        )


def resnap(study: Study, limit_m: float) -> Resnapped:
    """Snap the study's residents and facility access points again, at ``limit_m``."""
    net, crs = study.network, study.area.crs
    res = study.residents.table.to_crs(crs).geometry.to_numpy()
    table = study.facilities.table
    if len(table):
        rows, pts = access_points(table, crs, step_m=study.settings.outline_step_m)
    else:
        rows, pts = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    if not np.array_equal(rows, study.facilities.rows):
        raise AnalysisError("sensitivity: the facilities' access points changed since routing")
    snap = snap_points(pts, net, max_snap_m=limit_m)
    cats = table["category"].to_numpy() if len(table) else np.zeros(0, dtype=object)
    points = {}
    for cat in study.categories:
        sel = np.flatnonzero((cats == cat)[rows])
        points[cat] = Snapped(
            snap.edge[sel], snap.offset_m[sel], snap.leg_m[sel], snap.near_dropped[sel]
        )
    return Resnapped(residents=snap_points(res, net, max_snap_m=limit_m), points=points)


# ---- searches and distances --------------------------------------------------------------------

Key = tuple[str, bytes]


class Searches:
    """Residents' distances for sets of facility points on the network. A category's points are
    always the same points, so the set on the network names its field: a set searched before
    (the run's own, or an earlier variant's) is not searched again, and a field and residents'
    snapping seen before give their distances without recomputing them."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.count = 0
        self._fields: dict[Key, Field] = {}
        self._dists: dict[tuple[Key, bytes], np.ndarray] = {}
        self._kept: set[Key] = set()
        own = {cat: acc.snap for cat, acc in study.access.items()}
        for cat, key in self._keys(own).items():
            self._fields[key] = study.access[cat].field
            reach = study._reach.get(cat)  # the distances of the run, when coverage kept them
            if reach is not None:
                self._dists[(key, _mask(study.residents.snap))] = reach.resident_m
        self.keep(own)

    @staticmethod
    def _keys(snaps: dict[str, Snapped]) -> dict[str, Key]:
        return {cat: (cat, s.on_network.tobytes()) for cat, s in snaps.items()}

    def keep(self, snaps: dict[str, Snapped]) -> None:
        """Keep the fields of these sets (and their distances) until the end."""
        self._kept |= set(self._keys(snaps).values())

    def forget(self) -> None:
        """Drop every field and distance not kept: one per category per dropout run would pile
        up (at a million nodes a field is 16 MB)."""
        self._fields = {k: f for k, f in self._fields.items() if k in self._kept}
        self._dists = {k: d for k, d in self._dists.items() if k[0] in self._kept}

    def distances(self, snaps: dict[str, Snapped], residents: Snapped) -> dict[str, np.ndarray]:
        """Per category, each resident's metres to the nearest of the points ``snaps`` puts on
        the network (residents snapped as ``residents``: at another limit, only the set on the
        network differs, so that set names the snapping too)."""
        name = _mask(residents)
        keys = self._keys(snaps)
        todo = [c for c, k in keys.items() if k not in self._fields]
        if todo:
            routed = facility_fields(
                self.study.network,
                [snaps[c] for c in todo],
                limit_m=self.study.search_limit_m,
                processes=self.study.settings.processes,
            )
            self.count += len(todo)
            self._fields.update({keys[c]: f for c, f in zip(todo, routed, strict=True)})
        out = {}
        for cat, key in keys.items():
            if (key, name) not in self._dists:
                self._dists[(key, name)] = origin_distances(
                    self.study.network,
                    self._fields[key],
                    snaps[cat],
                    residents,
                    limit_m=self.study.search_limit_m,
                )[0]
            out[cat] = self._dists[(key, name)]
        return out


def _mask(s: Snapped) -> bytes:
    return hashlib.blake2b(s.on_network.tobytes(), digest_size=16).digest()


# ---- coverage shares ---------------------------------------------------------------------------


def faster(preset: Preset, delta_m_s: float) -> Preset:
    """The preset with every walking speed ``delta_m_s`` faster (slower when negative)."""
    return replace(preset, speeds_m_s={k: v + delta_m_s for k, v in preset.speeds_m_s.items()})


class Shares:
    """The ``coverage`` column of ``coverage.csv`` followed by that of ``area_coverage.csv``,
    for any residents' distances and preset speeds: the arithmetic of
    :func:`~lifecircle.coverage.coverage_table` and :func:`~lifecircle.coverage.area_totals`,
    row for row, without building the table for every variant."""

    def __init__(self, study: Study) -> None:
        preset = study.settings.preset
        self.study = study
        comm = study.area.communities
        self.ids = comm["community_id"].astype(str).to_numpy()
        res = study.residents.table
        code = pd.Categorical(res["community_id"].astype(str), categories=self.ids).codes
        self.inside = code >= 0
        self.code = code[self.inside]
        self.w = res["weight"].to_numpy(dtype=float)
        self.total = np.bincount(self.code, weights=self.w[self.inside], minlength=len(self.ids))
        share = ages.age_shares(study.inputs.age_share, comm, preset)
        self.age = None
        if share is not None:
            s_comm = share.reindex(self.ids).fillna(0.0).to_numpy(dtype=float)
            self.age = np.where(self.inside, s_comm[np.maximum(code, 0)], 0.0)
        self.frame = self._labels(preset, comm["community_name"].to_numpy())
        area = area_totals(self.frame.assign(covered_residents=0.0), study.settings.target)
        self.labels = pd.concat([self.frame, area[self.frame.columns]], ignore_index=True)
        """The rows' community, category, profile, minutes and residents."""

    def _blocks(self, preset: Preset) -> list[tuple[str, str, int]]:
        profiles = [*preset.speeds_m_s, *([AGE_WEIGHTED] if self.age is not None else [])]
        return [
            (cat, profile, minutes)
            for cat in [*self.study.categories, ALL]
            for profile in profiles
            for minutes in preset.minutes
        ]

    def _labels(self, preset: Preset, names: np.ndarray) -> pd.DataFrame:
        blocks = self._blocks(preset)
        n = len(self.ids)
        return pd.DataFrame(
            {
                "community_id": np.tile(self.ids, len(blocks)),
                "community_name": np.tile(names, len(blocks)),
                "category": np.repeat([b[0] for b in blocks], n),
                "profile": np.repeat([b[1] for b in blocks], n),
                "minutes": np.repeat([b[2] for b in blocks], n),
                "residents": np.tile(self.total, len(blocks)),
            }
        )

    def _covered(self, res: pd.DataFrame, cat: str, profile: str, m: int, p: Preset) -> np.ndarray:
        if profile == AGE_WEIGHTED and self.age is not None:
            elderly = p.speeds_m_s[p.elderly_profile] if p.elderly_profile else None
            std = covered_mask(res, cat, p.headline_speed_m_s, m, p)
            eld = covered_mask(res, cat, elderly or p.headline_speed_m_s, m, p)
            part = (1 - self.age) * std + self.age * eld
            return np.bincount(
                self.code, weights=(self.w * part)[self.inside], minlength=len(self.ids)
            )
        ok = covered_mask(res, cat, p.speeds_m_s[profile], m, p) & self.inside
        return np.bincount(self.code[ok[self.inside]], weights=self.w[ok], minlength=len(self.ids))

    def __call__(self, dists: dict[str, np.ndarray], preset: Preset) -> np.ndarray:
        """The shares for residents' distances ``dists`` (category → metres) under ``preset``
        (whose speeds may differ from the run's)."""
        res = pd.DataFrame({dist_col(c): d for c, d in dists.items()})
        cov = np.concatenate(
            [self._covered(res, c, pr, m, preset) for c, pr, m in self._blocks(preset)]
        )
        total = self.frame["residents"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, cov / np.where(total > 0, total, 1), np.nan)
        area = area_totals(
            self.frame.assign(covered_residents=cov, coverage=share), self.study.settings.target
        )
        return np.concatenate([share, area["coverage"].to_numpy(dtype=float)])
