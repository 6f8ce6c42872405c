"""The Gordon-Loeb model of security investment (Gordon and Loeb, 2002).

An information set has a breach probability ``v`` without investment and a
loss ``L`` if breached. Investing ``z`` lowers the breach probability to
``S(z, v)``; the expected net benefit of investment is
``ENBIS(z) = [v - S(z, v)] L - z``. Two classes of breach-probability
function:

* class I: ``S = v / (alpha z + 1) ** beta``;
* class II: ``S = v ** (alpha z + 1)``.

Both are convex and decreasing in ``z``, so ENBIS is concave and the optimum
solves ``-dS/dz L = 1`` when investing anything pays at all:

* class I: ``z* = ((v alpha beta L) ** (1 / (beta + 1)) - 1) / alpha`` if
  ``v alpha beta L > 1``, else 0;
* class II: ``z* = (-ln(-alpha L ln v) / ln v - 1) / alpha`` if
  ``-alpha L v ln v > 1``, else 0.

Gordon and Loeb's bound: the optimum never exceeds ``v L / e`` (about 37% of
the expected loss), see :func:`upper_bound`.

With one budget for several information sets, the first-order conditions
share one shadow price ``lambda``: each set invests until its marginal
benefit ``-dS/dz L`` equals ``1 + lambda``, i.e. its own optimum with loss
``L / (1 + lambda)``. :func:`allocate` finds ``lambda`` so the investments
exhaust the budget (water-filling), or returns the unconstrained optima when
they fit.

Examples
--------
>>> round(optimal_investment(0.5, 1_000_000, alpha=1e-5), 2)
123606.8
>>> optimal_investment(0.5, 1_000_000, alpha=1e-5) <= upper_bound(0.5, 1_000_000)
True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .exceptions import RiskBudgetError, check_finite

__all__ = [
    "breach_probability",
    "expected_net_benefit",
    "marginal_benefit",
    "optimal_investment",
    "upper_bound",
    "allocate",
    "Allocation",
    "BREACH_CLASSES",
]

BREACH_CLASSES = ("I", "II")


def _check(v: Any, loss: Any, alpha: Any, beta: Any, breach_class: Any) -> tuple[float, float, float, float, str]:
    def num(name: str, x: Any) -> float:
        return check_finite("Gordon-Loeb", name, x, RiskBudgetError)

    cls = str(breach_class).strip().upper()
    if cls not in BREACH_CLASSES:
        raise RiskBudgetError(f"Gordon-Loeb: breach_class ({breach_class!r}) must be 'I' or 'II'")
    v_, l_, a_, b_ = num("v", v), num("loss", loss), num("alpha", alpha), num("beta", beta)
    if cls == "I" and not 0.0 <= v_ <= 1.0:
        raise RiskBudgetError(f"Gordon-Loeb: v ({v_:g}) is a probability and must lie in [0, 1]")
    if cls == "II" and not 0.0 < v_ < 1.0:
        raise RiskBudgetError(f"Gordon-Loeb: v ({v_:g}) must lie in (0, 1) for class II (S = v^(alpha z + 1))")
    if l_ < 0:
        raise RiskBudgetError(f"Gordon-Loeb: loss ({l_:g}) must be >= 0")
    if a_ <= 0:
        raise RiskBudgetError(f"Gordon-Loeb: alpha ({a_:g}) must be > 0 (productivity of investment)")
    if b_ <= 0:
        raise RiskBudgetError(f"Gordon-Loeb: beta ({b_:g}) must be > 0")
    return v_, l_, a_, b_, cls


def _investment(z: Any) -> float:
    z_ = check_finite("Gordon-Loeb", "investment z", z, RiskBudgetError)
    if z_ < 0:
        raise RiskBudgetError(f"Gordon-Loeb: investment z ({z_:g}) must be >= 0")
    return z_


def breach_probability(z: float, v: float, alpha: float, beta: float = 1.0, breach_class: str = "I") -> float:
    """``S(z, v)``: the breach probability after investing ``z``."""
    v, _, alpha, beta, cls = _check(v, 0.0, alpha, beta, breach_class)
    z = _investment(z)
    if cls == "I":
        return v / (alpha * z + 1.0) ** beta
    return v ** (alpha * z + 1.0)


def expected_net_benefit(
    z: float, v: float, loss: float, alpha: float, beta: float = 1.0, breach_class: str = "I"
) -> float:
    """``ENBIS(z) = [v - S(z, v)] L - z``."""
    _check(v, loss, alpha, beta, breach_class)
    return (v - breach_probability(z, v, alpha, beta, breach_class)) * loss - z


def marginal_benefit(
    z: float, v: float, loss: float, alpha: float, beta: float = 1.0, breach_class: str = "I"
) -> float:
    """``-dS/dz x L``: expected loss avoided by the next dollar invested at ``z``."""
    v, loss, alpha, beta, cls = _check(v, loss, alpha, beta, breach_class)
    z = _investment(z)
    if cls == "I":
        return v * alpha * beta * (alpha * z + 1.0) ** (-beta - 1.0) * loss
    return -alpha * math.log(v) * v ** (alpha * z + 1.0) * loss


def optimal_investment(v: float, loss: float, alpha: float, beta: float = 1.0, breach_class: str = "I") -> float:
    """The investment ``z*`` that maximises the expected net benefit (closed form).

    Parameters
    ----------
    v : float
        Breach probability without investment.
    loss : float
        Loss if breached.
    alpha, beta : float
        Productivity parameters of the breach-probability function (``beta``
        is used by class I only).
    breach_class : {"I", "II"}

    Returns
    -------
    float
        ``z* >= 0``; 0 when the first dollar already returns less than a dollar.

    Examples
    --------
    >>> round(optimal_investment(0.6, 2e6, alpha=1e-5, breach_class="II"))
    354951
    """
    v, loss, alpha, beta, cls = _check(v, loss, alpha, beta, breach_class)
    if loss == 0 or v == 0:
        return 0.0
    if cls == "I":
        k = v * alpha * beta * loss
        if k <= 1.0:
            return 0.0
        return (k ** (1.0 / (beta + 1.0)) - 1.0) / alpha
    lnv = math.log(v)
    if -alpha * loss * v * lnv <= 1.0:
        return 0.0
    return (-math.log(-alpha * loss * lnv) / lnv - 1.0) / alpha


def upper_bound(v: float, loss: float) -> float:
    """Gordon and Loeb's bound on the optimal investment: ``v L / e``."""
    v_ = check_finite("Gordon-Loeb", "v", v, RiskBudgetError)
    loss_ = check_finite("Gordon-Loeb", "loss", loss, RiskBudgetError)
    if not 0.0 <= v_ <= 1.0:
        raise RiskBudgetError(f"Gordon-Loeb: v ({v_:g}) is a probability and must lie in [0, 1]")
    if loss_ < 0:
        raise RiskBudgetError(f"Gordon-Loeb: loss ({loss_:g}) must be >= 0")
    return v_ * loss_ / math.e


@dataclass(frozen=True)
class Allocation:
    """Investment per asset under one budget.

    Attributes
    ----------
    investment : dict of str -> float
        Investment per asset, in the order given.
    shadow_price : float
        ``lambda``: expected net benefit of one more budget dollar (0 when the
        budget does not bind).
    expected_net_benefit : float
        Sum of the assets' ENBIS at the allocation.
    budget : float
    table : pandas.DataFrame
        Per asset: inputs, ``unconstrained`` optimum, ``investment``,
        ``marginal_benefit`` and ``expected_net_benefit``.
    """

    investment: dict[str, float]
    shadow_price: float
    expected_net_benefit: float
    budget: float
    table: Any

    @property
    def total(self) -> float:
        return float(sum(self.investment.values()))


def _assets(assets: Any) -> list[dict[str, Any]]:
    if isinstance(assets, Mapping):
        items = [dict(v, name=str(k)) if isinstance(v, Mapping) else v for k, v in assets.items()]
    else:
        items = list(assets)
    if not items:
        raise RiskBudgetError("allocate: assets is empty")
    out = []
    allowed = {"name", "v", "loss", "alpha", "beta", "class", "breach_class"}
    for i, a in enumerate(items):
        if not isinstance(a, Mapping):
            raise RiskBudgetError(
                f"allocate: asset #{i + 1} must be a mapping with v, loss, alpha (and beta, class), not {a!r}"
            )
        name = str(a.get("name", f"asset {i + 1}"))
        unknown = set(a) - allowed
        if unknown:
            raise RiskBudgetError(
                f"allocate: asset {name!r} has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        missing = [k for k in ("v", "loss", "alpha") if k not in a]
        if missing:
            raise RiskBudgetError(f"allocate: asset {name!r} lacks {missing}")
        cls = a.get("class", a.get("breach_class", "I"))
        try:
            v, loss, alpha, beta, cls = _check(a["v"], a["loss"], a["alpha"], a.get("beta", 1.0), cls)
        except RiskBudgetError as exc:
            raise RiskBudgetError(f"allocate: asset {name!r}: {exc}") from None
        out.append({"name": name, "v": v, "loss": loss, "alpha": alpha, "beta": beta, "class": cls})
    names: list[str] = [str(a["name"]) for a in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RiskBudgetError(f"allocate: asset names {dupes} appear more than once")
    return out


def allocate(assets: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]], budget: float) -> Allocation:
    """Split one budget across information sets to maximise the total expected net benefit.

    Parameters
    ----------
    assets : sequence of mappings, or mapping name -> mapping
        Each with ``v``, ``loss``, ``alpha`` and optionally ``beta`` (default
        1), ``class`` (``"I"`` or ``"II"``, default ``"I"``) and ``name``.
    budget : float
        Total available (>= 0); the allocation spends at most this much.

    Returns
    -------
    Allocation

    Examples
    --------
    >>> a = allocate([{"name": "ERP", "v": 0.6, "loss": 5e6, "alpha": 2e-6},
    ...               {"name": "CRM", "v": 0.3, "loss": 2e6, "alpha": 5e-6, "class": "II"}], budget=400_000)
    >>> round(a.total) == 400_000 and a.shadow_price > 0
    True
    """
    from scipy.optimize import brentq

    items = _assets(assets)
    try:
        b = float(budget)
    except (TypeError, ValueError):
        raise RiskBudgetError(f"allocate: budget ({budget!r}) must be an amount of money") from None
    if not math.isfinite(b) or b < 0:
        raise RiskBudgetError(f"allocate: budget ({budget!r}) must be a finite amount >= 0")

    def z_at(lam: float) -> list[float]:
        return [optimal_investment(a["v"], a["loss"] / (1.0 + lam), a["alpha"], a["beta"], a["class"]) for a in items]

    unconstrained = z_at(0.0)
    if sum(unconstrained) <= b:
        lam, z = 0.0, unconstrained
    else:
        # At this shadow price no asset's first dollar pays, so every investment is 0, except that rounding
        # can leave a sliver (1e-11) there; a zero or tiny budget then needs a higher end of the bracket.
        hi = max(marginal_benefit(0.0, a["v"], a["loss"], a["alpha"], a["beta"], a["class"]) for a in items) - 1.0
        for _ in range(64):
            if sum(z_at(hi)) <= b:
                break
            hi = 2.0 * hi + 1.0
        lam = brentq(lambda x: sum(z_at(x)) - b, 0.0, hi, xtol=1e-14, rtol=1e-14, maxiter=500)
        z = z_at(lam)
        # spend the budget exactly (brentq stops within its tolerance)
        total = sum(z)
        if total > 0:
            z = [zi * b / total for zi in z]
    import pandas as pd

    rows = []
    for a, zi, zu in zip(items, z, unconstrained):
        rows.append(
            {
                "name": a["name"],
                "v": a["v"],
                "loss": a["loss"],
                "alpha": a["alpha"],
                "beta": a["beta"],
                "class": a["class"],
                "unconstrained": zu,
                "investment": zi,
                "marginal_benefit": marginal_benefit(zi, a["v"], a["loss"], a["alpha"], a["beta"], a["class"]),
                "expected_net_benefit": expected_net_benefit(zi, a["v"], a["loss"], a["alpha"], a["beta"], a["class"]),
            }
        )
    table = pd.DataFrame(rows).set_index("name")
    return Allocation(
        investment={a["name"]: float(zi) for a, zi in zip(items, z)},
        shadow_price=float(lam),
        expected_net_benefit=float(table["expected_net_benefit"].sum()),
        budget=b,
        table=table,
    )
