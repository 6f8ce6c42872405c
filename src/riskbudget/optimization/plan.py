"""The :class:`Plan`: what to fund, what it costs, what it delivers, the risk after, and what is proven about it."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics
from ..formatting import money, percent
from .document import save_plan
from .problem import DecisionProblem, Funding
from .returns import control_returns

__all__ = [
    "Plan",
    "PlanStatus",
    "SmallestValue",
    "BudgetNeeded",
    "OutOfSample",
    "build_plan",
    "one_year_note",
    "return_on_controls",
    "status_words",
]



class PlanStatus(StrEnum):
    """What is proven about a plan. A string enum: ``plan.status == "optimal"`` works.

    * ``OPTIMAL``: proven optimal on the sample within ``mip_rel_gap``, for
      the limits as stated (VaR as VaR, exceedance as exceedance, the whole
      tolerance curve).
    * ``FEASIBLE_GAP``: meets every limit; proven within ``solver_gap`` of the
      optimum (the solver stopped at its time limit).
    * ``STAND_IN``: VaR limits enforced through the tail mean, as asked
      (``var_method="cvar"``): meets every limit, optimal only for the
      conservative stand-in, within ``solver_gap`` of a valid upper bound.
    * ``HEURISTIC``: meets every limit on the sample; not proven optimal.
    * ``INFEASIBLE``: proven that no plan within the budget and rules meets the
      appetite; the least-risk plan, with ``smallest_values`` and
      ``budget_needed``.
    * ``UNMET``: no plan meeting the appetite was found, and none was proven
      impossible (time limit, or the heuristic); the plan closest to it found.
    * ``EVALUATED``: a funding choice scored as given (:func:`evaluate`).
    """

    OPTIMAL = "optimal"
    FEASIBLE_GAP = "feasible_gap"
    STAND_IN = "stand_in"
    HEURISTIC = "heuristic"
    INFEASIBLE = "infeasible_appetite"
    UNMET = "appetite_unmet"
    EVALUATED = "evaluated"


def _gap_text(gap: float) -> str:
    if not math.isfinite(gap):
        return "an unknown distance"
    if gap <= 0:
        return "0%"
    return f"{100 * gap:.2g}%" if gap < 1e-3 else percent(gap, digits=2)


def status_words(status: Any, gap: float = math.nan) -> str:
    """What a status says, in words, with the proven gap where one applies.

    Never "optimal" or "exact" unless proven.

    Examples
    --------
    >>> status_words(PlanStatus.OPTIMAL)
    'optimal on the sample (proven)'
    >>> status_words(PlanStatus.FEASIBLE_GAP, 0.004)
    'within 0.40% of the optimum (proven bound)'
    """
    st = PlanStatus(status)
    if st is PlanStatus.OPTIMAL:
        return "optimal on the sample (proven)"
    if st is PlanStatus.FEASIBLE_GAP:
        if not math.isfinite(gap):
            return "meets every limit; the solver stopped before bounding its distance from the optimum"
        return f"within {_gap_text(gap)} of the optimum (proven bound)"
    if st is PlanStatus.STAND_IN:
        return ("VaR limits enforced through the tail mean, a conservative stand-in: meets every limit, optimal "
                f"only for the stand-in, within {_gap_text(gap)} of the optimum under the limits as stated "
                "(proven bound)")
    if st is PlanStatus.HEURISTIC:
        tail = f" ({_gap_text(gap)} below the bound of a relaxation)" if math.isfinite(gap) else ""
        return f"heuristic: meets every limit on the sample, not proven optimal{tail}"
    if st is PlanStatus.INFEASIBLE:
        return "the appetite cannot be met at this budget and split (proven on the sample): the least-risk plan"
    if st is PlanStatus.UNMET:
        return ("no plan meeting the appetite was found, and none was proven impossible (time limit or heuristic): "
                "the plan closest to it that was found")
    return "as given (scored, not optimised)"


def _headline(status: Any, gap: float) -> str:
    st = PlanStatus(status)
    if st is PlanStatus.INFEASIBLE:
        return "The appetite cannot be met at this budget and split (proven on the sample): least-risk plan"
    if st is PlanStatus.UNMET:
        return "No plan meeting the appetite was found (not proven impossible): the closest plan found"
    if st is PlanStatus.EVALUATED:
        return "Plan as given"
    return "Recommended plan, " + status_words(st, gap)


def _finite(v: Any) -> Any:
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class SmallestValue:
    """The smallest value of one appetite limit that any plan reaches at this budget and split.

    Attributes
    ----------
    label : str
        ``"VaR95"``, ``"P(loss > $50M)"``, ``"tolerance curve"``...
    limit : float
        The stated limit (1 for the tolerance curve, whose value is a factor).
    value : float
        Reached by ``funding``: no plan found does better.
    lower_bound : float
        No plan reaches less (proven on the sample).
    unit : str
        ``"money"``, ``"probability"`` or ``"factor"`` (the tolerance curve: by
        how much its losses would have to grow to be met).
    funding : Funding or None
        A plan reaching ``value``.
    """

    label: str
    limit: float
    value: float
    lower_bound: float
    unit: str
    funding: Funding | None = None

    @property
    def proven(self) -> bool:
        """True when ``value`` is proven smallest (up to the solver's relative gap)."""
        return self.value <= self.lower_bound + 1e-6 * abs(self.value) + 1e-12

    @property
    def gap(self) -> float:
        """``(value - lower_bound) / value`` (0 when proven)."""
        return 0.0 if self.proven else (self.value - self.lower_bound) / abs(self.value)

    def _fmt(self, v: float) -> str:
        if self.unit == "probability":
            return percent(v, digits=2)
        if self.unit == "factor":
            return f"{v:.3g} times"
        return money(v)

    def describe(self) -> str:
        if self.unit == "factor":
            text = (f"{self.label}: met only if its losses were {self._fmt(self.value)} as high (every plan's loss "
                    f"exceedance curve needs at least that)")
        else:
            text = f"{self.label}: at best {self._fmt(self.value)} (the limit is {self._fmt(self.limit)})"
        if self.proven:
            return text + ", proven smallest on the sample"
        return text + f"; no plan reaches less than {self._fmt(self.lower_bound)} (gap {_gap_text(self.gap)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.label,
            "threshold": _finite(self.limit),
            "smallest": _finite(self.value),
            "lower_bound": _finite(self.lower_bound),
            "unit": self.unit,
            "proven": self.proven,
            "funded": None if self.funding is None else list(self.funding.names),
        }


@dataclass(frozen=True)
class BudgetNeeded:
    """The smallest total budget for which some plan meets the whole appetite, under the same rules.

    Security and IT budgets keep their shares of the budget; the other rules
    (shares of spend, include/exclude, requires, exclusive) stay as they are.

    Attributes
    ----------
    budget : float or None
        The smallest budget found to meet the appetite (None: none at any budget).
    lower_bound : float
        No smaller budget does (proven on the sample); infinite when no budget does.
    funding : Funding or None
        A plan meeting the appetite within ``budget``.
    """

    budget: float | None
    lower_bound: float
    funding: Funding | None = None

    @property
    def proven(self) -> bool:
        if self.budget is None:
            return not math.isfinite(self.lower_bound)
        return self.budget <= self.lower_bound + 1e-6 * abs(self.budget) + 1e-6

    def describe(self) -> str:
        if self.budget is None:
            if self.proven:
                return "Budget that would meet the appetite: none at any budget (not even funding everything the rules allow)"
            return (f"Budget that would meet the appetite: none found (the solver stopped; at least "
                    f"{money(self.lower_bound)})")
        text = f"Budget that would meet the appetite: {money(self.budget)}, with the same rules and split"
        if self.proven:
            return text + " (proven smallest on the sample)"
        return text + f" (no budget below {money(self.lower_bound)} does; smaller than {money(self.budget)} not ruled out)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": None if self.budget is None else _finite(self.budget),
            "lower_bound": _finite(self.lower_bound),
            "none_at_any_budget": self.budget is None and self.proven,
            "proven": self.proven,
            "funded": None if self.funding is None else list(self.funding.names),
        }


@dataclass(frozen=True, eq=False)
class Plan:
    """A funding plan scored on a simulated sample.

    Attributes
    ----------
    funded_controls, funded_projects : tuple of str
        What is funded.
    security_by_design : tuple of str
        Funded projects whose security-by-design option is bought.
    security_spend, it_spend, total_spend : float
        Controls plus security-by-design options; projects; all spend (with
        the insurance premium, ``risk_transfer_spend``).
    budget : float or None
    expected_value : float
        Expected project value delivered in the budget year.
    expected_net_value : float
        ``expected_value - ale - total_spend``: the objective.
    ale, ale_se, var95, tvar95 : float
        Annual loss with the plan, on the sample.
    ale_before, var95_before, tvar95_before : float
        The status quo (nothing funded), same sample.
    appetite : AppetiteStatus or None
        The appetite check on the sample (``None`` without an appetite).
    feasible : bool
        True when every appetite limit holds on the sample (or there is none).
    status : PlanStatus
        What is proven about the plan (a string enum: ``"optimal"``,
        ``"feasible_gap"``, ``"stand_in"``, ``"heuristic"``,
        ``"infeasible_appetite"`` (the least-risk plan), ``"appetite_unmet"``
        or ``"evaluated"``); :attr:`status_text` says it in words.
    solver_gap : float
        Relative gap between the plan and ``bound`` (NaN for evaluated plans).
    bound : float
        Upper bound on the expected net value under the limits as stated
        (NaN if none).
    returns : pandas.DataFrame
        Return on control per control, standalone and marginal (see
        :func:`return_on_controls`): a year with every item live, against
        ``cost_per_year``. A multi-year plan adds the return over its horizon,
        one-off costs, lead times and discounting counted (``pv_cost``,
        ``roc_horizon_standalone``, ``roc_horizon_marginal``, ...; see
        :func:`~riskbudget.optimization.years.returns_over_horizon`).
    result : SimulationResult
        Annual losses per scenario with the plan.
    problem : DecisionProblem
        The precomputed sample (for fast re-scoring).
    notes : tuple of str
        How each appetite limit was handled, and anything else worth knowing.
    violations : tuple of Violation
        The rules the funding breaks (:class:`~riskbudget.optimization.rules.Violation`;
        set by :func:`~riskbudget.optimization.evaluate`, empty for an optimised plan).
    smallest_values : tuple of SmallestValue
        When the appetite cannot be met: the smallest value of each limit any
        plan reaches at this budget and split.
    budget_needed : BudgetNeeded or None
        When the appetite cannot be met: the smallest budget that would meet it.
    constraints : Constraints or None
        The rules the plan was chosen under (budget, shares, include...).
    confidence : float or None
        The chance of holding on fresh years each limit was given a margin for
        (``None``: the limits as stated, on the sample only).
    margins : dict
        The margin of each limit (by label, in the limit's unit) the program
        met on the sample; empty without ``confidence``.
    optimised_for : Appetite or None
        The limits less their margins, as the program enforced them (``None``:
        the appetite as stated).
    robustness : Robustness or None
        Each limit on fresh years and the estimated chance it holds
        (:func:`~riskbudget.optimization.robustness.confirm`; set by
        :func:`~riskbudget.optimization.optimize`).
    horizon, discount_rate : int, float
        The plan's horizon in years and its discount rate (1 and 0 for a
        one-year plan).
    npv : float
        Over a horizon: the sum over years of (value - ALE - spend) / (1 + r)^t
        (NaN for a one-year plan made without ``horizon=``).
    by_year : pandas.DataFrame or None
        Over a horizon: one row per year 1..T with ``spend``,
        ``security_spend``, ``it_spend``, ``value``, ``ale``, ``var95``,
        ``tvar95``, ``net`` and more (:func:`~riskbudget.optimization.years.year_table`).
    insurance : tuple of Insurance
        The insurance layers bought (``optimize(..., insurance=...)`` chooses
        them; :mod:`~riskbudget.optimization.transfer`). With insurance the
        losses (``ale``, ``var95``, ``result``...) are those the company
        retains; ``ale_before`` and the other "before" figures are the status
        quo, with neither plan nor insurance.
    risk_transfer_spend : float
        The premium of ``insurance``, spend on its own line: part of
        ``total_spend`` and of the budget, neither security nor IT.
    towers : pandas.DataFrame or None
        Every insurance option (tower) compared: its premium, the expected net
        value of the best funding found under it, whether it meets the
        appetite, and which was chosen.
    """

    funding: Funding
    funded_controls: tuple[str, ...]
    funded_projects: tuple[str, ...]
    security_by_design: tuple[str, ...]
    security_spend: float
    it_spend: float
    total_spend: float
    budget: float | None
    expected_value: float
    expected_net_value: float
    ale: float
    ale_se: float
    var95: float
    tvar95: float
    ale_before: float
    var95_before: float
    tvar95_before: float
    appetite: Any
    feasible: bool
    status: PlanStatus
    solver_gap: float
    bound: float
    returns: Any
    result: Any
    problem: DecisionProblem
    notes: tuple[str, ...] = ()
    seconds: float = math.nan
    shortfall: Any = None
    appetite_spec: Any = None
    violations: tuple[Any, ...] = ()
    smallest_values: tuple[SmallestValue, ...] = ()
    budget_needed: BudgetNeeded | None = None
    constraints: Any = None
    confidence: float | None = None
    margins: dict[str, float] = field(default_factory=dict)
    optimised_for: Any = None
    robustness: Any = None
    horizon: int = 1
    discount_rate: float = 0.0
    npv: float = math.nan
    by_year: Any = None
    insurance: tuple[Any, ...] = ()
    risk_transfer_spend: float = 0.0
    towers: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", PlanStatus(self.status))

    @property
    def status_text(self) -> str:
        """What is proven about the plan, in words (:func:`status_words`)."""
        return status_words(self.status, self.solver_gap)

    @cached_property
    def reasons(self) -> list[Any]:
        """Why each candidate is funded or not, checked on the plan's sample (:func:`~riskbudget.optimization.explain`).

        Against the limits the program enforced (with their margins, if any)
        and the rules the plan was chosen under.
        """
        from .reasons import explain_plan

        return explain_plan(self)

    def reasons_table(self) -> Any:
        """:attr:`reasons` as a DataFrame, one row per item."""
        from .reasons import reasons_table

        return reasons_table(self.reasons)

    @property
    def years(self) -> int:
        return self.problem.years

    @property
    def seed(self) -> Any:
        return self.problem.seed

    @property
    def appetite_ok(self) -> bool | None:
        return None if self.appetite is None else bool(self.appetite.ok)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (raw numbers)."""

        def num(v: Any) -> Any:
            v = float(v)
            return v if math.isfinite(v) else None

        out: dict[str, Any] = {
            "funded_controls": list(self.funded_controls),
            "funded_projects": list(self.funded_projects),
            "security_by_design": list(self.security_by_design),
            "security_spend": num(self.security_spend),
            "it_spend": num(self.it_spend),
            "total_spend": num(self.total_spend),
            "risk_transfer_spend": num(self.risk_transfer_spend),
            "insurance": [p.to_dict() for p in self.insurance],
            "budget": None if self.budget is None else num(self.budget),
            "expected_value": num(self.expected_value),
            "expected_net_value": num(self.expected_net_value),
            "ale": num(self.ale),
            "ale_se": num(self.ale_se),
            "var95": num(self.var95),
            "tvar95": num(self.tvar95),
            "ale_before": num(self.ale_before),
            "var95_before": num(self.var95_before),
            "tvar95_before": num(self.tvar95_before),
            "appetite_ok": self.appetite_ok,
            "appetite": None,
            "feasible": self.feasible,
            "status": self.status,
            "status_text": self.status_text,
            "smallest_values": [v.to_dict() for v in self.smallest_values] if self.smallest_values else None,
            "budget_needed": None if self.budget_needed is None else self.budget_needed.to_dict(),
            "solver_gap": num(self.solver_gap),
            "bound": num(self.bound),
            "horizon": self.horizon,
            "discount_rate": self.discount_rate,
            "npv": num(self.npv),
            "by_year": None if self.by_year is None else [
                {k: (num(v) if isinstance(v, (float, np.floating)) else (bool(v) if isinstance(v, (bool, np.bool_))
                                                                         else v))
                 for k, v in row.items()}
                for row in self.by_year.reset_index().to_dict("records")
            ],
            "confidence": self.confidence,
            "margins": {k: num(v) for k, v in self.margins.items()},
            "robustness": None if self.robustness is None else self.robustness.to_dict(),
            "years": self.years,
            "seed": self.seed,
            "notes": list(self.notes),
            "return_on_control": [
                {
                    k: (
                        num(v)
                        if isinstance(v, (float, np.floating))
                        else (bool(v) if isinstance(v, (bool, np.bool_)) else v)
                    )
                    for k, v in row.items()
                }
                for row in self.returns.reset_index().to_dict("records")
            ],
        }
        if self.appetite is not None:
            out["appetite"] = [
                {"limit": r["limit"], "threshold": num(r["threshold"]), "value": num(r["value"]), "ok": bool(r["ok"])}
                for r in self.appetite.table.to_dict("records")
            ]
        return out

    def save(self, path: str | os.PathLike[str], *, files: Mapping[str, Any] | None = None) -> Path:
        """Save the plan as a versioned JSON document, written atomically; :func:`riskbudget.load_plan` reads it.

        The document holds the inputs themselves with content hashes, the seed,
        years, budget, rules and appetite, the funded and unfunded items with
        their reasons, the metrics, margins and robustness, and the package
        version (see :mod:`riskbudget.optimization.document`).

        Parameters
        ----------
        path : str or path-like
            Where to write (a ``.json`` file).
        files : mapping, optional
            The files the inputs were read from, by kind (``register``,
            ``controls``, ``projects``, ``appetite``): their names and SHA-256
            hashes are recorded too.

        Returns
        -------
        pathlib.Path
            The path written.

        Examples
        --------
        >>> import tempfile, riskbudget as rb
        >>> reg = rb.read_register(rb.io.example_path("register.csv"))
        >>> ctl = rb.read_controls(rb.io.example_path("controls.csv"))
        >>> plan = rb.optimize(reg, ctl, (), budget=1e6, years=1_000, seed=7, progress=False)
        >>> path = plan.save(tempfile.mkdtemp() + "/plan.json")
        >>> rb.load_plan(path).funded == plan.funded_controls
        True
        """
        return save_plan(self, path, files=files)

    def describe(self) -> str:
        """A plain-text summary for people (numbers rounded for display only)."""
        lines = []
        head = _headline(self.status, self.solver_gap)
        lines.append(f"{head} - {self.years:,} simulated years, seed {self.seed}")
        lines.append(f"  Controls funded ({len(self.funded_controls)}): " + (", ".join(self.funded_controls) or "none"))
        projs = [p + (" (security by design)" if p in self.security_by_design else "") for p in self.funded_projects]
        lines.append(f"  Projects funded ({len(projs)}): " + (", ".join(projs) or "none"))
        budget = f" of {money(self.budget)}" if self.budget is not None else ""
        core = self.security_spend + self.it_spend
        share = self.security_spend / core if core > 0 else 0.0
        transfer = f"; risk transfer {money(self.risk_transfer_spend)}" if self.insurance else ""
        lines.append(
            f"  Spend: {money(self.total_spend)}{budget} (security {money(self.security_spend)}, {percent(share)}; "
            f"IT {money(self.it_spend)}{transfer})"
        )
        if self.insurance:
            lines.append("  Insurance bought: " + ", ".join(p.name for p in self.insurance)
                         + " (the losses below are retained)")
        lines.append(f"  Expected project value delivered: {money(self.expected_value)}")
        lines.append(f"  ALE:    {money(self.ale_before)} -> {money(self.ale)} (± {money(self.ale_se)})")
        lines.append(f"  VaR95:  {money(self.var95_before)} -> {money(self.var95)}")
        lines.append(f"  TVaR95: {money(self.tvar95_before)} -> {money(self.tvar95)}")
        lines.append(f"  Expected net value (value - ALE - spend): {money(self.expected_net_value)}")
        if self.appetite is not None:
            lines.append(
                "  Appetite: " + ("within appetite" if self.appetite.ok else "; ".join(self.appetite.breaches))
            )
        if self.smallest_values or self.budget_needed is not None:
            lines.append("  Nearest reachable (each limit on its own, at this budget and split):")
            lines.extend(f"    {v.describe()}" for v in self.smallest_values)
            if self.budget_needed is not None:
                lines.append(f"    {self.budget_needed.describe()}")
        if math.isfinite(self.solver_gap):
            lines.append(f"  Solver gap: {self.solver_gap:.2e} (bound {money(self.bound)})")
        if self.by_year is not None:
            lines.append(f"  Over {self.horizon} years at a {percent(self.discount_rate)} discount rate: net present "
                         f"value {money(self.npv)}")
            lines.append(f"    {'year':>4s} {'spend':>9s} {'security':>9s} {'IT':>9s} {'value':>9s} {'ALE':>9s} "
                         f"{'VaR95':>9s} {'TVaR95':>9s} {'net':>9s}")
            for t, r in self.by_year.iterrows():
                lines.append(f"    {t:>4d} " + " ".join(f"{money(r[k]):>9s}" for k in (
                    "spend", "security_spend", "it_spend", "value", "ale", "var95", "tvar95", "net")))
        if self.margins:
            lines.append(f"  Margins aiming at a {percent(self.confidence or 0.5)} chance that each limit holds on "
                         "fresh years (met on the sample): " + ", ".join(
                             f"{k} {_limit_money(k, v)}" for k, v in self.margins.items()))
        if self.robustness is not None:
            lines.extend("  " + line for line in self.robustness.describe().splitlines())
        for n in self.notes:
            lines.append(f"  Note: {n}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return (
            f"Plan({len(self.funded_controls)} controls, {len(self.funded_projects)} projects, spend={self.total_spend:,.0f}, "
            f"net={self.expected_net_value:,.0f}, status='{self.status}')"
        )


def _limit_money(label: str, v: float) -> str:
    return percent(v, digits=2) if label.startswith("P(") else money(v)


def return_on_controls(problem: DecisionProblem, funding: Funding) -> Any:
    """Return on control, standalone and marginal within a plan, with 95% intervals.

    ``roc = (ALE reduction - cost) / cost``. *Standalone*: the control alone
    against no control, with the plan's projects. *Marginal*: the plan with
    the control against the plan without it (for an unfunded control: the
    plan with it added). Reductions are differences on common random numbers,
    year by year, so their standard errors are small; the interval is
    ``reduction ± 1.96 se`` divided by the cost (infinite ROC for a free
    control is reported as NaN). See :func:`~riskbudget.optimization.returns.control_returns`.

    Returns
    -------
    pandas.DataFrame
        Indexed by control: ``cost_per_year``, ``funded``,
        ``ale_reduction_standalone``, ``ale_reduction_standalone_se``,
        ``roc_standalone``, ``roc_standalone_low``, ``roc_standalone_high``,
        and the same with ``marginal``.
    """
    import pandas as pd

    found = control_returns(problem, funding, problem.total_losses, lambda c: c.cost_per_year,
                            reduction="ale_reduction", roc="roc")
    rows = {ctrl.name: {"cost_per_year": ctrl.cost_per_year, "funded": ctrl.name in funding.controls,
                        **found[ctrl.name]} for ctrl in problem.controls}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "control"
    return out


def build_plan(
    problem: DecisionProblem,
    funding: Funding,
    *,
    appetite: Any = None,
    budget: float | None = None,
    status: PlanStatus = PlanStatus.EVALUATED,
    solver_gap: float = math.nan,
    bound: float = math.nan,
    notes: tuple[str, ...] = (),
    seconds: float = math.nan,
    smallest_values: tuple[SmallestValue, ...] = (),
    budget_needed: BudgetNeeded | None = None,
    constraints: Any = None,
) -> Plan:
    """Score a funding choice on the problem's sample and wrap it in a :class:`Plan`.

    On an insured problem (:meth:`DecisionProblem.insured`) the plan's losses
    are retained, its premium is spend on its own line (``risk_transfer_spend``,
    part of ``total_spend``), and "before" is the status quo: no plan, no
    insurance.
    """
    result = problem.result_for(funding)
    x = result.annual_loss.to_numpy()
    before = problem.ground.total_losses(Funding())
    premium = problem.premium
    sec, it = problem.spend(funding)
    ev = problem.expected_value(funding)
    ale = float(x.mean())
    status_obj = appetite.check(result) if appetite is not None else None
    shortfall = None
    if status_obj is not None and not status_obj.ok:
        tbl = status_obj.table
        shortfall = (
            tbl.loc[~tbl["ok"], ["limit", "threshold", "value"]]
            .assign(
                miss=lambda d: d["value"] - d["threshold"],
                miss_share=lambda d: (d["value"] - d["threshold"]) / d["threshold"],
            )
            .reset_index(drop=True)
        )
    return Plan(
        funding=funding,
        funded_controls=funding.controls,
        funded_projects=funding.projects,
        security_by_design=funding.security_by_design,
        security_spend=sec,
        it_spend=it,
        total_spend=sec + it + premium,
        budget=budget,
        expected_value=ev,
        expected_net_value=ev - ale - sec - it - premium,
        ale=ale,
        ale_se=metrics.ale_se(x),
        var95=metrics.var(x, 0.95),
        tvar95=metrics.tvar(x, 0.95),
        ale_before=float(before.mean()),
        var95_before=metrics.var(before, 0.95),
        tvar95_before=metrics.tvar(before, 0.95),
        appetite=status_obj,
        feasible=True if status_obj is None else bool(status_obj.ok),
        status=status,
        solver_gap=solver_gap,
        bound=bound,
        returns=return_on_controls(problem, funding),
        result=result,
        problem=problem,
        notes=tuple(notes),
        seconds=seconds,
        shortfall=shortfall,
        appetite_spec=appetite,
        smallest_values=tuple(smallest_values),
        budget_needed=budget_needed,
        constraints=constraints,
        insurance=tuple(problem.insurance),
        risk_transfer_spend=premium,
    )


@dataclass(frozen=True, eq=False)
class OutOfSample:
    """A plan re-evaluated on fresh simulated years (another seed).

    ``difference = in_sample - out_of_sample`` expected net value; its
    standard error combines both samples' ALE errors (independent seeds). A
    positive difference of several standard errors is the optimiser's curse:
    the plan was tuned to the sample's luck.
    """

    in_sample_net_value: float
    out_of_sample_net_value: float
    difference: float
    difference_se: float
    in_sample_ale: float
    out_of_sample_ale: float
    out_of_sample_tvar95: float
    appetite: Any
    years: int
    seed: Any
    result: Any

    @property
    def z(self) -> float:
        return self.difference / self.difference_se if self.difference_se > 0 else math.nan

    def describe(self) -> str:
        lines = [
            f"Out-of-sample check ({self.years:,} fresh years, seed {self.seed}):",
            f"  expected net value {money(self.in_sample_net_value)} in sample, {money(self.out_of_sample_net_value)} out of sample",
            f"  difference {money(self.difference)} ± {money(self.difference_se)} (z = {self.z:.2f})",
        ]
        if self.appetite is not None:
            lines.append(
                "  appetite on fresh years: "
                + ("within appetite" if self.appetite.ok else "; ".join(self.appetite.breaches))
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "in_sample_net_value": self.in_sample_net_value,
            "out_of_sample_net_value": self.out_of_sample_net_value,
            "difference": self.difference,
            "difference_se": self.difference_se,
            "z": self.z,
            "out_of_sample_ale": self.out_of_sample_ale,
            "out_of_sample_tvar95": self.out_of_sample_tvar95,
            "appetite_ok": None if self.appetite is None else bool(self.appetite.ok),
            "years": self.years,
            "seed": self.seed,
        }


def one_year_note(plan: Plan) -> Plan:
    """A one-year plan says so when it funds items whose one-off costs or lead times only a horizon counts."""
    problem, funding = plan.problem, plan.funding
    phased = [c.name for c in problem.controls if c.name in funding.controls and (c.one_off_cost or c.lead_time_months)]
    phased += [p.name for p in problem.projects if p.name in funding.projects and (p.one_off_cost or p.lead_time_months)]
    if not phased:
        return plan
    note = (f"one-off costs and lead times count only over a horizon: this one-year plan scores {', '.join(phased)} "
            "at their yearly cost with a full year of effect or value; pass horizon= (and discount_rate=) to phase them")
    return replace(plan, notes=plan.notes + (note,))
