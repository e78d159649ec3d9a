"""Slope from a DEM (``--dem``): Tobler's numbers on known slopes, the direction of travel, flat
ground unchanged, bridges off the terrain, the bad DEMs, and the cache keys."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import rasterio
from pandas.testing import assert_frame_equal
from pyproj import CRS, Transformer
from rasterio.transform import from_origin
from typer.testing import CliRunner

from conftest import LOCAL_CRS, ORIGIN, metric_points, ways_from_metric
from lifecircle import InputError, Inputs, Study, make_settings
from lifecircle.cli.main import app
from lifecircle.errors import CRSError
from lifecircle.naming import dist_col
from lifecircle.network import Network, build_network
from lifecircle.outputs import input_files
from lifecircle.routing import nearest_facility
from lifecircle.snapping import Snapped, snap_points
from lifecircle.sources.osm import off_terrain, read_osm
from lifecircle.study import study_key
from lifecircle.terrain import MAX_NODATA_SHARE, apply_dem, slope_factor, tobler_kmh

Surface = Callable[[np.ndarray, np.ndarray], np.ndarray]  # local metres -> elevation


def write_dem(
    path: Path,
    z: Surface,
    *,
    crs: CRS | None = LOCAL_CRS,
    half: float = 600.0,
    cell: float = 5.0,
    nodata: float | None = None,
) -> Path:
    """A GeoTIFF in the local metric CRS around ORIGIN (``half`` metres each way), holding
    ``z(x, y)`` of local coordinates at the cell centres."""
    n = int(2 * half / cell)
    x0, y1 = ORIGIN[0] - half, ORIGIN[1] + half
    cx = -half + (np.arange(n) + 0.5) * cell
    cy = half - (np.arange(n) + 0.5) * cell
    xx, yy = np.meshgrid(cx, cy)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=n,
        width=n,
        count=1,
        dtype="float64",
        crs=None if crs is None else crs.to_wkt(),
        transform=from_origin(x0, y1, cell, cell),
        nodata=nodata,
    ) as dst:
        dst.write(z(xx, yy), 1)
    return path


def ramp(slope: float) -> Surface:
    return lambda x, y: slope * x


def line_net(*, structure: tuple[bool, ...] = ()) -> Network:
    """One street 200 m long from node 1 (x=0) east to node 3 (x=200)."""
    ways = ways_from_metric([[(1, 0.0, 0.0), (2, 100.0, 0.0), (3, 200.0, 0.0)]])
    for w, s in zip(ways, structure, strict=False):
        w.structure = s
    return build_network(ways, LOCAL_CRS)


def snapped(net: Network, xy: list[tuple[float, float]]) -> Snapped:
    return snap_points(metric_points(xy), net, max_snap_m=50.0)


# ---- Tobler's numbers --------------------------------------------------------------------


def test_tobler_function_and_its_flat_scale():
    assert tobler_kmh(0.0) == pytest.approx(6 * np.exp(-0.175))  # 5.036 km/h
    assert tobler_kmh(-0.05) == pytest.approx(6.0)  # the fastest: a gentle downhill
    assert slope_factor(0.0) == 1.0  # flat ground costs exactly its length
    assert slope_factor(0.1) == pytest.approx(np.exp(0.35))
    assert slope_factor(-0.1) == pytest.approx(1.0)  # as slow as flat ground
    assert slope_factor(-0.05) == pytest.approx(np.exp(-0.175))
    assert slope_factor(0.2) == pytest.approx(np.exp(0.7))
    assert slope_factor(-0.2) == pytest.approx(np.exp(0.35))


@pytest.mark.parametrize("slope", [0.1, 0.2, -0.03])
def test_edge_costs_on_a_known_ramp(tmp_path, slope):
    net = line_net()
    assert net.n_edges == 1
    t = apply_dem(net, write_dem(tmp_path / "ramp.tif", ramp(slope)))
    east = 1 if net.node_osmid[net.edge_u[0]] == 1 else -1  # u -> v runs east?
    up, down = 200 * slope_factor(east * slope), 200 * slope_factor(-east * slope)
    assert t.edge_cost_uv[0] == pytest.approx(float(up), rel=1e-9)
    assert t.edge_cost_vu[0] == pytest.approx(float(down), rel=1e-9)
    assert sorted(t.node_z) == pytest.approx(sorted([0.0, 200 * slope]), abs=1e-9)
    assert t.terrain["sampling"] == "bilinear"
    assert net.edge_cost_uv is None  # the network given is not changed


def test_a_dem_in_another_crs(tmp_path):
    """A geographic DEM (lon/lat cells) of the same 10 % ramp gives the same costs."""
    net = line_net()
    to_local = Transformer.from_crs("EPSG:4326", LOCAL_CRS, always_xy=True)
    from_local = Transformer.from_crs(LOCAL_CRS, "EPSG:4326", always_xy=True)
    lon0, lat0 = from_local.transform(ORIGIN[0] - 600, ORIGIN[1] - 600)
    lon1, lat1 = from_local.transform(ORIGIN[0] + 600, ORIGIN[1] + 600)
    n = 300
    dlon, dlat = (lon1 - lon0) / n, (lat1 - lat0) / n
    lons = lon0 + (np.arange(n) + 0.5) * dlon
    lats = lat1 - (np.arange(n) + 0.5) * dlat
    glon, glat = np.meshgrid(lons, lats)
    x, _ = to_local.transform(glon, glat)
    path = tmp_path / "geo.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=n,
        width=n,
        count=1,
        dtype="float64",
        crs="EPSG:4326",
        transform=from_origin(lon0, lat1, dlon, dlat),
    ) as dst:
        dst.write(0.1 * (x - ORIGIN[0]), 1)
    t = apply_dem(net, path)
    costs = sorted([t.edge_cost_uv[0], t.edge_cost_vu[0]])
    assert costs == pytest.approx([200.0, 200 * np.exp(0.35)], rel=2e-3)
    assert t.terrain["dem_crs"] == "EPSG:4326"


# ---- the direction of travel ---------------------------------------------------------------


def test_walking_up_to_a_facility_takes_longer_than_walking_down(tmp_path):
    """Routing goes outward from the facility, but the resident walks TO it."""
    net = apply_dem(line_net(), write_dem(tmp_path / "ramp.tif", ramp(0.1)))
    bottom, top = snapped(net, [(0.0, 0.0)]), snapped(net, [(200.0, 0.0)])
    up = nearest_facility(net, top, bottom).origin_m[0]  # resident at the bottom
    down = nearest_facility(net, bottom, top).origin_m[0]  # resident at the top
    assert up == pytest.approx(200 * np.exp(0.35), rel=1e-9)
    assert down == pytest.approx(200.0, rel=1e-9)
    assert up > down
    # half-way up: the part of the edge costs its share
    mid = snapped(net, [(100.0, 0.0)])
    assert nearest_facility(net, top, mid).origin_m[0] == pytest.approx(100 * np.exp(0.35))
    assert nearest_facility(net, bottom, mid).origin_m[0] == pytest.approx(100.0)


def _directed_oracle(net: Network, fac: Snapped, origins: Snapped) -> np.ndarray:
    """networkx on a directed graph: every origin and facility inserted on its edge, each
    stretch costing its share of the edge's cost in the direction walked."""
    g = nx.DiGraph()
    on_edge: dict[int, list[tuple[float, object]]] = {}
    for kind, snap in (("f", fac), ("o", origins)):
        for i in np.flatnonzero(snap.on_network):
            on_edge.setdefault(int(snap.edge[i]), []).append((float(snap.offset_m[i]), (kind, i)))

    def add(a: object, b: object, w: float) -> None:
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > w):
            g.add_edge(a, b, weight=w)

    for e in np.flatnonzero(net.edge_kept):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_len[e])
        fw, bw = net.edge_cost_uv[e] / length, net.edge_cost_vu[e] / length
        pts = sorted(on_edge.get(int(e), []), key=lambda p: p[0])
        chain = [(0.0, ("n", u)), *[(t, ("p", int(e), k)) for k, (t, _) in enumerate(pts)]]
        chain.append((length, ("n", v)))
        for (t0, a), (t1, b) in itertools.pairwise(chain):
            add(a, b, (t1 - t0) * fw)
            add(b, a, (t1 - t0) * bw)
        for k, (_, who) in enumerate(pts):
            add(("p", int(e), k), who, 0.0)
            add(who, ("p", int(e), k), 0.0)
    for i in np.flatnonzero(fac.on_network):
        g.add_edge(("f", i), "GOAL", weight=float(fac.leg_m[i]))
    dist = nx.single_source_dijkstra_path_length(g.reverse(), "GOAL")
    out = np.full(len(origins), np.inf)
    for i in np.flatnonzero(origins.on_network):
        if ("o", i) in dist:
            out[i] = dist[("o", i)] + float(origins.leg_m[i])
    return out


def test_directed_routing_matches_a_directed_oracle(tmp_path):
    """A hilly 4 × 4 street grid: every resident's walk to the nearest facility equals the
    oracle's walk toward it, and differs from the walk away from it."""
    lines = []
    nid = lambda i, j: 1 + i * 4 + j  # noqa: E731
    for i in range(4):
        lines.append([(nid(i, j), j * 120.0, i * 110.0) for j in range(4)])
        lines.append([(nid(j, i), i * 120.0, j * 110.0) for j in range(4)])
    net = build_network(ways_from_metric(lines), LOCAL_CRS)
    dem = write_dem(tmp_path / "hills.tif", lambda x, y: 25 * np.sin(x / 70) + 0.08 * y)
    hilly = apply_dem(net, dem)
    rng = np.random.default_rng(7)
    fac = snapped(hilly, [tuple(p) for p in rng.uniform(0, 330, size=(3, 2))])
    res = snapped(hilly, [tuple(p) for p in rng.uniform(0, 330, size=(40, 2))])
    got = nearest_facility(hilly, fac, res).origin_m
    assert got == pytest.approx(_directed_oracle(hilly, fac, res), rel=1e-9)
    # the reverse direction (the facility walking to the resident) is not what we return
    swapped = hilly.flat()
    swapped.edge_cost_uv, swapped.edge_cost_vu = hilly.edge_cost_vu, hilly.edge_cost_uv
    assert not np.allclose(_directed_oracle(swapped, fac, res), got)
    assert not np.allclose(nearest_facility(net, fac, res).origin_m, got)


# ---- flat ground and the study -----------------------------------------------------------


GRID_FACILITIES = [
    ("m1", "market", "<script>alert(1)</script>", 0.5, 0.5),
    ("c1", "clinic", '=HYPERLINK("x")', 5.0, 5.2),
    ("k1", "kindergarten", "{{ 7*7 }}", 1.2, 8.7),
]


@pytest.fixture(scope="module")
def town(street_grid, tmp_path_factory) -> Path:
    from conftest import GRID_LAT0, GRID_LON0, GRID_STEP

    d = tmp_path_factory.mktemp("hilltown")
    street_grid(d / "grid.osm", 11)
    lines = ["id,category,name,lon,lat"]
    lines += [
        f'{i},{c},"{n.replace(chr(34), chr(34) * 2)}",{GRID_LON0 + x * GRID_STEP:.6f},'
        f"{GRID_LAT0 + y * GRID_STEP:.6f}"
        for i, c, n, x, y in GRID_FACILITIES
    ]
    (d / "facilities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def geo_dem(path: Path, z: Callable[[np.ndarray, np.ndarray], np.ndarray], **kw) -> Path:
    """A lon/lat DEM over the street grid: ``z(metres east, metres north)`` of its corner."""
    from conftest import GRID_LAT0, GRID_LON0

    n, d = 120, 0.0002
    lon0, lat1 = GRID_LON0 - 0.006, GRID_LAT0 + 0.018
    lons = lon0 + (np.arange(n) + 0.5) * d
    lats = lat1 - (np.arange(n) + 0.5) * d
    glon, glat = np.meshgrid(lons, lats)
    east = (glon - GRID_LON0) * 111_320 * np.cos(np.radians(GRID_LAT0))
    north = (glat - GRID_LAT0) * 110_570
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=n,
        width=n,
        count=1,
        dtype="float64",
        crs=kw.get("crs", "EPSG:4326"),
        transform=from_origin(lon0, lat1, d, d),
        nodata=kw.get("nodata"),
    ) as dst:
        dst.write(z(east, north), 1)
    return path


def _inputs(town: Path, dem: Path | None = None) -> Inputs:
    return Inputs(
        osm=town / "grid.osm",
        facilities=(town / "facilities.csv",),
        osm_facilities=False,
        dem=dem,
    )


@pytest.fixture(scope="module")
def settings():
    return make_settings(grid_cell_m=300.0, processes=1)


@pytest.fixture(scope="module")
def flat_result(town, settings):
    return Study.from_inputs(_inputs(town), settings).coverage()


def test_a_flat_dem_gives_the_results_of_no_dem(town, settings, flat_result, tmp_path):
    dem = geo_dem(tmp_path / "flat.tif", lambda x, y: np.full_like(x, 12.5))
    study = Study.from_inputs(_inputs(town, dem), settings)
    assert study.network.has_terrain
    got = study.coverage()
    assert_frame_equal(got.coverage, flat_result.coverage)
    assert_frame_equal(got.area_coverage, flat_result.area_coverage)
    cols = [c for c in got.residents.columns if c.startswith(("dist_m_", "time_"))]
    assert_frame_equal(got.residents[cols], flat_result.residents[cols])
    terrain = got.summary["terrain"]
    assert terrain["elevation_min_m"] == terrain["elevation_max_m"] == 12.5
    cmp = terrain["comparison"]
    assert cmp["coverage_with_data_dem"] == cmp["coverage_with_data_flat"]
    keys = [k["key"] for k in got.summary["note_keys"] if k]
    assert "dem_used" in keys and "dem_coverage_change" in keys


def test_a_steep_hill_lengthens_every_walk_and_is_reported(town, settings, flat_result, tmp_path):
    """On a 20 % slope Tobler's factor exceeds 1 both ways (2.01 up, 1.42 down)."""
    dem = geo_dem(tmp_path / "hill.tif", lambda x, y: 0.2 * y)
    got = Study.from_inputs(_inputs(town, dem), settings).coverage()
    for cat in ("market", "clinic", "kindergarten"):
        hilly = got.residents[dist_col(cat)].to_numpy()
        flat = flat_result.residents[dist_col(cat)].to_numpy()
        fin = np.isfinite(flat) & np.isfinite(hilly)
        assert (hilly[fin] >= flat[fin] - 1e-9).all()
        assert (hilly[fin] > flat[fin] * 1.3).any()
    terrain = got.summary["terrain"]
    assert terrain["elevation_max_m"] - terrain["elevation_min_m"] == pytest.approx(
        0.2 * 10 * 111.1, rel=0.05
    )
    cmp = terrain["comparison"]
    assert cmp["coverage_with_data_dem"] <= cmp["coverage_with_data_flat"]
    for cat, share in cmp["within_threshold_dem"].items():
        assert share <= cmp["within_threshold_flat"][cat] + 1e-12


# ---- bridges and tunnels -------------------------------------------------------------------


def test_osm_tags_that_lift_a_way_off_the_terrain(tmp_path):
    assert off_terrain({"bridge": "yes"})
    assert off_terrain({"bridge": "viaduct"})
    assert off_terrain({"tunnel": "building_passage"})
    assert off_terrain({"layer": "1"})
    assert off_terrain({"layer": "-1"})
    assert not off_terrain({"bridge": "no"})
    assert not off_terrain({"layer": "0"})
    assert not off_terrain({"layer": "high"})
    assert not off_terrain({"highway": "footway"})
    osm = tmp_path / "bridge.osm"
    osm.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="31.23" lon="121.47"/><node id="2" lat="31.23" lon="121.471"/>'
        '<node id="3" lat="31.23" lon="121.472"/>'
        '<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way>'
        '<way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="footway"/>'
        '<tag k="bridge" v="yes"/><tag k="layer" v="1"/></way></osm>',
        encoding="utf-8",
    )
    from lifecircle.categories import load_taxonomy
    from lifecircle.config import load_walk_filter

    data = read_osm(osm, walk_filter=load_walk_filter(None), taxonomy=load_taxonomy(None))
    assert {w.way_id: w.structure for w in data.ways} == {10: False, 11: True}


def _valley_net(bridge: bool) -> Network:
    """Ground from x=-100 to 0, a bridge (two ways meeting at x=100) to x=200, ground to 300."""
    ways = ways_from_metric(
        [
            [(1, -100.0, 0.0), (2, 0.0, 0.0)],
            [(2, 0.0, 0.0), (5, 50.0, 0.0), (6, 100.0, 0.0)],
            [(6, 100.0, 0.0), (7, 200.0, 0.0)],
            [(7, 200.0, 0.0), (8, 300.0, 0.0)],
        ]
    )
    ways[1].structure = ways[2].structure = bridge
    return build_network(ways, LOCAL_CRS)


def _valley(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A gorge 30 m deep under the bridge; the far bank 10 m higher than the near one."""
    return 0.05 * x - 30 * np.exp(-(((x - 100) / 30) ** 2))


def test_a_bridge_over_a_valley_keeps_the_slope_between_its_banks(tmp_path):
    dem = write_dem(tmp_path / "valley.tif", _valley)
    net = apply_dem(_valley_net(True), dem)
    z = dict(zip(net.node_osmid.tolist(), net.node_z.tolist(), strict=True))
    assert z[2] == pytest.approx(0.0, abs=1e-3)  # the banks: on the ground
    assert z[7] == pytest.approx(10.0, abs=1e-3)
    assert z[6] == pytest.approx(5.0, abs=1e-3)  # mid-span: between the banks, not -25 m
    # each bridge edge: the even 5 % slope from bank to bank, both ways
    for e in np.flatnonzero(net.edge_structure):
        length = net.edge_len[e]
        east = net.node_osmid[net.edge_u[e]] in (2, 5) or net.node_osmid[net.edge_v[e]] == 7
        up, down = length * slope_factor(0.05), length * slope_factor(-0.05)
        fw, bw = (up, down) if east else (down, up)
        assert net.edge_cost_uv[e] == pytest.approx(float(fw), rel=1e-6)
        assert net.edge_cost_vu[e] == pytest.approx(float(bw), rel=1e-6)
    assert net.terrain["structure_edges"] == 2
    # the same ways on the ground go down into the gorge and up again: dearer
    ground = apply_dem(_valley_net(False), dem)
    span = ~np.isin(ground.node_osmid[ground.edge_u], [1, 8]) & ~np.isin(
        ground.node_osmid[ground.edge_v], [1, 8]
    )
    assert ground.edge_cost_uv[span].sum() > 1.3 * net.edge_cost_uv[span].sum()


def test_a_level_bridge_costs_its_length(tmp_path):
    dem = write_dem(tmp_path / "gorge.tif", lambda x, y: -30 * np.exp(-(((x - 100) / 30) ** 2)))
    net = apply_dem(_valley_net(True), dem)
    st = net.edge_structure
    assert net.edge_cost_uv[st] == pytest.approx(net.edge_len[st], rel=1e-9)
    assert net.edge_cost_vu[st] == pytest.approx(net.edge_len[st], rel=1e-9)


# ---- bad DEMs --------------------------------------------------------------------------------


def test_a_dem_that_does_not_overlap_is_refused(tmp_path):
    path = write_dem(tmp_path / "far.tif", ramp(0.1))
    with rasterio.open(path, "r+") as ds:
        ds.transform = from_origin(ORIGIN[0] + 50_000, ORIGIN[1] + 50_000, 5.0, 5.0)
    with pytest.raises(InputError, match=r"--dem .*far\.tif.*does not overlap.*give a DEM"):
        apply_dem(line_net(), path)


def test_a_dem_without_crs_is_refused(tmp_path):
    path = write_dem(tmp_path / "nocrs.tif", ramp(0.1), crs=None)
    with pytest.raises(CRSError, match=r"nocrs\.tif.*no coordinate reference system.*set it"):
        apply_dem(line_net(), path)


def test_a_missing_dem_is_refused_before_any_work(tmp_path):
    inputs = Inputs(osm=tmp_path / "x.osm", dem=tmp_path / "nowhere.tif")
    (tmp_path / "x.osm").write_text("<osm/>", encoding="utf-8")
    with pytest.raises(InputError, match=r"--dem .*nowhere\.tif: no such file"):
        inputs.check()


def test_a_dem_without_crs_is_refused_before_the_osm_is_read(tmp_path):
    path = write_dem(tmp_path / "nocrs.tif", ramp(0.1), crs=None)
    (tmp_path / "x.osm").write_text("<osm/>", encoding="utf-8")
    with pytest.raises(CRSError, match=r"nocrs\.tif.*no coordinate reference system"):
        Inputs(osm=tmp_path / "x.osm", dem=path).check()


def test_an_unreadable_dem_is_refused(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_text("not a raster", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.tif: not a readable raster"):
        apply_dem(line_net(), path)


def test_a_dem_of_nodata_is_refused(tmp_path):
    path = write_dem(tmp_path / "void.tif", lambda x, y: np.full_like(x, -9999.0), nodata=-9999)
    with pytest.raises(InputError, match=r"void\.tif: the DEM holds no data under the walk"):
        apply_dem(line_net(), path)


def test_nodata_over_part_of_the_network(tmp_path):
    """Nodata under more than MAX_NODATA_SHARE of the length is refused; less is walked as
    flat ground and reported."""
    big = write_dem(
        tmp_path / "big.tif", lambda x, y: np.where(x > 150, -9999.0, 0.1 * x), nodata=-9999
    )
    with pytest.raises(InputError, match=r"big\.tif: \d+% of the walk network's length"):
        apply_dem(line_net(), big)
    small = write_dem(
        tmp_path / "small.tif", lambda x, y: np.where(x > 196, -9999.0, 0.1 * x), nodata=-9999
    )
    net = apply_dem(line_net(), small)
    share = net.terrain["nodata_length_share"]
    assert 0 < share <= MAX_NODATA_SHARE
    from lifecircle.terrain import terrain_notes

    assert [n.key for n in terrain_notes(net)] == ["dem_used", "dem_partial_nodata"]
    # the stretch without data costs its length: between the flat edge and the full ramp
    up = max(net.edge_cost_uv[0], net.edge_cost_vu[0])
    assert 200 < up < 200 * np.exp(0.35)


def test_cli_refuses_a_bad_dem_with_exit_2_and_keeps_the_earlier_run(town, tmp_path):
    out = tmp_path / "out"
    base = ["analyze", "--osm", str(town / "grid.osm"), "--facilities"]
    base += [str(town / "facilities.csv"), "--no-osm-facilities", "--grid-cell-m", "300"]
    first = CliRunner().invoke(app, [*base, "--out", str(out), "-q"])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    far = write_dem(tmp_path / "far.tif", ramp(0.1))  # around ORIGIN, far from Shanghai's grid
    res = CliRunner().invoke(
        app, [*base, "--out", str(out), "--overwrite", "-q", "--dem", str(far)]
    )
    assert res.exit_code == 2
    assert "does not overlap" in res.output
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before


# ---- caches ----------------------------------------------------------------------------------


def test_the_study_key_follows_the_dem(town, settings, tmp_path):
    a = geo_dem(tmp_path / "dem.tif", lambda x, y: 0.1 * x)
    key_a = study_key(input_files(_inputs(town, a)), _inputs(town, a), settings)
    key_none = study_key(input_files(_inputs(town)), _inputs(town), settings)
    geo_dem(tmp_path / "dem.tif", lambda x, y: 0.1 * y)  # same path, new elevations
    key_b = study_key(input_files(_inputs(town, a)), _inputs(town, a), settings)
    assert len({key_a, key_b, key_none}) == 3


def test_summary_and_notes_name_the_dem_as_text(town, tmp_path):
    """A hostile DEM file name is text in every output that shows the notes."""
    dem = geo_dem(tmp_path / "<script>{{ 7*7 }}=1+1.tif", lambda x, y: 0.05 * x)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "analyze",
            "--osm",
            str(town / "grid.osm"),
            "--facilities",
            str(town / "facilities.csv"),
            "--no-osm-facilities",
            "--grid-cell-m",
            "300",
            "--dem",
            str(dem),
            "--out",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["terrain"]["dem"].endswith("=1+1.tif")
    assert any("<script>{{ 7*7 }}=1+1.tif" in n for n in summary["notes"])
    assert "dem" in summary["provenance"]["inputs"]
    for html in out.glob("*.html"):
        text = html.read_text("utf-8")
        assert "<script>{{ 7*7 }}" not in text


# ---- every search of the engine walks toward the facility ---------------------------------


@pytest.fixture(scope="module")
def hills(tmp_path_factory) -> tuple[Network, Snapped, Snapped, np.ndarray]:
    """The hilly 4 × 4 grid with three facilities (and their points) and 40 residents."""
    lines = []
    nid = lambda i, j: 1 + i * 4 + j  # noqa: E731
    for i in range(4):
        lines.append([(nid(i, j), j * 120.0, i * 110.0) for j in range(4)])
        lines.append([(nid(j, i), i * 120.0, j * 110.0) for j in range(4)])
    dem = write_dem(
        tmp_path_factory.mktemp("hills") / "hills.tif",
        lambda x, y: 25 * np.sin(x / 70) + 0.08 * y,
    )
    net = apply_dem(build_network(ways_from_metric(lines), LOCAL_CRS), dem)
    rng = np.random.default_rng(11)
    fac_xy = rng.uniform(0, 330, size=(3, 2))
    fac = snapped(net, [tuple(p) for p in fac_xy])
    res = snapped(net, [tuple(p) for p in rng.uniform(0, 330, size=(40, 2))])
    return net, fac, res, fac_xy + np.array(ORIGIN)


def test_catchments_walk_toward_each_facility(hills):
    from lifecircle.capacity import catchment_pairs

    net, fac, res, _ = hills
    r, f, d = catchment_pairs(net, np.arange(3), fac, res, n_facilities=3, limit_m=1e6)
    for k in range(3):
        one = Snapped(*(a[[k]] for a in (fac.edge, fac.offset_m, fac.leg_m, fac.near_dropped)))
        want = _directed_oracle(net, one, res)
        got = np.full(len(res), np.inf)
        got[r[f == k]] = d[f == k]
        assert got == pytest.approx(want, rel=1e-9)


def test_candidate_reach_walks_toward_each_candidate(hills):
    from lifecircle.sitereach import reach_matrix

    net, fac, res, xy = hills
    limit = 260.0
    m = reach_matrix(net, np.arange(3), fac, res, n_candidates=3, xy=xy, limit_m=limit)
    for k in range(3):
        one = Snapped(*(a[[k]] for a in (fac.edge, fac.offset_m, fac.leg_m, fac.near_dropped)))
        want = _directed_oracle(net, one, res) <= limit
        assert (m[k].toarray().ravel() == want).all()
        assert want.any() and not want.all()


def test_service_area_samples_walk_toward_the_facility(hills):
    import shapely

    from lifecircle.isochrones import EdgeSamples
    from lifecircle.routing import facility_field

    net, fac, _, _ = hills
    samples = EdgeSamples(net, 15.0)
    got = samples.distance(facility_field(net, fac).node_m, fac)
    at = snap_points(shapely.points(samples.xy), net, max_snap_m=0.01)
    want = nearest_facility(net, fac, at).origin_m
    assert got == pytest.approx(want, rel=1e-6, abs=1e-6)


# ---- batch -------------------------------------------------------------------------------------


def test_batch_districts_walk_the_terrain_as_analyze_does(tmp_path):
    """--dem flows into every district of a batch, gives what analyze --area --dem gives, and
    a changed DEM is not served from the batch's finished districts."""
    import geopandas as gpd
    import shapely

    from lifecircle.sources.osm import overpass_json_to_osm_xml

    fixtures = Path(__file__).parent / "fixtures"
    resp = json.loads((fixtures / "overpass_small.json").read_text("utf-8"))
    osm = overpass_json_to_osm_xml(resp, tmp_path / "small.osm")
    halves = [
        shapely.box(121.4695, 31.2295, 121.471, 31.2322),
        shapely.box(121.471, 31.2295, 121.4725, 31.2322),
    ]
    gpd.GeoDataFrame({"code": ["W", "E"]}, geometry=halves, crs=4326).to_file(tmp_path / "d.gpkg")
    gpd.GeoDataFrame({"code": ["W"]}, geometry=halves[:1], crs=4326).to_file(tmp_path / "w.gpkg")
    dem = geo_dem(tmp_path / "dem.tif", lambda x, y: 0.15 * x + 0.05 * y)
    out = tmp_path / "out"
    args = ["batch", "--osm", osm, "--districts", tmp_path / "d.gpkg", "--out", out]
    args += ["--workers", 1, "--dem", dem, "--tiles", "none"]
    r = CliRunner().invoke(app, ["-q", *map(str, args)])
    assert r.exit_code == 0, r.output
    west = next(p for p in out.iterdir() if p.is_dir() and p.name.startswith("W"))
    summary = json.loads((west / "summary.json").read_text("utf-8"))
    assert summary["terrain"]["elevation_max_m"] > summary["terrain"]["elevation_min_m"]
    alone = tmp_path / "alone"
    one = ["analyze", "--osm", osm, "--area", tmp_path / "w.gpkg", "--dem", dem]
    a = CliRunner().invoke(app, ["-q", *map(str, [*one, "--out", alone, "--tiles", "none"])])
    assert a.exit_code == 0, a.output
    assert (west / "coverage.csv").read_bytes() == (alone / "coverage.csv").read_bytes()
    geo_dem(dem, lambda x, y: 0.15 * y)  # new elevations, same file
    r = CliRunner().invoke(app, ["-q", *map(str, args)])
    assert r.exit_code == 0, r.output
    again = json.loads((west / "summary.json").read_text("utf-8"))["terrain"]
    assert again["elevation_max_m"] - again["elevation_min_m"] != pytest.approx(
        summary["terrain"]["elevation_max_m"] - summary["terrain"]["elevation_min_m"]
    )
