"""The optimiser at enterprise size: no cap on combinations, exact on the sample.

* Combinations of a scenario are simulated together (``VariantKernel``): every
  column equals simulating that combination's scenario on its own, bit for
  bit, for every kind of scenario, control and project (a zoo, and a scaled-down
  enterprise case).
* Problems too large to keep every column keep means and per-year extremes,
  and the program brings in columns by column generation with a proof: the
  same plans, net values and statuses as the program on every column, and the
  optimum of exhaustive enumeration.
* A scenario with more combinations than the old cap (4,096) is solved exactly
  (status optimal, gap <= 1%), not by the heuristic.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import riskbudget as rb
from riskbudget.controls import Control, Project, ResponseSLA, RiskChange, SecurityByDesign
from riskbudget.optimization import Constraints, FundingRules, optimize, precompute
from riskbudget.optimization import model as model_module
from riskbudget.optimization import problem as problem_module
from riskbudget.optimization.model import CutRow, Model

ROOT = Path(__file__).resolve().parents[1]


def _enterprise_module():
    spec = importlib.util.spec_from_file_location("enterprise", ROOT / "benchmarks" / "enterprise.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("enterprise", module)
    spec.loader.exec_module(module)
    return module


enterprise = _enterprise_module()


@pytest.fixture
def compact(monkeypatch):
    """Problems built in this test keep means and extremes only, whatever their size."""
    monkeypatch.setattr(problem_module, "DENSE_BYTES", 0)


def _zoo() -> tuple[rb.Register, list[Control], list[Project]]:
    """Every frequency kind, susceptibility kind and loss shape, with every kind of effect on them."""
    lognormal = rb.LogNormal.from_ci(20_000, 2_000_000)
    legacy = rb.Adjustment("loss", rb.PERT(0.7, 0.85, 1.0), "legacy tooling")  # its own stream, per scenario
    scenarios = [
        rb.Scenario("cap-res", threat_event_frequency=rb.PERT(1, 3, 8), threat_capability=rb.PERT(0.3, 0.6, 0.95),
                    resistance_strength=rb.PERT(0.4, 0.65, 0.9), primary_loss=lognormal,
                    secondary_loss_probability=rb.PERT(0.1, 0.3, 0.5), secondary_loss=rb.PERT(1e4, 5e4, 4e5),
                    category="threat"),
        rb.Scenario("susceptible", threat_event_frequency=rb.PERT(5, 20, 40), susceptibility=rb.PERT(0.01, 0.05, 0.1),
                    primary_loss=rb.PERT(5e3, 2e4, 2e5), category="threat", adjustments=(legacy,)),
        rb.Scenario("contact", contact_frequency=rb.PERT(10, 30, 60), probability_of_action=rb.PERT(0.05, 0.1, 0.2),
                    susceptibility=rb.PERT(0.05, 0.2, 0.4), primary_loss=lognormal, category="threat"),
        rb.Scenario("forms", loss_event_frequency=rb.PERT(0.5, 2, 5),
                    primary_loss=rb.LossForms(productivity=rb.PERT(1e4, 3e4, 2e5), response=lognormal),
                    secondary_loss_probability=rb.PERT(0.2, 0.4, 0.6),
                    secondary_loss=rb.LossForms(reputation=rb.PERT(1e4, 1e5, 1e6)), category="loss-level"),
        rb.Scenario("annual", annual_probability=rb.PERT(0.05, 0.15, 0.3), primary_loss=rb.LogNormal.from_ci(1e5, 5e6),
                    secondary_loss_probability=rb.PERT(0.3, 0.5, 0.7), secondary_loss=rb.PERT(1e5, 5e5, 3e6),
                    category="loss-level"),
    ]
    sla = ResponseSLA(rb.PERT(24, 72, 240), rb.PERT(8, 16, 48), disruption_share=0.4)
    controls = [
        Control("avoid", 1e5, applies_to="*", avoidance=rb.PERT(0.2, 0.4, 0.6), coverage=0.9),
        Control("resist", 1e5, applies_to="*", resistance=rb.PERT(0.3, 0.5, 0.7), lapses_per_year=4, days_per_lapse=3),
        Control("detect", 1e5, applies_to=("threat", "annual"), detection=rb.PERT(0.1, 0.2, 0.4), loss_factor="loss"),
        Control("respond", 1e5, applies_to="loss-level", response=rb.PERT(0.2, 0.4, 0.6), loss_factor="primary_loss"),
        Control("retainer", 1e5, applies_to=("cap-res", "forms"), response_sla=sla),
        Control("form", 1e5, applies_to="forms", response=rb.PERT(0.3, 0.5, 0.7),
                loss_factor="primary_loss.productivity"),
    ]
    new = rb.Scenario("new surface", threat_event_frequency=rb.PERT(0.5, 2, 4), susceptibility=rb.PERT(0.1, 0.2, 0.3),
                      primary_loss=rb.PERT(1e4, 5e4, 5e5), category="threat")
    projects = [
        Project("more surface", 5e5, value_per_year=rb.PERT(4e5, 8e5, 2e6),
                risk_changes=[RiskChange(("threat", "forms"), rb.PERT(0.2, 0.5, 1.0))],
                security_by_design=SecurityByDesign(5e4, 1, rb.PERT(0.4, 0.6, 0.8))),
        Project("bigger losses", 3e5, value_per_year=rb.PERT(2e5, 5e5, 1e6),
                risk_changes=[RiskChange(("cap-res", "annual"), rb.PERT(0.1, 0.3, 0.5), factor="loss"),
                              RiskChange("annual", rb.PERT(0.1, 0.3, 0.6))],
                new_scenarios=[new], security_by_design=SecurityByDesign(3e4, 1, rb.PERT(0.3, 0.5, 0.7))),
    ]
    return rb.Register(scenarios), controls, projects


def _assert_every_column_is_a_run(problem, *, most: int | None = None, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    checked = 0
    for j in range(len(problem.universe)):
        n = problem.n_combinations[j]
        combos = range(n) if most is None or n <= most else sorted(rng.choice(n, size=most, replace=False))
        for c in combos:
            v = problem.variant(j, c)
            alone = (np.zeros(problem.years) if v is None else
                     rb.simulate(v, years=problem.years, seed=problem.root, n_jobs=1, keep_counts=False,
                                 chunk_size=173).losses.to_numpy()[:, 0])
            got = problem.column(j, c)
            assert np.array_equal(got, alone), (problem.names[j], c)
            checked += 1
    return checked


@pytest.mark.parametrize("keep_every_column", [True, False])
def test_combinations_simulated_together_equal_separate_runs_bit_for_bit(monkeypatch, keep_every_column):
    if not keep_every_column:
        monkeypatch.setattr(problem_module, "DENSE_BYTES", 0)
    reg, controls, projects = _zoo()
    problem = precompute(reg, controls, projects, years=700, seed=3, n_jobs=1)
    assert problem.dense is keep_every_column
    checked = _assert_every_column_is_a_run(problem)
    assert checked == sum(problem.n_combinations)
    for j in range(len(problem.universe)):
        columns = np.asfortranarray(np.column_stack([problem.column(j, c) for c in range(problem.n_combinations[j])]))
        assert np.array_equal(problem.means[j], columns.mean(axis=0))  # each column's own mean, pairwise summed
        assert np.array_equal(problem.lowest[j], columns.min(axis=1))
        assert np.array_equal(problem.highest[j], columns.max(axis=1))


def test_enterprise_columns_equal_separate_runs():
    reg, controls, projects, _ = enterprise.small_enterprise()
    problem = precompute(reg, controls, projects, years=400, seed=9)
    assert _assert_every_column_is_a_run(problem, most=12, seed=1) > 100


def test_small_enterprise_shape():
    reg, controls, projects, _ = enterprise.small_enterprise()
    assert (len(reg), len(controls), len(projects)) == (12, 12, 6)
    problem = precompute(reg, controls, projects, years=10, seed=1, lazy=True)
    assert all(len([t for t in touching if t[0] == "control"]) for touching in problem.touching[:12])
    assert sum(1 for c in controls for _ in c.applies_to) == 12 * 5
    big_reg, big_controls, big_projects, appetite = enterprise.enterprise(tvar95=1e7)
    assert (len(big_reg), len(big_controls), len(big_projects)) == (48, 45, 24)
    assert all(len(c.applies_to) == 8 for c in big_controls)
    assert appetite is not None and appetite.limits[0].limit == 1e7


# --------------------------------------------------------------------------- #
# The program on some columns, with a proof, against the program on every column
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def small_case():
    reg, controls, projects, _ = enterprise.small_enterprise()
    dense = precompute(reg, controls, projects, years=2_000, seed=5)
    free = optimize(dense, budget=4e6)
    return reg, controls, projects, dense, free


def test_compact_problem_keeps_the_same_numbers(small_case, compact):
    reg, controls, projects, dense, _ = small_case
    problem = precompute(reg, controls, projects, years=2_000, seed=5)
    assert dense.dense and not problem.dense and problem.losses is None
    for j in range(len(problem.universe)):
        assert np.array_equal(problem.means[j], dense.losses[j].mean(axis=0))
        assert np.array_equal(problem.lowest[j], dense.losses[j].min(axis=1))
        assert np.array_equal(problem.highest[j], dense.losses[j].max(axis=1))
        c = problem.n_combinations[j] - 1
        assert np.array_equal(problem.column(j, c), dense.losses[j][:, c])


@pytest.mark.parametrize("share", [None, 0.9])
def test_column_generation_gives_the_plan_of_the_whole_program(small_case, compact, share):
    reg, controls, projects, dense, free = small_case
    problem = precompute(reg, controls, projects, years=2_000, seed=5)
    appetite = None if share is None else rb.Appetite(tvar95=share * free.tvar95)
    whole = optimize(dense, budget=4e6, appetite=appetite)
    generated = optimize(problem, budget=4e6, appetite=appetite)
    assert whole.status == generated.status == "optimal"
    assert generated.funding == whole.funding
    assert generated.expected_net_value == pytest.approx(whole.expected_net_value, rel=1e-12)
    assert generated.solver_gap <= 1e-6 and generated.bound >= generated.expected_net_value - 1e-6
    if appetite is not None:
        assert generated.appetite.ok and generated.tvar95 <= share * free.tvar95
        assert free.tvar95 > share * free.tvar95  # the limit binds


def _brute_force(problem, budget: float, appetite: rb.Appetite | None) -> tuple[float, object]:
    rules = FundingRules(problem, Constraints(budget=budget))
    best = (-math.inf, None)
    states = [range(2)] * len(problem.controls) + [
        range(3 if p.security_by_design is not None else 2) for p in problem.projects
    ]
    nc = len(problem.controls)
    for choice in itertools.product(*states):
        f = problem.from_vectors(np.array(choice[:nc], dtype=bool), np.array(choice[nc:]))
        if not rules.allows(f):
            continue
        if appetite is not None and not appetite.check(problem.total_losses(f)).ok:
            continue
        s = problem.score(f)
        if s.expected_net_value > best[0]:
            best = (s.expected_net_value, f)
    return best


def _tiny_case():
    reg, controls, projects, _ = enterprise.enterprise(copies=2, scenarios_per_unit=4, controls_per_unit=4,
                                                       projects_per_unit=2, controls_per_scenario=4, seed=3)
    return precompute(reg, controls, projects, years=1_500, seed=4)


@pytest.fixture(scope="module")
def tiny_with_appetite():
    """A compact problem small enough to enumerate, a binding TVaR95 limit, and the brute-force optimum under it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(problem_module, "DENSE_BYTES", 0)
        problem = _tiny_case()
    appetite = rb.Appetite(tvar95=0.85 * optimize(problem, budget=2.5e6).tvar95)
    return problem, appetite, _brute_force(problem, 2.5e6, appetite)


@pytest.mark.parametrize("share", [None, 0.85])
def test_column_generation_finds_the_brute_force_optimum(compact, share, tiny_with_appetite):
    budget = 2.5e6
    if share is None:
        problem, appetite = _tiny_case(), None
        best, funding = _brute_force(problem, budget, appetite)
    else:
        problem, appetite, (best, funding) = tiny_with_appetite
    assert not problem.dense
    plan = optimize(problem, budget=budget, appetite=appetite)
    assert plan.status == "optimal"
    assert plan.expected_net_value == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert plan.funding == funding


@pytest.mark.parametrize("columns", [80, 64])
def test_a_full_program_takes_out_columns_that_cannot_matter(monkeypatch, tiny_with_appetite, columns):
    """With room for few columns, those the Lagrangian bound rules out make room; a proof that still does not fit
    is not claimed: the plan is then feasible_gap with its bound, and the note names the memory cap."""
    problem, appetite, (best, funding) = tiny_with_appetite
    years = problem.years
    monkeypatch.setattr(model_module, "PROGRAM_BYTES", columns * 8 * years)
    taken = []
    deactivate = model_module._Program.deactivate

    def spy(self, cols):
        taken.append(deactivate(self, cols))
        return taken[-1]

    monkeypatch.setattr(model_module._Program, "deactivate", spy)
    for j, c in problem.kept_columns():  # start from an empty program, as a fresh problem would
        problem.release(j, c)
    plan = optimize(problem, budget=2.5e6, appetite=appetite)
    assert sum(taken) > 0
    assert plan.funding == funding and plan.appetite.ok
    assert plan.bound >= best - 1e-6
    if columns == 80:
        assert plan.status == "optimal" and plan.solver_gap <= 1e-6
    else:
        assert plan.status == "feasible_gap" and 0 < plan.solver_gap < 0.01
        assert any("PROGRAM_BYTES" in note for note in plan.notes)


# --------------------------------------------------------------------------- #
# Above the old cap
# --------------------------------------------------------------------------- #
def _above_the_old_cap() -> tuple[rb.Register, list[Control], list[Project]]:
    """One scenario touched by 12 controls and a project with security by design: 12,288 combinations."""
    reg = rb.read_register(rb.io.example_path("register.csv"))
    names = [s.name for s in reg]
    crowded = names[0]  # ransomware on ERP: capability vs resistance, secondary losses
    rng = np.random.default_rng(4)
    controls = []
    for k in range(12):
        others = list(rng.choice(names[1:], size=2, replace=False))
        effect = ({"resistance": rb.PERT(0.05, 0.15, 0.3)} if k % 3 else {"detection": rb.PERT(0.05, 0.1, 0.2)})
        controls.append(Control(f"control {k}", 40_000 + 10_000 * k, applies_to=(crowded, *others), coverage=0.9,
                                **effect))
    projects = [Project("ERP upgrade", 8e5, value_per_year=rb.PERT(5e5, 1.2e6, 2e6),
                        risk_changes=[RiskChange(crowded, rb.PERT(0.1, 0.3, 0.6))],
                        security_by_design=SecurityByDesign(6e4, 1, rb.PERT(0.4, 0.6, 0.8)))]
    return reg, controls, projects


def test_a_scenario_above_the_old_cap_is_solved_exactly(compact):
    reg, controls, projects = _above_the_old_cap()
    problem = precompute(reg, controls, projects, years=800, seed=8)
    assert max(problem.n_combinations) == 2**12 * 3 > 4096
    assert problem_module.MAX_COMBINATIONS_PER_SCENARIO is None
    free = optimize(problem, budget=1.2e6)
    appetite = rb.Appetite(tvar95=0.95 * free.tvar95)
    plan = optimize(reg, controls, projects, budget=1.2e6, appetite=appetite, years=800, seed=8)
    assert not plan.problem.lazy
    assert plan.status == "optimal" and plan.solver_gap <= 0.01
    assert plan.appetite.ok and plan.bound >= plan.expected_net_value - 1e-6
    assert not any("heuristic" in note for note in plan.notes)


def test_the_old_cap_is_gone_and_setting_one_still_refuses(monkeypatch):
    reg, controls, projects = _above_the_old_cap()
    problem = precompute(reg, controls, projects, years=10, seed=1, lazy=True)
    assert max(problem.n_combinations) > 4096
    monkeypatch.setattr(problem_module, "MAX_COMBINATIONS_PER_SCENARIO", 4096)
    with pytest.raises(rb.RiskBudgetError, match="12288 combinations"):
        precompute(reg, controls, projects, years=10, seed=1)


def test_memory_is_checked_before_the_precompute(monkeypatch, compact):
    reg, controls, projects, _ = enterprise.small_enterprise()
    monkeypatch.setenv("RISKBUDGET_MEMORY_LIMIT", "1M")
    with pytest.raises(rb.MemoryLimitError, match="method='heuristic'"):
        precompute(reg, controls, projects, years=2_000, seed=1)


# --------------------------------------------------------------------------- #
# Cut rows remember their years
# --------------------------------------------------------------------------- #
def test_cut_rows_keep_their_years_through_scaling(compact):
    reg, controls, projects, _ = enterprise.small_enterprise()
    problem = precompute(reg, controls, projects, years=300, seed=1)
    model = Model(problem, Constraints(budget=1e6))
    years = np.array([3, 10, 200])
    row = model.year_row(years, np.array([1.0, 1.0, 0.5]))
    assert isinstance(row, CutRow) and np.array_equal(row.years, years)
    scaled = row / 2.5
    assert isinstance(scaled, CutRow) and scaled.factor == pytest.approx(row.factor / 2.5)
    assert np.array_equal(np.asarray(scaled), np.asarray(row) / 2.5)
    assert not isinstance(row + 1.0, CutRow) and not isinstance(row * row, CutRow)
    # a column not in the program holds its scenario's smallest loss in those years: a lower bound
    j, first, count = model.blocks[0]
    lowest = float(np.array([1.0, 1.0, 0.5]) @ problem.lowest[j][years]) / model.scale
    assert np.asarray(row)[first : first + count] == pytest.approx(lowest)
    for c in range(count):
        exact = float(np.array([1.0, 1.0, 0.5]) @ problem.column(j, c)[years]) / model.scale
        assert exact >= np.asarray(row)[first + c] - 1e-15


def test_programs_share_the_columns_they_brought_in(compact):
    reg, controls, projects, _ = enterprise.small_enterprise()
    problem = precompute(reg, controls, projects, years=500, seed=1)
    optimize(problem, budget=3e6)
    kept = problem.kept_columns()
    assert kept and problem.kept_bytes == 8 * 500 * len(kept)
    assert len(kept) < sum(problem.n_combinations)
    assert model_module.PROGRAM_BYTES >= problem.kept_bytes
