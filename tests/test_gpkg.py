"""lifecircle.gpkg: every layer has one declared geometry type, the same in every run, so GIS
software opens each as one layer (no QGIS sub-layers, no type that changes with the data)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from lifecircle.gpkg import LAYER_TYPES, as_type, facility_layers, write_gpkg


def _facilities(kinds: str) -> gpd.GeoDataFrame:
    """Facilities of the given shapes: p a point, a an area (a 10 × 10 m park), l an open way."""
    geoms = {
        "p": shapely.Point(24.94, 60.17),
        "a": shapely.box(24.941, 60.171, 24.9412, 60.1711),
        "l": shapely.LineString([(24.942, 60.172), (24.943, 60.172)]),
    }
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"f{i}" for i in range(len(kinds))],
            "category": ["park" if k == "a" else "market" for k in kinds],
            "name": [f"设施 {k}" for k in kinds],
            "source": "osm",
            "residents_within_max_minutes": [float(i) for i in range(len(kinds))],
        },
        geometry=[geoms[k] for k in kinds],
        crs=4326,
    )


def _layers(fac: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    square = shapely.box(24.93, 60.16, 24.95, 60.18)
    two = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])
    pts = gpd.GeoDataFrame({"weight": [1.0]}, geometry=[shapely.Point(24.94, 60.17)], crs=4326)
    return {
        "communities": gpd.GeoDataFrame(
            {"community_id": ["a", "b"]}, geometry=[square, two], crs=4326
        ),
        "facilities": fac,
        "residents": pts,
        "service_areas": gpd.GeoDataFrame(
            {"category": ["park", "market"]},
            geometry=[square, shapely.GeometryCollection()],  # an empty service area
            crs=4326,
        ),
        "gaps": pts.iloc[:0],  # no gaps
    }


@pytest.mark.parametrize("kinds", ["pal", "ppp", "aa", "l", ""])
def test_each_layer_declares_one_type_whatever_the_data(tmp_path: Path, kinds: str):
    """Points only, areas only, lines only, mixed or none: the same layers, the same types."""
    path = tmp_path / "lifecircle.gpkg"
    write_gpkg(path, _layers(_facilities(kinds)))
    names = set(pyogrio.list_layers(path)[:, 0])
    assert names == set(LAYER_TYPES)
    for name, gtype in LAYER_TYPES.items():
        assert pyogrio.read_info(path, layer=name)["geometry_type"] == gtype, name
        got = gpd.read_file(path, layer=name)
        assert set(got.geometry.dropna().geom_type) <= {gtype}, name


def test_facilities_split_into_points_and_their_shapes(tmp_path: Path):
    fac = _facilities("pal")
    parts = facility_layers(fac)
    pts = parts["facilities"]
    assert list(pts["facility_id"]) == ["f0", "f1", "f2"]  # every facility, as a point
    assert list(pts["shape"]) == ["point", "area", "line"]
    assert (pts.geometry.geom_type == "Point").all()
    assert pts.geometry.iloc[1].within(fac.geometry.iloc[1])  # a point inside the park
    assert pts.geometry.iloc[2].distance(fac.geometry.iloc[2]) < 1e-9  # on the line
    assert list(parts["facility_outlines"]["facility_id"]) == ["f1"]
    assert list(parts["facility_lines"]["facility_id"]) == ["f2"]
    assert "residents_within_max_minutes" in pts.columns
    path = tmp_path / "x.gpkg"
    write_gpkg(path, {"facilities": fac})
    back = gpd.read_file(path, layer="facility_outlines")
    assert back.geometry.iloc[0].equals(shapely.MultiPolygon([fac.geometry.iloc[1]]))


def test_as_type_promotes_and_refuses():
    poly = shapely.box(0, 0, 1, 1)
    out = as_type(
        [poly, shapely.GeometryCollection([poly, shapely.Point(5, 5)]), None, shapely.Polygon()],
        "MultiPolygon",
    )
    assert out[0].geom_type == out[1].geom_type == "MultiPolygon"
    assert out[1].equals(shapely.MultiPolygon([poly]))  # the stray point of a collection is dropped
    assert out[2] is None and out[3] is None
    with pytest.raises(ValueError, match="Point cannot be written to a MultiPolygon"):
        as_type([shapely.Point(0, 0)], "MultiPolygon")
    with pytest.raises(ValueError, match="Polygon cannot be written to a Point"):
        as_type([poly], "Point")
