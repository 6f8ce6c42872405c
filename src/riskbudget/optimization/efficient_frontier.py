"""The efficient frontier (:func:`frontier`): the best plan at each security share of one budget, on one sample."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import _progress
from ..appetite import Appetite
from ..controls import Control, Project
from ..exceptions import RiskBudgetError
from ..simulation.distributed import check_client
from .cuts import CutPool
from .horizon import horizon_plan, with_years
from .options import SolverOptions, appetite_of, problem_of, route_options
from .plan import Plan, build_plan, one_year_note
from .planner import best_plan
from .rules import Constraints, FundingRules, money_value, resolve_constraints, share_value
from .transfer import solve_transfer

__all__ = ["frontier", "Frontier", "MAX_FRONTIER_POINTS", "APPETITE_MODES"]

#: The most points (shares of the budget) a frontier takes: one every 0.5%.
MAX_FRONTIER_POINTS = 201
#: ``"constraint"``: each share's best plan within the appetite; ``"check"``: the best plan, checked against it.
APPETITE_MODES = ("constraint", "check")


@dataclass(frozen=True, eq=False)
class Frontier:
    """The best plan at each security share of the budget.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per share: ``security_share``, ``security_budget``,
        ``it_budget``, ``security_spend``, ``it_spend``, ``total_spend``,
        ``expected_net_value``, ``ale``, ``var95``, ``tvar95``, ``feasible``
        (appetite met on the sample), ``status``, ``solver_gap``,
        ``funded_controls``, ``funded_projects``, ``security_by_design``
        (names joined by "; "), ``best`` (the appetite-feasible best split);
        with insurance options also ``risk_transfer_spend`` and ``insurance``
        (the layers bought), over a horizon ``npv`` (the best split's measure).
    plans : tuple of Plan
    best_index : int or None
        Row of the best appetite-feasible split (None when no split is feasible).
    budget : float
    appetite : Appetite or None
    appetite_mode : str
        ``"constraint"`` or ``"check"`` (see :func:`frontier`).
    """

    table: Any
    plans: tuple[Plan, ...]
    best_index: int | None
    budget: float
    appetite: Any
    seconds: float = math.nan
    appetite_mode: str = "constraint"

    @property
    def best(self) -> Plan | None:
        return None if self.best_index is None else self.plans[self.best_index]

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.table.to_dict("records"):
            rows.append(
                {
                    k: (
                        None
                        if isinstance(v, float) and not math.isfinite(v)
                        else (bool(v) if isinstance(v, (bool, np.bool_)) else v)
                    )
                    for k, v in r.items()
                }
            )
        return {"budget": self.budget, "best_index": self.best_index, "points": rows}


def frontier(
    register: Any,
    controls: Iterable[Control] = (),
    projects: Iterable[Project] = (),
    *,
    budget: float | None = None,
    appetite: Appetite | None = None,
    appetite_mode: str = "constraint",
    points: int = 21,
    shares: Sequence[float] | None = None,
    constraints: Constraints | None = None,
    solver: SolverOptions | None = None,
    years: int = 20_000,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    client: Any = None,
    insurance: Any = None,
    horizon: int | None = None,
    discount_rate: float = 0.0,
    **options: Any,
) -> Frontier:
    """Best plan for each security share of the budget, on one sample.

    At share ``s`` security spend (controls and security-by-design options)
    is capped at ``s x budget`` and IT spend at ``(1 - s) x budget``; the
    plan maximises expected net value under the appetite (if given). A share
    where the appetite cannot be met holds the least-risk plan and is marked
    not feasible (its smallest value of each limit and the budget needed
    only with ``explain_infeasible=True``). The best split is the feasible
    row with the highest expected net value.

    Parameters
    ----------
    register, controls, projects, budget, appetite, years, seed
        As for :func:`~riskbudget.optimization.optimize`.
    appetite_mode : {"constraint", "check"}, default "constraint"
        ``"constraint"``: each share's plan is the best *within* the appetite
        (points gather near the limit). ``"check"``: each share's plan is the
        best regardless of the appetite (the pure trade-off curve) and is only
        checked against it; the best split is then the best plan that happens
        to meet it.
    points : int, default 21
        Shares evenly spaced from 0% to 100% (21 points: every 5%).
    shares : sequence of float, optional
        Explicit shares instead of ``points``.
    constraints, solver : optional
        As for :func:`~riskbudget.optimization.optimize`; the security and IT
        budgets are set by each share and may not be given.
    n_jobs : int, optional
        Shares solved side by side on threads (default: up to 2), and the
        precompute's threads when ``register`` is not yet a problem. Each
        share is solved on its own, with its own cuts, so the plans never
        depend on ``n_jobs``, on timing or on where a share runs.
    client : dask.distributed.Client, optional
        Solve the shares as tasks on a Dask cluster, one task per share (the
        problem is sent to every worker once; needs ``pip install
        'riskbudget[dask]'``). The plans are those of a local run.
    insurance : Insurance or sequence of Insurance, optional
        Layers on offer at every share, as for
        :func:`~riskbudget.optimization.optimize`: each share's plan chooses
        its tower too, the premium paid from the budget (not from the
        security or IT cap), with losses and the appetite on retained losses
        (:mod:`~riskbudget.optimization.transfer`).
    horizon, discount_rate : optional
        Plan over a horizon at every share, as for
        :func:`~riskbudget.optimization.optimize`: the table gains ``npv``,
        the best split is the feasible one with the highest NPV, and the
        appetite holds in every year. ``budget`` is one amount for every year.
    **options
        Fields of :class:`Constraints` or :class:`SolverOptions` by name, as
        for :func:`~riskbudget.optimization.optimize` (``include``,
        ``exclude``, ``requires``, ``exclusive``, ``var_method``,
        ``time_limit``, ...).

    Returns
    -------
    Frontier
    """
    import pandas as pd

    t0 = time.perf_counter()
    cons, solver_options = route_options(
        "frontier", options if budget is None else {"budget": budget, **options}, constraints=constraints, solver=solver
    )
    if cons.budget is None:
        raise RiskBudgetError("frontier: budget is required, e.g. frontier(..., budget=6e6)")
    b = money_value("frontier", "budget", cons.budget, allow_zero=False)
    grid = _share_grid(points, shares)
    if appetite_mode not in APPETITE_MODES:
        raise RiskBudgetError(f"frontier: appetite_mode ({appetite_mode!r}) must be 'constraint' or 'check'")
    app = appetite_of("frontier", appetite)
    for bad in ("security_budget", "it_budget"):
        if getattr(cons, bad) is not None:
            raise RiskBudgetError(f"frontier: {bad} is set by each share of the budget; do not pass it")
    problem = problem_of("frontier", register, controls, projects, years=years, seed=seed, n_jobs=n_jobs,
                         progress=progress)
    base = resolve_constraints(problem, replace(cons, budget=b), where="frontier")
    if client is not None:
        check_client(client, "frontier")
    if insurance is not None and horizon is not None:
        raise RiskBudgetError("frontier: insurance options over a horizon are not supported yet; give one of them")
    extra: dict[str, Any] = {}
    if insurance is not None:
        from ..insurance import as_policies

        extra["insurance"] = as_policies(insurance)
    if horizon is not None:
        from .years import check_lead_times, horizon_of

        if not isinstance(b, (int, float)):  # pragma: no cover - money_value returns a float
            raise RiskBudgetError("frontier: budget must be one amount with horizon=")
        hz = horizon_of("frontier", horizon, discount_rate, b)
        check_lead_times("frontier", problem, hz)
        extra["hz"] = hz
    if solver_options.explain_infeasible is None:  # the table shows neither; ask with explain_infeasible=True
        solver_options = replace(solver_options, explain_infeasible=False)
    plans = _solve_shares(base, grid, app, appetite_mode, solver_options, problem, n_jobs=n_jobs, progress=progress,
                          client=client, extra=extra)
    table = pd.DataFrame([_row(float(s), b, p) for s, p in zip(grid, plans)])
    feasible = table.index[table["feasible"]]
    objective = "npv" if horizon is not None else "expected_net_value"
    best = int(table.loc[feasible, objective].idxmax()) if len(feasible) else None
    table["best"] = False
    if best is not None:
        table.loc[best, "best"] = True
    return Frontier(
        table=table,
        plans=tuple(plans),
        best_index=best,
        budget=b,
        appetite=app,
        seconds=time.perf_counter() - t0,
        appetite_mode=appetite_mode,
    )


def _share_grid(points: Any, shares: Sequence[float] | None) -> np.ndarray:
    """The security shares: ``points`` evenly spaced from 0 to 1, or the ``shares`` given."""
    if shares is None:
        if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
            raise RiskBudgetError(f"frontier: points ({points!r}) must be a whole number >= 2")
        if points > MAX_FRONTIER_POINTS:
            raise RiskBudgetError(
                f"frontier: points ({points}) must be at most {MAX_FRONTIER_POINTS} (a share every 0.5%); each point "
                f"is a full optimisation, so {points} points would run for hours"
            )
        return np.linspace(0.0, 1.0, int(points))
    grid = np.asarray([share_value("frontier", "share", s) for s in shares], dtype=float)
    if grid.size == 0:
        raise RiskBudgetError("frontier: shares is empty")
    if grid.size > MAX_FRONTIER_POINTS:
        raise RiskBudgetError(
            f"frontier: {grid.size} shares exceed the limit of {MAX_FRONTIER_POINTS}; each share is a full optimisation"
        )
    return grid


def _order(grid: np.ndarray) -> list[int]:
    """The shares' indices in the order they are started: the smallest share first.

    The long solves are the shares next to the edge of the appetite, which
    sits at the small security shares (the 0% share itself is quick). Starting
    those first leaves the short ones to fill the other threads (the longest
    processing time first rule; the order never changes a plan).
    """
    return [int(i) for i in np.argsort(grid, kind="stable")]


def _solve_share(
    problem: Any,
    base: Constraints,
    share: float,
    appetite: Appetite | None,
    appetite_mode: str,
    options: SolverOptions,
    detach: bool = False,
    insurance: Any = None,
    hz: Any = None,
) -> Plan:
    """The plan of one share, solved on its own (with its own tail cuts).

    ``detach``: the plan without its problem (a Dask task sends it back; the client attaches its own).
    """
    try:
        return _solve_one(problem, base, share, appetite, appetite_mode, options, detach, insurance, hz)
    except RiskBudgetError as exc:  # the same error, saying at which share
        b = float(base.budget)  # type: ignore[arg-type]
        said = str(exc.args[0]) if exc.args else str(exc)
        said = said.removeprefix("optimize: ")
        exc.args = (f"frontier: at a {share:.0%} security share (security budget {share * b:,.0f}, IT budget "
                    f"{(1 - share) * b:,.0f}): {said}", *exc.args[1:])
        raise


def _solve_one(problem: Any, base: Constraints, share: float, appetite: Appetite | None, appetite_mode: str,
               options: SolverOptions, detach: bool, insurance: Any, hz: Any) -> Plan:
    b = float(base.budget)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    rules = FundingRules(problem, replace(base, security_budget=share * b, it_budget=(1.0 - share) * b),
                         where="frontier")
    target = appetite if appetite_mode == "constraint" else None
    if insurance is not None:
        plan = solve_transfer(rules, target, options, insurance, progress=False, started=t0)
    elif hz is not None:
        plan = horizon_plan(rules, target, options, hz, t0, confirm=False)  # as one-year points: no fresh check
    else:
        plan = best_plan(rules, target, options, pool=CutPool(), progress=False, started=t0)
    if hz is None:
        plan = one_year_note(plan)
    if appetite_mode == "check" and appetite is not None:
        checked = build_plan(plan.problem, plan.funding, appetite=appetite, budget=b, status=plan.status,
                             solver_gap=plan.solver_gap, bound=plan.bound, notes=plan.notes, seconds=plan.seconds)
        plan = with_years(checked, appetite, hz) if hz is not None else replace(checked, towers=plan.towers)
    return replace(plan, problem=None) if detach else plan  # type: ignore[arg-type]


def _solve_shares(
    base: Constraints,
    grid: np.ndarray,
    appetite: Appetite | None,
    appetite_mode: str,
    options: SolverOptions,
    problem: Any,
    *,
    n_jobs: int | None,
    progress: bool | None,
    client: Any = None,
    extra: dict[str, Any] | None = None,
) -> list[Plan]:
    """One plan per share, on threads or as tasks on a Dask cluster.

    Every share is solved on its own, with its own pool of tail cuts, so a
    plan depends neither on the other shares, nor on timing, nor on where it
    runs. The shares go to whichever thread (or worker) is free next (HiGHS
    releases the GIL), the smallest share first (:func:`_order`).
    """
    extra = extra or {}
    order = _order(grid)
    plans_by_index: dict[int, Plan] = {}
    bar = _progress.bar(_progress.enabled(progress, 10**9), grid.size, "frontier")
    try:
        if client is not None:
            from distributed import as_completed as finished

            # The problem goes to every worker once; each share is one task.
            [remote] = client.scatter([problem], broadcast=True, hash=False)
            futures = {client.submit(_solve_share, remote, base, float(grid[i]), appetite, appetite_mode, options,
                                     detach=True, pure=False, **extra): i for i in order}
            try:
                for fut in finished(list(futures)):
                    plan = fut.result()
                    own = problem.insured(plan.insurance) if plan.insurance else problem
                    plans_by_index[futures[fut]] = replace(plan, problem=own)
                    bar.update(1)
            finally:
                client.cancel([*futures, remote])
        else:
            workers = max(1, min(int(n_jobs) if n_jobs is not None else min(os.cpu_count() or 1, 2), grid.size))
            if workers == 1:
                for i in order:
                    plans_by_index[i] = _solve_share(problem, base, float(grid[i]), appetite, appetite_mode, options,
                                                     **extra)
                    bar.update(1)
            else:
                with ThreadPoolExecutor(max_workers=workers) as ex:
                    futs = {ex.submit(_solve_share, problem, base, float(grid[i]), appetite, appetite_mode, options,
                                      **extra): i for i in order}
                    try:
                        for f in as_completed(futs):
                            plans_by_index[futs[f]] = f.result()
                            bar.update(1)
                    except BaseException:  # a share failed (or an interrupt): the shares not started never start
                        for f in futs:
                            f.cancel()
                        raise
    finally:
        bar.close()
    return [plans_by_index[i] for i in range(grid.size)]


def _row(s: float, b: float, p: Plan) -> dict[str, Any]:
    """The frontier table's row of the plan at share ``s`` of the budget ``b``."""
    return {
        "security_share": s,
        "security_budget": float(s * b),
        "it_budget": float((1 - s) * b),
        "security_spend": p.security_spend,
        "it_spend": p.it_spend,
        "total_spend": p.total_spend,
        "expected_net_value": p.expected_net_value,
        "ale": p.ale,
        "var95": p.var95,
        "tvar95": p.tvar95,
        "feasible": p.feasible,
        "status": p.status,
        "solver_gap": p.solver_gap,
        "funded_controls": "; ".join(p.funded_controls),
        "funded_projects": "; ".join(p.funded_projects),
        "security_by_design": "; ".join(p.security_by_design),
        **({"risk_transfer_spend": p.risk_transfer_spend, "insurance": "; ".join(x.name for x in p.insurance)}
           if p.towers is not None else {}),
        **({"npv": p.npv} if p.by_year is not None else {}),
    }
