"""Optimisation: exact on the sample (vs exhaustive enumeration), constraints, appetite, frontier, CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import riskbudget as rb
from riskbudget import metrics
from riskbudget.controls import RiskChange, SecurityByDesign
from riskbudget.optimization import (
    DecisionProblem,
    Funding,
    evaluate,
    frontier,
    optimize,
    precompute,
    validate,
)
from riskbudget.plotting import plot_frontier

from .conftest import EXAMPLE

YEARS = 3_000
SEED = 11


#: What issue #5 requires of a plan's dictionary and of `riskbudget optimize --json`.
PLAN_KEYS = (
        "funded_controls",
        "funded_projects",
        "security_spend",
        "it_spend",
        "total_spend",
        "expected_net_value",
        "ale",
        "var95",
        "tvar95",
        "appetite_ok",
)


def small_instance() -> tuple[rb.Register, list[rb.Control], list[rb.Project]]:
    reg = rb.Register(
        [
            rb.Scenario(
                "Ransomware",
                threat_event_frequency=rb.PERT(0.2, 0.8, 2.5),
                susceptibility=rb.PERT(0.2, 0.4, 0.7),
                primary_loss=rb.LogNormal.from_ci(2e5, 6e6),
                category="ransomware",
            ),
            rb.Scenario(
                "BEC",
                threat_event_frequency=rb.PERT(5, 15, 30),
                susceptibility=rb.PERT(0.01, 0.03, 0.06),
                primary_loss=rb.LogNormal.from_ci(1e4, 4e5),
                category="fraud",
            ),
            rb.Scenario(
                "Cloud leak",
                loss_event_frequency=rb.PERT(0.05, 0.2, 0.6),
                primary_loss=rb.LogNormal.from_ci(1e5, 4e6),
                secondary_loss_probability=0.4,
                secondary_loss=rb.LogNormal.from_ci(1e5, 3e6),
                category="cloud",
            ),
            rb.Scenario(
                "Web breach",
                loss_event_frequency=rb.PERT(0.1, 0.4, 1.0),
                primary_loss=rb.LogNormal.from_ci(5e4, 2e6),
                category="web",
            ),
            rb.Scenario("Laptop", loss_event_frequency=1.0, primary_loss=rb.PERT(2e3, 1e4, 1e5), category="device"),
        ]
    )
    controls = [
        rb.Control("EDR", 150_000, applies_to="ransomware", resistance=rb.PERT(0.3, 0.5, 0.7), coverage=0.95),
        rb.Control(
            "Backups", 90_000, applies_to="ransomware", response=rb.PERT(0.3, 0.5, 0.7), loss_factor="primary_loss"
        ),
        rb.Control("MFA", 80_000, applies_to="fraud;cloud", resistance=rb.PERT(0.3, 0.5, 0.7), coverage=0.9),
        rb.Control("CSPM", 70_000, applies_to="cloud", avoidance=rb.PERT(0.2, 0.4, 0.6)),
        rb.Control("WAF", 40_000, applies_to="web", resistance=rb.PERT(0.2, 0.5, 0.8), requires="MFA"),
        rb.Control("Encryption", 20_000, applies_to="device", response=rb.PERT(0.4, 0.6, 0.8)),
    ]
    projects = [
        rb.Project(
            "Portal",
            300_000,
            value_per_year=rb.PERT(2e5, 5e5, 1.2e6),
            probability_of_failure=0.2,
            risk_changes=[RiskChange("web", rb.PERT(0.3, 0.8, 1.5))],
            security_by_design=SecurityByDesign(60_000, delay_months=2, risk_removed=rb.PERT(0.5, 0.7, 0.9)),
        ),
        rb.Project(
            "Cloud move",
            400_000,
            value_per_year=rb.PERT(3e5, 6e5, 1e6),
            probability_of_failure=0.1,
            risk_changes=[RiskChange("cloud", rb.PERT(0.5, 1.0, 2.0))],
            security_by_design=SecurityByDesign(50_000, delay_months=1, risk_removed=0.6),
        ),
        rb.Project(
            "App",
            150_000,
            value_per_year=rb.PERT(1e5, 2.5e5, 5e5),
            probability_of_failure=0.3,
            new_scenarios=[
                rb.Scenario(
                    "App abuse",
                    loss_event_frequency=rb.PERT(0.1, 0.3, 0.8),
                    primary_loss=rb.LogNormal.from_ci(2e4, 1e6),
                    category="web",
                )
            ],
            excludes="Cloud move",
        ),
    ]
    return reg, controls, projects


@pytest.fixture(scope="module")
def instance() -> tuple[rb.Register, list[rb.Control], list[rb.Project]]:
    return small_instance()


@pytest.fixture(scope="module")
def problem(instance) -> DecisionProblem:
    reg, controls, projects = instance
    return precompute(reg, controls, projects, years=YEARS, seed=SEED, n_jobs=2, progress=False)


def all_fundings(problem: DecisionProblem):
    nc = len(problem.controls)
    radix = [3 if p.security_by_design else 2 for p in problem.projects]
    for xc in itertools.product([False, True], repeat=nc):
        for sp in itertools.product(*[range(r) for r in radix]):
            yield problem.from_vectors(xc, sp)


def structurally_ok(problem: DecisionProblem, f: Funding, budget: float) -> bool:
    on = set(f.names)
    items = [problem.controls[problem.control_index[n]] for n in f.controls] + [
        problem.projects[problem.project_index[n]] for n in f.projects
    ]
    if any(r not in on for it in items for r in it.requires) or any(x in on for it in items for x in it.excludes):
        return False
    sec, it = problem.spend(f)
    return sec + it <= budget + 1e-6


def enumerate_best(
    problem: DecisionProblem, budget: float, appetite: rb.Appetite | None = None
) -> tuple[float, Funding]:
    best = (-math.inf, Funding())
    for f in all_fundings(problem):
        if not structurally_ok(problem, f, budget):
            continue
        if appetite is not None and not appetite.check(problem.total_losses(f)).ok:
            continue
        s = problem.score(f)
        if s.expected_net_value > best[0]:
            best = (s.expected_net_value, f)
    return best


# --------------------------------------------------------------------------- #
# The precomputed problem
# --------------------------------------------------------------------------- #
def test_precomputed_columns_equal_simulating_the_funded_register(problem):
    f = problem.funding(["EDR", "MFA", "WAF", "Portal", "App"], security_by_design=["Portal"])
    plan_result = problem.result_for(f)
    direct = rb.simulate(problem.register_for(f), years=YEARS, seed=SEED)
    assert list(plan_result.losses.columns) == list(direct.losses.columns)
    assert np.array_equal(plan_result.losses.to_numpy(), direct.losses.to_numpy())
    assert "App abuse" in plan_result.names
    assert "App abuse" not in problem.result_for(problem.funding(["EDR"])).names


def test_the_programs_year_rows_are_the_stored_columns(problem, monkeypatch):
    """A cut row sums a limit's worst years of every y column: from the problem's row layout (sparse, or dense when
    most entries are nonzero), kept once for every program of the problem, and equal to the stored columns."""
    from riskbudget.optimization.model import SCALE, Model
    from riskbudget.optimization.rules import Constraints, resolve_constraints

    model = Model(problem, resolve_constraints(problem, Constraints(budget=1_000_000)))
    blocks = [j for j, _, _ in model.blocks]
    stacked = np.hstack([problem.losses[j] for j in blocks])
    rng = np.random.default_rng(5)
    years = rng.choice(problem.years, 150, replace=False)
    weights = rng.uniform(0, 1, 150)
    expected = np.zeros(model.ncol)
    expected[model.ycols] = weights @ stacked[years] / SCALE
    assert np.allclose(model.year_row(years, weights), expected, rtol=1e-12, atol=0)
    one = np.zeros(model.ncol)
    one[model.ycols] = 0.5 * stacked[years[0]] / SCALE
    assert np.allclose(model.year_row(int(years[0]), 0.5), one, rtol=1e-12, atol=0)
    rows = problem.year_rows(blocks)
    assert rows is Model(problem, resolve_constraints(problem, Constraints(budget=5e5)))._year_matrix()
    assert np.count_nonzero(stacked) * 2 <= stacked.size and hasattr(rows, "tocsc")  # sparse here
    assert np.array_equal(rows.toarray(), stacked)
    import pickle

    assert pickle.loads(pickle.dumps(problem))._year_rows == {}  # the layout stays behind (rebuilt on demand)
    # mostly nonzero: a row-major array with the same rows
    monkeypatch.setattr(problem, "_year_rows", {})
    monkeypatch.setattr(np, "count_nonzero", lambda a: a.size)
    dense = problem.year_rows(blocks)
    assert isinstance(dense, np.ndarray) and dense.flags["C_CONTIGUOUS"] and np.array_equal(dense, stacked)


def test_combination_counts(problem):
    counts = dict(zip(problem.names, problem.n_combinations))
    assert counts == {
        "Ransomware": 4,
        "BEC": 2,
        "Cloud leak": 2 * 2 * 3,
        "Web breach": 2 * 3,
        "Laptop": 2,
        "App abuse": 2 * 2,
    }


def test_score_matches_evaluate(problem, instance):
    reg, controls, projects = instance
    s = problem.score(["EDR", "Backups", "Cloud move"], security_by_design=["Cloud move"])
    plan = evaluate(
        reg,
        controls,
        projects,
        funded=["EDR", "Backups", "Cloud move"],
        security_by_design=["Cloud move"],
        years=YEARS,
        seed=SEED,
        progress=False,
    )
    assert plan.expected_net_value == pytest.approx(s.expected_net_value, rel=1e-12)
    assert plan.status == "evaluated" and math.isnan(plan.solver_gap)
    assert plan.tvar95 == pytest.approx(s.tvar95) and plan.var95 == pytest.approx(s.var95)
    assert plan.security_spend == 150_000 + 90_000 + 50_000 and plan.it_spend == 400_000


# --------------------------------------------------------------------------- #
# Exactness
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("budget", [300_000, 700_000, 1_200_000])
def test_milp_equals_exhaustive_enumeration(problem, budget):
    value, best = enumerate_best(problem, budget)
    plan = optimize(problem, budget=budget)
    assert plan.status == "optimal"
    assert plan.expected_net_value == pytest.approx(value, rel=1e-9, abs=1e-6)
    assert plan.funding == best
    assert plan.solver_gap <= 1e-6


@pytest.mark.parametrize(
    "appetite",
    [
        rb.Appetite(tvar95=4.3e6),
        rb.Appetite(exceedance={2.5e6: 0.045}),
        rb.Appetite(tvar95=4.35e6, exceedance={2e6: 0.065}),
    ],
    ids=["tvar", "exceedance", "both"],
)
def test_milp_with_appetite_equals_enumeration(problem, appetite):
    budget = 1_000_000
    value, best = enumerate_best(problem, budget, appetite)
    assert math.isfinite(value), "test appetite must be feasible"
    unconstrained = enumerate_best(problem, budget)[0]
    assert value < unconstrained, "test appetite must bind"
    plan = optimize(problem, budget=budget, appetite=appetite)
    assert plan.status == "optimal" and plan.feasible and plan.appetite.ok
    assert plan.expected_net_value == pytest.approx(value, rel=1e-9, abs=1e-6)
    assert plan.funding == best


def test_a_plan_meeting_the_limits_seen_on_the_way_starts_the_next_rounds(problem, monkeypatch):
    """Every improving plan HiGHS reports is measured; the best one meeting every limit is kept and handed to the
    next rounds' solves as their start (its objective prunes them), never one that breaks a limit."""
    from riskbudget.optimization import milp
    from riskbudget.optimization.cuts import tail_constraints
    from riskbudget.optimization.model import Model
    from riskbudget.optimization.options import SolverOptions
    from riskbudget.optimization.rules import Constraints, FundingRules, resolve_constraints

    rules = FundingRules(problem, resolve_constraints(problem, Constraints(budget=1_000_000)))
    model = Model(problem, rules.constraints)
    free = model.solve([], [], time_limit=None, mip_rel_gap=1e-9)
    free_plan = model.decode(free.x)
    nothing = model.solve([], [], objective=-model.c, time_limit=None, mip_rel_gap=1e-9)  # the worst plan
    assert model.decode(nothing.x) != free_plan

    tight = milp._Rounds(model, rules, tail_constraints(rb.Appetite(tvar95=1e6), problem.years), SolverOptions())
    assert not tight._meets(nothing.x, milp.STANDARD, {}) and not tight._meets(free.x, milp.STANDARD, {})
    assert tight.incumbent is None and tight.best is None
    # the plan that misses least is kept, at its own largest relative miss (the least-risk rounds' start)
    misses = {key: metrics.tvar(problem.total_losses(model.decode(res.x)), 0.95) / 1e6 - 1
              for key, res in (("nothing", nothing), ("free", free))}
    closer = min(misses, key=misses.get)
    assert tight.closest[0] == pytest.approx(misses[closer], rel=1e-12)
    assert np.array_equal(tight.closest[1], (nothing if closer == "nothing" else free).x)

    loose = milp._Rounds(model, rules, tail_constraints(rb.Appetite(tvar95=1e12), problem.years), SolverOptions())
    assert loose._meets(nothing.x, milp.STANDARD, {}) and loose._meets(free.x, milp.STANDARD, {})
    assert loose._meets(nothing.x, milp.STANDARD, {})  # worse: kept out
    assert loose.best[0] == free_plan and np.array_equal(loose.incumbent, free.x)
    starts = []
    solve = model.solve
    monkeypatch.setattr(model, "solve", lambda *a, **k: starts.append(k.get("start")) or solve(*a, **k))
    loose.run([])
    assert len(starts) == 1 and np.array_equal(starts[0], free.x)
    loose.run([], milp._Mode(sigma=True, minimize_sigma=True, relax=True))  # its rows differ: no start
    assert len(starts) == 2 and starts[1] is None


def test_exact_var_method_matches_enumeration(problem):
    appetite = rb.Appetite(var95=2.3e6)
    value, best = enumerate_best(problem, 1_000_000, appetite)
    plan = optimize(problem, budget=1_000_000, appetite=appetite, var_method="exact")
    assert plan.appetite.ok
    # exact up to interpolation between two order statistics: never better than enumeration
    assert plan.expected_net_value <= value + 1e-6
    assert plan.expected_net_value == pytest.approx(value, rel=1e-9, abs=1e-6)


def test_cvar_form_of_var_is_conservative(problem):
    m = YEARS - math.ceil((YEARS - 1) * 0.95)
    # a VaR limit enforced through the tail mean, as asked: the plan's tail mean, hence its VaR, is within the limit,
    # and the plan is labelled a stand-in with its gap to a bound valid for the limit as stated
    appetite = rb.Appetite(var95=4.3e6)
    plan = optimize(problem, budget=1_000_000, appetite=appetite, var_method="cvar")
    x = plan.result.annual_loss.to_numpy()
    exact = enumerate_best(problem, 1_000_000, appetite)[0]
    assert plan.appetite.ok and metrics.var(x, 0.95) <= 4.3e6
    if plan.status == "stand_in":
        assert metrics.var(x, 0.95) <= np.sort(x)[-m:].mean() <= 4.3e6 * (1 + 1e-9)
        assert plan.expected_net_value <= exact + 1e-6 <= plan.bound + 2e-6
        assert plan.solver_gap == pytest.approx((plan.bound - plan.expected_net_value) / abs(plan.expected_net_value))
        assert "stand-in" in plan.status_text and "optimal on the sample" not in plan.describe()
    else:  # the optimum without the VaR limit met it: proven optimal for the limit as stated
        assert plan.status == "optimal"
        assert plan.expected_net_value == pytest.approx(exact, rel=1e-9, abs=1e-6)
    # the default enforces VaR as VaR and is proven optimal
    default = optimize(problem, budget=1_000_000, appetite=appetite)
    assert default.status == "optimal" and default.expected_net_value == pytest.approx(exact, rel=1e-9, abs=1e-6)
    # a tight VaR limit that only plans with a larger tail mean meet: the conservative form is
    # infeasible, which proves nothing, so the optimiser solves again with VaR as VaR
    appetite = rb.Appetite(var95=2.3e6)
    plan = optimize(problem, budget=1_000_000, appetite=appetite, var_method="cvar")
    exact = enumerate_best(problem, 1_000_000, appetite)[0]
    assert plan.status == "optimal" and plan.appetite.ok and plan.feasible
    assert not any("cannot be met" in n for n in plan.notes)
    assert any("solved again with VaR as VaR" in n for n in plan.notes)
    assert plan.expected_net_value == pytest.approx(exact, rel=1e-9, abs=1e-6)


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #
@settings(max_examples=12, deadline=None)
@given(budget=st.floats(0, 1.5e6), extra=st.floats(1, 5e5))
def test_budget_is_respected_and_more_budget_never_hurts(problem, budget, extra):
    a = optimize(problem, budget=budget)
    b = optimize(problem, budget=budget + extra)
    assert a.total_spend <= budget + 1e-6
    assert b.total_spend <= budget + extra + 1e-6
    assert b.expected_net_value >= a.expected_net_value - 1e-6


@settings(max_examples=8, deadline=None)
@given(
    budget=st.floats(1e5, 2e6),
    cost=st.floats(1, 1e5),
    function=st.sampled_from(["resistance", "avoidance", "response"]),
)
def test_a_zero_effect_control_with_a_cost_is_never_funded(instance, budget, cost, function):
    reg, controls, projects = instance
    dud = rb.Control("Dud", cost, applies_to="*", **{function: 0.0})
    p = precompute(reg, controls + [dud], projects, years=1_000, seed=3, progress=False)
    plan = optimize(p, budget=budget)
    assert "Dud" not in plan.funded_controls
    row = plan.returns.loc["Dud"]
    assert row["ale_reduction_standalone"] == 0.0 and row["ale_reduction_marginal"] == 0.0


@settings(max_examples=8, deadline=None)
@given(limit=st.floats(3.0e6, 8e6))
def test_appetite_limits_hold_on_the_sample(problem, limit):
    appetite = rb.Appetite(tvar95=limit, exceedance={limit: 0.05})
    plan = optimize(problem, budget=1_500_000, appetite=appetite)
    if plan.status == "optimal":
        x = plan.result.annual_loss.to_numpy()
        assert metrics.tvar(x, 0.95) <= limit and metrics.exceedance(x, limit) <= 0.05
        assert plan.appetite.ok
    else:
        assert plan.status == "infeasible_appetite"


def test_dependencies_and_exclusions(problem):
    plan = optimize(problem, budget=5e6, include=["WAF", "App"])
    assert {"WAF", "MFA"} <= set(plan.funded_controls)  # WAF requires MFA
    assert "App" in plan.funded_projects and "Cloud move" not in plan.funded_projects  # App excludes Cloud move
    plan = optimize(problem, budget=5e6, exclude=["MFA"])
    assert "MFA" not in plan.funded_controls and "WAF" not in plan.funded_controls
    plan = optimize(problem, budget=5e6, exclusive=[("EDR", "Backups")], requires=[("Encryption", "CSPM")])
    assert not {"EDR", "Backups"} <= set(plan.funded_controls)
    assert "Encryption" not in plan.funded_controls or "CSPM" in plan.funded_controls


def test_security_share_and_budget_caps(problem):
    plan = optimize(problem, budget=1.2e6, min_security_share=0.5)
    assert plan.security_spend >= 0.5 * plan.total_spend - 1e-6
    plan = optimize(problem, budget=1.2e6, max_security_share=0.2)
    assert plan.security_spend <= 0.2 * plan.total_spend + 1e-6
    plan = optimize(problem, budget=1.2e6, security_budget=100_000, it_budget=500_000)
    assert plan.security_spend <= 100_000 and plan.it_spend <= 500_000


def test_infeasible_appetite_reports_least_risk_plan(problem):
    appetite = rb.Appetite(tvar95=5e5)
    plan = optimize(problem, budget=600_000, appetite=appetite)
    assert plan.status == "infeasible_appetite" and not plan.feasible
    assert plan.shortfall is not None and (plan.shortfall["miss"] > 0).all()
    assert any("cannot be met" in n for n in plan.notes)
    # least risk: no plan within budget has a smaller tail mean
    m = YEARS - math.ceil((YEARS - 1) * 0.95)

    def tail(f):
        return np.sort(problem.total_losses(f))[-m:].mean()

    best_tail = min(tail(f) for f in all_fundings(problem) if structurally_ok(problem, f, 600_000))
    assert tail(plan.funding) == pytest.approx(best_tail, rel=1e-9)


def test_the_least_risk_rounds_start_from_the_closest_plan_seen(problem, monkeypatch):
    """Out of reach: the least-risk rounds start from the plan the proof saw that misses least (at its own miss),
    the best-net rounds among the least-risk plans from the least-risk plan; the answer is the one without starts."""
    from riskbudget.optimization import milp

    appetite = rb.Appetite(tvar95=5e5)
    calls = []
    run = milp._Rounds.run

    def recording(self, cuts, mode=milp.STANDARD, start=None):
        calls.append((mode, None if start is None else start.copy(), self.closest))
        res = run(self, cuts, mode, start=start)
        calls[-1] += (res,)
        return res

    monkeypatch.setattr(milp._Rounds, "run", recording)
    plan = optimize(problem, budget=600_000, appetite=appetite)
    assert plan.status == "infeasible_appetite"
    (m0, s0, _, _), (m1, s1, closest, r1), (m2, s2, _, _) = calls[:3]  # then the smallest values, budget needed
    assert m0 == milp.STANDARD and s0 is None
    assert m1.minimize_sigma and closest is not None and s1[-1] == pytest.approx(closest[0], rel=1e-6)
    assert np.array_equal(s1[:-1], closest[1])
    assert m2.sigma_cap is not None and np.array_equal(s2, r1.x)
    monkeypatch.setattr(milp._Rounds, "run", lambda self, cuts, mode=milp.STANDARD, start=None: run(self, cuts, mode))
    same = optimize(problem, budget=600_000, appetite=appetite)
    assert same.funding == plan.funding and same.shortfall.equals(plan.shortfall)


def test_return_on_control_table(problem):
    plan = optimize(problem, budget=800_000)
    r = plan.returns
    assert set(r.index) == {c.name for c in problem.controls}
    for name, row in r.iterrows():
        assert row["roc_standalone_low"] <= row["roc_standalone"] <= row["roc_standalone_high"]
        assert row["funded"] == (name in plan.funded_controls)
    funded = plan.funded_controls[0]
    others = Funding(
        tuple(c for c in plan.funded_controls if c != funded), plan.funded_projects, plan.security_by_design
    )
    expected = problem.total_losses(others).mean() - problem.total_losses(plan.funding).mean()
    assert r.loc[funded, "ale_reduction_marginal"] == pytest.approx(expected, rel=1e-9)


def test_plan_numbers_and_dict(problem):
    plan = optimize(problem, budget=900_000)
    assert plan.total_spend == pytest.approx(plan.security_spend + plan.it_spend)
    assert plan.expected_net_value == pytest.approx(plan.expected_value - plan.ale - plan.total_spend)
    assert plan.ale_before == pytest.approx(problem.total_losses(Funding()).mean())
    d = plan.to_dict()
    for key in PLAN_KEYS:
        assert key in d
    json.dumps(d)
    assert "Recommended plan" in plan.describe()


def test_same_seed_same_plan(instance):
    reg, controls, projects = instance
    a = optimize(reg, controls, projects, budget=800_000, years=1_500, seed=5, progress=False)
    b = optimize(reg, controls, projects, budget=800_000, years=1_500, seed=5, progress=False)
    assert a.funding == b.funding and a.expected_net_value == b.expected_net_value


def test_out_of_sample_check(problem):
    plan = optimize(problem, budget=900_000)
    oos = validate(plan, seed=SEED + 100)
    assert oos.years == YEARS and oos.seed == SEED + 100
    assert oos.difference == pytest.approx(oos.in_sample_net_value - oos.out_of_sample_net_value)
    assert oos.difference_se > 0 and abs(oos.z) < 4
    assert oos.appetite is None


def test_heuristic_is_close_and_bounded(problem, instance):
    reg, controls, projects = instance
    exact = optimize(problem, budget=900_000)
    h = optimize(reg, controls, projects, budget=900_000, years=YEARS, seed=SEED, method="heuristic", progress=False)
    assert h.status == "heuristic"
    assert h.expected_net_value <= exact.expected_net_value + 1e-6
    assert h.bound >= exact.expected_net_value - 1e-6
    assert h.solver_gap >= 0
    assert h.total_spend <= 900_000


# --------------------------------------------------------------------------- #
# Frontier
# --------------------------------------------------------------------------- #
def test_frontier(problem):
    appetite = rb.Appetite(tvar95=4.5e6)
    front = frontier(problem, budget=1_000_000, appetite=appetite, points=5)
    t = front.table
    assert list(t["security_share"]) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert (t["security_spend"] <= t["security_budget"] + 1e-6).all() and (t["it_spend"] <= t["it_budget"] + 1e-6).all()
    assert front.best_index is not None and t.loc[front.best_index, "best"]
    feasible = t[t["feasible"]]
    assert t.loc[front.best_index, "expected_net_value"] == feasible["expected_net_value"].max()
    # the best split is no better than the unsplit optimum under the same appetite
    assert (
        front.best.expected_net_value
        <= optimize(problem, budget=1_000_000, appetite=appetite).expected_net_value + 1e-6
    )
    same = frontier(problem, budget=1_000_000, appetite=appetite, points=5, n_jobs=1)
    assert same.table["expected_net_value"].tolist() == t["expected_net_value"].tolist()
    ax = plot_frontier(front)
    assert ax.get_xlabel().startswith("TVaR95") and len(ax.collections) >= 2
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_a_frontier_explains_the_shares_out_of_reach_only_when_asked(problem):
    appetite = rb.Appetite(tvar95=4.5e6)
    quiet = frontier(problem, budget=1_000_000, appetite=appetite, shares=[0.0, 1.0])
    told = frontier(problem, budget=1_000_000, appetite=appetite, shares=[0.0, 1.0], explain_infeasible=True)
    out = [i for i, p in enumerate(told.plans) if p.status == "infeasible_appetite"]
    assert out, "the test needs a share where the appetite cannot be met"
    for i in out:
        assert quiet.plans[i].smallest_values == () and quiet.plans[i].budget_needed is None
        assert told.plans[i].smallest_values and told.plans[i].budget_needed is not None
        assert quiet.plans[i].funding == told.plans[i].funding  # the same least-risk plan either way
    # optimize explains by default
    alone = optimize(problem, budget=1_000_000, appetite=appetite, security_budget=0.0, it_budget=1_000_000)
    assert alone.status == "infeasible_appetite" and alone.smallest_values and alone.budget_needed is not None


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"budget": -1}, r"budget \(-1\) must be a finite amount >= 0"),
        (
            {"budget": 1e6, "include": ["Firewall"]},
            r"include names \['Firewall'\], which are neither controls nor projects",
        ),
        (
            {"budget": 1e6, "min_security_share": 0.6, "max_security_share": 0.4},
            r"min_security_share \(0.6\) exceeds max_security_share \(0.4\)",
        ),
        ({"budget": 1e6, "min_security_share": 1.5}, r"min_security_share \(1.5\) must be a share in \[0, 1\]"),
        ({"budget": 1e6, "method": "magic"}, "method 'magic' is not one of"),
        ({"budget": 1e6, "appetite": {"var95": 1}}, "appetite must be a riskbudget.Appetite"),
        ({"budget": 1e6, "requires": [("EDR",)]}, "requires takes \\(A, B\\) pairs"),
        ({"budget": 1e6, "include": ["EDR"], "exclude": ["EDR"]}, r"\['EDR'\] are both included and excluded"),
    ],
)
def test_optimize_errors(problem, kwargs, message):
    with pytest.raises(rb.RiskBudgetError, match=message):
        optimize(problem, **kwargs)


def test_structurally_infeasible_is_an_error(problem):
    with pytest.raises(rb.RiskBudgetError, match="no plan satisfies the budget and the structural constraints"):
        optimize(problem, budget=100_000, include=["Cloud move"])


def test_funding_errors(problem):
    with pytest.raises(rb.RiskBudgetError, match=r"funded names \['Firewall'\] are neither controls"):
        problem.score(["Firewall"])
    with pytest.raises(rb.RiskBudgetError, match="security_by_design names 'Portal', but the project is not funded"):
        problem.score(["EDR"], security_by_design=["Portal"])
    with pytest.raises(rb.RiskBudgetError, match="Project 'App': has no security-by-design option"):
        problem.score(["App"], security_by_design=["App"])
    with pytest.raises(rb.RiskBudgetError, match=r"requires names \['Ghost'\]"):
        reg, controls, projects = small_instance()
        precompute(
            reg,
            controls + [rb.Control("X", 1, applies_to="web", resistance=0.1, requires="Ghost")],
            projects,
            years=100,
            seed=1,
        )


def test_frontier_errors(problem):
    with pytest.raises(rb.RiskBudgetError, match=r"points \(1\) must be a whole number >= 2"):
        frontier(problem, budget=1e6, points=1)
    with pytest.raises(rb.RiskBudgetError, match="security_budget is set by each share"):
        frontier(problem, budget=1e6, security_budget=5)


# --------------------------------------------------------------------------- #
# Bundled example and CLI
# --------------------------------------------------------------------------- #
def test_bundled_example_optimises(example_register):
    controls = rb.read_controls(EXAMPLE / "controls.csv")
    projects = rb.read_projects(EXAMPLE / "projects.csv")
    plan = optimize(example_register, controls, projects, budget=6e6, years=2_000, seed=7, progress=False)
    assert plan.status == "optimal" and plan.total_spend <= 6e6 and plan.ale < plan.ale_before
    assert len(plan.result.names) >= len(example_register)


def test_cli_optimize_json(capsys):
    from riskbudget.cli import main

    code = main(
        [
            "optimize",
            "--register",
            str(EXAMPLE / "register.csv"),
            "--controls",
            str(EXAMPLE / "controls.csv"),
            "--projects",
            str(EXAMPLE / "projects.csv"),
            "--budget",
            "6M",
            "--appetite-var95",
            "30e6",
            "--years",
            "2000",
            "--seed",
            "3",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in (*PLAN_KEYS, "out_of_sample"):
        assert key in out
    assert out["total_spend"] <= 6e6 and out["appetite_ok"] is True


def test_cli_frontier_text_and_plot(tmp_path, capsys):
    from riskbudget.cli import main

    png = tmp_path / "frontier.png"
    code = main(
        [
            "frontier",
            "--register",
            str(EXAMPLE / "register.csv"),
            "--controls",
            str(EXAMPLE / "controls.csv"),
            "--projects",
            str(EXAMPLE / "projects.csv"),
            "--budget",
            "6e6",
            "--points",
            "3",
            "--years",
            "1500",
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Efficient frontier" in text and "best split" in text
    assert png.stat().st_size > 1000


def test_cli_bad_controls_file(tmp_path, capsys):
    from riskbudget.cli import main

    bad = tmp_path / "controls.csv"
    bad.write_text(
        "name,cost_per_year,applies_to,resistance_low,resistance_mode,resistance_high,coverage\nEDR,1,*,0.1,0.2,0.3,2\n"
    )
    code = main(
        [
            "optimize",
            "--register",
            str(EXAMPLE / "register.csv"),
            "--controls",
            str(bad),
            "--projects",
            str(EXAMPLE / "projects.csv"),
            "--budget",
            "6e6",
            "--years",
            "100",
        ]
    )
    assert code == 1
    assert "line 2, control 'EDR', column coverage" in capsys.readouterr().err


@pytest.mark.parametrize(
    "module",
    [
        "riskbudget.optimization",
        "riskbudget.optimization.api",
        "riskbudget.optimization.problem",
        "riskbudget.optimization.plan",
        "riskbudget.optimization.rules",
        "riskbudget.optimization.options",
    ],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(module)
    outcome = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert outcome.failed == 0


def test_exceedance_limits_are_exact_at_any_number_of_years(problem):
    appetite = rb.Appetite(exceedance={2.5e6: 0.045})
    best = enumerate_best(problem, 1_000_000, appetite)[0]
    # every year of the sample can need an indicator: there is no silent switch to a conservative form
    plan = optimize(problem, budget=1_000_000, appetite=appetite)
    assert plan.status == "optimal" and plan.appetite.ok
    assert plan.expected_net_value == pytest.approx(best, rel=1e-6, abs=1e-6)
    with pytest.raises(rb.RiskBudgetError, match=r"unknown keyword 'max_indicator_years'"):
        optimize(problem, budget=1_000_000, appetite=appetite, max_indicator_years=0)


def test_auto_switches_to_the_heuristic_when_combinations_explode(instance, monkeypatch):
    import importlib

    problem_module = importlib.import_module("riskbudget.optimization.problem")

    reg, controls, projects = instance
    monkeypatch.setattr(problem_module, "MAX_COMBINATIONS_PER_SCENARIO", 4)
    with pytest.raises(rb.RiskBudgetError, match=r"Scenario 'Cloud leak': 12 combinations .* exceed 4"):
        precompute(reg, controls, projects, years=500, seed=1)
    plan = optimize(reg, controls, projects, budget=900_000, years=YEARS, seed=SEED, progress=False)
    assert plan.status == "heuristic" and plan.problem.lazy
    exact = optimize(
        precompute(reg, controls, projects, years=YEARS, seed=SEED, lazy=True), budget=900_000, method="heuristic"
    )
    assert exact.funding == plan.funding
    assert plan.total_spend <= 900_000 and plan.bound >= plan.expected_net_value - 1e-6


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_share_that_cannot_be_solved_is_named_in_the_error(problem, n_jobs):
    # at a 100% security share the IT budget is 0, so a project that must be funded cannot be
    with pytest.raises(rb.RiskBudgetError, match=r"^frontier: at a 100% security share \(security budget "
                       r"1,000,000, IT budget 0\): no plan satisfies the budget and the structural constraints"):
        frontier(problem, budget=1_000_000, shares=[0.25, 0.5, 1.0], include=["App"], n_jobs=n_jobs)
    fine = frontier(problem, budget=1_000_000, shares=[0.25, 0.5], include=["App"], n_jobs=n_jobs)
    assert all("App" in p.funded_projects for p in fine.plans)


def test_frontier_check_mode(problem):
    appetite = rb.Appetite(tvar95=4.5e6)
    checked = frontier(problem, budget=1_000_000, appetite=appetite, points=5, appetite_mode="check")
    free = frontier(problem, budget=1_000_000, points=5)
    assert checked.table["expected_net_value"].tolist() == free.table["expected_net_value"].tolist()
    for plan, ok in zip(checked.plans, checked.table["feasible"]):
        assert ok == appetite.check(plan.result).ok
    if checked.best_index is not None:
        feasible = checked.table[checked.table["feasible"]]
        assert checked.table.loc[checked.best_index, "expected_net_value"] == feasible["expected_net_value"].max()
    with pytest.raises(rb.RiskBudgetError, match="appetite_mode \\('both'\\) must be"):
        frontier(problem, budget=1e6, appetite_mode="both")


@pytest.mark.parametrize("limit", [2.6e6, 3.0e6, 3.5e6, 4.5e6])
def test_tvar_limit_holds_when_n_times_1_minus_q_is_fractional(instance, limit):
    """1,001 years: TVaR95 averages 50.05 worst years; the program must enforce exactly metrics.tvar."""
    reg, controls, projects = instance
    prob = precompute(reg, controls, projects, years=1_001, seed=SEED, n_jobs=1, progress=False)
    plan = optimize(prob, budget=1_000_000, appetite=rb.Appetite(tvar95=limit))
    if plan.status == "infeasible_appetite":
        assert not plan.feasible
        return
    x = plan.result.annual_loss.to_numpy()
    assert metrics.tvar(x, 0.95) <= limit * (1 + 1e-9)
    assert plan.appetite.ok and plan.feasible
    value, _ = enumerate_best(prob, 1_000_000, rb.Appetite(tvar95=limit))
    assert plan.expected_net_value == pytest.approx(value, rel=1e-9, abs=1e-6)


def test_plan_ale_and_standalone_control_reductions_match_closed_forms(problem):
    plan = optimize(problem, budget=1_000_000)
    exact = sum(s.expected_annual_loss() for s in problem.register_for(plan.funding))
    x = plan.result.annual_loss.to_numpy()
    assert abs(plan.ale - exact) <= 4 * x.std(ddof=1) / math.sqrt(x.size)
    # standalone: the control alone against no control, with the plan's projects (and options)
    projects = [p for p in plan.funding.projects]
    sbd = [p for p in plan.funding.projects if p in plan.funding.security_by_design]
    nothing = problem.funding(projects, security_by_design=sbd)
    before = sum(s.expected_annual_loss() for s in problem.register_for(nothing))
    for name, row in plan.returns.iterrows():
        alone = problem.funding([*projects, name], security_by_design=sbd)
        after = sum(s.expected_annual_loss() for s in problem.register_for(alone))
        assert abs(row["ale_reduction_standalone"] - (before - after)) <= 4 * row["ale_reduction_standalone_se"] + 1e-9, name


# --------------------------------------------------------------------------- #
# Options objects and keyword routing
# --------------------------------------------------------------------------- #
def test_options_objects_and_loose_keywords_give_the_same_plan(problem):
    from riskbudget.optimization import Constraints, SolverOptions

    loose = optimize(problem, budget=1e6, include=["WAF"], min_security_share=0.2, var_method="exact",
                     appetite=rb.Appetite(var95=4e6), time_limit=60)
    grouped = optimize(
        problem,
        appetite=rb.Appetite(var95=4e6),
        constraints=Constraints(budget=1e6, include=("WAF",), min_security_share=0.2),
        solver=SolverOptions(var_method="exact", time_limit=60),
    )
    assert loose.funding == grouped.funding and loose.expected_net_value == grouped.expected_net_value
    # a keyword fills a field the object leaves at its default
    mixed = optimize(problem, budget=1e6, constraints=Constraints(include=("WAF",), min_security_share=0.2),
                     appetite=rb.Appetite(var95=4e6), var_method="exact", time_limit=60)
    assert mixed.funding == loose.funding


def test_unknown_and_doubled_keywords_are_errors_naming_the_options(problem):
    from riskbudget.optimization import Constraints, SolverOptions

    with pytest.raises(rb.RiskBudgetError, match=r"optimize: unknown keyword 'timelimit'; the options are budget, .*"
                                                 r"exclusive, method, var_method, time_limit, mip_rel_gap"):
        optimize(problem, budget=1e6, timelimit=5)
    with pytest.raises(rb.RiskBudgetError, match=r"budget is given twice, as budget=1000000.0 and in constraints="):
        optimize(problem, budget=1e6, constraints=Constraints(budget=2e6))
    with pytest.raises(rb.RiskBudgetError, match=r"optimize: budget is required"):
        optimize(problem, include=["WAF"])
    with pytest.raises(rb.RiskBudgetError, match=r"solver must be a riskbudget.optimization.SolverOptions"):
        optimize(problem, budget=1e6, solver={"time_limit": 5})
    with pytest.raises(rb.RiskBudgetError, match=r"evaluate: unknown keyword 'method'"):
        evaluate(problem, funded=["WAF"], method="milp")
    with pytest.raises(rb.RiskBudgetError, match=r"var_method \('fast'\) must be 'exact' or 'cvar'"):
        SolverOptions(var_method="fast")
    with pytest.raises(rb.RiskBudgetError, match="frontier: it_budget is set by each share"):
        frontier(problem, budget=1e6, constraints=Constraints(it_budget=5))


def test_the_public_signatures_are_short_and_private_parameters_gone():
    import inspect

    # the frontier adds its grid (points, shares, appetite_mode) and a cluster to optimize's parameters
    for verb, most in ((optimize, 16), (evaluate, 16), (frontier, 20)):
        params = inspect.signature(verb).parameters
        assert not any(name.startswith("_") for name in params), verb.__name__
        assert len(params) <= most, verb.__name__
    assert "constraints" in inspect.signature(optimize).parameters
    assert "solver" in inspect.signature(frontier).parameters


def test_frontier_takes_constraints_and_solver_options(problem):
    from riskbudget.optimization import Constraints, SolverOptions

    loose = frontier(problem, budget=1_000_000, shares=[0.25, 0.5], include=["MFA"], time_limit=60, n_jobs=1)
    grouped = frontier(problem, budget=1_000_000, shares=[0.25, 0.5], constraints=Constraints(include=("MFA",)),
                       solver=SolverOptions(time_limit=60), n_jobs=1)
    assert loose.table["expected_net_value"].tolist() == grouped.table["expected_net_value"].tolist()
    assert all("MFA" in p.funded_controls for p in loose.plans)


def test_tail_constraint_kinds_are_an_enum(problem):
    from riskbudget.optimization import TailKind, tail_constraints

    tails = tail_constraints(rb.Appetite(tvar95=4e6, var95=3e6, exceedance={2e6: 0.05}), 1_000, var_method="exact")
    kinds = {t.label: t.kind for t in tails}
    assert all(isinstance(k, TailKind) for k in kinds.values())
    assert sorted(k.value for k in kinds.values()) == ["count", "count", "cvar"]
    assert kinds["TVaR95"] is TailKind.CVAR
    assert tail_constraints(rb.Appetite(var95=3e6), 1_000, var_method="cvar")[0].kind is TailKind.CVAR  # VaR through the tail mean


def test_no_candidates_gives_the_plan_of_funding_nothing():
    reg = rb.Register([rb.Scenario("A", loss_event_frequency=1.0, primary_loss=rb.PERT(1e4, 2e4, 5e4))])
    plan = optimize(reg, [], [], budget=1e6, years=500, seed=1, progress=False)
    assert plan.status == "optimal" and plan.funding.names == () and plan.total_spend == 0
    assert any("no candidate" in n for n in plan.notes)
    tight = optimize(reg, [], [], budget=1e6, years=500, seed=1, progress=False, appetite=rb.Appetite(tvar95=1.0))
    assert tight.status == "infeasible_appetite" and not tight.feasible
