"""One HiGHS call for a mixed-integer (or linear) program, through ``highspy``.

The programs of :mod:`~riskbudget.optimization.model` are solved by HiGHS.
SciPy bundles an older HiGHS behind :func:`scipy.optimize.milp`; the
``highspy`` bindings of HiGHS 1.16 solve the same programs about twice as
fast, and call back with every improving plan they find on the way to the
optimum, which gives the cut rounds (:mod:`~riskbudget.optimization.milp`)
a cut for each of those that breaks a limit, not only for the last.

:func:`solve` takes the program in SciPy's form (``c``, a sparse ``A`` with
row bounds, column bounds, integrality) and returns a
:class:`scipy.optimize.OptimizeResult` with SciPy's status codes, so callers
read it as they read :func:`scipy.optimize.milp`'s:

* ``status`` 0: optimal within ``mip_rel_gap``; 1: the time limit stopped it
  (``x`` is the best plan found, if any); 2: infeasible; 3: unbounded; 4:
  anything else;
* ``x``, ``fun``, ``mip_gap``, ``mip_dual_bound``, ``mip_node_count``;
* ``broken``: the improving plans ``check`` rejected, in the order found.

HiGHS runs silently, on one thread per program (the frontier runs programs
side by side on threads of its own; ``highspy`` releases the GIL while it
solves), with the options of :data:`MIP_OPTIONS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["solve", "MIP_OPTIONS"]

#: HiGHS options for riskbudget's programs, each measured on the bundled example (2 cores; the same plan
#: at every share and for every limit kind). The programs are small (29 binaries, about 400 columns)
#: with dense cut rows, and the cut rounds solve them again and again: HiGHS's sub-MIP heuristics
#: (RINS, RENS), its feasibility jump and its restarts after the root cost more than the branch and
#: bound they save there. Without them the 21-point frontier took 17 s instead of 33 s (31 s of CPU
#: instead of 57 s); ``optimize`` under TVaR95 <= $18M 2.9 s instead of 9.0 s, under P(loss > $10M)
#: <= 5% 2.9 s instead of 5.4 s, under an exact VaR95 limit 6.8 s instead of 15.3 s. Tried and not
#: kept: presolve off (frontier 22 s), the root reduced-cost heuristic off (32 s), heuristic effort 0
#: (19 s), symmetry detection off (no change).
MIP_OPTIONS: dict[str, Any] = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_allow_restart": False,
}


def _new_highs() -> Any:
    """A silent HiGHS instance.

    ``highspy.Highs()`` turns its callbacks on while constructing, before any
    option can be set, and HiGHS prints its banner on standard output then (a
    notebook would show it). The bindings' core class is made, set silent,
    and its callbacks are turned on only when asked (:func:`solve`'s ``check``).
    """
    import highspy

    core = getattr(highspy, "_Highs", None) or getattr(getattr(highspy, "_core", None), "_Highs", None)
    h = (core or highspy.Highs)()  # the public class as a last resort (it may print the banner once)
    h.setOptionValue("output_flag", False)
    return h


def _status(model_status: Any) -> tuple[int, str]:
    import highspy

    s = highspy.HighsModelStatus
    table = {
        s.kOptimal: (0, "Optimization terminated successfully."),
        s.kTimeLimit: (1, "Time limit reached."),
        s.kIterationLimit: (1, "Iteration limit reached."),
        s.kInfeasible: (2, "The problem is infeasible."),
        s.kUnbounded: (3, "The problem is unbounded."),
        s.kUnboundedOrInfeasible: (4, "The problem is unbounded or infeasible."),
    }
    code, message = table.get(model_status, (4, "HiGHS stopped without a solution."))
    return code, f"{message} (HiGHS: {model_status.name})"


def solve(
    c: np.ndarray,
    A: Any,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    integrality: np.ndarray,
    *,
    time_limit: float | None = None,
    mip_rel_gap: float = 1e-6,
    check: Callable[[np.ndarray], bool] | None = None,
    start: np.ndarray | None = None,
) -> Any:
    """Minimise ``c @ x`` subject to ``row_lower <= A x <= row_upper``, ``lower <= x <= upper``.

    Parameters
    ----------
    c, lower, upper, integrality : ndarray
        One entry per column (``integrality`` 1 for an integer column).
    A : scipy.sparse matrix
        The rows, one per entry of ``row_lower`` and ``row_upper``.
    time_limit : float, optional
        Seconds (at least a millisecond).
    mip_rel_gap : float
    check : callable, optional
        Called with each improving plan of a mixed-integer program; the plans
        it returns False for are returned in ``broken``.
    start : ndarray, optional
        A plan of the program (a value for every column) HiGHS starts from:
        its objective prunes the search at once. A start that breaks a row or
        an integrality is ignored by HiGHS; an LP ignores it.

    Returns
    -------
    scipy.optimize.OptimizeResult
    """
    import highspy
    import scipy.sparse as sp
    from scipy.optimize import OptimizeResult

    h = _new_highs()
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    for name, value in MIP_OPTIONS.items():
        h.setOptionValue(name, value)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
    n = int(np.size(c))
    csc = sp.csc_matrix(A)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = int(csc.shape[0])
    lp.col_cost_ = np.asarray(c, dtype=float)
    # HiGHS's infinity (kHighsInf) is IEEE infinity, so unbounded sides pass as they are.
    lp.col_lower_ = np.asarray(lower, dtype=float)
    lp.col_upper_ = np.asarray(upper, dtype=float)
    lp.row_lower_ = np.asarray(row_lower, dtype=float)
    lp.row_upper_ = np.asarray(row_upper, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(float)
    is_mip = bool(np.any(integrality))
    if is_mip:
        kinds = highspy.HighsVarType
        lp.integrality_ = [kinds.kInteger if v else kinds.kContinuous for v in integrality]
    h.passModel(lp)
    if start is not None and is_mip:
        idx = np.arange(n, dtype=np.int32)
        h.setSolution(n, idx, np.asarray(start, dtype=float))
    broken: list[np.ndarray] = []
    if check is not None and is_mip:

        def improving(_kind: Any, _message: str, data_out: Any, _data_in: Any, _user: Any) -> None:
            x = np.array(data_out.mip_solution, dtype=float)
            if not check(x):
                broken.append(x)

        h.setCallback(improving, None)
        h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
    h.run()
    code, message = _status(h.getModelStatus())
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_x else None
    fun = float(info.objective_function_value) if has_x else None
    gap, dual, nodes = math.nan, math.nan, 0
    if is_mip:
        gap = float(info.mip_gap) if has_x else math.nan
        dual = float(info.mip_dual_bound)
        nodes = int(info.mip_node_count)
    elif code == 0 and fun is not None:  # an LP's optimum is its own bound
        gap, dual = 0.0, fun
    return OptimizeResult(x=x, fun=fun, status=code, message=message, success=code == 0, mip_gap=gap,
                          mip_dual_bound=dual if math.isfinite(dual) else math.nan, mip_node_count=nodes,
                          broken=broken)
