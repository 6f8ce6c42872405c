"""Plots render on the Agg backend; the tests read back what is on the Axes."""

from __future__ import annotations

import numpy as np
import pytest

import riskbudget as rb
from riskbudget import plotting
from riskbudget import portfolio as pf

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

TOLERANCE = rb.ToleranceCurve.from_points([(0.2, 8e6), (0.01, 4e7)])
APPETITE = rb.Appetite(var95=2e7, tvar99=4.5e7, exceedance={5e7: 0.005}, tolerance=TOLERANCE)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def result(example_register) -> rb.SimulationResult:
    return rb.simulate(example_register, years=10_000, seed=7)


@pytest.fixture(scope="module")
def residual(example_register) -> rb.SimulationResult:
    reg = rb.Register([s.with_adjustments(rb.Adjustment("loss", 0.5, source="IR retainer")) for s in example_register])
    return rb.simulate(reg, years=10_000, seed=7)


def labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def render(ax) -> None:
    ax.figure.canvas.draw()  # mathtext and layout problems surface only when drawing


# --------------------------------------------------------------------------- #
# LEC
# --------------------------------------------------------------------------- #
def test_lec_on_a_log_axis_with_tolerance_and_appetite(result):
    ax = plotting.plot_lec(result, appetite=APPETITE)
    render(ax)
    assert ax.get_xscale() == "log"
    assert labels(ax) == [
        "Simulated", "Tolerance curve", r"VaR95 ≤ \$20M", r"TVaR99 ≤ \$45M", r"P(loss > \$50M) ≤ 0.50%",
    ]
    sim, tol = ax.get_lines()[0], ax.get_lines()[1]
    x, y = sim.get_xdata(), sim.get_ydata()
    np.testing.assert_allclose(y, result.exceedance(x))
    assert np.all(np.diff(y) <= 0)  # an LEC never rises
    np.testing.assert_allclose(tol.get_ydata(), TOLERANCE.prob_at(tol.get_xdata()))
    # the VaR95 limit is the point (limit, 1 - 0.95); the exceedance limit the point (x, p)
    marks = {line.get_label(): (line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines()}
    assert marks[r"VaR95 ≤ \$20M"] == pytest.approx((2e7, 0.05))
    assert marks[r"P(loss > \$50M) ≤ 0.50%"] == pytest.approx((5e7, 0.005))
    assert marks[r"TVaR99 ≤ \$45M"][0] == pytest.approx(4.5e7)  # a vertical line
    # money on the loss axis, percentages on the probability axis
    assert ax.xaxis.get_major_formatter()(1e6, 0) == "$1M"
    assert ax.xaxis.get_major_formatter()(250_000, 0) == "$250K"
    assert ax.yaxis.get_major_formatter()(0.25, 0).startswith("25")
    assert ax.get_xlabel() == "Annual loss" and ax.get_ylabel() == "P(annual loss > x)"


def test_several_results_overlaid_with_labels_and_bands(result, residual):
    ax = plotting.plot_lec(result, residual, labels=["Inherent", "Residual"], tolerance=TOLERANCE, band=True)
    render(ax)
    assert labels(ax)[:3] == ["Inherent", "Residual", "Tolerance curve"]
    inh, res = ax.get_lines()[:2]
    assert np.array_equal(inh.get_xdata(), res.get_xdata())  # one grid for all curves
    assert np.all(res.get_ydata() <= inh.get_ydata() + 1e-12)  # halving every loss lowers the curve
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2


def test_lec_accepts_a_mapping_an_axes_and_a_scenario(result):
    fig, ax = plt.subplots()
    name = result.names[0]
    out = plotting.plot_lec({"ERP": result}, scenario=name, yscale="log", ax=ax)
    render(out)
    assert out is ax
    assert ax.get_yscale() == "log" and labels(ax) == ["ERP"]
    line = ax.get_lines()[0]
    finite = np.isfinite(line.get_ydata())
    np.testing.assert_allclose(line.get_ydata()[finite], result.exceedance(line.get_xdata()[finite], scenario=name))
    assert name[:20] in ax.get_title()


def test_lec_errors(result):
    with pytest.raises(rb.RiskBudgetError, match="2 labels for 1 results"):
        plotting.plot_lec(result, labels=["a", "b"])
    with pytest.raises(rb.RiskBudgetError, match="at least one SimulationResult"):
        plotting.plot_lec()
    with pytest.raises(rb.RiskBudgetError, match="expected SimulationResult objects, got list"):
        plotting.plot_lec([1, 2])
    with pytest.raises(rb.RiskBudgetError, match="yscale"):
        plotting.plot_lec(result, yscale="symlog")


def test_names_with_dollar_signs_render_literally():
    s = rb.Scenario("Fraud > $5M $$ wire", loss_event_frequency=1, primary_loss=rb.LogNormal.from_ci(1e3, 1e6))
    r = rb.simulate(s, years=2_000, seed=1)
    ax = plotting.plot_lec({"Option $A$": r}, scenario="Fraud > $5M $$ wire")
    render(ax)  # would raise on unbalanced mathtext
    assert labels(ax) == [r"Option \$A\$"]
    ax = plotting.plot_histogram(r, scenario="Fraud > $5M $$ wire")
    render(ax)


def test_a_result_without_losses_is_drawn_with_a_note():
    s = rb.Scenario("Never", annual_probability=0.0, primary_loss=1e6)
    r = rb.simulate(s, years=100, seed=1)
    ax = plotting.plot_lec(r)
    assert ax.texts[0].get_text() == "No simulated year has a loss"
    ax = plotting.plot_histogram(r)
    assert ax.texts[0].get_text() == "No simulated year has a loss"


# --------------------------------------------------------------------------- #
# Histogram
# --------------------------------------------------------------------------- #
def test_histogram_marks_ale_var_and_tvar(result):
    ax = plotting.plot_histogram(result, q=0.95)
    render(ax)
    x = result.annual_loss.to_numpy()
    lines = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    assert lines[rf"ALE \{rb.formatting.money(x.mean())}"] == pytest.approx(x.mean())
    assert lines[rf"VaR95 \{rb.formatting.money(result.var(0.95))}"] == pytest.approx(result.var(0.95))
    assert lines[rf"TVaR95 \{rb.formatting.money(result.tvar(0.95))}"] == pytest.approx(result.tvar(0.95))
    # bar heights are shares of all years: they add up to P(loss > 0)
    heights = sum(p.get_height() for p in ax.patches)
    assert heights == pytest.approx(np.mean(x > 0))
    assert ax.get_xscale() == "log"
    assert "10,000 simulated years" in ax.get_title() and "with no loss" in ax.get_title()


def test_histogram_on_a_linear_scale(result):
    ax = plotting.plot_histogram(result, log_scale=False, bins=30)
    assert ax.get_xscale() == "linear" and len(ax.patches) == 30
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(1.0)


# --------------------------------------------------------------------------- #
# Scenario ranking
# --------------------------------------------------------------------------- #
def test_contribution_bars_ranked_with_the_rest_summed(result):
    table = pf.contributions(result, q=0.95)
    ax = plotting.plot_contributions(result, top=5)
    render(ax)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    ranked = table.sort_values("tvar_contribution", ascending=False)
    assert ticks[-1] == f"Other ({len(table) - 5} scenarios)"
    assert len(ticks) == 6
    red = [p for p in ax.patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("C3")]
    widths = [p.get_width() for p in red]
    np.testing.assert_allclose(widths[:5], ranked["tvar_contribution"].to_numpy()[:5])
    assert widths[5] == pytest.approx(ranked["tvar_contribution"].to_numpy()[5:].sum())
    assert sum(widths) == pytest.approx(result.tvar(0.95), rel=1e-12)
    assert labels(ax) == ["Contribution to TVaR95", "ALE"]
    assert "TVaR95" in ax.get_title()
    share = [t.get_text().strip() for t in ax.texts]
    assert share[0] == rb.formatting.percent(ranked["tvar_share"].iloc[0], digits=0)


def test_contributions_from_a_table_and_errors(result):
    table = pf.contributions(result, q=0.99)
    ax = plotting.plot_contributions(table, top=20)
    assert "TVaR99" in ax.get_title()
    assert len(ax.get_yticklabels()) == len(table)  # no "Other" bar
    with pytest.raises(rb.RiskBudgetError, match="top"):
        plotting.plot_contributions(result, top=0)
    with pytest.raises(rb.RiskBudgetError, match="no column 'ale'"):
        plotting.plot_contributions(table.drop(columns="ale"))


# --------------------------------------------------------------------------- #
# Tornado
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def tornado(example_register) -> pf.Tornado:
    return pf.tornado(example_register, years=4_000, seed=3)


@pytest.mark.parametrize("metric", ["ale", "var"])
def test_tornado_bars_span_the_low_and_high_outcomes(tornado, metric):
    ax = plotting.plot_tornado(tornado, metric=metric, top=6)
    render(ax)
    base = tornado.base_ale if metric == "ale" else tornado.base_var
    rows = tornado.top(6, by=metric)
    bars = ax.patches
    assert len(bars) == 12
    low_bars, high_bars = bars[:6], bars[6:]
    for bar, value in zip(low_bars, rows[f"{metric}_low"]):
        assert bar.get_x() == pytest.approx(base)
        assert bar.get_x() + bar.get_width() == pytest.approx(value)
    for bar, value in zip(high_bars, rows[f"{metric}_high"]):
        assert bar.get_x() + bar.get_width() == pytest.approx(value)
    assert ax.get_lines()[0].get_xdata()[0] == pytest.approx(base)  # the base line
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[0].endswith(": " + rows["input"].iloc[0])
    assert labels(ax) == ["input at its P10", "input at its P90"]


def test_tornado_errors(tornado):
    with pytest.raises(rb.RiskBudgetError, match="metric"):
        plotting.plot_tornado(tornado, metric="tvar")
    with pytest.raises(rb.RiskBudgetError, match="expected a Tornado"):
        plotting.plot_tornado(tornado.table)


def test_plotting_is_not_imported_with_the_package():
    import subprocess
    import sys

    code = "import sys, riskbudget; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_plot_insurance_draws_before_retained_and_transferred_on_a_log_axis():
    from riskbudget.insurance import Insurance

    reg = rb.datasets.load_register()
    res = rb.simulate(reg, years=5_000, seed=3, insurance=[Insurance("Primary", 1e6, 2.5e6, 10e6)])
    ax = rb.plotting.plot_insurance(res)
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels[:3] == ["Before insurance", "Retained by the company", "Paid by the insurer"]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    # the retained curve never lies above the curve before insurance
    before, retained = ax.get_lines()[0].get_ydata(), ax.get_lines()[1].get_ydata()
    ok = np.isfinite(before) & np.isfinite(retained)
    assert np.all(retained[ok] <= before[ok] + 1e-12)
    with pytest.raises(rb.RiskBudgetError, match="simulated without insurance"):
        rb.plotting.plot_insurance(rb.simulate(reg, years=500, seed=1))


def test_plot_by_year_draws_spend_and_risk_per_year():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from riskbudget.optimization import evaluate
    from riskbudget.plotting import plot_by_year

    reg = rb.Register([rb.Scenario("A", loss_event_frequency=2.0, primary_loss=rb.PERT(5e4, 1e5, 2e5), category="web")])
    ctrl = rb.Control("WAF", 10_000, applies_to="web", resistance=0.5, one_off_cost=50_000, lead_time_months=6)
    plan = evaluate(reg, [ctrl], funded=["WAF"], years=2_000, seed=1, horizon=3, appetite=rb.Appetite(tvar95=1e6),
                    progress=False)
    ax = plot_by_year(plan)
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx(list(plan.by_year["security_spend"] / 1e6) + list(plan.by_year["it_spend"] / 1e6))
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines["ALE"].get_ydata()) == pytest.approx(list(plan.by_year["ale"] / 1e6))
    assert any("TVaR95 limit" in label for label in lines) and "tail approximate" in ax.get_title()
    plt.close(ax.figure)
    with pytest.raises(rb.RiskBudgetError, match="no year table"):
        plot_by_year(evaluate(reg, [ctrl], funded=["WAF"], years=500, seed=1, progress=False))
