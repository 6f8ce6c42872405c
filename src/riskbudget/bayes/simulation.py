"""From a posterior to a scenario the Monte Carlo engine simulates.

Parameter uncertainty belongs in the loss exceedance curve: a year is drawn
from the posterior predictive distribution, not from the distribution at the
posterior mean. :func:`to_scenario` therefore gives a
:class:`~riskbudget.Scenario` whose ``loss_event_frequency`` is a
:class:`PosteriorRate` and whose ``primary_loss`` is a :class:`PosteriorLoss`.
Both hold the posterior draws.

How a simulated year uses the posterior
---------------------------------------
:func:`riskbudget.simulation` draws, for every simulated year, one index ``i``
into the posterior draws. The index comes from a run-level random stream keyed
by the posterior (not by the scenario), so within a year

* the rate and the loss parameters of a scenario come from the same joint
  posterior draw ``i`` (needed when they are correlated, as with
  ``losses="ground_up"``), and
* every scenario built from the same fit (e.g. the units of a hierarchical
  model, see :func:`to_register`) uses the same draw ``i``: the uncertainty
  about the population-level parameters is common to all units, so it does not
  diversify away in the portfolio total.

The year's rate is ``rate[i] * exposure`` (times a ``Gamma`` shock with
coefficient of variation ``rate_cv[i]`` for a negative binomial model); the
kernel draws a Poisson count of events from it, and each event's loss from the
lognormal (or lognormal-GPD) with the parameters of draw ``i``, capped at the
stated maximum loss per event (:mod:`riskbudget.bayes.cap`: uncapped, the
predictive mean over an uncertain ``sigma`` is infinite). Controls'
:class:`~riskbudget.Adjustment` objects act on top as usual.

The ALE a simulation estimates is the posterior predictive mean over the
draws, :meth:`FitResult.expected_annual_loss` (with the same cap). ``Scenario.expected_annual_loss()``
multiplies the marginal means instead (``E[rate] x E[loss]``); the two differ
by the posterior correlation of rate and severity, slightly for
``losses="reported"`` (the posteriors are independent; only sampling noise
correlates the draws) and more for ``"ground_up"``.

Reported or ground-up losses
----------------------------
The data hold losses at or above the reporting threshold only. With
``losses="reported"`` (the default) the scenario simulates exactly those: the
recorded-event rate and the loss distribution conditioned on ``loss >=
threshold``. ``losses="ground_up"`` extrapolates below the threshold: the
rate is divided by ``P(loss >= threshold)`` (draw by draw) and losses come
from the whole lognormal; the extra events are small by construction.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np

from ..distributions import Distribution, Gamma, PosteriorDistribution
from ..exceptions import InvalidParameterError, RiskBudgetError, check_finite
from ..fair import Register, Scenario
from ..formatting import money
from . import _limited
from .cap import DEFAULT_MAX_LOSS_PER_EVENT, CapBasis, LossCap, loss_cap
from .conjugate import SeverityPrior

__all__ = [
    "PosteriorRate",
    "PosteriorLoss",
    "posterior_distributions",
    "to_scenario",
    "to_register",
    "conjugate_scenario",
]

Losses = Literal["reported", "ground_up"]


def _frozen(a: Any, name: str, where: str, *, positive: bool = True) -> np.ndarray:
    x = np.array(a, dtype=float).ravel()
    if x.size == 0:
        raise InvalidParameterError(f"{where}: {name} needs at least one posterior draw")
    if not np.all(np.isfinite(x)):
        raise InvalidParameterError(f"{where}: {name} has non-finite draws")
    if positive and np.any(x <= 0):
        raise InvalidParameterError(f"{where}: {name} draws must be > 0 (lowest {x.min():g})")
    x.setflags(write=False)
    return x


def _digest(*arrays: np.ndarray | None, extra: str = "") -> str:
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        if a is not None:
            h.update(np.ascontiguousarray(a, dtype=float).tobytes())
        h.update(b"|")
    h.update(extra.encode())
    return h.hexdigest()


def _bisect_quantile(
    cdf: Callable[[np.ndarray], np.ndarray], q: np.ndarray, lo: np.ndarray, hi: np.ndarray, rtol: float = 1e-12
) -> np.ndarray:
    """Solve cdf(x) = q for increasing cdf, on a log scale when positive (vectorised)."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    use_log = bool(np.all(lo > 0))
    for _ in range(200):
        mid = np.sqrt(lo * hi) if use_log else (lo + hi) / 2.0
        below = cdf(mid) < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.all(hi - lo <= rtol * np.maximum(np.abs(hi), 1e-300)):
            break
    return hi


#: Quantiles of a posterior mixture: up to this many are solved exactly at a time (memory is
#: draws x block); larger requests interpolate a cached table in logit(q) and log(x).
_EXACT_BLOCK = 256
_TABLE_POINTS = 1025
_TABLE_LOGIT = 20.0  # the table covers q in [expit(-20), expit(20)] = [2.1e-9, 1 - 2.1e-9]


class _PosteriorMixture(PosteriorDistribution):
    """What the posterior rate and loss share: mixture quantiles and CDFs over the draws."""

    def to_scipy(self) -> Any:
        raise InvalidParameterError(
            f"{type(self).__name__}: a posterior mixture has no scipy.stats equivalent; use cdf, ppf, sample, mean"
        )

    # -- quantiles of the mixture over draws ------------------------------- #
    def _per_draw_quantiles(self, q: np.ndarray) -> np.ndarray:
        """Quantile ``q[j]`` of every draw's distribution, shape (draws, len(q))."""
        raise NotImplementedError

    def _mixture_cdf(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.cdf(x))  # type: ignore[attr-defined]

    def _exact_quantiles(self, q: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
        out = np.empty(q.size)
        for a in range(0, q.size, _EXACT_BLOCK):
            block = q[a : a + _EXACT_BLOCK]
            per = self._per_draw_quantiles(block)
            lo = np.maximum(per.min(axis=0), 1e-300)
            hi = np.maximum(per.max(axis=0), lo)
            out[a : a + _EXACT_BLOCK] = _bisect_quantile(self._mixture_cdf, block, lo, hi, rtol)
        return out

    def _quantile_table(self) -> tuple[np.ndarray, np.ndarray]:
        table = self.__dict__.get("_qtable")
        if table is None:
            from scipy import special

            z = np.linspace(-_TABLE_LOGIT, _TABLE_LOGIT, _TABLE_POINTS)
            table = (z, np.log(self._exact_quantiles(special.expit(z), rtol=1e-8)))
            object.__setattr__(self, "_qtable", table)
        return table

    def _mixture_quantiles(self, q: np.ndarray) -> np.ndarray:
        """Quantiles of the mixture for q in (0, 1): exact for small requests, else a cached table."""
        if q.size <= _EXACT_BLOCK:
            return self._exact_quantiles(q)
        from scipy import special

        z_grid, log_x = self._quantile_table()
        z = special.logit(q)
        out = np.exp(np.interp(z, z_grid, log_x))
        outside = np.flatnonzero((z < z_grid[0]) | (z > z_grid[-1]))
        if outside.size:
            out[outside] = self._exact_quantiles(q[outside])
        return out

    def to_dict(self) -> dict[str, Any]:
        raise InvalidParameterError(
            f"{type(self).__name__}: posterior draws cannot be written to a register file; keep the fit "
            f"(result.idata.to_netcdf(path)) and rebuild the scenario with bayes.to_scenario"
        )


@dataclass(frozen=True, eq=False)
class PosteriorRate(_PosteriorMixture):
    """Events per year with uncertain parameters, one posterior draw per simulated year.

    Parameters
    ----------
    rate : array of float
        Posterior draws of the rate (events per year at exposure 1).
    cv : array of float, optional
        Draws of the coefficient of variation of the yearly rate (negative
        binomial model): the year's rate is ``Gamma`` with mean
        ``rate[i] * exposure`` and this coefficient of variation. ``None``
        for a Poisson model.
    exposure : float, default 1
        Forecast exposure relative to the fit's exposure 1.
    posterior_key : str, optional
        Distributions with equal keys use the same draw in a simulated year.
        Default: a digest of the draws.

    Examples
    --------
    >>> import numpy as np
    >>> r = PosteriorRate(np.array([1.0, 2.0, 3.0]))
    >>> r.mean()
    2.0
    """

    rate: Any
    cv: Any = None
    exposure: float = 1.0
    posterior_key: str = ""

    family: ClassVar[str] = "posterior_rate"
    base_kind: ClassVar[str] = "direct"

    def __post_init__(self) -> None:
        rate = _frozen(self.rate, "rate", "PosteriorRate")
        object.__setattr__(self, "rate", rate)
        if self.cv is not None:
            cv = _frozen(self.cv, "cv", "PosteriorRate")
            if cv.size != rate.size:
                raise InvalidParameterError(f"PosteriorRate: cv has {cv.size} draws but rate has {rate.size}")
            object.__setattr__(self, "cv", cv)
        e = float(self.exposure)
        if not math.isfinite(e) or e <= 0:
            raise InvalidParameterError(f"PosteriorRate: exposure ({self.exposure!r}) must be a finite number > 0")
        object.__setattr__(self, "exposure", e)
        if not self.posterior_key:
            object.__setattr__(self, "posterior_key", _digest(rate, self.cv, extra="rate"))

    # -- sampling ------------------------------------------------------- #
    @property
    def posterior_draws(self) -> int:
        return int(self.rate.size)

    def sample_years(self, index: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The rate of each year given its posterior draw index (gamma shock for a negative binomial)."""
        lam = self.rate[index] * self.exposure
        if self.cv is None:
            return lam
        shape = 1.0 / np.square(self.cv[index])
        return rng.standard_gamma(shape) * (lam / shape)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.sample_years(self.draw_index(n, rng), rng)

    def base_variates(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._sample(n, rng)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        return base.copy()

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self.ppf(u), dtype=float)

    # -- moments and distribution functions ------------------------------ #
    def mean(self) -> float:
        return float(self.rate.mean() * self.exposure)

    def var(self) -> float:
        lam = self.rate * self.exposure
        within = 0.0 if self.cv is None else float(np.mean(np.square(lam * self.cv)))
        return float(lam.var()) + within

    def support(self) -> tuple[float, float]:
        if self.cv is None:
            return (float(self.rate.min() * self.exposure), float(self.rate.max() * self.exposure))
        return (0.0, math.inf)

    def cdf(self, x: Any) -> Any:
        xa = np.asarray(x, dtype=float)
        lam = self.rate * self.exposure
        if self.cv is None:
            out = (lam[:, None] <= xa.reshape(1, -1)).mean(axis=0).reshape(xa.shape)
        else:
            from scipy import special

            shape = 1.0 / np.square(self.cv)
            z = np.clip(xa.reshape(1, -1), 0.0, None) * (shape / lam)[:, None]
            out = special.gammainc(shape[:, None], z).mean(axis=0).reshape(xa.shape)
        return out if np.ndim(out) else float(out)

    def ppf(self, q: Any) -> Any:
        qa = np.asarray(q, dtype=float)
        lam = self.rate * self.exposure
        if self.cv is None:
            out = np.quantile(lam, np.clip(qa, 0.0, 1.0), method="inverted_cdf")
        else:
            flat = qa.ravel()
            res = np.full(flat.shape, np.nan)
            inside = (flat > 0) & (flat < 1)
            res[flat == 0] = 0.0
            res[flat == 1] = np.inf
            res[inside] = self._mixture_quantiles(flat[inside])
            out = res.reshape(qa.shape)
        out = np.where((qa < 0) | (qa > 1), np.nan, out)
        return out if np.ndim(out) else float(out)

    def _per_draw_quantiles(self, q: np.ndarray) -> np.ndarray:
        from scipy import special

        shape = 1.0 / np.square(self.cv)
        lam = self.rate * self.exposure
        return special.gammaincinv(shape[:, None], q[None, :]) * (lam / shape)[:, None]

    def scaled(self, factor: float) -> PosteriorRate:
        f = float(factor)
        if not math.isfinite(f) or f <= 0:
            raise InvalidParameterError(f"PosteriorRate: scale factor ({factor!r}) must be > 0")
        return replace(self, exposure=self.exposure * f)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PosteriorRate):
            return NotImplemented
        return (self.posterior_key, self.exposure, _digest(self.rate, self.cv)) == (
            other.posterior_key,
            other.exposure,
            _digest(other.rate, other.cv),
        )

    def __hash__(self) -> int:
        return hash((self.posterior_key, self.exposure, _digest(self.rate, self.cv)))

    def __repr__(self) -> str:
        kind = "Poisson" if self.cv is None else "negative binomial"
        return (
            f"PosteriorRate({kind}, {self.posterior_draws} draws, mean={self.mean():.4g}/year, "
            f"exposure={self.exposure:g}, key={self.posterior_key!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, eq=False)
class PosteriorLoss(_PosteriorMixture):
    """Loss per event with uncertain lognormal (or lognormal-GPD) parameters, capped per event.

    For posterior draw ``i`` the loss is lognormal with ``mu[i]`` and
    ``sigma[i]``; with a tail, above ``tail_threshold`` the excess is
    generalised Pareto with shape ``tail_shape[i]`` and scale
    ``tail_scale[i]`` and the same probability of exceeding the threshold.
    Losses are conditioned on ``loss >= lower`` (the reporting threshold;
    0 for none), multiplied by ``scale``, and capped: each event's loss is
    ``min(X, max_loss)``.

    The cap is what keeps the mean finite. Mixed over an uncertain ``sigma``
    (or a tail shape near or above 1), the uncapped predictive loss has an
    infinite mean, and a simulated ALE of it is set by the few largest losses
    a run happens to draw (see :mod:`riskbudget.bayes.cap`). With the cap, the
    mean, variance, CDF, quantiles, :meth:`conditional_means` and every
    simulated loss are those of ``min(X, max_loss)`` exactly: the mean is the
    average over draws of closed-form limited expected values.

    Sampling is by inversion of each draw's distribution from one uniform per
    event, in the survival scale, so the far tail is exact and common random
    numbers stay monotone.

    Parameters
    ----------
    mu, sigma : array of float
        Posterior draws of the lognormal's parameters.
    lower : float, default 0
        Reporting threshold: losses are conditioned on ``X >= lower`` (unscaled).
    tail_threshold, tail_shape, tail_scale
        A generalised Pareto tail above ``tail_threshold`` (draws of its shape,
        any real number, and scale).
    scale : float, default 1
        Multiplies every loss (:meth:`scaled` multiplies it and the cap).
    max_loss : float, optional
        The cap per event, in the scaled currency; it must exceed
        ``lower * scale``. Default :data:`~riskbudget.bayes.DEFAULT_MAX_LOSS_PER_EVENT`.
    max_loss_basis : CapBasis or str, optional
        Where the cap came from (``"explicit"``, ``"revenue"``, ``"default"``),
        shown in the repr; by default ``"explicit"`` when ``max_loss`` is given.
    posterior_key : str, optional
        Distributions with equal keys use the same draw in a simulated year.

    Examples
    --------
    >>> import numpy as np
    >>> loss = PosteriorLoss(mu=np.array([11.0, 11.5]), sigma=np.array([1.0, 1.2]))
    >>> round(loss.mean())  # mean over draws of exp(mu + sigma^2 / 2): the default cap is far away
    150760
    >>> capped = PosteriorLoss(mu=np.array([11.0, 11.5]), sigma=np.array([1.0, 1.2]), max_loss=200_000)
    >>> round(capped.mean()), capped.ppf(0.999)  # mean over draws of E[min(X, 200K)]
    (95330, 200000.0)
    """

    mu: Any
    sigma: Any
    lower: float = 0.0
    tail_threshold: float = math.inf
    tail_shape: Any = None
    tail_scale: Any = None
    scale: float = 1.0
    max_loss: float | None = None
    max_loss_basis: CapBasis | str | None = None
    posterior_key: str = ""

    family: ClassVar[str] = "posterior_loss"
    base_kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        where = "PosteriorLoss"
        mu = _frozen(self.mu, "mu", where, positive=False)
        sigma = _frozen(self.sigma, "sigma", where)
        if sigma.size != mu.size:
            raise InvalidParameterError(f"{where}: sigma has {sigma.size} draws but mu has {mu.size}")
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "sigma", sigma)
        lower, u, c = float(self.lower), float(self.tail_threshold), float(self.scale)
        if not math.isfinite(lower) or lower < 0:
            raise InvalidParameterError(f"{where}: lower ({self.lower!r}) must be a finite amount >= 0")
        if not u > lower:
            raise InvalidParameterError(f"{where}: tail_threshold ({u:g}) must exceed lower ({lower:g})")
        if not math.isfinite(c) or c <= 0:
            raise InvalidParameterError(f"{where}: scale ({self.scale!r}) must be a finite number > 0")
        if math.isfinite(u):
            if self.tail_shape is None or self.tail_scale is None:
                raise InvalidParameterError(f"{where}: a finite tail_threshold needs tail_shape and tail_scale draws")
            xi = _frozen(self.tail_shape, "tail_shape", where, positive=False)
            beta = _frozen(self.tail_scale, "tail_scale", where)
            if xi.size != mu.size or beta.size != mu.size:
                raise InvalidParameterError(f"{where}: tail_shape and tail_scale need {mu.size} draws like mu")
            object.__setattr__(self, "tail_shape", xi)
            object.__setattr__(self, "tail_scale", beta)
        elif self.tail_shape is not None or self.tail_scale is not None:
            raise InvalidParameterError(f"{where}: tail_shape and tail_scale need a finite tail_threshold")
        if self.max_loss is None:
            cap = LossCap(DEFAULT_MAX_LOSS_PER_EVENT, CapBasis.DEFAULT)
        else:
            m = check_finite(where, "max_loss", self.max_loss)
            if m <= 0:
                raise InvalidParameterError(f"{where}: max_loss ({m:g}) must be a positive loss per event")
            basis = CapBasis.EXPLICIT if self.max_loss_basis is None else self.max_loss_basis
            try:
                cap = LossCap(m, CapBasis(basis))
            except ValueError:
                raise InvalidParameterError(
                    f"{where}: max_loss_basis ({basis!r}) must be one of {[b.value for b in CapBasis]}"
                ) from None
        if not cap.amount > lower * c:
            raise InvalidParameterError(
                f"{where}: max_loss ({cap.amount:g}) must exceed the smallest loss (lower x scale = {lower * c:g}); "
                f"a cap at or below the reporting threshold would make every loss equal to it"
            )
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "tail_threshold", u)
        object.__setattr__(self, "scale", c)
        object.__setattr__(self, "max_loss", cap.amount)
        object.__setattr__(self, "max_loss_basis", cap.basis)
        object.__setattr__(self, "_cap", cap)
        if not self.posterior_key:
            object.__setattr__(
                self, "posterior_key", _digest(mu, sigma, self.tail_shape, self.tail_scale, extra="loss")
            )

    @property
    def posterior_draws(self) -> int:
        return int(self.mu.size)

    @property
    def has_tail(self) -> bool:
        return math.isfinite(self.tail_threshold)

    @property
    def cap(self) -> LossCap:
        """The cap per event and where it came from."""
        cap: LossCap = self.__dict__["_cap"]
        return cap

    @property
    def _unscaled_cap(self) -> float:
        return self.cap.amount / self.scale

    # -- per-draw pieces ---------------------------------------------------- #
    def _survival_lognormal(self, x: float, idx: Any = slice(None)) -> np.ndarray:
        from scipy import special

        if x <= 0:
            return np.ones_like(self.mu[idx])
        if not math.isfinite(x):
            return np.zeros_like(self.mu[idx])
        return special.ndtr((self.mu[idx] - math.log(x)) / self.sigma[idx])

    def _quantile_from_survival(self, s: np.ndarray, idx: Any) -> np.ndarray:
        """Unscaled, uncapped loss with survival probability ``s`` under draw ``idx`` (unconditioned)."""
        from scipy import special

        mu, sigma = self.mu[idx], self.sigma[idx]
        with np.errstate(over="ignore"):
            x = np.exp(mu - sigma * special.ndtri(s))
        if self.has_tail:
            s_u = self._survival_lognormal(self.tail_threshold, idx)
            tail = s <= s_u
            if np.any(tail):
                xi = self.tail_shape[idx][tail]
                beta = self.tail_scale[idx][tail]
                ratio = s[tail] / s_u[tail]
                with np.errstate(divide="ignore", over="ignore"):
                    excess = np.where(
                        np.abs(xi) > 1e-9, beta / np.where(xi == 0, 1.0, xi) * np.expm1(-xi * np.log(ratio)),
                        -beta * np.log(ratio),
                    )
                x[tail] = self.tail_threshold + excess
        return x

    def from_base_years(self, u: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Losses from uniforms ``u`` of events whose years use posterior draws ``index`` (capped)."""
        s = (1.0 - u) * self._survival_lognormal(self.lower, index) if self.lower > 0 else 1.0 - u
        x = np.minimum(self._quantile_from_survival(s, index), self._unscaled_cap)
        if self.scale != 1.0:
            x *= self.scale
        return x

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        index = self.draw_index(n, rng)
        return self.from_base_years(rng.random(n), index)

    def from_base(self, base: np.ndarray) -> np.ndarray:
        # Without a year's draw index (a caller outside simulate): the marginal quantile.
        return np.asarray(self.ppf(base), dtype=float).reshape(base.shape)

    # -- moments -------------------------------------------------------------- #
    def _capped_moments(self, k: int) -> np.ndarray:
        """``E[min(X, cap)^k | X >= lower]`` of every draw, unscaled (closed form, see ``bayes._limited``)."""
        mu, sigma, lower, cap = self.mu, self.sigma, self.lower, self._unscaled_cap
        log_s_low = _limited.lognormal_log_survival(mu, sigma, lower)
        u = self.tail_threshold
        if self.has_tail and cap > u:
            body = np.exp(_limited.lognormal_log_partial_moment(k, mu, sigma, lower, u) - log_s_low)
            tail_weight = np.exp(_limited.lognormal_log_survival(mu, sigma, u) - log_s_low)
            m1 = _limited.gpd_limited_moment(1, self.tail_shape, self.tail_scale, cap - u)
            if k == 1:
                in_tail = u + m1
            else:
                in_tail = u * u + 2.0 * u * m1 + _limited.gpd_limited_moment(2, self.tail_shape, self.tail_scale, cap - u)
            return body + tail_weight * in_tail
        # No tail, or a cap at or below the tail threshold: lognormal below the cap, the cap above it.
        body = np.exp(_limited.lognormal_log_partial_moment(k, mu, sigma, lower, cap) - log_s_low)
        at_cap = np.exp(k * math.log(cap) + _limited.lognormal_log_survival(mu, sigma, cap) - log_s_low)
        return body + at_cap

    def conditional_means(self) -> np.ndarray:
        """``E[min(loss, max_loss) | draw i, loss >= lower]`` for every posterior draw (scaled)."""
        return self._capped_moments(1) * self.scale

    def _conditional_second_moments(self) -> np.ndarray:
        return self._capped_moments(2) * self.scale**2

    def mean(self) -> float:
        return float(self.conditional_means().mean())

    def var(self) -> float:
        m = self.conditional_means()
        return float(self._conditional_second_moments().mean() - m.mean() ** 2)

    def support(self) -> tuple[float, float]:
        return (self.lower * self.scale, self.cap.amount)

    def cdf(self, x: Any) -> Any:
        from scipy import special

        xa = np.asarray(x, dtype=float)
        flat = xa.reshape(1, -1) / self.scale
        mu, s = self.mu[:, None], self.sigma[:, None]
        with np.errstate(divide="ignore"):
            surv = special.ndtr((mu - np.log(np.where(flat > 0, flat, 1.0))) / s)
        surv = np.where(flat > 0, surv, 1.0)
        if self.has_tail:
            u = self.tail_threshold
            s_u = self._survival_lognormal(u)[:, None]
            xi, beta = self.tail_shape[:, None], self.tail_scale[:, None]
            e = np.maximum(flat - u, 0.0)
            base = np.maximum(1.0 + xi * e / beta, 0.0)  # 0 past a negative shape's end point
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(
                    np.abs(xi) > 1e-9, np.power(base, -1.0 / np.where(xi == 0, 1.0, xi)), np.exp(-e / beta)
                )
            surv = np.where(flat >= u, s_u * g, surv)
        s_low = self._survival_lognormal(self.lower)[:, None]
        cond = np.where(flat >= self.lower, 1.0 - surv / s_low, 0.0)
        cond = np.where(flat >= self._unscaled_cap, 1.0, cond)  # the cap: every loss is at most max_loss
        out = np.clip(cond, 0.0, 1.0).mean(axis=0).reshape(xa.shape)
        return out if np.ndim(out) else float(out)

    def ppf(self, q: Any) -> Any:
        qa = np.asarray(q, dtype=float)
        flat = qa.ravel()
        out = np.full(flat.shape, np.nan)
        inside = (flat > 0) & (flat < 1)
        out[flat == 0] = self.lower * self.scale
        out[flat == 1] = self.cap.amount
        out[inside] = np.minimum(self._mixture_quantiles(flat[inside]), self.cap.amount)
        result = out.reshape(qa.shape)
        return result if np.ndim(result) else float(result)

    def _per_draw_quantiles(self, q: np.ndarray) -> np.ndarray:
        k = self.posterior_draws
        idx = np.repeat(np.arange(k), q.size)
        return self.from_base_years(np.tile(q, k), idx).reshape(k, q.size)

    def scaled(self, factor: float) -> PosteriorLoss:
        """The distribution of ``factor`` times the loss: the cap scales with it (``factor * min(X, c)``)."""
        f = float(factor)
        if not math.isfinite(f) or f <= 0:
            raise InvalidParameterError(f"PosteriorLoss: scale factor ({factor!r}) must be > 0")
        return replace(self, scale=self.scale * f, max_loss=self.cap.amount * f)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (not the draws): what the distribution is, its mean and its cap."""
        return {
            "family": self.family,
            "posterior_draws": self.posterior_draws,
            "mean": self.mean(),
            "lower": self.lower * self.scale,
            "tail_threshold": self.tail_threshold * self.scale if self.has_tail else None,
            "max_loss": self.cap.amount,
            "max_loss_basis": self.cap.basis.value,
            "posterior_key": self.posterior_key,
        }

    def to_dict(self) -> dict[str, Any]:
        raise InvalidParameterError(
            f"PosteriorLoss (capped at {self.cap.describe()}): posterior draws cannot be written to a register "
            f"file; keep the fit (result.idata.to_netcdf(path)) and rebuild the scenario with bayes.to_scenario, "
            f"or record its summary with describe()"
        )

    def _identity(self) -> tuple[Any, ...]:
        return (
            self.posterior_key,
            self.lower,
            self.tail_threshold,
            self.scale,
            self.cap.amount,
            _digest(self.mu, self.sigma, self.tail_shape, self.tail_scale),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PosteriorLoss):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        tail = f", GPD tail above {self.tail_threshold * self.scale:g}" if self.has_tail else ""
        low = f", recorded at or above {self.lower * self.scale:g}" if self.lower > 0 else ""
        return (
            f"PosteriorLoss(lognormal{tail}{low}, {self.posterior_draws} draws, mean={self.mean():.4g}, "
            f"max_loss={money(self.cap.amount)} per event ({self.cap.basis.label}), "
            f"key={self.posterior_key!r})"
        )

    __str__ = __repr__


# --------------------------------------------------------------------------- #
# From a fit
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Params:
    rate: np.ndarray  # events per year at exposure 1, per draw
    cv: np.ndarray | None
    loss: PosteriorLoss
    key: str = field(default="")


def _fit_key(result: Any) -> str:
    post = result.idata.posterior
    names = [v for v in ("rate", "rate_cv", "mu", "sigma", "tail_shape", "tail_scale") if v in post]
    return _digest(*(np.asarray(post[v].to_numpy(), dtype=float) for v in names), extra="fit")


def _group_of(result: Any, group: str | None) -> str | None:
    if group is None:
        if len(result.groups) > 1:
            raise RiskBudgetError(
                f"the model has one rate and loss per group {list(result.groups)}; pick one with group=..., "
                f"or build them all with bayes.to_register(result)"
            )
        return None
    if group not in result.groups:
        raise RiskBudgetError(f"no group {group!r}; the model's groups are {list(result.groups)}")
    return group if len(result.groups) > 1 else None


def _loss_kwargs(cap: LossCap) -> dict[str, Any]:
    return {"max_loss": cap.amount, "max_loss_basis": cap.basis}


def _parameters(result: Any, group: str | None, losses: str, cap: LossCap) -> _Params:
    if losses not in ("reported", "ground_up"):
        raise InvalidParameterError(f"losses={losses!r} must be 'reported' or 'ground_up'")
    spec = result.spec
    if spec.frequency is None or spec.severity is None:
        missing = "frequency" if spec.frequency is None else "severity"
        raise RiskBudgetError(
            f"the fit has no {missing} model; fit both (frequency= and severity=) or pass {missing}= to to_scenario"
        )
    g = _group_of(result, group)
    key = _fit_key(result)
    post = result.idata.posterior
    rate = result.draws("rate", g)
    cv = result.draws("rate_cv") if "rate_cv" in post else None
    mu = result.draws("mu", g)
    sigma = result.draws("sigma")
    tail_kwargs: dict[str, Any] = {}
    if spec.severity == "lognormal_gpd":
        tail_kwargs = {
            "tail_threshold": spec.tail.threshold,
            "tail_shape": result.draws("tail_shape"),
            "tail_scale": result.draws("tail_scale"),
        }
    threshold = spec.threshold
    if losses == "reported":
        _check_cap_above_threshold(cap, threshold)
        loss = PosteriorLoss(mu, sigma, lower=threshold, posterior_key=key, **tail_kwargs, **_loss_kwargs(cap))
    else:
        loss = PosteriorLoss(mu, sigma, lower=0.0, posterior_key=key, **tail_kwargs, **_loss_kwargs(cap))
        if threshold > 0:
            rate = rate / loss._survival_lognormal(threshold)
    return _Params(rate=rate, cv=cv, loss=loss, key=key)


def _check_cap_above_threshold(cap: LossCap, threshold: float) -> None:
    if not cap.amount > threshold:
        raise InvalidParameterError(
            f"the cap per event ({cap.describe()}) must exceed the fit's reporting threshold ({threshold:g}); "
            f"check max_loss_per_event= or revenue= (same currency as the incidents)"
        )



def posterior_distributions(
    result: Any,
    *,
    group: str | None = None,
    exposure: float = 1.0,
    losses: Losses = "reported",
    max_loss_per_event: float | None = None,
    revenue: float | None = None,
) -> tuple[PosteriorRate, PosteriorLoss]:
    """The rate and the loss per event of one group of a fit, as distributions holding its posterior draws.

    What :func:`to_scenario` puts in a scenario, and what
    :meth:`FitResult.expected_annual_loss <riskbudget.bayes.FitResult.expected_annual_loss>`
    averages. Both share the fit's posterior key, so a simulated year uses
    the same draw for the two.

    Parameters
    ----------
    result : FitResult
        A fit of both frequency and severity.
    group : str, optional
        The unit or category, for a pooled model (required when it has
        several groups).
    exposure : float, default 1
        Forecast exposure relative to the fit's exposure 1.
    losses : {"reported", "ground_up"}
        Recorded losses only, or the lognormal extrapolated below the
        reporting threshold (the rate divided by ``P(loss >= threshold)``
        draw by draw).
    max_loss_per_event : float, optional
        The maximum loss per event: every loss is ``min(X, max_loss_per_event)``.
        It wins over ``revenue``.
    revenue : float, optional
        The company's annual revenue: without ``max_loss_per_event`` the cap
        is ``REVENUE_MULTIPLE * revenue`` (a year's revenue). With neither, the
        cap is ``DEFAULT_MAX_LOSS_PER_EVENT`` ($10 billion), a bound for any
        company; state one of the two (see :mod:`riskbudget.bayes.cap`).

    Returns
    -------
    (PosteriorRate, PosteriorLoss)
    """
    cap = loss_cap(max_loss_per_event, revenue, where="posterior_distributions")
    return _posterior_distributions(result, group, exposure, losses, cap)


def _posterior_distributions(
    result: Any, group: str | None, exposure: float, losses: str, cap: LossCap
) -> tuple[PosteriorRate, PosteriorLoss]:
    p = _parameters(result, group, losses, cap)
    return PosteriorRate(p.rate, p.cv, exposure=exposure, posterior_key=p.key), p.loss


def to_scenario(
    result: Any,
    name: str,
    *,
    group: str | None = None,
    exposure: float = 1.0,
    losses: Losses = "reported",
    max_loss_per_event: float | None = None,
    revenue: float | None = None,
    frequency: Distribution | None = None,
    severity: Distribution | None = None,
    category: str | None = None,
    owner: str = "",
    id: str = "",
    description: str = "",
) -> Scenario:
    """A scenario whose rate and loss parameters are drawn from the posterior each simulated year.

    Parameters
    ----------
    result : FitResult
        A fit from :func:`riskbudget.bayes.fit`.
    name : str
        Scenario name.
    group : str, optional
        The unit or category, for a pooled model (required when it has
        several groups).
    exposure : float, default 1
        Forecast exposure relative to the fit's exposure 1 (e.g. 1.1 after
        10% growth).
    losses : {"reported", "ground_up"}
        Simulate recorded losses only (at or above the reporting threshold),
        or extrapolate the lognormal below it (see the module notes).
    max_loss_per_event : float, optional
        The maximum loss per event of the posterior severity: every loss is
        ``min(X, max_loss_per_event)``. It wins over ``revenue``.
    revenue : float, optional
        The company's annual revenue: without ``max_loss_per_event`` the cap
        is a year's revenue. With neither, the cap is
        ``DEFAULT_MAX_LOSS_PER_EVENT`` ($10 billion); state one of the two
        (see :mod:`riskbudget.bayes.cap`). The cap applies to the fit's
        severity only, not to a ``severity=`` you supply.
    frequency, severity : Distribution, optional
        Supply the part the fit lacks (a frequency-only or severity-only fit).
    category, owner, id, description : str
        Passed to :class:`~riskbudget.Scenario`; ``category`` defaults to the
        group's name when the model is pooled by category.

    Returns
    -------
    Scenario

    Examples
    --------
    >>> import riskbudget as rb
    >>> from riskbudget import bayes
    >>> result = bayes.fit(...)                                                # doctest: +SKIP
    >>> s = bayes.to_scenario(result, "Incidents (posterior)", revenue=400e6)  # doctest: +SKIP
    >>> rb.simulate(s, years=100_000, seed=1).summary()                        # doctest: +SKIP
    """
    spec = result.spec
    cap = loss_cap(max_loss_per_event, revenue, where="to_scenario")
    if spec.frequency is not None and spec.severity is not None:
        if frequency is not None or severity is not None:
            raise RiskBudgetError(
                "to_scenario: the fit has both frequency and severity; frequency= and severity= are only "
                "for a fit that lacks one"
            )
        rate_dist: Distribution
        loss_dist: Distribution
        rate_dist, loss_dist = _posterior_distributions(result, group, exposure, losses, cap)
    else:
        g = _group_of(result, group)
        key = _fit_key(result)
        if spec.frequency is None:
            if frequency is None:
                raise RiskBudgetError("to_scenario: the fit has no frequency model; pass frequency= (e.g. a Gamma)")
            rate_dist = frequency.scaled(exposure) if exposure != 1.0 else frequency
        else:
            if losses == "ground_up":
                raise RiskBudgetError("to_scenario: losses='ground_up' needs a severity model in the fit")
            cv = result.draws("rate_cv") if "rate_cv" in result.idata.posterior else None
            rate_dist = PosteriorRate(result.draws("rate", g), cv, exposure=exposure, posterior_key=key)
        if spec.severity is None:
            if severity is None:
                raise RiskBudgetError("to_scenario: the fit has no severity model; pass severity= (e.g. a LogNormal)")
            if max_loss_per_event is not None or revenue is not None:
                raise RiskBudgetError(
                    "to_scenario: max_loss_per_event= and revenue= cap the fit's posterior severity; this fit has "
                    "none, and the severity= you pass is used as it is"
                )
            loss_dist = severity
        else:
            tail_kwargs: dict[str, Any] = {}
            if spec.severity == "lognormal_gpd":
                tail_kwargs = {
                    "tail_threshold": spec.tail.threshold,
                    "tail_shape": result.draws("tail_shape"),
                    "tail_scale": result.draws("tail_scale"),
                }
            if losses == "ground_up":
                raise RiskBudgetError("to_scenario: losses='ground_up' needs a frequency model in the fit")
            _check_cap_above_threshold(cap, spec.threshold)
            loss_dist = PosteriorLoss(
                result.draws("mu", g), result.draws("sigma"), lower=spec.threshold, posterior_key=key,
                **tail_kwargs, **_loss_kwargs(cap),
            )
    if category is None:
        category = group if (spec.pooling == "category" and group is not None) else ""
    return Scenario(
        name,
        loss_event_frequency=rate_dist,
        primary_loss=loss_dist,
        category=category,
        owner=owner,
        id=id,
        description=description
        or f"Bayesian posterior ({spec.frequency or 'given'} x {spec.severity or 'given'}) from {len(result.data)} incidents",
    )


def to_register(
    result: Any,
    *,
    names: Mapping[str, str] | Callable[[str], str] | None = None,
    exposure: float | Mapping[str, float] = 1.0,
    losses: Losses = "reported",
    max_loss_per_event: float | Mapping[str, float] | None = None,
    revenue: float | Mapping[str, float] | None = None,
) -> Register:
    """One scenario per group of a pooled fit, sharing each year's posterior draw.

    Simulating the register gives the company total with the hierarchical
    model's correlation: a year drawn from a high population rate is high for
    every unit.

    Parameters
    ----------
    result : FitResult
    names : mapping or callable, optional
        Scenario name of each group (default: the group's name).
    exposure : float or mapping group -> float
        Forecast exposure of each group.
    losses : {"reported", "ground_up"}
    max_loss_per_event : float or mapping group -> float, optional
        The maximum loss per event (one for all groups, or one per group).
        It wins over ``revenue``.
    revenue : float or mapping group -> float, optional
        Annual revenue: the cap is a year's revenue. Give the company's
        revenue (one number) when one event can hit the whole company, or
        each unit's when a unit's event stays within the unit. With neither,
        ``DEFAULT_MAX_LOSS_PER_EVENT`` (see :mod:`riskbudget.bayes.cap`).

    Returns
    -------
    Register
    """

    def per_group(value: Any, what: str, g: str) -> Any:
        if isinstance(value, Mapping):
            if g not in value:
                raise RiskBudgetError(f"to_register: {what} has no entry for group {g!r}")
            return value[g]
        return value

    scenarios = []
    for g in result.groups:
        if names is None:
            nm = g if g != "all" else "All incidents"
        elif callable(names):
            nm = names(g)
        else:
            if g not in names:
                raise RiskBudgetError(f"to_register: names has no entry for group {g!r}")
            nm = names[g]
        scenarios.append(
            to_scenario(
                result,
                nm,
                group=g if len(result.groups) > 1 else None,
                exposure=per_group(exposure, "exposure", g),
                losses=losses,
                max_loss_per_event=per_group(max_loss_per_event, "max_loss_per_event", g),
                revenue=per_group(revenue, "revenue", g),
            )
        )
    return Register(scenarios)


def conjugate_scenario(
    name: str,
    rate: Gamma | Distribution,
    severity: SeverityPrior | Distribution,
    *,
    draws: int = 4000,
    seed: int = 0,
    exposure: float = 1.0,
    category: str = "",
    max_loss_per_event: float | None = None,
    revenue: float | None = None,
) -> Scenario:
    """A scenario from exact conjugate posteriors (no PyMC): fast enough for sliders.

    The rate is used as it is (a ``Gamma`` posterior drawn once per year gives
    the negative binomial predictive count). A :class:`SeverityPrior`
    (normal-inverse-chi-square) is represented by ``draws`` joint draws of
    ``(mu, sigma)`` from ``seed``, one of which is used per simulated year,
    and capped per event: its predictive (a log-Student-t loss) has no finite
    mean. A severity given as a plain ``Distribution`` (e.g. a ``LogNormal``)
    is used as it is, uncapped.

    Parameters
    ----------
    name : str
    rate : Gamma or Distribution
        Loss events per year.
    severity : SeverityPrior or Distribution
    draws, seed : int
        Joint draws of ``(mu, sigma)`` representing a ``SeverityPrior``.
    exposure : float, default 1
        Multiplies the rate.
    category : str
    max_loss_per_event : float, optional
        The maximum loss per event: every loss is ``min(X, max_loss_per_event)``.
        It wins over ``revenue``.
    revenue : float, optional
        The company's annual revenue: without ``max_loss_per_event`` the cap
        is a year's revenue. With neither, ``DEFAULT_MAX_LOSS_PER_EVENT`` ($10
        billion), a bound for any company (see :mod:`riskbudget.bayes.cap`).

    Examples
    --------
    >>> from riskbudget import bayes
    >>> rate = bayes.update_rate(bayes.rate_prior(rate=2, effective_years=2), events=5, years=3)
    >>> sev = bayes.update_severity(bayes.severity_prior(50_000, 1_000_000), [2e4, 8e4, 3e5, 6e4, 1.5e5])
    >>> s = bayes.conjugate_scenario("Incidents", rate, sev, seed=1, revenue=40e6)
    >>> s.loss_event_frequency
    Gamma(shape=9.0, rate=5.0)
    >>> s.primary_loss.cap
    LossCap($40M per event, annual revenue)
    """
    if not isinstance(rate, Distribution):
        raise InvalidParameterError(f"conjugate_scenario: rate must be a Distribution (e.g. a Gamma), not {rate!r}")
    cap = loss_cap(max_loss_per_event, revenue, where="conjugate_scenario")
    rate_dist = rate.scaled(exposure) if exposure != 1.0 else rate
    if isinstance(severity, SeverityPrior):
        n = int(draws)
        if n < 1:
            raise InvalidParameterError(f"conjugate_scenario: draws ({draws!r}) must be >= 1")
        mu, sigma = severity.sample(n, np.random.default_rng(seed))
        loss: Distribution = PosteriorLoss(mu, sigma, **_loss_kwargs(cap))
    elif isinstance(severity, Distribution):
        if max_loss_per_event is not None or revenue is not None:
            raise InvalidParameterError(
                f"conjugate_scenario: max_loss_per_event= and revenue= cap a SeverityPrior's predictive; the "
                f"severity here is a {type(severity).__name__}, used as it is (pass the SeverityPrior, or drop the cap)"
            )
        loss = severity
    else:
        raise InvalidParameterError(
            f"conjugate_scenario: severity must be a SeverityPrior or a Distribution, not {severity!r}"
        )
    return Scenario(name, loss_event_frequency=rate_dist, primary_loss=loss, category=category)
