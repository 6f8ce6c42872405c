"""Where the tail comes from: Euler allocation of ALE and TVaR, and paired comparisons on common random numbers."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import metrics
from ..exceptions import RiskBudgetError
from ..formatting import money

# --------------------------------------------------------------------------- #
# Euler allocation
# --------------------------------------------------------------------------- #


def contributions(result: Any, *, q: float = 0.95) -> Any:
    """Each scenario's share of the portfolio ALE and TVaR (Euler allocation).

    The TVaR contribution of a scenario is the mean of its annual loss in the
    portfolio's worst ``1 - q`` share of years - the years where the total is
    at or above VaR_q, with years tied at the quantile sharing the remaining
    weight (see :func:`riskbudget.metrics.tail_weights`); the contributions
    add up to the portfolio TVaR_q, as the ALEs add up to the portfolio ALE.
    A scenario whose large losses fall in the portfolio's bad years gets a
    large share of the tail even if its ALE is modest.

    Parameters
    ----------
    result : SimulationResult
    q : float, default 0.95
        Tail level.

    Returns
    -------
    pandas.DataFrame
        One row per scenario (register order): ``ale``, ``ale_se``,
        ``ale_share``, ``tvar_contribution``, ``tvar_contribution_se``,
        ``tvar_share``, ``standalone_var``, ``standalone_tvar`` and
        ``diversification`` (standalone TVaR minus contribution). The columns
        ``ale`` and ``tvar_contribution`` sum to ``result.ale()`` and
        ``result.tvar(q)``. ``tvar_contribution_se`` is the Monte Carlo error
        of the contribution, from its influence function (the tail years vary
        from sample to sample too; :func:`riskbudget.metrics.tail_contribution_se`).

    Examples
    --------
    >>> import riskbudget as rb
    >>> reg = rb.read_register(rb.io.example_path())
    >>> table = contributions(rb.simulate(reg, years=5_000, seed=1))
    >>> round(float(table["tvar_share"].sum()), 9)
    1.0
    """
    import pandas as pd

    q = metrics.check_level(q)
    losses = result.losses.to_numpy()
    total = result.annual_loss.to_numpy()
    n = total.size
    v = metrics.var(total, q)
    # Euler allocation of TVaR: each year's weight in the portfolio TVaR (1 in the
    # worst years, a share for years tied at the quantile) applied to each scenario.
    weights = metrics.tail_weights(total, q)
    near_var = metrics.var_weights(total, q)
    m_share = n * (1.0 - q)
    tvar_parts = weights @ losses / m_share
    tvar_total = float(weights @ total / m_share)
    m = int(np.count_nonzero(weights))
    ale = losses.mean(axis=0)
    ale_total = float(total.mean())
    rows = []
    for j in range(len(result.names)):
        col = losses[:, j]
        rows.append(
            {
                "ale": float(ale[j]),
                "ale_se": float(col.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                "ale_share": float(ale[j] / ale_total) if ale_total > 0 else math.nan,
                "tvar_contribution": float(tvar_parts[j]),
                "tvar_contribution_se": metrics.tail_contribution_se(col, weights, near_var, q),
                "tvar_share": float(tvar_parts[j] / tvar_total) if tvar_total > 0 else math.nan,
                "standalone_var": metrics.var(col, q),
                "standalone_tvar": metrics.tvar(col, q),
            }
        )
    out = pd.DataFrame(rows, index=pd.Index(list(result.names), name="scenario"))
    out["diversification"] = out["standalone_tvar"] - out["tvar_contribution"]
    out.attrs.update({"q": q, "var": v, "tvar": tvar_total, "ale": ale_total, "tail_years": m})
    return out



# --------------------------------------------------------------------------- #
# Paired comparison on common random numbers
# --------------------------------------------------------------------------- #
def _var_influence(x: np.ndarray, q: float) -> tuple[float, np.ndarray]:
    """VaR_q and its influence values ``(q - 1{x <= VaR}) / f(VaR)``."""
    v = metrics.var(x, q)
    n = x.size
    inv_density = metrics.var_se(x, q) * math.sqrt(n) / math.sqrt(q * (1.0 - q))
    return v, (q - (x <= v)) * inv_density


def _tvar_influence(x: np.ndarray, q: float) -> tuple[float, np.ndarray]:
    """TVaR_q and its influence values ``v + (x - v)+ / (1 - q) - TVaR`` (v the lower q-quantile)."""
    t = metrics.tvar(x, q)
    v = float(np.quantile(x, q, method="inverted_cdf"))
    return t, v + np.maximum(x - v, 0.0) / (1.0 - q) - t


def _check_paired(a: Any, b: Any, what: str) -> None:
    if a.years != b.years:
        raise RiskBudgetError(f"{what}: the results cover different numbers of years ({a.years:,} and {b.years:,})")
    if (a.seed, tuple(a.spawn_key)) != (b.seed, tuple(b.spawn_key)):
        raise RiskBudgetError(
            f"{what}: the results were simulated with different seeds ({a.seed} and {b.seed}); simulate both with "
            f"the same seed so that they share common random numbers and the difference is paired"
        )
    if a.method != b.method:
        raise RiskBudgetError(f"{what}: the results use different methods ({a.method!r} and {b.method!r})")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two results on common random numbers, e.g. inherent and residual risk.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per metric (``ale``, ``var<q>``, ``tvar<q>``, ``p_loss`` and
        ``p_exceed_<x>`` for each threshold x), columns ``label``, ``inherent``,
        ``residual``, ``reduction`` (inherent - residual),
        ``reduction_se`` (standard error of the paired difference),
        ``reduction_share`` (reduction / inherent) and ``unpaired_se`` (what
        the error would be for independent runs).
    by_scenario : pandas.DataFrame
        ALE per scenario present in both: ``inherent``, ``residual``,
        ``reduction``, ``reduction_se``.
    inherent, residual : SimulationResult
    q : float
    """

    table: Any
    by_scenario: Any
    inherent: Any
    residual: Any
    q: float

    def reduction(self, metric: str = "ale") -> float:
        """Inherent minus residual value of a metric (a row of :attr:`table`)."""
        return float(self.table.loc[metric, "reduction"])

    def reduction_se(self, metric: str = "ale") -> float:
        return float(self.table.loc[metric, "reduction_se"])

    def __repr__(self) -> str:
        return (
            f"Comparison(ALE {money(self.table.loc['ale', 'inherent'])} -> {money(self.table.loc['ale', 'residual'])}, "
            f"reduction {money(self.reduction())} ± {money(self.reduction_se())})"
        )


def compare(inherent: Any, residual: Any, *, q: float = 0.95, thresholds: Iterable[float] = ()) -> Comparison:
    """Compare two results simulated on the same seed (inherent vs residual risk).

    The two runs share common random numbers, so year by year the difference
    is the effect of the change, and its standard error (from the paired
    differences, via influence functions for VaR and TVaR) is far smaller than
    that of either result.

    Parameters
    ----------
    inherent, residual : SimulationResult
        Simulated with the same ``seed``, ``years`` and ``method``.
    q : float, default 0.95
        Level of VaR and TVaR.
    thresholds : iterable of float, optional
        Losses ``x`` at which to compare ``P(annual loss > x)``.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import riskbudget as rb
    >>> s = rb.Scenario("Phishing", loss_event_frequency=rb.PERT(1, 3, 8),
    ...                 primary_loss=rb.LogNormal.from_ci(1e4, 5e5))
    >>> ctrl = rb.Adjustment("frequency", 0.6, source="Awareness training")
    >>> cmp = compare(rb.simulate(s, years=20_000, seed=2),
    ...               rb.simulate(s.with_adjustments(ctrl), years=20_000, seed=2))
    >>> bool(cmp.reduction("ale") > 4 * cmp.reduction_se("ale"))
    True
    """
    import pandas as pd

    _check_paired(inherent, residual, "compare")
    q = metrics.check_level(q)
    x = inherent.annual_loss.to_numpy()
    y = residual.annual_loss.to_numpy()
    label_q = metrics.quantile_label(q)
    rows: dict[str, dict[str, Any]] = {}

    def add(key: str, label: str, a: float, b: float, d: np.ndarray, se_a: float, se_b: float) -> None:
        rows[key] = {
            "label": label,
            "inherent": a,
            "residual": b,
            "reduction": a - b,
            "reduction_se": metrics.paired_se(d),
            "reduction_share": (a - b) / a if a != 0 else math.nan,
            "unpaired_se": math.hypot(se_a, se_b),
        }

    add("ale", "ALE", float(x.mean()), float(y.mean()), x - y, metrics.ale_se(x), metrics.ale_se(y))
    vx, ix = _var_influence(x, q)
    vy, iy = _var_influence(y, q)
    add(f"var{label_q}", f"VaR{label_q}", vx, vy, ix - iy, metrics.var_se(x, q), metrics.var_se(y, q))
    tx, jx = _tvar_influence(x, q)
    ty, jy = _tvar_influence(y, q)
    add(f"tvar{label_q}", f"TVaR{label_q}", tx, ty, jx - jy, metrics.tvar_se(x, q), metrics.tvar_se(y, q))
    n = x.size
    for key, label, t in [("p_loss", "P(loss > 0)", 0.0)] + [
        (f"p_exceed_{float(t):.0f}", f"P(loss > {money(t)})", float(t)) for t in thresholds
    ]:
        ex, ey = (x > t), (y > t)
        pa, pb = float(ex.mean()), float(ey.mean())
        add(key, label, pa, pb, ex.astype(float) - ey, metrics.exceedance_se(pa, n), metrics.exceedance_se(pb, n))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "metric"

    common = [name for name in inherent.names if name in set(residual.names)]
    by = []
    for name in common:
        a = inherent.losses[name].to_numpy()
        b = residual.losses[name].to_numpy()
        by.append(
            {
                "inherent": float(a.mean()),
                "residual": float(b.mean()),
                "reduction": float(a.mean() - b.mean()),
                "reduction_se": metrics.paired_se(a - b),
            }
        )
    by_scenario = pd.DataFrame(by, index=pd.Index(common, name="scenario"),
                               columns=["inherent", "residual", "reduction", "reduction_se"])
    return Comparison(table=table, by_scenario=by_scenario, inherent=inherent, residual=residual, q=q)
