"""Shared fixtures: hand-drawn graphs with exact lengths, real extracts (skipped when absent)."""

from __future__ import annotations

import shutil
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from pyproj import CRS, Transformer

sys.path.insert(0, str(Path(__file__).parent))  # the oracle helper

from lifecircle.network import Network, build_network
from lifecircle.sources.osm import WalkWay

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"
LOCAL_CRS = CRS.from_epsg(4549)  # CGCS2000 GK CM 120E: metres
ORIGIN = (500000.0, 3500000.0)  # a point in that zone (about 120E, 31.6N)


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


def pytest_collection_modifyitems(config, items):
    """Tests marked ``network`` need the internet: skipped unless LIFECIRCLE_NETWORK_TESTS=1."""
    import os

    if os.environ.get("LIFECIRCLE_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set LIFECIRCLE_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
