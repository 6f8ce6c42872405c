"""Budget allocation between security controls and IT projects, exact on the simulated sample.

The pipeline:

1. :func:`precompute` simulates every scenario once for each combination of
   the controls and projects that touch it, under one seed (common random
   numbers), giving a :class:`DecisionProblem`.
2. :func:`optimize` solves a mixed-integer program on those columns (HiGHS, through
   ``highspy``): the rules of :class:`Constraints` (budget,
   security/IT caps and shares, include/exclude, dependencies, exclusive
   alternatives) and appetite limits, each enforced exactly on the sample (TVaR
   through Rockafellar-Uryasev cuts, VaR, P(loss > x) and the tolerance curve
   through counts of years above a threshold, brought in lazily), solved as
   :class:`SolverOptions` say. It returns a :class:`Plan` whose
   :class:`PlanStatus` says what is proven, with the reason for every
   candidate (:func:`explain`) and, with ``confidence=``, margins so that the
   limits hold on fresh years (:func:`confirm` checks them there).
3. :func:`evaluate` scores any funding choice on the same sample with the same
   objective; :func:`validate` re-scores a plan on fresh years (another seed);
   :func:`frontier` solves for each security share of the budget.

:class:`FundingRules` checks any funding choice against the rules and says
which it breaks, in words; the optimiser, :func:`evaluate` and the budget
explorer all use it.

Modules, one concern each: ``problem`` (the sample), ``rules`` (the rules of a
funding choice), ``options`` (solver options and keyword routing), ``cuts``
(appetite limits as tail constraints and cuts), ``model`` (the program and
one HiGHS call), ``milp`` (the cut-generation solve), ``heuristic`` (moves,
local search, the heuristic), ``planner`` (the path from checked inputs to a
plan), ``plan`` (the Plan), ``api`` (optimize, evaluate, validate) and
``efficient_frontier`` (frontier, Frontier).

For interactive tools, keep the :class:`DecisionProblem`: ``problem.score(funded)``
and ``problem.total_losses(funding)`` recombine precomputed columns without
simulating (under a millisecond for the bundled example).

Examples
--------
>>> import riskbudget as rb
>>> from riskbudget.optimization import precompute
>>> from riskbudget.controls import read_controls, read_projects
>>> reg = rb.read_register(rb.io.example_path("register.csv"))
>>> problem = precompute(reg, read_controls(rb.io.example_path("controls.csv")),
...                      read_projects(rb.io.example_path("projects.csv")), years=2_000, seed=7)
>>> plan = rb.optimize(problem, budget=6e6)
>>> s = problem.score(plan.funding)
>>> abs(s.expected_net_value - plan.expected_net_value) < 1e-6
True
"""

from .api import evaluate, optimize, validate
from .cuts import TailConstraint, TailKind, tail_constraints
from .efficient_frontier import MAX_FRONTIER_POINTS, Frontier, frontier
from .options import METHODS, SolverOptions
from .plan import BudgetNeeded, OutOfSample, Plan, PlanStatus, SmallestValue, build_plan, return_on_controls
from .problem import DecisionProblem, Funding, Score, precompute
from .reasons import ItemReason, Reason, explain, explain_plan
from .robustness import Robustness, confirm, confirm_years
from .rules import Constraints, FundingRules, Rule, Violation
from .transfer import TowerOutcome, solve_transfer, towers

__all__ = [
    "optimize",
    "evaluate",
    "validate",
    "frontier",
    "precompute",
    "Plan",
    "PlanStatus",
    "SmallestValue",
    "BudgetNeeded",
    "OutOfSample",
    "explain",
    "explain_plan",
    "towers",
    "solve_transfer",
    "TowerOutcome",
    "Reason",
    "ItemReason",
    "confirm",
    "confirm_years",
    "Robustness",
    "Frontier",
    "DecisionProblem",
    "Funding",
    "Score",
    "Constraints",
    "SolverOptions",
    "FundingRules",
    "Rule",
    "Violation",
    "TailConstraint",
    "TailKind",
    "tail_constraints",
    "return_on_controls",
    "build_plan",
    "METHODS",
    "MAX_FRONTIER_POINTS",
]
