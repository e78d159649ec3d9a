"""Crossing delays: a walk pays the wait when it crosses a major road at a node, never when it
walks along one; hand-checked distances on drawn graphs, and delay 0 gives the plain graph."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import LOCAL_CRS, metric_points, to_lonlat, ways_from_metric
from lifecircle.crossings import split_crossings, unsplit_snap, without_delays
from lifecircle.delays import CrossingDelays, delay_problem, parse_crossings
from lifecircle.isochrones import EdgeSamples, service_areas
from lifecircle.network import build_network
from lifecircle.routing import nearest_facility
from lifecircle.snapping import snap_points

SPEED = 1.0  # 1 m/s: a delay of s seconds is s metres
DELAYS = CrossingDelays(enabled=True, signalised_s=45.0, unsignalised_s=15.0)


def _net(lines, highways):
    ways = [
        dataclasses.replace(w, highway=h)
        for w, h in zip(ways_from_metric(lines), highways, strict=True)
    ]
    return build_network(ways, LOCAL_CRS, min_component_m=0.0)


@pytest.fixture(scope="module")
def tee():
    r"""A primary road W–C–E (one way) with a residential side street C–N to the north::

               N (0, 200)
               |
    W ---------C--------- E        W (-300, 0), C (0, 0), E (300, 0)
    """
    return _net(
        [[(1, -300, 0), (2, 0, 0), (3, 300, 0)], [(2, 0, 0), (4, 0, 200)]],
        ["primary", "residential"],
    )


@pytest.fixture(scope="module")
def plus():
    r"""Two primary roads crossing at C (0, 0): W–C–E along x, S–C–N along y, 300 m arms."""
    return _net(
        [
            [(1, -300, 0), (2, 0, 0), (3, 300, 0)],
            [(4, 0, -300), (2, 0, 0), (5, 0, 300)],
        ],
        ["primary", "primary"],
    )


def _dist(net, fac_xy, org_xy):
    f = snap_points(metric_points(fac_xy), net, max_snap_m=100.0)
    o = snap_points(metric_points(org_xy), net, max_snap_m=100.0)
    return nearest_facility(net, f, o).origin_m


def test_split_counts(tee, plus):
    t = split_crossings(tee, delays=DELAYS, speed_m_s=SPEED)
    # C splits in two sectors (north with the side street, south); W and E have one major end
    assert t.crossings is not None
    assert t.stats["crossing_nodes_split"] == 1
    assert t.n_nodes == tee.n_nodes + 1
    # two primary edges doubled, one link
    assert t.n_edges == tee.n_edges + 2 + 1
    assert t.crossings.link.sum() == 1
    p = split_crossings(plus, delays=DELAYS, speed_m_s=SPEED)
    # four arms: four sectors (three new nodes) and four links, one across each arm
    assert p.n_nodes == plus.n_nodes + 3
    assert p.crossings is not None and p.crossings.link.sum() == 4
    assert p.stats["crossing_links"] == 4


def test_crossing_pays_the_delay_walking_along_does_not(tee):
    net = split_crossings(tee, delays=DELAYS, speed_m_s=SPEED)
    # resident 10 m north of the road at x = -100; facility straight across, 10 m south:
    # without delays 10 + 10 = 20 m; with them: to C (100), cross (15), back (100), legs 20
    assert _dist(tee, [(-100, -10)], [(-100, 10)])[0] == pytest.approx(20.0)
    assert _dist(net, [(-100, -10)], [(-100, 10)])[0] == pytest.approx(235.0)
    # the facility on the same (north) side, 100 m along the road: no crossing, no delay
    assert _dist(net, [(-200, 10)], [(-100, 10)])[0] == pytest.approx(120.0)
    # on the south side a walk along the road to the far arm passes C without crossing
    assert _dist(net, [(200, -10)], [(-100, -10)])[0] == pytest.approx(320.0)
    # north side to the side street: no road to cross
    assert _dist(net, [(10, 150)], [(-100, 10)])[0] == pytest.approx(10 + 100 + 150 + 10)
    # south side to the side street: one crossing
    assert _dist(net, [(10, 150)], [(-100, -10)])[0] == pytest.approx(10 + 100 + 15 + 150 + 10)


def test_the_road_end_needs_no_crossing(tee):
    # near W (an end of the road) walking round the end is free: 20 + 2 * 30 = 80 m
    net = split_crossings(tee, delays=DELAYS, speed_m_s=SPEED)
    assert _dist(net, [(-270, -10)], [(-270, 10)])[0] == pytest.approx(80.0)


def test_diagonal_crossing_pays_twice(plus):
    net = split_crossings(plus, delays=DELAYS, speed_m_s=SPEED)
    # resident north of the east arm at x = 100; legs 10 + 10, 100 + 100 along the arms
    res = [(100, 10)]
    # facility west of the north arm (north-west quadrant): crosses the north arm once
    assert _dist(net, [(-10, 100)], res)[0] == pytest.approx(220 + 15)
    # facility south of the west arm (south-west quadrant): crosses two arms
    assert _dist(net, [(-100, -10)], res)[0] == pytest.approx(220 + 30)
    # facility east of the north arm: same quadrant, no crossing
    assert _dist(net, [(10, 100)], res)[0] == pytest.approx(220)
    # facility south of the east arm, straight across: one crossing at C
    assert _dist(net, [(100, -10)], res)[0] == pytest.approx(220 + 15)


def test_signals_near_the_node_make_it_signalised(tee):
    # a signal 12 m from C (on the approach): within the 20 m radius
    signals = to_lonlat(np.array([[-12.0, 0.0]]))
    net = split_crossings(tee, delays=DELAYS, speed_m_s=SPEED, signals=signals)
    assert net.stats["crossing_nodes_signalised"] == 1
    assert _dist(net, [(-100, -10)], [(-100, 10)])[0] == pytest.approx(265.0)
    # at 1.2 m/s the 45 s wait is 54 m of walking
    fast = split_crossings(tee, delays=DELAYS, speed_m_s=1.2, signals=signals)
    assert _dist(fast, [(-100, -10)], [(-100, 10)])[0] == pytest.approx(274.0)
    # a signal 50 m away does not count
    far = split_crossings(
        tee, delays=DELAYS, speed_m_s=SPEED, signals=to_lonlat(np.array([[-50.0, 0.0]]))
    )
    assert far.stats["crossing_nodes_signalised"] == 0
    assert _dist(far, [(-100, -10)], [(-100, 10)])[0] == pytest.approx(235.0)


def test_a_crossing_node_inside_a_road_is_a_place_to_cross():
    """An OSM crossing node on the road between junctions (no way meets it) is not a graph
    node; the road is cut there so that a walk may cross, at the delay of its signals."""
    tee = _net(
        [[(1, -300, 0), (9, -150, 0), (2, 0, 0), (3, 300, 0)], [(2, 0, 0), (4, 0, 200)]],
        ["primary", "residential"],
    )
    assert 9 not in set(tee.node_osmid)
    res, fac = [(-150, 10)], [(-150, -10)]
    # without the crossing node: round the road's end at W, 20 + 2 * 150
    assert _dist(split_crossings(tee, delays=DELAYS, speed_m_s=SPEED), fac, res)[0] == (
        pytest.approx(320.0)
    )
    ll = to_lonlat(np.array([[-150.0, 0.0]]))
    x = np.array([[9, ll[0, 0], ll[0, 1]]])
    net = split_crossings(tee, delays=DELAYS, speed_m_s=SPEED, crossing_nodes=x)
    assert net.stats["crossing_mid_block_cuts"] == 1
    assert 9 in set(net.node_osmid)
    assert _dist(net, fac, res)[0] == pytest.approx(20 + 15)
    # walking along the road past the cut costs nothing
    assert _dist(net, [(-250, 10)], [(-50, 10)])[0] == pytest.approx(220.0)
    signalised = split_crossings(tee, delays=DELAYS, speed_m_s=SPEED, crossing_nodes=x, signals=ll)
    assert _dist(signalised, fac, res)[0] == pytest.approx(20 + 45)
    # the graph it is compared with: the cut road without waits, the plain distances
    base = without_delays(net)
    f = snap_points(metric_points(fac), net, max_snap_m=100.0)
    o = snap_points(metric_points([*res, (-250, 10)]), net, max_snap_m=100.0)
    d = nearest_facility(base, unsplit_snap(net, f), unsplit_snap(net, o)).origin_m
    assert np.allclose(d, _dist(tee, fac, [*res, (-250, 10)]))


def test_points_snap_to_their_side(tee):
    net = split_crossings(tee, delays=DELAYS, speed_m_s=SPEED)
    s = snap_points(
        metric_points([(-100, 10), (-100, -10), (100, 5), (100, -5)]), net, max_snap_m=50
    )
    assert net.crossings is not None
    side = net.crossings.side[s.edge]
    # the edges run W -> C -> E (u -> v eastwards): north is left (+1), south right (-1)
    assert list(side) == [1, -1, 1, -1]
    assert not net.crossings.link[s.edge].any()
    assert np.allclose(s.leg_m, [10, 10, 5, 5])


def _random_points(rng, n, box):
    return [(float(x), float(y)) for x, y in rng.uniform(-box, box, size=(n, 2))]


def _grid(kinds):
    rows = [[(4 * r + c + 1, 200.0 * c, 200.0 * r) for c in range(4)] for r in range(4)]
    cols = [[(4 * r + c + 1, 200.0 * c, 200.0 * r) for r in range(4)] for c in range(4)]
    return _net([*rows, *cols], kinds)


def test_zero_delay_is_the_plain_network(grid_graph):
    zero = dataclasses.replace(DELAYS, signalised_s=0.0, unsignalised_s=0.0)
    assert split_crossings(grid_graph, delays=zero, speed_m_s=1.1) is grid_graph
    plain = _grid(["primary"] * 8)
    assert split_crossings(plain, delays=zero, speed_m_s=1.1) is plain
    # not so with the smallest delay: the 4 inner nodes split in four sectors, the 8 other
    # border nodes in three, the 4 corners in two (inside and outside the corner)
    tiny = dataclasses.replace(DELAYS, signalised_s=0.0, unsignalised_s=0.001)
    assert split_crossings(plain, delays=tiny, speed_m_s=1.1).n_nodes == 16 + 4 * 3 + 8 * 2 + 4


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_delays_never_shorten_a_walk_and_match_the_oracle(seed, brute_force):
    """On a grid with random road classes: distances on the split graph are those of the
    reference Dijkstra on it, never below those of the plain graph, and the unsplit graph
    (the report's comparison) gives the plain graph's distances exactly."""
    rng = np.random.default_rng(seed)
    plain = _grid(list(rng.choice(["primary", "secondary", "residential", "footway"], size=8)))
    delayed = split_crossings(plain, delays=DELAYS, speed_m_s=1.1)
    fac = [(x + 300, y + 300) for x, y in _random_points(rng, 3, 320)]
    org = [(x + 300, y + 300) for x, y in _random_points(rng, 40, 320)]
    d_plain = _dist(plain, fac, org)
    f = snap_points(metric_points(fac), delayed, max_snap_m=100.0)
    o = snap_points(metric_points(org), delayed, max_snap_m=100.0)
    d_delayed = nearest_facility(delayed, f, o).origin_m
    assert np.allclose(d_delayed, brute_force(delayed, f, o), rtol=0, atol=1e-6)
    assert np.all(d_delayed >= d_plain - 1e-6)
    base = without_delays(delayed)
    assert np.array_equal(base.edge_u, plain.edge_u) and np.array_equal(base.edge_v, plain.edge_v)
    d_base = nearest_facility(base, unsplit_snap(delayed, f), unsplit_snap(delayed, o)).origin_m
    assert np.allclose(d_base, d_plain, rtol=0, atol=1e-9)


def test_service_areas_shrink_with_delays(tee):
    net = split_crossings(tee, delays=dataclasses.replace(DELAYS, unsignalised_s=60), speed_m_s=1)

    def reached(n):
        f = snap_points(metric_points([(-100, -10)]), n, max_snap_m=100.0)
        samples = EdgeSamples(n, 5.0)
        d = samples.distance(nearest_facility(n, f, f).node_m, f)
        geoms = service_areas(samples, d, {"a": 150.0}, cell_m=10.0, buffer_m=0.0, fill_holes_m2=0)
        pts = {tuple(p) for p in np.round(samples.xy[d <= 150.0], 6)}
        return geoms["a"], pts

    (plain, plain_pts), (unsplit, unsplit_pts), (delayed, delayed_pts) = (
        reached(tee),
        reached(without_delays(net)),
        reached(net),
    )
    assert unsplit.area == pytest.approx(plain.area) and unsplit_pts == plain_pts
    # the facility is south of the road: the side street north of C is 10 + 100 + 60 m away
    # with the wait, beyond 150 m, and was reached without it (10 + 100 + 40 at 40 m up)
    side_street = {p for p in plain_pts if abs(p[0] - 500000.0) < 1e-6 and p[1] > 3500000.0}
    assert side_street and not side_street & delayed_pts
    assert delayed_pts < plain_pts
    assert delayed.area < plain.area


def test_preset_table_is_checked():
    problems: list[str] = []
    c = parse_crossings({"signalised_s": 30, "classes": ["primary"]}, problems)
    assert not problems
    assert c.enabled and c.signalised_s == 30.0 and c.classes == ("primary",)
    parse_crossings(
        {"signalised_s": -5, "unsignalised_s": "x", "classes": "primary", "colour": 1}, problems
    )
    text = "\n".join(problems)
    assert "crossings.signalised_s must be a number of seconds from 0" in text
    assert "-5" in text
    assert "crossings.unsignalised_s" in text
    assert "crossings.classes must be a list" in text
    assert "unknown field(s) ['colour']" in text
    assert delay_problem(float("nan"), "x") is not None
    assert delay_problem(True, "x") is not None
    assert delay_problem(0, "x") is None
