"""Exact mixed-integer program (HiGHS through scipy) and a heuristic with a bound.

The program, on the simulated sample of a :class:`DecisionProblem`:

* binaries ``x`` (fund control / project) and ``w`` (buy a project's
  security-by-design option, ``w <= x``);
* for every scenario touched by a decision, continuous ``y[j, c] >= 0`` with
  ``sum_c y[j, c] = 1`` and, for each decision touching it, the share of
  ``y`` on combinations where the decision is on equal to that decision's
  binary. With the binaries at 0 or 1 the only solution puts all weight on
  the one matching combination, so ``y`` needs no integrality;
* maximise expected value delivered - spend - mean annual loss (a linear
  function of ``x``, ``w`` and ``y``);
* subject to the budget, optional security/IT budgets and security share,
  dependencies (``A requires B``: ``x_A <= x_B``), exclusions
  (``x_A + x_B <= 1``), and appetite limits on the sample:

  - TVaR_q <= limit: the mean of the worst ``m = n (1 - q)`` share of years
    <= limit, the last year counted with the fractional weight ``m - floor(m)``
    (the Rockafellar-Uryasev CVaR of the sample), which is exactly
    :func:`riskbudget.metrics.tvar`. It enters as cuts
    ``(1/m) sum_t w_t loss_t <= limit`` with the weights ``w`` of the worst
    years of each solution found (valid for every plan, since the plan's own
    worst years give the largest such sum), added round by round until the
    solution meets the limit on the whole sample (Kunzi-Bay and Mayer's
    cutting-plane form of the CVaR program, much faster here than one
    ``u_t`` row per year);
  - VaR_q <= limit: by default the same constraint (conservative: it bounds
    the mean of the tail, which is at least VaR); with
    ``var_method="exact"`` through per-year indicators like an exceedance
    limit;
  - P(loss > x) <= p: per-year binaries ``b_t`` with
    ``loss_t - x <= M_t b_t`` and ``sum b_t <= floor(p n)``, added only for
    years some solution put above ``x`` (years above ``x`` under every plan
    count as forced); when those
    years exceed ``max_indicator_years`` the limit is replaced by the
    conservative CVaR constraint (mean of the ``floor(p n) + 1`` largest
    losses <= x), after which the plan is improved by a local search that
    checks every limit exactly, and its gap is reported against the optimum
    without the appetite (status ``"heuristic"``).

Pointwise lower and upper bounds of each year's loss over all combinations
give the forced years and the big-M constants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _progress
from ..appetite import LimitKind
from ..exceptions import RiskBudgetError
from .problem import DecisionProblem, Funding

__all__ = ["Constraints", "TailConstraint", "SolveResult", "solve_milp", "solve_heuristic", "tail_constraints"]


@dataclass(frozen=True)
class Constraints:
    """Everything a plan must satisfy besides the appetite."""

    budget: float
    security_budget: float | None = None
    it_budget: float | None = None
    min_security_share: float | None = None
    max_security_share: float | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    requires: tuple[tuple[str, str], ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class TailConstraint:
    """One appetite limit as the program sees it."""

    label: str
    kind: str  # "cvar" (mean of the worst m years <= limit) or "count" (#{loss > threshold} <= allowed)
    m: float = 0.0  # "cvar": the number of worst years, n (1 - q), possibly fractional
    threshold: float = 0.0
    allowed: int = 0
    note: str = ""


def _m_of(n: int, q: float) -> int:
    return n - int(math.ceil((n - 1) * q))


def _mass_of(n: int, q: float) -> float:
    """n (1 - q), the (possibly fractional) number of years TVaR_q averages (as metrics.tvar)."""
    m = n * (1.0 - q)
    return float(round(m)) if abs(m - round(m)) <= 1e-9 * max(1.0, m) else m


def _tail_weights(x: np.ndarray, m: float) -> tuple[np.ndarray, np.ndarray]:
    """(years, weights) of the worst ``m`` years of ``x``: weight 1, the last ``m - floor(m)``."""
    k = int(math.floor(m + 1e-9))
    frac = m - k
    take = min(k + (1 if frac > 1e-12 else 0), x.size)
    top = np.argpartition(x, x.size - take)[x.size - take :]
    top = top[np.argsort(x[top])[::-1]]
    w = np.ones(take)
    if take > k:
        w[-1] = frac
    return top, w


def tail_constraints(appetite: Any, n: int, *, var_method: str = "cvar") -> list[TailConstraint]:
    """Translate an :class:`~riskbudget.Appetite` into program constraints."""
    out: list[TailConstraint] = []
    if appetite is None:
        return out
    if var_method not in ("cvar", "exact"):
        raise RiskBudgetError(f"var_method ({var_method!r}) must be 'cvar' or 'exact'")
    for lim in appetite.limits:
        if lim.kind is LimitKind.TVAR:
            mass = _mass_of(n, lim.param)
            out.append(
                TailConstraint(
                    lim.label,
                    "cvar",
                    m=mass,
                    threshold=lim.limit,
                    note=f"{lim.label}: sample CVaR (mean of the worst {mass:g} years), exact",
                )
            )
        elif lim.kind is LimitKind.VAR:
            m = _m_of(n, lim.param)
            if var_method == "cvar":
                out.append(
                    TailConstraint(
                        lim.label,
                        "cvar",
                        m=_mass_of(n, lim.param),
                        threshold=lim.limit,
                        note=f"{lim.label}: through the CVaR of the same tail (conservative: the tail mean is at least VaR)",
                    )
                )
            else:
                out.append(
                    TailConstraint(
                        lim.label,
                        "count",
                        threshold=lim.limit,
                        allowed=m - 1,
                        note=f"{lim.label}: per-year indicators, at most {m - 1} years above the limit (exact up to interpolation)",
                    )
                )
        else:
            allowed = int(math.floor(lim.limit * n + 1e-9))
            out.append(
                TailConstraint(
                    lim.label,
                    "count",
                    threshold=lim.param,
                    allowed=allowed,
                    note=f"{lim.label}: per-year indicators, at most {allowed} of {n} years above {lim.param:,.0f}",
                )
            )
    if appetite.tolerance is not None:
        for p in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001):
            if p * n < 20:
                continue
            x = float(appetite.tolerance.loss_at(p))
            allowed = int(math.floor(p * n + 1e-9))
            out.append(
                TailConstraint(
                    f"tolerance at P={p:g}",
                    "count",
                    threshold=x,
                    allowed=allowed,
                    note=f"tolerance curve checked at P(loss > {x:,.0f}) <= {p:g}; between these points only the final check applies",
                )
            )
    return out


@dataclass
class SolveResult:
    funding: Funding
    status: str  # "optimal", "time_limit", "infeasible_appetite", "heuristic"
    gap: float
    bound: float  # upper bound on expected net value
    objective: float  # expected net value of the solution as the program saw it
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    shortfall: float = 0.0  # relative appetite violation sigma of the least-risk plan


# --------------------------------------------------------------------------- #
# Model building
# --------------------------------------------------------------------------- #
class _Model:
    """The program without its tail constraints, plus the data to generate them lazily.

    Tail constraints are added as cuts (Kunzi-Bay and Mayer's cutting-plane
    form of the Rockafellar-Uryasev CVaR): for the current solution's ``m``
    worst years ``T``, ``(1/m) sum_{t in T} loss_t <= limit``, valid for every
    plan because the mean of the ``m`` largest losses is at least the mean of
    any ``m`` years. Exceedance limits get per-year indicator rows only for the
    years some solution put above the threshold. Each round re-solves a small
    MILP; when the solution satisfies every limit on the whole sample it is
    optimal for the full program.
    """

    def __init__(self, problem: DecisionProblem, cons: Constraints, *, lower_bound_only: Sequence[int] = ()) -> None:
        import scipy.sparse as sp

        self.p = problem
        self.cons = cons
        n = problem.years
        nc, npj = len(problem.controls), len(problem.projects)
        self.scale = S = 1e6
        col = 0
        self.xc = list(range(col, col + nc))
        col += nc
        self.xp = list(range(col, col + npj))
        col += npj
        self.w: dict[int, int] = {}
        for k, proj in enumerate(problem.projects):
            if proj.security_by_design is not None:
                self.w[k] = col
                col += 1
        n_dec = col
        const = np.zeros(n)
        lo = np.zeros(n)
        hi = np.zeros(n)
        self.blocks: list[tuple[int, int, int]] = []
        mats: list[np.ndarray] = []
        means: list[np.ndarray] = []
        lb_only = set(lower_bound_only)
        for j in range(len(problem.universe)):
            ncomb = problem.n_combinations[j]
            if ncomb == 1:
                c0 = problem.column(j, 0)
                const += c0
                lo += c0
                hi += c0
                continue
            if j in lb_only:
                c_lb = problem.combination(j, np.ones(nc, dtype=bool), np.zeros(npj, dtype=np.int64))
                colv = problem.column(j, c_lb)
                const += colv
                lo += colv
                hi += colv
                continue
            L = np.column_stack([problem.column(j, c) for c in range(ncomb)]) if problem.lazy else problem.losses[j]
            self.blocks.append((j, col, ncomb))
            mats.append(L)
            means.append(L.mean(axis=0))
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

        c_obj = np.zeros(col)
        for i, ctrl in enumerate(problem.controls):
            c_obj[self.xc[i]] = ctrl.cost_per_year / S
        for k, proj in enumerate(problem.projects):
            c_obj[self.xp[k]] = (proj.cost_per_year - proj.expected_value()) / S
            if k in self.w:
                lost = proj.expected_value() - proj.expected_value(security_by_design=True)
                c_obj[self.w[k]] = (proj.security_by_design.cost_per_year + lost) / S  # type: ignore[union-attr]
        for (_j, first, cnt), m in zip(self.blocks, means):
            c_obj[first : first + cnt] = m / S
        self.c = c_obj
        self.const_mean = float(const.mean())

        rows: list[tuple[dict[int, float], float, float]] = []

        def row(coefs: dict[int, float], lo_: float, hi_: float) -> None:
            rows.append((coefs, lo_, hi_))

        for j, first, cnt in self.blocks:
            row({first + c: 1.0 for c in range(cnt)}, 1.0, 1.0)
            states = np.array([problem.combination_states(j, c) for c in range(cnt)])
            for pos, ((kind, i), r) in enumerate(zip(problem.touching[j], problem.radix[j])):
                x = self.xc[i] if kind == "control" else self.xp[i]
                coefs = {int(first + c): 1.0 for c in np.flatnonzero(states[:, pos] >= 1)}
                coefs[x] = -1.0
                row(coefs, 0.0, 0.0)
                if r == 3:
                    coefs = {int(first + c): 1.0 for c in np.flatnonzero(states[:, pos] == 2)}
                    coefs[self.w[i]] = -1.0
                    row(coefs, 0.0, 0.0)
        for k, wcol in self.w.items():
            row({wcol: 1.0, self.xp[k]: -1.0}, -np.inf, 0.0)

        sec = {self.xc[i]: ctrl.cost_per_year / S for i, ctrl in enumerate(problem.controls)}
        for k, wcol in self.w.items():
            sec[wcol] = problem.projects[k].security_by_design.cost_per_year / S  # type: ignore[union-attr]
        it = {self.xp[k]: proj.cost_per_year / S for k, proj in enumerate(problem.projects)}
        row({**sec, **it}, -np.inf, cons.budget / S)
        if cons.security_budget is not None:
            row(dict(sec), -np.inf, cons.security_budget / S)
        if cons.it_budget is not None:
            row(dict(it), -np.inf, cons.it_budget / S)
        for share, sense in ((cons.min_security_share, "min"), (cons.max_security_share, "max")):
            if share is None:
                continue
            d: dict[int, float] = {}
            for key, v in sec.items():
                d[key] = d.get(key, 0.0) + v * (1.0 - share)
            for key, v in it.items():
                d[key] = d.get(key, 0.0) - v * share
            row(d, 0.0, np.inf) if sense == "min" else row(d, -np.inf, 0.0)

        def var_of(name: str) -> int:
            if name in problem.control_index:
                return self.xc[problem.control_index[name]]
            return self.xp[problem.project_index[name]]

        for a, b in cons.requires:
            row({var_of(a): 1.0, var_of(b): -1.0}, -np.inf, 0.0)
        for group in cons.exclusive:
            row({var_of(g): 1.0 for g in group}, -np.inf, 1.0)

        self.lb = np.zeros(col)
        self.ub = np.ones(col)
        for name in cons.include:
            self.lb[var_of(name)] = 1.0
        for name in cons.exclude:
            self.ub[var_of(name)] = 0.0
        self.integrality = np.zeros(col)
        self.integrality[:n_dec] = 1
        data, ri, ci, rl, ru = [], [], [], [], []
        for r, (coefs, l_, u_) in enumerate(rows):
            for k_, v in coefs.items():
                ri.append(r)
                ci.append(k_)
                data.append(v)
            rl.append(l_)
            ru.append(u_)
        self.A = sp.csr_matrix(
            (np.array(data, dtype=float), (np.array(ri, dtype=int), np.array(ci, dtype=int))), shape=(len(rows), col)
        )
        self.rl = np.array(rl, dtype=float)
        self.ru = np.array(ru, dtype=float)

    # -- cuts ------------------------------------------------------------- #
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
        cuts: list[tuple[np.ndarray, float, float]],
        counts: list[_CountState],
        *,
        objective: np.ndarray | None = None,
        sigma: bool = False,
        sigma_cap: float | None = None,
        minimize_sigma: bool = False,
        relax: bool = False,
        time_limit: float | None,
        mip_rel_gap: float,
    ) -> Any:
        """Solve with the given cuts ``(coef, rhs, sigma_coef)`` and indicator years."""
        import scipy.sparse as sp
        from scipy.optimize import Bounds, LinearConstraint, milp

        nb = sum(len(cs.years) for cs in counts)
        ncol = self.ncol + nb + (1 if sigma else 0)
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
                blocks_rows = sp.csr_matrix(A)
                blocks.append(blocks_rows)
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
        A = sp.vstack(blocks, format="csr")
        c = np.zeros(ncol)
        base = self.c if objective is None else objective
        c[: base.size] = base
        if minimize_sigma:
            c[:] = 0.0
            c[sig] = 1.0
        lb = np.concatenate([self.lb, np.zeros(nb), [0.0] if sigma else []])
        ub = np.concatenate([self.ub, np.ones(nb), [np.inf] if sigma else []])
        integ = np.concatenate([self.integrality, np.ones(nb), [0] if sigma else []])
        options: dict[str, Any] = {"mip_rel_gap": mip_rel_gap, "presolve": True}
        if time_limit is not None:
            options["time_limit"] = max(float(time_limit), 1e-3)
        return milp(
            c,
            constraints=LinearConstraint(A, np.concatenate(rl), np.concatenate(ru)),
            integrality=np.zeros_like(integ) if relax else integ,
            bounds=Bounds(lb, ub),
            options=options,
        )

    def decode(self, x: np.ndarray) -> Funding:
        p = self.p
        xc = [x[i] > 0.5 for i in self.xc]
        sp_ = []
        for k in range(len(p.projects)):
            st = 0
            if x[self.xp[k]] > 0.5:
                st = 2 if (k in self.w and x[self.w[k]] > 0.5) else 1
            sp_.append(st)
        return p.from_vectors(xc, sp_)

    def net_of(self, objective_value: float) -> float:
        return -(objective_value * self.scale + self.const_mean)


@dataclass
class _CountState:
    threshold: float
    allowed: int
    forced: int
    years: list[int] = field(default_factory=list)


def _after_switch(
    model: _Model,
    exact_tails: list[TailConstraint],
    funding: Funding,
    notes: list[str],
    switched: list[str],
    t0: float,
    time_limit: float | None,
    mip_rel_gap: float,
) -> SolveResult:
    """Improve a plan found with conservatively enforced limits, checking the limits exactly, and bound it.

    The bound is the optimum without any appetite limit (a relaxation), so the
    reported gap is an upper bound on how far the plan can be from the optimum.
    """
    p = model.p
    best = _local_search(model, exact_tails, funding, add=True)
    sec, it = p.spend(best)
    net = p.expected_value(best) - float(p.total_losses(best).mean()) - sec - it
    free = model.solve(
        [],
        [],
        time_limit=None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 1.0),
        mip_rel_gap=mip_rel_gap,
    )
    bound = model.net_of(free.fun) if free.x is not None else math.inf
    if free.x is not None:
        bound = max(bound, net)
    gap = (bound - net) / max(abs(net), 1.0) if math.isfinite(bound) else math.inf
    notes.append(
        f"{', '.join(switched)}: too many years needed indicators, so the program used a conservative form; the plan "
        f"was then improved by local search with every limit checked exactly on the sample. Gap to the optimum without "
        f"the appetite (an upper bound): {gap:.1%}"
    )
    return SolveResult(best, "heuristic", gap, bound, net, notes, time.perf_counter() - t0)


def _status_message(res: Any) -> str:
    return f"HiGHS status {res.status}: {res.message}"


def _violations(
    model: _Model, tails: list[TailConstraint], counts: dict[int, _CountState], x: np.ndarray
) -> list[tuple[int, float, np.ndarray]]:
    """(tail index, relative violation, offending years) for each limit of a solution's losses ``x``."""
    out = []
    for k, tc in enumerate(tails):
        if tc.kind == "cvar":
            top, w = _tail_weights(x, tc.m)
            mean = float(w @ x[top]) / tc.m
            out.append((k, mean / tc.threshold - 1.0, top))
        else:
            over = np.flatnonzero(x > tc.threshold)
            out.append((k, (over.size - tc.allowed) / max(tc.allowed, 1), over))
    return out


def _structural_ok(model: _Model, f: Funding) -> bool:
    """Budget, caps, shares, dependencies, exclusions and include/exclude of a funding choice."""
    p, cons = model.p, model.cons
    on = set(f.names)
    if any(n not in on for n in cons.include) or any(n in on for n in cons.exclude):
        return False
    items = [p.controls[p.control_index[n]] for n in f.controls] + [p.projects[p.project_index[n]] for n in f.projects]
    if any(r not in on for it in items for r in it.requires) or any(x in on for it in items for x in it.excludes):
        return False
    if any(a in on and b not in on for a, b in cons.requires) or any(
        sum(g in on for g in grp) > 1 for grp in cons.exclusive
    ):
        return False
    sec, it = p.spend(f)
    tot = sec + it
    if tot > cons.budget * (1 + 1e-12) + 1e-6:
        return False
    if cons.security_budget is not None and sec > cons.security_budget * (1 + 1e-12) + 1e-6:
        return False
    if cons.it_budget is not None and it > cons.it_budget * (1 + 1e-12) + 1e-6:
        return False
    if cons.min_security_share is not None and sec < cons.min_security_share * tot - 1e-9:
        return False
    if cons.max_security_share is not None and sec > cons.max_security_share * tot + 1e-9:
        return False
    return True


def _local_search(
    model: _Model, tails: list[TailConstraint], funding: Funding, *, add: bool, max_rounds: int = 100
) -> Funding:
    """Best-improvement search over one-change moves, each checked exactly on the sample.

    With ``add=False`` only removals are tried: HiGHS stops within its tolerances
    (relative gap and about a dollar absolute), so a control that removes nothing
    but costs a dollar could stay funded; this drops it. With ``add=True`` every
    one-change move and every swap of two controls is tried (used after a limit
    had to be enforced conservatively).
    """
    p = model.p

    def limits_ok(f: Funding) -> bool:
        x = p.total_losses(f)
        return all(v <= 1e-12 for _, v, _ in _violations(model, tails, {}, x))

    def net(f: Funding) -> float:
        sec, it = p.spend(f)
        return p.expected_value(f) - float(p.total_losses(f).mean()) - sec - it

    best, best_net = funding, net(funding)
    for _ in range(max_rounds):
        xc, sp_ = p.vectors(best)
        moves = []
        for i in range(len(p.controls)):
            if xc[i] or add:
                y = xc.copy()
                y[i] = not y[i]
                moves.append((y, sp_))
        for k, proj in enumerate(p.projects):
            for st in range(3 if proj.security_by_design is not None else 2):
                if st != sp_[k] and (add or st < sp_[k]):
                    s2 = sp_.copy()
                    s2[k] = st
                    moves.append((xc, s2))
        if add:
            for on_ in np.flatnonzero(xc):
                for off_ in np.flatnonzero(~xc):
                    y = xc.copy()
                    y[on_], y[off_] = False, True
                    moves.append((y, sp_))
        found = None
        for y, s2 in moves:
            f = p.from_vectors(y, s2)
            v = net(f)
            if v > best_net + 1e-9 * max(1.0, abs(best_net)) and (found is None or v > found[1]):
                if _structural_ok(model, f) and limits_ok(f):
                    found = (f, v)
        if found is None:
            break
        best, best_net = found
    return best


def _polish(model: _Model, tails: list[TailConstraint], funding: Funding) -> Funding:
    """Drop funded controls or options that do not pay within the solver's tolerance."""
    return _local_search(model, tails, funding, add=False)


def solve_milp(
    problem: DecisionProblem,
    cons: Constraints,
    tails: list[TailConstraint],
    *,
    time_limit: float | None = None,
    mip_rel_gap: float = 1e-6,
    max_indicator_years: int = 500,
    max_rounds: int = 200,
    cut_pool: dict[str, Any] | None = None,
) -> SolveResult:
    """Solve the program exactly on the sample (up to ``mip_rel_gap``), adding tail cuts as needed.

    ``cut_pool`` (a dict kept by the caller) carries cuts and indicator years
    from one solve to the next on the same problem and appetite, e.g. along
    a frontier: they are valid whatever the budget.
    """
    t0 = time.perf_counter()
    model = _Model(problem, cons)
    notes: list[str] = []
    exact_tails = list(tails)
    tails = list(tails)
    switched: list[str] = []
    counts: dict[int, _CountState] = {}
    for k, tc in enumerate(tails):
        if tc.kind == "count":
            forced = int(np.count_nonzero(model.lo > tc.threshold))
            counts[k] = _CountState(tc.threshold, tc.allowed, forced)
        if tc.note:
            notes.append(tc.note)

    def remaining() -> float | None:
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    def loop(sigma: bool, sigma_cap: float | None, cuts: list[Any], minimize_sigma: bool = False) -> tuple[Any, int]:
        rounds = 0
        # Cut-generation rounds stop the solver early (a loose gap); once no cut is
        # needed the program is solved to the requested gap, and cutting resumes if
        # that solution breaks a limit.
        gap = max(mip_rel_gap, 1e-2) if tails else mip_rel_gap
        while True:
            rounds += 1
            res = model.solve(
                cuts,
                list(counts.values()),
                sigma=sigma,
                sigma_cap=sigma_cap,
                minimize_sigma=minimize_sigma,
                time_limit=remaining(),
                mip_rel_gap=gap,
            )
            if res.x is None or not tails:
                return res, rounds
            funding = model.decode(res.x)
            losses = problem.total_losses(funding)
            level = float(res.x[-1]) if sigma else 0.0
            added = False
            for k, viol, years in _violations(model, tails, counts, losses):
                if viol <= level + 1e-9:
                    continue
                tc = tails[k]
                if tc.kind == "cvar":
                    _top, w = _tail_weights(losses, tc.m)  # years come sorted worst first with these weights
                    coef = model.year_row(years, w) / tc.m
                    rhs = (tc.threshold - float(w @ model.const[years]) / tc.m) / model.scale
                    cuts.append((coef, rhs, tc.threshold / model.scale))
                    added = True
                else:
                    cs = counts[k]
                    have = set(cs.years)
                    new = [int(t) for t in years if int(t) not in have and model.lo[t] <= tc.threshold]
                    if len(cs.years) + len(new) > max_indicator_years:
                        # too many indicator years: switch this limit to its conservative CVaR form
                        m = tc.allowed + 1
                        tails[k] = TailConstraint(tc.label, "cvar", m=m, threshold=tc.threshold)
                        notes.append(
                            f"{tc.label}: more than max_indicator_years={max_indicator_years} years needed indicators; "
                            f"enforced conservatively as the mean of the {m} largest years <= {tc.threshold:,.0f}"
                        )
                        del counts[k]
                        switched.append(tc.label)
                        added = True
                        continue
                    cs.years.extend(new)
                    added = added or bool(new)
            if not added:
                if gap > mip_rel_gap:
                    gap = mip_rel_gap
                    continue
                return res, rounds
            if rounds >= max_rounds:
                raise RiskBudgetError(
                    f"optimize: tail cuts did not converge in {max_rounds} rounds; raise max_rounds or simplify the appetite"
                )
            if time_limit is not None and remaining() <= 0:  # type: ignore[operator]
                return res, rounds

    pool = cut_pool if cut_pool is not None else {}
    key = tuple((tc.kind, tc.m, tc.threshold, tc.allowed) for tc in tails)
    if pool.get("key") != key:
        pool.clear()
        pool["key"] = key
        pool["cuts"] = []
        pool["years"] = {}
    cuts: list[tuple[np.ndarray, float, float]] = pool["cuts"]
    for k, cs in counts.items():
        cs.years.extend(pool["years"].get(k, []))
    res, rounds = loop(False, None, cuts)
    for k, cs in counts.items():
        pool["years"][k] = list(cs.years)
    if switched:
        # cuts of a conservative stand-in are not valid for the limit as stated: start afresh next time
        pool.clear()
    if tails:
        notes.append(
            f"tail limits enforced with {len(cuts)} cut(s) and {sum(len(c.years) for c in counts.values())} indicator year(s) in {rounds} round(s)"
        )
    if res.x is not None and res.status in (0, 1) and switched:
        return _after_switch(model, exact_tails, model.decode(res.x), notes, switched, t0, time_limit, mip_rel_gap)
    if res.x is not None and res.status in (0, 1):
        funding = _polish(model, tails, model.decode(res.x))
        gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
        dual = getattr(res, "mip_dual_bound", None)
        bound = model.net_of(dual) if dual is not None and np.isfinite(dual) else math.nan
        status = "optimal" if res.status == 0 else "time_limit"
        return SolveResult(funding, status, gap, bound, model.net_of(res.fun), notes, time.perf_counter() - t0)
    if res.status == 2 and tails:
        r1, _ = loop(True, None, cuts, minimize_sigma=True)
        if r1.x is None:
            raise RiskBudgetError(
                "optimize: no plan satisfies the budget and the structural constraints (include/exclude, "
                f"requires, exclusive, security budgets), even ignoring the appetite ({_status_message(r1)})"
            )
        sigma_star = float(r1.x[-1])
        r2, _ = loop(True, sigma_star * (1 + 1e-6) + 1e-9, cuts)
        best = r2 if r2.x is not None else r1
        funding = model.decode(best.x)
        if switched and all(
            v <= 1e-12 for _, v, _ in _violations(model, exact_tails, {}, problem.total_losses(funding))
        ):
            # the conservative form was infeasible, but this plan meets the limits as stated
            return _after_switch(model, exact_tails, funding, notes, switched, t0, time_limit, mip_rel_gap)
        notes.append(
            f"the appetite cannot be met within the budget on this sample; this is the least-risk plan "
            f"(every limit missed by at most {sigma_star:.1%} of its value), best in net value among those"
        )
        net = model.net_of(float(np.dot(model.c, best.x[: model.ncol])))
        return SolveResult(
            funding,
            "infeasible_appetite",
            float(getattr(best, "mip_gap", 0.0) or 0.0),
            math.nan,
            net,
            notes,
            time.perf_counter() - t0,
            shortfall=sigma_star,
        )
    raise RiskBudgetError(
        "optimize: no plan satisfies the budget and the structural constraints (include/exclude, requires, exclusive, "
        f"security budgets); {_status_message(res)}"
    )


# --------------------------------------------------------------------------- #
# Heuristic for problems too large to enumerate
# --------------------------------------------------------------------------- #
def solve_heuristic(
    problem: DecisionProblem,
    cons: Constraints,
    appetite: Any,
    tails: list[TailConstraint],
    *,
    enumeration_cap: int = 256,
    max_rounds: int = 200,
    time_limit: float | None = None,
    progress: bool | None = None,
) -> SolveResult:
    """Greedy construction plus first-improvement local search (flips and swaps), with an LP bound.

    Every candidate is scored exactly on the sample (combinations are simulated
    on first use). The bound is the LP relaxation of the program in which each
    scenario with more than ``enumeration_cap`` combinations is replaced by its
    pointwise smallest loss (every control on, no project), which no plan can
    beat since controls only thin events and shrink losses and projects only
    add them.
    """
    t0 = time.perf_counter()
    nc, npj = len(problem.controls), len(problem.projects)
    sbd_ok = [p.security_by_design is not None for p in problem.projects]

    def names_on(xc: np.ndarray, sp_: np.ndarray) -> set[str]:
        return {problem.controls[i].name for i in range(nc) if xc[i]} | {
            problem.projects[k].name for k in range(npj) if sp_[k]
        }

    deps: list[tuple[str, str]] = list(cons.requires)
    excl: list[tuple[str, ...]] = list(cons.exclusive)

    def structural_ok(xc: np.ndarray, sp_: np.ndarray) -> bool:
        on = names_on(xc, sp_)
        if any(n not in on for n in cons.include) or any(n in on for n in cons.exclude):
            return False
        if any(a in on and b not in on for a, b in deps):
            return False
        if any(sum(g in on for g in grp) > 1 for grp in excl):
            return False
        f = problem.from_vectors(xc, sp_)
        sec, it = problem.spend(f)
        if sec + it > cons.budget * (1 + 1e-12):
            return False
        if cons.security_budget is not None and sec > cons.security_budget * (1 + 1e-12):
            return False
        if cons.it_budget is not None and it > cons.it_budget * (1 + 1e-12):
            return False
        tot = sec + it
        if cons.min_security_share is not None and sec < cons.min_security_share * tot - 1e-9:
            return False
        if cons.max_security_share is not None and sec > cons.max_security_share * tot + 1e-9:
            return False
        return True

    def evaluate(xc: np.ndarray, sp_: np.ndarray) -> tuple[float, float]:
        """(violation, -net value): lexicographic key to minimise."""
        f = problem.from_vectors(xc, sp_)
        x = problem.total_losses(f)
        sec, it = problem.spend(f)
        net = problem.expected_value(f) - float(x.mean()) - sec - it
        violation = 0.0
        if appetite is not None:
            for lim in appetite.limits:
                v = lim.value(x)
                if v > lim.limit:
                    violation += (v - lim.limit) / lim.limit
        return violation, -net

    xc = np.zeros(nc, dtype=bool)
    sp_ = np.zeros(npj, dtype=np.int64)
    for name in cons.include:
        if name in problem.control_index:
            xc[problem.control_index[name]] = True
        else:
            sp_[problem.project_index[name]] = 1
    if not structural_ok(xc, sp_):
        raise RiskBudgetError("optimize (heuristic): the included items alone break the budget or a dependency")
    best = evaluate(xc, sp_)

    def moves(xc: np.ndarray, sp_: np.ndarray):  # noqa: ANN202
        for i in range(nc):
            y = xc.copy()
            y[i] = not y[i]
            yield y, sp_
        for k in range(npj):
            for st in range(3 if sbd_ok[k] else 2):
                if st != sp_[k]:
                    s2 = sp_.copy()
                    s2[k] = st
                    yield xc, s2

    bar = _progress.bar(_progress.enabled(progress, 10**9), max_rounds, "heuristic search")
    rounds = 0
    try:
        improved = True
        while improved and rounds < max_rounds:
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                break
            improved = False
            rounds += 1
            bar.update(1)
            candidates = []
            for y, s2 in moves(xc, sp_):
                if structural_ok(y, s2):
                    candidates.append((evaluate(y, s2), y, s2))
            # swaps: drop one funded item and add one unfunded
            if not candidates or min(c[0] for c in candidates) >= best:
                on_c = [i for i in range(nc) if xc[i]]
                off_c = [i for i in range(nc) if not xc[i]]
                for i in on_c:
                    for k in off_c:
                        y = xc.copy()
                        y[i] = False
                        y[k] = True
                        if structural_ok(y, sp_):
                            candidates.append((evaluate(y, sp_), y, sp_))
            if candidates:
                key, y, s2 = min(candidates, key=lambda t: t[0])
                if key < best:
                    best, xc, sp_ = key, y.copy(), s2.copy()
                    improved = True
    finally:
        bar.close()
    funding = problem.from_vectors(xc, sp_)
    net = -best[1]
    # bound: LP relaxation with non-enumerable scenarios at their pointwise lower bound
    big = [j for j, n in enumerate(problem.n_combinations) if n > enumeration_cap]
    model = _Model(problem, cons, lower_bound_only=big)
    relax = model.solve([], [], relax=True, time_limit=time_limit, mip_rel_gap=1e-9)
    bound = model.net_of(relax.fun) if relax.x is not None else math.inf
    gap = (bound - net) / max(abs(net), 1.0) if math.isfinite(bound) else math.inf
    notes = [
        f"heuristic (greedy + local search, {rounds} rounds); bound from the LP relaxation without the appetite"
        + (f" with {len(big)} scenario(s) at their pointwise smallest loss" if big else "")
    ]
    status = "heuristic" if best[0] == 0 else "infeasible_appetite"
    return SolveResult(funding, status, max(gap, 0.0), bound, net, notes, time.perf_counter() - t0, shortfall=best[0])
