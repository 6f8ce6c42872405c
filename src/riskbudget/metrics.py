"""Risk metrics of simulated annual losses: arrays in, numbers out.

Definitions (``x`` holds one simulated annual loss per year, ``n`` years):

* ``ale`` - the mean annual loss; ``ale_se = sd / sqrt(n)``.
* ``var(x, q)`` - value at risk, the q-quantile of annual loss (numpy's
  default linear interpolation between order statistics).
* ``tvar(x, q)`` - tail value at risk: the mean of the worst ``1 - q`` share
  of years (Acerbi and Tasche 2002; the actuarial TVaR, also called expected
  shortfall or CVaR). When ``n (1 - q)`` is a whole number and no two years
  tie at the quantile, this is exactly the mean of the annual losses at or
  above VaR_q; otherwise the year at the boundary counts with a share.
  When many years share the quantile's value (typically 0, because more than
  ``q`` of years have no loss at all), only as many of them count as are needed
  to make up the ``1 - q`` share, so TVaR is the mean of the worst years and
  never collapses to the ALE. It equals the Rockafellar-Uryasev form
  ``v + E[(X - v)+] / (1 - q)`` with ``v`` the lower q-quantile, which is what
  the optimiser constrains linearly; :func:`expected_shortfall` is the same
  number.
* ``exceedance(x, t)`` - P(annual loss > t); the return period is its inverse.

Standard errors are Monte Carlo errors of the estimates, not parameter
uncertainty: for VaR from the sample quantiles at ``q -/+ sqrt(q (1 - q) / n)``
(distribution-free), for TVaR from its influence function: the standard
deviation of ``v + (x - v)+ / (1 - q)`` over the years, divided by sqrt(n).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .exceptions import RiskBudgetError

__all__ = [
    "Z95",
    "weighted_mean_se",
    "tail_contribution_se",
    "ale",
    "ale_se",
    "var",
    "var_se",
    "tvar",
    "tvar_se",
    "expected_shortfall",
    "tail_weights",
    "var_weights",
    "euler_contributions",
    "check_level",
    "paired_se",
    "exceedance",
    "exceedance_se",
    "return_period",
    "lec",
    "describe",
    "quantile_label",
]

#: The two-sided 95% quantile of the standard normal: a 95% interval is the estimate +- Z95 standard errors.
Z95 = 1.959963984540054


def _array(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise RiskBudgetError(f"expected a one-dimensional array of annual losses, got shape {a.shape}")
    if a.size == 0:
        raise RiskBudgetError("expected at least one simulated year, got an empty array")
    return a


def check_level(q: float) -> float:
    """``float(q)``, or an error unless it is a quantile level strictly between 0 and 1."""
    q = float(q)
    if not 0.0 < q < 1.0:
        raise RiskBudgetError(f"quantile level q ({q!r}) must lie in (0, 1), e.g. 0.95")
    return q


def paired_se(d: Any) -> float:
    """Standard error of the mean of paired differences ``d`` (NaN with fewer than two)."""
    d = np.asarray(d, dtype=float)
    return float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan


def quantile_label(q: float) -> str:
    """``0.95 -> '95'``, ``0.995 -> '99.5'`` (for column names such as ``var95``)."""
    return f"{q * 100:g}"


def ale(x: Any) -> float:
    """Expected annual loss: the mean of the simulated years."""
    return float(_array(x).mean())


def ale_se(x: Any) -> float:
    """Monte Carlo standard error of the ALE: ``sd / sqrt(n)``."""
    a = _array(x)
    if a.size < 2:
        return math.nan
    return float(a.std(ddof=1) / math.sqrt(a.size))


def _quantiles_sorted_partial(a: np.ndarray, qs: list[float]) -> tuple[list[float], np.ndarray]:
    """Linear-interpolation quantiles (numpy's default) via one partition."""
    n = a.size
    pos = [(n - 1) * q for q in qs]
    kth = sorted({int(math.floor(p)) for p in pos} | {min(int(math.floor(p)) + 1, n - 1) for p in pos})
    part = np.partition(a, kth)
    out = []
    for p in pos:
        lo = int(math.floor(p))
        hi = min(lo + 1, n - 1)
        frac = p - lo
        out.append(float(part[lo] + frac * (part[hi] - part[lo])) if frac else float(part[lo]))
    return out, part


def var(x: Any, q: float = 0.95) -> float:
    """Value at risk: the q-quantile of annual loss."""
    return float(np.quantile(_array(x), check_level(q)))


def var_se(x: Any, q: float = 0.95) -> float:
    """Distribution-free standard error of VaR_q: half the sample's spread between the ``q -/+ s`` quantiles.

    With ``s = sqrt(q (1 - q) / n)``, the sample quantiles at ``q - s`` and
    ``q + s`` bound a ~68% confidence interval for the q-quantile (Serfling
    1980, section 2.6); half its width estimates ``s / f(VaR_q)``, the
    standard error, without the density ``f``. They are read as VaR itself
    is (linear interpolation), so the interval is centred on VaR and is not
    widened by rounding to whole ranks (which overstated the error by
    20-55% with 10-50 tail years). NaN with fewer than 2 years.
    """
    a = _array(x)
    q = check_level(q)
    if a.size < 2:
        return math.nan
    (lo, hi), _ = _quantiles_sorted_partial(a, _var_se_levels(q, a.size))
    return (hi - lo) / 2.0


def _var_se_levels(q: float, n: int) -> list[float]:
    """The levels ``q -/+ sqrt(q (1 - q) / n)`` whose sample quantiles bound VaR_q's ~68% interval."""
    s = math.sqrt(q * (1.0 - q) / n)
    return [max(q - s, 0.0), min(q + s, 1.0)]


def tail_weights(x: Any, q: float = 0.95) -> np.ndarray:
    """Each year's weight in TVaR_q: 1 above the lower q-quantile, a share for ties, else 0.

    The weights sum to ``n (1 - q)``; ``TVaR_q = sum(w * x) / (n (1 - q))``.
    Years tied at the quantile share the remaining weight equally, so the
    Euler allocation built on these weights does not depend on the order of
    tied years.
    """
    a = _array(x)
    v, above, ties, tie_weight, _m = _tail(a, check_level(q))
    w = above.astype(float)
    w[ties] = tie_weight
    return w


def var_weights(x: Any, q: float = 0.95, *, window: int | None = None) -> np.ndarray:
    """Each year's weight in the Euler allocation of VaR_q: the years whose total ranks near the quantile.

    ``E[X_j | S = VaR_q]`` is estimated by the mean of scenario ``j``'s loss
    over the ``window`` years whose portfolio total ``S`` is closest in rank to
    the q-quantile (default ``max(10, 2 sqrt(n))``, a rank-window kernel in the
    manner of Tasche's estimators). The weights are 1 on those years and sum to
    ``window``; :func:`euler_contributions` rescales the estimate so that the
    contributions add up to VaR_q exactly.
    """
    a = _array(x)
    q = check_level(q)
    n = a.size
    k = max(10, int(2 * math.sqrt(n))) if window is None else int(window)
    k = min(max(k, 1), n)
    order = np.argsort(a, kind="stable")
    centre = int(math.ceil(q * n)) - 1  # rank of the lower q-quantile (method "inverted_cdf")
    lo = min(max(centre - k // 2, 0), n - k)
    w = np.zeros(n)
    w[order[lo : lo + k]] = 1.0
    return w


def euler_contributions(losses: Any, q: float = 0.95) -> dict[str, np.ndarray]:
    """Euler allocation of the portfolio's ALE, VaR_q and TVaR_q to the columns of ``losses`` (years x parts).

    Returns arrays (one value per column) ``ale``, ``var`` and ``tvar`` that add
    up to the portfolio's ALE, VaR_q and TVaR_q (the year-by-year sum of the
    columns): TVaR through :func:`tail_weights` (exact on the sample), VaR
    through :func:`var_weights` rescaled to sum to VaR_q.
    """
    m = np.asarray(losses, dtype=float)
    if m.ndim != 2:
        raise RiskBudgetError(f"euler_contributions: losses must be a 2-D array (years x parts), not shape {m.shape}")
    q = check_level(q)
    total = m.sum(axis=1)
    n = total.size
    tw = tail_weights(total, q)
    tvar_parts = tw @ m / (n * (1.0 - q))
    vw = var_weights(total, q)
    raw = vw @ m
    v = var(total, q)
    scale = v / raw.sum() if raw.sum() > 0 else 0.0
    return {"ale": m.mean(axis=0), "var": raw * scale, "tvar": tvar_parts}


def _tail(a: np.ndarray, q: float) -> tuple[float, np.ndarray, np.ndarray, float, float]:
    """(v, years above v, years equal to v, weight of each tied year, n (1 - q))."""
    n = a.size
    m = n * (1.0 - q)
    if abs(m - round(m)) <= 1e-9 * max(1.0, m):
        m = float(round(m))  # 20,000 x (1 - 0.95) is 1000.0000000000009 in floating point
    k = min(max(n - int(math.floor(m + 1e-9)) - 1, 0), n - 1)  # the lower (inverted-CDF) q-quantile
    v = float(np.partition(a, k)[k])
    above = a > v
    ties = a == v
    tie_weight = max(m - int(np.count_nonzero(above)), 0.0) / int(np.count_nonzero(ties))
    return v, above, ties, tie_weight, m


def _tvar_from_tail(a: np.ndarray, q: float) -> tuple[float, float]:
    v, above, _ties, _w, m = _tail(a, q)
    c = int(np.count_nonzero(above))
    return float((a[above].sum() + (m - c) * v) / m), v


def tail_contribution_se(values: np.ndarray, weights: np.ndarray, near_var: np.ndarray, q: float) -> float:
    """Monte Carlo standard error of one part's Euler contribution to TVaR_q, ``E[X_j; S > VaR] / (1 - q)``.

    ``weights`` are the portfolio total's :func:`tail_weights`, ``near_var``
    its :func:`var_weights`. The contribution's influence function is
    ``(x_j - c_j) 1{S > VaR} / (1 - q)`` up to a constant, with
    ``c_j = E[X_j | S = VaR]`` (estimated over the years ``near_var`` marks):
    the years in the tail vary from sample to sample too, which a standard
    error with the tail held fixed leaves out (it understated the error of
    the scenario that dominates the tail by 25-30%). NaN with fewer than 2
    years.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n < 2 or not near_var.any():
        return math.nan
    c = float(near_var @ x / near_var.sum())
    psi = weights * (x - c) / (1.0 - q)
    return float(psi.std(ddof=1) / math.sqrt(n))


def weighted_mean_se(values: np.ndarray, weights: np.ndarray, mean: float, total_weight: float) -> float:
    """Standard error of a weighted mean, with the weights held fixed.

    Not the error of a TVaR contribution, whose tail years vary from sample to
    sample too: that is :func:`tail_contribution_se`.

    ``mean`` is the weighted mean ``weights @ values / total_weight``;
    ``total_weight`` the sum of the weights (at least 1 weight beyond the
    first is needed: NaN otherwise).
    """
    if total_weight <= 1.0:
        return math.nan
    dispersion = float(weights @ (values - mean) ** 2) / (total_weight - 1.0)
    return math.sqrt(dispersion / total_weight)


def tvar(x: Any, q: float = 0.95) -> float:
    """Tail value at risk: the mean of the worst ``1 - q`` share of years.

    Equal to the mean of the annual losses at or above VaR_q when ``n (1 - q)``
    is a whole number and no two years tie at the quantile (else the boundary
    year counts with a share); see the module notes for years tied at 0.
    """
    return _tvar_from_tail(_array(x), check_level(q))[0]


def tvar_se(x: Any, q: float = 0.95) -> float:
    """Monte Carlo standard error of TVaR_q (influence function ``v + (x - v)+ / (1 - q)``)."""
    a = _array(x)
    q = check_level(q)
    if a.size < 2:
        return math.nan
    _t, v = _tvar_from_tail(a, q)
    psi = v + np.maximum(a - v, 0.0) / (1.0 - q)
    return float(psi.std(ddof=1) / math.sqrt(a.size))


def expected_shortfall(x: Any, q: float = 0.95) -> float:
    """Expected shortfall ``v + E[(X - v)+] / (1 - q)``: the same number as :func:`tvar`."""
    return tvar(x, q)


def exceedance(x: Any, threshold: Any) -> Any:
    """P(annual loss > threshold), for a number or an array of thresholds."""
    a = _array(x)
    t = np.asarray(threshold, dtype=float)
    if t.ndim == 0:
        return float(np.count_nonzero(a > t) / a.size)
    s = np.sort(a)
    return (a.size - np.searchsorted(s, t, side="right")) / a.size


def exceedance_se(p: Any, n: int) -> Any:
    """Binomial standard error of an exceedance probability estimated from ``n`` years."""
    p = np.asarray(p, dtype=float)
    out = np.sqrt(p * (1.0 - p) / n)
    return out if out.ndim else float(out)


def return_period(p: Any) -> Any:
    """Return period in years, ``1 / p`` (infinite for p = 0)."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        out = np.where(p > 0, 1.0 / np.where(p > 0, p, 1.0), np.inf)
    return out if out.ndim else float(out)


def lec(x: Any, losses: Any = None, *, points: int = 200) -> Any:
    """Loss exceedance curve: P(annual loss > loss) on a grid of losses.

    Parameters
    ----------
    x : array-like
        Simulated annual losses.
    losses : array-like, optional
        Thresholds. By default ``points`` values spaced evenly on a log scale
        from the 0.1st percentile of the non-zero losses to the largest loss.
    points : int, default 200

    Returns
    -------
    pandas.DataFrame
        Columns ``loss``, ``exceedance``, ``exceedance_se`` and
        ``return_period_years``; ``exceedance`` never rises with ``loss``.
    """
    import pandas as pd

    a = _array(x)
    s = np.sort(a)
    if losses is None:
        positive = s[s > 0]
        if positive.size == 0:
            grid = np.array([0.0])
        else:
            lo = float(positive[int(0.001 * (positive.size - 1))])
            hi = float(positive[-1])
            grid = np.geomspace(lo, hi, int(points)) if hi > lo else np.array([lo])
    else:
        grid = np.sort(np.asarray(losses, dtype=float).ravel())
    p = (s.size - np.searchsorted(s, grid, side="right")) / s.size
    return pd.DataFrame(
        {
            "loss": grid,
            "exceedance": p,
            "exceedance_se": exceedance_se(p, s.size),
            "return_period_years": return_period(p),
        }
    )


def describe(x: Any, *, quantiles: Iterable[float] = (0.5, 0.9, 0.95, 0.99), q: float = 0.95) -> dict[str, float]:
    """All summary metrics of one column of annual losses, as a dict."""
    a = _array(x)
    q = check_level(q)
    qs = [check_level(v) for v in quantiles]
    n = a.size
    # the quantiles asked, VaR, and the two VaR's standard error reads, from one partition
    values, part = _quantiles_sorted_partial(a, qs + [q] + (_var_se_levels(q, n) if n >= 2 else []))
    if n >= 2:
        values, (se_lo, se_hi) = values[:-2], values[-2:]
    v = values[-1]
    mean = float(a.mean())
    sd = float(a.std(ddof=1)) if n > 1 else math.nan
    label = quantile_label(q)
    out: dict[str, float] = {
        "ale": mean,
        "ale_se": sd / math.sqrt(n) if n > 1 else math.nan,
        "sd": sd,
        "p_loss": float(np.count_nonzero(a > 0) / n),
    }
    for qq, val in zip(qs, values[:-1]):
        out[f"p{quantile_label(qq)}"] = val
    out[f"var{label}"] = v
    out[f"var{label}_se"] = (se_hi - se_lo) / 2.0 if n >= 2 else math.nan
    t, lower_q = _tvar_from_tail(part, q)
    out[f"tvar{label}"] = t
    if n >= 2:
        psi = lower_q + np.maximum(part - lower_q, 0.0) / (1.0 - q)
        out[f"tvar{label}_se"] = float(psi.std(ddof=1) / math.sqrt(n))
    else:
        out[f"tvar{label}_se"] = math.nan
    out["max"] = float(part.max())
    return out
