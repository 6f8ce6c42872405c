"""Insurance as a decision in the optimiser (riskbudget.optimization.transfer).

Every number is checked against an independent computation on the optimiser's own sample: the retained losses
against ``simulate(..., insurance=...)`` bit for bit, the chosen tower and funding against brute force over every
funding choice and every tower (scored with ``simulate``), the premium against the budget, and the labels against
what was proven.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import riskbudget as rb
from riskbudget.exceptions import RiskBudgetError
from riskbudget.insurance import InsuranceError
from riskbudget.optimization import precompute, transfer
from riskbudget.optimization.model import Model
from riskbudget.optimization.plan import PlanStatus
from riskbudget.optimization.rules import FundingRules
from tests.test_decision_proofs import small_instance

YEARS = 1_000
SEED = 5
REL = 1e-9


def policies() -> list[rb.Insurance]:
    return [
        rb.Insurance("Primary 1M xs 1M", 350_000, retention=1e6, limit=1e6),
        rb.Insurance("Primary 2M xs 0.5M", 700_000, retention=5e5, limit=2e6),  # overlaps the first: alternatives
        rb.Insurance("Ransom per event", 60_000, retention=2e5, limit=2e6, basis="per_event", coinsurance=0.1,
                     applies_to="ransomware"),
    ]


@pytest.fixture(scope="module")
def instance():
    from dataclasses import replace

    reg, controls, projects = small_instance()
    app = replace(projects[2], excludes=())
    return reg, controls[:3], [projects[0], app]  # 8 x 3 x 2 = 48 funding choices; "App" adds a scenario


@pytest.fixture(scope="module")
def problem(instance):
    reg, controls, projects = instance
    return precompute(reg, controls, projects, years=YEARS, seed=SEED, progress=False)


def every_funding(problem):
    for xc in itertools.product((False, True), repeat=len(problem.controls)):
        for sp in itertools.product(*[range(3 if p.security_by_design else 2) for p in problem.projects]):
            yield problem.from_vectors(np.array(xc), np.array(sp))


def brute_force(problem, pols, budget, appetite=None):
    """Best (net, tower names, funding) over every tower and funding, each scored by simulate(..., insurance=)."""
    rules = FundingRules(problem)
    best = (-math.inf, None, None)
    for tower in transfer.towers(pols, problem.universe):
        premium = sum(p.premium for p in tower)
        for f in every_funding(problem):
            sec, it = problem.spend(f)
            if sec + it + premium > budget + 1e-6 or not rules.allows(f):
                continue
            res = rb.simulate(problem.register_for(f), years=YEARS, seed=problem.root, progress=False,
                              insurance=list(tower) or None)
            if appetite is not None and not appetite.check(res).ok:
                continue
            net = problem.expected_value(f) - res.annual_loss.mean() - sec - it - premium
            if net > best[0]:
                best = (net, tuple(p.name for p in tower), f)
    return best


# --------------------------------------------------------------------------- #
# Retained losses on the optimiser's sample
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("layers", [[0], [2], [1, 2], [0, 2]])
def test_insured_problem_is_simulate_bit_for_bit(problem, layers):
    pols = [policies()[i] for i in layers]
    insured = problem.insured(pols)
    for names in ([], ["EDR", "Portal"], ["Backups", "MFA", "App"], ["EDR", "Backups", "MFA", "Portal", "App"]):
        f = problem.funding(names, ["Portal"] if "Portal" in names else [])
        sim = rb.simulate(problem.register_for(f), years=YEARS, seed=problem.root, insurance=pols, progress=False)
        got = insured.result_for(f)
        assert list(got.losses.columns) == list(sim.losses.columns)
        assert np.array_equal(got.losses.to_numpy(), sim.losses.to_numpy())
        assert np.array_equal(got.recoveries.to_numpy(), sim.recoveries.to_numpy())
        assert np.array_equal(insured.total_losses(f), sim.annual_loss.to_numpy())
        assert insured.premium == pytest.approx(sum(p.premium for p in pols))
        score = insured.score(f.names, f.security_by_design)
        sec, it = problem.spend(f)
        assert score.expected_net_value == pytest.approx(
            problem.expected_value(f) - sim.annual_loss.mean() - sec - it - insured.premium, rel=REL)
    assert problem.insurance == ()  # the copy leaves the ground-up problem alone


def test_program_refuses_an_insured_problem(problem):
    with pytest.raises(RiskBudgetError, match="non-linear"):
        Model(problem.insured(policies()[:1]), FundingRules(problem).constraints)


def test_towers_never_buy_overlapping_layers(problem):
    towers = transfer.towers(policies(), problem.universe)
    names = [tuple(p.name for p in t) for t in towers]
    assert names[0] == ()
    assert len(names) == 6  # {}, A, B, C, AC, BC
    assert not any({"Primary 1M xs 1M", "Primary 2M xs 0.5M"} <= set(t) for t in names)
    with pytest.raises(InsuranceError, match="more than once"):
        transfer.towers(policies() + policies()[:1], problem.universe)
    many = [rb.Insurance(f"L{i}", 1, retention=0, limit=1e6) for i in range(transfer.MAX_POLICIES + 1)]
    with pytest.raises(InsuranceError, match="at most"):
        transfer.towers(many, problem.universe)


# --------------------------------------------------------------------------- #
# The decision, against brute force
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("budget", [400_000, 1_100_000])
def test_optimal_tower_and_funding_match_brute_force(instance, problem, budget):
    pols = policies()
    plan = rb.optimize(problem, budget=budget, insurance=pols, progress=False)
    net, tower, funding = brute_force(problem, pols, budget)
    assert plan.status == PlanStatus.OPTIMAL  # small: every choice scored, a proof on the sample
    assert plan.expected_net_value == pytest.approx(net, rel=REL)
    assert tuple(p.name for p in plan.insurance) == tower
    assert plan.total_spend == pytest.approx(plan.security_spend + plan.it_spend + plan.risk_transfer_spend)
    assert plan.total_spend <= budget + 1e-6
    assert plan.risk_transfer_spend == pytest.approx(sum(p.premium for p in plan.insurance))
    assert plan.towers["chosen"].sum() == 1 and len(plan.towers) == 6
    # the plan's losses are retained, "before" is the status quo without insurance
    assert plan.ale == pytest.approx(plan.result.annual_loss.mean(), rel=REL)
    assert plan.ale_before == pytest.approx(problem.total_losses(problem.funding([])).mean(), rel=REL)


def test_appetite_applies_to_retained_loss(problem):
    """A TVaR limit that no funding meets on ground-up losses, but that an insured plan meets."""
    pols = policies()
    none = rb.optimize(problem, budget=1_100_000, progress=False)
    best_ground = min(rb.metrics.tvar(problem.total_losses(f), 0.95) for f in every_funding(problem))
    limit = 0.9 * best_ground
    app = rb.Appetite(tvar95=limit)
    without = rb.optimize(problem, budget=1_100_000, appetite=app, progress=False, explain_infeasible=False)
    assert without.status == PlanStatus.INFEASIBLE
    plan = rb.optimize(problem, budget=1_100_000, appetite=app, insurance=pols, progress=False)
    net, tower, _ = brute_force(problem, pols, 1_100_000, appetite=app)
    assert plan.status == PlanStatus.OPTIMAL and plan.feasible and plan.insurance
    assert plan.expected_net_value == pytest.approx(net, rel=REL)
    assert tuple(p.name for p in plan.insurance) == tower
    assert plan.tvar95 <= limit
    assert plan.expected_net_value <= none.expected_net_value + 1e-6  # a limit never adds value
    assert plan.robustness is not None  # checked on fresh years, with the insurance


def test_heuristic_path_is_labelled_and_never_worse_than_no_insurance(problem, monkeypatch):
    monkeypatch.setattr(transfer, "EXHAUSTIVE_EVALUATIONS", 0)
    pols = policies()
    app = rb.Appetite(tvar95=2.0 * rb.metrics.tvar(problem.total_losses(problem.funding([])), 0.95))
    plan = rb.optimize(problem, budget=1_100_000, appetite=app, insurance=pols, progress=False)
    assert plan.status == PlanStatus.HEURISTIC and "not proven optimal" in plan.status_text
    assert any("non-linear" in n for n in plan.notes)
    ground = rb.optimize(problem, budget=1_100_000, appetite=app, progress=False)
    assert plan.towers.loc["no insurance", "expected_net_value"] == pytest.approx(ground.expected_net_value, rel=REL)
    assert plan.expected_net_value >= ground.expected_net_value - 1e-6
    net, _, _ = brute_force(problem, pols, 1_100_000, appetite=app)
    assert plan.expected_net_value <= net + 1e-6  # never claims more than the best there is
    assert plan.feasible


def test_premium_above_the_budget_is_skipped_not_bought(problem):
    pols = policies()
    plan = rb.optimize(problem, budget=100_000, insurance=pols, progress=False)
    skipped = plan.towers[plan.towers["skipped"].notna()]
    assert set(skipped.index) >= {"Primary 1M xs 1M", "Primary 2M xs 0.5M"}
    assert plan.total_spend <= 100_000 + 1e-6


def test_bad_combinations_are_clear_errors(problem):
    with pytest.raises(RiskBudgetError, match="horizon"):
        rb.optimize(problem, budget=1e6, insurance=policies(), horizon=2, progress=False)
    with pytest.raises(RiskBudgetError, match="no layer"):
        rb.optimize(problem, budget=1e6, insurance=[], progress=False)


def test_evaluate_with_insurance_counts_the_premium(problem):
    pols = policies()[:1]
    f = problem.funding(["EDR", "MFA"])
    plan = rb.evaluate(problem, funded=f, insurance=pols, budget=300_000)
    sim = rb.simulate(problem.register_for(f), years=YEARS, seed=problem.root, insurance=pols, progress=False)
    assert plan.ale == pytest.approx(sim.annual_loss.mean(), rel=REL)
    assert plan.risk_transfer_spend == pols[0].premium
    assert plan.total_spend == pytest.approx(230_000 + 350_000)
    assert any("budget" in n for n in plan.notes)  # 580K of spend against a 300K budget
    doc = plan.to_dict()
    assert doc["insurance"][0]["name"] == pols[0].name and doc["risk_transfer_spend"] == pols[0].premium
    assert "risk transfer" in plan.describe()


# --------------------------------------------------------------------------- #
# The command line and the decision pack
# --------------------------------------------------------------------------- #
def test_cli_optimize_chooses_insurance_saves_it_and_the_pack_shows_it(tmp_path, capsys):
    import json

    from riskbudget.cli import main

    saved = tmp_path / "plan.json"
    args = ["optimize", "--register", "data/example/register.csv", "--controls", "data/example/controls.csv",
            "--projects", "data/example/projects.csv", "--budget", "6M", "--years", "1000", "--seed", "3",
            "--insurance", "data/example/insurance.csv", "--policy", "Cyber primary $10M xs $5M",
            "--policy", "Cyber excess $15M xs $15M", "--save", str(saved), "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["total_spend"] == pytest.approx(doc["security_spend"] + doc["it_spend"] + doc["risk_transfer_spend"])
    assert doc["total_spend"] <= 6e6 + 1e-6
    bought = [p["name"] for p in doc["insurance"]]
    premiums = {"Cyber primary $10M xs $5M": 1_740_000, "Cyber excess $15M xs $15M": 480_000}
    assert doc["risk_transfer_spend"] == pytest.approx(sum(premiums[b] for b in bought))
    assert doc["status"] in ("heuristic", "optimal")
    # the saved plan carries the insurance; the pack made from it re-scores it (retained losses) and shows the options
    saved_doc = json.loads(saved.read_text())
    assert [p["name"] for p in saved_doc["insurance"]["bought"]] == bought
    assert len(saved_doc["insurance"]["towers"]) == 4  # nothing, primary, excess, both
    pack = tmp_path / "pack.html"
    assert main(["report", "--plan", str(saved), "--out", str(pack), "--frontier-points", "0"]) == 0
    out = capsys.readouterr().out
    assert "decision pack" in out and "not reproduced" not in out
    html = pack.read_text()
    assert 'id="towers"' in html and "Cyber excess $15M xs $15M" in html


def test_cli_report_with_insurance_says_the_losses_are_retained(tmp_path, capsys):
    from riskbudget.cli import main

    out = tmp_path / "r.html"
    assert main(["report", "data/example/register.csv", "--years", "2000", "--seed", "2", "--insurance",
                 "data/example/insurance.csv", "--policy", "Cyber excess $15M xs $15M", "--out", str(out)]) == 0
    capsys.readouterr()
    html = out.read_text()
    assert 'id="insurance"' in html and "retains" in html
    assert main(["report", "--plan", "x.json", "--insurance", "data/example/insurance.csv"]) == 1
    assert "--insurance does not go with --plan" in capsys.readouterr().err


def test_frontier_with_insurance_options_is_optimize_at_each_share(problem):
    pols = policies()
    budget = 1_100_000
    front = rb.frontier(problem, budget=budget, shares=[0.2, 0.6], insurance=pols, progress=False)
    assert {"risk_transfer_spend", "insurance"} <= set(front.table.columns)
    for (_, row), plan in zip(front.table.iterrows(), front.plans):
        s = row["security_share"]
        alone = rb.optimize(problem, budget=budget, security_budget=s * budget, it_budget=(1 - s) * budget,
                            insurance=pols, progress=False)
        assert plan.expected_net_value == pytest.approx(alone.expected_net_value, rel=REL)
        assert row["insurance"] == "; ".join(p.name for p in alone.insurance)
        assert plan.status == PlanStatus.OPTIMAL and plan.security_spend <= s * budget + 1e-6
        assert plan.total_spend <= budget + 1e-6
    with pytest.raises(RiskBudgetError, match="horizon"):
        rb.frontier(problem, budget=budget, shares=[0.5], insurance=pols, horizon=2, progress=False)


def test_frontier_over_a_horizon_picks_the_best_npv(problem):
    budget = 1_100_000
    front = rb.frontier(problem, budget=budget, shares=[0.1, 0.5, 0.9], horizon=2, discount_rate=0.05,
                        progress=False)
    assert "npv" in front.table.columns
    for (_, row), plan in zip(front.table.iterrows(), front.plans):
        s = row["security_share"]
        alone = rb.optimize(problem, budget=budget, security_budget=s * budget, it_budget=(1 - s) * budget,
                            horizon=2, discount_rate=0.05, progress=False)
        assert row["npv"] == pytest.approx(alone.npv, rel=REL) and plan.npv == row["npv"]
        assert plan.by_year is not None and len(plan.by_year) == 2
    assert front.best_index == int(front.table["npv"].idxmax())


def test_two_layers_of_one_name_never_share_cached_columns(problem):
    f = problem.funding(["EDR"])
    for retention in (2e5, 5e5):  # same name, other terms, on the same problem (its caches are shared by copies)
        layer = rb.Insurance("Ransom", 1_000, retention=retention, limit=1e6, basis="per_event",
                             applies_to="ransomware")
        sim = rb.simulate(problem.register_for(f), years=YEARS, seed=problem.root, insurance=[layer], progress=False)
        assert np.array_equal(problem.insured([layer]).total_losses(f), sim.annual_loss.to_numpy())


# --------------------------------------------------------------------------- #
# Layers the review found wanting
# --------------------------------------------------------------------------- #
def test_a_layer_on_a_scenario_a_project_adds_is_scored_with_and_without_the_project(problem):
    layer = rb.Insurance("App cover", 2e4, retention=1e5, limit=1e6, basis="per_event", applies_to="App abuse")
    insured = problem.insured([layer])
    with_app = problem.funding(["App"])
    sim = rb.simulate(problem.register_for(with_app), years=YEARS, seed=problem.root, insurance=[layer],
                      progress=False)
    assert np.array_equal(insured.total_losses(with_app), sim.annual_loss.to_numpy())
    without = problem.funding(["EDR"])  # the layer covers nothing here: the losses are ground-up
    assert np.array_equal(insured.total_losses(without), problem.total_losses(without))
    plan = rb.optimize(problem, budget=1_100_000, insurance=[layer], progress=False)
    assert plan.status == PlanStatus.OPTIMAL
    assert rb.validate_plan(plan).years == YEARS  # fresh years with the layers that cover the funded register


def test_annual_layers_on_overlapping_but_different_scenarios_never_pay_twice(problem):
    everything = rb.Insurance("All xs 0.5M", 3e5, retention=5e5, limit=5e6)
    ransom = rb.Insurance("Ransom xs 0.5M", 2e5, retention=5e5, limit=5e6, applies_to="ransomware")
    with pytest.raises(InsuranceError, match="overlapping but different sets of scenarios"):
        rb.simulate(problem.register, years=200, seed=1, insurance=[everything, ransom], progress=False)
    names = [[p.name for p in t] for t in transfer.towers([everything, ransom], problem.universe)]
    assert names == [[], ["All xs 0.5M"], ["Ransom xs 0.5M"]]
    web = rb.Insurance("Web agg", 5e4, retention=5e5, limit=2e6, applies_to="web")  # Web breach and App abuse
    breach = rb.Insurance("Web breach agg", 4e4, retention=1e6, limit=2e6, applies_to="Web breach")
    assert [len(t) for t in transfer.towers([web, breach], problem.universe)] == [0, 1, 1]
    plan = rb.optimize(problem, budget=1_100_000, insurance=[web, breach], progress=False)
    assert (plan.result.annual_loss >= 0).all()


def test_a_typo_in_a_layers_scope_is_an_error_not_a_dropped_option(problem):
    typo = rb.Insurance("Ransom", 6e4, retention=2e5, limit=2e6, applies_to="ransomwar")
    with pytest.raises(InsuranceError, match="ransomwar"):
        rb.optimize(problem, budget=1_100_000, insurance=[policies()[0], typo], progress=False)


def test_the_scorecard_credits_security_only_with_what_the_controls_reduce(problem):
    from riskbudget.scorecard import scorecard

    plan = rb.evaluate(problem, funded=["EDR", "Backups"], insurance=policies()[:1])
    card = scorecard(plan)
    ground = problem.total_losses(problem.funding(["EDR", "Backups"]))
    before = problem.total_losses(problem.funding([]))
    assert card.ale_reduction == pytest.approx(before.mean() - ground.mean(), rel=REL)
    assert card.ale_reduction < plan.ale_before - plan.ale  # the insurer's payments are not the controls' doing
