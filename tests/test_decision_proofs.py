"""What the optimiser proves, checked against exhaustive enumeration of every funding choice on the same sample.

Small problems (at most 10 decisions, 2,000 simulated years) are enumerated in full and each funding choice is
scored on the optimiser's own sample, so every number a plan claims is compared with the brute-force answer to a
relative 1e-9: the optimum under each kind of limit; the least-risk plan, the smallest value of each limit and the
budget needed when the appetite cannot be met; the bound of a VaR stand-in; and the labels of plans stopped by a
time limit or found by the heuristic. The tolerance-curve check is compared with the loss exceedance curve itself.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

import riskbudget as rb
from riskbudget import metrics
from riskbudget.appetite import TOLERANCE_MIN_YEARS
from riskbudget.controls import RiskChange, SecurityByDesign
from riskbudget.formatting import money, percent
from riskbudget.optimization import Constraints, DecisionProblem, Funding, FundingRules, optimize, precompute
from riskbudget.optimization.cuts import Cube, CubeCuts, meets, tail_constraints
from riskbudget.optimization.model import Model
from riskbudget.optimization.plan import PlanStatus, status_words
from riskbudget.optimization.planner import MEETS_APPETITE

YEARS = 2_000
SEED = 11
REL = 1e-9  # one sample for every plan: the optimiser's numbers are the enumeration's, up to rounding
CAP = 1e-6  # dollars: the rules' absolute tolerance on a cap (riskbudget.optimization.rules.exceeds)


# --------------------------------------------------------------------------- #
# Instances (as tests/test_optimize.py builds them) and their enumeration
# --------------------------------------------------------------------------- #
def small_instance() -> tuple[rb.Register, list[rb.Control], list[rb.Project]]:
    """The register of tests/test_optimize.py: 6 controls, 3 projects, 1,152 funding choices."""
    reg = rb.Register(
        [
            rb.Scenario("Ransomware", threat_event_frequency=rb.PERT(0.2, 0.8, 2.5),
                        susceptibility=rb.PERT(0.2, 0.4, 0.7), primary_loss=rb.LogNormal.from_ci(2e5, 6e6),
                        category="ransomware"),
            rb.Scenario("BEC", threat_event_frequency=rb.PERT(5, 15, 30), susceptibility=rb.PERT(0.01, 0.03, 0.06),
                        primary_loss=rb.LogNormal.from_ci(1e4, 4e5), category="fraud"),
            rb.Scenario("Cloud leak", loss_event_frequency=rb.PERT(0.05, 0.2, 0.6),
                        primary_loss=rb.LogNormal.from_ci(1e5, 4e6), secondary_loss_probability=0.4,
                        secondary_loss=rb.LogNormal.from_ci(1e5, 3e6), category="cloud"),
            rb.Scenario("Web breach", loss_event_frequency=rb.PERT(0.1, 0.4, 1.0),
                        primary_loss=rb.LogNormal.from_ci(5e4, 2e6), category="web"),
            rb.Scenario("Laptop", loss_event_frequency=1.0, primary_loss=rb.PERT(2e3, 1e4, 1e5), category="device"),
        ]
    )
    controls = [
        rb.Control("EDR", 150_000, applies_to="ransomware", resistance=rb.PERT(0.3, 0.5, 0.7), coverage=0.95),
        rb.Control("Backups", 90_000, applies_to="ransomware", response=rb.PERT(0.3, 0.5, 0.7),
                   loss_factor="primary_loss"),
        rb.Control("MFA", 80_000, applies_to="fraud;cloud", resistance=rb.PERT(0.3, 0.5, 0.7), coverage=0.9),
        rb.Control("CSPM", 70_000, applies_to="cloud", avoidance=rb.PERT(0.2, 0.4, 0.6)),
        rb.Control("WAF", 40_000, applies_to="web", resistance=rb.PERT(0.2, 0.5, 0.8), requires="MFA"),
        rb.Control("Encryption", 20_000, applies_to="device", response=rb.PERT(0.4, 0.6, 0.8)),
    ]
    projects = [
        rb.Project("Portal", 300_000, value_per_year=rb.PERT(2e5, 5e5, 1.2e6), probability_of_failure=0.2,
                   risk_changes=[RiskChange("web", rb.PERT(0.3, 0.8, 1.5))],
                   security_by_design=SecurityByDesign(60_000, delay_months=2, risk_removed=rb.PERT(0.5, 0.7, 0.9))),
        rb.Project("Cloud move", 400_000, value_per_year=rb.PERT(3e5, 6e5, 1e6), probability_of_failure=0.1,
                   risk_changes=[RiskChange("cloud", rb.PERT(0.5, 1.0, 2.0))],
                   security_by_design=SecurityByDesign(50_000, delay_months=1, risk_removed=0.6)),
        rb.Project("App", 150_000, value_per_year=rb.PERT(1e5, 2.5e5, 5e5), probability_of_failure=0.3,
                   new_scenarios=[rb.Scenario("App abuse", loss_event_frequency=rb.PERT(0.1, 0.3, 0.8),
                                              primary_loss=rb.LogNormal.from_ci(2e4, 1e6), category="web")],
                   excludes="Cloud move"),
    ]
    return reg, controls, projects


def light_instance() -> tuple[rb.Register, list[rb.Control], list[rb.Project]]:
    """Frequent, bounded losses (a light tail: TVaR close to VaR) and controls that cost about what they save.

    The optimum without a VaR limit funds few controls, so a VaR limit binds, and plans whose tail mean meets
    it exist: the tail-mean stand-in for VaR (``var_method="cvar"``) binds too. 5 controls, 3 projects, 576
    funding choices.
    """
    reg = rb.Register(
        [
            rb.Scenario("Phishing", loss_event_frequency=rb.PERT(8, 12, 18), primary_loss=rb.PERT(2e4, 5e4, 1.2e5),
                        category="email"),
            rb.Scenario("Malware", loss_event_frequency=rb.PERT(3, 6, 10), primary_loss=rb.PERT(3e4, 8e4, 2e5),
                        category="endpoint"),
            rb.Scenario("Outage", loss_event_frequency=rb.PERT(1, 3, 5), primary_loss=rb.PERT(5e4, 1e5, 2.5e5),
                        category="infra"),
            rb.Scenario("Fraud", loss_event_frequency=rb.PERT(2, 4, 7), primary_loss=rb.PERT(1e4, 6e4, 1.5e5),
                        category="fraud"),
        ]
    )
    controls = [
        rb.Control("Filter", 380_000, applies_to="email", resistance=rb.PERT(0.3, 0.5, 0.7)),
        rb.Control("EDR", 300_000, applies_to="endpoint", resistance=rb.PERT(0.3, 0.5, 0.7)),
        rb.Control("Redundancy", 150_000, applies_to="infra", avoidance=rb.PERT(0.2, 0.4, 0.6)),
        rb.Control("Approval", 150_000, applies_to="fraud", resistance=rb.PERT(0.4, 0.6, 0.8)),
        rb.Control("Training", 170_000, applies_to="email;fraud", resistance=rb.PERT(0.1, 0.2, 0.3)),
    ]
    projects = [
        rb.Project("CRM", 200_000, value_per_year=rb.PERT(2e5, 4e5, 7e5), probability_of_failure=0.2,
                   risk_changes=[RiskChange("email", rb.PERT(0.2, 0.4, 0.8))],
                   security_by_design=SecurityByDesign(40_000, delay_months=1, risk_removed=rb.PERT(0.5, 0.7, 0.9))),
        rb.Project("ERP", 300_000, value_per_year=rb.PERT(3e5, 5e5, 8e5), probability_of_failure=0.15,
                   risk_changes=[RiskChange("fraud", rb.PERT(0.3, 0.6, 1.0))],
                   security_by_design=SecurityByDesign(50_000, delay_months=2, risk_removed=0.6)),
        rb.Project("Kiosk", 100_000, value_per_year=rb.PERT(1e5, 1.8e5, 3e5), probability_of_failure=0.3,
                   new_scenarios=[rb.Scenario("Kiosk abuse", loss_event_frequency=rb.PERT(1, 2, 4),
                                              primary_loss=rb.PERT(1e4, 3e4, 8e4), category="endpoint")],
                   excludes="ERP"),
    ]
    return reg, controls, projects


@dataclass(frozen=True)
class Enumeration:
    """Every funding choice of a problem, scored on its sample: the brute-force oracle."""

    problem: DecisionProblem
    fundings: list[Funding]
    losses: np.ndarray  # funding x year
    net: np.ndarray
    security: np.ndarray
    it: np.ndarray
    structural: np.ndarray  # each item's own requires and excludes hold

    @classmethod
    def of(cls, problem: DecisionProblem) -> Enumeration:
        radix = [3 if p.security_by_design else 2 for p in problem.projects]
        fundings = [problem.from_vectors(xc, sp)
                    for xc in itertools.product([False, True], repeat=len(problem.controls))
                    for sp in itertools.product(*[range(r) for r in radix])]
        spend = np.array([problem.spend(f) for f in fundings])
        return cls(problem, fundings, np.array([problem.total_losses(f) for f in fundings]),
                   np.array([problem.score(f).expected_net_value for f in fundings]), spend[:, 0], spend[:, 1],
                   np.array([_structural(problem, f) for f in fundings]))

    def allowed(self, budget: float, security_budget: float | None = None,
                it_budget: float | None = None) -> np.ndarray:
        """The funding choices the rules allow: own requires/excludes and the budgets."""
        ok = self.structural & (self.security + self.it <= budget + CAP)
        if security_budget is not None:
            ok &= self.security <= security_budget + CAP
        if it_budget is not None:
            ok &= self.it <= it_budget + CAP
        return ok

    def meets(self, appetite: rb.Appetite) -> np.ndarray:
        return np.array([appetite.holds(x) for x in self.losses])

    def index(self, funding: Funding) -> int:
        return self.fundings.index(funding)

    def stat(self, fn: Callable[[np.ndarray], float]) -> np.ndarray:
        return np.array([fn(x) for x in self.losses])


def _structural(problem: DecisionProblem, f: Funding) -> bool:
    on = set(f.names)
    items = [problem.controls[problem.control_index[n]] for n in f.controls] + [
        problem.projects[problem.project_index[n]] for n in f.projects
    ]
    return not (any(r not in on for it in items for r in it.requires)
                or any(x in on for it in items for x in it.excludes))


@pytest.fixture(scope="module")
def problem() -> DecisionProblem:
    reg, controls, projects = small_instance()
    return precompute(reg, controls, projects, years=YEARS, seed=SEED, n_jobs=2, progress=False)


@pytest.fixture(scope="module")
def table(problem) -> Enumeration:
    return Enumeration.of(problem)


@pytest.fixture(scope="module")
def light() -> Enumeration:
    reg, controls, projects = light_instance()
    return Enumeration.of(precompute(reg, controls, projects, years=YEARS, seed=3, n_jobs=2, progress=False))


# --------------------------------------------------------------------------- #
# Each limit's statistic, from its definition (metrics; the tolerance curve from its order statistics)
# --------------------------------------------------------------------------- #
def excess_factor(curve: rb.ToleranceCurve, x: np.ndarray, min_years: int = TOLERANCE_MIN_YEARS) -> float:
    """max over resolved ranks k of L(k) / loss_at(k / n), L(1) >= L(2) >= ...: the factor the curve misses by."""
    n = x.size
    ks = np.arange(max(min_years, 1), n - min_years + 1)
    top = np.sort(x)[::-1][ks - 1]
    return float(np.max(top / curve.loss_at(ks / n)))


Statistic = tuple[str, float, Callable[[np.ndarray], float]]


def statistic(limit: rb.Limit | rb.ToleranceCurve) -> Statistic:
    """(label, bound, statistic of annual losses) of an appetite limit or a tolerance curve."""
    if isinstance(limit, rb.ToleranceCurve):
        return "tolerance curve", 1.0, lambda x: excess_factor(limit, x)
    if limit.kind == "var":
        return limit.label, limit.limit, lambda x: metrics.var(x, limit.param)
    if limit.kind == "tvar":
        return limit.label, limit.limit, lambda x: metrics.tvar(x, limit.param)
    return limit.label, limit.limit, lambda x: np.count_nonzero(x > limit.param) / x.size


def statistics(appetite: rb.Appetite) -> list[Statistic]:
    parts = list(appetite.limits) + ([appetite.tolerance] if appetite.tolerance is not None else [])
    return [statistic(p) for p in parts]


def budget_to_meet(table: Enumeration, budget: float, security_budget: float | None,
                   it_budget: float | None) -> np.ndarray:
    """The smallest budget B allowing each plan with the security and IT budgets as the same shares of B.

    The rule budget_needed documents ("the same rules and split"): spend <= B, security spend <= B s / budget,
    IT spend <= B i / budget.
    """
    need = table.security + table.it
    if security_budget is not None:
        need = np.maximum(need, table.security * budget / security_budget)
    if it_budget is not None:
        need = np.maximum(need, table.it * budget / it_budget)
    return need


def claims_optimal(text: str) -> bool:
    """True when ``text`` says "optimal" other than as "not proven optimal" or "optimal only for the stand-in"."""
    text = text.lower().replace("not proven optimal", "").replace("optimal only for the stand-in", "")
    return "optimal" in text


# --------------------------------------------------------------------------- #
# 1. The appetite cannot be met: least-risk plan, smallest values, budget needed
# --------------------------------------------------------------------------- #
SPLIT = {"budget": 300_000, "security_budget": 200_000, "it_budget": 250_000}
CURVE = rb.ToleranceCurve.from_points([(0.5, 4.5e5), (0.1, 1.8e6), (0.01, 7.2e6)])
#: Every kind of limit; unreachable at SPLIT, reachable with a larger budget split the same way.
REACHABLE = rb.Appetite(var95=2.6e6, tvar99=9e6, exceedance={3e6: 0.04}, tolerance=CURVE)
#: Out of reach whatever the budget.
UNREACHABLE = rb.Appetite(var99=3e6, tvar95=4.5e6)


@pytest.fixture(scope="module")
def reachable_plan(problem):
    return optimize(problem, appetite=REACHABLE, **SPLIT)


def check_least_risk_and_smallest_values(plan, table: Enumeration, appetite: rb.Appetite, allowed: np.ndarray):
    stats = statistics(appetite)
    values = [table.stat(fn) for _label, _bound, fn in stats]
    assert not (allowed & table.meets(appetite)).any(), "the test appetite must be out of reach at this budget"
    assert plan.status == "infeasible_appetite" and not plan.feasible and not plan.appetite.ok
    # the least-risk plan: the smallest largest relative miss, then the best net value among plans at it
    miss = np.max([v / bound - 1.0 for v, (_l, bound, _f) in zip(values, stats)], axis=0)
    least = miss[allowed].min()
    i = table.index(plan.funding)
    assert allowed[i]
    assert miss[i] == pytest.approx(least, rel=REL)
    at_least = allowed & (miss <= least * (1 + 1e-6) + 1e-9)  # the plans the optimiser counts as least-risk
    assert plan.expected_net_value == pytest.approx(table.net[at_least].max(), rel=REL)
    # the smallest value of each limit over the plans the budget and rules allow, proven
    assert [v.label for v in plan.smallest_values] == [label for label, _b, _f in stats]
    for sv, v, (_label, bound, fn) in zip(plan.smallest_values, values, stats):
        best = v[allowed].min()
        assert sv.value == pytest.approx(best, rel=REL)
        assert sv.proven and sv.lower_bound <= best * (1 + REL)
        assert sv.limit == bound and sv.value > sv.limit  # each limit misses on its own here
        j = table.index(sv.funding)
        assert allowed[j] and fn(table.losses[j]) == pytest.approx(sv.value, rel=REL)


def test_infeasibility_report_equals_enumeration(problem, table, reachable_plan):
    plan = reachable_plan
    allowed = table.allowed(**SPLIT)
    check_least_risk_and_smallest_values(plan, table, REACHABLE, allowed)
    # the budget needed: the smallest B for which a plan meets the appetite with the security and IT budgets
    # at the same shares of B, every other rule as it is
    meets = table.structural & table.meets(REACHABLE)
    need = budget_to_meet(table, **SPLIT)
    best = need[meets].min()
    bn = plan.budget_needed
    assert bn.budget == pytest.approx(best, rel=REL)
    assert bn.proven and bn.lower_bound <= best * (1 + REL)
    j = table.index(bn.funding)
    assert meets[j] and need[j] == pytest.approx(bn.budget, rel=REL)
    # the split matters here: the total spend alone would say less
    assert (table.security + table.it)[meets].min() < best * (1 - 1e-3)
    # and the optimiser agrees: at that budget, split the same way, the appetite is met; just below, it is not
    scale = bn.budget / SPLIT["budget"]
    at = optimize(problem, appetite=REACHABLE, **{k: v * scale for k, v in SPLIT.items()})
    assert at.status == "optimal" and at.appetite.ok
    below = optimize(problem, appetite=REACHABLE, explain_infeasible=False,
                     **{k: v * scale * (1 - 1e-6) for k, v in SPLIT.items()})
    assert below.status == "infeasible_appetite"


def test_infeasibility_report_in_words_and_numbers(reachable_plan):
    plan = reachable_plan
    text = plan.describe()
    assert text.startswith("The appetite cannot be met at this budget and split (proven on the sample)")
    assert "Nearest reachable" in text
    for sv in plan.smallest_values:
        assert sv.describe() in text and "proven smallest" in sv.describe()
        shown = f"{sv.value:.3g} times" if sv.unit == "factor" else (
            percent(sv.value, digits=2) if sv.unit == "probability" else money(sv.value))
        assert shown in sv.describe()
    assert plan.budget_needed.describe() in text and money(plan.budget_needed.budget) in text
    assert "proven smallest" in plan.budget_needed.describe()
    d = json.loads(json.dumps(plan.to_dict()))  # JSON-ready
    assert d["status"] == "infeasible_appetite" and d["appetite_ok"] is False
    assert [v["smallest"] for v in d["smallest_values"]] == [sv.value for sv in plan.smallest_values]
    assert [v["limit"] for v in d["smallest_values"]] == [sv.label for sv in plan.smallest_values]
    assert all(v["proven"] for v in d["smallest_values"])
    assert d["budget_needed"]["budget"] == plan.budget_needed.budget
    assert d["budget_needed"]["proven"] is True and d["budget_needed"]["none_at_any_budget"] is False


def test_least_risk_plan_among_ties_has_the_best_net_value(problem, table):
    """P(loss > $1.75M): two plans reach the fewest years above it; the least-risk plan is the better of them."""
    appetite, budget = rb.Appetite(exceedance={1.75e6: 0.05}), 300_000
    allowed = table.allowed(budget)
    above = np.count_nonzero(table.losses > 1.75e6, axis=1)
    tied = allowed & (above == above[allowed].min())
    assert tied.sum() >= 2 and np.ptp(table.net[tied]) > 1e3, "the test needs plans tied at the least risk"
    plan = optimize(problem, appetite=appetite, budget=budget)
    check_least_risk_and_smallest_values(plan, table, appetite, allowed)
    assert plan.expected_net_value == pytest.approx(table.net[tied].max(), rel=REL)


def test_no_budget_meets_the_appetite(problem, table):
    plan = optimize(problem, appetite=UNREACHABLE, **SPLIT)
    check_least_risk_and_smallest_values(plan, table, UNREACHABLE, table.allowed(**SPLIT))
    # no funding choice at all (only each item's own requires and excludes) meets it
    assert not (table.structural & table.meets(UNREACHABLE)).any()
    bn = plan.budget_needed
    assert bn.budget is None and math.isinf(bn.lower_bound) and bn.proven and bn.funding is None
    d = plan.to_dict()["budget_needed"]
    assert d["none_at_any_budget"] is True and d["budget"] is None
    assert "none at any budget" in plan.describe()


# --------------------------------------------------------------------------- #
# 2. Statuses: what each one claims holds
# --------------------------------------------------------------------------- #
def check_honest(plan, table: Enumeration, allowed: np.ndarray, appetite: rb.Appetite) -> None:
    """Whatever stopped the search, the status claims nothing the enumeration contradicts."""
    meets = allowed & table.meets(appetite)
    optimum = table.net[meets].max() if meets.any() else None
    x = plan.result.annual_loss.to_numpy()
    assert plan.feasible == appetite.holds(x) == plan.appetite.ok
    if plan.status in MEETS_APPETITE:
        assert plan.appetite.ok and optimum is not None
        assert plan.expected_net_value <= optimum + REL * abs(optimum)
    else:  # "appetite_unmet" or "infeasible_appetite": never said of a plan that meets the appetite
        assert not plan.appetite.ok
    if plan.status == "optimal":
        assert plan.expected_net_value == pytest.approx(optimum, rel=REL) and plan.solver_gap <= 1e-6
    if plan.status == "feasible_gap" and math.isfinite(plan.bound):
        assert optimum <= plan.bound + REL * abs(plan.bound)
        assert plan.solver_gap == pytest.approx(
            (plan.bound - plan.expected_net_value) / max(abs(plan.expected_net_value), 1.0), rel=REL, abs=1e-12)
    if plan.status == "infeasible_appetite":
        assert optimum is None
    if plan.status != "optimal":
        assert not claims_optimal(plan.status_text) and not claims_optimal(plan.describe().splitlines()[0])


def test_stand_in_bound_is_valid_and_its_optimum_exact(light):
    budget, appetite = 1.2e6, rb.Appetite(var95=2.1e6)
    allowed = light.allowed(budget)
    meets = allowed & light.meets(appetite)
    tail_mean = light.stat(lambda x: metrics.tvar(x, 0.95))
    optimum, free = light.net[meets].max(), light.net[allowed].max()
    stand_in_optimum = light.net[allowed & (tail_mean <= 2.1e6)].max()
    assert stand_in_optimum < optimum < free, "the VaR limit and its stand-in must bind"
    plan = optimize(light.problem, budget=budget, appetite=appetite, var_method="cvar")
    assert plan.status == "stand_in" and plan.appetite.ok and plan.feasible
    x = plan.result.annual_loss.to_numpy()
    assert metrics.var(x, 0.95) <= metrics.tvar(x, 0.95) <= 2.1e6 * (1 + REL)
    # optimal for the stand-in, below the optimum as stated, which the bound bounds
    assert plan.expected_net_value == pytest.approx(stand_in_optimum, rel=REL)
    assert plan.expected_net_value <= optimum <= plan.bound
    # the bound is the optimum without the VaR limit (to HiGHS's gap): valid, and not loose
    assert free <= plan.bound + REL * abs(free) and plan.bound <= free + 1e-6 * abs(free)
    assert plan.solver_gap == pytest.approx((plan.bound - plan.expected_net_value) / abs(plan.expected_net_value),
                                            rel=REL)
    assert "stand-in" in plan.status_text and not claims_optimal(plan.status_text)
    assert "optimal on the sample" not in plan.describe()
    check_honest(plan, light, allowed, appetite)


@pytest.mark.parametrize("time_limit", [1e-4, 1e-3, 1e-2])
@pytest.mark.parametrize(
    "appetite",
    [rb.Appetite(var95=2.4e6, exceedance={3e6: 0.035}), rb.Appetite(var99=5.2e6, tolerance=CURVE), UNREACHABLE],
    ids=["var-exceedance", "var-tolerance", "unreachable"],
)
def test_time_limits_label_plans_honestly(problem, table, appetite, time_limit):
    plan = optimize(problem, budget=1e6, appetite=appetite, time_limit=time_limit, explain_infeasible=False)
    check_honest(plan, table, table.allowed(1e6), appetite)


def test_solver_stopped_before_any_solution(problem, table, monkeypatch):
    """HiGHS stopped by its time limit before finding any solution (the path tiny time limits take)."""

    def stopped(self, cuts, counts, **kwargs):
        return SimpleNamespace(x=None, status=1, message="Time limit reached", mip_dual_bound=None, fun=None)

    monkeypatch.setattr(Model, "solve", stopped)
    # the repair reaches the appetite: a plan meeting it, with no bound (never "no plan meeting it was found")
    appetite = rb.Appetite(var95=2.4e6, exceedance={3e6: 0.035})
    plan = optimize(problem, budget=1e6, appetite=appetite)
    assert plan.status == "feasible_gap" and plan.appetite.ok and math.isinf(plan.solver_gap)
    assert "stopped before bounding" in plan.status_text
    assert any("no bound on the optimum was found" in n for n in plan.notes)
    check_honest(plan, table, table.allowed(1e6), appetite)
    # the appetite is out of reach, but nothing was proven: the closest plan found, never "infeasible"
    plan = optimize(problem, budget=1e6, appetite=UNREACHABLE)
    assert plan.status == "appetite_unmet" and not plan.appetite.ok
    check_honest(plan, table, table.allowed(1e6), UNREACHABLE)


@pytest.mark.parametrize("appetite", [rb.Appetite(var95=2.4e6), UNREACHABLE], ids=["reachable", "unreachable"])
def test_heuristic_never_claims_optimality(problem, table, appetite):
    plan = optimize(problem, budget=1e6, appetite=appetite, method="heuristic")
    assert plan.status in ("heuristic", "appetite_unmet")  # it proves neither optimality nor infeasibility
    allowed = table.allowed(1e6)
    check_honest(plan, table, allowed, appetite)
    meets = allowed & table.meets(appetite)
    assert (plan.status == "heuristic") == plan.appetite.ok
    if meets.any():
        # every scenario enumerated: the relaxation's bound is valid
        assert table.net[meets].max() <= plan.bound + REL * abs(plan.bound)


@pytest.mark.parametrize("status", list(PlanStatus))
@pytest.mark.parametrize("gap", [math.nan, 0.0, 1e-5, 0.02, math.inf])
def test_status_words_claim_optimality_only_when_proven(status, gap):
    text = status_words(status, gap)
    assert claims_optimal(text) == (status is PlanStatus.OPTIMAL)
    assert "exact" not in text.lower()


# --------------------------------------------------------------------------- #
# 3. Every kind of limit is exact on the sample
# --------------------------------------------------------------------------- #
THREE_POINTS = rb.ToleranceCurve.from_points([(0.5, 4e5), (0.1, 1.6e6), (0.01, 6.4e6)])
EXACT = {
    "var90": rb.Appetite(var={0.9: 1.6e6}),
    "var95": rb.Appetite(var95=2.35e6),
    "var99": rb.Appetite(var99=5.4e6),
    "tvar95": rb.Appetite(tvar95=4.4e6),
    "exceedance": rb.Appetite(exceedance={2e6: 0.065}),
    "tolerance": rb.Appetite(tolerance=THREE_POINTS),
    "all": rb.Appetite(var={0.9: 1.65e6}, var95=2.45e6, var99=5.6e6, tvar99=8.5e6, exceedance={3e6: 0.036},
                       tolerance=THREE_POINTS),
}


@pytest.mark.parametrize("appetite", list(EXACT.values()), ids=list(EXACT))
def test_each_kind_of_limit_is_exact(problem, table, appetite):
    budget = 1e6
    allowed = table.allowed(budget)
    meets = allowed & table.meets(appetite)
    assert meets.any() and table.net[meets].max() < table.net[allowed].max(), "the test appetite must bind"
    plan = optimize(problem, budget=budget, appetite=appetite)
    assert plan.status == "optimal" and plan.appetite.ok
    assert appetite.holds(problem.total_losses(plan.funding))
    assert plan.expected_net_value == pytest.approx(table.net[meets].max(), rel=REL)
    check_honest(plan, table, allowed, appetite)


@pytest.mark.parametrize("kind", ["var", "tvar", "exceedance"])
def test_a_limit_at_a_plans_own_value_keeps_that_plan(problem, table, kind):
    """A limit equal to the value of the best plan meeting a looser one: that plan still meets it, exactly."""
    budget = 1e6
    allowed = table.allowed(budget)
    loose = {"var": rb.Appetite(var95=2.35e6), "tvar": rb.Appetite(tvar95=4.4e6),
             "exceedance": rb.Appetite(exceedance={2e6: 0.065})}[kind]
    ok = allowed & table.meets(loose)
    i = np.flatnonzero(ok)[np.argmax(table.net[ok])]
    x = table.losses[i]
    tight = {"var": rb.Appetite(var95=metrics.var(x, 0.95)), "tvar": rb.Appetite(tvar95=metrics.tvar(x, 0.95)),
             "exceedance": rb.Appetite(exceedance={2e6: np.count_nonzero(x > 2e6) / x.size})}[kind]
    assert tight.holds(x)
    plan = optimize(problem, budget=budget, appetite=tight)
    assert plan.status == "optimal" and plan.appetite.ok
    assert plan.expected_net_value == pytest.approx(table.net[i], rel=REL)


def decision_columns(table: Enumeration, model: Model) -> np.ndarray:
    """Each funding choice as the program's decision columns (x of the controls and projects, w of the options)."""
    out = np.zeros((len(table.fundings), model.ncol))
    for r, f in enumerate(table.fundings):
        xc, sp = table.problem.vectors(f)
        out[r, model.xc] = xc
        out[r, model.xp] = sp >= 1
        for k, col in model.w.items():
            out[r, col] = sp[k] == 2
    return out


def test_cuts_remove_only_plans_that_break_the_appetite(problem, table):
    """Every combinatorial row and every count row, from plans that break the appetite, over all 1,152 plans."""
    appetite = EXACT["all"]
    tails = tail_constraints(appetite, problem.years)
    model = Model(problem, FundingRules(problem, Constraints(budget=1e6)).constraints)
    engine = CubeCuts(problem, model)
    columns = decision_columns(table, model)
    ok = table.meets(appetite)
    states = [engine.states_of(f) for f in table.fundings]
    rng = np.random.default_rng(5)
    rows = 0
    for i in rng.choice(np.flatnonzero(~ok), 12, replace=False):
        x = table.losses[i]
        cube = engine.lift(states[i], lambda y: not meets(tails, y), lambda y: 0.0)
        inside = np.array([cube.contains(s) for s in states])
        assert inside[i] and not (inside & ok).any()  # every plan of the cube breaks the appetite
        coef, rhs, _sigma = engine.cut(cube)
        assert np.array_equal(columns @ coef > rhs + 1e-9, inside)  # the row removes exactly the cube
        for tc in tails:
            for threshold, allowance in tc.counts(x):
                coef, rhs, _sigma = engine.year_cut(states[i], x, threshold, allowance)
                removed = columns @ coef > rhs + 1e-9
                assert removed[i]
                # no plan with at most `allowance` years above the threshold is removed, so none meeting the limit
                assert not (removed & (np.count_nonzero(table.losses > threshold, axis=1) <= allowance)).any()
                assert not (removed & ok).any()
                rows += 1
    assert rows >= 12
    # the row of any cube removes exactly its plans (each decision restricted to some of its states)
    for _ in range(200):
        allowed = tuple(
            tuple(sorted(rng.choice(k, size=int(rng.integers(1, k + 1)), replace=False).tolist()))
            for k in engine.n_states
        )
        cube = Cube(allowed, 1.0)
        coef, rhs, _sigma = engine.cut(cube)
        assert np.array_equal(columns @ coef > rhs + 1e-9, np.array([cube.contains(s) for s in states]))


@pytest.mark.parametrize("n", [7, 20, 1_000, 2_000, 3_000, 20_000])
def test_count_allowances_are_those_of_the_limits(n):
    """P(loss > x) <= p allows as many years above x as exceedance counts; VaR and the curve imply theirs."""
    rng = np.random.default_rng(n)
    for p in [0.001, 0.01, 0.035, 0.05, 0.065, 0.1, 1 / 3, 0.5, 0.95]:
        (tc,) = tail_constraints(rb.Appetite(exceedance={1e6: p}), n)
        assert tc.allowed == max(k for k in range(n + 1) if k / n <= p)
    curve = rb.ToleranceCurve.from_points([(0.4, 1e6), (0.01, 2e7)])
    appetite = rb.Appetite(var={0.9: 3e6, 0.95: 5e6, 0.99: 1.2e7}, tolerance=curve)
    tails = tail_constraints(appetite, n, min_years=min(10, n // 2))
    for _ in range(40):
        x = rng.lognormal(13.5, 1.3, n)
        x[rng.random(n) < 0.3] = rng.choice(np.append(x[:3], 3e6))  # ties, some at a limit
        for tc in tails:
            for threshold, allowance in tc.counts(x):
                assert not tc.holds(x) and np.count_nonzero(x > threshold) > allowance
            if tc.holds(x):
                assert tc.counts(x) == []


# --------------------------------------------------------------------------- #
# 4. The tolerance curve: the check is the loss exceedance curve against the curve
# --------------------------------------------------------------------------- #
def lec_staircase_holds(x: np.ndarray, curve: rb.ToleranceCurve, m: int) -> bool:
    """The empirical LEC drawn as a staircase with its risers, on or below the curve at every resolved point.

    At each distinct loss v the staircase passes through j / n for every j from #{years > v} to
    #{years >= v}; the point (v, j / n) is resolved when j >= m and n - j >= m, and lies on or below the
    curve iff j / n <= prob_at(v), i.e. v <= loss_at(j / n) (v <= 0 for j = n; always for j = 0).
    """
    n = x.size
    v = np.unique(x)
    above = np.count_nonzero(x[None, :] > v[:, None], axis=1)
    at_or_above = np.count_nonzero(x[None, :] >= v[:, None], axis=1)
    loss = np.repeat(v, at_or_above - above + 1)  # one point per (v, j)
    j = np.concatenate([np.arange(a, b + 1) for a, b in zip(above, at_or_above)])
    resolved = (j >= max(m, 1)) & (n - j >= m)
    tolerated = np.zeros(j.size)  # the loss tolerated with probability j / n (0 for j = n)
    inner = resolved & (j < n)
    tolerated[inner] = curve.loss_at(j[inner] / n)
    return not bool(np.any(resolved & (loss > tolerated)))


def lec_holds_at_losses(x: np.ndarray, curve: rb.ToleranceCurve, m: int) -> tuple[bool, bool]:
    """P(loss > x) = #{years > x} / n on or below prob_at(x) at every loss x with >= m years above and >= m at or below.

    The LEC is constant on [L(j+1), L(j)) and the curve falls, so the losses just below each sample value
    (and the values themselves) are where it can first rise above the curve. Returns (holds, near): near
    when some comparison is within rounding (1e-12) of equality.
    """
    n = x.size
    v = np.unique(x)
    at = np.concatenate([v, np.nextafter(v, -np.inf), [0.0]])
    above = np.count_nonzero(x[None, :] > at[:, None], axis=1)
    resolved = (above >= m) & (n - above >= m)
    p = above / n
    tolerated = curve.prob_at(at)
    return (not bool(np.any(resolved & (p > tolerated))),
            bool(np.any(resolved & (np.abs(p - tolerated) <= 1e-12))))


def tie_at_the_lower_end(x: np.ndarray, curve: rb.ToleranceCurve, m: int) -> bool:
    """L(n - m) ties with L(n - m + 1) and lies above loss_at((n - m) / n): no loss has exactly n - m years above."""
    n = x.size
    k = n - m
    if not (m >= 1 and k >= m and k >= 1):
        return False
    top = np.sort(x)[::-1]
    return bool(top[k - 1] == top[k] and top[k - 1] > curve.loss_at(k / n))


def random_sample(rng: np.random.Generator) -> tuple[np.ndarray, rb.ToleranceCurve, int, str]:
    n, m = int(rng.integers(2, 70)), int(rng.integers(0, 13))
    p1, x1 = rng.uniform(0.2, 0.7), rng.uniform(1e5, 1e6)
    points = [(p1, x1), (rng.uniform(0.002, p1 / 2), x1 * rng.uniform(2, 30))]
    if rng.random() < 0.4:
        points.append((points[1][0] / 3, points[1][1] * rng.uniform(1.5, 4)))
    curve = rb.ToleranceCurve.from_points(points)
    kind = ("continuous", "repeated", "on the curve", "tie at the lower end")[int(rng.integers(4))]
    scale = rng.uniform(0.4, 1.6)
    if kind == "continuous":
        x = rng.lognormal(np.log(x1), 1.2, n) * scale
    elif kind == "repeated":  # a few values, zeros among them
        x = rng.choice(np.append(rng.lognormal(np.log(x1), 1.2, int(rng.integers(1, 5))) * scale, 0.0), n)
    elif kind == "on the curve":  # exactly the losses the curve tolerates at k / n, and the floats either side
        k = rng.integers(1, n, size=n)
        x = curve.loss_at(k / n)
        x = np.where(rng.random(n) < 0.2, np.nextafter(x, np.inf), x)
        x = np.where(rng.random(n) < 0.2, np.nextafter(x, -np.inf), x)
    else:
        m = int(rng.integers(1, max(2, n // 2))) if n >= 4 else 1
        x = np.sort(rng.lognormal(np.log(x1), 1.0, n) * scale)[::-1]
        k = n - m
        if k >= m:
            w = 1.01 * curve.loss_at(k / n)
            x[k - 1] = x[k] = w
            x[: k - 1] = np.maximum(x[: k - 1], w)
        rng.shuffle(x)
    return x, curve, m, kind


def test_tolerance_check_is_the_lec_against_the_curve():
    rng = np.random.default_rng(2026)
    seen: dict[str, int] = {}
    for _ in range(1_500):
        x, curve, m, kind = random_sample(rng)
        holds = curve.holds(x, m)
        # the check is the staircase LEC on or below the curve at every resolved point, ties included
        assert holds == lec_staircase_holds(x, curve, m), (kind, m, np.sort(x)[::-1])
        assert holds == (curve.excess_factor(x, m) <= 1.0)
        assert holds == rb.Appetite(tolerance=curve).holds(x, min_years=m)
        # and P(loss > x) against the curve at every loss with m years either side, except with a tie across
        # rank n - m, where no loss has exactly n - m years above and the check is the stricter
        at_losses, near = lec_holds_at_losses(x, curve, m)
        tie = tie_at_the_lower_end(x, curve, m)
        if tie and at_losses != holds:
            assert at_losses and not holds
            seen["tie: stricter"] = seen.get("tie: stricter", 0) + 1
        elif not near:
            assert holds == at_losses, (kind, m, np.sort(x)[::-1])
        seen[kind] = seen.get(kind, 0) + 1
        seen["holds" if holds else "breaks"] = seen.get("holds" if holds else "breaks", 0) + 1
    assert min(seen.get(k, 0) for k in ("continuous", "repeated", "on the curve", "tie: stricter")) >= 20, seen
    assert min(seen.get("holds", 0), seen.get("breaks", 0)) >= 200, seen


def test_tolerance_check_agrees_with_appetite_check():
    rng = np.random.default_rng(7)
    for _ in range(60):
        x, curve, m, _kind = random_sample(rng)
        assert rb.Appetite(tolerance=curve).check(x, min_years=m).tolerance_ok == curve.holds(x, m)


def test_tolerance_check_is_monotone():
    """A larger loss in any year never turns a breach into a pass (the optimiser's cuts rely on it)."""
    rng = np.random.default_rng(11)
    for _ in range(1_000):
        x, curve, m, _kind = random_sample(rng)
        y = x * np.where(rng.random(x.size) < 0.5, 1.0, rng.uniform(0, 1, x.size))  # y <= x year by year
        y[rng.random(x.size) < 0.2] = 0.0
        assert curve.holds(y, m) or not curve.holds(x, m)
    # comparing at losses alone is not monotone: raising one year's loss to tie across rank n - m passes a
    # sample that breaks the curve at that rank
    curve = rb.ToleranceCurve.from_points([(0.5, 1e6), (0.05, 5e6)])
    n, m = 20, 5
    u = curve.loss_at(np.arange(1, n) / n)  # u[k - 1] = loss_at(k / n)
    low = np.concatenate([0.99 * u[:14], [1.05 * u[14], 1.02 * u[14]], [1e3] * 4])  # breaks at rank 15 only
    high = low.copy()
    high[15] = high[14]  # L(16) raised to L(15)
    assert not lec_holds_at_losses(low, curve, m)[0] and lec_holds_at_losses(high, curve, m)[0]
    assert not curve.holds(low, m) and not curve.holds(high, m)
