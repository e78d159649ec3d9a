"""Snapping: points meet the nearest position on the nearest kept edge (not the nearest node),
within ``max_snap_m``; hand-checked on the drawn graphs of conftest.py and compared with a
brute-force nearest-point computation."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import edge_of, metric_points, offset_from
from lifecircle.snapping import snap_points


def test_point_beside_an_edge_meets_it_at_the_foot_of_the_perpendicular(cross_graph):
    # 20 m north of C-E at x = 100: edge C-E, 100 m from C, leg 20 m
    s = snap_points(metric_points([(100, 20)]), cross_graph, max_snap_m=50)
    ce = edge_of(cross_graph, 1, 4)
    assert s.edge[0] == ce
    assert s.offset_m[0] == pytest.approx(offset_from(cross_graph, ce, 1, 100.0), abs=1e-6)
    assert s.leg_m[0] == pytest.approx(20.0, abs=1e-6)
    assert not s.near_dropped[0]


def test_nearest_edge_not_nearest_node(cross_graph):
    # (150, 60): the nearest node, C, is 161.6 m away; the street C-E only 60 m (N-C: 150 m).
    # The point meets C-E 150 m from C, not at C.
    s = snap_points(metric_points([(150, 60)]), cross_graph, max_snap_m=200)
    ce = edge_of(cross_graph, 1, 4)
    assert s.edge[0] == ce and s.leg_m[0] == pytest.approx(60.0, abs=1e-6)
    assert s.offset_m[0] == pytest.approx(offset_from(cross_graph, ce, 1, 150.0), abs=1e-6)


def test_points_on_the_spur_and_on_the_short_edge(cross_graph):
    # (5, -140): 5 m east of the spur S-T, 40 m below S; (-3, -60): 3 m west of C-S, 60 m below C
    s = snap_points(metric_points([(5, -140), (-3, -60)]), cross_graph, max_snap_m=50)
    st_, cs = edge_of(cross_graph, 5, 6), edge_of(cross_graph, 1, 5)
    assert s.edge.tolist() == [st_, cs]
    assert s.offset_m[0] == pytest.approx(offset_from(cross_graph, st_, 5, 40.0), abs=1e-6)
    assert s.offset_m[1] == pytest.approx(offset_from(cross_graph, cs, 1, 60.0), abs=1e-6)
    assert np.allclose(s.leg_m, [5.0, 3.0], atol=1e-6)


def test_point_at_a_node_has_no_leg_and_sits_at_an_edge_end(cross_graph):
    # N (0, 300) is the end of one edge only; C (0, 0) is shared by four: the lowest edge index
    s = snap_points(metric_points([(0, 300), (0, 0)]), cross_graph, max_snap_m=10)
    nc = edge_of(cross_graph, 3, 1)
    assert s.edge[0] == nc
    assert s.offset_m[0] == pytest.approx(offset_from(cross_graph, nc, 3, 0.0), abs=1e-6)
    at_c = [edge_of(cross_graph, 1, n) for n in (2, 4, 3, 5)]
    assert s.edge[1] == min(at_c)
    e = int(s.edge[1])
    assert s.offset_m[1] == pytest.approx(offset_from(cross_graph, e, 1, 0.0), abs=1e-6)
    assert np.allclose(s.leg_m, 0.0, atol=1e-6)


def test_a_point_on_the_street_itself_has_a_zero_leg(cross_graph):
    s = snap_points(metric_points([(-120, 0)]), cross_graph, max_snap_m=1)
    wc = edge_of(cross_graph, 2, 1)
    assert s.edge[0] == wc and s.leg_m[0] == pytest.approx(0.0, abs=1e-6)
    assert s.offset_m[0] == pytest.approx(offset_from(cross_graph, wc, 2, 80.0), abs=1e-6)


def test_beyond_max_snap_is_off_network(cross_graph):
    # (100, 80) is 80 m from C-E and 100 m from N-C: attached at 100 m, off-network at 50 m
    pts = metric_points([(100, 80)])
    near = snap_points(pts, cross_graph, max_snap_m=100)
    assert near.on_network[0] and near.leg_m[0] == pytest.approx(80.0, abs=1e-6)
    far = snap_points(pts, cross_graph, max_snap_m=50)
    assert not far.on_network[0]
    assert far.edge[0] == -1 and np.isnan(far.offset_m[0]) and np.isnan(far.leg_m[0])
    assert not far.near_dropped[0]  # nothing of the network lies within 50 m


def test_max_snap_bounds_the_leg(cross_graph):
    # 30 m north of W-C: attached just above a 30 m limit, off-network below it
    pts = metric_points([(-100, 30)])
    assert snap_points(pts, cross_graph, max_snap_m=30.0 + 1e-6).on_network[0]
    assert not snap_points(pts, cross_graph, max_snap_m=29.9).on_network[0]


def test_the_dropped_island_never_takes_a_point(cross_graph):
    # right beside the 100 m island (dropped): off-network, and flagged as near a dropped piece
    s = snap_points(metric_points([(5010, 5050), (5000, 5000)]), cross_graph, max_snap_m=200)
    assert not s.on_network.any()
    assert s.near_dropped.all()


def test_near_a_dropped_piece_attached_to_the_kept_street_behind_it(island_graph):
    # (120, 30): 10 m below the dropped piece D-E, 30 m above the kept street A-B
    pts = metric_points([(120, 30), (120, -10)])
    s = snap_points(pts, island_graph, max_snap_m=50)
    ab = edge_of(island_graph, 1, 2)
    assert s.edge.tolist() == [ab, ab]
    assert np.allclose(s.leg_m, [30.0, 10.0], atol=1e-6)
    assert s.offset_m[0] == pytest.approx(offset_from(island_graph, ab, 1, 120.0), abs=1e-6)
    # the first is nearer the dropped piece than the street it was given; the second is not
    assert s.near_dropped.tolist() == [True, False]
    # with a 20 m limit the street is out of reach: off-network, still flagged
    s20 = snap_points(pts, island_graph, max_snap_m=20)
    assert s20.on_network.tolist() == [False, True]
    assert s20.near_dropped.tolist() == [True, False]


def test_no_points(cross_graph):
    s = snap_points(np.array([], dtype=object), cross_graph, max_snap_m=100)
    assert len(s) == 0 and s.edge.dtype.kind == "i" and s.on_network.shape == (0,)


def _brute(net, pts, max_m):
    """Distances from every point to every edge: the nearest kept, which kept edges are as
    near, and the nearest dropped."""
    kept = np.flatnonzero(net.edge_kept)
    dropped = np.flatnonzero(~net.edge_kept)
    d = shapely.distance(pts[:, None], net.edge_geom[kept][None, :])
    best = d.min(axis=1)
    ties = np.isclose(d, best[:, None], rtol=0, atol=1e-7)  # every edge as near as the nearest
    dd = shapely.distance(pts[:, None], net.edge_geom[dropped][None, :]).min(axis=1)
    return best, ties, kept, dd


@settings(max_examples=60, deadline=None)
@given(
    xy=st.lists(st.tuples(st.floats(-300, 500), st.floats(-250, 400)), min_size=1, max_size=25),
    max_m=st.floats(1.0, 300.0),
)
def test_against_brute_force_nearest_points(cross_graph, xy, max_m):
    net = cross_graph
    pts = metric_points(xy)
    s = snap_points(pts, net, max_snap_m=max_m)
    best, ties, kept, _ = _brute(net, pts, max_m)
    on = best <= max_m
    sure = np.abs(best - max_m) > 1e-6  # leave points right on the limit to rounding
    assert np.array_equal(s.on_network[sure], on[sure])
    i = np.flatnonzero(s.on_network)
    assert np.allclose(s.leg_m[i], best[i], rtol=0, atol=1e-6)
    # the chosen edge is one of the nearest (several where the point faces a node)
    chosen = np.searchsorted(kept, s.edge[i])
    assert ties[i, chosen].all()
    # the snapped position is the nearest point of that edge, and lies at the leg's distance
    geoms = net.edge_geom[s.edge[i]]
    expected = shapely.line_locate_point(geoms, pts[i])
    assert np.allclose(s.offset_m[i], expected, atol=1e-6)
    at = shapely.line_interpolate_point(geoms, s.offset_m[i])
    assert np.allclose(shapely.distance(at, pts[i]), s.leg_m[i], atol=1e-6)
    assert ((s.offset_m[i] >= 0) & (s.offset_m[i] <= net.edge_len[s.edge[i]])).all()
    off = np.flatnonzero(~s.on_network)
    assert (s.edge[off] == -1).all() and np.isnan(s.leg_m[off]).all()


@settings(max_examples=30, deadline=None)
@given(
    xy=st.lists(st.tuples(st.floats(-150, 400), st.floats(-100, 150)), min_size=1, max_size=20),
    max_m=st.floats(5.0, 200.0),
    seed=st.integers(0, 10_000),
)
def test_near_dropped_and_order_against_brute_force(island_graph, xy, max_m, seed):
    net = island_graph
    pts = metric_points(xy)
    s = snap_points(pts, net, max_snap_m=max_m)
    best, _, _, dd = _brute(net, pts, max_m)
    kept_best = np.where(best <= max_m, best, np.inf)
    expected = (dd <= max_m) & (dd < kept_best)
    sure = (np.abs(dd - max_m) > 1e-6) & (np.abs(dd - best) > 1e-6) & (np.abs(best - max_m) > 1e-6)
    assert np.array_equal(s.near_dropped[sure], expected[sure])
    # results follow their points, whatever the order they come in
    perm = np.random.default_rng(seed).permutation(len(pts))
    p = snap_points(pts[perm], net, max_snap_m=max_m)
    assert np.array_equal(p.edge, s.edge[perm])
    assert np.array_equal(p.near_dropped, s.near_dropped[perm])
    np.testing.assert_allclose(p.offset_m, s.offset_m[perm])
    np.testing.assert_allclose(p.leg_m, s.leg_m[perm])


def test_the_edge_index_is_built_once_and_again_only_for_other_edges(cross_graph):
    import pickle
    from dataclasses import replace

    first = cross_graph.edge_index()
    snap_points(metric_points([(100, 20)]), cross_graph, max_snap_m=50)
    assert cross_graph.edge_index() is first  # snapping reuses the kept index
    assert replace(cross_graph, stats={}).edge_index() is first  # the same edges
    # other kept edges (the island kept too): a new index, which snaps to the island
    wider = replace(cross_graph, edge_kept=np.ones_like(cross_graph.edge_kept))
    assert wider.edge_index() is not first
    assert len(wider.edge_index().kept_idx) == wider.n_edges > len(first.kept_idx)
    back = pickle.loads(pickle.dumps(cross_graph))  # not stored; rebuilt on use
    assert back._edge_index is None
    assert back.edge_index().kept_idx.tolist() == first.kept_idx.tolist()
