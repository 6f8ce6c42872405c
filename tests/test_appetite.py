"""Tolerance curves and risk appetite: closed forms, interpolation, checks, files, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import riskbudget as rb
from riskbudget.appetite import Limit, write_appetite


# --------------------------------------------------------------------------- #
# Tolerance curve through two points: a lognormal, in closed form
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("points", [[(0.5, 1e6), (0.01, 50e6)], [(0.2, 8e6), (0.01, 4e7)], [(0.9, 1e4), (0.3, 2e4)]])
def test_two_points_give_the_lognormal_through_them(points):
    (p1, x1), (p2, x2) = sorted(points, key=lambda t: t[1])
    # P(L > x) = 1 - Phi((ln x - mu) / sigma) through both points
    z1, z2 = stats.norm.ppf(1 - p1), stats.norm.ppf(1 - p2)
    sigma = (math.log(x2) - math.log(x1)) / (z2 - z1)
    mu = math.log(x1) - sigma * z1
    exact = stats.lognorm(s=sigma, scale=math.exp(mu))
    curve = rb.ToleranceCurve.from_points(points)
    assert curve.is_lognormal
    assert curve.lognormal_parameters == pytest.approx((mu, sigma), rel=1e-12)
    x = np.geomspace(x1 / 100, x2 * 100, 57)  # inside and far outside the points
    np.testing.assert_allclose(curve.prob_at(x), exact.sf(x), rtol=1e-9, atol=1e-300)
    p = np.array([0.999, 0.7, p1, 0.1, p2, 1e-4])
    np.testing.assert_allclose(curve.loss_at(p), exact.isf(p), rtol=1e-9)
    assert curve.prob_at(x1) == pytest.approx(p1, rel=1e-12)
    assert curve.loss_at(p2) == pytest.approx(x2, rel=1e-12)
    assert curve.prob_at(0.0) == 1.0 and curve.prob_at(-5.0) == 1.0


POINTS = st.lists(
    st.tuples(st.floats(1e-4, 0.999), st.floats(1e3, 1e9)), min_size=3, max_size=7
).filter(lambda pts: len({round(math.log(x), 3) for _, x in pts}) == len(pts) and len({round(p, 5) for p, _ in pts}) == len(pts))


def _monotone(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Pair sorted probabilities (descending) with sorted losses (ascending)."""
    ps = sorted((p for p, _ in points), reverse=True)
    xs = sorted(x for _, x in points)
    return list(zip(ps, xs))


@settings(max_examples=60, deadline=None)
@given(POINTS)
def test_more_points_give_a_monotone_curve_through_every_point(raw):
    pts = _monotone(raw)
    curve = rb.ToleranceCurve.from_points(pts)
    assert not curve.is_lognormal
    for p, x in pts:
        assert curve.prob_at(x) == pytest.approx(p, rel=1e-9)
        assert curve.loss_at(p) == pytest.approx(x, rel=1e-9)
    xs = np.geomspace(pts[0][1] / 50, pts[-1][1] * 50, 400)
    probs = curve.prob_at(xs)
    assert np.all(np.diff(probs) <= 1e-15)  # never rises with loss
    assert np.all((probs >= 0) & (probs <= 1))
    # loss_at inverts prob_at
    inner = probs[(probs > 1e-8) & (probs < 1 - 1e-8)]
    np.testing.assert_allclose(curve.prob_at(curve.loss_at(inner)), inner, rtol=1e-7)


def test_interpolation_is_lognormal_between_neighbouring_points():
    pts = [(0.5, 1e6), (0.1, 1e7), (0.01, 5e7)]
    curve = rb.ToleranceCurve.from_points(pts)
    between = rb.ToleranceCurve.from_points(pts[1:])  # the lognormal through the last two points
    x = np.geomspace(1e7, 5e7, 9)
    np.testing.assert_allclose(curve.prob_at(x), between.prob_at(x), rtol=1e-12)
    beyond = np.array([1e8, 1e9])  # extrapolated along the last segment
    np.testing.assert_allclose(curve.prob_at(beyond), between.prob_at(beyond), rtol=1e-9)


def test_points_are_sorted_and_described():
    curve = rb.ToleranceCurve.from_points([(0.01, 5e7), (0.5, 1e6)])
    assert curve.points == ((0.5, 1e6), (0.01, 5e7))
    assert str(curve) == "tolerance curve: lognormal through P(loss > $1M) = 50.00%, P(loss > $50M) = 1.00%"
    assert curve.to_list() == [[0.5, 1e6], [0.01, 5e7]]
    frame = curve.curve([1e6, 5e7])
    assert list(frame.columns) == ["loss", "tolerated_exceedance"]
    assert frame["tolerated_exceedance"].tolist() == pytest.approx([0.5, 0.01])


@pytest.mark.parametrize(
    "points,match",
    [
        ([(0.5, 1e6)], "needs at least two"),
        ([(0.5, 1e6), (1.0, 1e7)], r"point 2 probability \(1.0\) must lie in \(0, 1\)"),
        ([(0.0, 1e6), (0.1, 1e7)], r"point 1 probability \(0.0\) must lie in \(0, 1\)"),
        ([(0.5, 0.0), (0.1, 1e7)], r"point 1 loss \(0.0\) must be a positive number"),
        ([(0.5, 1e6), (0.1, math.inf)], r"point 2 loss \(inf\) must be finite"),
        ([(0.5, 1e6), (0.6, 1e7)], r"must fall as loss grows, but P\(loss > \$1M\) = 0.5 and P\(loss > \$10M\) = 0.6"),
        ([(0.5, 1e6), (0.1, 1e6)], r"two points share the loss \$1M"),
        ([(0.5, "big"), (0.1, 1e7)], r"point 1 loss \('big'\) must be a number"),
        ([(0.5, 1e6, 3), (0.1, 1e7)], r"give \(probability, loss\) pairs"),
        ([0.5, 0.1], r"give \(probability, loss\) pairs|must be a \(probability, loss\) pair"),
    ],
)
def test_tolerance_curve_errors(points, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.ToleranceCurve.from_points(points)


def test_loss_at_needs_a_probability_inside_zero_one():
    curve = rb.ToleranceCurve.from_points([(0.5, 1e6), (0.01, 5e7)])
    with pytest.raises(rb.RiskBudgetError, match=r"probabilities must lie in \(0, 1\)"):
        curve.loss_at(1.0)


# --------------------------------------------------------------------------- #
# Appetite limits
# --------------------------------------------------------------------------- #
LOSSES = np.arange(1.0, 10_001.0) * 1_000.0  # 1K ... 10M, one year each


def test_appetite_reports_which_limits_hold_and_by_how_much():
    appetite = rb.Appetite(var95=9.6e6, tvar99=1e7, exceedance={5e6: 0.4}, var={0.5: 4e6})
    status = appetite.check(LOSSES)
    table = status.table.set_index("limit")
    assert list(table.index) == ["VaR95", "TVaR99", "VaR50", "P(loss > $5M)"]
    var95 = np.quantile(LOSSES, 0.95)
    assert table.loc["VaR95", "value"] == var95 and table.loc["VaR95", "ok"]
    assert table.loc["VaR95", "margin"] == pytest.approx(9.6e6 - var95)
    tvar99 = LOSSES[LOSSES >= np.quantile(LOSSES, 0.99)].mean()
    assert table.loc["TVaR99", "value"] == pytest.approx(tvar99) and table.loc["TVaR99", "ok"]
    assert not table.loc["VaR50", "ok"] and table.loc["VaR50", "margin"] < 0
    assert table.loc["P(loss > $5M)", "value"] == 0.5 and not table.loc["P(loss > $5M)", "ok"]
    assert table.loc["P(loss > $5M)", "se"] == pytest.approx(math.sqrt(0.25 / LOSSES.size))
    assert not status.ok and not bool(status)
    assert status.breaches == [
        "VaR50 is $5M, above the limit of $4M",
        "P(loss > $5M) is 50.0%, above the limit of 40.0%",
    ]
    assert "outside appetite" in repr(status)
    assert rb.Appetite(var95=1e7).check(LOSSES).ok


def test_appetite_checks_a_simulation_result_and_one_scenario(example_register):
    r = rb.simulate(example_register, years=5_000, seed=1)
    name = example_register.names[0]
    whole = rb.Appetite(var95=1e12).check(r)
    one = rb.Appetite(var95=1e12).check(r, scenario=name)
    assert whole.table.loc[0, "value"] == r.var(0.95)
    assert one.table.loc[0, "value"] == r.var(0.95, name)


def test_tolerance_check_finds_where_the_curve_crosses():
    # simulated losses lognormal(15, 1); tolerance lognormal(15.5, 0.5): the sf are equal at ln x = 16
    n = 200_000
    losses = np.random.default_rng(3).lognormal(15.0, 1.0, n)
    tol_dist = stats.lognorm(s=0.5, scale=math.exp(15.5))
    curve = rb.ToleranceCurve.from_points([(tol_dist.sf(x), x) for x in (3e6, 3e7)])
    status = rb.Appetite(tolerance=curve).check(losses)
    assert not status.tolerance_ok and not status.ok
    crossings = status.crossing_losses()
    assert len(crossings) == 1
    assert crossings[0] == pytest.approx(math.exp(16.0), rel=0.05)
    (low, high, years), = status.tolerance_breaches()
    assert low == pytest.approx(math.exp(16.0), rel=0.05)
    assert years >= 10 and high <= status.tolerance_checked_to
    assert "above the tolerance curve between" in status.breaches[0]
    # below the crossing the simulated curve is under the tolerance curve
    table = status.tolerance_table
    under = table[(table["loss"] < 0.9 * math.exp(16.0)) & table["resolved"]]
    assert len(under) and not under["above"].any()


def test_tolerance_check_ignores_the_unresolved_far_tail():
    # 1,000 years; the largest loss sits far above the tolerance curve but is a single year
    losses = np.concatenate([np.linspace(1e4, 1e5, 999), [1e9]])
    curve = rb.ToleranceCurve.from_points([(0.5, 1e6), (0.01, 1e7)])
    status = rb.Appetite(tolerance=curve).check(losses)
    assert status.tolerance_ok
    assert status.tolerance_checked_to == pytest.approx(1e5, rel=0.1)
    strict = rb.Appetite(tolerance=curve).check(losses, min_years=1)
    assert not strict.tolerance_ok
    assert "only 1 simulated year(s)" in strict.breaches[0]
    with pytest.raises(rb.RiskBudgetError, match=r"min_years \(-1\) must be a whole number >= 0"):
        rb.Appetite(tolerance=curve).check(losses, min_years=-1)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"var": {1.5: 1e6}}, r"var level \(1.5\) must lie in \(0, 1\)"),
        ({"var95": -1}, r"VaR95 limit \(-1.0\) must be a positive amount"),
        ({"tvar99": "a lot"}, r"tvar limit \('a lot'\) must be a number"),
        ({"exceedance": {1e6: 1.5}}, r"P\(loss > \$1M\) limit \(1.5\) must be a probability in \(0, 1\]"),
        ({"exceedance": {-1: 0.1}}, r"exceedance threshold \(-1.0\) must be a loss >= 0"),
        ({"exceedance": [0.1]}, "exceedance must be a mapping"),
        ({"tolerance": [(0.5, 1e6), (0.1, 1e7)]}, "tolerance must be a ToleranceCurve"),
    ],
)
def test_appetite_errors(kwargs, match):
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.Appetite(**kwargs)


def test_limit_kind_error():
    with pytest.raises(rb.RiskBudgetError, match="kind 'median' must be"):
        Limit("median", 0.5, 1e6)


def test_empty_appetite_is_falsy_and_always_ok():
    assert not rb.Appetite()
    assert rb.Appetite().check(LOSSES).ok


# --------------------------------------------------------------------------- #
# Appetite files
# --------------------------------------------------------------------------- #
def test_example_appetite_file_loads_and_describes_itself():
    appetite = rb.read_appetite(rb.io.example_path("appetite.yaml"))
    assert appetite.tolerance.points == ((0.2, 8e6), (0.01, 4e7))
    assert [(lim.label, lim.limit) for lim in appetite.limits] == [
        ("VaR95", 2e7), ("TVaR99", 4.5e7), ("P(loss > $50M)", 0.005)]
    assert appetite.describe() == [
        "VaR95 at most $20M",
        "TVaR99 at most $45M",
        "P(loss > $50M) at most 0.50%",
        "Tolerance curve: lognormal through P(loss > $8M) = 20.00%, P(loss > $40M) = 1.00%",
    ]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_appetite_round_trips_through_files(tmp_path, suffix):
    appetite = rb.Appetite(var95=2e7, tvar={0.995: 8e7}, exceedance={5e7: 0.005},
                           tolerance=rb.ToleranceCurve.from_points([(0.5, 1e6), (0.1, 1e7), (0.01, 5e7)]))
    path = write_appetite(appetite, tmp_path / f"appetite{suffix}")
    back = rb.read_appetite(path)
    assert back == appetite
    assert not list(tmp_path.glob(".*.tmp"))


def test_appetite_file_accepts_numbers_as_text(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"var95": "2e7", "exceedance": {"5e7": "0.01"}, "description": "x"}))
    appetite = rb.read_appetite(path)
    assert appetite.limits[0].limit == 2e7 and appetite.limits[1].param == 5e7


@pytest.mark.parametrize(
    "name,text,match",
    [
        ("a.yaml", "var95: 2e7\nvar96: 3e7\n", r"a.yaml: unknown key\(s\) \['var96'\]"),
        ("a.yaml", "tolerance: [[0.5, 1e6]]\n", r"a.yaml: ToleranceCurve: needs at least two"),
        ("a.yaml", "var: 0.95\n", r"a.yaml: var must be a mapping"),
        ("a.yaml", "tvar99: lots\n", r"a.yaml: tvar99 \('lots'\) must be a number"),
        ("a.yaml", "- 1\n- 2\n", "expected a mapping of appetite limits"),
        ("a.yaml", "var95: [\n", "invalid YAML"),
        ("a.json", "{", "invalid JSON at line 1"),
        ("a.txt", "var95: 1", r"unknown appetite format '.txt'"),
    ],
)
def test_appetite_file_errors(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(rb.RiskBudgetError, match=match):
        rb.read_appetite(path)


def test_missing_appetite_file(tmp_path):
    with pytest.raises(rb.RiskBudgetError, match="no such file"):
        rb.read_appetite(tmp_path / "nope.yaml")
