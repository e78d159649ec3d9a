"""Choose the metric CRS for an area: a CGCS2000 3-degree Gauss–Krüger zone inside China, the
local UTM zone elsewhere (EPSG = 4534 + (CM − 75) / 3, CM = 3 · round(lon / 3))."""

from __future__ import annotations

from pyproj import CRS

from lifecircle.errors import AnalysisError

# A generous box around China (incl. Taiwan, Hong Kong, Macao). CGCS2000 zones exist for
# 75°E–135°E; the choice only affects which metric projection is used, never the coordinates.
_CHINA_BOX = (73.0, 17.0, 135.5, 54.0)


def metric_crs(lon: float, lat: float) -> CRS:
    """The projected CRS the analysis uses for an area centred at (lon, lat) in WGS 84."""
    west, south, east, north = _CHINA_BOX
    if west <= lon <= east and south <= lat <= north:
        cm = 3 * round(lon / 3)
        cm = min(max(cm, 75), 135)
        crs = CRS.from_epsg(4534 + (cm - 75) // 3)
        expected = f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"
        if crs.name != expected:  # check the name, not only the code
            raise AnalysisError(f"EPSG:{crs.to_epsg()} is {crs.name!r}, expected {expected!r}")
        return crs
    zone = int((lon + 180) // 6) % 60 + 1
    epsg = (32600 if lat >= 0 else 32700) + zone
    crs = CRS.from_epsg(epsg)
    hemi = "N" if lat >= 0 else "S"
    if not crs.name.endswith(f"UTM zone {zone}{hemi}"):
        raise AnalysisError(f"EPSG:{epsg} is {crs.name!r}, expected a UTM zone {zone}{hemi}")
    return crs
