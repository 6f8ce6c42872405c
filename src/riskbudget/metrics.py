"""Risk metrics of simulated annual losses: arrays in, numbers out.

Definitions (``x`` holds one simulated annual loss per year, ``n`` years):

* ``ale`` - the mean annual loss; ``ale_se = sd / sqrt(n)``.
* ``var(x, q)`` - value at risk, the q-quantile of annual loss (numpy's
  default linear interpolation between order statistics).
* ``tvar(x, q)`` - tail value at risk, the mean of the annual losses at or
  above ``var(x, q)``.
* ``expected_shortfall(x, q)`` - the Acerbi-Tasche / Rockafellar-Uryasev
  expected shortfall ``VaR + E[(X - VaR)+] / (1 - q)``; equal to TVaR for a
  continuous loss, smaller when the quantile falls on an atom (e.g. VaR = 0
  when more than ``q`` of years have no loss). The optimiser's tail limit uses
  this form because it is linear on the sample.
* ``exceedance(x, t)`` - P(annual loss > t); the return period is its inverse.

Standard errors are Monte Carlo errors of the estimates, not parameter
uncertainty: for VaR from the order statistics around ``n q``
(distribution-free), for TVaR from its influence function
(``[Var(X | X >= VaR) + (1 - p)(TVaR - VaR)^2] / (n p)`` with ``p`` the share
of years at or above VaR).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .exceptions import RiskBudgetError

__all__ = [
    "ale",
    "ale_se",
    "var",
    "var_se",
    "tvar",
    "tvar_se",
    "expected_shortfall",
    "exceedance",
    "exceedance_se",
    "return_period",
    "lec",
    "describe",
    "quantile_label",
]


def _array(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise RiskBudgetError(f"expected a one-dimensional array of annual losses, got shape {a.shape}")
    if a.size == 0:
        raise RiskBudgetError("expected at least one simulated year, got an empty array")
    return a


def _level(q: float) -> float:
    q = float(q)
    if not 0.0 < q < 1.0:
        raise RiskBudgetError(f"quantile level q ({q!r}) must lie in (0, 1), e.g. 0.95")
    return q


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
    return float(np.quantile(_array(x), _level(q)))


def var_se(x: Any, q: float = 0.95) -> float:
    """Distribution-free standard error of VaR_q from the order statistics around ``n q``.

    The order statistics at ``n q -/+ sqrt(n q (1 - q))`` bound a ~68%
    confidence interval for the quantile; half its width is the standard error.
    """
    a = _array(x)
    q = _level(q)
    n = a.size
    half = math.sqrt(n * q * (1.0 - q))
    lo = int(max(math.floor(n * q - half), 0))
    hi = int(min(math.ceil(n * q + half), n - 1))
    part = np.partition(a, [lo, hi])
    return float((part[hi] - part[lo]) / 2.0)


def tvar(x: Any, q: float = 0.95) -> float:
    """Tail value at risk: the mean annual loss at or above VaR_q."""
    a = _array(x)
    v = var(a, q)
    return float(a[a >= v].mean())


def tvar_se(x: Any, q: float = 0.95) -> float:
    """Monte Carlo standard error of TVaR_q (influence-function approximation)."""
    a = _array(x)
    v = var(a, q)
    tail = a[a >= v]
    m = tail.size
    if m < 2:
        return math.nan
    p = m / a.size
    t = tail.mean()
    return float(math.sqrt((tail.var(ddof=1) + (1.0 - p) * (t - v) ** 2) / m))


def expected_shortfall(x: Any, q: float = 0.95) -> float:
    """Expected shortfall ``VaR_q + E[(X - VaR_q)+] / (1 - q)`` (Rockafellar-Uryasev CVaR).

    Uses the lower (inverted-CDF) sample quantile, the minimiser of the
    Rockafellar-Uryasev function on the sample.
    """
    a = _array(x)
    q = _level(q)
    v = float(np.quantile(a, q, method="inverted_cdf"))
    return float(v + np.maximum(a - v, 0.0).mean() / (1.0 - q))


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
    q = _level(q)
    qs = [_level(v) for v in quantiles]
    n = a.size
    values, part = _quantiles_sorted_partial(a, qs + [q])
    v = values[-1]
    tail = a[a >= v]
    m = tail.size
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
    out[f"var{label}_se"] = var_se(part, q)
    tmean = float(tail.mean())
    out[f"tvar{label}"] = tmean
    if m >= 2:
        share = m / n
        out[f"tvar{label}_se"] = float(math.sqrt((tail.var(ddof=1) + (1.0 - share) * (tmean - v) ** 2) / m))
    else:
        out[f"tvar{label}_se"] = math.nan
    out["max"] = float(part.max())
    return out
