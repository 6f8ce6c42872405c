"""PyMC models of loss-event frequency and severity, fit to a tidy incident history.

PyMC and ArviZ are imported only when a model is built or fit, so
``import riskbudget.bayes`` stays light.

The model
---------
Frequency (events at or above the reporting threshold, per year at exposure 1):

* ``frequency="poisson"``: the count in year ``y`` of group ``g`` is
  ``Poisson(rate[g] * exposure[y, g])``;
* ``frequency="negative_binomial"``: the year's rate varies around
  ``rate[g]`` as ``Gamma`` with coefficient of variation ``rate_cv``, so the
  count is ``NegativeBinomial(mean=rate[g] * exposure, alpha=1 / rate_cv^2)``
  (overdispersion: bad years cluster). ``rate_cv ~ HalfNormal(overdispersion_scale)``.

Severity (loss per event, recorded only at or above ``threshold``):

* ``severity="lognormal"``: ``ln(loss) ~ Normal(mu[g], sigma)`` truncated
  below at ``ln(threshold)``: the likelihood of each recorded loss is divided
  by ``P(loss >= threshold)``. Ignoring the truncation biases ``mu`` upward
  and ``sigma`` downward;
* ``severity="lognormal_gpd"``: the same lognormal body, and above
  ``tail.threshold`` a generalised Pareto tail: ``P(loss > u) =
  P_lognormal(loss > u)`` and the excess over ``u`` is ``GPD(tail_shape,
  tail_scale)``. It lets the data make the tail heavier than a lognormal's.

Priors come from benchmarks: ``rate ~ rate_prior`` (a :class:`~riskbudget.Gamma`)
and ``(mu, sigma) ~ severity_prior`` (a :class:`~riskbudget.bayes.SeverityPrior`,
normal-inverse-chi-square). With ``pooling="unit"`` (or ``"category"``) each
group has its own rate and ``mu``, partially pooled on the log scale:
``rate[g] = rate_population * exp(rate_group_sd * z[g])`` and
``mu[g] = mu_population + mu_group_sd * z'[g]``, with the benchmark priors on
``rate_population`` and ``mu_population`` and
``*_group_sd ~ HalfNormal(pooling_scale)``. A unit with one incident borrows
strength from its siblings. ``sigma`` is shared.

Examples
--------
>>> from riskbudget import bayes
>>> from riskbudget.io import example_path
>>> data = bayes.read_incidents(example_path("incidents.csv"), threshold=10_000,
...                             start="2019-07-01", end="2024-12-31")
>>> result = bayes.fit(data, rate_prior=bayes.rate_prior(rate=8, effective_years=1),
...                    severity_prior=bayes.severity_prior(50_000, 1_000_000),
...                    draws=500, tune=500, seed=1, progress=False)  # doctest: +SKIP
>>> result.summary.loc["sigma", "mean"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from .. import _progress
from .._random import fresh_seed, key
from ..distributions import Gamma
from ..exceptions import (
    InvalidParameterError,
    MissingDependencyError,
    RiskBudgetError,
    check_finite,
)
from ..simulation.distributed import check_client
from . import simulation
from ._pymc import import_pymc, quiet, silenced
from .conjugate import SeverityPrior, update_severity
from .incidents import IncidentData, read_incidents
from .options import ReadOptions, SamplerOptions, route_options

__all__ = [
    "fit",
    "fit_each",
    "build_model",
    "FitResult",
    "Diagnostics",
    "ModelSpec",
    "TailPrior",
    "ConvergenceWarning",
    "FREQUENCY_MODELS",
    "SEVERITY_MODELS",
    "POOLING",
    "RHAT_MAX",
    "ESS_MIN",
]

FREQUENCY_MODELS: tuple[str, ...] = ("poisson", "negative_binomial")
SEVERITY_MODELS: tuple[str, ...] = ("lognormal", "lognormal_gpd")
POOLING: tuple[str | None, ...] = (None, "unit", "category")
#: Convergence limits: R-hat above, or bulk ESS below, triggers a ConvergenceWarning.
RHAT_MAX = 1.01
ESS_MIN = 400


class ConvergenceWarning(UserWarning):
    """The sampler may not have converged; the message lists what to try."""


# --------------------------------------------------------------------------- #
# Specification
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class TailPrior:
    """A generalised Pareto tail above ``threshold`` and the priors of its parameters.

    Parameters
    ----------
    threshold : float
        Loss above which the tail is generalised Pareto (currency; above the
        reporting threshold). A high quantile of the recorded losses, or a
        round figure such as 1,000,000.
    shape : float, default 0.3
        Prior mean of the tail shape ``xi`` (0 is an exponential tail; cyber
        losses are usually heavier).
    shape_sd : float, default 0.25
        Prior standard deviation of ``xi`` (a normal truncated to
        ``(0, shape_max)``).
    shape_max : float, default 0.95
        Upper bound of ``xi``. Below 1 the mean loss is finite; a board's ALE
        needs that.
    scale : float, optional
        Prior median of the GPD scale ``beta`` (currency). Default: ``threshold``.
    scale_log_sd : float, default 1.0
        Prior standard deviation of ``ln(beta)``.
    """

    threshold: float
    shape: float = 0.3
    shape_sd: float = 0.25
    shape_max: float = 0.95
    scale: float | None = None
    scale_log_sd: float = 1.0

    def __post_init__(self) -> None:
        def num(name: str, v: Any) -> float:
            return check_finite("TailPrior", name, v)

        thr = num("threshold", self.threshold)
        if thr <= 0:
            raise InvalidParameterError(f"TailPrior: threshold ({thr:g}) must be > 0")
        shape, sd, smax = num("shape", self.shape), num("shape_sd", self.shape_sd), num("shape_max", self.shape_max)
        if sd <= 0:
            raise InvalidParameterError(f"TailPrior: shape_sd ({sd:g}) must be > 0")
        if not 0 < smax < 1:
            raise InvalidParameterError(
                f"TailPrior: shape_max ({smax:g}) must lie in (0, 1); at xi >= 1 the mean loss is infinite"
            )
        if not 0 <= shape < smax:
            raise InvalidParameterError(f"TailPrior: shape ({shape:g}) must lie in [0, shape_max = {smax:g})")
        scale = thr if self.scale is None else num("scale", self.scale)
        if scale <= 0:
            raise InvalidParameterError(f"TailPrior: scale ({scale:g}) must be > 0")
        lsd = num("scale_log_sd", self.scale_log_sd)
        if lsd <= 0:
            raise InvalidParameterError(f"TailPrior: scale_log_sd ({lsd:g}) must be > 0")
        for name, value in (("threshold", thr), ("shape", shape), ("shape_sd", sd), ("shape_max", smax), ("scale", scale), ("scale_log_sd", lsd)):
            object.__setattr__(self, name, value)


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines a fitted model except the data and the sampler settings."""

    frequency: str | None
    severity: str | None
    pooling: str | None
    rate_prior: Gamma | None
    severity_prior: SeverityPrior | None
    tail: TailPrior | None
    threshold: float
    pooling_scale: float
    overdispersion_scale: float


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of a fit.

    Attributes
    ----------
    max_rhat : float
        Largest rank-normalised split R-hat over the model's parameters.
    min_ess_bulk, min_ess_tail : float
        Smallest bulk and tail effective sample sizes.
    divergences : int
        Divergent transitions after tuning.
    chains, draws : int
    problems : tuple of str
        One line per limit broken (R-hat > 1.01, bulk ESS < 400, divergences).
    sampling_seconds : float
        Wall-clock time of sampling, compilation included (varies by machine).
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    chains: int
    draws: int
    problems: tuple[str, ...] = ()
    sampling_seconds: float = field(default=math.nan, compare=False)

    @property
    def ok(self) -> bool:
        """True when every limit holds."""
        return not self.problems

    def advice(self) -> str:
        """A numbered list of what to try (empty when the fit looks fine)."""
        if self.ok:
            return ""
        steps: list[str] = []
        if self.divergences:
            steps.append("raise target_accept (e.g. target_accept=0.99) so the sampler takes smaller steps")
            steps.append(
                "tighten weak priors (a larger effective_years or kappa/nu in the benchmark priors, "
                "a smaller pooling_scale) - divergences often come from a funnel between a group sd and its offsets"
            )
        if self.max_rhat > RHAT_MAX or self.min_ess_bulk < ESS_MIN:
            steps.append("tune longer and draw more (e.g. tune=2000, draws=2000) or run more chains")
        steps.append("check the data: a wrong reporting threshold, a unit with no exposure, or an outlier in the wrong currency")
        steps.append("simplify the model (pooling=None, frequency='poisson', severity='lognormal') and add back one piece at a time")
        return "\n".join(f"  {i}. {s}" for i, s in enumerate(steps, 1))


def _as_data(incidents: Any, reading: ReadOptions) -> IncidentData:
    given = reading.given()
    if isinstance(incidents, IncidentData):
        if given:
            raise RiskBudgetError(
                f"fit: {', '.join(given)} apply when reading incidents; the IncidentData given is already read "
                f"(pass them to read_incidents instead)"
            )
        return incidents
    return read_incidents(incidents, **given)


def _check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        raise InvalidParameterError(f"fit: {name}={value!r} is not one of {list(allowed)}")


def _positive(name: str, value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"fit: {name} ({value!r}) must be a number") from None
    if not math.isfinite(x) or x <= 0:
        raise InvalidParameterError(f"fit: {name} ({value!r}) must be a finite number > 0")
    return x


def _make_spec(
    data: IncidentData,
    frequency: str | None,
    severity: str | None,
    pooling: str | None,
    rate_prior: Gamma | None,
    severity_prior: SeverityPrior | None,
    tail: TailPrior | None,
    pooling_scale: float,
    overdispersion_scale: float,
) -> ModelSpec:
    _check_choice("frequency", frequency, FREQUENCY_MODELS + (None,))
    _check_choice("severity", severity, SEVERITY_MODELS + (None,))
    _check_choice("pooling", pooling, POOLING)
    if frequency is None and severity is None:
        raise InvalidParameterError("fit: frequency and severity are both None; fit at least one of them")
    if frequency is not None and not isinstance(rate_prior, Gamma):
        raise InvalidParameterError(
            "fit: rate_prior must be a riskbudget.Gamma prior on the rate of recorded events per year "
            f"(got {rate_prior!r}); build one from a benchmark with bayes.rate_prior(probability=..., effective_years=...)"
        )
    if severity is not None and not isinstance(severity_prior, SeverityPrior):
        raise InvalidParameterError(
            "fit: severity_prior must be a bayes.SeverityPrior on the lognormal loss per event "
            f"(got {severity_prior!r}); build one with bayes.severity_prior(median, p95)"
        )
    if severity is not None and len(data) == 0:
        raise InvalidParameterError(
            f"fit: {data.source} has no incidents, so there are no losses to fit a severity to; "
            f"use severity=None (frequency only) or a prior severity estimate"
        )
    if severity == "lognormal_gpd":
        if not isinstance(tail, TailPrior):
            raise InvalidParameterError(
                "fit: severity='lognormal_gpd' needs tail=TailPrior(threshold=...), the loss above which the tail is GPD"
            )
        if tail.threshold <= data.threshold:
            raise InvalidParameterError(
                f"fit: the tail threshold ({tail.threshold:g}) must exceed the reporting threshold ({data.threshold:g})"
            )
    elif tail is not None:
        raise InvalidParameterError("fit: tail= applies only to severity='lognormal_gpd'")
    if pooling is not None:
        groups = data.units if pooling == "unit" else data.categories
        if len(groups) < 2:
            raise InvalidParameterError(
                f"fit: pooling={pooling!r} needs at least two {pooling} groups; the data has {list(groups)}"
            )
    return ModelSpec(
        frequency=frequency,
        severity=severity,
        pooling=pooling,
        rate_prior=rate_prior if frequency is not None else None,
        severity_prior=severity_prior if severity is not None else None,
        tail=tail,
        threshold=data.threshold,
        pooling_scale=_positive("pooling_scale", pooling_scale),
        overdispersion_scale=_positive("overdispersion_scale", overdispersion_scale),
    )


def _groups(data: IncidentData, pooling: str | None) -> tuple[str, ...]:
    if pooling is None:
        return ("all",)
    return data.units if pooling == "unit" else data.categories


# --------------------------------------------------------------------------- #
# Model
# --------------------------------------------------------------------------- #
def build_model(data: IncidentData, spec: ModelSpec) -> Any:
    """The PyMC model of ``spec`` on ``data`` (for prior predictive checks or custom sampling).

    Returns
    -------
    pymc.Model
    """
    pm, _ = import_pymc()
    with silenced():
        return _model(pm, data, spec)


def _model(pm: Any, data: IncidentData, spec: ModelSpec) -> Any:
    import pytensor.tensor as pt
    from pymc.distributions.dist_math import normal_lccdf

    groups = _groups(data, spec.pooling)
    pooled = spec.pooling is not None
    coords = {"group": list(groups)} if pooled else {}
    with pm.Model(coords=coords) as model:
        # ---------------- frequency ---------------- #
        if spec.frequency is not None:
            assert spec.rate_prior is not None
            periods = data.periods(spec.pooling)
            gidx = periods["group"].map({g: i for i, g in enumerate(groups)}).to_numpy()
            events = periods["events"].to_numpy()
            exposure = periods["exposure"].to_numpy()
            a, b = spec.rate_prior.shape, spec.rate_prior.rate
            if pooled:
                rate_pop = pm.Gamma("rate_population", alpha=a, beta=b)
                rate_sd = pm.HalfNormal("rate_group_sd", sigma=spec.pooling_scale)
                rate_z = pm.Normal("rate_offset", 0.0, 1.0, dims="group")
                rate = pm.Deterministic("rate", rate_pop * pt.exp(rate_sd * rate_z), dims="group")
                mean_count = rate[gidx] * exposure
            else:
                rate = pm.Gamma("rate", alpha=a, beta=b)
                mean_count = rate * exposure
            if spec.frequency == "poisson":
                pm.Poisson("events", mu=mean_count, observed=events)
            else:
                cv = pm.HalfNormal("rate_cv", sigma=spec.overdispersion_scale)
                pm.NegativeBinomial("events", mu=mean_count, alpha=1.0 / pt.sqr(cv), observed=events)

        # ---------------- severity ---------------- #
        if spec.severity is not None:
            prior = spec.severity_prior
            assert prior is not None
            frame = data.frame
            losses = frame["loss"].to_numpy(dtype=float)
            y = np.log(losses)
            sigma2 = pm.InverseGamma("sigma2", alpha=prior.alpha, beta=prior.beta)
            sigma = pm.Deterministic("sigma", pt.sqrt(sigma2))
            if pooled:
                col = "unit" if spec.pooling == "unit" else "category"
                lidx = frame[col].map({g: i for i, g in enumerate(groups)}).to_numpy()
                mu_pop = pm.Normal("mu_population", mu=prior.mu, sigma=sigma / math.sqrt(prior.kappa))
                mu_sd = pm.HalfNormal("mu_group_sd", sigma=spec.pooling_scale)
                mu_z = pm.Normal("mu_offset", 0.0, 1.0, dims="group")
                mu = pm.Deterministic("mu", mu_pop + mu_sd * mu_z, dims="group")
                mu_obs = mu[lidx]
            else:
                mu = pm.Normal("mu", mu=prior.mu, sigma=sigma / math.sqrt(prior.kappa))
                mu_obs = mu
            lower = math.log(data.threshold) if data.threshold > 0 else None
            if spec.severity == "lognormal":
                if lower is not None:
                    pm.Truncated("log_loss", pm.Normal.dist(mu=mu_obs, sigma=sigma), lower=lower, observed=y)
                else:
                    pm.Normal("log_loss", mu=mu_obs, sigma=sigma, observed=y)
            else:
                tail = spec.tail
                assert tail is not None
                xi = pm.TruncatedNormal("tail_shape", mu=tail.shape, sigma=tail.shape_sd, lower=0.0, upper=tail.shape_max)
                beta = pm.LogNormal("tail_scale", mu=math.log(tail.scale), sigma=tail.scale_log_sd)  # type: ignore[arg-type]
                u = tail.threshold
                in_tail = losses >= u
                excess = np.where(in_tail, losses - u, 0.0)
                mu_all = mu[lidx] if pooled else mu
                # One elementwise expression per recorded loss: the lognormal body below u,
                # P(loss > u) times the GPD density of the excess above it, divided by
                # P(loss >= threshold) for the truncation. (normal_lccdf, and one switch
                # rather than separate body and tail terms: the latter trips a PyTensor
                # fusion rewrite that logs a KeyError, harmlessly but loudly.)
                body = -0.5 * pt.sqr((y - mu_all) / sigma) - pt.log(sigma) - 0.5 * math.log(2 * math.pi)
                gpd = -pt.log(beta) - (1.0 + 1.0 / xi) * pt.log1p(xi * excess / beta)
                loglik = pt.switch(in_tail, normal_lccdf(mu_all, sigma, math.log(u)) + gpd, body)
                if lower is not None:
                    loglik = loglik - normal_lccdf(mu_all, sigma, lower)
                pm.Potential("loss_likelihood", loglik.sum())
    return model


# --------------------------------------------------------------------------- #
# Result
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted Bayesian loss model.

    Attributes
    ----------
    idata : arviz.InferenceData
        Posterior draws, sampler statistics and the observed data.
    summary : pandas.DataFrame
        One row per parameter: ``mean``, ``sd``, ``q2.5``, ``median``,
        ``q97.5`` (a 95% equal-tailed credible interval), ``mcse_mean``,
        ``ess_bulk``, ``ess_tail``, ``r_hat``, rounded to 4 significant
        digits (ESS to whole numbers). Use :meth:`draws` for raw numbers.
    diagnostics : Diagnostics
    spec : ModelSpec
    data : IncidentData
    groups : tuple of str
        Group names (units or categories), ``("all",)`` without pooling.
    seed : int
        The sampler seed; the same seed reproduces the posterior.
    sampler : str
    """

    idata: Any
    summary: Any
    diagnostics: Diagnostics
    spec: ModelSpec
    data: IncidentData
    groups: tuple[str, ...]
    seed: int
    sampler: str = "pymc"

    def __repr__(self) -> str:
        parts = [p for p in (self.spec.frequency, self.spec.severity) if p]
        pool = f", pooling={self.spec.pooling!r}" if self.spec.pooling else ""
        status = "converged" if self.diagnostics.ok else "NOT converged: " + "; ".join(self.diagnostics.problems)
        return (
            f"FitResult({' + '.join(parts)}{pool}, {len(self.data)} incidents, "
            f"{self.diagnostics.chains} chains x {self.diagnostics.draws} draws, seed={self.seed}, {status})"
        )

    @property
    def n_draws(self) -> int:
        """Total posterior draws (chains x draws)."""
        return self.diagnostics.chains * self.diagnostics.draws

    def draws(self, name: str, group: str | None = None) -> np.ndarray:
        """Posterior draws of a parameter, chains stacked in order.

        Returns a float array of shape ``(n_draws,)``, or ``(n_draws,
        n_groups)`` for a per-group parameter when ``group`` is None.
        """
        post = self.idata.posterior
        if name not in post:
            raise KeyError(f"no parameter {name!r} in the posterior; it has {sorted(post.data_vars)}")
        arr = post[name].to_numpy()
        arr = arr.reshape((-1,) + arr.shape[2:])
        if arr.ndim == 2:
            if group is None:
                return arr
            return arr[:, self._group_index(group)]
        if group is not None and group not in self.groups:
            self._group_index(group)
        return arr

    def _group_index(self, group: str) -> int:
        try:
            return self.groups.index(group)
        except ValueError:
            raise KeyError(f"no group {group!r}; the model's groups are {list(self.groups)}") from None

    def expected_annual_loss(
        self,
        group: str | None = None,
        *,
        exposure: float = 1.0,
        losses: Literal["reported", "ground_up"] = "reported",
        max_loss_per_event: float | None = None,
        revenue: float | None = None,
    ) -> float:
        """Posterior predictive mean annual loss of one group (or the model's only group).

        The mean over posterior draws of ``rate x exposure x E[min(loss, cap)]``
        (``rate / P(loss >= threshold)`` and the untruncated loss with
        ``losses="ground_up"``): exactly what :func:`~riskbudget.bayes.to_scenario`
        simulates with the same cap. Each draw's capped mean is a limited
        expected value in closed form. The cap per event is
        ``max_loss_per_event``, else a year's ``revenue``, else
        ``bayes.DEFAULT_MAX_LOSS_PER_EVENT`` (see :mod:`riskbudget.bayes.cap`);
        uncapped, the mean over an uncertain ``sigma`` is infinite.
        """
        rate, loss = simulation.posterior_distributions(
            self, group=group, losses=losses, max_loss_per_event=max_loss_per_event, revenue=revenue
        )
        return float(np.mean(rate.rate * exposure * loss.conditional_means()))

    def to_scenario(self, name: str, **kwargs: Any) -> Any:
        """Shorthand for :func:`riskbudget.bayes.to_scenario` (``to_scenario(self, name, ...)``)."""
        return simulation.to_scenario(self, name, **kwargs)

    def to_register(self, **kwargs: Any) -> Any:
        """Shorthand for :func:`riskbudget.bayes.to_register`."""
        return simulation.to_register(self, **kwargs)


def _round_sig(x: float, digits: int = 4) -> float:
    if not math.isfinite(x) or x == 0:
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def _summary(idata: Any, az: Any, var_names: list[str]) -> Any:
    import pandas as pd

    raw = az.summary(idata, var_names=var_names, kind="all", round_to="none", hdi_prob=0.95)
    post = idata.posterior
    q = {}
    for v in var_names:
        arr = post[v].to_numpy()
        arr = arr.reshape((-1,) + arr.shape[2:])
        qs = np.quantile(arr, [0.025, 0.5, 0.975], axis=0)
        if arr.ndim == 1:
            q[v] = qs
        else:
            for j, g in enumerate(post[v].coords[post[v].dims[-1]].to_numpy()):
                q[f"{v}[{g}]"] = qs[:, j]
    out = pd.DataFrame(
        {
            "mean": raw["mean"],
            "sd": raw["sd"],
            "q2.5": [q[i][0] for i in raw.index],
            "median": [q[i][1] for i in raw.index],
            "q97.5": [q[i][2] for i in raw.index],
            "mcse_mean": raw["mcse_mean"],
            "ess_bulk": raw["ess_bulk"].round(0),
            "ess_tail": raw["ess_tail"].round(0),
            "r_hat": raw["r_hat"].round(3),
        },
        index=raw.index,
    )
    for c in ("mean", "sd", "q2.5", "median", "q97.5", "mcse_mean"):
        out[c] = [_round_sig(float(v)) for v in out[c]]
    out.index.name = "parameter"
    return out


def _summary_vars(spec: ModelSpec) -> list[str]:
    names: list[str] = []
    pooled = spec.pooling is not None
    if spec.frequency is not None:
        names += ["rate_population", "rate_group_sd", "rate"] if pooled else ["rate"]
        if spec.frequency == "negative_binomial":
            names.append("rate_cv")
    if spec.severity is not None:
        names += ["mu_population", "mu_group_sd", "mu"] if pooled else ["mu"]
        names.append("sigma")
        if spec.severity == "lognormal_gpd":
            names += ["tail_shape", "tail_scale"]
    return names


def _diagnose(idata: Any, az: Any, var_names: list[str], chains: int, draws: int, seconds: float) -> Diagnostics:
    post = idata.posterior
    names = [v for v in post.data_vars if v in var_names or v.endswith("_offset") or v == "sigma2"]
    rhat = az.rhat(idata, var_names=names)
    ess_b = az.ess(idata, var_names=names, method="bulk")
    ess_t = az.ess(idata, var_names=names, method="tail")

    def extreme(ds: Any, fn: Any) -> float:
        vals = np.concatenate([np.atleast_1d(ds[v].to_numpy()).ravel() for v in ds.data_vars])
        vals = vals[np.isfinite(vals)]
        return float(fn(vals)) if vals.size else math.nan

    max_rhat = extreme(rhat, np.max) if chains > 1 else math.nan
    min_b = extreme(ess_b, np.min)
    min_t = extreme(ess_t, np.min)
    div = int(idata.sample_stats["diverging"].to_numpy().sum()) if "diverging" in idata.sample_stats else 0
    problems = []
    if chains > 1 and not max_rhat <= RHAT_MAX:
        problems.append(f"max R-hat {max_rhat:.3f} > {RHAT_MAX}")
    if not min_b >= ESS_MIN:
        problems.append(f"min bulk ESS {min_b:.0f} < {ESS_MIN}")
    if div:
        problems.append(f"{div} divergent transition{'s' if div > 1 else ''}")
    return Diagnostics(max_rhat, min_b, min_t, div, chains, draws, tuple(problems), seconds)


def _initial_values(data: IncidentData, spec: ModelSpec) -> dict[str, float]:
    """Where every chain starts (before PyMC's jitter): the data's own estimates, not the priors' centres.

    The rate starts at its exact Gamma-Poisson posterior mean (with pooling,
    the groups' geometric mean on ``rate_population``), and ``(mu, sigma)``
    at the normal-inverse-chi-square posterior of the recorded losses
    ignoring the threshold (:func:`update_severity`): close to the posterior
    in every model, finite even for a group without incidents. Group offsets,
    group standard deviations, ``rate_cv`` and the tail start at PyMC's
    defaults.

    From the priors' centres (e.g. ``sigma`` about 3 where the data say 1.3),
    NUTS's first steps, taken with an identity mass matrix and a large trial
    step size, could throw a chain of a pooled model far up the ``mu``-``sigma``
    ridge, where its step size collapsed and it never moved again (about one
    chain in several hundred).
    """
    start: dict[str, float] = {}
    pooled = spec.pooling is not None
    if spec.frequency is not None:
        assert spec.rate_prior is not None
        periods = data.periods(spec.pooling)
        totals = periods.groupby("group", sort=False)[["events", "exposure"]].sum()
        rates = (spec.rate_prior.shape + totals["events"].to_numpy()) / (
            spec.rate_prior.rate + totals["exposure"].to_numpy()
        )
        start["rate_population" if pooled else "rate"] = float(np.exp(np.mean(np.log(rates))) if pooled else rates[0])
    if spec.severity is not None:
        assert spec.severity_prior is not None
        post = update_severity(spec.severity_prior, data.frame["loss"].to_numpy(dtype=float))
        start["mu_population" if pooled else "mu"] = float(post.mu)
        start["sigma2"] = float(post.sigma) ** 2
    return start


#: NUTS's first step size is ``STEP_SCALE / n_parameters**0.25``, and dual averaging then tries about ten times
#: that. With PyMC's default (0.25) those trials are about 1.3 in a pooled model whose adapted step is about 0.1:
#: they diverged in almost every chain, and in about one chain in a few hundred the divergent trajectory
#: overflowed (an infinite kinetic energy, which PyMC then accepted) and stranded the chain far out on the
#: mu-sigma ridge with a step size of 0.
STEP_SCALE = 0.025


def _nuts_settings(data: IncidentData, spec: ModelSpec, sampling: SamplerOptions) -> dict[str, Any]:
    """``pm.sample`` keywords that say how NUTS starts: initialisation, starting values, first step size."""
    if sampling.sampler == "nutpie":
        return {"nuts_sampler": "nutpie"}  # nutpie starts its chains itself (PyMC does not pass initvals on)
    return {
        "init": "jitter+adapt_full" if sampling.dense_mass else "jitter+adapt_diag",
        "initvals": _initial_values(data, spec),
        "step_scale": STEP_SCALE,
    }


def _sample(pm: Any, model: Any, settings: dict[str, Any], sampling: SamplerOptions, seed: int,
            show: bool) -> tuple[Any, float]:
    """Run NUTS on the model: ``(InferenceData, seconds)``; PyMC's notices silenced, its loggers quiet unless ``show``."""
    cores = sampling.cores if sampling.cores is not None else max(1, min(sampling.chains, os.cpu_count() or 1))
    t0 = time.perf_counter()
    with quiet(not show), silenced(), model:
        idata = pm.sample(
            draws=sampling.draws,
            tune=sampling.tune,
            chains=sampling.chains,
            cores=cores,
            random_seed=seed,
            target_accept=sampling.target_accept,
            progressbar=show,
            compute_convergence_checks=False,
            **settings,
        )
    return idata, time.perf_counter() - t0


def _check_nutpie() -> None:
    try:
        import nutpie  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "fit(..., sampler='nutpie') needs the optional package 'nutpie', which is not installed "
            "(it is not part of riskbudget[bayes]). Install it with: pip install nutpie, "
            "or use the default sampler='pymc'"
        ) from exc


def fit(
    incidents: IncidentData | Any,
    *,
    rate_prior: Gamma | None = None,
    severity_prior: SeverityPrior | None = None,
    frequency: Literal["poisson", "negative_binomial"] | None = "poisson",
    severity: Literal["lognormal", "lognormal_gpd"] | None = "lognormal",
    pooling: Literal["unit", "category"] | None = None,
    tail: TailPrior | None = None,
    pooling_scale: float = 0.5,
    overdispersion_scale: float = 0.5,
    sampling: SamplerOptions | None = None,
    reading: ReadOptions | None = None,
    **options: Any,
) -> FitResult:
    """Fit a Bayesian frequency and severity model to an incident history with PyMC.

    The keywords describe the model; how to sample it is a
    :class:`SamplerOptions` (``sampling=``) and how to read a DataFrame or
    file of incidents a :class:`ReadOptions` (``reading=``). Their fields are
    also accepted as loose keywords (``draws=2000, seed=7, threshold=10_000``);
    an unknown keyword is an error listing the allowed ones.

    Parameters
    ----------
    incidents : IncidentData, pandas.DataFrame or path
        The incident history (columns ``date, unit, loss, category``). A
        DataFrame or file is read with :func:`read_incidents` using
        ``reading`` (``threshold``, ``start``, ``end``, ``exposure``,
        ``units``, ``categories``).
    rate_prior : Gamma
        Prior on the rate of recorded events (at or above the threshold) per
        year at exposure 1; with pooling, on ``rate_population`` (the median
        group's rate). Required when ``frequency`` is not None.
    severity_prior : SeverityPrior
        Prior on the lognormal loss per event (:func:`severity_prior`).
        Required when ``severity`` is not None.
    frequency : {"poisson", "negative_binomial", None}
    severity : {"lognormal", "lognormal_gpd", None}
    pooling : {None, "unit", "category"}
        Partial pooling of rates and ``mu`` across groups.
    tail : TailPrior, optional
        Required with ``severity="lognormal_gpd"``.
    pooling_scale : float, default 0.5
        Prior scale (half-normal) of the between-group standard deviations on
        the log scale: 0.5 lets groups differ by a factor of about e^1 = 2.7.
    overdispersion_scale : float, default 0.5
        Prior scale (half-normal) of ``rate_cv`` for the negative binomial.
    sampling : SamplerOptions, optional
        ``draws``, ``tune``, ``chains``, ``cores``, ``target_accept``,
        ``dense_mass``, ``seed``, ``sampler`` and ``progress`` (see
        :class:`SamplerOptions`). The same seed gives the same posterior;
        ``seed=None`` draws one, recorded in ``result.seed``. The progress bar
        shows unless ``progress=False`` or ``RISKBUDGET_PROGRESS=0``;
        ``progress=False`` also sets PyMC's logger to ERROR for the call.
    reading : ReadOptions, optional
        How to read ``incidents`` when it is not an :class:`IncidentData`.
    **options
        Fields of :class:`SamplerOptions` and :class:`ReadOptions`.

    Every chain starts at the data's own estimates (the conjugate posterior
    means, ignoring the threshold), jittered by PyMC, rather than at the
    priors' centres.

    Returns
    -------
    FitResult

    Warns
    -----
    ConvergenceWarning
        When R-hat > 1.01, bulk ESS < 400 or there are divergences, with a
        numbered list of what to try.

    Examples
    --------
    >>> from riskbudget import bayes
    >>> from riskbudget.io import example_path
    >>> data = bayes.read_incidents(example_path("incidents.csv"), threshold=10_000,
    ...                             start="2019-07-01", end="2024-12-31")
    >>> result = bayes.fit(data, rate_prior=bayes.rate_prior(rate=8, effective_years=1),
    ...                    severity_prior=bayes.severity_prior(50_000, 1_000_000),
    ...                    seed=7, progress=False)                  # doctest: +SKIP
    >>> result.summary.loc[["rate", "mu", "sigma"], ["mean", "q2.5", "q97.5"]]  # doctest: +SKIP
    """
    sampling, reading = route_options("fit", options, sampling=sampling, reading=reading)
    data = _as_data(incidents, reading)
    spec = _make_spec(data, frequency, severity, pooling, rate_prior, severity_prior, tail, pooling_scale, overdispersion_scale)
    seed = sampling.seed if sampling.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
    pm, az = import_pymc()
    if sampling.sampler == "nutpie":
        _check_nutpie()
    show = _progress.enabled(sampling.progress, math.inf)  # a PyMC fit is always large work
    model = build_model(data, spec)
    idata, seconds = _sample(pm, model, _nuts_settings(data, spec, sampling), sampling, seed, show)
    var_names = _summary_vars(spec)
    with silenced():
        summary = _summary(idata, az, var_names)
        diagnostics = _diagnose(idata, az, var_names, sampling.chains, sampling.draws, seconds)
    result = FitResult(
        idata=idata,
        summary=summary,
        diagnostics=diagnostics,
        spec=spec,
        data=data,
        groups=_groups(data, spec.pooling),
        seed=seed,
        sampler=sampling.sampler,
    )
    if not diagnostics.ok:
        warnings.warn(
            f"fit: the sampler may not have converged ({'; '.join(diagnostics.problems)}). "
            f"Estimates and scenarios from this fit may be wrong. Try:\n{diagnostics.advice()}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result


# --------------------------------------------------------------------------- #
# One fit per unit (or category), locally or on a Dask cluster
# --------------------------------------------------------------------------- #
#: How :func:`fit_each` splits the incidents.
SPLITS: tuple[str, ...] = ("unit", "category")


def _fit_one(data: IncidentData, sampling: SamplerOptions, model: dict[str, Any]) -> tuple[FitResult, list[str]]:
    """One group's fit, with its convergence warnings returned as text (a worker's warnings never reach the user)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = fit(data, sampling=sampling, **model)
    return result, [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def fit_each(
    incidents: IncidentData | Any,
    *,
    by: Literal["unit", "category"] = "unit",
    rate_prior: Gamma | None = None,
    severity_prior: SeverityPrior | None = None,
    frequency: Literal["poisson", "negative_binomial"] | None = "poisson",
    severity: Literal["lognormal", "lognormal_gpd"] | None = "lognormal",
    tail: TailPrior | None = None,
    overdispersion_scale: float = 0.5,
    client: Any = None,
    sampling: SamplerOptions | None = None,
    reading: ReadOptions | None = None,
    **options: Any,
) -> dict[str, FitResult]:
    """One PyMC fit per unit (or category), each on its own incidents; on a Dask cluster with ``client=``.

    Use it when the groups should *not* borrow strength from each other;
    :func:`fit` with ``pooling="unit"`` fits them jointly instead. The model
    keywords are :func:`fit`'s (without ``pooling``), the same for every group.

    Parameters
    ----------
    incidents : IncidentData, pandas.DataFrame or path
        As for :func:`fit`.
    by : {"unit", "category"}, default "unit"
        The groups: one fit per unit (or category) of the data, in its order.
    client : dask.distributed.Client, optional
        Fit the groups in parallel on a Dask cluster, one task (one PyMC fit)
        per group (``pip install 'riskbudget[dask]'``). Chains are then
        sampled one after another inside each task (``cores=1``; Dask's
        worker processes cannot start PyMC's); the posterior does not depend
        on ``cores``. Every worker compiles the model once (PyTensor's cache,
        ``~/.pytensor``, is reused across processes of one machine).
    sampling, reading, **options
        As for :func:`fit`. Group ``g`` is sampled with a seed derived from
        ``seed`` and its name, so the groups' chains are independent and the
        same seed gives the same fits, locally or on a cluster (on one kind
        of machine: see docs/scale.md). ``seed=None`` draws one seed for the
        whole call.

    Returns
    -------
    dict of str to FitResult
        Keyed by unit (or category), in the data's order.

    Warns
    -----
    ConvergenceWarning
        Once per group whose fit may not have converged, naming the group.
    """
    if by not in SPLITS:
        raise InvalidParameterError(f"fit_each: by={by!r} is not one of {list(SPLITS)}")
    sampling, reading = route_options("fit_each", options, sampling=sampling, reading=reading)
    data = _as_data(incidents, reading)
    groups = data.units if by == "unit" else data.categories
    if not groups:
        raise RiskBudgetError(f"fit_each: the incidents have no {by}; there is nothing to fit")
    root = sampling.seed if sampling.seed is not None else fresh_seed()
    model = {
        "rate_prior": rate_prior, "severity_prior": severity_prior, "frequency": frequency, "severity": severity,
        "tail": tail, "overdispersion_scale": overdispersion_scale,
    }
    jobs = []
    for g in groups:
        seed = int(np.random.SeedSequence(root, spawn_key=key(f"fit_each:{by}:{g}")).generate_state(1)[0])
        part = data.filter(unit=g) if by == "unit" else data.filter(category=g)
        jobs.append((g, part, replace(sampling, seed=seed)))
    if client is None:
        outcomes = [_fit_one(part, opts, model) for _g, part, opts in jobs]
    else:
        check_client(client, "fit_each")
        quiet_opts: dict[str, Any] = {"cores": 1} | ({"progress": False} if sampling.progress is None else {})
        futures = [client.submit(_fit_one, part, replace(opts, **quiet_opts), model, pure=False) for _g, part, opts in jobs]
        outcomes = client.gather(futures)
    results: dict[str, FitResult] = {}
    for (g, _part, _opts), (result, problems) in zip(jobs, outcomes):
        for text in problems:
            warnings.warn(f"fit_each: {by} {g!r}: {text}", ConvergenceWarning, stacklevel=2)
        results[g] = result
    return results
