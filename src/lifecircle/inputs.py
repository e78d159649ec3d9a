"""What an analysis reads: the data sources (:class:`Inputs`), and inputs a caller has already
read for many areas at once (:class:`Prepared`, used by the batch runner)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from lifecircle.sources.osm import OSMData


@dataclass(frozen=True)
class Inputs:
    """Where the data comes from. Paths are checked before any heavy work starts."""

    osm: Path | None = None
    place: str | None = None
    communities: Path | None = None
    communities_crs: str | None = None
    id_column: str = "id"
    name_column: str = "name"
    population: Path | None = None
    population_crs: str | None = None
    facilities: tuple[Path, ...] = ()
    facilities_crs: str | None = None
    osm_facilities: bool = True
    categories: Path | None = None
    walk_filter: Path | None = None
    encoding: str | None = None
    code_table: Path | None = None
    age_share: str | None = None  # one share of residents aged 60+, or a communities column
    area: Path | None = None  # polygon(s) limiting the analysis to a district of a larger extract
    area_crs: str | None = None


@dataclass
class Prepared:
    """Inputs already read, for a caller that reads a city once and analyses many parts of it
    (:mod:`lifecircle.batch`). Each part must give what :func:`analyze` gives for it alone.

    ``osm`` may hold only the part of the city near ``area``; its walkable ways must then carry
    city-wide ``junction`` flags so that ways split at the same nodes.
    """

    osm: OSMData
    area: BaseGeometry  # WGS 84
    communities: gpd.GeoDataFrame | None = None  # already assigned to this area
    communities_source: str | None = None
    community_counts: dict[str, Any] = field(default_factory=dict)
    user_facilities: list[tuple[Path, gpd.GeoDataFrame]] = field(default_factory=list)
    population_points: gpd.GeoDataFrame | None = None
