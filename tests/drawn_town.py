"""Small towns drawn in local metres (EPSG:4549 around conftest's ORIGIN, so the analysis CRS is
the drawing's and every length is exact), written as the files ``lifecircle analyze`` reads.
Helpers for the sensitivity tests; no tests here."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
from pyproj import Transformer

from conftest import LOCAL_CRS, ORIGIN

HOSTILE = ["<script>alert(1)</script>", "{{ 7*7 }}", '=HYPERLINK("http://x","y")', "+1", "@SUM(A1)"]


@cache
def _to_wgs84() -> Transformer:
    return Transformer.from_crs(LOCAL_CRS, "EPSG:4326", always_xy=True)


def to_lonlat(xy: np.ndarray) -> np.ndarray:
    """Local metres (around conftest's ORIGIN) to lon/lat: conftest.to_lonlat, with one
    transformer for all calls (making one takes a noticeable time)."""
    lon, lat = _to_wgs84().transform(xy[:, 0] + ORIGIN[0], xy[:, 1] + ORIGIN[1])
    return np.column_stack([lon, lat])


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = to_lonlat(np.array([[x, y]], dtype=float))[0]
    return float(lon), float(lat)


def write_osm(path: Path, ways: list[list[tuple[int, float, float]]]) -> Path:
    """An .osm file of footways, each a list of (node id, x, y) in local metres."""
    nodes: dict[int, tuple[float, float]] = {}
    for way in ways:
        for nid, x, y in way:
            nodes[nid] = _lonlat(x, y)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [
        f'<node id="{n}" version="1" lat="{lat:.9f}" lon="{lon:.9f}"/>'
        for n, (lon, lat) in sorted(nodes.items())
    ]
    for i, way in enumerate(ways, start=1):
        refs = "".join(f'<nd ref="{n}"/>' for n, _, _ in way)
        lines.append(f'<way id="{i}" version="1">{refs}<tag k="highway" v="footway"/></way>')
    path.write_text("\n".join([*lines, "</osm>"]) + "\n", encoding="utf-8")
    return path


def write_points(path: Path, xyw: list[tuple[float, float, float]]) -> Path:
    """Resident points (CSV lon,lat,weight) at (x, y) metres with a weight."""
    rows = ["lon,lat,weight"]
    lonlat = to_lonlat(np.array([(x, y) for x, y, _ in xyw], dtype=float))
    for (lon, lat), (_, _, w) in zip(lonlat, xyw, strict=True):
        rows.append(f"{lon:.9f},{lat:.9f},{w}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_facilities(path: Path, rows: list[tuple[str, str, float, float]]) -> Path:
    """Facilities (CSV id,category,name,lon,lat): (id, category, x, y)."""
    lines = ["id,category,name,lon,lat"]
    for fid, cat, x, y in rows:
        lon, lat = _lonlat(x, y)
        lines.append(f"{fid},{cat},{cat} {fid},{lon:.9f},{lat:.9f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_communities(path: Path, boxes: list[tuple[str, str, float, float, float, float]]) -> Path:
    """Community polygons (GeoJSON, WGS 84): (id, name, x0, y0, x1, y1) boxes in metres."""
    feats = []
    for cid, name, x0, y0, x1, y1 in boxes:
        ring = [_lonlat(x, y) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]
        feats.append(
            {
                "type": "Feature",
                "properties": {"id": cid, "name": name},
                "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


PRESET = """name = "sensitivity-test"
target = {target}
minutes = {minutes}
speed_band_m_s = {band}

[profiles]
standard = {speed}
{extra_profiles}
[thresholds]
{thresholds}

[basket]
mandatory = {basket}
"""


def write_preset(
    path: Path,
    *,
    target: float,
    minutes: list[int],
    speed: float,
    band: float = 0.1,
    thresholds: dict[str, int],
    basket: list[str],
    elderly: float | None = None,
) -> Path:
    path.write_text(
        PRESET.format(
            target=target,
            minutes=minutes,
            band=band,
            speed=speed,
            extra_profiles=f"elderly = {elderly}\n" if elderly else "",
            thresholds="\n".join(f"{k} = {v}" for k, v in thresholds.items()),
            basket=json.dumps(basket),
        ),
        encoding="utf-8",
    )
    return path


def street_town(d: Path) -> dict[str, Path]:
    r"""One 1000 m street, a market at its west end, five residents (weight 1 each)::

                    R5 (300, 250)        250 m off: on the network only at a 300 m limit
                                R4 (400, 150)   150 m off: on at 200 and 300 m, off at 100 m
        F(0,0)==========R1(550,0)==R2(650,0)=====R3(800,0)=========(1000,0)

    One community around all of it, and one north of it with nobody in it. At 1.0 m/s for 10
    minutes a resident may walk 600 m (540 m at 0.9 m/s, 660 m at 1.1 m/s): R1 walks 550 m,
    R2 650, R3 800, R4 400 + 150 = 550, R5 300 + 250 = 550 (when on the network).
    """
    return {
        "osm": write_osm(d / "street.osm", [[(1, 0.0, 0.0), (2, 1000.0, 0.0)]]),
        "population": write_points(
            d / "residents.csv",
            [(550, 0, 1), (650, 0, 1), (800, 0, 1), (400, 150, 1), (300, 250, 1)],
        ),
        "facilities": write_facilities(d / "market.csv", [("F", "market", 0.0, 0.0)]),
        "communities": write_communities(
            d / "street.geojson",
            [("c1", "街", -50, -50, 1050, 300), ("c2", "empty", -50, 300, 1050, 400)],
        ),
        "preset": write_preset(
            d / "street.toml",
            target=0.35,
            minutes=[10],
            speed=1.0,
            thresholds={"market": 10},
            basket=["market"],
        ),
    }


def grid_town(d: Path) -> dict[str, Path]:
    r"""A 5 × 5 street grid, 200 m blocks (0…800 m each way), residents every 50 m over a box
    reaching 400 m east of it (so some are off the network at each snapping limit), markets and
    clinics some of which lie off the network, and five communities (vertical strips) with
    hostile names::

        y 800  +---+---+---+---+ . . . . . . . .
               |   |   |   |   |     residents only (x 800…1200): 0–400 m off
        y 0    +---+---+---+---+ . . . . . . . .
              x 0             800            1200
    """
    ways = []
    ids = lambda r, c: 1 + 5 * r + c  # noqa: E731
    for r in range(5):
        ways.append([(ids(r, c), 200.0 * c, 200.0 * r) for c in range(5)])
        ways.append([(ids(c, r), 200.0 * r, 200.0 * c) for c in range(5)])
    xs, ys = np.arange(-50, 1201, 50), np.arange(-50, 851, 50)
    pts = [(float(x), float(y), 1.0 + (int(x) * 7 + int(y) * 3) % 5) for x in xs for y in ys]
    facilities = [
        ("m1", "market", 100.0, 0.0),
        ("m2", "market", 700.0, 600.0),
        ("m3", "market", 950.0, 400.0),  # 150 m off the network
        ("m4", "market", 1050.0, 100.0),  # 250 m off
        ("h1", "health", 400.0, 400.0),
        ("h2", "health", 200.0, 700.0),
        ("h3", "health", 900.0, 750.0),  # 100 m off
    ]
    width = 1300 / len(HOSTILE)
    boxes = [
        (f"c{i}", name, -100 + i * width, -100, -100 + (i + 1) * width, 900)
        for i, name in enumerate(HOSTILE)
    ]
    return {
        "osm": write_osm(d / "grid.osm", ways),
        "population": write_points(d / "residents.csv", pts),
        "facilities": write_facilities(d / "facilities.csv", facilities),
        "communities": write_communities(d / "grid.geojson", boxes),
        "preset": write_preset(
            d / "grid.toml",
            target=0.6,
            minutes=[5, 10, 15],
            speed=1.1,
            elderly=0.9,
            thresholds={"market": 10, "health": 15},
            basket=["market", "health"],
        ),
    }
