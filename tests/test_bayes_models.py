"""PyMC models and posterior scenarios.

The first part tests the posterior distributions and their simulation hook
without PyMC (fast). The second part fits PyMC models (``@pytest.mark.slow``,
2 chains x at most 1000 draws each) and checks them against exact conjugate
posteriors, the truth behind the synthetic example, and the simulation.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import riskbudget as rb
from riskbudget import bayes
from riskbudget.bayes.models import ConvergenceWarning, _round_sig
from riskbudget.bayes.simulation import PosteriorLoss, PosteriorRate
from riskbudget.exceptions import InvalidParameterError, RiskBudgetError

from .conftest import EXAMPLE, ROOT

EXPOSURE = {2019: 0.70, 2020: 0.75, 2021: 0.82, 2022: 0.88, 2023: 0.94, 2024: 1.00}


def within(estimate: float, exact: float, se: float, k: float = 4.0) -> bool:
    return abs(estimate - exact) <= k * se


def _truth() -> dict:
    spec = importlib.util.spec_from_file_location("make_incidents", ROOT / "scripts" / "make_incidents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.truth()


# =========================================================================== #
# Posterior distributions and the simulation hook (no PyMC)
# =========================================================================== #
def test_posterior_loss_single_draw_is_the_truncated_lognormal():
    mu, sigma, lower = 10.0, 1.2, 15_000.0
    d = PosteriorLoss([mu], [sigma], lower=lower)
    ref = stats.lognorm(sigma, scale=math.exp(mu))
    x = np.array([lower, 2e4, 1e5, 1e6, 1e7])
    expected = (ref.cdf(x) - ref.cdf(lower)) / ref.sf(lower)
    np.testing.assert_allclose(d.cdf(x), expected, rtol=1e-10, atol=1e-14)
    assert d.cdf(lower / 2) == 0.0
    # Mean: E[X | X >= r] = exp(mu + s^2/2) Phi((mu + s^2 - ln r)/s) / S(r)
    mean = math.exp(mu + sigma**2 / 2) * special.ndtr((mu + sigma**2 - math.log(lower)) / sigma) / ref.sf(lower)
    assert d.mean() == pytest.approx(mean, rel=1e-12)
    num = integrate_mean(ref, lower)
    assert d.mean() == pytest.approx(num, rel=1e-6)
    for q in (0.01, 0.5, 0.99, 0.999999):
        assert d.cdf(d.ppf(q)) == pytest.approx(q, abs=1e-9)


def integrate_mean(ref, lower):
    """E[X | X >= lower] by quadrature on the log scale (independent of the closed form)."""
    from scipy import integrate

    mu, s = math.log(ref.kwds["scale"]), ref.args[0]
    f = lambda y: math.exp(y) * stats.norm.pdf(y, mu, s)  # noqa: E731
    return integrate.quad(f, math.log(lower), mu + 14 * s, limit=400, epsrel=1e-12)[0] / ref.sf(lower)


def test_posterior_loss_gpd_tail_matches_scipy_genpareto():
    mu, sigma, u, xi, beta = 11.0, 1.0, 300_000.0, 0.3, 150_000.0
    d = PosteriorLoss([mu], [sigma], tail_threshold=u, tail_shape=[xi], tail_scale=[beta])
    ln = stats.lognorm(sigma, scale=math.exp(mu))
    gp = stats.genpareto(xi, scale=beta)
    x = np.array([1e4, 1e5, 2.99e5, 3e5, 4e5, 1e6, 1e7])
    expected = np.where(x < u, ln.cdf(x), 1 - ln.sf(u) * gp.sf(x - u))
    np.testing.assert_allclose(d.cdf(x), expected, rtol=1e-10)
    mean = math.exp(mu + sigma**2 / 2) * special.ndtr((math.log(u) - mu - sigma**2) / sigma)
    mean += ln.sf(u) * (u + beta / (1 - xi))
    assert d.mean() == pytest.approx(mean, rel=1e-12)


def test_posterior_loss_sampling_matches_its_moments():
    g = np.random.default_rng(11)
    mu = g.normal(10.5, 0.2, 500)
    sigma = g.uniform(0.8, 1.0, 500)
    xi = g.uniform(0.1, 0.3, 500)
    beta = g.uniform(5e4, 1e5, 500)
    d = PosteriorLoss(mu, sigma, lower=10_000, tail_threshold=200_000, tail_shape=xi, tail_scale=beta)
    n = 400_000
    x = d.sample(n, np.random.default_rng(12))
    assert x.min() >= 10_000
    assert within(x.mean(), d.mean(), math.sqrt(d.var() / n))
    for q in (0.5, 0.9, 0.99):
        v = d.ppf(q)
        assert within(np.mean(x <= v), q, math.sqrt(q * (1 - q) / n))
    p_tail = np.mean(d._survival_lognormal(200_000) / d._survival_lognormal(10_000))
    assert within(np.mean(x > 200_000), p_tail, math.sqrt(p_tail * (1 - p_tail) / n))


def test_posterior_rate_moments_and_quantiles():
    r = PosteriorRate([1.0, 2.0, 3.0, 6.0], exposure=0.5)
    assert r.mean() == pytest.approx(1.5)
    assert r.var() == pytest.approx(np.var([0.5, 1.0, 1.5, 3.0]))
    assert r.ppf(0.5) == 1.0 and r.cdf(1.0) == 0.5 and r.support() == (0.5, 3.0)
    nb = PosteriorRate([2.0, 4.0], cv=[0.5, 0.25])
    draws = nb.sample(400_000, np.random.default_rng(5))
    assert within(draws.mean(), nb.mean(), math.sqrt(nb.var() / 400_000))
    assert nb.var() == pytest.approx(np.var([2.0, 4.0]) + np.mean([(2 * 0.5) ** 2, (4 * 0.25) ** 2]))
    for q in (0.1, 0.5, 0.95):
        assert nb.cdf(nb.ppf(q)) == pytest.approx(q, abs=1e-9)
    assert nb.scaled(2.0).mean() == pytest.approx(2 * nb.mean())


def test_negative_binomial_rate_gives_the_mixture_of_negative_binomial_counts():
    rate = PosteriorRate([1.5, 4.0], cv=[0.6, 0.3])
    s = rb.Scenario("nb", loss_event_frequency=rate, primary_loss=rb.Constant(1.0))
    res = rb.simulate(s, years=200_000, seed=9)
    counts = res.counts["nb"].to_numpy()
    for k in range(8):
        pmf = np.mean(
            [stats.nbinom(1 / cv**2, (1 / cv**2) / (1 / cv**2 + lam)).pmf(k) for lam, cv in ((1.5, 0.6), (4.0, 0.3))]
        )
        assert within(np.mean(counts == k), pmf, math.sqrt(pmf * (1 - pmf) / 200_000)), k


def test_many_quantiles_use_a_cached_table_that_agrees_with_the_exact_solution():
    g = np.random.default_rng(3)
    dists = [
        PosteriorRate(g.gamma(20, 0.1, 300), cv=g.uniform(0.2, 0.4, 300)),
        PosteriorLoss(g.normal(10, 0.2, 300), g.uniform(0.9, 1.1, 300), lower=5000),
    ]
    u = np.random.default_rng(4).random(5000)
    for d in dists:
        fast = d.ppf(u)  # more than a block: interpolated from the table
        exact = d._exact_quantiles(u[:300])
        np.testing.assert_allclose(fast[:300], exact, rtol=1e-4)
        np.testing.assert_allclose(d.cdf(fast[:300]), u[:300], atol=1e-4)
        assert np.all(np.diff(d.ppf(np.sort(u))) >= 0)


def test_posterior_rates_work_with_a_frequency_copula():
    g = np.random.default_rng(5)

    def sc(name: str) -> rb.Scenario:
        return rb.Scenario(
            name,
            loss_event_frequency=PosteriorRate(g.gamma(30, 0.1, 300), cv=g.uniform(0.2, 0.4, 300), posterior_key=name),
            primary_loss=rb.Constant(1.0),
        )

    a, b = sc("a"), sc("b")
    dep = rb.Dependence({("a", "b"): 0.8})
    res = rb.simulate([a, b], years=50_000, seed=3, dependence=dep)
    ca, cb = res.counts["a"].to_numpy(), res.counts["b"].to_numpy()
    # Rate correlation 0.8, diluted by Poisson noise (rate variance / count variance ~ 0.27): about 0.2.
    assert stats.spearmanr(ca, cb).statistic > 0.15
    indep = rb.simulate([a, b], years=50_000, seed=3)
    assert abs(stats.spearmanr(indep.counts["a"], indep.counts["b"]).statistic) < 4 / math.sqrt(50_000)
    # The copula only couples the years: each marginal keeps its posterior predictive mean.
    assert within(ca.mean(), a.loss_event_frequency.mean(), ca.std() / math.sqrt(ca.size))
    assert within(cb.mean(), b.loss_event_frequency.mean(), cb.std() / math.sqrt(cb.size))


def _two_point(key_rate: str, key_loss: str) -> rb.Scenario:
    """A rate of either ~0 or 20 events a year and a loss of either ~1 or ~e^10 per event."""
    rate = PosteriorRate([1e-9, 20.0], posterior_key=key_rate)
    loss = PosteriorLoss([0.0, 10.0], [1e-6, 1e-6], posterior_key=key_loss)
    return rb.Scenario("s", loss_event_frequency=rate, primary_loss=loss)


def test_rate_and_loss_of_one_year_use_the_same_posterior_draw():
    res = rb.simulate(_two_point("k", "k"), years=20_000, seed=1)
    n, loss = res.counts["s"].to_numpy(), res.losses["s"].to_numpy()
    busy = n > 0
    # Every year with events drew the second posterior draw, so each event lost about e^10.
    np.testing.assert_allclose(loss[busy] / n[busy], math.exp(10.0), rtol=1e-4)
    # Independent keys mix the draws: about half the busy years have losses of ~1 per event.
    res2 = rb.simulate(_two_point("k1", "k2"), years=20_000, seed=1)
    n2, loss2 = res2.counts["s"].to_numpy(), res2.losses["s"].to_numpy()
    small = np.mean(loss2[n2 > 0] / n2[n2 > 0] < 10)
    assert 0.45 < small < 0.55


def test_scenarios_from_one_posterior_share_each_years_draw():
    def sc(name: str, key: str) -> rb.Scenario:
        return rb.Scenario(name, loss_event_frequency=PosteriorRate([1e-9, 30.0], posterior_key=key), primary_loss=rb.Constant(1.0))

    shared = rb.simulate([sc("a", "fit"), sc("b", "fit")], years=20_000, seed=2)
    a, b = shared.counts["a"].to_numpy(), shared.counts["b"].to_numpy()
    np.testing.assert_array_equal(a > 5, b > 5)
    indep = rb.simulate([sc("a", "fit1"), sc("b", "fit2")], years=20_000, seed=2)
    disagree = np.mean((indep.counts["a"].to_numpy() > 5) != (indep.counts["b"].to_numpy() > 5))
    assert 0.45 < disagree < 0.55


def test_posterior_scenarios_are_seeded_and_chunk_invariant():
    g = np.random.default_rng(0)
    s = rb.Scenario(
        "p",
        loss_event_frequency=PosteriorRate(g.gamma(20, 0.1, 300), cv=g.uniform(0.2, 0.4, 300), posterior_key="k"),
        primary_loss=PosteriorLoss(g.normal(10, 0.2, 300), g.uniform(0.9, 1.1, 300), lower=5000, posterior_key="k"),
    )
    a = rb.simulate(s, years=30_000, seed=4, chunk_size=4096)
    b = rb.simulate(s, years=30_000, seed=4, chunk_size=30_000)
    c = rb.simulate(s, years=30_000, seed=4, chunk_size=777)
    np.testing.assert_array_equal(a.losses.to_numpy(), b.losses.to_numpy())
    np.testing.assert_array_equal(a.losses.to_numpy(), c.losses.to_numpy())
    d = rb.simulate(s, years=30_000, seed=5)
    assert not np.array_equal(a.losses.to_numpy(), d.losses.to_numpy())
    lef = rb.simulate(s, years=30_000, seed=4, method="lef_x_lm")
    assert lef.ale() == pytest.approx(a.ale(), rel=0.05)


def test_adjustments_act_on_posterior_scenarios_on_common_random_numbers():
    g = np.random.default_rng(1)
    s = rb.Scenario(
        "p",
        loss_event_frequency=PosteriorRate(g.gamma(20, 0.1, 200), posterior_key="k"),
        primary_loss=PosteriorLoss(g.normal(10, 0.2, 200), g.uniform(0.9, 1.1, 200), posterior_key="k"),
    )
    base = rb.simulate(s, years=20_000, seed=3)
    halved = rb.simulate(s.with_adjustments(rb.Adjustment("loss", 0.5, "insurance")), years=20_000, seed=3)
    np.testing.assert_allclose(halved.losses.to_numpy(), 0.5 * base.losses.to_numpy(), rtol=1e-12)


def test_conjugate_scenario_ale_matches_the_predictive_mean():
    rate = bayes.update_rate(bayes.rate_prior(rate=2, effective_years=2), events=9, years=4)
    sev = bayes.update_severity(bayes.severity_prior(40_000, 600_000, kappa=1, nu=4), np.exp(np.random.default_rng(2).normal(10.4, 1.0, 12)))
    s = bayes.conjugate_scenario("c", rate, sev, seed=1)
    res = rb.simulate(s, years=200_000, seed=8)
    exact = rate.mean() * s.primary_loss.mean()  # independent posteriors: E[rate] E[loss]
    assert within(res.ale(), exact, res.ale_se())
    # The predictive count is negative binomial.
    nb = bayes.predictive_count(rate)
    counts = res.counts["c"].to_numpy()
    for k in range(5):
        assert within(np.mean(counts == k), nb.pmf(k), math.sqrt(nb.pmf(k) * (1 - nb.pmf(k)) / 200_000))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: PosteriorRate([1.0, -1.0]), r"rate draws must be > 0"),
        (lambda: PosteriorRate([1.0, 2.0], cv=[0.1]), r"cv has 1 draws but rate has 2"),
        (lambda: PosteriorRate([1.0], exposure=0), r"exposure \(0\) must be a finite number > 0"),
        (lambda: PosteriorRate([]), r"rate needs at least one posterior draw"),
        (lambda: PosteriorLoss([1.0], [0.0]), r"sigma draws must be > 0"),
        (lambda: PosteriorLoss([1.0, 2.0], [1.0]), r"sigma has 1 draws but mu has 2"),
        (lambda: PosteriorLoss([1.0], [1.0], lower=-1), r"lower \(-1\) must be a finite amount >= 0"),
        (lambda: PosteriorLoss([1.0], [1.0], lower=100, tail_threshold=50, tail_shape=[0.1], tail_scale=[1.0]), r"tail_threshold \(50\) must exceed lower \(100\)"),
        (lambda: PosteriorLoss([1.0], [1.0], tail_threshold=50), r"needs tail_shape and tail_scale"),
        (lambda: PosteriorLoss([1.0], [1.0], tail_threshold=50, tail_shape=[1.2], tail_scale=[1.0]), r"tail_shape draws must be < 1"),
        (lambda: PosteriorLoss([1.0], [1.0], tail_shape=[0.2], tail_scale=[1.0]), r"need a finite tail_threshold"),
        (lambda: PosteriorRate([1.0]).to_dict(), r"posterior draws cannot be written to a register file"),
        (lambda: PosteriorLoss([1.0], [1.0]).to_scipy(), r"no scipy\.stats equivalent"),
    ],
)
def test_posterior_distribution_bad_input(build, match):
    with pytest.raises(InvalidParameterError, match=match):
        build()


def test_mismatched_draws_under_one_key_are_an_error():
    s = rb.Scenario("m", loss_event_frequency=PosteriorRate([1.0, 2.0], posterior_key="k"),
                    primary_loss=PosteriorLoss([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], posterior_key="k"))
    with pytest.raises(RiskBudgetError, match=r"sharing posterior key 'k' hold different numbers of draws \(2 and 3\)"):
        rb.simulate(s, years=1000, seed=1)


# =========================================================================== #
# fit(): argument checks (no sampling)
# =========================================================================== #
@pytest.fixture(scope="module")
def example_data() -> bayes.IncidentData:
    return bayes.read_incidents(EXAMPLE / "incidents.csv", threshold=10_000, start="2019-07-01", end="2024-12-31", exposure=EXPOSURE)


RATE = bayes.rate_prior(rate=2.0, effective_years=0.5)
SEVERITY = bayes.severity_prior(50_000, 1_000_000, kappa=1.0, nu=3.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"severity_prior": SEVERITY}, r"rate_prior must be a riskbudget\.Gamma prior on the rate of recorded events"),
        ({"rate_prior": RATE}, r"severity_prior must be a bayes\.SeverityPrior"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "frequency": "binomial"}, r"frequency='binomial' is not one of"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "severity": "weibull"}, r"severity='weibull' is not one of"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "pooling": "region"}, r"pooling='region' is not one of"),
        ({"frequency": None, "severity": None}, r"frequency and severity are both None"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "severity": "lognormal_gpd"}, r"needs tail=TailPrior\(threshold=\.\.\.\)"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "severity": "lognormal_gpd", "tail": bayes.TailPrior(5_000)}, r"tail threshold \(5000\) must exceed the reporting threshold \(10000\)"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "tail": bayes.TailPrior(500_000)}, r"tail= applies only to severity='lognormal_gpd'"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "draws": 0}, r"draws \(0\) must be a whole number >= 1"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "target_accept": 1.0}, r"target_accept \(1\.0\) must lie in \[0\.5, 1\)"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "seed": -3}, r"seed \(-3\) must be a non-negative integer"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "sampler": "stan"}, r"sampler='stan' is not one of"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "pooling_scale": 0}, r"pooling_scale \(0\) must be a finite number > 0"),
        ({"rate_prior": RATE, "severity_prior": SEVERITY, "threshold": 5000}, r"threshold apply when reading incidents"),
    ],
)
def test_fit_rejects_bad_arguments(example_data, kwargs, match):
    with pytest.raises(InvalidParameterError if "apply when reading" not in match else RiskBudgetError, match=match):
        bayes.fit(example_data, **kwargs)


def test_pooling_needs_two_groups(tmp_path):
    p = tmp_path / "one.csv"
    p.write_text("date,unit,loss,category\n2023-01-01,Ops,20000,x\n")
    with pytest.raises(InvalidParameterError, match=r"pooling='unit' needs at least two unit groups; the data has \['Ops'\]"):
        bayes.fit(p, rate_prior=RATE, severity_prior=SEVERITY, pooling="unit")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 0}, r"TailPrior: threshold \(0\) must be > 0"),
        ({"threshold": 1e5, "shape_max": 1.0}, r"shape_max \(1\) must lie in \(0, 1\); at xi >= 1 the mean loss is infinite"),
        ({"threshold": 1e5, "shape": 0.97}, r"shape \(0\.97\) must lie in \[0, shape_max"),
        ({"threshold": 1e5, "shape_sd": 0}, r"shape_sd \(0\) must be > 0"),
    ],
)
def test_tail_prior_rules(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        bayes.TailPrior(**kwargs)


# =========================================================================== #
# PyMC fits (slow)
# =========================================================================== #
def _fit_quietly(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bayes.fit(*args, progress=False, **kwargs)
    return result, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


@pytest.fixture(scope="module")
def untruncated_fit():
    """Poisson rate + lognormal severity with no reporting threshold: both have exact conjugate posteriors."""
    data = bayes.read_incidents(EXAMPLE / "incidents.csv", threshold=0, start="2019-07-01", end="2024-12-31", exposure=EXPOSURE)
    result, warned = _fit_quietly(data, rate_prior=RATE, severity_prior=SEVERITY, seed=20240917)
    return data, result, warned


@pytest.mark.slow
def test_pymc_rate_posterior_matches_the_exact_gamma(untruncated_fit):
    import arviz as az

    data, result, warned = untruncated_fit
    assert not warned and result.diagnostics.ok
    periods = data.periods()
    exact = bayes.update_rate(RATE, periods["events"].to_numpy(), periods["exposure"].to_numpy())
    draws = result.draws("rate")
    mcse = float(az.mcse(result.idata, var_names=["rate"])["rate"])
    assert within(draws.mean(), exact.mean(), mcse)
    assert draws.std() == pytest.approx(exact.std(), rel=0.08)
    assert np.quantile(draws, 0.9) == pytest.approx(exact.ppf(0.9), rel=0.03)


@pytest.mark.slow
def test_pymc_severity_posterior_matches_the_exact_normal_inverse_chi_square(untruncated_fit):
    import arviz as az

    data, result, _ = untruncated_fit
    exact = bayes.update_severity(SEVERITY, data.losses())
    mcse = az.mcse(result.idata, var_names=["mu", "sigma2"])
    assert within(result.draws("mu").mean(), exact.mu, float(mcse["mu"]))
    assert within(result.draws("sigma2").mean(), exact.mean_sigma2(), float(mcse["sigma2"]))


@pytest.mark.slow
def test_simulated_ale_matches_the_posterior_predictive_mean(untruncated_fit):
    _, result, _ = untruncated_fit
    scenario = bayes.to_scenario(result, "Incidents")
    assert isinstance(scenario.loss_event_frequency, PosteriorRate)
    assert scenario.loss_event_frequency.posterior_key == scenario.primary_loss.posterior_key
    sim = rb.simulate(scenario, years=200_000, seed=3)
    assert within(sim.ale(), result.expected_annual_loss(), sim.ale_se())


@pytest.mark.slow
def test_parameter_uncertainty_widens_the_lec(untruncated_fit):
    _, result, _ = untruncated_fit
    posterior = bayes.to_scenario(result, "posterior")
    plug_in = rb.Scenario(
        "plug-in",
        loss_event_frequency=rb.Constant(result.draws("rate").mean()),
        primary_loss=rb.LogNormal(result.draws("mu").mean(), result.draws("sigma").mean()),
    )
    sim = rb.simulate([posterior, plug_in], years=200_000, seed=5)
    assert sim.var(0.99, "posterior") > 1.05 * sim.var(0.99, "plug-in")
    x = sim.var(0.999, "plug-in")
    assert sim.exceedance(x, "posterior") > 1.2 * sim.exceedance(x, "plug-in")


@pytest.mark.slow
def test_summary_is_rounded_and_names_the_parameters(untruncated_fit):
    _, result, _ = untruncated_fit
    s = result.summary
    assert list(s.index) == ["rate", "mu", "sigma"]
    assert list(s.columns) == ["mean", "sd", "q2.5", "median", "q97.5", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"]
    for v in s[["mean", "sd", "q2.5", "q97.5"]].to_numpy().ravel():
        assert v == _round_sig(v)
    assert s.loc["rate", "q2.5"] < s.loc["rate", "mean"] < s.loc["rate", "q97.5"]
    assert result.draws("rate").shape == (2000,)
    assert "converged" in repr(result) and "seed=20240917" in repr(result)


@pytest.mark.slow
def test_truncated_likelihood_removes_the_upward_bias():
    """Losses below the threshold are not recorded: ignoring that biases mu upward; the truncated fit does not."""
    mu, sigma, threshold = 10.0, 1.0, math.exp(10.0)  # half the losses go unrecorded
    g = np.random.default_rng(42)
    x = np.exp(mu + sigma * g.standard_normal(800))
    x = x[x >= threshold]
    df = pd.DataFrame({"date": "2023-06-30", "unit": "Ops", "loss": x, "category": "all"})
    data = bayes.read_incidents(df, threshold=threshold)
    prior = bayes.severity_prior(30_000, 600_000, kappa=0.5, nu=2.0)

    naive = bayes.update_severity(prior, x)  # exact posterior of the model that ignores the threshold
    naive_t = stats.t(naive.nu, loc=naive.mu, scale=naive.sigma / math.sqrt(naive.kappa))
    assert naive_t.ppf(0.025) > mu + 0.5  # biased upward: the whole 95% interval is far above the truth

    result, warned = _fit_quietly(data, frequency=None, severity_prior=prior, seed=7)
    assert not warned
    mu_draws, sigma_draws = result.draws("mu"), result.draws("sigma")
    lo, hi = np.quantile(mu_draws, [0.025, 0.975])
    assert lo < mu < hi
    lo_s, hi_s = np.quantile(sigma_draws, [0.025, 0.975])
    assert lo_s < sigma < hi_s
    # In units of each posterior's own uncertainty: the naive fit is far off, the truncated one is not.
    assert abs(mu_draws.mean() - mu) < 2.5 * mu_draws.std()
    assert abs(naive.mu - mu) > 10 * naive_t.std()


@pytest.mark.slow
def test_hierarchical_fit_recovers_the_generating_parameters(example_data):
    truth = _truth()
    result, warned = _fit_quietly(example_data, rate_prior=RATE, severity_prior=SEVERITY, pooling="unit", seed=11)
    assert not warned, [str(w.message) for w in warned]
    assert result.groups == example_data.units
    for unit in example_data.units:
        lo, hi = np.quantile(result.draws("rate", unit), [0.025, 0.975])
        assert lo < truth["reported_rate"][unit] < hi, (unit, lo, hi)
        lo, hi = np.quantile(result.draws("mu", unit), [0.025, 0.975])
        assert lo < truth["mu"][unit] < hi, (unit, lo, hi)
    lo, hi = np.quantile(result.draws("sigma"), [0.025, 0.975])
    assert lo < truth["sigma"] < hi
    # Partial pooling: the unit with the fewest incidents is shrunk toward the others.
    few = "Corporate IT"
    raw = np.log(example_data.losses(few)).mean()
    pooled = result.draws("mu", few).mean()
    assert abs(pooled - result.draws("mu_population").mean()) < abs(raw - result.draws("mu_population").mean())

    # The company total: one scenario per unit sharing each year's posterior draw.
    register = bayes.to_register(result)
    assert register.names == example_data.units
    sim = rb.simulate(register, years=100_000, seed=2)
    expected = sum(result.expected_annual_loss(u) for u in example_data.units)
    assert within(sim.ale(), expected, sim.ale_se())
    grown = bayes.to_register(result, names=lambda u: f"{u} (2025)", exposure={u: 1.1 for u in example_data.units})
    assert grown.names[0] == "Corporate IT (2025)"
    assert grown[0].loss_event_frequency.mean() == pytest.approx(1.1 * register[0].loss_event_frequency.mean())
    with pytest.raises(RiskBudgetError, match=r"exposure has no entry for group 'Corporate IT'"):
        bayes.to_register(result, exposure={})
    with pytest.raises(RiskBudgetError, match=r"pick one with group=\.\.\., or build them all with bayes\.to_register"):
        bayes.to_scenario(result, "x")
    with pytest.raises(KeyError, match=r"no group 'Mars'"):
        result.draws("mu", "Mars")


@pytest.mark.slow
def test_negative_binomial_with_gpd_tail_and_ground_up_losses(example_data):
    tail = bayes.TailPrior(threshold=200_000, shape=0.3, shape_sd=0.2, scale=150_000)
    result, warned = _fit_quietly(
        example_data,
        rate_prior=bayes.rate_prior(rate=8.0, effective_years=0.5),
        severity_prior=SEVERITY,
        frequency="negative_binomial",
        severity="lognormal_gpd",
        tail=tail,
        draws=1000,
        seed=3,
    )
    assert not warned, [str(w.message) for w in warned]
    assert {"rate", "rate_cv", "mu", "sigma", "tail_shape", "tail_scale"} <= set(result.summary.index)
    assert 0 < result.draws("tail_shape").max() < 0.95
    for losses in ("reported", "ground_up"):
        s = bayes.to_scenario(result, losses, losses=losses, exposure=1.1)
        sim = rb.simulate(s, years=200_000, seed=6)
        assert within(sim.ale(), result.expected_annual_loss(exposure=1.1, losses=losses), sim.ale_se()), losses
    reported = result.expected_annual_loss(losses="reported")
    assert result.expected_annual_loss(losses="ground_up") > reported


@pytest.mark.slow
def test_same_seed_same_posterior_and_quiet_output(example_data, capfd):
    kwargs = dict(rate_prior=RATE, frequency="poisson", severity=None, draws=200, tune=200, progress=False)
    logger = logging.getLogger("pymc")
    level = logger.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = bayes.fit(example_data, seed=5, **kwargs)
        b = bayes.fit(example_data, seed=5, **kwargs)
        c = bayes.fit(example_data, seed=6, **kwargs)
        one_core = bayes.fit(example_data, seed=5, cores=1, **kwargs)
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out, err)
    assert logger.level == level
    np.testing.assert_array_equal(a.draws("rate"), b.draws("rate"))
    np.testing.assert_array_equal(a.draws("rate"), one_core.draws("rate"))  # chains in 2 processes or 1
    assert not np.array_equal(a.draws("rate"), c.draws("rate"))
    assert a.seed == 5


@pytest.mark.slow
def test_poor_convergence_warns_with_a_numbered_checklist(example_data):
    with pytest.warns(ConvergenceWarning, match=r"(?s)may not have converged \(.*min bulk ESS \d+ < 400.*Try:\n  1\. .*\n  2\. "):
        result = bayes.fit(example_data, rate_prior=RATE, severity_prior=SEVERITY, draws=40, tune=15, seed=1, progress=False)
    assert not result.diagnostics.ok
    assert "NOT converged" in repr(result)
    assert result.diagnostics.advice().startswith("  1. ")


@pytest.mark.slow
def test_frequency_only_fit_pooled_by_category_combines_with_a_given_severity(example_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        freq = bayes.fit(example_data, rate_prior=RATE, severity=None, pooling="category", draws=300, tune=300,
                         seed=2, progress=False)
    assert freq.groups == example_data.categories
    counts = example_data.frame["category"].value_counts()
    means = {c: freq.draws("rate", c).mean() for c in freq.groups}
    assert means["bec_fraud"] > means["web_application"]  # 15 against 2 incidents
    assert counts["bec_fraud"] == 15 and counts["web_application"] == 2
    with pytest.raises(RiskBudgetError, match=r"the fit has no severity model; pass severity="):
        bayes.to_scenario(freq, "x", group="ransomware")
    s = freq.to_scenario("Ransomware", group="ransomware", severity=rb.LogNormal.from_ci(200_000, 5_000_000))
    assert isinstance(s.loss_event_frequency, PosteriorRate) and s.category == "ransomware"
    sim = rb.simulate(s, years=100_000, seed=1)
    c = sim.counts["Ransomware"].to_numpy()
    assert within(c.mean(), freq.draws("rate", "ransomware").mean(), c.std() / math.sqrt(c.size))
    with pytest.raises(RiskBudgetError, match=r"the fit has no severity model"):
        freq.expected_annual_loss("ransomware")


def test_severity_needs_losses(tmp_path):
    empty = bayes.read_incidents(pd.DataFrame(columns=["date", "unit", "loss", "category"]), start="2023-01-01",
                                 end="2023-12-31", units=["Ops"])
    with pytest.raises(InvalidParameterError, match=r"has no incidents, so there are no losses to fit a severity to"):
        bayes.fit(empty, rate_prior=RATE, severity_prior=SEVERITY)
