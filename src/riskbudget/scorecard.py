"""One scorecard the CIO and the CISO both own: value delivered, risk reduced per dollar, spend against benchmarks.

:func:`scorecard` reads a plan and reports, with every comparison stated in
words:

* the project value the plan delivers (expected, per year);
* the risk it reduces per dollar of security spend (ALE and TVaR95 before
  minus after, on the plan's sample, divided by the security spend);
* the security share of the plan's spend against the cited benchmark of
  security budgets as a share of IT spend (IANS Research & Artico Search,
  Security Budget Benchmark 2024: 13.2%, 8.6% in 2020; the source gives no
  percentiles, so none are shown) - comparable only when the plan's budget is
  the whole IT budget, which the scorecard says;
* with the company's ``revenue``: security spend as a share of revenue
  against the same source (0.69% in 2024, 0.50% in 2020), and, with a
  ``materiality`` share, the chance that a year's losses exceed the
  materiality threshold (``revenue x materiality``) before and after the plan;
* for each funded control with an incident-response SLA: hours to contain
  without and with it, and the chance it contains an incident faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from . import metrics
from .datasets import benchmark_table
from .exceptions import RiskBudgetError
from .formatting import money, percent

__all__ = ["Scorecard", "scorecard", "SECURITY_SHARE_OF_IT", "SECURITY_SHARE_OF_REVENUE"]

#: Benchmark rows of data/benchmarks/security_budget.csv (ids).
SECURITY_SHARE_OF_IT = ("ians2024_share_of_it", "ians2020_share_of_it")
SECURITY_SHARE_OF_REVENUE = ("ians2024_share_of_revenue", "ians2020_share_of_revenue")


@dataclass(frozen=True)
class Scorecard:
    """The shared metrics of a plan (raw numbers; see :meth:`describe` and :meth:`to_dict`)."""

    expected_value: float
    security_spend: float
    it_spend: float
    ale_reduction: float
    tvar95_reduction: float
    ale_reduced_per_dollar: float
    tvar95_reduced_per_dollar: float
    security_share: float
    benchmarks: dict[str, dict[str, Any]]
    revenue: float | None = None
    security_share_of_revenue: float | None = None
    materiality_threshold: float | None = None
    p_material_before: float | None = None
    p_material_after: float | None = None
    sla: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        share_it = self.benchmarks["share_of_it"]
        lines = [
            f"Project value delivered: {money(self.expected_value)} a year (expected).",
            f"Risk reduced per dollar of security spend: {money(self.ale_reduced_per_dollar, currency='$')} of "
            f"expected annual loss and {money(self.tvar95_reduced_per_dollar, currency='$')} of TVaR95 "
            f"(security spend {money(self.security_spend)}).",
            f"Security share of this plan's spend: {percent(self.security_share)}; security budgets were "
            f"{percent(share_it['value'])} of IT spend in {share_it['year']} ({share_it['source']}, "
            f"{share_it['publisher']}; {percent(share_it['earlier'])} in {share_it['earlier_year']}). The two compare "
            f"only if this budget is the whole IT budget; the source gives no percentiles.",
        ]
        if self.security_share_of_revenue is not None:
            rev = self.benchmarks["share_of_revenue"]
            lines.append(
                f"Security spend is {percent(self.security_share_of_revenue, digits=2)} of revenue; the benchmark is "
                f"{percent(rev['value'], digits=2)} ({rev['year']})."
            )
        if self.p_material_before is not None:
            lines.append(
                f"Chance of a year losing more than the materiality threshold {money(self.materiality_threshold)}: "
                f"{percent(self.p_material_before, digits=2)} before, {percent(self.p_material_after, digits=2)} "
                f"after the plan."
            )
        for s in self.sla:
            lines.append(
                f"Incident response with {s['control']}: {s['hours_without']:.0f} h to contain without, "
                f"{s['hours_with']:.0f} h with it (expected); contained faster in {percent(s['p_faster'], digits=0)} "
                f"of incidents."
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def num(v: Any) -> Any:
            return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v

        return {k: (num(v) if not isinstance(v, (dict, list)) else v) for k, v in self.__dict__.items()}


def _benchmark(ids: tuple[str, str]) -> dict[str, Any]:
    table = benchmark_table("security_budget")
    now, then = table.loc[ids[0]], table.loc[ids[1]]
    return {
        "id": ids[0],
        "value": float(now["value"]),
        "year": int(now["year"]),
        "earlier": float(then["value"]),
        "earlier_year": 2020,
        "source": str(now["source"]),
        "publisher": str(now["publisher"]),
    }


def scorecard(plan: Any, *, revenue: float | None = None, materiality: float | None = None) -> Scorecard:
    """The shared CIO/CISO scorecard of a plan.

    Parameters
    ----------
    plan : Plan
    revenue : float, optional
        The company's annual revenue.
    materiality : float, optional
        The share of revenue a board calls material (e.g. 0.01); needs ``revenue``.
    """
    from ._parse import parse_money, parse_share

    if materiality is not None and revenue is None:
        raise RiskBudgetError("scorecard: materiality needs revenue (the threshold is revenue x materiality)")
    rev = None if revenue is None else parse_money(revenue, where="scorecard", name="revenue")
    mat = None if materiality is None else parse_share(materiality, where="scorecard", name="materiality")
    problem = plan.problem
    after = plan.result.annual_loss.to_numpy()
    before = problem.ground.total_losses(problem.funding())  # the status quo: no plan, no insurance
    sec = float(plan.security_spend)
    # the controls' effect on losses before insurance: what the insurer pays is not risk reduced by security spend
    ground_after = problem.ground.total_losses(plan.funding) if problem.insurance else after
    ale_red = float(before.mean() - ground_after.mean())
    tvar_red = float(metrics.tvar(before, 0.95) - metrics.tvar(ground_after, 0.95))
    per = (lambda x: x / sec) if sec > 0 else (lambda x: math.nan)
    total = float(plan.security_spend + plan.it_spend)  # an insurance premium is neither security nor IT
    card: dict[str, Any] = {
        "expected_value": float(plan.expected_value),
        "security_spend": sec,
        "it_spend": float(plan.it_spend),
        "ale_reduction": ale_red,
        "tvar95_reduction": tvar_red,
        "ale_reduced_per_dollar": per(ale_red),
        "tvar95_reduced_per_dollar": per(tvar_red),
        "security_share": sec / total if total > 0 else math.nan,
        "benchmarks": {"share_of_it": _benchmark(SECURITY_SHARE_OF_IT),
                       "share_of_revenue": _benchmark(SECURITY_SHARE_OF_REVENUE)},
    }
    if rev is not None:
        card["revenue"] = rev
        card["security_share_of_revenue"] = sec / rev if rev > 0 else math.nan
        if mat is not None:
            threshold = rev * mat
            card["materiality_threshold"] = threshold
            card["p_material_before"] = float(metrics.exceedance(before, threshold))
            card["p_material_after"] = float(metrics.exceedance(after, threshold))
    card["sla"] = _sla(plan)
    return Scorecard(**card)


def _sla_figures(h0: Any, h1: Any) -> dict[str, float]:
    """E[H0], E[min(H0, H1)] and P(H1 < H0) of independent hours to contain, by quadrature."""
    from scipy import integrate

    p_faster, _ = integrate.quad(lambda u: float(h1.cdf(float(h0.ppf(u)))), 0.0, 1.0, limit=200)
    top = max(float(h0.ppf(1 - 1e-12)), float(h1.ppf(1 - 1e-12)))
    e_min, _ = integrate.quad(lambda h: (1 - float(h0.cdf(h))) * (1 - float(h1.cdf(h))), 0.0, top, limit=200)
    return {"hours_without": float(h0.mean()), "hours_with": float(e_min), "p_faster": float(p_faster)}


def _sla(plan: Any) -> list[dict[str, Any]]:
    """Per funded SLA control: E[H0], E[min(H0, H1)] and P(H1 < H0)."""
    out = []
    for name in plan.funded_controls:
        c = plan.problem.controls[plan.problem.control_index[name]]
        sla = c.response_sla
        if sla is None:
            continue
        out.append({"control": name, **_sla_figures(sla.hours_to_contain, sla.hours_to_contain_with_control)})
    return out
