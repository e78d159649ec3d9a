"""``lifecircle.gpkg``: one geometry type per layer, declared when the layer is written.

GIS software reads a GeoPackage layer as one geometry type: a layer that mixes points and
polygons is split by QGIS into sub-layers, and a type guessed from the data changes from run to
run (an area with no park writes ``Point``, one with parks ``Unknown``). So every layer has a fixed
type (:data:`LAYER_TYPES`), polygons are always written as multipolygons, and the facilities are
written as three layers: ``facilities`` holds one point per facility (the point itself, or a point
inside the area or on the line), ``facility_outlines`` the areas (parks, school grounds) and
``facility_lines`` the open ways, both keyed by ``facility_id`` and ``category``. Empty layers are
written too, with the same declared type, so every run has the same layers.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

#: every layer of lifecircle.gpkg and its declared geometry type
LAYER_TYPES: dict[str, str] = {
    "communities": "MultiPolygon",
    "facilities": "Point",
    "facility_outlines": "MultiPolygon",
    "facility_lines": "MultiLineString",
    "residents": "Point",
    "service_areas": "MultiPolygon",
    "gaps": "Point",
}
#: layers written only by some runs: with --gates (lifecircle.gated)
OPTIONAL_LAYER_TYPES: dict[str, str] = {"compounds": "MultiPolygon", "gates": "Point"}

_POLYGONAL = ("Polygon", "MultiPolygon")
_LINEAR = ("LineString", "MultiLineString", "LinearRing")


def as_type(geoms: np.ndarray, geometry_type: str) -> np.ndarray:
    """``geoms`` as ``geometry_type`` (``Point``, ``MultiPolygon`` or ``MultiLineString``).

    Polygons become one-part multipolygons, lines one-part multilines; the polygonal (or linear)
    parts of a geometry collection are kept; an empty or missing geometry stays missing.

    Raises
    ------
    ValueError
        For a geometry that has no part of that type (a bug in the caller's split).
    """
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            out[i] = None
            continue
        kind = g.geom_type
        if geometry_type == "Point" and kind == "Point":
            out[i] = g
            continue
        keep = _POLYGONAL if geometry_type == "MultiPolygon" else _LINEAR
        if geometry_type == "Point" or (kind not in keep and kind != "GeometryCollection"):
            raise ValueError(f"a {kind} cannot be written to a {geometry_type} layer")
        parts = [p for p in shapely.get_parts(g) if p.geom_type in keep or kind in keep]
        flat = [q for p in parts for q in shapely.get_parts(p)]
        if not flat:
            out[i] = None
        elif geometry_type == "MultiPolygon":
            out[i] = shapely.MultiPolygon(flat)
        else:
            out[i] = shapely.MultiLineString([shapely.LineString(q.coords) for q in flat])
    return out


def facility_layers(fac: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Split a facility table into a point per facility and the areas and lines they came from.

    ``facilities`` keeps every row and column with a point geometry and a ``shape`` column
    (``point``, ``area`` or ``line``); the other two keep ``facility_id``, ``category``, ``name``,
    ``source`` and the full shape, for the rows of that shape.
    """
    geoms = fac.geometry.to_numpy()
    kinds = np.array([g.geom_type if g is not None else "" for g in geoms], dtype=object)
    area = np.isin(kinds, _POLYGONAL)
    line = np.isin(kinds, _LINEAR)
    pts = fac.copy()
    rep = np.array(
        [None if g is None or g.is_empty else g.representative_point() for g in geoms],
        dtype=object,
    )
    pts["shape"] = np.where(area, "area", np.where(line, "line", "point"))
    pts = pts.set_geometry(gpd.GeoSeries(rep, index=fac.index, crs=fac.crs))
    keys = [c for c in ("facility_id", "category", "name", "source") if c in fac.columns]
    return {
        "facilities": pts,
        "facility_outlines": fac.loc[area, [*keys, fac.geometry.name]],
        "facility_lines": fac.loc[line, [*keys, fac.geometry.name]],
    }


def write_gpkg(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> dict[str, str]:
    """Write ``layers`` (by the names of :data:`LAYER_TYPES`) into the GeoPackage ``path``.

    A ``facilities`` layer is split by :func:`facility_layers`. Returns each written layer's
    declared geometry type.
    """
    todo: dict[str, gpd.GeoDataFrame] = {}
    for name, layer in layers.items():
        todo.update(facility_layers(layer) if name == "facilities" else {name: layer})
    written = {}
    for name, layer in todo.items():
        gtype = LAYER_TYPES.get(name) or OPTIONAL_LAYER_TYPES[name]
        geoms = as_type(layer.geometry.to_numpy(), gtype)
        frame = layer.set_geometry(gpd.GeoSeries(geoms, index=layer.index, crs=layer.crs))
        # through Arrow: the same layer, field types and values, in about half the time of
        # pyogrio's row-by-row path (50 k residents and 50 k gaps)
        pyogrio.write_dataframe(
            frame.reset_index(drop=True),
            path,
            layer=name,
            driver="GPKG",
            geometry_type=gtype,
            use_arrow=True,
        )
        written[name] = gtype
    return written
