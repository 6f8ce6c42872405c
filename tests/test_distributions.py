"""Calibrated estimates: closed forms, agreement with scipy.stats, sampling, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

import riskbudget as rb
from riskbudget.distributions import Z90, _beta_inverse, from_dict

FAMILIES = [
    rb.PERT(0.5, 2.0, 8.0),
    rb.PERT(50_000, 200_000, 2_000_000),
    rb.PERT(0, 0, 1),  # mode at the lower bound (alpha = 1)
    rb.PERT(1, 3, 11, lam=2.5),
    rb.LogNormal.from_ci(50_000, 2_000_000),
    rb.LogNormal(1.0, 0.5),
    rb.Triangular(1, 2, 5),
    rb.Triangular(0, 0, 1),
    rb.Uniform(-2, 3),
    rb.Constant(4.5),
    rb.Beta(2, 5),
    rb.Beta(0.5, 0.5),  # U-shaped: sampled by numpy's generator
    rb.Gamma(3.0, 2.0),
    rb.Gamma(0.4, 1.5),
]
IDS = [str(d) for d in FAMILIES]


# --------------------------------------------------------------------------- #
# Contract: every family agrees with scipy.stats
# --------------------------------------------------------------------------- #
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's point-mass kurtosis divides by zero
@pytest.mark.parametrize("dist", FAMILIES, ids=IDS)
def test_moments_match_scipy(dist):
    ref = dist.to_scipy()
    assert dist.mean() == pytest.approx(float(ref.mean()), rel=1e-12, abs=1e-12)
    assert dist.var() == pytest.approx(float(ref.var()), rel=1e-10, abs=1e-12)
    assert dist.std() == pytest.approx(math.sqrt(float(ref.var())), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("dist", FAMILIES, ids=IDS)
def test_ppf_and_cdf_match_scipy(dist):
    ref = dist.to_scipy()
    q = np.array([0.001, 0.05, 0.25, 0.5, 0.75, 0.95, 0.999])
    np.testing.assert_allclose(dist.ppf(q), ref.ppf(q), rtol=1e-9, atol=1e-12)
    low, high = dist.support()
    finite_hi = high if math.isfinite(high) else float(ref.ppf(0.999))
    x = np.linspace(low, finite_hi, 11)
    np.testing.assert_allclose(dist.cdf(x), ref.cdf(x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dist", FAMILIES, ids=IDS)
def test_sample_moments_within_standard_error(dist):
    n = 200_000
    x = dist.sample(n, np.random.default_rng(7))
    assert x.shape == (n,)
    assert x.dtype == np.float64
    if dist.var() == 0:
        assert np.all(x == dist.mean())
        return
    se = math.sqrt(dist.var() / n)
    assert abs(x.mean() - dist.mean()) <= 4 * se
    low, high = dist.support()
    assert x.min() >= low and x.max() <= high


@pytest.mark.parametrize("dist", [d for d in FAMILIES if d.var() > 0], ids=[i for d, i in zip(FAMILIES, IDS) if d.var() > 0])
def test_sample_distribution_matches_scipy_ks(dist):
    n = 50_000
    x = dist.sample(n, np.random.default_rng(11))
    d_stat = stats.kstest(x, dist.to_scipy().cdf).statistic
    # 1.95 / sqrt(n) is the 0.1% critical value of the Kolmogorov-Smirnov statistic.
    assert d_stat < 1.95 / math.sqrt(n)


@pytest.mark.parametrize("dist", FAMILIES, ids=IDS)
def test_to_dict_round_trip(dist):
    data = dist.to_dict()
    assert data["family"] == dist.family
    back = from_dict(data)
    assert back == dist
    assert type(back) is type(dist)


@pytest.mark.parametrize("dist", FAMILIES, ids=IDS)
def test_sampling_is_sequential_so_chunking_never_changes_draws(dist):
    whole = dist.sample(1000, np.random.default_rng(3))
    g = np.random.default_rng(3)
    parts = np.concatenate([dist.sample(n, g) for n in (1, 0, 250, 333, 416)])
    np.testing.assert_array_equal(whole, parts)


@pytest.mark.parametrize("dist", FAMILIES, ids=IDS)
def test_same_seed_same_draws(dist):
    np.testing.assert_array_equal(dist.sample(100, 5), dist.sample(100, 5))


# --------------------------------------------------------------------------- #
# Closed forms
# --------------------------------------------------------------------------- #
def test_pert_shape_parameters_and_mean_are_the_standard_modified_pert():
    low, mode, high, lam = 10.0, 30.0, 110.0, 4.0
    d = rb.PERT(low, mode, high, lam)
    assert d.alpha == pytest.approx(1 + lam * (mode - low) / (high - low))
    assert d.beta == pytest.approx(1 + lam * (high - mode) / (high - low))
    assert d.mean() == pytest.approx((low + lam * mode + high) / (lam + 2))
    a, b = d.alpha, d.beta
    assert d.var() == pytest.approx((high - low) ** 2 * a * b / ((a + b) ** 2 * (a + b + 1)))
    assert d.ppf(0.3) == pytest.approx(low + (high - low) * special.betaincinv(a, b, 0.3))


def test_pert_lambda_changes_concentration_not_range():
    wide, tight = rb.PERT(0, 2, 10, lam=2), rb.PERT(0, 2, 10, lam=8)
    assert tight.var() < wide.var()
    assert wide.support() == tight.support() == (0, 10)
    assert tight.mean() == pytest.approx((0 + 8 * 2 + 10) / 10)


def test_lognormal_from_90_percent_interval():
    low, high = 50_000.0, 2_000_000.0
    d = rb.LogNormal.from_ci(low, high)
    assert d.mu == pytest.approx((math.log(low) + math.log(high)) / 2)
    assert d.sigma == pytest.approx((math.log(high) - math.log(low)) / (2 * 1.6448536269514722))
    assert d.ppf(0.05) == pytest.approx(low, rel=1e-12)
    assert d.ppf(0.95) == pytest.approx(high, rel=1e-12)
    assert d.mean() == pytest.approx(math.exp(d.mu + d.sigma**2 / 2))
    assert d.var() == pytest.approx((math.exp(d.sigma**2) - 1) * math.exp(2 * d.mu + d.sigma**2))
    assert Z90 == pytest.approx(stats.norm.ppf(0.95), rel=1e-14)


def test_lognormal_other_levels_put_that_mass_inside_the_interval():
    d = rb.LogNormal.from_ci(10, 1000, level=0.8)
    assert d.cdf(1000) - d.cdf(10) == pytest.approx(0.8, abs=1e-12)
    assert d.interval(0.8) == pytest.approx((10, 1000), rel=1e-12)


def test_raising_the_low_bound_of_a_wide_interval_can_lower_the_mean():
    # The surprise DOMAIN.md warns about: mean = exp(mu + sigma^2 / 2) grows fast with width.
    assert rb.LogNormal.from_ci(1e3, 1e7).mean() > rb.LogNormal.from_ci(1e4, 1e7).mean()


def test_lognormal_from_median_and_95th_percentile():
    d = rb.LogNormal.from_median_p95(200_000, 20_000_000)
    assert d.median() == pytest.approx(200_000)
    assert d.ppf(0.95) == pytest.approx(20_000_000, rel=1e-12)


def test_gamma_mean_and_variance_use_rate():
    d = rb.Gamma(3.0, 2.0)
    assert d.mean() == 1.5 and d.var() == 0.75


def test_triangular_closed_forms():
    d = rb.Triangular(1, 2, 6)
    assert d.mean() == pytest.approx(3.0)
    assert d.var() == pytest.approx((1 + 4 + 36 - 2 - 6 - 12) / 18)
    assert d.ppf(d.cdf(1.5)) == pytest.approx(1.5)
    # far from 0 the expanded form cancelled to a negative variance (-7.5e6 here); shifting changes nothing
    far = rb.Triangular(1e12, 1e12 + 1, 1e12 + 3)
    assert far.var() == pytest.approx(rb.Triangular(0, 1, 3).var(), rel=1e-12) == pytest.approx(7 / 18)


def test_scaled_multiplies_every_draw():
    for d in (rb.PERT(1, 2, 4), rb.LogNormal.from_ci(1, 10), rb.Triangular(1, 2, 4), rb.Uniform(1, 2), rb.Constant(3), rb.Gamma(2, 1)):
        s = d.scaled(2.5)
        assert type(s) is type(d)
        assert s.mean() == pytest.approx(2.5 * d.mean())
        assert s.var() == pytest.approx(6.25 * d.var())


# --------------------------------------------------------------------------- #
# The fast quantile function used for sampling
# --------------------------------------------------------------------------- #
@settings(max_examples=40, deadline=None)
@given(a=st.floats(1.0, 60.0), b=st.floats(1.0, 60.0))
def test_fast_beta_quantile_u_error_is_tiny(a, b):
    f = _beta_inverse(a, b)
    rng = np.random.default_rng(0)
    u = np.concatenate(
        [rng.random(20_000), rng.random(2_000) * 2**-6, 1 - rng.random(2_000) * 2**-6, rng.random(200) * 1e-12,
         [0.0, 2**-53, 0.5, 2**-6, 1 - 2**-6, 1 - 2**-53]]
    )
    x = f(u)
    assert np.all((x >= 0) & (x <= 1))
    assert np.all(np.diff(x[np.argsort(u)]) >= -1e-15)  # monotone
    assert np.max(np.abs(special.betainc(a, b, x) - u)) < 5e-11


@pytest.mark.parametrize(("a", "b"), [(1.1875, 1.1875), (1.0, 1.0), (5.0, 1.0), (1.0, 5.0), (1.0 + 1e-12, 5.0), (5.0, 1.0 + 1e-12)])
def test_fast_beta_quantile_at_awkward_shapes_and_cell_edges(a, b):
    f = _beta_inverse(a, b)
    u = np.array([0.0, 2**-53, 2**-6, 0.5, 1 - 2**-6, 1 - 2**-53])
    x = f(u)
    np.testing.assert_allclose(special.betainc(a, b, x), u, atol=5e-11)
    assert rb.PERT(0, 5, 10).sample(1, np.random.default_rng(0)).shape == (1,)


def test_inversion_sampling_is_monotone_in_the_estimate():
    """Common random numbers: the same seed gives larger draws for a larger estimate."""
    small = rb.PERT(10, 20, 50).sample(10_000, 1)
    large = rb.PERT(10, 30, 50).sample(10_000, 1)
    assert np.all(large >= small)


# --------------------------------------------------------------------------- #
# Errors name the parameter, the value and the rule
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: rb.PERT(5, 3, 1), r"PERT: low \(5\) must not exceed high \(1\); swapped\?"),
        (lambda: rb.PERT(1, 7, 5), r"PERT: mode \(7\) must lie in \[low, high\] = \[1, 5\]"),
        (lambda: rb.PERT(2, 2, 2), r"PERT: low and high are both 2, but PERT needs a spread.*Constant\(2\)"),
        (lambda: rb.PERT(1, 2, float("nan")), r"PERT: high \(nan\) must be finite"),
        (lambda: rb.PERT(1, 2, float("inf")), r"PERT: high \(inf\) must be finite"),
        (lambda: rb.PERT(1, 2, 3, lam=0), r"PERT: lam \(0\) must be > 0"),
        (lambda: rb.PERT("a", 2, 3), r"PERT: low \('a'\) must be a number"),
        (lambda: rb.LogNormal.from_ci(0, 10), r"low \(0\) must be > 0"),
        (lambda: rb.LogNormal.from_ci(-5, 10), r"low \(-5\) must be > 0"),
        (lambda: rb.LogNormal.from_ci(10, 1), r"low \(10\) must not exceed high \(1\)"),
        (lambda: rb.LogNormal.from_ci(10, 10), r"low and high are both 10"),
        (lambda: rb.LogNormal.from_ci(1, 10, level=1.0), r"level \(1\) must lie in \(0, 1\)"),
        (lambda: rb.LogNormal.from_ci(1, 10, level=0), r"level \(0\) must lie in \(0, 1\)"),
        (lambda: rb.LogNormal(0, -1), r"LogNormal: sigma \(-1\) must be > 0"),
        (lambda: rb.LogNormal.from_median_p95(10, 5), r"p95 \(5\) must exceed the median \(10\)"),
        (lambda: rb.Triangular(3, 1, 2), r"Triangular: low \(3\) must not exceed high \(2\)"),
        (lambda: rb.Triangular(1, 3, 2), r"Triangular: mode \(3\) must lie in \[low, high\]"),
        (lambda: rb.Uniform(1, 1), r"Uniform: low and high are both 1"),
        (lambda: rb.Constant(float("nan")), r"Constant: value \(nan\) must be finite"),
        (lambda: rb.Beta(0, 1), r"Beta: a \(0\) must be > 0"),
        (lambda: rb.Gamma(1, -2), r"Gamma: rate \(-2\) must be > 0"),
        (lambda: from_dict({"family": "weibull"}), r"unknown distribution family 'weibull'"),
        (lambda: from_dict({"family": "pert", "low": 1, "mode": 2, "hi": 3}), r"unknown parameter\(s\) \['hi'\]"),
        (lambda: rb.PERT(1, 2, 3).interval(1.5), r"level \(1.5\) must lie in \(0, 1\)"),
        (lambda: rb.PERT(1, 2, 3).sample(-1), r"n \(-1\) must be >= 0"),
    ],
)
def test_bad_parameters_raise_clear_errors(build, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        build()


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        rb.PERT(3, 2, 1)


def test_from_dict_accepts_numbers_and_lognormal_intervals():
    assert from_dict(2) == rb.Constant(2)
    assert from_dict({"family": "lognormal", "low": 10, "high": 1000}) == rb.LogNormal.from_ci(10, 1000)
    assert from_dict({"family": "lognormal", "mu": 1.0, "sigma": 2.0}) == rb.LogNormal(1.0, 2.0)


def test_lognormal_from_ci_keeps_the_analysts_numbers_for_files():
    d = rb.LogNormal.from_ci(50_000, 2_000_000)
    assert d.to_dict() == {"family": "lognormal", "low": 50_000.0, "high": 2_000_000.0, "level": 0.9}
    assert str(d) == "LogNormal.from_ci(50000, 2e+06, level=0.9)"


def test_triangular_draws_stay_inside_a_subnormal_support():
    """Found by the hostile-input corpus: a width of 3e-162 once rounded a draw below ``low``."""
    import numpy as np

    t = rb.Triangular(0.0, 0.0, 3.139963555745201e-162)
    x = t.ppf(np.linspace(0.0, 1.0, 1001))
    assert (x >= 0.0).all() and (x <= 3.139963555745201e-162).all()


@pytest.mark.parametrize("bad", [-1e-12, 1.0000001, float("nan"), float("inf")])
@pytest.mark.parametrize("dist", [rb.PERT(1, 2, 5), rb.LogNormal.from_ci(1, 10), rb.Constant(3.0)])
def test_from_uniform_refuses_values_that_are_not_probabilities(dist, bad):
    u = np.array([0.0, 0.5, bad, 1.0])
    with pytest.raises(rb.InvalidParameterError, match=r"u\[2\] = .* must be in \[0, 1\]"):
        dist.from_uniform(u)
    assert np.all(np.isfinite(dist.from_uniform(np.array([0.0, 0.5, 0.999]))))
