"""Appetite limits as the program sees them: tail constraints, their cuts and indicator years.

:func:`tail_constraints` translates an :class:`~riskbudget.Appetite` into
:class:`TailConstraint` objects of two kinds (:class:`TailKind`):

* ``CVAR``: the mean of the worst ``m`` years <= a limit, ``m = n (1 - q)``
  possibly fractional (the last year then counts with weight ``m - floor(m)``),
  which is exactly :func:`riskbudget.metrics.tvar` of the sample. It enters the
  program as cuts ``(1/m) sum_t w_t loss_t <= limit`` with the weights of the
  worst years of each solution found (Kunzi-Bay and Mayer's cutting-plane form
  of the Rockafellar-Uryasev CVaR), valid for every plan because a plan's own
  worst years give the largest such sum;
* ``COUNT``: at most ``allowed`` years with a loss above a threshold, through
  per-year indicators added only for the years some solution put above it
  (:class:`CountState`).

:func:`tail_violations` measures how far a plan's losses break each limit and
which years are to blame; :class:`CutPool` carries cuts and indicator years
from one solve to the next on the same problem and appetite (along a frontier).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from ..appetite import LimitKind
from ..exceptions import RiskBudgetError

__all__ = [
    "TailKind",
    "TailConstraint",
    "tail_constraints",
    "tail_weights",
    "tail_violations",
    "CountState",
    "CutPool",
    "VAR_METHODS",
]

#: How a VaR limit enters the program: the tail mean (conservative) or per-year indicators.
VAR_METHODS = ("cvar", "exact")


class TailKind(Enum):
    """The two forms an appetite limit takes in the program."""

    CVAR = "cvar"  # the mean of the worst m years <= threshold
    COUNT = "count"  # #{years with loss > threshold} <= allowed


@dataclass(frozen=True)
class TailConstraint:
    """One appetite limit as the program sees it."""

    label: str
    kind: TailKind
    m: float = 0.0  # CVAR: the number of worst years, n (1 - q), possibly fractional
    threshold: float = 0.0
    allowed: int = 0  # COUNT: years allowed above the threshold
    note: str = ""


def _m_of(n: int, q: float) -> int:
    return n - int(math.ceil((n - 1) * q))


def _mass_of(n: int, q: float) -> float:
    """n (1 - q), the (possibly fractional) number of years TVaR_q averages (as metrics.tvar)."""
    m = n * (1.0 - q)
    return float(round(m)) if abs(m - round(m)) <= 1e-9 * max(1.0, m) else m


def tail_weights(x: np.ndarray, m: float) -> tuple[np.ndarray, np.ndarray]:
    """(years, weights) of the worst ``m`` years of ``x``, worst first: weight 1, the last ``m - floor(m)``."""
    k = int(math.floor(m + 1e-9))
    frac = m - k
    take = min(k + (1 if frac > 1e-12 else 0), x.size)
    top = np.argpartition(x, x.size - take)[x.size - take :]
    top = top[np.argsort(x[top])[::-1]]
    w = np.ones(take)
    if take > k:
        w[-1] = frac
    return top, w


def tail_constraints(appetite: Any, n: int, *, var_method: str = "cvar") -> list[TailConstraint]:
    """Translate an :class:`~riskbudget.Appetite` into program constraints on ``n`` sample years."""
    out: list[TailConstraint] = []
    if appetite is None:
        return out
    if var_method not in VAR_METHODS:
        raise RiskBudgetError(f"var_method ({var_method!r}) must be 'cvar' or 'exact'")
    for lim in appetite.limits:
        if lim.kind is LimitKind.TVAR:
            out.append(_tvar_constraint(lim, n))
        elif lim.kind is LimitKind.VAR:
            out.append(_var_constraint(lim, n, var_method))
        else:
            allowed = int(math.floor(lim.limit * n + 1e-9))
            note = f"{lim.label}: per-year indicators, at most {allowed} of {n} years above {lim.param:,.0f}"
            out.append(TailConstraint(lim.label, TailKind.COUNT, threshold=lim.param, allowed=allowed, note=note))
    if appetite.tolerance is not None:
        out.extend(_tolerance_constraints(appetite.tolerance, n))
    return out


def _tvar_constraint(lim: Any, n: int) -> TailConstraint:
    mass = _mass_of(n, lim.param)
    note = f"{lim.label}: sample CVaR (mean of the worst {mass:g} years), exact"
    return TailConstraint(lim.label, TailKind.CVAR, m=mass, threshold=lim.limit, note=note)


def _var_constraint(lim: Any, n: int, var_method: str) -> TailConstraint:
    if var_method == "cvar":
        note = f"{lim.label}: through the CVaR of the same tail (conservative: the tail mean is at least VaR)"
        return TailConstraint(lim.label, TailKind.CVAR, m=_mass_of(n, lim.param), threshold=lim.limit, note=note)
    m = _m_of(n, lim.param)
    note = f"{lim.label}: per-year indicators, at most {m - 1} years above the limit (exact up to interpolation)"
    return TailConstraint(lim.label, TailKind.COUNT, threshold=lim.limit, allowed=m - 1, note=note)


def _tolerance_constraints(tolerance: Any, n: int) -> list[TailConstraint]:
    out = []
    for p in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001):
        if p * n < 20:
            continue
        x = float(tolerance.loss_at(p))
        allowed = int(math.floor(p * n + 1e-9))
        note = (
            f"tolerance curve checked at P(loss > {x:,.0f}) <= {p:g}; between these points only the final check applies"
        )
        out.append(TailConstraint(f"tolerance at P={p:g}", TailKind.COUNT, threshold=x, allowed=allowed, note=note))
    return out


def tail_violations(tails: list[TailConstraint], x: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
    """(tail index, relative violation, offending years) for each limit, on a plan's annual losses ``x``.

    A relative violation <= 0 means the limit holds. For a CVAR limit the years
    are the worst ``m`` (worst first, as :func:`tail_weights`); for a COUNT limit
    the years above the threshold.
    """
    out = []
    for k, tc in enumerate(tails):
        if tc.kind is TailKind.CVAR:
            top, w = tail_weights(x, tc.m)
            mean = float(w @ x[top]) / tc.m
            out.append((k, mean / tc.threshold - 1.0, top))
        else:
            over = np.flatnonzero(x > tc.threshold)
            out.append((k, (over.size - tc.allowed) / max(tc.allowed, 1), over))
    return out


def meets(tails: list[TailConstraint], x: np.ndarray) -> bool:
    """True when the losses ``x`` meet every limit exactly (up to 1e-12 relative)."""
    return all(v <= 1e-12 for _, v, _ in tail_violations(tails, x))


@dataclass
class CountState:
    """A COUNT limit in the program: its threshold, allowance, forced years and indicator years so far."""

    threshold: float
    allowed: int
    forced: int  # years above the threshold under every plan
    years: list[int] = field(default_factory=list)


#: A cut over the program's core columns: (coefficients, right-hand side, coefficient of the shortfall sigma).
Cut = tuple[np.ndarray, float, float]


@dataclass
class CutPool:
    """Cuts and indicator years kept from one solve to the next on the same problem and appetite.

    They are valid whatever the budget, so a frontier passes one pool from
    share to share. A pool whose tail constraints differ is emptied first.
    """

    key: tuple[Any, ...] | None = None
    cuts: list[Cut] = field(default_factory=list)
    years: dict[int, list[int]] = field(default_factory=dict)

    def adopt(self, tails: list[TailConstraint]) -> None:
        """Keep the pool if it was built for these tail constraints, else empty it for them."""
        key = tuple((tc.kind, tc.m, tc.threshold, tc.allowed) for tc in tails)
        if self.key != key:
            self.clear()
            self.key = key

    def clear(self) -> None:
        self.key, self.cuts, self.years = None, [], {}
