"""Put facilities and residents on the walk network: collect facilities from OSM and the user's
lists, place residents from the population input, and snap both to the nearest walkable edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.area import StudyArea
from lifecircle.categories import Taxonomy
from lifecircle.config import Preset, Settings
from lifecircle.errors import InputError
from lifecircle.inputs import Prepared
from lifecircle.network import Network
from lifecircle.notes import note
from lifecircle.snapping import Snapped, snap_points
from lifecircle.sources import facilities, population
from lifecircle.sources._files import Declared
from lifecircle.sources._report import split_report

UNIFORM = "uniform_area_no_population_data"
OSM_BUILDINGS = "osm_residential_buildings_floor_area_estimate"


@dataclass(frozen=True)
class SitedFacilities:
    """Facilities that count for the area, and where each can be reached from the network.

    Attributes
    ----------
    table
        One row per facility (WGS 84; the columns of ``FACILITY_COLUMNS`` plus ``on_network``,
        ``access_points`` and ``in_area``).
    rows, snap
        Per access point (a point facility is one; a polygon one per 25 m of outline): its
        facility's row in ``table``, and where it meets the network.
    outside_buffer
        Facilities dropped for lying beyond the walking reach of the area.
    """

    table: gpd.GeoDataFrame
    rows: np.ndarray
    snap: Snapped
    outside_buffer: int = 0

    def of_category(self, category: str) -> tuple[np.ndarray, Snapped]:
        """The access points of one category: their facility rows, and their snapping."""
        if not len(self.table):
            return self.rows[:0], take(self.snap, self.rows[:0])
        sel = np.flatnonzero((self.table["category"].to_numpy() == category)[self.rows])
        return self.rows[sel], take(self.snap, sel)


def take(s: Snapped, idx: np.ndarray) -> Snapped:
    """The snapped points ``idx`` of ``s``, in that order."""
    return Snapped(
        edge=s.edge[idx],
        offset_m=s.offset_m[idx],
        leg_m=s.leg_m[idx],
        near_dropped=s.near_dropped[idx],
    )


def check_user_lists(
    user_items: Sequence[tuple[Path, gpd.GeoDataFrame]],
    declared: Declared,
    net: Network,
    area: StudyArea,
    settings: Settings,
    *,
    refuse_if_outside: bool = True,
    name_outside: bool = True,
) -> tuple[list[str], dict[str, Any]]:
    """Check each user facility list against the area (see
    :func:`lifecircle.sources.facilities.check_user_facilities`); the notes and counts found.

    ``refuse_if_outside`` is off where a list was cut to the area's box (a batch district: the
    rest of the city lies outside, rightly); ``name_outside`` names the facilities beyond the
    reach in a note (a scenario names them itself, with the other additions that serve
    nobody)."""
    notes: list[str] = []
    counts: dict[str, Any] = {}
    for path, fac in user_items:
        # the label tells apart two lists of one name in different folders (a/shops.csv)
        label = str(fac["source"].iloc[0]) if "source" in fac.columns and len(fac) else path.name
        found = facilities.check_user_facilities(
            fac,
            path,
            declared,
            net,
            area.buffer_m,
            area.crs,
            settings,
            refuse_if_outside=refuse_if_outside,
        )
        if found.outside is not None:
            counts.setdefault("facilities_outside_buffer_per_file", {})[label] = found.outside
        if found.outside and refuse_if_outside and name_outside:  # said, never only counted
            ids = list(found.outside_ids[:10])
            more = f" … (+{found.outside - len(ids)})" if found.outside > len(ids) else ""
            notes.append(
                note(
                    "facilities_outside_area",
                    file=label,
                    n=found.outside,
                    ids=", ".join(ids) + more,
                    reach_m=area.reach_m,
                )
            )
        if found.gcj02:
            counts.setdefault("facilities_gcj02_check", {})[label] = found.gcj02
            for system in ("gcj02", "bd09"):
                if found.gcj02.get(f"looks_{system}"):
                    counts.setdefault(f"facilities_look_{system}", []).append(label)
        if found.note:
            notes.append(found.note)
    return notes, counts


def gather_facilities(
    osm_features: Sequence[Any] | None,
    user_lists: Sequence[gpd.GeoDataFrame],
    taxonomy: Taxonomy,
) -> gpd.GeoDataFrame:
    """OSM facilities (when ``osm_features`` is given) and the user's lists in one table."""
    frames = []
    if osm_features is not None:
        frames.append(facilities.facilities_from_osm(list(osm_features), taxonomy))
    frames.extend(user_lists)
    return gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True) if frames else None,
        columns=facilities.FACILITY_COLUMNS,
        geometry="geometry",
        crs="EPSG:4326",
    )


def site_facilities(
    fac: gpd.GeoDataFrame,
    net: Network,
    area: StudyArea,
    settings: Settings,
) -> SitedFacilities:
    """Keep the facilities within the reach buffer and snap their access points.

    Parameters
    ----------
    fac
        Facilities in WGS 84 with the columns of ``FACILITY_COLUMNS`` (not modified).
    net, area, settings
        The walk network, the study area and the run's settings.
    """
    fac_m = fac.to_crs(area.crs)
    in_buf = fac_m.intersects(area.buffer_m).to_numpy() if len(fac) else np.zeros(0, dtype=bool)
    table = fac[in_buf].reset_index(drop=True)
    fac_m = fac_m[in_buf].reset_index(drop=True)
    rows, pts = facilities.access_points(table, area.crs, step_m=settings.outline_step_m)
    snap = snap_points(pts, net, max_snap_m=settings.max_snap_m)
    table["on_network"] = np.bincount(rows[snap.on_network], minlength=len(table)) > 0
    table["access_points"] = np.bincount(rows, minlength=len(table))
    table["in_area"] = fac_m.intersects(area.area_m).to_numpy() if len(table) else []
    return SitedFacilities(table=table, rows=rows, snap=snap, outside_buffer=int((~in_buf).sum()))


def analysed_categories(
    taxonomy: Taxonomy, preset: Preset, user_categories: Sequence[str], *, osm_facilities: bool
) -> list[str]:
    """The categories a run reports: the taxonomy's when OSM facilities are used, else those of
    the user's lists and the basket; then the user's own categories the taxonomy lacks."""
    cats = [
        c for c in taxonomy.keys if osm_facilities or c in user_categories or c in preset.basket
    ]
    return cats + [c for c in user_categories if c not in cats]


@dataclass(frozen=True)
class PlacedResidents:
    """Resident points inside the area, snapped, with the second and third denominators.

    Attributes
    ----------
    table
        Resident points (WGS 84): ``weight``, ``community_id``, ``snap_m``, ``on_network`` and
        whatever the population source gave.
    snap
        Where each resident meets the network.
    denominator
        What a resident point stands for (``population_raster:…``, ``population_points:…``,
        the OSM building estimate or evenly spread area samples).
    buildings, buildings_snap
        Residential buildings (the count and floor-area denominators), snapped.
    outside_area
        Points dropped for lying outside the area.
    """

    table: gpd.GeoDataFrame
    snap: Snapped
    denominator: str
    buildings: gpd.GeoDataFrame
    buildings_snap: Snapped
    outside_area: int = 0
    notes: tuple[str, ...] = field(default=())
    counts: dict[str, Any] = field(default_factory=dict)


def _community_of(points_m: gpd.GeoDataFrame, comm_m: gpd.GeoDataFrame) -> np.ndarray:
    """The community id each point falls in ("" for none; the first when polygons overlap)."""
    joined = gpd.sjoin(points_m[["geometry"]], comm_m, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined["community_id"].reindex(points_m.index).fillna("").astype(str).to_numpy()


def _resident_points(
    prepared: Prepared, area: StudyArea, settings: Settings
) -> tuple[gpd.GeoDataFrame, str, dict[str, Any]]:
    """The resident points from the population input, the OSM buildings, or spread evenly, and
    what reading them repaired (counts and ``notes``)."""
    if prepared.population is not None:
        name = Path(prepared.population).name
        if population.is_raster(prepared.population):
            res, report = population.residents_from_raster(prepared.population, area.area)
            return res, f"population_raster:{name}", report
        if prepared.population_points is None:
            raise InputError(f"--population {prepared.population}: the points were not read")
        return prepared.population_points, f"population_points:{name}", {}
    res = _osm_buildings(prepared, area, settings)
    res_m = res.to_crs(area.crs)
    if len(res) and res_m.intersects(area.area_m).any():
        return res, OSM_BUILDINGS, {}
    uniform = population.uniform_residents(area.area_m, area.crs)
    return uniform, UNIFORM, {"notes": [note("uniform_residents")]}


def _osm_buildings(prepared: Prepared, area: StudyArea, settings: Settings) -> gpd.GeoDataFrame:
    return population.residents_from_buildings(
        prepared.osm.buildings,
        prepared.osm.residential_landuse,
        area.crs,
        default_levels=settings.default_levels,
        floor_area_per_person_m2=settings.floor_area_per_person_m2,
    )


def place_residents(
    prepared: Prepared,
    area: StudyArea,
    net: Network,
    settings: Settings,
    *,
    check_swapped: bool = True,
) -> PlacedResidents:
    """Resident points (and residential buildings) inside the area, in their communities,
    snapped to the network.

    ``check_swapped`` refuses population points that lie inside the area only with longitude
    and latitude exchanged; the batch checks its city-wide points once instead.

    Raises
    ------
    InputError
        When no resident point falls inside the area, or points look swapped.
    """
    crs = area.crs
    res, denominator, report = _resident_points(prepared, area, settings)
    if check_swapped and prepared.population_points is not None and prepared.population:
        population.refuse_swapped_points(res, area.area, Path(prepared.population))
    counts, notes = split_report(report)
    res_m = res.to_crs(crs)
    inside = res_m.within(area.area_m).to_numpy()
    res, res_m = res[inside].reset_index(drop=True), res_m[inside].reset_index(drop=True)
    if len(res) == 0:
        raise InputError(
            "no residents fall inside the analysis area; check the population input and the area"
        )
    comm_m = area.communities.to_crs(crs)[["community_id", "geometry"]]
    res["community_id"] = _community_of(res_m, comm_m)
    snap = partial(snap_points, net=net, max_snap_m=settings.max_snap_m)
    rsnap = snap(res_m.geometry.to_numpy())
    res["snap_m"] = rsnap.leg_m
    res["on_network"] = rsnap.on_network
    if denominator == OSM_BUILDINGS:
        bld = res[["community_id", "floor_area_m2", "geometry"]].copy()
        bsnap = rsnap
    else:
        bld = _osm_buildings(prepared, area, settings)
        bld_m = bld.to_crs(crs)
        keep = bld_m.within(area.area_m).to_numpy() if len(bld) else np.zeros(0, dtype=bool)
        bld, bld_m = bld[keep].reset_index(drop=True), bld_m[keep].reset_index(drop=True)
        bld["community_id"] = _community_of(bld_m, comm_m) if len(bld) else []
        bsnap = snap(bld_m.geometry.to_numpy())
    return PlacedResidents(
        table=res,
        snap=rsnap,
        denominator=denominator,
        buildings=bld,
        buildings_snap=bsnap,
        outside_area=int((~inside).sum()),
        notes=tuple(notes),
        counts=counts,
    )
