"""One category's distance field after facilities are added and removed, without routing the
category again: the searches touch only the nodes within reach of the change.

The field of a full route (:func:`lifecircle.routing.facility_field`) gives, per node, the
shortest walk to any access point of the category. Distances are float sums along paths, and a
float sum never shrinks when a step is added, so the distance of a node is the smallest such sum
over all paths to it, whatever order the search took. That makes two edits exact:

- **adding** facilities: one search from each added facility, stopped at ``limit_m``; a node's
  distance is the smaller of the old one and the new ones;
- **removing** facilities: only the nodes whose nearest facility was removed change. Their new
  nearest walk enters that region from a node next to it (whose distance is unchanged, reached
  from the facility that was nearest to it) or starts at a facility inside it; one search from
  those facilities only, stopped at ``limit_m``, gives their distances.

Distances up to ``limit_m`` are those of a full route; beyond it a node keeps a distance at least
as long as the true one (or none). Which facility is nearest is the full route's too, except
where an added facility and another lie at exactly the same distance of a node: a full route
breaks that tie by the order its search visited the nodes, so the category is then routed again
in full (as it is when more than :data:`MAX_SEPARATE_ADDS` facilities are added to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lifecircle._ragged import slices
from lifecircle.network import Network
from lifecircle.placement import take
from lifecircle.routing import Field, facility_field
from lifecircle.snapping import Snapped

#: more facilities than this added to one category: route the category in full (one search per
#: added facility is needed to see ties between them)
MAX_SEPARATE_ADDS = 16


def concat(parts: Sequence[Snapped]) -> Snapped:
    """Snapped points one after the other."""
    return Snapped(
        edge=np.concatenate([p.edge for p in parts]).astype(np.int64),
        offset_m=np.concatenate([p.offset_m for p in parts]).astype(float),
        leg_m=np.concatenate([p.leg_m for p in parts]).astype(float),
        near_dropped=np.concatenate([p.near_dropped for p in parts]).astype(bool),
    )


@dataclass(frozen=True)
class EditedField:
    """A category's field after an edit.

    Attributes
    ----------
    field
        Per node: metres to the nearest access point of the edited category (exact up to the
        edit's ``limit_m``) and which one (numbered as the edited category's access points).
    changed
        The nodes whose distance or nearest facility may differ from the old field.
    full
        Whether the category was routed again in full (then every node may have changed).
    """

    field: Field
    changed: np.ndarray
    full: bool


def _neighbours(net: Network, nodes: np.ndarray) -> np.ndarray:
    """Every node joined by a kept edge to one of ``nodes`` (with repeats)."""
    g = net.csr()
    if not len(nodes):
        return nodes
    return g.indices[slices(g.indptr, nodes)].astype(np.int64)


def _seed_nodes(net: Network, snap: Snapped) -> tuple[np.ndarray, np.ndarray]:
    """Per access point on the network, the two ends of its edge (-1 for points off it)."""
    e = snap.edge
    on = e >= 0
    u = np.where(on, net.edge_u[np.maximum(e, 0)], -1)
    v = np.where(on, net.edge_v[np.maximum(e, 0)], -1)
    return u, v


def _after_removal(
    net: Network, old: Field, renumber: np.ndarray, snap: Snapped, *, limit_m: float
) -> tuple[Field, np.ndarray]:
    """The field without the removed access points (``renumber`` is -1 for them, else their
    new number); and the nodes whose nearest access point was removed."""
    if not len(renumber):  # the category had no facility
        return old, np.zeros(0, dtype=np.int64)
    fac = np.where(old.node_fac >= 0, renumber[np.maximum(old.node_fac, 0)], -1)
    lost = (old.node_fac >= 0) & (fac < 0)
    if not lost.any():
        return Field(old.node_m, fac), np.flatnonzero(lost)
    region = np.flatnonzero(lost)
    near = np.unique(_neighbours(net, region))
    edge_nodes = near[~lost[near] & (old.node_m[near] <= limit_m)]
    owners = fac[edge_nodes]
    kept = np.sort(renumber[renumber >= 0])  # not the added ones (they are searched apart)
    u, v = _seed_nodes(net, take(snap, kept))
    inside = kept[((u >= 0) & lost[np.maximum(u, 0)]) | ((v >= 0) & lost[np.maximum(v, 0)])]
    sources = np.unique(np.concatenate([owners[owners >= 0], inside]))
    node_m = old.node_m.copy()
    if len(sources):
        sub = facility_field(net, take(snap, sources), limit_m=limit_m)
        node_m[region] = sub.node_m[region]
        got = sub.node_fac[region]
        fac[region] = np.where(got >= 0, sources[np.maximum(got, 0)], -1)
    else:
        node_m[region] = np.inf
        fac[region] = -1
    return Field(node_m, fac), region


def edit_field(
    net: Network,
    old: Field,
    renumber: np.ndarray,
    snap: Snapped,
    added: Sequence[np.ndarray],
    *,
    limit_m: float,
    full_limit_m: float,
) -> EditedField:
    """The field of a category after removing and adding access points.

    Parameters
    ----------
    net
        The walk graph.
    old
        The category's field before the edit (a full route, searched to ``full_limit_m``).
    renumber
        Per old access point, its number among the edited category's, or -1 if removed.
    snap
        The edited category's access points, in the order a full analysis would list them.
    added
        Per added facility, the numbers of its access points in ``snap``.
    limit_m
        Distances up to this must be exact (the farthest any coverage figure judges).
    full_limit_m
        How far a full route of the category searches (when one is needed).
    """
    rest, region = _after_removal(net, old, renumber, snap, limit_m=limit_m)
    if not added:
        return EditedField(rest, region, full=False)
    if len(added) > MAX_SEPARATE_ADDS:
        return _full(net, snap, full_limit_m)
    fields = [facility_field(net, take(snap, aps), limit_m=limit_m) for aps in added]
    best = np.minimum.reduce([rest.node_m, *(f.node_m for f in fields)])
    judged = np.isfinite(best) & (best <= limit_m)
    holders = (rest.node_m == best).astype(np.int64)
    for f in fields:
        holders += f.node_m == best
    if (holders[judged] > 1).any():  # a tie with an added facility: as a full route breaks it
        return _full(net, snap, full_limit_m)
    node_m, node_fac = rest.node_m.copy(), rest.node_fac.copy()
    for aps, f in zip(added, fields, strict=True):
        won = f.node_m == best
        won &= f.node_m < rest.node_m
        node_m[won] = f.node_m[won]
        node_fac[won] = aps[f.node_fac[won]]
    gained = np.flatnonzero(best < rest.node_m)
    changed = np.union1d(region, gained)
    return EditedField(Field(node_m, node_fac), changed, full=False)


def _full(net: Network, snap: Snapped, full_limit_m: float) -> EditedField:
    field = facility_field(net, snap, limit_m=full_limit_m)
    return EditedField(field, np.arange(net.n_nodes), full=True)
