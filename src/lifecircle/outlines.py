"""The shapes people are shown: layers simplified in the study's metric CRS and rounded to about
a metre in WGS 84, as ``map.html`` and the workbench draw them.

The service areas of the map's profile are simplified where they are made, one category at a
time (:func:`service_area_rows`, in the service-area workers), and kept with the category: the
map does not simplify them again, and a scenario redraws only the categories it changed.
"""

from __future__ import annotations

from typing import Any, Protocol

import geopandas as gpd
import pandas as pd
from pyproj import CRS

PRECISION_DEG = 1e-5  # about 1 m: finer than any simplification below
SERVICE_AREA_TOL_M = 10.0  # service areas come from a 10 m raster widened by 40 m
SERVICE_AREA_COLUMNS = ["category", "profile", "minutes", "geometry"]  # the layer and outlines


def simplified(gdf: gpd.GeoDataFrame, crs: Any, tol_m: float) -> gpd.GeoDataFrame:
    """``gdf`` simplified by ``tol_m`` metres in ``crs`` (topology kept), in WGS 84 with its
    coordinates rounded to :data:`PRECISION_DEG`."""
    g = gdf.to_crs(crs)
    g["geometry"] = g.geometry.simplify(tol_m, preserve_topology=True)
    g = g.to_crs(4326)
    g["geometry"] = g.geometry.set_precision(PRECISION_DEG)
    return g


def service_area_rows(
    category: str, areas: dict[tuple[str, int], Any], *, crs: CRS, drawn_profile: str
) -> list[dict[str, Any]]:
    """The rows of one category's service areas: ``category``, ``profile``, ``minutes``,
    ``geometry`` (WGS 84) and ``outline``, the shape the map draws (:func:`simplified` by
    :data:`SERVICE_AREA_TOL_M`) for the tiers of ``drawn_profile`` that are not empty, else
    None. ``areas`` maps (profile, minutes) to a polygon in ``crs``."""
    keys = list(areas)
    wgs = gpd.GeoSeries([areas[k] for k in keys], crs=crs).to_crs(4326)
    pairs = enumerate(zip(keys, wgs, strict=True))
    drawn = [i for i, (k, g) in pairs if _drawn(k, g, drawn_profile)]
    outline = dict.fromkeys(range(len(keys)))
    if drawn:
        shapes = simplified(gpd.GeoDataFrame(geometry=wgs.iloc[drawn]), crs, SERVICE_AREA_TOL_M)
        outline.update(zip(drawn, shapes.geometry, strict=True))
    return [
        {
            "category": category,
            "profile": profile,
            "minutes": minutes,
            "geometry": geom,
            "outline": outline[i],
        }
        for i, ((profile, minutes), geom) in enumerate(zip(keys, wgs, strict=True))
    ]


def _drawn(key: tuple[str, int], geom: Any, drawn_profile: str) -> bool:
    return key[0] == drawn_profile and geom is not None and not geom.is_empty


def outline_frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """The outlines of :func:`service_area_rows` (those drawn) as one layer."""
    drawn = [{**r, "geometry": r["outline"]} for r in rows if r.get("outline") is not None]
    return gpd.GeoDataFrame(
        pd.DataFrame(drawn, columns=SERVICE_AREA_COLUMNS), geometry="geometry", crs=4326
    )


class _HasServiceAreas(Protocol):
    crs: Any
    service_areas: gpd.GeoDataFrame


def drawn_service_areas(result: _HasServiceAreas, profile: str) -> gpd.GeoDataFrame:
    """The service areas of ``profile`` as the map draws them (columns ``category``,
    ``profile``, ``minutes``, geometry): the outlines kept with ``result`` when it has them,
    else simplified now (an analysis read back from its output folder)."""
    kept = getattr(result, "service_area_outlines", None)
    if kept is not None:
        return kept[kept["profile"] == profile]
    sa = result.service_areas
    if not len(sa):
        return outline_frame([])
    tiers = sa[(sa["profile"] == profile) & sa.geometry.notna()]
    tiers = tiers[~tiers.geometry.is_empty]
    return simplified(tiers[SERVICE_AREA_COLUMNS], result.crs, SERVICE_AREA_TOL_M)
