"""Exact conjugate updates: numpy and scipy only, no PyMC.

Three conjugate pairs cover the questions analysts ask most often:

* **Gamma-Poisson** for an event rate. A prior ``Gamma(a, b)`` on the rate
  (``a`` is the shape, ``b`` the rate parameter, so the mean is ``a / b``),
  updated with ``k`` events in ``t`` years of exposure, gives
  ``Gamma(a + k, b + t)``. A prior ``Gamma(a, b)`` is worth as much as
  ``b`` years of observation holding ``a`` events.
* **Beta-Binomial** for a probability (an annual probability, a control's
  failure rate): a prior ``Beta(a, b)`` with ``h`` hits in ``n`` trials gives
  ``Beta(a + h, b + n - h)``.
* **Normal-inverse-chi-square** for the log of the loss per event (a
  lognormal severity with unknown ``mu`` and ``sigma``), see
  :class:`SeverityPrior`. It is exact only when every loss is recorded; with a
  reporting threshold the likelihood is truncated and there is no conjugate
  form, so use :func:`riskbudget.bayes.fit`.

Posterior predictive distributions:

* :func:`predictive_count` - the number of events in the next ``t`` years is
  negative binomial, :class:`NegativeBinomial`, in :mod:`scipy.stats.nbinom`'s
  parameterisation ``n = a``, ``p = b / (b + t)``.
* :func:`predictive_hits` - hits in the next ``n`` trials are beta-binomial,
  :class:`BetaBinomial`.

Every function here is pure and takes microseconds, so interactive tools can
call it on every change of a slider.

Examples
--------
>>> import riskbudget as rb
>>> from riskbudget import bayes
>>> prior = bayes.rate_prior(probability=0.25, effective_years=2)   # benchmark: 1 in 4 firms a year
>>> post = bayes.update_rate(prior, events=3, years=5)
>>> round(post.shape, 4), post.rate
(3.5754, 7.0)
>>> bayes.predictive_count(post).mean() == post.mean()
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..distributions import Z90, Beta, Gamma, LogNormal
from ..exceptions import InvalidParameterError, check_finite

__all__ = [
    "update_rate",
    "update_probability",
    "update_severity",
    "predictive_count",
    "predictive_hits",
    "rate_prior",
    "probability_prior",
    "severity_prior",
    "rate_from_probability",
    "probability_from_rate",
    "NegativeBinomial",
    "BetaBinomial",
    "SeverityPrior",
]


# --------------------------------------------------------------------------- #
# Validation helpers (fast paths for plain Python numbers)
# --------------------------------------------------------------------------- #
def _number(where: str, name: str, value: Any) -> float:
    return check_finite(where, name, value)


def _count(where: str, name: str, value: Any) -> int:
    """A non-negative whole number (ints, integral floats and numpy integers)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        k = int(value)
    else:
        x = _number(where, name, value)
        if not x.is_integer():
            raise InvalidParameterError(f"{where}: {name} ({value!r}) must be a whole number of events")
        k = int(x)
    if k < 0:
        raise InvalidParameterError(f"{where}: {name} ({k}) must be >= 0")
    return k


def _totals(where: str, counts: Any, counts_name: str, exposure: Any, exposure_name: str) -> tuple[int, float]:
    """Sum per-period counts and exposures, checking each entry and that lengths match."""
    scalar_counts = np.ndim(counts) == 0
    scalar_exposure = np.ndim(exposure) == 0
    if scalar_counts and scalar_exposure:
        k = _count(where, counts_name, counts)
        t = _number(where, exposure_name, exposure)
        return k, t
    k_arr = np.atleast_1d(np.asarray(counts, dtype=object))
    t_arr = np.atleast_1d(np.asarray(exposure, dtype=object))
    if k_arr.ndim != 1 or t_arr.ndim != 1:
        raise InvalidParameterError(f"{where}: {counts_name} and {exposure_name} must be numbers or 1-d sequences")
    if len(k_arr) != len(t_arr):
        raise InvalidParameterError(
            f"{where}: {counts_name} has {len(k_arr)} period(s) but {exposure_name} has {len(t_arr)}; "
            f"give one exposure per period"
        )
    k = sum(_count(where, f"{counts_name}[{i}]", v) for i, v in enumerate(k_arr))
    t = 0.0
    for i, v in enumerate(t_arr):
        ti = _number(where, f"{exposure_name}[{i}]", v)
        if ti < 0:
            raise InvalidParameterError(f"{where}: {exposure_name}[{i}] ({ti:g}) must be >= 0")
        t += ti
    return k, t


# --------------------------------------------------------------------------- #
# Probabilities and rates
# --------------------------------------------------------------------------- #
def rate_from_probability(probability: float) -> float:
    """The Poisson rate with the same chance of at least one event a year: ``-ln(1 - p)``.

    Examples
    --------
    >>> round(rate_from_probability(0.25), 4)
    0.2877
    """
    p = _number("rate_from_probability", "probability", probability)
    if not 0.0 <= p < 1.0:
        raise InvalidParameterError(
            f"rate_from_probability: probability ({p:g}) must lie in [0, 1); "
            f"a certain event (p = 1) has no finite rate"
        )
    return -math.log1p(-p)


def probability_from_rate(rate: float) -> float:
    """The chance of at least one event a year at Poisson rate ``rate``: ``1 - exp(-rate)``.

    Examples
    --------
    >>> round(probability_from_rate(rate_from_probability(0.25)), 12)
    0.25
    """
    r = _number("probability_from_rate", "rate", rate)
    if r < 0:
        raise InvalidParameterError(f"probability_from_rate: rate ({r:g}) must be >= 0 events per year")
    return -math.expm1(-r)


# --------------------------------------------------------------------------- #
# Priors
# --------------------------------------------------------------------------- #
def rate_prior(
    *,
    rate: float | None = None,
    probability: float | None = None,
    effective_years: float,
) -> Gamma:
    """A Gamma prior on an event rate, from a benchmark rate or annual probability.

    The prior has mean ``rate`` and is worth ``effective_years`` years of
    observation: ``Gamma(shape=rate * effective_years, rate=effective_years)``.
    A benchmark *probability* ``p`` of at least one event a year is converted
    to the Poisson rate with the same chance, ``-ln(1 - p)`` (a frequency is
    not a probability: a rate can exceed 1 a year). That rate is the prior's
    mean; averaged over the prior's spread, the chance of at least one event
    is a little lower, ``1 - (n / (n + 1))^(-n ln(1 - p))`` with ``n`` the
    effective years (0.226 instead of 0.25 at ``p = 0.25``, ``n = 4``), and it
    tends to ``p`` as ``n`` grows.

    Parameters
    ----------
    rate : float, optional
        Events per year (> 0). Give exactly one of ``rate`` and ``probability``.
    probability : float, optional
        Annual probability of at least one event, in (0, 1).
    effective_years : float
        How many years of your own data the benchmark is worth (> 0). A small
        value (1-3) lets a few years of your incidents dominate; a large one
        keeps the posterior near the benchmark.

    Returns
    -------
    Gamma

    Examples
    --------
    >>> prior = rate_prior(probability=0.25, effective_years=4)
    >>> round(prior.mean(), 4), prior.rate
    (0.2877, 4.0)
    """
    where = "rate_prior"
    if (rate is None) == (probability is None):
        raise InvalidParameterError(f"{where}: give exactly one of rate (events per year) or probability (per year)")
    n = _number(where, "effective_years", effective_years)
    if n <= 0:
        raise InvalidParameterError(f"{where}: effective_years ({n:g}) must be > 0")
    if probability is not None:
        p = _number(where, "probability", probability)
        if not 0.0 < p < 1.0:
            raise InvalidParameterError(
                f"{where}: probability ({p:g}) must lie strictly between 0 and 1; "
                f"for a rate of events per year pass rate= instead"
            )
        lam = -math.log1p(-p)
    else:
        lam = _number(where, "rate", rate)
        if lam <= 0:
            raise InvalidParameterError(f"{where}: rate ({lam:g}) must be > 0 events per year")
    return Gamma(lam * n, n)


def probability_prior(probability: float, *, effective_trials: float) -> Beta:
    """A Beta prior on a probability with mean ``probability``, worth ``effective_trials`` trials.

    ``Beta(p * n, (1 - p) * n)``.

    Examples
    --------
    >>> probability_prior(0.1, effective_trials=20)
    Beta(a=2.0, b=18.0)
    """
    where = "probability_prior"
    p = _number(where, "probability", probability)
    if not 0.0 < p < 1.0:
        raise InvalidParameterError(f"{where}: probability ({p:g}) must lie strictly between 0 and 1")
    n = _number(where, "effective_trials", effective_trials)
    if n <= 0:
        raise InvalidParameterError(f"{where}: effective_trials ({n:g}) must be > 0")
    return Beta(p * n, (1.0 - p) * n)


# --------------------------------------------------------------------------- #
# Conjugate updates
# --------------------------------------------------------------------------- #
def update_rate(prior: Gamma, events: Any, years: Any) -> Gamma:
    """Gamma-Poisson update of an event rate: ``Gamma(a, b)`` -> ``Gamma(a + k, b + t)``.

    Parameters
    ----------
    prior : Gamma
        Prior on the rate (events per year), ``Gamma(shape=a, rate=b)``.
    events : int or sequence of int
        Number of events ``k`` observed, or one count per period.
    years : float or sequence of float
        Exposure ``t`` in years (partial years allowed), or one per period
        (the same length as ``events``).

    Returns
    -------
    Gamma
        The exact posterior ``Gamma(a + sum(k), b + sum(t))``.

    Examples
    --------
    >>> from riskbudget import Gamma
    >>> update_rate(Gamma(2, 4), events=3, years=2.5)
    Gamma(shape=5.0, rate=6.5)
    >>> update_rate(Gamma(2, 4), events=[1, 0, 2], years=[1, 1, 0.5])
    Gamma(shape=5.0, rate=6.5)
    """
    if not isinstance(prior, Gamma):
        raise InvalidParameterError(
            f"update_rate: prior must be a riskbudget.Gamma on the rate, not {type(prior).__name__}; "
            f"build one with rate_prior(rate=..., effective_years=...)"
        )
    k, t = _totals("update_rate", events, "events", years, "years")
    if t < 0:
        raise InvalidParameterError(f"update_rate: years ({t:g}) must be >= 0")
    return Gamma(prior.shape + k, prior.rate + t)


def update_probability(prior: Beta, hits: Any, trials: Any) -> Beta:
    """Beta-Binomial update of a probability: ``Beta(a, b)`` -> ``Beta(a + h, b + n - h)``.

    Parameters
    ----------
    prior : Beta
        Prior on the probability.
    hits : int or sequence of int
        Successes ``h`` (e.g. years with an incident, or control failures).
    trials : int or sequence of int
        Trials ``n`` (``h <= n``); sequences are summed period by period.

    Returns
    -------
    Beta

    Examples
    --------
    >>> from riskbudget import Beta
    >>> update_probability(Beta(1, 9), hits=2, trials=10)
    Beta(a=3.0, b=17.0)
    """
    if not isinstance(prior, Beta):
        raise InvalidParameterError(
            f"update_probability: prior must be a riskbudget.Beta, not {type(prior).__name__}; "
            f"build one with probability_prior(p, effective_trials=...)"
        )
    where = "update_probability"
    if np.ndim(hits) == 0 and np.ndim(trials) == 0:
        h = _count(where, "hits", hits)
        n = _count(where, "trials", trials)
        if h > n:
            raise InvalidParameterError(f"{where}: hits ({h}) cannot exceed trials ({n})")
    else:
        h_arr = np.atleast_1d(np.asarray(hits, dtype=object))
        n_arr = np.atleast_1d(np.asarray(trials, dtype=object))
        if h_arr.shape != n_arr.shape or h_arr.ndim != 1:
            raise InvalidParameterError(
                f"{where}: hits and trials must be numbers or 1-d sequences of the same length "
                f"(got {h_arr.shape} and {n_arr.shape})"
            )
        h = n = 0
        for i, (hv, nv) in enumerate(zip(h_arr, n_arr)):
            hi, ni = _count(where, f"hits[{i}]", hv), _count(where, f"trials[{i}]", nv)
            if hi > ni:
                raise InvalidParameterError(f"{where}: hits[{i}] ({hi}) cannot exceed trials[{i}] ({ni})")
            h += hi
            n += ni
    return Beta(prior.a + h, prior.b + n - h)


# --------------------------------------------------------------------------- #
# Predictive count distributions
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class NegativeBinomial:
    """Negative binomial count distribution in :data:`scipy.stats.nbinom`'s parameterisation.

    ``P(K = k) = C(k + n - 1, k) p^n (1 - p)^k`` for ``k = 0, 1, ...``, with
    mean ``n (1 - p) / p`` and variance ``n (1 - p) / p^2``.

    It is the posterior predictive number of events in ``t`` years when the
    rate has a ``Gamma(a, b)`` posterior: ``n = a`` and ``p = b / (b + t)``
    (so the mean is ``a t / b``), see :func:`predictive_count`.

    Examples
    --------
    >>> nb = NegativeBinomial(n=3.0, p=0.75)
    >>> nb.mean(), round(nb.var(), 6)
    (1.0, 1.333333)
    >>> round(nb.pmf(0), 6)  # 0.75 ** 3
    0.421875
    """

    n: float
    p: float

    def __post_init__(self) -> None:
        n = _number("NegativeBinomial", "n", self.n)
        p = _number("NegativeBinomial", "p", self.p)
        if n <= 0:
            raise InvalidParameterError(f"NegativeBinomial: n ({n:g}) must be > 0")
        if not 0.0 < p <= 1.0:
            raise InvalidParameterError(f"NegativeBinomial: p ({p:g}) must lie in (0, 1]")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "p", p)

    @classmethod
    def from_gamma(cls, rate: Gamma, years: float = 1.0) -> NegativeBinomial:
        """Events in ``years`` years when the rate is ``Gamma(a, b)``: ``n = a``, ``p = b / (b + years)``."""
        t = _number("NegativeBinomial.from_gamma", "years", years)
        if t <= 0:
            raise InvalidParameterError(f"NegativeBinomial.from_gamma: years ({t:g}) must be > 0")
        return cls(rate.shape, rate.rate / (rate.rate + t))

    def to_scipy(self) -> Any:
        """The frozen :func:`scipy.stats.nbinom` with the same parameters."""
        from scipy import stats

        return stats.nbinom(self.n, self.p)

    def mean(self) -> float:
        return self.n * (1.0 - self.p) / self.p

    def var(self) -> float:
        return self.n * (1.0 - self.p) / (self.p * self.p)

    def std(self) -> float:
        return math.sqrt(self.var())

    def pmf(self, k: Any) -> Any:
        """``P(K = k)``, computed in log space (exact to rounding)."""
        from scipy import special

        k_arr = np.asarray(k, dtype=float)
        valid = (k_arr >= 0) & (k_arr == np.floor(k_arr))
        kk = np.where(valid, k_arr, 0.0)
        log_pmf = (
            special.gammaln(kk + self.n)
            - special.gammaln(self.n)
            - special.gammaln(kk + 1.0)
            + self.n * math.log(self.p)
            + special.xlog1py(kk, -self.p)
        )
        out = np.where(valid, np.exp(log_pmf), 0.0)
        return out if np.ndim(out) else float(out)

    def cdf(self, k: Any) -> Any:
        """``P(K <= k)`` via the regularised incomplete beta function."""
        from scipy import special

        kf = np.floor(np.asarray(k, dtype=float))
        out = np.where(kf < 0, 0.0, special.betainc(self.n, np.maximum(kf, 0.0) + 1.0, self.p))
        return out if np.ndim(out) else float(out)

    def sf(self, k: Any) -> Any:
        """``P(K > k)``, accurate in the far tail."""
        from scipy import special

        kf = np.floor(np.asarray(k, dtype=float))
        out = np.where(kf < 0, 1.0, special.betainc(np.maximum(kf, 0.0) + 1.0, self.n, 1.0 - self.p))
        return out if np.ndim(out) else float(out)

    def ppf(self, q: Any) -> Any:
        """Smallest ``k`` with ``P(K <= k) >= q``."""
        out = self.to_scipy().ppf(q)
        return out if np.ndim(out) else float(out)

    def interval(self, level: float = 0.90) -> tuple[float, float]:
        """Central interval of counts holding at least ``level`` of the probability."""
        if not 0.0 < level < 1.0:
            raise InvalidParameterError(f"NegativeBinomial: level ({level!r}) must lie in (0, 1)")
        tail = (1.0 - level) / 2.0
        return float(self.ppf(tail)), float(self.ppf(1.0 - tail))

    def sample(self, size: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``size`` independent counts (int64)."""
        g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return g.negative_binomial(self.n, self.p, int(size))


@dataclass(frozen=True)
class BetaBinomial:
    """Beta-binomial count distribution, as :data:`scipy.stats.betabinom` ``(n, a, b)``.

    The posterior predictive number of hits in ``n`` new trials when the
    probability has a ``Beta(a, b)`` posterior (see :func:`predictive_hits`).

    Examples
    --------
    >>> bb = BetaBinomial(n=10, a=2.0, b=8.0)
    >>> bb.mean()
    2.0
    """

    n: int
    a: float
    b: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _count("BetaBinomial", "n", self.n))
        for name in ("a", "b"):
            v = _number("BetaBinomial", name, getattr(self, name))
            if v <= 0:
                raise InvalidParameterError(f"BetaBinomial: {name} ({v:g}) must be > 0")
            object.__setattr__(self, name, v)

    def to_scipy(self) -> Any:
        from scipy import stats

        return stats.betabinom(self.n, self.a, self.b)

    def mean(self) -> float:
        return self.n * self.a / (self.a + self.b)

    def var(self) -> float:
        s = self.a + self.b
        return self.n * self.a * self.b * (s + self.n) / (s * s * (s + 1.0))

    def pmf(self, k: Any) -> Any:
        out = self.to_scipy().pmf(k)
        return out if np.ndim(out) else float(out)

    def cdf(self, k: Any) -> Any:
        out = self.to_scipy().cdf(k)
        return out if np.ndim(out) else float(out)

    def ppf(self, q: Any) -> Any:
        out = self.to_scipy().ppf(q)
        return out if np.ndim(out) else float(out)

    def sample(self, size: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return g.binomial(self.n, g.beta(self.a, self.b, int(size)))


def predictive_count(rate: Gamma, years: float = 1.0) -> NegativeBinomial:
    """Posterior predictive number of events in the next ``years`` years.

    With the rate ``~ Gamma(a, b)`` and ``K | rate ~ Poisson(rate * years)``,
    ``K`` is negative binomial with ``n = a`` and ``p = b / (b + years)``:
    mean ``a years / b`` and variance ``mean * (1 + years / b)``, wider than a
    Poisson because the rate itself is uncertain.

    Examples
    --------
    >>> from riskbudget import Gamma
    >>> nb = predictive_count(Gamma(3, 6), years=1)
    >>> nb.n, round(nb.p, 6), round(nb.mean(), 12)
    (3.0, 0.857143, 0.5)
    """
    if not isinstance(rate, Gamma):
        raise InvalidParameterError(f"predictive_count: rate must be a riskbudget.Gamma, not {type(rate).__name__}")
    return NegativeBinomial.from_gamma(rate, years)


def predictive_hits(probability: Beta, trials: int) -> BetaBinomial:
    """Posterior predictive number of hits in ``trials`` new trials (beta-binomial).

    Examples
    --------
    >>> from riskbudget import Beta
    >>> predictive_hits(Beta(3, 17), trials=10).mean()
    1.5
    """
    if not isinstance(probability, Beta):
        raise InvalidParameterError(
            f"predictive_hits: probability must be a riskbudget.Beta, not {type(probability).__name__}"
        )
    return BetaBinomial(_count("predictive_hits", "trials", trials), probability.a, probability.b)


# --------------------------------------------------------------------------- #
# Lognormal severity: normal-inverse-chi-square on log losses
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class SeverityPrior:
    """Conjugate belief about a lognormal loss per event (prior or posterior).

    The log of a loss is ``Normal(mu, sigma)``. Uncertainty about ``(mu,
    sigma)`` is normal-inverse-chi-square (Gelman et al., *Bayesian Data
    Analysis*, 3rd ed., sec. 3.3):

    * ``sigma^2 ~ Scaled-Inv-chi^2(nu, sigma0^2)``, i.e.
      ``InverseGamma(nu / 2, nu * sigma0^2 / 2)``;
    * ``mu | sigma ~ Normal(mu0, sigma / sqrt(kappa))``.

    ``mu0 = ln(median)`` and ``sigma0`` describe the benchmark's lognormal;
    ``kappa`` and ``nu`` say how many loss events the benchmark is worth for
    the location and for the spread. The same class holds the posterior from
    :func:`update_severity` and serves as the severity prior of
    :func:`riskbudget.bayes.fit`.

    Parameters
    ----------
    mu : float
        ``mu0``, the prior centre of ``mu`` (log of the median loss).
    sigma : float
        ``sigma0`` (> 0), the prior scale of ``sigma`` on the log scale.
    kappa : float
        Prior weight of ``mu0`` in loss events (> 0).
    nu : float
        Prior degrees of freedom of ``sigma`` in loss events (> 0).

    Notes
    -----
    The posterior predictive log loss is Student t with ``nu`` degrees of
    freedom, location ``mu`` and scale ``sigma * sqrt(1 + 1 / kappa)``. Its
    exponential has no finite mean: uncertainty about ``sigma`` fattens the
    tail. So :func:`~riskbudget.bayes.conjugate_scenario` caps every simulated
    loss at a stated maximum per event (``max_loss_per_event=``, else a year's
    ``revenue=``, else ``DEFAULT_MAX_LOSS_PER_EVENT``; see
    :mod:`riskbudget.bayes.cap`); with little data the ALE depends on that cap.

    Examples
    --------
    >>> prior = severity_prior(median=200_000, p95=5_000_000, kappa=2, nu=4)
    >>> round(math.exp(prior.mu)), round(prior.sigma, 4)
    (200000, 1.9569)
    """

    mu: float
    sigma: float
    kappa: float
    nu: float

    def __post_init__(self) -> None:
        for name in ("mu", "sigma", "kappa", "nu"):
            v = _number("SeverityPrior", name, getattr(self, name))
            if name != "mu" and v <= 0:
                raise InvalidParameterError(f"SeverityPrior: {name} ({v:g}) must be > 0")
            object.__setattr__(self, name, v)

    @classmethod
    def from_median_p95(
        cls, median: float, p95: float, *, kappa: float = 1.0, nu: float = 4.0
    ) -> SeverityPrior:
        """From a benchmark's typical (median) and extreme (95th percentile) loss per event."""
        return severity_prior(median, p95, kappa=kappa, nu=nu)

    # -- summaries -------------------------------------------------------- #
    @property
    def alpha(self) -> float:
        """Shape of the inverse-gamma on ``sigma^2``: ``nu / 2``."""
        return self.nu / 2.0

    @property
    def beta(self) -> float:
        """Scale of the inverse-gamma on ``sigma^2``: ``nu * sigma0^2 / 2``."""
        return self.nu * self.sigma**2 / 2.0

    def mean_mu(self) -> float:
        """``E[mu]`` (= ``mu0``)."""
        return self.mu

    def mean_sigma2(self) -> float:
        """``E[sigma^2] = nu sigma0^2 / (nu - 2)``; infinite when ``nu <= 2``."""
        return self.nu * self.sigma**2 / (self.nu - 2.0) if self.nu > 2 else math.inf

    def median_loss(self) -> float:
        """The benchmark lognormal's median, ``exp(mu0)``."""
        return math.exp(self.mu)

    def loss_distribution(self) -> LogNormal:
        """The lognormal at the centre of the belief, ``LogNormal(mu0, sigma0)``."""
        return LogNormal(self.mu, self.sigma)

    def predictive_log_loss(self) -> Any:
        """Posterior predictive of ``ln(loss)``: a frozen :func:`scipy.stats.t`."""
        from scipy import stats

        return stats.t(self.nu, loc=self.mu, scale=self.sigma * math.sqrt(1.0 + 1.0 / self.kappa))

    def predictive_quantile(self, q: Any) -> Any:
        """Quantiles of the posterior predictive loss per event (exact)."""
        out = np.exp(self.predictive_log_loss().ppf(q))
        return out if np.ndim(out) else float(out)

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` joint draws of ``(mu, sigma)``."""
        g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        sigma2 = self.nu * self.sigma**2 / g.chisquare(self.nu, int(n))
        sigma = np.sqrt(sigma2)
        mu = self.mu + sigma / math.sqrt(self.kappa) * g.standard_normal(int(n))
        return mu, sigma


def severity_prior(
    median: float,
    p95: float,
    *,
    kappa: float = 1.0,
    nu: float = 4.0,
) -> SeverityPrior:
    """A lognormal-severity prior from a benchmark median and 95th percentile loss.

    ``mu0 = ln(median)`` and ``sigma0 = (ln p95 - ln median) / 1.6449``: the
    lognormal with that median and 95th percentile. ``kappa`` and ``nu`` are
    how many loss events the benchmark is worth for the location and for the
    spread.

    Raises
    ------
    InvalidParameterError
        If the median is not positive or the 95th percentile does not exceed
        it (a prior that contradicts itself).

    Examples
    --------
    >>> p = severity_prior(200_000, 5_000_000)
    >>> round(p.loss_distribution().ppf(0.95))
    5000000
    >>> severity_prior(5_000_000, 200_000)
    Traceback (most recent call last):
    ...
    riskbudget.exceptions.InvalidParameterError: severity_prior: p95 (200000) must exceed the median (5e+06); a 95th percentile below the median contradicts itself. Swapped?
    """
    where = "severity_prior"
    m = _number(where, "median", median)
    q = _number(where, "p95", p95)
    if m <= 0:
        raise InvalidParameterError(f"{where}: median ({m:g}) must be > 0; a lognormal loss is positive")
    if q <= m:
        raise InvalidParameterError(
            f"{where}: p95 ({q:g}) must exceed the median ({m:g}); a 95th percentile "
            f"{'equal to' if q == m else 'below'} the median contradicts itself. Swapped?"
        )
    return SeverityPrior(math.log(m), (math.log(q) - math.log(m)) / Z90, _number(where, "kappa", kappa), _number(where, "nu", nu))


def update_severity(prior: SeverityPrior, losses: Any) -> SeverityPrior:
    """Exact normal-inverse-chi-square update with fully recorded losses.

    With ``y = ln(loss)``, ``n`` losses, mean ``ybar`` and
    ``S = sum (y - ybar)^2``:

    ``kappa_n = kappa + n``, ``mu_n = (kappa mu0 + n ybar) / kappa_n``,
    ``nu_n = nu + n`` and
    ``nu_n sigma_n^2 = nu sigma0^2 + S + kappa n (ybar - mu0)^2 / kappa_n``.

    This ignores any reporting threshold. When losses below a threshold are
    not recorded it is biased upward; use :func:`riskbudget.bayes.fit`, which
    uses the truncated likelihood.

    Examples
    --------
    >>> post = update_severity(SeverityPrior(mu=12, sigma=2, kappa=1, nu=4), [1e5, 3e5, 2e6])
    >>> post.kappa, post.nu
    (4.0, 7.0)
    """
    if not isinstance(prior, SeverityPrior):
        raise InvalidParameterError(
            f"update_severity: prior must be a SeverityPrior, not {type(prior).__name__}; "
            f"build one with severity_prior(median, p95)"
        )
    x = np.asarray(losses, dtype=float).ravel()
    if x.size == 0:
        return prior
    bad = np.flatnonzero(~np.isfinite(x) | (x <= 0))
    if bad.size:
        i = int(bad[0])
        raise InvalidParameterError(
            f"update_severity: losses[{i}] ({float(x[i])!r}) must be a finite amount > 0 (a lognormal loss is positive)"
        )
    y = np.log(x)
    n = y.size
    ybar = float(y.mean())
    s = float(((y - ybar) ** 2).sum())
    kappa_n = prior.kappa + n
    mu_n = (prior.kappa * prior.mu + n * ybar) / kappa_n
    nu_n = prior.nu + n
    ss = prior.nu * prior.sigma**2 + s + prior.kappa * n * (ybar - prior.mu) ** 2 / kappa_n
    return SeverityPrior(mu_n, math.sqrt(ss / nu_n), kappa_n, nu_n)
