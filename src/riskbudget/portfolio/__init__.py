"""Portfolio analytics: dependence between scenarios, where the tail comes from, what moves it.

Dependence
----------
Scenarios are independent unless a :class:`Dependence` says otherwise. Two
kinds, combinable, both driven by the run's seed:

* a **correlation matrix** on the scenarios' annual frequencies through a
  Gaussian copula, or a Student-t copula (``copula="t"``, ``df=...``) whose
  joint extremes are more frequent (tail dependence). Each year one
  correlated uniform per scenario replaces the uniform behind the draw of the
  scenario's frequency estimate (its rate, or its annual probability), so
  every scenario keeps its own frequency distribution (the copula only links
  them). Counts and losses are still drawn from the scenario's own streams.
* **common shocks** (:class:`CommonShock`): a named event, e.g. "cloud
  provider outage", that happens in a year with some probability and, in
  those years, multiplies the frequency of several scenarios at once.

Scenarios that no correlation and no shock involves draw exactly what they
draw in an independent run, so a zero correlation reproduces the independent
result bit for bit, and adding a dependence between A and B leaves C
unchanged (common random numbers). The dependence streams are keyed by name
below the run's root seed and consumed in year order, so the chunk size never
changes a result.

Where the tail comes from
-------------------------
:func:`contributions` splits the portfolio ALE and TVaR among scenarios by
Euler allocation (the mean of each scenario's loss in the years where the
total is at or above VaR); the parts add up to the totals.
:func:`compare` sets two results side by side (inherent vs residual, option A
vs option B) on common random numbers, with the standard error of the paired
difference. :func:`tornado` moves each input estimate from its 10th to its
90th percentile, others held, re-simulating under the same seed.

Examples
--------
>>> import riskbudget as rb
>>> a = rb.Scenario("A", loss_event_frequency=rb.LogNormal.from_ci(0.1, 3),
...                 primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
>>> b = rb.Scenario("B", loss_event_frequency=rb.LogNormal.from_ci(0.1, 3),
...                 primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
>>> dep = rb.Dependence({("A", "B"): 0.8})
>>> result = rb.simulate([a, b], years=20_000, seed=1, dependence=dep)
>>> table = rb.portfolio.contributions(result)
>>> bool(abs(table["tvar_contribution"].sum() - result.tvar(0.95)) < 1e-6 * result.tvar(0.95))
True
"""

from __future__ import annotations

from .attribution import Comparison, compare, contributions
from .dependence import CommonShock, Dependence, nearest_correlation
from .sensitivity import Tornado, sensitivity_inputs, tornado

__all__ = [
    "Dependence",
    "CommonShock",
    "nearest_correlation",
    "contributions",
    "compare",
    "Comparison",
    "tornado",
    "Tornado",
    "sensitivity_inputs",
]
