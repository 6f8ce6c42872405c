"""Limits that hold on fresh years: margins from each limit's standard error, and a confirmation on another sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import riskbudget as rb
from riskbudget.optimization import optimize, precompute
from riskbudget.optimization.robustness import chance_to_hold, confirm, margin_z, tightened


def test_the_margin_gives_the_requested_chance_on_a_fresh_sample():
    # V_fresh - V_sample ~ N(0, 2 se^2): a margin of z se holds with probability Phi(z / sqrt 2)
    for confidence in (0.5, 0.8, 0.95, 0.99):
        z = margin_z(confidence)
        assert stats.norm.cdf(z / math.sqrt(2)) == pytest.approx(confidence, rel=1e-12)
    assert margin_z(0.5) == 0.0
    with pytest.raises(rb.RiskBudgetError, match=r"confidence \(0.3\) must lie in \[0.5, 1\)"):
        margin_z(0.3)


def test_chance_to_hold_is_calibrated_against_a_simulation_of_two_samples():
    """Among plans told "c% chance", about c% hold on a fresh sample (true values spread widely, one se each)."""
    rng = np.random.default_rng(4)
    se, limit, n = 1.0, 10.0, 200_000
    true = rng.uniform(0.0, 20.0, n)  # wide against se: the chance is a predictive under a flat prior
    sample = rng.normal(true, se)
    fresh = rng.normal(true, se)
    chance = np.array([chance_to_hold(v, se, limit) for v in sample])
    holds = fresh <= limit
    for lo, hi in ((0.05, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.95)):
        sel = (chance >= lo) & (chance < hi)
        assert sel.sum() > 5_000
        # within 4 binomial standard errors
        p = holds[sel].mean()
        assert abs(p - chance[sel].mean()) < 4 * math.sqrt(p * (1 - p) / sel.sum()) + 0.005, (lo, hi, p)
    assert chance_to_hold(5.0, 0.0, 6.0) == 1.0 and chance_to_hold(7.0, 0.0, 6.0) == 0.0


def test_tightened_lowers_each_limit_by_z_standard_errors():
    x = np.random.default_rng(1).lognormal(14, 1.5, 20_000)
    appetite = rb.Appetite(var95=20e6, tvar99=60e6, exceedance={50e6: 0.01})
    tight, margins = tightened(appetite, x, 0.95)
    z = margin_z(0.95)
    for before, after in zip(appetite.limits, tight.limits):
        assert after.kind == before.kind and after.param == before.param
        assert after.limit == pytest.approx(before.limit - z * before.standard_error(x), rel=1e-12)
        assert margins[before.label] == pytest.approx(z * before.standard_error(x), rel=1e-12)
    assert tight.tolerance is appetite.tolerance


@pytest.fixture(scope="module")
def problem():
    ds = rb.datasets
    return precompute(ds.load_register(), ds.load_controls(), ds.load_projects(), years=4_000, seed=7, progress=False)


def test_confirm_reports_each_limit_on_fresh_years(problem):
    appetite = rb.Appetite(tvar95=22e6, var95=12e6)
    plan = optimize(problem, budget=6e6, appetite=appetite, progress=False)
    rob = confirm(plan, appetite=appetite)
    assert plan.robustness is not None and plan.robustness.to_dict() == rob.to_dict()  # optimize attaches it
    assert rob.years == 4_000 and rob.seed == 8
    fresh = rb.simulate(plan.result.register, years=4_000, seed=8, keep_counts=False).annual_loss.to_numpy()
    for check, lim in zip(rob.checks, appetite.limits):
        assert check.label == lim.label
        assert check.fresh == pytest.approx(lim.value(fresh), rel=1e-12)
        assert check.in_sample == pytest.approx(lim.value(plan.result.annual_loss.to_numpy()), rel=1e-12)
        assert 0.0 <= check.chance <= 1.0
        assert check.holds_fresh == (check.fresh <= lim.limit)
    doc = rob.to_dict()
    assert sorted(d["limit"] for d in doc["limits"]) == ["TVaR95", "VaR95"]
    assert "chance it holds on another fresh sample" in rob.describe()


@pytest.fixture(scope="module")
def margin_plans(problem):
    # the unconstrained optimum's TVaR95 is $22.1M on this sample: the limit binds only with its margin ($3.1M),
    # which keeps the solves to a few cut rounds (a limit binding on both is solved alike, in more rounds)
    appetite = rb.Appetite(tvar95=24e6)
    bare = optimize(problem, budget=6e6, appetite=appetite, progress=False)
    robust = optimize(problem, budget=6e6, appetite=appetite, confidence=0.95, progress=False)
    return appetite, bare, robust


def test_confidence_meets_each_limit_with_its_own_margin_on_the_sample(problem, margin_plans):
    appetite, bare, robust = margin_plans
    x = problem.total_losses(robust.funding)
    z = margin_z(0.95)
    assert robust.confidence == 0.95 and set(robust.margins) == {"TVaR95"}
    # the program met the limit less a margin (of the plan before it), and the plan meets it less its own margin
    own = z * appetite.limits[0].standard_error(x)
    assert metrics_tvar(x) <= 24e6 - max(own, robust.margins["TVaR95"]) + 1e-6
    settled = abs(robust.margins["TVaR95"] - own) <= 0.05 * robust.margins["TVaR95"]
    assert settled != any("earlier candidate plan" in n for n in robust.notes)
    assert robust.optimised_for.limits[0].limit == pytest.approx(24e6 - robust.margins["TVaR95"], rel=1e-12)
    # the check, the reasons and the text refer to the limits as stated, and say where margins were used
    assert robust.appetite.table["threshold"].tolist() == [24e6] and robust.appetite.ok
    assert any("(with its margin)" in ", ".join(r.limits) for r in robust.reasons if r.reason == "an appetite limit needs it")
    assert "Margins aiming at a 95.0% chance" in robust.describe()
    assert robust.to_dict()["margins"] == {"TVaR95": pytest.approx(robust.margins["TVaR95"])}
    # a tighter program cannot do better on the sample
    assert robust.expected_net_value <= bare.expected_net_value + 1e-6
    assert not bare.margins and bare.confidence is None and bare.optimised_for is None


def metrics_tvar(x):
    return rb.metrics.tvar(x, 0.95)


def test_the_appetite_holds_on_fresh_samples(margin_plans):
    """The fresh-sample test: the plan optimised with margins holds its limit on every one of 20 fresh samples.

    Each fresh sample has as many years as the plan's and its own seed (NumPy Monte Carlo: the same on every
    machine). The plan optimised on the sample alone has a lower estimated chance on fresh years.
    """
    appetite, bare, robust = margin_plans
    fresh = [rb.simulate(robust.result.register, years=robust.years, seed=s, keep_counts=False).annual_loss.to_numpy()
             for s in range(100, 120)]
    assert all(appetite.holds(x) for x in fresh)
    assert robust.robustness.ok and robust.robustness.checks[0].chance >= 0.95
    assert bare.robustness.checks[0].chance < robust.robustness.checks[0].chance


def test_confidence_is_checked():
    with pytest.raises(rb.RiskBudgetError, match=r"confidence \(1.2\) must be a number in \[0.5, 1\)"):
        rb.optimization.SolverOptions(confidence=1.2)
    assert rb.optimization.SolverOptions(confidence=0.5).margin is False


# --------------------------------------------------------------------------- #
# P(loss > x): a count of years, whose binomial standard error is 0 with no year above x
# --------------------------------------------------------------------------- #
def test_exceedance_chance_is_the_beta_binomial_predictive_of_the_count():
    from scipy import special

    from riskbudget.optimization.robustness import exceedance_chance_to_hold

    # no year above x and a limit below 1/n: the fresh sample must have none; closed form B(a, b + n) / B(a, b)
    n = 20_000
    closed = math.exp(special.betaln(0.5, 2 * n + 0.5) - special.betaln(0.5, n + 0.5))
    assert exceedance_chance_to_hold(0, n, 1e-5) == pytest.approx(closed, rel=1e-10)
    assert 0.70 < closed < 0.71  # about 1/sqrt(2): far from the certainty the binomial standard error (0) claims
    # against scipy's beta-binomial, on both sides of the sum (the allowed count below and above n / 2)
    for k, m, limit in ((0, 4_000, 0.001), (3, 4_000, 0.002), (40, 20_000, 0.0025), (900, 1_000, 0.95),
                        (500, 1_000, 0.52)):
        top = math.floor(limit * m + 1e-9)
        expected = stats.betabinom.cdf(top, m, k + 0.5, m - k + 0.5)
        assert exceedance_chance_to_hold(k, m, limit) == pytest.approx(expected, rel=1e-9, abs=1e-12), (k, m, limit)
    # the limit's own comparison: a count of exactly limit * n holds
    assert exceedance_chance_to_hold(10, 1_000, 0.01) > exceedance_chance_to_hold(10, 1_000, 0.0099)
    assert exceedance_chance_to_hold(10, 1_000, 1.0) == 1.0
    # many years above x: the normal approximation of chance_to_hold, to within the count's discreteness
    k, m = 2_000, 100_000
    p = k / m
    se = math.sqrt(p * (1 - p) / m)
    for limit in (p - se, p + 0.5 * se, p + 2 * se):
        assert exceedance_chance_to_hold(k, m, limit) == pytest.approx(chance_to_hold(p, se, limit), abs=0.02)
    with pytest.raises(rb.RiskBudgetError, match=r"need 0 <= k <= n"):
        exceedance_chance_to_hold(5, 4, 0.5)


def test_exceedance_chance_is_calibrated_against_a_simulation():
    """Among samples told "c% chance", about c% of fresh samples hold the limit (p spread across the limit).

    The true probabilities are drawn with density proportional to p^(-1/2) on [0, 0.02] (p = 0.02 U^2),
    Jeffreys' prior near 0, the prior the chance assumes, and wide against the count's spread (a bound near
    the limit, or a flat prior, moves the truth by a few points where the count is small).
    """
    from riskbudget.optimization.robustness import exceedance_chance_to_hold

    rng = np.random.default_rng(11)
    n, limit, trials = 2_000, 0.002, 60_000
    p = 0.02 * rng.random(trials) ** 2
    k = rng.binomial(n, p)
    fresh = rng.binomial(n, p)
    table = {j: exceedance_chance_to_hold(j, n, limit) for j in np.unique(k)}
    chance = np.array([table[j] for j in k])
    holds = fresh / n <= limit
    for lo, hi in ((0.0, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 1.0)):
        sel = (chance >= lo) & (chance < hi)
        assert sel.sum() > 2_000
        q = holds[sel].mean()
        assert abs(q - chance[sel].mean()) < 4 * math.sqrt(q * (1 - q) / sel.sum()) + 0.01, (lo, hi, q)


def test_tightened_gives_an_exceedance_limit_a_margin_with_no_year_above():
    x = np.random.default_rng(1).lognormal(14, 1.5, 20_000)
    appetite = rb.Appetite(exceedance={1e12: 1e-4})
    assert appetite.limits[0].standard_error(x) == 0.0  # no year above $1T: the binomial standard error is 0
    tight, margins = tightened(appetite, x, 0.95)
    p = 0.5 / 20_001
    margin = margin_z(0.95) * math.sqrt(p * (1 - p) / 20_000)
    assert margins["P(loss > $1T)"] == pytest.approx(margin, rel=1e-12)
    assert tight.limits[0].limit == pytest.approx(1e-4 - margin, rel=1e-12)


def test_confirm_never_claims_certainty_for_an_exceedance_limit(margin_plans):
    from riskbudget.optimization.robustness import exceedance_chance_to_hold

    _appetite, bare, _robust = margin_plans
    rob = confirm(bare, appetite=rb.Appetite(exceedance={1e12: 1e-5}))
    (check,) = rob.checks
    assert check.fresh == 0.0 and check.fresh_se == 0.0 and check.holds_fresh
    assert check.chance == pytest.approx(exceedance_chance_to_hold(0, bare.years, 1e-5), rel=1e-12)
    assert 0.70 < check.chance < 0.71
