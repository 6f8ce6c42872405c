"""Adaptive Gauss-Legendre quadrature in plain NumPy.

``scipy.integrate`` takes about half a second to import (it pulls in
``scipy.optimize`` and ``scipy.sparse``), more than a whole simulation's set-up,
and the simulation needs only one integral per scenario (P(capability >
resistance)). :func:`integrate` evaluates a vectorised integrand on whole sets
of panels at once: each panel gets a 20-point and a 10-point Gauss-Legendre
rule; a panel is accepted when the two agree to its share of the tolerance,
otherwise it is halved. Smooth integrands converge on the first panels; a
kink (a triangular or uniform estimate's corner) is isolated by repeated
halving, whose error falls fourfold at each level.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

__all__ = ["integrate"]

#: A panel narrower than this share of the interval is accepted once its error is below ``tol * FLOOR``.
FLOOR = 1.0 / 64


@functools.cache
def _nodes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 20-point then the 10-point Gauss-Legendre nodes on [-1, 1], and each rule's weights (computed once)."""
    from numpy.polynomial import legendre  # on first use: numpy.polynomial is not needed by ``import riskbudget``

    high, low = legendre.leggauss(20), legendre.leggauss(10)
    return np.concatenate([high[0], low[0]]), high[1], low[1]


def _rules(f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each panel's 20-point and 10-point Gauss-Legendre estimates, from one call of ``f``."""
    nodes, w_high, w_low = _nodes()
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    x = mid[:, None] + half[:, None] * nodes[None, :]
    values = np.asarray(f(x.ravel()), dtype=float).reshape(x.shape)
    k = w_high.size
    return half * (values[:, :k] @ w_high), half * (values[:, k:] @ w_low)


def integrate(
    f: Callable[[np.ndarray], np.ndarray], a: float, b: float, *, tol: float = 1e-14, panels: int = 16,
    max_levels: int = 60,
) -> tuple[float, float]:
    """(integral of ``f`` over [a, b], error estimate); ``f`` maps an array of points to their values.

    ``tol`` bounds the absolute error: a panel of width ``w`` is accepted when
    its two rules differ by at most ``tol * max(w / (b - a), FLOOR)``. The
    floor lets the narrow panels at an integrable singularity (a quantile
    function's power-law end, where the error per unit width falls only
    slowly) stop once their error is negligible in absolute terms; there are
    a few such panels per difficult point. The estimate returned is the sum
    of the accepted differences (the 20-point rule's own error is far
    smaller), plus that of panels still unresolved after ``max_levels``
    halvings (then it can exceed ``tol``).
    """
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"integrate: the interval [{a}, {b}] must be finite")
    if b <= a:
        return 0.0, 0.0
    edges = np.linspace(a, b, panels + 1)
    lo, hi = edges[:-1], edges[1:]
    parts: list[float] = []
    error = 0.0
    for _ in range(max_levels):
        high, low = _rules(f, lo, hi)
        diff = np.abs(high - low)
        done = diff <= tol * np.maximum((hi - lo) / (b - a), FLOOR)
        parts.extend(high[done].tolist())
        error += float(diff[done].sum())
        if done.all():
            return math.fsum(parts), error
        lo, hi = lo[~done], hi[~done]
        mid = (lo + hi) / 2
        lo, hi = np.concatenate([lo, mid]), np.concatenate([mid, hi])
    high, low = _rules(f, lo, hi)
    parts.extend(high.tolist())
    error += float(np.abs(high - low).sum())
    return math.fsum(parts), error
