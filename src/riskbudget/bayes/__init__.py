"""Bayesian loss models: benchmark priors, exact conjugate updates, PyMC fits, posterior scenarios.

Importing this package loads numpy, scipy and pandas only. PyMC and ArviZ are
imported when a model is fit (:func:`fit`, :func:`build_model`).

* **Priors from benchmarks** - :func:`read_benchmarks`, :func:`benchmark_rate_prior`,
  :func:`benchmark_severity_prior`, and the helpers :func:`rate_prior`,
  :func:`probability_prior`, :func:`severity_prior`.
* **Exact conjugate paths** (microseconds) - :func:`update_rate` (Gamma-Poisson),
  :func:`update_probability` (Beta-Binomial), :func:`update_severity`
  (normal-inverse-chi-square on log losses), and the predictive
  :func:`predictive_count` (negative binomial) and :func:`predictive_hits`.
* **Incident data** - :func:`read_incidents` validates a tidy history
  (``date, unit, loss, category``) and counts events per year at their exposure.
* **PyMC models** - :func:`fit`: Poisson or negative binomial frequency with
  exposure, lognormal severity truncated at the reporting threshold, an
  optional generalised Pareto tail, hierarchical pooling across units or
  categories; returns a :class:`FitResult` holding ``arviz.InferenceData``.
  :func:`fit_each` fits each unit (or category) on its own, one fit per task
  on a Dask cluster with ``client=``.
  The sampler's settings are a :class:`SamplerOptions` (``sampling=``), how to
  read a file of incidents a :class:`ReadOptions` (``reading=``); their fields
  are accepted as loose keywords too.
* **Posterior to simulation** - :func:`to_scenario`, :func:`to_register` and
  :func:`conjugate_scenario` build scenarios whose parameters are drawn from
  the posterior for every simulated year (:func:`posterior_distributions`
  gives a fit's rate and loss distributions themselves). Every posterior
  severity is capped per event (``max_loss_per_event=``, else a year's
  ``revenue=``, else :data:`DEFAULT_MAX_LOSS_PER_EVENT`; :mod:`~riskbudget.bayes.cap`):
  uncapped, its predictive mean is infinite.

Examples
--------
>>> from riskbudget import bayes
>>> prior = bayes.rate_prior(probability=0.25, effective_years=2)
>>> post = bayes.update_rate(prior, events=4, years=3)
>>> round(post.mean(), 3)
0.915
>>> bayes.predictive_count(post).interval(0.9)
(0.0, 3.0)
"""

from __future__ import annotations

from .cap import DEFAULT_MAX_LOSS_PER_EVENT, REVENUE_MULTIPLE, CapBasis, LossCap, loss_cap
from .conjugate import (
    BetaBinomial,
    NegativeBinomial,
    SeverityPrior,
    predictive_count,
    predictive_hits,
    probability_from_rate,
    probability_prior,
    rate_from_probability,
    rate_prior,
    severity_prior,
    update_probability,
    update_rate,
    update_severity,
)
from .incidents import IncidentData, IncidentDataError, read_incidents
from .models import (
    ConvergenceWarning,
    Diagnostics,
    FitResult,
    ModelSpec,
    TailPrior,
    build_model,
    fit,
    fit_each,
)
from .options import ReadOptions, SamplerOptions
from .priors import benchmark_rate_prior, benchmark_row, benchmark_severity_prior, read_benchmarks
from .simulation import (
    PosteriorLoss,
    PosteriorRate,
    conjugate_scenario,
    posterior_distributions,
    to_register,
    to_scenario,
)

__all__ = [
    # conjugate
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
    # benchmarks
    "read_benchmarks",
    "benchmark_row",
    "benchmark_rate_prior",
    "benchmark_severity_prior",
    # incidents
    "read_incidents",
    "IncidentData",
    "IncidentDataError",
    # models
    "fit",
    "fit_each",
    "build_model",
    "FitResult",
    "Diagnostics",
    "ModelSpec",
    "TailPrior",
    "ConvergenceWarning",
    # options
    "SamplerOptions",
    "ReadOptions",
    # simulation
    "to_scenario",
    "to_register",
    "posterior_distributions",
    "conjugate_scenario",
    "PosteriorRate",
    "PosteriorLoss",
    # the cap per event
    "loss_cap",
    "LossCap",
    "CapBasis",
    "DEFAULT_MAX_LOSS_PER_EVENT",
    "REVENUE_MULTIPLE",
]
