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

__all__ = ["LimitKind", "ToleranceCurve", "Appetite", "Limit", "AppetiteStatus", "read_appetite", "write_appetite"]


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
    return [Limit(kind, k, v) for k, v in mapping.items()]


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
    """

    limits: tuple[Limit, ...] = field(default=())
    tolerance: ToleranceCurve | None = None

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
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "appetite") -> Appetite:
        """Build an appetite from a mapping with the constructor's keywords.

        ``tolerance`` is a list of ``[probability, loss]`` points; ``var``,
        ``tvar`` and ``exceedance`` are mappings; ``var95``, ``var99``,
        ``tvar95`` and ``tvar99`` are amounts. ``name`` and ``description``
        are allowed and ignored. Numbers may be written as text (``"5e7"``).
        """
        if not isinstance(data, Mapping):
            raise RiskBudgetError(f"{source}: expected a mapping of appetite limits, not {type(data).__name__}")
        allowed = {"tolerance", "var95", "var99", "tvar95", "tvar99", "var", "tvar", "exceedance", "name", "description"}
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

    def check(self, result: Any, *, scenario: str | None = None, min_years: int = 10) -> AppetiteStatus:
        """Check a :class:`~riskbudget.SimulationResult` (or an array of annual losses).

        Parameters
        ----------
        result : SimulationResult or array-like
        scenario : str, optional
            Check one scenario instead of the portfolio total.
        min_years : int, default 10
            The LEC is compared with the tolerance curve only at losses that at
            least this many simulated years exceed; further out the curve
            rests on a handful of years and says nothing reliable. The status
            records how far the check reached (``tolerance_checked_to``);
            simulate more years to check further into the tail.

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
                    "ok": bool(v <= lim.limit),
                    "margin": lim.limit - v,
                }
            )
        table = pd.DataFrame(rows, columns=["limit", "kind", "threshold", "value", "se", "ok", "margin"])
        crossings = None
        tolerance_ok = True
        checked_to = None
        if self.tolerance is not None:
            lec = metrics.lec(losses)
            lec = lec[lec["loss"] > 0]
            tol = self.tolerance.prob_at(lec["loss"].to_numpy())
            years = np.rint(lec["exceedance"].to_numpy() * np.asarray(losses).size).astype(np.int64)
            resolved = years >= min_years
            over = (lec["exceedance"].to_numpy() > tol) & resolved
            tolerance_ok = not bool(over.any())
            if resolved.any():
                checked_to = float(lec["loss"].to_numpy()[resolved].max())
            crossings = pd.DataFrame(
                {
                    "loss": lec["loss"].to_numpy(),
                    "exceedance": lec["exceedance"].to_numpy(),
                    "tolerated": tol,
                    "above": over,
                    "years_beyond": years,
                    "resolved": resolved,
                }
            )
        return AppetiteStatus(table=table, tolerance_ok=tolerance_ok, tolerance_table=crossings,
                              tolerance_checked_to=checked_to)


@dataclass(frozen=True, eq=False)
class AppetiteStatus:
    """Which limits hold, by how much, and where the LEC rises above the tolerance curve."""

    table: Any
    tolerance_ok: bool = True
    tolerance_table: Any = None
    #: The largest loss at which the LEC was compared with the tolerance curve.
    tolerance_checked_to: float | None = None

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
        if not self.tolerance_ok and self.tolerance_table is not None:
            parts = []
            for low, high, years in self.tolerance_breaches():
                span = f"at {money(low)}" if low == high else f"between {money(low)} and {money(high)}"
                if years < 10:
                    span += f" (only {years} simulated year(s) lose that much: Monte Carlo noise is likely)"
                parts.append(span)
            out.append("the loss exceedance curve is above the tolerance curve " + "; and ".join(parts))
        return out

    def tolerance_breaches(self) -> list[tuple[float, float, int]]:
        """Loss ranges where the LEC is above the tolerance curve.

        Returns ``(low, high, years)`` per contiguous range of the LEC grid:
        the range's ends and the number of simulated years losing more than
        ``low`` (few years mean a noisy estimate).
        """
        if self.tolerance_table is None or not len(self.tolerance_table):
            return []
        tab = self.tolerance_table
        above = tab["above"].to_numpy()
        loss = tab["loss"].to_numpy()
        years = tab["years_beyond"].to_numpy() if "years_beyond" in tab else np.full(len(tab), 10**9)
        out = []
        i = 0
        while i < above.size:
            if above[i]:
                j = i
                while j + 1 < above.size and above[j + 1]:
                    j += 1
                out.append((float(loss[i]), float(loss[j]), int(years[i])))
                i = j + 1
            else:
                i += 1
        return out

    def crossing_losses(self) -> list[float]:
        """Losses where the LEC crosses the tolerance curve (sign changes of LEC - tolerance).

        Only the part of the curve the check resolved (see ``min_years`` of
        :meth:`Appetite.check`) is searched.
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
