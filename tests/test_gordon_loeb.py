"""Gordon-Loeb: closed-form optima against numerical maximisation, the 1/e bound, water-filling allocation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize as sopt

import riskbudget as rb
from riskbudget import gordon_loeb as gl

v_st = st.floats(0.01, 0.99)
loss_st = st.floats(1e3, 1e8)
alpha_st = st.floats(1e-8, 1e-3)
beta_st = st.floats(0.1, 5.0)
cls_st = st.sampled_from(["I", "II"])


def numeric_optimum(v, loss, alpha, beta, cls):
    f = lambda z: -gl.expected_net_benefit(z, v, loss, alpha, beta, cls)  # noqa: E731
    hi = max(v * loss, 1.0)
    res = sopt.minimize_scalar(f, bounds=(0.0, hi), method="bounded", options={"xatol": 1e-10 * hi, "maxiter": 2000})
    return res.x, -res.fun


def test_class_one_closed_form_by_hand():
    # v alpha beta L = 0.5 * 1e-5 * 1 * 1e6 = 5 -> z* = (sqrt(5) - 1) / 1e-5
    assert gl.optimal_investment(0.5, 1e6, alpha=1e-5) == pytest.approx((math.sqrt(5) - 1) / 1e-5, rel=1e-12)
    # class II: z* = (-ln(-alpha L ln v) / ln v - 1) / alpha
    v, L, a = 0.6, 2e6, 1e-5
    expected = (-math.log(-a * L * math.log(v)) / math.log(v) - 1) / a
    assert gl.optimal_investment(v, L, a, breach_class="II") == pytest.approx(expected, rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(v=v_st, loss=loss_st, alpha=alpha_st, beta=beta_st, cls=cls_st)
def test_closed_form_matches_numerical_maximisation(v, loss, alpha, beta, cls):
    z = gl.optimal_investment(v, loss, alpha, beta, cls)
    z_num, best = numeric_optimum(v, loss, alpha, beta, cls)
    enb = gl.expected_net_benefit(z, v, loss, alpha, beta, cls)
    scale = max(v * loss, 1.0)
    assert enb >= best - 1e-9 * scale  # the closed form is at least as good as the numerical optimum
    assert enb == pytest.approx(best, abs=1e-7 * scale)
    if z > 0:
        # first-order condition: marginal benefit equals one dollar
        assert gl.marginal_benefit(z, v, loss, alpha, beta, cls) == pytest.approx(1.0, rel=1e-9)
    else:
        assert gl.marginal_benefit(0.0, v, loss, alpha, beta, cls) <= 1.0


@settings(max_examples=200, deadline=None)
@given(v=v_st, loss=loss_st, alpha=st.floats(1e-9, 1.0), beta=beta_st, cls=cls_st)
def test_one_over_e_bound(v, loss, alpha, beta, cls):
    z = gl.optimal_investment(v, loss, alpha, beta, cls)
    assert 0.0 <= z <= gl.upper_bound(v, loss) * (1 + 1e-12)


def test_no_investment_when_the_first_dollar_does_not_pay():
    assert gl.optimal_investment(0.1, 1000, alpha=1e-4) == 0.0  # v alpha L = 0.01 < 1
    assert gl.optimal_investment(0.5, 0.0, alpha=1.0) == 0.0
    assert gl.optimal_investment(0.0, 1e6, alpha=1.0) == 0.0


def test_breach_probability_forms():
    assert gl.breach_probability(0, 0.4, 1e-3) == 0.4
    assert gl.breach_probability(1000, 0.4, 1e-3, beta=2) == pytest.approx(0.4 / 4)
    assert gl.breach_probability(1000, 0.4, 1e-3, breach_class="II") == pytest.approx(0.4**2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"v": 1.2, "loss": 1, "alpha": 1}, r"v \(1.2\) is a probability"),
        ({"v": 1.0, "loss": 1, "alpha": 1, "breach_class": "II"}, r"v \(1\) must lie in \(0, 1\) for class II"),
        ({"v": 0.5, "loss": -1, "alpha": 1}, r"loss \(-1\) must be >= 0"),
        ({"v": 0.5, "loss": 1, "alpha": 0}, r"alpha \(0\) must be > 0"),
        ({"v": 0.5, "loss": 1, "alpha": 1, "beta": -2}, r"beta \(-2\) must be > 0"),
        ({"v": 0.5, "loss": 1, "alpha": 1, "breach_class": "III"}, "breach_class .* must be 'I' or 'II'"),
        ({"v": "half", "loss": 1, "alpha": 1}, r"v \('half'\) must be a number"),
    ],
)
def test_parameter_errors(kwargs, message):
    with pytest.raises(rb.RiskBudgetError, match=message):
        gl.optimal_investment(**kwargs)


# --------------------------------------------------------------------------- #
# Allocation across assets
# --------------------------------------------------------------------------- #
ASSETS = [
    {"name": "ERP", "v": 0.6, "loss": 5e6, "alpha": 2e-6},
    {"name": "CRM", "v": 0.3, "loss": 2e6, "alpha": 5e-6, "class": "II"},
    {"name": "WMS", "v": 0.4, "loss": 3e6, "alpha": 1e-6, "beta": 2.0},
    {"name": "HR", "v": 0.05, "loss": 1e5, "alpha": 1e-5},  # never worth it
]


def numeric_allocation(assets, budget):
    n = len(assets)

    def neg(z):
        return -sum(
            gl.expected_net_benefit(
                max(zi, 0.0), a["v"], a["loss"], a["alpha"], a.get("beta", 1.0), a.get("class", "I")
            )
            for zi, a in zip(z, assets)
        )

    res = sopt.minimize(
        neg,
        x0=np.full(n, budget / n / 2),
        method="SLSQP",
        bounds=[(0, budget)] * n,
        constraints=[{"type": "ineq", "fun": lambda z: budget - z.sum()}],
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    return res.x, -res.fun


@pytest.mark.parametrize("budget", [50_000, 300_000, 700_000, 5_000_000])
def test_allocation_kkt_and_numerical_optimum(budget):
    a = gl.allocate(ASSETS, budget)
    z = np.array(list(a.investment.values()))
    assert (z >= 0).all() and z.sum() <= budget * (1 + 1e-9)
    lam = a.shadow_price
    for name, zi in a.investment.items():
        asset = next(x for x in ASSETS if x["name"] == name)
        mb = gl.marginal_benefit(
            zi, asset["v"], asset["loss"], asset["alpha"], asset.get("beta", 1.0), asset.get("class", "I")
        )
        if zi > 1e-9:
            assert mb == pytest.approx(1 + lam, rel=1e-6)
        else:
            assert mb <= 1 + lam + 1e-9
    if lam > 0:
        assert z.sum() == pytest.approx(budget, rel=1e-9)
    _, best = numeric_allocation(ASSETS, budget)
    assert a.expected_net_benefit >= best - 1e-6 * max(best, 1.0)
    assert a.investment["HR"] == 0.0


def test_allocation_unconstrained_when_budget_is_ample():
    a = gl.allocate(ASSETS, 1e9)
    assert a.shadow_price == 0.0
    for asset in ASSETS:
        z = gl.optimal_investment(
            asset["v"], asset["loss"], asset["alpha"], asset.get("beta", 1.0), asset.get("class", "I")
        )
        assert a.investment[asset["name"]] == pytest.approx(z)
    assert a.table.loc["ERP", "unconstrained"] == pytest.approx(a.investment["ERP"])


@settings(max_examples=25, deadline=None)
@given(budget=st.floats(0, 3e6), extra=st.floats(0, 1e6))
def test_allocation_more_budget_never_hurts(budget, extra):
    a = gl.allocate(ASSETS, budget)
    b = gl.allocate(ASSETS, budget + extra)
    assert b.expected_net_benefit >= a.expected_net_benefit - 1e-6
    assert a.total <= budget * (1 + 1e-9) + 1e-9


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: gl.breach_probability(float("nan"), 0.5, 1e-6), r"investment z \(nan\) must be finite"),
        (lambda: gl.marginal_benefit(-1.0, 0.5, 1e6, 1e-6), r"investment z \(-1\) must be >= 0"),
        (lambda: gl.upper_bound(1.5, 1e6), r"v \(1.5\) is a probability and must lie in \[0, 1\]"),
        (lambda: gl.upper_bound("x", 1e6), r"Gordon-Loeb.*v"),
        (lambda: gl.upper_bound(0.5, -1.0), r"loss \(-1\) must be >= 0"),
    ],
)
def test_investment_and_bound_inputs_are_checked(call, message):
    with pytest.raises(rb.RiskBudgetError, match=message):
        call()


def test_allocation_of_no_budget_invests_nothing():
    """At the bracket's end rounding left asset 2 a sliver (7e-12) of investment, and brentq found no sign change."""
    assets = [
        {"v": 0.5995481289582621, "loss": 111776.7142057198, "alpha": 1.165200360135117e-07,
         "beta": 2.883756927758076, "class": "II"},
        {"v": 0.36916851139545037, "loss": 676302.5402030369, "alpha": 2.9852667773500577e-05,
         "beta": 0.9911134439065346, "class": "I"},
        {"v": 0.7460932754658696, "loss": 479736.216110903, "alpha": 1.7217691913670917e-06,
         "beta": 0.5245120141089392, "class": "I"},
    ]
    assert list(gl.allocate(assets, 0.0).investment.values()) == [0.0, 0.0, 0.0]
    small = gl.allocate(assets, 1e-8)
    assert sum(small.investment.values()) == pytest.approx(1e-8, rel=1e-6)


def test_allocation_accepts_a_mapping_and_validates():
    a = gl.allocate({"ERP": {"v": 0.6, "loss": 5e6, "alpha": 2e-6}}, 100_000)
    assert list(a.investment) == ["ERP"]
    with pytest.raises(rb.RiskBudgetError, match=r"asset 'X' lacks \['alpha'\]"):
        gl.allocate([{"name": "X", "v": 0.5, "loss": 1}], 10)
    with pytest.raises(rb.RiskBudgetError, match=r"asset 'X': Gordon-Loeb: v \(2\)"):
        gl.allocate([{"name": "X", "v": 2, "loss": 1, "alpha": 1}], 10)
    with pytest.raises(rb.RiskBudgetError, match=r"unknown key\(s\) \['gamma'\]"):
        gl.allocate([{"name": "X", "v": 0.5, "loss": 1, "alpha": 1, "gamma": 3}], 10)
    with pytest.raises(rb.RiskBudgetError, match=r"budget \(-5\) must be a finite amount >= 0"):
        gl.allocate(ASSETS, -5)
    with pytest.raises(rb.RiskBudgetError, match="assets is empty"):
        gl.allocate([], 5)
    with pytest.raises(rb.RiskBudgetError, match=r"names \['A'\] appear more than once"):
        gl.allocate([{"name": "A", "v": 0.5, "loss": 1, "alpha": 1}] * 2, 5)


def test_docstring_examples_run():
    import doctest

    outcome = doctest.testmod(gl, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0
