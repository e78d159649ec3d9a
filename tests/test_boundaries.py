"""Communities and area polygons from users' files: ids, CRSs and geometries that are refused
or repaired (and reported), never passed on silently or left to fail deep inside."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS

from lifecircle.errors import CRSError, InputError
from lifecircle.sources import ages, boundaries, districts
from lifecircle.sources._files import parse_crs
from lifecircle.sources.facilities import read_facilities_file
from lifecircle.sources.osm import Feature
from lifecircle.sources.population import residents_from_points

UNDEFINED = CRS.from_wkt(
    'ENGCRS["undefined",EDATUM["unknown"],CS[Cartesian,2],AXIS["x",east],AXIS["y",north],'
    'LENGTHUNIT["metre",1]]'
)
# metres in CGCS2000 3-degree Gauss-Kruger CM 120E (EPSG:4549), near Shanghai
X0, Y0 = 500_000.0, 3_460_000.0


def _squares(n: int, size: float = 100.0) -> list[shapely.Polygon]:
    return [shapely.box(X0 + i * size, Y0, X0 + (i + 1) * size, Y0 + size) for i in range(n)]


def _write(tmp_path, name, data, geoms, crs):
    p = tmp_path / name
    gpd.GeoDataFrame(data, geometry=geoms, crs=crs).to_file(p)
    return p


@pytest.fixture
def undefined_gpkg(tmp_path):
    return _write(tmp_path, "local.gpkg", {"id": ["a", "b"], "name": ["甲", "乙"]},
                  _squares(2), UNDEFINED)  # fmt: skip


def test_undefined_cartesian_crs_is_refused_naming_the_option(undefined_gpkg):
    with pytest.raises(
        CRSError, match=r"--communities .*local.gpkg.*'undefined'.*--communities-crs"
    ):
        boundaries.read_communities(undefined_gpkg)
    with pytest.raises(CRSError, match=r"--area .*local.gpkg.*--area-crs"):
        boundaries.read_area(undefined_gpkg)
    with pytest.raises(CRSError, match=r"--place .*local.gpkg.*ogr2ogr"):
        boundaries.read_area(undefined_gpkg, option="--place")
    with pytest.raises(CRSError, match=r"--districts .*local.gpkg.*--districts-crs"):
        districts.read_districts(undefined_gpkg)


def test_undefined_crs_of_other_layers_is_refused(tmp_path):
    pts = [shapely.Point(X0, Y0), shapely.Point(X0 + 50, Y0)]
    fac = _write(tmp_path, "fac.gpkg", {"category": ["market", "park"]}, pts, UNDEFINED)
    with pytest.raises(CRSError, match=r"--facilities .*fac.gpkg.*--facilities-crs"):
        read_facilities_file(fac)
    pop = _write(tmp_path, "pop.gpkg", {"weight": [3, 4]}, pts, UNDEFINED)
    with pytest.raises(CRSError, match=r"--population .*pop.gpkg.*--population-crs"):
        residents_from_points(pop)


def test_declared_crs_replaces_an_undefined_one(undefined_gpkg):
    gdf, _ = boundaries.read_communities(undefined_gpkg, crs=parse_crs("EPSG:4549", "x"))
    assert gdf.crs.to_epsg() == 4326
    lon, lat = gdf.geometry.iloc[0].centroid.coords[0]
    assert 119.9 < lon < 120.1 and 31.2 < lat < 31.4


def test_declaring_an_undefined_crs_is_refused(tmp_path):
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # a file without a CRS
        p = _write(tmp_path, "c.gpkg", {"id": ["a"], "name": ["a"]}, _squares(1), None)
    with pytest.raises(CRSError, match=r"--communities-crs .*undefined"):
        boundaries.read_communities(p, crs=parse_crs(UNDEFINED.to_wkt(), "--communities-crs"))


def test_numeric_ids_with_a_null_are_refused_and_keep_their_digits(tmp_path):
    geoms = _squares(3)
    p = _write(tmp_path, "c.gpkg", {"id": [310101001001, None, 310101001003],
               "name": ["a", "b", "c"]}, geoms, 4549)  # fmt: skip
    assert gpd.read_file(p)["id"].dtype.kind == "f"  # the null makes the column float
    with pytest.raises(InputError, match=r"(?s)--communities .*c.gpkg.*no 'id' \(feature\(s\) 2\)"):
        boundaries.read_communities(p)
    ok = _write(tmp_path, "ok.gpkg", {"id": [310101001001.0, 310101001002.0],
                "name": ["a", "b"]}, geoms[:2], 4549)  # fmt: skip
    gdf, _ = boundaries.read_communities(ok)
    assert list(gdf["community_id"]) == ["310101001001", "310101001002"]


@pytest.mark.parametrize("ids", [["a", "", "c"], ["a", "  ", "c"]])
def test_empty_ids_are_refused(tmp_path, ids):
    p = _write(tmp_path, "c.geojson", {"id": ids, "name": ["x", "y", "z"]}, _squares(3), 4549)
    with pytest.raises(InputError, match=r"no 'id' \(feature\(s\) 2\)"):
        boundaries.read_communities(p)


def test_empty_and_duplicate_ids_are_listed_together(tmp_path):
    p = _write(tmp_path, "c.geojson", {"id": ["a", "a", None], "name": ["x", "y", "z"]},
               _squares(3), 4549)  # fmt: skip
    with pytest.raises(InputError, match=r"2 problem\(s\)") as exc:
        boundaries.read_communities(p)
    assert "duplicate community ids ['a']" in str(exc.value) and "feature(s) 3" in str(exc.value)


def test_empty_geometries_are_dropped_and_reported(tmp_path):
    geoms = _squares(2)
    bowtie_line = shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0)])  # no area at all
    p = _write(tmp_path, "c.gpkg", {"id": ["a", "b", "c", "d"], "name": ["1", "2", "3", "4"]},
               [geoms[0], None, shapely.Polygon(), bowtie_line], 4549)  # fmt: skip
    gdf, report = boundaries.read_communities(p)
    assert list(gdf["community_id"]) == ["a"]
    assert report["communities_dropped_empty"] == 3
    assert report["communities_dropped_empty_ids"] == ["b", "c", "d"]
    assert len(report["notes"]) == 1 and "b, c, d" in report["notes"][0]
    all_empty = _write(tmp_path, "e.gpkg", {"id": ["a"], "name": ["1"]}, [None], 4549)
    with pytest.raises(InputError, match="no community has a polygon"):
        boundaries.read_communities(all_empty)


def test_nothing_dropped_reports_nothing(tmp_path):
    p = _write(tmp_path, "c.gpkg", {"id": ["a", "b"], "name": ["1", "2"]}, _squares(2), 4549)
    _, report = boundaries.read_communities(p)
    assert report["communities_dropped_empty"] == 0 and report["notes"] == []


def test_area_ignores_empty_features_but_not_all(tmp_path):
    p = _write(tmp_path, "a.gpkg", {"n": [1, 2]}, [_squares(1)[0], None], 4549)
    assert boundaries.read_area(p).area > 0
    q = _write(tmp_path, "b.gpkg", {"n": [1]}, [None], 4549)
    with pytest.raises(InputError, match=r"--area .*b.gpkg"):
        boundaries.read_area(q)


def test_a_missing_age_share_column_names_age_share_not_id_column(tmp_path):
    p = _write(tmp_path, "c.gpkg", {"id": ["a"], "name": ["1"], "share_60": [0.2]},
               _squares(1), 4549)  # fmt: skip
    with pytest.raises(InputError, match="'share60' named by --age-share") as exc:
        boundaries.read_communities(p, keep=("share60",))
    assert "--id-column" not in str(exc.value) and "share_60" in str(exc.value)
    gdf, _ = boundaries.read_communities(p, keep=("share_60",))
    assert np.allclose(gdf["share_60"], [0.2])


def test_age_share_column_without_a_communities_file():
    from lifecircle.config import load_preset

    grid = gpd.GeoDataFrame({"community_id": ["g1"], "community_name": ["g1"]},
                            geometry=[shapely.box(0, 0, 1, 1)], crs=4326)  # fmt: skip
    with pytest.raises(InputError, match=r"--age-share 'share60'.*--communities"):
        ages.age_shares("share60", grid, load_preset())


def test_metres_in_a_geojson_are_refused_then_read_when_declared(tmp_path):
    """GeoJSON is WGS 84 by definition, so a file holding metres reads as 'degrees' far out of
    range: refused with the option to declare, and read in the declared CRS."""
    p = tmp_path / "metres.geojson"
    body = gpd.GeoDataFrame({"id": ["a", "b"], "name": ["甲", "乙"]}, geometry=_squares(2))
    p.write_text(body.to_json(), encoding="utf-8")  # no CRS member: GDAL reads WGS 84
    with pytest.raises(CRSError, match=r"--communities .*metres.geojson.*--communities-crs"):
        boundaries.read_communities(p)
    with pytest.raises(CRSError, match=r"--area .*cannot be longitude/latitude.*--area-crs"):
        boundaries.read_area(p)
    pts = tmp_path / "fac.geojson"
    fac = gpd.GeoDataFrame({"category": ["market"]}, geometry=[shapely.Point(X0, Y0)])
    pts.write_text(fac.to_json(), encoding="utf-8")
    with pytest.raises(CRSError, match=r"--facilities .*fac.geojson.*--facilities-crs"):
        read_facilities_file(pts)
    gdf, _ = boundaries.read_communities(p, crs=parse_crs("EPSG:4549", "--communities-crs"))
    lon, lat = gdf.geometry.iloc[0].centroid.coords[0]
    assert 119.9 < lon < 120.1 and 31.2 < lat < 31.4


def test_a_grid_too_fine_for_its_area_is_refused_not_built():
    area = shapely.box(X0, Y0, X0 + 200_000, Y0 + 200_000)  # 200 km square at 50 m: 16 M cells
    with pytest.raises(InputError, match=r"--grid-cell-m 50: .*about 16,0\d\d,\d{3} grid cells"):
        boundaries.grid_communities(area, CRS.from_epsg(4549), 50.0)
    assert len(boundaries.grid_communities(area, CRS.from_epsg(4549), 2000.0)) == 100 * 100


def _cut(rel_id: int, level: str, name: str, lines: list) -> Feature:
    geom = shapely.MultiLineString(lines) if lines else shapely.MultiLineString()
    return Feature("relation", rel_id, {"admin_level": level, "name": name}, geom)


def test_cut_boundaries_of_the_level_used_and_finer_are_reported():
    inc = [
        _cut(1, "6", "county", [[(0, 0), (9, 0)]]),
        _cut(2, "9", "甲里", [[(0, 0), (1, 0)]]),
        _cut(3, "10", "<script>x</script>", [[(5, 5), (6, 5)]]),
        _cut(4, "9", "none present", []),
        _cut(5, "admin", "not numeric", [[(0, 0), (1, 0)]]),
    ]
    got = boundaries.cut_boundaries(inc, "9")
    assert got == {"count": 3, "admin_levels": ["9", "10"],
                   "names": ["甲里", "<script>x</script>", "none present"]}  # fmt: skip
    # a grid (no level): every numeric level; inside an area: only what meets it
    assert boundaries.cut_boundaries(inc, None)["count"] == 4
    near = boundaries.cut_boundaries(inc, None, within=shapely.box(-1, -1, 2, 2))
    assert near["names"] == ["county", "甲里"]
    assert boundaries.cut_boundaries(inc, "11") is None
    assert boundaries.cut_boundaries(inc, "9", finer=False)["names"] == ["甲里", "none present"]
    many = [_cut(i, "9", f"里{i}", []) for i in range(boundaries.MAX_CUT_NAMES + 5)]
    listed = boundaries.cut_boundaries(many, "9")
    assert listed["count"] == boundaries.MAX_CUT_NAMES + 5
    assert len(listed["names"]) == boundaries.MAX_CUT_NAMES


def test_overlapping_districts_are_found_and_slivers_are_not():
    from lifecircle.sources.districts import District

    def d(i: str, box: tuple[float, float, float, float]) -> District:
        return District(i, i, shapely.box(*box), i)

    west = d("W", (121.40, 31.20, 121.45, 31.25))
    east = d("E", (121.445, 31.20, 121.50, 31.25))  # about 0.5 km of west: 2.8 km² shared
    north = d("N", (121.40, 31.25, 121.45, 31.30))  # shares only a border
    sliver = d("S", (121.45, 31.20 - 1e-6, 121.50, 31.20 + 1e-6))  # a 0.2 m strip of east
    got = districts.overlapping([west, east, north])
    assert [o["districts"] for o in got] == [["W", "E"]]
    assert 2.5e6 < got[0]["overlap_m2"] < 3.0e6 and 0.09 < got[0]["share_of_smaller"] < 0.11
    assert districts.overlapping([east, sliver]) == []  # under 10,000 m²
    assert districts.overlapping([west]) == []
