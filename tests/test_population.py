"""Residents from a population raster or a points file: unreadable files, impossible values and
bad coordinates are refused with the file and the fix; odd cells are read as nodata and counted."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS
from rasterio.transform import from_origin

from lifecircle.errors import CRSError, InputError
from lifecircle.sources._files import parse_crs
from lifecircle.sources.population import residents_from_points, residents_from_raster

# a 3 x 3 raster of 100 m cells in EPSG:4549 (metres), near Shanghai
X0, Y0 = 500_000.0, 3_460_300.0


def _raster(path, values, *, crs="EPSG:4549", nodata=None, size=3, cell=100.0):
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                       dtype="float32", crs=crs, nodata=nodata,
                       transform=from_origin(X0, Y0, cell, cell)) as dst:  # fmt: skip
        dst.write(np.asarray(values, dtype="float32").reshape(1, size, size))
    return path


def _wgs84(geom):
    import geopandas as gpd

    return gpd.GeoSeries([geom], crs=4549).to_crs(4326).iloc[0]


@pytest.fixture
def area():
    """The 3 x 3 raster's extent in WGS 84."""
    return _wgs84(shapely.box(X0, Y0 - 300, X0 + 300, Y0))


def test_a_clean_raster_reports_no_ignored_cells(tmp_path, area):
    pts, report = residents_from_raster(_raster(tmp_path / "p.tif", np.full(9, 10.0)), area)
    assert len(pts) == 9 and pts["weight"].sum() == pytest.approx(90)
    assert report["population_raster_cells_ignored"] == {"negative": 0, "nan": 0}
    assert report["notes"] == []


def test_negative_and_nan_cells_are_nodata_and_counted(tmp_path, area):
    values = [10, -5, np.nan, 10, -99999, 10, np.nan, 10, 10]
    pts, report = residents_from_raster(_raster(tmp_path / "p.tif", values), area)
    assert len(pts) == 5 and pts["weight"].sum() == pytest.approx(50)
    assert report["population_raster_cells_ignored"] == {"negative": 2, "nan": 2}
    assert "2 cell(s)" in report["notes"][0] and "gdal_edit -a_nodata" in report["notes"][0]


def test_declared_nodata_is_not_counted(tmp_path, area):
    values = [10, -9999, 10, 10, -9999, 10, 10, 10, 10]
    pts, report = residents_from_raster(_raster(tmp_path / "p.tif", values, nodata=-9999), area)
    assert len(pts) == 7
    assert report["population_raster_cells_ignored"] == {"negative": 0, "nan": 0}


@pytest.mark.parametrize("bad", [1e30, 3.0e38, np.inf, 250_000.0])
def test_impossible_values_are_refused(tmp_path, area, bad):
    values = [10, 10, 10, 10, bad, 10, 10, 10, 10]
    with pytest.raises(InputError, match=r"(?s)--population .*p.tif: 1 cell\(s\).*impossible"):
        residents_from_raster(_raster(tmp_path / "p.tif", values), area)


def test_a_dense_but_possible_cell_is_kept(tmp_path, area):
    # 5,000 people in a hectare: 500,000 per km², denser than anywhere but not impossible
    values = [10, 10, 10, 10, 5000, 10, 10, 10, 10]
    pts, _ = residents_from_raster(_raster(tmp_path / "p.tif", values), area)
    assert pts["weight"].max() == 5000


def test_a_truncated_geotiff_is_refused(tmp_path, area):
    full = _raster(tmp_path / "full.tif", np.random.default_rng(1).uniform(1, 9, 400 * 400),
                   size=400, cell=1.0)  # fmt: skip
    raw = full.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(raw[: len(raw) // 2])
    small = _wgs84(shapely.box(X0, Y0 - 400, X0 + 400, Y0))
    with pytest.raises(InputError, match=r"(?s)--population .*cut.tif.*damaged or truncated"):
        residents_from_raster(cut, small)
    head = tmp_path / "head.tif"
    head.write_bytes(raw[:100])
    with pytest.raises(InputError, match=r"(?s)--population .*head.tif"):
        residents_from_raster(head, small)


def test_a_raster_in_an_undefined_crs_is_refused(tmp_path, area):
    undefined = CRS.from_wkt(
        'ENGCRS["undefined",EDATUM["unknown"],CS[Cartesian,2],AXIS["x",east],'
        'AXIS["y",north],LENGTHUNIT["metre",1]]'
    )
    p = _raster(tmp_path / "p.tif", np.full(9, 10.0), crs=undefined.to_wkt())
    with pytest.raises(CRSError, match=r"(?s)--population .*p.tif.*no link to the earth"):
        residents_from_raster(p, area)


# ------------------------------------------------------------------ points


def _csv(tmp_path, text, name="pop.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_swapped_and_out_of_range_coordinates_are_refused_with_lines(tmp_path):
    p = _csv(tmp_path, "lon,lat,weight\n121.47,31.23,10\n31.23,121.47,10\n121.47,31.23,-1\n"
             "200,31.2,5\n121.4,abc,5\n")  # fmt: skip
    with pytest.raises(InputError) as exc:
        residents_from_points(p)
    msg = str(exc.value)
    assert "pop.csv: 4 row(s) rejected" in msg
    assert "line 3" in msg and "swapped" in msg
    assert "line 4: weight '-1'" in msg
    assert "line 5: lon 200.0 / lat 31.2 out of range" in msg
    assert "line 6: lon/lat not numbers" in msg
    assert msg.index("line 3") < msg.index("line 4") < msg.index("line 5")


def test_projected_points_are_not_range_checked(tmp_path):
    p = _csv(tmp_path, "x,y,人口\n500000,3460000,10\n500100,3460000,5\n")
    pts = residents_from_points(p, parse_crs("EPSG:4549", "--population-crs"))
    assert len(pts) == 2 and 119.9 < pts.geometry.x.iloc[0] < 120.1


def test_a_points_file_without_rows_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"(?s)--population .*pop.csv.*header but no rows"):
        residents_from_points(_csv(tmp_path, "lon,lat,weight\n"))


def test_vector_points_without_geometry_are_refused(tmp_path):
    import geopandas as gpd

    p = tmp_path / "pop.gpkg"
    gpd.GeoDataFrame({"weight": [1.0, 2.0]}, geometry=[shapely.Point(121.4, 31.2), None],
                     crs=4326).to_file(p)  # fmt: skip
    with pytest.raises(InputError, match=r"(?s)pop.gpkg.*without a geometry \(features 2\)"):
        residents_from_points(p)


def test_in_range_swapped_points_are_refused_against_the_area(tmp_path):
    from lifecircle.sources.population import refuse_swapped_points

    helsinki = shapely.box(24.93, 60.16, 24.96, 60.18)
    p = _csv(tmp_path, "lon,lat,weight\n24.94,60.17,5\n60.17,24.94,5\n24.95,60.17,5\n"
             "60.175,24.945,1\n")  # fmt: skip
    pts = residents_from_points(p)  # both columns in range: the reader cannot tell
    with pytest.raises(InputError, match=r"(?s)pop.csv: 2 point\(s\).*lines 3, 5.*swapped"):
        refuse_swapped_points(pts, helsinki, p)
    far = _csv(tmp_path, "lon,lat,weight\n24.94,60.17,5\n10.0,50.0,5\n", name="far.csv")
    refuse_swapped_points(residents_from_points(far), helsinki, far)  # outside, not swapped
