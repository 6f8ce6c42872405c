"""Limited moments of a loss capped per event: ``E[min(X, c)^k]`` in closed form.

Shared by :class:`~riskbudget.bayes.PosteriorLoss` (its mean, variance and
conditional means honour the cap exactly) and by the tests that check them.
Every function is vectorised over posterior draws and stays finite for any
draw: the lognormal pieces are computed on the log scale, so a draw with a huge
``sigma`` (whose uncapped mean overflows) still gives its capped moments.

Lognormal (``ln X ~ Normal(mu, sigma)``), for ``0 <= a < b < inf``::

    E[X^k; a <= X < b] = exp(k mu + k^2 sigma^2 / 2) [Phi(z_b) - Phi(z_a)],
    z_x = (ln x - mu - k sigma^2) / sigma

Generalised Pareto excess ``E`` (shape ``xi``, any real; scale ``beta``), with
``g = ln(1 + xi d / beta) / xi`` (``d / beta`` at ``xi = 0``; ``+inf`` beyond
the upper end point ``beta / -xi`` when ``xi < 0``) and
``I(a) = integral_0^g exp(-a s) ds = (1 - exp(-a g)) / a``::

    E[min(E, d)]   = beta I(1 - xi)
    E[min(E, d)^2] = 2 beta^2 [I(1 - 2 xi) - I(1 - xi)] / xi

(substituting ``t = beta (exp(xi s) - 1) / xi``, under which the survival
function is ``exp(-s)``). As ``d -> inf`` these tend to ``beta / (1 - xi)`` and
``2 beta^2 / ((1 - xi)(1 - 2 xi))`` where those are finite.
"""

from __future__ import annotations

import math

import numpy as np

#: Below this ``|xi|`` the GPD's second limited moment uses a series in ``xi`` (no cancellation).
_SMALL_SHAPE = 1e-4


def log_ndtr_difference(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``log(Phi(hi) - Phi(lo))`` for ``hi >= lo``, without cancellation in either tail."""
    from scipy import special

    hi, lo = np.broadcast_arrays(np.asarray(hi, dtype=float), np.asarray(lo, dtype=float))
    flip = lo > 0  # both in the upper tail: Phi(hi) - Phi(lo) = Phi(-lo) - Phi(-hi)
    big = np.where(flip, -lo, hi)
    small = np.where(flip, -hi, lo)
    log_big, log_small = special.log_ndtr(big), special.log_ndtr(small)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = log_big + np.log1p(-np.exp(log_small - log_big))
    return np.where(log_small == -np.inf, log_big, out)


def lognormal_log_partial_moment(k: int, mu: np.ndarray, sigma: np.ndarray, a: float, b: float) -> np.ndarray:
    """``log E[X^k; a <= X < b]`` for lognormal draws (``-inf`` when the interval is empty)."""
    shift = mu + k * sigma * sigma
    z_a = (math.log(a) - shift) / sigma if a > 0 else np.full_like(mu, -np.inf)
    z_b = (math.log(b) - shift) / sigma if math.isfinite(b) else np.full_like(mu, np.inf)
    return k * mu + 0.5 * k * k * sigma * sigma + log_ndtr_difference(z_b, z_a)


def lognormal_log_survival(mu: np.ndarray, sigma: np.ndarray, x: float) -> np.ndarray:
    """``log P(X > x)`` for lognormal draws."""
    from scipy import special

    if x <= 0:
        return np.zeros_like(mu)
    if not math.isfinite(x):
        return np.full_like(mu, -np.inf)
    return special.log_ndtr((mu - math.log(x)) / sigma)


def lognormal_limited_moment(k: int, mu: np.ndarray, sigma: np.ndarray, cap: float) -> np.ndarray:
    """``E[min(X, cap)^k]`` of lognormal draws."""
    part = lognormal_log_partial_moment(k, mu, sigma, 0.0, cap)
    at_cap = k * math.log(cap) + lognormal_log_survival(mu, sigma, cap)
    return np.exp(part) + np.exp(at_cap)


def _integral_exp(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``integral_0^g exp(-a s) ds`` for real ``a`` and ``g`` in ``[0, inf]`` (``g = inf`` needs ``a > 0``)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ag = a * g
        small = np.abs(ag) < 1e-10
        general = -np.expm1(-ag) / np.where(a == 0, 1.0, a)
    return np.where(small, g * (1.0 - 0.5 * np.where(small, ag, 0.0)), general)


def _gpd_log_scale(xi: np.ndarray, beta: np.ndarray, d: float) -> np.ndarray:
    """``g = ln(1 + xi d / beta) / xi`` (``d / beta`` at ``xi = 0``; ``inf`` past a negative shape's end point)."""
    x = xi * d / beta
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log1p(np.maximum(x, -1.0)) / np.where(xi == 0, 1.0, xi)
    return np.where(xi == 0, d / beta, g)


def gpd_limited_moment(k: int, xi: np.ndarray, beta: np.ndarray, d: float) -> np.ndarray:
    """``E[min(E, d)^k]`` (``k`` = 1 or 2) of generalised Pareto excesses, any real shape, ``0 <= d < inf``."""
    from scipy import special

    xi = np.asarray(xi, dtype=float)
    beta = np.asarray(beta, dtype=float)
    if d <= 0:
        return np.zeros(np.broadcast(xi, beta).shape)
    g = _gpd_log_scale(xi, beta, d)
    if k == 1:
        return beta * _integral_exp(1.0 - xi, g)
    if k != 2:
        raise ValueError(f"gpd_limited_moment: k ({k}) must be 1 or 2")
    small = np.abs(xi) < _SMALL_SHAPE
    safe_xi = np.where(small, 1.0, xi)
    with np.errstate(invalid="ignore", over="ignore"):
        direct = (_integral_exp(1.0 - 2.0 * xi, g) - _integral_exp(1.0 - xi, g)) / safe_xi
    # |xi| small: expm1(xi s) / xi = s + xi s^2 / 2 + xi^2 s^3 / 6 + O(xi^3), and
    # integral_0^g s^n exp(-a s) ds = n! / a^(n + 1) P(n + 1, a g).
    a = 1.0 - xi
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        series = sum(xi ** (n - 1) / a ** (n + 1) * special.gammainc(n + 1, a * g) for n in (1, 2, 3))
    return 2.0 * beta * beta * np.where(small, series, direct)
