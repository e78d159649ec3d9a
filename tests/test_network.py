import numpy as np
import pytest

from conftest import LOCAL_CRS, ways_from_metric
from lifecircle.config import load_walk_filter
from lifecircle.errors import NoNetworkError
from lifecircle.network import build_csr, build_network


def test_cross_graph_topology(cross_graph):
    net = cross_graph
    # graph nodes: 2, 1, 4, 3, 5, 6, 7, 8 (way ends and shared nodes)
    assert net.n_nodes == 8
    assert net.n_edges == 6  # W-C, C-E, N-C, C-S, S-T, I1-I2
    assert sorted(np.round(net.edge_len, 6)) == [50, 100, 100, 200, 300, 400]
    # the 100 m island is below 150 m and dropped; the main piece kept
    assert net.stats["components"] == 2
    assert net.stats["components_dropped"] == 1
    assert net.edge_kept.sum() == 5


def test_intermediate_vertices_are_not_nodes():
    ways = ways_from_metric([[(1, 0, 0), (2, 100, 0), (3, 100, 100)]])
    net = build_network(ways, LOCAL_CRS)
    assert net.n_nodes == 2 and net.n_edges == 1
    assert net.edge_len[0] == pytest.approx(200.0, abs=1e-6)


def test_csr_keeps_shortest_parallel_edge_and_drops_loops():
    csr = build_csr(
        3, np.array([0, 0, 1, 2]), np.array([1, 1, 2, 2]), np.array([5.0, 3.0, 2.0, 1.0])
    )
    assert csr[0, 1] == 3.0 and csr[1, 0] == 3.0
    assert csr[1, 2] == 2.0
    assert csr[2, 2] == 0.0 and csr.nnz == 4


def _csr_by_brute_force(n, u, v, w, back):
    """Per ordered pair, the least weight of the edges between them: a dense matrix (NaN where
    there is no edge), self-loops left out."""
    best = np.full((n, n), np.nan)
    for a, b, fw, bw in zip(u, v, w, back, strict=True):
        if a == b:
            continue
        for i, j, x in ((a, b, fw), (b, a, bw)):
            best[i, j] = x if np.isnan(best[i, j]) else min(best[i, j], x)
    return best


@pytest.mark.parametrize("seed", range(20))
def test_csr_against_brute_force_both_ways_with_parallel_edges(seed):
    """Random multigraphs (parallel edges both ways, loops, zero weights, other weights back):
    every entry is the least weight of its ordered pair, explicit zeros kept, nothing else."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 12)), int(rng.integers(0, 40))
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w, back = rng.integers(0, 4, m).astype(float), rng.integers(0, 4, m).astype(float)
    csr = build_csr(n, u, v, w, back=back)
    want = _csr_by_brute_force(n, u, v, w, back)
    assert csr.shape == (n, n) and csr.has_sorted_indices
    assert csr.nnz == int(np.isfinite(want).sum())
    got = np.full((n, n), np.nan)
    rows = np.repeat(np.arange(n), np.diff(csr.indptr))
    got[rows, csr.indices] = csr.data
    np.testing.assert_array_equal(got, want)


def test_no_ways_is_a_clear_error():
    with pytest.raises(NoNetworkError, match="no walkable ways"):
        build_network([], LOCAL_CRS)


@pytest.mark.parametrize(
    ("tags", "kind"),
    [
        ({"highway": "footway"}, "walk"),
        ({"highway": "residential"}, "walk"),
        ({"highway": "motorway"}, "excluded"),
        ({"highway": "cycleway"}, "excluded"),
        ({"highway": "residential", "foot": "no"}, "excluded"),
        ({"highway": "service", "access": "private"}, "excluded"),
        ({"highway": "trunk", "bridge": "yes"}, "elevated"),
        ({"highway": "trunk_link", "layer": "2"}, "elevated"),
        ({"highway": "primary", "motorroad": "yes"}, "elevated"),
        ({"highway": "trunk", "bridge": "yes", "foot": "yes"}, "walk"),
        ({"highway": "trunk"}, "walk"),  # a ground-level trunk road with pavements
        ({"building": "yes"}, "not_highway"),
    ],
)
def test_walk_filter(tags, kind):
    assert load_walk_filter().classify(tags) == kind
