"""Run one area end to end: inputs -> walk graph -> snapping -> routing -> coverage -> layers.

Pure orchestration: no CLI concerns, no file writing (see :mod:`lifecircle.outputs`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from lifecircle.categories import Taxonomy, load_taxonomy
from lifecircle.config import Settings, load_walk_filter
from lifecircle.coverage import (
    AGE_WEIGHTED,
    area_totals,
    basket_limit_m,
    coverage_table,
    covered_mask,
    denominator_tables,
    weighted_median_by,
)
from lifecircle.crs import metric_crs
from lifecircle.errors import InputError
from lifecircle.inputs import Inputs, Prepared
from lifecircle.isochrones import EdgeSamples, auto_cell_m, service_areas
from lifecircle.naming import ALL, coverage_col, dist_col, limit_m, median_dist_col, time_col
from lifecircle.network import Network, build_network
from lifecircle.notes import note, note_keys
from lifecircle.routing import facility_fields, origin_distances
from lifecircle.snapping import Snapped, snap_points
from lifecircle.sources import ages, boundaries, facilities, population
from lifecircle.sources._files import VECTOR_SUFFIXES, check_file, parse_crs
from lifecircle.sources.codes import compare_with_code_table
from lifecircle.sources.osm import OSMData, download_osm, read_osm

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class Result:
    """Everything an analysis produced, ready to be written or inspected."""

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


def _validate_paths(inputs: Inputs) -> None:
    if (inputs.osm is None) == (inputs.place is None):
        raise InputError("give exactly one of --osm PATH or --place NAME")
    if inputs.osm is not None:
        check_file(inputs.osm, "--osm")
    if inputs.communities is not None:
        check_file(inputs.communities, "--communities")
    if inputs.population is not None:
        check_file(inputs.population, "--population")
    if inputs.code_table is not None:
        check_file(inputs.code_table, "--code-table")
    if inputs.area is not None:
        check_file(inputs.area, "--area")
    for f in inputs.facilities:
        check_file(f, "--facilities")


def read_user_communities(inputs: Inputs) -> tuple[gpd.GeoDataFrame, dict[str, Any], str]:
    """The ``--communities`` file, with the age-share column kept when one is named; its read
    report; and the source label for the summary."""
    assert inputs.communities is not None
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
    return [
        (Path(f), facilities.read_facilities_file(f, crs=crs, encoding=inputs.encoding))
        for f in inputs.facilities
    ]


def _load_osm(
    inputs: Inputs, settings: Settings, taxonomy: Taxonomy, workdir: Path
) -> tuple[OSMData, Any]:
    wf = load_walk_filter(inputs.walk_filter)
    if inputs.osm is not None:
        return read_osm(inputs.osm, walk_filter=wf, taxonomy=taxonomy), None
    assert inputs.place is not None
    place: str | shapely.Geometry = inputs.place
    if Path(inputs.place).suffix.lower() in VECTOR_SUFFIXES:
        # a polygon file: fetch what lies inside it (WGS 84 unless the file says otherwise)
        place = boundaries.read_area(inputs.place, option="--place")
    path, area = download_osm(place, workdir, reach_m=settings.max_reach_m)
    return read_osm(path, walk_filter=wf, taxonomy=taxonomy), area


def _to_metric(geom: shapely.Geometry, crs: CRS) -> shapely.Geometry:
    """A WGS 84 geometry in the metric CRS."""
    return gpd.GeoSeries([geom], crs=4326).to_crs(crs).iloc[0]


def _community_of(points_m: gpd.GeoDataFrame, comm_m: gpd.GeoDataFrame) -> np.ndarray:
    """The community id each point falls in ("" for none; the first when polygons overlap)."""
    joined = gpd.sjoin(points_m[["geometry"]], comm_m, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined["community_id"].reindex(points_m.index).fillna("").astype(str).to_numpy()


def analyze(
    inputs: Inputs,
    settings: Settings,
    *,
    progress: Progress | None = None,
    prepared: Prepared | None = None,
) -> Result:
    """Analyse one area end to end.

    Parameters
    ----------
    inputs
        The data sources.
    settings
        Preset, target and engine options.
    progress
        Called with a short description at the start of each stage.
    prepared
        Inputs the caller has already read (the batch runner); ``inputs`` then only names
        them for the record, and a population raster is still read from its path.
    """
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[name] = round(now - t0, 4)
        t0 = now

    if prepared is None:
        _validate_paths(inputs)
    taxonomy = load_taxonomy(inputs.categories)
    preset = settings.preset
    notes: list[str] = []  # lifecircle.notes.Note: English text with a key and parameters
    counts: dict[str, Any] = {}

    # ---- user layers first: cheap, and their errors should come before a long OSM parse
    say("reading user files")
    comm_src = None
    communities = None
    fac_crs = parse_crs(inputs.facilities_crs, "--facilities-crs")
    fixed_area: BaseGeometry | None = None
    if prepared is not None:
        communities = prepared.communities
        comm_src = prepared.communities_source
        counts.update(prepared.community_counts)
        user_items = list(prepared.user_facilities)
        fixed_area = prepared.area
    else:
        if inputs.area is not None:
            if inputs.place is not None:
                raise InputError(
                    "--area limits a local --osm file; with --place, give the "
                    "area as the place itself"
                )
            fixed_area = boundaries.read_area(
                inputs.area, crs=parse_crs(inputs.area_crs, "--area-crs")
            )
        if inputs.communities is not None:
            communities, rep, comm_src = read_user_communities(inputs)
            counts.update(rep)
            if fixed_area is not None:
                communities = boundaries.within_area(communities, fixed_area)
                if not len(communities):
                    raise InputError(
                        f"--communities {inputs.communities}: no community lies inside --area "
                        f"{inputs.area}; check that both files cover the same place"
                    )
        user_items = read_user_facilities(inputs)
    user_fac = [f for _, f in user_items]
    user_cats = sorted({c for f in user_fac for c in f["category"].unique()})
    preset.check_categories(set(taxonomy.keys) | set(user_cats))
    lap("load_user_files")

    say("reading OpenStreetMap")
    place_area = None
    if prepared is not None:
        osm = prepared.osm
    else:
        with tempfile.TemporaryDirectory(prefix="lifecircle-") as tmp:
            osm, place_area = _load_osm(inputs, settings, taxonomy, Path(tmp))
    counts["osm"] = dict(osm.counts)
    lap("load_osm")

    # ---- the area
    if communities is not None:
        area = shapely.union_all(communities.geometry.to_numpy())
    elif fixed_area is not None:
        area = fixed_area
    elif place_area is not None:
        area = place_area
    elif osm.ways:
        # the extent of the walkable network (an extract's stray far-away nodes do not count)
        ll = np.concatenate([w.lonlat for w in osm.ways])
        area = shapely.box(*ll.min(axis=0), *ll.max(axis=0))
    else:
        raise InputError(f"--osm {inputs.osm}: the file holds no walkable ways")
    crs = metric_crs(area.centroid.x, area.centroid.y)
    area_m = _to_metric(area, crs)
    reach = settings.max_reach_m
    buffer_m = area_m.buffer(reach)

    if communities is None:
        osm_comm, level = boundaries.communities_from_osm(
            osm.boundaries, settings.admin_level, within=fixed_area
        )
        if osm_comm is not None:
            communities = osm_comm
            comm_src = f"osm_admin_level_{level}"
            area = shapely.union_all(communities.geometry.to_numpy())
            area_m = _to_metric(area, crs)
            buffer_m = area_m.buffer(reach)
        else:
            communities = boundaries.grid_communities(area_m, crs, settings.grid_cell_m)
            comm_src = f"grid_{settings.grid_cell_m:g}m"
            notes.append(note("grid_communities", cell_m=settings.grid_cell_m))
    if osm.bounds is not None:
        data_box = _to_metric(shapely.box(*osm.bounds), crs)
        outside = buffer_m.difference(data_box).area / buffer_m.area
        counts["analysis_buffer_outside_osm_extent_share"] = round(float(outside), 4)
        if outside > 0.01:
            notes.append(note("extract_clipped", outside_share=float(outside), reach_m=reach))
    lap("area")

    say("building the walk graph")
    net = build_network(osm.ways, crs, clip=buffer_m, min_component_m=settings.min_component_m)
    lap("graph")

    # ---- facilities
    say("finding facilities")
    frames = []
    if inputs.osm_facilities:
        frames.append(facilities.facilities_from_osm(osm.features, taxonomy))
    for path, f in user_items:
        facilities.check_user_facilities(
            f,
            path,
            fac_crs,
            net,
            buffer_m,
            crs,
            settings,
            notes,
            counts,
            refuse_if_outside=prepared is None,  # the batch checks city-wide lists once
        )
    frames.extend(user_fac)
    fac = gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True) if frames else None,
        columns=facilities.FACILITY_COLUMNS,
        geometry="geometry",
        crs="EPSG:4326",
    )
    fac_m = fac.to_crs(crs)
    in_buf = fac_m.intersects(buffer_m).to_numpy() if len(fac) else np.zeros(0, dtype=bool)
    counts["facilities_outside_buffer"] = int((~in_buf).sum())
    fac, fac_m = fac[in_buf].reset_index(drop=True), fac_m[in_buf].reset_index(drop=True)
    categories = [
        c for c in taxonomy.keys if inputs.osm_facilities or c in user_cats or c in preset.basket
    ]
    categories += [c for c in user_cats if c not in categories]
    rows, pts = facilities.access_points(fac, crs, step_m=settings.outline_step_m)
    fsnap = snap_points(pts, net, max_snap_m=settings.max_snap_m)
    on_per_fac = np.bincount(rows[fsnap.on_network], minlength=len(fac)) > 0
    fac["on_network"] = on_per_fac
    fac["access_points"] = np.bincount(rows, minlength=len(fac))
    fac["in_area"] = fac_m.intersects(area_m).to_numpy() if len(fac) else []
    lap("facilities")

    # ---- residents
    say("placing residents")
    osm_buildings = partial(
        population.residents_from_buildings,
        osm.buildings,
        osm.residential_landuse,
        crs,
        default_levels=settings.default_levels,
        floor_area_per_person_m2=settings.floor_area_per_person_m2,
    )
    if inputs.population is not None:
        if population.is_raster(inputs.population):
            res = population.residents_from_raster(inputs.population, area)
            denominator = f"population_raster:{Path(inputs.population).name}"
        else:
            res = (
                prepared.population_points
                if prepared is not None and prepared.population_points is not None
                else population.residents_from_points(
                    inputs.population,
                    parse_crs(inputs.population_crs, "--population-crs"),
                    encoding=inputs.encoding,
                )
            )
            denominator = f"population_points:{Path(inputs.population).name}"
    else:
        res = osm_buildings()
        denominator = "osm_residential_buildings_floor_area_estimate"
        res_m = res.to_crs(crs)
        if len(res) == 0 or not res_m.intersects(area_m).any():
            res = population.uniform_residents(area_m, crs)
            denominator = "uniform_area_no_population_data"
            notes.append(note("uniform_residents"))
    res_m = res.to_crs(crs)
    inside = res_m.within(area_m).to_numpy()
    counts["resident_points_outside_area"] = int((~inside).sum())
    res, res_m = res[inside].reset_index(drop=True), res_m[inside].reset_index(drop=True)
    if len(res) == 0:
        raise InputError(
            "no residents fall inside the analysis area; check the population input and the area"
        )
    comm_m = communities.to_crs(crs)[["community_id", "geometry"]]
    res["community_id"] = _community_of(res_m, comm_m)
    rsnap = snap_points(res_m.geometry.to_numpy(), net, max_snap_m=settings.max_snap_m)
    res["snap_m"] = rsnap.leg_m
    res["on_network"] = rsnap.on_network
    # residential buildings: the second and third denominators (count and floor area)
    if denominator.startswith("osm_residential_buildings"):
        bld = res[["community_id", "floor_area_m2", "geometry"]].copy()
        bsnap = rsnap
    else:
        bld = osm_buildings()
        bld_m = bld.to_crs(crs)
        keep = bld_m.within(area_m).to_numpy() if len(bld) else np.zeros(0, dtype=bool)
        bld, bld_m = bld[keep].reset_index(drop=True), bld_m[keep].reset_index(drop=True)
        bld["community_id"] = _community_of(bld_m, comm_m) if len(bld) else []
        bsnap = snap_points(bld_m.geometry.to_numpy(), net, max_snap_m=settings.max_snap_m)
    lap("snapping")

    # ---- routing
    say("routing")
    search_limit = 2.0 * reach
    cell_m = auto_cell_m(buffer_m.bounds, settings.service_area_cell_m)
    samples = EdgeSamples(net, cell_m / 2)
    sa_rows = []
    empty_categories = []
    fac_reached = np.zeros(len(fac))
    stage = {"routing": 0.0, "service_areas": 0.0}
    cat_snaps = {}
    for cat in categories:
        sel = (fac["category"].to_numpy() == cat)[rows] if len(fac) else np.zeros(0, dtype=bool)
        cat_snaps[cat] = Snapped(
            edge=np.where(sel, fsnap.edge, -1),
            offset_m=fsnap.offset_m,
            leg_m=fsnap.leg_m,
            near_dropped=fsnap.near_dropped,
        )
        if not sel.any():
            empty_categories.append(cat)
    tr = time.perf_counter()
    fields = facility_fields(
        net, list(cat_snaps.values()), limit_m=search_limit, processes=settings.processes
    )
    stage["routing"] += time.perf_counter() - tr
    fac_ids = (
        fac["facility_id"].to_numpy(dtype=object) if len(fac) else np.array([""], dtype=object)
    )
    profile0, speed0 = next(iter(preset.speeds_m_s.items()))
    # service areas: every tier for the first profile, the longest tier for the others
    wanted = {
        (profile, minutes): limit_m(minutes, speed)
        for j, (profile, speed) in enumerate(preset.speeds_m_s.items())
        for minutes in preset.minutes
        if j == 0 or minutes == max(preset.minutes)
    }
    for cat, cat_field in zip(categories, fields, strict=True):
        cat_snap = cat_snaps[cat]
        tr = time.perf_counter()
        dist_r, fac_r = origin_distances(net, cat_field, cat_snap, rsnap, limit_m=search_limit)
        if len(bld):
            bld[dist_col(cat)] = origin_distances(
                net, cat_field, cat_snap, bsnap, limit_m=search_limit
            )[0]
        stage["routing"] += time.perf_counter() - tr
        res[dist_col(cat)] = dist_r
        nearest = np.where(fac_r >= 0, rows[np.maximum(fac_r, 0)], -1)
        res[f"nearest_{cat}"] = np.where(nearest >= 0, fac_ids[np.maximum(nearest, 0)], "")
        for profile, speed in preset.speeds_m_s.items():
            res[time_col(cat, profile)] = dist_r / speed / 60.0
        hit = dist_r <= limit_m(max(preset.minutes), speed0)
        np.add.at(
            fac_reached,
            nearest[hit & (nearest >= 0)],
            res["weight"].to_numpy()[hit & (nearest >= 0)],
        )
        if cat not in empty_categories:
            tr = time.perf_counter()
            d = samples.distance(cat_field.node_m, cat_snap)
            areas = service_areas(
                samples,
                d,
                wanted,
                cell_m=cell_m,
                buffer_m=settings.service_area_buffer_m,
                fill_holes_m2=settings.service_area_fill_holes_m2,
            )
            stage["service_areas"] += time.perf_counter() - tr
            for (profile, minutes), geom in areas.items():
                sa_rows.append(
                    {"category": cat, "profile": profile, "minutes": minutes, "geometry": geom}
                )
    fac["residents_within_max_minutes"] = fac_reached
    lap("routing_and_service_areas")
    timings["of_which_routing"] = round(stage["routing"], 4)
    timings["of_which_service_areas"] = round(stage["service_areas"], 4)

    # ---- coverage
    say("computing coverage")
    age_share = ages.age_shares(inputs.age_share, communities, preset)
    cov = coverage_table(res, communities, categories, preset, settings.target, age_share=age_share)
    area_cov = area_totals(cov, settings.target)
    denoms, area_denoms = denominator_tables(
        cov[cov["profile"] != AGE_WEIGHTED], bld, communities, categories, preset, settings.target
    )
    maxm = max(preset.minutes)
    full = covered_mask(res, ALL, speed0, maxm, preset)
    gap_idx = np.flatnonzero(~full)
    miss_cols = []
    for c in preset.basket_for(maxm):
        lim = basket_limit_m(preset, c, speed0, maxm)
        miss_cols.append(np.where(~(res[dist_col(c)].to_numpy()[gap_idx] <= lim), c, ""))
    missing = (
        [", ".join(x for x in row if x) for row in zip(*miss_cols, strict=True)]
        if miss_cols
        else [""] * len(gap_idx)
    )
    gaps = gpd.GeoDataFrame(
        {
            "community_id": res["community_id"].to_numpy()[~full],
            "weight": res["weight"].to_numpy()[~full],
            "missing_categories": missing,
            "on_network": res["on_network"].to_numpy()[~full],
        },
        geometry=res.geometry.to_numpy()[~full],
        crs="EPSG:4326",
    )
    wide = cov.pivot_table(
        index="community_id",
        columns=["category", "profile", "minutes"],
        values="coverage",
        dropna=False,
    )
    wide.columns = [coverage_col(str(t[0]), str(t[1]), int(t[2])) for t in wide.columns]
    comm_out = communities.merge(wide, left_on="community_id", right_index=True, how="left")
    per_comm = cov.drop_duplicates("community_id").set_index("community_id")["residents"]
    comm_out.insert(2, "residents", comm_out["community_id"].map(per_comm).to_numpy())
    for cat in categories:  # how far the typical resident walks, for popups and reports
        med = weighted_median_by(res, dist_col(cat))
        comm_out[median_dist_col(cat)] = comm_out["community_id"].map(med).to_numpy(dtype=float)
    sa = gpd.GeoDataFrame(
        sa_rows,
        columns=["category", "profile", "minutes", "geometry"],
        geometry="geometry",
        crs=crs,
    ).to_crs(4326)
    if inputs.code_table is not None:
        report = compare_with_code_table(inputs.code_table, communities["community_id"], per_comm)
        counts["code_table"] = report
        n1, n2 = (
            len(report["committees_without_polygon"]),
            len(report["polygons_with_unknown_codes"]),
        )
        n3 = len(report["committees_without_residents"])
        if n1 or n2 or n3:
            notes.append(note("code_table", no_polygon=n1, no_residents=n3, unknown_codes=n2))
    lap("coverage")

    # ---- summary
    w = res["weight"].to_numpy()
    off = ~rsnap.on_network
    fac_counts = {c: int((fac["category"] == c).sum()) for c in categories}
    for c in empty_categories:
        notes.append(note("empty_category", category=c))
    top = area_cov[
        (area_cov["category"] == ALL)
        & (area_cov["profile"] == profile0)
        & (area_cov["minutes"] == maxm)
    ]
    clc = {
        "profile": profile0,
        "minutes": maxm,
        "basket": list(preset.basket_for(maxm)),
        "coverage": float(top["coverage"].iloc[0]),
        "target": settings.target,
        "meets_target": bool(top["meets_target"].iloc[0]),
    }
    ctop = cov[(cov["category"] == ALL) & (cov["profile"] == profile0) & (cov["minutes"] == maxm)]
    populated = ctop[ctop["residents"] > 0]
    meeting = {
        "denominator": "communities with residents",
        "count": int(populated["meets_target"].sum()),
        "of": len(populated),
        "share": float(populated["meets_target"].mean()) if len(populated) else None,
        "communities_without_residents": int((ctop["residents"] <= 0).sum()),
    }
    summary: dict[str, Any] = {
        "preset": preset.as_dict(),
        "area": {
            "communities": len(communities),
            "communities_source": comm_src,
            "crs": crs.to_string(),
            "crs_name": crs.name,
            "area_km2": round(area_m.area / 1e6, 4),
            "analysis_buffer_m": reach,
            "service_area_cell_m": cell_m,
        },
        "denominator": denominator,
        "residents": {
            "points": len(res),
            "total": float(w.sum()),
            "off_network_points": int(off.sum()),
            "off_network_share": float(w[off].sum() / w.sum()) if w.sum() else 0.0,
            "near_dropped_piece_points": int(rsnap.near_dropped.sum()),
            "near_dropped_piece_share": float(w[rsnap.near_dropped].sum() / w.sum())
            if w.sum()
            else 0.0,
            "outside_communities_points": int((res["community_id"] == "").sum()),
        },
        "network": net.stats | {"osm": counts["osm"]},
        "facilities": {
            "per_category": fac_counts,
            "per_category_source": {
                c: {
                    str(k): int(v)
                    for k, v in fac.loc[fac["category"] == c, "source"].value_counts().items()
                }
                for c in categories
            }
            if len(fac)
            else {c: {} for c in categories},
            "off_network": int((~fac["on_network"]).sum()) if len(fac) else 0,
            "near_dropped_piece": int(
                np.bincount(rows[fsnap.near_dropped], minlength=len(fac)).astype(bool).sum()
            )
            if len(fac)
            else 0,
            "outside_buffer_dropped": counts["facilities_outside_buffer"],
            "empty_categories": empty_categories,
        },
        "dropped_pieces_treatment": (
            f"pieces of network shorter than {settings.min_component_m:g} m in total are not "
            "routed on; points nearest to them are attached to the nearest kept edge within "
            f"{settings.max_snap_m:g} m, or reported off-network"
        ),
        "categories": {
            c: {
                "name_zh": taxonomy[c].name_zh if c in taxonomy else c,
                "name_en": taxonomy[c].name_en if c in taxonomy else c,
                "icon": taxonomy[c].icon if c in taxonomy else c[:1].upper(),
                "threshold": preset.threshold(c).describe(),
                "threshold_kind": preset.threshold(c).kind,
                "threshold_value": preset.threshold(c).value,
                "threshold_unverified": preset.threshold(c).unverified,
                "judged_with_profile": preset.judge_with.get(c),
                "in_basket": c in preset.basket,
            }
            for c in categories
        },
        "area_coverage": area_cov.drop(columns=["community_id", "community_name"]).to_dict(
            "records"
        ),
        "complete_life_circle": clc,
        "communities_meeting_target": meeting,
        "notes": notes,
        "note_keys": note_keys(notes),
        "timings_s": timings,
        "counts": {k: v for k, v in counts.items() if k != "osm"},
        "osm_timestamp": osm.timestamp,
    }
    log.info(
        "analysed %d communities, %d resident points, %d categories",
        len(communities),
        len(res),
        len(categories),
    )
    return Result(
        crs=crs,
        communities=comm_out,
        facilities=fac,
        residents=res,
        coverage=cov,
        area_coverage=area_cov,
        denominators=pd.concat([denoms, area_denoms], ignore_index=True),
        service_areas=sa,
        gaps=gaps,
        summary=summary,
        network=net,
        taxonomy=taxonomy,
        categories=categories,
    )
