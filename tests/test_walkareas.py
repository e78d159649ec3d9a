"""Pedestrian network completeness: cycleways people may walk on, crossings, pedestrian areas
(squares) crossed by straight links, and what the run reports about them.

The fixtures are small .osm files drawn in local metres about (121.47 E, 31.23 N)::

    L-shaped square (highway=pedestrian + area=yes), 6 corners, reflex corner R at (40, 40):

      (0,100) 6 ---- 5 (40,100)          N = (20, 100) on the top edge: a footway ends there
              |      |
              |      R 4 (40,40) ----- 3 (100,40)
              |                        |  E = (100, 20) on the east edge: a footway ends there
      (0,0)   1 ---------------------- 2 (100,0)

Distances are checked against the graph's own projected node coordinates, so "equals the straight
segment" is exact in the network's CRS.
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from conftest import LOCAL_CRS
from lifecircle.categories import load_taxonomy
from lifecircle.config import load_walk_filter
from lifecircle.network import Network, build_network, walk_network_notes
from lifecircle.notes import render_note
from lifecircle.sources.osm import OSMData, read_osm
from lifecircle.sources.walkareas import WalkArea, join_walk_areas, level, reflex_corners

WF, TAX = load_walk_filter(), load_taxonomy()
LON0, LAT0 = 121.47, 31.23
M_LON, M_LAT = 111_320.0 * np.cos(np.radians(LAT0)), 111_320.0

Way = tuple[int, list[int], dict[str, str]]


def write_osm(
    path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: list[Way],
    relations: tuple[str, ...] = (),
) -> Path:
    """An .osm file of nodes at local metres (x east, y north) and tagged ways."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for i, (x, y) in nodes.items():
        lat, lon = LAT0 + y / M_LAT, LON0 + x / M_LON
        out.append(f'<node id="{i}" version="1" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for wid, refs, tags in sorted(ways, key=lambda w: w[0]):
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tgs = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        out.append(f'<way id="{wid}" version="1">{nds}{tgs}</way>')
    out += [*relations, "</osm>"]
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def read(path: Path) -> OSMData:
    return read_osm(path, walk_filter=WF, taxonomy=TAX)


def network(data: OSMData) -> Network:
    return build_network(data.ways, LOCAL_CRS, min_component_m=0.0)


def node(net: Network, osmid: int) -> int:
    (i,) = np.flatnonzero(net.node_osmid == osmid)
    return int(i)


def walk_m(net: Network, a: int, b: int) -> float:
    return float(dijkstra(net.csr(), directed=False, indices=node(net, a))[node(net, b)])


def straight_m(net: Network, *osmids: int) -> float:
    xy = net.node_xy[[node(net, i) for i in osmids]]
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


# ---------------------------------------------------------------------------- cycleways


CYCLE = {1: (0.0, 0.0), 3: (200.0, 0.0), 4: (100.0, 100.0)}


def _cycle_town(tmp_path: Path, cycle_tags: dict[str, str]) -> OSMData:
    """Home (1) and shop (3) 200 m apart: the cycleway joins them straight; the walk without
    it goes round through 4, 2 × 141 m."""
    ways: list[Way] = [
        (12, [1, 4], {"highway": "footway"}),
        (13, [4, 3], {"highway": "residential"}),
        (14, [1, 3], {"highway": "cycleway", **cycle_tags}),
    ]
    return read(write_osm(tmp_path / "cycle.osm", CYCLE, ways))


@pytest.mark.parametrize("foot", ["designated", "yes", "permissive"])
def test_cycleway_with_foot_allowed_is_routed_on(tmp_path, foot):
    data = _cycle_town(tmp_path, {"foot": foot})
    assert data.counts["ways_kept_for_walking"] == 1
    assert 14 in {w.way_id for w in data.ways}
    net = network(data)
    assert walk_m(net, 1, 3) == pytest.approx(straight_m(net, 1, 3), rel=1e-9)


@pytest.mark.parametrize(
    "tags",
    [
        {"foot": "no"},
        {},  # a cycleway without a foot tag: a bicycle lane (非机动车道), not a footway
        {"foot": "use_sidepath"},
        {"sidewalk": "both", "foot": "no"},  # foot=no wins over anything
        {"sidewalk": "separate"},  # the sidewalk is its own (footway) way
    ],
)
def test_cycleway_without_foot_access_is_not_routed_on(tmp_path, tags):
    data = _cycle_town(tmp_path, tags)
    assert data.counts["ways_kept_for_walking"] == 0
    assert 14 not in {w.way_id for w in data.ways}
    net = network(data)
    assert walk_m(net, 1, 3) > straight_m(net, 1, 3) + 50
    assert walk_m(net, 1, 3) == pytest.approx(straight_m(net, 1, 4, 3), rel=1e-9)


def test_cycleway_with_a_sidewalk_is_walkable(tmp_path):
    data = _cycle_town(tmp_path, {"sidewalk": "right"})
    assert data.counts["ways_kept_for_walking"] == 1


@pytest.mark.parametrize(
    ("tags", "kind"),
    [
        ({"highway": "cycleway", "foot": "designated"}, "kept"),
        ({"highway": "cycleway", "cycleway": "crossing", "foot": "designated"}, "kept"),
        ({"highway": "cycleway", "foot": "no"}, "excluded"),
        ({"highway": "cycleway", "foot": "designated", "access": "private"}, "kept"),
        ({"highway": "footway", "footway": "crossing"}, "walk"),
        ({"highway": "footway", "footway": "crossing", "foot": "no"}, "excluded"),
        ({"highway": "footway", "footway": "sidewalk"}, "walk"),
        ({"highway": "path", "bicycle": "designated"}, "walk"),
        ({"highway": "pedestrian", "area": "yes"}, "excluded"),  # an area, not a line
    ],
)
def test_walk_filter_keeps_what_pedestrians_use(tags, kind):
    assert WF.classify(tags) == kind


def test_crossings_are_routed_on_and_counted(tmp_path):
    nodes = {1: (0.0, 0.0), 2: (0.0, 20.0), 3: (50.0, 0.0), 4: (50.0, 20.0)}
    ways: list[Way] = [
        (1, [1, 3], {"highway": "footway", "footway": "sidewalk"}),
        (2, [2, 4], {"highway": "footway", "footway": "sidewalk"}),
        (3, [1, 2], {"highway": "footway", "footway": "crossing"}),
        (4, [3, 4], {"highway": "cycleway", "cycleway": "crossing", "foot": "designated"}),
    ]
    data = read(write_osm(tmp_path / "x.osm", nodes, ways))
    assert data.counts["ways_crossing"] == 2 and data.counts["ways_kept_for_walking"] == 1
    net = network(data)
    assert walk_m(net, 1, 2) == pytest.approx(straight_m(net, 1, 2), rel=1e-9)
    assert walk_m(net, 3, 4) == pytest.approx(straight_m(net, 3, 4), rel=1e-9)


@pytest.mark.parametrize(
    ("tags", "relation", "walkable"),
    [
        ({"highway": "pedestrian", "area": "yes"}, False, True),
        ({"highway": "footway", "area": "yes"}, False, True),
        ({"highway": "pedestrian"}, False, False),  # a closed pedestrian street: a loop
        ({"highway": "pedestrian"}, True, True),  # a multipolygon is an area
        ({"area:highway": "pedestrian"}, False, True),
        ({"highway": "pedestrian", "area": "yes", "foot": "no"}, False, False),
        ({"highway": "pedestrian", "area": "yes", "access": "private"}, False, False),
        ({"highway": "pedestrian", "area": "yes", "access": "no", "foot": "yes"}, False, True),
        ({"highway": "service", "area": "yes"}, False, False),
    ],
)
def test_walk_areas(tags, relation, walkable):
    assert WF.walk_area(tags, relation=relation) is walkable


# ---------------------------------------------------------------------------- squares


SQUARE = {1: (0.0, 0.0), 2: (80.0, 0.0), 3: (80.0, 60.0), 4: (0.0, 60.0)}


def _square_town(tmp_path: Path, area_tags: dict[str, str] | None = None) -> OSMData:
    """An 80 × 60 m square; a footway reaches its south-west corner from the west, another
    leaves its north-east corner to the east, and a street runs round it 30 m outside."""
    nodes = {**SQUARE, 10: (-50.0, 0.0), 11: (130.0, 60.0)}
    nodes |= {20: (-50.0, -30.0), 21: (130.0, -30.0)}
    tags = {"highway": "pedestrian", "area": "yes", "name": "人民广场"} | (area_tags or {})
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 1], tags),
        (200, [10, 1], {"highway": "footway"}),
        (201, [3, 11], {"highway": "footway"}),
        (202, [10, 20, 21, 11], {"highway": "residential"}),
    ]
    return read(write_osm(tmp_path / "square.osm", nodes, ways))


def test_square_is_crossed_diagonally(tmp_path):
    data = _square_town(tmp_path)
    c = data.counts
    assert (c["pedestrian_areas"], c["pedestrian_areas_joined"], c["pedestrian_area_links"]) == (
        1,
        1,
        1,
    )
    (link,) = [w for w in data.ways if w.highway == "pedestrian_area"]
    assert link.way_id == 100 and link.name == "人民广场" and set(link.node_ids) == {1, 3}
    net = network(data)
    # the diagonal: 100 m drawn, measured in the network's metric CRS
    assert straight_m(net, 1, 3) == pytest.approx(100.0, rel=2e-3)
    assert walk_m(net, 1, 3) == pytest.approx(straight_m(net, 1, 3), rel=1e-9)
    assert walk_m(net, 10, 11) == pytest.approx(straight_m(net, 10, 1, 3, 11), rel=1e-9)


def test_square_joining_two_pieces_is_counted(tmp_path):
    """Without the street round it, only the square joins the two footways."""
    nodes = {**SQUARE, 10: (-50.0, 0.0), 11: (130.0, 60.0)}
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 1], {"highway": "pedestrian", "area": "yes"}),
        (200, [10, 1], {"highway": "footway"}),
        (201, [3, 11], {"highway": "footway"}),
    ]
    net = network(read(write_osm(tmp_path / "two.osm", nodes, ways)))
    assert net.stats["pieces_joined_by_area_links"] == 1 and net.stats["components"] == 1
    assert net.stats["pedestrian_area_links_km"] == pytest.approx(0.1, rel=3e-3)


def test_square_left_out_is_walked_around(tmp_path):
    data = _square_town(tmp_path, {"foot": "no"})
    assert data.counts["pedestrian_areas"] == 0
    assert not any(w.highway == "pedestrian_area" for w in data.ways)
    net = network(data)
    street = float(net.edge_len[net.edge_way == 202].sum())  # 30 + 180 + 90 m round it
    assert street == pytest.approx(300.0, rel=2e-3)
    assert walk_m(net, 10, 11) == pytest.approx(street, rel=1e-9)


L_NODES = {
    1: (0.0, 0.0),
    2: (100.0, 0.0),
    3: (100.0, 40.0),
    4: (40.0, 40.0),
    5: (40.0, 100.0),
    6: (0.0, 100.0),
    7: (20.0, 100.0),  # N, on the top edge (not a corner of the outline)
    8: (100.0, 20.0),  # E, on the east edge
    17: (20.0, 150.0),
    18: (150.0, 20.0),
}


def _l_town(tmp_path: Path, *, relation: bool = False) -> OSMData:
    ways: list[Way] = [
        (300, [7, 17], {"highway": "footway"}),
        (301, [8, 18], {"highway": "footway"}),
    ]
    rels: tuple[str, ...] = ()
    ring = [1, 2, 3, 4, 5, 6, 1]
    if relation:
        ways.append((100, ring, {"barrier": "kerb"}))
        rels = (
            '<relation id="900" version="1"><member type="way" ref="100" role="outer"/>'
            '<tag k="type" v="multipolygon"/><tag k="highway" v="pedestrian"/></relation>',
        )
    else:
        ways.append((100, ring, {"highway": "pedestrian", "area": "yes"}))
    return read(write_osm(tmp_path / "l.osm", L_NODES, ways, rels))


@pytest.mark.parametrize("relation", [False, True])
def test_concave_square_is_not_crossed_through_its_outside(tmp_path, relation):
    data = _l_town(tmp_path, relation=relation)
    links = [w for w in data.ways if w.highway == "pedestrian_area"]
    # N and E do not see each other: each sees the reflex corner, a new node of negative id
    assert len(links) == 2 and data.counts["pedestrian_area_links"] == 2
    corner = {int(i) for w in links for i in w.node_ids} - {7, 8}
    assert len(corner) == 1 and corner.pop() < 0
    assert {w.way_id for w in links} == {-900 if relation else 100}
    net = network(data)
    c = next(int(i) for i in net.node_osmid if i < 0)
    via_corner = straight_m(net, 7, c, 8)
    assert walk_m(net, 7, 8) == pytest.approx(via_corner, rel=1e-9)
    assert via_corner > straight_m(net, 7, 8) + 10  # 126.5 m round the corner, 113.1 m straight
    assert via_corner == pytest.approx(2 * np.hypot(20, 60), rel=2e-3)


def test_square_with_a_hole_is_walked_round_the_hole(tmp_path):
    """A 100 × 100 m square with a 40 × 40 m fountain in the middle (a multipolygon)."""
    nodes = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (100.0, 100.0), 4: (0.0, 100.0)}
    nodes |= {5: (30.0, 30.0), 6: (70.0, 30.0), 7: (70.0, 70.0), 8: (30.0, 70.0)}
    nodes |= {11: (-40.0, 0.0), 13: (140.0, 100.0)}
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 1], {}),
        (101, [5, 6, 7, 8, 5], {"amenity": "fountain"}),
        (200, [11, 1], {"highway": "footway"}),
        (201, [3, 13], {"highway": "footway"}),
    ]
    rel = (
        '<relation id="901" version="1"><member type="way" ref="100" role="outer"/>'
        '<member type="way" ref="101" role="inner"/><tag k="type" v="multipolygon"/>'
        '<tag k="highway" v="pedestrian"/><tag k="area" v="yes"/></relation>'
    )
    data = read(write_osm(tmp_path / "hole.osm", nodes, ways, (rel,)))
    net = network(data)
    # round the fountain's corner (30, 70) or (70, 30): 2 × hypot(30, 70)
    assert walk_m(net, 1, 3) == pytest.approx(2 * np.hypot(30, 70), rel=2e-3)
    assert walk_m(net, 1, 3) > straight_m(net, 1, 3) + 10


def test_area_touched_once_is_unjoined(tmp_path):
    nodes = {**SQUARE, 10: (-50.0, 0.0)}
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 1], {"highway": "pedestrian", "area": "yes"}),
        (200, [10, 1], {"highway": "footway"}),
    ]
    data = read(write_osm(tmp_path / "once.osm", nodes, ways))
    assert data.counts["pedestrian_areas_unjoined"] == 1
    assert data.counts["pedestrian_area_links"] == 0


def test_way_entering_a_square_is_joined_at_its_nodes_inside(tmp_path):
    """A footway ends 10 m inside the square; another passes through its middle."""
    nodes = {**SQUARE, 10: (-50.0, 30.0), 11: (10.0, 30.0), 12: (40.0, -20.0), 13: (40.0, 80.0)}
    nodes |= {14: (40.0, 30.0)}
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 1], {"highway": "pedestrian", "area": "yes"}),
        (200, [10, 11], {"highway": "footway"}),
        (201, [12, 14, 13], {"highway": "footway"}),
    ]
    data = read(write_osm(tmp_path / "enter.osm", nodes, ways))
    links = {frozenset(int(i) for i in w.node_ids) for w in data.ways if w.way_id == 100}
    assert frozenset({11, 14}) in links
    net = network(data)
    assert walk_m(net, 10, 13) == pytest.approx(straight_m(net, 10, 11, 14, 13), rel=1e-9)


def test_tunnel_under_a_square_is_not_joined_to_it(tmp_path):
    """A footway tunnel runs under the square from west to east with a node in the middle; a
    footpath on the surface reaches the square's north-west corner."""
    nodes = {**SQUARE, 10: (-50.0, 30.0), 11: (40.0, 30.0), 12: (130.0, 30.0)}
    nodes |= {13: (-50.0, 60.0)}
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 1], {"highway": "pedestrian", "area": "yes"}),
        (200, [10, 11, 12], {"highway": "footway", "tunnel": "yes", "layer": "-1"}),
        (201, [13, 4], {"highway": "footway"}),
        (202, [12, 3], {"highway": "footway"}),  # a stair up to the north-east corner
    ]
    data = read(write_osm(tmp_path / "tunnel.osm", nodes, ways))
    joined = {int(i) for w in data.ways if w.way_id == 100 for i in w.node_ids}
    assert joined == {3, 4} and 11 not in joined


@pytest.mark.parametrize(
    ("tags", "lv"),
    [
        ({}, 0),
        ({"tunnel": "yes"}, -1),
        ({"tunnel": "building_passage"}, 0),
        ({"bridge": "yes"}, 1),
        ({"bridge": "yes", "layer": "2"}, 2),
        ({"layer": "-1", "indoor": "yes"}, -1),
        ({"layer": "x"}, 0),
    ],
)
def test_level(tags, lv):
    assert level(tags) == lv


def test_reflex_corners():
    import shapely

    l_shape = shapely.Polygon([(0, 0), (100, 0), (100, 40), (40, 40), (40, 100), (0, 100)])
    assert reflex_corners(l_shape).tolist() == [[40.0, 40.0]]
    assert reflex_corners(shapely.box(0, 0, 1, 1)).shape == (0, 2)
    # clockwise input gives the same corners
    assert reflex_corners(l_shape.reverse()).tolist() == [[40.0, 40.0]]


def test_join_does_not_change_its_input(tmp_path):
    data = _square_town(tmp_path)
    ways = [w for w in data.ways if w.highway != "pedestrian_area"]
    before = [(w.way_id, w.node_ids.copy()) for w in ways]
    areas = [WalkArea(f.osm_id, "", f.geometry) for f in data.walk_areas]
    links, counts = join_walk_areas(ways, areas)
    assert len(links) == 1 and counts["pedestrian_area_links"] == 1
    assert [(w.way_id, w.node_ids.tolist()) for w in ways] == [(i, n.tolist()) for i, n in before]


# ---------------------------------------------------------------------------- reporting


def test_note_reports_kept_joined_and_dropped_in_both_languages():
    counts = {"ways_kept_for_walking": 3, "pedestrian_areas_joined": 2}
    counts |= {"pedestrian_area_links": 7, "pedestrian_areas_unjoined": 1}
    stats = {"components_dropped": 4.0, "length_dropped_small_pieces_km": 0.31}
    stats |= {"pieces_joined_by_area_links": 5.0}
    (n,) = walk_network_notes(counts, stats, min_component_m=250)
    assert "3 cycleway(s)" in n and "2 pedestrian area(s)" in n and "7 straight" in n
    assert "1 left unjoined" in n and "4 piece(s)" in n and "0.31 km" in n
    assert "joining 5 otherwise separate" in n
    zh = render_note(str(n), {"key": n.key, "params": n.params}, "zh")
    assert "3 条" in zh and "2 处" in zh and "7 条直线" in zh and "4 段" in zh
    assert "连通了 5 段" in zh
    assert walk_network_notes({}, {}, min_component_m=250) == []


def test_analysis_reports_the_walk_network(tmp_path):
    """End to end: a square and a cycleway kept for walking are counted in summary.json and
    said in the notes (in both languages through the note key)."""
    from lifecircle import Inputs, analyze, make_settings

    nodes = {**SQUARE, 10: (-50.0, 0.0), 11: (130.0, 60.0), 12: (-50.0, -100.0)}
    nodes |= {20: (-50.0, -30.0), 21: (130.0, -30.0)}
    ways: list[Way] = [
        (100, [1, 2, 3, 4, 1], {"highway": "pedestrian", "area": "yes", "name": "<script>"}),
        (200, [10, 1], {"highway": "footway"}),
        (201, [3, 11], {"highway": "footway"}),
        (202, [10, 20, 21, 11], {"highway": "residential"}),
        (203, [12, 20], {"highway": "cycleway", "foot": "designated"}),
    ]
    osm = write_osm(tmp_path / "town.osm", nodes, ways)
    lon, lat = LON0 + 125 / M_LON, LAT0 + 60 / M_LAT
    fac = tmp_path / "fac.csv"
    fac.write_text(f"id,category,name,lon,lat\nm1,market,=HYPERLINK(1),{lon:.7f},{lat:.7f}\n")
    inputs = Inputs(osm=osm, facilities=(fac,), osm_facilities=False)
    r = analyze(inputs, make_settings(grid_cell_m=300.0, processes=1))
    counts = r.summary["network"]["osm"]
    assert counts["ways_kept_for_walking"] == 1 and counts["pedestrian_area_links"] == 1
    assert counts["pedestrian_areas_joined"] == 1
    assert r.summary["network"]["pedestrian_area_links_km"] == pytest.approx(0.1, rel=3e-3)
    (n,) = [n for n in r.summary["notes"] if n.startswith("Walk network")]
    assert "1 cycleway(s)" in n and "1 pedestrian area(s)" in n and "1 straight link(s)" in n
    keys = [k for k in r.summary["note_keys"] if k and k["key"] == "walk_network"]
    assert keys and keys[0]["params"]["links"] == 1


def test_helsinki_against_osmnx_walk_graph(monkeypatch):
    """On pyrosm's real Helsinki extract, every way osmnx's walk graph holds is in lifecircle's,
    and every way lifecircle holds beyond it is a cycleway people may walk on or a lone ring that
    osmnx's simplification loses (benchmarks/compare_osmnx_walk.py)."""
    import importlib.util

    import pyrosm

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location(
        "compare_osmnx_walk", ROOT / "benchmarks" / "compare_osmnx_walk.py"
    )
    assert spec is not None and spec.loader is not None
    cmp = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, cmp)  # its dataclasses look themselves up there
    spec.loader.exec_module(cmp)
    path = Path(pyrosm.get_data("helsinki_pbf"))
    theirs = cmp.osmnx_graph(path, cmp.osmnx_walk_rules())
    mine = cmp.lifecircle_graph(path, effect=False)
    assert theirs["ways"] <= mine["ways"]
    extra = mine["ways"] - theirs["ways"]
    reasons = {cmp.why_lifecircle_keeps(theirs["tags"][i]).split(" ")[0] for i in extra}
    assert reasons == {"cycleway", "closed"}
    cycleways = [i for i in extra if theirs["tags"][i]["highway"] == "cycleway"]
    assert all(
        theirs["tags"][i].get("foot") in ("designated", "yes", "permissive")
        or theirs["tags"][i].get("sidewalk") in ("yes", "both", "left", "right")
        for i in cycleways
    )
    assert len(cycleways) > 50
    assert mine["counts"]["pedestrian_areas_joined"] > 10 and mine["links"] > 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("keep = { highway = 'cycleway' }", r"\[\[keep\]\] must be a list of tables"),
        ("[[keep]]\nfoot = '(designated'", r"keep\[0\].foot: invalid regular expression"),
        ("areas = ['pedestrian']", r"areas\[0\] must be a table"),
        ("[[areas]]\narea = 1", r"areas\[0\].area must be a regular expression"),
    ],
)
def test_bad_keep_and_area_rules_are_refused(tmp_path, body, message):
    from lifecircle.errors import InputError

    f = tmp_path / "walk.toml"
    f.write_text('require = ["highway"]\n' + body + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_walk_filter(f)


def test_an_older_walk_filter_without_keep_and_areas_still_works(tmp_path):
    """A custom filter written before [[keep]] and [[areas]] keeps its meaning: no cycleway is
    taken back and no area is joined."""
    f = tmp_path / "walk.toml"
    f.write_text('require = ["highway"]\n[exclude]\nhighway = "cycleway"\narea = "yes"\n')
    wf = load_walk_filter(f)
    assert wf.classify({"highway": "cycleway", "foot": "designated"}) == "excluded"
    assert not wf.walk_area({"highway": "pedestrian", "area": "yes"})
