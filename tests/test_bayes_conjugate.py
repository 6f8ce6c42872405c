"""Exact conjugate paths and benchmark priors: formulas, scipy oracles, Monte Carlo checks, errors.

None of these tests imports PyMC.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

import riskbudget as rb
from riskbudget import bayes
from riskbudget.bayes.priors import BenchmarkError
from riskbudget.exceptions import InvalidParameterError, RiskBudgetError
from riskbudget.simulation import ALE_RSE_LIMIT, PrecisionWarning

from .conftest import ROOT


# --------------------------------------------------------------------------- #
# The package stays light
# --------------------------------------------------------------------------- #
def test_import_bayes_does_not_import_pymc():
    code = textwrap.dedent(
        """
        import sys
        import riskbudget as rb
        from riskbudget import bayes
        post = bayes.update_rate(bayes.rate_prior(rate=1, effective_years=1), 2, 3)
        heavy = [m for m in ("pymc", "arviz", "pytensor", "matplotlib", "ipywidgets") if m in sys.modules]
        print(",".join(heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_bayes_and_a_conjugate_update_leave_the_warning_filters_alone():
    """A library never changes its process's warning filters (in a fresh process: the import is what matters).

    NumPy and SciPy add filters of their own when first imported, so they are imported before the baseline.
    """
    code = textwrap.dedent(
        """
        import warnings
        import numpy, pandas, scipy.special, scipy.stats
        before = list(warnings.filters)
        import riskbudget as rb
        from riskbudget import bayes
        post = bayes.update_rate(bayes.rate_prior(rate=1, effective_years=1), 2, 3)
        sev = bayes.update_severity(bayes.severity_prior(5e4, 1e6), [2e4, 8e4, 3e5])
        bayes.conjugate_scenario("x", post, sev, draws=10, seed=1)
        print(list(warnings.filters) == before, len(before))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "True", out.stdout


def test_bayes_is_reachable_from_the_top_level_package():
    assert rb.bayes.update_rate is bayes.update_rate


# --------------------------------------------------------------------------- #
# Gamma-Poisson
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "a, b, k, t",
    [(1.0, 1.0, 0, 1.0), (0.5, 2.0, 3, 2.5), (2.2877, 8.0, 17, 5.504), (10.0, 0.1, 1000, 40.0)],
)
def test_update_rate_is_exactly_gamma_a_plus_k_b_plus_t(a, b, k, t):
    post = bayes.update_rate(rb.Gamma(a, b), events=k, years=t)
    assert isinstance(post, rb.Gamma)
    assert post.shape == a + k
    assert post.rate == b + t
    assert post.mean() == pytest.approx((a + k) / (b + t), rel=1e-15)


def test_update_rate_with_periods_equals_totals():
    prior = rb.Gamma(2.0, 3.0)
    per_year = bayes.update_rate(prior, events=[1, 0, 4, 2], years=[0.5, 1, 1, 0.75])
    assert per_year == bayes.update_rate(prior, events=7, years=3.25)


def test_update_rate_against_numerical_posterior():
    """Oracle independent of the formula: normalise prior x likelihood by quadrature."""
    a, b, k, t = 1.7, 2.3, 5, 3.4
    unnorm = lambda lam: stats.gamma.pdf(lam, a, scale=1 / b) * stats.poisson.pmf(k, lam * t)  # noqa: E731
    z = integrate.quad(unnorm, 0, 50)[0]
    mean = integrate.quad(lambda lam: lam * unnorm(lam), 0, 50)[0] / z
    second = integrate.quad(lambda lam: lam * lam * unnorm(lam), 0, 50)[0] / z
    post = bayes.update_rate(rb.Gamma(a, b), k, t)
    assert post.mean() == pytest.approx(mean, rel=1e-8)
    assert post.var() == pytest.approx(second - mean**2, rel=1e-7)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.floats(0.01, 5.0)), min_size=1, max_size=8),
    st.floats(0.1, 10.0),
    st.floats(0.1, 10.0),
)
def test_sequential_updates_equal_one_batch_update(periods, a, b):
    prior = rb.Gamma(a, b)
    seq = prior
    for k, t in periods:
        seq = bayes.update_rate(seq, k, t)
    batch = bayes.update_rate(prior, [k for k, _ in periods], [t for _, t in periods])
    assert seq.shape == pytest.approx(batch.shape, rel=1e-12)
    assert seq.rate == pytest.approx(batch.rate, rel=1e-12)


def test_no_data_leaves_the_prior_unchanged():
    prior = rb.Gamma(2.5, 4.0)
    assert bayes.update_rate(prior, 0, 0.0) == prior
    assert bayes.update_probability(rb.Beta(2, 3), 0, 0) == rb.Beta(2, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"events": -1, "years": 1}, r"events \(-1\) must be >= 0"),
        ({"events": 1.5, "years": 1}, r"events \(1\.5\) must be a whole number"),
        ({"events": "three", "years": 1}, r"events \('three'\) must be a number"),
        ({"events": True, "years": 1}, r"must be a number, not a boolean"),
        ({"events": 1, "years": float("nan")}, r"years \(nan\) must be finite"),
        ({"events": 1, "years": -2.0}, r"years \(-2\) must be >= 0"),
        ({"events": [1, 2], "years": [1.0]}, r"events has 2 period\(s\) but years has 1"),
        ({"events": [1, -2], "years": [1.0, 1.0]}, r"events\[1\] \(-2\) must be >= 0"),
        ({"events": [1, 2], "years": [1.0, -1.0]}, r"years\[1\] \(-1\) must be >= 0"),
    ],
)
def test_update_rate_rejects_bad_data(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        bayes.update_rate(rb.Gamma(1, 1), **kwargs)


def test_update_rate_needs_a_gamma_prior():
    with pytest.raises(InvalidParameterError, match=r"prior must be a riskbudget\.Gamma on the rate, not LogNormal"):
        bayes.update_rate(rb.LogNormal(0, 1), 1, 1)


# --------------------------------------------------------------------------- #
# Beta-Binomial
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("a, b, h, n", [(1, 1, 0, 0), (1, 9, 2, 10), (0.5, 0.5, 7, 7), (20, 180, 13, 400)])
def test_update_probability_is_exactly_beta(a, b, h, n):
    post = bayes.update_probability(rb.Beta(a, b), h, n)
    assert (post.a, post.b) == (a + h, b + n - h)


def test_update_probability_with_periods():
    post = bayes.update_probability(rb.Beta(1, 1), hits=[0, 1, 1], trials=[1, 1, 1])
    assert post == rb.Beta(3, 2)


@pytest.mark.parametrize(
    "hits, trials, match",
    [
        (5, 3, r"hits \(5\) cannot exceed trials \(3\)"),
        (-1, 3, r"hits \(-1\) must be >= 0"),
        (1, 2.5, r"trials \(2\.5\) must be a whole number"),
        ([1, 3], [2, 2], r"hits\[1\] \(3\) cannot exceed trials\[1\] \(2\)"),
        ([1], [2, 2], r"same length"),
    ],
)
def test_update_probability_rejects_bad_data(hits, trials, match):
    with pytest.raises(InvalidParameterError, match=match):
        bayes.update_probability(rb.Beta(1, 1), hits, trials)


def test_update_probability_needs_a_beta_prior():
    with pytest.raises(InvalidParameterError, match=r"prior must be a riskbudget\.Beta"):
        bayes.update_probability(rb.Gamma(1, 1), 1, 2)


# --------------------------------------------------------------------------- #
# Predictive distributions
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("a, b, t", [(0.5, 1.0, 1.0), (3.0, 6.0, 1.0), (17.5, 5.5, 2.0), (200.0, 50.0, 0.25)])
def test_predictive_count_matches_scipy_nbinom(a, b, t):
    nb = bayes.predictive_count(rb.Gamma(a, b), years=t)
    assert nb.n == a and nb.p == pytest.approx(b / (b + t), rel=1e-15)
    ref = stats.nbinom(a, b / (b + t))
    k = np.arange(0, 60)
    np.testing.assert_allclose(nb.pmf(k), ref.pmf(k), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(nb.cdf(k), ref.cdf(k), rtol=1e-10)
    np.testing.assert_allclose(nb.sf(k), ref.sf(k), rtol=1e-9)
    assert nb.mean() == pytest.approx(ref.mean(), rel=1e-12)
    assert nb.var() == pytest.approx(ref.var(), rel=1e-12)
    # The documented closed forms: mean a t / b, variance mean (1 + t / b).
    assert nb.mean() == pytest.approx(a * t / b, rel=1e-12)
    assert nb.var() == pytest.approx(a * t / b * (1 + t / b), rel=1e-12)
    assert nb.ppf(0.9) == ref.ppf(0.9)


def test_negative_binomial_edge_values():
    nb = bayes.NegativeBinomial(2.0, 0.4)
    assert nb.pmf(-1) == 0.0 and nb.pmf(2.5) == 0.0
    assert nb.cdf(-0.5) == 0.0 and nb.sf(-3) == 1.0
    assert nb.interval(0.9) == (float(stats.nbinom(2, 0.4).ppf(0.05)), float(stats.nbinom(2, 0.4).ppf(0.95)))


def test_predictive_count_is_the_gamma_poisson_mixture():
    """The parameterisation is right: draw a rate from the posterior, then a Poisson count."""
    post = rb.Gamma(4.0, 3.0)
    t, n = 1.5, 400_000
    g = np.random.default_rng(7)
    counts = g.poisson(post.sample(n, g) * t)
    nb = bayes.predictive_count(post, years=t)
    for k in range(6):
        p_hat = np.mean(counts == k)
        se = math.sqrt(nb.pmf(k) * (1 - nb.pmf(k)) / n)
        assert abs(p_hat - nb.pmf(k)) <= 4 * se, k
    draws = nb.sample(n, np.random.default_rng(8))
    assert abs(draws.mean() - nb.mean()) <= 4 * nb.std() / math.sqrt(n)


def test_predictive_hits_matches_scipy_betabinom():
    bb = bayes.predictive_hits(rb.Beta(3.0, 17.0), trials=12)
    ref = stats.betabinom(12, 3.0, 17.0)
    k = np.arange(13)
    np.testing.assert_allclose(bb.pmf(k), ref.pmf(k), rtol=1e-12)
    assert bb.mean() == pytest.approx(ref.mean(), rel=1e-12)
    assert bb.var() == pytest.approx(ref.var(), rel=1e-12)
    draws = bb.sample(200_000, 3)
    assert abs(draws.mean() - bb.mean()) <= 4 * math.sqrt(bb.var() / 200_000)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: bayes.NegativeBinomial(0, 0.5), r"n \(0\) must be > 0"),
        (lambda: bayes.NegativeBinomial(1, 1.5), r"p \(1\.5\) must lie in \(0, 1\]"),
        (lambda: bayes.predictive_count(rb.Gamma(1, 1), years=0), r"years \(0\) must be > 0"),
        (lambda: bayes.predictive_count(rb.Beta(1, 1)), r"rate must be a riskbudget\.Gamma"),
        (lambda: bayes.predictive_hits(rb.Beta(1, 1), trials=-1), r"trials \(-1\) must be >= 0"),
        (lambda: bayes.NegativeBinomial(1, 0.5).interval(1.5), r"level \(1\.5\) must lie in \(0, 1\)"),
    ],
)
def test_predictive_bad_input(build, match):
    with pytest.raises(InvalidParameterError, match=match):
        build()


# --------------------------------------------------------------------------- #
# Prior helpers
# --------------------------------------------------------------------------- #
def test_rate_prior_from_probability_uses_minus_log_one_minus_p():
    prior = bayes.rate_prior(probability=0.25, effective_years=4.0)
    assert prior.rate == 4.0
    assert prior.shape == pytest.approx(-math.log(0.75) * 4.0, rel=1e-15)
    assert prior.mean() == pytest.approx(-math.log(0.75), rel=1e-15)
    # The Poisson rate with the same chance of at least one event a year.
    assert 1 - math.exp(-prior.mean()) == pytest.approx(0.25, rel=1e-14)
    # Averaged over the prior (negative binomial counts), the chance is lower, as the docstring says, and tends
    # to p as the prior is worth more years.
    from scipy import stats

    def predictive(n):
        g = bayes.rate_prior(probability=0.25, effective_years=n)
        return float(stats.nbinom(g.shape, g.rate / (g.rate + 1.0)).sf(0))

    assert predictive(4.0) == pytest.approx(1 - (4 / 5) ** (-4 * math.log(0.75)), rel=1e-12)
    assert round(predictive(4.0), 3) == 0.226
    assert predictive(4.0) < predictive(40.0) < predictive(4_000.0) < 0.25
    assert predictive(4_000.0) == pytest.approx(0.25, abs=1e-4)


def test_rate_prior_from_rate_is_worth_effective_years():
    prior = bayes.rate_prior(rate=3.0, effective_years=2.0)
    assert prior == rb.Gamma(6.0, 2.0)
    # Worth as much as 2 years with 6 events: updating a flat-ish start gives the same posterior.
    assert bayes.update_rate(prior, 3, 1.0) == rb.Gamma(9.0, 3.0)


def test_rate_and_probability_round_trip():
    for p in (0.0, 0.01, 0.25, 0.9, 0.999):
        assert bayes.probability_from_rate(bayes.rate_from_probability(p)) == pytest.approx(p, abs=1e-15)
    assert bayes.rate_from_probability(0.5) == pytest.approx(math.log(2), rel=1e-15)


def test_probability_prior():
    prior = bayes.probability_prior(0.1, effective_trials=20)
    assert prior == rb.Beta(2.0, 18.0)
    assert prior.mean() == pytest.approx(0.1)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: bayes.rate_prior(effective_years=1), r"give exactly one of rate .* or probability"),
        (lambda: bayes.rate_prior(rate=1, probability=0.1, effective_years=1), r"give exactly one of rate"),
        (lambda: bayes.rate_prior(probability=1.0, effective_years=1), r"probability \(1\) must lie strictly between 0 and 1"),
        (lambda: bayes.rate_prior(probability=0.0, effective_years=1), r"probability \(0\) must lie strictly between"),
        (lambda: bayes.rate_prior(rate=-2, effective_years=1), r"rate \(-2\) must be > 0 events per year"),
        (lambda: bayes.rate_prior(rate=2, effective_years=0), r"effective_years \(0\) must be > 0"),
        (lambda: bayes.probability_prior(1.2, effective_trials=5), r"probability \(1\.2\) must lie strictly between"),
        (lambda: bayes.probability_prior(0.2, effective_trials=-5), r"effective_trials \(-5\) must be > 0"),
        (lambda: bayes.rate_from_probability(1.0), r"a certain event \(p = 1\) has no finite rate"),
        (lambda: bayes.probability_from_rate(-1), r"rate \(-1\) must be >= 0"),
    ],
)
def test_prior_helpers_reject_bad_input(build, match):
    with pytest.raises(InvalidParameterError, match=match):
        build()


# --------------------------------------------------------------------------- #
# Lognormal severity (normal-inverse-chi-square)
# --------------------------------------------------------------------------- #
def test_severity_prior_from_median_and_p95():
    prior = bayes.severity_prior(200_000, 5_000_000, kappa=2, nu=5)
    assert prior.mu == pytest.approx(math.log(200_000))
    assert prior.sigma == pytest.approx(math.log(25) / 1.6448536269514722)
    assert prior.loss_distribution().median() == pytest.approx(200_000)
    assert prior.loss_distribution().ppf(0.95) == pytest.approx(5_000_000, rel=1e-12)
    assert (prior.kappa, prior.nu) == (2.0, 5.0)
    assert bayes.SeverityPrior.from_median_p95(200_000, 5_000_000, kappa=2, nu=5) == prior
    assert prior.alpha == 2.5 and prior.beta == pytest.approx(5 * prior.sigma**2 / 2)


@pytest.mark.parametrize(
    "median, p95, match",
    [
        (5_000_000, 200_000, r"p95 \(200000\) must exceed the median \(5e\+06\); a 95th percentile below the median contradicts itself"),
        (100_000, 100_000, r"a 95th percentile equal to the median contradicts itself"),
        (0, 100_000, r"median \(0\) must be > 0"),
        (-5, 100_000, r"median \(-5\) must be > 0"),
        ("big", 100_000, r"median \('big'\) must be a number"),
    ],
)
def test_severity_prior_rejects_a_prior_that_contradicts_itself(median, p95, match):
    with pytest.raises(InvalidParameterError, match=match):
        bayes.severity_prior(median, p95)


@pytest.mark.parametrize("field, value", [("sigma", 0.0), ("kappa", -1.0), ("nu", 0.0), ("mu", math.inf)])
def test_severity_prior_fields_are_checked(field, value):
    kwargs = {"mu": 10.0, "sigma": 1.0, "kappa": 1.0, "nu": 3.0, field: value}
    with pytest.raises(InvalidParameterError, match=rf"SeverityPrior: {field}"):
        bayes.SeverityPrior(**kwargs)


def test_update_severity_formulas():
    prior = bayes.SeverityPrior(mu=11.0, sigma=1.5, kappa=2.0, nu=3.0)
    losses = np.array([12_000.0, 45_000.0, 230_000.0, 61_000.0, 1.2e6])
    y = np.log(losses)
    n, ybar, s = len(y), y.mean(), ((y - y.mean()) ** 2).sum()
    post = bayes.update_severity(prior, losses)
    assert post.kappa == 2.0 + n and post.nu == 3.0 + n
    assert post.mu == pytest.approx((2.0 * 11.0 + n * ybar) / (2.0 + n), rel=1e-14)
    ss = 3.0 * 1.5**2 + s + 2.0 * n * (ybar - 11.0) ** 2 / (2.0 + n)
    assert post.sigma == pytest.approx(math.sqrt(ss / (3.0 + n)), rel=1e-14)
    # Updating in two batches gives the same posterior.
    two = bayes.update_severity(bayes.update_severity(prior, losses[:2]), losses[2:])
    for f in ("mu", "sigma", "kappa", "nu"):
        assert getattr(two, f) == pytest.approx(getattr(post, f), rel=1e-12)


def test_update_severity_against_grid_posterior():
    """Independent oracle: prior x likelihood on a (mu, sigma^2) grid."""
    prior = bayes.SeverityPrior(mu=10.5, sigma=1.2, kappa=1.0, nu=4.0)
    y = np.log([15_000, 80_000, 33_000, 410_000, 52_000, 27_000])
    post = bayes.update_severity(prior, np.exp(y))
    mu = np.linspace(7.0, 14.0, 701)[:, None]
    s2 = np.linspace(0.02, 12.0, 1200)[None, :]
    log_p = (
        stats.invgamma.logpdf(s2, prior.alpha, scale=prior.beta)
        + stats.norm.logpdf(mu, prior.mu, np.sqrt(s2 / prior.kappa))
        + stats.norm.logpdf(y[:, None, None], mu, np.sqrt(s2)).sum(axis=0)
    )
    w = np.exp(log_p - log_p.max())
    w /= w.sum()
    assert (w * mu).sum() == pytest.approx(post.mu, abs=2e-3)
    assert (w * s2).sum() == pytest.approx(post.mean_sigma2(), rel=5e-3)


def test_severity_prior_sampling_and_predictive():
    prior = bayes.SeverityPrior(mu=11.0, sigma=1.3, kappa=4.0, nu=20.0)
    n = 200_000
    mu, sigma = prior.sample(n, np.random.default_rng(3))
    s2 = sigma**2
    # E[mu] = mu0; E[sigma^2] = nu s0^2 / (nu - 2); Var[sigma^2] = 2 E^2 / (nu - 4).
    e_s2 = prior.mean_sigma2()
    assert abs(s2.mean() - e_s2) <= 4 * math.sqrt(2 * e_s2**2 / (20 - 4) / n)
    assert abs(mu.mean() - 11.0) <= 4 * math.sqrt(e_s2 / 4.0 / n)
    # The predictive log loss is Student t: check a quantile by simulation.
    g = np.random.default_rng(4)
    log_loss = mu + sigma * g.standard_normal(n)
    q90 = math.log(prior.predictive_quantile(0.9))
    frac = np.mean(log_loss <= q90)
    assert abs(frac - 0.9) <= 4 * math.sqrt(0.09 / n)


def test_update_severity_bad_input():
    prior = bayes.severity_prior(50_000, 1_000_000)
    with pytest.raises(InvalidParameterError, match=r"losses\[1\] \(-5\.0\) must be a finite amount > 0"):
        bayes.update_severity(prior, [10.0, -5.0])
    with pytest.raises(InvalidParameterError, match=r"prior must be a SeverityPrior"):
        bayes.update_severity(rb.Gamma(1, 1), [1.0])
    assert bayes.update_severity(prior, []) == prior


# --------------------------------------------------------------------------- #
# Posterior severities are capped per event: a finite, stable ALE
# --------------------------------------------------------------------------- #
# The README's conjugate example (README.md, "Bayesian loss models"). Three losses leave sigma so uncertain that
# the predictive loss (log-Student-t) has no finite mean: uncapped, its simulated ALE was $2.1M, $450M and $7.9B
# for seeds 7, 8 and 9. The README caps each loss at a year's revenue ($40M).
README_REVENUE = 40e6
README_YEARS = 50_000


def _readme_example(**cap) -> tuple[rb.Gamma, rb.Scenario]:
    prior = bayes.benchmark_rate_prior("iris2020_f1000_probability", effective_years=2)
    posterior = bayes.update_rate(prior, events=3, years=5.5)
    severity = bayes.update_severity(bayes.severity_prior(50_000, 1_000_000), [23_000, 140_000, 61_000])
    return posterior, bayes.conjugate_scenario("Incidents", posterior, severity, seed=1, **cap)


def test_readme_example_is_the_one_tested_here():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'bayes.conjugate_scenario("Incidents", posterior, severity, seed=1,' in readme
    assert "revenue=40e6" in readme and f"years={README_YEARS:_}" in readme


def test_cap_rule_explicit_then_revenue_then_default():
    assert bayes.loss_cap() == bayes.LossCap(bayes.DEFAULT_MAX_LOSS_PER_EVENT, bayes.CapBasis.DEFAULT)
    assert bayes.DEFAULT_MAX_LOSS_PER_EVENT == 10e9 and bayes.REVENUE_MULTIPLE == 1.0
    assert bayes.loss_cap(revenue=3e8) == bayes.LossCap(3e8, bayes.CapBasis.REVENUE)
    assert bayes.loss_cap(max_loss_per_event=5e6, revenue=3e8) == bayes.LossCap(5e6, bayes.CapBasis.EXPLICIT)
    assert bayes.loss_cap(revenue=3e8).describe() == "$300M per event (annual revenue)"
    assert repr(bayes.loss_cap(max_loss_per_event=5e6)) == "LossCap($5M per event, stated)"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_loss_per_event": 0}, r"max_loss_per_event \(0\) must be a positive amount"),
        ({"max_loss_per_event": -5e6}, r"max_loss_per_event \(-5e\+06\) must be a positive amount"),
        ({"max_loss_per_event": math.inf}, r"max_loss_per_event"),
        ({"max_loss_per_event": math.nan}, r"max_loss_per_event"),
        ({"revenue": -1e6}, r"revenue \(-1e\+06\) must be a positive amount a year"),
        ({"revenue": "lots"}, r"revenue"),
        ({"revenue": True}, r"revenue"),
        ({"max_loss_per_event": 5e6, "revenue": 0}, r"revenue \(0\) must be a positive amount a year"),
    ],
)
def test_cap_rejects_bad_values(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        bayes.loss_cap(**kwargs)
    severity = bayes.update_severity(bayes.severity_prior(5e4, 1e6), [2e4, 8e4])
    with pytest.raises(InvalidParameterError, match=r"conjugate_scenario: " + match):
        bayes.conjugate_scenario("x", rb.Gamma(2, 1), severity, draws=10, **kwargs)


def test_the_cap_in_use_is_visible():
    _, default = _readme_example()
    _, from_revenue = _readme_example(revenue=README_REVENUE)
    _, explicit = _readme_example(max_loss_per_event=2e6, revenue=README_REVENUE)
    assert default.primary_loss.cap == bayes.loss_cap()
    assert from_revenue.primary_loss.max_loss == README_REVENUE
    assert explicit.primary_loss.cap == bayes.LossCap(2e6, bayes.CapBasis.EXPLICIT)
    assert "max_loss=$10B per event (default" in repr(default.primary_loss)
    assert "max_loss=$40M per event (annual revenue)" in repr(from_revenue.primary_loss)
    assert "max_loss=$2M per event (stated)" in repr(explicit)  # the scenario's repr shows its loss
    described = from_revenue.primary_loss.describe()
    assert described["max_loss"] == README_REVENUE and described["max_loss_basis"] == "revenue"
    # Posterior draws never go into a register file; the refusal names the cap.
    with pytest.raises(InvalidParameterError, match=r"capped at \$40M per event \(annual revenue\)\): posterior draws"):
        from_revenue.to_dict()


def test_capped_losses_never_exceed_the_cap_and_scale_with_it():
    _, s = _readme_example(max_loss_per_event=2e6)
    loss = s.primary_loss
    x = loss.sample(200_000, np.random.default_rng(1))
    assert x.max() == 2e6 and loss.support() == (0.0, 2e6)
    assert loss.ppf(1.0) == 2e6 and loss.cdf(2e6) == 1.0 and loss.cdf(2e6 * (1 - 1e-9)) < 1.0
    # The share of losses at the cap is the mixture's P(X > cap).
    p_cap = 1.0 - loss.cdf(2e6 * (1 - 1e-12))
    assert abs(np.mean(x == 2e6) - p_cap) <= 4 * math.sqrt(p_cap * (1 - p_cap) / x.size)
    # Scaling a loss scales its cap: factor * min(X, c) = min(factor X, factor c).
    half = s.scaled_losses(0.5).primary_loss
    assert half.max_loss == 1e6 and half.mean() == pytest.approx(0.5 * loss.mean(), rel=1e-12)


def test_a_plain_distribution_severity_is_not_capped():
    lognormal = rb.LogNormal(11.0, 1.5)
    s = bayes.conjugate_scenario("x", rb.Gamma(2, 1), lognormal)
    assert s.primary_loss is lognormal  # unchanged, uncapped: the same numbers as before
    with pytest.raises(InvalidParameterError, match=r"cap a SeverityPrior's predictive; the severity here is a LogNormal"):
        bayes.conjugate_scenario("x", rb.Gamma(2, 1), lognormal, revenue=1e8)


def test_capped_predictive_mean_is_the_limited_expected_value():
    """The capped mean over draws against the Student-t predictive integrated numerically (an independent oracle)."""
    severity = bayes.update_severity(bayes.severity_prior(50_000, 1_000_000), [23_000, 140_000, 61_000])
    n = 200_000
    s = bayes.conjugate_scenario("x", rb.Gamma(2, 1), severity, draws=n, seed=3, max_loss_per_event=5e7)
    # The predictive log loss is Student t with nu dof, location mu, scale sigma sqrt(1 + 1/kappa):
    # E[min(X, c)] = integral_0^c P(X > x) dx.
    t = stats.t(severity.nu, loc=severity.mu, scale=severity.sigma * math.sqrt(1 + 1 / severity.kappa))
    lev = integrate.quad(lambda y: math.exp(y) * t.sf(y), -30, math.log(5e7), limit=400, epsrel=1e-10)[0]
    # The n draws are a sample of the posterior: their capped mean is within 4 SE of the predictive's.
    means = s.primary_loss.conditional_means()
    assert abs(means.mean() - lev) <= 4 * means.std() / math.sqrt(n)


def test_readme_example_ale_is_stable_across_seeds():
    """At the README's 50,000 years: every pair of seeds within 4 combined SE, each SE below 5% of the ALE."""
    posterior, scenario = _readme_example(revenue=README_REVENUE)
    exact = posterior.mean() * scenario.primary_loss.mean()  # independent rate and loss draws
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)  # the summary of a precise run does not warn
        for seed in (7, 8, 9, 10, 11, 12):
            result = rb.simulate(scenario, years=README_YEARS, seed=seed)
            summary = result.summary()
            assert summary.attrs["notes"] == [], summary.attrs["notes"]
            ale, se = float(summary.loc["Total", "ale"]), float(summary.loc["Total", "ale_se"])
            assert se < ALE_RSE_LIMIT * ale, (seed, ale, se)
            assert abs(ale - exact) <= 4 * se, (seed, ale, exact, se)
            runs.append((ale, se))
    for (a, sa), (b, sb) in itertools.combinations(runs, 2):
        assert abs(a - b) <= 4 * math.hypot(sa, sb), runs


def test_a_deliberately_extreme_cap_is_flagged_as_imprecise():
    """A cap far above any real loss ($1 trillion) brings the heavy tail back: the ALE's error is said in words."""
    _, scenario = _readme_example(max_loss_per_event=1e12)
    result = rb.simulate(scenario, years=README_YEARS, seed=7)
    with pytest.warns(PrecisionWarning, match=r"the portfolio's ALE is imprecise"):
        summary = result.summary()
    assert any("Incidents" in note for note in summary.attrs["notes"])
    assert summary.loc["Total", "ale_se"] > 0.2 * summary.loc["Total", "ale"]


# --------------------------------------------------------------------------- #
# Benchmarks
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def benchmarks():
    return bayes.read_benchmarks()


def test_every_benchmark_row_is_cited(benchmarks):
    assert len(benchmarks) >= 20
    for col in ("source", "publisher", "table_or_page", "url"):
        assert (benchmarks[col].str.strip() != "").all(), col
    assert benchmarks["year"].between(2019, 2026).all()
    assert set(benchmarks["qualifier"]) <= {"", "about", "approaches", "<", ">"}


def test_derived_benchmarks_follow_their_formula(benchmarks):
    derived = benchmarks[benchmarks["derived"]]
    assert len(derived) >= 3
    for bid, row in derived.iterrows():
        assert row["statistic"] == "annual_rate"
        source_id = row["formula"].split("(")[-1].rstrip(")")
        p = benchmarks.loc[source_id, "value"]
        assert row["value"] == pytest.approx(-math.log1p(-p), abs=1e-6), bid
        assert row["qualifier"] == benchmarks.loc[source_id, "qualifier"]


def test_known_published_figures(benchmarks):
    """The figures quoted in the shared domain notes, as the reports state them."""
    v = benchmarks["value"]
    assert v["iris2020_f1000_probability"] == 0.25
    assert v["iris2020_median_loss"] == 200_000 and v["iris2020_p90_loss"] == 20e6
    assert v["ibm2024_global_mean"] == 4.88e6 and v["ibm2025_global_mean"] == 4.44e6
    assert v["ibm2025_us_mean"] == 10.22e6
    assert v["ians2024_share_of_it"] == 0.132 and v["ians2024_share_of_revenue"] == 0.0069


def test_benchmark_rate_prior(benchmarks):
    prior = bayes.benchmark_rate_prior("iris2020_f1000_probability", effective_years=3, table=benchmarks)
    assert prior == bayes.rate_prior(probability=0.25, effective_years=3)
    scaled = bayes.benchmark_rate_prior("iris2020_f1000_rate", effective_years=3, scale=0.5, table=benchmarks)
    assert scaled.mean() == pytest.approx(0.5 * 0.287682, rel=1e-6)


def test_benchmark_rate_prior_refuses_bounds_and_wrong_statistics(benchmarks):
    with pytest.raises(BenchmarkError, match=r"'iris2020_smb_probability' is a bound \(< 0\.02\), not an estimate"):
        bayes.benchmark_rate_prior("iris2020_smb_probability", effective_years=1, table=benchmarks)
    ok = bayes.benchmark_rate_prior("iris2020_smb_probability", effective_years=1, table=benchmarks, allow_bound=True)
    assert ok.mean() == pytest.approx(-math.log(0.98))
    with pytest.raises(BenchmarkError, match=r"states mean_cost_of_data_breach; a rate prior needs"):
        bayes.benchmark_rate_prior("ibm2024_global_mean", effective_years=1, table=benchmarks)
    with pytest.raises(BenchmarkError, match=r"no benchmark with id 'nope'"):
        bayes.benchmark_row("nope", benchmarks)


def test_benchmark_severity_prior_uses_the_upper_rows_quantile(benchmarks):
    prior = bayes.benchmark_severity_prior("iris2020_median_loss", "iris2020_p90_loss", table=benchmarks)
    assert prior.mu == pytest.approx(math.log(200_000))
    assert prior.sigma == pytest.approx(math.log(100) / special.ndtri(0.9))
    assert prior.loss_distribution().ppf(0.9) == pytest.approx(20e6, rel=1e-10)
    with pytest.raises(BenchmarkError, match=r"states p90_loss_per_event, not median_loss_per_event"):
        bayes.benchmark_severity_prior("iris2020_p90_loss", "iris2020_p90_loss", table=benchmarks)
    with pytest.raises(BenchmarkError, match=r"the upper row must be one of"):
        bayes.benchmark_severity_prior("iris2020_median_loss", "ibm2024_global_mean", table=benchmarks)


def _write(tmp_path, text):
    p = tmp_path / "b.csv"
    p.write_text(textwrap.dedent(text).lstrip())
    return p


HEADER = "id,population,statistic,value,unit,qualifier,derived,formula,source,publisher,year,table_or_page,url,note\n"


@pytest.mark.parametrize(
    "rows, match",
    [
        ("a,x,annual_probability,abc,,,false,,S,P,2020,p1,u,\n", r"b\.csv, line 2, column value: 'abc' is not a number"),
        ("a,x,annual_probability,0.1,,maybe,false,,S,P,2020,p1,u,\n", r"line 2, column qualifier: 'maybe' is not one of"),
        ("a,x,annual_rate,0.1,,,true,,S,P,2020,p1,u,\n", r"line 2, column formula: a derived value must state its formula"),
        ("a,x,annual_rate,0.1,,,false,,,P,2020,p1,u,\n", r"line 2, column source: missing; every figure must be cited"),
        ("a,x,annual_rate,0.1,,,false,,S,P,2020,,u,\n", r"line 2, column table_or_page: missing"),
        ("a,x,annual_rate,0.1,,,false,,S,P,20x0,p,u,\n", r"line 2, column year: '20x0' is not a year"),
        ("a,x,annual_rate,0.1,,,no,,S,P,2020,p,u,\n", r"line 2, column derived: 'no' must be true or false"),
        ("a,x,annual_rate,0.1,,,false,,S,P,2020,p,u,\na,x,annual_rate,0.2,,,false,,S,P,2020,p,u,\n", r"id 'a' appears more than once"),
    ],
)
def test_read_benchmarks_rejects_bad_rows(tmp_path, rows, match):
    with pytest.raises(BenchmarkError, match=match):
        bayes.read_benchmarks(_write(tmp_path, HEADER + rows))


def test_read_benchmarks_rejects_missing_columns(tmp_path):
    with pytest.raises(BenchmarkError, match=r"missing column\(s\) \['formula'"):
        bayes.read_benchmarks(_write(tmp_path, "id,population,statistic,value,unit,qualifier,derived\n"))


def test_contradicting_benchmark_rows_are_rejected(tmp_path):
    table = bayes.read_benchmarks(
        _write(
            tmp_path,
            HEADER
            + "m,x,median_loss_per_event,500000,USD,,false,,S,P,2020,p,u,\n"
            + "q,x,p95_loss_per_event,100000,USD,,false,,S,P,2020,p,u,\n",
        )
    )
    with pytest.raises(BenchmarkError, match=r"contradict each other: the 95th percentile \(100000\) must exceed the median \(500000\)"):
        bayes.benchmark_severity_prior("m", "q", table=table)


def test_errors_are_riskbudget_errors():
    assert issubclass(BenchmarkError, RiskBudgetError)
    assert issubclass(bayes.IncidentDataError, RiskBudgetError)
    assert issubclass(bayes.IncidentDataError, ValueError)
