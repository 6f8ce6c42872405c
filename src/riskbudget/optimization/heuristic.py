"""Local search on funding choices: one set of moves, the checked local search, and the heuristic.

The moves (:func:`moves`, :func:`swaps`) change one decision (a control on or
off, a project off / on / on with security by design) or swap a funded control
for an unfunded one. Every candidate is checked against the rules
(:class:`~riskbudget.optimization.rules.FundingRules`) and scored exactly on
the sample. Two searches use them:

* :func:`local_search`, best improvement in net value among candidates that
  meet every rule and every appetite limit exactly: after HiGHS, with removals
  only (the polish), or with every move and swap (to improve the best plan
  found when a time limit stopped the search);
* :func:`repair`, from a plan that breaks limits: the candidate with the
  least appetite violation, then the best net value, until every limit holds
  (then :func:`local_search`) or nothing improves;
* :func:`solve_heuristic`, for problems too large to enumerate: :func:`repair`
  from the included items. Its plans meet every limit exactly on the sample
  (status ``HEURISTIC``) but are not proven optimal; when it finds none, it
  proves nothing (status ``UNMET``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np

from .. import _progress
from ..exceptions import RiskBudgetError
from .cuts import TailConstraint, meets
from .model import Model, SolveResult
from .plan import PlanStatus
from .problem import DecisionProblem, Funding
from .rules import FundingRules

__all__ = ["moves", "swaps", "net_value", "local_search", "repair", "violation", "solve_heuristic"]

Vectors = tuple[np.ndarray, np.ndarray]


def moves(problem: DecisionProblem, xc: np.ndarray, sp_: np.ndarray, *, add: bool = True) -> Iterator[Vectors]:
    """One-decision changes of ``(controls on, project states)``: controls first, then projects.

    With ``add=False`` only removals: a funded control off, a project to a
    lower state (security-by-design option dropped, or the project dropped).
    """
    for i in range(len(problem.controls)):
        if xc[i] or add:
            y = xc.copy()
            y[i] = not y[i]
            yield y, sp_
    for k, proj in enumerate(problem.projects):
        for st in range(3 if proj.security_by_design is not None else 2):
            if st != sp_[k] and (add or st < sp_[k]):
                s2 = sp_.copy()
                s2[k] = st
                yield xc, s2


def swaps(xc: np.ndarray, sp_: np.ndarray) -> Iterator[Vectors]:
    """A funded control off and an unfunded one on, every pair."""
    for on_ in np.flatnonzero(xc):
        for off_ in np.flatnonzero(~xc):
            y = xc.copy()
            y[on_], y[off_] = False, True
            yield y, sp_


def net_value(problem: DecisionProblem, funding: Funding, losses: np.ndarray | None = None) -> float:
    """Expected value - mean annual loss - spend (and the premium of an insured problem): the objective."""
    x = problem.total_losses(funding) if losses is None else losses
    sec, it = problem.spend(funding)
    return problem.expected_value(funding) - float(x.mean()) - sec - it - problem.premium


def local_search(
    rules: FundingRules, tails: list[TailConstraint], funding: Funding, *, add: bool, max_rounds: int = 100
) -> Funding:
    """Best-improvement search over the moves, each candidate checked exactly on the sample.

    With ``add=False`` only removals are tried: HiGHS stops within its tolerances
    (relative gap and about a dollar absolute), so a control that removes nothing
    but costs a dollar could stay funded; this drops it. With ``add=True`` every
    move and every swap of two controls is tried (used after a limit had to be
    enforced conservatively).
    """
    p = rules.problem
    best, best_net = funding, net_value(p, funding)
    for _ in range(max_rounds):
        xc, sp_ = p.vectors(best)
        candidates = list(moves(p, xc, sp_, add=add))
        if add:
            candidates += list(swaps(xc, sp_))
        found = None
        for y, s2 in candidates:
            f = p.from_vectors(y, s2)
            v = net_value(p, f)
            if v > best_net + 1e-9 * max(1.0, abs(best_net)) and (found is None or v > found[1]):
                if rules.allows(f) and meets(tails, p.total_losses(f)):
                    found = (f, v)
        if found is None:
            break
        best, best_net = found
    return best


# --------------------------------------------------------------------------- #
# Repair and the heuristic, for problems too large to enumerate
# --------------------------------------------------------------------------- #
def violation(tails: list[TailConstraint], x: np.ndarray) -> float:
    """How far the losses ``x`` break the limits: the sum of the relative misses of those broken (0: all hold)."""
    return sum(max(tc.miss(x), 1e-15) for tc in tails if not tc.holds(x))


def _appetite_key(problem: DecisionProblem, tails: list[TailConstraint], funding: Funding) -> tuple[float, float]:
    """(appetite violation, -net value): the lexicographic key :func:`repair` and the heuristic minimise."""
    x = problem.total_losses(funding)
    return violation(tails, x), -net_value(problem, funding, x)


def repair(
    rules: FundingRules,
    tails: list[TailConstraint],
    funding: Funding,
    *,
    max_rounds: int = 200,
    time_limit: float | None = None,
) -> Funding:
    """From ``funding``, best moves (swaps when no single change helps) toward a plan meeting every limit.

    Candidates must meet the rules. The key is the appetite violation, then
    net value, so a plan that meets every limit is then improved by
    :func:`local_search`. Returns the best plan reached (it may still break a
    limit: check it).
    """
    t0 = time.perf_counter()
    problem = rules.problem
    if not rules.allows(funding):
        funding = problem.from_vectors(*_included(rules))
    xc, sp_ = problem.vectors(funding)
    best = _appetite_key(problem, tails, funding)
    for _ in range(max_rounds):
        if best[0] == 0 or (time_limit is not None and time.perf_counter() - t0 > time_limit):
            break
        step = _best_step(rules, tails, xc, sp_, best)
        if step is None:
            break
        best, xc, sp_ = step
    out = problem.from_vectors(xc, sp_)
    return local_search(rules, tails, out, add=True) if best[0] == 0 else out


def _included(rules: FundingRules) -> Vectors:
    """The starting point: the included items, which must meet the rules on their own."""
    problem = rules.problem
    xc = np.zeros(len(problem.controls), dtype=bool)
    sp_ = np.zeros(len(problem.projects), dtype=np.int64)
    for name in rules.constraints.include:
        if name in problem.control_index:
            xc[problem.control_index[name]] = True
        else:
            sp_[problem.project_index[name]] = 1
    broken = rules.violations(problem.from_vectors(xc, sp_))
    if broken:
        raise RiskBudgetError(
            "optimize (heuristic): the included items alone break the budget or a dependency: "
            + "; ".join(v.message for v in broken)
        )
    return xc, sp_


def _best_step(
    rules: FundingRules, tails: list[TailConstraint], xc: np.ndarray, sp_: np.ndarray, best: tuple[float, float]
) -> tuple[tuple[float, float], np.ndarray, np.ndarray] | None:
    """The best allowed move (swaps only if no single change improves), or None when none beats ``best``."""
    problem = rules.problem

    def scored(candidates: Iterator[Vectors]) -> list[tuple[tuple[float, float], np.ndarray, np.ndarray]]:
        out = []
        for y, s2 in candidates:
            f = problem.from_vectors(y, s2)
            if rules.allows(f):
                out.append((_appetite_key(problem, tails, f), y, s2))
        return out

    candidates = scored(moves(problem, xc, sp_))
    if not candidates or min(c[0] for c in candidates) >= best:
        candidates += scored(swaps(xc, sp_))
    if candidates:
        key, y, s2 = min(candidates, key=lambda t: t[0])
        if key < best:
            return key, y.copy(), s2.copy()
    return None


def solve_heuristic(
    rules: FundingRules,
    tails: list[TailConstraint],
    *,
    enumeration_cap: int = 256,
    max_rounds: int = 200,
    time_limit: float | None = None,
    progress: bool | None = None,
) -> SolveResult:
    """Greedy construction plus first-improvement local search (flips and swaps), with an LP bound.

    Every candidate is scored exactly on the sample (combinations are simulated
    on first use) and checked against every limit exactly (``tails``, as the
    appetite check decides). The bound is the LP relaxation of the program
    without the appetite in which each scenario with more than
    ``enumeration_cap`` combinations is replaced by its loss with every control
    on and no project (controls thin events and shrink losses and projects add
    them, on average; on a finite sample this is not checked, so the gap is an
    estimate, not a proof). Status ``HEURISTIC`` when the plan meets every
    limit, else ``UNMET`` (nothing proven).
    """
    t0 = time.perf_counter()
    problem = rules.problem
    xc, sp_ = _included(rules)
    best = _appetite_key(problem, tails, problem.from_vectors(xc, sp_))
    bar = _progress.bar(_progress.enabled(progress, 10**9), max_rounds, "heuristic search")
    rounds = 0
    try:
        while rounds < max_rounds:
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                break
            rounds += 1
            bar.update(1)
            step = _best_step(rules, tails, xc, sp_, best)
            if step is None:
                break
            best, xc, sp_ = step
    finally:
        bar.close()
    net = -best[1]
    big = [j for j, n in enumerate(problem.n_combinations) if n > enumeration_cap]
    bound = _relaxation_bound(rules, big, time_limit)
    gap = (bound - net) / max(abs(net), 1.0) if math.isfinite(bound) else math.inf
    notes = [
        f"heuristic (greedy + local search, {rounds} rounds), every limit checked exactly on the sample; bound from "
        "the LP relaxation without the appetite"
        + (f" with {len(big)} scenario(s) at their loss with every control on and no project" if big else "")
    ]
    status = PlanStatus.HEURISTIC if best[0] == 0 else PlanStatus.UNMET
    if best[0] > 0:
        notes.append("the heuristic found no plan meeting the appetite; it proves nothing, so the appetite may still "
                     "be reachable (method='milp' proves it either way when the problem fits)")
    funding = problem.from_vectors(xc, sp_)
    return SolveResult(funding, status, max(gap, 0.0), bound, net, notes, time.perf_counter() - t0, shortfall=best[0])


def _relaxation_bound(rules: FundingRules, lower_bound_only: list[int], time_limit: float | None) -> float:
    """LP relaxation without the appetite, the given scenarios at their pointwise smallest loss."""
    model = Model(rules.problem, rules.constraints, lower_bound_only=lower_bound_only)
    relax = model.solve([], [], relax=True, time_limit=time_limit, mip_rel_gap=1e-9)
    return model.net_of(relax.fun) if relax.x is not None else math.inf
