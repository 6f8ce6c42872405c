"""Why each item is funded or not: the answer to "why this, why not that" in a budget meeting.

Every reason is a check on the plan's own sample (common random numbers), so
it is exact for the plan as optimised:

* a **funded** item is dropped on its own. If that breaks a rule (another
  funded item requires it, the user asked for it, the minimum security share)
  the rule is the reason; else if the plan without it breaks an appetite limit,
  the limit is the reason; else it **pays for itself** when the plan loses net
  value without it. An item that fits none of these does not earn its place
  (:attr:`Reason.NONE`; an optimal plan has none).
* an **unfunded** item is added, with what it requires. If that breaks a rule
  the rule is the reason (over the budget or the split, excluded, cannot go
  with a funded item); else if the plan with it breaks an appetite limit, the
  limit is; else it **does not pay** when the plan loses net value with it.

The net-value change comes with its Monte Carlo standard error (paired
differences of the annual losses on the same years); the expected project
value is exact, so the error is the loss part's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from .. import metrics
from ..formatting import money
from .problem import DecisionProblem, Funding
from .rules import Constraints, FundingRules, Rule, Violation

__all__ = ["Reason", "ItemReason", "explain", "explain_plan", "reasons_table"]


class Reason(StrEnum):
    """Why an item is funded, or not."""

    PAYS = "pays for itself"
    LIMIT = "an appetite limit needs it"
    REQUIRED = "a funded item requires it"
    RULE = "a rule you set needs it"
    NONE = "does not earn its place"
    DOES_NOT_PAY = "does not pay"
    BREAKS_LIMIT = "would break an appetite limit"
    OVER_BUDGET = "over the budget or the split"
    EXCLUDED = "excluded"


#: Reasons of funded items and of unfunded items.
FUNDED_REASONS = (Reason.PAYS, Reason.LIMIT, Reason.REQUIRED, Reason.RULE, Reason.NONE)
UNFUNDED_REASONS = (Reason.DOES_NOT_PAY, Reason.BREAKS_LIMIT, Reason.OVER_BUDGET, Reason.EXCLUDED)


@dataclass(frozen=True)
class ItemReason:
    """The reason for one item (a control, a project, or a project's security-by-design option)."""

    item: str
    kind: str  # "control", "project" or "security by design"
    funded: bool
    reason: Reason
    detail: str
    #: Funded item: the expected net value lost when it is dropped (positive: it pays). Unfunded item: the change
    #: in expected net value when it is added (negative: it does not pay). Same sample.
    delta_net_value: float = math.nan
    delta_se: float = math.nan
    #: The appetite limits the change breaks (labels), if any.
    limits: tuple[str, ...] = ()


def _sbd_label(name: str) -> str:
    return f"{name} (security by design)"


class _Explainer:
    #: What a change is measured in, and its unit, in the words of a reason.
    value_name = "net value"
    unit = "a year"

    def __init__(self, problem: DecisionProblem, funding: Funding, rules: FundingRules, appetite: Any,
                 margins: tuple[str, ...] = ()) -> None:
        self.problem, self.funding, self.rules, self.appetite = problem, funding, rules, appetite
        self.margins = frozenset(margins)
        self.base_losses = problem.total_losses(funding)
        self.base_net = self._net(funding, self.base_losses)

    def _net(self, f: Funding, losses: np.ndarray) -> float:
        sec, it = self.problem.spend(f)
        return self.problem.expected_value(f) - float(losses.mean()) - sec - it

    def _broken_limits(self, losses: np.ndarray) -> tuple[str, ...]:
        if self.appetite is None or not self.appetite:
            return ()
        status = self.appetite.check(losses)
        broken = [row["limit"] for _, row in status.table.iterrows() if not row["ok"]] if status.table is not None else []
        if not status.tolerance_ok:
            broken.append("tolerance curve")
        return tuple(f"{b} (with its margin)" if b in self.margins else str(b) for b in broken)

    def _change(self, f: Funding) -> tuple[float, float, tuple[str, ...]]:
        losses = self.problem.total_losses(f)
        delta = self._net(f, losses) - self.base_net
        return delta, metrics.paired_se(losses - self.base_losses), self._broken_limits(losses)

    # -- funded ----------------------------------------------------------- #
    def funded(self, item: str, kind: str, without: Funding) -> ItemReason:
        cons = self.rules.constraints
        if item in cons.include:
            return ItemReason(item, kind, True, Reason.RULE, "you asked to include it")
        broken = self.rules.violations(without)
        delta, se, limits = self._change(without)
        loss = -delta  # net value lost by dropping it
        if broken:
            reason = Reason.REQUIRED if any(v.rule is Rule.REQUIRES for v in broken) else Reason.RULE
            words = "without it the plan would break a rule: " + _rule_words(broken, item)
            return ItemReason(item, kind, True, reason, words, loss, se, limits)
        if limits:
            words = (f"without it the plan breaks {', '.join(limits)} (net value would change by "
                     f"{money(-loss)} ± {money(se)} {self.unit})")
            return ItemReason(item, kind, True, Reason.LIMIT, words, loss, se, limits)
        if loss > 0:
            words = f"without it expected {self.value_name} falls by {money(loss)} ± {money(se)} {self.unit}"
            return ItemReason(item, kind, True, Reason.PAYS, words, loss, se)
        words = f"dropping it keeps the appetite and gains {money(-loss)} ± {money(se)} {self.unit}"
        return ItemReason(item, kind, True, Reason.NONE, words, loss, se)

    # -- unfunded ------------------------------------------------------------ #
    def unfunded(self, item: str, kind: str, with_it: Funding) -> ItemReason:
        cons = self.rules.constraints
        if item in cons.exclude:
            return ItemReason(item, kind, False, Reason.EXCLUDED, "you excluded it")
        broken = self.rules.violations(with_it)
        if broken:
            excl = [v for v in broken if v.rule in (Rule.EXCLUSIVE, Rule.EXCLUDE)]
            reason = Reason.EXCLUDED if excl else Reason.OVER_BUDGET
            return ItemReason(item, kind, False, reason, _rule_words(broken, item))
        delta, se, limits = self._change(with_it)
        if limits:
            words = f"with it the plan would break {', '.join(limits)}"
            return ItemReason(item, kind, False, Reason.BREAKS_LIMIT, words, delta, se, limits)
        if delta <= 0:
            words = f"with it expected {self.value_name} would fall by {money(-delta)} ± {money(se)} {self.unit}"
        else:
            words = (f"with it expected {self.value_name} would rise by {money(delta)} ± {money(se)} {self.unit} and the appetite "
                     f"holds: the plan is not optimal")
        return ItemReason(item, kind, False, Reason.DOES_NOT_PAY, words, delta, se)


class _HorizonExplainer(_Explainer):
    """Reasons over a horizon: changes in NPV, and the appetite in every year (named "year t: VaR95")."""

    value_name = "NPV"

    def __init__(self, problem: DecisionProblem, funding: Funding, rules: FundingRules, appetite: Any,
                 horizon: Any) -> None:
        from .years import YearMix, year_table

        self.horizon, self.mix, self._table = horizon, YearMix(problem), year_table
        self.unit = f"over {horizon.years} years"
        self.factors = np.array([horizon.factor(t) for t in range(1, horizon.years + 1)])
        super().__init__(problem, funding, rules, appetite)
        self.base_years = self._years(funding)

    def _years(self, f: Funding) -> list[np.ndarray]:
        return [self.mix.losses(f, t) for t in range(1, self.horizon.years + 1)]

    def _net(self, f: Funding, losses: np.ndarray) -> float:
        return self._table(self.problem, f, self.horizon, self.mix)[1]

    def _change(self, f: Funding) -> tuple[float, float, tuple[str, ...]]:
        years = self._years(f)
        delta = self._net(f, years[0]) - self.base_net
        discounted = sum(d * (x - b) for d, x, b in zip(self.factors, years, self.base_years))
        broken: list[str] = []
        for t, x in enumerate(years, start=1):
            broken += [f"year {t}: {b}" for b in self._broken_limits(x)]
        return delta, metrics.paired_se(discounted), tuple(dict.fromkeys(broken))


def _rule_words(broken: list[Violation], item: str) -> str:
    return "; ".join(v.message for v in broken)


def _with_requirements(problem: DecisionProblem, funding: Funding, name: str, sbd: bool = False) -> Funding:
    """``funding`` plus ``name`` and everything it requires (transitively)."""
    names = set(funding.names)
    todo = [name]
    while todo:
        n = todo.pop()
        if n in names:
            continue
        names.add(n)
        item = (problem.controls[problem.control_index[n]] if n in problem.control_index
                else problem.projects[problem.project_index[n]])
        todo.extend(item.requires)
    design = set(funding.security_by_design) | ({name} if sbd else set())
    return problem.funding(sorted(names, key=_order(problem)), sorted(design, key=_order(problem)))


def _order(problem: DecisionProblem) -> Any:
    index = {**{c: i for i, c in enumerate(problem.control_index)},
             **{p: len(problem.control_index) + i for i, p in enumerate(problem.project_index)}}
    return lambda n: index[n]


def explain(
    problem: DecisionProblem,
    funding: Funding,
    *,
    appetite: Any = None,
    constraints: Constraints | None = None,
    margins: tuple[str, ...] = (),
    horizon: Any = None,
) -> list[ItemReason]:
    """The reason for every candidate control, project and security-by-design option.

    Parameters
    ----------
    problem : DecisionProblem
        The sample the plan was chosen on.
    funding : Funding
        The plan's funding choice.
    appetite : Appetite, optional
        The limits the plan must hold.
    constraints : Constraints, optional
        The rules the plan follows (budget, shares, include/exclude, ...).
    margins : tuple of str
        Labels of limits in ``appetite`` that were lowered by a margin for
        fresh years: named "VaR95 (with its margin)" in the reasons.
    horizon : Horizon, optional
        Explain a multi-year plan: changes in NPV over the horizon, and the
        appetite in every year ("year 1: TVaR95").

    Returns
    -------
    list of ItemReason
        Controls first, then projects, then security-by-design options, in the
        problem's order.
    """
    rules = FundingRules(problem, constraints or Constraints(), where="explain")
    ex = (_Explainer(problem, funding, rules, appetite, margins) if horizon is None
          else _HorizonExplainer(problem, funding, rules, appetite, horizon))
    out: list[ItemReason] = []
    on = set(funding.names)
    for c in problem.controls:
        if c.name in on:
            without = problem.funding([n for n in funding.names if n != c.name], funding.security_by_design)
            out.append(ex.funded(c.name, "control", without))
        else:
            out.append(ex.unfunded(c.name, "control", _with_requirements(problem, funding, c.name)))
    for p in problem.projects:
        if p.name in on:
            without = problem.funding([n for n in funding.names if n != p.name],
                                      [n for n in funding.security_by_design if n != p.name])
            out.append(ex.funded(p.name, "project", without))
        else:
            out.append(ex.unfunded(p.name, "project", _with_requirements(problem, funding, p.name)))
    for p in problem.projects:
        if p.security_by_design is None or p.name not in on:
            continue
        label = _sbd_label(p.name)
        if p.name in funding.security_by_design:
            without = problem.funding(funding.names, [n for n in funding.security_by_design if n != p.name])
            out.append(ex.funded(label, "security by design", without))
        else:
            out.append(ex.unfunded(label, "security by design", _with_requirements(problem, funding, p.name, sbd=True)))
    return out


def reasons_table(reasons: list[ItemReason]) -> Any:
    """A DataFrame of :func:`explain`'s reasons, one row per item (raw numbers)."""
    import pandas as pd

    rows = [
        {
            "item": r.item,
            "kind": r.kind,
            "funded": r.funded,
            "reason": str(r.reason),
            "detail": r.detail,
            "delta_net_value": r.delta_net_value,
            "delta_se": r.delta_se,
            "limits": ", ".join(r.limits),
        }
        for r in reasons
    ]
    return pd.DataFrame(rows).set_index("item")


def explain_plan(plan: Any, *, constraints: Constraints | None = None) -> list[ItemReason]:
    """:func:`explain` for a :class:`~riskbudget.optimization.Plan`, with its appetite and constraints.

    A plan optimised with margins for fresh years (``plan.optimised_for``) is
    explained against the limits as the program enforced them: a limit's label
    then reads "VaR95 (with its margin)".
    """
    cons = constraints if constraints is not None else getattr(plan, "constraints", None)
    if cons is None:
        cons = Constraints(budget=plan.budget)
    if getattr(plan, "by_year", None) is not None:
        from .years import Horizon

        budgets = plan.by_year["budget"].to_numpy(dtype=float)
        horizon = Horizon(plan.horizon, plan.discount_rate,
                          tuple(float(b) for b in budgets) if np.isfinite(budgets).all() else None)
        return explain(plan.problem, plan.funding, appetite=plan.appetite_spec, constraints=cons, horizon=horizon)
    enforced = getattr(plan, "optimised_for", None)
    if enforced is None:
        return explain(plan.problem, plan.funding, appetite=plan.appetite_spec, constraints=cons)
    margins = getattr(plan, "margins", {}) or {}
    return explain(plan.problem, plan.funding, appetite=enforced, constraints=cons,
                   margins=tuple(k for k, v in margins.items() if v > 0))
