"""Dependence between scenarios: copulas on annual frequencies and common shocks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import riskbudget as rb
from riskbudget.portfolio import nearest_correlation
from riskbudget.portfolio.dependence import _semidefinite_cholesky
from tests.conftest import within_se

YEARS = 40_000


def rate_scenario(name: str, **kw) -> rb.Scenario:
    """A scenario with a wide uncertain rate, so a copula on it matters."""
    return rb.Scenario(
        name,
        loss_event_frequency=kw.pop("rate", rb.LogNormal.from_ci(0.05, 3)),
        primary_loss=kw.pop("loss", rb.LogNormal.from_ci(1e5, 1e7)),
        **kw,
    )


@pytest.fixture(scope="module")
def four() -> rb.Register:
    return rb.Register([rate_scenario(n) for n in "ABCD"])


@pytest.fixture(scope="module")
def independent(four: rb.Register) -> rb.SimulationResult:
    return rb.simulate(four, years=YEARS, seed=11)


def full(rho: float, names: str = "ABCD") -> pd.DataFrame:
    m = np.full((len(names), len(names)), rho)
    np.fill_diagonal(m, 1.0)
    return pd.DataFrame(m, index=list(names), columns=list(names))


# --------------------------------------------------------------------------- #
# Zero correlation reproduces independence bit for bit
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "dep",
    [
        rb.Dependence({("A", "B"): 0.0, ("C", "D"): 0.0}),
        rb.Dependence(full(0.0)),
        rb.Dependence(np.eye(4), names=list("ABCD"), copula="t", df=3),
        rb.Dependence(),
        rb.Dependence(shocks=[rb.CommonShock("never", ["A", "B"], multiplier=5, annual_probability=0.0)]),
    ],
    ids=["pairs", "matrix", "t-copula", "empty", "shock-never"],
)
def test_zero_dependence_equals_independent_run_bit_for_bit(four, independent, dep):
    r = rb.simulate(four, years=YEARS, seed=11, dependence=dep)
    assert np.array_equal(r.losses.to_numpy(), independent.losses.to_numpy())
    assert np.array_equal(r.counts.to_numpy(), independent.counts.to_numpy())


def test_scenarios_outside_the_dependence_keep_their_draws(four, independent):
    # C and D are named, but with zero correlation: the copula must leave them alone
    dep = rb.Dependence({("A", "B"): 0.8, ("C", "D"): 0.0})
    r = rb.simulate(four, years=YEARS, seed=11, dependence=dep)
    for name in "CD":
        assert np.array_equal(r.losses[name].to_numpy(), independent.losses[name].to_numpy())
    assert not np.array_equal(r.losses["A"].to_numpy(), independent.losses["A"].to_numpy())


# --------------------------------------------------------------------------- #
# Positive correlation: heavier tail, same mean
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("copula,df", [("gaussian", None), ("t", 4.0)])
def test_positive_correlation_raises_tvar_but_not_ale(four, independent, copula, df):
    dep = rb.Dependence(full(0.9), copula=copula, df=df)
    r = rb.simulate(four, years=YEARS, seed=11, dependence=dep)
    exact = sum(s.expected_annual_loss() for s in four)
    # the ALE stays within its standard error of the exact mean and of the independent run
    assert within_se(r.ale(), exact, r.ale_se())
    assert within_se(r.ale(), independent.ale(), math.hypot(r.ale_se(), independent.ale_se()))
    # the tail is clearly heavier
    s_dep = r.summary().loc["Total"]
    s_ind = independent.summary().loc["Total"]
    gap = s_dep["tvar95"] - s_ind["tvar95"]
    assert gap > 4 * math.hypot(s_dep["tvar95_se"], s_ind["tvar95_se"])
    # every scenario keeps its own distribution: each ALE matches its exact value
    for s in four:
        assert within_se(r.ale(s.name), s.expected_annual_loss(), r.ale_se(s.name))


def test_negative_correlation_lowers_the_tail():
    # narrow losses per event, so the tail is driven by how many events the year brings
    narrow = rb.LogNormal.from_ci(1e5, 3e5)
    reg = rb.Register([rate_scenario("A", loss=narrow), rate_scenario("B", loss=narrow)])
    ind = rb.simulate(reg, years=YEARS, seed=5)
    neg = rb.simulate(reg, years=YEARS, seed=5, dependence=rb.Dependence({("A", "B"): -0.9}))
    s_neg, s_ind = neg.summary().loc["Total"], ind.summary().loc["Total"]
    assert s_ind["tvar95"] - s_neg["tvar95"] > 4 * math.hypot(s_neg["tvar95_se"], s_ind["tvar95_se"])


def test_realized_rank_correlation_of_event_counts_is_positive(four):
    r = rb.simulate(four, years=YEARS, seed=3, dependence=rb.Dependence({("A", "B"): 0.95}))
    rho = stats.spearmanr(r.counts["A"], r.counts["B"]).statistic
    rho_cd = stats.spearmanr(r.counts["C"], r.counts["D"]).statistic
    se = 1.0 / math.sqrt(YEARS - 1)
    assert rho > 10 * se
    assert abs(rho_cd) < 4 * se


# --------------------------------------------------------------------------- #
# The copula itself, against closed forms
# --------------------------------------------------------------------------- #
def _uniforms(dep: rb.Dependence, reg: rb.Register, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    driver = dep.chunk_driver(reg, np.random.SeedSequence(seed))
    return driver(0, n)[0]


@pytest.mark.parametrize("copula,df", [("gaussian", None), ("t", 3.0), ("t", 0.7)])
@pytest.mark.parametrize("rho", [0.3, -0.6, 0.85])
def test_copula_uniforms_have_the_kendall_tau_of_an_elliptical_copula(four, copula, df, rho):
    n = 20_000
    u = _uniforms(rb.Dependence({("A", "B"): rho}, copula=copula, df=df), four, n)
    a, b = u["A"], u["B"]
    # uniform margins: mean 1/2 and variance 1/12, within 4 standard errors
    for x in (a, b):
        assert x.min() >= 0.0 and x.max() < 1.0
        assert within_se(x.mean(), 0.5, math.sqrt(1 / 12 / n))
        assert within_se(x.var(), 1 / 12, math.sqrt(1 / 180 / n))
    # Kendall's tau of any elliptical copula is (2 / pi) arcsin(rho)
    tau = stats.kendalltau(a, b).statistic
    se_tau = math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1)))  # under independence: an upper bound
    assert within_se(tau, 2 / math.pi * math.asin(rho), se_tau)


def test_t_copula_joint_tail_matches_the_bivariate_t():
    reg = rb.Register([rate_scenario("A"), rate_scenario("B")])
    n, rho, df, level = 100_000, 0.5, 3.0, 0.99
    joint = {}
    for copula, d in (("gaussian", None), ("t", df)):
        u = _uniforms(rb.Dependence({("A", "B"): rho}, copula=copula, df=d), reg, n, seed=8)
        joint[copula] = float(np.mean((u["A"] > level) & (u["B"] > level)))
    cov = [[1, rho], [rho, 1]]
    z = stats.norm.ppf(level)
    exact_gauss = stats.multivariate_normal(mean=[0, 0], cov=cov).cdf([-z, -z])
    t = stats.t.ppf(level, df)
    exact_t = stats.multivariate_t(loc=[0, 0], shape=cov, df=df).cdf([-t, -t], random_state=0, maxpts=200_000)
    for copula, exact in (("gaussian", exact_gauss), ("t", exact_t)):
        assert within_se(joint[copula], exact, math.sqrt(exact * (1 - exact) / n)), copula
    # tail dependence: joint extremes are clearly more frequent under the t copula
    assert exact_t > 1.5 * exact_gauss
    assert joint["t"] - joint["gaussian"] > 4 * math.sqrt((exact_t + exact_gauss) / n)


def test_perfect_correlation_gives_identical_uniforms(four):
    u = _uniforms(rb.Dependence({("A", "B"): 1.0, ("C", "D"): -1.0}), four, 5_000)
    assert np.array_equal(u["A"], u["B"])
    np.testing.assert_allclose(u["C"] + u["D"], 1.0, atol=1e-12)


def test_semidefinite_cholesky_reproduces_the_matrix():
    m = full(0.9).to_numpy().copy()
    m[0, 1] = m[1, 0] = 1.0
    m[0, 2] = m[2, 0] = m[1, 2] = m[2, 1] = 0.9  # A == B exactly; singular but PSD
    lower = _semidefinite_cholesky(m)
    np.testing.assert_allclose(lower @ lower.T, m, atol=1e-12)
    assert np.allclose(lower, np.tril(lower))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_any_valid_correlation_matrix_is_accepted_and_reproduced(k, rank, seed):
    g = np.random.default_rng(seed)
    b = g.normal(size=(k, rank))
    c = b @ b.T + np.diag(g.uniform(0, 0.5, k))
    d = np.sqrt(np.diag(c))
    m = c / np.outer(d, d)
    names = [f"S{i}" for i in range(k)]
    dep = rb.Dependence(m, names=names)
    np.testing.assert_allclose(dep.matrix().to_numpy(), m, atol=1e-12)
    lower = _semidefinite_cholesky(m)
    np.testing.assert_allclose(lower @ lower.T, m, atol=1e-9)


# --------------------------------------------------------------------------- #
# Reproducibility
# --------------------------------------------------------------------------- #
def test_same_seed_same_result_and_chunk_size_never_matters(four):
    dep = rb.Dependence(
        full(0.6), copula="t", df=5,
        shocks=[rb.CommonShock("Cloud outage", ["A", "C"], multiplier=rb.PERT(2, 3, 6), annual_probability=0.2)],
    )
    a = rb.simulate(four, years=10_000, seed=4, dependence=dep)
    b = rb.simulate(four, years=10_000, seed=4, dependence=dep, chunk_size=999, n_jobs=1)
    c = rb.simulate(four, years=10_000, seed=5, dependence=dep)
    assert np.array_equal(a.losses.to_numpy(), b.losses.to_numpy())
    assert not np.array_equal(a.losses.to_numpy(), c.losses.to_numpy())


def test_dependence_works_with_lef_x_lm(four):
    r = rb.simulate(four, years=10_000, seed=4, method="lef_x_lm", dependence=rb.Dependence(full(0.5)))
    exact = sum(s.expected_annual_loss() for s in four)
    assert within_se(r.ale(), exact, r.ale_se())


def test_copula_drives_annual_probability_and_contact_frequency():
    reg = rb.Register([
        rb.Scenario("P", annual_probability=rb.Beta(2, 8), primary_loss=rb.LogNormal.from_ci(1e5, 1e6)),
        rb.Scenario("C", contact_frequency=rb.PERT(1, 4, 20), probability_of_action=rb.PERT(0.1, 0.2, 0.5),
                    susceptibility=rb.PERT(0.1, 0.3, 0.5), primary_loss=rb.LogNormal.from_ci(1e4, 1e6)),
    ])
    r = rb.simulate(reg, years=YEARS, seed=2, dependence=rb.Dependence({("P", "C"): 0.9}))
    for s in reg:
        assert within_se(r.ale(s.name), s.expected_annual_loss(), r.ale_se(s.name))
    assert stats.spearmanr(r.counts["P"], r.counts["C"]).statistic > 10 / math.sqrt(YEARS)


# --------------------------------------------------------------------------- #
# Common shocks
# --------------------------------------------------------------------------- #
LOSS = rb.LogNormal.from_ci(1e4, 1e6)


def const_rate(name: str, rate: float) -> rb.Scenario:
    return rb.Scenario(name, loss_event_frequency=rate, primary_loss=LOSS)


def test_common_shock_mean_and_covariance_match_closed_forms():
    lam1, lam2, p, m = 0.8, 1.5, 0.1, 4.0
    reg = rb.Register([const_rate("X", lam1), const_rate("Y", lam2), const_rate("Z", 1.0)])
    shock = rb.CommonShock("Cloud outage", ["X", "Y"], multiplier=m, annual_probability=p)
    r = rb.simulate(reg, years=YEARS, seed=9, dependence=rb.Dependence(shocks=[shock]))
    mult = 1 - p + p * m
    assert shock.expected_multiplier("X") == pytest.approx(mult)
    for name, lam in (("X", lam1), ("Y", lam2)):
        n = r.counts[name].to_numpy()
        assert within_se(n.mean(), lam * mult, n.std(ddof=1) / math.sqrt(YEARS))
        assert within_se(r.ale(name), lam * mult * LOSS.mean(), r.ale_se(name))
    # Cov(N_X, N_Y) = lam1 lam2 Var(M) with M = 1 + (m - 1) B, B ~ Bernoulli(p)
    x = r.counts["X"].to_numpy() - r.counts["X"].mean()
    y = r.counts["Y"].to_numpy() - r.counts["Y"].mean()
    prod = x * y
    exact_cov = lam1 * lam2 * (m - 1) ** 2 * p * (1 - p)
    assert within_se(prod.mean(), exact_cov, prod.std(ddof=1) / math.sqrt(YEARS))
    z = r.counts["Z"].to_numpy() - r.counts["Z"].mean()
    assert within_se((x * z).mean(), 0.0, (x * z).std(ddof=1) / math.sqrt(YEARS))


def test_years_without_the_shock_equal_the_independent_run():
    reg = rb.Register([const_rate("X", 2.0), const_rate("Y", 1.0)])
    ind = rb.simulate(reg, years=20_000, seed=1)
    shock = rb.CommonShock("Outage", ["X"], multiplier=rb.PERT(2, 3, 5), annual_probability=0.3)
    dep = rb.Dependence(shocks=[shock])
    r = rb.simulate(reg, years=20_000, seed=1, dependence=dep)
    _, mult = dep.chunk_driver(reg, np.random.SeedSequence(1))(0, 20_000)
    calm = mult["X"] == 1.0
    assert 0.6 < calm.mean() < 0.8
    assert np.array_equal(r.losses["X"].to_numpy()[calm], ind.losses["X"].to_numpy()[calm])
    assert np.array_equal(r.losses["Y"].to_numpy(), ind.losses["Y"].to_numpy())
    assert (r.counts["X"].to_numpy()[~calm] >= ind.counts["X"].to_numpy()[~calm]).all()


def test_shock_rate_means_at_least_one_occurrence_a_year():
    shock = rb.CommonShock("Outage", ["X"], multiplier=2, rate=0.5)
    assert shock.annual_probability == pytest.approx(1 - math.exp(-0.5))
    assert shock.rate == 0.5
    reg = rb.Register([const_rate("X", 1.0)])
    _, mult = rb.Dependence(shocks=[shock]).chunk_driver(reg, np.random.SeedSequence(0))(0, YEARS)
    p = shock.annual_probability
    assert within_se((mult["X"] == 2.0).mean(), p, math.sqrt(p * (1 - p) / YEARS))


def test_per_scenario_multipliers_are_driven_by_one_severity():
    shock = rb.CommonShock("Outage", {"X": rb.PERT(1, 2, 4), "Y": rb.Uniform(3, 9)}, annual_probability=0.5)
    reg = rb.Register([const_rate("X", 1.0), const_rate("Y", 1.0)])
    _, mult = rb.Dependence(shocks=[shock]).chunk_driver(reg, np.random.SeedSequence(0))(0, 5_000)
    hit = mult["Y"] != 1.0
    assert stats.spearmanr(mult["X"][hit], mult["Y"][hit]).statistic == pytest.approx(1.0)
    assert mult["Y"][hit].min() >= 3 and mult["Y"][hit].max() <= 9


def test_two_shocks_on_one_scenario_multiply():
    s1 = rb.CommonShock("One", ["X"], multiplier=2, annual_probability=1.0)
    s2 = rb.CommonShock("Two", ["X"], multiplier=3, annual_probability=1.0)
    reg = rb.Register([const_rate("X", 1.0)])
    _, mult = rb.Dependence(shocks=[s1, s2]).chunk_driver(reg, np.random.SeedSequence(0))(0, 100)
    assert (mult["X"] == 6.0).all()


def test_shock_on_an_annual_probability_scenario():
    q, p, m = 0.1, 0.2, 3.0
    reg = rb.Register([rb.Scenario("P", annual_probability=q, primary_loss=LOSS)])
    shock = rb.CommonShock("Outage", ["P"], multiplier=m, annual_probability=p)
    r = rb.simulate(reg, years=YEARS, seed=2, dependence=rb.Dependence(shocks=[shock]))
    exact = q * (1 - p + p * m)
    assert within_se(r.summary().loc["P", "p_loss"], exact, math.sqrt(exact * (1 - exact) / YEARS))


def test_describe_and_repr():
    dep = rb.Dependence({("A", "B"): 0.5}, copula="t", df=4,
                        shocks=[rb.CommonShock("Outage", ["A"], multiplier=2, annual_probability=0.1)])
    text = "\n".join(dep.describe())
    assert "Student-t copula (df = 4)" in text and "A ~ B: +0.50" in text and "Outage" in text
    assert dep.scenarios == ("A", "B")
    assert dep.correlated == ("A", "B")
    assert "1 correlation(s)" in repr(dep)
    assert rb.Dependence().describe() == ["Scenarios are independent."]
    more = dep.with_shocks(rb.CommonShock("Other", ["B"], multiplier=2, annual_probability=0.1))
    assert [s.name for s in more.shocks] == ["Outage", "Other"] and more.pairs() == dep.pairs()


# --------------------------------------------------------------------------- #
# Nearest correlation matrix
# --------------------------------------------------------------------------- #
def test_nearest_correlation_repairs_an_inconsistent_matrix():
    bad = np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]])
    with pytest.raises(rb.RiskBudgetError, match="not positive semi-definite"):
        rb.Dependence(bad, names=list("ABC"))
    fixed = nearest_correlation(bad, names=list("ABC"))
    assert np.linalg.eigvalsh(fixed.to_numpy()).min() > -1e-9
    np.testing.assert_allclose(np.diag(fixed.to_numpy()), 1.0)
    rb.Dependence(fixed)  # accepted
    ok = full(0.3, "ABC")
    np.testing.assert_allclose(nearest_correlation(ok).to_numpy(), ok.to_numpy(), atol=1e-10)


# --------------------------------------------------------------------------- #
# Bad input: every rule names the offending entry
# --------------------------------------------------------------------------- #
def test_matrix_not_symmetric_names_the_entry():
    m = full(0.2, "ABC")
    m.loc["A", "C"] = 0.5
    with pytest.raises(rb.RiskBudgetError, match=r"not symmetric: entry \('A', 'C'\) is 0.5 but \('C', 'A'\) is 0.2"):
        rb.Dependence(m)


def test_diagonal_must_be_one():
    m = full(0.2, "AB")
    m.loc["B", "B"] = 0.9
    with pytest.raises(rb.RiskBudgetError, match=r"diagonal entry \('B', 'B'\) is 0.9"):
        rb.Dependence(m)


def test_entry_outside_minus_one_one():
    with pytest.raises(rb.RiskBudgetError, match=r"\('A', 'B'\) = 1.2 lies outside \[-1, 1\]"):
        rb.Dependence(full(1.2, "AB"))
    with pytest.raises(rb.RiskBudgetError, match=r"\('A', 'B'\) = -1.5 lies outside \[-1, 1\]"):
        rb.Dependence({("A", "B"): -1.5})


def test_not_positive_semidefinite_says_which_eigenvalue_and_scenarios():
    with pytest.raises(rb.RiskBudgetError, match=r"smallest eigenvalue is -0\.\d+ .*'A'.*nearest_correlation"):
        rb.Dependence({("A", "B"): 0.9, ("B", "C"): 0.9, ("A", "C"): -0.9})


def test_nan_entry():
    m = full(0.2, "AB")
    m.loc["A", "B"] = np.nan
    with pytest.raises(rb.RiskBudgetError, match=r"entry \('A', 'B'\) is nan"):
        rb.Dependence(m)


def test_unknown_scenario_name_at_simulation(four):
    with pytest.raises(rb.RiskBudgetError, match="names scenario 'Q', which is not in the register"):
        rb.simulate(four, years=100, seed=1, dependence=rb.Dependence({("A", "Q"): 0.5}))
    shock = rb.CommonShock("Outage", ["A", "Nope"], multiplier=2, annual_probability=0.1)
    with pytest.raises(rb.RiskBudgetError, match="common shock 'Outage' hits scenario 'Nope'"):
        rb.simulate(four, years=100, seed=1, dependence=rb.Dependence(shocks=[shock]))


def test_constant_frequency_cannot_be_correlated():
    reg = rb.Register([const_rate("X", 1.0), rate_scenario("Y")])
    with pytest.raises(rb.RiskBudgetError, match=r"'X' has a constant loss_event_frequency \(1\).*CommonShock"):
        rb.simulate(reg, years=100, seed=1, dependence=rb.Dependence({("X", "Y"): 0.5}))


def test_shock_cannot_push_an_annual_probability_above_one():
    reg = rb.Register([rb.Scenario("P", annual_probability=0.4, primary_loss=LOSS)])
    shock = rb.CommonShock("Outage", ["P"], multiplier=3, annual_probability=0.1)
    with pytest.raises(rb.RiskBudgetError, match=r"'P' states an annual_probability \(up to 0.4\).*up to 3"):
        rb.simulate(reg, years=100, seed=1, dependence=rb.Dependence(shocks=[shock]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"copula": "clayton"}, "copula 'clayton' is not one of"),
        ({"copula": "t"}, "t copula needs degrees of freedom"),
        ({"copula": "t", "df": 0}, r"df \(0\) must be a finite number > 0"),
        ({"copula": "t", "df": "many"}, r"df \('many'\) must be a number"),
        ({"df": 4}, "applies to the t copula only"),
    ],
)
def test_copula_options(kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.Dependence({("A", "B"): 0.5}, **kwargs)


@pytest.mark.parametrize(
    "correlation,kwargs,match",
    [
        ({("A", "A"): 0.5}, {}, r"correlation \('A', 'A'\) = 0.5; a scenario's correlation with itself is 1"),
        ({("A", "B"): 0.5, ("B", "A"): 0.4}, {}, r"given twice with different values"),
        ({"A": 0.5}, {}, r"keys must be \(scenario, scenario\) pairs"),
        ({("A", "B"): "high"}, {}, r"must be a number"),
        ({("A", ""): 0.5}, {}, "non-empty strings"),
        ([("A", "B")], {}, r"give correlations as \(scenario, scenario, rho\) triples"),
        ([[1, 0], [0]], {"names": ["A", "B"]}, "must hold numbers"),
        (np.eye(2), {}, r"give names=\[...\]"),
        (np.eye(2), {"names": ["A"]}, r"1 names for a 2 x 2 correlation matrix"),
        (np.eye(2), {"names": ["A", "A"]}, r"\['A'\] listed more than once"),
        (np.ones((2, 3)), {"names": ["A", "B"]}, "must be square"),
        (pd.DataFrame(np.eye(2), index=["A", "B"], columns=["A", "C"]), {}, "must name the same scenarios"),
        (pd.DataFrame(np.eye(2), index=list("AB"), columns=list("AB")), {"names": ["A", "B"]}, "do not also pass names"),
        ({("A", "B"): 0.5}, {"names": ["A", "B"]}, "names= is for a full matrix"),
        (None, {"names": ["A"]}, "but none was given"),
    ],
)
def test_correlation_input_errors(correlation, kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.Dependence(correlation, **kwargs)


def test_matrix_with_names_reorders_dataframe_columns():
    m = pd.DataFrame([[0.3, 1.0], [1.0, 0.3]], index=["B", "A"], columns=["A", "B"])
    dep = rb.Dependence(m)
    assert dep.names == ("A", "B")
    assert dep.matrix().loc["A", "B"] == 0.3 and dep.matrix().loc["A", "A"] == 1.0


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        (("", ["A"]), {"multiplier": 2, "annual_probability": 0.1}, "name must be a non-empty string"),
        (("S", ["A"]), {"annual_probability": 0.1}, "multiplier is missing"),
        (("S", {"A": 2}), {"multiplier": 2, "annual_probability": 0.1}, "not both"),
        (("S", []), {"multiplier": 2, "annual_probability": 0.1}, "at least one scenario"),
        (("S", "A"), {"multiplier": 2, "annual_probability": 0.1}, "must be a list of scenario names"),
        (("S", ["A", "A"]), {"multiplier": 2, "annual_probability": 0.1}, r"\['A'\] listed more than once"),
        (("S", ["A"]), {"multiplier": 2}, "exactly one of annual_probability"),
        (("S", ["A"]), {"multiplier": 2, "annual_probability": 0.1, "rate": 0.1}, "exactly one of annual_probability"),
        (("S", ["A"]), {"multiplier": 2, "annual_probability": 1.5}, r"annual_probability \(1.5\) must lie in \[0, 1\]"),
        (("S", ["A"]), {"multiplier": 2, "rate": -1}, r"rate \(-1\) must be a finite number >= 0"),
        (("S", ["A"]), {"multiplier": rb.Uniform(-1, 2), "rate": 1}, "multiplier for 'A'.*can be negative"),
        (("S", ["A"]), {"multiplier": "big", "rate": 1}, "multiplier"),
    ],
)
def test_common_shock_errors(args, kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.CommonShock(*args, **kwargs)


def test_dependence_shock_list_errors():
    s = rb.CommonShock("S", ["A"], multiplier=2, annual_probability=0.1)
    with pytest.raises(rb.RiskBudgetError, match="two common shocks are named 'S'"):
        rb.Dependence(shocks=[s, s])
    with pytest.raises(rb.RiskBudgetError, match="must be CommonShock objects"):
        rb.Dependence(shocks=["S"])
    with pytest.raises(KeyError, match="does not hit 'B'"):
        s.multiplier_for("B")


def test_simulate_rejects_a_non_dependence(four):
    with pytest.raises(rb.RiskBudgetError, match="dependence must be a riskbudget.Dependence, not dict"):
        rb.simulate(four, years=100, seed=1, dependence={("A", "B"): 0.5})


def test_expected_frequency_multiplier_of_shocks_matches_simulation_and_report():
    a = rb.Scenario("A", loss_event_frequency=rb.PERT(0.5, 1, 2), primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
    b = rb.Scenario("B", loss_event_frequency=rb.PERT(0.5, 1, 2), primary_loss=rb.LogNormal.from_ci(1e4, 1e6))
    dep = rb.Dependence(shocks=[
        rb.CommonShock("Outage", ["A"], multiplier=rb.PERT(2, 4, 10), annual_probability=0.1),
        rb.CommonShock("Breach wave", ["A", "B"], multiplier=2.0, annual_probability=0.2),
    ])
    expected = (1 - 0.1 + 0.1 * rb.PERT(2, 4, 10).mean()) * (1 - 0.2 + 0.2 * 2.0)
    assert dep.expected_frequency_multiplier("A") == pytest.approx(expected)
    assert dep.expected_frequency_multiplier("B") == pytest.approx(1.2)
    r = rb.simulate([a, b], years=100_000, seed=3, dependence=dep)
    exact = a.expected_annual_loss() * expected
    assert abs(r.ale("A") - exact) <= 4 * r.ale_se("A")
    from riskbudget.formatting import money

    rep = rb.report([a, b], years=20_000, seed=3, dependence=dep)
    shown = money(exact + b.expected_annual_loss() * 1.2)
    without_shocks = money(a.expected_annual_loss() + b.expected_annual_loss())
    assert f"the exact value implied by the estimates is {shown}" in " ".join(rep.html.split())
    assert shown != without_shocks
