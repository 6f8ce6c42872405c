"""optimize, evaluate, validate and frontier: the public verbs of :mod:`riskbudget.optimization`."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _progress, metrics
from ..appetite import Appetite, LimitKind
from ..controls import Control, Project
from ..exceptions import RiskBudgetError, TooManyCombinationsError
from .plan import OutOfSample, Plan, build_plan
from .problem import DecisionProblem, precompute
from .solver import Constraints, solve_heuristic, solve_milp, tail_constraints

__all__ = ["optimize", "evaluate", "validate", "frontier", "Frontier", "METHODS", "MAX_FRONTIER_POINTS"]

METHODS = ("auto", "milp", "heuristic")
#: The most points (shares of the budget) a frontier takes: one every 0.5%.
MAX_FRONTIER_POINTS = 201


def _money_arg(name: str, value: Any, *, allow_zero: bool = True) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise RiskBudgetError(f"optimize: {name} ({value!r}) must be an amount of money") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise RiskBudgetError(f"optimize: {name} ({value!r}) must be a finite amount {'>= 0' if allow_zero else '> 0'}")
    return x


def _share_arg(name: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise RiskBudgetError(f"optimize: {name} ({value!r}) must be a share in [0, 1]") from None
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise RiskBudgetError(f"optimize: {name} ({value!r}) must be a share in [0, 1], e.g. 0.15 for 15%")
    return x


def _problem(
    register: Any, controls: Any, projects: Any, years: int, seed: Any, n_jobs: Any, progress: Any, lazy: bool = False
) -> DecisionProblem:
    if isinstance(register, DecisionProblem):
        if tuple(controls) or tuple(projects):
            raise RiskBudgetError(
                "optimize: give either a DecisionProblem or a register with controls and projects, not both"
            )
        return register
    return precompute(register, controls, projects, years=years, seed=seed, n_jobs=n_jobs, progress=progress, lazy=lazy)


def _constraints(
    problem: DecisionProblem,
    *,
    budget: Any,
    security_budget: Any,
    it_budget: Any,
    min_security_share: Any,
    max_security_share: Any,
    include: Iterable[str],
    exclude: Iterable[str],
    requires: Iterable[tuple[str, str]],
    exclusive: Iterable[Iterable[str]],
) -> Constraints:
    known = set(problem.control_index) | set(problem.project_index)

    def check(names: Iterable[str], what: str) -> tuple[str, ...]:
        names = (names,) if isinstance(names, str) else tuple(str(n) for n in names)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise RiskBudgetError(
                f"optimize: {what} names {unknown}, which are neither controls nor projects; known: {sorted(known)}"
            )
        return names

    inc, exc = check(include, "include"), check(exclude, "exclude")
    both = sorted(set(inc) & set(exc))
    if both:
        raise RiskBudgetError(f"optimize: {both} are both included and excluded")
    req: list[tuple[str, str]] = []
    for raw in requires:
        pair = tuple(raw)
        if len(pair) != 2:
            raise RiskBudgetError(f"optimize: requires takes (A, B) pairs meaning 'A requires B', not {pair!r}")
        req.append(check(pair, "requires"))  # type: ignore[arg-type]
    groups: list[tuple[str, ...]] = [check(g, "exclusive") for g in exclusive]
    for item in list(problem.controls) + list(problem.projects):
        for b in item.requires:
            req.append((item.name, b))
        for b in item.excludes:
            groups.append((item.name, b))
    smin, smax = (
        _share_arg("min_security_share", min_security_share),
        _share_arg("max_security_share", max_security_share),
    )
    if smin is not None and smax is not None and smin > smax:
        raise RiskBudgetError(f"optimize: min_security_share ({smin:g}) exceeds max_security_share ({smax:g})")
    return Constraints(
        budget=_money_arg("budget", budget),
        security_budget=None if security_budget is None else _money_arg("security_budget", security_budget),
        it_budget=None if it_budget is None else _money_arg("it_budget", it_budget),
        min_security_share=smin,
        max_security_share=smax,
        include=inc,
        exclude=exc,
        requires=tuple(dict.fromkeys(req)),
        exclusive=tuple(dict.fromkeys(groups)),
    )


def _appetite(appetite: Any) -> Appetite | None:
    if appetite is None:
        return None
    if not isinstance(appetite, Appetite):
        raise RiskBudgetError(
            f"optimize: appetite must be a riskbudget.Appetite, e.g. Appetite(var95=20e6), not {type(appetite).__name__}"
        )
    return appetite if appetite else None


def optimize(
    register: Any,
    controls: Iterable[Control] = (),
    projects: Iterable[Project] = (),
    *,
    budget: float,
    appetite: Appetite | None = None,
    years: int = 20_000,
    seed: int | None = None,
    security_budget: float | None = None,
    it_budget: float | None = None,
    min_security_share: float | None = None,
    max_security_share: float | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    requires: Iterable[tuple[str, str]] = (),
    exclusive: Iterable[Iterable[str]] = (),
    method: str = "auto",
    var_method: str = "cvar",
    time_limit: float | None = None,
    mip_rel_gap: float = 1e-6,
    max_indicator_years: int = 500,
    n_jobs: int | None = None,
    progress: bool | None = None,
    _cut_pool: dict[str, Any] | None = None,
) -> Plan:
    """The funded set of controls and projects with the best expected net value.

    Expected net value = expected project value delivered - expected annual
    loss - spend, on ``years`` simulated years under one seed (common random
    numbers for every option).

    Parameters
    ----------
    register : Register or DecisionProblem
        The scenarios today, or a problem from :func:`precompute` (reuse it to
        solve several variants on the same sample without re-simulating).
    controls, projects : sequences of Control and Project
        Candidates (see :func:`riskbudget.controls.read_controls` / ``read_projects``).
    budget : float
        Total spend allowed (controls + projects + security-by-design options).
    appetite : Appetite, optional
        VaR, TVaR and P(loss > x) limits (and a tolerance curve, checked at a
        few points) that must hold on the simulated years.
    years, seed : int
        The sample. Same seed, same plan, bit for bit.
    security_budget, it_budget : float, optional
        Caps on security spend (controls + security-by-design) and IT spend.
    min_security_share, max_security_share : float, optional
        Bounds on security spend as a share of the total spend.
    include, exclude : iterable of str
        Items that must (must not) be funded.
    requires : iterable of (A, B)
        Extra dependencies, "A requires B" (each item's own ``requires`` are added).
    exclusive : iterable of groups of names
        At most one item of each group (each item's own ``excludes`` are added).
    method : {"auto", "milp", "heuristic"}
        ``"milp"``: exact on the sample (HiGHS). ``"heuristic"``: greedy + local
        search with an LP bound, simulating lazily (for problems too large to
        enumerate). ``"auto"``: the MILP whenever every scenario's
        combinations can be enumerated.
    var_method : {"cvar", "exact"}
        How VaR limits enter the program (see :mod:`riskbudget.optimization.solver`).
    time_limit : float, optional
        Seconds for the solver; the best plan so far is returned with its gap.
    mip_rel_gap : float, default 1e-6
        Relative optimality gap at which HiGHS stops.
    max_indicator_years : int, default 500
        Above this many years needing indicators, an exceedance (or exact VaR)
        limit is enforced through a conservative CVaR constraint instead of
        per-year binaries; the plan is then improved by a local search that
        checks every limit exactly, and ``status`` is ``"heuristic"`` with the
        gap to the optimum without the appetite.

    Returns
    -------
    Plan
        With ``status`` ``"optimal"`` (or ``"infeasible_appetite"``: the
        least-risk plan, and ``plan.shortfall`` says how far each limit misses).

    Examples
    --------
    >>> import riskbudget as rb
    >>> from riskbudget.controls import read_controls, read_projects
    >>> reg = rb.read_register(rb.io.example_path("register.csv"))
    >>> plan = rb.optimize(reg, read_controls(rb.io.example_path("controls.csv")),
    ...                    read_projects(rb.io.example_path("projects.csv")),
    ...                    budget=6e6, years=2_000, seed=7, progress=False)
    >>> plan.total_spend <= 6e6 and plan.status == "optimal"
    True
    """
    if method not in METHODS:
        raise RiskBudgetError(f"optimize: method {method!r} is not one of {list(METHODS)}")
    t0 = time.perf_counter()
    app = _appetite(appetite)
    lazy = method == "heuristic" and not isinstance(register, DecisionProblem)
    try:
        problem = _problem(register, controls, projects, years, seed, n_jobs, progress, lazy=lazy)
    except TooManyCombinationsError:
        if method != "auto":
            raise
        problem = _problem(register, controls, projects, years, seed, n_jobs, progress, lazy=True)
    cons = _constraints(
        problem,
        budget=budget,
        security_budget=security_budget,
        it_budget=it_budget,
        min_security_share=min_security_share,
        max_security_share=max_security_share,
        include=include,
        exclude=exclude,
        requires=requires,
        exclusive=exclusive,
    )
    tails = tail_constraints(app, problem.years, var_method=var_method)
    use_milp = method == "milp" or (method == "auto" and not problem.lazy)
    if use_milp and problem.lazy:
        raise RiskBudgetError("optimize: method='milp' needs every combination precomputed; use method='heuristic'")
    if use_milp:
        sol = solve_milp(
            problem,
            cons,
            tails,
            time_limit=time_limit,
            mip_rel_gap=mip_rel_gap,
            max_indicator_years=max_indicator_years,
            cut_pool=_cut_pool,
        )
    else:
        sol = solve_heuristic(problem, cons, app, tails, time_limit=time_limit, progress=progress)
    plan = build_plan(
        problem,
        sol.funding,
        appetite=app,
        budget=cons.budget,
        status=sol.status,
        solver_gap=sol.gap,
        bound=sol.bound,
        notes=tuple(sol.notes),
        seconds=time.perf_counter() - t0,
    )
    if sol.status == "infeasible_appetite" and plan.feasible:
        plan = _recover_conservative_infeasibility(
            plan, problem, cons, app, sol, var_method=var_method, use_milp=use_milp, time_limit=time_limit,
            mip_rel_gap=mip_rel_gap, max_indicator_years=max_indicator_years, t0=t0,
        )
    return plan


def _recover_conservative_infeasibility(
    plan: Plan,
    problem: DecisionProblem,
    cons: Any,
    app: Appetite | None,
    sol: Any,
    *,
    var_method: str,
    use_milp: bool,
    time_limit: float | None,
    mip_rel_gap: float,
    max_indicator_years: int,
    t0: float,
) -> Plan:
    """The conservative program was infeasible, yet its least-risk plan meets every limit.

    VaR limits enforced through the tail mean (and exceedance limits through
    CVaR) are restrictions of the true limits, so their infeasibility proves
    nothing. Re-solve with VaR checked exactly (per-year indicators; a checked
    heuristic on large samples); keep whichever feasible plan has more net
    value; and never report "cannot be met" for a plan that meets the appetite.
    """
    from dataclasses import replace

    cannot = "the appetite cannot be met"
    notes = tuple(n for n in plan.notes if not n.startswith(cannot))
    best = replace(plan, status="heuristic", notes=notes + (
        "the conservative program (VaR through the tail mean, exceedance through CVaR) was infeasible, but this "
        "plan meets every limit exactly on the sample; it is feasible but not proven optimal",
    ))
    if use_milp and var_method == "cvar" and app is not None and any(lim.kind is LimitKind.VAR for lim in app.limits):
        exact_tails = tail_constraints(app, problem.years, var_method="exact")
        sol2 = solve_milp(problem, cons, exact_tails, time_limit=time_limit or 60.0, mip_rel_gap=mip_rel_gap,
                          max_indicator_years=max_indicator_years)
        plan2 = build_plan(
            problem, sol2.funding, appetite=app, budget=cons.budget, status=sol2.status, solver_gap=sol2.gap,
            bound=sol2.bound, seconds=time.perf_counter() - t0,
            notes=tuple(sol2.notes) + ("VaR limits re-solved exactly after the conservative tail-mean form was infeasible",),
        )
        if plan2.feasible and sol2.status != "infeasible_appetite" and plan2.expected_net_value >= best.expected_net_value:
            return plan2
    return best


def evaluate(
    register: Any,
    controls: Iterable[Control] = (),
    projects: Iterable[Project] = (),
    *,
    funded: Any = (),
    security_by_design: Iterable[str] = (),
    appetite: Appetite | None = None,
    budget: float | None = None,
    years: int = 20_000,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> Plan:
    """Score any funding choice with the optimiser's objective on the optimiser's sample.

    Parameters
    ----------
    register, controls, projects
        As for :func:`optimize` (or a :class:`DecisionProblem` as ``register``).
    funded : iterable of str, Funding or Plan
        Names of the controls and projects funded.
    security_by_design : iterable of str
        Funded projects whose security-by-design option is bought.
    appetite, budget : optional
        To check the plan against them (a plan over budget is scored anyway,
        with a note).
    years, seed : int
        Use the optimiser's to compare like with like.

    Returns
    -------
    Plan
        ``status="evaluated"``, no solver gap.

    Examples
    --------
    >>> import riskbudget as rb
    >>> reg = rb.Register([rb.Scenario("A", loss_event_frequency=2, primary_loss=rb.PERT(1e3, 2e3, 5e3), category="web")])
    >>> waf = rb.Control("WAF", 500, applies_to="web", resistance=0.5)
    >>> plan = evaluate(reg, [waf], funded=["WAF"], years=2_000, seed=1, progress=False)
    >>> plan.funded_controls, round(plan.ale / plan.ale_before, 1)
    (('WAF',), 0.5)
    """
    problem = _problem(register, controls, projects, years, seed, n_jobs, progress)
    funding = problem.funding(funded, security_by_design)
    app = _appetite(appetite)
    notes: list[str] = []
    b = None if budget is None else _money_arg("budget", budget)
    plan = build_plan(problem, funding, appetite=app, budget=b, status="evaluated")
    if b is not None and plan.total_spend > b:
        notes.append(f"spend {plan.total_spend:,.0f} exceeds the budget {b:,.0f}")
    if notes:
        from dataclasses import replace

        plan = replace(plan, notes=plan.notes + tuple(notes))
    return plan


def validate(
    plan: Plan, *, seed: int | None = None, years: int | None = None, progress: bool | None = None
) -> OutOfSample:
    """Re-evaluate a plan on fresh simulated years (another seed): the out-of-sample check.

    Parameters
    ----------
    plan : Plan
    seed : int, optional
        Seed of the fresh sample (default: the plan's seed + 1).
    years : int, optional
        Fresh years (default: as many as the plan's sample).

    Returns
    -------
    OutOfSample
        In-sample and out-of-sample expected net value, their difference and
        its standard error (independent samples), and the appetite check on
        the fresh years.
    """
    from ..simulation import simulate

    if not isinstance(plan, Plan):
        raise RiskBudgetError(f"validate: expected a Plan, not {type(plan).__name__}")
    if seed is None:
        seed = plan.seed + 1 if isinstance(plan.seed, (int, np.integer)) else None
    n = plan.years if years is None else int(years)
    if n < 2:
        raise RiskBudgetError(f"validate: years ({years!r}) must be at least 2")
    res = simulate(plan.result.register, years=n, seed=seed, keep_counts=False, progress=progress)
    x = res.annual_loss.to_numpy()
    ale = float(x.mean())
    out_net = plan.expected_value - ale - plan.total_spend
    se = math.sqrt(plan.ale_se**2 + metrics.ale_se(x) ** 2)
    status = plan.appetite_spec.check(res) if plan.appetite_spec is not None else None
    return OutOfSample(
        in_sample_net_value=plan.expected_net_value,
        out_of_sample_net_value=out_net,
        difference=plan.expected_net_value - out_net,
        difference_se=se,
        in_sample_ale=plan.ale,
        out_of_sample_ale=ale,
        out_of_sample_tvar95=metrics.tvar(x, 0.95),
        appetite=status,
        years=n,
        seed=res.seed,
        result=res,
    )


# --------------------------------------------------------------------------- #
# Efficient frontier
# --------------------------------------------------------------------------- #
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
        (names joined by "; "), ``best`` (the appetite-feasible best split).
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
    budget: float,
    appetite: Appetite | None = None,
    appetite_mode: str = "constraint",
    points: int = 21,
    shares: Sequence[float] | None = None,
    years: int = 20_000,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    **constraints: Any,
) -> Frontier:
    """Best plan for each security share of the budget, on one sample.

    At share ``s`` security spend (controls and security-by-design options)
    is capped at ``s x budget`` and IT spend at ``(1 - s) x budget``; the
    plan maximises expected net value under the appetite (if given). A share
    where the appetite cannot be met holds the least-risk plan and is marked
    not feasible. The best split is the feasible row with the highest
    expected net value.

    Parameters
    ----------
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
    n_jobs : int, optional
        Threads for the shares (default: up to 2).
    **constraints
        Passed to :func:`optimize` (``include``, ``exclude``, ``requires``,
        ``exclusive``, ``var_method``, ``time_limit``, ...).

    Returns
    -------
    Frontier
    """
    import pandas as pd

    t0 = time.perf_counter()
    b = _money_arg("budget", budget, allow_zero=False)
    if shares is None:
        if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 2:
            raise RiskBudgetError(f"frontier: points ({points!r}) must be a whole number >= 2")
        if points > MAX_FRONTIER_POINTS:
            raise RiskBudgetError(
                f"frontier: points ({points}) must be at most {MAX_FRONTIER_POINTS} (a share every 0.5%); each point "
                f"is a full optimisation, so {points} points would run for hours"
            )
        grid = np.linspace(0.0, 1.0, int(points))
    else:
        grid = np.asarray([_share_arg("share", s) for s in shares], dtype=float)
        if grid.size == 0:
            raise RiskBudgetError("frontier: shares is empty")
        if grid.size > MAX_FRONTIER_POINTS:
            raise RiskBudgetError(
                f"frontier: {grid.size} shares exceed the limit of {MAX_FRONTIER_POINTS}; each share is a full "
                f"optimisation"
            )
    if appetite_mode not in ("constraint", "check"):
        raise RiskBudgetError(f"frontier: appetite_mode ({appetite_mode!r}) must be 'constraint' or 'check'")
    app = _appetite(appetite)
    for bad in ("security_budget", "it_budget"):
        if bad in constraints:
            raise RiskBudgetError(f"frontier: {bad} is set by each share of the budget; do not pass it")
    problem = _problem(register, controls, projects, years, seed, n_jobs, progress)
    # Shares are dealt to threads in turn (HiGHS releases the GIL), each thread
    # going from the largest share down, so the cuts of the easy, feasible shares
    # are in its pool before the hard ones. Each thread keeps its own pool of tail
    # cuts (valid for every share), so the result does not depend on timing.
    workers = max(1, min(int(n_jobs) if n_jobs is not None else min(os.cpu_count() or 1, 2), grid.size))
    order = list(np.argsort(-grid, kind="stable"))
    runs = [order[w::workers] for w in range(workers)]
    plans_by_index: dict[int, Plan] = {}
    bar = _progress.bar(_progress.enabled(progress, 10**9), grid.size, "frontier")

    def run(indices: list[int]) -> None:
        pool: dict[str, Any] = {}
        for i in indices:
            s = float(grid[i])
            plan = optimize(
                problem,
                budget=b,
                appetite=app if appetite_mode == "constraint" else None,
                security_budget=s * b,
                it_budget=(1.0 - s) * b,
                progress=False,
                _cut_pool=pool,
                **constraints,
            )
            if appetite_mode == "check" and app is not None:
                plan = build_plan(
                    problem,
                    plan.funding,
                    appetite=app,
                    budget=b,
                    status=plan.status,
                    solver_gap=plan.solver_gap,
                    bound=plan.bound,
                    notes=plan.notes,
                    seconds=plan.seconds,
                )
            plans_by_index[i] = plan
            bar.update(1)

    try:
        if workers == 1:
            run(runs[0])
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers) as ex:
                for f in [ex.submit(run, r) for r in runs]:
                    f.result()
    finally:
        bar.close()
    plans = [plans_by_index[i] for i in range(grid.size)]
    rows = []
    for s, p in zip(grid, plans):
        rows.append(
            {
                "security_share": float(s),
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
            }
        )
    table = pd.DataFrame(rows)
    feasible = table.index[table["feasible"]]
    best = int(table.loc[feasible, "expected_net_value"].idxmax()) if len(feasible) else None
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
