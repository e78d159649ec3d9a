"""Service areas: samples along the kept edges, their network distance to the nearest facility,
and the polygons of the land within each reach; smaller reaches nest inside larger ones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ORIGIN, edge_of, metric_points
from lifecircle.config import make_settings
from lifecircle.isochrones import EdgeSamples, auto_cell_m, densified, service_areas
from lifecircle.routing import facility_field
from lifecircle.snapping import snap_points


def _at(x: float, y: float) -> shapely.Point:
    return shapely.Point(ORIGIN[0] + x, ORIGIN[1] + y)


def _areas(net, fac_xy, reaches, *, cell_m=5.0, buffer_m=20.0, fill_holes_m2=0.0, step_m=None):
    samples = EdgeSamples(net, step_m or cell_m / 2)
    fac = snap_points(metric_points(fac_xy), net, max_snap_m=100)
    d = samples.distance(facility_field(net, fac).node_m, fac)
    return service_areas(
        samples, d, reaches, cell_m=cell_m, buffer_m=buffer_m, fill_holes_m2=fill_holes_m2
    )


# ---- samples ------------------------------------------------------------------------------


def test_samples_cover_every_kept_edge_end_to_end(cross_graph):
    net = cross_graph
    s = EdgeSamples(net, 10.0)
    assert set(np.unique(s.edge)) == set(np.flatnonzero(net.edge_kept))  # not the island
    assert np.all(np.diff(s.edge) >= 0)  # grouped by edge, as distance() needs
    for e in np.unique(s.edge):
        pos = s.pos[s.edge == e]
        assert pos[0] == pytest.approx(0.0, abs=1e-6)
        assert pos[-1] == pytest.approx(net.edge_len[e], abs=1e-6)
        assert np.diff(pos).max() <= 10.0 + 1e-6 and np.diff(pos).min() > 0
    # each sample lies on its edge, at the position it carries
    pts = shapely.points(s.xy)
    geoms = net.edge_geom[s.edge]
    assert np.allclose(shapely.distance(pts, geoms), 0.0, atol=1e-6)
    assert np.allclose(shapely.line_locate_point(geoms, pts), s.pos, atol=1e-6)
    # the 400 m edge C-E at 10 m: 41 samples
    assert (s.edge == edge_of(net, 1, 4)).sum() == 41


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from([0.0, 3.0, 17.5, 100.0, 123.456, 1e5 + 0.1]),
                st.floats(-500, 500, allow_nan=False, width=32),
            ),
            min_size=2,
            max_size=6,
        ).filter(lambda pts: len({p for p in pts}) > 1),
        min_size=1,
        max_size=5,
    ),
    step=st.sampled_from([0.7, 2.5, 5.0, 18.2, 1000.0]),
)
def test_densified_is_geos_segmentize_to_the_bit(lines, step):
    """Curved lines, repeated vertices (GEOS drops them), segments shorter and longer than the
    step: the same coordinates and line indices as shapely.segmentize."""
    geoms = np.array([shapely.LineString(pts) for pts in lines])
    want_xy, want_i = shapely.get_coordinates(shapely.segmentize(geoms, step), return_index=True)
    got_xy, got_i = densified(geoms, step)
    assert np.array_equal(got_i, want_i)
    assert np.array_equal(got_xy, want_xy)


def test_densified_by_hand():
    line = shapely.LineString([(0, 0), (0, 0), (10, 0), (10, 7)])
    xy, i = densified(np.array([line, shapely.LineString([(0, 0), (3, 4)])]), 2.0)
    assert xy.tolist() == [
        [0, 0],
        [2, 0],
        [4, 0],
        [6, 0],
        [8, 0],
        [10, 0],
        [10, 1.75],
        [10, 3.5],
        [10, 5.25],
        [10, 7],
        [0, 0],
        [1, 1.3333333333333335],
        [2, 2.666666666666667],
        [3, 4],
    ]  # fmt: skip  (the thirds rounded as GEOS rounds them: 0 + (1 * (5 / 3)) / 5 * 4)
    assert i.tolist() == [0] * 10 + [1] * 4
    # a line of two parts is densified part by part, never across the gap between them
    two = np.array([shapely.MultiLineString([[(0, 0), (4, 0)], [(10, 0), (10, 3)]]), line])
    xy, i = densified(two, 2.0)
    want_xy, want_i = shapely.get_coordinates(shapely.segmentize(two, 2.0), return_index=True)
    assert np.array_equal(xy, want_xy) and np.array_equal(i, want_i)
    assert xy[i == 0].tolist() == [[0, 0], [2, 0], [4, 0], [10, 0], [10, 1.5], [10, 3]]


def test_sample_distances_by_hand(cross_graph):
    net = cross_graph
    s = EdgeSamples(net, 50.0)
    # a facility 20 m north of C-E at x = 300: C is 320 m away, E 120 m, S 420 m, T 470 m
    fac = snap_points(metric_points([(300, 20)]), net, max_snap_m=50)
    d = s.distance(facility_field(net, fac).node_m, fac)

    def at(x, y):
        k = np.flatnonzero(np.hypot(s.xy[:, 0] - ORIGIN[0] - x, s.xy[:, 1] - ORIGIN[1] - y) < 1e-6)
        assert len(k)
        return d[k]

    assert np.allclose(at(350, 0), 70.0)  # on the facility's own edge: straight along it
    assert np.allclose(at(100, 0), 220.0)
    assert np.allclose(at(0, 0), 320.0)  # node C, sampled on all four of its edges
    assert np.allclose(at(-200, 0), 520.0)
    assert np.allclose(at(0, 300), 620.0)
    assert np.allclose(at(0, -150), 470.0)


@settings(max_examples=30, deadline=None)
@given(fac=st.lists(st.tuples(st.floats(-250, 450), st.floats(-200, 350)), min_size=1, max_size=4))
def test_sample_distances_equal_the_oracle(cross_graph, brute_force, fac):
    net = cross_graph
    s = EdgeSamples(net, 25.0)
    f = snap_points(metric_points(fac), net, max_snap_m=200)
    d = s.distance(facility_field(net, f).node_m, f)
    # the samples as origins of the brute-force reference: on their edge, no leg
    o = snap_points(shapely.points(s.xy), net, max_snap_m=1)
    assert o.on_network.all()
    np.testing.assert_allclose(d, brute_force(net, f, o), rtol=1e-9, atol=1e-6)


# ---- polygons -----------------------------------------------------------------------------


def test_service_area_of_one_street_by_hand(island_graph):
    # a facility at A (0, 0) on the 300 m street A-B; 20 m of land either side of the street
    areas = _areas(island_graph, [(0, 0)], {"near": 100.0, "far": 200.0}, buffer_m=20.0)
    near, far = areas["near"], areas["far"]
    assert near.contains(_at(50, 15)) and near.contains(_at(110, 0))  # beside, and one step on
    assert not near.contains(_at(150, 0)) and not near.contains(_at(50, 35))
    assert far.contains(_at(150, 0)) and not far.contains(_at(250, 0))
    # about a 40 m wide band as long as the reach plus the buffer at either end
    assert near.area == pytest.approx(40 * (100 + 20) + np.pi * 20**2 / 2, rel=0.15)
    assert far.area == pytest.approx(40 * (200 + 20) + np.pi * 20**2 / 2, rel=0.15)
    assert shapely.get_num_geometries(far) == 1
    # the dropped piece D-E carries no samples: it adds no land however far the reach
    full = _areas(island_graph, [(0, 0)], {"all": 1000.0}, buffer_m=20.0)["all"]
    assert not full.contains(_at(125, 40))
    assert full.contains(_at(125, 15))


def test_holes_inside_blocks_are_filled_only_when_small(grid_graph):
    reach = {"all": 5000.0}
    inner = _at(100, 100)  # the middle of the bottom-left block, 100 m from every street
    open_ = _areas(grid_graph, [(0, 0)], reach, cell_m=10.0, buffer_m=30.0)["all"]
    assert not open_.contains(inner)
    # the hole left in each block is about (200 - 2 * 30) m square: 19,600 m²
    filled = _areas(grid_graph, [(0, 0)], reach, cell_m=10.0, buffer_m=30.0, fill_holes_m2=25e3)
    assert filled["all"].contains(inner)
    too_small = _areas(grid_graph, [(0, 0)], reach, cell_m=10.0, buffer_m=30.0, fill_holes_m2=1e4)
    assert not too_small["all"].contains(inner)
    # the land around the network is no hole, however small: it reaches the raster's border
    assert not filled["all"].contains(_at(-45, 300))
    huge = _areas(grid_graph, [(0, 0)], reach, cell_m=10.0, buffer_m=30.0, fill_holes_m2=1e9)
    assert not huge["all"].contains(_at(-45, 300))
    assert huge["all"].contains(inner)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_raster_does_not_depend_on_the_order_of_the_samples(grid_graph, seed):
    """Samples in edge order (runs of them in one cell) and shuffled (no runs): each cell keeps
    its nearest sample's distance either way, so the polygons are the same, to the bit."""
    import copy

    net = grid_graph
    samples = EdgeSamples(net, 2.5)
    fac = snap_points(metric_points([(130, 10), (390, 250)]), net, max_snap_m=100)
    d = samples.distance(facility_field(net, fac).node_m, fac)
    reaches = {"near": 150.0, "mid": 260.0, "far": 420.0}
    kw = {"cell_m": 5.0, "buffer_m": 20.0, "fill_holes_m2": 5e3}
    want = service_areas(samples, d, reaches, **kw)
    order = np.random.default_rng(seed).permutation(len(d))
    shuffled = copy.copy(samples)
    shuffled.xy = samples.xy[order]
    got = service_areas(shuffled, d[order], reaches, **kw)
    assert all(not want[k].is_empty for k in reaches)
    assert {k: shapely.to_wkb(g) for k, g in got.items()} == {
        k: shapely.to_wkb(g) for k, g in want.items()
    }


def test_the_land_around_a_small_service_area_is_not_filled(island_graph):
    # the default settings (10 m cells, 40 m of land, holes under 20,000 m² filled) and a reach
    # of 50 m: the raster around the reached street is smaller than 20,000 m², yet no hole
    areas = _areas(
        island_graph, [(0, 0)], {"r": 50.0}, cell_m=10.0, buffer_m=40.0, fill_holes_m2=20_000
    )
    assert areas["r"].contains(_at(25, 30))
    assert not areas["r"].contains(_at(25, 55)) and not areas["r"].contains(_at(-55, 0))
    assert areas["r"].area == pytest.approx(80 * (50 + 40) + np.pi * 40**2 / 2, rel=0.15)


def test_nothing_reached_and_no_reaches(cross_graph):
    s = EdgeSamples(cross_graph, 10.0)
    none = service_areas(s, np.full(len(s.xy), np.inf), {"a": 100.0}, cell_m=10, buffer_m=20)
    assert none["a"].is_empty
    assert service_areas(s, np.zeros(len(s.xy)), {}, cell_m=10, buffer_m=20) == {}
    # a reach too short for any cell: empty, while the longer one is not
    d = np.full(len(s.xy), 500.0)
    got = service_areas(s, d, {"short": 100.0, "long": 600.0}, cell_m=10, buffer_m=20)
    assert got["short"].is_empty and not got["long"].is_empty


def test_auto_cell_keeps_the_grid_small():
    assert auto_cell_m((0, 0, 1000, 1000), 10.0) == 10.0  # 10,000 cells: as asked
    cell = auto_cell_m((0, 0, 100_000, 60_000), 10.0, max_cells=1e6)
    assert (100_000 / cell) * (60_000 / cell) == pytest.approx(1e6)
    assert cell > 10.0


# ---- nesting ------------------------------------------------------------------------------

TIERS = make_settings().preset.service_area_tiers()  # (profile, minutes) -> metres


@settings(max_examples=60, deadline=None)
@given(
    fac=st.lists(st.tuples(st.floats(-50, 650), st.floats(-50, 650)), min_size=1, max_size=3),
    cell_m=st.sampled_from([5.0, 10.0, 20.0]),
    buffer_m=st.floats(0.0, 60.0),
    fill_holes_m2=st.sampled_from([0.0, 20_000.0]),
)
def test_smaller_service_areas_lie_inside_larger_ones(grid_graph, fac, cell_m, buffer_m,
                                                      fill_holes_m2):  # fmt: skip
    """After simplification too: each tier is clipped by the next larger one (as r5py does)."""
    areas = _areas(
        grid_graph, fac, TIERS, cell_m=cell_m, buffer_m=buffer_m, fill_holes_m2=fill_holes_m2
    )
    ordered = sorted(TIERS, key=TIERS.__getitem__)
    for small, large in itertools.pairwise(ordered):
        a, b = areas[small], areas[large]
        if a.is_empty:
            continue
        outside = shapely.difference(a, b).area
        assert outside < 1e-6, (small, large, outside)
        assert a.area <= b.area + 1e-6
    ten, fifteen = areas[("standard", 10)], areas[("standard", 15)]
    assert shapely.difference(ten, fifteen).area < 1e-6


# ---- the fast paths give what the plain calls give, byte for byte --------------------------


def _blobs(seed: int, size: int = 120) -> np.ndarray:
    """A random raster mask of blobs with holes, some touching each other."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    return ndimage.binary_dilation(rng.random((size, size)) < 0.01, iterations=3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_raster_polygons_are_those_of_shapely_shape(seed):
    import rasterio.features
    from affine import Affine

    from lifecircle.isochrones import _raster_polygons

    mask = _blobs(seed)
    tr = Affine(10.0, 0, 500_000.0, 0, -10.0, 3_400_000.0)

    def shapes():
        return rasterio.features.shapes(mask.astype(np.uint8), mask=mask, transform=tr)

    slow = np.array([shapely.geometry.shape(g) for g, _ in shapes()], dtype=object)
    fast = _raster_polygons(shapes())
    assert len(fast) == len(slow) > 0
    assert (shapely.to_wkb(fast) == shapely.to_wkb(slow)).all()
    assert len(_raster_polygons(iter(()))) == 0


@settings(max_examples=40, deadline=None)
@given(
    fac=st.lists(st.tuples(st.floats(-50, 650), st.floats(-50, 650)), min_size=1, max_size=4),
    cell_m=st.sampled_from([5.0, 10.0]),
    fill_holes_m2=st.sampled_from([0.0, 2_000.0]),
)
def test_clipping_by_nearby_pieces_equals_clipping_by_the_whole(grid_graph, fac, cell_m,
                                                                 fill_holes_m2):  # fmt: skip
    """``_clip`` looks only at the pieces of the larger area near each part; the service areas
    must be the very ones (same WKB) that intersecting with the whole larger area gives."""
    from unittest import mock

    fast = _areas(grid_graph, fac, TIERS, cell_m=cell_m, buffer_m=10.0, fill_holes_m2=fill_holes_m2)
    whole = lambda parts, larger, margin: shapely.intersection(parts, larger)  # noqa: E731
    with mock.patch("lifecircle.isochrones._clip", whole):
        slow = _areas(
            grid_graph, fac, TIERS, cell_m=cell_m, buffer_m=10.0, fill_holes_m2=fill_holes_m2
        )
    for key in TIERS:
        assert shapely.to_wkb(fast[key]) == shapely.to_wkb(slow[key]), key
