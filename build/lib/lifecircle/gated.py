"""Compound gates in a study: the inputs read, the gates built for the study's residents, each
category's walks taken through the gates, the gates a scenario opens, and what the summary says.
The model itself is :mod:`lifecircle.gates`."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle.area import StudyArea
from lifecircle.config import Settings
from lifecircle.gates import GATE_TOLERANCE_M, KNOWN, GateInputs, Gates, build_gates
from lifecircle.network import Network
from lifecircle.routing import origin_distances
from lifecircle.sources._files import parse_crs

if TYPE_CHECKING:
    from lifecircle.inputs import Inputs, Prepared
    from lifecircle.placement import PlacedResidents
    from lifecircle.study import Study
    from lifecircle.tables import CategoryReach


def read_gate_inputs(inputs: Inputs) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    """The user's ``--compounds`` and ``--gates`` files (None where not given or from OSM)."""
    from lifecircle.sources import compounds as src

    if not inputs.gates_on:
        return None, None
    comp = (
        src.read_compounds(inputs.compounds, crs=parse_crs(inputs.compounds_crs, "--compounds-crs"))
        if inputs.compounds is not None
        else None
    )
    gates = (
        src.read_gates(
            Path(str(inputs.gates)),
            crs=parse_crs(inputs.gates_crs, "--gates-crs"),
            encoding=inputs.encoding,
        )
        if inputs.gates not in (None, "osm", "off")
        else None
    )
    return comp, gates


def study_gates(
    prepared: Prepared,
    net: Network,
    area: StudyArea,
    settings: Settings,
    residents: PlacedResidents,
) -> Gates:
    """The gates of a study: the user's files where given, else OpenStreetMap's."""
    from lifecircle.sources import compounds as src

    comp, gates = prepared.compounds, prepared.gates
    inp = GateInputs(
        compounds=comp if comp is not None else src.compounds_from_osm(prepared.osm.compounds),
        gates=gates if gates is not None else src.gates_from_osm(prepared.osm.gates),
        compounds_from="osm" if comp is None else "file",
        gates_from="osm" if gates is None else "file",
    )
    bld = residents.buildings
    return build_gates(
        inp,
        net,
        area,
        settings,
        residents=residents.table.to_crs(area.crs).geometry.to_numpy(),
        buildings=bld.to_crs(area.crs).geometry.to_numpy() if len(bld) else np.zeros(0, object),
    )


def access_point_positions(study: Study, category: str) -> np.ndarray:
    """The category's access points (metric CRS), in the order of
    :meth:`lifecircle.placement.SitedFacilities.of_category`."""
    from lifecircle.sources.facilities import access_points

    table = study.facilities.table
    mine = table[table["category"].to_numpy() == category] if len(table) else table
    if not len(mine):
        return np.zeros(0, dtype=object)
    # the category's rows alone give its access points in the same order as all rows do
    _, pts = access_points(mine, study.area.crs, step_m=study.settings.outline_step_m)
    return pts


def through_gates(study: Study, reach: CategoryReach, gates: Gates) -> CategoryReach:
    """``reach`` with the enclosed residents' and buildings' distances taken through the
    gates; the distances ignoring gates kept in ``resident_m_ungated``."""
    acc = study.access[reach.category]
    kw: dict[str, Any] = {
        "net": study.network,
        "field": acc.field,
        "fac": acc.snap,
        "fac_points": access_point_positions(study, reach.category),
        "limit_m": study.search_limit_m,
    }
    dist, near = gates.distances((reach.resident_m, reach.nearest_point), gates.residents, **kw)
    bld = reach.building_m
    if bld is not None:
        bld = gates.distances((bld, np.full(len(bld), -1)), gates.buildings, **kw)[0]
    return replace(
        reach,
        resident_m=dist,
        nearest_point=near,
        building_m=bld,
        resident_m_ungated=reach.resident_m,
    )


def gates_summary(
    gates: Gates, res: pd.DataFrame, within: dict[str, Any], within_ungated: dict[str, Any]
) -> dict[str, Any]:
    """What ``summary.json`` says of the gates: counts, residents routed through known and
    assumed gates, and per category the share within its threshold with and without gates."""
    w = res["weight"].to_numpy(dtype=float)
    comp = gates.residents.compound
    kind = gates.compounds["gates"].to_numpy()
    inside = comp >= 0
    known = np.zeros(len(comp), dtype=bool)
    known[inside] = kind[comp[inside]] == KNOWN
    change = {
        c: None if v is None or within_ungated.get(c) is None else v - within_ungated[c]
        for c, v in within.items()
    }
    return {
        **gates.counts,
        "gate_tolerance_m": GATE_TOLERANCE_M,
        "residents_through_known_gates": float(w[known].sum()),
        "residents_through_assumed_gates": float(w[inside & ~known].sum()),
        "residents_in_compounds_without_gate": float(w[gates.residents.gateless].sum()),
        "resident_points_through_gates": int(inside.sum()),
        "within_threshold": within,
        "within_threshold_ignoring_gates": within_ungated,
        "change": change,
    }


def with_gates(study: Study, add: gpd.GeoDataFrame) -> Study:
    """A new study with the gates ``add`` opened (WGS 84, as :func:`read_gates` reads them).

    The facilities' distance fields and service areas do not change, only the walks of the
    residents inside compounds: every category is re-measured, none routed again.

    Raises
    ------
    InputError
        When ``study`` was analysed without gates, or a new gate belongs to no compound.
    """
    from lifecircle.errors import InputError
    from lifecircle.gates import open_gates

    if study.gates is None:
        raise InputError(
            "--add-gate: the analysis was run without compound gates; rerun lifecircle analyze "
            "with --gates osm (or a gates file), then open gates in a scenario"
        )
    gates = open_gates(study.gates, add, study.network, study.area.crs, study.settings)
    new = copy.copy(study)
    new.gates = gates
    new.notes = list(study.notes)
    new.counts = dict(study.counts)
    new.access = dict(study.access)
    new._catchments = {}
    new._reach = {
        c: _remeasured(new, r, gates) for c, r in study._reach.items()
    }  # service areas kept
    return new


def _remeasured(study: Study, reach: CategoryReach, gates: Gates) -> CategoryReach:
    """``reach`` of a study whose gates changed: the walks ignoring gates again, then through
    the new gates; the service areas kept."""
    acc, res = study.access[reach.category], study.residents
    dist, near = origin_distances(
        study.network, acc.field, acc.snap, res.snap, limit_m=study.search_limit_m
    )
    bld = (
        origin_distances(
            study.network, acc.field, acc.snap, res.buildings_snap, limit_m=study.search_limit_m
        )[0]
        if reach.building_m is not None
        else None
    )
    plain = replace(
        reach, resident_m=dist, nearest_point=near, building_m=bld, resident_m_ungated=None
    )
    return through_gates(study, plain, gates)


GATES_NOT_YET = (
    "{what} does not take compound gates into account yet (it measures the walks ignoring "
    "them, which would not match the analysis): run it on an analysis without --gates"
)


def refuse_gates(study: Study, what: str) -> None:
    """Refuse ``what`` (``--sensitivity``, ``lifecircle site``) on a study with gates: it
    measures walks ignoring the gates and would contradict the analysis.

    Raises
    ------
    InputError
        When ``study`` has gates.
    """
    from lifecircle.errors import InputError

    if study.gates is not None:
        raise InputError(GATES_NOT_YET.format(what=what))
