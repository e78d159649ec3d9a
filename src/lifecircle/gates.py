"""Compound gates: residents of a gated compound (小区) reach the street only through its gates.

The model
---------
A resident inside a compound walks in a straight line to one of the compound's gates, then on
the walk network: the walk through the gates is the minimum over the compound's gates of
``straight line to the gate + the gate's network distance`` (the gate snapped to the nearest
walkable edge as residents are). The straight line is a lower bound of the walk inside, so the
walk through the gates may come out shorter than the walk on the mapped network ignoring the
walls; walls never shorten a walk, so the longer of the two is kept. A facility inside the same
compound is reached without leaving it, in a straight line (that walk is the resident's when it
is shorter).

Gates come from the user's file or from OpenStreetMap. A compound without a known gate gets
*assumed* gates where the walk network crosses or touches its boundary; a compound with
neither has its residents routed as without gates. Each case is counted for the summary.

The distance fields of the facilities do not change: only the residents' last leg does, so
the distances ignoring gates come for free and the summary compares both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from lifecircle.area import StudyArea
from lifecircle.config import Settings
from lifecircle.errors import InputError
from lifecircle.fieldedit import concat
from lifecircle.network import Network
from lifecircle.routing import Field, origin_distances
from lifecircle.snapping import Snapped, snap_points

log = logging.getLogger(__name__)

#: a gate farther than this from its compound's boundary is not a gate of it
GATE_TOLERANCE_M = 30.0
#: assumed gates closer than this to each other are one
ASSUMED_GATE_MERGE_M = 10.0
#: two compounds of a user's file may share this much of the smaller one's area (drawing slack)
OVERLAP_SLACK = 0.01
#: roads that do not run inside a gated compound: an OSM landuse area they cross is a district
MAIN_ROADS = frozenset(
    {"motorway", "trunk", "primary", "secondary", "tertiary"}
    | {f"{k}_link" for k in ("motorway", "trunk", "primary", "secondary", "tertiary")}
)
KNOWN, ASSUMED = "known", "assumed"


@dataclass(frozen=True)
class Enclosed:
    """Origins (residents or buildings) inside compounds with a usable gate.

    ``compound`` gives per origin its compound's row (-1 outside, or in a compound without a
    usable gate); ``pair_origin``, ``pair_gate`` and ``pair_m`` list every (origin, gate of its
    compound) with the straight line between them; ``points`` are the origins (metric CRS);
    ``gateless`` marks origins inside a compound without any usable gate (routed as without
    gates).
    """

    compound: np.ndarray
    gateless: np.ndarray
    pair_origin: np.ndarray
    pair_gate: np.ndarray
    pair_m: np.ndarray
    points: np.ndarray


@dataclass(frozen=True)
class Gates:
    """The compounds and gates of a study, and the residents and buildings they enclose.

    Attributes
    ----------
    compounds
        Compound polygons (metric CRS): ``compound_id``, ``name``, ``source``, ``gates``
        (``known``, ``assumed`` or ``none``).
    gates
        Gates (metric CRS): ``gate_id``, ``compound`` (row in ``compounds``), ``kind``
        (``known`` / ``assumed``), ``source``, ``on_network``.
    snap
        Where each gate meets the network.
    residents, buildings
        The enclosed resident points and buildings.
    counts
        What the summary reports (compounds, gates, what was dropped and why).
    """

    compounds: gpd.GeoDataFrame
    gates: gpd.GeoDataFrame
    snap: Snapped
    residents: Enclosed
    buildings: Enclosed
    counts: dict[str, Any] = field(default_factory=dict)

    def distances(
        self,
        base: tuple[np.ndarray, np.ndarray],
        origins: Enclosed,
        *,
        net: Network,
        field: Field,
        fac: Snapped,
        fac_points: np.ndarray,
        limit_m: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distances through the gates: ``base`` (metres and nearest access point per origin,
        ignoring gates) with the enclosed origins' values replaced by the longer of theirs and
        the walk through the gates, or the straight line to a facility inside their compound
        when that is shorter still.

        Parameters
        ----------
        base
            The distances and nearest access points ignoring gates (not modified).
        origins
            :attr:`residents` or :attr:`buildings`.
        net, field, fac
            The network, the category's distance field and its access points.
        fac_points
            The category's access points (metric CRS), for facilities inside a compound.
        limit_m
            Walks longer than this are ``inf``.
        """
        dist, near = base[0].copy(), base[1].copy()
        inside = np.flatnonzero(origins.compound >= 0)
        if not len(inside):
            return dist, near
        gate_m, gate_ap = origin_distances(net, field, fac, self.snap, limit_m=limit_m)
        d = np.full(len(dist), np.inf)
        ap = np.full(len(dist), -1, dtype=np.int64)
        total = origins.pair_m + gate_m[origins.pair_gate]
        _take_min(d, ap, origins.pair_origin, total, gate_ap[origins.pair_gate])
        longer = dist > d  # walls never shorten a walk: the network walk stands
        d[longer], ap[longer] = dist[longer], near[longer]
        o, a, m = self._inside_facilities(origins, fac_points)
        _take_min(d, ap, o, m, a)
        d[d > limit_m] = np.inf
        ap[~np.isfinite(d)] = -1
        dist[inside], near[inside] = d[inside], ap[inside]
        return dist, near

    def _inside_facilities(
        self, origins: Enclosed, fac_points: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(origin, access point, straight metres) for access points inside the origin's own
        compound."""
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        if not len(fac_points):
            return empty
        polys = self.compounds.geometry.to_numpy()
        ap_i, comp_i = shapely.STRtree(polys).query(fac_points, predicate="intersects")
        if not len(ap_i):
            return empty
        pairs = pd.DataFrame({"ap": ap_i, "c": comp_i}).merge(
            pd.DataFrame({"o": np.arange(len(origins.compound)), "c": origins.compound}), on="c"
        )
        o, a = pairs["o"].to_numpy(), pairs["ap"].to_numpy()
        return o, a, shapely.distance(origins.points[o], fac_points[a])


def _take_min(
    d: np.ndarray, ap: np.ndarray, idx: np.ndarray, value: np.ndarray, point: np.ndarray
) -> None:
    """``d[i] = min(d[i], value)`` over pairs (lowest access point on ties), ``ap`` alongside.
    Fills the caller's own fresh arrays."""
    if not len(idx):
        return
    order = np.lexsort((point, value, idx))
    idx, value, point = idx[order], value[order], point[order]
    first = np.ones(len(idx), dtype=bool)
    first[1:] = idx[1:] != idx[:-1]
    i, v, p = idx[first], value[first], point[first]
    better = v < d[i]
    d[i[better]], ap[i[better]] = v[better], p[better]


# ---- building ------------------------------------------------------------------------------


def _overlaps(polys: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of polygons sharing more than :data:`OVERLAP_SLACK` of the smaller one's area."""
    a, b = shapely.STRtree(polys).query(polys, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if not len(a):
        return []
    shared = shapely.area(shapely.intersection(polys[a], polys[b]))
    smaller = np.minimum(shapely.area(polys[a]), shapely.area(polys[b]))
    hit = shared > OVERLAP_SLACK * smaller
    return list(zip(a[hit].tolist(), b[hit].tolist(), strict=True))


def _refuse_overlaps(comp: gpd.GeoDataFrame, option: str) -> None:
    pairs = _overlaps(comp.geometry.to_numpy())
    if pairs:
        ids = comp["compound_id"].to_numpy()
        shown = ", ".join(f"{ids[a]} / {ids[b]}" for a, b in pairs[:20])
        raise InputError(
            f"{option}: {len(pairs)} pair(s) of compounds overlap ({shown}); a resident can be "
            "in one compound only: merge or redraw them so that they do not overlap"
        )


def _osm_compounds(comp: gpd.GeoDataFrame, net: Network) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """OSM compounds usable as gated ones: those no main road crosses, the smaller of two that
    overlap (a wall inside a residential area)."""
    polys = comp.geometry.to_numpy()
    main = net.edge_kept & np.isin(net.edge_highway.astype(str), list(MAIN_ROADS))
    crossed = np.zeros(len(comp), dtype=bool)
    if main.any() and len(comp):
        inner = shapely.buffer(polys, -5.0)  # a road along the edge does not cross it
        ci, _ = shapely.STRtree(net.edge_geom[main]).query(inner, predicate="intersects")
        crossed[np.unique(ci)] = True
    clash: dict[int, list[int]] = {}
    for a, b in _overlaps(polys):
        clash.setdefault(a, []).append(b)
        clash.setdefault(b, []).append(a)
    kept = np.zeros(len(comp), dtype=bool)
    overlapping = 0
    for i in np.argsort(shapely.area(polys), kind="stable"):  # the smaller first
        if crossed[i]:
            continue
        if any(kept[j] for j in clash.get(int(i), ())):
            overlapping += 1
            continue
        kept[i] = True
    counts = {
        "osm_compounds_crossed_by_main_road": int(crossed.sum()),
        "osm_compounds_overlapping_dropped": overlapping,
    }
    return comp[kept].reset_index(drop=True), counts


def _assign_gates(
    gates: gpd.GeoDataFrame, comp: gpd.GeoDataFrame, *, refuse: bool
) -> tuple[np.ndarray, list[str]]:
    """Each gate's compound row (-1 for none): the one it names, else the nearest boundary
    within :data:`GATE_TOLERANCE_M`; and the problems (gates of no compound)."""
    n = len(gates)
    rows = np.full(n, -1, dtype=np.int64)
    if not n or not len(comp):
        return rows, [f"{g}: no compound in the area" for g in gates["gate_id"]] if refuse else []
    bounds = shapely.boundary(comp.geometry.to_numpy())
    pts = gates.geometry.to_numpy()
    gi, ci = shapely.STRtree(bounds).query_nearest(
        pts, max_distance=GATE_TOLERANCE_M, all_matches=False
    )
    rows[gi] = ci
    named = gates["compound_id"].astype(str).to_numpy()
    index = {cid: i for i, cid in enumerate(comp["compound_id"].astype(str))}
    problems: list[str] = []
    for g in np.flatnonzero(named != ""):
        c = index.get(named[g], -1)
        if c < 0:
            problems.append(f"{gates['gate_id'].iloc[g]}: compound {named[g]!r} is not known")
            rows[g] = -1
            continue
        d = float(shapely.distance(pts[g], bounds[c]))
        rows[g] = c if d <= GATE_TOLERANCE_M else -1
        if d > GATE_TOLERANCE_M:
            problems.append(
                f"{gates['gate_id'].iloc[g]}: {d:.0f} m from the boundary of {named[g]!r}"
            )
    if refuse:
        unnamed = np.flatnonzero((named == "") & (rows < 0))
        problems += [
            f"{gates['gate_id'].iloc[g]}: not within {GATE_TOLERANCE_M:g} m of any compound's "
            "boundary"
            for g in unnamed
        ]
    return rows, problems if refuse else []


def _assumed_gates(comp: gpd.GeoDataFrame, rows: np.ndarray, net: Network) -> gpd.GeoDataFrame:
    """Gates where the walk network crosses or touches the boundary of each compound ``rows``
    names (points closer than :data:`ASSUMED_GATE_MERGE_M` merged)."""
    kept = np.flatnonzero(net.edge_kept)
    bounds = shapely.boundary(comp.geometry.to_numpy()[rows])
    bi, ei = shapely.STRtree(net.edge_geom[kept]).query(bounds, predicate="intersects")
    # the edges of each compound as one slice each (a stable sort keeps their order), not one
    # scan of every pair per compound
    by = np.argsort(bi, kind="stable")
    bi, ei = bi[by], ei[by]
    firsts = np.flatnonzero(np.r_[True, bi[1:] != bi[:-1]]) if len(bi) else bi
    ends = np.r_[firsts[1:], len(bi)] if len(bi) else bi
    out_c: list[int] = []
    out_p: list[Any] = []
    for b, i, j in zip(bi[firsts], firsts, ends, strict=True):
        hit = shapely.intersection(bounds[b], net.edge_geom[kept[ei[i:j]]])
        parts = shapely.get_parts(hit)
        # a way along the boundary: where it joins or leaves it
        xy = np.concatenate(
            [
                shapely.get_coordinates(p)[[0, -1]]
                if p.geom_type == "LineString"
                else shapely.get_coordinates(p)
                for p in parts
                if not p.is_empty
            ]
            or [np.zeros((0, 2))]
        )
        grid = np.round(xy / ASSUMED_GATE_MERGE_M)
        _, first = np.unique(grid, axis=0, return_index=True)
        for k in sorted(first):
            out_c.append(int(rows[b]))
            out_p.append(shapely.Point(xy[k]))
    return gpd.GeoDataFrame(
        {
            "gate_id": [f"assumed-{comp['compound_id'].iloc[c]}-{i}" for i, c in enumerate(out_c)],
            "compound": np.asarray(out_c, dtype=np.int64),
            "kind": ASSUMED,
            "source": "assumed:network_meets_boundary",
        },
        geometry=out_p,
        crs=comp.crs,
    )


def _enclosed(points: np.ndarray, comp: gpd.GeoDataFrame, gates: gpd.GeoDataFrame) -> Enclosed:
    """Which compound with a usable gate each point lies in, and its (point, gate) pairs."""
    member = np.full(len(points), -1, dtype=np.int64)
    usable = gates[gates["on_network"]]
    with_gate = np.zeros(len(comp), dtype=bool)
    with_gate[usable["compound"].to_numpy()] = True
    if len(points) and len(comp):
        pi, ci = shapely.STRtree(comp.geometry.to_numpy()).query(points, predicate="within")
        first = np.unique(pi, return_index=True)[1]  # compounds do not overlap; be safe
        member[pi[first]] = ci[first]
    inside = member >= 0
    ok = np.zeros(len(points), dtype=bool)
    ok[inside] = with_gate[member[inside]]
    compound = np.where(ok, member, -1)
    pairs = pd.DataFrame({"o": np.arange(len(points)), "c": compound}).merge(
        pd.DataFrame({"g": usable.index.to_numpy(), "c": usable["compound"].to_numpy()}), on="c"
    )
    o, g = pairs["o"].to_numpy(np.int64), pairs["g"].to_numpy(np.int64)
    gpts = gates.geometry.to_numpy()
    return Enclosed(
        compound=compound,
        gateless=inside & ~ok,
        pair_origin=o,
        pair_gate=g,
        pair_m=shapely.distance(points[o], gpts[g]) if len(o) else np.zeros(0),
        points=points,
    )


@dataclass(frozen=True)
class GateInputs:
    """What :func:`build_gates` is given: compounds and gates in WGS 84, and where they came
    from (``osm`` or ``file``), for the checks (a user's file is refused, OSM is filtered)."""

    compounds: gpd.GeoDataFrame
    gates: gpd.GeoDataFrame
    compounds_from: str
    gates_from: str


def _known_gates(
    inp: GateInputs, comp: gpd.GeoDataFrame, area: StudyArea
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The given gates near the area, each with its compound; a user's gate of no compound is
    refused, an OSM one left out (counted). A user's file none of whose gates lies near the
    area is refused (a city-wide file for one district is fine)."""
    gates = inp.gates.to_crs(area.crs)
    near = gates.intersects(area.buffer_m).to_numpy()
    user = inp.gates_from == "file"
    if user and len(gates) and not near.any():
        raise InputError(
            f"--gates: none of its {len(gates)} gate(s) lies in the area or within the walking "
            "reach around it; check that the file covers this place and its coordinates "
            "(--gates-crs, e.g. gcj02 for Amap)"
        )
    gates = gates[near].reset_index(drop=True)
    rows, problems = _assign_gates(gates, comp, refuse=user)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:30])
        raise InputError(
            f"--gates: {len(problems)} gate(s) belong to no compound\n{shown}\n"
            f"A gate must lie within {GATE_TOLERANCE_M:g} m of its compound's boundary: fix "
            "the points (and --gates-crs, e.g. gcj02 for Amap), give the compounds with "
            "--compounds, or remove these gates"
        )
    known = gates[rows >= 0].assign(compound=rows[rows >= 0], kind=KNOWN)
    counts = {"osm_gates_of_no_compound": int((rows < 0).sum())} if not user else {}
    counts["gates_beyond_area"] = int((~near).sum())
    return known[["gate_id", "compound", "kind", "source", "geometry"]], counts


def build_gates(
    inp: GateInputs,
    net: Network,
    area: StudyArea,
    settings: Settings,
    *,
    residents: np.ndarray,
    buildings: np.ndarray,
) -> Gates:
    """Compounds and gates of the area, with the residents and buildings they enclose.

    Parameters
    ----------
    inp
        The compounds and gates read (WGS 84) and where from.
    net, area, settings
        The walk network, the study area and the run's settings (``max_snap_m`` snaps gates).
    residents, buildings
        Resident points and building points (shapely, ``area.crs``).

    Raises
    ------
    InputError
        When compounds of the user's file overlap, or a gate of the user's file is far from
        every compound (or from the one it names).
    """
    comp = inp.compounds.to_crs(area.crs)
    comp["geometry"] = shapely.make_valid(comp.geometry.to_numpy())  # drawn by hand, or clipped
    comp = comp[comp.intersects(area.area_m).to_numpy()].reset_index(drop=True)
    counts: dict[str, Any] = {"compounds_from": inp.compounds_from, "gates_from": inp.gates_from}
    if inp.compounds_from == "file":
        _refuse_overlaps(comp, "--compounds")
    else:
        comp, dropped = _osm_compounds(comp, net)
        counts |= dropped
    known, kcounts = _known_gates(inp, comp, area)
    counts |= kcounts
    has_known = np.zeros(len(comp), dtype=bool)
    has_known[known["compound"].to_numpy()] = True
    assumed = _assumed_gates(comp, np.flatnonzero(~has_known), net)
    gates = gpd.GeoDataFrame(
        pd.concat([known, assumed], ignore_index=True), geometry="geometry", crs=area.crs
    )
    snap = snap_points(gates.geometry.to_numpy(), net, max_snap_m=settings.max_snap_m)
    gates["on_network"] = snap.on_network
    usable = np.zeros(len(comp), dtype=bool)
    usable[gates.loc[gates["on_network"], "compound"].to_numpy()] = True
    comp["gates"] = np.where(~usable, "none", np.where(has_known, KNOWN, ASSUMED))
    counts |= {
        "compounds": len(comp),
        "compounds_with_known_gates": int((comp["gates"] == KNOWN).sum()),
        "compounds_with_assumed_gates": int((comp["gates"] == ASSUMED).sum()),
        "compounds_without_gate": int((comp["gates"] == "none").sum()),
        "gates_known": len(known),
        "gates_assumed": len(assumed),
        "gates_off_network": int((~snap.on_network).sum()),
    }
    built = Gates(
        compounds=comp,
        gates=gates,
        snap=snap,
        residents=_enclosed(residents, comp, gates),
        buildings=_enclosed(buildings, comp, gates),
        counts=counts,
    )
    log.info(
        "compound gates: %d compounds (%d with known gates, %d assumed, %d without), "
        "%d resident points inside",
        len(comp),
        counts["compounds_with_known_gates"],
        counts["compounds_with_assumed_gates"],
        counts["compounds_without_gate"],
        int((built.residents.compound >= 0).sum()),
    )
    return built


def open_gates(
    gates: Gates, new: gpd.GeoDataFrame, net: Network, crs: Any, settings: Settings
) -> Gates:
    """``gates`` with the gates ``new`` (WGS 84, the columns of a ``--gates`` file) opened: each
    joins the gates its compound has, known or assumed, which all stay, so that no walk gets
    longer.

    Raises
    ------
    InputError
        When a new gate lies farther than :data:`GATE_TOLERANCE_M` from every compound's
        boundary (or from the one it names), or its id is already a gate's.
    """
    added = new.to_crs(crs).reset_index(drop=True)
    again = sorted(set(added["gate_id"].astype(str)) & set(gates.gates["gate_id"].astype(str)))
    if again:
        raise InputError(
            f"--add-gate: gate id(s) already among the gates: {', '.join(again[:20])}; give "
            "each new gate an id of its own"
        )
    rows, problems = _assign_gates(added, gates.compounds, refuse=True)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:30])
        raise InputError(
            f"--add-gate: {len(problems)} gate(s) belong to no compound of the analysis\n{shown}"
            f"\nA gate must lie within {GATE_TOLERANCE_M:g} m of its compound's boundary: fix "
            "the points (and --gates-crs, e.g. gcj02 for Amap) or remove these gates"
        )
    snap = snap_points(added.geometry.to_numpy(), net, max_snap_m=settings.max_snap_m)
    extra = added.assign(compound=rows, kind=KNOWN, source="scenario", on_network=snap.on_network)
    cols = ["gate_id", "compound", "kind", "source", "on_network", "geometry"]
    table = gpd.GeoDataFrame(
        pd.concat([gates.gates[cols], extra[cols]], ignore_index=True), geometry="geometry", crs=crs
    )
    comp = gates.compounds.copy()
    opened = np.unique(rows[snap.on_network])
    comp.loc[opened[comp["gates"].to_numpy()[opened] == "none"], "gates"] = KNOWN
    both = concat([gates.snap, snap])
    counts = dict(gates.counts)
    counts["gates_opened_in_scenario"] = counts.get("gates_opened_in_scenario", 0) + len(added)
    counts["compounds_without_gate"] = int((comp["gates"] == "none").sum())
    counts["compounds_with_known_gates"] = int((comp["gates"] == KNOWN).sum())
    counts["compounds_with_assumed_gates"] = int((comp["gates"] == ASSUMED).sum())
    return Gates(
        compounds=comp,
        gates=table,
        snap=both,
        residents=_enclosed(gates.residents.points, comp, table),
        buildings=_enclosed(gates.buildings.points, comp, table),
        counts=counts,
    )
