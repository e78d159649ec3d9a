"""Read OpenStreetMap data: local ``.osm`` / ``.osm.xml`` / ``.osm.bz2`` / ``.osm.pbf`` files
through libosmium (pyosmium), or online through osmnx's Overpass machinery (with osmnx's cache).

One pass gives everything the analysis needs: the walkable ways (with node coordinates), the
features that may be facilities, residential buildings and administrative boundaries. Extracts that
are clipped at their edges (ways referencing nodes absent from the file) are tolerated: the missing
nodes are dropped, ways are split at the gaps, and the counts are reported.
"""

from __future__ import annotations

import bz2
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import osmium
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle.categories import Taxonomy
from lifecircle.config import WalkFilter
from lifecircle.errors import InputError, InputFileError
from lifecircle.fileio import write_text
from lifecircle.sources.walkareas import WalkArea, join_walk_areas, level

log = logging.getLogger(__name__)

OSM_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.bz2", ".osm.pbf", ".pbf")
RESIDENTIAL_BUILDINGS = frozenset(
    {
        "residential",
        "apartments",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "farm",
        "cabin",
        "houseboat",
        "static_caravan",
    }
)
# building=yes counts as residential when it stands on landuse=residential


@dataclass
class WalkWay:
    """A walkable way, or a contiguous piece of one that survived clipping."""

    way_id: int
    node_ids: np.ndarray  # int64
    lonlat: np.ndarray  # (n, 2) float64
    highway: str
    name: str
    # True where the node is shared with another way of the whole source; set when the ways are
    # a part of a larger source (the batch cache), so that they split exactly as the whole would
    junction: np.ndarray | None = None
    # a bridge or tunnel (see off_terrain): it does not follow the ground's elevation
    structure: bool = False


@dataclass
class Feature:
    """A tagged OSM feature that may be a facility, a residential building or a boundary."""

    osm_type: str  # node / way / relation
    osm_id: int
    tags: dict[str, str]
    geometry: BaseGeometry  # WGS 84


@dataclass
class OSMData:
    """What one pass over an OSM source yields."""

    source: str
    ways: list[WalkWay] = field(default_factory=list)
    features: list[Feature] = field(default_factory=list)
    buildings: list[Feature] = field(default_factory=list)
    residential_landuse: list[BaseGeometry] = field(default_factory=list)
    boundaries: list[Feature] = field(default_factory=list)
    # boundary relations whose rings do not close (cut at the extract's edge): the member ways
    # that are present, as lines, so that a run can say which of its level it left out
    incomplete_boundaries: list[Feature] = field(default_factory=list)
    # compound gates (lifecircle.gates): landuse=residential areas and closed walls / fences,
    # and the gate / entrance nodes
    compounds: list[Feature] = field(default_factory=list)
    gates: list[Feature] = field(default_factory=list)
    # walkable surfaces (pedestrian squares, concourses); their links are already in ``ways``
    walk_areas: list[Feature] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    timestamp: str | None = None
    bounds: tuple[float, float, float, float] | None = None  # lon/lat of all nodes read
    # lon/lat of nodes tagged highway=traffic_signals or crossing=traffic_signals (crossings)
    signals: list[tuple[float, float]] = field(default_factory=list)
    # (node id, lon, lat) of nodes tagged highway=crossing (not crossing=no): places to cross
    crossing_nodes: list[tuple[int, float, float]] = field(default_factory=list)


def _file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith(".bz2"):
        return "osm.bz2"
    if name.endswith((".osm", ".xml")):
        return "osm"
    raise InputError(
        f"--osm {path}: unknown file type; give an OpenStreetMap file ending in "
        f"{', '.join(OSM_SUFFIXES)}"
    )


_TS_RE = re.compile(rb'(?:osm_base|timestamp|osmosis_replication_timestamp)="([^"]+)"')


def _data_timestamp(path: Path, fmt: str) -> str | None:
    """The data timestamp the file states (Overpass ``osm_base`` or the PBF header), if any."""
    try:
        if fmt == "pbf":
            reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
            header = reader.header()
            reader.close()
            for key in ("osmosis_replication_timestamp", "timestamp"):
                value = header.get(key)
                if value:
                    return str(value)
            return None
        opener: Any = bz2.open if fmt == "osm.bz2" else open
        with opener(path, "rb") as fh:
            head = fh.read(4096)
        m = _TS_RE.search(head)
        return m.group(1).decode() if m else None
    except Exception:  # a timestamp is provenance only; never fail the load for it
        return None


def is_signal(tags: dict[str, str]) -> bool:
    """Whether a node's tags say it has traffic signals for pedestrians crossing there."""
    return (
        tags.get("highway") == "traffic_signals"
        or tags.get("crossing") == "traffic_signals"
        or tags.get("crossing:signals") == "yes"
    )


def _interesting(tags: dict[str, str], tag_keys: frozenset[str]) -> bool:
    return any(k in tag_keys for k in tags)


_COUNTS = (
    "ways_walkable",
    "ways_kept_for_walking",
    "ways_crossing",
    "ways_excluded_by_filter",
    "ways_elevated_excluded",
    "ways_clipped",
    "node_refs_missing",
    "ways_dropped_clipped",
    "features_incomplete",
    "tagged_nodes_read",
)
_WALK_COUNT = {"excluded": "ways_excluded_by_filter", "elevated": "ways_elevated_excluded"}


class _Collector:
    """Sorts what one pass over the file yields into ways, features, buildings and boundaries."""

    def __init__(self, data: OSMData, walk_filter: WalkFilter, tag_keys: frozenset[str]) -> None:
        self.data = data
        self.walk_filter = walk_filter
        self.tag_keys = tag_keys
        self.counts = dict.fromkeys(_COUNTS, 0)
        self.wanted: set[int] = set()  # ways of administrative relations
        self.admin_ways: dict[int, list[tuple[float, float]]] = {}
        self.way_levels: dict[int, int] = {}  # walkable ways not on the ground
        self.wkb = osmium.geom.WKBFactory()

    def node(self, obj: Any) -> None:
        self.counts["tagged_nodes_read"] += 1
        loc = obj.location
        if not loc.valid():
            return
        tags = dict(obj.tags)
        if is_signal(tags):
            self.data.signals.append((loc.lon, loc.lat))
        if tags.get("highway") == "crossing" and tags.get("crossing") != "no":
            self.data.crossing_nodes.append((obj.id, loc.lon, loc.lat))
        if _interesting(tags, self.tag_keys):
            self.data.features.append(
                Feature("node", obj.id, tags, shapely.Point(loc.lon, loc.lat))
            )
        if _is_gate(obj.tags):  # compound gates (lifecircle.gates)
            self.data.gates.append(
                Feature("node", obj.id, dict(tags), shapely.Point(loc.lon, loc.lat))
            )

    def way(self, obj: Any) -> None:
        if obj.id in self.wanted:
            self.admin_ways[obj.id] = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
        tags = dict(obj.tags)
        if tags.get("barrier") in _ENCLOSING and obj.is_closed():
            _add_enclosure(obj, tags, self.data)
        if "highway" in tags:
            kind = self.walk_filter.classify(tags)
            if kind in ("walk", "kept"):
                self.counts["ways_walkable"] += 1
                self.counts["ways_kept_for_walking"] += kind == "kept"
                self.counts["ways_crossing"] += "crossing" in (
                    tags.get("footway"),
                    tags.get("cycleway"),
                    tags.get("highway"),
                )
                if lv := level(tags):
                    self.way_levels[obj.id] = lv
                _add_walk_way(obj, tags, self.data, self.counts)
            elif kind in _WALK_COUNT:
                self.counts[_WALK_COUNT[kind]] += 1
        # open ways that are facilities (closed ones come back as areas)
        elif not obj.is_closed() and _interesting(tags, self.tag_keys):
            coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if len(coords) >= 2:
                self.data.features.append(Feature("way", obj.id, tags, shapely.LineString(coords)))

    def area(self, obj: Any) -> None:
        tags = dict(obj.tags)
        try:
            geom = shapely.from_wkb(self.wkb.create_multipolygon(obj))
        except Exception:
            self.counts["features_incomplete"] += 1
            return
        if geom.is_empty:
            return
        data = self.data
        feature = Feature("way" if obj.from_way() else "relation", obj.orig_id(), tags, geom)
        b = tags.get("building")
        if b is not None and b != "no":
            data.buildings.append(feature)
        if tags.get("landuse") == "residential":
            data.residential_landuse.append(geom)
            data.compounds.append(feature)
        if tags.get("boundary") == "administrative" and "admin_level" in tags and obj.from_way():
            data.boundaries.append(feature)
        if _interesting(tags, self.tag_keys) and "highway" not in tags:
            data.features.append(feature)
        if self.walk_filter.walk_area(tags, relation=not obj.from_way()):
            data.walk_areas.append(feature)


_ENCLOSING = frozenset({"wall", "fence"})


def _is_gate(tags: Any) -> bool:
    """A way into a compound: ``barrier=gate|entrance`` or any ``entrance=*`` but ``no``."""
    return tags.get("barrier") in ("gate", "entrance") or tags.get("entrance", "no") != "no"


def _add_enclosure(way: Any, tags: dict[str, str], data: OSMData) -> None:
    """A closed wall or fence ring as a compound polygon (skipped when a node is missing)."""
    try:
        coords = [(n.lon, n.lat) for n in way.nodes]
    except osmium.InvalidLocationError:
        return
    if len(coords) >= 4:
        poly = shapely.make_valid(shapely.Polygon(coords))
        if poly.area > 0:
            data.compounds.append(Feature("way", way.id, tags, poly))


def _unreadable(p: Path, fmt: str, exc: Exception) -> InputError:
    return InputError(
        f"--osm {p}: not a readable OpenStreetMap {fmt} file ({exc}); "
        "check that the file is complete and of the type its name says"
    )


def _scan(p: Path, fmt: str, collect: _Collector) -> None:
    """One pass over the file, with node locations and assembled areas."""
    # untagged nodes only matter as way geometry, which the location cache keeps
    untagged_nodes = osmium.filter.EmptyTagFilter()
    untagged_nodes.enable_for(osmium.osm.NODE)
    processor = (
        osmium.FileProcessor(osmium.io.File(str(p), fmt))
        .with_locations()
        .with_areas()
        .with_filter(untagged_nodes)
    )
    node, way, area = osmium.osm.Node, osmium.osm.Way, osmium.osm.Area
    for obj in processor:
        if isinstance(obj, node):
            collect.node(obj)
        elif isinstance(obj, way):
            collect.way(obj)
        elif isinstance(obj, area):
            collect.area(obj)


def _extent(data: OSMData) -> tuple[float, float, float, float] | None:
    """The lon/lat box of the walkable ways and the point features."""
    pts = [w.lonlat for w in data.ways] + [
        shapely.get_coordinates(f.geometry) for f in data.features if f.osm_type == "node"
    ]
    if not pts:
        return None
    ll = np.concatenate(pts)
    lo, hi = ll.min(axis=0), ll.max(axis=0)
    return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def _log_read(p: Path, data: OSMData) -> None:
    counts = data.counts
    if counts["node_refs_missing"]:
        log.warning(
            "%s is clipped: %d walkable way(s) reference %d node(s) absent from the file; "
            "those nodes were dropped, %d way(s) split at the gaps and %d left with < 2 nodes "
            "were dropped",
            p.name,
            counts["ways_clipped"],
            counts["node_refs_missing"],
            counts["ways_clipped"] - counts["ways_dropped_clipped"],
            counts["ways_dropped_clipped"],
        )
    log.info(
        "read %s: %d walkable ways (%d excluded by the walk filter, %d elevated expressways), "
        "%d candidate features, %d buildings, %d boundaries",
        p.name,
        counts["ways_walkable"],
        counts["ways_excluded_by_filter"],
        counts["ways_elevated_excluded"],
        len(data.features),
        len(data.buildings),
        len(data.boundaries),
    )


def read_osm(path: str | Path, *, walk_filter: WalkFilter, taxonomy: Taxonomy) -> OSMData:
    """Read a local OpenStreetMap file.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.xml``, ``.osm.bz2`` or ``.osm.pbf``.
    walk_filter
        Which ways are walkable.
    taxonomy
        Which features may be facilities (only those are kept).

    Returns
    -------
    OSMData
        Walkable ways, candidate facilities, buildings, residential land use and administrative
        boundaries, with counts of what was excluded or incomplete.

    Raises
    ------
    InputError
        When the file is missing, unreadable or not of the type its name says.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"--osm {p}: no such file; check the path")
    fmt = _file_format(p)
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputFileError(
            f"--osm {p}: cannot be read ({exc.strerror}); check permissions"
        ) from exc
    data = OSMData(source=str(p), timestamp=_data_timestamp(p, fmt))
    collect = _Collector(data, walk_filter, taxonomy.tag_keys | {"name"})
    try:
        admin = _admin_relations(p, fmt)
        collect.wanted = {ref for _, _, members in admin for ref, _ in members}
        _scan(p, fmt, collect)
    except RuntimeError as exc:
        raise _unreadable(p, fmt, exc) from exc
    counts = collect.counts
    for rel_id, tags, members in admin:
        geom = _assemble(members, collect.admin_ways)
        if geom is None:
            counts["boundaries_incomplete"] = counts.get("boundaries_incomplete", 0) + 1
            ways = collect.admin_ways
            present = [ways[r] for r, _ in members if len(ways.get(r, [])) >= 2]
            lines = shapely.MultiLineString(present) if present else shapely.MultiLineString()
            data.incomplete_boundaries.append(Feature("relation", rel_id, tags, lines))
            continue
        data.boundaries.append(Feature("relation", rel_id, tags, geom))
    areas = [
        WalkArea(
            f.osm_id if f.osm_type == "way" else -f.osm_id,
            f.tags.get("name", ""),
            f.geometry,
            level(f.tags),
        )
        for f in data.walk_areas
    ]
    links, area_counts = join_walk_areas(data.ways, areas, way_levels=collect.way_levels)
    data.ways.extend(links)
    data.counts = counts | area_counts
    data.bounds = _extent(data)
    _log_read(p, data)
    return data


def _admin_relations(
    path: Path, fmt: str
) -> list[tuple[int, dict[str, str], list[tuple[int, str]]]]:
    """Administrative boundary relations: (id, tags, [(way id, role)]). A cheap first pass."""
    out = []
    for rel in osmium.FileProcessor(osmium.io.File(str(path), fmt), osmium.osm.RELATION):
        if not isinstance(rel, osmium.osm.Relation):
            continue
        tags = dict(rel.tags)
        if tags.get("boundary") == "administrative" and "admin_level" in tags:
            members = [(m.ref, m.role) for m in rel.members if m.type == "w"]
            out.append((rel.id, tags, members))
    return out


def _assemble(
    members: list[tuple[int, str]], coords: dict[int, list[tuple[float, float]]]
) -> BaseGeometry | None:
    """Polygons from a relation's member ways; ``None`` when the rings do not close."""
    outer = [
        shapely.LineString(coords[r])
        for r, role in members
        if role in ("outer", "") and len(coords.get(r, [])) >= 2
    ]
    inner = [
        shapely.LineString(coords[r])
        for r, role in members
        if role == "inner" and len(coords.get(r, [])) >= 2
    ]
    if not outer:
        return None
    polys = shapely.get_parts(shapely.polygonize(outer))
    if len(polys) == 0:
        return None
    geom = shapely.union_all(polys)
    if inner:
        holes = shapely.get_parts(shapely.polygonize(inner))
        if len(holes):
            geom = geom.difference(shapely.union_all(holes))
    return shapely.make_valid(geom) if not geom.is_valid else geom


_NOT_A_STRUCTURE = frozenset({"", "no", "0", "false"})


def off_terrain(tags: dict[str, str]) -> bool:
    """Whether a way does not lie on the ground: ``bridge=*`` or ``tunnel=*`` (any value but
    ``no``), or a ``layer`` other than 0 (footbridges, skywalks and underpasses are often
    tagged only with a layer)."""
    if tags.get("bridge", "") not in _NOT_A_STRUCTURE:
        return True
    if tags.get("tunnel", "") not in _NOT_A_STRUCTURE:
        return True
    layer = tags.get("layer", "").strip()
    try:
        return layer != "" and float(layer) != 0.0
    except ValueError:
        return False


def _add_walk_way(way: Any, tags: dict[str, str], data: OSMData, counts: dict[str, int]) -> None:
    refs: list[int] = []
    coords: list[float] = []
    try:  # the common case: every node present. One pass, one location per node.
        for n in way.nodes:
            loc = n.location
            coords += (loc.lon, loc.lat)
            refs.append(n.ref)
    except osmium.InvalidLocationError:
        _add_clipped_way(way, tags, data, counts)
        return
    if len(refs) >= 2:
        data.ways.append(
            WalkWay(
                way_id=way.id,
                node_ids=np.array(refs, dtype=np.int64),
                lonlat=np.array(coords, dtype=np.float64).reshape(-1, 2),
                highway=tags.get("highway", ""),
                name=tags.get("name", ""),
                structure=off_terrain(tags),
            )
        )


def _add_clipped_way(way: Any, tags: dict[str, str], data: OSMData, counts: dict[str, int]) -> None:
    ids: list[int] = []
    coords: list[tuple[float, float]] = []
    pieces: list[tuple[list[int], list[tuple[float, float]]]] = []
    missing = 0
    for n in way.nodes:
        loc = n.location
        if loc.valid():
            ids.append(n.ref)
            coords.append((loc.lon, loc.lat))
        else:
            missing += 1
            if ids:
                pieces.append((ids, coords))
            ids, coords = [], []
    if ids:
        pieces.append((ids, coords))
    if missing:
        counts["ways_clipped"] += 1
        counts["node_refs_missing"] += missing
    kept = 0
    for pid, pco in pieces:
        if len(pid) >= 2:
            kept += 1
            data.ways.append(
                WalkWay(
                    way_id=way.id,
                    node_ids=np.asarray(pid, dtype=np.int64),
                    lonlat=np.asarray(pco, dtype=np.float64),
                    highway=tags.get("highway", ""),
                    name=tags.get("name", ""),
                    structure=off_terrain(tags),
                )
            )
    if missing and not kept:
        counts["ways_dropped_clipped"] += 1


# --------------------------------------------------------------------------- online (Overpass)


def overpass_json_to_osm_xml(response: dict[str, Any], dest: Path) -> Path:
    """Write an Overpass ``[out:json]`` response as an ``.osm`` XML file the reader understands."""
    elements = response.get("elements", [])
    base = response.get("osm3s", {}).get("timestamp_osm_base", "")
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="lifecircle">']
    if base:
        lines.append(f"<meta osm_base={quoteattr(base)}/>")

    def tag_lines(el: dict[str, Any]) -> list[str]:
        return [
            f"<tag k={quoteattr(str(k))} v={quoteattr(str(v))}/>"
            for k, v in el.get("tags", {}).items()
        ]

    order = {"node": 0, "way": 1, "relation": 2}
    for el in sorted(elements, key=lambda e: (order.get(e.get("type", ""), 3), e.get("id", 0))):
        t, i = el.get("type"), int(el.get("id", 0))
        if t == "node":
            tl = tag_lines(el)
            attrs = f'id="{i}" lat="{float(el["lat"])}" lon="{float(el["lon"])}" version="1"'
            lines.append(f"<node {attrs}" + (">" + "".join(tl) + "</node>" if tl else "/>"))
        elif t == "way":
            nds = "".join(f'<nd ref="{int(r)}"/>' for r in el.get("nodes", []))
            lines.append(f'<way id="{i}" version="1">{nds}{"".join(tag_lines(el))}</way>')
        elif t == "relation":
            mem = "".join(
                f'<member type={quoteattr(m["type"])} ref="{int(m["ref"])}" '
                f"role={quoteattr(m.get('role', ''))}/>"
                for m in el.get("members", [])
            )
            lines.append(f'<relation id="{i}" version="1">{mem}{"".join(tag_lines(el))}</relation>')
    lines.append("</osm>")
    return write_text(dest, "\n".join(lines))


def overpass_query(polygon: BaseGeometry, timeout_s: int = 180) -> str:
    """Everything inside a WGS 84 polygon, with the nodes of the ways and relations."""
    poly = polygon.convex_hull if polygon.geom_type != "Polygon" else polygon
    coords = " ".join(f"{lat:.7f} {lon:.7f}" for lon, lat in poly.exterior.coords)
    return f'[out:json][timeout:{timeout_s}];(nwr(poly:"{coords}"););(._;>;);out body;'


@contextmanager
def _online_errors(what: str, service: str) -> Iterator[None]:
    """Turn what osmnx and requests raise when a service cannot be used into an
    :class:`InputError` that says what happened and points to ``--osm``."""
    import requests
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    offline = (
        "; check the internet connection (and any proxy), or run offline with a local extract: "
        "--osm city.osm.pbf (from any OpenStreetMap extract provider)"
    )
    try:
        yield
    except InsufficientResponseError as exc:
        if "geocoder returned 0 results" in str(exc):
            raise InputError(
                f"{what}: {service} found no place of that name; check the spelling, add the "
                'city ("黄浦区, 上海市"), or give a polygon file or a local --osm extract'
            ) from exc
        raise InputError(f"{what}: {service} gave no usable answer ({exc}){offline}") from exc
    except ResponseStatusCodeError as exc:
        raise InputError(
            f"{what}: {service} refused the request ({exc}); try again later{offline}"
        ) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise InputError(
            f"{what}: {service} cannot be reached ({type(exc).__name__}){offline}"
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise InputError(f"{what}: the request to {service} failed ({exc}){offline}") from exc


def download_osm(
    place: str | BaseGeometry, dest_dir: Path, *, reach_m: float = 0.0
) -> tuple[Path, BaseGeometry]:
    """Fetch OSM data for a place name or a WGS 84 polygon through osmnx's Overpass machinery.

    osmnx geocodes the place (Nominatim) and sends the query (Overpass), with its cache and rate
    limiting. The response is written as ``.osm`` XML into ``dest_dir`` and read like a local file.
    Returns the file and the area polygon.
    """
    import osmnx as ox

    # osmnx's public API has no call that returns raw Overpass elements: graph_from_polygon and
    # features_from_polygon return built graphs and GeoDataFrames that have already dropped the
    # untagged nodes, way order and tags this reader needs (walk filter, junction splits,
    # buildings, boundaries). _overpass_request is what those functions call, with osmnx's
    # cache, rate limiting and endpoint settings; a recorded response tests it (test_osm.py).
    from osmnx import _overpass

    what = f"--place {place!r}" if isinstance(place, str) else "--place (a polygon file)"
    if isinstance(place, str):
        with _online_errors(what, "the Nominatim geocoder"):
            try:
                gdf = ox.geocode_to_gdf(place)
            except TypeError as exc:  # osmnx: the place is a point or a street, not an area
                raise InputError(
                    f"{what}: Nominatim knows the place but not as an area ({exc}); name a "
                    'district or city ("黄浦区, 上海市"), or give a polygon file'
                ) from exc
        area = gdf.geometry.union_all()
    else:
        area = place
    fetch = area
    if reach_m > 0:
        # buffer in degrees at the area's latitude: about reach_m metres
        lat = area.centroid.y
        fetch = area.buffer(reach_m / (111_320.0 * max(np.cos(np.radians(lat)), 0.1)))
    with _online_errors(what, "the Overpass API"):
        response = _overpass._overpass_request(OrderedDict(data=overpass_query(fetch)))
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / "overpass.osm"
    overpass_json_to_osm_xml(response, target)
    write_text(dest_dir / "overpass_area.geojson", json.dumps(shapely.geometry.mapping(area)))
    return target, area
