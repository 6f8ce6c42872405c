"""Risk metrics on arrays: definitions, standard errors, LEC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import riskbudget as rb
from riskbudget import metrics


def test_definitions_on_a_small_array():
    x = np.array([0, 0, 0, 0, 0, 0, 10, 20, 30, 100], dtype=float)
    assert metrics.ale(x) == 16.0
    assert metrics.ale_se(x) == pytest.approx(x.std(ddof=1) / math.sqrt(10))
    assert metrics.var(x, 0.8) == pytest.approx(np.quantile(x, 0.8))
    assert metrics.tvar(x, 0.8) == pytest.approx((30 + 100) / 2)  # the worst 20% of ten years
    assert metrics.tvar(x, 0.75) == pytest.approx((100 + 30 + 0.5 * 20) / 2.5)  # half a year at the quantile
    assert metrics.exceedance(x, 0) == 0.4
    assert metrics.exceedance(x, 20) == 0.2
    np.testing.assert_allclose(metrics.exceedance(x, [0, 20, 100]), [0.4, 0.2, 0.0])
    assert metrics.return_period(0.2) == pytest.approx(5.0)
    assert metrics.return_period(0.0) == math.inf


def test_tvar_is_the_rockafellar_uryasev_minimum():
    rng = np.random.default_rng(1)
    x = rng.lognormal(0, 1, 5_000)
    q = 0.9
    grid = np.linspace(np.quantile(x, 0.85), np.quantile(x, 0.95), 2001)
    ru = min(a + np.maximum(x - a, 0).mean() / (1 - q) for a in grid)
    assert metrics.tvar(x, q) == pytest.approx(ru, rel=1e-4)
    assert metrics.expected_shortfall(x, q) == metrics.tvar(x, q)


def test_tvar_equals_the_mean_at_or_above_var_for_continuous_losses():
    x = rb.LogNormal(0, 1).sample(10_000, 4)
    q = 0.95
    # With n q an integer and no ties, the worst 5% of years are exactly those at or above the lower quantile.
    lower = np.sort(x)[int(len(x) * q) - 1 + 1]
    assert metrics.tvar(x, q) == pytest.approx(x[x >= lower].mean(), rel=1e-12)


def test_tvar_counts_only_the_worst_years_when_most_years_have_no_loss():
    x = np.r_[np.zeros(97), [1.0, 2.0, 3.0]]  # 97% of years have no loss: VaR95 = 0
    assert metrics.var(x, 0.95) == 0.0
    assert metrics.tvar(x, 0.95) == pytest.approx(6.0 / 5)  # worst 5 years: 3, 2, 1, 0, 0 - not the ALE
    w = metrics.tail_weights(x, 0.95)
    assert w.sum() == pytest.approx(5.0)
    assert np.all(w[97:] == 1.0) and np.allclose(w[:97], 2 / 97)


def test_lognormal_quantiles_and_tail_mean_against_closed_forms():
    mu, sigma, n = 1.0, 0.8, 400_000
    x = rb.LogNormal(mu, sigma).sample(n, 2)
    q = 0.95
    z = 1.6448536269514722
    var_exact = math.exp(mu + sigma * z)
    from scipy.special import ndtr

    tvar_exact = math.exp(mu + sigma**2 / 2) * ndtr(sigma - z) / (1 - q)
    assert abs(metrics.var(x, q) - var_exact) <= 4 * metrics.var_se(x, q)
    assert abs(metrics.tvar(x, q) - tvar_exact) <= 4 * metrics.tvar_se(x, q)


def test_standard_errors_match_the_spread_across_replications():
    d = rb.LogNormal(0, 1)
    reps = np.array([[metrics.var(d.sample(2_000, s), 0.95), metrics.tvar(d.sample(2_000, s), 0.95)] for s in range(300)])
    x = d.sample(2_000, 999)
    assert metrics.var_se(x, 0.95) == pytest.approx(reps[:, 0].std(), rel=0.35)
    assert metrics.tvar_se(x, 0.95) == pytest.approx(reps[:, 1].std(), rel=0.35)


@pytest.mark.parametrize("n,q", [(1_000, 0.99), (5_000, 0.99), (20_000, 0.999), (2_000, 0.95)])
def test_var_se_is_calibrated_with_few_tail_years(n, q):
    """The mean reported VaR standard error over 400 samples against the spread of VaR itself.

    The ratio's own Monte Carlo error is about 4%; the old rank-rounded interval gave 1.47 at n=1,000, q=0.99
    and 1.20-1.25 with 20-50 tail years.
    """
    rng = np.random.default_rng(11)
    samples = rng.lognormal(0.0, 1.0, size=(400, n))
    v = np.array([metrics.var(x, q) for x in samples])
    se = np.array([metrics.var_se(x, q) for x in samples])
    assert se.mean() / v.std(ddof=1) == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("q", [0.95, 0.99])
def test_tail_contribution_se_is_calibrated_for_the_scenario_that_dominates_the_tail(q):
    """Two independent scenarios (means 1 and 5): the SE of each one's Euler TVaR contribution against its spread.

    With the tail held fixed the larger scenario's SE was 0.71-0.73 of the spread; 300 samples leave the ratio
    a Monte Carlo error of about 4%.
    """
    rng = np.random.default_rng(21)
    parts, ses = [], []
    for _ in range(300):
        x = np.column_stack([rng.exponential(1.0, 10_000), rng.exponential(5.0, 10_000)])
        total = x.sum(axis=1)
        w, near = metrics.tail_weights(total, q), metrics.var_weights(total, q)
        parts.append(w @ x / (total.size * (1 - q)))
        ses.append([metrics.tail_contribution_se(x[:, j], w, near, q) for j in range(2)])
    ratio = np.mean(ses, axis=0) / np.std(parts, axis=0, ddof=1)
    assert ratio == pytest.approx([1.0, 1.0], abs=0.15)


def test_var_se_needs_two_years():
    assert math.isnan(metrics.var_se([5.0], 0.95))
    assert metrics.var_se([1.0, 3.0], 0.5) > 0


def test_describe_matches_the_single_metric_functions():
    x = rb.LogNormal(10, 1.2).sample(10_001, 3)
    d = metrics.describe(x)
    assert d["ale"] == pytest.approx(metrics.ale(x))
    assert d["p50"] == pytest.approx(np.quantile(x, 0.5))
    assert d["p99"] == pytest.approx(np.quantile(x, 0.99))
    assert d["var95"] == pytest.approx(metrics.var(x, 0.95))
    assert d["tvar95"] == pytest.approx(metrics.tvar(x, 0.95))
    assert d["tvar95_se"] == pytest.approx(metrics.tvar_se(x, 0.95))
    assert d["var95_se"] == pytest.approx(metrics.var_se(x, 0.95))


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(2, 300), elements=st.floats(0, 1e9)), st.floats(0.01, 0.99))
def test_properties_on_any_sample(x, q):
    assert metrics.tvar(x, q) >= metrics.var(x, q) - 1e-6
    lec = metrics.lec(x)
    assert np.all(np.diff(lec["exceedance"].to_numpy()) <= 0)
    assert np.all((lec["exceedance"] >= 0) & (lec["exceedance"] <= 1))


def test_lec_on_given_losses_and_its_standard_error():
    x = np.arange(1, 101, dtype=float)
    lec = metrics.lec(x, losses=[50, 10, 90])
    np.testing.assert_allclose(lec["loss"], [10, 50, 90])
    np.testing.assert_allclose(lec["exceedance"], [0.9, 0.5, 0.1])
    np.testing.assert_allclose(lec["exceedance_se"], np.sqrt(np.array([0.09, 0.25, 0.09]) / 100))
    np.testing.assert_allclose(lec["return_period_years"], [1 / 0.9, 2, 10])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: metrics.var([1, 2], 1.0), r"quantile level q \(1.0\) must lie in \(0, 1\)"),
        (lambda: metrics.ale([]), "got an empty array"),
        (lambda: metrics.ale([[1, 2]]), "one-dimensional"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        call()


def test_euler_contributions_add_up_and_match_the_gaussian_closed_form():
    """For jointly normal parts, the VaR_q contribution is mu_j + z_q Cov(X_j, S) / sd(S) (Tasche 1999)."""
    from scipy import stats

    rng = np.random.default_rng(11)
    n = 400_000
    cov = np.array([[4.0, 1.0, 0.0], [1.0, 9.0, 1.5], [0.0, 1.5, 1.0]])
    mu = np.array([10.0, 20.0, 5.0])
    x = rng.multivariate_normal(mu, cov, n)
    q = 0.95
    parts = metrics.euler_contributions(x, q)
    total = x.sum(axis=1)
    assert parts["ale"].sum() == pytest.approx(total.mean(), rel=1e-12)
    assert parts["var"].sum() == pytest.approx(metrics.var(total, q), rel=1e-12)
    assert parts["tvar"].sum() == pytest.approx(metrics.tvar(total, q), rel=1e-9)
    sd = math.sqrt(cov.sum())
    z = stats.norm.ppf(q)
    beta = cov.sum(axis=1) / sd
    np.testing.assert_allclose(parts["var"], mu + z * beta, rtol=0.02)
    # TVaR: mu_j + beta_j phi(z) / (1 - q)
    np.testing.assert_allclose(parts["tvar"], mu + beta * stats.norm.pdf(z) / (1 - q), rtol=0.01)


def test_var_weights_sit_on_the_years_nearest_the_quantile():
    x = np.arange(1000.0)
    w = metrics.var_weights(x, 0.9, window=10)
    chosen = np.flatnonzero(w)
    assert chosen.size == 10 and chosen.min() >= 890 and chosen.max() <= 905 and w.sum() == 10


def test_weighted_mean_se_with_equal_weights_is_the_standard_error_of_the_mean():
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    w = np.ones_like(x)
    assert metrics.weighted_mean_se(x, w, float(x.mean()), float(w.sum())) == pytest.approx(
        x.std(ddof=1) / np.sqrt(x.size), rel=1e-12)
    assert np.isnan(metrics.weighted_mean_se(x[:1], w[:1], float(x[0]), 1.0))
