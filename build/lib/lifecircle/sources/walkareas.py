"""Pedestrian areas (squares, station concourses) as walkable surfaces.

OpenStreetMap draws a square as a polygon (``highway=pedestrian`` + ``area=yes``, a multipolygon
relation, or ``area:highway=pedestrian``) that the walkable ways touch at its edge or enter. A walk
filter for lines (osmnx's) drops the polygon, so a square is a hole that people walk around.

The model here is the visibility graph of the area (the approach of cityseer and GOAT): its points
are the nodes of walkable ways that lie on or inside the area ("access points", within
:data:`TOUCH_M`) and the reflex corners of its rings (the only corners a shortest path inside a
polygon can bend at: inward corners of the outline and the corners of its holes). Every two points
that see each other, i.e. whose straight segment stays inside the area, may be joined by a
straight link. Shortest paths on all these links are the true shortest walks across the area,
also around the inside corner of an L-shaped square or around a hole (a fountain, a building in a
concourse); nobody is routed through the outside of a concave area. A square touched by 60 nodes
has up to 1,770 such links, mostly redundant (points along one side see each other in a line), so
the links are thinned to a greedy spanner: shortest first, a link is kept only when the links
kept so far do not already join its ends within :data:`STRETCH` times its length. Every walk
across an area is then at most 1 % longer than its straight-line shortest walk inside it, and a
link between two points with nothing else in between is always kept. Link lengths are the
straight distances in the network's metric CRS, measured later with every other edge.

An area that touches fewer than two walkable nodes joins nothing and is counted as unjoined. An
area with more than :data:`MAX_POINTS` points keeps its access points only (its links then cut
no corner, but may miss a path that bends at a reflex corner) and is counted as simplified.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

if TYPE_CHECKING:
    from lifecircle.sources.osm import WalkWay

log = logging.getLogger(__name__)

TOUCH_M = 0.5  #: a node of a walkable way this close to an area touches it (metres)
SEE_M = 0.01  #: a link may leave the area by this much (rounding of the coordinates, metres)
STRETCH = 1.01  #: walks across an area on the links kept are at most 1 % longer than on all
MAX_POINTS = 400  #: above this many points an area keeps its access points only
M_PER_DEG = 111_320.0  # metres per degree of latitude (a local frame for the geometry tests)

#: the counts :func:`join_walk_areas` reports (summary.json → network.osm)
AREA_COUNTS = (
    "pedestrian_areas",
    "pedestrian_areas_joined",
    "pedestrian_areas_unjoined",
    "pedestrian_areas_simplified",
    "pedestrian_area_links",
)


class WalkArea(NamedTuple):
    """A walkable area as the joining needs it."""

    way_id: int  # given to its links: the area's way id, or minus its relation id
    name: str
    geometry: BaseGeometry  # WGS 84
    level: int = 0  # see :func:`level`


def level(tags: dict[str, str]) -> int:
    """The vertical level of a way or area: its ``layer`` when that is a whole number, else -1
    in a tunnel, 1 on a bridge, 0 on the ground. A way meets an area only at the same level (a
    tunnel under a square is not an entrance to it)."""
    layer = tags.get("layer", "").strip()
    if layer.lstrip("+-").isdigit():
        return int(layer)
    if tags.get("tunnel", "no") not in ("no", "building_passage"):
        return -1
    if tags.get("bridge", "no") != "no":
        return 1
    return 0


def join_walk_areas(
    ways: list[WalkWay], areas: list[WalkArea], *, way_levels: dict[int, int] | None = None
) -> tuple[list[WalkWay], dict[str, int]]:
    """Straight links across pedestrian areas between the walkable ways that touch them.

    Parameters
    ----------
    ways
        The walkable ways (WGS 84); not changed.
    areas
        The walkable areas, in WGS 84. The links carry the area's way id and name.
    way_levels
        The level (:func:`level`) of each way not on the ground, by way id; the nodes of a way
        join only the areas of its level.

    Returns
    -------
    links, counts
        Two-node ways (``highway="pedestrian_area"``) to add to ``ways``, whose ends are the
        ways' own node ids or new negative ids for the areas' corners; and counts of areas
        found, joined, unjoined and simplified and of links added.
    """
    counts = dict.fromkeys(AREA_COUNTS, 0)
    counts["pedestrian_areas"] = len(areas)
    if not areas or not ways:
        counts["pedestrian_areas_unjoined"] = len(areas)
        return [], counts
    all_ids = np.concatenate([w.node_ids for w in ways])
    all_ll = np.concatenate([w.lonlat for w in ways])
    levels = way_levels or {}
    node_level = np.repeat([levels.get(w.way_id, 0) for w in ways], [len(w.node_ids) for w in ways])
    next_id = min(int(all_ids.min()), 0) - 1
    links: list[WalkWay] = []
    for lv in sorted({a.level for a in areas}):
        mine = [a for a in areas if a.level == lv]
        at = node_level == lv
        ids, first = np.unique(all_ids[at], return_index=True)
        lonlat = all_ll[at][first]
        tree = shapely.STRtree([shapely.buffer(a.geometry, TOUCH_M / M_PER_DEG) for a in mine])
        node_i, area_i = tree.query(shapely.points(lonlat), predicate="intersects")
        order = np.argsort(area_i, kind="stable")
        bounds = np.searchsorted(area_i[order], np.arange(len(mine) + 1))
        for k, area in enumerate(mine):
            sel = node_i[order[bounds[k] : bounds[k + 1]]]
            made: list[WalkWay] = []
            for part in shapely.get_parts(area.geometry):
                if part.geom_type != "Polygon" or part.is_empty:
                    continue
                new, next_id, simplified = _part_links(
                    part, ids[sel], lonlat[sel], way_id=area.way_id, name=area.name, next_id=next_id
                )
                made += new
                counts["pedestrian_areas_simplified"] += simplified
            counts["pedestrian_areas_joined" if made else "pedestrian_areas_unjoined"] += 1
            links += made
    counts["pedestrian_area_links"] = len(links)
    log.info(
        "pedestrian areas: %d found, %d joined by %d straight links, %d touched by fewer than "
        "two walkable nodes",
        len(areas),
        counts["pedestrian_areas_joined"],
        len(links),
        counts["pedestrian_areas_unjoined"],
    )
    return links, counts


class _Frame:
    """A local metric frame (equirectangular about a point): straight lines stay straight."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.origin = np.array([lon0, lat0])
        self.scale = np.array([M_PER_DEG * np.cos(np.radians(lat0)), M_PER_DEG])

    def to_m(self, ll: np.ndarray) -> np.ndarray:
        return (np.asarray(ll, dtype=float) - self.origin) * self.scale

    def to_ll(self, xy: np.ndarray) -> np.ndarray:
        return np.asarray(xy, dtype=float) / self.scale + self.origin


def reflex_corners(poly: BaseGeometry) -> np.ndarray:
    """The corners of a polygon's rings where the walkable inside turns more than half a turn:
    inward corners of the outline and outward corners of its holes (``(k, 2)``)."""
    poly = orient(poly, 1.0)  # outline counter-clockwise, holes clockwise: inside on the left
    out = []
    for ring in [poly.exterior, *poly.interiors]:
        c = np.asarray(ring.coords)[:-1]
        if len(c) < 3:
            continue
        d_in = c - np.roll(c, 1, axis=0)
        d_out = np.roll(c, -1, axis=0) - c
        cross = d_in[:, 0] * d_out[:, 1] - d_in[:, 1] * d_out[:, 0]
        scale = np.hypot(*d_in.T) * np.hypot(*d_out.T)
        out.append(c[cross < -1e-9 * np.maximum(scale, 1e-300)])  # a right turn
    return np.concatenate(out) if out else np.zeros((0, 2))


def _part_links(
    part: BaseGeometry,
    node_ids: np.ndarray,
    node_ll: np.ndarray,
    *,
    way_id: int,
    name: str,
    next_id: int,
) -> tuple[list[WalkWay], int, int]:
    """The visibility links of one polygon; the next free corner id; 1 if simplified."""
    from lifecircle.sources.osm import WalkWay

    c = part.centroid
    frame = _Frame(c.x, c.y)
    poly = shapely.transform(part, frame.to_m)
    xy = frame.to_m(node_ll.reshape(-1, 2))
    near = shapely.dwithin(shapely.points(xy), poly, TOUCH_M) if len(xy) else np.zeros(0, bool)
    acc_ids, acc_xy = node_ids[near], xy[near]
    if len(acc_ids) < 2:
        return [], next_id, 0
    corners = reflex_corners(poly)
    if len(corners):  # a corner that is a walkable node already is that node
        gap = np.hypot(*(corners[:, None, :] - acc_xy[None, :, :]).transpose(2, 0, 1))
        corners = corners[gap.min(axis=1) > SEE_M]
    simplified = int(len(acc_ids) + len(corners) > MAX_POINTS)
    if simplified:
        corners = corners[:0]
    pt_ids = np.concatenate([acc_ids, next_id - np.arange(len(corners))])
    next_id -= len(corners)
    pt_xy = np.concatenate([acc_xy, corners])
    # access points just outside the area are tested from their nearest point on it
    inside = np.asarray(shapely.covers(poly, shapely.points(acc_xy)))
    seen_from = pt_xy.copy()
    if not inside.all():
        nearest = shapely.shortest_line(shapely.points(acc_xy[~inside]), poly)
        seen_from[: len(acc_xy)][~inside] = shapely.get_coordinates(nearest).reshape(-1, 2, 2)[:, 1]
    i, j = np.triu_indices(len(pt_ids), k=1)
    keep = pt_ids[i] != pt_ids[j]
    i, j = i[keep], j[keep]
    segs = shapely.linestrings(
        np.stack([seen_from[i], seen_from[j]], axis=1).reshape(-1, 2),
        indices=np.repeat(np.arange(len(i)), 2),
    )
    room = shapely.buffer(poly, SEE_M)
    shapely.prepare(room)
    seen = np.asarray(shapely.covers(room, segs)) if len(segs) else np.zeros(0, bool)
    i, j = i[seen], j[seen]
    kept = greedy_spanner(len(pt_ids), i, j, np.hypot(*(pt_xy[i] - pt_xy[j]).T))
    pt_ll = frame.to_ll(pt_xy)
    pt_ll[: len(acc_ids)] = node_ll.reshape(-1, 2)[near]  # the nodes' own coordinates
    links = [
        WalkWay(
            way_id=way_id,
            node_ids=np.array([pt_ids[a], pt_ids[b]], dtype=np.int64),
            lonlat=pt_ll[[a, b]],
            highway="pedestrian_area",
            name=name,
        )
        for a, b in zip(i[kept], j[kept], strict=True)
    ]
    return links, next_id, simplified


def greedy_spanner(
    n: int, i: np.ndarray, j: np.ndarray, length: np.ndarray, *, stretch: float = STRETCH
) -> np.ndarray:
    """Which links to keep so that every walk the links allow is at most ``stretch`` times
    longer than with all of them (the greedy spanner: shortest links first, each kept only when
    the links kept so far do not already join its ends within ``stretch`` times its length).

    Returns a boolean mask over the links.
    """
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0.0)
    keep = np.zeros(len(i), dtype=bool)
    for e in np.argsort(length, kind="stable"):
        a, b, w = i[e], j[e], length[e]
        if dist[a, b] <= stretch * w:
            continue
        keep[e] = True
        via = np.minimum(
            dist[:, a, None] + w + dist[None, b, :], dist[:, b, None] + w + dist[None, a, :]
        )
        np.minimum(dist, via, out=dist)
    return keep
