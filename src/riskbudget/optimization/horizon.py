"""The multi-year solve: the best NPV over a horizon with the appetite in every year.

The model of a multi-year plan (costs, lead times, the year mix, the NPV) is in
:mod:`~riskbudget.optimization.years`; this module adds the solve, which needs
the appetite's cuts (:class:`~riskbudget.optimization.milp.AppetiteCuts`).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ..appetite import Appetite
from ..exceptions import RiskBudgetError
from .options import SolverOptions
from .plan import Plan, PlanStatus, build_plan
from .problem import Funding
from .rules import FundingRules, Rule, spend_violations
from .years import Horizon, YearMix, budget_rows, npv_objective, returns_over_horizon, year_problem, year_table

__all__ = ["solve_horizon", "horizon_plan", "with_years"]


def solve_horizon(rules: Any, horizon: Horizon, options: Any, appetite: Any = None) -> tuple[Funding, Any, float,
                                                                                                   float, tuple[str, ...]]:
    """The funding with the best NPV over the horizon under the rules, the year budgets and the appetite.

    The appetite must hold in every year of the horizon: each distinct year
    (years where every item is fully live or not are alike) gets its own
    problem, and the program, with the NPV as its objective, is solved round
    by round with the cuts of every year's broken limits
    (:class:`~riskbudget.optimization.milp.AppetiteCuts`) until its solution
    meets them all. Returns ``(funding, status, gap, bound, notes)``: status
    ``OPTIMAL`` (``FEASIBLE_GAP`` when the time limit stopped HiGHS on a plan
    meeting the appetite); ``UNMET`` when the time limit stopped the rounds
    before a plan meeting it was found; ``INFEASIBLE`` when no plan meets the appetite (the funding is then
    the best NPV without it, not a least-risk plan). ``bound`` bounds the NPV.
    """
    import time

    from .cuts import tail_constraints
    from .milp import AppetiteCuts
    from .model import Model
    from .plan import PlanStatus
    from .rules import FundingRules

    t0 = time.perf_counter()
    problem = rules.problem
    model = Model(problem, rules.constraints)
    if model.compact:
        raise RiskBudgetError(
            "optimize: a multi-year horizon is solved on problems that keep every combination's years in memory; "
            "use fewer years or fewer candidates, or horizon=None"
        )
    objective = npv_objective(model, horizon)
    base_rows = budget_rows(model, horizon)
    constant = float(model.const.mean()) * sum(horizon.factor(t) for t in range(1, horizon.years + 1))
    yearly: list[tuple[int, Any]] = []
    if appetite is not None:
        mix = YearMix(problem)
        tails = tail_constraints(appetite, problem.years)
        seen: set[int] = set()
        for t in range(1, horizon.years + 1):
            view = year_problem(problem, mix, t)
            if view is problem and 0 in seen:
                continue
            seen.add(0 if view is problem else t)
            yearly.append((t, AppetiteCuts(FundingRules(view, rules.constraints, where="optimize"), tails, options)))
    cuts: list[Any] = []
    bound = math.inf
    rounds = 0
    while True:
        rounds += 1
        remaining = None if options.time_limit is None else options.time_limit - (time.perf_counter() - t0)
        program = base_rows + [(c, r, 0.0) for c, r, _ in cuts] + [row for _, y in yearly for row in y.rows]
        res = model.solve(program, [], objective=objective, time_limit=remaining, mip_rel_gap=options.mip_rel_gap)
        dual = getattr(res, "mip_dual_bound", None)
        if dual is not None and np.isfinite(dual):
            bound = min(bound, -(float(dual) * model.scale) - constant)
        if res.x is None:
            if res.status == 2 and not cuts and not any(y.rows for _, y in yearly):
                raise RiskBudgetError("optimize: no plan satisfies the year budgets and the rules (even funding nothing)")
            if res.status == 2:
                free, *_ = solve_horizon(rules, horizon, options)
                return free, PlanStatus.INFEASIBLE, math.nan, math.nan, (
                    f"no plan meets the appetite in every year of the horizon (proven on the sample after {rounds} "
                    "round(s)); the plan shown has the best NPV without the appetite, not the least risk",)
            raise RiskBudgetError("optimize: the time limit stopped the multi-year solve before any plan was found")
        funding = model.decode(res.x)
        broken = [y for _, y in yearly if not y.meets(funding)]
        if not broken:
            status = PlanStatus.OPTIMAL if res.status == 0 else PlanStatus.FEASIBLE_GAP
            gap = float(getattr(res, "mip_gap", math.nan) or 0.0)
            notes = (f"the appetite is enforced in every year ({rounds} round(s) of cuts)",) if yearly else ()
            return funding, status, gap, bound, notes
        added = False
        for y in broken:
            added = y.add(funding, cuts) or added
        if not added:
            raise RiskBudgetError("optimize: internal error: a plan breaking the appetite produced no cut")
        if remaining is not None and time.perf_counter() - t0 >= options.time_limit:
            return funding, PlanStatus.UNMET, math.nan, bound, (
                "the time limit stopped the multi-year search before a plan meeting the appetite in every year "
                "was found",)


def horizon_plan(rules: FundingRules, appetite: Appetite | None, options: SolverOptions, hz: Horizon,
                  t0: float, progress: bool | None = None, confirm: bool = True) -> Plan:
    """The best NPV over the horizon, its year table, and the appetite checked in every year, on the sample and
    (with ``confirm``, as ``optimize`` does; a frontier's points are not) on fresh years (``plan.robustness``,
    :func:`~riskbudget.optimization.robustness.confirm_years`)."""
    from .robustness import confirm_years

    problem = rules.problem
    funding, status, gap, bound, notes = solve_horizon(rules, hz, options, appetite)
    if options.margin and appetite is not None:
        notes += (f"confidence={options.confidence} was asked, but margins for fresh years apply to one-year plans "
                  "only: the appetite holds in every year on the sample, and plan.robustness gives each limit's "
                  "chance on fresh years, year by year",)
    plan = build_plan(problem, funding, appetite=appetite, budget=hz.budgets[0] if hz.budgets else None,
                      status=status, solver_gap=gap, constraints=rules.constraints, notes=notes)
    plan = with_years(plan, appetite, hz, bound=bound)
    if appetite is not None and confirm:
        plan = replace(plan, robustness=confirm_years(plan, hz.years, appetite=appetite, progress=progress))
    return replace(plan, seconds=time.perf_counter() - t0)


def with_years(plan: Plan, appetite: Appetite | None, hz: Horizon, *, bound: float = math.nan,
                seconds: float | None = None) -> Plan:
    """A plan with its year table and NPV, the appetite checked in every year of the horizon."""
    mix = YearMix(plan.problem)
    table, npv, notes = year_table(plan.problem, plan.funding, hz, mix)
    notes = plan.notes + notes + _year_rule_notes(table, plan.constraints)
    feasible, status = plan.feasible, plan.status
    if appetite is not None:
        broken = []
        for t in range(1, hz.years + 1):
            check = appetite.check(mix.losses(plan.funding, t))
            if not check.ok:
                broken.append(f"year {t}: " + "; ".join(check.breaches))
        feasible = not broken
        if broken:
            notes += ("the appetite is broken in " + " | ".join(broken),)
            if status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE_GAP):  # never reported as meeting it
                status = PlanStatus.UNMET
    returns = plan.returns
    if returns is not None and len(returns):  # the return on each control over the horizon, next to the one-year one
        returns = returns.join(returns_over_horizon(plan.problem, plan.funding, hz, mix))
    return replace(plan, horizon=hz.years, discount_rate=hz.discount_rate, npv=npv, by_year=table, notes=notes,
                   returns=returns,
                   feasible=feasible, status=status, bound=bound if math.isfinite(bound) else plan.bound,
                   solver_gap=plan.solver_gap if math.isfinite(plan.solver_gap) else math.nan,
                   seconds=plan.seconds if seconds is None else seconds)


def _year_rule_notes(table: Any, cons: Any) -> tuple[str, ...]:
    """Notes on the years whose spend breaks the security or IT budget or the security share (year 1 carries the
    one-off costs, so a funding within the rules on its recurring costs can break them there). The total budget is
    each year's own, checked by :func:`~riskbudget.optimization.years.year_table`."""
    if cons is None:
        return ()
    return tuple(f"year {t}: {v.message}" for t, row in table.iterrows()
                 for v in spend_violations(cons, float(row["security_spend"]), float(row["it_spend"]))
                 if v.rule is not Rule.BUDGET)
