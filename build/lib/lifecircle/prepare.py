"""Read the inputs of one area: the user's layers first (cheap, and their errors should come
before a long OSM parse), then the OpenStreetMap data."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from lifecircle.categories import Taxonomy, load_taxonomy
from lifecircle.config import Settings, load_walk_filter
from lifecircle.errors import InputError
from lifecircle.gated import read_gate_inputs
from lifecircle.inputs import Inputs, Prepared
from lifecircle.sources import ages, boundaries, facilities, population
from lifecircle.sources._files import VECTOR_SUFFIXES, parse_crs
from lifecircle.sources.osm import OSMData, download_osm, read_osm
from lifecircle.timing import Stopwatch


def read_user_communities(inputs: Inputs) -> tuple[gpd.GeoDataFrame, dict[str, Any], str]:
    """The ``--communities`` file, with the age-share column kept when one is named.

    Returns
    -------
    communities, report, source
        The communities (WGS 84), what reading them repaired, and the label for the summary.
    """
    if inputs.communities is None:
        raise InputError("--communities: no file given")
    gdf, report = boundaries.read_communities(
        inputs.communities,
        id_column=inputs.id_column,
        name_column=inputs.name_column,
        crs=parse_crs(inputs.communities_crs, "--communities-crs"),
        keep=(inputs.age_share,) if inputs.age_share and ages.is_column(inputs.age_share) else (),
    )
    return gdf, report, f"file:{Path(inputs.communities).name}"


def read_user_facilities(inputs: Inputs) -> list[tuple[Path, gpd.GeoDataFrame]]:
    """Every ``--facilities`` file, in WGS 84, with its path."""
    crs = parse_crs(inputs.facilities_crs, "--facilities-crs")
    return facilities.read_facilities_files(inputs.facilities, crs=crs, encoding=inputs.encoding)


def read_population_points(inputs: Inputs) -> gpd.GeoDataFrame | None:
    """The ``--population`` points, or ``None`` for a raster (read later, over the area) or no
    population input."""
    if inputs.population is None or population.is_raster(inputs.population):
        return None
    return population.residents_from_points(
        inputs.population,
        parse_crs(inputs.population_crs, "--population-crs"),
        encoding=inputs.encoding,
    )


def read_osm_input(
    inputs: Inputs, settings: Settings, taxonomy: Taxonomy
) -> tuple[OSMData, BaseGeometry | None]:
    """The OSM data of ``--osm``, or fetched for ``--place`` (with the polygon fetched)."""
    wf = load_walk_filter(inputs.walk_filter)
    if inputs.osm is not None:
        return read_osm(inputs.osm, walk_filter=wf, taxonomy=taxonomy), None
    if inputs.place is None:
        raise InputError("give exactly one of --osm PATH or --place NAME")
    place: str | shapely.Geometry = inputs.place
    if Path(inputs.place).suffix.lower() in VECTOR_SUFFIXES:
        # a polygon file: fetch what lies inside it (WGS 84 unless the file says otherwise)
        place = boundaries.read_area(inputs.place, option="--place")
    with tempfile.TemporaryDirectory(prefix="lifecircle-") as tmp:
        path, area = download_osm(place, Path(tmp), reach_m=settings.max_reach_m)
        return read_osm(path, walk_filter=wf, taxonomy=taxonomy), area


def prepare(inputs: Inputs, settings: Settings, *, clock: Stopwatch | None = None) -> Prepared:
    """Check and read every input of one area.

    Parameters
    ----------
    inputs
        The data sources.
    settings
        The run's settings (the walking reach sizes a ``--place`` download).
    clock
        Times the two reading stages and tells progress.

    Returns
    -------
    Prepared

    Raises
    ------
    InputError
        When an input is missing, unreadable or invalid; the user's files are checked before
        the OpenStreetMap input is read.
    """
    clock = clock or Stopwatch()
    inputs.check()
    taxonomy = load_taxonomy(inputs.categories)
    with clock.stage("load_user_files", "reading user files"):
        area = (
            boundaries.read_area(inputs.area, crs=parse_crs(inputs.area_crs, "--area-crs"))
            if inputs.area is not None
            else None
        )
        communities, source = None, None
        report: dict[str, Any] = {}
        if inputs.communities is not None:
            communities, report, source = read_user_communities(inputs)
            if area is not None:
                communities = boundaries.within_area(communities, area)
                if not len(communities):
                    raise InputError(
                        f"--communities {inputs.communities}: no community lies inside --area "
                        f"{inputs.area}; check that both files cover the same place"
                    )
        user_facilities = read_user_facilities(inputs)
        user_cats = {c for _, f in user_facilities for c in f["category"].unique()}
        settings.preset.check_categories(set(taxonomy.keys) | user_cats)
        points = read_population_points(inputs)
        compounds, gates = read_gate_inputs(inputs)
    # the bar follows the bytes read of a local file (a --place download is read from a
    # temporary file the stage does not know, so it shows the elapsed time only)
    with clock.stage("load_osm", "reading OpenStreetMap", watch=inputs.osm):
        osm, place_area = read_osm_input(inputs, settings, taxonomy)
    return Prepared(
        osm=osm,
        area=area,
        place_area=place_area,
        communities=communities,
        communities_source=source,
        community_counts=report,
        user_facilities=user_facilities,
        population=inputs.population,
        population_points=points,
        compounds=compounds,
        gates=gates,
        taxonomy=taxonomy,
        timings=clock.timings,
    )
