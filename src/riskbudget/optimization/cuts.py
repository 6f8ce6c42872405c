"""Appetite limits as the program sees them: tail constraints and the cuts that enforce them exactly.

:func:`tail_constraints` translates an :class:`~riskbudget.Appetite` into
:class:`TailConstraint` objects of two kinds (:class:`TailKind`):

* ``CVAR``: the mean of the worst ``m`` years <= a limit, ``m = n (1 - q)``
  possibly fractional (the last year then counts with weight ``m - floor(m)``),
  which is exactly :func:`riskbudget.metrics.tvar` of the sample. It enters the
  program as cuts ``(1/m) sum_t w_t loss_t <= limit`` with the weights of the
  worst years of each solution found (Kunzi-Bay and Mayer's cutting-plane form
  of the Rockafellar-Uryasev CVaR), valid for every plan because a plan's own
  worst years give the largest such sum. A VaR limit takes this form only when
  asked (``var_method="cvar"``): the tail mean is at least VaR, so it is a
  conservative stand-in for the limit, not the limit.
* ``COUNT``: a limit on how many simulated years lie above thresholds, checked
  exactly as :meth:`~riskbudget.Appetite.check` checks it: ``P(loss > x) <= p``
  (at most ``allowed`` years above ``x``), ``VaR_q <= L`` (the sample quantile
  interpolated as :func:`riskbudget.metrics.var`) and the tolerance curve (the
  ``k``-th largest loss at most the loss tolerated with probability ``k/n``
  for every resolved ``k``;
  :meth:`~riskbudget.ToleranceCurve.order_statistic_limits`).

Every limit grows with each year's loss. That makes :class:`CubeCuts` exact: a
*cube* is a set of funding choices with some decisions fixed and the rest
free; the pointwise smallest annual losses over the cube are at most each of
its plans' losses, so if they break a limit, every plan in the cube does. A
cube is cut off with one linear row over the decisions ("change at least one
of the fixed decisions"). A solution that breaks a limit is widened to the
largest cube that still breaks it, one decision at a time; the program never
needs a row per simulated year, and the cut holds whatever the budget.

:func:`tail_violations` measures how far a plan's losses break each limit;
:class:`CutPool` carries cuts from one solve to the next on the same problem
and appetite (a share of a frontier keeps its own: the least-risk rounds and
the smallest values reuse the cuts of the proof).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from .. import metrics
from ..appetite import TOLERANCE_MIN_YEARS, Limit, LimitKind, ToleranceCurve
from ..exceptions import RiskBudgetError

__all__ = [
    "TailKind",
    "TailConstraint",
    "tail_constraints",
    "tail_weights",
    "tail_violations",
    "meets",
    "CountState",
    "Cube",
    "CubeCuts",
    "CutPool",
    "VAR_METHODS",
]

#: How a VaR limit enters the program: exactly ("exact", the default) or through the tail mean ("cvar", a
#: conservative stand-in).
VAR_METHODS = ("exact", "cvar")


class TailKind(Enum):
    """The two forms an appetite limit takes in the program."""

    CVAR = "cvar"  # the mean of the worst m years <= threshold
    COUNT = "count"  # how many years lie above thresholds: exceedance, VaR, the tolerance curve


@dataclass(frozen=True)
class TailConstraint:
    """One appetite limit as the program sees it.

    Attributes
    ----------
    label : str
    kind : TailKind
    m : float
        ``CVAR``: the number of worst years, ``n (1 - q)``, possibly fractional.
    threshold : float
        ``CVAR``: the limit on the tail mean. ``COUNT``: the loss the years are
        counted above (exceedance, VaR); 1 for the tolerance curve.
    allowed : int
        ``COUNT``: years allowed above ``threshold`` (exceedance, VaR up to
        interpolation; for information).
    limit : Limit or None
        The appetite limit enforced (None for the tolerance curve).
    tolerance : ToleranceCurve or None
    min_years : int
        Years needed on each side of a loss for the tolerance check.
    stand_in : bool
        A VaR limit enforced through its tail mean (``var_method="cvar"``).
    """

    label: str
    kind: TailKind
    m: float = 0.0
    threshold: float = 0.0
    allowed: int = 0
    note: str = ""
    limit: Limit | None = None
    tolerance: ToleranceCurve | None = None
    min_years: int = TOLERANCE_MIN_YEARS
    stand_in: bool = False

    @property
    def bound(self) -> float:
        """The largest acceptable :meth:`value`."""
        if self.stand_in or self.limit is None:
            return self.threshold
        return self.limit.limit

    def value(self, x: np.ndarray) -> float:
        """The limited quantity of annual losses ``x``, computed as the appetite check computes it.

        TVaR, VaR or P(loss > x) (``Limit.value``); for the tolerance curve the
        factor by which its losses would have to grow to be met
        (:meth:`~riskbudget.ToleranceCurve.excess_factor`); for a stand-in the
        tail mean it bounds.
        """
        if self.stand_in:
            assert self.limit is not None
            return metrics.tvar(x, self.limit.param)
        if self.limit is not None:
            return self.limit.value(x)
        assert self.tolerance is not None
        return self.tolerance.excess_factor(x, self.min_years)

    def holds(self, x: np.ndarray) -> bool:
        """True when the limit holds on annual losses ``x``: the comparison :meth:`Appetite.check` makes."""
        if self.stand_in:
            return bool(self.value(x) <= self.threshold)
        if self.limit is not None:
            return self.limit.holds(x)
        assert self.tolerance is not None
        return self.tolerance.holds(x, self.min_years)

    def miss(self, x: np.ndarray) -> float:
        """``value / bound - 1``: how far the limit is missed, as a share of it (<= 0 when it holds)."""
        return self.value(x) / self.bound - 1.0

    def counts(self, x: np.ndarray) -> list[tuple[float, int]]:
        """``(threshold, allowance)`` pairs the limit implies and ``x`` breaks: at most so many years above.

        P(loss > x) <= p: at most ``allowed`` years above x (the limit
        itself). VaR_q <= L: at most ``n - floor((n - 1) q) - 1`` years above L
        (the lower of the two order statistics VaR interpolates is at most
        VaR). The tolerance curve: at most ``k - 1`` years above ``u_k``, for
        the rank ``k`` it breaks by the most years. Tail means imply none.
        """
        n = x.size
        if self.kind is TailKind.CVAR:
            return []
        if self.limit is not None and self.limit.kind is LimitKind.EXCEEDANCE:
            pairs = [(self.threshold, self.allowed)]
        elif self.limit is not None:
            pairs = [(self.threshold, n - int(math.floor((n - 1) * self.limit.param)) - 1)]
        else:
            assert self.tolerance is not None
            ks, u = self.tolerance.order_statistic_limits(n, self.min_years)
            if ks.size == 0:
                return []
            above = n - np.searchsorted(np.sort(x), u, side="right")
            excess = above - (ks - 1)
            k = int(np.argmax(excess))
            pairs = [(float(u[k]), int(ks[k]) - 1)]
        return [(t, a) for t, a in pairs if np.count_nonzero(x > t) > a]

    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.m, self.threshold, self.allowed, self.label, self.limit, self.tolerance,
                self.min_years, self.stand_in)


def _m_of(n: int, q: float) -> int:
    return n - int(math.ceil((n - 1) * q))


def _mass_of(n: int, q: float) -> float:
    """n (1 - q), the (possibly fractional) number of years TVaR_q averages (as metrics.tvar)."""
    m = n * (1.0 - q)
    return float(round(m)) if abs(m - round(m)) <= 1e-9 * max(1.0, m) else m


def _allowed_years(n: int, p: float) -> int:
    """The most years above a loss with ``count / n <= p`` as :func:`riskbudget.metrics.exceedance` computes it."""
    k = int(math.floor(p * n + 1e-9))
    while k < n and (k + 1) / n <= p:
        k += 1
    while k > 0 and k / n > p:
        k -= 1
    return k


def tail_weights(x: np.ndarray, m: float) -> tuple[np.ndarray, np.ndarray]:
    """(years, weights) of the worst ``m`` years of ``x``, worst first: weight 1, the last ``m - floor(m)``."""
    k = int(math.floor(m + 1e-9))
    frac = m - k
    take = min(k + (1 if frac > 1e-12 else 0), x.size)
    top = np.argpartition(x, x.size - take)[x.size - take :]
    top = top[np.argsort(x[top])[::-1]]
    w = np.ones(take)
    if take > k:
        w[-1] = frac
    return top, w


def tail_constraints(
    appetite: Any, n: int, *, var_method: str = "exact", min_years: int = TOLERANCE_MIN_YEARS
) -> list[TailConstraint]:
    """Translate an :class:`~riskbudget.Appetite` into program constraints on ``n`` sample years.

    Every limit is exact on the sample (as :meth:`~riskbudget.Appetite.check`
    decides it), except a VaR limit with ``var_method="cvar"``, which is
    enforced through the tail mean of the same tail: a conservative stand-in.
    """
    out: list[TailConstraint] = []
    if appetite is None:
        return out
    if var_method not in VAR_METHODS:
        raise RiskBudgetError(f"var_method ({var_method!r}) must be 'exact' or 'cvar'")
    for lim in appetite.limits:
        if lim.kind is LimitKind.TVAR:
            out.append(_tvar_constraint(lim, n))
        elif lim.kind is LimitKind.VAR:
            out.append(_var_constraint(lim, n, var_method))
        else:
            allowed = _allowed_years(n, lim.limit)
            note = (f"{lim.label}: exact, at most {allowed} of {n} years above {lim.param:,.0f} (combinatorial cuts "
                    "over the decisions)")
            out.append(TailConstraint(lim.label, TailKind.COUNT, threshold=lim.param, allowed=allowed, note=note,
                                      limit=lim))
    if appetite.tolerance is not None:
        out.append(_tolerance_constraint(appetite.tolerance, n, min_years))
    return out


def _tvar_constraint(lim: Limit, n: int) -> TailConstraint:
    mass = _mass_of(n, lim.param)
    note = f"{lim.label}: sample CVaR (mean of the worst {mass:g} years), exact"
    return TailConstraint(lim.label, TailKind.CVAR, m=mass, threshold=lim.limit, note=note, limit=lim)


def _var_constraint(lim: Limit, n: int, var_method: str) -> TailConstraint:
    if var_method == "cvar":
        note = (f"{lim.label}: enforced through the mean of the same tail, a conservative stand-in (the tail mean is "
                "at least VaR), as asked with var_method='cvar'")
        return TailConstraint(lim.label, TailKind.CVAR, m=_mass_of(n, lim.param), threshold=lim.limit, note=note,
                              limit=lim, stand_in=True)
    m = _m_of(n, lim.param)
    note = (f"{lim.label}: exact, the sample quantile interpolated as metrics.var (at most {m - 1} years above "
            f"{lim.limit:,.0f}, or {m} with the interpolation), through combinatorial cuts over the decisions")
    return TailConstraint(lim.label, TailKind.COUNT, threshold=lim.limit, allowed=m - 1, note=note, limit=lim)


def _tolerance_constraint(tolerance: ToleranceCurve, n: int, min_years: int) -> TailConstraint:
    ks, _u = tolerance.order_statistic_limits(n, min_years)
    span = f"ranks {int(ks[0])} to {int(ks[-1])}" if ks.size else "no rank (too few years)"
    note = (f"tolerance curve: exact on the sample's order statistics, the k-th largest loss at most the loss "
            f"tolerated with probability k/n for {span} of {n} (at least {min_years} years on each side)")
    return TailConstraint("tolerance curve", TailKind.COUNT, threshold=1.0, note=note, tolerance=tolerance,
                          min_years=min_years)


def tail_violations(tails: list[TailConstraint], x: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
    """(tail index, relative violation, years) for each limit, on a plan's annual losses ``x``.

    A relative violation <= 0 means the limit holds (up to rounding: :meth:`TailConstraint.holds`
    decides). For a CVAR limit the years are the worst ``m`` (worst first, as
    :func:`tail_weights`) and the violation is their weighted mean over the
    threshold, minus 1; for a COUNT limit :meth:`TailConstraint.miss` and the
    years above its threshold (none for the tolerance curve).
    """
    out = []
    for k, tc in enumerate(tails):
        if tc.kind is TailKind.CVAR:
            top, w = tail_weights(x, tc.m)
            mean = float(w @ x[top]) / tc.m
            out.append((k, mean / tc.threshold - 1.0, top))
        else:
            years = np.flatnonzero(x > tc.threshold) if tc.limit is not None else np.zeros(0, dtype=np.int64)
            out.append((k, tc.miss(x), years))
    return out


def meets(tails: Sequence[TailConstraint], x: np.ndarray) -> bool:
    """True when the losses ``x`` meet every limit, exactly as the appetite check decides."""
    return all(tc.holds(x) for tc in tails)


@dataclass
class CountState:
    """A count of years above a threshold as per-year indicator rows (the program's generic form).

    The optimiser enforces COUNT limits through :class:`CubeCuts` instead;
    :meth:`~riskbudget.optimization.model.Model.solve` still accepts these.
    """

    threshold: float
    allowed: int
    forced: int  # years above the threshold under every plan
    years: list[int] = field(default_factory=list)


#: A cut over the program's core columns: (coefficients, right-hand side, coefficient of the shortfall sigma).
Cut = tuple[np.ndarray, float, float]


@dataclass(frozen=True)
class Cube:
    """A set of funding choices: for each decision the states it may take (the rest of the plan is free).

    Decisions are the controls (0 off, 1 on), then the projects (0 off,
    1 funded, 2 funded with security by design).
    """

    allowed: tuple[tuple[int, ...], ...]
    level: float  # the limits' level on the cube's pointwise smallest losses (sigma units of the solve)

    def contains(self, states: Sequence[int]) -> bool:
        return all(s in a for s, a in zip(states, self.allowed))

    def within(self, other: Cube) -> bool:
        """True when every plan of this cube is in ``other`` (its cut is then implied by ``other``'s)."""
        return all(set(a) <= set(b) for a, b in zip(self.allowed, other.allowed))


class CubeCuts:
    """Combinatorial cuts over the decisions, for limits that grow with every year's loss.

    Parameters
    ----------
    problem : DecisionProblem
    model : Model
        The program whose decision columns the cuts use (``xc``, ``xp``, ``w``, ``ncol``).
    """

    #: Bytes of cached pointwise minima per scenario and cube (they repeat from cut to cut).
    CACHE_BYTES = 64 * 2**20
    #: Without every column kept, a scenario's smallest loss over at most this many combinations is taken from
    #: the combinations' own columns; over more, from its smallest loss over all of them (a weaker bound).
    MAX_COLUMNS = 16

    def __init__(self, problem: Any, model: Any) -> None:
        self.problem = problem
        self.model = model
        nc = len(problem.controls)
        self.n_controls = nc
        self.n_states = [2] * nc + [3 if p.security_by_design is not None else 2 for p in problem.projects]
        kept = getattr(problem, "losses", None) or None  # every column, when the problem keeps them
        lowest = getattr(problem, "lowest", None)
        #: per scenario of the universe, in order: a fixed column, or the index of its entry in ``scenarios``
        self.order: list[np.ndarray | int] = []
        self.scenarios: list[tuple[int, list[int], list[list[np.ndarray]], np.ndarray | None, np.ndarray | None]] = []
        by_decision: list[list[int]] = [[] for _ in self.n_states]
        for j in range(len(problem.universe)):
            ncomb = problem.n_combinations[j]
            if ncomb == 1:
                self.order.append(problem.column(j, 0))
                continue
            decisions = [i if kind == "control" else nc + i for kind, i in problem.touching[j]]
            states = np.array([problem.combination_states(j, c) for c in range(ncomb)]).reshape(ncomb, -1)
            masks = [[states[:, pos] == s for s in range(self.n_states[d])] for pos, d in enumerate(decisions)]
            losses = kept[j] if kept is not None else None
            floor = lowest[j] if lowest is not None else None
            idx = len(self.scenarios)
            self.scenarios.append((j, decisions, masks, losses, floor))
            self.order.append(idx)
            for d in decisions:
                by_decision[d].append(idx)
        self.by_decision = by_decision
        self._cache: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()

    # -- states ------------------------------------------------------------- #
    def states_of(self, funding: Any) -> list[int]:
        xc, sp_ = self.problem.vectors(funding)
        return [int(v) for v in xc] + [int(s) for s in sp_]

    def _scenario_min(self, i: int, allowed: Sequence[tuple[int, ...]]) -> np.ndarray:
        """Scenario ``i``'s smallest annual loss over the combinations a cube allows (at most each's loss)."""
        j, decisions, masks, losses, floor = self.scenarios[i]
        key = (i, *(allowed[d] for d in decisions))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        mask = np.ones(masks[0][0].size, dtype=bool)
        for pos, d in enumerate(decisions):
            if len(allowed[d]) < self.n_states[d]:
                mask &= np.logical_or.reduce([masks[pos][s] for s in allowed[d]])
        cols = np.flatnonzero(mask)
        if losses is not None:
            out = losses[:, cols[0]].copy() if cols.size == 1 else losses[:, cols].min(axis=1)
        elif cols.size <= self.MAX_COLUMNS or floor is None:
            out = self.problem.column(j, int(cols[0])).copy()
            for c in cols[1:]:
                np.minimum(out, self.problem.column(j, int(c)), out=out)
        else:
            out = floor
        self._cache[key] = out
        while len(self._cache) * out.nbytes > self.CACHE_BYTES and len(self._cache) > 1:
            self._cache.popitem(last=False)
        return out

    def lower_losses(self, allowed: Sequence[tuple[int, ...]]) -> np.ndarray:
        """Each year's smallest loss over the plans of a cube: at most every such plan's loss.

        Summed scenario by scenario in the order of
        :meth:`~riskbudget.optimization.DecisionProblem.total_losses`, so for a
        single plan it is that plan's losses bit for bit, and for a cube at most
        each of its plans' losses even after rounding.
        """
        total = np.zeros(self.problem.years)
        for item in self.order:
            total += item if isinstance(item, np.ndarray) else self._scenario_min(item, allowed)
        return total

    # -- lifting ------------------------------------------------------------ #
    def _candidates(self, d: int, s: int) -> list[tuple[int, ...]]:
        """The wider state sets to try for decision ``d`` fixed at ``s``: all states, then one more state."""
        k = self.n_states[d]
        out = [tuple(range(k))]
        if k == 3:
            # risk order of a project's states: off < with security by design < funded without it
            for t in (1, 2, 0):
                if t != s:
                    out.append(tuple(sorted((s, t))))
        return out

    def _order(self, states: Sequence[int]) -> list[int]:
        """Decisions to free first: those whose other states add risk (controls on, projects off), then the rest."""
        def rank(d: int) -> tuple[int, int]:
            s = states[d]
            if d < self.n_controls:
                return (0 if s == 1 else 2, d)
            return ({0: 0, 2: 1}.get(s, 2), d)

        return sorted(range(len(states)), key=rank)

    def lift(
        self, states: Sequence[int], excluded: Callable[[np.ndarray], bool], level: Callable[[np.ndarray], float]
    ) -> Cube | None:
        """The widest cube around ``states`` whose pointwise smallest losses are still ``excluded``.

        Decisions are freed one at a time (those adding risk first) and kept
        free when the cube's smallest losses still break a limit. Returns None
        when the plan itself is not excluded.
        """
        allowed: list[tuple[int, ...]] = [(int(s),) for s in states]
        total = self.lower_losses(allowed)
        if not excluded(total):
            return None
        for d in self._order(states):
            for wider in self._candidates(d, allowed[d][0]):
                old = allowed[d]
                allowed[d] = wider
                trial = self.lower_losses(allowed)
                if excluded(trial):
                    total = trial
                    break
                allowed[d] = old
        return Cube(tuple(allowed), float(level(total)))

    # -- years above a threshold ------------------------------------------- #
    def year_cut(self, states: Sequence[int], losses: np.ndarray, threshold: float, allowance: int) -> Cut | None:
        """A knapsack row for "at most ``allowance`` years above ``threshold``", from a plan with more.

        For each year ``t`` the plan puts above the threshold, the widest cube
        around the plan in which year ``t`` stays above it for every plan (its
        pointwise smallest loss stays above) fixes a set ``F_t`` of decisions.
        A plan outside none of these cubes has at least as many years above,
        so with ``flip_d(x)`` = 1 when decision ``d`` leaves the plan's state:

            sum_t (1 - sum_{d in F_t} flip_d(x)) <= allowance,
            i.e. sum_d n_d flip_d(x) >= |T| - allowance,  n_d = #{t : d in F_t}.

        Valid for every plan whatever the budget: the row only says how many
        years each change of decision can take below the threshold at most.
        Needs every column kept (None otherwise, or when the plan has at most
        ``allowance`` years above).
        """
        kept = getattr(self.problem, "losses", None)
        if not kept:
            return None
        margin = 1e-9 * max(1.0, abs(threshold))
        years = np.flatnonzero(losses > threshold + margin)
        need = years.size - int(allowance)
        if need <= 0:
            return None
        m, ndec = years.size, len(states)
        fixed = np.ones((m, ndec), dtype=bool)
        total = np.zeros(m)
        subs: list[tuple[np.ndarray, np.ndarray, list[int]]] = []
        current: list[np.ndarray] = []
        for item in self.order:
            if isinstance(item, np.ndarray):
                total += item[years]
                continue
            j, decisions, masks, losses_j, _floor = self.scenarios[item]
            assert losses_j is not None  # every column is kept (checked above)
            sub = losses_j[years]
            agree = np.stack([masks[pos][states[d]] for pos, d in enumerate(decisions)], axis=1)  # combos x decisions
            c = int(np.flatnonzero(agree.all(axis=1))[0])
            subs.append((sub, agree, decisions))
            current.append(sub[:, c].copy())
            total += current[-1]
        entry = {idx: k for k, idx in enumerate(i for i in self.order if not isinstance(i, np.ndarray))}
        for d in self._order(states):
            touched = [entry[i] for i in self.by_decision[d]]
            if not touched:
                fixed[:, d] = False
                continue
            trial = total.copy()
            new = {}
            for k in touched:
                sub, agree, decisions = subs[k]
                free = ~fixed[:, decisions]
                free[:, decisions.index(d)] = True
                ok = np.ones((m, agree.shape[0]), dtype=bool)
                for pos in range(len(decisions)):
                    ok &= free[:, pos, None] | agree[None, :, pos]
                new[k] = np.where(ok, sub, np.inf).min(axis=1)
                trial += new[k] - current[k]
            keep = trial > threshold + margin
            fixed[keep, d] = False
            total[keep] = trial[keep]
            for k, v in new.items():
                current[k][keep] = v[keep]
        counts = fixed.sum(axis=0)
        coef = np.zeros(self.model.ncol)
        const = 0.0
        for flipped in np.flatnonzero(counts).tolist():
            c0, cx = self._flip(flipped, states[flipped])
            const += counts[flipped] * c0
            coef += counts[flipped] * cx
        # sum_d n_d flip_d = const + coef . x >= need  ->  -coef . x <= const - need
        return -coef, const - float(need), 0.0

    def _flip(self, d: int, state: int) -> tuple[float, np.ndarray]:
        """``flip_d(x) = const + coef . x``: 1 when decision ``d`` is not in ``state``."""
        model = self.model
        coef = np.zeros(model.ncol)
        if d < self.n_controls:
            col = model.xc[d]
            if state == 1:
                coef[col] = -1.0
                return 1.0, coef
            coef[col] = 1.0
            return 0.0, coef
        k = d - self.n_controls
        p, w = model.xp[k], model.w.get(k)
        # 1 - indicator(state): off 1 - p, funded p - w, with the option w
        if state == 0:
            coef[p] = 1.0
            return 0.0, coef
        if state == 1:
            coef[p] = -1.0
            if w is not None:
                coef[w] = 1.0
            return 1.0, coef
        assert w is not None
        coef[w] = -1.0
        return 1.0, coef

    # -- the row ------------------------------------------------------------ #
    def cut(self, cube: Cube, *, sigma_scale: float | None = None) -> Cut:
        """The row cutting off ``cube``: at least one fixed decision leaves its states.

        ``sum of indicators(decision outside its states) >= 1``. With the
        shortfall column sigma of a relaxed solve, ``sigma >= level (1 - sum)``
        (plans in the cube miss the limits by at least the cube's level);
        ``sigma_scale`` (default ``1 / level``) is sigma's coefficient.
        """
        model = self.model
        coef = np.zeros(model.ncol)
        const = 0.0  # sum of indicators = const + coef . x
        nc = self.n_controls
        for d, states in enumerate(cube.allowed):
            if len(states) == self.n_states[d]:
                continue
            if d < nc:
                col = model.xc[d]
                if 1 in states:  # outside = off: 1 - x
                    const += 1.0
                    coef[col] -= 1.0
                else:  # outside = on: x
                    coef[col] += 1.0
                continue
            k = d - nc
            p, w = model.xp[k], model.w.get(k)
            for s in range(self.n_states[d]):
                if s in states:
                    continue
                if s == 0:  # off: 1 - p
                    const += 1.0
                    coef[p] -= 1.0
                elif s == 1:  # funded without the option: p - w
                    coef[p] += 1.0
                    if w is not None:
                        coef[w] -= 1.0
                else:  # with the option: w
                    assert w is not None
                    coef[w] += 1.0
        if sigma_scale is None:
            sigma_scale = 1.0 / max(cube.level, 1e-12) if math.isfinite(cube.level) else 0.0
        return -coef, const - 1.0, float(sigma_scale)


@dataclass
class CutPool:
    """Cuts kept from one solve to the next on the same problem and appetite.

    They are valid whatever the budget. A frontier gives each share a pool
    of its own: carried from share to share, the cuts of the other shares
    made every solve slower than they saved (the bundled example's 21-point
    frontier: 37.5 s in one sequence against 30 s). A pool whose tail
    constraints differ is emptied first.
    ``cubes`` are the cubes behind the combinatorial cuts (to skip plans
    already cut off). ``cvar_cuts`` holds each tail-mean limit's own cuts
    (keyed by :meth:`TailConstraint.key`, in the form ``<= limit (1 + sigma)``),
    which stay valid when that limit is minimised on its own
    (``milp.smallest_values``).
    """

    key: tuple[Any, ...] | None = None
    cuts: list[Cut] = field(default_factory=list)
    cubes: list[Cube] = field(default_factory=list)
    cube_rows: list[Cut] = field(default_factory=list)
    year_cuts: list[Cut] = field(default_factory=list)
    cvar_cuts: dict[tuple[Any, ...], list[Cut]] = field(default_factory=dict)

    def adopt(self, tails: list[TailConstraint]) -> None:
        """Keep the pool if it was built for these tail constraints, else empty it for them."""
        key = tuple(tc.key() for tc in tails)
        if self.key != key:
            self.clear()
            self.key = key

    def clear(self) -> None:
        self.key, self.cuts, self.cubes, self.cube_rows, self.year_cuts = None, [], [], [], []
        self.cvar_cuts = {}
