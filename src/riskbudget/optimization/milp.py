"""The exact solve: the program of :mod:`~riskbudget.optimization.model`, with tail cuts added round by round.

Each round solves the program with the cuts and indicator years found so far,
measures the solution's losses against every appetite limit on the whole
sample (:func:`~riskbudget.optimization.cuts.tail_violations`), and adds

* a CVaR cut for each broken tail-mean limit (the solution's worst years);
* indicator years for each broken exceedance limit (the years above the
  threshold). When a limit needs more than ``max_indicator_years`` of them it
  is enforced conservatively instead (mean of the ``allowed + 1`` largest
  years <= threshold), and the plan found is then improved by a local search
  that checks every limit exactly, its gap reported against the optimum
  without the appetite (status ``"heuristic"``).

Rounds stop early (1% gap) while cuts are being added; once none is needed the
program is solved to the requested gap, and cutting resumes if that solution
breaks a limit. When a solution meets every limit on the whole sample it is
optimal for the full program. If the appetite cannot be met, the least-risk
plan (smallest largest relative miss sigma), best in net value among those,
is returned with status ``"infeasible_appetite"``.

Every plan leaves through the rules' check
(:class:`~riskbudget.optimization.rules.FundingRules`): the polish and the
local search move only to choices the rules allow.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..exceptions import RiskBudgetError
from .cuts import CountState, Cut, CutPool, TailConstraint, TailKind, meets, tail_violations, tail_weights
from .heuristic import local_search, net_value
from .model import Model, SolveResult
from .options import SolverOptions
from .problem import Funding
from .rules import FundingRules

__all__ = ["solve_milp", "STRUCTURAL"]

#: The rules named when no plan satisfies them.
STRUCTURAL = "the budget and the structural constraints (include/exclude, requires, exclusive, security budgets)"


class _CutRounds:
    """The rounds of one solve: the tail constraints as enforced now, their count states, notes, time."""

    def __init__(
        self, model: Model, tails: list[TailConstraint], options: SolverOptions, max_rounds: int, t0: float
    ) -> None:
        self.model = model
        self.tails = list(tails)  # a COUNT limit may be replaced by its conservative CVaR form
        self.options = options
        self.max_rounds = max_rounds
        self.t0 = t0
        self.notes: list[str] = []
        self.switched: list[str] = []
        self.counts: dict[int, CountState] = {}
        for k, tc in enumerate(self.tails):
            if tc.kind is TailKind.COUNT:
                forced = int(np.count_nonzero(model.lo > tc.threshold))
                self.counts[k] = CountState(tc.threshold, tc.allowed, forced)
            if tc.note:
                self.notes.append(tc.note)

    def remaining(self) -> float | None:
        limit = self.options.time_limit
        return None if limit is None else limit - (time.perf_counter() - self.t0)

    def run(
        self, cuts: list[Cut], *, sigma: bool = False, sigma_cap: float | None = None, minimize_sigma: bool = False
    ) -> tuple[Any, int]:
        """Solve and cut until the solution meets every limit (or time, or rounds, run out)."""
        requested = self.options.mip_rel_gap
        gap = max(requested, 1e-2) if self.tails else requested
        rounds = 0
        while True:
            rounds += 1
            res = self.model.solve(
                cuts,
                list(self.counts.values()),
                sigma=sigma,
                sigma_cap=sigma_cap,
                minimize_sigma=minimize_sigma,
                time_limit=self.remaining(),
                mip_rel_gap=gap,
            )
            if res.x is None or not self.tails:
                return res, rounds
            level = float(res.x[-1]) if sigma else 0.0
            if not self._cut(res, cuts, level):
                if gap > requested:
                    gap = requested
                    continue
                return res, rounds
            if rounds >= self.max_rounds:
                raise RiskBudgetError(
                    f"optimize: tail cuts did not converge in {self.max_rounds} rounds; raise max_rounds or simplify "
                    "the appetite"
                )
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                return res, rounds

    def _cut(self, res: Any, cuts: list[Cut], level: float) -> bool:
        """Add cuts or indicator years for every limit the solution breaks beyond ``level``; True if any."""
        model = self.model
        losses = model.problem.total_losses(model.decode(res.x))
        added = False
        for k, viol, years in tail_violations(self.tails, losses):
            if viol <= level + 1e-9:
                continue
            tc = self.tails[k]
            if tc.kind is TailKind.CVAR:
                cuts.append(self._cvar_cut(tc, losses, years))
                added = True
            else:
                added = self._indicator_years(k, tc, years) or added
        return added

    def _cvar_cut(self, tc: TailConstraint, losses: np.ndarray, years: np.ndarray) -> Cut:
        """(1/m) sum_t w_t loss_t <= limit over the solution's worst years, in the program's columns."""
        model = self.model
        _top, w = tail_weights(losses, tc.m)  # years come sorted worst first with these weights
        coef = model.year_row(years, w) / tc.m
        rhs = (tc.threshold - float(w @ model.const[years]) / tc.m) / model.scale
        return coef, rhs, tc.threshold / model.scale

    def _indicator_years(self, k: int, tc: TailConstraint, years: np.ndarray) -> bool:
        """Indicator rows for the new years above the threshold, or the switch to the CVaR form."""
        cs = self.counts[k]
        have = set(cs.years)
        new = [int(t) for t in years if int(t) not in have and self.model.lo[t] <= tc.threshold]
        limit = self.options.max_indicator_years
        if len(cs.years) + len(new) <= limit:
            cs.years.extend(new)
            return bool(new)
        m = tc.allowed + 1
        self.tails[k] = TailConstraint(tc.label, TailKind.CVAR, m=m, threshold=tc.threshold)
        self.notes.append(
            f"{tc.label}: more than max_indicator_years={limit} years needed indicators; "
            f"enforced conservatively as the mean of the {m} largest years <= {tc.threshold:,.0f}"
        )
        del self.counts[k]
        self.switched.append(tc.label)
        return True


def solve_milp(
    rules: FundingRules,
    tails: list[TailConstraint],
    options: SolverOptions,
    *,
    max_rounds: int = 200,
    pool: CutPool | None = None,
) -> SolveResult:
    """Solve the program exactly on the sample (up to ``mip_rel_gap``), adding tail cuts as needed.

    ``pool`` carries cuts and indicator years from one solve to the next on
    the same problem and appetite, e.g. along a frontier: they are valid
    whatever the budget.
    """
    t0 = time.perf_counter()
    model = Model(rules.problem, rules.constraints)
    rounds = _CutRounds(model, tails, options, max_rounds, t0)
    pool = pool if pool is not None else CutPool()
    pool.adopt(rounds.tails)
    cuts = pool.cuts
    for k, cs in rounds.counts.items():
        cs.years.extend(pool.years.get(k, []))
    res, n_rounds = rounds.run(cuts)
    for k, cs in rounds.counts.items():
        pool.years[k] = list(cs.years)
    if rounds.switched:
        pool.clear()  # cuts of a conservative stand-in are not valid for the limit as stated: start afresh next time
    if rounds.tails:
        indicator_years = sum(len(c.years) for c in rounds.counts.values())
        rounds.notes.append(
            f"tail limits enforced with {len(cuts)} cut(s) and {indicator_years} indicator year(s) in {n_rounds} round(s)"
        )
    if res.x is not None and res.status in (0, 1):
        if rounds.switched:
            return _after_switch(rules, model, tails, model.decode(res.x), rounds)
        return _solved(rules, model, rounds, res)
    if res.status == 2 and rounds.tails:
        return _least_risk(rules, model, tails, rounds, cuts)
    raise RiskBudgetError(f"optimize: no plan satisfies {STRUCTURAL}; {_status_message(res)}")


def _solved(rules: FundingRules, model: Model, rounds: _CutRounds, res: Any) -> SolveResult:
    """The program's solution, polished (removals that pay), with HiGHS's gap and bound."""
    funding = local_search(rules, rounds.tails, model.decode(res.x), add=False)
    _note_broken_rules(rules, funding, rounds.notes)
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    dual = getattr(res, "mip_dual_bound", None)
    bound = model.net_of(dual) if dual is not None and np.isfinite(dual) else math.nan
    status = "optimal" if res.status == 0 else "time_limit"
    seconds = time.perf_counter() - rounds.t0
    return SolveResult(funding, status, gap, bound, model.net_of(res.fun), rounds.notes, seconds)


def _least_risk(
    rules: FundingRules, model: Model, exact_tails: list[TailConstraint], rounds: _CutRounds, cuts: list[Cut]
) -> SolveResult:
    """No plan meets the appetite: the smallest largest relative miss sigma, then the best net value at it."""
    r1, _ = rounds.run(cuts, sigma=True, minimize_sigma=True)
    if r1.x is None:
        raise RiskBudgetError(
            f"optimize: no plan satisfies {STRUCTURAL}, even ignoring the appetite ({_status_message(r1)})"
        )
    sigma_star = float(r1.x[-1])
    r2, _ = rounds.run(cuts, sigma=True, sigma_cap=sigma_star * (1 + 1e-6) + 1e-9)
    best = r2 if r2.x is not None else r1
    funding = model.decode(best.x)
    if rounds.switched and meets(exact_tails, rules.problem.total_losses(funding)):
        # the conservative form was infeasible, but this plan meets the limits as stated
        return _after_switch(rules, model, exact_tails, funding, rounds)
    net = model.net_of(float(np.dot(model.c, best.x[: model.ncol])))
    note = (
        "the appetite cannot be met within the budget on this sample; this is the least-risk plan "
        f"(every limit missed by at most {sigma_star:.1%} of its value), best in net value among those"
    )
    return SolveResult(
        funding,
        "infeasible_appetite",
        float(getattr(best, "mip_gap", 0.0) or 0.0),
        math.nan,
        net,
        rounds.notes,
        time.perf_counter() - rounds.t0,
        shortfall=sigma_star,
        appetite_note=note,
    )


def _after_switch(
    rules: FundingRules, model: Model, exact_tails: list[TailConstraint], funding: Funding, rounds: _CutRounds
) -> SolveResult:
    """Improve a plan found with conservatively enforced limits, checking the limits exactly, and bound it.

    The bound is the optimum without any appetite limit (a relaxation), so the
    reported gap is an upper bound on how far the plan can be from the optimum.
    """
    best = local_search(rules, exact_tails, funding, add=True)
    net = net_value(rules.problem, best)
    time_limit = rounds.options.time_limit
    elapsed = time.perf_counter() - rounds.t0
    free = model.solve(
        [], [], time_limit=None if time_limit is None else max(time_limit - elapsed, 1.0),
        mip_rel_gap=rounds.options.mip_rel_gap,
    )
    bound = model.net_of(free.fun) if free.x is not None else math.inf
    if free.x is not None:
        bound = max(bound, net)
    gap = (bound - net) / max(abs(net), 1.0) if math.isfinite(bound) else math.inf
    rounds.notes.append(
        f"{', '.join(rounds.switched)}: too many years needed indicators, so the program used a conservative form; "
        f"the plan was then improved by local search with every limit checked exactly on the sample. Gap to the "
        f"optimum without the appetite (an upper bound): {gap:.1%}"
    )
    _note_broken_rules(rules, best, rounds.notes)
    return SolveResult(best, "heuristic", gap, bound, net, rounds.notes, time.perf_counter() - rounds.t0)


def _note_broken_rules(rules: FundingRules, funding: Funding, notes: list[str]) -> None:
    """The check after HiGHS: a plan breaking a rule beyond the tolerance is reported, never silently kept."""
    broken = rules.violations(funding)
    if broken:
        notes.append("the solver's plan breaks a rule beyond its tolerance: " + "; ".join(v.message for v in broken))


def _status_message(res: Any) -> str:
    return f"HiGHS status {res.status}: {res.message}"
