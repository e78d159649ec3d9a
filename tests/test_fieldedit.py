"""Editing a distance field (adding and removing facilities) gives the distances of routing the
category again, exactly, up to the edit's limit; the nearest facility too, except that an exact
tie with an added facility makes it route the category again."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import LOCAL_CRS, metric_points, ways_from_metric
from lifecircle.fieldedit import MAX_SEPARATE_ADDS, concat, edit_field, take
from lifecircle.network import Network, build_network
from lifecircle.routing import facility_field
from lifecircle.snapping import Snapped, snap_points

LIMIT, FULL = 450.0, 900.0
SIDE, SPACING = 14, 60.0


@cache
def _town() -> Network:
    """A jittered 14 × 14 street grid, 60 m blocks, about one segment in ten missing."""
    rng = np.random.default_rng(7)
    xy = {
        (i, j): (j * SPACING + rng.uniform(-9, 9), i * SPACING + rng.uniform(-9, 9))
        for i in range(SIDE)
        for j in range(SIDE)
    }
    nid = lambda i, j: 1 + i * SIDE + j  # noqa: E731
    ways, part = [], []
    for line in range(SIDE):
        for cells in ([(line, j) for j in range(SIDE)], [(j, line) for j in range(SIDE)]):
            part = [cells[0]]
            for a in cells[1:]:  # a street with a missing segment is two ways
                if rng.random() < 0.1 and len(part) > 1:
                    ways.append(part)
                    part = []
                part.append(a)
            if len(part) > 1:
                ways.append(part)
    ways = [[(nid(*a), *xy[a]) for a in w] for w in ways]
    return build_network(ways_from_metric(ways), LOCAL_CRS)


@pytest.fixture
def town() -> Network:
    return _town()


def _snap(net: Network, xy: np.ndarray) -> Snapped:
    pts = metric_points([tuple(p) for p in xy]) if len(xy) else np.zeros(0, dtype=object)
    return snap_points(pts, net, max_snap_m=50.0)


def _edit(net: Network, old: Snapped, keep: np.ndarray, new: Snapped):
    """The edited field and the full route of the same access points (kept ones first)."""
    base = facility_field(net, old, limit_m=FULL)
    kept = np.flatnonzero(keep)
    snap = concat([take(old, kept), new])
    renumber = np.full(len(old), -1)
    renumber[kept] = np.arange(len(kept))
    added = [np.array([len(kept) + k]) for k in range(len(new))]
    edited = edit_field(net, base, renumber, snap, added, limit_m=LIMIT, full_limit_m=FULL)
    return edited, facility_field(net, snap, limit_m=FULL), len(kept)


def _check(edited, full, n_kept: int) -> None:
    e, f = edited.field, full
    close = f.node_m <= LIMIT
    assert np.array_equal(e.node_m[close], f.node_m[close])  # exact, not approximately
    assert (e.node_m[~close] > LIMIT).all()
    added_e = np.where(e.node_fac >= n_kept, e.node_fac, -1)
    added_f = np.where(f.node_fac >= n_kept, f.node_fac, -1)
    assert np.array_equal(added_e[close], added_f[close])  # which added facility, if any


@settings(deadline=None, max_examples=30)
@given(
    old=st.lists(st.tuples(st.floats(0, 780), st.floats(0, 780)), min_size=1, max_size=8),
    new=st.lists(st.tuples(st.floats(0, 780), st.floats(0, 780)), max_size=3),
    drop=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_random_edits_give_the_full_route(old, new, drop):
    town = _town()
    old_snap, new_snap = _snap(town, np.array(old)), _snap(town, np.array(new).reshape(-1, 2))
    keep = ~np.array(drop[: len(old)])
    edited, full, n_kept = _edit(town, old_snap, keep, new_snap)
    _check(edited, full, n_kept)


def test_one_addition_searches_only_its_reach(town):
    old = _snap(town, np.array([[60.0, 60.0], [700.0, 700.0]]))
    new = _snap(town, np.array([[400.0, 380.0]]))
    edited, full, n_kept = _edit(town, old, np.ones(2, dtype=bool), new)
    _check(edited, full, n_kept)
    assert not edited.full
    assert 0 < len(edited.changed) < town.n_nodes / 2
    assert (full.node_m[edited.changed] <= LIMIT).all()  # it changed only nodes within reach


def test_a_removal_changes_only_what_the_facility_served(town):
    old = _snap(town, np.array([[60.0, 60.0], [700.0, 700.0], [400.0, 380.0]]))
    base = facility_field(town, old, limit_m=FULL)
    edited, full, n_kept = _edit(town, old, np.array([True, True, False]), take(old, np.arange(0)))
    _check(edited, full, n_kept)
    assert not edited.full
    assert np.array_equal(np.sort(edited.changed), np.flatnonzero(base.node_fac == 2))


def test_a_tie_with_an_added_facility_routes_again(town):
    old = _snap(town, np.array([[60.0, 60.0], [400.0, 380.0]]))
    edited, full, n_kept = _edit(town, old, np.ones(2, dtype=bool), take(old, np.array([1])))
    assert edited.full  # the added facility stands exactly where a kept one does
    _check(edited, full, n_kept)
    assert np.array_equal(edited.field.node_fac, full.node_fac)


def test_many_additions_route_again(town):
    rng = np.random.default_rng(1)
    old = _snap(town, np.array([[60.0, 60.0]]))
    new = _snap(town, rng.uniform(0, 780, (MAX_SEPARATE_ADDS + 1, 2)))
    edited, full, n_kept = _edit(town, old, np.ones(1, dtype=bool), new)
    assert edited.full
    _check(edited, full, n_kept)


def test_a_move_searches_twice_and_does_not_route_again(town):
    old = _snap(town, np.array([[60.0, 60.0], [700.0, 700.0], [400.0, 380.0]]))
    new = _snap(town, np.array([[430.0, 385.0]]))  # the third, moved 30 m east
    edited, full, n_kept = _edit(town, old, np.array([True, True, False]), new)
    _check(edited, full, n_kept)
    assert not edited.full  # the added one is not taken for a kept one when repairing
