"""What an analysis reads: the data sources (:class:`Inputs`), and those sources once read
(:class:`Prepared`): by :func:`lifecircle.pipeline.prepare` for one area, or by the batch runner
for each district of a city it read once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecircle._validate import check_file
from lifecircle.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

    from lifecircle.categories import Taxonomy
    from lifecircle.sources.osm import OSMData


@dataclass(frozen=True)
class Inputs:
    """Where the data comes from. :meth:`check` runs before any heavy work starts."""

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
    dem: Path | None = None  # elevations (GeoTIFF, any CRS): walking times over the terrain
    # compound gates (lifecircle.gates): None / "off", "osm", or a gates file; the compounds
    # from a file, else from OSM
    gates: str | None = None
    gates_crs: str | None = None
    compounds: Path | None = None
    compounds_crs: str | None = None

    @property
    def gates_on(self) -> bool:
        """Whether residents of gated compounds are routed through the gates."""
        return self.gates not in (None, "", "off")

    @property
    def gates_file(self) -> Path | None:
        """The ``--gates`` file, when one is given (not ``osm`` / ``off``)."""
        return Path(str(self.gates)) if self.gates_on and self.gates != "osm" else None

    def check(self, *, place_option: str = "--place NAME") -> None:
        """Raise :class:`~lifecircle.errors.InputError` unless exactly one of ``osm`` and
        ``place`` is given, every named file can be read, and ``area`` comes with ``osm``."""
        if (self.osm is None) == (self.place is None):
            raise InputError(f"give exactly one of --osm PATH or {place_option}")
        for option, path in (
            ("--osm", self.osm),
            ("--communities", self.communities),
            ("--population", self.population),
            ("--code-table", self.code_table),
            ("--area", self.area),
            ("--dem", self.dem),
            ("--compounds", self.compounds),
            ("--gates", self.gates_file),
            *(("--facilities", f) for f in self.facilities),
        ):
            if path is not None:
                check_file(path, option)
        if self.dem is not None:  # a raster without a CRS is refused before the OSM is read
            from lifecircle.terrain import check_dem

            check_dem(self.dem)
        stray = [
            option
            for option, value in (
                ("--compounds", self.compounds),
                ("--compounds-crs", self.compounds_crs),
                ("--gates-crs", self.gates_crs),
            )
            if value is not None
        ]
        if stray and not self.gates_on:
            raise InputError(
                f"{', '.join(stray)}: used with --gates osm|FILE only; add --gates osm (or a "
                "gates file), or leave them out"
            )
        if self.area is not None and self.place is not None:
            raise InputError(
                "--area limits a local --osm file; with --place, give the area as the place itself"
            )

    @property
    def osm_label(self) -> str:
        """How the OSM source is named in messages."""
        return f"--osm {self.osm}" if self.osm is not None else f"--place {self.place}"


@dataclass
class Prepared:
    """The inputs of one area, read. Each analysis of a part of a city read once must give what
    an analysis of that part alone gives.

    ``osm`` may hold only the part of the city near ``area``; its walkable ways must then carry
    city-wide ``junction`` flags so that ways split at the same nodes.
    """

    osm: OSMData
    area: BaseGeometry | None = None  # WGS 84: --area, or a batch district
    place_area: BaseGeometry | None = None  # WGS 84: the polygon --place fetched
    communities: gpd.GeoDataFrame | None = None  # already limited to ``area``
    communities_source: str | None = None
    community_counts: dict[str, Any] = field(default_factory=dict)
    user_facilities: list[tuple[Path, gpd.GeoDataFrame]] = field(default_factory=list)
    population: Path | None = None  # a raster is read over the area; points come read
    population_points: gpd.GeoDataFrame | None = None
    compounds: gpd.GeoDataFrame | None = None  # --compounds, read (else from OSM)
    gates: gpd.GeoDataFrame | None = None  # a --gates file, read (else from OSM)
    taxonomy: Taxonomy | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent reading
