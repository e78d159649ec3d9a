"""How sure each verdict is: the coverage of every community × category × profile × minutes
again under three kinds of doubt about the inputs, and whether the verdict against the target
holds over all of them.

- **Walking speed** ± ``speed_band_m_s`` (a preset field, default 0.1 m/s) on every profile.
  The distance fields are in metres and do not depend on speed: only the metres a resident may
  walk (speed × minutes, and the time thresholds) change, so no search is run again.
- **Snapping limit** × (1 − ``snap_band``) and × (1 + ``snap_band``) (default 0.5: 100 m and
  300 m around the default 200 m). Residents and facility access points are snapped once at the
  high limit; a point's nearest edge within a limit is the same for every limit it lies within,
  so the snapping at a lower limit is that one with the farther points taken off the network.
  A category's search runs again only when its set of facility points on the network changes.
- **Facility completeness**: each facility is dropped with probability ``dropout`` (default
  0.1), ``runs`` times (default 10) with the fixed seeds 0 … runs − 1, and the categories that
  lost a facility are searched again. Same inputs, same table.

Coverage rises with speed, minutes and the snapping limit, and with every facility added, so the
low end of the band is the pessimistic corner (slower walkers, the lower limit, a dropout run)
and the high end the optimistic one (faster walkers, the higher limit, every facility). Both are
computed, with each doubt on its own beside them; ``coverage_low`` and ``coverage_high`` are the
lowest and highest coverage over every variant computed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lifecircle._variants import Resnapped, Searches, Shares, faster, resnap, within
from lifecircle.config import Preset, speed_band_problem
from lifecircle.errors import InputError
from lifecircle.snapping import Snapped
from lifecircle.timing import Display, Progress, Stopwatch

if TYPE_CHECKING:
    from lifecircle.study import Study

log = logging.getLogger(__name__)

SENSITIVITY_FILE = "sensitivity.csv"
SENSITIVITY_COLUMNS = [
    "community_id",
    "category",
    "profile",
    "minutes",
    "coverage_low",
    "coverage",
    "coverage_high",
    "verdict_stable",
]
EXTRA_COLUMNS = [  # after the columns, documented in the README
    "community_name",
    "residents",
    "target",
    "meets_target",
    "flipped_by",
    "coverage_speed_low",
    "coverage_speed_high",
    "coverage_snap_low",
    "coverage_snap_high",
    "coverage_dropout_low",
    "coverage_dropout_mean",
]
DEFAULT_SNAP_BAND = 0.5
DEFAULT_DROPOUT = 0.1
DEFAULT_DROPOUT_RUNS = 10
MAX_DROPOUT_RUNS = 1000


@dataclass(frozen=True)
class Bands:
    """How far each input may be off: ± m/s on every walking speed, the snapping limit's
    relative band, the probability that a facility is missing and the number of dropout runs."""

    speed_m_s: float
    snap: float
    dropout: float
    runs: int

    def snap_limits(self, max_snap_m: float) -> tuple[float, float]:
        """The low and high snapping limits (metres) around ``max_snap_m``."""
        return max_snap_m * (1.0 - self.snap), max_snap_m * (1.0 + self.snap)

    def as_dict(self) -> dict[str, Any]:
        return {
            "speed_band_m_s": self.speed_m_s,
            "snap_band": self.snap,
            "dropout": self.dropout,
            "dropout_runs": self.runs,
            "dropout_seeds": [0, self.runs - 1],
        }


def _bad(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int | float) or np.isnan(value)


def make_bands(
    preset: Preset,
    *,
    speed_band_m_s: float | None = None,
    snap_band: float = DEFAULT_SNAP_BAND,
    dropout: float = DEFAULT_DROPOUT,
    runs: int = DEFAULT_DROPOUT_RUNS,
) -> Bands:
    """Validated bands; ``speed_band_m_s`` None takes the preset's.

    Raises
    ------
    InputError
        Naming every option that is out of range (the command-line option and the Python
        argument): a negative band, a snapping band of 1 or more (the low limit would be 0), a
        dropout probability outside [0, 1), or fewer than one dropout run.
    """
    problems = []
    if speed_band_m_s is not None:
        bad = speed_band_problem(speed_band_m_s, preset.speeds_m_s, "--speed-band (speed_band_m_s)")
        if bad:
            problems.append(bad)
    if _bad(snap_band) or not 0 <= snap_band < 1:
        problems.append(
            "--snap-band (snap_band) must be a share from 0 up to below 1: the snapping limit "
            f"is tried at × (1 − band) and × (1 + band), e.g. {DEFAULT_SNAP_BAND}; got "
            f"{snap_band!r}"
        )
    if _bad(dropout) or not 0 <= dropout < 1:
        problems.append(
            "--dropout (dropout) must be a probability from 0 up to below 1 that a facility is "
            f"missing, e.g. {DEFAULT_DROPOUT}; got {dropout!r}"
        )
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_DROPOUT_RUNS:
        problems.append(
            f"--dropout-runs (runs) must be a whole number from 1 to {MAX_DROPOUT_RUNS}, e.g. "
            f"{DEFAULT_DROPOUT_RUNS}; got {runs!r}"
        )
    if problems:
        raise InputError("sensitivity: " + "; ".join(problems))
    band = preset.speed_band_m_s if speed_band_m_s is None else float(speed_band_m_s)
    return Bands(speed_m_s=band, snap=float(snap_band), dropout=float(dropout), runs=int(runs))


def dropped_facilities(n_facilities: int, *, probability: float, runs: int) -> list[np.ndarray]:
    """Per dropout run ``r`` (seed ``r``), which of the study's facilities are dropped: a
    boolean mask over the rows of its facility table, each row dropped with ``probability``."""
    return [np.random.default_rng(r).random(n_facilities) < probability for r in range(runs)]


@dataclass(frozen=True)
class Sensitivity:
    """The table of ``sensitivity.csv`` and how it was made.

    Attributes
    ----------
    table
        One row per community × category × profile × minutes (then the area totals,
        ``community_id`` ``*``): :data:`SENSITIVITY_COLUMNS`, then :data:`EXTRA_COLUMNS`.
    bands
        The bands used.
    snap_limits_m
        The low, run and high snapping limits.
    dropped
        Facilities dropped in each dropout run.
    rerouted
        Searches run again per band (``snap``, ``dropout``).
    timings_s
        Seconds per band.
    """

    table: pd.DataFrame
    bands: Bands
    snap_limits_m: tuple[float, float, float]
    dropped: tuple[int, ...]
    rerouted: dict[str, int]
    timings_s: dict[str, float]

    def uncertain(self, category: str, profile: str, minutes: int) -> pd.DataFrame:
        """The communities (not the area total) whose verdict is not stable for one
        category × profile × minutes, lowest coverage first."""
        t = self.table
        sel = (
            (t["category"] == category)
            & (t["profile"] == profile)
            & (t["minutes"] == minutes)
            & (t["community_id"] != "*")
            & (t["verdict_stable"] == False)  # noqa: E712 (NA, no residents, is not unstable)
        )
        return t[sel].sort_values(["coverage_low", "community_id"], kind="mergesort")

    def summary(self, category: str, profile: str, minutes: int) -> dict[str, Any]:
        """What ``summary.json`` records (the map and the report read it): the bands, the
        communities whose verdict is uncertain for the headline's row, and the area's band."""
        t = self.table
        row = t[
            (t["community_id"] == "*")
            & (t["category"] == category)
            & (t["profile"] == profile)
            & (t["minutes"] == minutes)
        ]
        populated = t[(t["community_id"] != "*") & t["verdict_stable"].notna()]
        cols = ["community_id", "community_name", "coverage_low", "coverage", "coverage_high"]
        uncertain = self.uncertain(category, profile, minutes)
        return {
            "file": SENSITIVITY_FILE,
            **self.bands.as_dict(),
            "snap_limits_m": list(self.snap_limits_m),
            "dropped_per_run": list(self.dropped),
            "rerouted": dict(self.rerouted),
            "timings_s": dict(self.timings_s),
            "rows": len(populated),
            "rows_uncertain": int((populated["verdict_stable"] == False).sum()),  # noqa: E712
            "category": category,
            "profile": profile,
            "minutes": int(minutes),
            "area": {k: _plain(row[k].iloc[0]) for k in [*cols[2:], "verdict_stable"]}
            if len(row)
            else None,
            "uncertain_communities": [
                {k: _plain(v) for k, v in r.items()}
                for r in uncertain[[*cols, "flipped_by"]].to_dict("records")
            ],
        }


def _plain(v: Any) -> Any:
    if v is pd.NA:
        return None
    return v.item() if isinstance(v, np.generic) else v


# ---- the whole ------------------------------------------------------------------------------


def sensitivity(
    study: Study,
    *,
    speed_band_m_s: float | None = None,
    snap_band: float = DEFAULT_SNAP_BAND,
    dropout: float = DEFAULT_DROPOUT,
    runs: int = DEFAULT_DROPOUT_RUNS,
    progress: Progress | Display | None = None,
) -> Sensitivity:
    """The coverage of every community × category × profile × minutes over the bands of
    walking speed, snapping limit and facility completeness (see the module's text).

    Parameters
    ----------
    study
        The analysed area (not changed).
    speed_band_m_s
        ± m/s on every walking speed; None takes the preset's ``speed_band_m_s``.
    snap_band
        The snapping limit is tried at × (1 − band) and × (1 + band).
    dropout
        The probability that each facility is missing, in [0, 1).
    runs
        How many dropout runs (seeds 0 … runs − 1).
    progress
        Called with a short description at the start of each band.

    Returns
    -------
    Sensitivity

    Raises
    ------
    InputError
        When a band is out of range (:func:`make_bands`).
    """
    preset = study.settings.preset
    bands = make_bands(
        preset, speed_band_m_s=speed_band_m_s, snap_band=snap_band, dropout=dropout, runs=runs
    )
    clock = Stopwatch(progress)
    shares = Shares(study)
    searches = Searches(study)
    slow, fast = faster(preset, -bands.speed_m_s), faster(preset, bands.speed_m_s)
    run = {c: a.snap for c, a in study.access.items()}
    base = searches.distances(run, study.residents.snap)
    coverage = shares(base, preset)
    with clock.stage("speed", "sensitivity: walking speed"):
        speed = (shares(base, slow), shares(base, fast))
    limits = bands.snap_limits(study.settings.max_snap_m)
    with clock.stage("snap", "sensitivity: snapping limit"):
        low, snap, optimistic = _snap_band(study, searches, shares, limits, fast)
    rerouted_snap = searches.count
    with clock.stage("dropout", "sensitivity: facility completeness"):
        drops = dropped_facilities(
            len(study.facilities.table), probability=bands.dropout, runs=runs
        )
        alone, pessimistic = _dropout_band(study, searches, shares, run, low, drops, slow)
    table = _assemble(
        shares.labels,
        coverage,
        speed,
        snap,
        alone,
        [*pessimistic, optimistic],
        study.settings.target,
    )
    result = Sensitivity(
        table=table,
        bands=bands,
        snap_limits_m=(limits[0], study.settings.max_snap_m, limits[1]),
        dropped=tuple(int(d.sum()) for d in drops),
        rerouted={"snap": rerouted_snap, "dropout": searches.count - rerouted_snap},
        timings_s=clock.timings,
    )
    _log_result(table, searches.count)
    return result


def _snap_band(
    study: Study,
    searches: Searches,
    shares: Shares,
    limits: tuple[float, float],
    fast: Preset,
) -> tuple[Resnapped, tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The snapping at the low limit, the coverage at the low and high limits, and the
    optimistic corner (the high limit, faster walkers); leaves the low limit's fields kept."""
    preset = study.settings.preset
    high = resnap(study, limits[1])
    low = high.at(limits[0])
    low_m = searches.distances(low.points, low.residents)
    high_m = searches.distances(high.points, high.residents)
    searches.keep(low.points)  # the dropout runs start from the low limit's fields
    snap = (shares(low_m, preset), shares(high_m, preset))
    optimistic = shares(high_m, fast)
    return low, snap, optimistic


def _dropout_band(
    study: Study,
    searches: Searches,
    shares: Shares,
    run: dict[str, Snapped],
    low: Resnapped,
    drops: list[np.ndarray],
    slow: Preset,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per dropout run, the coverage without the dropped facilities alone, and the pessimistic
    corner (also the low snapping limit and slower walkers)."""
    preset = study.settings.preset
    alone, pessimistic = [], []
    for drop in drops:
        missing = _without(study, run, drop)
        alone.append(shares(searches.distances(missing, study.residents.snap), preset))
        worst = _without(study, low.points, drop)
        pessimistic.append(shares(searches.distances(worst, low.residents), slow))
        searches.forget()
    return alone, pessimistic


def _log_result(table: pd.DataFrame, rerouted: int) -> None:
    log.info(
        "sensitivity: %d rows, %d with an uncertain verdict, %d searches run again",
        int(table["verdict_stable"].notna().sum()),
        int((table["verdict_stable"] == False).sum()),  # noqa: E712
        rerouted,
    )


def _without(study: Study, snaps: dict[str, Snapped], drop: np.ndarray) -> dict[str, Snapped]:
    """Per category, the access points ``snaps`` without those of the dropped facilities."""
    return {cat: within(s, np.inf, ~drop[study.access[cat].rows]) for cat, s in snaps.items()}


def _assemble(
    labels: pd.DataFrame,
    cov: np.ndarray,
    speed: tuple[np.ndarray, np.ndarray],
    snap: tuple[np.ndarray, np.ndarray],
    dropout: list[np.ndarray],
    corners: list[np.ndarray],
    target: float,
) -> pd.DataFrame:
    """The table: the run's coverage, each band on its own, and the lowest and highest over
    every variant; whether the verdict holds over all of them and which band alone flips it."""
    drop = np.vstack(dropout)
    every = np.vstack([cov, *speed, *snap, drop, *corners])
    has = ~np.isnan(cov)  # no residents: no share in any variant, and no verdict
    low, high = every.min(axis=0), every.max(axis=0)
    meets = cov >= target
    stable = (low >= target) == (high >= target)

    def flips(*values: np.ndarray) -> np.ndarray:
        return np.any([(v >= target) != meets for v in values], axis=0)

    by = {
        "speed": flips(*speed),
        "snap": flips(*snap),
        "dropout": flips(drop.min(axis=0)),
    }
    flipped = [
        "" if s or not h else (", ".join(k for k, v in by.items() if v[i]) or "combined")
        for i, (s, h) in enumerate(zip(stable, has, strict=True))
    ]
    out = pd.DataFrame(
        {
            "community_id": labels["community_id"].astype(str).to_numpy(),
            "category": labels["category"].to_numpy(),
            "profile": labels["profile"].to_numpy(),
            "minutes": labels["minutes"].to_numpy(),
            "coverage_low": low,
            "coverage": cov,
            "coverage_high": high,
            "verdict_stable": pd.array(np.where(has, stable, False), dtype="boolean"),
            "community_name": labels["community_name"].to_numpy(),
            "residents": labels["residents"].to_numpy(),
            "target": target,
            "meets_target": pd.array(meets, dtype="boolean"),
            "flipped_by": flipped,
            "coverage_speed_low": speed[0],
            "coverage_speed_high": speed[1],
            "coverage_snap_low": snap[0],
            "coverage_snap_high": snap[1],
            "coverage_dropout_low": drop.min(axis=0),
            "coverage_dropout_mean": drop.mean(axis=0),
        }
    )
    out.loc[~has, ["verdict_stable", "meets_target"]] = pd.NA
    return out[[*SENSITIVITY_COLUMNS, *EXTRA_COLUMNS]]
