"""Portfolio analytics: dependence between scenarios, where the tail comes from, what moves it.

Dependence
----------
Scenarios are independent unless a :class:`Dependence` says otherwise. Two
kinds, combinable, both driven by the run's seed:

* a **correlation matrix** on the scenarios' annual frequencies through a
  Gaussian copula, or a Student-t copula (``copula="t"``, ``df=...``) whose
  joint extremes are more frequent (tail dependence). Each year one
  correlated uniform per scenario replaces the uniform behind the draw of the
  scenario's frequency estimate (its rate, or its annual probability), so
  every scenario keeps its own frequency distribution (the copula only links
  them). Counts and losses are still drawn from the scenario's own streams.
* **common shocks** (:class:`CommonShock`): a named event, e.g. "cloud
  provider outage", that happens in a year with some probability and, in
  those years, multiplies the frequency of several scenarios at once.

Scenarios that no correlation and no shock involves draw exactly what they
draw in an independent run, so a zero correlation reproduces the independent
result bit for bit, and adding a dependence between A and B leaves C
unchanged (common random numbers). The dependence streams are keyed by name
below the run's root seed and consumed in year order, so the chunk size never
changes a result.

Where the tail comes from
-------------------------
:func:`contributions` splits the portfolio ALE and TVaR among scenarios by
Euler allocation (the mean of each scenario's loss in the years where the
total is at or above VaR); the parts add up to the totals.
:func:`compare` sets two results side by side (inherent vs residual, option A
vs option B) on common random numbers, with the standard error of the paired
difference. :func:`tornado` moves each input estimate from its 10th to its
90th percentile, others held, re-simulating under the same seed.

Examples
--------
>>> import riskbudget as rb
>>> a = rb.Scenario("A", loss_event_frequency=rb.LogNormal.from_ci(0.1, 3),
...                 primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
>>> b = rb.Scenario("B", loss_event_frequency=rb.LogNormal.from_ci(0.1, 3),
...                 primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
>>> dep = rb.Dependence({("A", "B"): 0.8})
>>> result = rb.simulate([a, b], years=20_000, seed=1, dependence=dep)
>>> table = rb.portfolio.contributions(result)
>>> bool(abs(table["tvar_contribution"].sum() - result.tvar(0.95)) < 1e-6 * result.tvar(0.95))
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ._format import money
from .distributions import Constant, Distribution, as_distribution
from .exceptions import RiskBudgetError
from .fair import LossForms, Register, Scenario, as_register

__all__ = [
    "Dependence",
    "CommonShock",
    "nearest_correlation",
    "contributions",
    "compare",
    "Comparison",
    "tornado",
    "Tornado",
    "sensitivity_inputs",
]

#: Largest uniform numpy draws (``Generator.random`` lies in [0, 1 - 2**-53]).
_U_MAX = 1.0 - 2.0**-53
#: Tolerance below which a negative eigenvalue counts as rounding.
_PSD_TOL = 1e-10


# --------------------------------------------------------------------------- #
# Dependence: common shocks
# --------------------------------------------------------------------------- #
def _name_list(what: str, names: Any) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise RiskBudgetError(f"{what}: scenarios must be a list of scenario names, not {names!r}")
    out = tuple(names)
    for n in out:
        if not isinstance(n, str) or not n:
            raise RiskBudgetError(f"{what}: scenario names must be non-empty strings, not {n!r}")
    dupes = sorted({n for n in out if out.count(n) > 1})
    if dupes:
        raise RiskBudgetError(f"{what}: scenario(s) {dupes} listed more than once")
    return out


@dataclass(frozen=True, init=False)
class CommonShock:
    """An event that raises the frequency of several scenarios in the same year.

    Parameters
    ----------
    name : str
        What happens, e.g. ``"Cloud provider outage"``; it keys the shock's
        random streams.
    scenarios : list of str, or mapping of str to estimate
        The scenarios hit. A mapping gives each its own multiplier.
    multiplier : Distribution or float, optional
        The factor applied to the frequency of every listed scenario in a
        year the shock happens (an estimate, e.g. ``PERT(2, 4, 10)``; a number
        means a constant). Required unless ``scenarios`` is a mapping. One
        uniform per year drives every scenario's multiplier, so a severe shock
        is severe for all of them.
    annual_probability : float, optional
        Chance that the shock happens in a given year.
    rate : float, optional
        Instead of ``annual_probability``: the shock's rate per year. The
        multiplier applies in years with at least one occurrence, which
        happens with probability ``1 - exp(-rate)``.

    Notes
    -----
    A rate scenario's threat (or loss) events are thinned where the multiplier
    is below 1 and topped up by an independent stream where it exceeds 1 (see
    :class:`~riskbudget.Adjustment`), so in years without the shock the
    scenario's losses equal those of the independent run. An annual
    probability is multiplied directly, and must stay at most 1.

    Examples
    --------
    >>> import riskbudget as rb
    >>> shock = rb.CommonShock("Cloud provider outage", ["DDoS", "SaaS breach"],
    ...                        multiplier=rb.PERT(2, 4, 10), annual_probability=0.05)
    >>> shock.scenarios
    ('DDoS', 'SaaS breach')
    >>> round(shock.expected_multiplier("DDoS"), 3)  # 1 - p + p E[M]
    1.183
    """

    name: str
    multipliers: tuple[tuple[str, Distribution], ...]
    annual_probability: float
    rate: float | None = None

    def __init__(
        self,
        name: str,
        scenarios: Sequence[str] | Mapping[str, Any],
        multiplier: Any = None,
        *,
        annual_probability: float | None = None,
        rate: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise RiskBudgetError(f"CommonShock: name must be a non-empty string, not {name!r}")
        what = f"CommonShock {name!r}"
        if isinstance(scenarios, Mapping):
            if multiplier is not None:
                raise RiskBudgetError(
                    f"{what}: give either one multiplier for all scenarios or a mapping scenario -> multiplier, not both"
                )
            names = _name_list(what, list(scenarios))
            raw = [scenarios[n] for n in names]
        else:
            names = _name_list(what, scenarios)
            if multiplier is None:
                raise RiskBudgetError(
                    f"{what}: multiplier is missing; give the factor on the scenarios' frequency in a shock year, "
                    f"e.g. multiplier=PERT(2, 4, 10)"
                )
            raw = [multiplier] * len(names)
        if not names:
            raise RiskBudgetError(f"{what}: list at least one scenario the shock hits")
        pairs = []
        for n, m in zip(names, raw):
            try:
                dist = as_distribution(m, what=f"{what}: multiplier for {n!r}")
            except RiskBudgetError as exc:
                raise RiskBudgetError(str(exc)) from None
            low, high = dist.support()
            if low < 0:
                raise RiskBudgetError(
                    f"{what}: multiplier for {n!r} ({dist}) can be negative (lowest value {low:g}); "
                    f"a frequency multiplier must be >= 0"
                )
            pairs.append((n, dist))
        if (annual_probability is None) == (rate is None):
            raise RiskBudgetError(
                f"{what}: give exactly one of annual_probability (chance per year) or rate (occurrences per year)"
            )
        if rate is not None:
            r = _float(what, "rate", rate)
            if not (math.isfinite(r) and r >= 0):
                raise RiskBudgetError(f"{what}: rate ({rate!r}) must be a finite number >= 0 (occurrences per year)")
            p = -math.expm1(-r)
            object.__setattr__(self, "rate", r)
        else:
            p = _float(what, "annual_probability", annual_probability)
            if not 0.0 <= p <= 1.0:
                raise RiskBudgetError(
                    f"{what}: annual_probability ({annual_probability!r}) must lie in [0, 1]; "
                    f"for a frequency above once a year use rate="
                )
            object.__setattr__(self, "rate", None)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "multipliers", tuple(pairs))
        object.__setattr__(self, "annual_probability", float(p))

    @property
    def scenarios(self) -> tuple[str, ...]:
        """Names of the scenarios the shock hits."""
        return tuple(n for n, _ in self.multipliers)

    def multiplier_for(self, scenario: str) -> Distribution:
        """The multiplier estimate applied to ``scenario`` in a shock year."""
        for n, d in self.multipliers:
            if n == scenario:
                return d
        raise KeyError(f"CommonShock {self.name!r} does not hit {scenario!r}; it hits {list(self.scenarios)}")

    def expected_multiplier(self, scenario: str) -> float:
        """E[frequency multiplier] over all years: ``1 - p + p E[M]``."""
        p = self.annual_probability
        return 1.0 - p + p * self.multiplier_for(scenario).mean()

    def describe(self) -> str:
        """One plain-language line, e.g. for a report's assumptions."""
        freq = (
            f"rate {self.rate:g}/yr (P(year) = {self.annual_probability:.3g})"
            if self.rate is not None
            else f"P(year) = {self.annual_probability:.3g}"
        )
        hits = ", ".join(f"{n} x {d}" for n, d in self.multipliers)
        return f"Common shock '{self.name}' ({freq}) multiplies the frequency of: {hits}"


def _float(what: str, field_name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise RiskBudgetError(f"{what}: {field_name} ({value!r}) must be a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise RiskBudgetError(f"{what}: {field_name} ({value!r}) must be a number") from None
    if math.isnan(x):
        raise RiskBudgetError(f"{what}: {field_name} is NaN; give a number")
    return x


# --------------------------------------------------------------------------- #
# Dependence: correlation matrices
# --------------------------------------------------------------------------- #
def _semidefinite_cholesky(r: np.ndarray) -> np.ndarray:
    """Lower-triangular L with L L^T = r for a positive semi-definite r.

    Plain Cholesky, except that a pivot at or below rounding level (a
    singular direction, e.g. a correlation of exactly 1) gets a zero column.
    Unlike an eigen-decomposition it is unique, so a seed gives the same
    draws on every LAPACK build.
    """
    k = r.shape[0]
    lower = np.zeros_like(r)
    for j in range(k):
        d = r[j, j] - lower[j, :j] @ lower[j, :j]
        if d <= 1e-12:
            continue
        lower[j, j] = math.sqrt(d)
        lower[j + 1 :, j] = (r[j + 1 :, j] - lower[j + 1 :, :j] @ lower[j, :j]) / lower[j, j]
    return lower


def _loadings(vector: np.ndarray, names: Sequence[str], top: int = 4) -> str:
    order = np.argsort(-np.abs(vector))[:top]
    return ", ".join(f"{names[i]!r} ({vector[i]:+.2f})" for i in order if abs(vector[i]) > 1e-3)


def _check_matrix(m: np.ndarray, names: tuple[str, ...]) -> None:
    """Symmetric, unit diagonal, entries in [-1, 1], positive semi-definite; errors name the entry."""
    k = len(names)
    bad = np.argwhere(~np.isfinite(m))
    if bad.size:
        i, j = bad[0]
        raise RiskBudgetError(
            f"Dependence: correlation entry ({names[i]!r}, {names[j]!r}) is {float(m[i, j])}; entries must be finite numbers"
        )
    for i in range(k):
        if m[i, i] != 1.0 and not math.isclose(m[i, i], 1.0, abs_tol=1e-12):
            raise RiskBudgetError(
                f"Dependence: diagonal entry ({names[i]!r}, {names[i]!r}) is {m[i, i]:g}; a scenario's correlation "
                f"with itself must be 1"
            )
    for i in range(k):
        for j in range(i + 1, k):
            if not math.isclose(m[i, j], m[j, i], abs_tol=1e-12):
                raise RiskBudgetError(
                    f"Dependence: correlation matrix is not symmetric: entry ({names[i]!r}, {names[j]!r}) is "
                    f"{m[i, j]:g} but ({names[j]!r}, {names[i]!r}) is {m[j, i]:g}"
                )
    for i in range(k):
        for j in range(k):
            if i != j and not -1.0 <= m[i, j] <= 1.0:
                raise RiskBudgetError(
                    f"Dependence: correlation ({names[i]!r}, {names[j]!r}) = {m[i, j]:g} lies outside [-1, 1]"
                )
    if k > 1:
        values, vectors = np.linalg.eigh((m + m.T) / 2.0)
        if values[0] < -_PSD_TOL:
            raise RiskBudgetError(
                f"Dependence: the correlation matrix is not positive semi-definite: its smallest eigenvalue is "
                f"{values[0]:.4g} (must be >= 0), so no set of scenarios can have these correlations together. "
                f"The conflict involves mostly {_loadings(vectors[:, 0], names)}; loosen those correlations, or pass "
                f"the matrix through riskbudget.portfolio.nearest_correlation()"
            )


def nearest_correlation(matrix: Any, *, names: Sequence[str] | None = None, tol: float = 1e-12, max_iter: int = 1000) -> Any:
    """The nearest correlation matrix (Higham, 2002), for a matrix that is not positive semi-definite.

    Alternating projections with Dykstra's correction onto the positive
    semi-definite cone and the unit-diagonal matrices, in the Frobenius norm.

    Parameters
    ----------
    matrix : pandas.DataFrame or array-like
        A symmetric matrix with unit diagonal (e.g. elicited pairwise).
    names : sequence of str, optional
        Scenario names when ``matrix`` is an array.

    Returns
    -------
    pandas.DataFrame
        The nearest valid correlation matrix, indexed by scenario name.

    Examples
    --------
    >>> import numpy as np
    >>> bad = np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]])
    >>> fixed = nearest_correlation(bad, names=["A", "B", "C"])
    >>> bool(np.linalg.eigvalsh(fixed.to_numpy()).min() > -1e-9)
    True
    """
    import pandas as pd

    names_t, m = _matrix_input(matrix, names)
    y = m.copy()
    ds = np.zeros_like(m)
    for _ in range(max_iter):
        r = y - ds
        vals, vecs = np.linalg.eigh((r + r.T) / 2.0)
        x = (vecs * np.maximum(vals, 0.0)) @ vecs.T
        ds = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        if float(np.linalg.norm(y_new - y, "fro")) <= tol * max(float(np.linalg.norm(y, "fro")), 1.0):
            y = y_new
            break
        y = y_new
    y = (y + y.T) / 2.0
    np.fill_diagonal(y, 1.0)
    return pd.DataFrame(np.clip(y, -1.0, 1.0), index=list(names_t), columns=list(names_t))


def _matrix_input(matrix: Any, names: Sequence[str] | None) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, float matrix) from a DataFrame or an array with names; checks shape and labels."""
    if hasattr(matrix, "columns") and hasattr(matrix, "index"):
        cols = [str(c) for c in matrix.columns]
        idx = [str(c) for c in matrix.index]
        if names is not None:
            raise RiskBudgetError("Dependence: a DataFrame carries its own scenario names; do not also pass names=")
        if sorted(cols) != sorted(idx):
            raise RiskBudgetError(
                f"Dependence: the correlation DataFrame's index {idx} and columns {cols} must name the same scenarios"
            )
        names_t = tuple(cols)
        try:
            m = matrix.loc[list(matrix.columns), list(matrix.columns)].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise RiskBudgetError("Dependence: correlation entries must be numbers") from None
    else:
        try:
            m = np.array(matrix, dtype=float)
        except (TypeError, ValueError):
            raise RiskBudgetError("Dependence: a correlation matrix must hold numbers") from None
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise RiskBudgetError(f"Dependence: a correlation matrix must be square, got shape {m.shape}")
        if names is None:
            raise RiskBudgetError(
                "Dependence: give names=[...] (the scenario of each row and column) with an array, or pass a DataFrame"
            )
        names_t = _name_list("Dependence", names)
        if len(names_t) != m.shape[0]:
            raise RiskBudgetError(
                f"Dependence: {len(names_t)} names for a {m.shape[0]} x {m.shape[1]} correlation matrix"
            )
    dupes = sorted({n for n in names_t if names_t.count(n) > 1})
    if dupes:
        raise RiskBudgetError(f"Dependence: scenario(s) {dupes} appear more than once in the correlation matrix")
    return names_t, m


def _pairs_input(pairs: Any) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, matrix) from {(a, b): rho} or [(a, b, rho), ...]."""
    if isinstance(pairs, Mapping):
        items = []
        for key, rho in pairs.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise RiskBudgetError(
                    f"Dependence: correlation keys must be (scenario, scenario) pairs, not {key!r}; "
                    f"e.g. {{('Ransomware', 'Data breach'): 0.5}}"
                )
            items.append((key[0], key[1], rho))
    else:
        items = []
        for item in pairs:
            if not (isinstance(item, (tuple, list)) and len(item) == 3):
                raise RiskBudgetError(
                    f"Dependence: give correlations as (scenario, scenario, rho) triples, not {item!r}"
                )
            items.append(tuple(item))
    names: list[str] = []
    given: dict[frozenset[str], tuple[str, str, float]] = {}
    for a, b, rho in items:
        for n in (a, b):
            if not isinstance(n, str) or not n:
                raise RiskBudgetError(f"Dependence: scenario names must be non-empty strings, not {n!r}")
        r = _float(f"Dependence: correlation ({a!r}, {b!r})", "value", rho)
        if a == b:
            if r != 1.0:
                raise RiskBudgetError(
                    f"Dependence: correlation ({a!r}, {a!r}) = {r:g}; a scenario's correlation with itself is 1"
                )
            continue
        if not -1.0 <= r <= 1.0:
            raise RiskBudgetError(f"Dependence: correlation ({a!r}, {b!r}) = {r:g} lies outside [-1, 1]")
        key = frozenset((a, b))
        if key in given and given[key][2] != r:
            pa, pb, pr = given[key]
            raise RiskBudgetError(
                f"Dependence: the pair ({a!r}, {b!r}) is given twice with different values: "
                f"({pa!r}, {pb!r}) = {pr:g} and ({a!r}, {b!r}) = {r:g}"
            )
        given[key] = (a, b, r)
        for n in (a, b):
            if n not in names:
                names.append(n)
    m = np.eye(len(names))
    pos = {n: i for i, n in enumerate(names)}
    for a, b, r in given.values():
        m[pos[a], pos[b]] = m[pos[b], pos[a]] = r
    return tuple(names), m


COPULAS = ("gaussian", "t")


@dataclass(frozen=True, init=False)
class Dependence:
    """How scenarios move together: a copula on annual frequencies and common shocks.

    Parameters
    ----------
    correlation : mapping, list, pandas.DataFrame or array, optional
        Correlations of the scenarios' annual frequencies (on the copula's
        normal scale), as

        * pairs: ``{("Ransomware ERP", "Ransomware VPN"): 0.6, ...}`` or a list
          of ``(name, name, rho)`` triples; unlisted pairs are 0;
        * a full matrix: a DataFrame indexed and labelled by scenario name, or
          a 2-D array with ``names=``.

        It must be symmetric with a unit diagonal, entries in [-1, 1], and
        positive semi-definite; errors name the offending entry.
    names : sequence of str, optional
        Row and column names of an array ``correlation``.
    copula : {"gaussian", "t"}, default "gaussian"
        ``"t"`` is the Student-t copula: same correlations, but extreme years
        coincide more often (tail dependence); needs ``df``.
    df : float, optional
        Degrees of freedom of the t copula (> 0; small values mean strong tail
        dependence; as df grows it approaches the Gaussian copula).
    shocks : sequence of CommonShock, optional
        Events that raise the frequency of several scenarios in the same year.

    Notes
    -----
    The copula acts on the uniform behind the draw of each scenario's
    frequency estimate, so a scenario whose frequency is a constant cannot be
    correlated this way (``simulate`` says so); give it a range, or link it
    through a common shock.

    Examples
    --------
    >>> import riskbudget as rb
    >>> dep = rb.Dependence({("A", "B"): 0.5, ("B", "C"): 0.3}, copula="t", df=4)
    >>> dep.matrix().loc["A", "B"]
    np.float64(0.5)
    >>> dep.names
    ('A', 'B', 'C')
    """

    names: tuple[str, ...]
    correlation: tuple[tuple[float, ...], ...]
    copula: str = "gaussian"
    df: float | None = None
    shocks: tuple[CommonShock, ...] = field(default=())

    def __init__(
        self,
        correlation: Any = None,
        *,
        names: Sequence[str] | None = None,
        copula: str = "gaussian",
        df: float | None = None,
        shocks: Iterable[CommonShock] = (),
    ) -> None:
        names_t: tuple[str, ...]
        if correlation is None:
            if names is not None:
                raise RiskBudgetError("Dependence: names= describes a correlation matrix, but none was given")
            names_t, m = (), np.zeros((0, 0))
        elif isinstance(correlation, Mapping) or (
            isinstance(correlation, (list, tuple))
            and correlation
            and all(isinstance(x, (tuple, list)) and x and isinstance(x[0], str) for x in correlation)
        ):
            if names is not None:
                raise RiskBudgetError("Dependence: names= is for a full matrix; pairs already name their scenarios")
            names_t, m = _pairs_input(correlation)
        else:
            names_t, m = _matrix_input(correlation, names)
        _check_matrix(m, names_t)
        if copula not in COPULAS:
            raise RiskBudgetError(f"Dependence: copula {copula!r} is not one of {list(COPULAS)}")
        if copula == "t":
            if df is None:
                raise RiskBudgetError("Dependence: the t copula needs degrees of freedom, e.g. df=4")
            d = _float("Dependence", "df", df)
            if not (math.isfinite(d) and d > 0):
                raise RiskBudgetError(f"Dependence: df ({df!r}) must be a finite number > 0")
            df = d
        elif df is not None:
            raise RiskBudgetError(
                f"Dependence: df ({df!r}) applies to the t copula only; pass copula='t' or drop df"
            )
        shocks_t = tuple(shocks)
        seen: set[str] = set()
        for s in shocks_t:
            if not isinstance(s, CommonShock):
                raise RiskBudgetError(f"Dependence: shocks must be CommonShock objects, not {s!r}")
            if s.name in seen:
                raise RiskBudgetError(f"Dependence: two common shocks are named {s.name!r}; names key their random streams")
            seen.add(s.name)
        object.__setattr__(self, "names", names_t)
        object.__setattr__(self, "correlation", tuple(tuple(float(v) for v in row) for row in m))
        object.__setattr__(self, "copula", copula)
        object.__setattr__(self, "df", df)
        object.__setattr__(self, "shocks", shocks_t)

    # ------------------------------------------------------------------ #
    def matrix(self) -> Any:
        """The correlation matrix as a DataFrame indexed by scenario name."""
        import pandas as pd

        return pd.DataFrame(np.array(self.correlation).reshape(len(self.names), len(self.names)),
                            index=list(self.names), columns=list(self.names))

    def pairs(self) -> list[tuple[str, str, float]]:
        """The non-zero correlations as ``(name, name, rho)`` triples."""
        out = []
        for i, a in enumerate(self.names):
            for j in range(i + 1, len(self.names)):
                r = self.correlation[i][j]
                if r != 0.0:
                    out.append((a, self.names[j], r))
        return out

    @property
    def correlated(self) -> tuple[str, ...]:
        """Scenarios with at least one non-zero correlation (those the copula drives)."""
        involved = {n for a, b, _ in self.pairs() for n in (a, b)}
        return tuple(n for n in self.names if n in involved)

    @property
    def scenarios(self) -> tuple[str, ...]:
        """Every scenario this dependence touches (correlated or hit by a shock)."""
        out = list(self.correlated)
        for s in self.shocks:
            out += [n for n in s.scenarios if n not in out]
        return tuple(out)

    def __bool__(self) -> bool:
        return bool(self.correlated) or bool(self.shocks)

    def with_shocks(self, *shocks: CommonShock) -> Dependence:
        """A copy with more common shocks."""
        return Dependence(
            self.matrix() if self.names else None, copula=self.copula, df=self.df, shocks=self.shocks + tuple(shocks)
        )

    def describe(self) -> list[str]:
        """Plain-language lines describing the dependence (for reports)."""
        if not self:
            return ["Scenarios are independent."]
        lines = []
        pairs = self.pairs()
        if pairs:
            kind = "Gaussian copula" if self.copula == "gaussian" else f"Student-t copula (df = {self.df:g})"
            lines.append(f"{kind} on annual frequencies, {len(pairs)} non-zero correlation(s):")
            lines += [f"  {a} ~ {b}: {r:+.2f}" for a, b, r in pairs]
        lines += [s.describe() for s in self.shocks]
        return lines

    def __repr__(self) -> str:
        parts = []
        if self.pairs():
            parts.append(f"{len(self.pairs())} correlation(s), {self.copula} copula" + (f" df={self.df:g}" if self.df else ""))
        if self.shocks:
            parts.append(f"shocks={[s.name for s in self.shocks]}")
        return f"Dependence({'; '.join(parts) or 'independent'})"

    # ------------------------------------------------------------------ #
    def check(self, register: Register | Iterable[Scenario], *, strict: bool = True) -> None:
        """Check this dependence against a register; raise naming the problem.

        Every name must be a scenario of the register; with ``strict``, a
        correlated scenario needs an uncertain frequency, and a shock on an
        annual-probability scenario must keep the probability at most 1.
        """
        reg = as_register(register)
        known = set(reg.names)
        for n in self.names:
            if n not in known:
                raise RiskBudgetError(
                    f"Dependence: the correlation names scenario {n!r}, which is not in the register; "
                    f"its scenarios are {list(reg.names)}"
                )
        for shock in self.shocks:
            for n in shock.scenarios:
                if n not in known:
                    raise RiskBudgetError(
                        f"Dependence: common shock {shock.name!r} hits scenario {n!r}, which is not in the register; "
                        f"its scenarios are {list(reg.names)}"
                    )
        if strict:
            for n in self.correlated:
                s = reg[n]
                dist = getattr(s, s.frequency_kind)
                if isinstance(dist, Constant):
                    raise RiskBudgetError(
                        f"Dependence: scenario {n!r} has a constant {s.frequency_kind} ({dist.value:g}), so a "
                        f"correlation on its annual frequency would have no effect; give its frequency as a range "
                        f"(e.g. PERT or a lognormal interval) or link it to others through a CommonShock"
                    )
        for n in {n for sh in self.shocks for n in sh.scenarios}:
            s = reg[n]
            if s.annual_probability is None:
                continue
            p_high = s.annual_probability.support()[1]
            adj_high = math.prod(a.multiplier.support()[1] for a in s.adjustments if a.factor == "frequency")
            shock_high = math.prod(sh.multiplier_for(n).support()[1] for sh in self.shocks if n in sh.scenarios)
            if p_high * adj_high * shock_high > 1.0:
                raise RiskBudgetError(
                    f"Dependence: scenario {n!r} states an annual_probability (up to {p_high:g}); times the common "
                    f"shock multiplier(s) (up to {shock_high:g}) and its adjustments (up to {adj_high:g}) it can "
                    f"exceed 1. State the scenario as a rate (loss_event_frequency) or bound the multiplier"
                )

    def _driver(self, register: Register, root: np.random.SeedSequence, *, strict: bool = True) -> Callable[[int, int], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] | None:
        """The chunk driver ``simulate`` calls, or None when nothing is dependent."""
        self.check(register, strict=strict)
        if not self:
            return None
        return _Driver(self, root)


def _stream(root: np.random.SeedSequence, name: str) -> np.random.Generator:
    from .simulate import _key

    seq = np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + _key("dependence:" + name))
    return np.random.Generator(np.random.PCG64(seq))


class _Driver:
    """Per-chunk copula uniforms and shock multipliers, drawn in year order."""

    def __init__(self, dep: Dependence, root: np.random.SeedSequence) -> None:
        self.dep = dep
        self.names = dep.correlated
        if self.names:
            m = dep.matrix().loc[list(self.names), list(self.names)].to_numpy()
            self.lower_t = np.ascontiguousarray(_semidefinite_cholesky(m).T)
            self.g_normal = _stream(root, "copula:normal")
            self.g_chi2 = _stream(root, "copula:chi2") if dep.copula == "t" else None
        self.shocks = [
            (s, _stream(root, f"shock:{s.name}:occurs"), _stream(root, f"shock:{s.name}:severity")) for s in dep.shocks
        ]

    def __call__(self, start: int, stop: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        from scipy import special

        n = stop - start
        uniforms: dict[str, np.ndarray] = {}
        if self.names:
            z = self.g_normal.standard_normal((n, len(self.names))) @ self.lower_t
            if self.g_chi2 is not None:
                df = float(self.dep.df)  # type: ignore[arg-type]
                w = self.g_chi2.chisquare(df, n) / df
                z /= np.sqrt(w)[:, None]
                u = special.stdtr(df, z)
            else:
                u = special.ndtr(z)
            np.minimum(u, _U_MAX, out=u)
            for j, name in enumerate(self.names):
                uniforms[name] = np.ascontiguousarray(u[:, j])
        multipliers: dict[str, np.ndarray] = {}
        for shock, g_occurs, g_severity in self.shocks:
            occurs = g_occurs.random(n) < shock.annual_probability
            severity = g_severity.random(n)
            for name, dist in shock.multipliers:
                m = np.where(occurs, np.asarray(dist._from_uniform(severity), dtype=float), 1.0)
                multipliers[name] = m if name not in multipliers else multipliers[name] * m
        return uniforms, multipliers


# --------------------------------------------------------------------------- #
# Euler allocation
# --------------------------------------------------------------------------- #
def _level(q: float) -> float:
    q = float(q)
    if not 0.0 < q < 1.0:
        raise RiskBudgetError(f"quantile level q ({q!r}) must lie in (0, 1), e.g. 0.95")
    return q


def contributions(result: Any, *, q: float = 0.95) -> Any:
    """Each scenario's share of the portfolio ALE and TVaR (Euler allocation).

    The TVaR contribution of a scenario is the mean of its annual loss in the
    years where the portfolio total is at or above VaR_q; the contributions
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
        with the tail years held fixed.

    Examples
    --------
    >>> import riskbudget as rb
    >>> reg = rb.read_register(rb.io.example_path())
    >>> table = contributions(rb.simulate(reg, years=5_000, seed=1))
    >>> round(float(table["tvar_share"].sum()), 9)
    1.0
    """
    import pandas as pd

    from . import metrics

    q = _level(q)
    losses = result.losses.to_numpy()
    total = result.annual_loss.to_numpy()
    n = total.size
    v = metrics.var(total, q)
    tail = total >= v
    m = int(tail.sum())
    tail_losses = losses[tail]
    tvar_parts = tail_losses.mean(axis=0)
    tvar_total = float(total[tail].mean())
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
                "tvar_contribution_se": float(tail_losses[:, j].std(ddof=1) / math.sqrt(m)) if m > 1 else math.nan,
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
    from . import metrics

    v = metrics.var(x, q)
    n = x.size
    inv_density = metrics.var_se(x, q) * math.sqrt(n) / math.sqrt(q * (1.0 - q))
    return v, (q - (x <= v)) * inv_density


def _tvar_influence(x: np.ndarray, q: float) -> tuple[float, np.ndarray]:
    """TVaR_q and its influence values ``VaR + (x - VaR) 1{x >= VaR} / p - TVaR``."""
    from . import metrics

    v = metrics.var(x, q)
    tail = x >= v
    p = tail.mean()
    t = float(x[tail].mean())
    return t, v + (x - v) * tail / p - t


def _paired_se(d: np.ndarray) -> float:
    return float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan


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

    from . import metrics

    _check_paired(inherent, residual, "compare")
    q = _level(q)
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
            "reduction_se": _paired_se(d),
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
                "reduction_se": _paired_se(a - b),
            }
        )
    by_scenario = pd.DataFrame(by, index=pd.Index(common, name="scenario"),
                               columns=["inherent", "residual", "reduction", "reduction_se"])
    return Comparison(table=table, by_scenario=by_scenario, inherent=inherent, residual=residual, q=q)


# --------------------------------------------------------------------------- #
# Tornado sensitivity
# --------------------------------------------------------------------------- #
_FACTORS = (
    "threat_event_frequency",
    "contact_frequency",
    "probability_of_action",
    "loss_event_frequency",
    "annual_probability",
    "susceptibility",
    "threat_capability",
    "resistance_strength",
    "primary_loss",
    "secondary_loss_probability",
    "secondary_loss",
)


def sensitivity_inputs(scenario: Scenario) -> list[tuple[str, Distribution, Callable[[Distribution], Scenario]]]:
    """The uncertain input estimates of a scenario, as ``(input, estimate, rebuild)``.

    ``input`` is the factor's name (``"primary_loss.response"`` for a form of
    loss, ``"adjustment:<source>:<factor>"`` for an adjustment's multiplier);
    ``rebuild(d)`` returns the scenario with that estimate replaced by ``d``.
    Constants are left out: they have no spread to explore.
    """
    out: list[tuple[str, Distribution, Callable[[Distribution], Scenario]]] = []
    for f in _FACTORS:
        value = getattr(scenario, f)
        if value is None:
            continue
        if isinstance(value, LossForms):
            for form, dist in value.items():
                if isinstance(dist, Constant):
                    continue

                def rebuild(d: Distribution, f: str = f, form: str = form, forms: LossForms = value) -> Scenario:
                    changes: dict[str, Any] = {f: replace(forms, **{form: d})}
                    return replace(scenario, **changes)

                out.append((f"{f}.{form}", dist, rebuild))
        elif not isinstance(value, Constant):
            def rebuild_factor(d: Distribution, f: str = f) -> Scenario:
                changes: dict[str, Any] = {f: d}
                return replace(scenario, **changes)

            out.append((f, value, rebuild_factor))
    for i, adj in enumerate(scenario.adjustments):
        if isinstance(adj.multiplier, Constant):
            continue

        def rebuild_adj(d: Distribution, i: int = i) -> Scenario:
            adjs = list(scenario.adjustments)
            adjs[i] = replace(adjs[i], multiplier=d)
            return replace(scenario, adjustments=tuple(adjs))

        out.append((f"adjustment:{adj.source}:{adj.factor}", adj.multiplier, rebuild_adj))
    return out


@dataclass(frozen=True, eq=False)
class Tornado:
    """How the portfolio ALE and VaR move when each input goes from one percentile to another.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per uncertain input, sorted by ALE swing (largest first):
        ``scenario``, ``input``, ``estimate``, ``low_value``, ``high_value``
        (the input at the low and high percentile), ``ale_low``, ``ale_high``,
        ``ale_swing`` (|ale_high - ale_low|), ``ale_swing_se`` (paired
        standard error), ``var_low``, ``var_high``, ``var_swing``,
        ``rank_ale`` and ``rank_var`` (1 = largest swing).
    base_ale, base_var : float
        The portfolio ALE and VaR_q with every estimate as given.
    q, low, high : float
        VaR level and the two percentiles.
    years : int
    seed : int
    """

    table: Any
    base_ale: float
    base_var: float
    q: float
    low: float
    high: float
    years: int
    seed: Any

    def top(self, n: int = 10, *, by: str = "ale") -> Any:
        """The ``n`` inputs with the largest swing in ``"ale"`` or ``"var"``."""
        if by not in ("ale", "var"):
            raise RiskBudgetError(f"Tornado.top: by ({by!r}) must be 'ale' or 'var'")
        return self.table.sort_values(f"{by}_swing", ascending=False, kind="stable").head(n)


def tornado(
    register: Register | Iterable[Scenario] | Scenario,
    *,
    years: int = 20_000,
    seed: int | np.random.SeedSequence | None = None,
    q: float = 0.95,
    low: float = 0.10,
    high: float = 0.90,
    method: str = "aggregate",
    dependence: Dependence | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> Tornado:
    """Tornado sensitivity of the portfolio ALE and VaR to each input estimate.

    Each uncertain input (a frequency, susceptibility, capability, resistance,
    loss or adjustment estimate of one scenario) is replaced by a constant at
    its ``low`` and then its ``high`` percentile, all others as given, and
    the portfolio is re-simulated under the same seed. Every scenario and
    factor has its own random stream, so only the changed input's draws
    change: the swings are paired differences, not Monte Carlo noise. The
    inputs are ranked by the swing in ALE and in VaR_q.

    Parameters
    ----------
    register : Register, Scenario or iterable of Scenario
    years : int, default 20_000
    seed : int, optional
        Seed shared by every run (fresh entropy if None, recorded in the result).
    q : float, default 0.95
        VaR level.
    low, high : float, default 0.10 and 0.90
        The percentiles each input moves between.
    method : {"aggregate", "lef_x_lm"}
    dependence : Dependence, optional
        Dependence between scenarios (then the whole portfolio is re-simulated
        for every input, which is slower).
    n_jobs : int, optional
        Threads per simulation.
    progress : bool, optional
        Progress bar over the inputs (off with ``RISKBUDGET_PROGRESS=0``).

    Returns
    -------
    Tornado

    Examples
    --------
    >>> import riskbudget as rb
    >>> s = rb.Scenario("Phishing", threat_event_frequency=rb.PERT(2, 6, 20),
    ...                 susceptibility=rb.PERT(0.05, 0.1, 0.3),
    ...                 primary_loss=rb.LogNormal.from_ci(10_000, 400_000))
    >>> t = tornado(s, years=5_000, seed=3)
    >>> list(t.table["input"])[:1]
    ['primary_loss']
    """
    import pandas as pd

    from . import metrics
    from .simulate import _bar, _progress_enabled, _root_sequence, simulate

    reg = as_register(register)
    q = _level(q)
    for name, v in (("low", low), ("high", high)):
        if not 0.0 < float(v) < 1.0:
            raise RiskBudgetError(f"tornado: {name} percentile ({v!r}) must lie in (0, 1), e.g. 0.10 and 0.90")
    if not low < high:
        raise RiskBudgetError(f"tornado: low ({low!r}) must be below high ({high!r})")
    if dependence is not None and not isinstance(dependence, Dependence):
        raise RiskBudgetError(f"tornado: dependence must be a Dependence, not {type(dependence).__name__}")
    root = _root_sequence(seed)

    def run(r: Register, strict: bool = True) -> Any:
        driver = dependence._driver(r, root, strict=strict) if dependence is not None else None
        return simulate(r, years=years, seed=root, method=method, n_jobs=n_jobs, progress=False,  # type: ignore[arg-type]
                        keep_counts=False, _driver=driver)

    base = run(reg)
    base_losses = np.array(base.losses.to_numpy(), order="F")
    base_total = base.annual_loss.to_numpy()
    base_ale = float(base_total.mean())
    base_var = metrics.var(base_total, q)

    tasks = [(j, s, inp) for j, s in enumerate(reg) for inp in sensitivity_inputs(s)]
    bar = _bar(_progress_enabled(progress, len(tasks) * years * (len(reg) if dependence else 1) * 2),
               len(tasks), "tornado")
    rows = []
    try:
        for j, scenario, (label, dist, rebuild) in tasks:
            values = (float(dist.ppf(low)), float(dist.ppf(high)))
            totals = []
            for v in values:
                try:
                    changed = rebuild(Constant(v))
                except RiskBudgetError as exc:
                    raise RiskBudgetError(
                        f"tornado: scenario {scenario.name!r}, {label} at {v:g}: {exc}"
                    ) from None
                if dependence is not None:
                    totals.append(run(reg.replace(changed), strict=False).annual_loss.to_numpy())
                else:
                    column = run(Register([changed])).losses.to_numpy()[:, 0]
                    losses = base_losses.copy(order="F")
                    losses[:, j] = column
                    totals.append(losses.sum(axis=1))
            t_low, t_high = totals
            ale_low, ale_high = float(t_low.mean()), float(t_high.mean())
            var_low, var_high = metrics.var(t_low, q), metrics.var(t_high, q)
            rows.append(
                {
                    "scenario": scenario.name,
                    "input": label,
                    "estimate": str(dist),
                    "low_value": values[0],
                    "high_value": values[1],
                    "ale_low": ale_low,
                    "ale_high": ale_high,
                    "ale_swing": abs(ale_high - ale_low),
                    "ale_swing_se": _paired_se(t_high - t_low),
                    "var_low": var_low,
                    "var_high": var_high,
                    "var_swing": abs(var_high - var_low),
                }
            )
            bar.update(1)
    finally:
        bar.close()
    columns = ["scenario", "input", "estimate", "low_value", "high_value", "ale_low", "ale_high", "ale_swing",
               "ale_swing_se", "var_low", "var_high", "var_swing"]
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        table["rank_ale"] = table["ale_swing"].rank(ascending=False, method="min").astype(int)
        table["rank_var"] = table["var_swing"].rank(ascending=False, method="min").astype(int)
        table = table.sort_values(["ale_swing", "var_swing"], ascending=False, kind="stable").reset_index(drop=True)
    else:
        table["rank_ale"] = pd.Series(dtype=int)
        table["rank_var"] = pd.Series(dtype=int)
    return Tornado(table=table, base_ale=base_ale, base_var=base_var, q=q, low=float(low), high=float(high),
                   years=base.years, seed=base.seed)
