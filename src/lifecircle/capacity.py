"""Is it big enough? Supply per 1,000 people of a category's target group by the two-step
floating catchment area method (2SFCA), beside coverage and never mixed into it.

A facility's *catchment* is every resident within the category's threshold, walking at the
speed of the profile that judges the category (its ``judge_with`` profile, else the headline
one). Step 1 divides each facility's capacity (seats, beds, places) by the target group living
in its catchment; step 2 gives each resident the sum of those ratios over the facilities whose
catchment holds them. A community's figure is the population-weighted mean over its residents,
per 1,000 people of the target group.

The residents' distances to *each* facility are needed, not only to the nearest: one
length-limited search per facility (all of them in one CSR graph with a virtual source node per
facility) gives a sparse table of (resident, facility, metres) pairs within the threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from lifecircle._ragged import index_by, slices
from lifecircle.headline import AREA_SAMPLES
from lifecircle.network import Network
from lifecircle.notes import note
from lifecircle.snapping import Snapped

if TYPE_CHECKING:
    from lifecircle.config import Preset
    from lifecircle.study import Study

log = logging.getLogger(__name__)

#: categories whose target group is not everyone: the elderly (60+) and children
TARGET_GROUPS = {"canteen": "elderly", "elder_care": "elderly", "kindergarten": "children"}
PER = 1000.0  # supply per this many people of the target group
CHUNK_CELLS = 4_000_000  # searches run in batches of at most this many distances (32 MB)

CAPACITY_COLUMNS = [
    "community_id",
    "community_name",
    "category",
    "profile",
    "minutes",
    "limit_m",
    "target_group",
    "target_basis",
    "target_population",
    "supply_per_1000",
    "facilities_with_capacity",
    "facilities_without_capacity",
]


@dataclass(frozen=True)
class Catchment:
    """Who lies within a category's threshold of each of its facilities.

    Attributes
    ----------
    category, profile
        The category and the walking profile that judges it.
    limit_m
        The threshold as a walking distance at that profile's speed.
    facility_ids
        The category's facilities, in the order of the study's facility table.
    resident, facility, dist_m
        One entry per (resident point, facility) pair within ``limit_m``: the resident's row,
        the facility's position in ``facility_ids`` and the walk in metres (legs included).
    """

    category: str
    profile: str
    limit_m: float
    facility_ids: np.ndarray
    resident: np.ndarray
    facility: np.ndarray
    dist_m: np.ndarray


def judging(preset: Preset, category: str) -> tuple[str, float, float]:
    """The profile that judges ``category``, its threshold as metres at that profile's speed,
    and as minutes."""
    profile = preset.judge_with.get(category, preset.headline_profile)
    speed = preset.speeds_m_s[profile]
    limit = preset.threshold(category).limit_m(speed)
    return profile, limit, limit / speed / 60.0


# ---- the sparse search ----------------------------------------------------------------------


def _gather(order: np.ndarray, ptr: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Every position whose key is one of ``keys`` (an index of :func:`index_by`)."""
    return order[slices(ptr, keys)]


def _search_graph(
    net: Network, fac: np.ndarray, snap: Snapped, n_fac: int
) -> tuple[sp.csr_matrix, int]:
    """The walk graph plus one virtual node per facility (``n + k``), joined to both ends of
    each of the facility's access-point edges with the walk from the facility to that end."""
    n = net.n_nodes
    on = np.flatnonzero(snap.on_network)
    e = snap.edge[on]
    seeds = pd.DataFrame(
        {
            "fac": np.concatenate([fac[on], fac[on]]),
            "node": np.concatenate([net.edge_u[e], net.edge_v[e]]),
            "w": np.concatenate(
                [
                    snap.leg_m[on] + net.walk_m(e, np.zeros(len(e)), snap.offset_m[on]),
                    snap.leg_m[on] + net.walk_m(e, net.edge_len[e], snap.offset_m[on]),
                ]
            ),
        }
    )
    seeds = seeds.groupby(["fac", "node"], sort=True)["w"].min().reset_index()
    base = net.csr()
    per_fac = np.bincount(seeds["fac"].to_numpy(), minlength=n_fac)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(per_fac)])
    indices = np.concatenate([base.indices, seeds["node"].to_numpy().astype(base.indices.dtype)])
    data = np.concatenate([base.data, seeds["w"].to_numpy()])
    size = n + n_fac
    return sp.csr_matrix((data, indices, indptr), shape=(size, size)), n


def catchment_pairs(
    net: Network,
    fac: np.ndarray,
    fac_snap: Snapped,
    origins: Snapped,
    *,
    n_facilities: int,
    limit_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (origin, facility) pair within ``limit_m`` of walking, legs included.

    Parameters
    ----------
    net
        The walk graph.
    fac
        Per access point, its facility (0 .. ``n_facilities`` - 1); a polygon facility has many.
    fac_snap
        Where each access point meets the network.
    origins
        Resident points, snapped.
    n_facilities
        How many facilities there are.
    limit_m
        The longest walk kept.

    Returns
    -------
    tuple of numpy.ndarray
        Origin index, facility index and metres, one entry per pair (sorted by facility, then
        origin).
    """
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    on_o = np.flatnonzero(origins.on_network)
    if not n_facilities or not len(on_o) or not fac_snap.on_network.any():
        return empty
    graph, n = _search_graph(net, fac, fac_snap, n_facilities)
    o_edge, o_off, o_leg = origins.edge[on_o], origins.offset_m[on_o], origins.leg_m[on_o]
    ou, ov = net.edge_u[o_edge], net.edge_v[o_edge]
    by_node = index_by(np.concatenate([ou, ov]), n)
    by_edge = index_by(o_edge, net.n_edges)
    fon = np.flatnonzero(fac_snap.on_network)
    out_o, out_f, out_d = [], [], []
    chunk = max(1, min(n_facilities, CHUNK_CELLS // graph.shape[0]))
    for lo in range(0, n_facilities, chunk):
        ks = np.arange(lo, min(lo + chunk, n_facilities))
        dist = np.atleast_2d(dijkstra(graph, directed=True, indices=n + ks, limit=limit_m))[:, :n]
        for row, k in enumerate(ks):
            d = dist[row]
            reached = np.flatnonzero(d <= limit_m)
            cand = np.unique(_gather(*by_node, reached) % len(on_o))
            ce = o_edge[cand]
            best = np.minimum(
                net.walk_m(ce, o_off[cand], np.zeros(len(cand))) + d[ou[cand]],
                net.walk_m(ce, o_off[cand], net.edge_len[ce]) + d[ov[cand]],
            )
            # the direct way along an edge the facility and the resident share
            pts = fon[fac[fon] == k]
            if len(pts):
                same = _gather(*by_edge, fac_snap.edge[pts])
                if len(same):
                    cand, best = _direct(net, cand, best, same, pts, o_edge, o_off, fac_snap)
            total = best + o_leg[cand]
            keep = total <= limit_m
            out_o.append(on_o[cand[keep]])
            out_f.append(np.full(int(keep.sum()), k, dtype=np.int64))
            out_d.append(total[keep])
    return np.concatenate(out_o), np.concatenate(out_f), np.concatenate(out_d)


def _direct(
    net: Network,
    cand: np.ndarray,
    best: np.ndarray,
    same: np.ndarray,
    pts: np.ndarray,
    o_edge: np.ndarray,
    o_off: np.ndarray,
    fac_snap: Snapped,
) -> tuple[np.ndarray, np.ndarray]:
    """``best`` improved by the walk along a shared edge, for the residents ``same`` that share
    an edge with one of the access points ``pts``."""
    pairs = pd.DataFrame({"o": same, "edge": o_edge[same], "s": o_off[same]}).merge(
        pd.DataFrame(
            {"edge": fac_snap.edge[pts], "t": fac_snap.offset_m[pts], "leg": fac_snap.leg_m[pts]}
        ),
        on="edge",
    )
    pairs["d"] = (
        net.walk_m(pairs["edge"].to_numpy(), pairs["s"].to_numpy(), pairs["t"].to_numpy())
        + pairs["leg"].to_numpy()
    )
    direct = pairs.groupby("o")["d"].min()
    merged = pd.Series(best, index=cand).combine(direct, min, fill_value=np.inf)
    return merged.index.to_numpy(dtype=np.int64), merged.to_numpy(dtype=float)


def build_catchment(study: Study, category: str) -> Catchment:
    """The catchment of every facility of ``category`` in ``study`` (see :class:`Catchment`)."""
    acc = study.access[category]
    table = study.facilities.table
    rows = np.flatnonzero(table["category"].to_numpy() == category)
    pos = np.full(len(table), -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    profile, limit, _ = judging(study.settings.preset, category)
    res, fac, dist = catchment_pairs(
        study.network,
        pos[acc.rows],
        acc.snap,
        study.residents.snap,
        n_facilities=len(rows),
        limit_m=limit,
    )
    log.info("%s: %d resident-facility pairs within %.0f m", category, len(res), limit)
    return Catchment(
        category=category,
        profile=profile,
        limit_m=limit,
        facility_ids=table["facility_id"].to_numpy(dtype=object)[rows],
        resident=res,
        facility=fac,
        dist_m=dist,
    )


# ---- two steps ------------------------------------------------------------------------------


def two_step_fca(
    supply: np.ndarray, demand: np.ndarray, resident: np.ndarray, facility: np.ndarray
) -> np.ndarray:
    """Per resident point, the 2SFCA supply per person of demand.

    Parameters
    ----------
    supply
        Per facility, its capacity (NaN: unknown; such a facility is left out of both steps).
    demand
        Per resident point, the people of the target group it stands for.
    resident, facility
        The catchment pairs (resident index, facility index) within the threshold.

    Returns
    -------
    numpy.ndarray
        Per resident point, the sum over the facilities whose catchment holds it of capacity ÷
        the demand in that catchment (0 where none is in reach).
    """
    known = np.isfinite(supply[facility]) if len(facility) else np.zeros(0, dtype=bool)
    r, f = resident[known], facility[known]
    in_reach = np.bincount(f, weights=demand[r], minlength=len(supply))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(in_reach > 0, np.nan_to_num(supply) / in_reach, 0.0)
    return np.bincount(r, weights=ratio[f], minlength=len(demand))


def target_shares(
    category: str, communities: np.ndarray, age_share: pd.Series | None
) -> tuple[str, str, np.ndarray]:
    """The target group of ``category``, how it is counted, and per resident point the share of
    its residents that belong to it.

    The elderly are counted by the 60+ share (``--age-share``) when given; the whole population
    stands in when it is not, and for children (no share of children is read).
    """
    group = TARGET_GROUPS.get(category, "everyone")
    if group == "elderly" and age_share is not None:
        known = age_share.dropna()
        fill = float(known.mean()) if len(known) else 1.0  # residents outside every community
        share = pd.Series(communities).map(known).fillna(fill).to_numpy(dtype=float)
        return group, "age_share", share
    basis = "everyone" if group == "everyone" else "whole_population_share_unknown"
    return group, basis, np.ones(len(communities))


def capacity_rows(
    catch: Catchment,
    capacity: np.ndarray,
    residents: pd.DataFrame,
    communities: pd.DataFrame,
    age_share: pd.Series | None,
    minutes: float,
) -> pd.DataFrame:
    """The ``capacity.csv`` rows of one category: per community and for the whole area."""
    comm_of = residents["community_id"].astype(str).to_numpy()
    group, basis, share = target_shares(catch.category, comm_of, age_share)
    demand = residents["weight"].to_numpy(dtype=float) * share
    access = two_step_fca(capacity, demand, catch.resident, catch.facility)
    ids = communities["community_id"].astype(str).to_numpy()
    code = pd.Categorical(comm_of, categories=ids).codes
    inside = code >= 0
    target = np.bincount(code[inside], weights=demand[inside], minlength=len(ids))
    supplied = np.bincount(code[inside], weights=(demand * access)[inside], minlength=len(ids))
    known = np.isfinite(capacity)
    pairs = pd.DataFrame(
        {"c": code[catch.resident], "f": catch.facility, "known": known[catch.facility]}
    )
    pairs = pairs[pairs["c"] >= 0].drop_duplicates(["c", "f"])
    n_with = np.bincount(pairs.loc[pairs["known"], "c"], minlength=len(ids))
    n_without = np.bincount(pairs.loc[~pairs["known"], "c"], minlength=len(ids))
    n_reaching = pairs.drop_duplicates("f")
    area = {
        "community_id": "*",
        "community_name": "(area total)",
        "target_population": target.sum(),
        "supplied": supplied.sum(),
        "facilities_with_capacity": int(n_reaching["known"].sum()),
        "facilities_without_capacity": int((~n_reaching["known"]).sum()),
    }
    df = pd.DataFrame(
        {
            "community_id": ids,
            "community_name": communities["community_name"].astype(str).to_numpy(),
            "target_population": target,
            "supplied": supplied,
            "facilities_with_capacity": n_with,
            "facilities_without_capacity": n_without,
        }
    )
    df = pd.concat([df, pd.DataFrame([area])], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["supply_per_1000"] = np.where(
            df["target_population"] > 0, PER * df["supplied"] / df["target_population"], np.nan
        )
    df["target_population"] = df["target_population"].round(2)
    df["supply_per_1000"] = df["supply_per_1000"].round(3)
    df["category"] = catch.category
    df["profile"] = catch.profile
    df["minutes"] = minutes
    df["limit_m"] = round(catch.limit_m, 3)  # 990.0, not 990.0000000000001 (15 min × 1.1 m/s)
    df["target_group"] = group
    df["target_basis"] = basis
    return df[CAPACITY_COLUMNS]


def capacity_tables(
    study: Study, residents: pd.DataFrame, age_share: pd.Series | None
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The ``capacity.csv`` table, its part of ``summary.json`` and its notes.

    Only categories where at least one facility has a capacity are measured; in those, the
    facilities without one are counted, listed and left out (neither zero nor infinite).
    """
    table = study.facilities.table
    cap_col = (
        pd.to_numeric(table["capacity"], errors="coerce").to_numpy(dtype=float)
        if "capacity" in table.columns
        else np.full(len(table), np.nan)
    )
    frames: list[pd.DataFrame] = []
    summary: dict[str, Any] = {}
    notes: list[str] = []
    cats = table["category"].to_numpy() if len(table) else np.zeros(0, dtype=object)
    for cat in study.categories:
        capacity = cap_col[cats == cat]
        if not np.isfinite(capacity).any():
            continue
        catch = study.catchment(cat)
        _, _, minutes = judging(study.settings.preset, cat)
        frame = capacity_rows(
            catch, capacity, residents, study.area.communities, age_share, minutes
        )
        frames.append(frame)
        missing = catch.facility_ids[~np.isfinite(capacity)].tolist()
        group, basis = frame["target_group"].iloc[0], frame["target_basis"].iloc[0]
        summary[cat] = {
            "profile": catch.profile,
            "minutes": minutes,
            "limit_m": round(catch.limit_m, 3),
            "target_group": group,
            "target_basis": basis,
            "facilities_with_capacity": int(np.isfinite(capacity).sum()),
            "facilities_without_capacity": len(missing),
            "without_capacity_ids": missing,
            "total_capacity": float(np.nansum(capacity)),
            "supply_per_1000_area": _float(frame["supply_per_1000"].iloc[-1]),
        }
        if missing:
            notes.append(note("capacity_missing", category=cat, count=len(missing)))
        if basis == "whole_population_share_unknown":
            notes.append(note(f"capacity_{group}_unknown", category=cat))
    if frames and study.residents.denominator == AREA_SAMPLES:
        notes.append(note("capacity_area_samples"))
    empty = pd.DataFrame(columns=CAPACITY_COLUMNS)
    out = pd.concat(frames, ignore_index=True) if frames else empty
    return out, summary, notes


def _float(v: object) -> float | None:
    f = float(v)  # type: ignore[arg-type]
    return f if np.isfinite(f) else None
