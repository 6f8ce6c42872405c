"""Insurance layers: closed forms for per-event and annual layers, towers, and the rules of a policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import riskbudget as rb
from riskbudget.insurance import Insurance, InsuranceError, Tower, as_policies, layer_recovery


def _lev(d: float, mu: float, sigma: float) -> float:
    """Limited expected value E[min(X, d)] of a lognormal (Klugman, Panjer & Willmot)."""
    if d <= 0:
        return 0.0
    z = (math.log(d) - mu) / sigma
    return math.exp(mu + sigma**2 / 2) * stats.norm.cdf(z - sigma) + d * (1 - stats.norm.cdf(z))


@pytest.mark.parametrize("retention,limit,coins", [(1e5, 1e6, 0.0), (5e5, 5e6, 0.2), (0.0, 2e5, 0.1)])
def test_a_per_event_layer_on_lognormal_losses_matches_the_limited_expected_value(retention, limit, coins):
    mu, sigma = math.log(3e5), 1.2
    x = np.random.default_rng(3).lognormal(mu, sigma, 400_000)
    paid = Insurance("L", 0, retention, limit, basis="per_event", coinsurance=coins).recovery(x)
    exact = (1 - coins) * (_lev(retention + limit, mu, sigma) - _lev(retention, mu, sigma))
    se = paid.std(ddof=1) / math.sqrt(x.size)
    assert abs(paid.mean() - exact) < 4 * se


def test_an_annual_layer_on_poisson_sums_of_fixed_losses_matches_its_closed_form():
    """S = c N with N ~ Poisson(lam): E[layer(S)] = sum_k P(N = k) layer(c k)."""
    lam, c, retention, limit = 3.0, 1e6, 2.5e6, 4e6
    n = np.random.default_rng(5).poisson(lam, 400_000)
    paid = layer_recovery(c * n, retention, limit)
    k = np.arange(0, 60)
    exact = float(np.sum(stats.poisson.pmf(k, lam) * np.minimum(np.maximum(c * k - retention, 0), limit)))
    assert abs(paid.mean() - exact) < 4 * paid.std(ddof=1) / math.sqrt(n.size)


def test_a_tower_pays_each_layer_on_the_same_ground_up_loss():
    primary = Insurance("Primary", 1e5, 1e6, 4e6)
    excess = Insurance("Excess", 5e4, 5e6, 10e6)
    loss = np.array([0.5e6, 3e6, 7e6, 30e6])
    paid = primary.recovery(loss) + excess.recovery(loss)
    assert paid.tolist() == [0.0, 2e6, 4e6 + 2e6, 4e6 + 10e6]


def test_annual_recoveries_are_shared_by_the_covered_scenarios_in_proportion():
    a = rb.Scenario("A", loss_event_frequency=1, primary_loss=rb.Constant(1.0), category="web")
    b = rb.Scenario("B", loss_event_frequency=1, primary_loss=rb.Constant(1.0), category="web")
    c = rb.Scenario("C", loss_event_frequency=1, primary_loss=rb.Constant(1.0), category="ot")
    tower = Tower.build([Insurance("Web", 0, 1.0, 10.0, applies_to="web")], [a, b, c])
    retained = np.array([[3.0, 1.0, 100.0], [0.5, 0.0, 5.0]])
    rec = tower.annual_recovery(["A", "B", "C"], retained)
    # year 1: covered aggregate 4, layer pays 3, shared 3:1; year 2: aggregate 0.5 below the retention
    np.testing.assert_allclose(rec, [[2.25, 0.75, 0.0], [0.0, 0.0, 0.0]])


def test_overlapping_layers_and_duplicate_names_are_refused():
    s = [rb.Scenario("A", loss_event_frequency=1, primary_loss=rb.Constant(1.0))]
    with pytest.raises(InsuranceError, match=r"'Primary' covers up to 5,000,000 but 'Excess' attaches at 4,000,000"):
        Tower.build([Insurance("Primary", 0, 1e6, 4e6), Insurance("Excess", 0, 4e6, 10e6)], s)
    with pytest.raises(InsuranceError, match="appears twice"):
        as_policies([Insurance("P", 0, 0, 1e6), Insurance("P", 0, 0, 2e6)])
    with pytest.raises(InsuranceError, match=r"unknown scenario\(s\) or category\(ies\) \['Mars'\]"):
        Tower.build([Insurance("P", 0, 0, 1e6, applies_to="Mars")], s)


def test_an_excess_layer_may_start_above_its_limit():
    """$5M xs $6M sits on a $5M xs $1M primary: a tower's upper layers start above their own width."""
    primary = Insurance("Primary", 4e5, retention=1e6, limit=5e6)
    excess = Insurance("Excess", 1e5, retention=6e6, limit=5e6)
    losses = np.array([5e5, 3e6, 6e6, 8e6, 11e6, 30e6])
    assert excess.recovery(losses).tolist() == [0.0, 0.0, 0.0, 2e6, 5e6, 5e6]
    # together the two layers pay what one $10M xs $1M layer pays
    whole = Insurance("Whole", 0, retention=1e6, limit=10e6)
    assert (primary.recovery(losses) + excess.recovery(losses)).tolist() == whole.recovery(losses).tolist()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(premium=-1), r"premium \(-1\) must be a finite amount >= 0"),
        (dict(coinsurance=1.5), r"coinsurance \(1.5\) must lie in \[0, 1\]"),
        (dict(coinsurance=-0.1), r"coinsurance \(-0.1\) must lie in \[0, 1\]"),
        (dict(basis="monthly"), r"basis \('monthly'\) must be one of \['annual', 'per_event'\]"),
        (dict(limit=0), r"limit \(0\) must be > 0"),
        (dict(limit=1e21), r"limit"),
        (dict(applies_to=[]), r"applies_to is empty"),
    ],
)
def test_bad_policies_get_clear_errors(kwargs, match):
    args = dict(name="Cyber", premium=1e5, retention=1e6, limit=5e6) | kwargs
    with pytest.raises(InsuranceError, match=match):
        Insurance(**args)
    assert issubclass(InsuranceError, rb.RiskBudgetError)


def test_money_can_be_typed_as_people_write_it():
    p = Insurance("Cyber", "$250K", "1M", "10M", coinsurance="10%", applies_to="ransomware; bec_fraud")
    assert (p.premium, p.retention, p.limit, p.coinsurance) == (250_000, 1e6, 1e7, 0.1)
    assert p.applies_to == ("ransomware", "bec_fraud")


# --------------------------------------------------------------------------- #
# In the simulation
# --------------------------------------------------------------------------- #
def test_simulated_annual_layer_matches_poisson_sums_of_fixed_losses():
    s = rb.Scenario("Fixed", loss_event_frequency=3.0, primary_loss=rb.Constant(1e6))
    policy = Insurance("Aggregate", 1e5, retention=2.5e6, limit=4e6)
    uninsured = rb.simulate(s, years=100_000, seed=4)
    insured = rb.simulate(s, years=100_000, seed=4, insurance=policy)
    rec = insured.recovered.to_numpy()
    k = np.arange(0, 60)
    exact = float(np.sum(stats.poisson.pmf(k, 3.0) * np.minimum(np.maximum(1e6 * k - 2.5e6, 0), 4e6)))
    assert abs(rec.mean() - exact) < 4 * rec.std(ddof=1) / math.sqrt(rec.size)
    # retained + recovered is the uninsured loss, year by year, on the same seed
    np.testing.assert_allclose(insured.ground_up.to_numpy(), uninsured.losses.to_numpy(), rtol=1e-12, atol=1e-6)
    assert insured.summary().loc["Total", "ale"] == pytest.approx(uninsured.ale() - rec.mean(), rel=1e-9)
    assert insured.premium == 1e5 and insured.insurance == (policy,)


def test_simulated_per_event_layer_matches_the_limited_expected_value():
    mu, sigma, lam = math.log(4e5), 1.1, 2.0
    s = rb.Scenario("Events", loss_event_frequency=lam, primary_loss=rb.LogNormal(mu, sigma))
    policy = Insurance("Per event", 0, retention=5e5, limit=2e6, basis="per_event", coinsurance=0.1)
    res = rb.simulate(s, years=100_000, seed=9, insurance=policy)
    rec = res.recovered.to_numpy()
    exact = lam * 0.9 * (_lev(2.5e6, mu, sigma) - _lev(5e5, mu, sigma))
    assert abs(rec.mean() - exact) < 4 * rec.std(ddof=1) / math.sqrt(rec.size)
    plain = rb.simulate(s, years=100_000, seed=9)
    np.testing.assert_allclose(res.ground_up.to_numpy(), plain.losses.to_numpy(), rtol=1e-12, atol=1e-6)


def test_a_tower_covers_only_its_scenarios_and_applies_per_event_then_annual():
    ransom = rb.Scenario("Ransom", loss_event_frequency=1.0, primary_loss=rb.LogNormal.from_ci(1e5, 1e7),
                         category="ransomware")
    fraud = rb.Scenario("Fraud", loss_event_frequency=2.0, primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
    reg = rb.Register([ransom, fraud])
    tower = [Insurance("Ransomware per event", 0, 2e5, 2e6, basis="per_event", applies_to="ransomware"),
             Insurance("Aggregate", 0, 1e6, 5e6)]
    res = rb.simulate(reg, years=20_000, seed=2, insurance=tower)
    plain = rb.simulate(reg, years=20_000, seed=2)
    rec = res.recoveries
    # per event first: on ransom, what the per-event layer pays; then the aggregate on what is left
    per_event_only = rb.simulate(reg, years=20_000, seed=2, insurance=tower[0]).recoveries
    assert (per_event_only["Fraud"] == 0).all()
    left = plain.losses.to_numpy() - per_event_only.to_numpy()
    agg = layer_recovery(left.sum(axis=1), 1e6, 5e6)
    np.testing.assert_allclose(rec.to_numpy().sum(axis=1), per_event_only.to_numpy().sum(axis=1) + agg, rtol=1e-9,
                               atol=1e-6)
    np.testing.assert_allclose(res.ground_up.to_numpy(), plain.losses.to_numpy(), rtol=1e-12, atol=1e-6)


def test_per_event_insurance_needs_the_aggregate_method():
    s = rb.Scenario("A", loss_event_frequency=1.0, primary_loss=rb.Constant(1e6))
    with pytest.raises(rb.RiskBudgetError, match="per-event insurance layers need method='aggregate'"):
        rb.simulate(s, years=100, seed=1, method="lef_x_lm", insurance=Insurance("P", 0, 0, 1e6, basis="per_event"))
    with pytest.raises(InsuranceError, match="must be an Insurance or a list"):
        rb.simulate(s, years=100, seed=1, insurance=5)
