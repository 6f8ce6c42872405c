"""The shared CIO/CISO scorecard: each figure against its own definition and the cited benchmark."""

from __future__ import annotations

import numpy as np
import pytest

import riskbudget as rb
from riskbudget.optimization import optimize
from riskbudget.scorecard import _sla_figures, scorecard


@pytest.fixture(scope="module")
def plan():
    ds = rb.datasets
    return optimize(ds.load_register(), ds.load_controls(), ds.load_projects(), budget=6e6, years=3_000, seed=7,
                    progress=False)


def test_the_scorecard_figures_follow_their_definitions(plan):
    sc = scorecard(plan, revenue=2e9, materiality=0.01)
    assert sc.expected_value == plan.expected_value
    assert sc.ale_reduced_per_dollar == pytest.approx((plan.ale_before - plan.ale) / plan.security_spend)
    assert sc.security_share == pytest.approx(plan.security_spend / plan.total_spend)
    assert sc.benchmarks["share_of_it"]["value"] == 0.132 and sc.benchmarks["share_of_it"]["year"] == 2024
    assert sc.security_share_of_revenue == pytest.approx(plan.security_spend / 2e9)
    before = plan.problem.total_losses(plan.problem.funding())
    assert sc.p_material_before == pytest.approx(np.mean(before > 20e6))
    assert sc.p_material_after == pytest.approx(np.mean(plan.result.annual_loss.to_numpy() > 20e6))
    text = sc.describe()
    assert "13.2% of IT spend in 2024" in text and "compare only if this budget is the whole IT budget" in text
    assert sc.to_dict()["security_share"] == sc.security_share
    with pytest.raises(rb.RiskBudgetError, match="materiality needs revenue"):
        scorecard(plan, materiality=0.01)


def test_sla_figures_match_a_simulation():
    h0, h1 = rb.PERT(24, 72, 240), rb.PERT(8, 24, 72)
    fig = _sla_figures(h0, h1)
    rng = np.random.default_rng(2)
    a, b = h0.sample(400_000, rng), h1.sample(400_000, rng)
    faster = b < a
    assert abs(fig["p_faster"] - faster.mean()) < 4 * faster.std() / np.sqrt(a.size)
    m = np.minimum(a, b)
    assert abs(fig["hours_with"] - m.mean()) < 4 * m.std() / np.sqrt(a.size)
    assert fig["hours_without"] == pytest.approx(h0.mean())
