"""What an analysis produces: the tables and layers of :class:`Result`, ready to be written by
:mod:`lifecircle.outputs` or inspected in Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from lifecircle.categories import Taxonomy
from lifecircle.network import Network


@dataclass
class Result:
    """Everything an analysis produced.

    Attributes
    ----------
    crs
        The metric CRS the analysis ran in (CGCS2000 Gauss–Krüger in China, UTM elsewhere).
    communities
        One row per community: geometry (WGS 84), ``residents``, one ``cov_<category>_<profile>_
        <minutes>min`` column per share and ``median_dist_m_<category>`` per category.
    facilities
        Every facility used, with ``on_network``, ``access_points``, ``in_area`` and
        ``residents_within_max_minutes``.
    residents
        Resident points (WGS 84) with their community, snapping leg and, per category, the
        distance (``dist_m_<category>``), time per profile and the nearest facility's id.
    coverage
        The long table written as ``coverage.csv``: community × category × profile × minutes.
    area_coverage
        The same shares for the whole area (``area_coverage.csv``).
    denominators
        Coverage by the other denominators (buildings, floor area): ``denominators.csv``.
    service_areas
        Polygons reachable within each tier, per category and profile (WGS 84).
    gaps
        Residents without the complete life circle, with the categories they miss.
    summary
        What ``summary.json`` holds (before the output writer adds maps and provenance).
    capacity
        Supply per 1,000 people of the target group by 2SFCA, for the categories whose
        facilities carry a capacity (``capacity.csv``; empty when none does).
    gate_layers
        With compound gates, the ``compounds`` and ``gates`` layers of ``lifecircle.gpkg``.
    service_area_outlines
        The service areas of the headline profile as the map draws them (simplified and
        rounded, WGS 84; :mod:`lifecircle.outlines`); None when not kept. Replace it with
        ``service_areas`` (or set it to None): the map draws it when it is there.
    """

    crs: CRS
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    residents: gpd.GeoDataFrame
    coverage: pd.DataFrame
    area_coverage: pd.DataFrame
    denominators: pd.DataFrame
    service_areas: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    summary: dict[str, Any]
    network: Network = field(repr=False)
    taxonomy: Taxonomy = field(repr=False)
    categories: list[str] = field(default_factory=list)
    capacity: pd.DataFrame = field(default_factory=pd.DataFrame)
    # with --gates: the "compounds" and "gates" layers of lifecircle.gpkg (WGS 84)
    gate_layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    service_area_outlines: gpd.GeoDataFrame | None = field(default=None, repr=False)
