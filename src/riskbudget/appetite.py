"""Risk appetite: the tolerance curve and the limits a board sets.

:class:`ToleranceCurve` is the exceedance probability a board accepts at each
annual loss, drawn through agreed points: a lognormal through two points
(``P(L > x) = 1 - Phi((ln x - mu) / sigma)``), or, through more points, a
curve that is piecewise lognormal (linear in ``ln x`` against the normal
quantile of ``1 - p``), so it is monotone and passes through every point.

:class:`Appetite` holds limits such as "VaR95 at most $20M", "TVaR99 at most
$60M" or "P(annual loss > $50M) at most 1%", and checks a simulation result
against them and against the tolerance curve.

Examples
--------
>>> import riskbudget as rb
>>> curve = rb.ToleranceCurve.from_points([(0.5, 1e6), (0.01, 50e6)])
>>> round(curve.prob_at(1e6), 6), round(curve.loss_at(0.01))
(0.5, 50000000)
>>> appetite = rb.Appetite(var95=20e6, exceedance={50e6: 0.01}, tolerance=curve)
>>> [lim.label for lim in appetite.limits]
['VaR95', 'P(loss > $50M)']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from . import _files, metrics
from ._parse import parse_money, parse_number
from .exceptions import MONEY, Ceiling, RiskBudgetError, missing_dependency, shown
from .formatting import money, percent

__all__ = [
    "LimitKind",
    "ToleranceCurve",
    "Appetite",
    "Limit",
    "AppetiteStatus",
    "read_appetite",
    "write_appetite",
    "TOLERANCE_MIN_YEARS",
]

#: Simulated years needed on each side of a loss before the LEC there is compared with the tolerance curve.
TOLERANCE_MIN_YEARS = 10


def _number(what: str, value: Any, ceiling: Ceiling | None = None) -> float:
    """``float(value)`` for numbers and numeric text ("5e7"), else a RiskBudgetError naming ``what``.

    Amounts of money (``ceiling=MONEY``) are at most 1e15 and may be written as
    people type them ("20M", "$20,000,000"; :func:`riskbudget._parse.parse_money`);
    their sign is checked by the limit's own rule.
    """
    if ceiling is MONEY:
        return parse_money(value, where="", name=what, allow_negative=True, error=RiskBudgetError)
    return parse_number(value, where="", name=what, ceiling=ceiling, error=RiskBudgetError)


def _z(p: Any) -> Any:
    from scipy import special

    return special.ndtri(1.0 - np.asarray(p, dtype=float))


@dataclass(frozen=True)
class ToleranceCurve:
    """The annual-loss exceedance probability a board tolerates, by loss.

    Build it with :meth:`from_points`. ``prob_at(x)`` is the tolerated
    P(annual loss > x); ``loss_at(p)`` the loss tolerated with probability p.
    """

    points: tuple[tuple[float, float], ...]  # (probability, loss), loss ascending

    def __post_init__(self) -> None:
        parsed: list[tuple[float, float]] = []
        for i, point in enumerate(self.points):
            try:
                p, x = point
            except (TypeError, ValueError):
                raise RiskBudgetError(
                    f"ToleranceCurve: point {i + 1} ({point!r}) must be a (probability, loss) pair"
                ) from None
            parsed.append((
                _number(f"ToleranceCurve: point {i + 1} probability", p),
                _number(f"ToleranceCurve: point {i + 1} loss", x, MONEY),
            ))
        pts = tuple(parsed)
        if len(pts) < 2:
            raise RiskBudgetError(
                f"ToleranceCurve: needs at least two (probability, loss) points, got {len(pts)}"
            )
        for i, (p, x) in enumerate(pts):
            if not (math.isfinite(p) and 0.0 < p < 1.0):
                raise RiskBudgetError(f"ToleranceCurve: point {i + 1} probability ({p!r}) must lie in (0, 1)")
            if not (math.isfinite(x) and x > 0):
                raise RiskBudgetError(f"ToleranceCurve: point {i + 1} loss ({x!r}) must be a positive number")
        pts = tuple(sorted(pts, key=lambda t: t[1]))
        for (p1, x1), (p2, x2) in zip(pts, pts[1:]):
            if x1 == x2:
                raise RiskBudgetError(f"ToleranceCurve: two points share the loss {money(x1)}")
            if not p2 < p1:
                raise RiskBudgetError(
                    f"ToleranceCurve: tolerated probability must fall as loss grows, but P(loss > {money(x1)}) = "
                    f"{p1:g} and P(loss > {money(x2)}) = {p2:g}"
                )
        object.__setattr__(self, "points", pts)

    @classmethod
    def from_points(cls, points: Iterable[tuple[float, float]]) -> ToleranceCurve:
        """A curve through ``(probability, loss)`` points, e.g. ``[(0.5, 1e6), (0.01, 50e6)]``."""
        try:
            pts = tuple((p, x) for p, x in points)
        except (TypeError, ValueError):
            raise RiskBudgetError(
                "ToleranceCurve.from_points: give (probability, loss) pairs, e.g. [(0.5, 1e6), (0.01, 50e6)]"
            ) from None
        return cls(pts)

    @property
    def _log_losses(self) -> np.ndarray:
        return np.log([x for _, x in self.points])

    @property
    def _zs(self) -> np.ndarray:
        return _z([p for p, _ in self.points])

    @property
    def is_lognormal(self) -> bool:
        return len(self.points) == 2

    @property
    def lognormal_parameters(self) -> tuple[float, float]:
        """(mu, sigma) of the lognormal through the two end points."""
        lx, z = self._log_losses, self._zs
        sigma = float((lx[-1] - lx[0]) / (z[-1] - z[0]))
        return float(lx[0] - sigma * z[0]), sigma

    def prob_at(self, loss: Any) -> Any:
        """Tolerated P(annual loss > loss)."""
        from scipy import special

        x = np.asarray(loss, dtype=float)
        lx, z = self._log_losses, self._zs
        with np.errstate(divide="ignore"):
            lv = np.log(np.where(x > 0, x, np.nan))
        zz = _piecewise_linear(lv, lx, z)
        out = np.where(x > 0, special.ndtr(-zz), 1.0)
        return out if out.ndim else float(out)

    def loss_at(self, prob: Any) -> Any:
        """Loss whose tolerated exceedance probability is ``prob``."""
        p = np.asarray(prob, dtype=float)
        if np.any((p <= 0) | (p >= 1)):
            raise RiskBudgetError(f"ToleranceCurve.loss_at: probabilities must lie in (0, 1), got {prob!r}")
        lx, z = self._log_losses, self._zs
        out = np.exp(_piecewise_linear(_z(p), z, lx))
        return out if out.ndim else float(out)

    def order_statistic_limits(self, n: int, min_years: int = TOLERANCE_MIN_YEARS) -> tuple[np.ndarray, np.ndarray]:
        """The exact condition on ``n`` simulated years: ranks ``k`` and the largest loss ``u_k`` each may take.

        With the annual losses sorted from the largest, ``L(1) >= L(2) >= ...``,
        the empirical LEC ``P(loss > x) = #{years above x} / n`` is at ``k / n``
        just below ``L(k)``. Drawn as a staircase with its risers (at ``L(k)``
        it passes through every ``j / n`` from ``#{years above L(k)}`` to
        ``#{years at or above L(k)}``), it lies on or below this (decreasing,
        continuous) curve at every point with at least ``min_years`` simulated
        years above and at least ``min_years`` at or below iff ``L(k) <= u_k =
        loss_at(k / n)`` for every ``k`` from ``min_years`` to ``n - min_years``,
        i.e. iff ``#{years with loss > u_k} <= k - 1`` for each of those ``k``.
        (An exceedance probability near 1 rests on the few years below the
        loss as one near 0 rests on the few above it, so both ends of the
        sample are left out alike; ``u_n = 0``.)

        This is comparing ``P(loss > x)`` with the curve at every loss ``x``
        with at least ``min_years`` years above it and ``min_years`` at or
        below it, except when ``L(n - min_years)`` ties with ``L(n - min_years
        + 1)``: then no such loss has exactly ``n - min_years`` years above it,
        yet rank ``n - min_years`` is still checked. That keeps the check
        monotone (a larger loss in some year never turns a breach into a pass),
        which the comparison at losses alone is not, and which the optimiser's
        cuts rely on.

        Returns
        -------
        (k, u) : arrays of int and float
            Empty when ``n < 2 min_years``.

        Examples
        --------
        >>> curve = ToleranceCurve.from_points([(0.5, 1e6), (0.01, 50e6)])
        >>> k, u = curve.order_statistic_limits(1_000, min_years=10)
        >>> int(k[0]), int(k[-1]), round(float(u[k == 500][0]))
        (10, 990, 1000000)
        """
        n, m = int(n), max(int(min_years), 0)
        ks = np.arange(max(m, 1), min(n - m, n) + 1, dtype=np.int64)
        u = np.zeros(ks.size)
        inner = ks < n
        if inner.any():
            u[inner] = self.loss_at(ks[inner] / n)
        return ks, u

    def holds(self, losses: Any, min_years: int = TOLERANCE_MIN_YEARS) -> bool:
        """True when the sample's LEC lies on or below the curve (:meth:`order_statistic_limits`)."""
        x = np.asarray(losses, dtype=float)
        ks, u = self.order_statistic_limits(x.size, min_years)
        if ks.size == 0:
            return True
        return not bool(np.any(_descending(x)[ks - 1] > u))

    def excess_factor(self, losses: Any, min_years: int = TOLERANCE_MIN_YEARS) -> float:
        """``max_k L(k) / u_k``: the factor by which the curve's losses would have to grow to be met (<= 1: met).

        Grows with every year's loss, like every appetite limit; 0 when nothing
        is resolved. Infinite when a positive loss meets ``u_k = 0``.
        """
        x = np.asarray(losses, dtype=float)
        ks, u = self.order_statistic_limits(x.size, min_years)
        if ks.size == 0:
            return 0.0
        top = _descending(x)[ks - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(u > 0, top / np.where(u > 0, u, 1.0), np.where(top > 0, np.inf, 0.0))
        return float(max(ratio.max(), 0.0))

    def curve(self, losses: Any) -> Any:
        """DataFrame of ``loss`` and ``tolerated_exceedance``."""
        import pandas as pd

        x = np.asarray(losses, dtype=float)
        return pd.DataFrame({"loss": x, "tolerated_exceedance": self.prob_at(x)})

    def to_list(self) -> list[list[float]]:
        """The points as ``[[probability, loss], ...]`` (for YAML or JSON)."""
        return [[p, x] for p, x in self.points]

    def __str__(self) -> str:
        pts = ", ".join(f"P(loss > {money(x)}) = {percent(p, digits=2)}" for p, x in self.points)
        shape = "lognormal through" if self.is_lognormal else "monotone curve through"
        return f"tolerance curve: {shape} {pts}"


def _descending(x: np.ndarray) -> np.ndarray:
    """The annual losses from the largest down (``L(1) >= L(2) >= ...``)."""
    return np.sort(x)[::-1]


def _piecewise_linear(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Linear interpolation with linear extrapolation from the end segments."""
    xp = np.asarray(xp, dtype=float)
    fp = np.asarray(fp, dtype=float)
    x = np.asarray(x, dtype=float)
    if xp[0] > xp[-1]:
        xp, fp = xp[::-1], fp[::-1]
    out = np.interp(x, xp, fp)
    lo_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
    hi_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    out = np.where(x < xp[0], fp[0] + (x - xp[0]) * lo_slope, out)
    out = np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * hi_slope, out)
    return out


class LimitKind(StrEnum):
    """The kinds of appetite limit. A string enum: ``LimitKind.VAR == "var"``."""

    #: VaR_q of annual loss <= limit
    VAR = "var"
    #: TVaR_q (the mean of the worst 1 - q share of years) <= limit
    TVAR = "tvar"
    #: P(annual loss > x) <= limit
    EXCEEDANCE = "exceedance"


@dataclass(frozen=True)
class Limit:
    """One appetite limit of a :class:`LimitKind` ("var", "tvar" or "exceedance").

    For VaR and TVaR, ``param`` is the quantile level q and ``limit`` the
    largest acceptable loss. For exceedance, ``param`` is the loss x and
    ``limit`` the largest acceptable P(annual loss > x).
    """

    kind: LimitKind
    param: float
    limit: float

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", LimitKind(self.kind))
        except ValueError:
            raise RiskBudgetError(
                f"Limit: kind {self.kind!r} must be one of {[k.value for k in LimitKind]}"
            ) from None
        money_param = MONEY if self.kind is LimitKind.EXCEEDANCE else None
        money_limit = None if self.kind is LimitKind.EXCEEDANCE else MONEY
        object.__setattr__(self, "param", _number(f"Appetite: {self.kind} level or threshold", self.param, money_param))
        object.__setattr__(self, "limit", _number(f"Appetite: {self.kind} limit", self.limit, money_limit))
        if self.kind in (LimitKind.VAR, LimitKind.TVAR):
            if not 0.0 < self.param < 1.0:
                raise RiskBudgetError(f"Appetite: {self.kind} level ({self.param!r}) must lie in (0, 1), e.g. 0.95")
            if not (math.isfinite(self.limit) and self.limit > 0):
                raise RiskBudgetError(
                    f"Appetite: {self.label} limit ({self.limit!r}) must be a positive amount of money"
                )
        else:
            if not (math.isfinite(self.param) and self.param >= 0):
                raise RiskBudgetError(f"Appetite: exceedance threshold ({self.param!r}) must be a loss >= 0")
            if not 0.0 < self.limit <= 1.0:
                raise RiskBudgetError(
                    f"Appetite: {self.label} limit ({self.limit!r}) must be a probability in (0, 1]"
                )

    @property
    def label(self) -> str:
        if self.kind is LimitKind.VAR:
            return f"VaR{metrics.quantile_label(self.param)}"
        if self.kind is LimitKind.TVAR:
            return f"TVaR{metrics.quantile_label(self.param)}"
        return f"P(loss > {money(self.param)})"

    def value(self, losses: Any) -> float:
        if self.kind is LimitKind.VAR:
            return metrics.var(losses, self.param)
        if self.kind is LimitKind.TVAR:
            return metrics.tvar(losses, self.param)
        return float(metrics.exceedance(losses, self.param))

    def holds(self, losses: Any) -> bool:
        """True when the limit holds on the sample: ``value(losses) <= limit``, the one comparison every caller uses.

        For VaR, counting the years above the limit settles most cases without
        the quantile: the interpolated quantile lies between two order
        statistics, so when both are clearly on one side of the limit (by a
        relative 1e-9, far beyond rounding) the answer is that of the
        comparison; otherwise the quantile is computed.
        """
        if self.kind is LimitKind.VAR:
            x = np.asarray(losses, dtype=float)
            n = x.size
            lower = int(math.floor((n - 1) * self.param))  # VaR lies between order statistics lower and lower + 1
            if np.count_nonzero(x > self.limit * (1 + 1e-9)) >= n - lower:
                return False  # the lower order statistic is above the limit
            if np.count_nonzero(x > self.limit * (1 - 1e-9)) <= n - lower - 2:
                return True  # the upper order statistic is below it
        return bool(self.value(losses) <= self.limit)

    def standard_error(self, losses: Any) -> float:
        if self.kind is LimitKind.VAR:
            return metrics.var_se(losses, self.param)
        if self.kind is LimitKind.TVAR:
            return metrics.tvar_se(losses, self.param)
        p = float(metrics.exceedance(losses, self.param))
        return float(metrics.exceedance_se(p, np.asarray(losses).size))

    def format(self, v: float) -> str:
        return percent(v, digits=2) if self.kind is LimitKind.EXCEEDANCE else money(v)


def _as_limits(kind: str, mapping: Mapping[float, float] | None) -> list[Limit]:
    if not mapping:
        return []
    if not isinstance(mapping, Mapping):
        raise RiskBudgetError(f"Appetite: {kind} must be a mapping, e.g. {{0.95: 20e6}}")
    return [Limit(LimitKind(kind), k, v) for k, v in mapping.items()]


@dataclass(frozen=True, init=False)
class Appetite:
    """The limits a board sets on annual loss.

    Parameters
    ----------
    var95, var99, tvar95, tvar99 : float, optional
        Largest acceptable VaR or TVaR at 95% / 99%.
    var, tvar : mapping of level -> loss, optional
        Other levels, e.g. ``var={0.995: 80e6}``.
    exceedance : mapping of loss -> probability, optional
        ``{50e6: 0.01}`` means P(annual loss > $50M) must be at most 1%.
    tolerance : ToleranceCurve, optional
        The loss exceedance curve must stay at or below it.
    revenue : float, optional
        The company's annual revenue: context, not a limit. The decision pack
        and the scorecard then show security spend as a share of revenue.
    materiality : float, optional
        The share of ``revenue`` a board calls material (``0.05`` or ``"5%"``;
        needs ``revenue``): the pack and the scorecard show the chance of a
        year losing more than ``revenue x materiality``, before and after a
        plan. Context too: add an ``exceedance`` limit to make it one.
    """

    limits: tuple[Limit, ...] = field(default=())
    tolerance: ToleranceCurve | None = None
    revenue: float | None = None
    materiality: float | None = None

    def __init__(
        self,
        *,
        var95: float | None = None,
        var99: float | None = None,
        tvar95: float | None = None,
        tvar99: float | None = None,
        var: Mapping[float, float] | None = None,
        tvar: Mapping[float, float] | None = None,
        exceedance: Mapping[float, float] | None = None,
        tolerance: ToleranceCurve | None = None,
        limits: Iterable[Limit] = (),
        revenue: float | None = None,
        materiality: float | None = None,
    ) -> None:
        if isinstance(limits, (str, bytes, Limit)) or not isinstance(limits, Iterable):
            raise RiskBudgetError(f"Appetite: limits must be a sequence of Limit objects, not {shown(limits)}")
        items: list[Limit] = list(limits)
        for lim in items:
            if not isinstance(lim, Limit):
                raise RiskBudgetError(f"Appetite: limits must be Limit objects, not {shown(lim)}")
        for q, v, kind in (
            (0.95, var95, LimitKind.VAR),
            (0.99, var99, LimitKind.VAR),
            (0.95, tvar95, LimitKind.TVAR),
            (0.99, tvar99, LimitKind.TVAR),
        ):
            if v is not None:
                items.append(Limit(kind, q, v))
        items += _as_limits("var", var) + _as_limits("tvar", tvar) + _as_limits("exceedance", exceedance)
        if tolerance is not None and not isinstance(tolerance, ToleranceCurve):
            raise RiskBudgetError("Appetite: tolerance must be a ToleranceCurve (see ToleranceCurve.from_points)")
        object.__setattr__(self, "limits", tuple(items))
        object.__setattr__(self, "tolerance", tolerance)
        if revenue is not None:
            revenue = parse_money(revenue, where="Appetite", name="revenue", error=RiskBudgetError)
            if not revenue > 0:
                raise RiskBudgetError(f"Appetite: revenue ({revenue:g}) must be more than 0")
        if materiality is not None:
            from ._parse import parse_share

            materiality = parse_share(materiality, where="Appetite", name="materiality", error=RiskBudgetError)
            if revenue is None:
                raise RiskBudgetError("Appetite: materiality needs revenue (the threshold is revenue x materiality)")
            if not materiality > 0:
                raise RiskBudgetError("Appetite: materiality (0) must be a share of revenue above 0, e.g. 0.05 or 5%")
        object.__setattr__(self, "revenue", revenue)
        object.__setattr__(self, "materiality", materiality)

    @property
    def materiality_threshold(self) -> float | None:
        """``revenue x materiality`` (None without both)."""
        if self.revenue is None or self.materiality is None:
            return None
        return self.revenue * self.materiality

    def __bool__(self) -> bool:
        return bool(self.limits) or self.tolerance is not None

    def to_dict(self) -> dict[str, Any]:
        """A YAML/JSON-ready mapping; :meth:`from_dict` restores an equal appetite."""
        out: dict[str, Any] = {}
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance.to_list()
        for kind in LimitKind:
            lims = {lim.param: lim.limit for lim in self.limits if lim.kind is kind}
            if lims:
                out[kind.value] = lims
        if self.revenue is not None:
            out["revenue"] = self.revenue
        if self.materiality is not None:
            out["materiality"] = self.materiality
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "appetite") -> Appetite:
        """Build an appetite from a mapping with the constructor's keywords.

        ``tolerance`` is a list of ``[probability, loss]`` points; ``var``,
        ``tvar`` and ``exceedance`` are mappings; ``var95``, ``var99``,
        ``tvar95`` and ``tvar99`` are amounts; ``revenue`` an amount and
        ``materiality`` a share of it (context for the pack and the scorecard,
        not limits). ``name`` and ``description`` are allowed and ignored. Numbers may be written as text (``"5e7"``).
        """
        if not isinstance(data, Mapping):
            raise RiskBudgetError(f"{source}: expected a mapping of appetite limits, not {type(data).__name__}")
        allowed = {"tolerance", "var95", "var99", "tvar95", "tvar99", "var", "tvar", "exceedance", "name", "description",
                   "revenue", "materiality"}
        unknown = sorted(set(map(str, data)) - allowed)
        if unknown:
            raise RiskBudgetError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        kwargs: dict[str, Any] = {}
        try:
            if data.get("tolerance") is not None:
                kwargs["tolerance"] = ToleranceCurve.from_points(data["tolerance"])
            for key in ("var95", "var99", "tvar95", "tvar99"):
                if data.get(key) is not None:
                    kwargs[key] = _number(key, data[key], MONEY)
            for key in ("revenue", "materiality"):
                if data.get(key) is not None:
                    kwargs[key] = data[key]
            for key in ("var", "tvar", "exceedance"):
                if data.get(key) is not None:
                    value = data[key]
                    if not isinstance(value, Mapping):
                        raise RiskBudgetError(f"{key} must be a mapping, e.g. {{0.995: 8.0e+7}}, not {value!r}")
                    kwargs[key] = {_number(f"{key} key", k): _number(f"{key}[{shown(k)}]", v) for k, v in value.items()}
            return cls(**kwargs)
        except RiskBudgetError as exc:
            raise RiskBudgetError(f"{source}: {exc}") from None

    def describe(self) -> list[str]:
        """Plain-language lines, one per limit and one for the tolerance curve."""
        lines = []
        for lim in self.limits:
            if lim.kind is LimitKind.EXCEEDANCE:
                lines.append(f"{lim.label} at most {percent(lim.limit, digits=2)}")
            else:
                lines.append(f"{lim.label} at most {money(lim.limit)}")
        if self.tolerance is not None:
            text = str(self.tolerance)
            lines.append(text[:1].upper() + text[1:])
        return lines

    def holds(self, losses: Any, *, min_years: int = TOLERANCE_MIN_YEARS) -> bool:
        """True when every limit and the tolerance curve hold on the annual losses (no tables: fast).

        The same comparisons as :meth:`check` (``Limit.holds``,
        ``ToleranceCurve.holds``), which the optimiser also uses, so "within
        appetite" means one thing everywhere.
        """
        x = np.asarray(losses, dtype=float)
        if not all(lim.holds(x) for lim in self.limits):
            return False
        return self.tolerance is None or self.tolerance.holds(x, min_years)

    def check(self, result: Any, *, scenario: str | None = None,
              min_years: int = TOLERANCE_MIN_YEARS) -> AppetiteStatus:
        """Check a :class:`~riskbudget.SimulationResult` (or an array of annual losses).

        Parameters
        ----------
        result : SimulationResult or array-like
        scenario : str, optional
            Check one scenario instead of the portfolio total.
        min_years : int, default 10
            The LEC is compared with the tolerance curve only at losses with at
            least this many simulated years above them and at least this many
            at or below them; further out the curve rests on a handful of years
            and says nothing reliable. The status records how far the check
            reached (``tolerance_checked_to``); simulate more years to check
            further into the tail.

        Notes
        -----
        The tolerance curve is checked on the sample's order statistics, not on
        a grid: the ``k``-th largest annual loss must be at most the loss the
        curve tolerates with probability ``k / n``, for every resolved ``k``
        (:meth:`ToleranceCurve.order_statistic_limits`). That is the LEC (a
        staircase with its risers) on or below the curve at every resolved
        point, and it is the condition the optimiser enforces.
        ``tolerance_table`` holds the LEC on a grid of losses for plots and
        reports only.

        Returns
        -------
        AppetiteStatus

        Examples
        --------
        >>> import numpy as np
        >>> losses = np.random.default_rng(0).lognormal(15, 1, 20_000)
        >>> status = Appetite(var95=20e6).check(losses)
        >>> bool(status.ok), status.table.loc[0, "limit"]
        (True, 'VaR95')
        """
        import pandas as pd

        if isinstance(min_years, bool) or not isinstance(min_years, (int, np.integer)) or min_years < 0:
            raise RiskBudgetError(f"Appetite.check: min_years ({min_years!r}) must be a whole number >= 0")

        losses = result.column(scenario) if hasattr(result, "column") else np.asarray(result, dtype=float)
        losses = np.asarray(losses, dtype=float)
        rows = []
        for lim in self.limits:
            v = lim.value(losses)
            rows.append(
                {
                    "limit": lim.label,
                    "kind": lim.kind,
                    "threshold": lim.limit,
                    "value": v,
                    "se": lim.standard_error(losses),
                    "ok": lim.holds(losses),
                    "margin": lim.limit - v,
                }
            )
        table = pd.DataFrame(rows, columns=["limit", "kind", "threshold", "value", "se", "ok", "margin"])
        if self.tolerance is None:
            return AppetiteStatus(table=table)
        n = losses.size
        ordered = _descending(losses)
        ks, u = self.tolerance.order_statistic_limits(n, min_years)
        above = ordered[ks - 1] > u
        checked_to = float(ordered[ks[0] - 1]) if ks.size else None
        return AppetiteStatus(
            table=table,
            tolerance_ok=not bool(above.any()),
            tolerance_table=self._display_table(losses, min_years),
            tolerance_checked_to=checked_to,
            tolerance_ranges=_breach_ranges(ordered, ks, u, above),
        )

    def _display_table(self, losses: np.ndarray, min_years: int) -> Any:
        """The LEC on :func:`riskbudget.metrics.lec`'s grid against the curve (for plots and reports)."""
        import pandas as pd

        assert self.tolerance is not None
        lec = metrics.lec(losses)
        lec = lec[lec["loss"] > 0]
        tol = self.tolerance.prob_at(lec["loss"].to_numpy())
        years = np.rint(lec["exceedance"].to_numpy() * losses.size).astype(np.int64)
        resolved = (years >= min_years) & (losses.size - years >= min_years)
        return pd.DataFrame(
            {
                "loss": lec["loss"].to_numpy(),
                "exceedance": lec["exceedance"].to_numpy(),
                "tolerated": tol,
                "above": (lec["exceedance"].to_numpy() > tol) & resolved,
                "years_beyond": years,
                "resolved": resolved,
            }
        )


def _breach_ranges(
    ordered: np.ndarray, ks: np.ndarray, u: np.ndarray, above: np.ndarray
) -> tuple[tuple[float, float, int], ...]:
    """Loss ranges where the LEC is above the curve, from the ranks that break it, lowest loss first.

    Rank ``k`` breaks the curve on ``[max(L(k+1), u_k), L(k))``: there
    ``P(loss > x) = k / n`` exceeds the tolerated probability. Runs of
    consecutive ranks join into one range; ``years`` is the number of
    simulated years above the range's low end.
    """
    out = []
    idx = np.flatnonzero(above)
    if idx.size == 0:
        return ()
    breaks = np.flatnonzero(np.diff(idx) > 1)
    for run in np.split(idx, breaks + 1):
        first, last = int(ks[run[0]]), int(ks[run[-1]])  # first: largest loss; last: smallest
        below = float(ordered[last]) if last < ordered.size else 0.0  # L(last + 1)
        low = max(below, float(u[run[-1]]))
        out.append((low, float(ordered[first - 1]), last))
    return tuple(sorted(out))


@dataclass(frozen=True, eq=False)
class AppetiteStatus:
    """Which limits hold, by how much, and where the LEC rises above the tolerance curve."""

    table: Any
    tolerance_ok: bool = True
    #: The LEC on a grid of losses against the curve, for plots and reports (the check uses the order statistics).
    tolerance_table: Any = None
    #: The largest loss at which the LEC was compared with the tolerance curve.
    tolerance_checked_to: float | None = None
    #: ``(low, high, years)`` per loss range where the LEC is above the curve (see :meth:`tolerance_breaches`).
    tolerance_ranges: tuple[tuple[float, float, int], ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.table["ok"].all()) and self.tolerance_ok

    def __bool__(self) -> bool:
        return self.ok

    @property
    def breaches(self) -> list[str]:
        """Plain-language lines, one per broken limit."""
        out = []
        for _, row in self.table.iterrows():
            if not row["ok"]:
                fmt = percent if row["kind"] == "exceedance" else money
                out.append(f"{row['limit']} is {fmt(row['value'])}, above the limit of {fmt(row['threshold'])}")
        if not self.tolerance_ok:
            ranges = self.tolerance_breaches()

            def span(low: float, high: float, years: int) -> str:
                text = f"at {money(low)}" if money(low) == money(high) else f"between {money(low)} and {money(high)}"
                if years < 10:
                    text += f" (only {years} simulated year(s) lose that much: Monte Carlo noise is likely)"
                return text

            if len(ranges) <= 3:
                where = "; and ".join(span(*r) for r in ranges)
            else:
                where = (f"{span(ranges[0][0], ranges[-1][1], min(r[2] for r in ranges))} "
                         f"(in {len(ranges)} separate stretches)")
            out.append("the loss exceedance curve is above the tolerance curve " + where)
        return out

    def tolerance_breaches(self) -> list[tuple[float, float, int]]:
        """Loss ranges where the LEC is above the tolerance curve, lowest first.

        Returns ``(low, high, years)`` per range, from the sample's order
        statistics (every resolved loss, not a grid): the range's ends and the
        number of simulated years losing more than ``low`` (few years mean a
        noisy estimate).
        """
        return list(self.tolerance_ranges)

    def crossing_losses(self) -> list[float]:
        """Losses where the LEC crosses the tolerance curve on the display grid (for plots and reports).

        Sign changes of LEC - tolerance on ``tolerance_table``'s resolved
        points, interpolated in log-loss. Whether the curve is met is decided
        on the order statistics (``tolerance_ok``), not here.
        """
        if self.tolerance_table is None or len(self.tolerance_table) < 2:
            return []
        tab = self.tolerance_table
        if "resolved" in tab:
            tab = tab[tab["resolved"].to_numpy()]
        d = tab["exceedance"].to_numpy() - tab["tolerated"].to_numpy()
        x = tab["loss"].to_numpy()
        idx = np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)
        out = []
        for i in idx:
            # interpolate in log-loss
            t = d[i] / (d[i] - d[i + 1])
            out.append(float(np.exp(np.log(x[i]) + t * (np.log(x[i + 1]) - np.log(x[i])))))
        return out

    def __repr__(self) -> str:
        state = "within appetite" if self.ok else "outside appetite: " + "; ".join(self.breaches)
        return f"AppetiteStatus({state})"


def read_appetite(path: Any) -> Appetite:
    """Read a risk appetite from YAML or JSON (the keywords of :class:`Appetite`).

    The file is read like every input (UTF-8, no YAML aliases, no duplicate
    keys; see ``docs/errors.md``). A file that states no limit and no
    tolerance curve (empty, or only ``name`` and ``description``) is an
    error, not an appetite that every result meets. Amounts of money are at
    most 1e15.

    Example file (``data/example/appetite.yaml``)::

        tolerance:        # [P(annual loss > loss), loss] points the board accepts
          - [0.20, 8.0e+6]
          - [0.01, 4.0e+7]
        var95: 2.0e+7     # VaR95 at most $20M
        tvar99: 4.5e+7    # TVaR99 at most $45M
        exceedance:       # P(annual loss > $50M) at most 0.5%
          5.0e+7: 0.005

    Examples
    --------
    >>> import riskbudget as rb
    >>> appetite = rb.read_appetite(rb.io.example_path("appetite.yaml"))
    >>> appetite.tolerance is not None
    True
    """
    path = _files.check_file(path, RiskBudgetError, what="appetite")
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = _files.load_json(path, RiskBudgetError, what="appetite")
    elif suffix in (".yaml", ".yml"):
        data = _files.load_yaml(path, RiskBudgetError, what="appetite", purpose="Reading a YAML appetite")
    else:
        raise RiskBudgetError(f"{path}: unknown appetite format {suffix!r}; use .yaml, .yml or .json")
    if data is None:
        raise RiskBudgetError(
            f"{path}: the file is empty (or only comments); an appetite file states at least one limit or a "
            f"tolerance curve, e.g. 'var95: 2.0e+7'; pass no appetite file to report without one"
        )
    appetite = Appetite.from_dict(data, source=str(path))
    if not appetite:
        raise RiskBudgetError(
            f"{path}: the file states no limit and no tolerance curve (keys found: {sorted(map(str, data))}); give "
            f"at least one of var95, var99, tvar95, tvar99, var, tvar, exceedance or tolerance"
        )
    return appetite


def write_appetite(appetite: Appetite, path: Any) -> Any:
    """Write an appetite as YAML or JSON (atomically); :func:`read_appetite` reads it back."""
    import json
    from pathlib import Path

    path = Path(path)
    data = appetite.to_dict()
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _files.atomic_write(path, json.dumps({k: ({str(a): b for a, b in v.items()} if isinstance(v, dict) else v)
                                               for k, v in data.items()}, indent=2) + "\n")
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise missing_dependency("pyyaml", "yaml", "Writing a YAML appetite") from None
        return _files.atomic_write(path, yaml.safe_dump(data, sort_keys=False))
    raise RiskBudgetError(f"{path}: unknown appetite format {suffix!r}; use .yaml, .yml or .json")
