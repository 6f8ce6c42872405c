"""optimize, evaluate and validate: public verbs of :mod:`riskbudget.optimization` (frontier: :mod:`.efficient_frontier`)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from .. import metrics
from ..appetite import Appetite
from ..controls import Control, Project
from ..exceptions import RiskBudgetError, TooManyCombinationsError
from ..insurance import covering
from .horizon import horizon_plan, with_years
from .options import SolverOptions, appetite_of, problem_of, route_options
from .plan import OutOfSample, Plan, PlanStatus, build_plan, one_year_note
from .planner import best_plan
from .problem import DecisionProblem
from .rules import Constraints, FundingRules
from .transfer import solve_transfer
from .years import check_lead_times, horizon_of

__all__ = ["optimize", "evaluate", "validate"]


def optimize(
    register: Any,
    controls: Iterable[Control] = (),
    projects: Iterable[Project] = (),
    *,
    budget: float | None = None,
    appetite: Appetite | None = None,
    constraints: Constraints | None = None,
    solver: SolverOptions | None = None,
    years: int = 20_000,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    horizon: int | None = None,
    discount_rate: float = 0.0,
    insurance: Any = None,
    **options: Any,
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
        Total spend allowed (controls + projects + security-by-design options);
        required, here or in ``constraints``.
    appetite : Appetite, optional
        VaR, TVaR and P(loss > x) limits and a tolerance curve, each enforced
        exactly on the simulated years (as :meth:`~riskbudget.Appetite.check`
        decides it; VaR through the tail mean only with ``var_method="cvar"``).
    constraints : Constraints, optional
        The rules a plan must satisfy besides the appetite (see below).
    solver : SolverOptions, optional
        How to solve (see below).
    years, seed : int
        The sample. Same seed, same plan, bit for bit.
    n_jobs : int, optional
        Threads for the precomputation.
    progress : bool, optional
        Progress bars (off with ``RISKBUDGET_PROGRESS=0``).
    horizon : int, optional
        Plan over this many years (see :mod:`riskbudget.optimization.years`):
        one-off costs in year 1, effects and values live after each item's
        lead time, the objective the net present value ``plan.npv``, with
        ``plan.by_year``. ``budget`` may then be one amount per year. Appetite
        limits hold in every year of the horizon. Margins for fresh years
        (``confidence``) apply to one-year plans only.
    discount_rate : float, default 0
        The NPV's discount rate (above -1).
    insurance : Insurance or sequence of Insurance, optional
        Layers on offer (:func:`riskbudget.read_insurance`). Buying them is a
        decision too: every set of layers that can be bought together (no two
        overlapping; nothing is an option) is compared, its premium coming out
        of ``budget`` as risk-transfer spend, with losses, objective and
        appetite on what the company retains
        (:mod:`~riskbudget.optimization.transfer`). Proven optimal by
        exhaustive scoring for small problems, else a labelled heuristic.
        One-year plans only; margins (``confidence``) are not applied.
    **options
        Any field of :class:`Constraints` or :class:`SolverOptions`, by name:

        - ``security_budget``, ``it_budget``: caps on security spend (controls
          + security-by-design) and IT spend;
        - ``min_security_share``, ``max_security_share``: bounds on security
          spend as a share of the total spend;
        - ``include``, ``exclude``: items that must (must not) be funded;
        - ``requires``: extra dependencies, (A, B) meaning "A requires B"
          (each item's own ``requires`` are added);
        - ``exclusive``: groups of which at most one item is funded (each
          item's own ``excludes`` are added);
        - ``method`` ({"auto", "milp", "heuristic"}), ``var_method``
          ({"exact", "cvar"}), ``time_limit`` (seconds), ``mip_rel_gap``
          (default 1e-6), ``explain_infeasible`` (default: yes here, no on a frontier),
          ``confidence`` (margins so that each limit holds on fresh years
          with about this chance): see :class:`SolverOptions`.

        An unknown keyword is an error listing these.

    Returns
    -------
    Plan
        ``plan.status`` (a :class:`~riskbudget.optimization.PlanStatus`) says
        what is proven, ``plan.status_text`` in words: ``"optimal"`` (proven on
        the sample), ``"feasible_gap"`` (the time limit stopped the solver:
        meets every limit, within ``plan.solver_gap`` of the optimum),
        ``"stand_in"`` (``var_method="cvar"``), ``"heuristic"``,
        ``"infeasible_appetite"`` (proven that no plan meets the appetite: the
        least-risk plan; ``plan.shortfall`` says how far each limit misses,
        ``plan.smallest_values`` how low each limit can go and
        ``plan.budget_needed`` what budget would meet them all) or
        ``"appetite_unmet"`` (none found, nothing proven).
        With an appetite, ``plan.robustness`` checks each limit on fresh years
        (the plan's seed + 1, as many years) and estimates the chance it holds
        on a further fresh sample (:func:`~riskbudget.optimization.confirm`;
        over a horizon in every distinct year,
        :func:`~riskbudget.optimization.confirm_years`);
        ``plan.reasons`` says why each candidate is funded or not.

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
    t0 = time.perf_counter()
    year_budgets = None
    if horizon is not None and budget is not None and not isinstance(budget, (str, bytes, int, float)):
        year_budgets, budget = budget, max(budget)  # one per year: the rules see the largest
    cons, solver_options = route_options(
        "optimize", _with_budget(options, budget), constraints=constraints, solver=solver
    )
    if cons.budget is None:
        raise RiskBudgetError("optimize: budget is required, e.g. optimize(..., budget=6e6)")
    app = appetite_of("optimize", appetite)
    problem = _decision_problem(register, controls, projects, solver_options.method, years=years, seed=seed,
                                n_jobs=n_jobs, progress=progress)
    rules = FundingRules(problem, cons, where="optimize")
    if insurance is not None and horizon is not None:
        raise RiskBudgetError(
            "optimize: insurance options over a horizon are not supported yet; choose the insurance for one year "
            "(horizon=None), or simulate a multi-year plan's years with simulate(..., insurance=...)"
        )
    if horizon is not None:
        hz = horizon_of("optimize", horizon, discount_rate, year_budgets if year_budgets is not None else cons.budget)
        check_lead_times("optimize", problem, hz)
        return horizon_plan(rules, app, solver_options, hz, t0, progress=progress)
    if insurance is not None:
        plan = solve_transfer(rules, app, solver_options, insurance, progress=progress, started=t0)
        if solver_options.margin:
            plan = replace(plan, notes=plan.notes + (
                f"margins for fresh years (confidence={solver_options.confidence}) are not applied when insurance "
                "is chosen too; plan.robustness shows how each limit holds on fresh years",))
    else:
        plan = best_plan(rules, app, solver_options, progress=progress, started=t0)
    plan = one_year_note(plan)
    if app is None:
        return plan
    from .robustness import confirm

    rob = confirm(plan, appetite=app, margins=plan.margins, confidence=plan.confidence, progress=progress)
    return replace(plan, robustness=rob, seconds=time.perf_counter() - t0)


def _with_budget(options: dict[str, Any], budget: Any) -> dict[str, Any]:
    return options if budget is None else {"budget": budget, **options}


def _decision_problem(
    register: Any, controls: Any, projects: Any, method: str, **sample: Any
) -> DecisionProblem:
    """The problem for ``method``: simulated lazily for the heuristic, and for "auto" when too large."""
    lazy = method == "heuristic" and not isinstance(register, DecisionProblem)
    try:
        return problem_of("optimize", register, controls, projects, lazy=lazy, **sample)
    except TooManyCombinationsError:
        if method != "auto":
            raise
        return problem_of("optimize", register, controls, projects, lazy=True, **sample)


def evaluate(
    register: Any,
    controls: Iterable[Control] = (),
    projects: Iterable[Project] = (),
    *,
    funded: Any = (),
    security_by_design: Iterable[str] = (),
    appetite: Appetite | None = None,
    budget: float | None = None,
    constraints: Constraints | None = None,
    years: int = 20_000,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    horizon: int | None = None,
    discount_rate: float = 0.0,
    insurance: Any = None,
    **options: Any,
) -> Plan:
    """Score any funding choice with the optimiser's objective on the optimiser's sample.

    Parameters
    ----------
    register, controls, projects
        As for :func:`optimize` (or a :class:`DecisionProblem` as ``register``).
    funded : iterable of str, Funding or Plan
        Names of the controls and projects funded (or anything whose
        ``funding`` attribute is a :class:`Funding`, such as a Plan).
    security_by_design : iterable of str
        Funded projects whose security-by-design option is bought.
    appetite, budget : optional
        To check the plan against them.
    constraints : Constraints, optional
        Rules to check the choice against; each item's own ``requires`` and
        ``excludes`` are always checked.
    years, seed : int
        Use the optimiser's to compare like with like.
    horizon, discount_rate : optional
        Score the choice over a horizon of years, as :func:`optimize` does
        (``plan.npv``, ``plan.by_year``; ``budget`` may be one per year).
    insurance : Insurance or sequence of Insurance, optional
        Layers bought with the choice: losses are then retained, the premium
        is spend on its own line and counts against ``budget``.
    **options
        Any field of :class:`Constraints` by name (``security_budget``,
        ``include``, ``requires``...).

    Returns
    -------
    Plan
        ``status="evaluated"``, no solver gap. A choice that breaks rules is
        scored anyway: ``plan.violations`` lists each broken rule
        (:class:`~riskbudget.optimization.rules.Violation`) and ``plan.notes``
        says it in words.

    Examples
    --------
    >>> import riskbudget as rb
    >>> reg = rb.Register([rb.Scenario("A", loss_event_frequency=2, primary_loss=rb.PERT(1e3, 2e3, 5e3), category="web")])
    >>> waf = rb.Control("WAF", 500, applies_to="web", resistance=0.5)
    >>> plan = evaluate(reg, [waf], funded=["WAF"], years=2_000, seed=1, progress=False)
    >>> plan.funded_controls, round(plan.ale / plan.ale_before, 1)
    (('WAF',), 0.5)
    >>> evaluate(reg, [waf], funded=["WAF"], budget=400, years=2_000, seed=1, progress=False).notes
    ('spend 500 exceeds the budget 400',)
    """
    year_budgets = None
    if horizon is not None and budget is not None and not isinstance(budget, (str, bytes, int, float)):
        year_budgets, budget = budget, max(budget)
    cons, _ = route_options("evaluate", _with_budget(options, budget), constraints=constraints, accept_solver=False)
    problem = problem_of("evaluate", register, controls, projects, years=years, seed=seed, n_jobs=n_jobs,
                         progress=progress)
    funding = problem.funding(funded, security_by_design)
    app = appetite_of("evaluate", appetite)
    rules = FundingRules(problem, cons, where="evaluate")
    if insurance is not None:
        if horizon is not None:
            raise RiskBudgetError("evaluate: insurance over a horizon is not supported yet; evaluate one year")
        problem = problem.insured(insurance)
    plan = build_plan(problem, funding, appetite=app, budget=rules.constraints.budget, status=PlanStatus.EVALUATED,
                      constraints=rules.constraints)
    rules = FundingRules(problem, rules.constraints, where="evaluate")  # an insured problem's rules count the premium
    broken = tuple(rules.violations(funding))
    if broken:
        plan = replace(plan, notes=plan.notes + tuple(v.message for v in broken), violations=broken)
    if horizon is not None:
        hz = horizon_of("evaluate", horizon, discount_rate, year_budgets if year_budgets is not None else cons.budget)
        check_lead_times("evaluate", problem, hz)
        return with_years(plan, app, hz)
    return one_year_note(plan)


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
    res = simulate(plan.result.register, years=n, seed=seed, keep_counts=False, progress=progress,
                   insurance=covering(tuple(plan.insurance), list(plan.result.register)) or None)
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

