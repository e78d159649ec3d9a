r"""Compound gates on a hand-drawn town, lengths in metres::

    C(1)-----------M(5)-----------D(2)       the north street, y = 300
     |              |
     |              | footway M-G, 50 m
     |   +----------G(6)--------+             the compound: x 100..300, y 100..250
     |   |                      |             its gate G on the north side (200, 250)
     |   |                      |
     |   |     r (200, 120)     |             the resident
     |   +----------------------+
     |
    A(3)---------------------------B(4)      the south street, y = 0
    the facility at A; C-A 300 m (the west street)

Through G: straight r-G 130 + G-M 50 + M-C 200 + C-A 300 = 680 m.
Ignoring the gate: r steps 120 m south onto A-B and walks 200 m west = 320 m.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from conftest import LOCAL_CRS, ORIGIN, metric_points, ways_from_metric
from lifecircle.errors import InputError
from lifecircle.gates import GateInputs, build_gates
from lifecircle.network import build_network
from lifecircle.routing import facility_field, origin_distances
from lifecircle.snapping import snap_points

STREETS = [
    [(1, 0, 300), (5, 200, 300), (2, 400, 300)],
    [(3, 0, 0), (4, 400, 0)],
    [(1, 0, 300), (3, 0, 0)],
]
FOOTWAY_TO_GATE = [(5, 200, 300), (6, 200, 250)]
FOOTWAY_INTO = [(5, 200, 300), (7, 200, 150)]  # crosses the boundary at (200, 250)
SETTINGS = SimpleNamespace(max_snap_m=200.0)


def _box(x0: float, y0: float, x1: float, y1: float) -> Any:
    return shapely.box(x0 + ORIGIN[0], y0 + ORIGIN[1], x1 + ORIGIN[0], y1 + ORIGIN[1])


def _wgs84(geoms: list[Any], **cols: list[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=LOCAL_CRS).to_crs(4326)


def _area() -> Any:
    whole = _box(-1000, -1000, 1400, 1300)
    return SimpleNamespace(crs=LOCAL_CRS, area_m=whole, buffer_m=whole, reach_m=1000.0)


def _compounds(*boxes: tuple[str, Any]) -> gpd.GeoDataFrame:
    return _wgs84(
        [b for _, b in boxes],
        compound_id=[i for i, _ in boxes],
        name=[""] * len(boxes),
        source=["file:c.geojson"] * len(boxes),
    )


def _gates(*pts: tuple[str, float, float], compound: str = "") -> gpd.GeoDataFrame:
    return _wgs84(
        list(metric_points([(x, y) for _, x, y in pts])) if pts else [],
        gate_id=[g for g, _, _ in pts],
        compound_id=[compound] * len(pts),
        source=["file:g.csv"] * len(pts),
    )


def _route(extra_ways, compounds, gates, *, frm=("file", "file"), residents=((200, 120),)):
    """Distances from the residents to the facility at A, with and without the gates."""
    net = build_network(ways_from_metric([*STREETS, *extra_ways]), LOCAL_CRS)
    inp = GateInputs(compounds=compounds, gates=gates, compounds_from=frm[0], gates_from=frm[1])
    res_pts = metric_points(list(residents))
    g = build_gates(inp, net, _area(), SETTINGS, residents=res_pts, buildings=res_pts[:0])
    fac_pts = metric_points([(0, 0)])
    fac = snap_points(fac_pts, net, max_snap_m=200.0)
    field = facility_field(net, fac)
    rsnap = snap_points(res_pts, net, max_snap_m=200.0)
    base = origin_distances(net, field, fac, rsnap)
    gated, near = g.distances(
        base, g.residents, net=net, field=field, fac=fac, fac_points=fac_pts, limit_m=np.inf
    )
    return g, base[0], gated, near


def test_a_resident_leaves_through_the_far_gate():
    g, base, gated, near = _route(
        [FOOTWAY_TO_GATE], _compounds(("c1", _box(100, 100, 300, 250))), _gates(("g1", 200, 250))
    )
    assert base[0] == pytest.approx(320.0)
    assert gated[0] == pytest.approx(130 + 50 + 200 + 300)
    assert near[0] == 0
    assert g.counts["gates_known"] == 1 and g.counts["gates_assumed"] == 0
    assert g.compounds["gates"].tolist() == ["known"]


def test_two_gates_take_the_nearer_walk():
    # g2 at (250, 100) snaps 100 m south onto A-B: 100 + 250 = 350 from its network point
    g, _, gated, _ = _route(
        [FOOTWAY_TO_GATE],
        _compounds(("c1", _box(100, 100, 300, 250))),
        _gates(("g1", 200, 250), ("g2", 250, 100)),
    )
    assert gated[0] == pytest.approx(np.hypot(50, 20) + 100 + 250)
    assert g.counts["gates_known"] == 2


def test_a_resident_outside_every_compound_is_routed_as_before():
    _, base, gated, _ = _route(
        [FOOTWAY_TO_GATE],
        _compounds(("c1", _box(100, 100, 300, 250))),
        _gates(("g1", 200, 250)),
        residents=((200, 120), (350, 50)),
    )
    assert gated[1] == base[1] == pytest.approx(50 + 350)


def test_no_known_gate_assumes_one_where_a_walkway_crosses_the_boundary():
    g, _, gated, _ = _route(
        [FOOTWAY_INTO], _compounds(("c1", _box(100, 100, 300, 250))), _gates(), frm=("file", "osm")
    )
    assert g.counts["gates_assumed"] == 1
    (pt,) = g.gates.geometry
    assert (pt.x - ORIGIN[0], pt.y - ORIGIN[1]) == pytest.approx((200, 250))
    assert g.compounds["gates"].tolist() == ["assumed"]
    assert gated[0] == pytest.approx(130 + 50 + 200 + 300)


def test_a_compound_without_any_gate_is_routed_as_without_gates():
    g, base, gated, _ = _route(
        [], _compounds(("c1", _box(100, 100, 300, 250))), _gates(), frm=("file", "osm")
    )
    assert g.compounds["gates"].tolist() == ["none"]
    assert gated[0] == base[0]
    assert g.residents.gateless.tolist() == [True]
    assert (g.residents.compound < 0).all()


def test_a_facility_inside_the_compound_is_reached_without_leaving():
    # F (150, 230) inside: 120.8 m straight; through the gate to A 680 m; ignoring the walls
    # A is 320 m away (across the wall)
    net = build_network(ways_from_metric([*STREETS, FOOTWAY_TO_GATE]), LOCAL_CRS)
    inp = GateInputs(
        compounds=_compounds(("c1", _box(100, 100, 300, 250))),
        gates=_gates(("g1", 200, 250)),
        compounds_from="file",
        gates_from="file",
    )
    res = metric_points([(200, 120)])
    g = build_gates(inp, net, _area(), SETTINGS, residents=res, buildings=res[:0])
    fac_pts = metric_points([(0, 0), (150, 230)])
    fac = snap_points(fac_pts, net, max_snap_m=200.0)
    field = facility_field(net, fac)
    base = origin_distances(net, field, fac, snap_points(res, net, max_snap_m=200.0))
    assert base[0][0] == pytest.approx(320.0) and base[1][0] == 0
    d, near = g.distances(
        base, g.residents, net=net, field=field, fac=fac, fac_points=fac_pts, limit_m=np.inf
    )
    assert d[0] == pytest.approx(np.hypot(50, 110))
    assert near[0] == 1


def test_gates_never_shorten_a_walk():
    # r2 (290, 240): straight to G 90.6 + 550 = 640.6, but on the network 60 north onto the
    # street, 90 to M, then 500: 650 (the straight line inside is a lower bound); 650 stands
    _, base, gated, _ = _route(
        [FOOTWAY_TO_GATE],
        _compounds(("c1", _box(100, 100, 300, 250))),
        _gates(("g1", 200, 250)),
        residents=((200, 120), (290, 240)),
    )
    assert base[1] == pytest.approx(650.0)
    assert gated[1] == pytest.approx(650.0)
    assert gated[0] == pytest.approx(680.0)


def test_a_gate_far_from_every_compound_is_refused_with_its_id():
    with pytest.raises(InputError, match=r"gate\(s\) belong to no compound[\s\S]*far-1"):
        _route(
            [FOOTWAY_TO_GATE],
            _compounds(("c1", _box(100, 100, 300, 250))),
            _gates(("g1", 200, 250), ("far-1", 700, 700)),
        )


def test_a_gate_naming_an_unknown_compound_is_refused():
    with pytest.raises(InputError, match="compound 'nope' is not known"):
        _route(
            [FOOTWAY_TO_GATE],
            _compounds(("c1", _box(100, 100, 300, 250))),
            _gates(("g1", 200, 250), compound="nope"),
        )


def test_osm_gates_of_no_compound_are_left_out_and_counted():
    g, _, gated, _ = _route(
        [FOOTWAY_TO_GATE],
        _compounds(("c1", _box(100, 100, 300, 250))),
        _gates(("g1", 200, 250), ("park", 700, 700)),
        frm=("file", "osm"),
    )
    assert g.counts["osm_gates_of_no_compound"] == 1
    assert gated[0] == pytest.approx(680.0)


def test_overlapping_compounds_of_a_file_are_refused():
    with pytest.raises(InputError, match=r"overlap \(c1 / c2\)"):
        _route(
            [FOOTWAY_TO_GATE],
            _compounds(("c1", _box(100, 100, 300, 250)), ("c2", _box(250, 150, 350, 250))),
            _gates(("g1", 200, 250)),
        )


def test_osm_compounds_keep_the_smaller_of_two_that_overlap():
    g, _, gated, _ = _route(
        [FOOTWAY_TO_GATE],
        _compounds(("wall", _box(100, 100, 300, 250)), ("landuse", _box(50, 50, 350, 280))),
        _gates(("g1", 200, 250)),
        frm=("osm", "osm"),
    )
    assert g.compounds["compound_id"].tolist() == ["wall"]
    assert g.counts["osm_compounds_overlapping_dropped"] == 1
    assert gated[0] == pytest.approx(680.0)


def test_a_gates_file_with_no_gate_near_the_area_is_refused():
    with pytest.raises(InputError, match="none of its 1 gate"):
        _route(
            [FOOTWAY_TO_GATE],
            _compounds(("c1", _box(100, 100, 300, 250))),
            _gates(("elsewhere", 90_000, 90_000)),
        )


def test_an_osm_area_a_main_road_crosses_is_no_compound():
    ways = ways_from_metric([*STREETS, FOOTWAY_TO_GATE, [(8, 50, 175), (9, 350, 175)]])
    ways[-1].highway = "primary"  # right through the block
    net = build_network(ways, LOCAL_CRS)
    inp = GateInputs(
        compounds=_compounds(("c1", _box(100, 100, 300, 250))),
        gates=_gates(("g1", 200, 250)),
        compounds_from="osm",
        gates_from="osm",
    )
    res = metric_points([(200, 120)])
    g = build_gates(inp, net, _area(), SETTINGS, residents=res, buildings=res[:0])
    assert g.counts["osm_compounds_crossed_by_main_road"] == 1
    assert g.counts["compounds"] == 0 and (g.residents.compound < 0).all()
