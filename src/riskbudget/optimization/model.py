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
(:mod:`riskbudget.optimization.cuts`) and calls :func:`scipy.optimize.milp`.

Pointwise lower and upper bounds of each year's loss over all combinations
(``lo``, ``hi``) give the forced years and the big-M constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cuts import CountState, Cut
from .problem import DecisionProblem, Funding
from .rules import Constraints

__all__ = ["Model", "SolveResult", "SCALE"]

#: Dollars per unit in the program (HiGHS works best with numbers near 1).
SCALE = 1e6

Row = tuple[dict[int, float], float, float]


@dataclass
class SolveResult:
    """What a solver found: the funding, its status, gap and bound, and notes for the plan."""

    funding: Funding
    status: str  # "optimal", "time_limit", "infeasible_appetite", "heuristic"
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
        self.problem = problem
        self.cons = cons
        self.scale = SCALE
        n_dec = self._decision_columns()
        self._scenario_columns(set(lower_bound_only))
        self._objective()
        rows = self._linking_rows() + self._rule_rows()
        self._bounds(n_dec)
        self._matrix(rows)

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
            L = np.column_stack([problem.column(j, c) for c in range(ncomb)]) if problem.lazy else problem.losses[j]
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
        self.L = np.hstack(mats) if mats else np.zeros((n, 0))

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

    def _rule_rows(self) -> list[Row]:
        """The rules of the constraints as rows: budgets, shares, requires, exclusive."""
        problem, cons, S = self.problem, self.cons, self.scale
        rows: list[Row] = []
        sec = {self.xc[i]: ctrl.cost_per_year / S for i, ctrl in enumerate(problem.controls)}
        for k, wcol in self.w.items():
            sec[wcol] = problem.projects[k].security_by_design.cost_per_year / S  # type: ignore[union-attr]
        it = {self.xp[k]: proj.cost_per_year / S for k, proj in enumerate(problem.projects)}
        budget = np.inf if cons.budget is None else cons.budget / S
        rows.append(({**sec, **it}, -np.inf, budget))
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

    # -- cuts and solving --------------------------------------------------- #
    def year_row(self, t: np.ndarray | int, weights: np.ndarray | None = None) -> np.ndarray:
        """Coefficients (over the core columns) of the (weighted) summed loss of years ``t``, scaled."""
        out = np.zeros(self.ncol)
        L = self.L[t]
        if L.ndim == 2:
            total = L.sum(axis=0) if weights is None else weights @ L
        else:
            total = L if weights is None else float(weights) * L
        out[self.ycols] = total / self.scale
        return out

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
    ) -> Any:
        """Solve with the given cuts ``(coef, rhs, sigma_coef)`` and indicator years (one HiGHS call).

        With ``sigma`` a last column is the relative shortfall every appetite
        row may take (``minimize_sigma``: the objective; ``sigma_cap``: its cap).
        """
        from scipy.optimize import Bounds, LinearConstraint, milp

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
        options: dict[str, Any] = {"mip_rel_gap": mip_rel_gap, "presolve": True}
        if time_limit is not None:
            options["time_limit"] = max(float(time_limit), 1e-3)
        return milp(
            c,
            constraints=LinearConstraint(A, rl, ru),
            integrality=np.zeros_like(integ) if relax else integ,
            bounds=Bounds(lb, ub),
            options=options,
        )

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
                A[:, self.ycols] = self.L[ys] / self.scale
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
