"""Multi-year plans: phased costs, lead times and discounting, on one simulated sample.

Over a horizon of ``T`` years a funded item costs its ``cost_per_year`` every
year from year 1 (you pay while you implement) plus its ``one_off_cost`` in
year 1. Its effect (a control) or its value (a project) is live for the share
``clamp(t - lead_time_months / 12, 0, 1)`` of year ``t``; a project's added
attack surface exists from its planned go-live, and a security-by-design delay
postpones its value only (:meth:`~riskbudget.controls.Project.value_share`,
:meth:`~riskbudget.controls.Project.risk_share`).

**Year-``t`` losses.** Each scenario's precomputed combination columns (one
simulated sample, common random numbers) are mixed by the live shares. An item
live for the share ``s_i`` of year ``t`` goes live at ``1 - s_i`` of the way
through it and stays live, so the year splits at those points: each stretch
between successive go-live points weighs its length, with the column of the
items live in it (two controls going live after 3 and 6 months: a quarter of
the year with neither, a quarter with the first, half with both). In a year
where every item is either live or not (shares 0 or 1, the usual case from
year 2 on) that is exactly the simulated column. In a year with a partly live
item the mix gives the exact expected loss (events arrive evenly over the
year) but is an approximation of the year's distribution: VaR and TVaR in
such a year are those of the mix of the full-year outcomes, not of a year
split in parts. Plans say so in their notes.

**Net present value.** ``npv = sum_{t=1..T} (value_t - ALE_t - spend_t) /
(1 + r)^t``, discounted at the end of each year, with ``value_t`` the expected
value delivered (exact) and ``ALE_t`` the mean of the year-``t`` losses on the
sample.

**Optimising.** The NPV is linear in the program's columns, so the program of
:mod:`~riskbudget.optimization.model` is solved with the NPV as its objective
and one budget row per year (year 1 carries the one-off costs). Appetite limits
hold in every year of the horizon: each distinct year gets its own problem of
mixed columns, and the program is solved round by round with the cuts of
every year's broken limits (:func:`~riskbudget.optimization.horizon.solve_horizon`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics
from .._parse import parse_money, parse_number, parse_whole
from ..exceptions import RiskBudgetError
from .problem import DecisionProblem, Funding

if TYPE_CHECKING:
    from ..controls import Control, Project

__all__ = ["Horizon", "MAX_HORIZON", "horizon_of", "check_lead_times", "YearMix", "year_table", "npv_objective",
           "budget_rows", "year_problem", "returns_over_horizon"]

#: The longest horizon, in years.
MAX_HORIZON = 30


@dataclass(frozen=True)
class Horizon:
    """``years`` budget years, discounted at ``discount_rate``, with the budget of each year.

    Attributes
    ----------
    years : int
        The horizon ``T`` (1 to :data:`MAX_HORIZON`).
    discount_rate : float
        ``r`` > -1: year ``t``'s net value counts ``1 / (1 + r)^t``.
    budgets : tuple of float or None
        The budget of each year (None: no budget given).
    """

    years: int
    discount_rate: float = 0.0
    budgets: tuple[float, ...] | None = None

    def factor(self, t: int) -> float:
        """The discount factor of year ``t`` (end of year)."""
        return float((1.0 + self.discount_rate) ** -t)


def horizon_of(where: str, horizon: Any, discount_rate: Any, budget: Any = None) -> Horizon:
    """A checked :class:`Horizon` from the user's ``horizon``, ``discount_rate`` and ``budget``.

    ``budget`` is one amount for every year or one per year.
    """
    years = parse_whole(horizon, where=where, name="horizon", minimum=1, error=RiskBudgetError)
    if years > MAX_HORIZON:
        raise RiskBudgetError(f"{where}: horizon ({years}) must be at most {MAX_HORIZON} years", field="horizon")
    rate = parse_number(discount_rate, where=where, name="discount_rate", error=RiskBudgetError)
    if not rate > -1.0:
        raise RiskBudgetError(
            f"{where}: discount_rate ({rate!r}) must be above -1 (-100%): a year's value is divided by (1 + rate)^t",
            field="discount_rate",
        )
    budgets = None
    if budget is not None:
        if isinstance(budget, (str, bytes)) or not isinstance(budget, Sequence):
            one = parse_money(budget, where=where, name="budget", error=RiskBudgetError)
            budgets = (one,) * years
        else:
            budgets = tuple(parse_money(b, where=where, name=f"budget of year {t}", error=RiskBudgetError)
                            for t, b in enumerate(budget, start=1))
            if len(budgets) != years:
                raise RiskBudgetError(
                    f"{where}: budget has {len(budgets)} amounts but the horizon is {years} years; give one amount, "
                    "or one per year",
                    field="budget",
                )
        if any(b < 0 for b in budgets):
            raise RiskBudgetError(f"{where}: budget ({list(budgets)}) must not be negative", field="budget")
    return Horizon(years, rate, budgets)


def check_lead_times(where: str, problem: DecisionProblem, horizon: Horizon) -> None:
    """Refuse a candidate whose effect or value would start after the horizon (it could never pay back)."""
    items: list[Control | Project] = [*problem.controls, *problem.projects]
    for item in items:
        lead = float(item.lead_time_months)
        if lead >= 12.0 * horizon.years:
            kind = "control" if item in problem.controls else "project"
            raise RiskBudgetError(
                f"{where}: {kind} {item.name!r}: lead_time_months ({lead:g}) is beyond the horizon of "
                f"{horizon.years} year(s) ({12 * horizon.years} months): it would never be live; lengthen the horizon "
                "or drop the candidate",
                field="lead_time_months",
            )


class YearMix:
    """The year-``t`` losses of every funding choice, mixed from the precomputed combination columns."""

    def __init__(self, problem: DecisionProblem) -> None:
        if problem.lazy:
            raise RiskBudgetError("a multi-year plan needs a precomputed problem (method='heuristic' is one-year only)")
        self.problem = problem
        self._weights: dict[tuple[int, int, int], list[tuple[int, float]]] = {}
        self._means: dict[tuple[int, int], float] = {}

    def _share(self, j: int, pos: int, state: int, t: int) -> float:
        kind, i = self.problem.touching[j][pos]
        if kind == "control":
            return self.problem.controls[i].effect_share(t)
        return self.problem.projects[i].risk_share(t)

    def weights(self, j: int, c: int, t: int) -> list[tuple[int, float]]:
        """``(combination, weight)`` pairs whose weighted columns make scenario ``j``'s year ``t`` under ``c``."""
        key = (j, c, t)
        if key in self._weights:
            return self._weights[key]
        states = self.problem.combination_states(j, c)
        radix = self.problem.radix[j]
        strides = np.cumprod([1, *radix[:-1]]).tolist()
        on = [(pos, st, self._share(j, pos, st, t)) for pos, st in enumerate(states) if st >= 1]
        # An item live for the share s of the year went live at 1 - s (as a fraction of the year) and stays live:
        # the year splits at those points, and each stretch weighs its length with the items live in it.
        starts = [1.0 - share for _, _, share in on]
        cuts = sorted({0.0, 1.0, *starts})
        out: dict[int, float] = {}
        for lo, hi in zip(cuts, cuts[1:]):
            idx = c
            for (pos, st, _share), start in zip(on, starts):
                if start > lo:  # not yet live in this stretch
                    idx -= st * strides[pos]
            out[idx] = out.get(idx, 0.0) + (hi - lo)
        pairs = sorted(out.items())
        self._weights[key] = pairs
        return pairs

    def column_mean(self, j: int, c: int) -> float:
        key = (j, c)
        if key not in self._means:
            means = getattr(self.problem, "means", None)
            self._means[key] = float(means[j][c]) if self.problem.losses is None and means is not None \
                else float(self.problem.column(j, c).mean())
        return self._means[key]

    def mean(self, j: int, c: int, t: int) -> float:
        """The year-``t`` expected loss of scenario ``j`` under combination ``c`` (exact on the sample)."""
        return float(sum(w * self.column_mean(j, k) for k, w in self.weights(j, c, t)))

    def losses(self, funding: Funding, t: int) -> np.ndarray:
        """The annual losses of year ``t`` under ``funding``, summed over scenarios."""
        problem = self.problem
        total = np.zeros(problem.years)
        for j, c in enumerate(problem.combinations_of(funding)):
            for k, w in self.weights(j, c, t):
                total += w * problem.column(j, k) if w != 1.0 else problem.column(j, k)
        return total

    def partial(self, funding: Funding, t: int) -> bool:
        """True when some funded item is live for only part of year ``t`` (the year's tail is approximate)."""
        problem = self.problem
        for j, c in enumerate(problem.combinations_of(funding)):
            if len(self.weights(j, c, t)) > 1:
                return True
        return False


def _spend(problem: DecisionProblem, funding: Funding, t: int) -> tuple[float, float]:
    """(security, IT) spend of year ``t``: recurring costs every year, one-off costs in year 1."""
    sec, it = problem.spend(funding)
    if t == 1:
        sec += sum(problem.controls[problem.control_index[n]].one_off_cost for n in funding.controls)
        it += sum(problem.projects[problem.project_index[n]].one_off_cost for n in funding.projects)
    return sec, it


def _value(problem: DecisionProblem, funding: Funding, t: int) -> float:
    """Expected value delivered in year ``t`` (exact): each project's full-year value times its live share."""
    total = 0.0
    for n in funding.projects:
        p = problem.projects[problem.project_index[n]]
        total += p.expected_value() * p.value_share(t, security_by_design=n in funding.security_by_design)
    return float(total)


def year_table(problem: DecisionProblem, funding: Funding, horizon: Horizon,
               mix: YearMix | None = None) -> tuple[Any, float, tuple[str, ...]]:
    """The per-year table of a funding choice, its NPV and notes.

    Returns
    -------
    (by_year, npv, notes)
        ``by_year`` is indexed by year 1..T with columns ``spend``,
        ``security_spend``, ``it_spend``, ``value``, ``ale``, ``ale_se``,
        ``var95``, ``tvar95``, ``net``, ``discount_factor``,
        ``discounted_net``, ``budget`` and ``partial_year`` (True where a
        funded item is live for part of the year: VaR and TVaR approximate).
    """
    import pandas as pd

    mix = mix if mix is not None else YearMix(problem)
    rows = []
    for t in range(1, horizon.years + 1):
        x = mix.losses(funding, t)
        sec, it = _spend(problem, funding, t)
        value = _value(problem, funding, t)
        ale = float(x.mean())
        net = value - ale - sec - it
        rows.append({
            "year": t, "spend": sec + it, "security_spend": sec, "it_spend": it, "value": value, "ale": ale,
            "ale_se": metrics.ale_se(x), "var95": metrics.var(x, 0.95), "tvar95": metrics.tvar(x, 0.95),
            "net": net, "discount_factor": horizon.factor(t), "discounted_net": net * horizon.factor(t),
            "budget": math.nan if horizon.budgets is None else horizon.budgets[t - 1],
            "partial_year": mix.partial(funding, t),
        })
    table = pd.DataFrame(rows).set_index("year")
    npv = float(table["discounted_net"].sum())
    notes: list[str] = []
    partial = [int(t) for t in table.index[table["partial_year"]]]
    if partial:
        notes.append(
            f"in year(s) {', '.join(map(str, partial))} some funded item is live for part of the year: the year's ALE "
            "is exact, its VaR and TVaR are those of the share-weighted mix of full-year outcomes (an approximation)"
        )
    over = table[table["spend"] > table["budget"] * (1 + 1e-12) + 1e-6]
    for t, row in over.iterrows():
        notes.append(f"year {t}: spend {row['spend']:,.0f} exceeds the year's budget {row['budget']:,.0f}")
    return table, npv, tuple(notes)


def returns_over_horizon(problem: DecisionProblem, funding: Funding, horizon: Horizon,
                         mix: YearMix | None = None) -> Any:
    """Return on each control over the horizon: its one-off cost, lead time and discounting counted.

    ``roc = (PV of the ALE reduction - PV of the cost) / PV of the cost``, with
    the present values at the plan's discount rate (end of each year), the
    cost its ``cost_per_year`` every year plus its ``one_off_cost`` in year 1,
    and each year's ALE reduction from the year's mixed losses (the control
    live for its share of the year). *Standalone* and *marginal* as in
    :func:`~riskbudget.optimization.plan.return_on_controls`. Each simulated
    year carries the discounted sum of its reductions over the horizon
    (common random numbers), so the standard error is that sum's, and the
    interval is ``PV reduction +- 1.96 se`` over the PV of the cost.

    Returns
    -------
    pandas.DataFrame
        Indexed by control: ``pv_cost``, ``pv_ale_reduction_standalone``
        (and ``_se``), ``roc_horizon_standalone`` (and ``_low``, ``_high``),
        and the same with ``marginal``.
    """
    import pandas as pd

    from .returns import control_returns

    mix = mix if mix is not None else YearMix(problem)
    d = [horizon.factor(t) for t in range(1, horizon.years + 1)]

    def pv_losses(f: Funding) -> np.ndarray:
        """Each simulated year's discounted losses over the horizon under ``f``."""
        return sum(dt * mix.losses(f, t) for t, dt in enumerate(d, start=1))  # type: ignore[return-value]

    def pv_cost(ctrl: Any) -> float:
        return ctrl.cost_per_year * sum(d) + ctrl.one_off_cost * d[0]

    found = control_returns(problem, funding, pv_losses, pv_cost, reduction="pv_ale_reduction", roc="roc_horizon")
    out = pd.DataFrame.from_dict({c.name: {"pv_cost": pv_cost(c), **found[c.name]} for c in problem.controls},
                                 orient="index")
    out.index.name = "control"
    return out


def npv_objective(model: Any, horizon: Horizon) -> np.ndarray:
    """The program's objective (minimised, scaled) for the NPV over the horizon: minus the NPV up to a constant."""
    problem = model.problem
    S = model.scale
    d = np.array([horizon.factor(t) for t in range(1, horizon.years + 1)])
    years = range(1, horizon.years + 1)
    c = np.zeros(model.ncol)
    for i, ctrl in enumerate(problem.controls):
        c[model.xc[i]] = (ctrl.cost_per_year * d.sum() + ctrl.one_off_cost * d[0]) / S
    for k, proj in enumerate(problem.projects):
        ev = proj.expected_value()
        value = sum(d[t - 1] * ev * proj.value_share(t) for t in years)
        c[model.xp[k]] = (proj.cost_per_year * d.sum() + proj.one_off_cost * d[0] - value) / S
        if k in model.w:
            sbd = proj.security_by_design
            lost = sum(d[t - 1] * ev * (proj.value_share(t) - proj.value_share(t, security_by_design=True))
                       for t in years)
            c[model.w[k]] = (sbd.cost_per_year * d.sum() + lost) / S
    mix = YearMix(problem)
    for j, first, cnt in model.blocks:
        c[first: first + cnt] = [sum(d[t - 1] * mix.mean(j, cc, t) for t in years) / S for cc in range(cnt)]
    return c


def budget_rows(model: Any, horizon: Horizon) -> list[tuple[np.ndarray, float, float]]:
    """The year budgets' rows (scaled), and year 1's rules with its one-off costs.

    One row per distinct year budget: year 1 with the one-off costs, later
    years without. The program's own rule rows hold the security and IT
    budgets and the security share on the recurring costs, i.e. in every year
    after the first; year 1 also carries the one-off costs, so those rules
    get year-1 rows of their own (``Model.spend_rows`` with ``one_off``).
    """
    problem, S = model.problem, model.scale
    rec = np.zeros(model.ncol)
    once = np.zeros(model.ncol)
    for i, ctrl in enumerate(problem.controls):
        rec[model.xc[i]] = ctrl.cost_per_year
        once[model.xc[i]] = ctrl.one_off_cost
    for k, proj in enumerate(problem.projects):
        rec[model.xp[k]] = proj.cost_per_year
        once[model.xp[k]] = proj.one_off_cost
        if k in model.w:
            rec[model.w[k]] = proj.security_by_design.cost_per_year
    rows: list[tuple[np.ndarray, float, float]] = []
    if horizon.budgets is not None:
        rows.append(((rec + once) / S, horizon.budgets[0] / S, 0.0))
        if horizon.years > 1:
            rows.append((rec / S, min(horizon.budgets[1:]) / S, 0.0))
    if once.any():
        for coefs, lo, hi in model.spend_rows(one_off=True, budget=False):  # "lo <= a x <= hi" as "a x <= rhs"
            a = np.zeros(model.ncol)
            a[list(coefs)] = list(coefs.values())
            if np.isfinite(hi):
                rows.append((a, hi, 0.0))
            if np.isfinite(lo):
                rows.append((-a, -lo, 0.0))
    return rows


def year_problem(problem: DecisionProblem, mix: YearMix, t: int) -> DecisionProblem:
    """The problem whose columns are year ``t``'s (mixed by live shares); the problem itself when none is mixed."""
    import copy

    if problem.losses is None:
        raise RiskBudgetError(
            "optimize: appetite limits over a multi-year horizon are solved on problems that keep every "
            "combination's years in memory; use fewer years or fewer candidates"
        )
    mats = []
    mixed = False
    for j, L in enumerate(problem.losses):
        ncomb = L.shape[1]
        W = np.zeros((ncomb, ncomb))
        for c in range(ncomb):
            for k, w in mix.weights(j, c, t):
                W[k, c] = w
        if not np.array_equal(W, np.eye(ncomb)):
            mixed = True
            L = L @ W
        mats.append(L)
    if not mixed:
        return problem
    view = copy.copy(problem)
    view.losses = mats
    return view
