"""Value of information: closed-form toy cases, EVPI >= EVPPI >= 0, inputs regenerated from the streams."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import riskbudget as rb
from riskbudget.optimization import optimize, precompute
from riskbudget.voi import decision_inputs, evpi, evppi, net_benefits, value_of_information

from .test_optimize import small_instance


def test_toy_case_against_closed_form():
    rng = np.random.default_rng(0)
    n = 40_000
    theta = rng.random(n)
    noise = rng.random(n)
    nb = np.column_stack([2 * theta - 1, np.zeros(n)])  # fund (pays 2 theta - 1) or not (0)
    # perfect information on theta: E[max(2 theta - 1, 0)] - max(E[2 theta - 1], 0) = 1/4
    se = np.maximum(2 * theta - 1, 0).std() / np.sqrt(n)
    assert abs(evpi(nb) - 0.25) < 4 * se + 1e-12
    table = evppi(nb, {"theta": theta, "noise": noise}, bins=50)
    assert abs(table.loc["theta", "evppi"] - 0.25) < 4 * se + 1e-3  # + binning error at the kink
    assert table.loc["noise", "evppi"] < 0.01
    assert table.index[0] == "theta" and table.loc["theta", "rank"] == 1


def test_toy_case_with_aleatory_noise():
    # NB_A = theta + eps - 0.5 with eps independent noise: perfect info on theta is worth
    # E[max(theta - 0.5, 0)] = 1/8 for theta ~ U(0, 1); clairvoyance is worth more.
    rng = np.random.default_rng(1)
    n = 60_000
    theta = rng.random(n)
    eps = rng.normal(0, 0.3, n)
    nb = np.column_stack([theta + eps - 0.5, np.zeros(n)])
    t = evppi(nb, {"theta": theta}, bins=25, permutations=3)
    assert t.loc["theta", "evppi"] == pytest.approx(0.125, abs=0.01)
    assert evpi(nb) > t.loc["theta", "evppi"] + 0.02
    assert t.loc["theta", "noise_floor"] < 0.01


@settings(max_examples=40, deadline=None)
@given(
    nb=hnp.arrays(np.float64, st.tuples(st.integers(40, 200), st.integers(1, 5)), elements=st.floats(-1e6, 1e6)),
    seed=st.integers(0, 2**31),
)
def test_evpi_at_least_every_evppi_at_least_zero(nb, seed):
    rng = np.random.default_rng(seed)
    n = nb.shape[0]
    inputs = {"a": rng.random(n), "b": nb[:, 0] + rng.normal(size=n), "c": np.round(rng.random(n), 1)}
    table = evppi(nb, inputs, bins=4, permutations=1, seed=seed)
    total = evpi(nb)
    tol = 1e-9 * max(1.0, np.abs(nb).max())
    assert (table["evppi"] >= -tol).all()
    assert (table["evppi"] <= total + tol).all()


def test_evppi_errors():
    nb = np.zeros((100, 2))
    with pytest.raises(rb.RiskBudgetError, match=r"input 'x' has shape \(5,\)"):
        evppi(nb, {"x": np.zeros(5)})
    with pytest.raises(rb.RiskBudgetError, match=r"bins \(1\) must be a whole number between 2"):
        evppi(nb, {"x": np.zeros(100)}, bins=1)
    with pytest.raises(rb.RiskBudgetError, match="net_benefit must be a 2-D array"):
        evpi(np.zeros(10))
    with pytest.raises(rb.RiskBudgetError, match="NaN or infinite"):
        evpi(np.full((3, 2), np.nan))


@pytest.fixture(scope="module")
def plan():
    reg, controls, projects = small_instance()
    problem = precompute(reg, controls, projects, years=4_000, seed=5, progress=False)
    return optimize(problem, budget=900_000)


def test_value_of_information_on_a_plan(plan):
    v = value_of_information(plan)
    assert len(v.alternatives) >= 5 and v.alternatives[0] == plan.funding
    assert v.evpi >= v.table["evppi"].max() >= v.table["evppi"].min() >= -1e-9
    names = set(v.table.index)
    assert "resistance of EDR" in names and "value delivered by Portal" in names
    assert any(n.startswith("threat event frequency: Ransomware") for n in names)
    assert any(n.startswith("risk added by Portal") for n in names)
    assert "EVPI" in v.describe()
    # the plan is the best alternative in expectation up to the value sampling noise
    nb = net_benefits(plan.problem, v.alternatives)
    assert nb.shape == (plan.years, len(v.alternatives))
    assert v.expected_net_benefit.iloc[0] == pytest.approx(nb[:, 0].mean())


def test_inputs_are_the_draws_the_simulation_used():
    reg = rb.Register(
        [rb.Scenario("Rate", loss_event_frequency=rb.Uniform(20, 100), primary_loss=rb.Constant(1_000), category="x")]
    )
    ctrl = rb.Control("Shaky", 1, applies_to="x", avoidance=rb.Uniform(0, 1))
    problem = precompute(reg, [ctrl], [], years=3_000, seed=9, progress=False)
    inputs = decision_inputs(problem)
    rate, strength = inputs["loss event frequency: Rate"], inputs["avoidance of Shaky"]
    without, with_ = problem.column(0, 0), problem.column(0, 1)
    # each year's loss is 1,000 x a Poisson count at that year's rate (times 1 - strength with the control)
    assert np.corrcoef(rate, without)[0, 1] > 0.9
    assert np.corrcoef(rate * (1 - strength), with_)[0, 1] > 0.9
    assert np.corrcoef(rate, with_)[0, 1] < 0.7


def test_a_posterior_rate_input_is_the_draw_the_simulation_used():
    """A Bayesian posterior rate draws each year's posterior draw from a run-level stream (not "frequency")."""
    from riskbudget.bayes import PosteriorRate

    draws = np.random.default_rng(0).uniform(20, 100, 4_000)
    reg = rb.Register(
        [rb.Scenario("Rate", loss_event_frequency=PosteriorRate(draws), primary_loss=rb.Constant(1_000), category="x")]
    )
    problem = precompute(reg, [rb.Control("Shaky", 1, applies_to="x", avoidance=rb.Uniform(0, 1))], [], years=3_000,
                         seed=9, progress=False)
    rate = decision_inputs(problem)["loss event frequency: Rate"]
    without = problem.column(0, 0)  # 1,000 x a Poisson count at each year's rate
    assert np.corrcoef(rate, without)[0, 1] > 0.9
    # each year's rate is one of the posterior draws, and the yearly losses are Poisson around 1,000 x it
    assert np.isin(rate, draws).all()
    z = (without / 1_000 - rate) / np.sqrt(rate)
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.std() - 1) < 0.05


def test_value_of_information_errors(plan):
    with pytest.raises(rb.RiskBudgetError, match="give alternatives"):
        value_of_information(plan.problem)
    with pytest.raises(rb.RiskBudgetError, match="at least two alternatives"):
        value_of_information(plan.problem, alternatives=[[]])
    with pytest.raises(rb.RiskBudgetError, match="expected a Plan or a DecisionProblem"):
        value_of_information(42)
    v = value_of_information(plan.problem, alternatives=[[], ["EDR"], ["EDR", "Backups"]])
    assert len(v.alternatives) == 3


def test_docstring_examples_run():
    import doctest

    import riskbudget.voi as mod

    outcome = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0
