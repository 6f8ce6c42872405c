"""Appetite limits that hold on fresh years, not only on the sample a plan was chosen on.

An optimiser that meets a limit exactly on one sample picks, among the plans
near the limit, the ones whose sample happens to be kind: on fresh years such a
plan misses the limit about half the time (the demo's TVaR95 <= $18M plan had
$18.4M on the next seed). Two remedies, both here:

* **a margin from each limit's Monte Carlo standard error**
  (:func:`tightened`): the program meets ``limit - z * se`` on its sample, with
  ``se`` the standard error of the limit's statistic (VaR, TVaR, P(loss > x))
  at the plan, and ``z`` chosen so that a fresh sample of the same size holds
  the limit with the requested ``confidence``:
  ``P(V_fresh <= limit) = Phi(z / sqrt(2))`` (the fresh value and the sample's
  value each carry one standard error), so ``z = sqrt(2) Phi^-1(confidence)``;
* **a confirmation on another sample** (:func:`confirm`): the plan is
  simulated on fresh years (another seed) and each limit's value there, with its
  standard error, gives the estimated chance that the limit holds on a further
  fresh sample of that size, ``Phi((limit - v) / (sqrt(2) se))``.

A limit on P(loss > x) is a count of years, and its binomial standard error is
0 when no year (or every year) of a sample exceeds ``x``: a normal
approximation would then claim certainty. Its chance is therefore computed for
the count itself (:func:`exceedance_chance_to_hold`: beta-binomial, from
Jeffreys' posterior of the probability), and its margin at a plan with no
exceedance uses the standard error of Jeffreys' estimate ``(k + 1/2) / (n + 1)``.

The tolerance curve gets no margin (it is a curve, not one statistic); its
check on the fresh years is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..appetite import Appetite, Limit, LimitKind
from ..exceptions import RiskBudgetError
from ..formatting import money, percent

__all__ = ["LimitCheck", "Robustness", "margin_z", "tightened", "confirm", "confirm_years", "chance_to_hold",
           "exceedance_chance_to_hold"]


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _phi_inv(p: float) -> float:
    from scipy import special

    return float(special.ndtri(p))


def margin_z(confidence: float) -> float:
    """Standard errors of margin so that a fresh sample holds a limit with probability ``confidence``."""
    if not 0.5 <= confidence < 1.0:
        raise RiskBudgetError(
            f"robustness: confidence ({confidence!r}) must lie in [0.5, 1), e.g. 0.95 (0.5 means no margin)"
        )
    return math.sqrt(2.0) * _phi_inv(confidence)


def chance_to_hold(value: float, se: float, limit: float) -> float:
    """Estimated chance that a fresh sample of the same size holds ``value <= limit`` (``value`` +- ``se``)."""
    if not math.isfinite(se) or se <= 0:
        return 1.0 if value <= limit else 0.0
    return _phi((limit - value) / (math.sqrt(2.0) * se))


def _allowed_count(n: int, limit: float) -> int:
    """The most years of ``n`` above the threshold with which ``P(loss > x) <= limit`` holds (-1: none).

    The same comparison as :meth:`Limit.holds`: the count over ``n``, in floating point, against the limit.
    """
    if not limit >= 0.0:
        return -1
    k = min(int(math.floor(limit * n)), n)
    while k < n and (k + 1) / n <= limit:
        k += 1
    while k >= 0 and k / n > limit:
        k -= 1
    return k


def exceedance_chance_to_hold(k: int, n: int, limit: float) -> float:
    """Estimated chance that a fresh sample of ``n`` years holds ``P(loss > x) <= limit``, after ``k`` of ``n``
    years above ``x``.

    Given the true probability ``p``, the fresh sample's count is Binomial(n, p); after ``k`` of ``n``, ``p``'s
    uncertainty is Jeffreys' posterior Beta(k + 1/2, n - k + 1/2). The count is then beta-binomial, and the
    chance is its distribution function at the largest count the limit allows. It is the exceedance
    counterpart of :func:`chance_to_hold` (the two agree when many years exceed), and unlike it never reaches
    certainty from a finite sample: with no year above ``x`` and a limit below ``1 / n`` it is about 71%.
    """
    from scipy import special

    if n <= 0 or not 0 <= k <= n:
        raise RiskBudgetError(f"exceedance_chance_to_hold: need 0 <= k <= n with n >= 1, got k={k!r}, n={n!r}")
    top = _allowed_count(n, limit)
    if top < 0:
        return 0.0
    if top >= n:
        return 1.0
    a, b = k + 0.5, n - k + 0.5
    # sum the shorter side of the beta-binomial's probabilities (log space: n may be in the millions)
    counts = np.arange(top + 1) if top < n / 2 else np.arange(top + 1, n + 1)
    log_pmf = (special.gammaln(n + 1.0) - special.gammaln(counts + 1.0) - special.gammaln(n - counts + 1.0)
               + special.betaln(counts + a, n - counts + b) - special.betaln(a, b))
    mass = float(np.exp(log_pmf).sum())
    chance = mass if top < n / 2 else 1.0 - mass
    return min(max(chance, 0.0), 1.0)


def _margin_se(lim: Limit, losses: np.ndarray) -> float:
    """The standard error a limit's margin is computed from: the limit's own, except for P(loss > x) with no year
    (or every year) above x, where the binomial one is 0; there, that of Jeffreys' estimate (k + 1/2) / (n + 1)."""
    se = float(lim.standard_error(losses))
    if lim.kind is LimitKind.EXCEEDANCE and se == 0.0:
        n = int(np.asarray(losses).size)
        p = (int(np.count_nonzero(np.asarray(losses) > lim.param)) + 0.5) / (n + 1)
        se = math.sqrt(p * (1.0 - p) / n)
    return se


def tightened(appetite: Appetite, losses: np.ndarray, confidence: float) -> tuple[Appetite, dict[str, float]]:
    """The appetite with each limit lowered by ``z`` standard errors of its statistic at ``losses``.

    Returns the tightened appetite and the margin of each limit (by label, in
    the limit's unit). Limits a margin would push to zero or below are kept at
    a tiny positive value (the program then reports them as not achievable).
    A limit on P(loss > x) with no year above ``x`` in ``losses`` gets the
    margin of Jeffreys' estimate (see the module's notes), not none.
    """
    z = margin_z(confidence)
    limits: list[Limit] = []
    margins: dict[str, float] = {}
    for lim in appetite.limits:
        se = _margin_se(lim, losses)
        margin = z * se if math.isfinite(se) else 0.0
        margins[lim.label] = margin
        if lim.kind is LimitKind.EXCEEDANCE:
            new = max(lim.limit - margin, 1e-12)
        else:
            new = max(lim.limit - margin, 1e-9 * lim.limit)
        limits.append(Limit(lim.kind, lim.param, new))
    return Appetite(limits=limits, tolerance=appetite.tolerance, revenue=appetite.revenue,
                    materiality=appetite.materiality), margins


@dataclass(frozen=True)
class LimitCheck:
    """One limit on the plan's sample and on fresh years."""

    label: str
    limit: float
    in_sample: float
    in_sample_se: float
    fresh: float
    fresh_se: float
    #: Estimated chance that the limit holds on a further fresh sample of the same size (for P(loss > x):
    #: :func:`exceedance_chance_to_hold`, from the count of fresh years above x).
    chance: float
    #: The margin the plan was optimised with (0 without one).
    margin: float
    kind: LimitKind

    @property
    def holds_fresh(self) -> bool:
        return self.fresh <= self.limit

    def format(self, v: float) -> str:
        return percent(v, digits=2) if self.kind is LimitKind.EXCEEDANCE else money(v)


@dataclass(frozen=True, eq=False)
class Robustness:
    """Each appetite limit of a plan on its sample and on fresh years, and the chance it holds."""

    checks: tuple[LimitCheck, ...]
    tolerance_ok_fresh: bool | None
    years: int
    seed: Any
    confidence: float | None

    @property
    def ok(self) -> bool:
        """Every limit (and the tolerance curve) holds on the fresh years."""
        return all(c.holds_fresh for c in self.checks) and self.tolerance_ok_fresh is not False

    def table(self) -> Any:
        import pandas as pd

        rows = [
            {
                "limit": c.label,
                "threshold": c.limit,
                "in_sample": c.in_sample,
                "in_sample_se": c.in_sample_se,
                "fresh": c.fresh,
                "fresh_se": c.fresh_se,
                "margin": c.margin,
                "holds_fresh": c.holds_fresh,
                "chance": c.chance,
            }
            for c in self.checks
        ]
        return pd.DataFrame(rows).set_index("limit") if rows else pd.DataFrame()

    def describe(self) -> str:
        lines = [f"Appetite on {self.years:,} fresh years (seed {self.seed}):"]
        for c in self.checks:
            margin = f", optimised with a margin of {c.format(c.margin)}" if c.margin > 0 else ""
            lines.append(
                f"  {c.label} <= {c.format(c.limit)}: {c.format(c.in_sample)} on the sample, {c.format(c.fresh)} ± "
                f"{c.format(c.fresh_se)} on fresh years ({'holds' if c.holds_fresh else 'MISSED'}); "
                f"chance it holds on another fresh sample: {percent(c.chance, digits=0)}{margin}"
            )
        if self.tolerance_ok_fresh is not None:
            lines.append(f"  tolerance curve on fresh years: {'holds' if self.tolerance_ok_fresh else 'MISSED'}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "years": self.years,
            "seed": self.seed,
            "confidence": self.confidence,
            "ok": self.ok,
            "tolerance_ok_fresh": self.tolerance_ok_fresh,
            "limits": [
                {
                    "limit": c.label,
                    "threshold": num(c.limit),
                    "in_sample": num(c.in_sample),
                    "in_sample_se": num(c.in_sample_se),
                    "fresh": num(c.fresh),
                    "fresh_se": num(c.fresh_se),
                    "margin": num(c.margin),
                    "holds_fresh": c.holds_fresh,
                    "chance": num(c.chance),
                }
                for c in self.checks
            ],
        }


def confirm(
    plan: Any,
    *,
    appetite: Appetite | None = None,
    years: int | None = None,
    seed: int | None = None,
    margins: dict[str, float] | None = None,
    confidence: float | None = None,
    progress: bool | None = None,
) -> Robustness:
    """Check a plan's appetite on fresh years (another seed) and estimate the chance each limit holds.

    Parameters
    ----------
    plan : Plan
    appetite : Appetite, optional
        The limits as the board stated them (default: the plan's).
    years : int, optional
        Fresh years (default: as many as the plan's sample).
    seed : int, optional
        Seed of the fresh sample (default: the plan's seed + 1, as ``validate_plan``).
    margins, confidence : optional
        The margins the plan was optimised with and their confidence (for the report).
    """
    from ..insurance import covering
    from ..simulation import simulate

    app = appetite if appetite is not None else getattr(plan, "appetite_spec", None)
    if app is None:
        raise RiskBudgetError("confirm: the plan has no appetite to confirm; pass appetite=")
    if seed is None:
        seed = plan.seed + 1 if isinstance(plan.seed, (int, np.integer)) else None
    n = plan.years if years is None else int(years)
    fresh = simulate(plan.result.register, years=n, seed=seed, keep_counts=False, progress=progress,
                     insurance=covering(tuple(getattr(plan.result, "insurance", ())), list(plan.result.register))
                     or None)
    x_fresh = fresh.annual_loss.to_numpy()
    x_sample = plan.result.annual_loss.to_numpy()
    checks = [_check(lim, x_sample, x_fresh, lim.label, (margins or {}).get(lim.label, 0.0)) for lim in app.limits]
    tol = app.check(fresh).tolerance_ok if app.tolerance is not None else None
    return Robustness(tuple(checks), tol, n, fresh.seed, confidence)


def _check(lim: Limit, x_sample: np.ndarray, x_fresh: np.ndarray, label: str, margin: float) -> LimitCheck:
    """One limit on the sample's and the fresh years' annual losses."""
    v_f, se_f = float(lim.value(x_fresh)), float(lim.standard_error(x_fresh))
    if lim.kind is LimitKind.EXCEEDANCE:
        chance = exceedance_chance_to_hold(int(np.count_nonzero(x_fresh > lim.param)), x_fresh.size, lim.limit)
    else:
        chance = chance_to_hold(v_f, se_f, lim.limit)
    return LimitCheck(label=label, limit=lim.limit, in_sample=float(lim.value(x_sample)),
                      in_sample_se=float(lim.standard_error(x_sample)), fresh=v_f, fresh_se=se_f, chance=chance,
                      margin=margin, kind=lim.kind)


def _years_text(years: list[int]) -> str:
    """``"year 1"``, ``"years 2-5"`` or ``"years 1, 3"``."""
    if len(years) == 1:
        return f"year {years[0]}"
    if years == list(range(years[0], years[-1] + 1)):
        return f"years {years[0]}-{years[-1]}"
    return "years " + ", ".join(str(t) for t in years)


def confirm_years(
    plan: Any,
    horizon: int,
    *,
    appetite: Appetite | None = None,
    years: int | None = None,
    seed: int | None = None,
    progress: bool | None = None,
) -> Robustness:
    """Check a multi-year plan's appetite on fresh years, in every year of its horizon.

    The plan's candidates are simulated again on a fresh sample (another
    seed, every combination, :func:`~riskbudget.optimization.precompute`),
    and each year's losses are mixed from it as the plan's own are
    (:class:`~riskbudget.optimization.years.YearMix`: items partly live in a
    year weigh by the share of the year they are live). Years with the same
    losses on both samples (typically every year once every item is live) are
    checked once. Each check is labelled with its limit and its years, e.g.
    ``"TVaR95 in years 2-3"``; no margins apply (they are for one-year plans).

    Parameters
    ----------
    plan : Plan
        A plan over a horizon (``plan.horizon`` years), on a precomputed problem.
    horizon : int
        The years of the horizon.
    appetite : Appetite, optional
        The limits as the board stated them (default: the plan's).
    years, seed : optional
        Fresh years (default: as many as the plan's sample) and their seed (default: the plan's seed + 1).
    """
    from .problem import precompute
    from .years import YearMix

    app = appetite if appetite is not None else getattr(plan, "appetite_spec", None)
    if app is None:
        raise RiskBudgetError("confirm_years: the plan has no appetite to confirm; pass appetite=")
    problem = plan.problem
    if seed is None:
        seed = plan.seed + 1 if isinstance(plan.seed, (int, np.integer)) else None
    n = plan.years if years is None else int(years)
    fresh = precompute(problem.register, problem.controls, problem.projects, years=n, seed=seed, progress=progress)
    on_sample, on_fresh = YearMix(problem), YearMix(fresh)
    groups: list[tuple[list[int], np.ndarray, np.ndarray]] = []
    for t in range(1, int(horizon) + 1):
        xs, xf = on_sample.losses(plan.funding, t), on_fresh.losses(plan.funding, t)
        same = next((g for g in groups if np.array_equal(g[1], xs) and np.array_equal(g[2], xf)), None)
        if same is None:
            groups.append(([t], xs, xf))
        else:
            same[0].append(t)
    checks = [_check(lim, xs, xf, f"{lim.label} in {_years_text(ts)}", 0.0)
              for ts, xs, xf in groups for lim in app.limits]
    tol = None
    if app.tolerance is not None:
        tol = all(app.check(xf).tolerance_ok for _, _, xf in groups)
    return Robustness(tuple(checks), tol, n, fresh.seed, None)
