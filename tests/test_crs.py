import pytest

from lifecircle.crs import metric_crs


@pytest.mark.parametrize(
    ("lon", "lat", "epsg", "name"),
    [
        (121.47, 31.23, 4549, "CGCS2000 / 3-degree Gauss-Kruger CM 120E"),  # Shanghai
        (118.78, 32.04, 4549, "CGCS2000 / 3-degree Gauss-Kruger CM 120E"),  # Nanjing
        (116.40, 39.90, 4548, "CGCS2000 / 3-degree Gauss-Kruger CM 117E"),  # Beijing
        (113.26, 23.13, 4547, "CGCS2000 / 3-degree Gauss-Kruger CM 114E"),  # Guangzhou
        (24.94, 60.17, 32635, "WGS 84 / UTM zone 35N"),  # Helsinki
        (-43.2, -22.9, 32723, "WGS 84 / UTM zone 23S"),  # Rio de Janeiro
    ],
)
def test_metric_crs(lon, lat, epsg, name):
    crs = metric_crs(lon, lat)
    assert crs.to_epsg() == epsg
    assert crs.name == name
