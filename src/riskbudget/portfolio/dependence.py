"""Dependence between scenarios: correlated frequencies (Gaussian or t copula) and common shocks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._random import dependence_stream
from ..distributions import Constant, Distribution, as_distribution
from ..exceptions import RiskBudgetError
from ..fair import Register, Scenario, as_register
from ..simulation import ChunkDriver, FrequencyCoupling

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
class Dependence(FrequencyCoupling):
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

    def expected_frequency_multiplier(self, scenario: str) -> float:
        """E[frequency multiplier] of a scenario over all years: the product over the
        (independent) shocks that hit it of ``1 - p + p E[M]``. Copulas change no mean."""
        out = 1.0
        for shock in self.shocks:
            if scenario in shock.scenarios:
                out *= shock.expected_multiplier(scenario)
        return out

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

    def chunk_driver(self, register: Register, root: np.random.SeedSequence) -> ChunkDriver | None:
        """The chunk driver :func:`~riskbudget.simulation` calls (None when nothing is dependent)."""
        self.check(register, strict=True)
        return _Driver(self, root) if self else None

    def relaxed(self) -> FrequencyCoupling:
        """This dependence without the checks that refuse couplings with no effect.

        A correlation on a scenario whose frequency is a constant has no
        effect, which :meth:`check` refuses as a likely mistake. The tornado
        (:func:`~riskbudget.portfolio.tornado`) fixes inputs at constants on
        purpose, and simulates with this view.
        """
        return _Relaxed(self)


class _Relaxed(FrequencyCoupling):
    """A :class:`Dependence` checked with ``strict=False`` (see :meth:`Dependence.relaxed`)."""

    def __init__(self, dependence: Dependence) -> None:
        self.dependence = dependence

    def chunk_driver(self, register: Register, root: np.random.SeedSequence) -> ChunkDriver | None:
        self.dependence.check(register, strict=False)
        return _Driver(self.dependence, root) if self.dependence else None


class _Driver:
    """Per-chunk copula uniforms and shock multipliers, drawn in year order."""

    def __init__(self, dep: Dependence, root: np.random.SeedSequence) -> None:
        self.dep = dep
        self.names = dep.correlated
        if self.names:
            m = dep.matrix().loc[list(self.names), list(self.names)].to_numpy()
            self.lower_t = np.ascontiguousarray(_semidefinite_cholesky(m).T)
            self.g_normal = dependence_stream(root, "copula:normal")
            self.g_chi2 = dependence_stream(root, "copula:chi2") if dep.copula == "t" else None
        self.shocks = [
            (s, dependence_stream(root, f"shock:{s.name}:occurs"), dependence_stream(root, f"shock:{s.name}:severity")) for s in dep.shocks
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
                m = np.where(occurs, np.asarray(dist.from_uniform(severity), dtype=float), 1.0)
                multipliers[name] = m if name not in multipliers else multipliers[name] * m
        return uniforms, multipliers
