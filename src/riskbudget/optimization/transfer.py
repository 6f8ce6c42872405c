"""Insurance as a decision: which layers to buy, chosen together with the controls and projects.

``optimize(..., insurance=policies)`` treats every *admissible tower* as one
option: a set of the offered layers that does not overlap (two layers on the
same scenarios and basis whose ranges overlap are alternatives, such as a
primary layer with a $2.5M or a $5M retention, and are never bought together;
:class:`~riskbudget.insurance.Tower` decides it). Buying nothing is always an
option. For each tower:

* the premium is spend on its own line ("risk transfer"): it comes out of the
  budget before any control or project (``plan.risk_transfer_spend``, part of
  ``plan.total_spend``);
* losses, the objective and every appetite limit are those the company
  *retains* (:meth:`DecisionProblem.insured`, bit for bit what
  ``simulate(..., insurance=tower)`` gives for the funded register);
* the funding is chosen by one of these searches:

  - **exhaustive** when the number of funding choices times towers is at most
    :data:`EXHAUSTIVE_EVALUATIONS`: every choice that meets the rules is scored
    exactly, so the plan is proven optimal on the sample (status ``optimal``),
    or proven unable to meet the appetite (``infeasible_appetite``);
  - otherwise, without insurance, the program itself (losses are linear in
    the decisions: proven on the sample); under every other tower a
    **heuristic**: an annual aggregate layer pays on the year's total of the
    covered scenarios, so the retained loss is not linear in the decisions and
    the program (:mod:`~riskbudget.optimization.model`) cannot carry it. The
    program's best plan on ground-up losses at the budget left after the
    premium (without the appetite) and the best plans found under the towers
    before (where they fit the rules) are the starting points of
    :func:`~riskbudget.optimization.heuristic.repair` toward the appetite and
    a local search (one change or one swap at a time), scored exactly on
    retained losses with every appetite limit checked exactly. The plan then
    has status ``heuristic``: it meets every limit on the sample but is not
    proven optimal.

The best tower is the one whose plan has the largest expected net value
(value - retained ALE - spend - premium) among those meeting the appetite.
Comparisons across towers are exact; only the funding under each is searched.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import _progress
from ..appetite import Appetite
from ..exceptions import RiskBudgetError
from ..formatting import money
from ..insurance import Insurance, InsuranceError, Tower, as_policies
from .cuts import TailConstraint, tail_constraints
from .heuristic import local_search, net_value, repair, violation
from .options import SolverOptions
from .plan import Plan, PlanStatus, build_plan
from .problem import DecisionProblem, Funding
from .rules import FundingRules

__all__ = ["towers", "solve_transfer", "TowerOutcome", "EXHAUSTIVE_EVALUATIONS", "MAX_POLICIES"]

#: Funding choices x towers scored one by one (exhaustive search, a proof) when there are at most this many.
EXHAUSTIVE_EVALUATIONS = 4096

#: The most layers offered at once (2**12 subsets are checked for overlaps).
MAX_POLICIES = 12


def towers(policies: Sequence[Insurance], scenarios: Sequence[Any]) -> list[tuple[Insurance, ...]]:
    """Every set of the offered layers that can be bought together (no overlap), the empty set first.

    Examples
    --------
    >>> from riskbudget import Insurance, Scenario
    >>> a = Insurance("Primary 2.5M", 1e6, retention=2.5e6, limit=10e6)
    >>> b = Insurance("Primary 5M", 6e5, retention=5e6, limit=10e6)
    >>> c = Insurance("Excess", 2e5, retention=15e6, limit=15e6)
    >>> s = [Scenario("A", loss_event_frequency=1, primary_loss=1e6)]
    >>> [[p.name for p in t] for t in towers([a, b, c], s)]
    [[], ['Primary 2.5M'], ['Primary 5M'], ['Excess'], ['Primary 2.5M', 'Excess'], ['Primary 5M', 'Excess']]
    """
    policies = tuple(policies)
    if len(policies) > MAX_POLICIES:
        raise InsuranceError(
            f"optimize: {len(policies)} insurance layers offered; at most {MAX_POLICIES} can be compared (every "
            f"combination is checked); offer fewer alternatives"
        )
    names = [p.name for p in policies]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InsuranceError(f"optimize: insurance layer name(s) {dupes} appear more than once; names must be unique")
    for p in policies:
        p.covered(scenarios)  # a layer whose scope names nothing here is an error (a typo), never silently dropped
    out: list[tuple[Insurance, ...]] = []
    for size in range(len(policies) + 1):
        for subset in itertools.combinations(policies, size):
            try:
                Tower.build(subset, scenarios)
            except InsuranceError:  # overlapping layers: alternatives, not bought together
                continue
            out.append(subset)
    return out


@dataclass(frozen=True)
class TowerOutcome:
    """The best funding found under one tower (or why none was searched)."""

    tower: tuple[Insurance, ...]
    premium: float
    funding: Funding | None
    net: float
    meets: bool
    violation: float
    skipped: str = ""

    @property
    def label(self) -> str:
        return " + ".join(p.name for p in self.tower) or "no insurance"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tower": [p.name for p in self.tower],
            "premium": self.premium,
            "expected_net_value": self.net if math.isfinite(self.net) else None,
            "meets_appetite": self.meets,
            "funded": None if self.funding is None else list(self.funding.names),
            "skipped": self.skipped or None,
        }


def _fundings(problem: DecisionProblem) -> int:
    n = 2 ** len(problem.controls)
    for p in problem.projects:
        n *= 3 if p.security_by_design is not None else 2
    return n


def _every_funding(problem: DecisionProblem) -> Any:
    project_states = [range(3 if p.security_by_design is not None else 2) for p in problem.projects]
    for xc in itertools.product((False, True), repeat=len(problem.controls)):
        for sp_ in itertools.product(*project_states):
            yield problem.from_vectors(np.array(xc, dtype=bool), np.array(sp_, dtype=np.int64))


def _key(problem: DecisionProblem, tails: list[TailConstraint], funding: Funding) -> tuple[float, float]:
    """(appetite violation, -net value) on retained losses: smaller is better."""
    x = problem.total_losses(funding)
    return violation(tails, x), -net_value(problem, funding, x)


def _exhaustive(rules: FundingRules, tails: list[TailConstraint]) -> tuple[Funding | None, tuple[float, float]]:
    best: tuple[Funding | None, tuple[float, float]] = (None, (math.inf, math.inf))
    for f in _every_funding(rules.problem):
        if rules.allows(f):
            k = _key(rules.problem, tails, f)
            if k < best[1]:
                best = (f, k)
    return best


def _ground(rules: FundingRules, appetite: Appetite | None, tails: list[TailConstraint],
            options: SolverOptions) -> tuple[Funding | None, tuple[float, float]]:
    """Without insurance the losses are linear in the decisions: the program's plan (proven, or labelled)."""
    from .planner import best_plan

    plan = best_plan(rules, appetite, replace(options, confidence=None, explain_infeasible=False))
    return plan.funding, _key(rules.problem, tails, plan.funding)


def _searched(rules: FundingRules, ground: FundingRules, tails: list[TailConstraint], options: SolverOptions,
              extra_starts: Sequence[Funding]) -> tuple[Funding | None, tuple[float, float]]:
    """Local search on retained losses from the program's best plan on ground-up losses (without the appetite)
    and from ``extra_starts`` (the best plans found under other towers that fit this one's budget)."""
    from .planner import best_plan

    inner = replace(options, confidence=None, explain_infeasible=False)
    starts = [best_plan(ground, None, inner).funding]
    starts += [f for f in extra_starts if f not in starts and rules.allows(f)]
    best: tuple[Funding | None, tuple[float, float]] = (None, (math.inf, math.inf))
    for f0 in starts:
        f = repair(rules, tails, f0, time_limit=options.time_limit) if tails else local_search(rules, [], f0, add=True)
        if not rules.allows(f):
            continue
        k = _key(rules.problem, tails, f)
        if k < best[1]:
            best = (f, k)
    return best


def solve_transfer(
    rules: FundingRules,
    appetite: Appetite | None,
    options: SolverOptions,
    insurance: Any,
    *,
    progress: bool | None = None,
    started: float | None = None,
) -> Plan:
    """The best tower of ``insurance`` and the best funding under it (see the module's notes).

    Returns a :class:`Plan` on the insured problem: ``plan.insurance`` the
    layers bought, ``plan.risk_transfer_spend`` their premium,
    ``plan.towers`` (a DataFrame) every tower compared.
    """
    import pandas as pd

    t0 = time.perf_counter() if started is None else started
    problem = rules.problem
    if problem.insurance:
        raise RiskBudgetError("optimize: pass the ground-up problem; the insurance options are given by insurance=")
    policies = as_policies(insurance)
    if not policies:
        raise RiskBudgetError("optimize: insurance= names no layer; give Insurance policies or leave it out")
    options_tower = towers(policies, problem.universe)
    budget = rules.constraints.budget
    if budget is None:
        raise RiskBudgetError("optimize: budget is required with insurance options (the premium comes out of it)")
    tails = tail_constraints(appetite, problem.years) if appetite is not None else []
    exhaustive = _fundings(problem) * len(options_tower) <= EXHAUSTIVE_EVALUATIONS
    outcomes: list[TowerOutcome] = []
    bar = _progress.bar(_progress.enabled(progress, 10**9), len(options_tower), "insurance towers")
    try:
        for tower in options_tower:
            bar.update(1)
            premium = float(sum(p.premium for p in tower))
            if premium > budget:
                outcomes.append(TowerOutcome(tower, premium, None, -math.inf, False, math.inf,
                                             skipped=f"premium {money(premium)} exceeds the budget {money(budget)}"))
                continue
            # the insured problem's rules count the premium against the budget; the program's see what is left
            insured = FundingRules(problem.insured(tower), rules.constraints, where="optimize")
            ground = FundingRules(problem, replace(rules.constraints, budget=budget - premium), where="optimize")
            if exhaustive:
                funding, key = _exhaustive(insured, tails)
            elif not tower:  # no insurance: the program itself, proven on the sample
                funding, key = _ground(ground, appetite, tails, options)
            else:
                found = [o.funding for o in outcomes if o.funding is not None]
                funding, key = _searched(insured, ground, tails, options, found)
            if funding is None:
                outcomes.append(TowerOutcome(tower, premium, None, -math.inf, False, math.inf,
                                             skipped="no funding choice meets the rules with this premium"))
                continue
            outcomes.append(TowerOutcome(tower, premium, funding, -key[1], key[0] == 0, key[0]))
    finally:
        bar.close()
    searched = [o for o in outcomes if o.funding is not None]
    if not searched:
        raise RiskBudgetError("optimize: no insurance option leaves a funding choice that meets the rules")
    meeting = [o for o in searched if o.meets]
    if meeting:
        best = max(meeting, key=lambda o: o.net)
    else:
        best = min(searched, key=lambda o: (o.violation, -o.net))
    if exhaustive:
        status = PlanStatus.OPTIMAL if meeting else PlanStatus.INFEASIBLE
        how = (f"every funding choice under each of the {len(options_tower)} insurance options (towers) scored "
               f"exactly on retained losses: proven on the sample")
    else:
        status = PlanStatus.HEURISTIC if meeting else PlanStatus.UNMET
        how = (f"{len(options_tower)} insurance options (towers) compared exactly; under each, the funding found by a "
               "local search on retained losses from the program's plans on ground-up losses (an annual aggregate "
               "layer makes the retained loss non-linear in the decisions): not proven optimal")
    notes = [how]
    if not best.tower and meeting:
        notes.append("no insurance bought: none of the towers offered adds expected net value"
                     + (" while meeting the appetite" if tails else ""))
    if not meeting and tails:
        notes.append("no insurance option and funding found meets the appetite"
                     + ("" if exhaustive else "; the search proves nothing, so the appetite may still be reachable"))
    chosen = problem.insured(best.tower)
    assert best.funding is not None
    plan = build_plan(chosen, best.funding, appetite=appetite, budget=budget, status=status,
                      notes=tuple(notes), seconds=time.perf_counter() - t0, constraints=rules.constraints,
                      solver_gap=0.0 if status is PlanStatus.OPTIMAL else math.nan)
    table = pd.DataFrame([o.to_dict() for o in outcomes]).assign(
        tower=[o.label for o in outcomes]).set_index("tower")
    table["chosen"] = [o is best for o in outcomes]
    return replace(plan, towers=table)
