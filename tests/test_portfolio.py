"""Tail attribution (Euler), paired comparison on common random numbers, tornado sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pytest

import riskbudget as rb
from riskbudget import portfolio as pf
from tests.conftest import within_se

YEARS = 20_000
LOSS = rb.LogNormal.from_ci(1e4, 1e6)


@pytest.fixture(scope="module")
def example_result(example_register) -> rb.SimulationResult:
    return rb.simulate(example_register, years=YEARS, seed=7)


# --------------------------------------------------------------------------- #
# Euler allocation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_contributions_add_up_to_the_totals(example_result, q):
    table = pf.contributions(example_result, q=q)
    assert list(table.index) == list(example_result.names)
    # an identity, not a Monte Carlo estimate: equal up to floating-point rounding
    assert table["ale"].sum() == pytest.approx(example_result.ale(), rel=1e-12)
    assert table["tvar_contribution"].sum() == pytest.approx(example_result.tvar(q), rel=1e-12)
    assert table["tvar_share"].sum() == pytest.approx(1.0, rel=1e-12)
    assert table["ale_share"].sum() == pytest.approx(1.0, rel=1e-12)
    assert table.attrs["tvar"] == pytest.approx(example_result.tvar(q), rel=1e-12)
    assert table.attrs["var"] == example_result.var(q)


def test_contribution_is_the_scenario_mean_in_the_tail_years(example_result):
    table = pf.contributions(example_result, q=0.95)
    total = example_result.annual_loss.to_numpy()
    tail = total >= np.quantile(total, 0.95)
    name = example_result.names[3]
    assert table.loc[name, "tvar_contribution"] == pytest.approx(example_result.losses[name].to_numpy()[tail].mean(), rel=1e-12)
    assert table.attrs["tail_years"] == int(tail.sum())
    # its standard error from the influence function (x - c) 1{tail} / (1 - q), c = E[X | total at VaR]: the
    # mean over the max(10, 2 sqrt(n)) years whose total ranks nearest the 0.95-quantile
    x, n = example_result.losses[name].to_numpy(), total.size
    k = max(10, int(2 * math.sqrt(n)))
    lo = min(max(math.ceil(0.95 * n) - 1 - k // 2, 0), n - k)
    c = x[np.argsort(total, kind="stable")[lo : lo + k]].mean()
    se = (np.where(tail, x - c, 0.0) / 0.05).std(ddof=1) / math.sqrt(n)
    assert table.loc[name, "tvar_contribution_se"] == pytest.approx(se, rel=1e-9)


def test_contributions_closed_form_with_a_certain_loss():
    """A scenario that loses exactly c every year contributes exactly c; the other gets its own TVaR."""
    c = 250_000.0
    fixed = rb.Scenario("Certain", annual_probability=1.0, primary_loss=c)
    risky = rb.Scenario("Risky", loss_event_frequency=rb.PERT(0.5, 1, 3), primary_loss=LOSS)
    r = rb.simulate([risky, fixed], years=YEARS, seed=1)
    table = pf.contributions(r, q=0.95)
    assert table.loc["Certain", "tvar_contribution"] == pytest.approx(c, rel=1e-12)
    assert table.loc["Risky", "tvar_contribution"] == pytest.approx(r.tvar(0.95, "Risky"), rel=1e-12)
    assert table.loc["Certain", "standalone_tvar"] == c


def test_tvar_contribution_never_exceeds_standalone_tvar_for_continuous_losses():
    # TVaR is subadditive: on the sample, a scenario's mean over the portfolio's tail years is
    # at most its mean over its own worst years (all losses continuous, no atoms)
    reg = rb.Register([
        rb.Scenario(n, loss_event_frequency=rb.PERT(20, 30, 60), primary_loss=rb.LogNormal.from_ci(1e3, s))
        for n, s in (("A", 1e5), ("B", 1e6), ("C", 3e6))
    ])
    r = rb.simulate(reg, years=YEARS, seed=2)
    assert (r.summary().loc[list(reg.names), "p_loss"] == 1.0).all()
    table = pf.contributions(r, q=0.95)
    assert (table["diversification"] >= -1e-6 * table["standalone_tvar"]).all()
    assert table["standalone_tvar"].sum() >= r.tvar(0.95)


def test_contributions_validate_q(example_result):
    with pytest.raises(rb.RiskBudgetError, match=r"quantile level q \(1.5\) must lie in \(0, 1\)"):
        pf.contributions(example_result, q=1.5)


# --------------------------------------------------------------------------- #
# Inherent vs residual on common random numbers
# --------------------------------------------------------------------------- #
SCENARIO = rb.Scenario("Phishing", loss_event_frequency=rb.PERT(1, 3, 8), primary_loss=LOSS)
CONTROL = rb.Adjustment("frequency", 0.5, source="Awareness training")


def test_compare_reduction_matches_the_exact_difference():
    inh = rb.simulate(SCENARIO, years=YEARS, seed=3)
    res = rb.simulate(SCENARIO.with_adjustments(CONTROL), years=YEARS, seed=3)
    cmp = pf.compare(inh, res, thresholds=[1e6])
    exact = SCENARIO.expected_annual_loss() * 0.5
    assert within_se(cmp.reduction("ale"), exact, cmp.reduction_se("ale"))
    table = cmp.table
    assert list(table.index) == ["ale", "var95", "tvar95", "p_loss", "p_exceed_1000000"]
    assert table.loc["ale", "reduction"] == pytest.approx(inh.ale() - res.ale())
    assert table.loc["var95", "inherent"] == inh.var(0.95) and table.loc["tvar95", "residual"] == res.tvar(0.95)
    assert table.loc["p_exceed_1000000", "label"] == "P(loss > $1M)"
    # common random numbers: the paired error is far below the error of independent runs
    for key in ("ale", "var95", "tvar95"):
        assert table.loc[key, "reduction_se"] < 0.8 * table.loc[key, "unpaired_se"], key
    assert cmp.by_scenario.loc["Phishing", "reduction"] == pytest.approx(cmp.reduction("ale"))
    assert "reduction" in repr(cmp)


def test_paired_standard_errors_match_the_spread_over_seeds():
    """Over independent seeds the reductions scatter as the reported standard errors say."""
    n_rep, years = 40, 10_000
    red: dict[str, list[float]] = {"ale": [], "var95": [], "tvar95": [], "p_exceed_200000": []}
    ses: dict[str, list[float]] = {k: [] for k in red}
    residual = SCENARIO.with_adjustments(rb.Adjustment("loss", rb.PERT(0.3, 0.5, 0.8), source="EDR"))
    for seed in range(n_rep):
        cmp = pf.compare(rb.simulate(SCENARIO, years=years, seed=seed), rb.simulate(residual, years=years, seed=seed),
                         thresholds=[2e5])
        for k in red:
            red[k].append(cmp.reduction(k))
            ses[k].append(cmp.reduction_se(k))
    for k in red:
        ratio = np.std(red[k], ddof=1) / np.mean(ses[k])
        # the sd of 40 draws is within about +-45% of the truth at 4 standard errors
        assert 0.55 < ratio < 1.6, (k, ratio)


def test_compare_identical_results_gives_zero():
    a = rb.simulate(SCENARIO, years=2_000, seed=1)
    cmp = pf.compare(a, a)
    assert (cmp.table["reduction"] == 0).all()
    assert (cmp.table["reduction_se"] == 0).all()


def test_compare_refuses_unpaired_results():
    a = rb.simulate(SCENARIO, years=2_000, seed=1)
    with pytest.raises(rb.RiskBudgetError, match=r"different seeds \(1 and 2\).*same seed"):
        pf.compare(a, rb.simulate(SCENARIO, years=2_000, seed=2))
    with pytest.raises(rb.RiskBudgetError, match=r"different numbers of years \(2,000 and 1,000\)"):
        pf.compare(a, rb.simulate(SCENARIO, years=1_000, seed=1))
    with pytest.raises(rb.RiskBudgetError, match="different methods"):
        pf.compare(a, rb.simulate(SCENARIO, years=2_000, seed=1, method="lef_x_lm"))
    with pytest.raises(rb.RiskBudgetError, match="quantile level"):
        pf.compare(a, a, q=0)


# --------------------------------------------------------------------------- #
# Tornado
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def small_register() -> rb.Register:
    return rb.Register([
        rb.Scenario("Ransomware", threat_event_frequency=rb.PERT(0.2, 0.6, 2), threat_capability=rb.PERT(0.3, 0.6, 0.95),
                    resistance_strength=rb.PERT(0.4, 0.65, 0.9), primary_loss=rb.LogNormal.from_ci(5e5, 1.2e7),
                    secondary_loss_probability=0.3, secondary_loss=rb.LogNormal.from_ci(2.5e5, 8e6)),
        rb.Scenario("Laptop", loss_event_frequency=1.5, primary_loss=rb.PERT(2_000, 10_000, 150_000)),
        rb.Scenario("Outage", annual_probability=0.05,
                    primary_loss=rb.LossForms(productivity=rb.PERT(1e5, 4e5, 2e6), response=rb.Constant(5e4))),
    ])


@pytest.fixture(scope="module")
def small_tornado(small_register) -> pf.Tornado:
    return pf.tornado(small_register, years=YEARS, seed=5)


def test_tornado_lists_each_uncertain_input_and_ranks_them(small_tornado):
    table = small_tornado.table
    inputs = set(zip(table["scenario"], table["input"]))
    assert inputs == {
        ("Ransomware", "threat_event_frequency"), ("Ransomware", "threat_capability"),
        ("Ransomware", "resistance_strength"), ("Ransomware", "primary_loss"), ("Ransomware", "secondary_loss"),
        ("Laptop", "primary_loss"), ("Outage", "primary_loss.productivity"),
    }  # constants (rate 1.5, probabilities, the response form) have no spread
    assert list(table["ale_swing"]) == sorted(table["ale_swing"], reverse=True)
    assert list(table["rank_ale"]) == list(range(1, len(table) + 1))
    assert sorted(table["rank_var"]) == list(range(1, len(table) + 1))
    top_var = small_tornado.top(1, by="var")
    assert top_var["rank_var"].iloc[0] == 1
    assert (table["ale_swing"] == (table["ale_high"] - table["ale_low"]).abs()).all()
    with pytest.raises(rb.RiskBudgetError, match="by .* must be 'ale' or 'var'"):
        small_tornado.top(3, by="tvar")


def test_tornado_percentiles_and_closed_form_swing(small_register, small_tornado):
    row = small_tornado.table.set_index(["scenario", "input"]).loc[("Laptop", "primary_loss")]
    d = small_register["Laptop"].primary_loss
    assert row["low_value"] == pytest.approx(d.ppf(0.10)) and row["high_value"] == pytest.approx(d.ppf(0.90))
    # a constant loss per event: the ALE swing is rate x (P90 - P10) in expectation
    exact = 1.5 * (d.ppf(0.9) - d.ppf(0.1))
    assert within_se(row["ale_high"] - row["ale_low"], exact, row["ale_swing_se"])


def test_tornado_equals_a_full_resimulation_with_the_input_fixed(small_register, small_tornado):
    row = small_tornado.table.set_index(["scenario", "input"]).loc[("Ransomware", "threat_capability")]
    changed = small_register.replace(
        rb.Scenario(**{**{f: getattr(small_register["Ransomware"], f) for f in (
            "name", "threat_event_frequency", "resistance_strength", "primary_loss", "secondary_loss_probability",
            "secondary_loss")}, "threat_capability": rb.Constant(row["high_value"])})
    )
    full = rb.simulate(changed, years=YEARS, seed=5)
    assert row["ale_high"] == pytest.approx(full.ale(), rel=1e-12)
    assert row["var_high"] == pytest.approx(full.var(0.95), rel=1e-12)
    base = rb.simulate(small_register, years=YEARS, seed=5)
    assert small_tornado.base_ale == pytest.approx(base.ale(), rel=1e-12)
    assert small_tornado.base_var == pytest.approx(base.var(0.95), rel=1e-12)


def test_tornado_is_reproducible_and_includes_adjustments(small_register):
    reg = small_register.replace(small_register["Laptop"].with_adjustments(
        rb.Adjustment("frequency", rb.PERT(0.2, 0.4, 0.7), source="Disk encryption")))
    a = pf.tornado(reg, years=3_000, seed=9)
    b = pf.tornado(reg, years=3_000, seed=9)
    assert a.table.equals(b.table)
    assert ("Laptop", "adjustment:Disk encryption:frequency") in set(zip(a.table["scenario"], a.table["input"]))


def test_tornado_with_dependence_resimulates_the_portfolio():
    reg = rb.Register([
        rb.Scenario(n, loss_event_frequency=rb.LogNormal.from_ci(0.1, 2), primary_loss=LOSS) for n in "AB"
    ])
    dep = rb.Dependence({("A", "B"): 0.7})
    t = pf.tornado(reg, years=3_000, seed=1, dependence=dep)
    assert len(t.table) == 4
    row = t.table.set_index(["scenario", "input"]).loc[("A", "loss_event_frequency")]
    fixed = reg.replace(rb.Scenario("A", loss_event_frequency=rb.Constant(row["low_value"]), primary_loss=LOSS))
    root = np.random.SeedSequence(1)
    full = rb.simulate(fixed, years=3_000, seed=root, dependence=dep.relaxed())
    assert row["ale_low"] == pytest.approx(full.ale(), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"low": 0.0}, r"low percentile \(0.0\) must lie in \(0, 1\)"),
        ({"high": 1.0}, r"high percentile \(1.0\) must lie in \(0, 1\)"),
        ({"low": 0.9, "high": 0.1}, r"low \(0.9\) must be below high \(0.1\)"),
        ({"q": 2}, "quantile level"),
        ({"dependence": "yes"}, "dependence must be a Dependence"),
    ],
)
def test_tornado_errors(small_register, kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        pf.tornado(small_register, years=100, seed=1, **kwargs)


def test_sensitivity_inputs_rebuild_one_estimate(small_register):
    inputs = {label: (dist, rebuild) for label, dist, rebuild in pf.sensitivity_inputs(small_register["Outage"])}
    assert list(inputs) == ["primary_loss.productivity"]
    dist, rebuild = inputs["primary_loss.productivity"]
    s = rebuild(rb.Constant(3e5))
    assert s.primary_loss.productivity == rb.Constant(3e5)
    assert s.primary_loss.response == rb.Constant(5e4)
    assert small_register["Outage"].primary_loss.productivity == dist  # the original is unchanged


@pytest.mark.parametrize("module", ["portfolio", "plotting", "excel", "reporting", "appetite"])
def test_docstring_examples_run(module, monkeypatch, tmp_path):
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    mod = importlib.import_module(f"riskbudget.{module}")
    outcome = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0


@pytest.mark.parametrize("q", [0.9, 0.95, 0.99])
def test_contribution_never_exceeds_standalone_tvar(example_result, q):
    """No undercut: with TVaR the mean of the worst (1 - q) share of years, Euler contributions are bounded."""
    table = pf.contributions(example_result, q=q)
    assert (table["diversification"] >= -1e-9 * table["standalone_tvar"]).all()


def test_tornado_runs_on_a_register_with_controls_applied(example_register):
    from riskbudget.controls import apply_controls, read_controls

    residual = apply_controls(example_register, read_controls(rb.io.example_path("controls.csv")))
    t = pf.tornado(residual, years=2_000, seed=3)
    inputs = set(t.table["input"])
    assert "primary_loss" in inputs
    assert not any(name.startswith("adjustment:") for name in inputs)  # control multipliers are not estimates
    assert t.base_ale == pytest.approx(rb.simulate(residual, years=2_000, seed=3).ale())
