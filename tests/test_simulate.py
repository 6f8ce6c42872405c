"""Aggregate annual loss Monte Carlo: closed forms, seeds, chunking, common random numbers."""

from __future__ import annotations

import math
import tracemalloc
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import riskbudget as rb
from tests.conftest import within_se

YEARS = 100_000
LOSS = rb.LogNormal.from_ci(10_000, 1_000_000)


def var_se(x: np.ndarray) -> float:
    """Standard error of the sample variance: sqrt((m4 - s^4) / n)."""
    d = x - x.mean()
    return math.sqrt((np.mean(d**4) - np.mean(d**2) ** 2) / x.size)


# --------------------------------------------------------------------------- #
# Closed forms of the compound Poisson sum
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("rate", [0.05, 0.7, 3.0, 25.0])
def test_compound_poisson_mean_and_variance(rate):
    s = rb.Scenario("cp", loss_event_frequency=rate, primary_loss=LOSS)
    x = rb.simulate(s, years=YEARS, seed=1).annual_loss.to_numpy()
    ex, ex2 = LOSS.mean(), LOSS.var() + LOSS.mean() ** 2
    assert within_se(x.mean(), rate * ex, x.std(ddof=1) / math.sqrt(x.size))
    assert within_se(x.var(ddof=1), rate * ex2, var_se(x))


@pytest.mark.parametrize("rate", [0.05, 0.7, 3.0])
def test_probability_of_a_loss_free_year_is_exp_minus_rate(rate):
    s = rb.Scenario("cp", loss_event_frequency=rate, primary_loss=LOSS)
    r = rb.simulate(s, years=YEARS, seed=2)
    p = 1 - math.exp(-rate)
    se = math.sqrt(p * (1 - p) / YEARS)
    assert within_se(r.summary().loc["cp", "p_loss"], p, se)
    # The loss event counts are Poisson(rate): mean and variance both equal rate.
    counts = r.counts["cp"].to_numpy()
    assert within_se(counts.mean(), rate, math.sqrt(rate / YEARS))
    assert np.array_equal(counts > 0, r.losses["cp"].to_numpy() > 0)


@pytest.mark.parametrize("p", [0.02, 0.3, 0.9])
def test_annual_probability_gives_at_most_one_event_with_probability_p(p):
    s = rb.Scenario("bern", annual_probability=p, primary_loss=LOSS)
    r = rb.simulate(s, years=YEARS, seed=3)
    se = math.sqrt(p * (1 - p) / YEARS)
    assert within_se(r.summary().loc["bern", "p_loss"], p, se)
    assert r.counts["bern"].max() == 1
    x = r.annual_loss.to_numpy()
    assert within_se(x.mean(), p * LOSS.mean(), x.std(ddof=1) / math.sqrt(YEARS))


def test_constant_susceptibility_thins_threat_events():
    s = rb.Scenario("thin", threat_event_frequency=4.0, susceptibility=0.25, primary_loss=LOSS)
    r = rb.simulate(s, years=YEARS, seed=4)
    assert within_se(r.summary().loc["thin", "p_loss"], 1 - math.exp(-1.0), math.sqrt(0.63 * 0.37 / YEARS))
    counts = r.counts["thin"].to_numpy()
    assert within_se(counts.var(ddof=1), 1.0, math.sqrt(2.0 / YEARS) * 2)  # thinned Poisson(1): variance 1


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param("standard", id="standard TCap vs RS with secondary loss"),
        pytest.param(
            rb.Scenario(
                "cfpoa",
                contact_frequency=rb.PERT(5, 10, 30),
                probability_of_action=rb.PERT(0.05, 0.1, 0.3),
                susceptibility=rb.PERT(0.1, 0.3, 0.6),
                primary_loss=rb.LossForms(productivity=rb.PERT(1e4, 3e4, 2e5), response=rb.LogNormal.from_ci(5e3, 1e5)),
            ),
            id="contact x action, forms of loss",
        ),
        pytest.param(
            rb.Scenario("lef", loss_event_frequency=rb.Gamma(2.0, 4.0), primary_loss=rb.Triangular(1e4, 2e4, 9e4)),
            id="gamma loss event frequency",
        ),
        pytest.param(
            rb.Scenario(
                "adj",
                threat_event_frequency=rb.PERT(1, 3, 9),
                threat_capability=rb.PERT(0.2, 0.5, 0.9),
                resistance_strength=rb.Uniform(0.3, 0.8),
                primary_loss=LOSS,
                adjustments=(
                    rb.Adjustment("frequency", rb.PERT(0.3, 0.5, 0.8), "MFA"),
                    rb.Adjustment("frequency", rb.PERT(1.1, 1.5, 2.0), "New portal"),
                    rb.Adjustment("susceptibility", rb.Uniform(0.5, 1.0), "Patch"),
                    rb.Adjustment("loss", 0.8, "IR retainer"),
                ),
            ),
            id="adjustments below and above 1",
        ),
    ],
)
@pytest.mark.parametrize("method", ["aggregate", "lef_x_lm"])
def test_simulated_ale_matches_the_exact_expected_annual_loss(scenario, method, standard_scenario):
    if scenario == "standard":
        scenario = standard_scenario
    r = rb.simulate(scenario, years=YEARS, seed=5, method=method)
    assert within_se(r.ale(), scenario.expected_annual_loss(), r.ale_se())


def test_aggregate_and_lef_x_lm_share_the_mean_but_not_the_tail():
    rare = rb.Scenario("rare", loss_event_frequency=rb.PERT(0.02, 0.05, 0.1), primary_loss=LOSS)
    agg = rb.simulate(rare, years=YEARS, seed=6)
    lxl = rb.simulate(rare, years=YEARS, seed=6, method="lef_x_lm")
    assert within_se(agg.ale() - lxl.ale(), 0.0, math.hypot(agg.ale_se(), lxl.ale_se()))
    # LEF x LM never has a loss-free year and understates the tail of rare events.
    assert lxl.summary().loc["rare", "p_loss"] == 1.0
    assert agg.summary().loc["rare", "p_loss"] < 0.1
    assert agg.var(0.99) > 2 * lxl.var(0.99)
    assert lxl.counts is None


# --------------------------------------------------------------------------- #
# Seeds, streams and chunks
# --------------------------------------------------------------------------- #
def test_same_seed_gives_bit_identical_results(example_register):
    a = rb.simulate(example_register, years=5_000, seed=42)
    b = rb.simulate(example_register, years=5_000, seed=42)
    assert np.array_equal(a.losses.to_numpy(), b.losses.to_numpy())
    assert np.array_equal(a.counts.to_numpy(), b.counts.to_numpy())
    c = rb.simulate(example_register, years=5_000, seed=43)
    assert not np.array_equal(a.losses.to_numpy(), c.losses.to_numpy())


def test_seed_none_records_entropy_that_reproduces_the_run(standard_scenario):
    a = rb.simulate(standard_scenario, years=2_000, seed=None)
    b = rb.simulate(standard_scenario, years=2_000, seed=a.seed)
    assert np.array_equal(a.annual_loss.to_numpy(), b.annual_loss.to_numpy())


_CHUNK_REFERENCE: dict[str, Any] = {}


@settings(max_examples=15, deadline=None)
@given(chunk=st.integers(1, 1_200), n_jobs=st.integers(1, 3))
def test_chunk_size_and_threads_never_change_results(chunk, n_jobs, example_register):
    # one reference run for every example (the default chunks, one thread per scenario pool)
    ref = _CHUNK_REFERENCE.get("ref")
    if ref is None:
        ref = _CHUNK_REFERENCE["ref"] = rb.simulate(example_register, years=1_200, seed=9)
    other = rb.simulate(example_register, years=1_200, seed=9, chunk_size=chunk, n_jobs=n_jobs)
    assert np.array_equal(ref.losses.to_numpy(), other.losses.to_numpy())
    assert np.array_equal(ref.counts.to_numpy(), other.counts.to_numpy())


def test_identical_scenarios_are_independent_not_identical():
    a = rb.Scenario("A", loss_event_frequency=1.0, primary_loss=LOSS)
    r = rb.simulate([a, a.renamed("B")], years=YEARS, seed=10)
    x, y = r.losses["A"].to_numpy(), r.losses["B"].to_numpy()
    assert not np.array_equal(x, y)
    corr = np.corrcoef(x, y)[0, 1]
    assert abs(corr) < 4 / math.sqrt(YEARS)
    # Independence makes the total's variance the sum of the variances.
    assert within_se(r.annual_loss.var(), x.var() + y.var(), var_se(r.annual_loss.to_numpy()))


def test_adding_a_scenario_leaves_the_others_draws_unchanged(example_register):
    alone = rb.simulate(example_register[:3], years=4_000, seed=11)
    full = rb.simulate(example_register, years=4_000, seed=11)
    for name in alone.names:
        assert np.array_equal(alone.losses[name].to_numpy(), full.losses[name].to_numpy())


def test_total_is_the_year_by_year_sum(example_register):
    r = rb.simulate(example_register, years=20_000, seed=12)
    np.testing.assert_allclose(r.annual_loss.to_numpy(), r.losses.to_numpy().sum(axis=1), rtol=1e-12)
    s = r.summary()
    assert s.loc["Total", "ale"] == pytest.approx(s.drop(index="Total")["ale"].sum())
    # Percentiles do not add: the portfolio's VaR95 is below the sum of the scenarios' VaR95.
    assert s.loc["Total", "var95"] < s.drop(index="Total")["var95"].sum()
    assert s.loc["Total", "var95"] == pytest.approx(np.quantile(r.annual_loss.to_numpy(), 0.95))


# --------------------------------------------------------------------------- #
# Common random numbers for controls
# --------------------------------------------------------------------------- #
def test_multiplier_of_one_leaves_results_bit_identical(standard_scenario):
    base = rb.simulate(standard_scenario, years=20_000, seed=13)
    for factor in ("frequency", "susceptibility", "loss", "primary_loss", "secondary_loss"):
        same = rb.simulate(standard_scenario.with_adjustments(rb.Adjustment(factor, 1.0, "no-op")), years=20_000, seed=13)
        assert np.array_equal(base.annual_loss.to_numpy(), same.annual_loss.to_numpy()), factor


@pytest.mark.parametrize("factor", ["frequency", "susceptibility"])
def test_controls_remove_events_year_by_year(standard_scenario, factor):
    """Capability vs resistance picks the candidate events; a control thins those (frequency or susceptibility),
    leaving every other event's losses unchanged: residual years are inherent years with events removed."""
    inherent = rb.simulate(standard_scenario, years=20_000, seed=14)
    control = rb.Adjustment(factor, rb.PERT(0.2, 0.5, 0.8), "control")
    residual = rb.simulate(standard_scenario.with_adjustments(control), years=20_000, seed=14)
    x, y = inherent.annual_loss.to_numpy(), residual.annual_loss.to_numpy()
    assert np.all(y <= x * (1 + 1e-12))
    assert np.all(residual.counts.to_numpy() <= inherent.counts.to_numpy())
    assert np.count_nonzero(y < x) > 1_000  # the control does remove events
    assert within_se(residual.ale(), standard_scenario.expected_annual_loss() * 0.5, residual.ale_se())
    # Common random numbers make the difference far more precise than either ALE.
    diff = x - y
    assert diff.std() < 0.8 * x.std()


def test_frequency_multiplier_above_one_adds_events(standard_scenario):
    base = rb.simulate(standard_scenario, years=YEARS, seed=15)
    more = rb.simulate(standard_scenario.with_adjustments(rb.Adjustment("frequency", 1.5, "New portal")), years=YEARS, seed=15)
    assert np.all(more.counts.to_numpy() >= base.counts.to_numpy())
    assert within_se(more.ale(), 1.5 * standard_scenario.expected_annual_loss(), more.ale_se())


def test_loss_form_multiplier_scales_only_that_form():
    forms = rb.LossForms(productivity=rb.PERT(1e4, 3e4, 9e4), response=rb.PERT(1e3, 2e3, 5e3))
    s = rb.Scenario("f", loss_event_frequency=2, primary_loss=forms)
    half = s.with_adjustments(rb.Adjustment("primary_loss.productivity", 0.5, "IR SLA"))
    r0 = rb.simulate(s, years=20_000, seed=16)
    r1 = rb.simulate(half, years=20_000, seed=16)
    assert np.array_equal(r0.counts.to_numpy(), r1.counts.to_numpy())
    assert within_se(r1.ale(), half.expected_annual_loss(), r1.ale_se())


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #
scenarios = st.builds(
    lambda lo, mode_frac, width, loss_lo, loss_ratio: rb.Scenario(
        "h",
        loss_event_frequency=rb.PERT(lo, lo + mode_frac * width, lo + width),
        primary_loss=rb.LogNormal.from_ci(loss_lo, loss_lo * loss_ratio),
    ),
    st.floats(0.01, 3),
    st.floats(0, 1),
    st.floats(0.01, 5),
    st.floats(100, 1e6),
    st.floats(1.5, 1000),
)


@settings(max_examples=20, deadline=None)
@given(s=scenarios)
def test_lec_never_rises_and_tvar_is_at_least_var(s):
    r = rb.simulate(s, years=3_000, seed=17)
    lec = r.lec()
    assert np.all(np.diff(lec["exceedance"].to_numpy()) <= 0)
    for q in (0.5, 0.9, 0.95, 0.99):
        assert r.tvar(q) >= r.var(q)


@settings(max_examples=15, deadline=None)
@given(s=scenarios, c=st.floats(0.01, 100))
def test_scaling_every_loss_scales_ale(s, c):
    a = rb.simulate(s, years=2_000, seed=18)
    b = rb.simulate(s.scaled_losses(c), years=2_000, seed=18)
    assert b.ale() == pytest.approx(c * a.ale(), rel=1e-9)
    assert b.var(0.95) == pytest.approx(c * a.var(0.95), rel=1e-9)


# --------------------------------------------------------------------------- #
# Result object, memory, errors
# --------------------------------------------------------------------------- #
def test_summary_has_the_documented_columns(example_register):
    s = rb.simulate(example_register, years=2_000, seed=19).summary()
    for col in ("ale", "ale_se", "sd", "p_loss", "p50", "p90", "p95", "p99", "var95", "tvar95"):
        assert col in s.columns
    assert list(s.index) == list(example_register.names) + ["Total"]


def test_select_resums_the_total(example_register):
    r = rb.simulate(example_register, years=2_000, seed=20)
    sub = r.select(example_register.names[:2])
    np.testing.assert_allclose(sub.annual_loss.to_numpy(), r.losses.iloc[:, :2].to_numpy().sum(axis=1))


def test_chunking_bounds_intermediate_memory(standard_scenario):
    years = 300_000
    rb.simulate(standard_scenario, years=1_000, seed=21)  # warm caches
    tracemalloc.start()
    rb.simulate(standard_scenario, years=years, seed=21, chunk_size=4_096, n_jobs=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stored = years * (8 + 1 + 8)  # losses, counts (one byte each at this rate), total
    assert peak < stored + 20 * 2**20


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"years": 0}, r"years \(0\) must be >= 1"),
        ({"years": 2.5}, r"years \(2.5\) must be a whole number"),
        ({"method": "lef"}, r"method 'lef' is not one of \['aggregate', 'lef_x_lm'\]"),
        ({"seed": -1}, r"seed \(-1\) must be a non-negative integer"),
        ({"chunk_size": 0}, r"chunk_size \(0\) must be >= 1"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match, standard_scenario):
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.simulate(standard_scenario, **kwargs)


def test_bad_scenarios_argument_is_rejected():
    with pytest.raises(rb.RiskBudgetError, match="there are no scenarios"):
        rb.simulate([], years=10)
    with pytest.raises(rb.RiskBudgetError, match="to load a file use riskbudget.read_register"):
        rb.simulate("data/example/register.csv", years=10)


def test_a_loss_adjustment_is_one_value_per_year_for_every_form_and_chunk():
    forms = rb.LossForms(productivity=rb.Constant(3e4), response=rb.Constant(1e4))
    adj = rb.Adjustment("loss", rb.Uniform(0.0, 1.0), "IR retainer")
    split = rb.Scenario("S", loss_event_frequency=2, primary_loss=forms,
                        secondary_loss_probability=0.5, secondary_loss=rb.Constant(2e4), adjustments=(adj,))
    merged = rb.Scenario("S", loss_event_frequency=2, primary_loss=rb.Constant(4e4),
                         secondary_loss_probability=0.5, secondary_loss=rb.Constant(2e4), adjustments=(adj,))
    a = rb.simulate(split, years=5_000, seed=22, chunk_size=1_000)
    b = rb.simulate(split, years=5_000, seed=22, chunk_size=777)
    c = rb.simulate(merged, years=5_000, seed=22)
    assert np.array_equal(a.annual_loss.to_numpy(), b.annual_loss.to_numpy())
    np.testing.assert_allclose(a.annual_loss.to_numpy(), c.annual_loss.to_numpy(), rtol=1e-12)
    # One multiplier per year: every loss in a year is scaled by the same draw.
    x = a.annual_loss.to_numpy()
    assert within_se(x.mean(), split.expected_annual_loss(), x.std(ddof=1) / math.sqrt(x.size))


def test_lef_x_lm_uses_one_vulnerability_number_as_pyfair_does(standard_scenario):
    r = rb.simulate(standard_scenario, years=20_000, seed=23, method="lef_x_lm")
    x = r.annual_loss.to_numpy()
    assert np.all(x > 0)  # vulnerability is P(TCap > RS) in every iteration, never a 0/1 draw
    assert within_se(r.ale(), standard_scenario.expected_annual_loss(), r.ale_se())


def test_an_imprecise_ale_is_said_in_the_summary_and_warned():
    """ALE standard error above 5% of the ALE: a note in summary().attrs and a PrecisionWarning, naming the scenario."""
    from riskbudget.simulation import PrecisionWarning

    rare = rb.Scenario("Rare", loss_event_frequency=0.01, primary_loss=rb.LogNormal.from_ci(1e4, 1e7))
    common = rb.Scenario("Common", loss_event_frequency=5.0, primary_loss=rb.LogNormal.from_ci(1e3, 1e4))
    result = rb.simulate(rb.Register([rare, common]), years=2_000, seed=1)
    with pytest.warns(PrecisionWarning, match="the portfolio's ALE is imprecise"):
        summary = result.summary()
    notes = summary.attrs["notes"]
    rse = summary.loc["Rare", "ale_se"] / summary.loc["Rare", "ale"]
    assert rse > 0.05 and any(f"{rse:.1%} of it" in n and "'Rare'" in n for n in notes)
    assert not any("'Common'" in n for n in notes)  # 10,000 events: far below 5%
    assert result.precision_notes() == notes
    assert result.precision_notes(limit=1.0) == []
    with warnings.catch_warnings():  # a precise portfolio with one imprecise scenario: a note, no warning
        warnings.simplefilter("error", PrecisionWarning)
        big = rb.Scenario("Big", loss_event_frequency=50.0, primary_loss=rb.LogNormal.from_ci(1e6, 1e7))
        quiet = rb.simulate(rb.Register([rare, big]), years=2_000, seed=1).summary()
    assert [n for n in quiet.attrs["notes"] if "'Rare'" in n] and not [n for n in quiet.attrs["notes"] if "portfolio" in n]


def test_risk_by_owner_adds_up_to_the_portfolio(example_register):
    result = rb.simulate(example_register, years=10_000, seed=3)
    table = result.summary(by="owner")
    groups = table.drop(index="Total")
    assert set(groups.index) == {s.owner or "(none)" for s in example_register}
    assert groups["scenarios"].sum() == len(example_register)
    for col, total in (("ale", result.ale()), ("var95_contribution", result.var(0.95)),
                       ("tvar95_contribution", result.tvar(0.95))):
        assert groups[col].sum() == pytest.approx(total, rel=1e-9), col
    # each group's standalone figures are those of the sum of its scenarios
    owner = groups.index[0]
    names = [s.name for s in example_register if (s.owner or "(none)") == owner]
    own = result.losses[names].to_numpy().sum(axis=1)
    assert groups.loc[owner, "tvar95"] == pytest.approx(rb.metrics.tvar(own, 0.95), rel=1e-12)
    with pytest.raises(rb.RiskBudgetError, match=r"by \('colour'\) must be a register column"):
        result.summary(by="colour")


# --------------------------------------------------------------------------- #
# Capability against resistance: one Bernoulli trial per threat event
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "tcap,rs",
    [
        (rb.PERT(0.2, 0.5, 0.9), rb.PERT(0.3, 0.6, 0.85)),
        (rb.PERT(0.05, 0.3, 0.6), rb.Uniform(0.2, 0.95)),
        (rb.Beta(2.5, 4.0), rb.Triangular(0.3, 0.5, 0.7)),
        (rb.Uniform(0.0, 1.0), rb.Constant(0.97)),
    ],
)
def test_p_capability_beats_resistance_matches_drawing_both_values(tcap, rs):
    """The engine decides each threat event with one uniform against P(TCap > RS): that probability must be what
    drawing a capability and a resistance and comparing them gives (an independent check of the quadrature)."""
    s = rb.Scenario("x", threat_event_frequency=1, threat_capability=tcap, resistance_strength=rs, primary_loss=1)
    p = s.expected_susceptibility()
    rng = np.random.default_rng(21)
    n = 4_000_000
    hits = np.count_nonzero(tcap.sample(n, rng) > rs.sample(n, rng)) / n
    assert within_se(hits, p, math.sqrt(p * (1 - p) / n), k=4.5)


def test_loss_event_counts_have_the_mixed_poisson_moments_with_capability_vs_resistance(standard_scenario):
    """N | rate ~ Poisson(rate x s) with s = P(TCap > RS): E[N] = s E[rate], Var[N] = s E[rate] + s^2 Var[rate]."""
    years = 400_000
    r = rb.simulate(standard_scenario, years=years, seed=22)
    n = r.counts.to_numpy()[:, 0].astype(float)
    s, tef = standard_scenario.expected_susceptibility(), standard_scenario.threat_event_frequency
    mean, var = s * tef.mean(), s * tef.mean() + s**2 * tef.var()
    assert within_se(n.mean(), mean, n.std() / math.sqrt(years))
    centred = (n - n.mean()) ** 2
    assert within_se(centred.mean(), var, centred.std() / math.sqrt(years))


def test_yearly_rates_are_the_frequency_draws_times_the_probability_of_action():
    """One function draws the yearly rates for the engine, the optimiser's variants and value of information."""
    from riskbudget._random import Streams, root_sequence
    from riskbudget.bayes.simulation import PosteriorRate
    from riskbudget.simulation.kernel import yearly_rates

    s = rb.Scenario("cfpoa", contact_frequency=rb.PERT(5, 10, 30), probability_of_action=rb.PERT(0.05, 0.1, 0.3),
                    susceptibility=rb.PERT(0.1, 0.3, 0.6), primary_loss=rb.PERT(1e4, 3e4, 2e5))
    root = root_sequence(3)
    by_hand = Streams(root, "cfpoa")
    expected = s.contact_frequency.sample(500, by_hand("frequency")) * s.probability_of_action.sample(
        500, by_hand("probability_of_action"))
    assert np.array_equal(yearly_rates(s, 500, Streams(root, "cfpoa")), expected)
    u = np.linspace(0.01, 0.99, 7)  # a dependence's uniforms replace the frequency's own draws
    streams = Streams(root, "cfpoa")
    poa = s.probability_of_action.sample(7, Streams(root, "cfpoa")("probability_of_action"))
    assert np.array_equal(yearly_rates(s, 7, streams, uniforms=u), s.contact_frequency.from_uniform(u) * poa)
    # posterior draws need each year's draw index; without one the error names the scenario
    post = rb.Scenario("post", loss_event_frequency=PosteriorRate([1.0, 5.0], posterior_key="k"),
                       primary_loss=rb.Constant(1.0))
    with pytest.raises(rb.RiskBudgetError, match="Scenario 'post': its loss_event_frequency holds posterior draws"):
        yearly_rates(post, 10, Streams(root, "post"))
    index = np.array([0, 1] * 5)
    rates = yearly_rates(post, 10, Streams(root, "post"), posterior_index=lambda dist: index)
    assert np.array_equal(rates, post.loss_event_frequency.sample_years(index, Streams(root, "post")("frequency")))
