"""The mixed-integer program on a problem's sample, without its tail constraints; one HiGHS call per solve.

Columns, in order:

* binaries ``x``: fund control ``i``, fund project ``k``; ``w``: buy project
  ``k``'s security-by-design option (``w <= x``);
* for every scenario touched by a decision, continuous ``y[j, c] >= 0`` with
  ``sum_c y[j, c] = 1`` and, for each decision touching it, the share of ``y``
  on combinations where the decision is on equal to that decision's binary.
  With the binaries at 0 or 1 the only solution puts all weight on the one
  matching combination, so ``y`` needs no integrality.

The objective minimises spend - expected value + mean annual loss (scaled by
1e6), i.e. maximises expected net value. Rows: the linking rows above, then
the rules of :class:`~riskbudget.optimization.rules.Constraints` as linear
rows (budget, security/IT budgets, security shares, ``x_A <= x_B`` for "A
requires B", ``sum x <= 1`` for an exclusive group; include/exclude as
bounds). :meth:`Model.solve` appends tail cuts and indicator rows
(:mod:`riskbudget.optimization.cuts`) and calls HiGHS
(:func:`riskbudget.optimization._highs.solve`, through ``highspy``).

Pointwise lower and upper bounds of each year's loss over all combinations
(``lo``, ``hi``) give the forced years and the big-M constants.

Problems too large to keep every column (:attr:`DecisionProblem.dense` false)
keep the same columns and rows, but HiGHS sees only some of the ``y`` columns
(column generation, :meth:`Model.solve`): those *in the program*, whose
annual losses are kept and whose cut coefficients are exact. Every other
column has, in each cut and indicator row, a lower bound of its coefficient
(its scenario's smallest loss in those years, over all combinations), which
keeps every row valid for every plan. A solve

1. solves the LP relaxation on the columns in the LP and prices all the others
   with its duals, adding those with a negative reduced cost, until none is
   left: the LP bound of the whole program;
2. solves the MILP on the columns in the program;
3. brings into the program every column whose Lagrangian bound (LP bound plus
   its reduced cost) does not exceed that MILP's solution, and solves again,
   until none is left. Then no column outside can be part of a better
   solution, so the MILP's solution and dual bound are those of the whole
   program (up to the requested gap). When the program's memory
   (:data:`PROGRAM_BYTES`) is full, the columns whose Lagrangian bound
   exceeds the target are taken out first (they cannot be part of a better
   solution in this solve; their exact cut coefficients stay).

A solution therefore only uses columns whose cut coefficients are exact, and
the cut rounds (:mod:`~riskbudget.optimization.milp`) check every solution on
the whole sample, as for small problems. :class:`CutRow` lets a column that
enters the program later get its exact coefficient in earlier cuts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import RiskBudgetError
from .cuts import CountState, Cut
from .problem import DecisionProblem, Funding
from .rules import Constraints

if TYPE_CHECKING:
    from .plan import PlanStatus

__all__ = ["Model", "SolveResult", "SCALE", "CutRow", "PROGRAM_BYTES"]

#: Dollars per unit in the program (HiGHS works best with numbers near 1).
SCALE = 1e6

#: Memory the columns in a large problem's program may take (their annual losses), in bytes. When it is full,
#: the columns whose Lagrangian bound shows they cannot improve on the incumbent are taken out to make room; when
#: more columns are still needed to prove optimality, the solve returns its best plan with the bound it can prove
#: (and says so: the plan's status is then ``feasible_gap``).
PROGRAM_BYTES = 2 << 30

Row = tuple[dict[int, float], float, float]


class CutRow(np.ndarray):
    """A cut's coefficients over the program's core columns, remembering the years and weights they sum.

    :meth:`Model.year_row` returns one. In a large problem, only the columns
    in the program get their exact coefficient ``factor x sum_t w_t loss_t``;
    the others hold a lower bound (their scenario's smallest loss in those
    years), so the cut stays valid for every plan. When a column enters the
    program later, :meth:`Model.solve` writes its exact coefficient in place
    (``exact`` marks the entries that are). Multiplying or dividing by a
    number, as the cut rounds do, keeps the record; any other operation gives
    a plain array.
    """

    years: np.ndarray
    weights: np.ndarray
    factor: float
    exact: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, years: np.ndarray, weights: np.ndarray, factor: float, exact: np.ndarray) -> CutRow:
        row = np.asarray(values, dtype=float).view(cls)
        row.years, row.weights, row.factor, row.exact = years, weights, float(factor), exact
        return row

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        plain = [np.asarray(x) if isinstance(x, CutRow) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(o) if isinstance(o, CutRow) else o for o in kwargs["out"])
            return getattr(ufunc, method)(*plain, **kwargs)
        result = getattr(ufunc, method)(*plain, **kwargs)
        if method == "__call__" and len(inputs) == 2 and ufunc in (np.multiply, np.true_divide):
            a, b = inputs
            if isinstance(a, CutRow) and np.ndim(b) == 0 and not isinstance(b, CutRow):
                factor = a.factor * float(b) if ufunc is np.multiply else a.factor / float(b)
                return CutRow.of(result, a.years, a.weights, factor, a.exact.copy())
            if ufunc is np.multiply and isinstance(b, CutRow) and np.ndim(a) == 0:
                return CutRow.of(result, b.years, b.weights, b.factor * float(a), b.exact.copy())
        return result

    def __reduce__(self) -> Any:  # pickles as a plain array
        return np.asarray(self).__reduce__()


@dataclass
class SolveResult:
    """What a solver found: the funding, its status, gap and bound, and notes for the plan."""

    funding: Funding
    status: PlanStatus  # what is proven: optimal, feasible_gap, infeasible_appetite, heuristic, ...
    gap: float
    bound: float  # upper bound on expected net value
    objective: float  # expected net value of the solution as the program saw it
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    shortfall: float = 0.0  # relative appetite violation sigma of the least-risk plan
    appetite_note: str = ""  # why the appetite cannot be met (status "infeasible_appetite"), after the notes

    @property
    def all_notes(self) -> tuple[str, ...]:
        """The notes for the plan: ``notes``, then ``appetite_note`` if any."""
        return tuple(self.notes) + ((self.appetite_note,) if self.appetite_note else ())


class Model:
    """The program without its tail constraints, plus the data to generate them lazily.

    Parameters
    ----------
    problem : DecisionProblem
    cons : Constraints
        Resolved (:func:`~riskbudget.optimization.rules.resolve_constraints`).
    lower_bound_only : sequence of int
        Scenarios replaced by their pointwise smallest loss (every control on,
        no project): the heuristic's bound for scenarios too large to enumerate.
    """

    def __init__(self, problem: DecisionProblem, cons: Constraints, *, lower_bound_only: Sequence[int] = ()) -> None:
        if problem.insurance:
            raise RiskBudgetError(
                "the program scores ground-up losses; an insured problem (annual layers make the retained loss "
                "non-linear in the decisions) is solved by riskbudget.optimization.transfer"
            )
        self.problem = problem
        self.cons = cons
        self.scale = SCALE
        #: True when the program holds only some ``y`` columns (large problems; see the module's notes).
        self.compact = not problem.lazy and problem.losses is None
        n_dec = self._decision_columns()
        if self.compact:
            self._scenario_columns_compact()
        else:
            self._scenario_columns(set(lower_bound_only))
        self._objective()
        if self.compact:
            self._bounds(n_dec)
            self._matrix_compact(self._rule_rows())
        else:
            rows = self._linking_rows() + self._rule_rows()
            self._bounds(n_dec)
            self._matrix(rows)
        if self.compact:
            self._program = _Program(self)

    # -- columns ------------------------------------------------------------ #
    def _decision_columns(self) -> int:
        """Binaries x (controls, projects) and w (security-by-design options); returns their count."""
        problem = self.problem
        nc, npj = len(problem.controls), len(problem.projects)
        self.xc = list(range(0, nc))
        self.xp = list(range(nc, nc + npj))
        col = nc + npj
        self.w: dict[int, int] = {}
        for k, proj in enumerate(problem.projects):
            if proj.security_by_design is not None:
                self.w[k] = col
                col += 1
        self.ncol = col
        return col

    def _scenario_columns(self, lb_only: set[int]) -> None:
        """The y blocks of scenarios with more than one combination; constant columns for the rest."""
        problem = self.problem
        n, nc, npj = problem.years, len(problem.controls), len(problem.projects)
        const, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
        col = self.ncol
        self.blocks: list[tuple[int, int, int]] = []
        mats: list[np.ndarray] = []
        self._means: list[np.ndarray] = []
        for j in range(len(problem.universe)):
            ncomb = problem.n_combinations[j]
            if ncomb == 1 or j in lb_only:
                c = 0 if ncomb == 1 else problem.combination(j, np.ones(nc, dtype=bool), np.zeros(npj, dtype=np.int64))
                colv = problem.column(j, c)
                const += colv
                lo += colv
                hi += colv
                continue
            L = (problem.losses[j] if problem.losses is not None
                 else np.column_stack([problem.column(j, c) for c in range(ncomb)]))
            self.blocks.append((j, col, ncomb))
            mats.append(L)
            self._means.append(L.mean(axis=0))
            lo += L.min(axis=1)
            hi += L.max(axis=1)
            col += ncomb
        self.ncol = col
        self.const, self.lo, self.hi = const, lo, hi
        self.ycols = (
            np.concatenate([np.arange(f, f + c) for (_, f, c) in self.blocks])
            if self.blocks
            else np.zeros(0, dtype=int)
        )
        #: each y block's annual losses (years x combinations), in block order: the problem's own arrays
        self.mats = mats
        self._rows: Any = None  # the blocks' losses laid out for taking rows (_year_matrix)

    def _scenario_columns_compact(self) -> None:
        """The y blocks from the problem's means and per-year extremes; no column of losses is built."""
        problem = self.problem
        n = problem.years
        const, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
        col = self.ncol
        self.blocks = []
        self._means = []
        for j in range(len(problem.universe)):
            ncomb = problem.n_combinations[j]
            if ncomb == 1:
                colv = problem.column(j, 0)
                const += colv
                lo += colv
                hi += colv
                continue
            self.blocks.append((j, col, ncomb))
            self._means.append(problem.means[j])
            lo += problem.lowest[j]
            hi += problem.highest[j]
            col += ncomb
        self.ncol = col
        self.const, self.lo, self.hi = const, lo, hi
        self.ycols = (
            np.concatenate([np.arange(f, f + c) for (_, f, c) in self.blocks])
            if self.blocks
            else np.zeros(0, dtype=int)
        )
        self.mats = []  # no column of losses is kept: cut rows come from the program (_Program)

    def _objective(self) -> None:
        problem, S = self.problem, self.scale
        c_obj = np.zeros(self.ncol)
        for i, ctrl in enumerate(problem.controls):
            c_obj[self.xc[i]] = ctrl.cost_per_year / S
        for k, proj in enumerate(problem.projects):
            c_obj[self.xp[k]] = (proj.cost_per_year - proj.expected_value()) / S
            if k in self.w:
                lost = proj.expected_value() - proj.expected_value(security_by_design=True)
                c_obj[self.w[k]] = (proj.security_by_design.cost_per_year + lost) / S  # type: ignore[union-attr]
        for (_j, first, cnt), m in zip(self.blocks, self._means):
            c_obj[first : first + cnt] = m / S
        self.c = c_obj
        self.const_mean = float(self.const.mean())

    # -- rows --------------------------------------------------------------- #
    def _linking_rows(self) -> list[Row]:
        """Each y block sums to 1 and puts on each decision's combinations the weight of its binary."""
        problem = self.problem
        rows: list[Row] = []
        for j, first, cnt in self.blocks:
            rows.append(({first + c: 1.0 for c in range(cnt)}, 1.0, 1.0))
            states = np.array([problem.combination_states(j, c) for c in range(cnt)])
            for pos, ((kind, i), r) in enumerate(zip(problem.touching[j], problem.radix[j])):
                x = self.xc[i] if kind == "control" else self.xp[i]
                coefs = {int(first + c): 1.0 for c in np.flatnonzero(states[:, pos] >= 1)}
                coefs[x] = -1.0
                rows.append((coefs, 0.0, 0.0))
                if r == 3:
                    coefs = {int(first + c): 1.0 for c in np.flatnonzero(states[:, pos] == 2)}
                    coefs[self.w[i]] = -1.0
                    rows.append((coefs, 0.0, 0.0))
        for k, wcol in self.w.items():
            rows.append(({wcol: 1.0, self.xp[k]: -1.0}, -np.inf, 0.0))
        return rows

    def _var_of(self, name: str) -> int:
        problem = self.problem
        if name in problem.control_index:
            return self.xc[problem.control_index[name]]
        return self.xp[problem.project_index[name]]

    def spend_rows(self, *, one_off: bool = False, budget: bool = True) -> list[Row]:
        """The spend rules of the constraints as rows (scaled): the budget, the security and IT budgets, the shares.

        ``one_off``: on a year-1 spend, each item's ``one_off_cost`` added to
        its recurring cost (controls' in the security spend, projects' in the
        IT spend); ``budget``: include the total budget's row.
        """
        problem, cons, S = self.problem, self.cons, self.scale
        rows: list[Row] = []
        sec = {self.xc[i]: (ctrl.cost_per_year + (ctrl.one_off_cost if one_off else 0.0)) / S
               for i, ctrl in enumerate(problem.controls)}
        for k, wcol in self.w.items():
            sec[wcol] = problem.projects[k].security_by_design.cost_per_year / S  # type: ignore[union-attr]
        it = {self.xp[k]: (proj.cost_per_year + (proj.one_off_cost if one_off else 0.0)) / S
              for k, proj in enumerate(problem.projects)}
        if budget:
            rows.append(({**sec, **it}, -np.inf, np.inf if cons.budget is None else cons.budget / S))
        if cons.security_budget is not None:
            rows.append((dict(sec), -np.inf, cons.security_budget / S))
        if cons.it_budget is not None:
            rows.append((dict(it), -np.inf, cons.it_budget / S))
        for share, sense in ((cons.min_security_share, "min"), (cons.max_security_share, "max")):
            if share is None:
                continue
            d: dict[int, float] = {}
            for key, v in sec.items():
                d[key] = d.get(key, 0.0) + v * (1.0 - share)
            for key, v in it.items():
                d[key] = d.get(key, 0.0) - v * share
            rows.append((d, 0.0, np.inf) if sense == "min" else (d, -np.inf, 0.0))
        return rows

    def _rule_rows(self) -> list[Row]:
        """The rules of the constraints as rows: budgets, shares, requires, exclusive."""
        cons = self.cons
        rows = self.spend_rows()
        for a, b in cons.requires:
            rows.append(({self._var_of(a): 1.0, self._var_of(b): -1.0}, -np.inf, 0.0))
        for group in cons.exclusive:
            rows.append(({self._var_of(g): 1.0 for g in group}, -np.inf, 1.0))
        return rows

    def _bounds(self, n_dec: int) -> None:
        self.lb = np.zeros(self.ncol)
        self.ub = np.ones(self.ncol)
        for name in self.cons.include:
            self.lb[self._var_of(name)] = 1.0
        for name in self.cons.exclude:
            self.ub[self._var_of(name)] = 0.0
        self.integrality = np.zeros(self.ncol)
        self.integrality[:n_dec] = 1

    def _matrix(self, rows: list[Row]) -> None:
        import scipy.sparse as sp

        data, ri, ci, rl, ru = [], [], [], [], []
        for r, (coefs, l_, u_) in enumerate(rows):
            for k_, v in coefs.items():
                ri.append(r)
                ci.append(k_)
                data.append(v)
            rl.append(l_)
            ru.append(u_)
        self.A = sp.csr_matrix(
            (np.array(data, dtype=float), (np.array(ri, dtype=int), np.array(ci, dtype=int))),
            shape=(len(rows), self.ncol),
        )
        self.rl = np.array(rl, dtype=float)
        self.ru = np.array(ru, dtype=float)

    def _matrix_compact(self, rule_rows: list[Row]) -> None:
        """The linking rows of every y block, built with arrays (a large problem has many columns), then the rules."""
        import scipy.sparse as sp

        problem = self.problem
        ri: list[np.ndarray] = []
        ci: list[np.ndarray] = []
        data: list[np.ndarray] = []
        rl: list[float] = []
        ru: list[float] = []
        r = 0
        for j, first, cnt in self.blocks:
            combos = np.arange(cnt, dtype=np.int64)
            ri.append(np.full(cnt, r))
            ci.append(first + combos)
            data.append(np.ones(cnt))
            rl.append(1.0)
            ru.append(1.0)
            r += 1
            stride = 1
            for (kind, i), radix in zip(problem.touching[j], problem.radix[j]):
                state = (combos // stride) % radix
                stride *= radix
                x = self.xc[i] if kind == "control" else self.xp[i]
                for on, var in ((state >= 1, x), (state == 2, self.w.get(i))):
                    if var is None or (radix < 3 and var is not x):
                        continue
                    cols = first + np.flatnonzero(on)
                    ri.append(np.full(cols.size + 1, r))
                    ci.append(np.append(cols, var))
                    data.append(np.append(np.ones(cols.size), -1.0))
                    rl.append(0.0)
                    ru.append(0.0)
                    r += 1
        for k, wcol in self.w.items():
            rule_rows = [({wcol: 1.0, self.xp[k]: -1.0}, -np.inf, 0.0), *rule_rows]
        for coefs, l_, u_ in rule_rows:
            ri.append(np.full(len(coefs), r))
            ci.append(np.fromiter(coefs.keys(), dtype=np.int64, count=len(coefs)))
            data.append(np.fromiter(coefs.values(), dtype=float, count=len(coefs)))
            rl.append(l_)
            ru.append(u_)
            r += 1
        self.A = sp.csr_matrix(
            (np.concatenate(data), (np.concatenate(ri), np.concatenate(ci))), shape=(r, self.ncol)
        )
        self.rl = np.array(rl, dtype=float)
        self.ru = np.array(ru, dtype=float)

    # -- cuts and solving --------------------------------------------------- #
    def year_row(self, t: np.ndarray | int, weights: np.ndarray | None = None) -> np.ndarray:
        """Coefficients (over the core columns) of the (weighted) summed loss of years ``t``, scaled.

        For a large problem, a :class:`CutRow`: exact for the columns in the
        program, a lower bound for the others.
        """
        if self.compact:
            return self._program.year_row(t, weights)
        out = np.zeros(self.ncol)
        years = np.atleast_1d(np.asarray(t))
        w = np.ones(years.size) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), years.shape)
        rows = self._year_matrix()[years]
        total = rows.T @ w if hasattr(rows, "tocsc") else w @ rows
        out[self.ycols] = np.asarray(total).ravel() / self.scale
        return out

    def _year_matrix(self) -> Any:
        """The y blocks' annual losses side by side (years x y columns), laid out for taking rows.

        A problem with stored columns keeps one for all its programs
        (:meth:`~riskbudget.optimization.problem.DecisionProblem.year_rows`);
        otherwise the blocks are put side by side once per program.
        """
        if self._rows is None:
            if self.problem.losses is not None:
                self._rows = self.problem.year_rows([j for j, _, _ in self.blocks])
            else:
                self._rows = np.hstack(self.mats) if self.mats else np.zeros((self.problem.years, 0))
        return self._rows

    def solve(
        self,
        cuts: list[Cut],
        counts: list[CountState],
        *,
        objective: np.ndarray | None = None,
        sigma: bool = False,
        sigma_cap: float | None = None,
        minimize_sigma: bool = False,
        relax: bool = False,
        time_limit: float | None,
        mip_rel_gap: float,
        check: Any = None,
        start: np.ndarray | None = None,
    ) -> Any:
        """Solve with the given cuts ``(coef, rhs, sigma_coef)`` and indicator years (one HiGHS call).

        With ``sigma`` a last column is the relative shortfall every appetite
        row may take (``minimize_sigma``: the objective; ``sigma_cap``: its cap).
        ``check``: called with each improving plan; those it rejects come back
        in ``res.broken`` (:func:`~riskbudget.optimization._highs.solve`; a
        large problem's solve ignores it). ``start``: a plan of this program
        (one value per column, sigma's included) HiGHS starts from; ignored by
        a large problem's solve, with indicator years, and by a relaxation.
        """
        from . import _highs

        if self.compact:
            return self._program.solve(
                cuts, counts, objective=objective, sigma=sigma, sigma_cap=sigma_cap, minimize_sigma=minimize_sigma,
                relax=relax, time_limit=time_limit, mip_rel_gap=mip_rel_gap,
            )
        nb = sum(len(cs.years) for cs in counts)
        ncol = self.ncol + nb + (1 if sigma else 0)
        A, rl, ru = self._rows_with(cuts, counts, ncol, sigma=sigma, sigma_cap=sigma_cap)
        c = np.zeros(ncol)
        base = self.c if objective is None else objective
        c[: base.size] = base
        if minimize_sigma:
            c[:] = 0.0
            c[ncol - 1] = 1.0
        lb = np.concatenate([self.lb, np.zeros(nb), [0.0] if sigma else []])
        ub = np.concatenate([self.ub, np.ones(nb), [np.inf] if sigma else []])
        integ = np.concatenate([self.integrality, np.ones(nb), [0] if sigma else []])
        if start is not None and (start.size != ncol or nb or relax):
            start = None
        return _highs.solve(c, A, rl, ru, lb, ub, np.zeros_like(integ) if relax else integ, time_limit=time_limit,
                            mip_rel_gap=mip_rel_gap, check=check, start=start)

    def _rows_with(
        self, cuts: list[Cut], counts: list[CountState], ncol: int, *, sigma: bool, sigma_cap: float | None
    ) -> tuple[Any, np.ndarray, np.ndarray]:
        """The constraint matrix and row bounds: the core rows, indicator rows, then cuts and counts."""
        import scipy.sparse as sp

        sig = ncol - 1
        blocks = [sp.csr_matrix((self.A.data, self.A.indices, self.A.indptr), shape=(self.A.shape[0], ncol))]
        rl, ru = [self.rl], [self.ru]
        extra: list[np.ndarray] = []
        erl: list[float] = []
        eru: list[float] = []
        for coef, rhs, scoef in cuts:
            v = np.zeros(ncol)
            v[: self.ncol] = coef
            if sigma:
                v[sig] = -scoef
            extra.append(v)
            erl.append(-np.inf)
            eru.append(rhs)
        b0 = self.ncol
        for cs in counts:
            ys = np.asarray(cs.years, dtype=int)
            if ys.size:
                A = np.zeros((ys.size, ncol))
                rows = self._year_matrix()[ys]
                A[:, self.ycols] = (rows.toarray() if hasattr(rows, "toarray") else rows) / self.scale
                A[np.arange(ys.size), b0 + np.arange(ys.size)] = -(self.hi[ys] - cs.threshold) / self.scale
                blocks.append(sp.csr_matrix(A))
                rl.append(np.full(ys.size, -np.inf))
                ru.append((cs.threshold - self.const[ys]) / self.scale)
            v = np.zeros(ncol)
            v[b0 : b0 + ys.size] = 1.0
            if sigma:
                v[sig] = -float(max(cs.allowed, 1))
            extra.append(v)
            erl.append(-np.inf)
            eru.append(float(cs.allowed - cs.forced))
            b0 += ys.size
        if sigma_cap is not None:
            v = np.zeros(ncol)
            v[sig] = 1.0
            extra.append(v)
            erl.append(-np.inf)
            eru.append(float(sigma_cap))
        if extra:
            # rows after the indicator blocks, bounds in the same order
            blocks.append(sp.csr_matrix(np.vstack(extra)))
            rl.append(np.array(erl))
            ru.append(np.array(eru))
        return sp.vstack(blocks, format="csr"), np.concatenate(rl), np.concatenate(ru)

    def decode(self, x: np.ndarray) -> Funding:
        """The funding choice of a solution vector (binaries read at 0.5)."""
        p = self.problem
        xc = [x[i] > 0.5 for i in self.xc]
        sp_ = []
        for k in range(len(p.projects)):
            st = 0
            if x[self.xp[k]] > 0.5:
                st = 2 if (k in self.w and x[self.w[k]] > 0.5) else 1
            sp_.append(st)
        return p.from_vectors(xc, sp_)

    def net_of(self, objective_value: float) -> float:
        """Expected net value (dollars) of a program objective value."""
        return -(objective_value * self.scale + self.const_mean)


class _Program:
    """Column generation with a proof, for a problem too large to keep every column (see the module's notes)."""

    def __init__(self, model: Model) -> None:
        self.m = model
        problem = model.problem
        core = model.ncol
        self.n_dec = int(model.integrality.sum())
        self.is_y = np.zeros(core, dtype=bool)
        self.is_y[model.ycols] = True
        self.scenario = np.full(core, -1, dtype=np.int64)
        self.combo = np.full(core, -1, dtype=np.int64)
        self.block = np.full(core, -1, dtype=np.int64)
        for b, (j, first, cnt) in enumerate(model.blocks):
            self.scenario[first : first + cnt] = j
            self.combo[first : first + cnt] = np.arange(cnt)
            self.block[first : first + cnt] = b
        # for every y column, the decision columns its combination sets to 1 and to 0
        self._forced_blocks: list[list[tuple[int, np.ndarray]]] = []
        for j, _first, cnt in model.blocks:
            combos = np.arange(cnt, dtype=np.int64)
            per: list[tuple[int, np.ndarray]] = []
            stride = 1
            for (kind, i), radix in zip(problem.touching[j], problem.radix[j]):
                state = (combos // stride) % radix
                stride *= radix
                per.append((model.xc[i] if kind == "control" else model.xp[i], state >= 1))
                if radix == 3:
                    per.append((model.w[i], state == 2))
            self._forced_blocks.append(per)
        self.active = np.zeros(core, dtype=bool)  # in the program: losses kept, cut coefficients exact
        self.order: list[int] = []
        self.columns: list[np.ndarray] = []
        self.pool = np.zeros(core, dtype=bool)  # in the LP (active or with bounded coefficients)
        self.pool[: self.n_dec] = True
        self.AT = model.A.T.tocsr()
        self.max_active = max(int(PROGRAM_BYTES // (8 * problem.years)), 64)
        self.expected_gap = 0.0  # LP bound to plan, in the last solve (x 1.5)
        #: What the solves did: LP and MILP calls and their seconds, columns priced into the LP and brought
        #: into the program (and the seconds spent simulating them again).
        self.stats: dict[str, float] = {
            "lp": 0, "lp_seconds": 0.0, "milp": 0, "milp_seconds": 0.0, "priced_in": 0, "brought_in": 0,
            "column_seconds": 0.0, "taken_out": 0,
        }
        first_of = {j: f for j, f, _ in model.blocks}
        kept = [first_of[j] + c for (j, c) in problem.kept_columns() if j in first_of]
        self.activate(np.array(sorted(kept), dtype=np.int64))

    # -- the columns in the program ----------------------------------------- #
    def activate(self, cols: np.ndarray) -> int:
        """Bring columns into the program (their annual losses are simulated again and kept)."""
        problem = self.m.problem
        t0 = time.perf_counter()
        new = [int(q) for q in np.asarray(cols, dtype=np.int64) if self.is_y[q] and not self.active[q]]
        for q in new:
            self.columns.append(problem.keep(int(self.scenario[q]), int(self.combo[q])))
            self.order.append(q)
        if new:
            self.active[new] = True
            self.pool[new] = True
        self.stats["column_seconds"] += time.perf_counter() - t0
        return len(new)

    def _used(self, cols: np.ndarray, res: Any) -> np.ndarray:
        """Mask of the core columns a solution on ``cols`` puts weight on."""
        used = np.zeros(self.m.ncol, dtype=bool)
        used[cols[res.x[: cols.size] > 1e-9]] = True
        return used

    def deactivate(self, cols: np.ndarray) -> int:
        """Take columns out of the program (their losses are no longer kept; cut coefficients stay valid).

        Coefficients already exact stay exact in the cuts that hold them; cuts
        made while a column is out hold its lower bound, upgraded if it comes
        back (:meth:`_upgrade`).
        """
        problem = self.m.problem
        drop = {int(q) for q in np.asarray(cols, dtype=np.int64) if self.active[q]}
        if not drop:
            return 0
        keep = [k for k, q in enumerate(self.order) if q not in drop]
        self.order = [self.order[k] for k in keep]
        self.columns = [self.columns[k] for k in keep]
        for q in drop:
            problem.release(int(self.scenario[q]), int(self.combo[q]))
        self.active[sorted(drop)] = False
        self.stats["taken_out"] += len(drop)
        return len(drop)

    def _rows_of(self, cols: Sequence[int], years: np.ndarray) -> np.ndarray:
        """Losses of program columns ``cols`` (positions in ``order``) in ``years``: (years, columns)."""
        if not len(cols):
            return np.zeros((years.size, 0))
        return np.stack([self.columns[k].take(years) for k in cols], axis=1)

    def _lowest(self, years: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Per core column, ``weights @ lowest loss`` of its scenario in ``years`` (0 outside the y blocks)."""
        out = np.zeros(self.m.ncol)
        for j, first, cnt in self.m.blocks:
            out[first : first + cnt] = float(weights @ self.m.problem.lowest[j].take(years))
        return out

    def year_row(self, t: np.ndarray | int, weights: np.ndarray | None) -> CutRow:
        years = np.atleast_1d(np.asarray(t)).astype(np.intp)
        w = np.ones(years.size) if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), years.shape)
        w = np.array(w, dtype=float)
        out = self._lowest(years, w)
        if self.order:
            out[self.order] = w @ self._rows_of(range(len(self.order)), years)
        out /= self.m.scale
        return CutRow.of(out, years, w, 1.0 / self.m.scale, self.active | ~self.is_y)

    def _upgrade(self, cuts: list[Any]) -> None:
        """Exact coefficients, in every cut that remembers its years, for the columns in the program."""
        position = {q: k for k, q in enumerate(self.order)}
        for coef, _rhs, _s in cuts:
            if not isinstance(coef, CutRow):
                continue  # its coefficients stay what they were: exact or a lower bound, valid either way
            missing = np.flatnonzero(self.active & ~coef.exact)
            if missing.size:
                rows = self._rows_of([position[int(q)] for q in missing], coef.years)
                np.asarray(coef)[missing] = coef.factor * (coef.weights @ rows)
                coef.exact[missing] = True

    # -- the program restricted to some columns ------------------------------ #
    def _indicator_values(self, years: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Losses (scaled) of core columns ``cols`` in ``years``: exact in the program, lowest otherwise."""
        problem, m = self.m.problem, self.m
        out = np.zeros((years.size, cols.size))
        position = {q: k for k, q in enumerate(self.order)}
        for a, q in enumerate(cols):
            if not self.is_y[q]:
                continue
            if self.active[q]:
                out[:, a] = self.columns[position[int(q)]].take(years)
            else:
                out[:, a] = problem.lowest[int(self.scenario[q])].take(years)
        return out / m.scale

    def _assemble(
        self, cols: np.ndarray, cuts: list[Any], counts: list[CountState], *, sigma: bool, sigma_cap: float | None
    ) -> tuple[Any, np.ndarray, np.ndarray, list[tuple[str, int, int]]]:
        """Rows over core columns ``cols``, then the indicators, then sigma: as Model._rows_with, restricted.

        Returns the matrix, its row bounds and the row groups (kind, first row, count).
        """
        import scipy.sparse as sp

        m = self.m
        nb = sum(len(cs.years) for cs in counts)
        ncol = cols.size + nb + (1 if sigma else 0)
        sig = ncol - 1
        core = m.A[:, cols]
        blocks = [sp.csr_matrix((core.data, core.indices, core.indptr), shape=(core.shape[0], ncol))]
        rl, ru = [m.rl], [m.ru]
        groups = [("core", 0, core.shape[0])]
        r = core.shape[0]
        b0 = cols.size
        for cs in counts:
            ys = np.asarray(cs.years, dtype=int)
            if ys.size:
                A = np.zeros((ys.size, ncol))
                A[:, : cols.size] = self._indicator_values(ys, cols)
                A[np.arange(ys.size), b0 + np.arange(ys.size)] = -(m.hi[ys] - cs.threshold) / m.scale
                blocks.append(sp.csr_matrix(A))
                rl.append(np.full(ys.size, -np.inf))
                ru.append((cs.threshold - m.const[ys]) / m.scale)
                groups.append(("indicator", r, ys.size))
                r += ys.size
            b0 += ys.size
        extra: list[np.ndarray] = []
        erl: list[float] = []
        eru: list[float] = []
        for coef, rhs, scoef in cuts:
            v = np.zeros(ncol)
            v[: cols.size] = np.asarray(coef)[cols]
            if sigma:
                v[sig] = -scoef
            extra.append(v)
            erl.append(-np.inf)
            eru.append(rhs)
        b0 = cols.size
        for cs in counts:
            ys = np.asarray(cs.years, dtype=int)
            v = np.zeros(ncol)
            v[b0 : b0 + ys.size] = 1.0
            if sigma:
                v[sig] = -float(max(cs.allowed, 1))
            extra.append(v)
            erl.append(-np.inf)
            eru.append(float(cs.allowed - cs.forced))
            b0 += ys.size
        if sigma_cap is not None:
            v = np.zeros(ncol)
            v[sig] = 1.0
            extra.append(v)
            erl.append(-np.inf)
            eru.append(float(sigma_cap))
        if extra:
            blocks.append(sp.csr_matrix(np.vstack(extra)))
            rl.append(np.array(erl))
            ru.append(np.array(eru))
            groups.append(("cuts", r, len(cuts)))
        return sp.vstack(blocks, format="csr"), np.concatenate(rl), np.concatenate(ru), groups

    def _vectors(
        self, cols: np.ndarray, counts: list[CountState], base: np.ndarray, *, sigma: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Objective, bounds and integrality over core columns ``cols``, the indicators and sigma."""
        m = self.m
        nb = sum(len(cs.years) for cs in counts)
        c = np.concatenate([base[cols], np.zeros(nb), [base[-1]] if sigma else []])
        lb = np.concatenate([m.lb[cols], np.zeros(nb), [0.0] if sigma else []])
        ub = np.concatenate([m.ub[cols], np.ones(nb), [np.inf] if sigma else []])
        integ = np.concatenate([m.integrality[cols], np.ones(nb), [0] if sigma else []])
        return c, lb, ub, integ

    # -- LP with pricing ------------------------------------------------------ #
    def _lp(self, cols: np.ndarray, A: Any, rl: np.ndarray, ru: np.ndarray, c: np.ndarray, lb: np.ndarray,
            ub: np.ndarray, time_limit: float | None) -> Any:
        """The LP relaxation on ``cols``; the row duals ``pi`` (d objective / d row activity) as ``res.pi``."""
        from scipy.optimize import linprog

        eq = np.isfinite(rl) & np.isfinite(ru) & (rl == ru)
        up = ~eq & np.isfinite(ru)
        down = ~eq & np.isfinite(rl)
        import scipy.sparse as sp

        A_ub = sp.vstack([A[up], -A[down]], format="csr")
        b_ub = np.concatenate([ru[up], -rl[down]])
        options: dict[str, Any] = {"presolve": True}
        if time_limit is not None:
            options["time_limit"] = max(float(time_limit), 1e-3)
        t0 = time.perf_counter()
        res = linprog(
            c, A_ub=A_ub if A_ub.shape[0] else None, b_ub=b_ub if A_ub.shape[0] else None,
            A_eq=A[eq] if eq.any() else None, b_eq=rl[eq] if eq.any() else None,
            bounds=np.column_stack([lb, ub]), method="highs", options=options,
        )
        self.stats["lp"] += 1
        self.stats["lp_seconds"] += time.perf_counter() - t0
        if res.status != 0:
            return res
        pi = np.zeros(rl.size)
        if eq.any():
            pi[eq] = res.eqlin.marginals
        if A_ub.shape[0]:
            lam = res.ineqlin.marginals
            k = int(up.sum())
            pi[up] += lam[:k]
            pi[down] -= lam[k:]
        # a valid Lagrangian bound needs the duals' signs right; zero the few that tolerance put wrong
        pi[(pi > 0) & ~np.isfinite(rl)] = 0.0
        pi[(pi < 0) & ~np.isfinite(ru)] = 0.0
        res.pi = pi
        return res

    def _reduced_costs(
        self, pi: np.ndarray, groups: list[tuple[str, int, int]], cuts: list[Any], counts: list[CountState],
        base: np.ndarray,
    ) -> np.ndarray:
        """Reduced cost ``c - A^T pi`` of every core column, with each column's coefficients as the LP has them.

        The duals ``pi`` are those of rows assembled over any columns
        (:meth:`_assemble`); a column outside them has, in the cut and
        indicator rows, the coefficients it would have there.
        """
        m = self.m
        problem = m.problem
        d = base[: m.ncol] - self.AT @ pi[: m.A.shape[0]]
        for kind, first, count in groups:
            if kind == "cuts" and count:
                for (coef, _rhs, _s), y in zip(cuts, pi[first : first + count]):
                    if y:
                        d -= y * np.asarray(coef)
        indicators = iter([g for g in groups if g[0] == "indicator"])
        for cs in counts:
            ys = np.asarray(cs.years, dtype=int)
            if not ys.size:
                continue
            _kind, first, count = next(indicators)
            duals = pi[first : first + count]
            if not duals.any():
                continue
            lowest = {j: float(duals @ problem.lowest[j].take(ys)) / m.scale for j, _f, _c in m.blocks}
            for j, f, cnt in m.blocks:
                d[f : f + cnt] -= lowest[j]
            if self.order:
                act = np.asarray(self.order)
                exact = duals @ self._rows_of(range(len(self.order)), ys) / m.scale
                d[act] -= exact - np.array([lowest[int(self.scenario[q])] for q in act])
        return d

    def _penalty(self, d: np.ndarray) -> np.ndarray:
        """For each y column, what setting it to 1 adds to the Lagrangian bound (inf: impossible).

        A combination fixes its decisions: ``y = 1`` forces each decision
        touching the scenario to its state, and the bound rises by every
        forced variable's reduced-cost term ``d v - min(d lb, d ub)`` (each
        >= 0), plus the column's own ``max(d, 0)``.
        """
        m = self.m
        lb, ub = m.lb, m.ub

        def term(v: int, value: float) -> float:
            if value < lb[v] - 1e-9 or value > ub[v] + 1e-9:
                return math.inf
            return float(d[v] * value - min(d[v] * lb[v], d[v] * ub[v]))

        out = np.full(m.ncol, math.inf)
        for (_j, first, cnt), per in zip(m.blocks, self._forced_blocks):
            pen = np.maximum(d[first : first + cnt], 0.0)
            for v, on in per:
                pen = pen + np.where(on, term(v, 1.0), term(v, 0.0))
            out[first : first + cnt] = pen
        return out

    #: Columns priced into the LP per scenario and round, at most (the most negative reduced costs).
    PRICED_PER_BLOCK = 8

    def _priced_in(self, d: np.ndarray) -> np.ndarray:
        """The columns to add to the LP: per scenario, the few with the most negative reduced cost."""
        out = []
        for _j, first, cnt in self.m.blocks:
            seg = d[first : first + cnt]
            neg = np.flatnonzero((seg < -1e-7) & ~self.pool[first : first + cnt])
            if neg.size:
                if neg.size > self.PRICED_PER_BLOCK:
                    neg = neg[np.argpartition(seg[neg], self.PRICED_PER_BLOCK)[: self.PRICED_PER_BLOCK]]
                out.append(first + neg)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def _lagrangian(self, pi: np.ndarray, rl: np.ndarray, ru: np.ndarray, d_core: np.ndarray,
                    d_rest: np.ndarray, lb_rest: np.ndarray, ub_rest: np.ndarray) -> float:
        """A lower bound of the whole program from any duals: sum of row and column terms (weak duality)."""
        m = self.m
        with np.errstate(invalid="ignore"):
            rows = np.where(pi > 0, pi * rl, pi * ru)
        rows = np.where(pi == 0, 0.0, rows)
        d_all = np.concatenate([d_core, d_rest])
        lb_all = np.concatenate([m.lb, lb_rest])
        ub_all = np.concatenate([m.ub, ub_rest])
        small = np.abs(d_all) < 1e-12
        d_all = np.where(small, 0.0, d_all)
        with np.errstate(invalid="ignore"):
            cols = np.minimum(np.where(d_all == 0, 0.0, d_all * lb_all), np.where(d_all == 0, 0.0, d_all * ub_all))
        total = float(rows.sum() + cols.sum())
        return total if math.isfinite(total) else -math.inf

    def _whole(self, cuts: list[Any], counts: list[CountState], base: np.ndarray, *, sigma: bool,
               sigma_cap: float | None, time_limit: float | None, mip_rel_gap: float) -> Any:
        """The MILP on every column (the last resort when no plan is found on the program's columns)."""
        from . import _highs

        cols = np.arange(self.m.ncol)
        A, rl, ru, _ = self._assemble(cols, cuts, counts, sigma=sigma, sigma_cap=sigma_cap)
        c, lb, ub, integ = self._vectors(cols, counts, base, sigma=sigma)
        t0 = time.perf_counter()
        res = _highs.solve(c, A, rl, ru, lb, ub, integ, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
        self.stats["milp"] += 1
        self.stats["milp_seconds"] += time.perf_counter() - t0
        return res

    # -- the solve ------------------------------------------------------------- #
    def solve(
        self,
        cuts: list[Any],
        counts: list[CountState],
        *,
        objective: np.ndarray | None,
        sigma: bool,
        sigma_cap: float | None,
        minimize_sigma: bool,
        relax: bool,
        time_limit: float | None,
        mip_rel_gap: float,
    ) -> Any:
        from scipy.optimize import OptimizeResult

        from . import _highs

        t0 = time.perf_counter()
        m = self.m
        nb = sum(len(cs.years) for cs in counts)
        base = np.zeros(m.ncol + (1 if sigma else 0))
        base[: m.ncol] = m.c if objective is None else objective[: m.ncol]
        if minimize_sigma:
            base[:] = 0.0
            base[-1] = 1.0

        def remaining() -> float | None:
            return None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1e-3)

        def full(cols: np.ndarray, x: np.ndarray) -> np.ndarray:
            out = np.zeros(m.ncol + nb + (1 if sigma else 0))
            out[cols] = x[: cols.size]
            out[m.ncol :] = x[cols.size :]
            return out

        self._upgrade(cuts)
        # 1. the LP bound of the whole program, by pricing (the first LP of a program takes every column)
        everything = np.ones(m.ncol, dtype=bool)
        if self.stats["lp"] == 0:
            self.pool = everything.copy()
        while True:
            cols = np.flatnonzero(self.pool)
            A, rl, ru, groups = self._assemble(cols, cuts, counts, sigma=sigma, sigma_cap=sigma_cap)
            c, lb, ub, _ = self._vectors(cols, counts, base, sigma=sigma)
            lp = self._lp(cols, A, rl, ru, c, lb, ub, remaining())
            if lp.status != 0:
                if lp.status == 2 and not self.pool.all():
                    self.pool = everything.copy()  # infeasible on these columns: try them all
                    continue
                return OptimizeResult(x=None, fun=None, status=2 if lp.status == 2 else 4, message=lp.message,
                                      success=False, mip_gap=math.nan, mip_dual_bound=math.nan)
            d = self._reduced_costs(lp.pi, groups, cuts, counts, base)
            take = self._priced_in(d)
            if not take.size:
                break
            self.pool[take] = True
            self.stats["priced_in"] += int(take.size)
        support = cols[(lp.x[: cols.size] > 1e-9) & self.is_y[cols]]
        if self.pool.all():
            # a full LP was needed: keep only what it used, to keep later LPs small
            self.pool = self.active.copy()
            self.pool[: self.n_dec] = True
            self.pool[support] = True
        d_rest = np.asarray(c[cols.size :]) - (A[:, cols.size :].T @ lp.pi if A.shape[1] > cols.size else 0.0)
        bound = self._lagrangian(lp.pi, rl, ru, d, np.atleast_1d(d_rest), lb[cols.size :], ub[cols.size :])
        if relax:
            return OptimizeResult(x=full(cols, lp.x), fun=bound, status=0, message=lp.message, success=True,
                                  mip_gap=0.0, mip_dual_bound=bound)
        # 2-3. the MILP on the columns in the program, then bring in every column that could do better
        penalty = self._penalty(d)
        # Bring in at once the columns that will likely have to come in: those within the gap the last solve
        # found between its plan and the LP bound (usually saves a second MILP).
        likely = np.flatnonzero(self.is_y & ~self.active & (penalty <= self.expected_gap))
        likely = likely[np.argsort(penalty[likely], kind="stable")][: max(self.max_active - len(self.order), 0)]
        self.stats["brought_in"] += self.activate(np.concatenate([support, likely]))
        self._upgrade(cuts)
        incumbent, best, proven = math.inf, None, False
        why = "stopped before optimality was proved"
        while True:
            cols = np.flatnonzero(self.active | (np.arange(m.ncol) < self.n_dec))
            A, rl, ru, _groups = self._assemble(cols, cuts, counts, sigma=sigma, sigma_cap=sigma_cap)
            c, lb, ub, integ = self._vectors(cols, counts, base, sigma=sigma)
            t1 = time.perf_counter()
            res = _highs.solve(c, A, rl, ru, lb, ub, integ, time_limit=remaining(), mip_rel_gap=mip_rel_gap)
            self.stats["milp"] += 1
            self.stats["milp_seconds"] += time.perf_counter() - t1
            if res.x is not None and res.fun < incumbent:
                incumbent, best = float(res.fun), (cols, res)
            # a column outside can only matter if it could beat the incumbent by more than the gap asked for
            target = incumbent - mip_rel_gap * abs(incumbent) + 1e-9 if math.isfinite(incumbent) else math.inf
            could = self.is_y & ~self.active & (bound + penalty < target)
            if not could.any():
                proven = True
                break
            room = self.max_active - len(self.order)
            left = remaining()
            if left is not None and left <= 1e-3:
                why = "the time limit stopped the column generation before optimality was proved"
                break
            order = np.flatnonzero(could)
            if best is None and room > 0:
                # no plan on these columns yet: bring in more, the most promising first, doubling each time
                grow = max(1000, len(self.order))
                order = order[np.argsort(penalty[order], kind="stable")][: min(room, grow)]
            elif best is None:
                # No plan on the columns in the program and no room to bring in every column that might
                # hold one: settle it on the whole program (every column, coefficients exact or bounds).
                settled = self._whole(cuts, counts, base, sigma=sigma, sigma_cap=sigma_cap, time_limit=remaining(),
                                      mip_rel_gap=mip_rel_gap)
                if settled.x is None:
                    proven = settled.status == 2
                    break
                order = np.flatnonzero(self.is_y & ~self.active & (settled.x[: m.ncol] > 0.5))
                if not order.size:
                    incumbent, best, proven = float(settled.fun), (np.arange(m.ncol), settled), True
                    break
            elif room <= 0:
                # The program is full: take out the columns that cannot be part of a plan better than the target
                # (their Lagrangian bound says so), keeping the incumbent's, and bring in the most promising.
                useless = self.active & self.is_y & ~self._used(*best) & (bound + penalty >= target)
                self.deactivate(np.flatnonzero(useless))
                room = self.max_active - len(self.order)
                if room <= 0:
                    why = (f"the columns that could still improve the plan do not fit in the program's memory "
                           f"(PROGRAM_BYTES, {PROGRAM_BYTES / 2**30:g} GiB of annual losses); optimality not proved")
                    break
                order = order[np.argsort(penalty[order], kind="stable")][:room]
            else:
                order = order[np.argsort(penalty[order], kind="stable")][:room]
            self.stats["brought_in"] += self.activate(order)
            self._upgrade(cuts)
        if best is None:
            status = 2 if proven else 4
            return OptimizeResult(x=None, fun=None, status=status, message=res.message, success=False,
                                  mip_gap=math.nan, mip_dual_bound=math.nan)
        cols, res = best
        if math.isfinite(bound):
            self.expected_gap = 1.5 * max(float(res.fun) - bound, 0.0)
        dual = float(getattr(res, "mip_dual_bound", res.fun))
        rest = self.is_y & ~self.active
        if rest.any():
            dual = min(dual, bound + float(penalty[rest].min()))
        gap = (res.fun - dual) / max(abs(res.fun), 1e-12) if dual < res.fun else 0.0
        if proven:
            gap = max(gap, float(getattr(res, "mip_gap", 0.0) or 0.0))
        return OptimizeResult(x=full(cols, res.x), fun=res.fun, status=res.status if proven else 1,
                              message=res.message if proven else why,
                              success=res.success, mip_gap=max(gap, 0.0), mip_dual_bound=dual)
