"""Return on control: ``(ALE reduction - cost) / cost``, standalone and marginal within a plan, with 95% intervals.

One computation for the one-year return (:func:`~riskbudget.optimization.plan.return_on_controls`) and the return
over a multi-year horizon (:func:`~riskbudget.optimization.years.returns_over_horizon`): they differ only in the
losses of a funding (a year's, or the discounted sum over the horizon, per simulated year) and in the cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..metrics import Z95
from .problem import DecisionProblem, Funding

__all__ = ["control_returns"]


def control_returns(
    problem: DecisionProblem,
    funding: Funding,
    losses_of: Callable[[Funding], np.ndarray],
    cost_of: Callable[[Any], float],
    *,
    reduction: str,
    roc: str,
) -> dict[str, dict[str, float]]:
    """Per control of ``problem``: its loss reduction standalone and marginal in ``funding``, and its return.

    *Standalone*: the control alone against no control, with the plan's
    projects. *Marginal*: the plan with the control against the plan without
    it (for an unfunded control: the plan with it added). ``losses_of`` gives
    a funding's losses per simulated year; reductions are differences on those
    common random numbers, so their standard errors are small, and the
    interval is ``reduction +- 1.96 se`` over the cost ``cost_of(control)``
    (NaN for a free control). Each row holds ``{reduction}_{kind}`` and its
    ``_se``, then ``{roc}_{kind}`` with ``_low`` and ``_high``, for ``kind``
    standalone then marginal.
    """
    base = losses_of(Funding((), funding.projects, funding.security_by_design))
    plan = losses_of(funding)
    rows: dict[str, dict[str, float]] = {}
    for ctrl in problem.controls:
        alone = losses_of(Funding((ctrl.name,), funding.projects, funding.security_by_design))
        if ctrl.name in funding.controls:
            others = tuple(c for c in funding.controls if c != ctrl.name)
            marginal = (losses_of(Funding(others, funding.projects, funding.security_by_design)), plan)
        else:
            added = tuple(c.name for c in problem.controls if c.name in funding.controls or c.name == ctrl.name)
            marginal = (plan, losses_of(Funding(added, funding.projects, funding.security_by_design)))
        cost = cost_of(ctrl)
        row: dict[str, float] = {}
        for kind, (before, after) in (("standalone", (base, alone)), ("marginal", marginal)):
            d = before - after
            mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))
            row[f"{reduction}_{kind}"] = mean
            row[f"{reduction}_{kind}_se"] = se
            if cost > 0:
                row[f"{roc}_{kind}"] = (mean - cost) / cost
                row[f"{roc}_{kind}_low"] = (mean - Z95 * se - cost) / cost
                row[f"{roc}_{kind}_high"] = (mean + Z95 * se - cost) / cost
            else:
                row[f"{roc}_{kind}"] = row[f"{roc}_{kind}_low"] = row[f"{roc}_{kind}_high"] = math.nan
        rows[ctrl.name] = row
    return rows
