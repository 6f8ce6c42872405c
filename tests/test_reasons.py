"""Every funded item earns its place, and every unfunded item has a reason, on the plan's own sample."""

from __future__ import annotations

import pytest

import riskbudget as rb
from riskbudget.optimization import Constraints, optimize, precompute
from riskbudget.optimization.reasons import FUNDED_REASONS, UNFUNDED_REASONS, Reason, explain, reasons_table

YEARS = 2_000


@pytest.fixture(scope="module")
def problem():
    ds = rb.datasets
    return precompute(ds.load_register(), ds.load_controls(), ds.load_projects(), years=YEARS, seed=7, progress=False)


CASES = [
    (6e6, None),
    (6e6, rb.Appetite(tvar95=22e6)),  # binding, and solved in a few cut rounds
    (4e6, rb.Appetite(var95=15e6)),
    (9e6, rb.Appetite(exceedance={50e6: 0.005})),
]
_PLANS: dict[int, object] = {}


def _plan(problem, case):
    if case not in _PLANS:
        budget, appetite = CASES[case]
        _PLANS[case] = optimize(problem, budget=budget, appetite=appetite, progress=False)
    return _PLANS[case]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_dropping_any_funded_item_breaks_a_limit_or_loses_net_value(problem, case):
    """The drop-one test, checked independently of explain(): rescore each plan minus one item on the same sample."""
    budget, appetite = CASES[case]
    plan = _plan(problem, case)
    assert plan.status == "optimal"
    base = problem.score(plan.funding)
    reasons = {r.item: r for r in explain(problem, plan.funding, appetite=appetite, constraints=Constraints(budget))}
    for name in plan.funding.names:
        r = reasons[name]
        assert r.funded and r.reason in FUNDED_REASONS and r.reason is not Reason.NONE, r
        without = problem.funding([n for n in plan.funding.names if n != name],
                                  [n for n in plan.funding.security_by_design if n != name])
        required_by = [o for o in plan.funding.names
                       if name in (problem.controls[problem.control_index[o]].requires if o in problem.control_index
                                    else problem.projects[problem.project_index[o]].requires)]
        losses = problem.total_losses(without)
        breaks = appetite is not None and not appetite.check(losses).ok
        loses = problem.score(without).expected_net_value < base.expected_net_value
        assert required_by or breaks or loses, f"{name} earns no place in the plan"
        if r.reason is Reason.PAYS:
            assert loses and not breaks
        if r.reason is Reason.LIMIT:
            assert breaks
        if r.reason is Reason.REQUIRED:
            assert required_by


@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_unfunded_item_has_a_reason_that_holds(problem, case):
    budget, appetite = CASES[case]
    plan = _plan(problem, case)
    base = problem.score(plan.funding).expected_net_value
    for r in explain(problem, plan.funding, appetite=appetite, constraints=Constraints(budget)):
        if r.funded:
            continue
        assert r.reason in UNFUNDED_REASONS, r
        assert r.detail
        if r.reason in (Reason.DOES_NOT_PAY, Reason.BREAKS_LIMIT):
            name = r.item.removesuffix(" (security by design)")
            sbd = [*plan.funding.security_by_design, *([name] if r.kind == "security by design" else [])]
            with_it = problem.funding(sorted({*plan.funding.names, name}, key=_rank(problem)), sorted(set(sbd)))
            if not problem.funding(with_it).names == with_it.names:
                continue
            if set(with_it.names) - set(plan.funding.names) == {name}:  # nothing else required: rescore directly
                assert problem.score(with_it).expected_net_value - base == pytest.approx(r.delta_net_value, abs=1e-6)
        if r.reason is Reason.DOES_NOT_PAY:
            assert r.delta_net_value <= 0  # an optimal plan leaves nothing that pays and fits on the table
        if r.reason is Reason.BREAKS_LIMIT:
            assert appetite is not None and r.limits
        if r.reason is Reason.OVER_BUDGET:
            assert "budget" in r.detail or "share" in r.detail


def _rank(problem):
    order = [*problem.control_index, *problem.project_index]
    return order.index


def test_reasons_name_included_and_excluded_items(problem):
    cons = Constraints(budget=6e6, include=("E-mail security gateway",), exclude=("Data platform",))
    plan = optimize(problem, constraints=cons, progress=False)
    reasons = {r.item: r for r in explain(problem, plan.funding, constraints=cons)}
    assert reasons["E-mail security gateway"].reason is Reason.RULE
    assert reasons["E-mail security gateway"].detail == "you asked to include it"
    assert reasons["Data platform"].reason is Reason.EXCLUDED
    # AI route optimisation requires the data platform: adding it needs the excluded item
    assert reasons["AI route optimisation"].reason is Reason.EXCLUDED


def test_the_table_has_one_row_per_candidate(problem):
    plan = optimize(problem, budget=6e6, progress=False)
    table = reasons_table(explain(problem, plan.funding, constraints=Constraints(6e6)))
    n_sbd = sum(1 for p in problem.projects if p.security_by_design is not None and p.name in plan.funding.projects)
    assert len(table) == len(problem.controls) + len(problem.projects) + n_sbd
    assert set(table.columns) >= {"funded", "reason", "detail", "delta_net_value", "delta_se"}
