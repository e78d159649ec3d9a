"""Candidate sites for new facilities: a user's list (vacant premises, lots) read like a facility
list, or street-network nodes thinned to a regular spacing inside the area."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from lifecircle.errors import InputError
from lifecircle.network import Network
from lifecircle.sources._files import Declared, parse_crs
from lifecircle.sources.facilities import read_facilities_file

CANDIDATE_COLUMNS = ["candidate_id", "name", "geometry"]
DEFAULT_SPACING_M = 100.0


def read_candidates(
    path: str | Path,
    *,
    category: str,
    crs: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a list of candidate sites in any format ``--facilities`` takes (CSV ``id,name,lon,lat``
    or 编号,名称,经度,纬度; GeoJSON, GeoPackage, Shapefile; points or polygons) in the declared CRS
    (``gcj02`` and ``bd09`` included). A category column is not needed and not read.

    Returns
    -------
    geopandas.GeoDataFrame
        ``candidate_id`` (the file's id, ``line<N>`` without one), ``name`` and geometry, WGS 84;
        ``attrs["declared"]`` names the coordinate system it was read in.
    """
    declared = parse_crs(crs, "--candidates-crs")
    p = Path(path)
    fac = read_facilities_file(
        p, crs=declared, encoding=encoding, option="--candidates", label=p.name, category=category
    )
    ids = fac["facility_id"].astype(str).str.slice(len(p.name) + 1)
    out = gpd.GeoDataFrame(
        {"candidate_id": ids.to_numpy(), "name": fac["name"].astype(object).fillna("").to_numpy()},
        geometry=fac.geometry.values,
        crs=4326,
    )
    out.attrs["declared"] = declared.china or (declared.label() if declared.crs else "wgs84")
    out.attrs["source"] = f"file:{p.name}"
    return out


def is_gcj02(declared: Declared | str | None) -> bool:
    """Whether a declared coordinate system is GCJ-02."""
    if isinstance(declared, Declared):
        return declared.china == "gcj02"
    if declared is None:
        return False
    return str(declared).lower().replace("-", "").replace("_", "") == "gcj02"


def network_candidates(net: Network, area_m: object, *, spacing_m: float) -> gpd.GeoDataFrame:
    """Street-network nodes inside the area, at most one per ``spacing_m`` square: in each
    square, the node nearest its centre (the lowest node number on a tie). A node lies on a
    street, so a facility there is reached from it; its name joins the names of its streets.

    Returns
    -------
    geopandas.GeoDataFrame
        ``candidate_id`` (``node:<OSM node id>``), ``name`` and point geometry, WGS 84, ordered
        by square (rows south to north, west to east within a row).
    """
    import shapely

    if not spacing_m > 0:
        raise InputError(f"--spacing-m must be a distance in metres above 0; got {spacing_m}")
    kept = np.unique(np.r_[net.edge_u[net.edge_kept], net.edge_v[net.edge_kept]])
    xy = net.node_xy[kept]
    inside = shapely.contains_xy(area_m, xy[:, 0], xy[:, 1])
    kept, xy = kept[inside], xy[inside]
    if not len(kept):
        raise InputError("no street node lies inside the area to use as a candidate site")
    ix = np.floor(xy[:, 0] / spacing_m).astype(np.int64)
    iy = np.floor(xy[:, 1] / spacing_m).astype(np.int64)
    off = np.hypot(xy[:, 0] - (ix + 0.5) * spacing_m, xy[:, 1] - (iy + 0.5) * spacing_m)
    df = pd.DataFrame({"iy": iy, "ix": ix, "off": off, "node": kept})
    df = df.sort_values(["iy", "ix", "off", "node"], kind="mergesort")
    df = df.drop_duplicates(["iy", "ix"], keep="first")
    nodes = df["node"].to_numpy()
    tf = Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    lon, lat = tf.transform(net.node_xy[nodes, 0], net.node_xy[nodes, 1])
    out = gpd.GeoDataFrame(
        {
            "candidate_id": [f"node:{int(i)}" for i in net.node_osmid[nodes]],
            "name": _street_names(net, nodes),
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    out.attrs["source"] = f"network_nodes_every_{spacing_m:g}m"
    return out


def _street_names(net: Network, nodes: np.ndarray) -> list[str]:
    """Per node, the names of up to two streets meeting there (``A / B``)."""
    k = net.edge_kept
    df = pd.DataFrame(
        {
            "node": np.r_[net.edge_u[k], net.edge_v[k]],
            "name": np.r_[net.edge_name[k], net.edge_name[k]],
        }
    )
    df["name"] = df["name"].fillna("").astype(str).str.strip()
    df = df[(df["name"] != "") & df["node"].isin(nodes)].drop_duplicates()
    df = df.sort_values(["node", "name"], kind="mergesort")
    names = df.groupby("node")["name"].agg(lambda s: " / ".join(list(s)[:2]))
    return [str(names.get(n, "")) for n in nodes]
