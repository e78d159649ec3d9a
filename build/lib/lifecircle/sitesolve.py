"""Choosing sites from a reach matrix: a greedy heuristic with a deterministic tie-break, and the
maximal-covering / set-covering integer programs solved with HiGHS (``highspy``, whose
callbacks show the solver's progress; :func:`scipy.optimize.milp` without it).

The problem is stated over *demand columns*: residents not yet covered by an existing facility,
counted in the run's denominator and reached by at least one candidate. Each column has a weight
(residents) and a group (the area, a community or a subdistrict); each group needs a weight of
newly covered residents to reach the target (``inf`` when sites are chosen by count).
"""

from __future__ import annotations

import heapq
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from lifecircle.timing import Step

log = logging.getLogger(__name__)

TIE_TOL = 1e-9  # gains this close (relative to the total weight) are equal: the lowest index wins


@dataclass(frozen=True)
class Problem:
    """Candidates × demand columns, with the columns' weights and groups and each group's need.

    Attributes
    ----------
    reach
        Boolean CSR matrix, candidates × demand columns.
    weight
        Per column, the residents it stands for.
    group
        Per column, its group (0 .. number of groups - 1).
    need
        Per group, the weight still to be covered (``inf``: as much as possible).
    """

    reach: sp.csr_matrix
    weight: np.ndarray
    group: np.ndarray
    need: np.ndarray

    @property
    def n_candidates(self) -> int:
        return int(self.reach.shape[0])

    def gains(self) -> sp.csr_matrix:
        """Candidates × groups: the weight each candidate would newly cover in each group."""
        onehot = sp.csr_matrix(
            (self.weight, (np.arange(len(self.weight)), self.group)),
            shape=(len(self.weight), len(self.need)),
        )
        return sp.csr_matrix(self.reach.astype(float) @ onehot)


def _row_sums(m: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    return np.bincount(rows, weights=values, minlength=m.shape[0])


class _Gains:
    """What each candidate would newly cover now: per group, capped by what the group still
    needs (the gain that ranks), and in total over groups still in need (the tie-break)."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        self.covered = np.zeros(len(p.weight), dtype=bool)

    def row(self, c: int) -> np.ndarray:
        r = self.p.reach
        return r.indices[r.indptr[c] : r.indptr[c + 1]]

    def of(self, c: int, need: np.ndarray) -> tuple[float, float]:
        cols = self.row(c)
        cols = cols[~self.covered[cols]]
        if not len(cols):
            return 0.0, 0.0
        groups, inv = np.unique(self.p.group[cols], return_inverse=True)
        sums = np.bincount(inv, weights=self.p.weight[cols])
        n = need[groups]
        return float(np.minimum(sums, n).sum()), float(sums[n > 0].sum())

    def all(self, need: np.ndarray) -> np.ndarray:
        m = self.p.gains()
        return _row_sums(m, np.minimum(m.data, need[m.indices]))


def greedy(
    p: Problem,
    *,
    max_sites: int,
    unmet: Callable[[np.ndarray], np.ndarray] | None = None,
    allowed: np.ndarray | None = None,
) -> list[int]:
    """Pick candidates one at a time, each the one that newly covers the most.

    With ``unmet`` (target mode), only groups below the target count, each up to what it still
    needs; picking stops once none is below. Ties (gains within :data:`TIE_TOL` of the best) go
    to the larger uncapped gain, then to the lowest candidate index. Gains only fall as sites
    are added, so each step re-evaluates only the candidates whose last gain could still be the
    best (lazy greedy): the same choice as evaluating every candidate every time.

    Parameters
    ----------
    p
        The problem.
    max_sites
        Pick at most this many.
    unmet
        Called with the columns newly covered by the last pick (none at first); says which
        groups are still below the target (exactly as the coverage tables judge it).
    allowed
        Only these candidates (boolean mask) may be picked.

    Returns
    -------
    list of int
        The candidates picked, in order.
    """
    g = _Gains(p)
    got = np.zeros(len(p.need))
    tol = TIE_TOL * max(float(p.weight.sum()), 1.0)
    below = None if unmet is None else unmet(np.zeros(0, dtype=np.int64))

    def need_now() -> np.ndarray:
        if below is not None:
            return np.where(below, np.maximum(p.need - got, tol), 0.0)
        return np.where(np.isfinite(p.need), np.maximum(p.need - got, 0.0), np.inf)

    bound = g.all(need_now())
    ok = np.ones(p.n_candidates, dtype=bool) if allowed is None else allowed.astype(bool)
    heap = [(-float(bound[c]), int(c)) for c in np.flatnonzero(ok & (bound > tol))]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < max_sites and (below is None or below.any()):
        need = need_now()
        seen: list[tuple[float, float, int]] = []
        best = -1.0
        while heap and -heap[0][0] >= best - tol:
            c = heapq.heappop(heap)[1]
            gain, raw = g.of(c, need)
            seen.append((gain, raw, c))
            best = max(best, gain)
        if best <= tol:
            break
        ties = [e for e in seen if e[0] >= best - tol]
        top_raw = max(e[1] for e in ties)
        pick = min(e[2] for e in ties if e[1] >= top_raw - tol)
        for gain, _, c in seen:
            if c != pick and gain > tol:
                heapq.heappush(heap, (-gain, c))
        cols = g.row(pick)
        new = cols[~g.covered[cols]]
        g.covered[new] = True
        got += np.bincount(p.group[new], weights=p.weight[new], minlength=len(got))
        chosen.append(pick)
        if unmet is not None:
            below = unmet(new)
    return chosen


def _classes(p: Problem) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Demand columns merged when they have the same group and the same candidates: candidates
    × classes, and each class's weight and group."""
    csc = sp.csc_matrix(p.reach)
    csc.sort_indices()
    keys: dict[tuple[int, bytes], int] = {}
    cls = np.empty(len(p.weight), dtype=np.int64)
    for j in range(len(p.weight)):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        cls[j] = keys.setdefault((int(p.group[j]), rows.tobytes()), len(keys))
    n = len(keys)
    weight = np.bincount(cls, weights=p.weight, minlength=n)
    group = np.zeros(n, dtype=np.int64)
    group[cls] = p.group
    onehot = sp.csr_matrix((np.ones(len(cls)), (np.arange(len(cls)), cls)), shape=(len(cls), n))
    b = sp.csr_matrix(p.reach.astype(float) @ onehot)
    b.data[:] = 1.0
    return b, weight, group


def optimal(
    p: Problem,
    *,
    count: int | None,
    time_limit_s: float,
    progress: Step | None = None,
) -> tuple[list[int] | None, dict[str, Any]]:
    """Solve the maximal-covering (``count``) or set-covering (target) problem exactly with
    HiGHS, within ``time_limit_s``.

    Maximal covering: choose at most ``count`` candidates to maximise the weight covered. Set
    covering: the fewest candidates such that every group gains at least its need (a secondary
    term, smaller than one site, prefers the solution that covers more).

    HiGHS runs through ``highspy`` when it is installed, whose callbacks tell ``progress`` the
    best bound, the incumbent, the gap and the time limit left as the solver goes; otherwise
    through :func:`scipy.optimize.milp` (the same solver, without callbacks: only the elapsed
    time shows).

    Parameters
    ----------
    p
        The problem.
    count
        Maximal covering with at most ``count`` sites; ``None``: set covering.
    time_limit_s
        The solver's time limit.
    progress
        A running stage (opened with ``total=time_limit_s, unit="s"``) told the solver's state:
        for maximal covering the weight covered, for set covering the number of sites.

    Returns
    -------
    (list of int or None, dict)
        The candidates chosen (None when the solver found no solution in time) and the
        solver's report: status, message, objective, the MIP gap, dual bound, nodes, seconds,
        the size of the program.
    """
    model = _model(p, count)
    t0 = time.perf_counter()
    try:
        x, report = _solve_highspy(model, time_limit_s, progress)
    except ImportError as exc:
        log.debug("highspy not available (%s): solving with scipy.optimize.milp, no progress", exc)
        x, report = _solve_scipy(model, time_limit_s)
    report.update(
        {
            "time_limit_s": float(time_limit_s),
            "seconds": round(time.perf_counter() - t0, 3),
            "variables": {"sites": model.k, "demand_classes": model.c},
            "constraints": int(model.a.shape[0]),
        }
    )
    if x is None:
        return None, report
    return [int(i) for i in np.flatnonzero(x[: model.k] > 0.5)], report


@dataclass(frozen=True)
class _Model:
    """min ``obj`` · x subject to ``lower`` <= ``a`` x <= ``upper``, 0 <= x <= 1, the first
    ``k`` variables (sites) binary, the next ``c`` (demand classes covered) continuous."""

    obj: np.ndarray
    a: sp.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    k: int
    c: int
    count: int | None

    def shown(self, value: float | None) -> float | None:
        """An objective value as the user counts it: the weight covered (maximal covering)
        or the number of sites (set covering: the secondary term is below one site)."""
        if value is None:
            return None
        return (-value if self.count is not None else float(np.ceil(value - 1e-9))) + 0.0


def _model(p: Problem, count: int | None) -> _Model:
    b, w, g = _classes(p)
    k, c = b.shape
    # y_c - sum_{k covers c} x_k <= 0
    blocks = [sp.hstack([-b.T, sp.identity(c)], format="csr")]
    lower, upper = [np.full(c, -np.inf)], [np.zeros(c)]
    if count is not None:
        blocks.append(sp.csr_matrix(np.r_[np.ones(k), np.zeros(c)]))
        lower.append(np.zeros(1))
        upper.append(np.full(1, float(count)))
        obj = np.r_[np.zeros(k), -w]
    else:
        needy = np.flatnonzero(np.isfinite(p.need) & (p.need > 0))
        rows = np.searchsorted(needy, g)
        use = np.isin(g, needy)
        blocks.append(
            sp.csr_matrix((w[use], (rows[use], k + np.flatnonzero(use))), shape=(len(needy), k + c))
        )
        lower.append(p.need[needy])
        upper.append(np.full(len(needy), np.inf))
        obj = np.r_[np.ones(k), -0.5 * w / max(float(w.sum()), 1.0)]
    a = sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=float)
    return _Model(obj, a, np.concatenate(lower), np.concatenate(upper), int(k), int(c), count)


def _solve_scipy(m: _Model, time_limit_s: float) -> tuple[np.ndarray | None, dict[str, Any]]:
    from scipy.optimize import Bounds, LinearConstraint, milp

    res = milp(
        m.obj,
        constraints=[LinearConstraint(m.a, m.lower, m.upper)],
        integrality=np.r_[np.ones(m.k), np.zeros(m.c)],
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0, "disp": False},
    )
    report = {
        "solver": "HiGHS (scipy.optimize.milp)",
        "status": int(res.status),
        "message": str(res.message),
        "objective": None if res.fun is None else float(res.fun),
        "mip_gap": _num(getattr(res, "mip_gap", None)),
        "mip_dual_bound": _num(getattr(res, "mip_dual_bound", None)),
        "mip_node_count": _num(getattr(res, "mip_node_count", None)),
    }
    return (None if res.x is None else np.asarray(res.x)), report


#: how often the solver's state is passed on (seconds); the callbacks come far more often
TELL_EVERY_S = 0.25

#: HiGHS's model status (by name) -> the status scipy.optimize.milp reports for it
_STATUS = {
    "kOptimal": (0, "Optimization terminated successfully."),
    "kTimeLimit": (1, "Time limit reached."),
    "kIterationLimit": (1, "Iteration limit reached."),
    "kInfeasible": (2, "The problem is infeasible."),
    "kModelError": (2, "The model is not valid."),
    "kUnbounded": (3, "The problem is unbounded."),
}


def _solve_highspy(
    m: _Model, time_limit_s: float, progress: Step | None
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """HiGHS through highspy, telling ``progress`` its state from a MIP callback.

    The bare binding (``highspy._core._Highs``) is used: ``highspy.Highs()`` registers its
    callbacks on creation, before ``output_flag`` can be turned off, so HiGHS would print its
    banner on standard output.
    """
    import highspy

    raw = getattr(getattr(highspy, "_core", None), "_Highs", None)
    if raw is None:
        raise ImportError("highspy has no _core._Highs")
    from highspy import cb

    h = raw()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    tell = _Teller(m, time_limit_s, progress)
    if progress is not None:
        h.setCallback(tell.callback, None)
        h.startCallback(cb.HighsCallbackType.kCallbackMipInterrupt)
        h.startCallback(cb.HighsCallbackType.kCallbackMipImprovingSolution)
    h.passModel(_highs_lp(highspy, m))
    with _ctrl_c(tell):
        h.run()
    if tell.interrupted:
        raise KeyboardInterrupt
    info = h.getInfo()
    name = str(h.getModelStatus()).rsplit(".", 1)[-1]
    status, text = _STATUS.get(name, (4, "Other."))
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_x else None
    objective = float(info.objective_function_value) if has_x else None
    tell.state(
        primal=objective,
        dual=_num(info.mip_dual_bound),
        gap=_num(info.mip_gap) if has_x else None,
        running_s=h.getRunTime(),
        force=True,
    )
    report = {
        "solver": "HiGHS (highspy)",
        "highs_version": str(h.version()),  # time-limited answers can differ between versions
        "status": status,
        "message": f"{text} (HiGHS model status {h.modelStatusToString(h.getModelStatus())})",
        "objective": objective,
        "mip_gap": _num(info.mip_gap),
        "mip_dual_bound": _num(info.mip_dual_bound),
        "mip_node_count": _num(info.mip_node_count),
    }
    return x, report


def _highs_lp(highspy: Any, m: _Model) -> Any:
    lp = highspy.HighsLp()
    n = m.k + m.c
    lp.num_col_, lp.num_row_ = n, int(m.a.shape[0])
    lp.col_cost_ = m.obj.astype(float)
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.ones(n)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isfinite(m.lower), m.lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(m.upper), m.upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = m.a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = m.a.indices.astype(np.int32)
    lp.a_matrix_.value_ = m.a.data.astype(float)
    kinds = highspy.HighsVarType
    lp.integrality_ = [kinds.kInteger] * m.k + [kinds.kContinuous] * m.c
    return lp


@contextmanager
def _ctrl_c(tell: _Teller) -> Iterator[None]:
    """While HiGHS runs with callbacks, Ctrl+C asks it to stop at its next callback (raised as
    KeyboardInterrupt once it has): raised inside a callback, HiGHS would take it for a
    solver error and carry on. Only the main thread can catch the signal."""
    if tell.progress is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        tell.interrupted = True

    before = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


class _Teller:
    """Passes the solver's state to a progress step, at most every :data:`TELL_EVERY_S`."""

    def __init__(self, m: _Model, time_limit_s: float, progress: Step | None) -> None:
        self.m = m
        self.limit = float(time_limit_s)
        self.progress = progress
        self.last = -np.inf
        self.interrupted = False

    def callback(self, kind: Any, message: str, out: Any, data_in: Any, user: Any) -> None:
        if self.interrupted:
            if data_in is not None:
                data_in.user_interrupt = True
            return
        try:
            self.state(
                primal=_num(out.mip_primal_bound),
                dual=_num(out.mip_dual_bound),
                gap=_num(out.mip_gap),
                running_s=float(out.running_time),
            )
        except Exception:  # a display's failure must never stop the solver
            log.debug("solver progress not shown", exc_info=True)

    def state(
        self,
        *,
        primal: float | None,
        dual: float | None,
        gap: float | None,
        running_s: float,
        force: bool = False,
    ) -> None:
        now = time.perf_counter()
        if self.progress is None or (not force and now - self.last < TELL_EVERY_S):
            return
        self.last = now
        self.progress.solver(
            best_bound=self.m.shown(dual),
            incumbent=self.m.shown(primal),
            gap=gap if primal is not None else None,
            time_left_s=max(0.0, self.limit - running_s),
        )


def _num(v: object) -> float | None:
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return f if np.isfinite(f) else None
