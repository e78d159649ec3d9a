"""A study: one analysed area that keeps its state.

A :class:`Study` holds the walk network, the facilities and residents snapped to it and, per
category, the distance field of one multi-source search. :meth:`Study.coverage` turns that state
into the tables ``lifecircle analyze`` writes; :meth:`Study.with_facilities` adds or removes
facilities and re-routes only the categories they belong to; :meth:`Study.save` and
:meth:`Study.load` keep a study in an output folder so that later commands need not read the
OpenStreetMap file again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from lifecircle._records import installed_version
from lifecircle.area import StudyArea, define_area
from lifecircle.capacity import Catchment, build_catchment
from lifecircle.categories import Taxonomy, load_taxonomy, outside_taxonomy
from lifecircle.config import Settings
from lifecircle.errors import InputError
from lifecircle.fileio import atomic_write
from lifecircle.forked import forked_map
from lifecircle.gated import refuse_gates, study_gates, through_gates
from lifecircle.gates import Gates
from lifecircle.inputs import Inputs, Prepared
from lifecircle.isochrones import EdgeSamples, auto_cell_m, service_areas
from lifecircle.network import Network, build_network, walk_network_notes
from lifecircle.outlines import service_area_rows
from lifecircle.placement import (
    PlacedResidents,
    SitedFacilities,
    analysed_categories,
    check_user_lists,
    gather_facilities,
    place_residents,
    site_facilities,
)
from lifecircle.prepare import prepare
from lifecircle.result import Result
from lifecircle.routing import PARALLEL_MIN_NODES, Field, facility_fields, origin_distances
from lifecircle.sensitivity import (
    DEFAULT_DROPOUT,
    DEFAULT_DROPOUT_RUNS,
    DEFAULT_SNAP_BAND,
    Sensitivity,
    sensitivity,
)
from lifecircle.signing import verified, write_signed
from lifecircle.snapping import Snapped
from lifecircle.sources._files import parse_crs
from lifecircle.sources._report import split_report
from lifecircle.sources.facilities import FACILITY_COLUMNS
from lifecircle.tables import CategoryReach, build_result
from lifecircle.terrain import apply_dem
from lifecircle.timing import Display, Progress, Step, Stopwatch

log = logging.getLogger(__name__)

# Searches stop at twice the longest walking reach. Every share is judged within the reach, so
# that part is exact; the margin beyond it lets the popups and reports still give the median
# walk to a facility that lies out of reach instead of "unreachable".
SEARCH_LIMIT_FACTOR = 2.0

CACHE_NAME = "study_cache.pickle"
CACHE_FORMAT = 5  # 4: terrain costs (--dem); 5: service areas kept in WGS 84 with their outlines


def study_cache(out: Path) -> Path:
    """Where an output folder keeps its study: a file of the run's outputs (listed in the
    folder's marker, replaced with them, never a file of the user's)."""
    return Path(out) / CACHE_NAME


def study_key(files: dict[str, Any], inputs: Inputs, settings: Settings) -> str:
    """A digest of what a study is built from: the input files' contents (SHA-256 from
    :func:`lifecircle.outputs.input_files`), the options and the engine settings, and this
    lifecircle version. Presentation options are not part of it."""
    h = hashlib.sha256()
    for part in (
        installed_version(),
        CACHE_FORMAT,
        {label: f["sha256"] for label, f in files.items()},
        {k: v for k, v in asdict(inputs).items() if not isinstance(v, Path | tuple)},
        {k: v for k, v in settings.as_dict().items() if k != "processes"},
    ):
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class CategoryAccess:
    """One category's facilities on the network and the distance field they cast.

    ``rows`` gives each access point's facility row in the study's facility table; ``field``
    gives, per network node, metres to the nearest access point and which one.
    """

    rows: np.ndarray
    snap: Snapped
    field: Field


class Study:
    """An analysed area: network, snapped residents and facilities, and distance fields
    (and, with ``--gates``, the compounds whose residents leave through gates).

    Build one with :meth:`from_inputs` (reads the files) or :meth:`from_prepared` (inputs
    already read); ask it with :meth:`coverage`; change its facilities with
    :meth:`with_facilities`. A study is never changed in place.

    Examples
    --------
    >>> from lifecircle import Inputs, Study, make_settings
    >>> study = Study.from_inputs(Inputs(osm="helsinki.osm.pbf"), make_settings())  # doctest: +SKIP
    >>> result = study.coverage()  # doctest: +SKIP
    >>> result.area_coverage.head()  # doctest: +SKIP
    """

    def __init__(  # noqa: PLR0913  (the study's state, keyword-only; see from_prepared)
        self,
        *,
        inputs: Inputs,
        settings: Settings,
        taxonomy: Taxonomy,
        area: StudyArea,
        network: Network,
        facilities: SitedFacilities,
        residents: PlacedResidents,
        categories: Sequence[str],
        access: dict[str, CategoryAccess],
        osm_counts: dict[str, Any],
        osm_timestamp: str | None,
        notes: Sequence[str],
        counts: dict[str, Any],
        timings: dict[str, float],
        gates: Gates | None = None,
    ) -> None:
        self.inputs = inputs
        self.settings = settings
        self.taxonomy = taxonomy
        self.area = area
        self.network = network
        self.facilities = facilities
        self.residents = residents
        self.categories = list(categories)
        self.access = dict(access)
        self.osm_counts = osm_counts
        self.osm_timestamp = osm_timestamp
        self.notes = list(notes)
        self.counts = counts
        self.timings = dict(timings)
        self.gates = gates
        self._reach: dict[str, CategoryReach] = {}
        self._catchments: dict[str, Catchment] = {}
        self._samples: EdgeSamples | None = None

    # ---- building ------------------------------------------------------------------------

    @classmethod
    def from_inputs(
        cls, inputs: Inputs, settings: Settings, *, progress: Progress | Display | None = None
    ) -> Study:
        """Read the inputs and build the study.

        Parameters
        ----------
        inputs
            The data sources (exactly one of ``osm`` and ``place``).
        settings
            Preset, target and engine options (:func:`lifecircle.make_settings`).
        progress
            Shows the stages as they run: a :class:`~lifecircle.timing.Display`, or a callable
            told a short description at the start of each stage.

        Raises
        ------
        InputError
            When an input is missing, unreadable or invalid.
        """
        clock = Stopwatch(progress)
        prepared = prepare(inputs, settings, clock=clock)
        return cls.from_prepared(prepared, settings, inputs=inputs, clock=clock)

    @classmethod
    def from_prepared(
        cls,
        prepared: Prepared,
        settings: Settings,
        *,
        inputs: Inputs,
        clock: Stopwatch | None = None,
        refuse_if_outside: bool = True,
    ) -> Study:
        """Build the study from inputs already read (the batch reads a city once).

        Parameters
        ----------
        prepared
            The inputs, read (:func:`lifecircle.pipeline.prepare`).
        settings
            Preset, target and engine options.
        inputs
            Where the inputs came from (options and the record of the run).
        clock
            Times the stages (and tells progress).
        refuse_if_outside
            Refuse a facility list none of whose points lies near the area (the batch checks
            city-wide lists once, so a district without any is fine).
        """
        clock = clock or Stopwatch()
        taxonomy, user_cats, comm_counts, first_notes = _taxonomy_and_counts(
            prepared, settings, inputs
        )
        with clock.stage("area"):
            area = define_area(prepared, settings, source=inputs.osm_label)
        net = _walk_graph(prepared, settings, inputs, area, clock)
        with clock.stage("facilities", "finding facilities"):
            sited, categories, fac_notes, fac_counts = _find_facilities(
                prepared,
                settings,
                inputs,
                net,
                area,
                taxonomy,
                user_cats,
                refuse_if_outside=refuse_if_outside,
            )
        with clock.stage("snapping", "placing residents"):
            residents = place_residents(
                prepared, area, net, settings, check_swapped=refuse_if_outside
            )
        with clock.stage(
            "routing_and_service_areas", "routing", total=len(categories), unit="categories"
        ) as step:
            access = _route(net, sited, categories, area, settings, clock, step)
        gates = _find_gates(prepared, inputs, net, area, settings, residents, clock=clock)
        net.drop_edge_index()  # every point is placed: not held through the workers' forks
        counts = _study_counts(comm_counts, area, fac_counts, sited, residents)
        return cls(
            inputs=inputs,
            settings=settings,
            taxonomy=taxonomy,
            area=area,
            network=net,
            facilities=sited,
            residents=residents,
            categories=categories,
            access=access,
            osm_counts=dict(prepared.osm.counts),
            osm_timestamp=prepared.osm.timestamp,
            notes=[
                *first_notes,
                *area.notes,
                *walk_network_notes(
                    prepared.osm.counts, net.stats, min_component_m=settings.min_component_m
                ),
                *fac_notes,
                *residents.notes,
            ],
            counts=counts,
            timings=prepared.timings | clock.timings,
            gates=gates,
        )

    # ---- asking --------------------------------------------------------------------------

    @property
    def search_limit_m(self) -> float:
        """How far each search goes (metres)."""
        return SEARCH_LIMIT_FACTOR * self.area.reach_m

    @property
    def service_area_cell_m(self) -> float:
        """The raster cell of the service areas (coarser on large areas)."""
        return auto_cell_m(self.area.buffer_m.bounds, self.settings.service_area_cell_m)

    def coverage(self, *, progress: Progress | Display | None = None) -> Result:
        """Every table and layer of ``lifecircle analyze`` for the study's current facilities.

        Per category, the residents' distances and the service areas are computed once and
        kept, so asking again after :meth:`with_facilities` redoes only the changed categories.

        Returns
        -------
        Result
        """
        clock = Stopwatch(progress)
        routing_s = 0.0
        todo = [c for c in self.categories if not self._reach_is_current(c)]
        with clock.stage(
            "routing_and_service_areas",
            "service areas" if todo else None,
            total=len(todo),
            unit="categories",
        ) as step:
            t0 = time.perf_counter()
            areas = self._all_service_areas(todo, done=lambda c: step.advance(detail=c))
            service_s = time.perf_counter() - t0
            for cat in todo:
                self._reach[cat] = self._category_reach(cat, areas[cat])
                routing_s += self._reach[cat].routing_s
        timings = dict(self.timings)
        timings["routing_and_service_areas"] = round(
            timings.get("routing_and_service_areas", 0.0)
            + clock.timings["routing_and_service_areas"],
            4,
        )
        timings["of_which_routing"] = round(timings.pop("fields", 0.0) + routing_s, 4)
        timings["of_which_service_areas"] = round(service_s, 4)
        with clock.stage("coverage", "computing coverage"):
            result = build_result(self, [self._reach[c] for c in self.categories], timings)
        result.summary["timings_s"]["coverage"] = clock.timings["coverage"]
        if self.network.crossings is not None:
            with clock.stage("crossings", "comparing with no crossing delays"):
                _report_crossings(self, result)
            result.summary["timings_s"]["crossings_comparison"] = clock.timings["crossings"]
        log.info(
            "analysed %d communities, %d resident points, %d categories",
            len(result.communities),
            len(result.residents),
            len(self.categories),
        )
        return result

    def _reach_is_current(self, cat: str) -> bool:
        """Whether the kept reach of ``cat`` (its distances and service areas) was measured
        from the category's present distance field: a changed category has a new field, so it
        is measured again, and an unchanged one is carried over as it is."""
        reach = self._reach.get(cat)
        return reach is not None and reach.field is self.access[cat].field

    def _all_service_areas(
        self, cats: list[str], *, done: Callable[[str], None] | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The service areas of ``cats``; on large networks one category per forked worker
        (the same computation, so the same polygons, in about half the time on two cores).
        ``done`` is told each category as its areas arrive."""
        with_fac = [c for c in cats if len(self.access[c].rows)]
        if with_fac and self._samples is None:  # built once, before any worker is forked
            self._samples = EdgeSamples(self.network, self.service_area_cell_m / 2)
        large = self.network.n_nodes >= PARALLEL_MIN_NODES
        rows = forked_map(
            lambda c: self._service_areas(c, self.access[c]),
            with_fac,
            processes=self.settings.processes if large else 1,
            done=done,
        )
        out: dict[str, list[dict[str, Any]]] = {c: [] for c in cats}
        out.update(zip(with_fac, rows, strict=True))
        return out

    def _category_reach(self, cat: str, areas: list[dict[str, Any]]) -> CategoryReach:
        acc = self.access[cat]
        net, res = self.network, self.residents
        t0 = time.perf_counter()
        dist_r, near_ap = origin_distances(
            net, acc.field, acc.snap, res.snap, limit_m=self.search_limit_m
        )
        bld_m = (
            origin_distances(
                net, acc.field, acc.snap, res.buildings_snap, limit_m=self.search_limit_m
            )[0]
            if len(res.buildings)
            else None
        )
        reach = CategoryReach(
            category=cat,
            resident_m=dist_r,
            nearest_point=near_ap,
            building_m=bld_m,
            service_areas=areas,
            field=acc.field,
        )
        if self.gates is not None:
            reach = through_gates(self, reach, self.gates)
        return replace(reach, routing_s=time.perf_counter() - t0)

    def _service_areas(self, cat: str, acc: CategoryAccess) -> list[dict[str, Any]]:
        preset = self.settings.preset
        if self._samples is None:
            self._samples = EdgeSamples(self.network, self.service_area_cell_m / 2)
        wanted = preset.service_area_tiers()
        d = self._samples.distance(acc.field.node_m, acc.snap)
        areas = service_areas(
            self._samples,
            d,
            wanted,
            cell_m=self.service_area_cell_m,
            buffer_m=self.settings.service_area_buffer_m,
            fill_holes_m2=self.settings.service_area_fill_holes_m2,
        )
        # in WGS 84, with the outlines the map draws: made here, in the workers, and kept with
        # the category, so that a scenario redraws only the categories it changed
        return service_area_rows(
            cat, areas, crs=self.area.crs, drawn_profile=preset.headline_profile
        )

    def catchment(self, category: str) -> Catchment:
        """Per facility of ``category``, the residents within the category's threshold and
        their walks (one length-limited search per facility; kept, so asking again after
        :meth:`with_facilities` redoes only the changed categories). See
        :mod:`lifecircle.capacity`."""
        if category not in self._catchments:
            self._catchments[category] = build_catchment(self, category)
        return self._catchments[category]

    def sensitivity(
        self,
        *,
        speed_band_m_s: float | None = None,
        snap_band: float = DEFAULT_SNAP_BAND,
        dropout: float = DEFAULT_DROPOUT,
        runs: int = DEFAULT_DROPOUT_RUNS,
        progress: Progress | Display | None = None,
    ) -> Sensitivity:
        """How sure each verdict is: coverage over bands of walking speed, snapping limit and
        facility completeness (the table of ``sensitivity.csv``); see
        :func:`lifecircle.sensitivity.sensitivity` for the parameters."""
        refuse_gates(self, "--sensitivity")
        return sensitivity(
            self,
            speed_band_m_s=speed_band_m_s,
            snap_band=snap_band,
            dropout=dropout,
            runs=runs,
            progress=progress,
        )

    # ---- changing ------------------------------------------------------------------------

    def with_facilities(
        self,
        *,
        add: gpd.GeoDataFrame | None = None,
        remove: Iterable[str] = (),
    ) -> Study:
        """A new study with facilities added and removed; only their categories are re-routed.

        Parameters
        ----------
        add
            Facilities to add, WGS 84, with ``category``, ``name`` and ``facility_id`` columns
            (as :func:`lifecircle.sources.facilities.read_facilities_file` reads them).
        remove
            ``facility_id`` values of facilities to remove.

        Raises
        ------
        InputError
            When an id to remove is not a facility of the study, or an added facility has a
            category the preset does not know how to judge.
        """
        raw, changed = _edited_table(self.facilities.table, add, list(dict.fromkeys(remove)))
        sited = site_facilities(raw, self.network, self.area, self.settings)
        categories = _category_order(self.categories + sorted(changed), self.taxonomy)
        clock = Stopwatch()
        access = {c: a for c, a in self.access.items() if c not in changed}
        # unchanged categories keep their fields; their access points are renumbered
        for c in access:
            rows, snap = sited.of_category(c)
            access[c] = replace(access[c], rows=rows, snap=snap)
        access |= _route(
            self.network,
            sited,
            [c for c in categories if c in changed],
            self.area,
            self.settings,
            clock,
        )
        study = Study(
            inputs=self.inputs,
            settings=self.settings,
            taxonomy=self.taxonomy,
            area=self.area,
            network=self.network,
            facilities=sited,
            residents=self.residents,
            categories=categories,
            access=access,
            osm_counts=self.osm_counts,
            osm_timestamp=self.osm_timestamp,
            notes=self.notes,
            counts=self.counts
            | {
                "facilities_outside_buffer": self.counts["facilities_outside_buffer"]
                + sited.outside_buffer
            },
            timings=self.timings,
            gates=self.gates,
        )
        study._samples = self._samples
        study._reach = {c: r for c, r in self._reach.items() if c not in changed}
        study._catchments = {c: r for c, r in self._catchments.items() if c not in changed}
        return study

    # ---- keeping ---------------------------------------------------------------------------

    def save(self, path: str | Path, *, key: str = "") -> Path:
        """Write the study to ``path`` (one file), with ``key`` naming what it was built from.

        The file is a Python pickle signed with a secret of this user (see
        :func:`lifecircle.signing.user_secret`): :meth:`load` reads only studies signed with it,
        so a study file that someone else made, or sent along with an output folder, is never
        unpickled (loading a hostile pickle could run code).

        Raises
        ------
        OutputError
            When the study or this user's secret cannot be written.
        """
        state = {
            "format": CACHE_FORMAT,
            "version": installed_version(),
            "key": key,
            "study": self,
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # streamed: the pickle of a large area (hundreds of MB) is never held in memory whole
        atomic_write(
            Path(path),
            lambda p: write_signed(p, lambda fh: pickle.Pickler(fh, protocol=5).dump(state)),
        )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, *, key: str | None = None) -> Study:
        """Read a study written by :meth:`save`, by this user on this machine.

        Raises
        ------
        InputError
            When the file is not a study signed with this user's secret, not of this lifecircle
            version, or (with ``key``) was built from other inputs or parameters.
        """
        p = Path(path)
        try:
            blob = p.read_bytes()
        except FileNotFoundError as exc:
            raise InputError(f"{p}: no saved study; run lifecircle analyze first") from exc
        except OSError as exc:
            raise InputError(f"{p}: cannot be read ({exc.strerror or exc}); rerun analyze") from exc
        data = verified(blob, p)  # before any unpickling
        try:
            state = pickle.loads(data)
        except Exception as exc:  # any unpickling failure: truncated, foreign or older layout
            raise InputError(
                f"{p}: not a saved lifecircle study ({type(exc).__name__}); rerun analyze"
            ) from exc
        if not isinstance(state, dict) or "format" not in state:
            raise InputError(f"{p}: not a saved lifecircle study; rerun lifecircle analyze")
        if state["format"] != CACHE_FORMAT:
            raise InputError(
                f"{p}: saved in an older layout (format {state['format']}; this lifecircle reads "
                f"{CACHE_FORMAT}); rerun lifecircle analyze"
            )
        if state.get("version") != installed_version():
            raise InputError(
                f"{p}: saved by lifecircle {state.get('version')}, this is {installed_version()}; "
                "rerun lifecircle analyze"
            )
        if key is not None and state.get("key") != key:
            raise InputError(f"{p}: saved from other inputs or parameters; rerun analyze")
        study = state["study"]
        if not isinstance(study, Study):
            raise InputError(f"{p}: not a saved lifecircle study; rerun lifecircle analyze")
        return study

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_samples"] = None  # cheap to rebuild, large to store
        return state


def _taxonomy_and_counts(
    prepared: Prepared, settings: Settings, inputs: Inputs
) -> tuple[Taxonomy, list[str], dict[str, Any], list[str]]:
    """The taxonomy, the categories of the user's lists (checked against the preset), the
    community-list counts and their notes, then the notes on user categories outside the
    taxonomy."""
    taxonomy = prepared.taxonomy or load_taxonomy(inputs.categories)
    user_lists = [f for _, f in prepared.user_facilities]
    user_cats = sorted({c for f in user_lists for c in f["category"].unique()})
    settings.preset.check_categories(set(taxonomy.keys) | set(user_cats))
    outside, outside_notes = outside_taxonomy(user_cats, taxonomy, settings.preset.basket)
    comm_counts, comm_notes = split_report(prepared.community_counts)
    if outside:
        comm_counts["user_categories_outside_taxonomy"] = outside
    return taxonomy, user_cats, comm_counts, [*comm_notes, *outside_notes]


def _walk_graph(
    prepared: Prepared, settings: Settings, inputs: Inputs, area: StudyArea, clock: Stopwatch
) -> Network:
    """The walk graph of ``area``: built, split at crossings when delays are set, and given
    heights from the elevation model when there is one (each a timed stage)."""
    with clock.stage("graph", "building the walk graph"):
        net = build_network(
            prepared.osm.ways,
            area.crs,
            clip=area.buffer_m,
            min_component_m=settings.min_component_m,
        )
        net = _with_crossings(net, prepared, settings)
    if inputs.dem is not None:
        with clock.stage("terrain", "reading the elevation model"):
            net = apply_dem(net, inputs.dem)
    return net


def _find_gates(
    prepared: Prepared,
    inputs: Inputs,
    net: Network,
    area: StudyArea,
    settings: Settings,
    residents: PlacedResidents,
    *,
    clock: Stopwatch,
) -> Gates | None:
    """The compound gates (a timed stage) when the run asks for them, else ``None``."""
    if not inputs.gates_on:
        return None
    with clock.stage("gates", "finding compound gates"):
        return study_gates(prepared, net, area, settings, residents)


def _with_crossings(net: Network, prepared: Prepared, settings: Settings) -> Network:
    """The network with crossing delays (:mod:`lifecircle.crossings`) when the settings ask
    for them, else ``net``."""
    delays = settings.crossing_delays
    if delays is None:
        return net
    from lifecircle.crossings import split_crossings

    return split_crossings(
        net,
        delays=delays,
        speed_m_s=settings.preset.headline_speed_m_s,
        signals=np.asarray(getattr(prepared.osm, "signals", []), dtype=float),
        crossing_nodes=np.asarray(getattr(prepared.osm, "crossing_nodes", []), dtype=float),
    )


def _report_crossings(study: Study, result: Result) -> None:
    """Add the crossing model and its effect on coverage to the result's summary and notes."""
    from lifecircle.crossings import crossing_effect
    from lifecircle.notes import add_notes, note

    effect = crossing_effect(study, result)
    summary = result.summary
    summary["crossings"] = effect
    add_notes(
        summary,
        [
            note(
                "crossings",
                classes="/".join(effect["classes"]),
                links=effect["crossing_links"],
                nodes=effect["crossing_nodes_split"],
                signalised_links=effect["crossing_links_signalised"],
                signalised_s=effect["signalised_s"],
                unsignalised_s=effect["unsignalised_s"],
                signalised_m=effect["signalised_m"],
                unsignalised_m=effect["unsignalised_m"],
                speed_m_s=effect["speed_m_s"],
                minutes=effect["minutes"],
                with_delays=effect["complete_life_circle"],
                without_delays=effect["complete_life_circle_without_delays"],
            )
        ],
    )


def _edited_table(
    table: gpd.GeoDataFrame, add: gpd.GeoDataFrame | None, remove: list[str]
) -> tuple[gpd.GeoDataFrame, set[str]]:
    """The facility table without ``remove`` and with ``add`` appended (the order a fresh
    analysis with the added list as one more file would have); and the categories changed."""
    known = set(table["facility_id"].astype(str))
    unknown = [r for r in remove if r not in known]
    if unknown:
        raise InputError(
            f"facilities to remove: {len(unknown)} unknown id(s): {', '.join(unknown[:20])}; "
            "use facility_id values of the facilities layer of lifecircle.gpkg"
        )
    gone = table["facility_id"].astype(str).isin(remove).to_numpy()
    changed = set(table.loc[gone, "category"])
    frames = [table.loc[~gone, FACILITY_COLUMNS]]
    if add is not None and len(add):
        missing = {"category", "facility_id", "geometry"} - set(add.columns)
        if missing:
            raise InputError(f"facilities to add: missing column(s) {sorted(missing)}")
        check_new_ids(table.loc[~gone, "facility_id"].astype(str), add["facility_id"].astype(str))
        extra = add.reindex(columns=FACILITY_COLUMNS)
        # a column the added list lacks comes as all-NaN floats: text columns are text
        extra["source"] = extra["source"].astype(object).fillna("scenario")
        extra["name"] = extra["name"].astype(object).fillna("")
        frames.append(extra.to_crs(4326))
        changed |= set(add["category"])
    raw = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    return raw, changed


def check_new_ids(kept: Iterable[str], added: Iterable[str]) -> None:
    """Refuse added facilities whose ids are already among the ``kept`` ones (e.g. the same
    list added in a scenario of a scenario)."""
    again = sorted(set(kept) & set(added))
    if again:
        raise InputError(
            f"facilities to add: {len(again)} id(s) already among the facilities: "
            f"{', '.join(again[:20])}; add each facility once (remove it first to move it)"
        )


def _category_order(categories: Iterable[str], taxonomy: Taxonomy) -> list[str]:
    """``categories`` once each, in the order an analysis lists them: the taxonomy's in its
    order, then the user's own alphabetically (see
    :func:`lifecircle.placement.analysed_categories`), so that a study with facilities added
    gives the tables of a fresh analysis row for row."""
    keys = list(taxonomy.keys)
    unique = set(categories)
    return [c for c in keys if c in unique] + sorted(unique - set(keys))


def _route(
    net: Network,
    sited: SitedFacilities,
    categories: Sequence[str],
    area: StudyArea,
    settings: Settings,
    clock: Stopwatch,
    step: Step | None = None,
) -> dict[str, CategoryAccess]:
    """One multi-source search per category, in parallel processes on large graphs; ``step``
    counts the categories done."""
    per_cat = {c: sited.of_category(c) for c in categories}
    t0 = time.perf_counter()
    fields = facility_fields(
        net,
        [snap for _, snap in per_cat.values()],
        limit_m=SEARCH_LIMIT_FACTOR * area.reach_m,
        processes=settings.processes,
        done=None if step is None else (lambda: step.advance()),
    )
    clock.add("fields", time.perf_counter() - t0)
    return {
        c: CategoryAccess(rows=rows, snap=snap, field=f)
        for (c, (rows, snap)), f in zip(per_cat.items(), fields, strict=True)
    }


def _find_facilities(
    prepared: Prepared,
    settings: Settings,
    inputs: Inputs,
    net: Network,
    area: StudyArea,
    taxonomy: Taxonomy,
    user_cats: list[str],
    *,
    refuse_if_outside: bool,
) -> tuple[SitedFacilities, list[str], list[str], dict[str, Any]]:
    """Check the user's facility lists, gather them with OpenStreetMap's and site them; the
    sited facilities, the categories analysed, and the lists' notes and counts."""
    user_lists = [f for _, f in prepared.user_facilities]
    fac_notes, fac_counts = check_user_lists(
        prepared.user_facilities,
        parse_crs(inputs.facilities_crs, "--facilities-crs"),
        net,
        area,
        settings,
        refuse_if_outside=refuse_if_outside,
    )
    raw = gather_facilities(
        prepared.osm.features if inputs.osm_facilities else None, user_lists, taxonomy
    )
    sited = site_facilities(raw, net, area, settings)
    categories = analysed_categories(
        taxonomy, settings.preset, user_cats, osm_facilities=inputs.osm_facilities
    )
    return sited, categories, fac_notes, fac_counts


def _study_counts(
    comm_counts: dict[str, Any],
    area: StudyArea,
    fac_counts: dict[str, Any],
    sited: SitedFacilities,
    residents: PlacedResidents,
) -> dict[str, Any]:
    """The study's counts: the communities', the area's, the facilities' and the residents'."""
    return {
        **comm_counts,
        **area.counts,
        **fac_counts,
        "facilities_outside_buffer": sited.outside_buffer,
        "resident_points_outside_area": residents.outside_area,
        **residents.counts,
    }
