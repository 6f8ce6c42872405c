"""The rules of a funding choice (riskbudget.optimization.rules): one checker, the same verdicts everywhere.

Each rule broken alone is reported once, in words; the program (pinned to a choice), ``evaluate``
and the budget explorer block exactly the choices the checker refuses; and every plan the
optimiser (exact or heuristic) returns passes the checker.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import riskbudget as rb
from riskbudget.optimization import (
    Constraints,
    DecisionProblem,
    Funding,
    FundingRules,
    Rule,
    evaluate,
    optimize,
    precompute,
)
from riskbudget.optimization.model import Model
from riskbudget.optimization.rules import exceeds

from .test_optimize import small_instance

YEARS = 1_000
SEED = 11
NAMES = ("EDR", "Backups", "MFA", "CSPM", "WAF", "Encryption", "Portal", "Cloud move", "App")


@pytest.fixture(scope="module")
def problem() -> DecisionProblem:
    reg, controls, projects = small_instance()
    return precompute(reg, controls, projects, years=YEARS, seed=SEED, n_jobs=1, progress=False)


def all_fundings(problem: DecisionProblem):
    radix = [3 if p.security_by_design else 2 for p in problem.projects]
    for xc in itertools.product([False, True], repeat=len(problem.controls)):
        for sp in itertools.product(*[range(r) for r in radix]):
            yield problem.from_vectors(xc, sp)


#: (rule, constraints, a choice breaking that rule and no other, the message).
#: Costs: EDR 150K, Backups 90K, MFA 80K, CSPM 70K, WAF 40K (requires MFA), Encryption 20K;
#: Portal 300K (+60K by design), Cloud move 400K (+50K), App 150K (excludes Cloud move).
CASES = [
    (Rule.INCLUDE, Constraints(include=("EDR",)), Funding(), r"^'EDR' must be funded \(include\) but is not$"),
    (Rule.EXCLUDE, Constraints(exclude=("EDR",)), Funding(("EDR",)), r"^'EDR' is funded but excluded$"),
    (Rule.REQUIRES, Constraints(), Funding(("WAF",)), r"^'WAF' requires 'MFA', which is not funded$"),
    (
        Rule.REQUIRES,
        Constraints(requires=[("Encryption", "CSPM")]),
        Funding(("Encryption",)),
        r"^'Encryption' requires 'CSPM', which is not funded$",
    ),
    (
        Rule.EXCLUSIVE,
        Constraints(),
        Funding(projects=("Cloud move", "App")),
        r"^at most one of \['App', 'Cloud move'\] may be funded, but \['App', 'Cloud move'\] are$",
    ),
    (
        Rule.EXCLUSIVE,
        Constraints(exclusive=[("EDR", "Backups", "CSPM")]),
        Funding(("EDR", "Backups")),
        r"^at most one of \['EDR', 'Backups', 'CSPM'\] may be funded, but \['EDR', 'Backups'\] are$",
    ),
    (
        Rule.BUDGET,
        Constraints(budget=200_000),
        Funding(("EDR", "Backups")),
        r"^spend 240,000 exceeds the budget 200,000$",
    ),
    (
        Rule.SECURITY_BUDGET,
        Constraints(security_budget=100_000),
        Funding(("EDR",)),
        r"^security spend 150,000 exceeds the security budget 100,000$",
    ),
    (
        Rule.SECURITY_BUDGET,  # a security-by-design option is security spend
        Constraints(security_budget=50_000),
        Funding(projects=("Portal",), security_by_design=("Portal",)),
        r"^security spend 60,000 exceeds the security budget 50,000$",
    ),
    (
        Rule.IT_BUDGET,
        Constraints(it_budget=200_000),
        Funding(projects=("Portal",)),
        r"^IT spend 300,000 exceeds the IT budget 200,000$",
    ),
    (
        Rule.MIN_SECURITY_SHARE,
        Constraints(min_security_share=0.5),
        Funding(("Encryption",), ("Portal",)),
        r"^security spend is 6\.2% of the spend, below the minimum security share 50\.0%$",
    ),
    (
        Rule.MAX_SECURITY_SHARE,
        Constraints(max_security_share=0.1),
        Funding(("EDR",)),
        r"^security spend is 100\.0% of the spend, above the maximum security share 10\.0%$",
    ),
]
IDS = [f"{rule.value}-{i}" for i, (rule, *_rest) in enumerate(CASES)]


def pinned_program_allows(problem: DecisionProblem, cons: Constraints, funding: Funding) -> bool:
    """Whether the mixed-integer program, its decisions fixed to ``funding``, has a solution."""
    model = Model(problem, FundingRules(problem, cons).constraints)
    xc, sp = problem.vectors(funding)
    x = np.zeros(model.lb.size)
    x[model.xc] = xc
    x[model.xp] = sp >= 1
    for k, col in model.w.items():
        x[col] = sp[k] == 2
    n_dec = len(model.xc) + len(model.xp) + len(model.w)
    if np.any(x[:n_dec] < model.lb[:n_dec]) or np.any(x[:n_dec] > model.ub[:n_dec]):
        return False  # include/exclude are bounds
    model.lb[:n_dec] = model.ub[:n_dec] = x[:n_dec]
    res = model.solve([], [], time_limit=None, mip_rel_gap=1e-9)
    assert res.status in (0, 2), res.message
    return res.status == 0


# --------------------------------------------------------------------------- #
# Each rule alone
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("rule, cons, funding, message", CASES, ids=IDS)
def test_each_rule_broken_alone_is_reported_once_in_words(problem, rule, cons, funding, message):
    rules = FundingRules(problem, cons)
    broken = rules.violations(funding)
    assert [v.rule for v in broken] == [rule]
    assert re.search(message, broken[0].message), broken[0].message
    assert str(broken[0]) == broken[0].message
    assert not rules.allows(funding)


@pytest.mark.parametrize("rule, cons, funding, message", CASES, ids=IDS)
def test_the_program_blocks_the_same_choice(problem, rule, cons, funding, message):
    assert not pinned_program_allows(problem, cons, funding)
    # ... and allows it once the rule is lifted (item rules cannot be lifted: fund what they ask instead)
    if rule in (Rule.REQUIRES, Rule.EXCLUSIVE) and not (cons.requires or cons.exclusive):
        fixed = Funding(("WAF", "MFA")) if rule is Rule.REQUIRES else Funding(projects=("App",))
        assert FundingRules(problem, cons).allows(fixed) and pinned_program_allows(problem, cons, fixed)
    else:
        assert FundingRules(problem).allows(funding) and pinned_program_allows(problem, Constraints(), funding)


@pytest.mark.parametrize("rule, cons, funding, message", CASES, ids=IDS)
def test_evaluate_reports_the_same_rule(problem, rule, cons, funding, message):
    plan = evaluate(problem, funded=funding, constraints=cons)
    assert [v.rule for v in plan.violations] == [rule]
    assert any(re.search(message, n) for n in plan.notes)
    assert plan.status == "evaluated"  # scored anyway, on the same sample
    assert plan.expected_net_value == pytest.approx(problem.score(funding).expected_net_value, rel=1e-12)


@pytest.mark.parametrize("rule, cons, funding, message", CASES, ids=IDS)
def test_the_optimiser_finds_the_best_choice_the_rules_allow(problem, rule, cons, funding, message):
    """The program blocks the same choices as the checker: its optimum is the enumeration's over allowed choices."""
    budget = cons.budget if cons.budget is not None else 2_000_000
    cons = replace(cons, budget=budget)
    rules = FundingRules(problem, cons)
    allowed = [f for f in all_fundings(problem) if rules.allows(f)]
    best = max(allowed, key=lambda f: problem.score(f).expected_net_value)
    plan = optimize(problem, constraints=cons)
    assert plan.funding == best
    assert rules.violations(plan.funding) == [] and plan.violations == ()


def test_evaluate_of_an_allowed_choice_has_no_violations(problem):
    plan = evaluate(problem, funded=["WAF", "MFA", "Portal"], budget=1e6, min_security_share=0.2)
    assert plan.violations == () and plan.notes == ()
    # a Plan (or anything carrying a Funding) is accepted as the choice
    again = evaluate(problem, funded=plan, budget=1e6)
    assert again.funding == plan.funding


def test_every_broken_rule_is_reported(problem):
    cons = Constraints(budget=100_000, include=("CSPM",), exclude=("EDR",), max_security_share=0.5)
    broken = FundingRules(problem, cons).violations(Funding(("EDR", "WAF"), ("Cloud move", "App")))
    assert [v.rule for v in broken] == [
        Rule.INCLUDE,
        Rule.EXCLUDE,
        Rule.REQUIRES,
        Rule.EXCLUSIVE,
        Rule.BUDGET,
    ]


def test_one_tolerance_for_every_cap():
    assert not exceeds(1e6 + 1e-7, 1e6) and exceeds(1e6 + 1e-2, 1e6)
    assert not exceeds(0.5e-6, 0.0) and exceeds(2e-6, 0.0)


def test_the_checker_refuses_bad_constraints_like_the_optimiser(problem):
    with pytest.raises(rb.RiskBudgetError, match=r"rules: include names \['Firewall'\], which are neither"):
        FundingRules(problem, Constraints(include=["Firewall"]))
    with pytest.raises(rb.RiskBudgetError, match=r"evaluate: budget \(-1\) must be a finite amount >= 0"):
        evaluate(problem, funded=[], budget=-1)
    with pytest.raises(rb.RiskBudgetError, match="Constraints: include"):
        Constraints(include=5)


# --------------------------------------------------------------------------- #
# The budget explorer funds only what the rules allow
# --------------------------------------------------------------------------- #
@pytest.fixture
def explorer(problem):
    pytest.importorskip("ipywidgets")
    from riskbudget.widgets import BudgetExplorer

    reg, controls, projects = small_instance()
    return BudgetExplorer(reg, controls, projects, problem=problem, budget=2e6, security_share=0.5, frontier=False)


def _want(ex, names, design=()):
    ex._updating += 1
    try:
        for name, box in ex.toggles.items():
            box.value = name in names
        for name, box in ex.design_toggles.items():
            box.value = name in design
    finally:
        ex._updating -= 1
    ex.update()


@pytest.mark.parametrize(
    "total, share, wanted, design, blocked, status",
    [
        (2e6, 0.5, ["WAF"], [], "WAF", "needs MFA"),
        (2e6, 0.5, ["App", "Cloud move"], [], None, "cannot go with"),
        (2e6, 0.05, ["EDR"], [], "EDR", r"over the security budget by \$50K"),
        (1e6, 0.8, ["Portal"], [], "Portal", r"over the IT budget by \$100K"),
        (1e6, 0.05, ["Portal"], ["Portal"], "Portal/design", r"security by design over the security budget by \$10K"),
    ],
    ids=["requires", "exclusive", "security budget", "IT budget", "design option"],
)
def test_the_explorer_blocks_what_the_rules_refuse(explorer, total, share, wanted, design, blocked, status):
    ex = explorer
    ex.total_budget.value = total
    ex.security_share.value = share
    _want(ex, wanted, design)
    _, sec_budget, it_budget = ex.budgets()
    rules = FundingRules(ex.problem, Constraints(security_budget=sec_budget, it_budget=it_budget))
    assert ex.error is None and rules.allows(ex.funding)
    wanted_choice = ex.problem.funding(wanted, design)
    assert not rules.allows(wanted_choice)  # what was wanted breaks a rule ...
    assert ex.funding != wanted_choice  # ... so the explorer does not fund all of it
    if blocked is None:  # exclusive: one of the two is funded, the other says why not
        loser = (set(wanted) - set(ex.funding.names)).pop()
        assert len(set(wanted) & set(ex.funding.names)) == 1
        assert re.search(status, ex._status[loser].value)
    elif blocked.endswith("/design"):
        assert ex.funding.security_by_design == () and re.search(status, ex._status[blocked[:-7]].value)
    else:
        assert blocked not in ex.funding.names and re.search(status, ex._status[blocked].value)


def test_the_explorer_plan_always_passes_the_rules(explorer):
    ex = explorer
    rng = np.random.default_rng(5)
    for _ in range(25):
        ex.total_budget.value = float(rng.integers(1, 30)) * 50_000
        ex.security_share.value = float(rng.integers(0, 101)) / 100
        wanted = [n for n in NAMES if rng.random() < 0.6]
        _want(ex, wanted, [n for n in ("Portal", "Cloud move") if rng.random() < 0.5])
        _, sec_budget, it_budget = ex.budgets()
        rules = FundingRules(ex.problem, Constraints(security_budget=sec_budget, it_budget=it_budget))
        assert rules.violations(ex.funding) == []
        assert set(ex.funding.names) <= set(wanted)


# --------------------------------------------------------------------------- #
# Properties: the program and the checker agree; optimised plans pass the checker
# --------------------------------------------------------------------------- #
names = st.sampled_from(NAMES)
constraints = st.builds(
    Constraints,
    budget=st.integers(0, 40).map(lambda k: 50_000.0 * k) | st.integers(0, 2_000_000).map(float),
    security_budget=st.none() | st.integers(0, 20).map(lambda k: 25_000.0 * k),
    it_budget=st.none() | st.integers(0, 20).map(lambda k: 50_000.0 * k),
    min_security_share=st.none() | st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.5]),
    max_security_share=st.none() | st.sampled_from([0.5, 0.6, 0.75, 1.0]),
    include=st.lists(names, max_size=2, unique=True),
    exclude=st.lists(names, max_size=2, unique=True),
    requires=st.lists(st.tuples(names, names).filter(lambda p: p[0] != p[1]), max_size=2),
    exclusive=st.lists(st.lists(names, min_size=2, max_size=3, unique=True), max_size=2),
).filter(lambda c: not set(c.include) & set(c.exclude))


@settings(max_examples=40, deadline=None)
@given(cons=constraints, on=st.lists(st.booleans(), min_size=6, max_size=6), states=st.lists(st.integers(0, 2), min_size=3, max_size=3))
def test_the_pinned_program_allows_exactly_what_the_rules_allow(problem, cons, on, states):
    states[2] = min(states[2], 1)  # App has no security-by-design option
    funding = problem.from_vectors(on, states)
    assert pinned_program_allows(problem, cons, funding) == FundingRules(problem, cons).allows(funding)


@settings(max_examples=25, deadline=None)
@given(cons=constraints, method=st.sampled_from(["milp", "milp", "heuristic"]))
def test_every_optimised_plan_passes_the_rules(problem, cons, method):
    rules = FundingRules(problem, cons)
    try:
        plan = optimize(problem, constraints=cons, method=method)
    except rb.RiskBudgetError as exc:
        # refused only when no choice meets the rules (the heuristic also when its start, the included items, does not)
        assert "no plan satisfies" in str(exc) or "included items alone" in str(exc)
        if "no plan satisfies" in str(exc):
            assert not any(rules.allows(f) for f in all_fundings(problem))
        return
    assert rules.violations(plan.funding) == []
    assert not any("breaks a rule" in n for n in plan.notes)
