"""From a problem, its rules, an appetite and solver options to the best :class:`Plan`.

The one internal path :func:`~riskbudget.optimization.optimize` and
:func:`~riskbudget.optimization.frontier` share once their inputs are checked:
translate the appetite (:func:`~riskbudget.optimization.cuts.tail_constraints`),
choose the exact program or the heuristic, build the plan, and re-solve when a
conservative form of the appetite proved nothing.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from ..appetite import Appetite, LimitKind
from ..exceptions import RiskBudgetError
from .cuts import CutPool, tail_constraints
from .heuristic import solve_heuristic
from .milp import solve_milp
from .model import SolveResult
from .options import SolverOptions
from .plan import Plan, build_plan
from .rules import FundingRules

__all__ = ["best_plan"]


def best_plan(
    rules: FundingRules,
    appetite: Appetite | None,
    options: SolverOptions,
    *,
    pool: CutPool | None = None,
    progress: bool | None = None,
    started: float | None = None,
) -> Plan:
    """The plan with the best expected net value under ``rules`` and ``appetite``.

    Parameters
    ----------
    rules : FundingRules
        The problem and its resolved constraints.
    appetite : Appetite or None
    options : SolverOptions
    pool : CutPool, optional
        Tail cuts kept from earlier solves on the same problem and appetite.
    progress : bool, optional
        The heuristic's progress bar.
    started : float, optional
        ``time.perf_counter()`` when the caller started (the plan's ``seconds``).
    """
    t0 = time.perf_counter() if started is None else started
    problem = rules.problem
    tails = tail_constraints(appetite, problem.years, var_method=options.var_method)
    use_milp = options.method == "milp" or (options.method == "auto" and not problem.lazy)
    if use_milp and problem.lazy:
        raise RiskBudgetError("optimize: method='milp' needs every combination precomputed; use method='heuristic'")
    if use_milp:
        sol = solve_milp(rules, tails, options, pool=pool)
    else:
        sol = solve_heuristic(rules, appetite, time_limit=options.time_limit, progress=progress)
    plan = _plan_of(rules, appetite, sol, t0)
    if sol.status == "infeasible_appetite" and plan.feasible:
        plan = _recover_conservative_infeasibility(plan, rules, appetite, sol, options, use_milp=use_milp, t0=t0)
    return plan


def _plan_of(rules: FundingRules, appetite: Appetite | None, sol: SolveResult, t0: float, notes: tuple[str, ...] = ()) -> Plan:
    return build_plan(
        rules.problem,
        sol.funding,
        appetite=appetite,
        budget=rules.constraints.budget,
        status=sol.status,
        solver_gap=sol.gap,
        bound=sol.bound,
        notes=sol.all_notes + notes,
        seconds=time.perf_counter() - t0,
    )


def _recover_conservative_infeasibility(
    plan: Plan,
    rules: FundingRules,
    appetite: Any,
    sol: SolveResult,
    options: SolverOptions,
    *,
    use_milp: bool,
    t0: float,
) -> Plan:
    """The conservative program was infeasible, yet its least-risk plan meets every limit.

    VaR limits enforced through the tail mean (and exceedance limits through
    CVaR) are restrictions of the true limits, so their infeasibility proves
    nothing. Re-solve with VaR checked exactly (per-year indicators; a checked
    heuristic on large samples); keep whichever feasible plan has more net
    value; and never report "cannot be met" for a plan that meets the appetite.
    """
    best = replace(plan, status="heuristic", notes=tuple(sol.notes) + (
        "the conservative program (VaR through the tail mean, exceedance through CVaR) was infeasible, but this "
        "plan meets every limit exactly on the sample; it is feasible but not proven optimal",
    ))
    has_var = appetite is not None and any(lim.kind is LimitKind.VAR for lim in appetite.limits)
    if use_milp and options.var_method == "cvar" and has_var:
        exact = replace(options, var_method="exact", time_limit=options.time_limit or 60.0)
        sol2 = solve_milp(rules, tail_constraints(appetite, rules.problem.years, var_method="exact"), exact)
        plan2 = _plan_of(rules, appetite, sol2, t0,
                         ("VaR limits re-solved exactly after the conservative tail-mean form was infeasible",))
        if plan2.feasible and sol2.status != "infeasible_appetite" and plan2.expected_net_value >= best.expected_net_value:
            return plan2
    return best
