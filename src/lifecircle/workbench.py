"""The planning workbench's computations: what ``lifecircle serve``'s HTTP API answers.

A :class:`Workbench` holds an analysis folder's study (the baseline, never changed) and its
coverage. Each request is checked here (:class:`RequestError` names what is wrong and how to
fix it) and answered from the baseline with the library's own functions, so that the numbers are
those ``lifecircle scenario`` and ``lifecircle site`` compute for the same edit:

- :meth:`Workbench.summary`: the area-wide shares, the complete life circle, the target and the
  categories (``GET /api/summary``);
- :meth:`Workbench.evaluate`: the baseline plus facilities added and removed: what
  :func:`lifecircle.scenario.what_if` gives, computed incrementally by
  :class:`lifecircle.incremental.EditEngine` (``POST /api/evaluate``);
- :meth:`Workbench.sites`: :func:`lifecircle.siting.site` (``POST /api/sites``).

The HTTP side is :mod:`lifecircle.server`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from lifecircle._records import jsonable
from lifecircle.errors import InputError
from lifecircle.incremental import Answer, EditEngine, covered_residents, records
from lifecircle.result import Result
from lifecircle.scenario import load_analysis
from lifecircle.study import Study

#: how added facilities are named: ``workbench.csv:1``, ``workbench.csv:2`` … — the ids a
#: ``lifecircle scenario --add workbench.csv`` list with ids 1, 2 … gives them
ADDED_SOURCE = "workbench.csv"
MAX_EDITS = 1000  # facilities added or removed in one request
MAX_NAME = 200  # characters of an added facility's name
MAX_SITES = 200  # sites asked for with "count"
MIN_SPACING_M = 20.0  # the finest grid of generated candidate sites
MAX_TIME_LIMIT_S = 120.0  # the solver's longest time limit (method "optimal")


class RequestError(Exception):
    """A request the API refuses: the HTTP status and a message naming the problem and the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad(message: str) -> RequestError:
    return RequestError(400, message)


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _bad(f"{what}: must be a number; got {v!r}")
    try:
        x = float(v)
    except OverflowError:  # an integer beyond any float
        x = math.inf
    if not math.isfinite(x):
        raise _bad(f"{what}: must be a finite number; got {str(v)[:40]}")
    return x


def _object(body: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        fields = ", ".join(f'"{k}"' for k in sorted(allowed))
        raise _bad(f"{what}: must be a JSON object with the fields {fields}; got {body!r:.40}")
    extra = sorted(set(body) - allowed)
    if extra:
        raise _bad(f"{what}: unknown field(s) {extra}; allowed: {sorted(allowed)}")
    return body


class Workbench:
    """An analysis folder's study and its coverage: the baseline every request starts from.

    Parameters
    ----------
    study
        The analysed area (not changed by any request).
    folder
        The analysis folder it came from (shown in the summary; never written).
    """

    def __init__(self, study: Study, *, folder: Path | None = None) -> None:
        self.study = study
        self.folder = folder
        self.baseline: Result = study.coverage()
        self._ids = set(study.facilities.table["facility_id"].astype(str))
        self._reach = study.area.buffer_m
        self.engine = EditEngine(study, self.baseline)

    @classmethod
    def open(cls, folder: str | Path) -> Workbench:
        """The workbench over an ``analyze`` output folder (its saved study; no input is read
        again). Raises :class:`~lifecircle.errors.InputError` for a folder that is not one."""
        run = load_analysis(folder)
        return cls(run.study, folder=run.folder)

    # ---- GET /api/summary --------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The baseline: per category its names, threshold and area-wide share within it (with
        the residents covered), the complete life circle, the target and the facility count."""
        s = self.baseline.summary
        rows = self.engine.rows  # the baseline's threshold rows, found when the engine opened
        counts = self.study.facilities.table["category"].value_counts()
        cats = []
        for c in self.study.categories:
            info = s["categories"][c]
            cats.append(
                {
                    "category": c,
                    "name_zh": info["name_zh"],
                    "name_en": info["name_en"],
                    "threshold": info["threshold"],
                    "in_basket": info["in_basket"],
                    "facilities": int(counts.get(c, 0)),
                    "coverage": jsonable(s["complete_life_circle"]["within_threshold"].get(c)),
                    "covered_residents": covered_residents(
                        self.baseline.area_coverage, c, rows.get(c)
                    ),
                }
            )
        clc = s["complete_life_circle"]
        area = self.study.area.buffer_m
        bounds = gpd.GeoSeries([area], crs=self.study.area.crs).to_crs(4326).total_bounds
        return {
            "folder": str(self.folder) if self.folder is not None else None,
            "preset": s["preset"],
            "target": self.study.settings.target,
            "residents": s["residents"],
            "facilities": len(self.study.facilities.table),
            "categories": cats,
            "complete_life_circle": {
                k: clc[k] for k in ("profile", "minutes", "basket", "coverage", "meets_target")
            },
            "communities_meeting_target": s["communities_meeting_target"],
            "bounds_wgs84": [float(b) for b in bounds],
        }

    # ---- POST /api/evaluate ------------------------------------------------------------------

    def _additions(self, add: Any) -> gpd.GeoDataFrame | None:
        if not isinstance(add, list):
            raise _bad('"add": must be a list of {"category", "lon", "lat", "name"} objects')
        if not add:
            return None
        cats = set(self.study.categories)
        rows = []
        for i, item in enumerate(add):
            what = f'"add"[{i}]'
            item = _object(item, {"category", "lon", "lat", "name"}, what)
            cat = item.get("category")
            if not isinstance(cat, str) or cat not in cats:
                raise _bad(
                    f"{what}: unknown category {cat!r}; choose one of "
                    f"{', '.join(self.study.categories)}"
                )
            lon = _number(item.get("lon"), f"{what}.lon")
            lat = _number(item.get("lat"), f"{what}.lat")
            name = item.get("name", "")
            if not isinstance(name, str) or len(name) > MAX_NAME:
                raise _bad(f"{what}.name: must be text of at most {MAX_NAME} characters")
            rows.append((cat, name, lon, lat))
        pts = gpd.GeoSeries(
            shapely.points([r[2] for r in rows], [r[3] for r in rows]), crs=4326
        ).to_crs(self.study.area.crs)
        inside = pts.within(self._reach).to_numpy()
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            raise _bad(
                f'"add"[{i}]: lon {rows[i][2]}, lat {rows[i][3]} lies outside the analysis area '
                "and its walking reach; give WGS 84 longitude and latitude inside the area "
                "(GET /api/summary gives its bounds)"
            )
        return gpd.GeoDataFrame(
            {
                "facility_id": [f"{ADDED_SOURCE}:{k + 1}" for k in range(len(rows))],
                "category": [r[0] for r in rows],
                "name": [r[1] for r in rows],
                "source": ADDED_SOURCE,
                "capacity": np.nan,
            },
            geometry=shapely.points([r[2] for r in rows], [r[3] for r in rows]),
            crs=4326,
        )

    def _removals(self, remove: Any) -> list[str]:
        if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
            raise _bad('"remove": must be a list of facility_id strings')
        ids = list(dict.fromkeys(remove))
        unknown = [i for i in ids if i not in self._ids]
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:20]) + (", …" if len(unknown) > 20 else "")
            raise _bad(
                f'"remove": {len(unknown)} id(s) are not facilities of the analysis: {shown}; use '
                "facility_id values of the facilities layer of its lifecircle.gpkg"
            )
        return ids

    def evaluate(self, body: Any) -> dict[str, Any]:
        """Per-community coverage (the columns of ``coverage.csv``) for the baseline with the
        body's ``add`` and ``remove`` applied, and the change against the baseline.

        The answer is what :func:`lifecircle.scenario.what_if` gives for the same edit, built
        incrementally from the baseline (:class:`lifecircle.incremental.EditEngine`).

        Raises
        ------
        RequestError
            For a body that is not ``{"add": [...], "remove": [...]}``, an unknown category,
            coordinates that are not numbers or lie outside the area, or unknown ids.
        """
        return self._evaluated(body).as_dict(self.engine.records)

    def evaluate_json(self, body: Any) -> str:
        """:meth:`evaluate` as the JSON text ``POST /api/evaluate`` answers (the same bytes as
        ``json.dumps(evaluate(body), ensure_ascii=False, allow_nan=False)``, the unchanged rows
        encoded once for all requests)."""
        return self.engine.as_json(self._evaluated(body))

    def _evaluated(self, body: Any) -> Answer:
        body = _object(body, {"add", "remove"}, "evaluate")
        add, remove = body.get("add", []), body.get("remove", [])
        n = (len(add) if isinstance(add, list) else 0) + (
            len(remove) if isinstance(remove, list) else 0
        )
        if n > MAX_EDITS:
            raise RequestError(413, f"evaluate: {n} edits; give at most {MAX_EDITS} at once")
        table, ids = self._additions(add), self._removals(remove)
        try:
            return self.engine.evaluate(table, ids)
        except InputError as exc:
            raise _bad(f"evaluate: {exc}") from exc

    # ---- POST /api/sites ---------------------------------------------------------------------

    def sites(self, body: Any) -> dict[str, Any]:
        """:func:`lifecircle.siting.site` for the body's ``category`` with ``count`` or
        ``target`` (and optionally ``per``, ``method``, ``profile``, ``minutes``,
        ``time_limit_s``, ``spacing_m``): the ranked sites and the coverage curve.

        Raises
        ------
        RequestError
            For an unknown category or option, or values out of range.
        """
        from lifecircle.sitecands import DEFAULT_SPACING_M, network_candidates
        from lifecircle.siting import site

        allowed = {"category", "count", "target", "per", "method", "profile", "minutes"}
        body = _object(body, allowed | {"time_limit_s", "spacing_m"}, "sites")
        count = body.get("count")
        if isinstance(count, int) and not isinstance(count, bool) and count > MAX_SITES:
            raise _bad(f"sites: count {count}; ask for at most {MAX_SITES} sites")
        spacing = _number(body.get("spacing_m", DEFAULT_SPACING_M), "sites.spacing_m")
        if spacing < MIN_SPACING_M:
            raise _bad(f"sites.spacing_m: give at least {MIN_SPACING_M:g} metres; got {spacing}")
        limit = _number(body.get("time_limit_s", 30.0), "sites.time_limit_s")
        if not 0 < limit <= MAX_TIME_LIMIT_S:
            raise _bad(f"sites.time_limit_s: give (0, {MAX_TIME_LIMIT_S:g}] seconds; got {limit}")
        for key in ("category", "per", "method", "profile"):
            if key in body and not isinstance(body[key], str):
                raise _bad(f"sites.{key}: must be text; got {body[key]!r}")
        if "category" not in body:
            raise _bad(f"sites: give a category, one of {', '.join(self.study.categories)}")
        for key in ("target", "minutes"):
            if body.get(key) is not None:
                _number(body[key], f"sites.{key}")
        opts = {k: body[k] for k in allowed - {"category"} if k in body}
        try:
            cands = network_candidates(
                self.study.network, self.study.area.area_m, spacing_m=spacing
            )
            result = site(
                self.study, category=body["category"], candidates=cands, time_limit_s=limit, **opts
            )
        except InputError as exc:
            raise _bad(f"sites: {exc}") from exc
        return {
            "category": result.walk.category,
            "profile": result.walk.profile,
            "minutes": result.walk.minutes,
            "limit_m": result.walk.limit_m,
            "mode": result.mode,
            "target": result.target,
            "per": result.per,
            "method": result.method,
            "reached": result.reached,
            "coverage_before": result.coverage_before,
            "coverage_after": result.coverage_after,
            "best_share": result.best_share,
            "sites": records(result.sites),
            "curve": records(result.curve),
        }
