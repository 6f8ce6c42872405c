"""Calibrated estimates: the distributions analysts give for FAIR factors.

Every family is a frozen dataclass with the same small API, following the
conventions of :mod:`scipy.stats`:

``sample(n, rng)``, ``mean()``, ``var()``, ``std()``, ``ppf(q)``, ``cdf(x)``,
``support()``, ``interval(level)``, ``scaled(c)``, ``to_scipy()``,
``to_dict()`` and :func:`from_dict`.

Sampling is by inversion, ``ppf(U)`` with ``U`` uniform, wherever that is
fast: closed forms for :class:`Uniform`, :class:`Triangular` and
:class:`LogNormal` (through a standard normal), and a tabulated quantile
function with a u-error below 5e-11 for :class:`PERT` and :class:`Beta` at the
shapes estimates give (see ``_BetaQuantile`` for the extreme ones). Inversion
makes sampling about four times faster than ``Generator.beta`` and keeps
common random numbers monotone: the same uniforms give larger draws for a
larger estimate. Each draw consumes a fixed
number of values from the generator, so drawing ``n`` then ``m`` values gives
the same numbers as drawing ``n + m``.

Every constructor refuses parameters the engine cannot simulate exactly:
anything not finite, a mean or variance that overflows 64-bit floats (very
wide ranges, huge values), and shape parameters beyond :data:`MAX_SHAPE`
(``PERT``'s ``lam``, ``Beta``'s ``a`` and ``b``), where the distribution is a
point mass at double precision. So a distribution that constructs draws
finite values inside its support, and has a finite mean and variance. The
ceilings on money and event rates (``exceptions.MONEY``,
``exceptions.EVENTS_PER_YEAR``) are applied where a distribution becomes a
loss or a frequency: in :class:`~riskbudget.Scenario`.

Examples
--------
>>> import numpy as np
>>> import riskbudget as rb
>>> loss = rb.LogNormal.from_ci(50_000, 2_000_000)
>>> round(loss.ppf(0.05)), round(loss.ppf(0.95))
(50000, 2000000)
>>> pert = rb.PERT(1, 3, 11)
>>> pert.mean()
4.0
>>> pert.sample(3, np.random.default_rng(0)).shape
(3,)
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from .exceptions import InvalidParameterError, check_finite, shown

__all__ = [
    "Distribution",
    "PosteriorDistribution",
    "PERT",
    "LogNormal",
    "Triangular",
    "Uniform",
    "Constant",
    "Beta",
    "Gamma",
    "from_dict",
    "as_distribution",
    "FAMILIES",
    "MAX_SHAPE",
]

#: z such that P(Z <= z) = 0.95 for a standard normal: the 90% interval half-width.
Z90 = 1.6448536269514722
#: The largest shape parameter accepted (PERT's ``lam``, Beta's ``a`` and ``b``): beyond it the
#: distribution is narrower than double precision resolves, and its fast quantile loses accuracy.
MAX_SHAPE = 1e7


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _finite(family: str, name: str, value: Any) -> float:
    return check_finite(family, name, value)


def _positive(family: str, name: str, value: float) -> None:
    if value <= 0:
        raise InvalidParameterError(f"{family}: {name} ({value:g}) must be > 0")


def _scale_factor(family: str, factor: Any) -> float:
    x = check_finite(family, "scale factor", factor)
    _positive(family, "scale factor", x)
    return x


def _at_most_shape(family: str, name: str, value: float) -> None:
    if value > MAX_SHAPE:
        raise InvalidParameterError(
            f"{family}: {name} ({value:g}) exceeds {MAX_SHAPE:g}, the largest shape riskbudget accepts; the "
            f"distribution would be narrower than double precision resolves: use Constant for a known value"
        )


def _check_moments(dist: Distribution) -> None:
    """Refuse parameters whose mean or variance is not a finite 64-bit float (they cannot be simulated)."""
    for what, moment in (("mean", dist.mean), ("variance", dist.var)):
        try:
            value = float(moment())
        except (OverflowError, ZeroDivisionError):
            value = math.nan
        if not math.isfinite(value):
            raise InvalidParameterError(
                f"{dist}: the {what} is not a finite 64-bit float with these parameters (it overflows or "
                f"underflows); riskbudget refuses estimates it cannot simulate exactly: state the quantity in a "
                f"larger unit (e.g. millions), or give a narrower range"
            )


def _ordered(family: str, low: float, high: float, *, strict: bool) -> None:
    if low > high:
        raise InvalidParameterError(
            f"{family}: low ({low:g}) must not exceed high ({high:g}); swapped?"
        )
    if strict and low == high:
        raise InvalidParameterError(
            f"{family}: low and high are both {low:g}, but {family} needs a spread "
            f"(low < high); use Constant({low:g}) for a fixed value"
        )


def _mode_inside(family: str, low: float, mode: float, high: float) -> None:
    if not low <= mode <= high:
        raise InvalidParameterError(
            f"{family}: mode ({mode:g}) must lie in [low, high] = [{low:g}, {high:g}]"
        )


# --------------------------------------------------------------------------- #
# Fast inversion for the Beta family (shared by PERT and Beta)
# --------------------------------------------------------------------------- #
def _betaincinv(a: float, b: float, u: Any) -> Any:
    """Beta(a, b) quantile: scipy's ``betaincinv`` polished by two Newton steps.

    ``betaincinv`` can be off by ~1e-8 at isolated points (e.g. u = 0.5 for
    a = b = 1.1875); Newton steps on the regularised incomplete beta function
    bring every value to the accuracy of ``betainc`` itself.
    """
    from scipy import special

    u = np.asarray(u, dtype=float)
    x = np.asarray(special.betaincinv(a, b, u), dtype=float)
    logc = -float(special.betaln(a, b))
    for _ in range(2):
        inside = (x > 0.0) & (x < 1.0)
        if not inside.any():
            break
        xi = np.where(inside, x, 0.5)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dens = np.exp(logc + (a - 1.0) * np.log(xi) + (b - 1.0) * np.log1p(-xi))
            step = (special.betainc(a, b, xi) - u) / dens
        ok = inside & np.isfinite(step) & (dens > 0)
        x = np.where(ok, np.clip(x - np.where(ok, step, 0.0), 0.0, 1.0), x)
    return x if x.ndim else float(x)


def _hermite(y: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Per-cell cubic coefficients (c0..c3 in t in [0, 1]) of a Hermite interpolant."""
    y0, y1, m0, m1 = y[:-1], y[1:], slope[:-1], slope[1:]
    return np.stack([y0, m0, -3 * y0 - 2 * m0 + 3 * y1 - m1, 2 * y0 + m0 - 2 * y1 + m1])


def _horner(c: np.ndarray, k: np.ndarray, t: np.ndarray) -> np.ndarray:
    x = c[3].take(k)
    x *= t
    x += c[2].take(k)
    x *= t
    x += c[1].take(k)
    x *= t
    x += c[0].take(k)
    return x


class _BetaQuantile:
    """Fast, accurate quantile function of Beta(a, b) with a, b >= 1.

    The body ``u in [2^-6, 1 - 2^-6]`` is a cubic Hermite interpolant of the
    exact quantile on 4096 cells (values from ``betaincinv``, slopes
    ``1 / pdf``). In each tail the quantile behaves like a power of ``u``, so
    it is interpolated as ``log Q`` against ``log u`` (and ``log(1 - Q)``
    against ``log(1 - u)``) on 1024 cells down to ``u = 2^-53``, the smallest
    uniform numpy draws. The u-error ``|F(Q(u)) - u|`` stays below 5e-11 (a
    test checks it for shapes up to 60, which covers every PERT with ``lam`` up
    to 59; the default is 4, shapes 1 to 5), half UNU.RAN's PINV default
    (1e-10), and evaluation is plain numpy (about 8 ns a value). At extreme
    shapes (towards the 1e7 allowed) one float step of x moves F by more than
    that: there the error is a few float steps of x, up to 2.5e-9 in u.
    """

    CELLS = 4096
    TAIL = 2.0**-6
    TAIL_CELLS = 1024

    def __init__(self, a: float, b: float) -> None:
        from scipy import special

        self.a, self.b = a, b
        logc = -float(special.betaln(a, b))

        def pdf(x: np.ndarray, *, from_top: bool = False) -> np.ndarray:
            """Beta density at x, or at 1 - x with ``from_top`` (exact near 1)."""
            lo, hi = (np.log1p(-x), np.log(x)) if from_top else (np.log(x), np.log1p(-x))
            la = (a - 1.0) * lo if a != 1.0 else 0.0
            lb = (b - 1.0) * hi if b != 1.0 else 0.0
            return np.broadcast_to(np.exp(logc + la + lb), np.shape(x))

        n = self.CELLS
        k0 = int(self.TAIL * n)
        u = np.arange(k0, n - k0 + 1) / n
        q = _betaincinv(a, b, u)
        coef = np.zeros((4, n))
        coef[:, k0 : n - k0] = _hermite(q, 1.0 / pdf(q) / n)
        coef[0, :k0] = coef[0, n - k0 :] = np.nan  # the tail cells: the body gives NaN there, which marks them
        self.body = coef

        s_min, s_max = math.log(2.0**-53), math.log(self.TAIL)
        s = np.linspace(s_min, s_max, self.TAIL_CELLS + 1)
        v = np.exp(s)
        ds = (s_max - s_min) / self.TAIL_CELLS
        q_low = _betaincinv(a, b, v)  # Q(v)
        q_up = _betaincinv(b, a, v)  # 1 - Q(1 - v)
        low = _hermite(np.log(q_low), v / (q_low * pdf(q_low)) * ds)
        up = _hermite(np.log(q_up), v / (q_up * pdf(q_up, from_top=True)) * ds)
        self.tails = np.concatenate([low, up], axis=1)  # lower tail's cells, then the upper tail's
        self.s_min, self.ds = s_min, ds

    def __call__(self, u: np.ndarray) -> np.ndarray:
        s = u * self.CELLS
        k = s.astype(np.intp)
        np.minimum(k, self.CELLS - 1, out=k)
        s -= k
        x = _horner(self.body, k, s)
        # Each NumPy call hands the GIL to the other threads of a run, so the tails take few: the body's NaN
        # marks them (u < TAIL or u >= 1 - TAIL exactly, as CELLS * TAIL is a whole number), and one Horner
        # pass evaluates both tails' tables.
        tail = np.flatnonzero(np.isnan(x))
        if tail.size:
            ut = u[tail]
            lower = ut < 0.5
            v = np.where(lower, ut, 1.0 - ut)
            with np.errstate(divide="ignore"):
                pos = (np.log(v) - self.s_min) / self.ds
            np.clip(pos, 0.0, self.TAIL_CELLS - 1e-9, out=pos)
            kk = pos.astype(np.intp)
            pos -= kk
            np.add(kk, self.TAIL_CELLS, out=kk, where=~lower)
            h = _horner(self.tails, kk, pos)
            r = np.where(lower, np.exp(h), -np.expm1(h))
            r[v <= 0.0] = np.where(lower[v <= 0.0], 0.0, 1.0)
            x[tail] = r
        return x


_QUANTILE_CACHE: OrderedDict[tuple[float, float], _BetaQuantile] = OrderedDict()
_QUANTILE_LOCK = threading.Lock()
_QUANTILE_CACHE_SIZE = 256


def _beta_inverse(a: float, b: float) -> _BetaQuantile:
    """The cached fast quantile function of Beta(a, b)."""
    key = (a, b)
    with _QUANTILE_LOCK:
        fn = _QUANTILE_CACHE.get(key)
        if fn is not None:
            _QUANTILE_CACHE.move_to_end(key)
            return fn
    fn = _BetaQuantile(a, b)
    with _QUANTILE_LOCK:
        _QUANTILE_CACHE[key] = fn
        if len(_QUANTILE_CACHE) > _QUANTILE_CACHE_SIZE:
            _QUANTILE_CACHE.popitem(last=False)
    return fn


def _standard_beta_from_uniform(a: float, b: float, u: np.ndarray) -> np.ndarray:
    """Beta(a, b) variates from uniforms by fast numerical inversion (a, b >= 1)."""
    if u.size == 0:
        return np.empty(u.shape)
    return _beta_inverse(a, b)(np.asarray(u, dtype=float))


# --------------------------------------------------------------------------- #
# Base class
# --------------------------------------------------------------------------- #
class Distribution(ABC):
    """A calibrated estimate of one uncertain quantity.

    Subclasses are frozen dataclasses; they validate their parameters on
    construction and raise :class:`~riskbudget.exceptions.InvalidParameterError`
    naming the parameter, its value and the rule it breaks.
    """

    family: ClassVar[str]

    # -- to implement ------------------------------------------------------- #
    @abstractmethod
    def to_scipy(self) -> Any:
        """The equivalent frozen :mod:`scipy.stats` distribution."""

    @abstractmethod
    def mean(self) -> float:
        """Expected value."""

    @abstractmethod
    def var(self) -> float:
        """Variance."""

    @abstractmethod
    def support(self) -> tuple[float, float]:
        """Smallest and largest possible values (may be infinite)."""

    @abstractmethod
    def scaled(self, factor: float) -> Distribution:
        """The distribution of ``factor * X`` (``factor > 0``), in the same family."""

    # -- sampling hooks (used by the simulation; override to add a family) -- #
    # Sampling is split in two steps so the simulation can draw cheap *base*
    # variates for every potential event (keeping random streams aligned across
    # options being compared) and pay for the transform only where it is needed.
    #: What :meth:`base_variates` draws: ``"uniform"`` (U(0, 1), then
    #: inversion), ``"normal"`` (standard normals), ``"none"`` (no randomness:
    #: a constant) or ``"direct"`` (the base variates are already the draws,
    #: up to :meth:`from_base`).
    base_kind: ClassVar[str] = "uniform"

    def base_variates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` cheap base variates of kind :attr:`base_kind`, consuming ``rng`` in order."""
        return rng.random(n)

    @abstractmethod
    def from_base(self, base: np.ndarray) -> np.ndarray:
        """Map base variates to draws of this distribution (may work in place)."""

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The draws behind :meth:`sample` (after its argument checks)."""
        return self.from_base(self.base_variates(n, rng))

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Draws from uniforms ``u`` by inversion (copulas, common shocks, controls' yearly strengths).

        Families sampled by inverting uniforms (``base_kind == "uniform"``)
        apply the sampler's own transform, so the same uniforms give the same
        draws as :meth:`sample`; a constant gives its value; the others invert
        exactly with :meth:`ppf`.

        Raises
        ------
        InvalidParameterError
            When a value of ``u`` is outside [0, 1] or NaN (it names the first).
        """
        u = np.asarray(u, dtype=float)
        outside = ~((u >= 0.0) & (u <= 1.0))
        if outside.any():
            i = int(np.flatnonzero(outside.ravel())[0])
            raise InvalidParameterError(
                f"{self!r}.from_uniform: u[{i}] = {u.ravel()[i]!r} is not a probability; every u must be in [0, 1]"
            )
        if self.base_kind == "uniform":
            return np.asarray(self.from_base(u.copy()), dtype=float)
        if self.base_kind == "none":
            return np.full(u.shape, self.mean())
        return np.asarray(self.ppf(u), dtype=float)

    # -- shared ------------------------------------------------------------- #
    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``n`` independent values.

        Parameters
        ----------
        n : int
            Number of draws.
        rng : numpy.random.Generator or int, optional
            The generator to use, or a seed for a new one.

        Returns
        -------
        numpy.ndarray
            A float64 array of length ``n``.
        """
        count = check_finite(self.family, "n", n)
        if count < 0:
            raise InvalidParameterError(f"{self.family}: n ({n!r}) must be >= 0")
        if not count.is_integer():
            raise InvalidParameterError(f"{self.family}: n ({n!r}) must be a whole number of draws")
        if count > 2**53:
            raise InvalidParameterError(f"{self.family}: n ({n!r}) is more draws than any machine holds (at most 2**53)")
        n = int(count)
        return self._sample(n, _rng(rng))

    def std(self) -> float:
        """Standard deviation."""
        return math.sqrt(self.var())

    def ppf(self, q: Any) -> Any:
        """Quantile function (inverse CDF)."""
        return self.to_scipy().ppf(q)

    def cdf(self, x: Any) -> Any:
        """Cumulative distribution function."""
        return self.to_scipy().cdf(x)

    def median(self) -> float:
        """The 50th percentile."""
        return float(self.ppf(0.5))

    def interval(self, level: float = 0.90) -> tuple[float, float]:
        """Central interval holding ``level`` of the probability."""
        if not 0.0 < check_finite(self.family, "level", level) < 1.0:
            raise InvalidParameterError(f"{self.family}: level ({level!r}) must lie in (0, 1)")
        tail = (1.0 - level) / 2.0
        return float(self.ppf(tail)), float(self.ppf(1.0 - tail))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; :func:`from_dict` restores an equal object."""
        out: dict[str, Any] = {"family": self.family}
        for f in fields(self):  # type: ignore[arg-type]
            out[f.name] = getattr(self, f.name)
        return out

    def __str__(self) -> str:
        params = ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))  # type: ignore[arg-type]
        return f"{type(self).__name__}({params})"


class PosteriorDistribution(Distribution):
    """An estimate that holds posterior draws (:mod:`riskbudget.bayes`): one draw per simulated year.

    The extension point for parameter uncertainty. In each simulated year the
    simulation picks one posterior draw index from a run-level stream keyed
    by :attr:`posterior_key` (:meth:`draw_index`), and every distribution with
    that key - a scenario's rate and its losses, and every scenario built from
    the same fit - uses that year's draw: frequencies through
    :meth:`sample_years`, losses through :meth:`from_base_years`.
    """

    #: Key of the posterior: distributions with the same key share each year's draw index.
    posterior_key: str

    @property
    @abstractmethod
    def posterior_draws(self) -> int:
        """Number of posterior draws held."""

    def draw_index(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniform draw indices (one uniform each, so chunking never changes results)."""
        return np.minimum((rng.random(n) * self.posterior_draws).astype(np.intp), self.posterior_draws - 1)

    def sample_years(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One value per year, given each year's posterior draw ``index`` (frequencies override this).

        The default ignores ``index`` and draws from the marginal.
        """
        return self.sample(len(index), rng)

    def from_base_years(self, base: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Values from base variates of events whose years use posterior draws ``index`` (losses override this).

        The default ignores ``index`` and maps through the marginal.
        """
        return self.from_base(base)


# --------------------------------------------------------------------------- #
# Families
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class PERT(Distribution):
    """Modified PERT: a Beta distribution on ``[low, high]`` shaped by ``mode``.

    ``alpha = 1 + lam (mode - low) / (high - low)`` and
    ``beta = 1 + lam (high - mode) / (high - low)``, so the mean is
    ``(low + lam * mode + high) / (lam + 2)``. ``lam = 4`` is the classic PERT.

    Parameters
    ----------
    low, mode, high : float
        Minimum, most likely and maximum value; ``low <= mode <= high`` and ``low < high``.
    lam : float, default 4.0
        Weight of the mode (> 0); larger values concentrate the distribution.

    Examples
    --------
    >>> PERT(0.5, 2, 8).mean()
    2.75
    """

    low: float
    mode: float
    high: float
    lam: float = 4.0

    family: ClassVar[str] = "pert"

    def __post_init__(self) -> None:
        low = _finite("PERT", "low", self.low)
        mode = _finite("PERT", "mode", self.mode)
        high = _finite("PERT", "high", self.high)
        lam = _finite("PERT", "lam", self.lam)
        _ordered("PERT", low, high, strict=True)
        _mode_inside("PERT", low, mode, high)
        _positive("PERT", "lam", lam)
        _at_most_shape("PERT", "lam", lam)
        for name, value in (("low", low), ("mode", mode), ("high", high), ("lam", lam)):
            object.__setattr__(self, name, value)
        _check_moments(self)

    @property
    def alpha(self) -> float:
        return 1.0 + self.lam * (self.mode - self.low) / (self.high - self.low)

    @property
    def beta(self) -> float:
        return 1.0 + self.lam * (self.high - self.mode) / (self.high - self.low)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.beta(self.alpha, self.beta, loc=self.low, scale=self.high - self.low)

    def mean(self) -> float:
        return (self.low + self.lam * self.mode + self.high) / (self.lam + 2.0)

    def var(self) -> float:
        a, b, w = self.alpha, self.beta, self.high - self.low
        return w * w * a * b / ((a + b) ** 2 * (a + b + 1.0))

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    def ppf(self, q: Any) -> Any:

        return self.low + (self.high - self.low) * _betaincinv(self.alpha, self.beta, q)

    def cdf(self, x: Any) -> Any:
        from scipy import special

        z = np.clip((np.asarray(x, dtype=float) - self.low) / (self.high - self.low), 0.0, 1.0)
        out = special.betainc(self.alpha, self.beta, z)
        return out if np.ndim(out) else float(out)

    def scaled(self, factor: float) -> PERT:
        factor = _scale_factor("PERT", factor)
        return PERT(self.low * factor, self.mode * factor, self.high * factor, self.lam)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        x = _standard_beta_from_uniform(self.alpha, self.beta, base)
        x *= self.high - self.low
        x += self.low
        return x


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Lognormal: ``log X`` is normal with mean ``mu`` and standard deviation ``sigma``.

    Use :meth:`from_ci` for the calibrated-estimate form "90% sure it lies
    between low and high".

    Examples
    --------
    >>> d = LogNormal.from_ci(1e5, 1e7)
    >>> round(d.median())
    1000000
    """

    mu: float
    sigma: float
    #: The (low, high, level) interval it was built from, kept so that files
    #: written back hold the analyst's own numbers exactly.
    ci: tuple[float, float, float] | None = field(default=None, compare=False, repr=False)

    family: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        mu = _finite("LogNormal", "mu", self.mu)
        sigma = _finite("LogNormal", "sigma", self.sigma)
        _positive("LogNormal", "sigma", sigma)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        _check_moments(self)

    @classmethod
    def from_ci(cls, low: float, high: float, level: float = 0.90) -> LogNormal:
        """Lognormal whose central ``level`` interval is ``[low, high]``.

        For ``level = 0.90``, ``low`` and ``high`` are the 5th and 95th
        percentiles: ``mu = (ln low + ln high) / 2`` and
        ``sigma = (ln high - ln low) / (2 * 1.6449)``.
        """
        low = _finite("LogNormal.from_ci", "low", low)
        high = _finite("LogNormal.from_ci", "high", high)
        level = _finite("LogNormal.from_ci", "level", level)
        if not 0.0 < level < 1.0:
            raise InvalidParameterError(
                f"LogNormal.from_ci: level ({level:g}) must lie in (0, 1), e.g. 0.90 for a 90% interval"
            )
        if low <= 0:
            raise InvalidParameterError(
                f"LogNormal.from_ci: low ({low:g}) must be > 0; a lognormal has no zero or negative values"
            )
        if high <= 0:
            raise InvalidParameterError(
                f"LogNormal.from_ci: high ({high:g}) must be > 0; a lognormal has no zero or negative values"
            )
        _ordered("LogNormal.from_ci", low, high, strict=True)
        from scipy import special

        z = float(special.ndtri(0.5 + level / 2.0))
        if not (math.isfinite(z) and z > 0):
            raise InvalidParameterError(
                f"LogNormal.from_ci: level ({level:g}) is too close to 0 or 1 to define an interval in double "
                f"precision; give the interval's coverage, e.g. 0.90 for a 90% interval"
            )
        mu = (math.log(low) + math.log(high)) / 2.0
        sigma = (math.log(high) - math.log(low)) / (2.0 * z)
        if not sigma > 0:
            raise InvalidParameterError(
                f"LogNormal.from_ci: low ({low!r}) and high ({high!r}) are too close to tell apart in double "
                f"precision; use Constant({low:g}) for a known value"
            )
        try:
            return cls(mu, sigma, ci=(low, high, level))
        except InvalidParameterError:
            raise InvalidParameterError(
                f"LogNormal.from_ci({low:g}, {high:g}, level={level:g}): the interval gives sigma = {sigma:g}, so the "
                f"lognormal's mean or variance overflows 64-bit floats and it cannot be simulated; give a narrower "
                f"interval, or a level such as 0.90"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        if self.ci is not None:
            low, high, level = self.ci
            return {"family": self.family, "low": low, "high": high, "level": level}
        return {"family": self.family, "mu": self.mu, "sigma": self.sigma}

    def __str__(self) -> str:
        if self.ci is not None:
            return f"LogNormal.from_ci({self.ci[0]:g}, {self.ci[1]:g}, level={self.ci[2]:g})"
        return f"LogNormal(mu={self.mu:g}, sigma={self.sigma:g})"

    @classmethod
    def from_median_p95(cls, median: float, p95: float) -> LogNormal:
        """Lognormal with the given median and 95th percentile (benchmarks quote these)."""
        median = _finite("LogNormal.from_median_p95", "median", median)
        p95 = _finite("LogNormal.from_median_p95", "p95", p95)
        if median <= 0:
            raise InvalidParameterError(f"LogNormal.from_median_p95: median ({median:g}) must be > 0")
        if p95 <= median:
            raise InvalidParameterError(
                f"LogNormal.from_median_p95: p95 ({p95:g}) must exceed the median ({median:g})"
            )
        return cls(math.log(median), (math.log(p95) - math.log(median)) / Z90)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.lognorm(s=self.sigma, scale=math.exp(self.mu))

    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2.0)

    def var(self) -> float:
        s2 = self.sigma**2
        return math.expm1(s2) * math.exp(2.0 * self.mu + s2)

    def median(self) -> float:
        return math.exp(self.mu)

    def support(self) -> tuple[float, float]:
        return (0.0, math.inf)

    def ppf(self, q: Any) -> Any:
        from scipy import special

        out = np.exp(self.mu + self.sigma * special.ndtri(q))
        return out if np.ndim(out) else float(out)

    def cdf(self, x: Any) -> Any:
        from scipy import special

        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(np.where(x > 0, x, 1.0)) - self.mu) / self.sigma
        out = np.where(x > 0, special.ndtr(z), 0.0)
        return out if np.ndim(out) else float(out)

    def scaled(self, factor: float) -> LogNormal:
        factor = _scale_factor("LogNormal", factor)
        if self.ci is not None:
            return LogNormal.from_ci(self.ci[0] * factor, self.ci[1] * factor, self.ci[2])
        return LogNormal(self.mu + math.log(factor), self.sigma)

    base_kind: ClassVar[str] = "normal"

    def base_variates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(n)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        z = base * self.sigma
        z += self.mu
        return np.exp(z, out=z)


@dataclass(frozen=True)
class Triangular(Distribution):
    """Triangular distribution on ``[low, high]`` with peak at ``mode``."""

    low: float
    mode: float
    high: float

    family: ClassVar[str] = "triangular"

    def __post_init__(self) -> None:
        low = _finite("Triangular", "low", self.low)
        mode = _finite("Triangular", "mode", self.mode)
        high = _finite("Triangular", "high", self.high)
        _ordered("Triangular", low, high, strict=True)
        _mode_inside("Triangular", low, mode, high)
        for name, value in (("low", low), ("mode", mode), ("high", high)):
            object.__setattr__(self, name, value)
        _check_moments(self)

    def to_scipy(self) -> Any:
        from scipy import stats

        w = self.high - self.low
        return stats.triang((self.mode - self.low) / w, loc=self.low, scale=w)

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3.0

    def var(self) -> float:
        # (a^2 + b^2 + c^2 - ab - ac - bc) / 18, written in the width and the mode's place in it: exact far from
        # 0 too (the expanded form cancels to 0 or below for values like 1e12 with a width of a few units)
        w = self.high - self.low
        f = (self.mode - self.low) / w
        return w * w * (1.0 - f + f * f) / 18.0

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    def ppf(self, q: Any) -> Any:
        q = np.asarray(q, dtype=float)
        a, c, b = self.low, self.mode, self.high
        fc = (c - a) / (b - a)
        with np.errstate(invalid="ignore"):
            left = a + np.sqrt(q * (b - a) * (c - a))
            right = b - np.sqrt((1.0 - q) * (b - a) * (b - c))
        # each branch lies in [a, b] exactly; rounding (with subnormal widths) can step past an end by an ulp
        out = np.clip(np.where(q < fc, left, right), a, b)
        out = np.where((q < 0) | (q > 1), np.nan, out)
        return out if np.ndim(out) else float(out)

    def scaled(self, factor: float) -> Triangular:
        factor = _scale_factor("Triangular", factor)
        return Triangular(self.low * factor, self.mode * factor, self.high * factor)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        return np.asarray(self.ppf(base), dtype=float).reshape(base.shape)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform distribution on ``[low, high]``."""

    low: float
    high: float

    family: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        low = _finite("Uniform", "low", self.low)
        high = _finite("Uniform", "high", self.high)
        _ordered("Uniform", low, high, strict=True)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        _check_moments(self)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.uniform(loc=self.low, scale=self.high - self.low)

    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    def var(self) -> float:
        return (self.high - self.low) ** 2 / 12.0

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    def scaled(self, factor: float) -> Uniform:
        factor = _scale_factor("Uniform", factor)
        return Uniform(self.low * factor, self.high * factor)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        u = base * (self.high - self.low)
        u += self.low
        return u


@dataclass(frozen=True)
class Constant(Distribution):
    """A known value. Draws consume no randomness."""

    value: float

    family: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _finite("Constant", "value", self.value))

    def to_scipy(self) -> Any:
        from scipy import stats

        # A point mass at `value`: scipy's randint on {0} shifted by `value`.
        return stats.randint(0, 1, loc=self.value)

    def mean(self) -> float:
        return self.value

    def var(self) -> float:
        return 0.0

    def support(self) -> tuple[float, float]:
        return (self.value, self.value)

    def ppf(self, q: Any) -> Any:
        q = np.asarray(q, dtype=float)
        out = np.where((q < 0) | (q > 1), np.nan, self.value)
        return out if np.ndim(out) else float(out)

    def cdf(self, x: Any) -> Any:
        out = np.where(np.asarray(x, dtype=float) >= self.value, 1.0, 0.0)
        return out if np.ndim(out) else float(out)

    def scaled(self, factor: float) -> Constant:
        factor = _scale_factor("Constant", factor)
        return Constant(self.value * factor)

    base_kind: ClassVar[str] = "none"

    def base_variates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.empty(n)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        return np.full(base.shape, self.value)


@dataclass(frozen=True)
class Beta(Distribution):
    """Beta distribution on ``[0, 1]``, e.g. for a probability or a control's failure rate."""

    a: float
    b: float

    family: ClassVar[str] = "beta"

    def __post_init__(self) -> None:
        a = _finite("Beta", "a", self.a)
        b = _finite("Beta", "b", self.b)
        _positive("Beta", "a", a)
        _positive("Beta", "b", b)
        _at_most_shape("Beta", "a", a)
        _at_most_shape("Beta", "b", b)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        _check_moments(self)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.beta(self.a, self.b)

    def mean(self) -> float:
        return self.a / (self.a + self.b)

    def var(self) -> float:
        s = self.a + self.b
        return self.a * self.b / (s * s * (s + 1.0))

    def support(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def ppf(self, q: Any) -> Any:

        return _betaincinv(self.a, self.b, q)

    def cdf(self, x: Any) -> Any:
        from scipy import special

        out = special.betainc(self.a, self.b, np.clip(np.asarray(x, dtype=float), 0.0, 1.0))
        return out if np.ndim(out) else float(out)

    def scaled(self, factor: float) -> Distribution:
        raise InvalidParameterError(
            "Beta: a Beta distribution lives on [0, 1] and cannot be scaled; "
            "use PERT(low, mode, high) for a bounded quantity on another range"
        )

    @property
    def base_kind(self) -> str:  # type: ignore[override]
        return "uniform" if self.a >= 1.0 and self.b >= 1.0 else "direct"

    def base_variates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.base_kind == "uniform":
            return rng.random(n)
        return rng.beta(self.a, self.b, n)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        if self.base_kind == "uniform":
            return _standard_beta_from_uniform(self.a, self.b, base)
        return base.copy()


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma distribution with ``shape`` and ``rate`` (mean ``shape / rate``).

    The conjugate prior of a Poisson event rate: after ``k`` events in ``t``
    years a ``Gamma(a, b)`` prior becomes ``Gamma(a + k, b + t)``.
    """

    shape: float
    rate: float

    family: ClassVar[str] = "gamma"

    def __post_init__(self) -> None:
        shape = _finite("Gamma", "shape", self.shape)
        rate = _finite("Gamma", "rate", self.rate)
        _positive("Gamma", "shape", shape)
        _positive("Gamma", "rate", rate)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "rate", rate)
        _check_moments(self)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.gamma(self.shape, scale=1.0 / self.rate)

    def mean(self) -> float:
        return self.shape / self.rate

    def var(self) -> float:
        return self.shape / self.rate**2

    def support(self) -> tuple[float, float]:
        return (0.0, math.inf)

    def ppf(self, q: Any) -> Any:
        from scipy import special

        return special.gammaincinv(self.shape, q) / self.rate

    def cdf(self, x: Any) -> Any:
        from scipy import special

        out = special.gammainc(self.shape, np.clip(np.asarray(x, dtype=float), 0.0, None) * self.rate)
        return out if np.ndim(out) else float(out)

    def scaled(self, factor: float) -> Gamma:
        factor = _scale_factor("Gamma", factor)
        return Gamma(self.shape, self.rate / factor)

    base_kind: ClassVar[str] = "direct"

    def base_variates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_gamma(self.shape, n)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        return base / self.rate


FAMILIES: dict[str, type[Distribution]] = {
    cls.family: cls for cls in (PERT, LogNormal, Triangular, Uniform, Constant, Beta, Gamma)
}


def from_dict(data: Mapping[str, Any] | float | int) -> Distribution:
    """Rebuild a distribution from :meth:`Distribution.to_dict` output.

    A bare number means :class:`Constant`. A lognormal may also be given by its
    90% interval: ``{"family": "lognormal", "low": 1e4, "high": 1e6}``
    (optionally with ``level``).

    Examples
    --------
    >>> from_dict({"family": "pert", "low": 1, "mode": 2, "high": 4})
    PERT(low=1.0, mode=2.0, high=4.0, lam=4.0)
    >>> from_dict(3)
    Constant(value=3.0)
    """
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return Constant(data)
    if not isinstance(data, Mapping):
        raise InvalidParameterError(
            f"a distribution must be a number or a mapping with a 'family' key, not {shown(data)}"
        )
    params = dict(data)
    raw_family = params.pop("family", "")
    family = raw_family.strip().lower() if isinstance(raw_family, str) else ""
    if family not in FAMILIES:
        raise InvalidParameterError(
            f"unknown distribution family {shown(raw_family)}; expected one of {sorted(FAMILIES)}"
        )
    cls = FAMILIES[family]
    if cls is LogNormal and ("low" in params or "high" in params):
        allowed = {"low", "high", "level"}
        unknown = set(params) - allowed
        if unknown:
            raise InvalidParameterError(
                f"lognormal by interval takes {sorted(allowed)}; unknown keys {sorted(map(str, unknown))}"
            )
        return LogNormal.from_ci(params.get("low"), params.get("high"), params.get("level", 0.90))  # type: ignore[arg-type]
    names = [f.name for f in fields(cls) if f.compare]  # type: ignore[arg-type]
    unknown = set(params) - set(names)
    if unknown:
        raise InvalidParameterError(
            f"{family}: unknown parameter(s) {sorted(map(str, unknown))}; expected {names}"
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise InvalidParameterError(f"{family}: {exc}; expected parameters {names}") from None


def as_distribution(value: Any, *, what: str = "value") -> Distribution:
    """Accept a :class:`Distribution`, a number (a :class:`Constant`) or a dict."""
    if isinstance(value, Distribution):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return Constant(value)  # type: ignore[arg-type]  # check_finite converts it, huge integers included
    if isinstance(value, Mapping):
        return from_dict(value)
    raise InvalidParameterError(
        f"{what} must be a distribution (e.g. PERT(1, 2, 5)) or a number, not {shown(value)}"
    )
