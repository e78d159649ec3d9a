"""The study area: where the analysis reports (communities), in which metric CRS, and how far
beyond it the network and the facilities must reach (the walking reach buffer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from lifecircle.config import Settings
from lifecircle.crs import metric_crs
from lifecircle.errors import InputError
from lifecircle.inputs import Prepared
from lifecircle.notes import note
from lifecircle.sources import boundaries

# Share of the buffered area that may lie beyond the OSM extract before the notes warn that
# coverage near the edge may be understated.
OUTSIDE_EXTRACT_WARN = 0.01


@dataclass(frozen=True)
class StudyArea:
    """The communities reported on and the geometry around them.

    Attributes
    ----------
    area
        The union of the communities (WGS 84).
    crs
        The metric CRS of the analysis.
    area_m, buffer_m
        The area in that CRS, and the area buffered by ``reach_m``: the network and the
        facilities that count.
    communities
        One row per community (``community_id``, ``community_name``, geometry in WGS 84).
    communities_source
        Where the communities came from: ``file:…``, ``osm_admin_level_N`` or ``grid_…m``.
    notes, counts
        What the stage found worth saying (for ``summary.json``).
    """

    area: BaseGeometry
    crs: CRS
    area_m: BaseGeometry
    buffer_m: BaseGeometry
    reach_m: float
    communities: gpd.GeoDataFrame
    communities_source: str
    notes: tuple[str, ...] = ()
    counts: dict[str, Any] = field(default_factory=dict)


def to_metric(geom: BaseGeometry, crs: CRS) -> BaseGeometry:
    """A WGS 84 geometry in the metric CRS."""
    return gpd.GeoSeries([geom], crs=4326).to_crs(crs).iloc[0]


def _first_area(prepared: Prepared, source: str) -> BaseGeometry:
    """The area before communities are known: the given communities, the --area or --place
    polygon, or else the extent of the walkable network."""
    if prepared.communities is not None:
        return shapely.union_all(prepared.communities.geometry.to_numpy())
    if prepared.area is not None:
        return prepared.area
    if prepared.place_area is not None:
        return prepared.place_area
    if prepared.osm.ways:
        # the extent of the walkable network (an extract's stray far-away nodes do not count)
        ll = np.concatenate([w.lonlat for w in prepared.osm.ways])
        return shapely.box(*ll.min(axis=0), *ll.max(axis=0))
    excluded = int(prepared.osm.counts.get("ways_excluded_by_filter", 0))
    if excluded:  # there were streets: the rules left none
        raise InputError(
            f"{source}: none of its ways is walkable by the walk filter ({excluded} excluded by "
            "it); check --walk-filter, or start from the shipped rules"
        )
    raise InputError(f"{source}: the file holds no walkable ways")


def define_area(prepared: Prepared, settings: Settings, *, source: str = "--osm") -> StudyArea:
    """Fix the communities, the metric CRS and the reach buffer of one area.

    Parameters
    ----------
    prepared
        The inputs, read.
    settings
        The run's settings (walking reach, admin level, grid cell).
    source
        How the OSM input is named in messages.

    Returns
    -------
    StudyArea

    Raises
    ------
    InputError
        When nothing locates the area: no communities, no polygon and no walkable way.
    """
    area = _first_area(prepared, source)
    crs = metric_crs(area.centroid.x, area.centroid.y)
    reach = settings.max_reach_m
    notes: list[str] = []
    communities, comm_src = prepared.communities, prepared.communities_source
    cut: dict[str, Any] | None = None
    if communities is None:
        osm_comm, level = boundaries.communities_from_osm(
            prepared.osm.boundaries, settings.admin_level, within=prepared.area
        )
        if osm_comm is not None:
            communities, comm_src = osm_comm, f"osm_admin_level_{level}"
            area = shapely.union_all(communities.geometry.to_numpy())
        else:
            communities = boundaries.grid_communities(
                to_metric(area, crs), crs, settings.grid_cell_m
            )
            comm_src = f"grid_{settings.grid_cell_m:g}m"
        cut = boundaries.cut_boundaries(
            prepared.osm.incomplete_boundaries,
            level,
            within=prepared.area,
            finer=settings.admin_level is None,  # a level the user chose: only that level
        )
        if osm_comm is None:  # a grid covers the whole area: said in a note, not a warning
            levels = ", ".join(cut["admin_levels"]) if cut else ""
            notes.append(
                note(
                    "grid_communities_cut",
                    n=cut["count"],
                    levels=levels,
                    cell_m=settings.grid_cell_m,
                )
                if cut
                else note("grid_communities", cell_m=settings.grid_cell_m)
            )
            cut = None
    area_m = to_metric(area, crs)
    buffer_m = area_m.buffer(reach)
    counts: dict[str, Any] = {}
    if cut is not None:  # the headline warns (lifecircle.headline): it covers less than it seems
        counts["osm_boundaries_cut"] = {**cut, "communities_kept": len(communities)}
    if prepared.osm.bounds is not None:
        data_box = to_metric(shapely.box(*prepared.osm.bounds), crs)
        outside = buffer_m.difference(data_box).area / buffer_m.area
        counts["analysis_buffer_outside_osm_extent_share"] = round(float(outside), 4)
        if outside > OUTSIDE_EXTRACT_WARN:
            notes.append(note("extract_clipped", outside_share=float(outside), reach_m=reach))
    return StudyArea(
        area=area,
        crs=crs,
        area_m=area_m,
        buffer_m=buffer_m,
        reach_m=reach,
        communities=communities,
        communities_source=str(comm_src),
        notes=tuple(notes),
        counts=counts,
    )
