"""Widget tests in plain pytest: build an explorer, set ``.value`` on its controls as a
person would, and check the numbers it shows against the library."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

import riskbudget as rb  # noqa: E402
from riskbudget.formatting import money, percent  # noqa: E402
from riskbudget.widgets import ScenarioExplorer  # noqa: E402

YEARS = 2_000
SEED = 11
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def register():
    return rb.read_register(rb.io.example_path("register.csv"))


# --------------------------------------------------------------------------- #
# ScenarioExplorer
# --------------------------------------------------------------------------- #
@pytest.fixture
def scenario_explorer(register):
    return ScenarioExplorer(register, years=YEARS, seed=SEED)


def _library(scenario):
    return rb.simulate(scenario, years=YEARS, seed=SEED, progress=False)


def test_scenario_explorer_shows_the_library_numbers(register, scenario_explorer):
    ex = scenario_explorer
    first = register[0]
    result = _library(first)
    assert ex.scenario == first
    assert ex.values["ALE"] == pytest.approx(result.ale(), rel=1e-12)
    assert ex.shown["ALE"] == money(result.ale())
    assert ex.shown["VaR95"] == money(result.var(0.95))
    assert ex.shown["TVaR95"] == money(result.tvar(0.95))
    assert ex.shown["P(loss > 0)"] == percent(result.exceedance(0.0))
    assert ex.shown["Loss per event"] == money(first.expected_loss_per_event())
    assert ex.error is None
    assert bytes(ex.chart.image.value).startswith(PNG)
    # the metric cells carry data-metric attributes (the browser test reads them)
    assert re.search(f"data-metric='ALE'[^>]*>{re.escape(money(result.ale()))}<", ex.metrics.value)


def test_editing_an_estimate_resimulates_on_common_random_numbers(register, scenario_explorer):
    ex = scenario_explorer
    first = register[0]
    low = ex.estimates["primary_loss"]["low"].value
    ex.estimates["primary_loss"]["high"].value = 30_000_000
    edited = replace(first, primary_loss=rb.LogNormal.from_ci(low, 30_000_000))
    expected = _library(edited)
    assert ex.values["ALE"] == pytest.approx(expected.ale(), rel=1e-12)
    assert ex.shown["ALE"] == money(expected.ale())
    assert ex.shown["as loaded: ALE"] == money(_library(first).ale())
    # a wider interval raises the mean and the tail; the same years have loss events (common random numbers)
    assert ex.values["ALE"] > ex.values["as loaded: ALE"]
    assert ex.values["TVaR95"] > ex.values["as loaded: TVaR95"]
    assert np.array_equal(ex.result.column() > 0, ex.baseline_result.column() > 0)


def test_edit_then_undo_restores_the_numbers_exactly(scenario_explorer):
    ex = scenario_explorer
    before = ex.values
    box = ex.estimates["threat_event_frequency"]["mode"]
    original = box.value
    box.value = 1.5
    assert ex.values["ALE"] != before["ALE"]
    box.value = original
    assert ex.values == before
    assert ex.scenario is ex.baseline


def test_nonsense_estimate_shows_a_message_and_keeps_the_last_good_view(scenario_explorer):
    ex = scenario_explorer
    ex.estimates["primary_loss"]["high"].value = 20_000_000
    good_values, good_shown, good_png = ex.values, ex.shown, ex.chart.image.value
    ex.estimates["primary_loss"]["high"].value = 1_000  # below the low bound
    assert ex.error is not None and "must not exceed high" in ex.error
    assert "last valid" in ex.error
    assert "Traceback" not in ex.message.value and "rb-error" in ex.message.value
    assert ex.values == good_values and ex.shown == good_shown
    assert bytes(ex.chart.image.value) == bytes(good_png)
    ex.estimates["primary_loss"]["high"].value = 20_000_000  # fixed: the message goes away
    assert ex.error is None and ex.message.value == ""
    assert ex.values == good_values


def test_probability_above_one_is_refused(register):
    ex = ScenarioExplorer(register, scenario="Malicious insider exfiltrates customer data", years=YEARS, seed=SEED)
    assert list(ex.estimates) == ["annual_probability", "primary_loss", "secondary_loss_probability", "secondary_loss"]
    ex.estimates["annual_probability"]["value"].value = 1.5
    assert ex.error is not None and "probability" in ex.error
    ex.estimates["annual_probability"]["value"].value = 0.08
    assert ex.error is None
    expected = _library(replace(register["Malicious insider exfiltrates customer data"], annual_probability=0.08))
    assert ex.shown["ALE"] == money(expected.ale())


def test_reset_and_choosing_another_scenario(register, scenario_explorer):
    ex = scenario_explorer
    before = ex.values
    ex.estimates["resistance_strength"]["mode"].value = 0.8
    assert ex.values["ALE"] < before["ALE"]  # stronger resistance, fewer loss events
    ex.reset_button.click()
    assert ex.values == before
    name = "Business email compromise: payment fraud"
    ex.choice.value = name
    assert list(ex.estimates) == ["threat_event_frequency", "susceptibility", "primary_loss"]
    assert ex.shown["ALE"] == money(_library(register[name]).ale())
    assert ex.estimates["susceptibility"]["mode"].value == register[name].susceptibility.mode


def test_forms_of_loss_get_one_row_each():
    s = rb.Scenario(
        "Forms",
        loss_event_frequency=rb.PERT(0.5, 1, 3),
        primary_loss=rb.LossForms(productivity=rb.PERT(1e4, 5e4, 2e5), response=rb.LogNormal.from_ci(5e3, 1e5)),
    )
    ex = ScenarioExplorer(s, years=YEARS, seed=SEED)
    assert list(ex.estimates) == ["loss_event_frequency", "primary_loss.productivity", "primary_loss.response"]
    ex.estimates["primary_loss.response"]["high"].value = 4e5
    expected = replace(s, primary_loss=rb.LossForms(productivity=rb.PERT(1e4, 5e4, 2e5), response=rb.LogNormal.from_ci(5e3, 4e5)))
    assert ex.scenario == expected
    assert ex.shown["ALE"] == money(_library(expected).ale())


def test_unknown_scenario_name_is_a_clear_error(register):
    with pytest.raises(rb.RiskBudgetError, match="no scenario named 'Nope'"):
        ScenarioExplorer(register, scenario="Nope")


# --------------------------------------------------------------------------- #
# PriorExplorer
# --------------------------------------------------------------------------- #
BEC = "Business email compromise: payment fraud"


@pytest.fixture
def prior_explorer(register):
    from riskbudget.widgets import PriorExplorer

    return PriorExplorer(register[BEC], rate=1.0, effective_years=2.0,
                         history={2021: 2, 2022: 3, 2023: 1, 2024: 4}, years=YEARS, seed=SEED)


def test_prior_explorer_is_the_exact_conjugate_update(register, prior_explorer):
    from riskbudget import bayes
    from riskbudget.widgets import with_rate

    ex = prior_explorer
    prior = rb.Gamma(1.0 * 2.0, 2.0)  # mean 1 a year, worth 2 years
    posterior = rb.Gamma(prior.shape + 10, prior.rate + 4)  # 10 events in 4 years
    assert ex.prior == prior and ex.posterior == posterior
    assert ex.posterior == bayes.update_rate(prior, events=[2, 3, 1, 4], years=[1, 1, 1, 1])
    assert ex.values["Posterior rate"] == pytest.approx(12 / 6)
    assert ex.shown["Posterior rate"] == "2 / year"
    assert ex.shown["Events"] == "10" and ex.shown["Years observed"] == "4"
    low, high = posterior.interval(0.90)
    assert ex.shown["Posterior 90% interval"] == f"{low:.3g} to {high:.3g}"
    # P(at least one event next year) from the negative binomial predictive: 1 - (b / (b + 1)) ** a
    assert ex.values["P(at least one next year)"] == pytest.approx(1 - (6 / 7) ** 12, rel=1e-12)
    expected = _library(with_rate(register[BEC], posterior))
    assert ex.shown["ALE (posterior)"] == money(expected.ale())
    assert ex.shown["VaR95 (posterior)"] == money(expected.var(0.95))
    assert ex.shown["ALE (prior)"] == money(_library(with_rate(register[BEC], prior)).ale())
    assert ex.scenario.loss_event_frequency == posterior and ex.scenario.susceptibility is None
    assert ex.scenario.primary_loss == register[BEC].primary_loss


def test_add_then_remove_an_incident_restores_the_numbers_exactly(prior_explorer):
    ex = prior_explorer
    before, png = ex.values, bytes(ex.chart.image.value)
    ex.year_choice.value = 2022
    ex.add_button.click()
    assert ex.counts[2022].value == 4
    assert ex.values["Posterior rate"] == pytest.approx(13 / 6)
    assert ex.values["ALE (posterior)"] > before["ALE (posterior)"]
    ex.remove_button.click()
    assert ex.values == before
    assert bytes(ex.chart.image.value) == png


def test_more_incidents_move_the_posterior_and_lec_up(prior_explorer):
    ex = prior_explorer
    before = ex.values
    ex.counts[2024].value = 20
    assert ex.values["Posterior rate"] == pytest.approx((2 + 26) / 6)
    assert ex.values["TVaR95 (posterior)"] > before["TVaR95 (posterior)"]
    assert ex.values["ALE (prior)"] == before["ALE (prior)"]  # the prior did not change


def test_prior_explorer_refuses_nonsense_and_keeps_the_view(prior_explorer):
    ex = prior_explorer
    good = ex.shown
    ex.year_choice.value = 2023
    ex.remove_button.click()  # 1 -> 0
    good = ex.shown
    ex.remove_button.click()  # nothing left to remove
    assert ex.error is not None and "2023 has no incident to remove" in ex.error
    assert ex.shown == good and ex.counts[2023].value == 0
    ex.benchmark_rate.value = -0.5
    assert ex.error is not None and "benchmark rate" in ex.error
    assert ex.shown == good
    ex.effective_years.value = 0
    ex.benchmark_rate.value = 1.0
    assert ex.error is not None and "worth a positive number of years" in ex.error
    ex.effective_years.value = 2.0
    assert ex.error is None and ex.shown == good


def test_a_stronger_prior_moves_less(register):
    from riskbudget.widgets import PriorExplorer

    history = {2023: 6, 2024: 6}
    weak = PriorExplorer(register[BEC], rate=1.0, effective_years=1.0, history=history, years=YEARS, seed=SEED)
    strong = PriorExplorer(register[BEC], rate=1.0, effective_years=50.0, history=history, years=YEARS, seed=SEED)
    assert weak.values["Posterior rate"] == pytest.approx(13 / 3)
    assert strong.values["Posterior rate"] == pytest.approx(62 / 52)


def test_prior_explorer_reads_incident_data(register):
    from riskbudget import bayes
    from riskbudget.widgets import PriorExplorer

    incidents = bayes.read_incidents(rb.io.example_path("incidents.csv"))
    ex = PriorExplorer(register[BEC], rate=1.0, effective_years=2.0, history=incidents, category="bec_fraud",
                       years=YEARS, seed=SEED)
    table = incidents.filter(category="bec_fraud").periods()
    assert list(ex.counts) == [int(y) for y in table["year"]]
    assert ex.values["Events"] == int(table["events"].sum())
    assert ex.posterior == bayes.update_rate(rb.Gamma(2.0, 2.0), events=table["events"].tolist(),
                                             years=table["exposure"].tolist())


def test_prior_explorer_says_what_bounds_the_loss_per_event(register, prior_explorer):
    from riskbudget import bayes
    from riskbudget.widgets import PriorExplorer, with_rate

    # A register's estimate: a finite mean, no cap (the same numbers as before caps existed).
    assert prior_explorer.loss_note() == "loss per event as in the scenario (not a posterior: no cap)"
    assert "not a posterior: no cap" in prior_explorer.metrics.value
    # A posterior severity keeps the cap it was built with, and says so.
    severity = bayes.update_severity(bayes.severity_prior(50_000, 1_000_000), [23_000, 140_000, 61_000])
    scenario = bayes.conjugate_scenario("Incidents", rb.Gamma(2.0, 2.0), severity, seed=1, revenue=40e6)
    ex = PriorExplorer(scenario, rate=1.0, effective_years=2.0, history={2023: 1, 2024: 2}, years=YEARS, seed=SEED)
    assert ex.loss_note() == "losses capped at $40M per event (annual revenue)"
    assert "losses capped at $40M per event (annual revenue)" in ex.metrics.value
    assert ex.scenario.primary_loss.max_loss == 40e6
    assert ex.shown["ALE (posterior)"] == money(_library(with_rate(scenario, ex.posterior)).ale())


def test_prior_explorer_needs_a_history(register):
    from riskbudget.widgets import PriorExplorer

    with pytest.raises(rb.RiskBudgetError, match="no years"):
        PriorExplorer(register[BEC], rate=1.0, history={})


# --------------------------------------------------------------------------- #
# BudgetExplorer
# --------------------------------------------------------------------------- #
BUDGET_YEARS = 3_000


@pytest.fixture(scope="module")
def decision_inputs():
    from riskbudget.controls import read_controls, read_projects

    register = rb.read_register(rb.io.example_path("register.csv"))
    controls = read_controls(rb.io.example_path("controls.csv"))
    projects = read_projects(rb.io.example_path("projects.csv"))
    appetite = rb.read_appetite(rb.io.example_path("appetite.yaml"))
    return register, controls, projects, appetite


@pytest.fixture(scope="module")
def problem(decision_inputs):
    from riskbudget.optimization import precompute

    register, controls, projects, _ = decision_inputs
    return precompute(register, controls, projects, years=BUDGET_YEARS, seed=SEED, progress=False)


@pytest.fixture
def budget_explorer(decision_inputs, problem):
    from riskbudget.widgets import BudgetExplorer

    register, controls, projects, appetite = decision_inputs
    return BudgetExplorer(register, controls, projects, problem=problem, appetite=appetite, budget=6e6,
                          security_share=0.25, frontier=False)


def _evaluate(ex, problem, appetite=None):
    from riskbudget.optimization import evaluate

    funding = ex.funding
    return evaluate(problem, funded=list(funding.controls) + list(funding.projects),
                    security_by_design=funding.security_by_design,
                    appetite=ex.appetite if appetite is None else appetite, progress=False)


def _assert_shows(ex, plan):
    """The explorer shows exactly the library's numbers for its funded plan."""
    for key, value in (("ALE", plan.ale), ("VaR95", plan.var95), ("TVaR95", plan.tvar95),
                       ("Expected net value", plan.expected_net_value), ("Expected project value", plan.expected_value)):
        assert ex.values[key] == pytest.approx(value, rel=1e-9, abs=1e-6), key
        assert ex.shown[key] == money(value), key
    assert ex.shown["Security spend"].startswith(money(plan.security_spend) + " of ")
    assert ex.shown["IT spend"].startswith(money(plan.it_spend) + " of ")
    assert ex.values["within appetite"] == plan.appetite.ok
    assert ex.shown["Appetite"] == ("within appetite" if plan.appetite.ok else "OUTSIDE appetite")
    assert ex.values["funded"] == list(plan.funded_controls) + list(plan.funded_projects)


def test_budget_explorer_shows_the_library_evaluation(budget_explorer, problem):
    ex = budget_explorer
    assert ex.error is None
    plan = _evaluate(ex, problem)
    _assert_shows(ex, plan)
    assert plan.security_spend <= 0.25 * 6e6 + 1e-6 and plan.it_spend <= 0.75 * 6e6 + 1e-6
    assert bytes(ex.chart.image.value).startswith(PNG)
    assert re.search(f"data-metric='ALE'[^>]*>{re.escape(money(plan.ale))}<", ex.metrics.value)


def test_security_share_zero_funds_no_control(budget_explorer, problem):
    ex = budget_explorer
    ex.security_share.value = 0.0
    assert ex.funding.controls == () and ex.funding.security_by_design == ()
    assert ex.values["Security spend"] == 0.0
    assert ex.funding.projects  # the whole budget goes to IT
    _assert_shows(ex, _evaluate(ex, problem))
    for name in ex.funding.projects:
        assert ex._status[name].value.count("funded")
    wanted_controls = [c.name for c in ex.controls if ex.toggles[c.name].value]
    assert wanted_controls and all("not funded" in ex._status[n].value for n in wanted_controls)
    assert "over the security budget" in ex._status["Phishing-resistant MFA"].value
    assert "needs Phishing-resistant MFA" in ex._status["Privileged access management"].value


def test_every_split_respects_both_budgets_and_matches_the_library(budget_explorer, problem):
    ex = budget_explorer
    for share in (0.1, 0.35, 0.6, 1.0):
        ex.security_share.value = share
        plan = _evaluate(ex, problem)
        assert plan.security_spend <= share * 6e6 + 1e-6
        assert plan.it_spend <= (1 - share) * 6e6 + 1e-6
        _assert_shows(ex, plan)
    assert ex.funding.projects == ()  # 100% security leaves nothing for IT


def test_toggle_on_then_off_restores_the_numbers_exactly(budget_explorer):
    ex = budget_explorer
    ex.clear_button.click()
    ex.toggles["Endpoint detection and response (EDR)"].value = True
    before, png = ex.values, bytes(ex.chart.image.value)
    box = ex.toggles["Immutable backups"]
    box.value = True
    assert "Immutable backups" in ex.values["funded"]
    assert ex.values["ALE"] < before["ALE"]
    box.value = False
    assert ex.values == before
    assert bytes(ex.chart.image.value) == png


def test_nothing_funded_is_the_status_quo(budget_explorer, problem):
    ex = budget_explorer
    ex.clear_button.click()
    assert ex.values["funded"] == []
    nothing = problem.total_losses(problem.funding([]))
    assert ex.values["ALE"] == pytest.approx(nothing.mean(), rel=1e-12)
    assert ex.values["Expected net value"] == pytest.approx(-nothing.mean(), rel=1e-12)
    assert "nothing" in ex.funded_html.value


def test_requires_and_excludes_are_respected(budget_explorer):
    ex = budget_explorer
    ex.security_share.value = 0.5
    ex.toggles["Phishing-resistant MFA"].value = False
    assert "Privileged access management" not in ex.values["funded"]
    assert "needs Phishing-resistant MFA" in ex._status["Privileged access management"].value
    ex.toggles["Phishing-resistant MFA"].value = True
    assert {"Phishing-resistant MFA", "Privileged access management"} <= set(ex.values["funded"])
    ex.total_budget.value = 12e6  # room for both, but they exclude each other
    funded = set(ex.values["funded"])
    assert len(funded & {"ERP upgrade", "Warehouse automation"}) == 1
    loser = ({"ERP upgrade", "Warehouse automation"} - funded).pop()
    assert "cannot go with" in ex._status[loser].value


def test_security_by_design_costs_security_budget_and_cuts_the_added_risk(budget_explorer, problem):
    ex = budget_explorer
    ex.clear_button.click()
    ex.security_share.value = 0.3
    ex.toggles["Customer self-service portal"].value = True
    without = ex.values
    design = ex.design_toggles["Customer self-service portal"]
    assert not design.disabled
    design.value = True
    assert ex.values["security by design"] == ["Customer self-service portal"]
    assert ex.values["Security spend"] == pytest.approx(without["Security spend"] + 120_000)
    assert ex.values["ALE"] < without["ALE"]
    assert ex.values["Expected project value"] < without["Expected project value"]  # two months later
    _assert_shows(ex, _evaluate(ex, problem))
    ex.toggles["Customer self-service portal"].value = False
    assert design.disabled and ex.values["security by design"] == []


def test_nonsense_inputs_show_a_message_and_keep_the_last_good_view(budget_explorer):
    ex = budget_explorer
    good, png = ex.shown, bytes(ex.chart.image.value)
    ex.total_budget.value = -1_000_000
    assert ex.error is not None and "cannot be negative" in ex.error
    assert "Traceback" not in ex.message.value
    assert ex.shown == good and bytes(ex.chart.image.value) == png
    ex.total_budget.value = 6e6
    assert ex.error is None and ex.shown == good
    ex.thresholds["VaR95"].value = 0
    assert ex.error is not None and "VaR95 limit" in ex.error and ex.shown == good
    ex.thresholds["VaR95"].value = 20e6
    ex.thresholds["P(loss > $50M)"].value = 150  # a probability above 100%
    assert ex.error is not None and "percentage" in ex.error and ex.shown == good
    ex.thresholds["P(loss > $50M)"].value = 0.5
    assert ex.error is None and ex.shown == good
    ex.security_share.value = 1.5  # the slider cannot go beyond 100%
    assert ex.security_share.value == 1.0 and ex.error is None


def test_a_tighter_appetite_changes_the_status_like_the_library(budget_explorer, problem):
    ex = budget_explorer
    ex.thresholds["VaR95"].value = 1e6
    assert ex.values["within appetite"] is False
    assert ex.shown["Appetite"] == "OUTSIDE appetite"
    plan = _evaluate(ex, problem, appetite=rb.Appetite(
        var95=1e6, tvar99=45e6, exceedance={50e6: 0.005},
        tolerance=rb.ToleranceCurve.from_points([(0.2, 8e6), (0.01, 4e7)])))
    _assert_shows(ex, plan)
    assert "VaR95 is" in ex.metrics.value  # the breach is listed in plain words


def test_optimise_sets_the_toggles_to_the_optimal_plan(budget_explorer, problem):
    from riskbudget.optimization import optimize

    ex = budget_explorer
    ex.security_share.value = 0.3
    plan = ex.optimise()
    expected = optimize(problem, budget=6e6, security_budget=0.3 * 6e6, it_budget=0.7 * 6e6,
                        appetite=ex.appetite, progress=False)
    assert plan.funding == expected.funding and plan.status == expected.status == "optimal"
    on = {n for n, box in ex.toggles.items() if box.value}
    assert on == set(expected.funded_controls) | set(expected.funded_projects)
    assert {n for n, box in ex.design_toggles.items() if box.value} == set(expected.security_by_design)
    assert ex.funding == expected.funding
    assert ex.values["Expected net value"] == pytest.approx(expected.expected_net_value, rel=1e-9)
    _assert_shows(ex, _evaluate(ex, problem))
    # the optimum beats what the toggles gave before, on the same sample
    ex.all_button.click()
    assert ex.values["Expected net value"] <= expected.expected_net_value + 1e-6


def test_frontier_and_the_current_point(decision_inputs, problem):
    from riskbudget.widgets import BudgetExplorer

    register, controls, projects, appetite = decision_inputs
    ex = BudgetExplorer(register, controls, projects, problem=problem, appetite=appetite, budget=6e6,
                        security_share=0.2, frontier=True, frontier_points=3)
    table = ex.frontier.table
    assert list(table["security_share"]) == [0.0, 0.5, 1.0]
    # the frontier's plans are the best at each split, so none of the explorer's plans at that split beat them
    ex.security_share.value = 0.5
    assert ex.values["Expected net value"] <= table.loc[1, "expected_net_value"] + 1e-6
    assert tuple(ex._point.get_xdata()) == (0.5,)  # the plan is drawn at its own share
    ex.total_budget.value = "5M"
    assert ex._front_note.get_text() == "shares solved so far at this budget; Optimise solves them all"
    ex.optimise()
    assert ex.frontier.budget == 5e6 and ex._front_note.get_text() == ""


@pytest.mark.parametrize("share", [0.25, 0.37, 0.8])
def test_this_plan_sits_on_or_below_the_frontier_at_its_own_share(decision_inputs, problem, share):
    """The chart compares the plan with the best plan solved at exactly its share, never a neighbouring one."""
    from riskbudget.optimization import Constraints, optimize
    from riskbudget.widgets import BudgetExplorer

    register, controls, projects, appetite = decision_inputs
    ex = BudgetExplorer(register, controls, projects, problem=problem, appetite=appetite, budget=6e6,
                        security_share=share, frontier=True, frontier_points=3)
    (x,), (y,) = ex._point.get_data()
    (bx,), (by,) = ex._front_share.get_data()
    assert x == bx == share
    assert y == ex.values["Expected net value"] and y <= by + 1e-6 * abs(by)
    best = optimize(problem, constraints=Constraints(budget=6e6, security_budget=share * 6e6,
                                                     it_budget=6e6 - share * 6e6), progress=False)
    assert by == pytest.approx(best.expected_net_value, rel=1e-6)
    xs, ys = ex._front_line.get_data()
    assert share in list(xs) and list(xs) == sorted(xs)  # the line passes through the point at this share
    # the axis labels say the tick values exactly (17.5M is "$17.5M", never "$18M")
    from riskbudget.widgets._common import exact_money_label
    assert exact_money_label(-17.5e6) == "-$17.5M" and exact_money_label(2e6) == "$2M"
    assert exact_money_label(-2.25e6) == "-$2.25M"


def _text(fragment):
    """The text of an HTML fragment (tags dropped, entities unescaped), spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _shown_status(ex):
    found = re.search(r"data-metric='status'>([^<]*)<", ex.plan_html.value)
    assert found, "the optimiser's status is not on screen"
    return html.unescape(found.group(1))


def _reason_rows(ex):
    """{item: text of its row} in the reasons table."""
    table = re.search(r"data-metric='reasons'.*?</table>", ex.reasons_html.value, re.S).group(0)
    return {html.unescape(k): _text(v) for k, v in re.findall(r"<tr data-item='([^']*)'>(.*?)</tr>", table, re.S)}


def test_optimise_shows_the_status_reasons_and_fresh_years_in_words(budget_explorer):
    ex = budget_explorer
    assert ex.plan is None and ex.plan_html.value == "" and ex.reasons_html.value == ""
    plan = ex.optimise()
    assert _shown_status(ex) == plan.status_text
    assert plan.status == "optimal" and plan.status_text == "optimal on the sample (proven)"
    assert ex.message.value == ""  # a proven optimum needs no note
    assert not any("exactly" in w.value for w in (ex.plan_html, ex.reasons_html, ex.message))
    # why each candidate is funded or not: every control, project and security-by-design option, as the library says
    rows = _reason_rows(ex)
    assert list(rows) == [r.item for r in plan.reasons]
    assert len(rows) == len(ex.controls) + len(ex.projects) + sum(
        p.security_by_design is not None and p.name in plan.funded_projects for p in ex.projects)
    for r in plan.reasons:
        assert rows[r.item] == f"{r.item} {'funded' if r.funded else 'not funded'} {r.reason} {r.detail}"
        if r.item in ex._status:  # and next to its toggle
            assert f"{'funded' if r.funded else 'not funded'}: {r.reason}" in _text(ex._status[r.item].value)
    # each limit on fresh years, with the chance it holds; no margin was used, and it says so
    assert plan.confidence is None and plan.margins == {}
    assert "Checked on 3,000 fresh years (seed 12), no margin" in _text(ex.plan_html.value)
    robustness = _text(re.search(r"data-metric='robustness'.*?</table>", ex.plan_html.value, re.S).group(0))
    for c in plan.robustness.checks:
        assert f"{c.label} ≤ {c.format(c.limit)} {c.format(c.in_sample)} {c.format(c.fresh)} ± " in robustness
        assert percent(c.chance, digits=0) in robustness
    assert "tolerance curve" in robustness
    assert "data-metric='nearest'" not in ex.plan_html.value  # the appetite is met


def test_the_plan_view_is_marked_out_of_date_after_a_change(budget_explorer):
    ex = budget_explorer
    plan = ex.optimise()
    funded = plan.funded_controls[0]
    assert "rb-plan-stale" not in ex.plan_html.value
    ex.toggles[funded].value = False
    assert "rb-plan-stale" in ex.plan_html.value and "rb-plan-stale" in ex.reasons_html.value
    assert _shown_status(ex) == plan.status_text
    assert ex._status[funded].value == ""  # the optimiser's reasons are not shown for another plan
    ex.toggles[funded].value = True  # the optimiser's plan again
    assert "rb-plan-stale" not in ex.plan_html.value + ex.reasons_html.value
    assert "funded: " in ex._status[funded].value


@pytest.mark.parametrize("status", ["feasible_gap", "stand_in", "heuristic", "appetite_unmet"])
def test_optimise_never_overstates_what_is_proven(budget_explorer, monkeypatch, status):
    """Whatever the optimiser proves, the explorer says it in its words and claims no more."""
    from riskbudget import optimization

    real = optimization.optimize
    monkeypatch.setattr(optimization, "optimize",
                        lambda *a, **k: replace(real(*a, **k), status=status, solver_gap=0.004))
    ex = budget_explorer
    plan = ex.optimise()
    assert _shown_status(ex) == plan.status_text
    message = _text(ex.message.value)
    assert "rb-info" in ex.message.value and ex.error is None
    assert plan.status_text in message
    if status == "appetite_unmet":
        assert "stopped before it could tell how close the appetite can be met" in _text(ex.plan_html.value)
    said = message.replace(plan.status_text, "")  # beyond the library's own words
    assert not re.search(r"optimal|exact|best possible", said, re.I), said


def test_optimise_notes_stay_until_the_next_change(tiny_explorer):
    ex = tiny_explorer
    ex.thresholds["VaR95"].value = 1e6  # no plan can meet this
    ex.optimise_button.click()
    assert ex.error is None and "least-risk plan" in ex.message.value and "rb-info" in ex.message.value
    ex.security_share.value = 0.6
    assert ex.message.value == ""
    ex.thresholds["VaR95"].value = 20e6
    ex.optimise_button.click()
    assert ex.message.value == ""  # a proven optimum needs no note
    assert ex.plan.status == "optimal"


@pytest.fixture(scope="module")
def tiny_inputs():
    """Two scenarios, three controls and a project: small enough for the optimiser to prove infeasibility at once."""
    from riskbudget.controls import Control, Project

    register = rb.Register([
        rb.Scenario("Ransomware", loss_event_frequency=0.6, primary_loss=rb.PERT(1e6, 3e6, 9e6), category="endpoint"),
        rb.Scenario("Phishing", loss_event_frequency=3, primary_loss=rb.PERT(2e4, 5e4, 2e5), category="email"),
    ])
    controls = [
        Control("EDR", 200_000, applies_to=("endpoint",), resistance=0.6),
        Control("Backups", 150_000, applies_to=("endpoint",), response=0.5, loss_factor="primary_loss"),
        Control("Mail filter", 60_000, applies_to=("email",), resistance=0.5),
    ]
    projects = [Project("Portal", 300_000, value_per_year=500_000)]
    return register, controls, projects


@pytest.fixture
def tiny_explorer(tiny_inputs):
    from riskbudget.widgets import BudgetExplorer

    register, controls, projects = tiny_inputs
    return BudgetExplorer(register, controls, projects, appetite=rb.Appetite(var95=3e6), budget=500_000,
                          security_share=0.5, years=2_000, seed=3, frontier=False)


def test_an_appetite_out_of_reach_shows_the_nearest_limits_and_the_budget_needed(tiny_explorer):
    ex = tiny_explorer
    plan = ex.optimise()  # VaR95 <= $3M needs EDR and backups: $350K of security, more than the $250K here
    assert plan.status == "infeasible_appetite" and _shown_status(ex) == plan.status_text
    assert "least-risk plan" in ex.message.value and "optimal" not in ex.message.value
    assert ex.shown["Appetite"] == "OUTSIDE appetite"
    nearest = _text(re.search(r"data-metric='nearest'.*?</div>", ex.plan_html.value, re.S).group(0))
    assert plan.smallest_values and plan.budget_needed is not None
    for v in plan.smallest_values:
        assert v.describe() in nearest
    assert plan.budget_needed.describe() in nearest
    assert plan.budget_needed.budget == pytest.approx(700_000) and plan.budget_needed.proven
    assert "$700K" in nearest
    # with the budget it names, the optimiser meets the appetite
    ex.total_budget.value = plan.budget_needed.budget
    assert "rb-plan-stale" in ex.plan_html.value
    met = ex.optimise()
    assert met.status == "optimal" and met.feasible and ex.values["within appetite"] is True
    assert ex.message.value == "" and "data-metric='nearest'" not in ex.plan_html.value
    assert set(met.funded_controls) >= {"EDR", "Backups"}


def test_an_imprecise_ale_is_said_in_the_view_and_the_plan(tiny_inputs):
    """An ALE whose standard error exceeds 5% of it is called imprecise, in the library's words."""
    from riskbudget.widgets import BudgetExplorer

    rare = rb.Register([rb.Scenario("Breach", loss_event_frequency=0.05, primary_loss=rb.PERT(1e6, 5e6, 5e7),
                                    category="endpoint")])
    _register, controls, projects = tiny_inputs
    ex = BudgetExplorer(rare, controls[:2], projects, budget=500_000, years=300, seed=3, frontier=False)
    losses = ex.problem.total_losses(ex.funding)
    rse = losses.std(ddof=1) / np.sqrt(losses.size) / losses.mean()
    assert rse > 0.05
    note = f"The plan's ALE is imprecise: its Monte Carlo standard error is {rse:.1%} of it (above 5%)"
    assert ex.values["ALE standard error"] == pytest.approx(rse * losses.mean())
    assert any(n.startswith(note[0].lower() + note[1:]) for n in ex.values["notes"])
    assert note in _text(ex.metrics.value) and "The ALE with nothing funded is imprecise" in _text(ex.metrics.value)
    plan = ex.optimise()
    assert plan.robustness is None and "No appetite set" in _text(ex.plan_html.value)
    plan_rse = plan.ale_se / plan.ale
    assert plan_rse > 0.05
    assert f"The plan's ALE is imprecise: its Monte Carlo standard error is {plan_rse:.1%}" in _text(ex.plan_html.value)


def test_a_precise_ale_gets_no_note(budget_explorer, problem):
    ex = budget_explorer
    plan = _evaluate(ex, problem)
    assert plan.ale_se < 0.05 * plan.ale
    nothing = problem.total_losses(problem.funding([]))
    nothing_imprecise = nothing.std(ddof=1) / np.sqrt(nothing.size) > 0.05 * nothing.mean()
    assert [n.split(" is imprecise")[0] for n in ex.values["notes"]] == (
        ["the ALE with nothing funded"] if nothing_imprecise else [])
    assert ("imprecise" in ex.metrics.value) == nothing_imprecise


def test_with_rate_drops_frequency_side_controls_but_keeps_loss_side_ones(example_register):
    from riskbudget.controls import apply_controls, read_controls
    from riskbudget.widgets import with_rate

    residual = apply_controls(example_register, read_controls(rb.io.example_path("controls.csv")))
    s = residual["Business email compromise: payment fraud"]
    assert any(a.factor in ("frequency", "susceptibility") for a in s.adjustments)
    out = with_rate(s, rb.Gamma(2.0, 4.0))
    assert out.loss_event_frequency == rb.Gamma(2.0, 4.0)
    assert all(a.factor not in ("frequency", "susceptibility") for a in out.adjustments)
    assert [a for a in s.adjustments if a.factor not in ("frequency", "susceptibility")] == list(out.adjustments)


# --------------------------------------------------------------------------- #
# Money typed as people type it; guidance before Optimise; saved plans
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("typed", ["6M", "$6,000,000", "6e6", "6 000 000", "6m", "$6 M"])
def test_budget_box_reads_money_as_the_command_line_does(budget_explorer, typed):
    ex = budget_explorer
    ex.total_budget.value = "3M"
    ex.total_budget.value = typed
    assert ex.error is None and ex.values["Total budget"] == 6e6
    assert ex.total_budget.value == "$6,000,000"  # shown in full once read
    assert ex.shown["Security spend"].endswith("of $1.5M")


def test_limit_boxes_show_money_and_take_money(budget_explorer):
    ex = budget_explorer
    assert ex.thresholds["VaR95"].value == "$20,000,000"
    assert ex.thresholds["P(loss > $50M)"].value == "0.5%"
    ex.thresholds["VaR95"].value = "15M"
    assert ex.error is None and ex.appetite.limits[0].limit == 15e6
    assert ex.thresholds["VaR95"].value == "$15,000,000"
    ex.thresholds["VaR95"].value = ""  # an empty box sets no limit
    assert ex.error is None and [lim.label for lim in ex.appetite.limits] == ["TVaR99", "P(loss > $50M)"]


@pytest.mark.parametrize("typed, said", [
    ("six million", "is not an amount of money"),
    ("6 MB", "is not an amount of money"),
    ("1e15", "beyond any real budget"),
    ("-2M", "cannot be negative"),
])
def test_nonsense_money_is_said_next_to_the_box_and_the_last_figures_stay(budget_explorer, typed, said):
    ex = budget_explorer
    good, png = ex.shown, bytes(ex.chart.image.value)
    ex.total_budget.value = typed
    assert ex.error is not None and said in ex.error
    note = ex._budget_field.note.value
    assert said in html.unescape(note) and "rb-field-error" in note  # next to the box
    assert ex.total_budget.value == typed  # what was typed stays, to be corrected
    assert ex.shown == good and bytes(ex.chart.image.value) == png
    ex.total_budget.value = "6M"
    assert ex.error is None and ex._budget_field.note.value == "" and ex.shown == good


def test_a_tiny_budget_asks_whether_millions_were_meant(budget_explorer):
    ex = budget_explorer
    ex.total_budget.value = "6"
    assert ex.error is None and ex.values["funded"] == []
    assert "A budget of $6 funds nothing" in _text(ex.guidance.value) and "Did you mean $6M?" in _text(ex.guidance.value)


def test_guidance_says_what_optimise_would_change_before_it_is_pressed(budget_explorer, problem):
    from riskbudget.optimization import Constraints, optimize

    ex = budget_explorer
    ex.total_budget.value = "9M"
    said = _text(ex.guidance.value)
    plan = optimize(problem, appetite=ex.appetite, progress=False,
                    constraints=Constraints(budget=9e6, security_budget=0.25 * 9e6, it_budget=0.75 * 9e6))
    assert plan.status == "optimal" and plan.funding != ex.funding
    assert said.startswith("Optimise would ")
    assert f"expected net value {money(ex.values['Expected net value'])} → {money(plan.expected_net_value)}" in said
    for name in set(plan.funding.names) - set(ex.funding.names):
        assert name in said.split(" drop ")[0]
    ex.optimise()  # what it said is what it did
    assert ex.values["Expected net value"] == pytest.approx(plan.expected_net_value, rel=1e-9)
    assert "Optimise would change nothing" in _text(ex.guidance.value)


def test_guidance_when_the_best_plan_breaks_the_appetite(budget_explorer):
    ex = budget_explorer
    ex.thresholds["TVaR99"].value = "1M"
    said = _text(ex.guidance.value)
    assert "outside the appetite" in said and "nearest limits" in said and "Optimise would fund" not in said


def test_save_load_and_compare_plans(budget_explorer, tmp_path):
    import riskbudget as rb

    ex = budget_explorer
    ex.plans_dir = tmp_path
    ex.optimise()
    ex.plan_name.value = "Q3 optimised"
    ex.save_button.click()
    assert ex.error is None and (tmp_path / "Q3 optimised.json").exists()
    saved = rb.load_plan(tmp_path / "Q3 optimised.json")
    assert saved.status_text == ex.plan.status_text and saved.metrics["ale"] == pytest.approx(ex.values["ALE"])
    first = ex.values
    # another plan: a bigger budget, a toggle off; saved as evaluated (not the optimiser's)
    ex.total_budget.value = "7.5M"
    ex.toggles["Immutable backups"].value = False
    ex.plan_name.value = "bigger budget"
    ex.save_button.click()
    other = rb.load_plan(tmp_path / "bigger budget.json")
    assert other.status == "evaluated" and other.budget == 7.5e6 and "Immutable backups" not in other.funded
    assert list(ex.saved.options) == ["Q3 optimised", "bigger budget"]
    # load the first back: the budget, split, limits and toggles are the saved ones, and so are the numbers
    ex.saved.value = "Q3 optimised"
    ex.load_button.click()
    assert ex.error is None and ex.total_budget.value == "$6,000,000" and ex.security_share.value == 0.25
    assert ex.toggles["Immutable backups"].value
    assert ex.values["ALE"] == first["ALE"] and ex.values["funded"] == first["funded"]
    assert "figures on screen are the saved ones" in ex.message.value
    # compare side by side, as rb.compare says
    ex.compare_old.value, ex.compare_new.value = "Q3 optimised", "bigger budget"
    ex.compare_button.click()
    cmp = rb.compare(tmp_path / "Q3 optimised.json", tmp_path / "bigger budget.json")
    table = _text(ex.comparison.value)
    assert "Q3 optimised against bigger budget" in table
    assert f"ALE {money(saved.metrics['ale'])} {money(other.metrics['ale'])}" in table
    assert "Immutable backups" in table and cmp.funded_removed and all(n in table for n in cmp.funded_removed)
    # a name that cannot be a file is refused in plain words
    ex.plan_name.value = "../etc/passwd"
    ex.save_button.click()
    assert ex.error is not None and "must be letters, digits" in ex.error


def test_loading_a_plan_of_other_inputs_is_refused(budget_explorer, tiny_inputs, tmp_path):
    import riskbudget as rb

    register, controls, projects = tiny_inputs
    rb.optimize(register, controls, projects, budget=5e5, years=500, seed=3, progress=False).save(tmp_path / "x.json")
    ex = budget_explorer
    ex.plans_dir = tmp_path
    ex._list_saved()
    good = ex.shown
    ex.saved.value = "x"
    ex.load_button.click()
    assert ex.error is not None and "which this explorer does not offer" in ex.error and ex.shown == good


def test_optimise_shows_its_progress(budget_explorer):
    ex = budget_explorer
    seen = []
    ex.progress.observe(lambda c: seen.append((c["new"], ex.progress_text.value)), names="value")
    ex.optimise_button.click()
    assert seen and seen[0][0] == 1 and "Step 1 of 2" in seen[0][1]
    assert ex.progress.layout.display == "none" and ex.progress_text.value == ""  # done
    assert not ex.optimise_button.disabled


def test_the_lec_is_on_a_log_probability_axis_with_the_limits_where_they_sit(budget_explorer):
    ex = budget_explorer
    lec = ex.chart.axes[0]
    assert lec.get_yscale() == "log" and lec.get_ylim()[0] < 0.005  # the 0.5% limit is on the chart
    xs, ys = ex._limit_marks.get_data()
    bx, by = ex._limit_broken.get_data()
    assert sorted(zip([*xs, *bx], [*ys, *by])) == sorted([(20e6, pytest.approx(0.05)), (50e6, 0.005)])
    ex.thresholds["VaR95"].value = "1M"  # broken: drawn red
    assert (1e6, pytest.approx(0.05)) in list(zip(*ex._limit_broken.get_data()))
    tol = ex._tolerance_line.get_ydata()
    assert np.nanmin(tol) < 0.01


def test_snapshots_say_they_are_snapshots_and_refresh(budget_explorer):
    ex = budget_explorer
    ex.optimise()
    plan_snap, returns_snap = ex.snapshot("plan"), ex.snapshot("returns")
    assert not plan_snap.stale and _text(plan_snap.label.value).startswith("Snapshot of the plan on screen (budget $6M")
    assert f"ALE                      {ex.shown['ALE']}" in plan_snap.text
    assert bytes(returns_snap.body.value).startswith(PNG)
    returns = ex.plan.returns
    first = returns["roc_standalone"].idxmax()
    assert returns_snap.text.splitlines()[0].startswith(first[:44])
    ex.total_budget.value = "7M"  # the explorer moves on: the snapshots say so
    assert plan_snap.stale and returns_snap.stale and "out of date" in plan_snap.label.value
    plan_snap.button.click()
    assert not plan_snap.stale and "budget $7M" in plan_snap.label.value
    assert f"ALE                      {ex.shown['ALE']}" in plan_snap.text
    with pytest.raises(rb.RiskBudgetError, match="snapshot kind"):
        ex.snapshot("pie")


def test_a_background_preview_follows_the_change(decision_inputs, problem):
    """preview="background" (the dashboard's): the change returns at once; the sentence follows when solved."""
    from riskbudget.widgets import BudgetExplorer

    register, controls, projects, appetite = decision_inputs
    ex = BudgetExplorer(register, controls, projects, problem=problem, appetite=appetite, budget=6e6,
                        security_share=0.25, frontier=False, preview="background")
    ex.wait_for_preview()
    ex.total_budget.value = "9M"
    key = (9e6, 0.25)
    assert "Working out what Optimise would change" in _text(ex.guidance.value) or key in ex._best
    ex.wait_for_preview()
    said = _text(ex.guidance.value)
    assert key in ex._best and "Working out" not in said
    assert said.startswith("Optimise would ") or "Optimise would change nothing" in said
    with pytest.raises(rb.RiskBudgetError, match="preview"):
        BudgetExplorer(register, controls, projects, problem=problem, preview="later", frontier=False)


def test_a_background_preview_leaves_the_message_line_alone(decision_inputs, problem, tmp_path):
    from riskbudget.widgets import BudgetExplorer

    register, controls, projects, appetite = decision_inputs
    ex = BudgetExplorer(register, controls, projects, problem=problem, appetite=appetite, budget=6e6,
                        security_share=0.25, frontier=False, preview="background", plans_dir=tmp_path)
    ex.wait_for_preview()
    with ex._lock:  # the background refresh waits for this block: it comes after the save
        ex.total_budget.value = "8.5M"  # a solve starts in the background ...
        ex.save_plan("while solving")  # ... and the message says the plan was saved
        assert "Working out" in _text(ex.guidance.value)
    ex.wait_for_preview()
    assert "Working out" not in _text(ex.guidance.value)  # the refresh came
    assert "Saved the plan on screen as 'while solving'" in _text(ex.message.value)  # and left the message
    assert "Optimise would" in _text(ex.guidance.value) or "Optimise would change nothing" in _text(ex.guidance.value)
