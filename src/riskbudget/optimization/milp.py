"""The exact solve: the program of :mod:`~riskbudget.optimization.model`, with appetite cuts added round by round.

Each round solves the program with the cuts found so far, measures the
solution's losses against every appetite limit on the whole sample (with the
appetite check's own comparisons, :meth:`~riskbudget.optimization.cuts.TailConstraint.holds`),
and adds

* a CVaR cut for each broken tail-mean limit (the solution's worst years);
* a combinatorial cut for each broken count limit (VaR, exceedance, the
  tolerance curve): the widest cube of plans around the solution whose
  pointwise smallest losses still break a limit
  (:class:`~riskbudget.optimization.cuts.CubeCuts`), and the same around each
  plan one decision away that breaks a limit.

HiGHS calls back with every improving plan it finds on the way to a round's
solution; those that break a limit are cut off too, in the same round (a
round's solve finds several plans before its last, and each would otherwise
take a round of its own).

Every cut only removes plans that break a limit, so each round solves a
*relaxation* of the full problem and its dual bound bounds the optimum. Every
round is solved to the requested gap, so the round whose solution needs no cut
ends the search. (Rounds used to stop at a 1% gap while cutting and then solve
once more to the requested gap: on the bundled example that took more rounds
and more time, 43 s against 33 s for the 21-point frontier, with the same
plans.) A solution that meets every limit is then optimal for the limits as
stated: status ``OPTIMAL``.

When the time limit stops the rounds, the best plan seen that meets every
limit on the whole sample (or the last solution repaired by the checked local
search) is returned with status ``FEASIBLE_GAP`` and its gap to the smallest
dual bound of any round. If a round proves that no plan meets the appetite
(the relaxation is infeasible), the least-risk plan (smallest largest relative
miss sigma), best in net value among those, is returned with status
``INFEASIBLE``; :func:`smallest_values` and :func:`budget_needed` then say how
close each limit can get and what budget would meet them all.

Every plan leaves through the rules' check
(:class:`~riskbudget.optimization.rules.FundingRules`): the polish and the
local search move only to choices the rules allow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..appetite import LimitKind
from ..exceptions import RiskBudgetError
from .cuts import Cube, CubeCuts, Cut, CutPool, TailConstraint, TailKind, meets, tail_weights
from .heuristic import local_search, moves, net_value, repair
from .model import Model, SolveResult
from .options import SolverOptions
from .plan import BudgetNeeded, PlanStatus, SmallestValue
from .problem import Funding
from .rules import FundingRules

__all__ = ["solve_milp", "smallest_values", "budget_needed", "AppetiteCuts", "STRUCTURAL", "MAX_ROUNDS"]

#: The rules named when no plan satisfies them.
STRUCTURAL = "the budget and the structural constraints (include/exclude, requires, exclusive, security budgets)"
#: Rounds after which a solve stops as if its time were up (each round cuts off at least one plan).
MAX_ROUNDS = 10_000
#: A tail-mean limit counts as broken beyond this relative excess (HiGHS's tolerances); the final check is exact.
CVAR_TOLERANCE = 1e-9


@dataclass(frozen=True)
class _Mode:
    """What one run of rounds solves.

    ``sigma``: the program has the shortfall column; ``minimize_sigma``: it
    is the objective (else expected net value, with ``sigma <= sigma_cap``);
    ``relax``: the appetite rows relax with sigma (else sigma is free of
    them: the budget search); ``ratio``: sigma is a limit's value over its
    bound (else that minus 1, the relative miss).
    """

    sigma: bool = False
    minimize_sigma: bool = False
    sigma_cap: float | None = None
    relax: bool = False
    ratio: bool = False


STANDARD = _Mode()


@dataclass(frozen=True)
class _Measured:
    """A plan of the program measured on the whole sample: what :meth:`_Rounds._cut` and the check need."""

    funding: Funding
    losses: np.ndarray
    level: float  # the level it is cut beyond (its sigma in a relaxed run, else 0)
    broken: tuple[list[tuple[int, np.ndarray]], bool]  # _Rounds._broken of its losses at that level

    @property
    def breaks(self) -> bool:
        return bool(self.broken[0]) or self.broken[1]


class _Rounds:
    """The rounds of one solve: the limits, the cuts added, the best plan and the best bound seen."""

    def __init__(
        self,
        model: Model,
        rules: FundingRules,
        tails: list[TailConstraint],
        options: SolverOptions,
        *,
        max_rounds: int = MAX_ROUNDS,
        cubes: list[Cube] | None = None,
        cube_rows: list[Cut] | None = None,
        year_cuts: list[Cut] | None = None,
        rows: list[Cut] | None = None,
        score: Callable[[Funding, np.ndarray], float] | None = None,
        cvar_log: dict[tuple[Any, ...], list[Cut]] | None = None,
    ) -> None:
        self.model = model
        self.rules = rules
        self.problem = rules.problem
        self.tails = list(tails)
        self.options = options
        self.max_rounds = max_rounds
        self.t0 = time.perf_counter()
        self.rows = list(rows or [])  # fixed rows besides the cuts (the budget search's)
        #: how good a plan meeting every limit is (default: its expected net value)
        self.score = score if score is not None else (lambda f, x: net_value(self.problem, f, x))
        self.cvar = [k for k, tc in enumerate(self.tails) if tc.kind is TailKind.CVAR]
        self.count = [k for k, tc in enumerate(self.tails) if tc.kind is TailKind.COUNT]
        self.cube_cuts = CubeCuts(self.problem, model) if self.count else None
        self.cubes: list[Cube] = cubes if cubes is not None else []
        self.cube_rows: list[Cut] = cube_rows if cube_rows is not None else []  # the cut of each cube
        #: knapsack rows on years above a threshold: valid for the limits as stated, not when they relax
        self.year_cuts: list[Cut] = year_cuts if year_cuts is not None else []
        #: each tail-mean limit's cuts in the form "<= limit (1 + sigma)", by the limit's key (CutPool.cvar_cuts)
        self.cvar_log = cvar_log
        self.notes = [tc.note for tc in self.tails if tc.note]
        self.rounds = 0
        self.added_cvar = 0
        self.added_cubes = 0
        self.added_years = 0
        self.converged = False
        self.stopped = ""  # "time" or "rounds" when the rounds ended before a proof
        self.best: tuple[Funding, float] | None = None  # (plan, score): best net (standard) or lowest level
        self.bound = math.inf  # standard: smallest upper bound on net value seen (every round is a relaxation)
        self.sigma_bound = -math.inf  # minimize_sigma: largest lower bound on sigma seen
        #: the program's vector of the best plan seen meeting every limit (the standard rounds' start)
        self.incumbent: np.ndarray | None = None
        #: (largest relative miss, program vector) of the plan seen in the standard rounds that misses least
        self.closest: tuple[float, np.ndarray] | None = None

    # -- time --------------------------------------------------------------- #
    def remaining(self) -> float | None:
        limit = self.options.time_limit
        return None if limit is None else limit - (time.perf_counter() - self.t0)

    # -- measuring a plan --------------------------------------------------- #
    def _cvar_level(self, tc: TailConstraint, losses: np.ndarray, mode: _Mode) -> tuple[float, np.ndarray]:
        top, w = tail_weights(losses, tc.m)
        mean = float(w @ losses[top]) / tc.m
        return mean / tc.threshold - (0.0 if mode.ratio else 1.0), top

    def _level(self, tc: TailConstraint, losses: np.ndarray, mode: _Mode) -> float:
        """A limit's level on ``losses`` in sigma's units (value over bound, minus 1 unless ``ratio``)."""
        return tc.value(losses) / tc.bound - (0.0 if mode.ratio else 1.0)

    def _excluded(self, mode: _Mode, level: float) -> Callable[[np.ndarray], bool]:
        """Whether losses (of a plan, or a cube's smallest) put it beyond what this round allows."""
        if not mode.relax:
            return lambda x: not meets(self.tails, x)
        return lambda x: max(self._level(tc, x, mode) for tc in self.tails) > level + CVAR_TOLERANCE

    def _cube_level(self, mode: _Mode) -> Callable[[np.ndarray], float]:
        return lambda x: max(self._level(tc, x, mode) for tc in self.tails)

    # -- rounds ------------------------------------------------------------- #
    def run(self, cuts: list[Cut], mode: _Mode = STANDARD, start: np.ndarray | None = None) -> Any:
        """Solve and cut until the solution meets every limit (or time, or rounds, run out).

        ``start``: a plan of the program (with its sigma column, if any) every
        round starts from; the standard rounds start from the best plan seen
        that meets every limit (:attr:`incumbent`) instead.
        """
        gap = self.options.mip_rel_gap
        self.converged, self.stopped = False, ""
        while True:
            self.rounds += 1
            seen: dict[bytes, _Measured] = {}  # this round's plans, each measured once
            if mode.relax:
                program = self.rows + cuts
            else:
                program = self.rows + [(c, r, 0.0) for c, r, _ in cuts] + self.year_cuts
            res = self.model.solve(
                program,
                [],
                sigma=mode.sigma,
                sigma_cap=mode.sigma_cap,
                minimize_sigma=mode.minimize_sigma,
                time_limit=self.remaining(),
                mip_rel_gap=gap,
                check=(lambda x, seen=seen: self._meets(x, mode, seen)) if self.tails else None,
                start=self.incumbent if mode == STANDARD else start,
            )
            self._record_bound(res, mode)
            self._cut_on_the_way(res, cuts, mode, seen)
            if res.x is None:
                if res.status == 1:
                    self.stopped = "time"
                return res
            plan = self._measure(res.x, mode, seen)
            self._record_plan(plan.funding, plan.losses, mode)
            if not self.tails:
                self.converged = res.status == 0
                return res
            if not self._cut(plan.funding, plan.losses, cuts, plan.level, mode, plan.broken):
                self.converged = res.status == 0
                if res.status != 0:
                    self.stopped = "time"
                return res
            if self.rounds >= self.max_rounds:
                self.stopped = "rounds"
                return res
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                self.stopped = "time"
                return res

    def _cut_on_the_way(self, res: Any, cuts: list[Cut], mode: _Mode, seen: dict[bytes, _Measured]) -> None:
        """Cut off every improving plan the solve found before its last that breaks a limit.

        Each is a plan of the program, so its cuts (like any round's) only
        remove plans that break a limit; they save the rounds that would
        otherwise find them one solve at a time. The solve's own solution is
        measured and cut as before.
        """
        for xb in getattr(res, "broken", ()):
            if res.x is not None and np.array_equal(xb, res.x):
                continue
            plan = self._measure(xb, mode, seen)
            self._record_plan(plan.funding, plan.losses, mode)
            self._cut(plan.funding, plan.losses, cuts, plan.level, mode, plan.broken)

    def _meets(self, x: np.ndarray, mode: _Mode, seen: dict[bytes, _Measured]) -> bool:
        """Whether an improving plan HiGHS reports meets every limit; keeps the best that does (the next rounds'
        start) and, in the standard rounds, the one that misses them least (the least-risk rounds' start)."""
        plan = self._measure(x, mode, seen)
        if plan.breaks:
            if mode == STANDARD and self.rules.allows(plan.funding):
                miss = self._cube_level(_Mode(relax=True))(plan.losses)
                if self.closest is None or miss < self.closest[0]:
                    self.closest = (miss, np.array(x, dtype=float))
            return False
        if mode == STANDARD:
            self._record_plan(plan.funding, plan.losses, mode, x)
        return True

    def _measure(self, x: np.ndarray, mode: _Mode, seen: dict[bytes, _Measured]) -> _Measured:
        """The program's plan ``x`` on the whole sample: its losses and the limits it breaks (once per round)."""
        key = x.tobytes()
        plan = seen.get(key)
        if plan is None:
            funding = self.model.decode(x)
            losses = self.problem.total_losses(funding)
            level = float(x[-1]) if (mode.sigma and mode.relax) else 0.0
            plan = seen[key] = _Measured(funding, losses, level, self._broken(losses, level, mode))
        return plan

    def _broken(self, losses: np.ndarray, level: float, mode: _Mode) -> tuple[list[tuple[int, np.ndarray]], bool]:
        """The tail-mean limits ``losses`` break beyond ``level`` (each with its worst years), and whether a count
        limit is broken (beyond ``level`` in a relaxed run)."""
        cvar = []
        for k in self.cvar:
            viol, top = self._cvar_level(self.tails[k], losses, mode)
            if viol > level + CVAR_TOLERANCE:
                cvar.append((k, top))
        count = False
        if self.count:
            if mode.relax:
                count = any(self._level(self.tails[k], losses, mode) > level + CVAR_TOLERANCE for k in self.count)
            else:
                count = not all(self.tails[k].holds(losses) for k in self.count)
        return cvar, count

    def _record_bound(self, res: Any, mode: _Mode) -> None:
        dual = getattr(res, "mip_dual_bound", None)
        if dual is None or not np.isfinite(dual):
            return
        if mode.minimize_sigma:
            self.sigma_bound = max(self.sigma_bound, float(dual))
        elif not mode.sigma:
            self.bound = min(self.bound, self.model.net_of(float(dual)))

    def _record_plan(self, funding: Funding, losses: np.ndarray, mode: _Mode, x: np.ndarray | None = None) -> None:
        """Keep the best plan seen: meeting every limit (best net value), or the lowest level (sigma runs).

        ``x``: the plan's vector in the program, kept as :attr:`incumbent` when the plan is the new best.
        """
        if not self.rules.allows(funding):
            return
        if mode.minimize_sigma and mode.relax:
            score = -max((self._level(tc, losses, mode) for tc in self.tails), default=0.0)
        elif not self.tails or meets(self.tails, losses):
            if mode.sigma_cap is not None:
                return
            score = self.score(funding, losses)
        else:
            return
        if self.best is None or score > self.best[1]:
            self.best = (funding, score)
            if x is not None:
                self.incumbent = np.array(x, dtype=float)

    def _cut(
        self, funding: Funding, losses: np.ndarray, cuts: list[Cut], level: float, mode: _Mode,
        broken: tuple[list[tuple[int, np.ndarray]], bool] | None = None,
    ) -> bool:
        """Add a cut for every limit the solution breaks beyond ``level``; True if any.

        ``broken``: what :meth:`_broken` says of these losses at this level, when already known.
        """
        added = False
        cvar, count = self._broken(losses, level, mode) if broken is None else broken
        for k, top in cvar:
            tc = self.tails[k]
            cut = self._cvar_cut(tc, losses, top, mode)
            cuts.append(cut)
            if self.cvar_log is not None and not mode.ratio:
                self.cvar_log.setdefault(tc.key(), []).append(cut)
            self.added_cvar += 1
            added = True
        if count:
            added = self._cube_rounds(funding, cuts, level, mode) or added
            if not mode.relax:
                added = self._year_rounds(funding, losses) or added
        return added

    def _year_rounds(self, funding: Funding, losses: np.ndarray) -> bool:
        """Knapsack rows on the years above each broken count (they give the program a sense of the tail)."""
        assert self.cube_cuts is not None
        states = self.cube_cuts.states_of(funding)
        added = False
        for k in self.count:
            for threshold, allowance in self.tails[k].counts(losses):
                cut = self.cube_cuts.year_cut(states, losses, threshold, allowance)
                if cut is not None:
                    self.year_cuts.append(cut)
                    self.added_years += 1
                    added = True
        return added

    def _cvar_cut(self, tc: TailConstraint, losses: np.ndarray, years: np.ndarray, mode: _Mode) -> Cut:
        """(1/m) sum_t w_t loss_t <= limit (1 + sigma) over the solution's worst years, in the program's columns.

        In ``ratio`` runs: ``<= limit sigma``.
        """
        model = self.model
        _top, w = tail_weights(losses, tc.m)  # years come sorted worst first with these weights
        coef = model.year_row(years, w) / tc.m
        ref = 0.0 if mode.ratio else tc.threshold
        rhs = (ref - float(w @ model.const[years]) / tc.m) / model.scale
        return coef, rhs, tc.threshold / model.scale

    def _cube_rounds(self, funding: Funding, cuts: list[Cut], level: float, mode: _Mode) -> bool:
        """Cut off the widest cube around the solution that breaks a limit, and around its breaking neighbours."""
        assert self.cube_cuts is not None
        excluded = self._excluded(mode, level)
        where = self._cube_level(mode)
        engine = self.cube_cuts
        states = engine.states_of(funding)
        cube = engine.lift(states, excluded, where)
        if cube is None:
            return False
        self._add_cube(cube, cuts)
        problem = self.problem
        xc, sp_ = problem.vectors(funding)
        for y, s2 in moves(problem, xc, sp_):
            near = [int(v) for v in y] + [int(v) for v in s2]
            if any(c.contains(near) for c in self.cubes):
                continue
            f2 = problem.from_vectors(y, s2)
            if not self.rules.allows(f2):
                continue
            other = engine.lift(near, excluded, where)
            if other is not None:
                self._add_cube(other, cuts)
        return True

    def _add_cube(self, cube: Cube, cuts: list[Cut]) -> None:
        """Cut off ``cube``; the cuts of cubes inside it with no higher level are implied by its own, so they go.

        (In a relaxed run a cube's row says ``sigma >= level`` inside it: a
        narrower cube with a higher level says more, and stays.)
        """
        assert self.cube_cuts is not None
        inside = [k for k, old in enumerate(self.cubes) if old.within(cube) and old.level <= cube.level]
        if inside:
            gone = {id(self.cube_rows[k]) for k in inside}
            cuts[:] = [c for c in cuts if id(c) not in gone]
            for k in reversed(inside):
                del self.cubes[k], self.cube_rows[k]
        row = self.cube_cuts.cut(cube)
        cuts.append(row)
        self.cubes.append(cube)
        self.cube_rows.append(row)
        self.added_cubes += 1

    def summary(self, cuts: list[Cut]) -> str:
        """The note on how the limits were enforced."""
        if not self.count:
            return f"tail limits enforced with {len(cuts)} cut(s) and 0 indicator year(s) in {self.rounds} round(s)"
        return (f"tail limits enforced with {self.added_cvar} tail-mean cut(s), {self.added_cubes} combinatorial "
                f"cut(s) and {self.added_years} count cut(s) in {self.rounds} round(s)")


# --------------------------------------------------------------------------- #
# The solve
# --------------------------------------------------------------------------- #
class AppetiteCuts:
    """The cuts that enforce an appetite on one problem's losses, for a caller solving its own program.

    The multi-year solve (:mod:`~riskbudget.optimization.horizon`) has one
    objective and one program, and one problem per distinct year whose
    columns are mixed by live shares; each year's problem has the program's
    column layout, so the cuts built on it are rows of that program. Each cut
    removes only plans that break a limit in that year.
    """

    def __init__(self, rules: FundingRules, tails: list[TailConstraint], options: SolverOptions) -> None:
        self.problem = rules.problem
        self.tails = tails
        self._rounds = _Rounds(Model(rules.problem, rules.constraints), rules, tails, options)

    def meets(self, funding: Funding) -> bool:
        """True when the funding meets every limit on this problem's losses."""
        return meets(self.tails, self.problem.total_losses(funding))

    def add(self, funding: Funding, cuts: list[Cut]) -> bool:
        """Add to ``cuts`` the cuts that remove ``funding`` (and plans like it) for breaking a limit; True if any."""
        return self._rounds._cut(funding, self.problem.total_losses(funding), cuts, 0.0, STANDARD)

    @property
    def rows(self) -> list[Cut]:
        """Rows on the years above thresholds, kept apart from the cuts (valid for the limits as stated)."""
        return self._rounds.year_cuts


def solve_milp(
    rules: FundingRules,
    tails: list[TailConstraint],
    options: SolverOptions,
    *,
    max_rounds: int = MAX_ROUNDS,
    pool: CutPool | None = None,
) -> SolveResult:
    """Solve the program on the sample (up to ``mip_rel_gap``), adding appetite cuts as needed.

    ``pool`` carries cuts from one solve to the next on the same problem and
    appetite, e.g. along a frontier: they are valid whatever the budget.
    """
    model = Model(rules.problem, rules.constraints)
    pool = pool if pool is not None else CutPool()
    pool.adopt(tails)
    rounds = _Rounds(model, rules, tails, options, max_rounds=max_rounds, cubes=pool.cubes,
                     cube_rows=pool.cube_rows, year_cuts=pool.year_cuts, cvar_log=pool.cvar_cuts)
    cuts = pool.cuts
    res = rounds.run(cuts)
    if rounds.tails:
        rounds.notes.append(rounds.summary(cuts))
    if res.x is not None and rounds.converged:
        return _solved(rules, model, rounds, res)
    if res.x is None and res.status == 2:
        if rounds.tails:
            return _least_risk(rules, model, rounds, cuts)
        raise RiskBudgetError(f"optimize: no plan satisfies {STRUCTURAL}; {_status_message(res)}")
    return _stopped(rules, model, rounds, res)


def _solved(rules: FundingRules, model: Model, rounds: _Rounds, res: Any) -> SolveResult:
    """The program's solution, polished (removals that pay), with HiGHS's gap and bound."""
    funding = local_search(rules, rounds.tails, model.decode(res.x), add=False)
    if rounds.tails and not meets(rounds.tails, rules.problem.total_losses(funding)):
        # within HiGHS's tolerances but not the exact check: never reported as meeting the appetite
        rounds.notes.append("the program's solution misses a limit by a rounding error; repaired by the checked "
                            "local search")
        return _stopped(rules, model, rounds, res)
    _note_broken_rules(rules, funding, rounds.notes)
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    dual = getattr(res, "mip_dual_bound", None)
    bound = model.net_of(dual) if dual is not None and np.isfinite(dual) else math.nan
    seconds = time.perf_counter() - rounds.t0
    return SolveResult(funding, PlanStatus.OPTIMAL, gap, bound, model.net_of(res.fun), rounds.notes, seconds)


def _stopped(rules: FundingRules, model: Model, rounds: _Rounds, res: Any) -> SolveResult:
    """The rounds stopped before a proof: the best plan meeting every limit, with its gap to the best bound."""
    problem = rules.problem
    candidates = [] if rounds.best is None else [rounds.best[0]]
    last = model.decode(res.x) if res.x is not None else None
    if last is not None:
        fixed = repair(rules, rounds.tails, last, time_limit=rounds.options.time_limit)
        if meets(rounds.tails, problem.total_losses(fixed)):
            candidates.append(fixed)
    if rounds.stopped == "rounds":
        why = f"the round limit ({rounds.max_rounds})"
    elif rounds.options.time_limit is not None:
        why = f"the time limit ({rounds.options.time_limit:g} s)"
    else:
        why = f"the solver ({_status_message(res)})"
    if not candidates:
        start = last if last is not None else Funding()
        closest = repair(rules, rounds.tails, start, time_limit=rounds.options.time_limit)
        if rules.allows(closest) and meets(rounds.tails, problem.total_losses(closest)):
            candidates.append(closest)  # the repair reached the appetite: a plan meeting it, not "none found"
        else:
            rounds.notes.append(f"{why} stopped the search before any plan meeting the appetite was found or one "
                                "was proven impossible; this is the closest plan found")
            return SolveResult(closest, PlanStatus.UNMET, math.inf, rounds.bound, net_value(problem, closest),
                               rounds.notes, time.perf_counter() - rounds.t0)
    best = max(candidates, key=lambda f: net_value(problem, f))
    best = local_search(rules, rounds.tails, best, add=True)
    net = net_value(problem, best)
    bound = max(rounds.bound, net) if math.isfinite(rounds.bound) else math.inf
    gap = (bound - net) / max(abs(net), 1.0) if math.isfinite(bound) else math.inf
    proof = (f"no plan is better than {bound:,.0f} (the smallest dual bound of the rounds, each a relaxation)"
             if math.isfinite(bound) else "no bound on the optimum was found")
    rounds.notes.append(
        f"{why} stopped the search after {rounds.rounds} round(s); this plan meets every limit on the whole sample, "
        f"and {proof}"
    )
    _note_broken_rules(rules, best, rounds.notes)
    return SolveResult(best, PlanStatus.FEASIBLE_GAP, gap, bound, net, rounds.notes,
                       time.perf_counter() - rounds.t0)


def _least_risk(rules: FundingRules, model: Model, rounds: _Rounds, cuts: list[Cut]) -> SolveResult:
    """No plan meets the appetite: the smallest largest relative miss sigma, then the best net value at it."""
    rounds.t0 = time.perf_counter()  # the least-risk plan gets its own time
    start = None
    if rounds.closest is not None:  # the plan missing least so far, at its own miss: a plan of the relaxed program
        closest_miss, closest_x = rounds.closest
        start = np.append(closest_x, closest_miss * (1 + 1e-9) + 1e-12)
    r1 = rounds.run(cuts, _Mode(sigma=True, minimize_sigma=True, relax=True), start=start)
    if r1.x is None and rounds.best is None:
        if r1.status == 2:
            raise RiskBudgetError(
                f"optimize: no plan satisfies {STRUCTURAL}, even ignoring the appetite ({_status_message(r1)})"
            )
        closest = repair(rules, rounds.tails, Funding(), time_limit=rounds.options.time_limit)
        rounds.notes.append("no plan meets the appetite (proven); the time limit stopped the search for the "
                            "least-risk plan, so this is the closest plan found")
        return SolveResult(closest, PlanStatus.INFEASIBLE, math.nan, math.nan, net_value(rules.problem, closest),
                           rounds.notes, time.perf_counter() - rounds.t0)
    proven = rounds.converged
    miss = rounds._cube_level(_Mode(relax=True))  # a plan's largest relative miss, value / bound - 1
    found = rounds.best  # the allowed plan with the smallest largest miss seen (its score is minus that miss)
    if r1.x is not None and (proven or found is None):
        sigma_star = float(r1.x[-1])  # proven smallest (the relaxation's optimum, met by its solution)
    else:
        # the time limit stopped r1: the smallest miss of a plan seen, measured on the whole sample (the last
        # solution's sigma is only that of a relaxation)
        assert found is not None
        sigma_star = -found[1]
    cap = sigma_star * (1 + 1e-6) + 1e-9
    start = r1.x if r1.x is not None and r1.x[-1] <= cap else None  # the least-risk plan found: within the cap
    r2 = rounds.run(cuts, _Mode(sigma=True, sigma_cap=cap, relax=True), start=start)
    best, funding = r1, None if found is None else found[0]
    if r2.x is not None:
        # the best net value among plans missing by at most sigma_star (kept only if it truly does: the time
        # limit may have stopped r2 at a solution of a relaxation)
        cand = model.decode(r2.x)
        ok = rules.allows(cand) and miss(rules.problem.total_losses(cand)) <= cap + CVAR_TOLERANCE
        if ok and (funding is None or net_value(rules.problem, cand) >= net_value(rules.problem, funding)):
            best, funding = r2, cand
    if funding is None:
        assert r1.x is not None
        funding = model.decode(r1.x)
    net = net_value(rules.problem, funding)
    sigma_star = miss(rules.problem.total_losses(funding))
    note = (
        "the appetite cannot be met within the budget on this sample (proven); this is the least-risk plan "
        f"(every limit missed by at most {sigma_star:.1%} of its value), best in net value among those"
    )
    if not proven:
        note += (f"; the time limit stopped the search for the least-risk plan, so a smaller miss (at least "
                 f"{max(rounds.sigma_bound, 0.0):.1%}) is not ruled out")
    return SolveResult(
        funding,
        PlanStatus.INFEASIBLE,
        float(getattr(best, "mip_gap", 0.0) or 0.0),
        math.nan,
        net,
        rounds.notes,
        time.perf_counter() - rounds.t0,
        shortfall=sigma_star,
        appetite_note=note,
    )


def _note_broken_rules(rules: FundingRules, funding: Funding, notes: list[str]) -> None:
    """The check after HiGHS: a plan breaking a rule beyond the tolerance is reported, never silently kept."""
    broken = rules.violations(funding)
    if broken:
        notes.append("the solver's plan breaks a rule beyond its tolerance: " + "; ".join(v.message for v in broken))


def _status_message(res: Any) -> str:
    return f"HiGHS status {res.status}: {res.message}"


# --------------------------------------------------------------------------- #
# When the appetite cannot be met: how close each limit gets, and the budget that would meet them
# --------------------------------------------------------------------------- #
def _unit(tc: TailConstraint) -> str:
    if tc.limit is None:
        return "factor"
    return "probability" if tc.limit.kind is LimitKind.EXCEEDANCE else "money"


def smallest_values(
    rules: FundingRules, tails: list[TailConstraint], options: SolverOptions, *, pool: CutPool | None = None
) -> list[SmallestValue]:
    """The smallest value of each limit some plan reaches within the rules (each limit on its own).

    Minimises the limit's value over its bound (sigma) with the limit's own
    cuts: CVaR cuts for a tail mean (a MILP minimising the sample CVaR),
    combinatorial cuts for VaR, exceedance and the tolerance curve. Each run
    is a relaxation until a solution's true value meets its sigma, so the
    value found is proven smallest up to the solver's gap; a run the time
    limit stops gives its best plan and the largest lower bound seen. A tail
    mean starts from its own cuts in ``pool`` (found by earlier solves: each
    holds for every plan), so the rounds do not find them again.
    """
    problem = rules.problem
    model = Model(problem, rules.constraints)
    out = []
    for tc in tails:
        if tc.stand_in:
            continue
        rounds = _Rounds(model, rules, [tc], options)
        shift = tc.threshold / model.scale  # "<= limit (1 + sigma)" is "<= limit sigma'" with sigma' = 1 + sigma
        seeds = [(c, r - shift, s) for c, r, s in pool.cvar_cuts.get(tc.key(), [])] if pool is not None else []
        res = rounds.run(seeds, _Mode(sigma=True, minimize_sigma=True, relax=True, ratio=True))
        if rounds.best is None and res.x is None:
            continue
        funding = rounds.best[0] if rounds.best is not None else model.decode(res.x)
        value = tc.value(problem.total_losses(funding))
        lower = max(rounds.sigma_bound, 0.0) * tc.bound
        if rounds.converged:
            lower = max(lower, min(value, float(res.x[-1]) * tc.bound))
        out.append(SmallestValue(tc.label, tc.bound, value, min(lower, value), _unit(tc), funding))
    return out


def _budget_rows(rules: FundingRules, model: Model) -> list[Cut]:
    """Rows ``spend <= B`` (B the sigma column), with the security and IT budgets as shares of B."""
    problem, cons, scale = rules.problem, rules.constraints, model.scale
    sec = np.zeros(model.ncol)
    it = np.zeros(model.ncol)
    for i, ctrl in enumerate(problem.controls):
        sec[model.xc[i]] = ctrl.cost_per_year / scale
    for k, proj in enumerate(problem.projects):
        it[model.xp[k]] = proj.cost_per_year / scale
        if k in model.w:
            sec[model.w[k]] = proj.security_by_design.cost_per_year / scale  # type: ignore[union-attr]
    rows: list[Cut] = [(sec + it, 0.0, 1.0)]
    budget = cons.budget
    if budget:
        if cons.security_budget is not None:
            rows.append((sec, 0.0, cons.security_budget / budget))
        if cons.it_budget is not None:
            rows.append((it, 0.0, cons.it_budget / budget))
    return rows


def _budget_of(rules: FundingRules, funding: Funding) -> float:
    """The smallest budget whose rules (security and IT budgets as shares of it) allow ``funding``."""
    cons = rules.constraints
    sec, it = rules.problem.spend(funding)
    need = sec + it
    if cons.budget:
        if cons.security_budget is not None:
            need = max(need, sec * cons.budget / cons.security_budget if cons.security_budget > 0 else
                       (math.inf if sec > 0 else 0.0))
        if cons.it_budget is not None:
            need = max(need, it * cons.budget / cons.it_budget if cons.it_budget > 0 else
                       (math.inf if it > 0 else 0.0))
    return need


def budget_needed(
    rules: FundingRules, tails: list[TailConstraint], options: SolverOptions, *, pool: CutPool | None = None
) -> BudgetNeeded:
    """The smallest total budget for which some plan meets every limit, with the same rules and split.

    The budget is a variable of the program (minimised); the security and IT
    budgets keep their shares of it; the appetite enters through the same cuts
    (``pool``'s are valid here too). "None at any budget" is proven when the
    program without any budget cannot meet the appetite.
    """
    problem, cons = rules.problem, rules.constraints
    free = replace(cons, budget=None, security_budget=None, it_budget=None)
    free_rules = FundingRules(problem, free, where="budget_needed")
    model = Model(problem, free_rules.constraints)
    cuts = [] if pool is None else list(pool.cuts)
    cubes = [] if pool is None else list(pool.cubes)
    cube_rows = [] if pool is None else list(pool.cube_rows)
    year_cuts = [] if pool is None else list(pool.year_cuts)
    rounds = _Rounds(model, free_rules, tails, options, cubes=cubes, cube_rows=cube_rows, year_cuts=year_cuts,
                     rows=_budget_rows(rules, model),
                     score=lambda f, _x: -_budget_of(rules, f))
    res = rounds.run(cuts, _Mode(sigma=True, minimize_sigma=True))
    lower = max(rounds.sigma_bound, 0.0) * model.scale
    if res.x is None and res.status == 2:
        return BudgetNeeded(None, math.inf)
    found = None
    if res.x is not None and rounds.converged:
        found = model.decode(res.x)
    elif rounds.best is not None:
        found = rounds.best[0]
    if found is None:
        return BudgetNeeded(None, lower)
    need = _budget_of(rules, found)
    if rounds.converged:
        lower = max(lower, min(need, float(res.x[-1]) * model.scale))
    return BudgetNeeded(need, min(lower, need), found)
