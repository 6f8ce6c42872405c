"""From a problem, its rules, an appetite and solver options to the best :class:`Plan`, labelled honestly.

The one internal path :func:`~riskbudget.optimization.optimize` and
:func:`~riskbudget.optimization.frontier` share once their inputs are checked:
translate the appetite (:func:`~riskbudget.optimization.cuts.tail_constraints`),
choose the program or the heuristic, and label the plan with what is proven
(:class:`~riskbudget.optimization.plan.PlanStatus`):

* a VaR limit enforced through its tail mean (``var_method="cvar"``) makes the
  plan a ``STAND_IN``: its gap is measured against the optimum without the VaR
  limits (a valid bound for the limits as stated); if the stand-in program is
  infeasible, which proves nothing, the problem is solved with VaR as VaR;
* when the appetite cannot be met (status ``INFEASIBLE``), the plan carries the
  smallest value of each limit and the budget that would meet them all;
* a plan whose status claims it meets the appetite is checked once more against
  the appetite as stated, and is never reported as meeting it when it does not.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from ..appetite import Appetite, LimitKind
from ..exceptions import RiskBudgetError
from .cuts import CutPool, tail_constraints
from .heuristic import solve_heuristic
from .milp import budget_needed, smallest_values, solve_milp
from .model import SolveResult
from .options import SolverOptions
from .plan import Plan, PlanStatus, build_plan
from .rules import FundingRules

__all__ = ["best_plan", "MEETS_APPETITE"]

#: The statuses that say the plan meets every limit.
MEETS_APPETITE = (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE_GAP, PlanStatus.STAND_IN, PlanStatus.HEURISTIC)


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
    if not rules.problem.controls and not rules.problem.projects:
        return _nothing_to_choose(rules, appetite, t0)
    if options.margin and appetite is not None and appetite.limits:
        return _with_margins(rules, appetite, options, progress=progress, t0=t0)
    problem = rules.problem
    tails = tail_constraints(appetite, problem.years, var_method=options.var_method)
    exact = tails if options.var_method == "exact" else tail_constraints(appetite, problem.years)
    stand_in = any(tc.stand_in for tc in tails)
    use_milp = options.method == "milp" or (options.method == "auto" and not problem.lazy)
    if use_milp and problem.lazy:
        raise RiskBudgetError("optimize: method='milp' needs every combination precomputed; use method='heuristic'")
    if not use_milp:
        sol = solve_heuristic(rules, exact, time_limit=options.time_limit, progress=progress)
        return _checked(_plan_of(rules, appetite, sol, t0), rules, appetite)
    pool = pool if pool is not None else CutPool()
    sol = solve_milp(rules, tails, options, pool=pool)
    if stand_in:
        if sol.status is PlanStatus.INFEASIBLE:
            return _stand_in_infeasible(rules, appetite, options, t0)
        if sol.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE_GAP):
            return _checked(_stand_in(rules, appetite, sol, exact, options, t0), rules, appetite)
    plan = _plan_of(rules, appetite, sol, t0)
    if sol.status is PlanStatus.INFEASIBLE and options.explain_infeasible is not False:
        plan = _explained(plan, rules, exact, options, pool)
    return _checked(plan, rules, appetite)


def _plan_of(rules: FundingRules, appetite: Appetite | None, sol: SolveResult, t0: float,
             notes: tuple[str, ...] = (), status: Any = None, gap: float | None = None,
             bound: float | None = None) -> Plan:
    return build_plan(
        rules.problem,
        sol.funding,
        appetite=appetite,
        budget=rules.constraints.budget,
        status=sol.status if status is None else status,
        solver_gap=sol.gap if gap is None else gap,
        bound=sol.bound if bound is None else bound,
        notes=sol.all_notes + notes,
        seconds=time.perf_counter() - t0,
        constraints=rules.constraints,
    )


def _stand_in(rules: FundingRules, appetite: Any, sol: SolveResult, exact: list[Any], options: SolverOptions,
              t0: float) -> Plan:
    """A plan of the conservative program: its gap against the optimum without the VaR limits (a valid bound).

    Dropping a limit relaxes the problem, so that optimum (or any of its dual
    bounds) bounds the optimum under the limits as stated. When it happens to
    meet the VaR limits too, it *is* that optimum.
    """
    relaxed = [tc for tc in exact if tc.limit is None or tc.limit.kind is not LimitKind.VAR]
    free = solve_milp(rules, relaxed, replace(options, var_method="exact"))
    if free.status is PlanStatus.OPTIMAL and _meets(rules, appetite, free):
        return _plan_of(rules, appetite, free, t0, status=PlanStatus.OPTIMAL, notes=(
            "var_method='cvar' was asked, but the optimum without the VaR limits meets them exactly, so it is the "
            "optimum under the limits as stated",))
    bound = free.bound if free.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE_GAP) else math.inf
    plan = _plan_of(rules, appetite, sol, t0)
    net = plan.expected_net_value
    if math.isfinite(bound):
        bound = max(bound, net)
        gap = (bound - net) / max(abs(net), 1.0)
    else:
        gap = math.inf
    how = "optimal for the stand-in" if sol.status is PlanStatus.OPTIMAL else (
        f"within {sol.gap:.2%} of the stand-in's optimum (time limit)")
    note = (f"VaR limits enforced through the tail mean (var_method='cvar'), a conservative stand-in: {how}; the "
            f"optimum without the VaR limits, {bound:,.0f}, bounds the optimum under the limits as stated")
    return replace(plan, status=PlanStatus.STAND_IN, solver_gap=gap, bound=bound, notes=plan.notes + (note,))


def _stand_in_infeasible(rules: FundingRules, appetite: Any, options: SolverOptions, t0: float) -> Plan:
    """The conservative program was infeasible, which proves nothing: solve with VaR as VaR."""
    note = ("VaR limits through the tail mean (var_method='cvar') could not be met, which proves nothing (the "
            "tail mean is a conservative stand-in); solved again with VaR as VaR")
    plan = best_plan(rules, appetite, replace(options, var_method="exact"), started=t0)
    return replace(plan, notes=(note,) + plan.notes)


def _meets(rules: FundingRules, appetite: Any, sol: SolveResult) -> bool:
    return appetite is None or appetite.holds(rules.problem.total_losses(sol.funding))


def _explained(plan: Plan, rules: FundingRules, exact: list[Any], options: SolverOptions,
               pool: CutPool | None) -> Plan:
    """The least-risk plan, with the smallest value of each limit and the budget that would meet them all."""
    smallest = tuple(smallest_values(rules, exact, options, pool=pool))
    needed = budget_needed(rules, exact, options, pool=pool)
    return replace(plan, smallest_values=smallest, budget_needed=needed)


def _nothing_to_choose(rules: FundingRules, appetite: Appetite | None, t0: float) -> Plan:
    """No candidate controls or projects: the only plan funds nothing (optimal if it meets the appetite)."""
    problem = rules.problem
    funding = problem.funding(())
    meets = appetite is None or appetite.holds(problem.total_losses(funding))
    status = PlanStatus.OPTIMAL if meets else PlanStatus.INFEASIBLE
    return build_plan(problem, funding, appetite=appetite, budget=rules.constraints.budget, status=status,
                      solver_gap=0.0, notes=("there are no candidate controls or projects: the only plan funds "
                                             "nothing",), seconds=time.perf_counter() - t0,
                      constraints=rules.constraints)


def _with_margins(rules: FundingRules, appetite: Appetite, options: SolverOptions, *, progress: bool | None,
                  t0: float) -> Plan:
    """The best plan meeting each limit less ``z`` standard errors of its statistic at the plan itself.

    The margin depends on the plan (its losses' standard errors), so the
    program is solved with the margins of the plan as stated, then again with
    the margins of that plan, until the margins settle (a plan's own within
    5% of those it was solved with), for at most three solves; the last plan
    that meets the limits less its own margins is kept. A margin can make a
    limit far harder to prove, so the tightened solves share a time budget:
    ten times the time of the plan without margins, at least 30 s (at most
    ``time_limit``); a tightened solve stopped by it may still give a plan
    meeting the margins (status ``feasible_gap``, with its gap). When no plan
    meets them, or none was found in time, the plan for the limits as stated
    is returned, saying which.
    """
    from .robustness import tightened

    bare = replace(options, confidence=None)
    confidence = float(options.confidence or 0.5)
    plan = best_plan(rules, appetite, bare, progress=progress, started=t0)
    if plan.status not in MEETS_APPETITE:
        return plan
    # the tightened solves get a time budget of their own: a margin can make a limit far harder to prove
    start = time.perf_counter()
    allowed = max(_MARGIN_MIN_SECONDS, _MARGIN_TIME_FACTOR * (start - t0))
    if options.time_limit is not None:
        allowed = min(allowed, options.time_limit)
    losses = rules.problem.total_losses(plan.funding)
    best: tuple[Plan, Appetite, dict[str, float], bool] | None = None
    why = "no plan meets them (proven on the sample)"
    for _ in range(_MARGIN_ROUNDS):
        left = allowed - (time.perf_counter() - start)
        if left <= 0:
            why = f"the search for one stopped after {allowed:.0f} s"
            break
        tight, margins = tightened(appetite, losses, confidence)
        cand = best_plan(rules, tight, replace(bare, time_limit=left, explain_infeasible=False), progress=progress,
                         started=t0)
        if cand.status not in MEETS_APPETITE:
            if cand.status is not PlanStatus.INFEASIBLE:
                why = f"the search for one stopped after {allowed:.0f} s"
            break
        losses = rules.problem.total_losses(cand.funding)
        own, own_margins = tightened(appetite, losses, confidence)
        settled = all(abs(own_margins[k] - m) <= _MARGIN_SETTLED * m for k, m in margins.items())
        if own.holds(losses):  # it meets the limits less its own margins too
            best = (cand, tight, margins, settled)
            if settled:
                break
    if best is None:
        return replace(plan, notes=plan.notes + (
            f"margins aiming at a {confidence:.0%} chance that each limit holds on fresh years were asked, but "
            f"{why}; this plan meets the limits as stated on the sample only (see plan.robustness)",))
    cand, tight, margins, settled = best
    note = None if settled else (
        "the margins enforced were computed at an earlier candidate plan and differ from this plan's own by more "
        f"than {_MARGIN_SETTLED:.0%}; the plan meets the limits less its own margins too")
    return _stated(cand, appetite, tight, margins, confidence, note=note)


def _phi_inv(p: float) -> float:
    from scipy import special

    return float(special.ndtri(p))


#: Solves with updated margins at most (each at the previous candidate's standard errors).
_MARGIN_ROUNDS = 3
#: The tightened solves of a plan with margins get this many times the time of the plan without them...
_MARGIN_TIME_FACTOR = 10.0
#: ... and at least this many seconds (at most the solver's time_limit, if one is given).
_MARGIN_MIN_SECONDS = 30.0
#: Margins count as settled when a plan's own differ from those it was solved with by at most this share.
_MARGIN_SETTLED = 0.05


def _stated(plan: Plan, appetite: Appetite, tight: Appetite, margins: dict[str, float], confidence: float,
            note: str | None = None) -> Plan:
    """A plan solved for the limits less their margins, checked and reported against the limits as stated."""
    words = (f"each VaR, TVaR and P(loss > x) limit is met on the sample with a margin of "
             f"{math.sqrt(2) * _phi_inv(confidence):.2f} of its Monte Carlo standard errors, aiming at a "
             f"{confidence:.0%} chance that it holds on fresh years (a plan chosen on one sample looks better there "
             "than on fresh years, so the chance checked on fresh years, plan.robustness, can be lower); the status "
             "refers to these tightened limits")
    notes = plan.notes + (words,) + ((note,) if note else ())
    status = appetite.check(plan.result)
    return replace(plan, appetite=status, feasible=status.ok, appetite_spec=appetite, optimised_for=tight,
                   margins=margins, confidence=confidence, notes=notes)


def _checked(plan: Plan, rules: FundingRules, appetite: Any) -> Plan:
    """A plan said to meet the appetite that does not is never reported as meeting it."""
    if plan.status in MEETS_APPETITE and not plan.feasible:
        return replace(plan, status=PlanStatus.UNMET, notes=plan.notes + (
            "the final check on the sample found a limit missed, so this plan is not reported as meeting the "
            "appetite",))
    return plan
